/* minka-config.c — CLUSTER.ini loading, validation and writing; HOST:PORT
 * parsing. */
#include "config.h"

#include "minka-config.h"

#include <string.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>

G_DEFINE_QUARK (minka-config-error-quark, minka_config_error)

#define CLUSTER_GROUP "cluster"
#define WORKER_PREFIX "worker "

/* ---- addresses ---------------------------------------------------------- */

static gboolean
hostname_is_valid (const char *host)
{
  gsize len = strlen (host);
  if (len == 0 || len > 253)
    return FALSE;
  char **labels = g_strsplit (host, ".", -1);
  gboolean ok = TRUE;
  for (char **label = labels; ok && *label != NULL; label++)
    {
      gsize n = strlen (*label);
      ok = n > 0 && n <= 63 && (*label)[0] != '-' && (*label)[n - 1] != '-';
      for (gsize i = 0; ok && i < n; i++)
        ok = g_ascii_isalnum ((*label)[i]) || (*label)[i] == '-';
    }
  g_strfreev (labels);
  return ok;
}

void
minka_address_clear (MinkaAddress *address)
{
  g_clear_pointer (&address->host, g_free);
  address->port = 0;
}

static gboolean
address_fail (const char *text, const char *why, GError **error)
{
  g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
               _("Invalid address “%s”: %s"), text, why);
  return FALSE;
}

/* Splits @text into host and port text; NULL host on a syntax error. */
static char *
address_split (const char *text, const char **port_text, const char **why)
{
  if (text[0] == '[')
    {
      const char *end = strchr (text, ']');
      if (end == NULL || end[1] != ':')
        {
          *why = _("expected [IPv6]:PORT");
          return NULL;
        }
      *port_text = end + 2;
      char *host = g_strndup (text + 1, (gsize) (end - text - 1));
      if (strchr (host, ':') == NULL || !g_hostname_is_ip_address (host))
        {
          *why = _("not an IPv6 address inside [ ]");
          g_free (host);
          return NULL;
        }
      return host;
    }
  const char *colon = strrchr (text, ':');
  if (colon == NULL)
    {
      *why = _("expected HOST:PORT");
      return NULL;
    }
  char *host = g_strndup (text, (gsize) (colon - text));
  *port_text = colon + 1;
  if (strchr (host, ':') != NULL)
    *why = _("write IPv6 addresses as [ADDRESS]:PORT");
  else if (!g_hostname_is_ip_address (host) && !hostname_is_valid (host))
    *why = _("not a valid host name or IP address");
  else
    return host;
  g_free (host);
  return NULL;
}

gboolean
minka_address_parse (const char *text, MinkaAddress *out, GError **error)
{
  const char *port_text = NULL, *why = NULL;
  guint64 port = 0;

  out->host = NULL;
  out->port = 0;
  if (text == NULL || text[0] == '\0')
    return address_fail ("", _("empty"), error);
  char *host = address_split (text, &port_text, &why);
  if (host == NULL)
    return address_fail (text, why, error);
  if (port_text[0] == '+' || port_text[0] == '-'
      || !g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &port, NULL))
    {
      g_free (host);
      return address_fail (text, _("the port must be a number from 1 to 65535"), error);
    }
  out->host = host;
  out->port = (guint16) port;
  return TRUE;
}

char *
minka_address_to_string (const MinkaAddress *address)
{
  if (strchr (address->host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", address->host, address->port);
  return g_strdup_printf ("%s:%u", address->host, address->port);
}

static void
address_free (MinkaAddress *address)
{
  minka_address_clear (address);
  g_free (address);
}

GPtrArray *
minka_address_list_parse (const char *text, GError **error)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) address_free);
  char **items = g_strsplit (text != NULL ? text : "", ",", -1);
  for (char **item = items; *item != NULL; item++)
    {
      MinkaAddress *address = g_new0 (MinkaAddress, 1);
      g_ptr_array_add (list, address);
      if (!minka_address_parse (g_strstrip (*item), address, error))
        {
          g_strfreev (items);
          g_ptr_array_unref (list);
          return NULL;
        }
    }
  g_strfreev (items);
  if (list->len == 0)
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                   _("No address given (expected HOST:PORT[,HOST:PORT…])"));
      g_ptr_array_unref (list);
      return NULL;
    }
  return list;
}

/* ---- names and IDs ------------------------------------------------------ */

guint64
minka_config_node_id (const char *name)
{
  /* FNV-1a, 64 bits: tiny, stable, and well spread for short names. */
  guint64 hash = G_GUINT64_CONSTANT (14695981039346656037);
  for (const guchar *p = (const guchar *) name; *p != '\0'; p++)
    {
      hash ^= *p;
      hash *= G_GUINT64_CONSTANT (1099511628211);
    }
  return hash != 0 ? hash : 1;
}

gboolean
minka_config_name_is_valid (const char *name)
{
  gsize len = name != NULL ? strlen (name) : 0;
  if (len == 0 || len > 64)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
      return FALSE;
  return TRUE;
}

/* ---- the config --------------------------------------------------------- */

static void
worker_free (MinkaWorkerConfig *worker)
{
  g_free (worker->name);
  minka_address_clear (&worker->address);
  minka_address_clear (&worker->monitor);
  g_free (worker);
}

MinkaClusterConfig *
minka_cluster_config_new (void)
{
  MinkaClusterConfig *config = g_new0 (MinkaClusterConfig, 1);
  config->workers = g_ptr_array_new_with_free_func ((GDestroyNotify) worker_free);
  config->keys = g_key_file_new ();
  return config;
}

void
minka_cluster_config_free (MinkaClusterConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->path);
  g_free (config->key_file);
  g_ptr_array_unref (config->workers);
  g_key_file_unref (config->keys);
  g_free (config);
}

const MinkaWorkerConfig *
minka_cluster_config_find (const MinkaClusterConfig *config, const char *name)
{
  for (guint i = 0; i < config->workers->len; i++)
    {
      const MinkaWorkerConfig *worker = config->workers->pdata[i];
      if (g_strcmp0 (worker->name, name) == 0)
        return worker;
    }
  return NULL;
}

const MinkaWorkerConfig *
minka_cluster_config_find_id (const MinkaClusterConfig *config, guint64 id)
{
  for (guint i = 0; i < config->workers->len; i++)
    {
      const MinkaWorkerConfig *worker = config->workers->pdata[i];
      if (worker->id == id)
        return worker;
    }
  return NULL;
}

static gboolean
host_is_wildcard (const char *host)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
  return inet != NULL && g_inet_address_get_is_any (inet);
}

/* Same host text and port. 0.0.0.0 / :: (listen on every interface) may
 * repeat: workers on different machines can all use 0.0.0.0:8001. */
static gboolean
address_equal (const MinkaAddress *a, const MinkaAddress *b)
{
  return a->host != NULL && b->host != NULL && a->port == b->port
         && g_ascii_strcasecmp (a->host, b->host) == 0 && !host_is_wildcard (a->host);
}

/* Is @address already used by any worker (address or monitor)? */
static const MinkaWorkerConfig *
config_address_owner (const MinkaClusterConfig *config, const MinkaAddress *address)
{
  for (guint i = 0; i < config->workers->len; i++)
    {
      const MinkaWorkerConfig *worker = config->workers->pdata[i];
      if (address_equal (&worker->address, address) || address_equal (&worker->monitor, address))
        return worker;
    }
  return NULL;
}

static gboolean
worker_check_unique (const MinkaClusterConfig *config, const MinkaWorkerConfig *worker,
                     GError **error)
{
  const MinkaWorkerConfig *other = NULL;
  const char *key = NULL;

  if (minka_cluster_config_find (config, worker->name) != NULL)
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_DUPLICATE,
                   _("[worker %s]: the name is used twice"), worker->name);
      return FALSE;
    }
  if ((other = minka_cluster_config_find_id (config, worker->id)) != NULL)
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_DUPLICATE,
                   _("[worker %s]: its node ID collides with worker %s; rename one"),
                   worker->name, other->name);
      return FALSE;
    }
  if ((other = config_address_owner (config, &worker->address)) != NULL)
    key = "address";
  else if (worker->monitor.host != NULL
           && ((other = config_address_owner (config, &worker->monitor)) != NULL
               || address_equal (&worker->address, &worker->monitor)))
    key = "monitor";
  if (key == NULL)
    return TRUE;
  g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_DUPLICATE,
               _("[worker %s] %s: the address is already used by worker %s"),
               worker->name, key, other != NULL ? other->name : worker->name);
  return FALSE;
}

/* Builds and checks one worker, then appends it. */
static gboolean
config_add (MinkaClusterConfig *config, const char *name, const char *address,
            const char *monitor, GError **error)
{
  if (!minka_config_name_is_valid (name))
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                   _("[worker %s]: a worker name is 1 to 64 letters, digits, '-', '_' or '.'"),
                   name);
      return FALSE;
    }
  MinkaWorkerConfig *worker = g_new0 (MinkaWorkerConfig, 1);
  worker->name = g_strdup (name);
  worker->id = minka_config_node_id (name);
  const char *bad_key = NULL;
  GError *local = NULL;
  if (address == NULL)
    {
      bad_key = "address";
      local = g_error_new_literal (MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                                   _("missing (expected HOST:PORT)"));
    }
  else if (!minka_address_parse (address, &worker->address, &local))
    bad_key = "address";
  else if (monitor != NULL && !minka_address_parse (monitor, &worker->monitor, &local))
    bad_key = "monitor";
  if (bad_key != NULL)
    {
      g_propagate_prefixed_error (error, local, "[worker %s] %s: ", name, bad_key);
      worker_free (worker);
      return FALSE;
    }
  if (!worker_check_unique (config, worker, error))
    {
      worker_free (worker);
      return FALSE;
    }
  g_ptr_array_add (config->workers, worker);
  return TRUE;
}

static gboolean
load_worker_group (MinkaClusterConfig *config, const char *group, GError **error)
{
  g_autofree char *name = g_strstrip (g_strdup (group + strlen (WORKER_PREFIX)));
  g_auto (GStrv) keys = g_key_file_get_keys (config->keys, group, NULL, NULL);
  for (char **key = keys; key != NULL && *key != NULL; key++)
    if (strcmp (*key, "address") != 0 && strcmp (*key, "monitor") != 0)
      {
        g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                     _("[%s] %s: unknown key (expected address or monitor)"), group, *key);
        return FALSE;
      }
  g_autofree char *address = minka_cluster_config_get_value (config, group, "address");
  g_autofree char *monitor = minka_cluster_config_get_value (config, group, "monitor");
  return config_add (config, name, address, monitor, error);
}

static gboolean
load_cluster_group (MinkaClusterConfig *config, const char *base_dir, GError **error)
{
  if (!g_key_file_has_key (config->keys, CLUSTER_GROUP, "key-file", NULL))
    return TRUE;
  g_autofree char *key_file = minka_cluster_config_get_value (config, CLUSTER_GROUP, "key-file");
  if (key_file == NULL || g_strstrip (key_file)[0] == '\0')
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                   _("[cluster] key-file: empty (remove the line for no key)"));
      return FALSE;
    }
  if (g_path_is_absolute (key_file))
    config->key_file = g_steal_pointer (&key_file);
  else
    {
      g_autofree char *dir = base_dir != NULL ? g_strdup (base_dir) : g_get_current_dir ();
      config->key_file = g_build_filename (dir, key_file, NULL);
    }
  return TRUE;
}

static gboolean
config_load_groups (MinkaClusterConfig *config, const char *base_dir, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (config->keys, NULL);
  for (char **group = groups; *group != NULL; group++)
    {
      gboolean ok;
      if (strcmp (*group, CLUSTER_GROUP) == 0)
        ok = load_cluster_group (config, base_dir, error);
      else if (g_str_has_prefix (*group, WORKER_PREFIX))
        ok = load_worker_group (config, *group, error);
      else
        {
          g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                       _("[%s]: unknown group (expected [cluster] or [worker NAME])"), *group);
          ok = FALSE;
        }
      if (!ok)
        return FALSE;
    }
  if (config->workers->len == 0)
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                   _("No [worker NAME] groups: a cluster needs at least one worker"));
      return FALSE;
    }
  return TRUE;
}

MinkaClusterConfig *
minka_cluster_config_load_from_data (const char *data, gsize len, const char *base_dir,
                                     GError **error)
{
  MinkaClusterConfig *config = minka_cluster_config_new ();
  GError *local = NULL;
  if (!g_key_file_load_from_data (config->keys, data, len, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_PARSE, "%s", local->message);
      g_error_free (local);
      minka_cluster_config_free (config);
      return NULL;
    }
  if (!config_load_groups (config, base_dir, error))
    {
      minka_cluster_config_free (config);
      return NULL;
    }
  return config;
}

MinkaClusterConfig *
minka_cluster_config_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  GError *local = NULL;
  if (!g_file_get_contents (path, &data, &len, &local))
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_PARSE, "%s", local->message);
      g_error_free (local);
      return NULL;
    }
  g_autofree char *dir = g_path_get_dirname (path);
  MinkaClusterConfig *config = minka_cluster_config_load_from_data (data, len, dir, error);
  if (config == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  config->path = g_strdup (path);
  return config;
}

char *
minka_cluster_config_get_value (const MinkaClusterConfig *config, const char *group,
                                const char *key)
{
  char *text = g_key_file_get_value (config->keys, group, key, NULL);
  if (text == NULL)
    return NULL;
  for (gsize i = 1; text[0] != '\0' && text[i] != '\0'; i++)
    if ((text[i] == '#' || text[i] == ';') && (text[i - 1] == ' ' || text[i - 1] == '\t'))
      {
        text[i] = '\0';
        break;
      }
  return g_strstrip (text);
}

gboolean
minka_cluster_config_get_int (const MinkaClusterConfig *config, const char *key,
                              gint64 fallback, gint64 min, gint64 max, gint64 *value,
                              GError **error)
{
  g_autofree char *text = minka_cluster_config_get_value (config, CLUSTER_GROUP, key);
  *value = fallback;
  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_signed (text, 10, min, max, value, NULL))
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                   _("[cluster] %s: “%s” is not a whole number from %lld to %lld"),
                   key, text, (long long) min, (long long) max);
      *value = fallback;
      return FALSE;
    }
  return TRUE;
}

/* ---- building and writing ----------------------------------------------- */

gboolean
minka_cluster_config_add_worker (MinkaClusterConfig *config, const char *name,
                                 const char *address, const char *monitor, GError **error)
{
  if (!config_add (config, name, address, monitor, error))
    return FALSE;
  g_autofree char *group = g_strconcat (WORKER_PREFIX, name, NULL);
  g_key_file_set_string (config->keys, group, "address", address);
  if (monitor != NULL)
    g_key_file_set_string (config->keys, group, "monitor", monitor);
  return TRUE;
}

void
minka_cluster_config_set_key_file (MinkaClusterConfig *config, const char *key_file)
{
  g_free (config->key_file);
  config->key_file = g_strdup (key_file);
  if (key_file != NULL)
    g_key_file_set_value (config->keys, CLUSTER_GROUP, "key-file", key_file);   /* as read */
  else
    g_key_file_remove_key (config->keys, CLUSTER_GROUP, "key-file", NULL);
}

char *
minka_cluster_config_to_data (const MinkaClusterConfig *config, gsize *len)
{
  return g_key_file_to_data (config->keys, len, NULL);
}

gboolean
minka_cluster_config_save (const MinkaClusterConfig *config, const char *path, GError **error)
{
  gsize len = 0;
  g_autofree char *data = minka_cluster_config_to_data (config, &len);
  return g_file_set_contents (path, data, (gssize) len, error);
}
