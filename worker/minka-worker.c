/* minka-worker.c — a worker's lifecycle and wiring: config → storage and
 * Raft node → server and peer links; Raft callbacks (send, apply,
 * membership, roles); dispatch of incoming frames; status. */
#include "config.h"
#include "minka-worker-private.h"
#include "minka-auth.h"
#include "minka-compat.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>

#define MAX_EVENTS 200

/* Raft config entries carry "NAME@HOST:PORT" for each member. */
static char *
member_address_encode (const char *name, const char *address)
{
  return g_strdup_printf ("%s@%s", name, address);
}

static gboolean
member_address_decode (const char *text, char **name, char **address)
{
  const char *at = text ? strchr (text, '@') : NULL;
  if (!at || at == text || at[1] == '\0')
    return FALSE;
  *name = g_strndup (text, (gsize) (at - text));
  *address = g_strdup (at + 1);
  return TRUE;
}

/* ---- events ------------------------------------------------------------------ */

static void
event_free (MinkaEvent *event)
{
  g_free (event->kind);
  g_free (event->message);
  g_free (event);
}

static MinkaEvent *
push_event (MinkaWorker *worker, GQueue *queue, const char *kind, char *message)
{
  worker->events_serial++;
  MinkaEvent *event = g_new0 (MinkaEvent, 1);
  event->time_ms = g_get_real_time () / 1000;
  event->kind = g_strdup (kind);
  event->message = message;
  g_queue_push_tail (queue, event);
  while (g_queue_get_length (queue) > MAX_EVENTS)
    event_free (g_queue_pop_head (queue));
  return event;
}

void
minka_worker_event (MinkaWorker *worker, const char *kind, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  MinkaEvent *event = push_event (worker, &worker->events, kind, g_strdup_vprintf (fmt, args));
  va_end (args);
  g_message ("[%s] %s", kind, event->message);
}

void
minka_worker_log_request (MinkaWorker *worker, const char *kind, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  push_event (worker, &worker->request_log, kind, g_strdup_vprintf (fmt, args));
  va_end (args);
}

/* ---- membership and peers ----------------------------------------------------- */

const char *
minka_worker_member_name (MinkaWorker *worker, RaftNodeId id)
{
  if (id == worker->id)
    return worker->name;
  const char *name = g_hash_table_lookup (worker->peer_names, &id);
  return name ? name : "";
}

static guint64 *
id_key (RaftNodeId id)
{
  guint64 *key = g_new (guint64, 1);
  *key = id;
  return key;
}

/* The link to @id: a member's, or — for a worker that is joining and does
 * not know the membership yet — one made from CLUSTER.ini. */
MinkaPeer *
minka_worker_peer_for (MinkaWorker *worker, RaftNodeId id)
{
  MinkaPeer *peer = g_hash_table_lookup (worker->peers, &id);
  if (peer || id == worker->id)
    return peer;
  const MinkaWorkerConfig *known = minka_cluster_config_find_id (worker->config, id);
  if (!known)
    return NULL;
  g_autofree char *address = minka_address_to_string (&known->address);
  peer = minka_peer_new (id, known->name, address, worker->name, worker->key);
  g_hash_table_insert (worker->peers, id_key (id), peer);
  g_hash_table_replace (worker->peer_names, id_key (id), g_strdup (known->name));
  return peer;
}

static void
sync_peers (MinkaWorker *worker, const RaftConfig *config)
{
  GHashTable *wanted = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < config->n_nodes; i++)
    {
      g_autofree char *name = NULL, *address = NULL;
      RaftNodeId id = config->ids[i];
      if (!member_address_decode (config->addresses[i], &name, &address))
        {
          g_warning ("membership entry for node %" G_GUINT64_FORMAT " has no address", id);
          continue;
        }
      g_hash_table_replace (worker->peer_names, id_key (id), g_strdup (name));
      if (id == worker->id)
        continue;
      g_hash_table_add (wanted, &config->ids[i]);
      MinkaPeer *peer = g_hash_table_lookup (worker->peers, &id);
      if (peer && strcmp (minka_peer_get_address (peer), address) == 0)
        continue;
      if (peer)
        g_hash_table_remove (worker->peers, &id);
      g_hash_table_insert (worker->peers, id_key (id),
                           minka_peer_new (id, name, address, worker->name, worker->key));
    }
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, worker->peers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (wanted, key))
      g_hash_table_iter_remove (&iter);
  g_hash_table_destroy (wanted);
}

/* ---- Raft callbacks -------------------------------------------------------------- */

static void
node_send (gpointer user_data, const RaftMessage *msg)
{
  MinkaWorker *worker = user_data;
  g_debug ("raft → %s: %s term %" G_GUINT64_FORMAT " index %" G_GUINT64_FORMAT " log_term %"
           G_GUINT64_FORMAT " commit %" G_GUINT64_FORMAT " entries %u%s",
           minka_worker_member_name (worker, msg->to), raft_message_type_name (msg->type),
           msg->term, msg->index, msg->log_term, msg->commit, msg->n_entries,
           msg->reject ? " reject" : "");
  if (msg->type == RAFT_MSG_SNAPSHOT)
    {
      minka_worker_snapshot_send (worker, msg);
      return;
    }
  MinkaPeer *peer = minka_worker_peer_for (worker, msg->to);
  if (!peer)
    return;
  g_autoptr (GBytes) encoded = raft_message_encode (msg);
  minka_peer_send_raft (peer, encoded);
}

static gpointer
node_apply (gpointer user_data, const RaftEntry *entry)
{
  MinkaWorker *worker = user_data;
  MinkaCatalogResult *result = g_new0 (MinkaCatalogResult, 1);
  minka_catalog_apply (worker->catalog, entry->index, entry->data, result);
  worker->commits++;
  if (result->ok)
    {
      const MinkaFileRecord *record = minka_catalog_lookup (worker->catalog, result->file_id);
      g_autoptr (GBytes) content = minka_catalog_command_content (entry->data);
      if (record && record->id == entry->index && content)
        {
          minka_worker_files_store_inline (worker, record->sha256, content, FALSE);
          worker->inline_bytes += g_bytes_get_size (content);
        }
      else if (record && record->id == entry->index)
        minka_worker_files_ensure_blob (worker, record);
      if (result->deleted_sha256[0]
          && !minka_catalog_blob_in_use (worker->catalog, result->deleted_sha256))
        minka_worker_files_delete_blob (worker, result->deleted_sha256);
    }
  minka_worker_snapshot_maybe (worker);
  return result;
}

static void
free_result (gpointer result)
{
  minka_catalog_result_clear (result);
  g_free (result);
}

static void
node_config_changed (gpointer user_data, const RaftConfig *config)
{
  MinkaWorker *worker = user_data;
  sync_peers (worker, config);
  GString *names = g_string_new (NULL);
  for (guint i = 0; i < config->n_nodes; i++)
    g_string_append_printf (names, "%s%s", i ? ", " : "",
                            minka_worker_member_name (worker, config->ids[i]));
  minka_worker_event (worker, "membership", "members: %s", names->str);
  g_string_free (names, TRUE);
  if (!raft_config_contains (config, worker->id) && config->n_nodes > 0
      && raft_node_applied_index (minka_node_raft (worker->node)) > 0)
    minka_worker_event (worker, "membership", "this worker is not a member");
}

static void
node_role_changed (gpointer user_data, RaftRole role, RaftNodeId leader)
{
  MinkaWorker *worker = user_data;
  RaftNode *raft = minka_node_raft (worker->node);
  if (role == RAFT_ROLE_CANDIDATE)
    worker->elections++;
  if (role == RAFT_ROLE_LEADER)
    minka_worker_event (worker, "leader", "became leader in term %" G_GUINT64_FORMAT,
                        raft_node_term (raft));
  else if (leader != RAFT_NO_NODE)
    minka_worker_event (worker, "role", "%s; leader is %s (term %" G_GUINT64_FORMAT ")",
                        raft_role_name (role), minka_worker_member_name (worker, leader),
                        raft_node_term (raft));
  else
    minka_worker_event (worker, "role", "%s (term %" G_GUINT64_FORMAT ")",
                        raft_role_name (role), raft_node_term (raft));
}

static gboolean
node_install_snapshot (gpointer user_data, const RaftSnapshotMeta *meta)
{
  return minka_worker_snapshot_install (user_data, meta);
}

static void
node_fatal (gpointer user_data, const GError *error)
{
  MinkaWorker *worker = user_data;
  g_critical (_("Stopping: the Raft log cannot be written: %s"), error->message);
  if (worker->quit)
    g_idle_add (worker->quit, worker->quit_data);
}

static void
node_persisted (gpointer user_data, double seconds)
{
  MinkaWorker *worker = user_data;
  monitor_histogram_observe (worker->persist_seconds, seconds);
}

static void
node_proposal_done (gpointer user_data, double seconds)
{
  MinkaWorker *worker = user_data;
  monitor_histogram_observe (worker->append_seconds, seconds);
}

/* ---- replies shared by the request handlers ------------------------------------- */

gboolean
minka_worker_is_leader (MinkaWorker *worker)
{
  return raft_node_role (minka_node_raft (worker->node)) == RAFT_ROLE_LEADER
         && !worker->shutting_down;
}

void
minka_worker_reply_not_leader (MinkaWorker *worker, MinkaConn *conn, JsonObject *request)
{
  RaftNodeId leader = raft_node_leader (minka_node_raft (worker->node));
  g_autoptr (JsonObject) reply = minka_frame_header_new_reply (request, "NOT_LEADER");
  const char *name = "", *address = "";
  const MinkaWorkerConfig *known = NULL;
  MinkaPeer *peer = g_hash_table_lookup (worker->peers, &leader);
  if (peer)
    {
      name = minka_peer_get_name (peer);
      address = minka_peer_get_address (peer);
    }
  else if (leader != RAFT_NO_NODE && (known = minka_cluster_config_find_id (worker->config, leader)))
    {
      name = known->name;
    }
  g_autofree char *known_address = known ? minka_address_to_string (&known->address) : NULL;
  json_object_set_string_member (reply, "leader", name);
  json_object_set_string_member (reply, "address", known_address ? known_address : address);
  minka_conn_send (conn, reply, NULL, NULL, NULL);
}

/* ---- dispatch ---------------------------------------------------------------------- */

static gboolean
on_control_frame (MinkaWorker *worker, MinkaConn *conn, MinkaFrame *frame)
{
  if (strcmp (minka_frame_get_frame_type (frame), "RAFT") != 0 || !frame->body)
    {
      g_debug ("ignoring %s on a control link", minka_frame_get_frame_type (frame));
      return TRUE;
    }
  RaftMessage msg;
  GError *error = NULL;
  if (!raft_message_decode (frame->body, &msg, &error))
    {
      g_message ("bad Raft message from %s: %s", minka_conn_get_peer_name (conn), error->message);
      g_error_free (error);
      minka_conn_close (conn);
      return FALSE;
    }
  if (msg.to == worker->id)
    minka_node_step (worker->node, &msg);
  raft_message_clear (&msg);
  return TRUE;
}

static gboolean
on_frame (gpointer user_data, MinkaConn *conn, MinkaFrame *frame)
{
  MinkaWorker *worker = user_data;
  switch (minka_conn_get_kind (conn))
    {
    case MINKA_CONN_PEER_CONTROL:
      return on_control_frame (worker, conn, frame);
    case MINKA_CONN_PEER_BULK:
      if (g_str_has_prefix (minka_frame_get_frame_type (frame), "SNAPSHOT_"))
        return minka_worker_snapshot_bulk_frame (worker, conn, frame);
      return minka_worker_files_bulk_frame (worker, conn, frame);
    case MINKA_CONN_CLIENT:
      worker->requests++;
      if (g_str_has_prefix (minka_frame_get_frame_type (frame), "PUT_")
          || strcmp (minka_frame_get_frame_type (frame), "GET") == 0)
        return minka_worker_files_client_frame (worker, conn, frame);
      return minka_worker_requests_frame (worker, conn, frame);
    }
  return TRUE;
}

/* ---- status -------------------------------------------------------------------------- */

/* The store keeps a running total: O(1). */
guint64
minka_worker_blob_bytes (MinkaWorker *worker)
{
  return minka_blob_store_total_bytes (worker->blobs);
}

JsonObject *
minka_worker_status_json (MinkaWorker *worker)
{
  RaftNode *raft = minka_node_raft (worker->node);
  RaftNodeId leader = raft_node_leader (raft);
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "name", worker->name);
  json_object_set_int_member (o, "id", (gint64) worker->id);
  json_object_set_string_member (o, "address", worker->address);
  json_object_set_string_member (o, "role", raft_role_name (raft_node_role (raft)));
  json_object_set_int_member (o, "term", (gint64) raft_node_term (raft));
  json_object_set_string_member (o, "leader", leader ? minka_worker_member_name (worker, leader) : "");
  MinkaPeer *leader_peer = g_hash_table_lookup (worker->peers, &leader);
  json_object_set_string_member (o, "leader_address",
                                 leader == worker->id ? worker->address
                                 : leader_peer ? minka_peer_get_address (leader_peer) : "");
  json_object_set_int_member (o, "commit_index", (gint64) raft_node_commit_index (raft));
  json_object_set_int_member (o, "applied_index", (gint64) raft_node_applied_index (raft));
  json_object_set_int_member (o, "last_index", (gint64) raft_node_last_index (raft));
  json_object_set_int_member (o, "snapshot_index", (gint64) raft_node_snapshot_index (raft));
  json_object_set_string_member (o, "digest", minka_catalog_digest (worker->catalog));
  json_object_set_int_member (o, "files", minka_catalog_n_files (worker->catalog));
  json_object_set_int_member (o, "blob_bytes", (gint64) minka_worker_blob_bytes (worker));
  json_object_set_int_member (o, "uptime_s", (g_get_monotonic_time () - worker->started_us) / G_USEC_PER_SEC);
  json_object_set_int_member (o, "rss_bytes", (gint64) minka_rss_bytes ());
  json_object_set_int_member (o, "peak_rss_bytes", (gint64) minka_peak_rss_bytes ());
  json_object_set_int_member (o, "connections", minka_server_n_connections (worker->server));
  return o;
}

JsonArray *
minka_worker_peers_json (MinkaWorker *worker)
{
  RaftNode *raft = minka_node_raft (worker->node);
  gboolean leader = raft_node_role (raft) == RAFT_ROLE_LEADER;
  guint64 last = raft_node_last_index (raft);
  gint64 now = g_get_monotonic_time ();
  JsonArray *peers = json_array_new ();
  const RaftConfig *members = raft_node_config (raft);

  for (guint i = 0; i < members->n_nodes; i++)
    {
      RaftNodeId id = members->ids[i];
      if (id == worker->id)
        continue;
      MinkaPeer *peer = g_hash_table_lookup (worker->peers, &id);
      JsonObject *p = json_object_new ();
      json_object_set_string_member (p, "name", minka_worker_member_name (worker, id));
      json_object_set_int_member (p, "id", (gint64) id);
      json_object_set_string_member (p, "address", peer ? minka_peer_get_address (peer) : "");
      json_object_set_boolean_member (p, "reachable", peer && minka_peer_is_reachable (peer));
      /* Only a leader tracks how far each peer's log matches its own. */
      guint64 match = leader ? raft_node_peer_match (raft, id) : 0;
      if (leader)
        json_object_set_int_member (p, "match_index", (gint64) match);
      else
        json_object_set_null_member (p, "match_index");
      if (leader && last >= match)
        json_object_set_int_member (p, "lag", (gint64) (last - match));
      else
        json_object_set_null_member (p, "lag");
      gint64 contact = peer ? minka_peer_last_contact (peer) : 0;
      if (contact)
        json_object_set_int_member (p, "last_contact_ms", (now - contact) / 1000);
      else
        json_object_set_null_member (p, "last_contact_ms");
      json_array_add_object_element (peers, p);
    }
  return peers;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static RaftConfig
bootstrap_config (MinkaClusterConfig *config)
{
  RaftConfig boot = { 0 };
  boot.n_nodes = config->workers->len;
  boot.ids = g_new0 (RaftNodeId, boot.n_nodes);
  boot.addresses = g_new0 (char *, boot.n_nodes + 1);
  for (guint i = 0; i < boot.n_nodes; i++)
    {
      const MinkaWorkerConfig *w = config->workers->pdata[i];
      g_autofree char *address = minka_address_to_string (&w->address);
      boot.ids[i] = w->id;
      boot.addresses[i] = member_address_encode (w->name, address);
    }
  return boot;
}

static gboolean
is_loopback (const char *host)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
  return inet ? g_inet_address_get_is_loopback (inet) : g_strcmp0 (host, "localhost") == 0;
}

MinkaWorker *
minka_worker_new (MinkaClusterConfig *config, const char *name,
                  const MinkaWorkerOptions *options, GError **error)
{
  const MinkaWorkerConfig *self = minka_cluster_config_find (config, name);
  if (!self)
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                   _("There is no [worker %s] in %s"), name, config->path ? config->path : "the config");
      return NULL;
    }

  g_autofree char *blob_dir = NULL, *raft_dir = NULL, *snapshot_path = NULL;
  MinkaWorker *worker = g_new0 (MinkaWorker, 1);
  worker->config = config;
  worker->name = g_strdup (name);
  worker->id = self->id;
  worker->address = minka_address_to_string (&self->address);
  worker->options = *options;
  worker->data_dir = g_strdup (options->data_dir ? options->data_dir : "");
  if (!worker->data_dir[0])
    {
      g_free (worker->data_dir);
      worker->data_dir = g_strdup_printf ("data-%s", name);
    }
  worker->options.data_dir = worker->data_dir;
  if (!worker->options.snapshot_every)
    worker->options.snapshot_every = 4096;
  worker->started_us = g_get_monotonic_time ();
  worker->peers = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                         (GDestroyNotify) minka_peer_free);
  worker->peer_names = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  worker->fetching = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  worker->writing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) g_bytes_unref);
  worker->delete_after_write = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  worker->unsynced = g_ptr_array_new_with_free_func (g_free);
  worker->disk = minka_disk_queue_new ();
  minka_worker_gc_init (worker);
  worker->catalog = minka_catalog_new ();
  g_queue_init (&worker->events);
  g_queue_init (&worker->request_log);
  static const double latency_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                           0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };
  worker->append_seconds = monitor_histogram_new (latency_bounds, G_N_ELEMENTS (latency_bounds));
  worker->persist_seconds = monitor_histogram_new (latency_bounds, G_N_ELEMENTS (latency_bounds));

  if (config->key_file && !(worker->key = minka_auth_key_load (config->key_file, error)))
    goto fail;
  if (!worker->key && !is_loopback (self->address.host))
    g_warning (_("WARNING: %s listens on %s without a cluster key: anyone who can reach "
                 "this address can join the cluster and read or change its data. "
                 "Set key-file= in the [cluster] section."), name, worker->address);

  if (g_mkdir_with_parents (worker->data_dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   _("Cannot create the data folder %s"), worker->data_dir);
      goto fail;
    }
  blob_dir = g_build_filename (worker->data_dir, "store", NULL);
  if (!(worker->blobs = minka_blob_store_open (blob_dir, error)))
    goto fail;
  worker->incoming_dir = g_build_filename (worker->data_dir, "incoming", NULL);
  g_mkdir_with_parents (worker->incoming_dir, 0700);

  MinkaNodeCallbacks callbacks = {
    .send = node_send,
    .apply = node_apply,
    .free_result = free_result,
    .config_changed = node_config_changed,
    .install_snapshot = node_install_snapshot,
    .role_changed = node_role_changed,
    .fatal = node_fatal,
    .persisted = node_persisted,
    .proposal_done = node_proposal_done,
  };
  MinkaNodeOptions node_options = { .no_sync = options->no_sync };
  RaftConfig boot = bootstrap_config (config);
  raft_dir = g_build_filename (worker->data_dir, "raft", NULL);
  worker->node = minka_node_new (worker->id, raft_dir, options->join ? NULL : &boot,
                                 &node_options, &callbacks, worker, &snapshot_path, error);
  raft_config_clear (&boot);
  if (!worker->node)
    goto fail;
  if (snapshot_path && !minka_worker_snapshot_restore_startup (worker, snapshot_path, error))
    goto fail;

  MinkaServerCallbacks server_callbacks = { .frame = on_frame };
  worker->server = minka_server_new (self->address.host, self->address.port, worker->key,
                                     &server_callbacks, worker, error);
  if (!worker->server || !minka_worker_monitor_start (worker, error))
    goto fail;
  return worker;

fail:
  minka_worker_free (worker);
  return NULL;
}

void
minka_worker_start (MinkaWorker *worker, GSourceFunc quit, gpointer quit_data)
{
  worker->quit = quit;
  worker->quit_data = quit_data;
  minka_worker_event (worker, "start", "%s listening on %s, data in %s", worker->name,
                      worker->address, worker->data_dir);
  minka_node_start (worker->node);
  minka_worker_gc_start (worker);
}

/* A leader hands over to the most up-to-date reachable peer, then stops a
 * moment later; a follower stops at once. */
static gboolean
finish_shutdown (gpointer user_data)
{
  MinkaWorker *worker = user_data;
  if (worker->quit)
    worker->quit (worker->quit_data);
  return G_SOURCE_REMOVE;
}

void
minka_worker_shutdown (MinkaWorker *worker)
{
  if (worker->shutting_down)
    return;
  worker->shutting_down = TRUE;
  RaftNode *raft = minka_node_raft (worker->node);
  RaftNodeId best = RAFT_NO_NODE;
  guint64 best_match = 0;
  if (raft_node_role (raft) == RAFT_ROLE_LEADER)
    {
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, worker->peers);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          RaftNodeId id = minka_peer_get_id (value);
          guint64 match = raft_node_peer_match (raft, id);
          if (minka_peer_is_reachable (value) && match >= best_match)
            {
              best = id;
              best_match = match;
            }
        }
    }
  if (best != RAFT_NO_NODE && minka_node_transfer_leadership (worker->node, best))
    {
      minka_worker_event (worker, "shutdown", "handing leadership to %s",
                          minka_worker_member_name (worker, best));
      g_timeout_add (300, finish_shutdown, worker);
    }
  else
    g_idle_add (finish_shutdown, worker);
}

void
minka_worker_free (MinkaWorker *worker)
{
  if (!worker)
    return;
  minka_worker_monitor_stop (worker);
  minka_server_free (worker->server);
  g_hash_table_destroy (worker->peers);
  minka_node_free (worker->node);
  g_hash_table_destroy (worker->peer_names);
  g_hash_table_destroy (worker->fetching);
  minka_disk_queue_free (worker->disk);       /* finishes queued writes first */
  minka_worker_gc_clear (worker);
  g_hash_table_destroy (worker->writing);
  g_hash_table_destroy (worker->delete_after_write);
  g_ptr_array_unref (worker->unsynced);
  minka_catalog_free (worker->catalog);
  g_clear_pointer (&worker->blobs, minka_blob_store_free);
  g_clear_pointer (&worker->key, g_bytes_unref);
  g_queue_clear_full (&worker->events, (GDestroyNotify) event_free);
  g_queue_clear_full (&worker->request_log, (GDestroyNotify) event_free);
  g_clear_pointer (&worker->append_seconds, monitor_histogram_free);
  g_clear_pointer (&worker->persist_seconds, monitor_histogram_free);
  g_free (worker->snapshot_path);
  g_free (worker->incoming_dir);
  g_clear_pointer (&worker->incoming_catalog, minka_catalog_free);
  g_free (worker->address);
  g_free (worker->data_dir);
  g_free (worker->name);
  g_free (worker);
}
