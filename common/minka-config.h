/* minka-config.h — the cluster description (CLUSTER.ini, a GKeyFile):
 * workers with their addresses, the optional key file and cluster options;
 * validation with errors naming group and key; stable node IDs; writing a
 * config back (minka local-cluster); and HOST:PORT list parsing (--connect).
 *
 *   [cluster]
 *   key-file=cluster.key        # optional, relative to the ini's folder
 *   [worker a]
 *   address=127.0.0.1:7001      # peers and clients
 *   monitor=127.0.0.1:8001      # web monitor (optional)
 *
 * Names, node IDs and addresses (address and monitor, compared as written)
 * must be unique; 0.0.0.0 and :: may repeat.
 *
 * Node IDs are a 64-bit FNV-1a hash of the worker name (never 0): they
 * depend on nothing but the name, so they stay the same across restarts,
 * reordering of the file and membership changes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MINKA_CONFIG_ERROR (minka_config_error_quark ())
GQuark minka_config_error_quark (void);

typedef enum {
  MINKA_CONFIG_ERROR_PARSE,       /* not a key file, unreadable */
  MINKA_CONFIG_ERROR_INVALID,     /* a value or group is wrong */
  MINKA_CONFIG_ERROR_DUPLICATE,   /* name, ID or address used twice */
} MinkaConfigError;

typedef struct {
  char *host;                     /* name or IP literal, without [] */
  guint16 port;
} MinkaAddress;

typedef struct {
  char *name;
  guint64 id;                     /* minka_config_node_id (name) */
  MinkaAddress address;
  MinkaAddress monitor;           /* host NULL when not configured */
} MinkaWorkerConfig;

typedef struct {
  char *path;                     /* file it came from, or NULL */
  char *key_file;                 /* absolute path, or NULL: no key */
  GPtrArray *workers;             /* MinkaWorkerConfig*, in file order */
  GKeyFile *keys;                 /* everything, for [cluster] options */
} MinkaClusterConfig;

/* HOST:PORT or [V6]:PORT, port 1-65535; errors quote the text. */
gboolean minka_address_parse (const char *text, MinkaAddress *out, GError **error);
void minka_address_clear (MinkaAddress *address);
/* "host:port" (brackets for IPv6). */
char *minka_address_to_string (const MinkaAddress *address);
/* Comma-separated list (spaces allowed); returns MinkaAddress* (free with
 * g_ptr_array_unref). */
GPtrArray *minka_address_list_parse (const char *text, GError **error);

guint64 minka_config_node_id (const char *name);
/* Letters, digits, '-', '_', '.'; 1-64 characters. */
gboolean minka_config_name_is_valid (const char *name);

MinkaClusterConfig *minka_cluster_config_new (void);
MinkaClusterConfig *minka_cluster_config_load (const char *path, GError **error);
/* @base_dir resolves a relative key-file (NULL: current directory). */
MinkaClusterConfig *minka_cluster_config_load_from_data (const char *data, gsize len,
                                                         const char *base_dir,
                                                         GError **error);
void minka_cluster_config_free (MinkaClusterConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaClusterConfig, minka_cluster_config_free)

const MinkaWorkerConfig *minka_cluster_config_find (const MinkaClusterConfig *config,
                                                    const char *name);
const MinkaWorkerConfig *minka_cluster_config_find_id (const MinkaClusterConfig *config,
                                                       guint64 id);

/* The value of @key in @group as written: without GKeyFile's escapes (a
 * Windows path's backslashes stay as they are), without a trailing
 * "# comment" or "; comment" (after a space or tab), stripped. NULL when
 * absent. */
char *minka_cluster_config_get_value (const MinkaClusterConfig *config, const char *group,
                                      const char *key);

/* An integer option of [cluster], checked against [min, max]; @fallback
 * when absent. */
gboolean minka_cluster_config_get_int (const MinkaClusterConfig *config, const char *key,
                                       gint64 fallback, gint64 min, gint64 max,
                                       gint64 *value, GError **error);

/* Building a config (minka local-cluster). @monitor may be NULL. Checks
 * the same rules as loading. */
gboolean minka_cluster_config_add_worker (MinkaClusterConfig *config, const char *name,
                                          const char *address, const char *monitor,
                                          GError **error);
/* @key_file as it should appear in the file (relative to the ini's folder,
 * or absolute); NULL removes it. */
void minka_cluster_config_set_key_file (MinkaClusterConfig *config, const char *key_file);
char *minka_cluster_config_to_data (const MinkaClusterConfig *config, gsize *len);
gboolean minka_cluster_config_save (const MinkaClusterConfig *config, const char *path,
                                    GError **error);

G_END_DECLS
