/* minka-client.c — MinkaClient: the asynchronous client of a Minka cluster.
 *
 * Three plain structs do the work behind the one GObject class:
 *  - Conn: one authenticated frame connection to a worker, shared by the
 *    operations that talk to it; it reads frames in a loop and hands each to
 *    the operation registered under the frame's "id".
 *  - Op: one user operation (a GTask). Each attempt picks a worker (the
 *    fixed one, the leader, or the next address), sends its request and
 *    reacts to the replies; NOT_LEADER, "unavailable"/"busy", timeouts and
 *    connection failures start another attempt after a jittered, capped,
 *    exponential delay, until the deadline.
 *  - the write queue: writes of one client (one session) run one at a time
 *    so their "seq" numbers reach the leader in order.
 * Uploads of at most MINKA_CLIENT_ONE_FRAME_MAX bytes go as one PUT_BEGIN
 * frame with the content and its SHA-256; larger ones as PUT_BEGIN,
 * PUT_DATA… and PUT_END.
 * Requests and replies are those of docs/requests.md. */
#include "config.h"

#include "minka-client.h"

#include "minka-auth.h"
#include "minka-frame.h"
#include "minka-sha256.h"

#include <string.h>
#include <gio/gnetworking.h>   /* GLib's portable TCP_NODELAY */
#include <glib/gi18n-lib.h>

#define CHUNK_SIZE (1024 * 1024)   /* PUT_DATA body */
#define LIST_LIMIT 10000
#define STATUS_ATTEMPTS 2          /* a status of one worker is not retried for long */
#define STATUS_REPLY_MS 5000       /* a live worker answers STATUS at once */
#define PUT_BYTES_PER_MS 10000     /* slowest replication allowed for: 10 MB/s */
#define FAST_REDIRECTS 3           /* NOT_LEADER redirects followed without delay */
#define ELECTION_POLL_MS 200       /* longest retry delay while there is no leader */
#define RETRY_BACKOFF (-1)
#define RETRY_ELECTION (-2)

G_DEFINE_QUARK (minka-client-error-quark, minka_client_error)

typedef struct _Conn Conn;
typedef struct _Op Op;

struct _MinkaClient {
  GObject parent_instance;

  GMainContext *context;
  GStrv addresses;
  GBytes *key;
  char session[33];
  guint64 last_seq;
  gint64 last_id;
  char *leader;                /* address believed to be the leader's */
  guint next_address;          /* round robin when no leader is known */
  GHashTable *conns;           /* address → Conn* (owned) */
  GQueue writes;               /* Op* waiting their turn (owned) */
  Op *writing;                 /* the write in progress */
  guint connect_ms, request_ms, deadline_ms;
  guint backoff_initial_ms, backoff_max_ms;
  GRand *rand;                 /* retry jitter only */
};

G_DEFINE_TYPE (MinkaClient, minka_client, G_TYPE_OBJECT)

/* ---- plain data ---------------------------------------------------------- */

void
minka_file_info_free (MinkaFileInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->client);
  g_free (info);
}

static gboolean
json_get_uint (JsonObject *object, const char *member, guint64 *out)
{
  gint64 v = minka_header_get_int (object, member, -1, NULL);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static const char *
json_get_string (JsonObject *object, const char *member)
{
  return minka_header_get_string (object, member, NULL, NULL);
}

static JsonObject *
json_get_object (JsonObject *object, const char *member)
{
  JsonNode *node = json_object_get_member (object, member);
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static gboolean
sha256_hex_valid (const char *text)
{
  if (text == NULL || strlen (text) != 64)
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

MinkaFileInfo *
minka_file_info_from_json (JsonObject *object, GError **error)
{
  guint64 id = 0, size = 0, created = 0;
  const char *name = json_get_string (object, "name");
  const char *sha = json_get_string (object, "sha256");

  if (!json_get_uint (object, "id", &id) || !json_get_uint (object, "size", &size)
      || name == NULL || !sha256_hex_valid (sha))
    {
      g_set_error (error, MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_PROTOCOL,
                   _("Malformed file description in a reply (needs id, name, size, sha256)"));
      return NULL;
    }
  json_get_uint (object, "created_ms", &created);
  MinkaFileInfo *info = g_new0 (MinkaFileInfo, 1);
  info->id = id;
  info->name = g_strdup (name);
  info->size = size;
  memcpy (info->sha256, sha, 65);
  info->created_ms = (gint64) created;
  info->client = g_strdup (json_get_string (object, "client"));
  return info;
}

void
minka_file_list_free (MinkaFileList *list)
{
  if (list == NULL)
    return;
  g_ptr_array_unref (list->files);
  g_free (list->digest);
  g_free (list->address);
  g_free (list);
}

static MinkaFileList *
file_list_new (void)
{
  MinkaFileList *list = g_new0 (MinkaFileList, 1);
  list->files = g_ptr_array_new_with_free_func ((GDestroyNotify) minka_file_info_free);
  return list;
}

void
minka_worker_status_free (MinkaWorkerStatus *status)
{
  if (status == NULL)
    return;
  g_free (status->address);
  g_clear_pointer (&status->reply, json_object_unref);
  g_clear_error (&status->error);
  g_free (status);
}

/* ---- connections: declarations ------------------------------------------ */

typedef enum { CONN_CONNECTING, CONN_READY, CONN_DEAD } ConnState;

struct _Conn {
  gint refcount;
  MinkaClient *client;         /* borrowed; the client outlives its ops */
  char *address;
  ConnState state;
  MinkaFrameConnection *frames;
  GCancellable *cancel;        /* connect and handshake */
  GSource *connect_timer;
  GPtrArray *waiters;          /* Op* (owned) waiting for READY */
  GHashTable *pending;         /* request id → Op* (owned) */
  gboolean reading;
  guint paused;                /* > 0: a download's sink is busy, do not read */
};

static Conn *conn_ref (Conn *conn);
static void conn_unref (Conn *conn);
static void conn_fail (Conn *conn, const GError *error);
static void conn_read_next (Conn *conn);
static void conn_send (Conn *conn, JsonObject *header, GBytes *body,
                       GAsyncReadyCallback callback, gpointer user_data);

/* ---- operations: declarations ------------------------------------------- */

typedef enum { OP_STATUS, OP_LIST, OP_PUT, OP_GET, OP_DELETE, OP_CLUSTER } OpKind;

typedef enum { XFER_IDLE, XFER_BEGUN, XFER_DATA, XFER_END } XferState;

struct _Op {
  gint refcount;
  OpKind kind;
  MinkaClient *client;         /* owned */
  GTask *task;                 /* NULL once completed */
  char *target;                /* a fixed worker, or NULL: leader / any */
  gboolean write;
  gint64 id;                   /* the current request's id (0: none) */
  Conn *conn;                  /* the current attempt's connection (owned) */
  guint generation;            /* bumped per attempt: late callbacks are ignored */
  guint attempts;              /* failed attempts so far */
  guint max_attempts;          /* 0: until the deadline */
  guint request_ms;            /* the client's, or less */
  guint redirects;
  gint64 deadline_us;
  GSource *timer;              /* request timeout, or the delay before a retry */
  GSource *cancel_source;
  GError *last_error;
  JsonObject *request;

  /* LIST */
  MinkaFileList *list;

  /* PUT and GET */
  MinkaProgressFunc progress;
  gpointer progress_data;
  XferState xfer;
  guint64 size, done;
  MinkaSha256 sha;                 /* of the bytes sent or received so far */
  MinkaFileInfo *info;

  /* PUT */
  GInputStream *in;
  GFile *src;
  JsonNode *upload;
  gboolean reading;            /* a chunk read is in flight */
  GBytes *small;               /* one-frame upload: the whole content, once read */
  char *small_sha;             /* and its SHA-256 */

  /* GET */
  GOutputStream *out;
  gboolean out_dirty;          /* bytes were written to @out */
  gboolean writing;            /* a write to @out is in flight */
  gboolean send_deferred;      /* start the attempt once the write is done */
  Conn *paused_conn;           /* owned: the connection we paused */
  GFile *dest, *tmp;
  gboolean overwrite;
  GError *final_error;         /* get to file: error kept while cleaning up */
  gboolean finishing;          /* get to file: closing/renaming, too late to cancel */
};

/* A callback's claim on one attempt of an op. */
typedef struct {
  Op *op;
  guint generation;
  GBytes *bytes;
} OpCall;

static Op *op_ref (Op *op);
static void op_unref (Op *op);
static void op_attempt (Op *op);
static void op_retry (Op *op, const GError *error);
static void op_fail (Op *op, GError *error);
static void op_handle_frame (Op *op, MinkaFrame *frame);
static void op_conn_ready (Op *op);
static void get_finish_ok (Op *op);
static void get_cleanup_file (Op *op, GError *error);

static OpCall *
op_call_new (Op *op, GBytes *bytes)
{
  OpCall *call = g_new0 (OpCall, 1);
  call->op = op_ref (op);
  call->generation = op->generation;
  call->bytes = bytes != NULL ? g_bytes_ref (bytes) : NULL;
  return call;
}

static void
op_call_free (OpCall *call)
{
  op_unref (call->op);
  g_clear_pointer (&call->bytes, g_bytes_unref);
  g_free (call);
}

/* Whether the attempt the call was made for is still the current one. */
static gboolean
op_call_current (OpCall *call)
{
  return call->op->task != NULL && call->generation == call->op->generation;
}

/* ---- connections ---------------------------------------------------------- */

static Conn *
conn_ref (Conn *conn)
{
  g_atomic_int_inc (&conn->refcount);
  return conn;
}

static void
conn_unref (Conn *conn)
{
  if (conn == NULL || !g_atomic_int_dec_and_test (&conn->refcount))
    return;
  g_clear_object (&conn->frames);
  g_clear_object (&conn->cancel);
  g_ptr_array_unref (conn->waiters);
  g_hash_table_unref (conn->pending);
  g_free (conn->address);
  g_free (conn);
}

static void
conn_timer_clear (Conn *conn)
{
  if (conn->connect_timer != NULL)
    {
      g_source_destroy (conn->connect_timer);
      g_clear_pointer (&conn->connect_timer, g_source_unref);
    }
}

/* Fails the connection: every op on it or waiting for it retries. */
static void
conn_fail (Conn *conn, const GError *error)
{
  if (conn->state == CONN_DEAD)
    return;
  conn_ref (conn);
  conn->state = CONN_DEAD;
  g_debug ("client: connection to %s failed: %s", conn->address, error->message);
  g_cancellable_cancel (conn->cancel);
  conn_timer_clear (conn);
  if (conn->frames != NULL)
    minka_frame_connection_close (conn->frames);

  MinkaClient *client = conn->client;
  if (g_hash_table_lookup (client->conns, conn->address) == conn)
    g_hash_table_remove (client->conns, conn->address);
  if (g_strcmp0 (client->leader, conn->address) == 0)
    g_clear_pointer (&client->leader, g_free);

  GPtrArray *ops = g_ptr_array_new_with_free_func ((GDestroyNotify) op_unref);
  for (guint i = 0; i < conn->waiters->len; i++)
    g_ptr_array_add (ops, op_ref (conn->waiters->pdata[i]));
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, conn->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (ops, op_ref (value));
  for (guint i = 0; i < ops->len; i++)
    {
      Op *op = ops->pdata[i];
      if (op->conn == conn && op->task != NULL)
        op_retry (op, error);
    }
  g_ptr_array_unref (ops);
  g_ptr_array_set_size (conn->waiters, 0);
  g_hash_table_remove_all (conn->pending);
  conn_unref (conn);
}

static gboolean
on_connect_timeout (gpointer data)
{
  Conn *conn = data;
  g_autoptr (GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                          _("Could not connect to %s within %u ms"),
                                          conn->address, conn->client->connect_ms);
  g_clear_pointer (&conn->connect_timer, g_source_unref);
  conn_fail (conn, error);
  return G_SOURCE_REMOVE;
}

static void
on_conn_frame (GObject *source, GAsyncResult *result, gpointer data)
{
  Conn *conn = data;
  GError *error = NULL;
  MinkaFrame *frame = minka_frame_connection_read_finish (MINKA_FRAME_CONNECTION (source),
                                                          result, &error);
  conn->reading = FALSE;
  if (frame == NULL)
    {
      conn_fail (conn, error);
      g_error_free (error);
      conn_unref (conn);
      return;
    }
  gint64 id = minka_frame_get_id (frame);
  Op *op = id > 0 ? g_hash_table_lookup (conn->pending, &id) : NULL;
  if (op != NULL)
    {
      op_ref (op);
      op_handle_frame (op, frame);
      op_unref (op);
    }
  else if (g_strcmp0 (minka_frame_get_frame_type (frame), "ERROR") == 0 && id < 0)
    {
      /* An error about the connection itself: the server closes it next. */
      g_autoptr (GError) closing = g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_REMOTE,
                                                _("Worker %s: %s"), conn->address,
                                                minka_header_get_string (frame->header, "message",
                                                                         "?", NULL));
      conn_fail (conn, closing);
    }
  else
    g_debug ("client: ignoring %s frame with id %" G_GINT64_FORMAT " from %s",
             minka_frame_get_frame_type (frame), id, conn->address);
  minka_frame_free (frame);
  conn_read_next (conn);
  conn_unref (conn);
}

static void
conn_read_next (Conn *conn)
{
  if (conn->state != CONN_READY || conn->reading || conn->paused > 0)
    return;
  conn->reading = TRUE;
  minka_frame_connection_read_async (conn->frames, NULL, on_conn_frame, conn_ref (conn));
}

static void
on_conn_hello (GObject *source, GAsyncResult *result, gpointer data)
{
  Conn *conn = data;
  g_autoptr (GError) error = NULL;

  if (!minka_auth_client_finish (MINKA_FRAME_CONNECTION (source), result, &error))
    conn_fail (conn, error);
  else if (conn->state == CONN_CONNECTING)
    {
      conn_timer_clear (conn);
      conn->state = CONN_READY;
      g_autoptr (GPtrArray) waiters = g_steal_pointer (&conn->waiters);
      g_ptr_array_set_free_func (waiters, (GDestroyNotify) op_unref);
      conn->waiters = g_ptr_array_new ();
      for (guint i = 0; i < waiters->len; i++)
        {
          Op *op = waiters->pdata[i];
          if (op->conn == conn && op->task != NULL)
            op_conn_ready (op);
        }
      conn_read_next (conn);
    }
  conn_unref (conn);
}

static void
on_conn_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  Conn *conn = data;
  g_autoptr (GError) error = NULL;
  GSocketConnection *socket = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source),
                                                                       result, &error);
  if (socket == NULL)
    {
      if (conn->state != CONN_DEAD)
        {
          g_autoptr (GError) wrapped = g_error_new (error->domain, error->code, "%s: %s",
                                                    conn->address, error->message);
          conn_fail (conn, wrapped);
        }
      conn_unref (conn);
      return;
    }
  if (conn->state == CONN_DEAD)
    {
      g_io_stream_close (G_IO_STREAM (socket), NULL, NULL);
      g_object_unref (socket);
      conn_unref (conn);
      return;
    }
  g_socket_set_option (g_socket_connection_get_socket (socket), IPPROTO_TCP, TCP_NODELAY,
                       1, NULL);
  conn->frames = minka_frame_connection_new (G_IO_STREAM (socket));
  minka_frame_connection_set_timeouts (conn->frames, 0,
                                       MAX (conn->client->request_ms, 1000));
  g_object_unref (socket);
  minka_auth_client_async (conn->frames, MINKA_AUTH_ROLE_CLIENT, conn->client->key, NULL,
                           conn->cancel, on_conn_hello, conn);
}

static Conn *
conn_new (MinkaClient *client, const char *address)
{
  Conn *conn = g_new0 (Conn, 1);
  conn->refcount = 1;
  conn->client = client;
  conn->address = g_strdup (address);
  conn->state = CONN_CONNECTING;
  conn->cancel = g_cancellable_new ();
  conn->waiters = g_ptr_array_new ();
  conn->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                         (GDestroyNotify) op_unref);
  conn->connect_timer = g_timeout_source_new (client->connect_ms);
  g_source_set_callback (conn->connect_timer, on_connect_timeout, conn, NULL);
  g_source_attach (conn->connect_timer, client->context);

  g_autoptr (GSocketClient) socket_client = g_socket_client_new ();
  g_socket_client_connect_to_host_async (socket_client, address, 0, conn->cancel,
                                         on_conn_connected, conn_ref (conn));
  return conn;
}

/* The live connection to @address, connecting if there is none. */
static Conn *
client_conn_get (MinkaClient *client, const char *address)
{
  Conn *conn = g_hash_table_lookup (client->conns, address);
  if (conn == NULL)
    {
      conn = conn_new (client, address);
      g_hash_table_insert (client->conns, g_strdup (address), conn);
    }
  return conn;
}

static void
conn_send (Conn *conn, JsonObject *header, GBytes *body,
           GAsyncReadyCallback callback, gpointer user_data)
{
  minka_frame_connection_send_async (conn->frames, header, body, NULL, callback, user_data);
}

static void
conn_pause (Conn *conn)
{
  conn->paused++;
}

static void
conn_resume (Conn *conn)
{
  g_return_if_fail (conn->paused > 0);
  conn->paused--;
  conn_read_next (conn);
}

/* ---- operations: lifecycle ----------------------------------------------- */

static Op *
op_ref (Op *op)
{
  op->refcount++;
  return op;
}

static void
op_unref (Op *op)
{
  if (op == NULL || --op->refcount > 0)
    return;
  g_assert (op->task == NULL && op->timer == NULL && op->conn == NULL);
  g_clear_object (&op->client);
  g_free (op->target);
  g_clear_error (&op->last_error);
  g_clear_pointer (&op->request, json_object_unref);
  g_clear_pointer (&op->list, minka_file_list_free);
  g_clear_pointer (&op->info, minka_file_info_free);
  g_clear_object (&op->in);
  g_clear_object (&op->src);
  g_clear_pointer (&op->upload, json_node_unref);
  g_clear_pointer (&op->small, g_bytes_unref);
  g_free (op->small_sha);
  g_clear_object (&op->out);
  g_clear_object (&op->dest);
  g_clear_object (&op->tmp);
  g_clear_error (&op->final_error);
  g_free (op);
}

static Op *
op_new (MinkaClient *client, OpKind kind, const char *type, GCancellable *cancellable,
        GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
  Op *op = g_new0 (Op, 1);
  op->refcount = 1;
  op->kind = kind;
  op->client = g_object_ref (client);
  op->task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (op->task, source_tag);
  op->request = minka_frame_header_new (type);
  op->request_ms = client->request_ms;
  return op;
}

static void
op_timer_clear (Op *op)
{
  if (op->timer != NULL)
    {
      g_source_destroy (op->timer);
      g_clear_pointer (&op->timer, g_source_unref);
    }
}

static void
op_timer_start (Op *op, guint ms, GSourceFunc func)
{
  op_timer_clear (op);
  op->timer = g_timeout_source_new (ms);
  g_source_set_callback (op->timer, func, op_ref (op), (GDestroyNotify) op_unref);
  g_source_attach (op->timer, op->client->context);
}

static gboolean
on_request_timeout (gpointer data)
{
  Op *op = data;
  Conn *conn = op->conn;
  g_autoptr (GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                          _("No reply from %s within %u ms"),
                                          conn != NULL ? conn->address : "?",
                                          op->request_ms);
  g_clear_pointer (&op->timer, g_source_unref);
  /* An unresponsive worker: drop the connection, which retries every op on it. */
  if (conn != NULL)
    {
      conn_ref (conn);
      conn_fail (conn, error);
      conn_unref (conn);
    }
  if (op->task != NULL && op->conn == conn && op->timer == NULL)
    op_retry (op, error);
  return G_SOURCE_REMOVE;
}

/* (Re)starts the wait for the next sign of life of the current request. */
static void
op_arm_timeout (Op *op)
{
  op_timer_start (op, op->request_ms, on_request_timeout);
}

/* Leaves the current attempt: its connection, timers and registrations. */
static void
op_detach (Op *op)
{
  op_timer_clear (op);
  op->generation++;
  if (op->paused_conn != NULL)
    {
      conn_resume (op->paused_conn);
      g_clear_pointer (&op->paused_conn, conn_unref);
    }
  Conn *conn = g_steal_pointer (&op->conn);
  if (conn != NULL)
    {
      if (op->id != 0)
        g_hash_table_remove (conn->pending, &op->id);
      g_ptr_array_remove (conn->waiters, op) ? op_unref (op) : (void) 0;
      conn_unref (conn);
    }
  op->id = 0;
}

static void client_write_next (MinkaClient *client);

/* Completes the op's task (the op must already be detached). */
static void
op_complete (Op *op)
{
  if (op->cancel_source != NULL)
    {
      g_source_destroy (op->cancel_source);
      g_clear_pointer (&op->cancel_source, g_source_unref);
    }
  g_clear_object (&op->task);
  if (op->write && op->client->writing == op)
    {
      op->client->writing = NULL;
      client_write_next (op->client);
    }
}

static void
op_return_pointer (Op *op, gpointer result, GDestroyNotify free_func)
{
  GTask *task = g_object_ref (op->task);
  op_detach (op);
  op_complete (op);
  g_task_return_pointer (task, result, free_func);
  g_object_unref (task);
}

static void
op_return_int (Op *op, gint64 value)
{
  GTask *task = g_object_ref (op->task);
  op_detach (op);
  op_complete (op);
  g_task_return_int (task, value);
  g_object_unref (task);
}

/* Fails the op for good (takes @error). A transfer cut in the middle leaves
 * the worker expecting more: its connection is dropped too. */
static void
op_fail (Op *op, GError *error)
{
  if (op->task == NULL)
    {
      g_error_free (error);
      return;
    }
  Conn *conn = op->conn != NULL ? conn_ref (op->conn) : NULL;
  gboolean mid_transfer = op->xfer == XFER_DATA || op->xfer == XFER_END || op->writing;
  op_detach (op);
  if (conn != NULL && mid_transfer && conn->state != CONN_DEAD)
    conn_fail (conn, error);
  conn_unref (conn);

  if (op->kind == OP_GET && op->tmp != NULL)
    {
      get_cleanup_file (op, error);
      return;
    }
  GTask *task = g_object_ref (op->task);
  op_complete (op);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
error_is_timeout (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
         || g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT);
}

static GError *
op_give_up_error (Op *op)
{
  const GError *last = op->last_error;
  if (last != NULL && error_is_timeout (last))
    return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        _("No answer (attempts: %u); last error: %s"), op->attempts,
                        last->message);
  return g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_UNAVAILABLE,
                      _("No answer (attempts: %u); last error: %s"), op->attempts,
                      last != NULL ? last->message : _("no worker answered"));
}

static gboolean
on_retry_delay (gpointer data)
{
  Op *op = data;
  g_clear_pointer (&op->timer, g_source_unref);
  if (op->task != NULL)
    op_attempt (op);
  return G_SOURCE_REMOVE;
}

/* Capped exponential backoff with jitter in [d/2, d]. While a leader is
 * being elected the cap is low, so the client notices the new leader
 * soon; after a connection failure the other workers are tried at once. */
static guint
op_backoff_ms (Op *op, gboolean election)
{
  MinkaClient *client = op->client;
  if (!election && op->target == NULL && op->attempts < g_strv_length (client->addresses))
    return 0;
  guint64 cap = election ? MIN (client->backoff_max_ms, ELECTION_POLL_MS)
                         : client->backoff_max_ms;
  guint64 delay = MIN (client->backoff_initial_ms, cap);
  for (guint i = 1; i < op->attempts && delay < cap; i++)
    delay *= 2;
  delay = MIN (delay, cap);
  return (guint) (delay / 2 + (guint64) g_rand_int_range (client->rand, 0, (gint32) (delay / 2 + 1)));
}

/* Ends the current attempt and schedules another (after @delay_ms, or
 * RETRY_BACKOFF / RETRY_ELECTION), unless the op has run out of attempts
 * or time. */
static void
op_retry_after (Op *op, const GError *error, gint delay_ms)
{
  if (op->task == NULL)
    return;
  Conn *conn = op->conn != NULL ? conn_ref (op->conn) : NULL;
  gboolean mid_transfer = op->xfer == XFER_DATA || op->xfer == XFER_END;
  op_detach (op);
  if (conn != NULL && mid_transfer && conn->state != CONN_DEAD)
    conn_fail (conn, error);
  conn_unref (conn);

  g_clear_error (&op->last_error);
  op->last_error = g_error_copy (error);
  op->attempts++;
  /* A wrong key or protocol version does not get better by retrying. */
  if (error->domain == MINKA_AUTH_ERROR && error->code != MINKA_AUTH_ERROR_RANDOM)
    {
      op_fail (op, g_error_copy (error));
      return;
    }
  op->xfer = XFER_IDLE;
  guint delay = delay_ms >= 0 ? (guint) delay_ms
                               : op_backoff_ms (op, delay_ms == RETRY_ELECTION);
  gboolean out_of_time = g_get_monotonic_time () + (gint64) delay * 1000 > op->deadline_us;
  if ((op->max_attempts > 0 && op->attempts >= op->max_attempts) || out_of_time)
    {
      op_fail (op, op_give_up_error (op));
      return;
    }
  g_debug ("client: retrying %s in %u ms after: %s",
           json_object_get_string_member (op->request, "type"), delay, error->message);
  op_timer_start (op, delay, on_retry_delay);
}

static void
op_retry (Op *op, const GError *error)
{
  op_retry_after (op, error, RETRY_BACKOFF);
}

static gboolean
on_op_cancelled (GCancellable *cancellable, gpointer data)
{
  Op *op = data;
  if (op->task != NULL && !op->finishing)
    {
      GError *error = NULL;
      g_cancellable_set_error_if_cancelled (cancellable, &error);
      op_fail (op, error);
    }
  return G_SOURCE_REMOVE;
}

/* Starts one attempt: picks a worker and waits for its connection. */
static void
op_attempt (Op *op)
{
  MinkaClient *client = op->client;
  const char *address = op->target;
  if (address == NULL)
    address = client->leader;
  if (address == NULL)
    {
      guint n = g_strv_length (client->addresses);
      address = client->addresses[client->next_address++ % n];
    }
  Conn *conn = client_conn_get (client, address);
  op->generation++;
  op->conn = conn_ref (conn);
  if (conn->state == CONN_READY)
    op_conn_ready (op);
  else
    g_ptr_array_add (conn->waiters, op_ref (op));
}

/* Runs the op: writes wait for their turn in the session. */
static void
op_start (Op *op)
{
  GCancellable *cancellable = g_task_get_cancellable (op->task);
  if (cancellable != NULL)
    {
      op->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (op->cancel_source, G_SOURCE_FUNC (on_op_cancelled),
                             op_ref (op), (GDestroyNotify) op_unref);
      g_source_attach (op->cancel_source, op->client->context);
    }
  if (op->write)
    {
      g_queue_push_tail (&op->client->writes, op_ref (op));
      client_write_next (op->client);
    }
  else
    {
      op->deadline_us = g_get_monotonic_time () + (gint64) op->client->deadline_ms * 1000;
      op_attempt (op);
    }
  op_unref (op);
}

static void
client_write_next (MinkaClient *client)
{
  while (client->writing == NULL && !g_queue_is_empty (&client->writes))
    {
      Op *op = g_queue_pop_head (&client->writes);
      if (op->task != NULL)
        {
          client->writing = op;
          json_object_set_string_member (op->request, "client", client->session);
          json_object_set_int_member (op->request, "seq", (gint64) ++client->last_seq);
          op->deadline_us = g_get_monotonic_time () + (gint64) client->deadline_ms * 1000;
          op_attempt (op);
        }
      op_unref (op);
    }
}

/* Registers a new request id for the op on its connection and sends
 * @header with @body (may be NULL); @callback (may be NULL) runs once the
 * frame is written. */
static void
op_send_request_full (Op *op, JsonObject *header, GBytes *body,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  Conn *conn = op->conn;
  if (op->id != 0)
    g_hash_table_remove (conn->pending, &op->id);
  op->id = ++op->client->last_id;
  gint64 *key = g_new (gint64, 1);
  *key = op->id;
  g_hash_table_insert (conn->pending, key, op_ref (op));
  json_object_set_int_member (header, "id", op->id);
  op_arm_timeout (op);
  conn_send (conn, header, body, callback, user_data);
}

static void
op_send_request (Op *op, JsonObject *header)
{
  op_send_request_full (op, header, NULL, NULL, NULL);
}

static void put_begin (Op *op);
static void get_begin (Op *op);

/* The attempt's connection is ready: send the request. */
static void
op_conn_ready (Op *op)
{
  switch (op->kind)
    {
    case OP_PUT:
      put_begin (op);
      break;
    case OP_GET:
      get_begin (op);
      break;
    case OP_LIST:
      g_clear_pointer (&op->list, minka_file_list_free);
      op->list = file_list_new ();
      op->list->address = g_strdup (op->conn->address);
      json_object_set_int_member (op->request, "after", 0);
      op_send_request (op, op->request);
      break;
    default:
      op_send_request (op, op->request);
      break;
    }
}

/* ---- replies ------------------------------------------------------------- */

static MinkaClientError
error_code_from_string (const char *code)
{
  static const struct { const char *name; MinkaClientError code; } codes[] = {
    { "bad_request", MINKA_CLIENT_ERROR_BAD_REQUEST },
    { "not_found", MINKA_CLIENT_ERROR_NOT_FOUND },
    { "bad_name", MINKA_CLIENT_ERROR_BAD_NAME },
    { "too_large", MINKA_CLIENT_ERROR_TOO_LARGE },
    { "checksum", MINKA_CLIENT_ERROR_CHECKSUM },
    { "stale", MINKA_CLIENT_ERROR_STALE },
    { "internal", MINKA_CLIENT_ERROR_INTERNAL },
    { "unavailable", MINKA_CLIENT_ERROR_UNAVAILABLE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++)
    if (g_strcmp0 (code, codes[i].name) == 0)
      return codes[i].code;
  return MINKA_CLIENT_ERROR_REMOTE;
}

static void
op_protocol_error (Op *op, MinkaFrame *frame)
{
  op_fail (op, g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_PROTOCOL,
                            _("Unexpected %s reply from %s"),
                            minka_frame_get_frame_type (frame), op->conn->address));
}

static void
op_handle_error (Op *op, MinkaFrame *frame)
{
  const char *code = json_get_string (frame->header, "code");
  const char *message = json_get_string (frame->header, "message");
  g_autoptr (GError) error = g_error_new (MINKA_CLIENT_ERROR, error_code_from_string (code),
                                          "%s (%s)", message != NULL ? message : _("error"),
                                          code != NULL ? code : "?");
  /* An error ends the server's side of a transfer: the connection stays. */
  if (!op->writing)
    op->xfer = XFER_IDLE;
  /* No leader or quorum yet, or overloaded: try again later. */
  if (g_strcmp0 (code, "unavailable") == 0)
    op_retry_after (op, error, RETRY_ELECTION);
  else if (g_strcmp0 (code, "busy") == 0)
    op_retry (op, error);
  else
    op_fail (op, g_steal_pointer (&error));
}

static void
op_handle_not_leader (Op *op, MinkaFrame *frame)
{
  MinkaClient *client = op->client;
  const char *address = json_get_string (frame->header, "address");
  g_autoptr (GError) error = NULL;

  if (!op->writing)
    op->xfer = XFER_IDLE;       /* the worker dropped its side of any transfer */

  if (address == NULL || address[0] == '\0' || op->target != NULL
      || g_strcmp0 (address, op->conn->address) == 0)
    {
      error = g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_UNAVAILABLE,
                           _("No leader known by %s yet"), op->conn->address);
      if (g_strcmp0 (client->leader, op->conn->address) == 0)
        g_clear_pointer (&client->leader, g_free);
      op_retry_after (op, error, RETRY_ELECTION);
      return;
    }
  error = g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_UNAVAILABLE,
                       _("%s is not the leader (redirected to %s)"), op->conn->address, address);
  g_free (client->leader);
  client->leader = g_strdup (address);
  op->redirects++;
  op_retry_after (op, error, op->redirects <= FAST_REDIRECTS ? 0 : RETRY_BACKOFF);
}

static void
list_handle_page (Op *op, MinkaFrame *frame)
{
  MinkaFileList *list = op->list;
  guint64 applied = 0, next_after = 0;
  GError *error = NULL;

  json_get_uint (frame->header, "applied_index", &applied);
  json_get_uint (frame->header, "next_after", &next_after);
  if (list->digest == NULL)
    {
      list->applied_index = applied;
      list->digest = g_strdup (json_get_string (frame->header, "digest"));
    }
  guint page = 0;
  if (frame->body != NULL)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      gsize len = 0;
      const char *text = g_bytes_get_data (frame->body, &len);
      if (!json_parser_load_from_data (parser, text, (gssize) len, &error))
        {
          op_fail (op, error);
          return;
        }
      JsonNode *root = json_parser_get_root (parser);
      if (!JSON_NODE_HOLDS_ARRAY (root))
        {
          op_protocol_error (op, frame);
          return;
        }
      JsonArray *array = json_node_get_array (root);
      page = json_array_get_length (array);
      for (guint i = 0; i < page; i++)
        {
          JsonNode *node = json_array_get_element (array, i);
          MinkaFileInfo *info = JSON_NODE_HOLDS_OBJECT (node)
            ? minka_file_info_from_json (json_node_get_object (node), &error) : NULL;
          if (info == NULL)
            {
              op_fail (op, error != NULL ? error
                       : g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_PROTOCOL,
                                      _("Malformed file list from %s"), op->conn->address));
              return;
            }
          g_ptr_array_add (list->files, info);
        }
    }
  if (next_after > 0 && page > 0)
    {
      json_object_set_int_member (op->request, "after", (gint64) next_after);
      op_send_request (op, op->request);
      return;
    }
  op_return_pointer (op, g_steal_pointer (&op->list), (GDestroyNotify) minka_file_list_free);
}

static void put_handle_frame (Op *op, MinkaFrame *frame);
static void get_handle_frame (Op *op, MinkaFrame *frame);

static void
op_handle_frame (Op *op, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);
  op_arm_timeout (op);
  if (g_strcmp0 (type, "ERROR") == 0)
    op_handle_error (op, frame);
  else if (g_strcmp0 (type, "NOT_LEADER") == 0)
    op_handle_not_leader (op, frame);
  else if (op->kind == OP_PUT)
    put_handle_frame (op, frame);
  else if (op->kind == OP_GET)
    get_handle_frame (op, frame);
  else if (op->kind == OP_STATUS && g_strcmp0 (type, "STATUS_OK") == 0)
    op_return_pointer (op, json_object_ref (frame->header), (GDestroyNotify) json_object_unref);
  else if (op->kind == OP_LIST && g_strcmp0 (type, "LIST_OK") == 0)
    list_handle_page (op, frame);
  else if (op->kind == OP_DELETE && g_strcmp0 (type, "DELETE_OK") == 0)
    {
      guint64 id = 0;
      json_get_uint (frame->header, "file", &id);
      op_return_int (op, (gint64) id);
    }
  else if (op->kind == OP_CLUSTER && g_strcmp0 (type, "CLUSTER_OK") == 0)
    {
      JsonNode *config = json_object_get_member (frame->header, "config");
      op_return_pointer (op, config != NULL ? json_node_copy (config)
                                            : json_node_new (JSON_NODE_NULL),
                         (GDestroyNotify) json_node_unref);
    }
  else
    op_protocol_error (op, frame);
}

/* ---- uploads ------------------------------------------------------------- */

static void
op_progress (Op *op)
{
  if (op->progress != NULL)
    op->progress (op->done, op->size, op->progress_data);
}

static void put_begin_one_frame (Op *op);

static void
put_begin (Op *op)
{
  GError *error = NULL;
  if (op->reading)
    {
      /* Wait for the last read of the previous attempt. */
      op->send_deferred = TRUE;
      return;
    }
  if (op->size <= MINKA_CLIENT_ONE_FRAME_MAX)
    {
      put_begin_one_frame (op);
      return;
    }
  /* A retry starts over from the first byte (a seek, not a read). */
  if (g_seekable_tell (G_SEEKABLE (op->in)) != 0
      && !g_seekable_seek (G_SEEKABLE (op->in), 0, G_SEEK_SET, NULL, &error))
    {
      op_fail (op, error);
      return;
    }
  minka_sha256_init (&op->sha);
  op->done = 0;
  op->xfer = XFER_BEGUN;
  g_clear_pointer (&op->upload, json_node_unref);
  op_progress (op);
  op_send_request (op, op->request);
}

static void put_pump (Op *op);

static void
on_put_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  OpCall *call = data;
  Op *op = call->op;
  /* A failed send closes the connection, which retries the op. */
  if (minka_frame_connection_send_finish (MINKA_FRAME_CONNECTION (source), result, NULL)
      && op_call_current (call))
    {
      op->done += g_bytes_get_size (call->bytes);
      op_progress (op);
      op_arm_timeout (op);
      put_pump (op);
    }
  op_call_free (call);
}

/* The end of a read of the content to upload: TRUE when @got bytes (all
 * that were @wanted) arrived for the current attempt; otherwise the read
 * was for an attempt that is over (a retry that waited for it starts now)
 * or the operation fails. */
static gboolean
put_read_done (OpCall *call, gboolean ok, GError *error, gsize got, gsize wanted)
{
  Op *op = call->op;
  op->reading = FALSE;
  if (!op_call_current (call))
    {
      g_clear_error (&error);
      if (op->task != NULL && op->send_deferred && op->conn != NULL)
        {
          op->send_deferred = FALSE;
          put_begin (op);
        }
      return FALSE;
    }
  if (!ok)
    {
      op_fail (op, error);
      return FALSE;
    }
  if (got != wanted)
    {
      op_fail (op, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                _("The data to upload ended after %llu of %llu bytes"),
                                (unsigned long long) (op->done + got),
                                (unsigned long long) op->size));
      return FALSE;
    }
  return TRUE;
}

static void
on_put_read (GObject *source, GAsyncResult *result, gpointer data)
{
  OpCall *call = data;
  Op *op = call->op;
  GError *error = NULL;
  gsize got = 0;
  gboolean ok = g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error);
  if (put_read_done (call, ok, error, got, g_bytes_get_size (call->bytes)))
    {
      minka_sha256_update (&op->sha, g_bytes_get_data (call->bytes, NULL), (gsize) got);
      JsonObject *header = minka_frame_header_new ("PUT_DATA");
      json_object_set_member (header, "upload", json_node_copy (op->upload));
      json_object_set_int_member (header, "id", op->id);
      conn_send (op->conn, header, call->bytes, on_put_sent, op_call_new (op, call->bytes));
      json_object_unref (header);
    }
  op_call_free (call);
}

/* Sends the next chunk, or PUT_END once everything went out. */
static void
put_pump (Op *op)
{
  if (op->done >= op->size)
    {
      JsonObject *header = minka_frame_header_new ("PUT_END");
      json_object_set_member (header, "upload", json_node_copy (op->upload));
      char hex[MINKA_SHA256_HEX_LEN + 1];
      minka_sha256_finish_hex (&op->sha, hex);
      json_object_set_string_member (header, "sha256", hex);
      json_object_set_int_member (header, "id", op->id);
      op->xfer = XFER_END;
      conn_send (op->conn, header, NULL, NULL, NULL);
      json_object_unref (header);
      return;
    }
  gsize n = (gsize) MIN ((guint64) CHUNK_SIZE, op->size - op->done);
  guint8 *buffer = g_malloc (n);
  GBytes *bytes = g_bytes_new_take (buffer, n);
  op->reading = TRUE;
  g_input_stream_read_all_async (op->in, buffer, n, G_PRIORITY_DEFAULT,
                                 g_task_get_cancellable (op->task), on_put_read,
                                 op_call_new (op, bytes));
  g_bytes_unref (bytes);
}

/* ---- one-frame uploads: PUT_BEGIN carries the content and its SHA-256 -- */

static void put_send_one_frame (Op *op);

static void
on_put_small_read (GObject *source, GAsyncResult *result, gpointer data)
{
  OpCall *call = data;
  Op *op = call->op;
  GError *error = NULL;
  gsize got = 0;
  gboolean ok = g_input_stream_read_all_finish (G_INPUT_STREAM (source), result, &got, &error);
  if (ok && got == op->size && op->small == NULL)
    op->small = g_bytes_ref (call->bytes);   /* good for any attempt */
  if (put_read_done (call, ok, error, got, op->size))
    put_send_one_frame (op);
  op_call_free (call);
}

/* Reads the whole (small) content once, from the start of the stream; a
 * retry sends the bytes kept in memory. */
static void
put_begin_one_frame (Op *op)
{
  GError *error = NULL;
  if (op->small != NULL)
    {
      put_send_one_frame (op);
      return;
    }
  if (g_seekable_tell (G_SEEKABLE (op->in)) != 0
      && !g_seekable_seek (G_SEEKABLE (op->in), 0, G_SEEK_SET, NULL, &error))
    {
      op_fail (op, error);
      return;
    }
  if (op->size == 0)
    {
      op->small = g_bytes_new (NULL, 0);
      put_send_one_frame (op);
      return;
    }
  gsize n = (gsize) op->size;
  guint8 *buffer = g_malloc (n);
  g_autoptr (GBytes) bytes = g_bytes_new_take (buffer, n);
  op->reading = TRUE;
  g_input_stream_read_all_async (op->in, buffer, n, G_PRIORITY_DEFAULT,
                                 g_task_get_cancellable (op->task), on_put_small_read,
                                 op_call_new (op, bytes));
}

static void
on_put_one_frame_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  OpCall *call = data;
  Op *op = call->op;
  if (minka_frame_connection_send_finish (MINKA_FRAME_CONNECTION (source), result, NULL)
      && op_call_current (call) && op->done < op->size)
    {
      op->done = op->size;
      op_progress (op);
    }
  op_call_free (call);
}

static void
put_send_one_frame (Op *op)
{
  if (op->small_sha == NULL)
    op->small_sha = minka_sha256_hex (g_bytes_get_data (op->small, NULL),
                                      g_bytes_get_size (op->small));
  json_object_set_string_member (op->request, "sha256", op->small_sha);
  op->done = 0;
  op->xfer = XFER_BEGUN;
  g_clear_pointer (&op->upload, json_node_unref);
  op_progress (op);
  GBytes *body = g_bytes_get_size (op->small) > 0 ? op->small : NULL;
  op_send_request_full (op, op->request, body, on_put_one_frame_sent, op_call_new (op, NULL));
}

/* The worker answered PUT_READY (it does not know the one-frame form):
 * send the content kept in memory as PUT_DATA, then PUT_END. */
static void
put_send_small_streamed (Op *op)
{
  op->xfer = XFER_DATA;
  if (g_bytes_get_size (op->small) > 0)
    {
      JsonObject *data = minka_frame_header_new ("PUT_DATA");
      json_object_set_member (data, "upload", json_node_copy (op->upload));
      json_object_set_int_member (data, "id", op->id);
      conn_send (op->conn, data, op->small, NULL, NULL);
      json_object_unref (data);
    }
  JsonObject *end = minka_frame_header_new ("PUT_END");
  json_object_set_member (end, "upload", json_node_copy (op->upload));
  json_object_set_string_member (end, "sha256", op->small_sha);
  json_object_set_int_member (end, "id", op->id);
  op->xfer = XFER_END;
  conn_send (op->conn, end, NULL, NULL, NULL);
  json_object_unref (end);
}

static void
put_handle_frame (Op *op, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);
  JsonNode *upload = json_object_get_member (frame->header, "upload");

  if (g_strcmp0 (type, "PUT_READY") == 0 && op->xfer == XFER_BEGUN && upload != NULL
      && op->small != NULL)
    {
      /* A worker that predates one-frame uploads ignored the content. */
      op->upload = json_node_copy (upload);
      put_send_small_streamed (op);
    }
  else if (g_strcmp0 (type, "PUT_READY") == 0 && op->xfer == XFER_BEGUN && upload != NULL)
    {
      op->upload = json_node_copy (upload);
      op->xfer = XFER_DATA;
      put_pump (op);
    }
  else if (g_strcmp0 (type, "PUT_OK") == 0 && op->xfer != XFER_IDLE)
    {
      GError *error = NULL;
      JsonObject *file = json_get_object (frame->header, "file");
      MinkaFileInfo *info = file != NULL ? minka_file_info_from_json (file, &error) : NULL;
      if (info == NULL)
        {
          op_fail (op, error != NULL ? error
                   : g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_PROTOCOL,
                                  _("PUT_OK without a file from %s"), op->conn->address));
          return;
        }
      op->xfer = XFER_IDLE;
      if (op->done < op->size)
        {
          op->done = op->size;
          op_progress (op);
        }
      op_return_pointer (op, info, (GDestroyNotify) minka_file_info_free);
    }
  else
    op_protocol_error (op, frame);
}

/* ---- downloads ----------------------------------------------------------- */

static void
get_begin (Op *op)
{
  GError *error = NULL;
  if (op->writing)
    {
      /* Wait for the last write of the previous attempt. */
      op->send_deferred = TRUE;
      return;
    }
  if (op->out_dirty)
    {
      if (!G_IS_SEEKABLE (op->out) || !g_seekable_can_truncate (G_SEEKABLE (op->out))
          || !g_seekable_seek (G_SEEKABLE (op->out), 0, G_SEEK_SET, NULL, &error)
          || !g_seekable_truncate (G_SEEKABLE (op->out), 0, NULL, &error))
        {
          if (error == NULL)
            error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                 _("The download was interrupted and its output cannot be rewound"));
          op_fail (op, error);
          return;
        }
      op->out_dirty = FALSE;
    }
  minka_sha256_init (&op->sha);
  op->done = 0;
  op->xfer = XFER_BEGUN;
  g_clear_pointer (&op->info, minka_file_info_free);
  op_send_request (op, op->request);
}

static void
get_after_write (Op *op)
{
  if (op->paused_conn != NULL)
    {
      conn_resume (op->paused_conn);
      g_clear_pointer (&op->paused_conn, conn_unref);
    }
}

static void
on_get_written (GObject *source, GAsyncResult *result, gpointer data)
{
  OpCall *call = data;
  Op *op = call->op;
  GError *error = NULL;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);

  op->writing = FALSE;
  if (!op_call_current (call))
    {
      g_clear_error (&error);
      if (op->task != NULL && op->send_deferred && op->conn != NULL)
        {
          op->send_deferred = FALSE;
          get_begin (op);
        }
    }
  else if (!ok)
    op_fail (op, error);
  else
    {
      op->done += g_bytes_get_size (call->bytes);
      op_progress (op);
      get_after_write (op);
    }
  op_call_free (call);
}

static void
get_handle_data (Op *op, MinkaFrame *frame)
{
  gsize len = frame->body != NULL ? g_bytes_get_size (frame->body) : 0;
  if (op->done + len > op->size)
    {
      op_fail (op, g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_PROTOCOL,
                                _("%s sent more bytes than the file has"), op->conn->address));
      return;
    }
  if (len == 0)
    return;
  minka_sha256_update (&op->sha, g_bytes_get_data (frame->body, NULL), len);
  if (op->out == NULL)
    {
      op->done += len;
      op_progress (op);
      return;
    }
  /* Do not read further until the sink has taken this chunk. */
  op->paused_conn = conn_ref (op->conn);
  conn_pause (op->conn);
  op->writing = TRUE;
  op->out_dirty = TRUE;
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (frame->body, &size);
  g_output_stream_write_all_async (op->out, data, size, G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (op->task), on_get_written,
                                   op_call_new (op, frame->body));
}

static void
get_handle_end (Op *op, MinkaFrame *frame)
{
  if (op->writing)
    {
      /* Cannot happen: reads are paused while a write is in flight. */
      op_protocol_error (op, frame);
      return;
    }
  if (op->done != op->size)
    {
      op_fail (op, g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_PROTOCOL,
                                _("%s ended the download after %llu of %llu bytes"),
                                op->conn->address, (unsigned long long) op->done,
                                (unsigned long long) op->size));
      return;
    }
  char hex[MINKA_SHA256_HEX_LEN + 1];
  minka_sha256_finish_hex (&op->sha, hex);
  if (g_strcmp0 (hex, op->info->sha256) != 0)
    {
      op_fail (op, g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_CHECKSUM,
                                _("File %llu from %s does not match its SHA-256"),
                                (unsigned long long) op->info->id, op->conn->address));
      return;
    }
  op->xfer = XFER_IDLE;
  get_finish_ok (op);
}

static void
get_handle_frame (Op *op, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);

  if (g_strcmp0 (type, "GET_OK") == 0 && op->xfer == XFER_BEGUN)
    {
      GError *error = NULL;
      JsonObject *file = json_get_object (frame->header, "file");
      op->info = file != NULL ? minka_file_info_from_json (file, &error) : NULL;
      if (op->info == NULL)
        {
          op_fail (op, error != NULL ? error
                   : g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_PROTOCOL,
                                  _("GET_OK without a file from %s"), op->conn->address));
          return;
        }
      op->size = op->info->size;
      op->xfer = XFER_DATA;
      op_progress (op);
    }
  else if (g_strcmp0 (type, "GET_DATA") == 0 && op->xfer == XFER_DATA)
    get_handle_data (op, frame);
  else if (g_strcmp0 (type, "GET_END") == 0 && op->xfer == XFER_DATA)
    get_handle_end (op, frame);
  else
    op_protocol_error (op, frame);
}

/* Get to a file: close the temporary file, then rename it over @dest. */
static void
on_get_moved (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  GError *error = NULL;
  if (!g_file_move_finish (G_FILE (source), result, &error))
    {
      get_cleanup_file (op, error);
      op_unref (op);
      return;
    }
  g_clear_object (&op->tmp);
  MinkaFileInfo *info = g_steal_pointer (&op->info);
  op_return_pointer (op, info, (GDestroyNotify) minka_file_info_free);
  op_unref (op);
}

static void
on_get_closed (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  GError *error = NULL;
  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error))
    {
      get_cleanup_file (op, error);
      op_unref (op);
      return;
    }
  GFileCopyFlags flags = op->overwrite ? G_FILE_COPY_OVERWRITE : G_FILE_COPY_NONE;
  g_file_move_async (op->tmp, op->dest, flags, G_PRIORITY_DEFAULT, NULL, NULL, NULL,
                     on_get_moved, op);
}

static void
get_finish_ok (Op *op)
{
  if (op->tmp == NULL)
    {
      MinkaFileInfo *info = g_steal_pointer (&op->info);
      op_return_pointer (op, info, (GDestroyNotify) minka_file_info_free);
      return;
    }
  /* Leave the connection (the download is complete) but keep the task. */
  op_detach (op);
  op->finishing = TRUE;
  g_output_stream_close_async (op->out, G_PRIORITY_DEFAULT, NULL, on_get_closed, op_ref (op));
}

static void
on_get_tmp_deleted (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_file_delete_finish (G_FILE (source), result, NULL);
  GTask *task = g_object_ref (op->task);
  GError *error = g_steal_pointer (&op->final_error);
  op_complete (op);
  g_task_return_error (task, error);
  g_object_unref (task);
  op_unref (op);
}

static void
on_get_tmp_closed (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, NULL);
  g_file_delete_async (op->tmp, G_PRIORITY_DEFAULT, NULL, on_get_tmp_deleted, op);
}

/* Get to a file failed (takes @error): remove the temporary file first. */
static void
get_cleanup_file (Op *op, GError *error)
{
  op_detach (op);
  g_clear_error (&op->final_error);
  op->final_error = error;
  op->finishing = TRUE;
  if (op->writing)
    {
      /* Cannot close with a write in flight; it ends soon (cancelled or not). */
      g_file_delete_async (op->tmp, G_PRIORITY_DEFAULT, NULL, on_get_tmp_deleted, op_ref (op));
      return;
    }
  g_output_stream_close_async (op->out, G_PRIORITY_DEFAULT, NULL, on_get_tmp_closed,
                               op_ref (op));
}

/* ---- public API ---------------------------------------------------------- */

MinkaClient *
minka_client_new (const char *const *addresses, GBytes *key)
{
  g_return_val_if_fail (addresses != NULL && addresses[0] != NULL, NULL);
  MinkaClient *client = g_object_new (MINKA_TYPE_CLIENT, NULL);
  client->addresses = g_strdupv ((char **) addresses);
  client->key = key != NULL ? g_bytes_ref (key) : NULL;
  return client;
}

void
minka_client_set_timeouts (MinkaClient *client, guint connect_ms, guint request_ms,
                           guint deadline_ms)
{
  g_return_if_fail (MINKA_IS_CLIENT (client));
  if (connect_ms > 0)
    client->connect_ms = connect_ms;
  if (request_ms > 0)
    client->request_ms = request_ms;
  if (deadline_ms > 0)
    client->deadline_ms = deadline_ms;
}

void
minka_client_set_backoff (MinkaClient *client, guint initial_ms, guint max_ms)
{
  g_return_if_fail (MINKA_IS_CLIENT (client));
  if (initial_ms > 0)
    client->backoff_initial_ms = initial_ms;
  if (max_ms > 0)
    client->backoff_max_ms = MAX (max_ms, client->backoff_initial_ms);
}

const char *
minka_client_get_session (MinkaClient *client)
{
  return client->session;
}

const char *const *
minka_client_get_addresses (MinkaClient *client)
{
  return (const char *const *) client->addresses;
}

const char *
minka_client_get_leader (MinkaClient *client)
{
  return client->leader;
}

void
minka_client_status_async (MinkaClient *client, const char *address,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client) && address != NULL);
  Op *op = op_new (client, OP_STATUS, "STATUS", cancellable, callback, user_data,
                   minka_client_status_async);
  op->target = g_strdup (address);
  op->max_attempts = STATUS_ATTEMPTS;
  op->request_ms = MIN (client->request_ms, STATUS_REPLY_MS);
  op_start (op);
}

JsonObject *
minka_client_status_finish (MinkaClient *client, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  GPtrArray *results;
  guint left;
} StatusAll;

static void
status_all_free (StatusAll *all)
{
  g_ptr_array_unref (all->results);
  g_free (all);
}

typedef struct {
  GTask *task;
  guint index;
} StatusSlot;

static void
on_status_slot (GObject *source, GAsyncResult *result, gpointer data)
{
  StatusSlot *slot = data;
  StatusAll *all = g_task_get_task_data (slot->task);
  MinkaWorkerStatus *status = all->results->pdata[slot->index];
  GError *error = NULL;

  status->reply = minka_client_status_finish (MINKA_CLIENT (source), result, &error);
  status->reachable = status->reply != NULL;
  status->error = error;
  if (--all->left == 0)
    {
      if (!g_task_return_error_if_cancelled (slot->task))
        g_task_return_pointer (slot->task, g_ptr_array_ref (all->results),
                               (GDestroyNotify) g_ptr_array_unref);
    }
  g_object_unref (slot->task);
  g_free (slot);
}

void
minka_client_status_all_async (MinkaClient *client, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client));
  GTask *task = g_task_new (client, cancellable, callback, user_data);
  g_task_set_source_tag (task, minka_client_status_all_async);
  StatusAll *all = g_new0 (StatusAll, 1);
  all->results = g_ptr_array_new_with_free_func ((GDestroyNotify) minka_worker_status_free);
  guint n = g_strv_length (client->addresses);
  all->left = n;
  g_task_set_task_data (task, all, (GDestroyNotify) status_all_free);
  for (guint i = 0; i < n; i++)
    {
      MinkaWorkerStatus *status = g_new0 (MinkaWorkerStatus, 1);
      status->address = g_strdup (client->addresses[i]);
      g_ptr_array_add (all->results, status);
    }
  for (guint i = 0; i < n; i++)
    {
      StatusSlot *slot = g_new0 (StatusSlot, 1);
      slot->task = g_object_ref (task);
      slot->index = i;
      minka_client_status_async (client, client->addresses[i], cancellable,
                                 on_status_slot, slot);
    }
  g_object_unref (task);
}

GPtrArray *
minka_client_status_all_finish (MinkaClient *client, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
minka_client_list_async (MinkaClient *client, const char *address, guint64 min_index,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client));
  Op *op = op_new (client, OP_LIST, "LIST", cancellable, callback, user_data,
                   minka_client_list_async);
  op->target = g_strdup (address);
  json_object_set_int_member (op->request, "limit", LIST_LIMIT);
  if (min_index > 0)
    json_object_set_int_member (op->request, "min_index", (gint64) min_index);
  op_start (op);
}

MinkaFileList *
minka_client_list_finish (MinkaClient *client, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static Op *
put_op_new (MinkaClient *client, const char *name, MinkaProgressFunc progress,
            gpointer progress_data, GCancellable *cancellable,
            GAsyncReadyCallback callback, gpointer user_data)
{
  Op *op = op_new (client, OP_PUT, "PUT_BEGIN", cancellable, callback, user_data,
                   minka_client_put_stream_async);
  op->write = TRUE;
  op->progress = progress;
  op->progress_data = progress_data;
  minka_sha256_init (&op->sha);
  if (name != NULL)
    json_object_set_string_member (op->request, "name", name);
  return op;
}

static void
put_op_run (Op *op, GInputStream *stream, guint64 size)
{
  op->in = g_object_ref (stream);
  op->size = size;
  /* PUT_OK comes once the blob is on a majority: allow time per byte. */
  op->request_ms = (guint) MIN ((guint64) G_MAXUINT32 / 2,
                                op->client->request_ms + size / PUT_BYTES_PER_MS);
  json_object_set_int_member (op->request, "size", (gint64) size);
  if (!G_IS_SEEKABLE (stream) || !g_seekable_can_seek (G_SEEKABLE (stream)))
    {
      GTask *task = g_steal_pointer (&op->task);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               _("The data to upload must come from a seekable stream"));
      g_object_unref (task);
      op_unref (op);
      return;
    }
  op_start (op);
}

void
minka_client_put_stream_async (MinkaClient *client, GInputStream *stream, guint64 size,
                               const char *name, MinkaProgressFunc progress,
                               gpointer progress_data, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client) && G_IS_INPUT_STREAM (stream) && name != NULL);
  Op *op = put_op_new (client, name, progress, progress_data, cancellable, callback,
                       user_data);
  put_op_run (op, stream, size);
}

void
minka_client_put_bytes_async (MinkaClient *client, GBytes *content, const char *sha256,
                              const char *name, MinkaProgressFunc progress,
                              gpointer progress_data, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client) && content != NULL && name != NULL);
  Op *op = put_op_new (client, name, progress, progress_data, cancellable, callback,
                       user_data);
  gsize size = g_bytes_get_size (content);
  if (size <= MINKA_CLIENT_ONE_FRAME_MAX)
    {
      /* Sent as it is: no copy through the stream, no second hash. */
      op->small = g_bytes_ref (content);
      op->small_sha = g_strdup (sha256);
    }
  g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_bytes (content);
  put_op_run (op, stream, size);
}

static void
on_put_file_opened (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  GError *error = NULL;
  g_autoptr (GFileInputStream) stream = g_file_read_finish (G_FILE (source), result, &error);
  g_autoptr (GFileInfo) info = stream != NULL
    ? g_file_input_stream_query_info (stream, G_FILE_ATTRIBUTE_STANDARD_SIZE, NULL, &error)
    : NULL;
  if (info == NULL)
    {
      GTask *task = g_steal_pointer (&op->task);
      g_task_return_error (task, error);
      g_object_unref (task);
      op_unref (op);
      return;
    }
  put_op_run (op, G_INPUT_STREAM (stream), (guint64) g_file_info_get_size (info));
}

void
minka_client_put_file_async (MinkaClient *client, GFile *file, const char *name,
                             MinkaProgressFunc progress, gpointer progress_data,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client) && G_IS_FILE (file));
  g_autofree char *basename = name == NULL ? g_file_get_basename (file) : NULL;
  Op *op = put_op_new (client, name != NULL ? name : basename, progress, progress_data,
                       cancellable, callback, user_data);
  op->src = g_object_ref (file);
  g_file_read_async (file, G_PRIORITY_DEFAULT, cancellable, on_put_file_opened, op);
}

MinkaFileInfo *
minka_client_put_finish (MinkaClient *client, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static Op *
get_op_new (MinkaClient *client, const char *address, guint64 id, const char *name,
            MinkaProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
            GAsyncReadyCallback callback, gpointer user_data)
{
  Op *op = op_new (client, OP_GET, "GET", cancellable, callback, user_data,
                   minka_client_get_async);
  op->target = g_strdup (address);
  op->progress = progress;
  op->progress_data = progress_data;
  minka_sha256_init (&op->sha);
  if (id != 0)
    json_object_set_int_member (op->request, "file", (gint64) id);
  else
    json_object_set_string_member (op->request, "name", name != NULL ? name : "");
  return op;
}

void
minka_client_get_async (MinkaClient *client, const char *address, guint64 id,
                        const char *name, GOutputStream *out, MinkaProgressFunc progress,
                        gpointer progress_data, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client) && (id != 0 || name != NULL));
  Op *op = get_op_new (client, address, id, name, progress, progress_data, cancellable,
                       callback, user_data);
  op->out = out != NULL ? g_object_ref (out) : NULL;
  op_start (op);
}

static void
on_get_tmp_created (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  GError *error = NULL;
  GFileOutputStream *stream = g_file_create_finish (G_FILE (source), result, &error);
  if (stream == NULL)
    {
      g_clear_object (&op->tmp);
      GTask *task = g_steal_pointer (&op->task);
      g_task_return_error (task, error);
      g_object_unref (task);
      op_unref (op);
      return;
    }
  op->out = G_OUTPUT_STREAM (stream);
  op_start (op);
}

static void
on_get_dest_checked (GObject *source, GAsyncResult *result, gpointer data)
{
  Op *op = data;
  g_autoptr (GFileInfo) info = g_file_query_info_finish (G_FILE (source), result, NULL);
  if (info != NULL && !op->overwrite)
    {
      g_autofree char *path = g_file_get_parse_name (op->dest);
      GTask *task = g_steal_pointer (&op->task);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                               _("%s already exists"), path);
      g_object_unref (task);
      op_unref (op);
      return;
    }
  g_autoptr (GFile) parent = g_file_get_parent (op->dest);
  g_autofree char *base = g_file_get_basename (op->dest);
  guint8 random[6];
  g_autofree char *suffix = NULL;
  if (!minka_auth_random_bytes (random, sizeof random, NULL))
    memset (random, 0, sizeof random);
  suffix = minka_auth_hex_encode (random, sizeof random);
  g_autofree char *tmp_name = g_strdup_printf (".%s.%s.part", base, suffix);
  op->tmp = parent != NULL ? g_file_get_child (parent, tmp_name) : g_file_new_for_path (tmp_name);
  g_file_create_async (op->tmp, G_FILE_CREATE_NONE, G_PRIORITY_DEFAULT,
                       g_task_get_cancellable (op->task), on_get_tmp_created, op);
}

void
minka_client_get_file_async (MinkaClient *client, const char *address, guint64 id,
                             const char *name, GFile *dest, gboolean overwrite,
                             MinkaProgressFunc progress, gpointer progress_data,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client) && (id != 0 || name != NULL) && G_IS_FILE (dest));
  Op *op = get_op_new (client, address, id, name, progress, progress_data, cancellable,
                       callback, user_data);
  op->dest = g_object_ref (dest);
  op->overwrite = overwrite;
  g_file_query_info_async (dest, G_FILE_ATTRIBUTE_STANDARD_TYPE, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                           G_PRIORITY_DEFAULT, cancellable, on_get_dest_checked, op);
}

MinkaFileInfo *
minka_client_get_finish (MinkaClient *client, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
minka_client_delete_async (MinkaClient *client, guint64 id, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client));
  Op *op = op_new (client, OP_DELETE, "DELETE", cancellable, callback, user_data,
                   minka_client_delete_async);
  op->write = TRUE;
  json_object_set_int_member (op->request, "file", (gint64) id);
  op_start (op);
}

guint64
minka_client_delete_finish (MinkaClient *client, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), 0);
  gssize value = g_task_propagate_int (G_TASK (result), error);
  return value > 0 ? (guint64) value : 0;
}

void
minka_client_cluster_add_async (MinkaClient *client, const char *name, const char *address,
                                const char *monitor, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client) && name != NULL && address != NULL);
  Op *op = op_new (client, OP_CLUSTER, "CLUSTER_ADD", cancellable, callback, user_data,
                   minka_client_cluster_add_async);
  op->write = TRUE;
  json_object_set_string_member (op->request, "name", name);
  json_object_set_string_member (op->request, "address", address);
  json_object_set_string_member (op->request, "monitor", monitor != NULL ? monitor : "");
  op_start (op);
}

void
minka_client_cluster_remove_async (MinkaClient *client, const char *name,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_return_if_fail (MINKA_IS_CLIENT (client) && name != NULL);
  Op *op = op_new (client, OP_CLUSTER, "CLUSTER_REMOVE", cancellable, callback, user_data,
                   minka_client_cluster_add_async);
  op->write = TRUE;
  json_object_set_string_member (op->request, "name", name);
  op_start (op);
}

JsonNode *
minka_client_cluster_finish (MinkaClient *client, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, client), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- GObject ------------------------------------------------------------- */

static void
minka_client_dispose (GObject *object)
{
  MinkaClient *client = MINKA_CLIENT (object);
  /* Ops hold the client, so none is running any more: close what is left. */
  if (client->conns != NULL)
    {
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, client->conns);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Conn *conn = value;
          conn->state = CONN_DEAD;
          g_cancellable_cancel (conn->cancel);
          conn_timer_clear (conn);
          if (conn->frames != NULL)
            minka_frame_connection_close (conn->frames);
        }
      g_clear_pointer (&client->conns, g_hash_table_unref);
    }
  G_OBJECT_CLASS (minka_client_parent_class)->dispose (object);
}

static void
minka_client_finalize (GObject *object)
{
  MinkaClient *client = MINKA_CLIENT (object);
  g_strfreev (client->addresses);
  g_clear_pointer (&client->key, g_bytes_unref);
  g_free (client->leader);
  g_queue_clear_full (&client->writes, (GDestroyNotify) op_unref);
  g_rand_free (client->rand);
  g_main_context_unref (client->context);
  G_OBJECT_CLASS (minka_client_parent_class)->finalize (object);
}

static void
minka_client_class_init (MinkaClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = minka_client_dispose;
  object_class->finalize = minka_client_finalize;
}

static void
minka_client_init (MinkaClient *client)
{
  guint8 id[16];
  client->context = g_main_context_ref_thread_default ();
  client->conns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) conn_unref);
  g_queue_init (&client->writes);
  client->connect_ms = 3000;
  client->request_ms = 30000;
  client->deadline_ms = 60000;
  client->backoff_initial_ms = 50;
  client->backoff_max_ms = 2000;
  client->rand = g_rand_new ();
  /* The session ID only has to be unique; fall back to GRand if the
   * system has no random source. */
  if (!minka_auth_random_bytes (id, sizeof id, NULL))
    for (gsize i = 0; i < sizeof id; i++)
      id[i] = (guint8) g_rand_int (client->rand);
  for (gsize i = 0; i < sizeof id; i++)
    g_snprintf (client->session + 2 * i, 3, "%02x", id[i]);
}
