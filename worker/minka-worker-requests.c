/* minka-worker-requests.c — small client requests: STATUS, LIST, DELETE,
 * CLUSTER_ADD and CLUSTER_REMOVE (uploads and downloads are in
 * minka-worker-files.c). */
#include "config.h"
#include "minka-worker-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#define LIST_LIMIT_MAX 10000
#define MIN_INDEX_WAIT_MS 5000
#define MIN_INDEX_POLL_MS 5

/* ---- STATUS ------------------------------------------------------------------------- */

static gboolean
status (MinkaWorker *worker, MinkaConn *conn, JsonObject *req)
{
  g_autoptr (JsonObject) reply = minka_frame_header_new_reply (req, "STATUS_OK");
  json_object_set_object_member (reply, "worker", minka_worker_status_json (worker));
  json_object_set_array_member (reply, "peers", minka_worker_peers_json (worker));
  minka_conn_send (conn, reply, NULL, NULL, NULL);
  return TRUE;
}

/* ---- LIST (optionally once this worker has applied min_index) -------------------------- */

typedef struct {
  MinkaWorker *worker;
  MinkaConn *conn;
  JsonObject *req;
  gint64 deadline;
} ListWait;

static void
list_reply (MinkaWorker *worker, MinkaConn *conn, JsonObject *req)
{
  gint64 after = minka_header_get_int (req, "after", 0, NULL);     /* checked by list () */
  gint64 limit = minka_header_get_int (req, "limit", LIST_LIMIT_MAX, NULL);
  limit = CLAMP (limit, 1, LIST_LIMIT_MAX);

  g_autoptr (GPtrArray) files = minka_catalog_list_files (worker->catalog);
  g_autoptr (JsonArray) array = json_array_new ();
  guint64 next_after = 0, last_listed = 0;
  for (guint i = 0; i < files->len; i++)
    {
      const MinkaFileRecord *r = files->pdata[i];
      if ((gint64) r->id <= after)
        continue;
      if (json_array_get_length (array) >= (guint) limit)
        {
          next_after = last_listed;     /* more follow: ask again after this ID */
          break;
        }
      json_array_add_element (array, minka_file_record_to_json (r));
      last_listed = r->id;
    }

  g_autoptr (JsonNode) root = json_node_init_array (json_node_alloc (), array);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  gsize len = 0;
  char *text = json_generator_to_data (gen, &len);
  g_autoptr (GBytes) body = g_bytes_new_take (text, len);

  g_autoptr (JsonObject) reply = minka_frame_header_new_reply (req, "LIST_OK");
  json_object_set_int_member (reply, "applied_index",
                              (gint64) minka_node_applied_index (worker->node));
  json_object_set_string_member (reply, "digest", minka_catalog_digest (worker->catalog));
  json_object_set_int_member (reply, "next_after", (gint64) next_after);
  json_object_set_int_member (reply, "files", minka_catalog_n_files (worker->catalog));
  minka_conn_send (conn, reply, body, NULL, NULL);
}

static gboolean
list_wait_poll (gpointer user_data)
{
  ListWait *w = user_data;
  gint64 min_index = minka_header_get_int (w->req, "min_index", 0, NULL);
  gboolean caught_up = (gint64) minka_node_applied_index (w->worker->node) >= min_index;
  if (!caught_up && g_get_monotonic_time () < w->deadline && !minka_conn_is_closed (w->conn))
    return G_SOURCE_CONTINUE;
  if (minka_conn_is_closed (w->conn))
    ;
  else if (caught_up)
    list_reply (w->worker, w->conn, w->req);
  else
    minka_conn_send_error (w->conn, w->req, "unavailable",
                           _("This worker has not caught up with the requested index yet"));
  minka_conn_unref (w->conn);
  json_object_unref (w->req);
  g_free (w);
  return G_SOURCE_REMOVE;
}

static gboolean
list (MinkaWorker *worker, MinkaConn *conn, JsonObject *req)
{
  const char *bad = NULL;
  gint64 min_index = minka_header_get_int (req, "min_index", 0, &bad);
  minka_header_get_int (req, "after", 0, &bad);
  minka_header_get_int (req, "limit", 0, &bad);
  if (bad)
    {
      minka_conn_send_bad_member (conn, req, bad);
      return TRUE;
    }
  if (min_index <= (gint64) minka_node_applied_index (worker->node))
    {
      list_reply (worker, conn, req);
      return TRUE;
    }
  ListWait *w = g_new0 (ListWait, 1);
  w->worker = worker;
  w->conn = minka_conn_ref (conn);
  w->req = json_object_ref (req);
  w->deadline = g_get_monotonic_time () + MIN_INDEX_WAIT_MS * 1000;
  g_timeout_add (MIN_INDEX_POLL_MS, list_wait_poll, w);
  return TRUE;
}

/* ---- writes that go through the log ------------------------------------------------------ */

typedef struct {
  MinkaWorker *worker;
  MinkaConn *conn;
  JsonObject *req;
  const char *reply_type;
} Pending;

static void
pending_free (Pending *p)
{
  minka_conn_unref (p->conn);
  json_object_unref (p->req);
  g_free (p);
}

static Pending *
pending_new (MinkaWorker *worker, MinkaConn *conn, JsonObject *req, const char *reply_type)
{
  Pending *p = g_new0 (Pending, 1);
  p->worker = worker;
  p->conn = minka_conn_ref (conn);
  p->req = json_object_ref (req);
  p->reply_type = reply_type;
  return p;
}

static void
on_delete_committed (gpointer user_data, const GError *error, gpointer result)
{
  Pending *p = user_data;
  MinkaCatalogResult *res = result;
  if (minka_conn_is_closed (p->conn))
    ;
  else if (error)
    minka_conn_send_error (p->conn, p->req, "unavailable", error->message);
  else if (!res->ok)
    minka_conn_send_error (p->conn, p->req,
                           res->error_code == MINKA_CATALOG_ERROR_NOT_FOUND ? "not_found" : "stale",
                           res->error_message);
  else
    {
      g_autoptr (JsonObject) reply = minka_frame_header_new_reply (p->req, p->reply_type);
      json_object_set_int_member (reply, "file", (gint64) res->file_id);
      minka_worker_log_request (p->worker, "delete", "deleted file %" G_GUINT64_FORMAT, res->file_id);
      minka_conn_send (p->conn, reply, NULL, NULL, NULL);
    }
  pending_free (p);
}

static gboolean
delete_file (MinkaWorker *worker, MinkaConn *conn, JsonObject *req)
{
  if (!minka_worker_is_leader (worker))
    {
      minka_worker_reply_not_leader (worker, conn, req);
      return TRUE;
    }
  const char *bad = NULL;
  gint64 id = minka_header_get_int (req, "file", -1, &bad);
  gint64 seq = minka_header_get_int (req, "seq", 0, &bad);
  const char *client = minka_header_get_string (req, "client", "", &bad);
  if (bad)
    {
      minka_conn_send_bad_member (conn, req, bad);
      return TRUE;
    }
  if (id < 0 || seq < 0)
    {
      minka_conn_send_error (conn, req, "bad_request", _("DELETE needs a file ID"));
      return TRUE;
    }
  /* Refuse unknown IDs before they reach the log (a retry of a delete that
   * already committed is answered by the session table instead). */
  if (!minka_catalog_lookup (worker->catalog, (guint64) id) && seq == 0)
    {
      minka_conn_send_error (conn, req, "not_found", _("No such file"));
      return TRUE;
    }
  g_autoptr (GBytes) command = minka_catalog_command_delete_file (client, (guint64) seq, (guint64) id);
  GError *error = NULL;
  Pending *p = pending_new (worker, conn, req, "DELETE_OK");
  if (!minka_node_propose (worker->node, command, on_delete_committed, p, &error))
    {
      minka_conn_send_error (conn, req, "unavailable", error->message);
      g_error_free (error);
      pending_free (p);
    }
  return TRUE;
}

static JsonArray *
members_json (MinkaWorker *worker)
{
  const RaftConfig *members = raft_node_config (minka_node_raft (worker->node));
  JsonArray *array = json_array_new ();
  for (guint i = 0; i < members->n_nodes; i++)
    {
      JsonObject *m = json_object_new ();
      json_object_set_string_member (m, "name", minka_worker_member_name (worker, members->ids[i]));
      json_object_set_int_member (m, "id", (gint64) members->ids[i]);
      json_object_set_string_member (m, "member", members->addresses[i]);
      json_array_add_object_element (array, m);
    }
  return array;
}

static void
on_config_committed (gpointer user_data, const GError *error, gpointer result)
{
  Pending *p = user_data;
  if (minka_conn_is_closed (p->conn))
    ;
  else if (error)
    minka_conn_send_error (p->conn, p->req, "unavailable", error->message);
  else
    {
      g_autoptr (JsonObject) reply = minka_frame_header_new_reply (p->req, p->reply_type);
      json_object_set_array_member (reply, "config", members_json (p->worker));
      minka_conn_send (p->conn, reply, NULL, NULL, NULL);
    }
  pending_free (p);
}

static gboolean
cluster_change (MinkaWorker *worker, MinkaConn *conn, JsonObject *req, gboolean add)
{
  if (!minka_worker_is_leader (worker))
    {
      minka_worker_reply_not_leader (worker, conn, req);
      return TRUE;
    }
  const char *bad = NULL;
  const char *name = minka_header_get_string (req, "name", "", &bad);
  const char *address = minka_header_get_string (req, "address", "", &bad);
  if (bad)
    {
      minka_conn_send_bad_member (conn, req, bad);
      return TRUE;
    }
  MinkaAddress parsed = { 0 };
  GError *error = NULL;
  if (!minka_config_name_is_valid (name)
      || (add && !minka_address_parse (address, &parsed, &error)))
    {
      minka_conn_send_error (conn, req, "bad_request",
                             error ? error->message : _("Invalid worker name"));
      g_clear_error (&error);
      return TRUE;
    }
  g_autofree char *normalized = add ? minka_address_to_string (&parsed) : NULL;
  g_autofree char *member = add ? g_strdup_printf ("%s@%s", name, normalized) : NULL;
  minka_address_clear (&parsed);
  Pending *p = pending_new (worker, conn, req, "CLUSTER_OK");
  if (!minka_node_propose_config (worker->node, add ? RAFT_CONFIG_ADD : RAFT_CONFIG_REMOVE,
                                  minka_config_node_id (name), member,
                                  on_config_committed, p, &error))
    {
      minka_conn_send_error (conn, req, "unavailable", error->message);
      g_error_free (error);
      pending_free (p);
    }
  else
    minka_worker_event (worker, "membership", "%s %s requested", add ? "adding" : "removing", name);
  return TRUE;
}

gboolean
minka_worker_requests_frame (MinkaWorker *worker, MinkaConn *conn, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);
  JsonObject *req = frame->header;
  if (strcmp (type, "STATUS") == 0)
    return status (worker, conn, req);
  if (strcmp (type, "LIST") == 0)
    return list (worker, conn, req);
  if (strcmp (type, "DELETE") == 0)
    return delete_file (worker, conn, req);
  if (strcmp (type, "CLUSTER_ADD") == 0)
    return cluster_change (worker, conn, req, TRUE);
  if (strcmp (type, "CLUSTER_REMOVE") == 0)
    return cluster_change (worker, conn, req, FALSE);
  g_autofree char *msg = g_strdup_printf (_("Unknown request type %s"), type);
  minka_conn_send_error (conn, req, "bad_request", msg);
  return TRUE;
}
