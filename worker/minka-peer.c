/* minka-peer.c — control and bulk connections to one other worker. */
#include "config.h"
#include "minka-peer.h"
#include "minka-auth.h"
#include "minka-blob-io.h"
#include "minka-frame.h"
#include "minka-compat.h"

#include <glib/gstdio.h>

#include <string.h>

#define BACKOFF_MIN_MS 20
#define BACKOFF_MAX_MS 1000
#define MAX_PENDING_RAFT 256       /* messages kept while (re)connecting */
#define MAX_INFLIGHT_RAFT 4096     /* queued on a slow connection before dropping */
#define CONNECT_TIMEOUT_S 2

typedef enum {
  BULK_PUSH_BLOB,
  BULK_FETCH_BLOB,
  BULK_PUSH_SNAPSHOT,
} BulkKind;

/* One bulk connection and the operations queued on it (the head runs).
 * Several lanes per peer let transfers of different blobs, each waiting on
 * its own fsyncs at the other end, overlap. */
typedef struct {
  MinkaPeer *peer;
  MinkaFrameConnection *conn;
  GQueue ops;                       /* BulkOp* */
  gboolean running;
} BulkLane;

#define BULK_LANES 4

/* What the last frame sent was, so one callback knows what comes next. */
typedef enum {
  STAGE_REQUEST,                    /* BLOB_PUSH / BLOB_FETCH / SNAPSHOT_PUSH */
  STAGE_DATA,                       /* a chunk of content */
  STAGE_END,                        /* BLOB_END / SNAPSHOT_END */
} BulkStage;

typedef struct {
  BulkKind kind;
  BulkStage stage;
  GTask *task;                      /* source object: none; data: this op */
  MinkaBlobStore *store;
  char *sha256;
  guint64 size;
  char *path;
  guint64 index;
  guint64 offset;
  MinkaBlobWriter *writer;
} BulkOp;

struct _MinkaPeer
{
  int refs;
  gboolean closed;
  RaftNodeId id;
  char *name;
  char *address;
  char *self_name;
  GBytes *key;
  GSocketClient *client;

  MinkaFrameConnection *control;
  gboolean control_connecting;
  guint reconnect_source;
  guint backoff_ms;
  GQueue pending_raft;              /* GBytes*, while not connected */
  guint inflight;
  gint64 last_contact;

  BulkLane lanes[BULK_LANES];
};

static void control_connect (MinkaPeer *peer);
static void bulk_run_next (BulkLane *lane);

static MinkaPeer *
peer_ref (MinkaPeer *peer)
{
  peer->refs++;
  return peer;
}

static void
peer_unref (MinkaPeer *peer)
{
  if (--peer->refs > 0)
    return;
  g_queue_clear_full (&peer->pending_raft, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&peer->client);
  g_clear_pointer (&peer->key, g_bytes_unref);
  g_free (peer->name);
  g_free (peer->address);
  g_free (peer->self_name);
  g_free (peer);
}

MinkaPeer *
minka_peer_new (RaftNodeId id, const char *name, const char *address,
                const char *self_name, GBytes *key)
{
  MinkaPeer *peer = g_new0 (MinkaPeer, 1);
  peer->refs = 1;
  peer->id = id;
  peer->name = g_strdup (name);
  peer->address = g_strdup (address);
  peer->self_name = g_strdup (self_name);
  peer->key = key ? g_bytes_ref (key) : NULL;
  peer->client = g_socket_client_new ();
  g_socket_client_set_timeout (peer->client, CONNECT_TIMEOUT_S);
  peer->backoff_ms = BACKOFF_MIN_MS;
  g_queue_init (&peer->pending_raft);
  for (guint i = 0; i < BULK_LANES; i++)
    {
      peer->lanes[i].peer = peer;
      g_queue_init (&peer->lanes[i].ops);
    }
  control_connect (peer);
  return peer;
}

static void
bulk_op_free (BulkOp *op)
{
  g_free (op->sha256);
  g_free (op->path);
  g_clear_pointer (&op->writer, minka_blob_writer_free);
  g_free (op);
}

void
minka_peer_free (MinkaPeer *peer)
{
  if (!peer)
    return;
  peer->closed = TRUE;
  if (peer->reconnect_source)
    g_source_remove (peer->reconnect_source);
  if (peer->control)
    minka_frame_connection_close (peer->control);
  g_clear_object (&peer->control);
  for (guint i = 0; i < BULK_LANES; i++)
    {
      BulkLane *lane = &peer->lanes[i];
      if (lane->conn)
        minka_frame_connection_close (lane->conn);
      g_clear_object (&lane->conn);
      /* Queued operations that have not started fail now; a running one
       * fails through its closed connection. */
      BulkOp *op;
      guint skip = lane->running ? 1 : 0;
      while (g_queue_get_length (&lane->ops) > skip && (op = g_queue_pop_tail (&lane->ops)))
        {
          g_task_return_new_error (op->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                   "connection to %s closed", peer->name);
          g_object_unref (op->task);
        }
    }
  peer_unref (peer);
}

RaftNodeId minka_peer_get_id (MinkaPeer *peer) { return peer->id; }
const char *minka_peer_get_name (MinkaPeer *peer) { return peer->name; }
const char *minka_peer_get_address (MinkaPeer *peer) { return peer->address; }
gboolean minka_peer_is_reachable (MinkaPeer *peer) { return peer->control != NULL; }
gint64 minka_peer_last_contact (MinkaPeer *peer) { return peer->last_contact; }

/* ---- connecting (shared by both links) ------------------------------------ */

/* @target: the peer (control link) or one of its lanes (bulk link). */
typedef void (*ConnectedFunc) (gpointer target, MinkaFrameConnection *conn, GError *error);

typedef struct {
  MinkaPeer *peer;
  gpointer target;
  MinkaFrameConnection *conn;
  const char *channel;
  ConnectedFunc done;
} Connecting;

static void
connecting_finish (Connecting *c, GError *error)
{
  MinkaPeer *peer = c->peer;
  if (peer->closed)
    {
      if (c->conn)
        minka_frame_connection_close (c->conn);
    }
  else
    c->done (c->target, error ? NULL : c->conn, error);
  g_clear_object (&c->conn);
  peer_unref (peer);
  g_free (c);
}

static void
on_auth_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connecting *c = user_data;
  GError *error = NULL;
  minka_auth_client_finish (MINKA_FRAME_CONNECTION (source), result, &error);
  connecting_finish (c, error);
  g_clear_error (&error);
}

static void
on_socket_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Connecting *c = user_data;
  GError *error = NULL;
  g_autoptr (GSocketConnection) sock =
    g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, &error);
  if (!sock || c->peer->closed)
    {
      connecting_finish (c, error);
      g_clear_error (&error);
      return;
    }
  /* The client's connect timeout would also apply to every later read: a
   * quiet link is normal here, the frame layer has its own timeouts. */
  g_socket_set_timeout (g_socket_connection_get_socket (sock), 0);
  minka_socket_set_nodelay (g_socket_connection_get_socket (sock));
  c->conn = minka_frame_connection_new (G_IO_STREAM (sock));
  g_autoptr (JsonObject) extra = json_object_new ();
  json_object_set_string_member (extra, "node", c->peer->self_name);
  json_object_set_string_member (extra, "channel", c->channel);
  minka_auth_client_async (c->conn, MINKA_AUTH_ROLE_PEER, c->peer->key, extra, NULL,
                           on_auth_done, c);
}

static void
peer_connect (MinkaPeer *peer, gpointer target, const char *channel, ConnectedFunc done)
{
  Connecting *c = g_new0 (Connecting, 1);
  c->peer = peer_ref (peer);
  c->target = target;
  c->channel = channel;
  c->done = done;
  g_socket_client_connect_to_host_async (peer->client, peer->address, 0, NULL,
                                         on_socket_connected, c);
}

/* ---- control link ------------------------------------------------------------- */

static gboolean
on_reconnect_timeout (gpointer user_data)
{
  MinkaPeer *peer = user_data;
  peer->reconnect_source = 0;
  control_connect (peer);
  return G_SOURCE_REMOVE;
}

static void
control_lost (MinkaPeer *peer, MinkaFrameConnection *conn)
{
  if (peer->closed || peer->control != conn)
    return;
  g_message ("lost the connection to %s (%s)", peer->name, peer->address);
  minka_frame_connection_close (peer->control);
  g_clear_object (&peer->control);
  peer->inflight = 0;
  control_connect (peer);
}

static void
on_control_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MinkaPeer *peer = user_data;
  MinkaFrameConnection *conn = MINKA_FRAME_CONNECTION (source);
  if (minka_frame_connection_send_finish (conn, result, NULL))
    {
      if (peer->inflight > 0)
        peer->inflight--;
      peer->last_contact = g_get_monotonic_time ();
    }
  else
    control_lost (peer, conn);
  peer_unref (peer);
}

static void
control_send (MinkaPeer *peer, GBytes *encoded)
{
  if (peer->inflight >= MAX_INFLIGHT_RAFT)
    return;                       /* the peer is not keeping up: Raft will resend */
  g_autoptr (JsonObject) header = minka_frame_header_new ("RAFT");
  peer->inflight++;
  minka_frame_connection_send_async (peer->control, header, encoded, NULL,
                                     on_control_sent, peer_ref (peer));
}

/* The control link is write-only; this read only notices the peer closing. */
static void
on_control_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MinkaPeer *peer = user_data;
  MinkaFrameConnection *conn = MINKA_FRAME_CONNECTION (source);
  g_autoptr (MinkaFrame) frame = minka_frame_connection_read_finish (conn, result, NULL);
  if (!frame)
    control_lost (peer, conn);
  else if (!peer->closed && peer->control == conn)
    minka_frame_connection_read_async (conn, NULL, on_control_read, peer_ref (peer));
  peer_unref (peer);
}

static void
on_control_connected (gpointer target, MinkaFrameConnection *conn, GError *error)
{
  MinkaPeer *peer = target;
  peer->control_connecting = FALSE;
  if (!conn)
    {
      g_debug ("cannot reach %s (%s): %s", peer->name, peer->address, error->message);
      peer->reconnect_source = g_timeout_add (peer->backoff_ms, on_reconnect_timeout, peer);
      peer->backoff_ms = MIN (peer->backoff_ms * 2, BACKOFF_MAX_MS);
      return;
    }
  g_message ("connected to %s (%s)", peer->name, peer->address);
  peer->control = g_object_ref (conn);
  peer->backoff_ms = BACKOFF_MIN_MS;
  peer->last_contact = g_get_monotonic_time ();
  minka_frame_connection_read_async (conn, NULL, on_control_read, peer_ref (peer));
  GBytes *pending;
  while ((pending = g_queue_pop_head (&peer->pending_raft)))
    {
      control_send (peer, pending);
      g_bytes_unref (pending);
    }
}

static void
control_connect (MinkaPeer *peer)
{
  if (peer->closed || peer->control || peer->control_connecting || peer->reconnect_source)
    return;
  peer->control_connecting = TRUE;
  peer_connect (peer, peer, "control", on_control_connected);
}

void
minka_peer_send_raft (MinkaPeer *peer, GBytes *encoded)
{
  if (peer->control)
    {
      control_send (peer, encoded);
      return;
    }
  if (g_queue_get_length (&peer->pending_raft) >= MAX_PENDING_RAFT)
    g_bytes_unref (g_queue_pop_head (&peer->pending_raft));
  g_queue_push_tail (&peer->pending_raft, g_bytes_ref (encoded));
  control_connect (peer);
}

/* ---- bulk links: one operation at a time per lane ----------------------------------------- */

static void
bulk_op_done (BulkLane *lane, BulkOp *op, GError *error)
{
  g_assert (g_queue_peek_head (&lane->ops) == op);
  g_queue_pop_head (&lane->ops);
  lane->running = FALSE;
  if (error)
    {
      /* After a failure the link's state is unknown: start afresh. */
      if (lane->conn)
        minka_frame_connection_close (lane->conn);
      g_clear_object (&lane->conn);
      g_task_return_error (op->task, g_error_copy (error));
    }
  else
    g_task_return_boolean (op->task, TRUE);
  g_object_unref (op->task);
  if (!lane->peer->closed)
    bulk_run_next (lane);
}

static void
bulk_fail (BulkLane *lane, BulkOp *op, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
bulk_fail (BulkLane *lane, BulkOp *op, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  GError *error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", lane->peer->name, msg);
  bulk_op_done (lane, op, error);
  g_error_free (error);
}

/* Every bulk callback carries its lane (and holds a reference on the peer);
 * the operation is always the head of the lane's queue. */
#define CURRENT_OP(lane) ((BulkOp *) g_queue_peek_head (&(lane)->ops))

static BulkLane *
lane_ref (BulkLane *lane)
{
  peer_ref (lane->peer);
  return lane;
}

static gboolean
bulk_alive (MinkaPeer *peer)
{
  if (peer->closed)
    {
      peer_unref (peer);
      return FALSE;
    }
  return TRUE;
}

static void bulk_start_op (BulkLane *lane, BulkOp *op);

static void
on_bulk_connected (gpointer target, MinkaFrameConnection *conn, GError *error)
{
  BulkLane *lane = target;
  BulkOp *op = CURRENT_OP (lane);
  if (!conn)
    {
      bulk_op_done (lane, op, error);
      return;
    }
  lane->conn = g_object_ref (conn);
  minka_frame_connection_set_timeouts (conn, 0, 30000);
  bulk_start_op (lane, op);
}

static void
bulk_run_next (BulkLane *lane)
{
  BulkOp *op = g_queue_peek_head (&lane->ops);
  if (!op || lane->running)
    return;
  lane->running = TRUE;
  if (lane->conn && !minka_frame_connection_is_closed (lane->conn))
    bulk_start_op (lane, op);
  else
    {
      g_clear_object (&lane->conn);
      peer_connect (lane->peer, lane, "bulk", on_bulk_connected);
    }
}

/* Queues @op on the least busy lane. */
static void
bulk_enqueue (MinkaPeer *peer, BulkOp *op, GAsyncReadyCallback callback,
              gpointer user_data, gpointer tag)
{
  BulkLane *lane = &peer->lanes[0];
  for (guint i = 1; i < BULK_LANES; i++)
    if (g_queue_get_length (&peer->lanes[i].ops) < g_queue_get_length (&lane->ops))
      lane = &peer->lanes[i];
  op->task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (op->task, tag);
  g_task_set_task_data (op->task, op, (GDestroyNotify) bulk_op_free);
  if (peer->closed)
    {
      g_task_return_new_error (op->task, G_IO_ERROR, G_IO_ERROR_CLOSED, "peer closed");
      g_object_unref (op->task);
      return;
    }
  g_queue_push_tail (&lane->ops, op);
  bulk_run_next (lane);
}

/* Sending: a request header, then the content in chunks, then an end frame. */

static void bulk_send_next_chunk (BulkLane *lane);
static void on_sent (GObject *source, GAsyncResult *result, gpointer user_data);
static void on_frame (GObject *source, GAsyncResult *result, gpointer user_data);
static void fetch_read_next (BulkLane *lane);

static void
bulk_send (BulkLane *lane, JsonObject *header, GBytes *body, GAsyncReadyCallback cb)
{
  minka_frame_connection_send_async (lane->conn, header, body, NULL, cb, lane_ref (lane));
}

static void
bulk_read (BulkLane *lane, GAsyncReadyCallback cb)
{
  minka_frame_connection_read_async (lane->conn, NULL, cb, lane_ref (lane));
}

static const char *
frame_error_message (const MinkaFrame *frame)
{
  const char *msg = minka_header_get_string (frame->header, "message", NULL, NULL);
  return msg ? msg : minka_frame_get_frame_type (frame);
}

/* A frame went out: the next step depends on what it was. */
static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BulkLane *lane = user_data;
  MinkaPeer *peer = lane->peer;
  GError *error = NULL;
  gboolean ok = minka_frame_connection_send_finish (MINKA_FRAME_CONNECTION (source), result, &error);
  if (!bulk_alive (peer))
    {
      g_clear_error (&error);
      return;
    }
  BulkOp *op = CURRENT_OP (lane);
  if (!ok)
    bulk_op_done (lane, op, error);
  else if (op->stage == STAGE_DATA)
    bulk_send_next_chunk (lane);
  else if (op->stage == STAGE_END)
    bulk_read (lane, on_frame);
  else if (op->kind == BULK_FETCH_BLOB)
    fetch_read_next (lane);
  else
    bulk_read (lane, on_frame);
  g_clear_error (&error);
  peer_unref (peer);
}

static void
on_chunk_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BulkLane *lane = user_data;
  MinkaPeer *peer = lane->peer;
  GError *error = NULL;
  BulkOp *op = peer->closed ? NULL : CURRENT_OP (lane);
  g_autoptr (GBytes) chunk = op && op->kind == BULK_PUSH_SNAPSHOT
    ? minka_path_io_read_finish (result, &error)
    : minka_blob_io_read_finish (result, &error);
  if (!bulk_alive (peer))
    {
      g_clear_error (&error);
      return;
    }
  if (!chunk || g_bytes_get_size (chunk) == 0)
    {
      if (!error)
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s shrank while being sent",
                             op->kind == BULK_PUSH_SNAPSHOT ? op->path : op->sha256);
      bulk_op_done (lane, op, error);
      g_error_free (error);
      peer_unref (peer);
      return;
    }
  op->offset += g_bytes_get_size (chunk);
  g_autoptr (JsonObject) header =
    minka_frame_header_new (op->kind == BULK_PUSH_SNAPSHOT ? "SNAPSHOT_DATA" : "BLOB_DATA");
  op->stage = STAGE_DATA;
  bulk_send (lane, header, chunk, on_sent);
  peer_unref (peer);
}

static void
bulk_send_next_chunk (BulkLane *lane)
{
  BulkOp *op = CURRENT_OP (lane);
  if (op->offset >= op->size)
    {
      g_autoptr (JsonObject) end =
        minka_frame_header_new (op->kind == BULK_PUSH_SNAPSHOT ? "SNAPSHOT_END" : "BLOB_END");
      op->stage = STAGE_END;
      bulk_send (lane, end, NULL, on_sent);
      return;
    }
  gsize want = (gsize) MIN ((guint64) MINKA_CHUNK_SIZE, op->size - op->offset);
  if (op->kind == BULK_PUSH_SNAPSHOT)
    minka_path_io_read_async (op->path, op->offset, want, on_chunk_read, lane_ref (lane));
  else
    minka_blob_io_read_async (op->store, op->sha256, op->offset, want, NULL,
                              on_chunk_read, lane_ref (lane));
}

/* Fetch: BLOB_OK {size}, BLOB_DATA…, BLOB_END, written through a blob writer. */

static void
on_fetch_finished (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BulkLane *lane = user_data;
  MinkaPeer *peer = lane->peer;
  GError *error = NULL;
  g_autofree char *name = minka_blob_io_finish_finish (result, &error);
  if (!bulk_alive (peer))
    {
      g_clear_error (&error);
      return;
    }
  BulkOp *op = CURRENT_OP (lane);
  g_clear_pointer (&op->writer, minka_blob_writer_free);
  bulk_op_done (lane, op, error);
  g_clear_error (&error);
  peer_unref (peer);
}

static void
on_fetch_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BulkLane *lane = user_data;
  MinkaPeer *peer = lane->peer;
  GError *error = NULL;
  gboolean ok = minka_blob_io_write_finish (result, &error);
  if (!bulk_alive (peer))
    {
      g_clear_error (&error);
      return;
    }
  if (ok)
    fetch_read_next (lane);
  else
    bulk_op_done (lane, CURRENT_OP (lane), error);
  g_clear_error (&error);
  peer_unref (peer);
}

/* The answer after a push's last chunk. */
static void
handle_final_reply (BulkLane *lane, BulkOp *op, MinkaFrame *frame)
{
  const char *want = op->kind == BULK_PUSH_BLOB ? "BLOB_STORED" : "SNAPSHOT_OK";
  if (strcmp (minka_frame_get_frame_type (frame), want) != 0)
    bulk_fail (lane, op, "%s", frame_error_message (frame));
  else
    bulk_op_done (lane, op, NULL);
}

/* Push: the receiver first says whether it wants the content. */
static void
handle_push_answer (BulkLane *lane, BulkOp *op, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);
  if (strcmp (type, "BLOB_STORED") == 0)
    bulk_op_done (lane, op, NULL);             /* it already had the blob */
  else if (strcmp (type, "BLOB_READY") == 0 || strcmp (type, "SNAPSHOT_READY") == 0)
    bulk_send_next_chunk (lane);
  else
    bulk_fail (lane, op, "%s", frame_error_message (frame));
}

/* Fetch: BLOB_OK {size}, BLOB_DATA…, BLOB_END, written through a blob writer. */
static void
handle_fetch_frame (BulkLane *lane, BulkOp *op, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);
  GError *error = NULL;
  if (strcmp (type, "BLOB_OK") == 0 && !op->writer)
    {
      gint64 size = minka_header_get_int (frame->header, "size", -1, NULL);
      op->writer = minka_blob_writer_new (op->store, op->sha256, size, &error);
      if (op->writer)
        fetch_read_next (lane);
      else
        bulk_op_done (lane, op, error);
      g_clear_error (&error);
    }
  else if (strcmp (type, "BLOB_DATA") == 0 && op->writer && frame->body)
    minka_blob_io_write_async (op->writer, frame->body, NULL, on_fetch_written, lane_ref (lane));
  else if (strcmp (type, "BLOB_DATA") == 0 && op->writer)
    fetch_read_next (lane);
  else if (strcmp (type, "BLOB_END") == 0 && op->writer)
    minka_blob_io_finish_async (op->writer, NULL, on_fetch_finished, lane_ref (lane));
  else
    bulk_fail (lane, op, "%s", frame_error_message (frame));
}

/* A frame arrived on a bulk link: what it means depends on the operation. */
static void
on_frame (GObject *source, GAsyncResult *result, gpointer user_data)
{
  BulkLane *lane = user_data;
  MinkaPeer *peer = lane->peer;
  GError *error = NULL;
  g_autoptr (MinkaFrame) frame =
    minka_frame_connection_read_finish (MINKA_FRAME_CONNECTION (source), result, &error);
  if (!bulk_alive (peer))
    {
      g_clear_error (&error);
      return;
    }
  BulkOp *op = CURRENT_OP (lane);
  if (!frame)
    bulk_op_done (lane, op, error);
  else if (op->kind == BULK_FETCH_BLOB)
    handle_fetch_frame (lane, op, frame);
  else if (op->stage == STAGE_END)
    handle_final_reply (lane, op, frame);
  else
    handle_push_answer (lane, op, frame);
  g_clear_error (&error);
  peer_unref (peer);
}

static void
fetch_read_next (BulkLane *lane)
{
  bulk_read (lane, on_frame);
}

static void
bulk_start_op (BulkLane *lane, BulkOp *op)
{
  g_autoptr (JsonObject) header = NULL;
  switch (op->kind)
    {
    case BULK_PUSH_BLOB:
      header = minka_frame_header_new ("BLOB_PUSH");
      json_object_set_string_member (header, "sha256", op->sha256);
      json_object_set_int_member (header, "size", (gint64) op->size);
      break;
    case BULK_FETCH_BLOB:
      header = minka_frame_header_new ("BLOB_FETCH");
      json_object_set_string_member (header, "sha256", op->sha256);
      break;
    case BULK_PUSH_SNAPSHOT:
      header = minka_frame_header_new ("SNAPSHOT_PUSH");
      json_object_set_int_member (header, "index", (gint64) op->index);
      json_object_set_int_member (header, "size", (gint64) op->size);
      break;
    }
  op->stage = STAGE_REQUEST;
  bulk_send (lane, header, NULL, on_sent);
}

/* ---- public bulk operations ----------------------------------------------------- */

void
minka_peer_push_blob_async (MinkaPeer *peer, MinkaBlobStore *store, const char *sha256,
                            guint64 size, GAsyncReadyCallback callback, gpointer user_data)
{
  BulkOp *op = g_new0 (BulkOp, 1);
  op->kind = BULK_PUSH_BLOB;
  op->store = store;
  op->sha256 = g_strdup (sha256);
  op->size = size;
  bulk_enqueue (peer, op, callback, user_data, minka_peer_push_blob_async);
}

gboolean
minka_peer_push_blob_finish (MinkaPeer *peer, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
minka_peer_fetch_blob_async (MinkaPeer *peer, MinkaBlobStore *store, const char *sha256,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  BulkOp *op = g_new0 (BulkOp, 1);
  op->kind = BULK_FETCH_BLOB;
  op->store = store;
  op->sha256 = g_strdup (sha256);
  bulk_enqueue (peer, op, callback, user_data, minka_peer_fetch_blob_async);
}

gboolean
minka_peer_fetch_blob_finish (MinkaPeer *peer, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
minka_peer_push_snapshot_async (MinkaPeer *peer, const char *path, guint64 index,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  BulkOp *op = g_new0 (BulkOp, 1);
  op->kind = BULK_PUSH_SNAPSHOT;
  op->path = g_strdup (path);
  op->index = index;
  GStatBuf st;
  op->size = g_stat (path, &st) == 0 ? (guint64) st.st_size : 0;
  bulk_enqueue (peer, op, callback, user_data, minka_peer_push_snapshot_async);
}

gboolean
minka_peer_push_snapshot_finish (MinkaPeer *peer, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
