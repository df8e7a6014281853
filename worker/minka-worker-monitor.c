/* minka-worker-monitor.c — the worker's side of the web monitor: a
 * MonitorSource that reports this worker's Raft state, peers, catalog,
 * events and metrics, and the access rule from CLUSTER.ini
 * ([cluster] monitor-access = token | loopback | open). */
#include "config.h"
#include "minka-worker-private.h"
#include "minka-auth.h"
#include "minka-compat.h"

#include <string.h>
#include <glib/gi18n-lib.h>

static char *
iso_time (gint64 unix_ms)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (unix_ms / 1000);
  return t ? g_date_time_format_iso8601 (t) : g_strdup ("");
}

/* A node that owns @object (json_node_init_object would add a reference). */
static JsonNode *
node_take_object (JsonObject *object)
{
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, object);
  return node;
}

static void
set_iso (JsonObject *o, const char *member, gint64 unix_ms)
{
  g_autofree char *text = iso_time (unix_ms);
  json_object_set_string_member (o, member, text);
}

/* ---- the API sections --------------------------------------------------------------- */

static JsonNode *
source_status (gpointer user_data)
{
  MinkaWorker *worker = user_data;
  JsonObject *o = minka_worker_status_json (worker);
  /* The page shows names; the numeric Raft ID stays available. */
  json_object_set_int_member (o, "node_id", json_object_get_int_member (o, "id"));
  json_object_set_string_member (o, "id", worker->name);
  json_object_set_string_member (o, "catalog_digest", json_object_get_string_member (o, "digest"));
  /* "files" is the file list in the monitor API (from source_files). */
  json_object_set_int_member (o, "files_total", json_object_get_int_member (o, "files"));
  json_object_remove_member (o, "files");
  /* Changes whenever /api/events would: the page refetches the logs then. */
  json_object_set_int_member (o, "events_serial", (gint64) worker->events_serial);
  json_object_set_int_member (o, "threads", worker->options.threads ? worker->options.threads
                                                                    : minka_cpu_count ());
  return node_take_object (o);
}

static JsonNode *
source_peers (gpointer user_data)
{
  JsonArray *peers = minka_worker_peers_json (user_data);
  for (guint i = 0; i < json_array_get_length (peers); i++)
    {
      JsonObject *p = json_array_get_object_element (peers, i);
      json_object_set_int_member (p, "node_id", json_object_get_int_member (p, "id"));
      json_object_set_string_member (p, "id", json_object_get_string_member (p, "name"));
    }
  JsonNode *node = json_node_init_array (json_node_alloc (), peers);
  json_array_unref (peers);
  return node;
}

/* The page polls once a second; pollers asking more often than this share
 * one answer (docs/monitor.md). */
#define MINKA_MONITOR_API_CACHE_MS 100

/* The page shows the newest entries; `minka ls` lists everything. */
#define MONITOR_MAX_FILES 100
#define MONITOR_MAX_EVENTS 100

static JsonNode *
build_files (MinkaWorker *worker)
{
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "catalog_digest", minka_catalog_digest (worker->catalog));
  g_autoptr (GPtrArray) records = minka_catalog_list_newest (worker->catalog, MONITOR_MAX_FILES);
  JsonArray *files = json_array_new ();
  for (guint i = 0; i < records->len; i++)          /* newest first */
    {
      const MinkaFileRecord *r = records->pdata[i];
      JsonObject *f = json_object_new ();
      json_object_set_int_member (f, "id", (gint64) r->id);
      json_object_set_string_member (f, "name", r->name);
      json_object_set_int_member (f, "size", (gint64) r->size);
      json_object_set_string_member (f, "sha256", r->sha256);
      set_iso (f, "created", r->created_ms);
      json_array_add_object_element (files, f);
    }
  json_object_set_array_member (o, "files", files);
  json_object_set_int_member (o, "files_total", minka_catalog_n_files (worker->catalog));
  json_object_set_array_member (o, "models", json_array_new ());
  return node_take_object (o);
}

static JsonNode *
source_files (gpointer user_data)
{
  MinkaWorker *worker = user_data;
  guint64 applied = minka_catalog_applied_index (worker->catalog);
  if (!worker->monitor_files || worker->monitor_files_index != applied)
    {
      g_clear_pointer (&worker->monitor_files, json_node_unref);
      worker->monitor_files = build_files (worker);
      worker->monitor_files_index = applied;
    }
  return json_node_ref (worker->monitor_files);
}

static JsonArray *
events_json (GQueue *queue)
{
  JsonArray *array = json_array_new ();
  for (GList *l = queue->tail; l && json_array_get_length (array) < MONITOR_MAX_EVENTS;
       l = l->prev)                                  /* newest first */
    {
      const MinkaEvent *e = l->data;
      JsonObject *o = json_object_new ();
      set_iso (o, "time", e->time_ms);
      json_object_set_string_member (o, "kind", e->kind);
      json_object_set_string_member (o, "message", e->message);
      json_array_add_object_element (array, o);
    }
  return array;
}

static JsonNode *
source_events (gpointer user_data)
{
  MinkaWorker *worker = user_data;
  if (!worker->monitor_events || worker->monitor_events_serial != worker->events_serial)
    {
      JsonObject *o = json_object_new ();
      json_object_set_array_member (o, "events", events_json (&worker->events));
      json_object_set_array_member (o, "requests", events_json (&worker->request_log));
      g_clear_pointer (&worker->monitor_events, json_node_unref);
      worker->monitor_events = node_take_object (o);
      worker->monitor_events_serial = worker->events_serial;
    }
  return json_node_ref (worker->monitor_events);
}

/* ---- /metrics ------------------------------------------------------------------------- */

static void
source_metrics (MonitorMetrics *m, gpointer user_data)
{
  MinkaWorker *worker = user_data;
  RaftNode *raft = minka_node_raft (worker->node);
  RaftStorageStats storage = minka_node_storage_stats (worker->node);
  const char *role_labels[] = { "role", raft_role_name (raft_node_role (raft)), NULL };

  monitor_metrics_gauge (m, "minka_raft_term", "Current Raft term.", NULL, (double) raft_node_term (raft));
  monitor_metrics_gauge (m, "minka_raft_role", "1 for this worker's current role.", role_labels, 1);
  monitor_metrics_gauge (m, "minka_raft_commit_index", "Highest committed log index.", NULL,
                         (double) raft_node_commit_index (raft));
  monitor_metrics_gauge (m, "minka_raft_applied_index", "Highest applied log index.", NULL,
                         (double) raft_node_applied_index (raft));
  monitor_metrics_gauge (m, "minka_raft_last_index", "Last log index.", NULL,
                         (double) raft_node_last_index (raft));
  monitor_metrics_counter (m, "minka_raft_proposals_total", "Entries proposed by this worker.", NULL,
                           (double) minka_node_n_proposals (worker->node));
  monitor_metrics_counter (m, "minka_raft_commits_total", "Entries applied to the catalog.", NULL,
                           (double) worker->commits);
  monitor_metrics_counter (m, "minka_raft_elections_total", "Elections this worker started.", NULL,
                           (double) worker->elections);
  monitor_metrics_histogram (m, "minka_raft_append_latency_seconds",
                             "Time from proposing an entry to applying it.", NULL, worker->append_seconds);
  monitor_metrics_histogram (m, "minka_storage_fsync_latency_seconds",
                             "Time for each batch of log writes to become durable (write + fsync).",
                             NULL, worker->persist_seconds);
  monitor_metrics_counter (m, "minka_storage_fsyncs_total", "fsyncs of Raft log segments.", NULL,
                           (double) storage.fsyncs);
  monitor_metrics_gauge (m, "minka_storage_log_bytes",
                         "Disk space of the Raft log segments, preallocated tails included.", NULL,
                         (double) storage.log_bytes);
  monitor_metrics_gauge (m, "minka_storage_spare_bytes",
                         "Disk space of compacted log segments kept for reuse.", NULL,
                         (double) storage.spare_bytes);
  monitor_metrics_counter (m, "minka_net_bytes_in_total", "File bytes received from clients.", NULL,
                           (double) worker->upload_bytes);
  monitor_metrics_counter (m, "minka_net_bytes_out_total", "File bytes sent to clients.", NULL,
                           (double) worker->download_bytes);
  monitor_metrics_gauge (m, "minka_files", "Files in the catalog.", NULL,
                         minka_catalog_n_files (worker->catalog));
  monitor_metrics_gauge (m, "minka_blob_bytes", "Bytes of blobs stored on this worker.", NULL,
                         (double) minka_worker_blob_bytes (worker));
  monitor_metrics_counter (m, "minka_gc_deleted_blobs_total", "Orphaned blobs deleted by the collector.", NULL, (double) worker->gc_deleted);
  monitor_metrics_gauge (m, "minka_connections", "Open client and peer connections.", NULL,
                         minka_server_n_connections (worker->server));
  monitor_metrics_gauge (m, "minka_uploads_in_progress",
                         "Uploads begun and not yet ended (each may hold a file).", NULL,
                         (double) worker->uploads_open);
  monitor_metrics_counter (m, "minka_requests_total", "Client requests received.", NULL,
                           (double) worker->requests);
  monitor_metrics_gauge (m, "minka_process_rss_bytes", "Resident set size.", NULL,
                         (double) minka_rss_bytes ());
}

/* ---- start and stop --------------------------------------------------------------------- */

static gboolean
host_is_loopback (const char *host)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
  return inet ? g_inet_address_get_is_loopback (inet) : g_strcmp0 (host, "localhost") == 0;
}

gboolean
minka_worker_monitor_start (MinkaWorker *worker, GError **error)
{
  const MinkaWorkerConfig *self = minka_cluster_config_find (worker->config, worker->name);
  if (!self || !self->monitor.host)
    return TRUE;                         /* no monitor= for this worker */

  g_autofree char *access = minka_cluster_config_get_value (worker->config, "cluster",
                                                            "monitor-access");
  if (!access)
    access = g_strdup (worker->key ? "token" : "open");
  g_autofree char *token = NULL;
  if (strcmp (access, "token") == 0)
    {
      if (!worker->key)
        {
          g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                       _("monitor-access=token needs a cluster key (key-file=)"));
          return FALSE;
        }
      gsize len = 0;
      const guint8 *key = g_bytes_get_data (worker->key, &len);
      token = minka_auth_hex_encode (key, len);
    }
  else if (strcmp (access, "loopback") == 0)
    {
      if (!host_is_loopback (self->monitor.host))
        {
          g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                       _("monitor-access=loopback, but the monitor of %s is on %s"),
                       worker->name, self->monitor.host);
          return FALSE;
        }
    }
  else if (strcmp (access, "open") != 0)
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                   _("[cluster] monitor-access must be token, loopback or open, not %s"), access);
      return FALSE;
    }

  MonitorConfig config;
  monitor_config_init (&config);
  config.address = self->monitor.host;
  config.port = self->monitor.port;
  config.token = token;
  config.api_cache_ms = MINKA_MONITOR_API_CACHE_MS;
  MonitorSource source = {
    .status = source_status,
    .peers = source_peers,
    .files = source_files,
    .events = source_events,
    .metrics = source_metrics,
    .user_data = worker,
  };
  worker->monitor = monitor_server_new (&config, &source, error);
  if (!worker->monitor)
    return FALSE;
  g_autofree char *where = minka_address_to_string (&self->monitor);
  minka_worker_event (worker, "start", "monitor on http://%s/ (access: %s)", where, access);
  return TRUE;
}

void
minka_worker_monitor_stop (MinkaWorker *worker)
{
  g_clear_pointer (&worker->monitor, monitor_server_free);
  g_clear_pointer (&worker->monitor_files, json_node_unref);
  g_clear_pointer (&worker->monitor_events, json_node_unref);
}
