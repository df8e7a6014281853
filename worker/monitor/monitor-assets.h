/* monitor-assets.h — (internal) the page's static files from the GResource
 * bundle, with their ETags, and the choice of page language. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *path;           /* URL path, e.g. "/monitor.js" */
  const char *content_type;
  GBytes *bytes;
  char *etag;                 /* strong, quoted */
} MonitorAsset;

typedef struct _MonitorAssets MonitorAssets;

MonitorAssets *monitor_assets_load (GError **error);
void monitor_assets_free (MonitorAssets *assets);
/* The asset served at @path, or NULL. */
const MonitorAsset *monitor_assets_lookup (const MonitorAssets *assets, const char *path);
/* The string table of @lang ("en" or "es"). */
const MonitorAsset *monitor_assets_i18n (const MonitorAssets *assets, const char *lang);

/* "es" or "en": a "lang=xx" in @query wins, else the best-q supported
 * language of @accept_language, else "en". Both may be NULL. */
const char *monitor_language_negotiate (const char *accept_language, const char *query);

/* TRUE if an If-None-Match value matches @etag (weak comparison, "*"). */
gboolean monitor_etag_matches (const char *if_none_match, const char *etag);

G_END_DECLS
