/* monitor-assets.c — loads the page assets from the compiled-in GResource
 * (never from the file system), computes their ETags once, and picks the
 * page language from Accept-Language. */
#include "monitor-assets.h"

#include <gio/gio.h>
#include <string.h>

#include "monitor-resources.h"

#define RESOURCE_PREFIX "/org/minka/monitor/"

static const struct {
  const char *path;
  const char *resource;
  const char *content_type;
} asset_table[] = {
  { "/", "index.html", "text/html; charset=utf-8" },
  { "/monitor.css", "monitor.css", "text/css; charset=utf-8" },
  { "/monitor.js", "monitor.js", "text/javascript; charset=utf-8" },
  { "/favicon.ico", "favicon.svg", "image/svg+xml" },
  { "i18n:en", "i18n/en.json", "application/json; charset=utf-8" },
  { "i18n:es", "i18n/es.json", "application/json; charset=utf-8" },
};

struct _MonitorAssets {
  MonitorAsset items[G_N_ELEMENTS (asset_table)];
};

MonitorAssets *
monitor_assets_load (GError **error)
{
  GResource *resource = monitor_resources_get_resource ();
  MonitorAssets *assets = g_new0 (MonitorAssets, 1);
  for (gsize i = 0; i < G_N_ELEMENTS (asset_table); i++)
    {
      g_autofree char *name = g_strconcat (RESOURCE_PREFIX, asset_table[i].resource, NULL);
      GBytes *bytes = g_resource_lookup_data (resource, name, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
      if (bytes == NULL)
        {
          monitor_assets_free (assets);
          return NULL;
        }
      g_autofree char *sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
      MonitorAsset *asset = &assets->items[i];
      asset->path = asset_table[i].path;
      asset->content_type = asset_table[i].content_type;
      asset->bytes = bytes;
      asset->etag = g_strdup_printf ("\"%.32s\"", sum);
    }
  return assets;
}

void
monitor_assets_free (MonitorAssets *assets)
{
  if (assets == NULL)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (asset_table); i++)
    {
      if (assets->items[i].bytes)
        g_bytes_unref (assets->items[i].bytes);
      g_free (assets->items[i].etag);
    }
  g_free (assets);
}

const MonitorAsset *
monitor_assets_lookup (const MonitorAssets *assets, const char *path)
{
  if (strcmp (path, "/index.html") == 0)
    path = "/";
  for (gsize i = 0; i < G_N_ELEMENTS (asset_table); i++)
    if (strcmp (assets->items[i].path, path) == 0)
      return &assets->items[i];
  return NULL;
}

const MonitorAsset *
monitor_assets_i18n (const MonitorAssets *assets, const char *lang)
{
  g_autofree char *key = g_strconcat ("i18n:", lang, NULL);
  const MonitorAsset *asset = monitor_assets_lookup (assets, key);
  return asset ? asset : monitor_assets_lookup (assets, "i18n:en");
}

static const char *
language_supported (const char *tag)
{
  /* "es", "es-AR", "ES_es" → "es" */
  if (g_ascii_strncasecmp (tag, "es", 2) == 0 && (tag[2] == '\0' || tag[2] == '-' || tag[2] == '_'))
    return "es";
  if (g_ascii_strncasecmp (tag, "en", 2) == 0 && (tag[2] == '\0' || tag[2] == '-' || tag[2] == '_'))
    return "en";
  return NULL;
}

static const char *
query_lang (const char *query)
{
  if (query == NULL)
    return NULL;
  g_auto (GStrv) params = g_strsplit (query, "&", -1);
  for (char **p = params; *p; p++)
    if (g_str_has_prefix (*p, "lang="))
      return language_supported (*p + 5);
  return NULL;
}

const char *
monitor_language_negotiate (const char *accept_language, const char *query)
{
  const char *from_query = query_lang (query);
  if (from_query)
    return from_query;
  if (accept_language == NULL)
    return "en";
  const char *best = "en";
  double best_q = 0.0;
  g_auto (GStrv) ranges = g_strsplit (accept_language, ",", 32);
  for (char **r = ranges; *r; r++)
    {
      g_auto (GStrv) parts = g_strsplit (*r, ";", 4);
      const char *lang = language_supported (g_strstrip (parts[0]));
      double q = 1.0;
      for (char **p = parts + 1; *p; p++)
        {
          char *param = g_strstrip (*p);
          if (g_ascii_strncasecmp (param, "q=", 2) == 0)
            q = g_ascii_strtod (param + 2, NULL);
        }
      if (lang && q > best_q)
        {
          best = lang;
          best_q = q;
        }
    }
  return best;
}

gboolean
monitor_etag_matches (const char *if_none_match, const char *etag)
{
  if (if_none_match == NULL)
    return FALSE;
  g_auto (GStrv) tags = g_strsplit (if_none_match, ",", 64);
  for (char **t = tags; *t; t++)
    {
      const char *tag = g_strstrip (*t);
      if (strcmp (tag, "*") == 0)
        return TRUE;
      if (g_str_has_prefix (tag, "W/"))
        tag += 2;
      if (strcmp (tag, etag) == 0)
        return TRUE;
    }
  return FALSE;
}
