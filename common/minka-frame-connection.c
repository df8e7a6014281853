/* minka-frame-connection.c — MinkaFrameConnection: frames over a TCP
 * GSocketConnection, with a write queue and idle/slow-peer timeouts.
 *
 * Every frame of every request goes through here, so the I/O is done on
 * the socket directly rather than with GIO's per-call async stream
 * operations. Those attach a fresh poll source to the main context for
 * each read or write that would block and remove it afterwards, and each
 * attach and removal wakes the context (an eventfd write and an extra loop
 * iteration): measured at 14 such writes per uploaded file on a leader.
 * Here one G_IO_IN source lives as long as the connection is read, bytes
 * are received without blocking and every complete frame is parsed at once
 * into a queue; sends are written at once when the socket has room, and a
 * G_IO_OUT source exists only while it is full.
 *
 * Reentrancy: read_async never touches the socket, and send_async writes
 * only when nothing older is queued, so neither can run a caller's
 * callback for an older operation before returning; failures found there
 * are handled from an idle callback. */
#include "config.h"

#include "minka-frame.h"

#include <string.h>
#include <gio/gnetworking.h>      /* GLib's portable IPPROTO_TCP, TCP_NODELAY */
#include <glib/gi18n-lib.h>

#define READ_CHUNK (64 * 1024)
/* Frames parsed ahead of the reader: receiving stops past this many bytes,
 * so a peer cannot make us buffer without limit (back-pressure). Each frame
 * counts its body plus FRAME_COST for its header, so a flood of empty
 * frames is bounded too. */
#define READ_AHEAD_BYTES (4 * 1024 * 1024)
#define FRAME_COST 1024
/* One dispatch receives at most this much, so a fast peer cannot keep the
 * main loop from its other sources (Raft ticks, other connections). */
#define READ_PER_DISPATCH (4 * READ_CHUNK)
/* One send call covers up to this many frames or about this many bytes. */
#define WRITE_BATCH 16
#define WRITE_BATCH_BYTES (1024 * 1024)

typedef struct {
  GBytes *head;
  GBytes *body;
  gsize size;                    /* head + body */
  gsize sent;                    /* bytes already written */
  GTask *task;                   /* NULL when nobody waits for it */
} SendOp;

struct _MinkaFrameConnection {
  GObject parent_instance;

  GIOStream *stream;
  GSocket *socket;
  GMainContext *context;
  MinkaFrameParser *parser;
  guint idle_ms, frame_ms;

  guint8 *rbuf;
  GQueue frames;                 /* MinkaFrame* parsed, not yet read */
  gsize frames_bytes;            /* their bodies + FRAME_COST each */
  GError *read_end;              /* after the queued frames: EOF or socket error */
  GTask *read_task;              /* the pending read, if any */
  GCancellable *read_user_cancel;
  gulong read_user_handler;
  GSource *read_source;          /* G_IO_IN while we want bytes */
  GSource *idle_timer, *read_timer;

  GQueue sends;                  /* SendOp* not yet fully written */
  gsize queued_bytes;            /* sends not yet completed */
  GSource *write_source;         /* G_IO_OUT while the socket is full */
  GSource *write_timer;
  GSource *deferred;             /* idle: handle a failure found in a call
                                  * (the sources that write and this one hold
                                  * a reference: queued frames go out even if
                                  * the owner lets go) */
  GError *deferred_error;

  gboolean closed, stream_closed;
  gboolean draining;             /* close() called: finish sends, then close */
  GError *close_error;           /* why it closed (NULL: closed by us) */
  GError *read_error;            /* a bad frame (after the queued ones): reads
                                  * fail, sends still work */
};

G_DEFINE_TYPE (MinkaFrameConnection, minka_frame_connection, G_TYPE_OBJECT)

static void conn_shutdown (MinkaFrameConnection *conn, const GError *reason);
static void read_want_bytes (MinkaFrameConnection *conn);

static GError *
conn_closed_error (MinkaFrameConnection *conn)
{
  if (conn->close_error != NULL)
    return g_error_copy (conn->close_error);
  return g_error_new_literal (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED,
                              _("Connection closed"));
}

/* ---- sources ------------------------------------------------------------ */

static void
source_clear (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_source_unref (*source);
      *source = NULL;
    }
}

static void
timer_start (MinkaFrameConnection *conn, GSource **timer, guint ms, GSourceFunc func)
{
  if (*timer != NULL || ms == 0)
    return;
  *timer = g_timeout_source_new (ms);
  g_source_set_callback (*timer, func, conn, NULL);
  g_source_attach (*timer, conn->context);
}

/* Sources may recurse: otherwise GLib takes their fd out of the poll set
 * for every dispatch and puts it back after, each time waking the context
 * (two eventfd writes and an extra loop iteration per callback). The
 * callbacks hold a reference and keep the state consistent at every
 * step, so a nested main loop run from a caller's callback is harmless. */
static GSource *
socket_source_new (MinkaFrameConnection *conn, GIOCondition condition, GSocketSourceFunc func,
                   gboolean hold)
{
  GSource *source = g_socket_create_source (conn->socket, condition, NULL);
  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) func,
                         hold ? g_object_ref (conn) : conn, hold ? g_object_unref : NULL);
  g_source_attach (source, conn->context);
  return source;
}

static gboolean
on_deferred (gpointer data)
{
  MinkaFrameConnection *conn = data;
  g_autoptr (GError) error = g_steal_pointer (&conn->deferred_error);
  g_clear_pointer (&conn->deferred, g_source_unref);
  conn_shutdown (conn, error);
  return G_SOURCE_REMOVE;
}

/* Shuts down from an idle callback: the caller of a public function must
 * not see its other callbacks run before that function returns. */
static void
conn_shutdown_later (MinkaFrameConnection *conn, GError *error)
{
  if (conn->deferred != NULL)
    {
      g_error_free (error);
      return;
    }
  conn->deferred_error = error;
  conn->deferred = g_idle_source_new ();
  g_source_set_priority (conn->deferred, G_PRIORITY_DEFAULT);
  g_source_set_callback (conn->deferred, on_deferred, g_object_ref (conn), g_object_unref);
  g_source_attach (conn->deferred, conn->context);
}

static void
conn_maybe_close_stream (MinkaFrameConnection *conn)
{
  if (!conn->closed || conn->stream_closed)
    return;
  conn->stream_closed = TRUE;
  /* A socket close does not block. */
  g_io_stream_close (conn->stream, NULL, NULL);
}

/* ---- reading ------------------------------------------------------------ */

/* Detaches the pending read and completes it with @frame or @error. */
static void
read_complete (MinkaFrameConnection *conn, MinkaFrame *frame, GError *error)
{
  GTask *task = g_steal_pointer (&conn->read_task);
  source_clear (&conn->idle_timer);
  if (conn->read_user_cancel != NULL)
    {
      g_cancellable_disconnect (conn->read_user_cancel, conn->read_user_handler);
      g_clear_object (&conn->read_user_cancel);
      conn->read_user_handler = 0;
    }
  if (task == NULL)
    {
      minka_frame_free (frame);
      g_clear_error (&error);
      return;
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, frame, (GDestroyNotify) minka_frame_free);
  g_object_unref (task);
}

static gboolean
on_idle_timeout (gpointer data)
{
  MinkaFrameConnection *conn = data;
  g_autoptr (GError) error = g_error_new (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT,
                                          _("No frame received within %u ms"), conn->idle_ms);
  source_clear (&conn->idle_timer);
  conn_shutdown (conn, error);
  return G_SOURCE_REMOVE;
}

static void read_deliver (MinkaFrameConnection *conn);

/* A frame that started did not finish in time: the frames complete before
 * it still reach the reader, then the connection closes. */
static gboolean
on_read_timeout (gpointer data)
{
  MinkaFrameConnection *conn = g_object_ref (data);
  source_clear (&conn->read_timer);
  if (conn->read_end == NULL)
    conn->read_end = g_error_new (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT,
                                  _("Frame not received completely within %u ms"),
                                  conn->frame_ms);
  source_clear (&conn->read_source);
  if (g_queue_is_empty (&conn->frames))
    conn_shutdown (conn, conn->read_end);
  else
    read_deliver (conn);
  g_object_unref (conn);
  return G_SOURCE_REMOVE;
}

static gsize
frame_cost (const MinkaFrame *frame)
{
  return FRAME_COST + (frame->body ? g_bytes_get_size (frame->body) : 0);
}

/* Feeds received bytes to the parser; complete frames join the queue. */
static void
read_parse (MinkaFrameConnection *conn, const guint8 *data, gsize len)
{
  while (len > 0 && conn->read_error == NULL)
    {
      GError *error = NULL;
      gsize used = 0;
      MinkaFrame *frame = minka_frame_parser_feed (conn->parser, data, len, &used, &error);
      data += used;
      len -= used;
      if (error != NULL)
        conn->read_error = error;
      else if (frame != NULL)
        {
          conn->frames_bytes += frame_cost (frame);
          g_queue_push_tail (&conn->frames, frame);
        }
    }
  if (conn->read_error == NULL && minka_frame_parser_in_frame (conn->parser))
    {
      source_clear (&conn->idle_timer);
      timer_start (conn, &conn->read_timer, conn->frame_ms, on_read_timeout);
    }
  else
    source_clear (&conn->read_timer);
}

/* Nothing more will be parsed: the peer ended, the socket failed, or it
 * sent a bad frame. */
static gboolean
read_stopped (MinkaFrameConnection *conn)
{
  return conn->read_end != NULL || conn->read_error != NULL;
}

/* Receives what the socket has (without blocking). */
static void
read_receive (MinkaFrameConnection *conn)
{
  gsize received = 0;
  while (!read_stopped (conn) && conn->frames_bytes < READ_AHEAD_BYTES
         && received < READ_PER_DISPATCH)
    {
      GError *error = NULL;
      gssize n = g_socket_receive_with_blocking (conn->socket, (gchar *) conn->rbuf, READ_CHUNK,
                                                 FALSE, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_error_free (error);
          return;
        }
      if (n < 0)
        conn->read_end = error;
      else if (n == 0)
        conn->read_end = minka_frame_parser_in_frame (conn->parser)
          ? g_error_new_literal (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TRUNCATED,
                                 _("Peer closed the connection in the middle of a frame"))
          : g_error_new_literal (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED,
                                 _("Peer closed the connection"));
      else
        {
          received += (gsize) n;
          read_parse (conn, conn->rbuf, (gsize) n);
        }
    }
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer data)
{
  MinkaFrameConnection *conn = g_object_ref (data);
  GSource *self = g_main_current_source ();
  read_receive (conn);
  read_deliver (conn);
  /* Stop polling while the reader lags too far behind or nothing more
   * can come; read_want_bytes starts again. A nested main loop run from
   * a callback may have replaced this source already: leave that one. */
  gboolean keep = conn->read_source == self && !conn->closed && !conn->draining
                  && !read_stopped (conn) && conn->frames_bytes < READ_AHEAD_BYTES;
  if (!keep && conn->read_source == self)
    {
      g_clear_pointer (&conn->read_source, g_source_unref);
      /* Paused for the reader, not for the peer: no frame deadline meanwhile. */
      if (!read_stopped (conn))
        source_clear (&conn->read_timer);
    }
  g_object_unref (conn);
  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Polls for bytes (if not already) and runs the idle timer of a waiting
 * reader. */
static void
read_want_bytes (MinkaFrameConnection *conn)
{
  if (conn->closed || conn->draining || read_stopped (conn))
    return;
  if (conn->read_source == NULL && conn->frames_bytes < READ_AHEAD_BYTES)
    {
      conn->read_source = socket_source_new (conn, G_IO_IN, on_readable, FALSE);
      if (minka_frame_parser_in_frame (conn->parser))
        timer_start (conn, &conn->read_timer, conn->frame_ms, on_read_timeout);
    }
  if (conn->read_task != NULL && !minka_frame_parser_in_frame (conn->parser))
    timer_start (conn, &conn->idle_timer, conn->idle_ms, on_idle_timeout);
}

/* Gives the waiting reader a queued frame, or what ended the stream. A
 * closing failure is handled at once only from our own sources (@direct);
 * from a public call it waits for an idle callback. */
static void
read_deliver_full (MinkaFrameConnection *conn, gboolean direct)
{
  /* A completed read may start the next one from its callback: loop. */
  while (conn->read_task != NULL && !conn->closed)
    {
      MinkaFrame *frame = g_queue_pop_head (&conn->frames);
      if (frame != NULL)
        {
          conn->frames_bytes -= frame_cost (frame);
          read_complete (conn, frame, NULL);
          continue;
        }
      if (conn->read_error != NULL)
        {
          /* The write side stays, so the caller can answer with an ERROR. */
          read_complete (conn, NULL, g_error_copy (conn->read_error));
          continue;
        }
      if (conn->read_end == NULL)
        {
          read_want_bytes (conn);
          return;
        }
      if (!direct)
        {
          conn_shutdown_later (conn, g_error_copy (conn->read_end));
          return;
        }
      GError *end = g_error_copy (conn->read_end);
      conn_shutdown (conn, end);
      g_error_free (end);
    }
}

static void
read_deliver (MinkaFrameConnection *conn)
{
  read_deliver_full (conn, TRUE);
}

/* Runs on the connection's thread after the reader's cancellable fired
 * (possibly on another thread, and from inside its handler, where the
 * handler cannot be disconnected). */
static gboolean
on_cancel_idle (gpointer data)
{
  GTask *task = data;
  MinkaFrameConnection *conn = g_task_get_source_object (task);
  /* A frame already taken off the stream stays queued for the next read. */
  if (conn->read_task == task)
    read_complete (conn, NULL, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                    _("Operation was cancelled")));
  return G_SOURCE_REMOVE;
}

static void
on_user_cancelled (GCancellable *cancellable, gpointer data)
{
  GTask *task = data;
  MinkaFrameConnection *conn = g_task_get_source_object (task);
  GSource *idle = g_idle_source_new ();
  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (idle, on_cancel_idle, g_object_ref (task), g_object_unref);
  g_source_attach (idle, conn->context);
  g_source_unref (idle);
}

void
minka_frame_connection_read_async (MinkaFrameConnection *conn, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (conn, cancellable, callback, user_data);
  g_task_set_source_tag (task, minka_frame_connection_read_async);
  /* A frame handed over must reach the caller even if the cancellable
   * fires just after: it cannot be put back. */
  g_task_set_check_cancellable (task, FALSE);

  if (conn->closed || conn->draining || conn->read_task != NULL)
    {
      if (conn->closed || conn->draining)
        g_task_return_error (task, conn_closed_error (conn));
      else
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                                 "a frame read is already pending");
      g_object_unref (task);
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "%s", _("Operation was cancelled"));
      g_object_unref (task);
      return;
    }
  conn->read_task = task;
  if (cancellable != NULL)
    {
      conn->read_user_cancel = g_object_ref (cancellable);
      conn->read_user_handler = g_cancellable_connect (cancellable,
                                                       G_CALLBACK (on_user_cancelled),
                                                       g_object_ref (task), g_object_unref);
    }
  /* Queued frames are handed over through the task, never synchronously. */
  read_deliver_full (conn, FALSE);
}

MinkaFrame *
minka_frame_connection_read_finish (MinkaFrameConnection *conn, GAsyncResult *result,
                                    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, conn), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- writing ------------------------------------------------------------ */

static void
send_op_complete (MinkaFrameConnection *conn, SendOp *op, const GError *error)
{
  conn->queued_bytes -= op->size;
  if (op->task != NULL)
    {
      if (error != NULL)
        g_task_return_error (op->task, g_error_copy (error));
      else
        g_task_return_boolean (op->task, TRUE);
      g_object_unref (op->task);
    }
  g_bytes_unref (op->head);
  g_clear_pointer (&op->body, g_bytes_unref);
  g_free (op);
}

static gboolean
on_write_timeout (gpointer data)
{
  MinkaFrameConnection *conn = data;
  g_autoptr (GError) error = g_error_new (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT,
                                          _("Peer did not accept a frame within %u ms"),
                                          conn->frame_ms);
  source_clear (&conn->write_timer);
  conn_shutdown (conn, error);
  return G_SOURCE_REMOVE;
}

/* Vectors for the unsent bytes of the first queued frames. */
static guint
write_vectors (MinkaFrameConnection *conn, GOutputVector *vectors)
{
  guint n = 0;
  gsize bytes = 0;
  for (GList *l = conn->sends.head; l != NULL && n + 2 <= 2 * WRITE_BATCH
                                    && bytes < WRITE_BATCH_BYTES; l = l->next)
    {
      SendOp *op = l->data;
      gsize skip = op->sent;
      GBytes *parts[2] = { op->head, op->body };
      for (guint p = 0; p < 2; p++)
        {
          gsize len = 0;
          const guint8 *data = parts[p] ? g_bytes_get_data (parts[p], &len) : NULL;
          if (skip >= len)
            {
              skip -= len;
              continue;
            }
          vectors[n].buffer = data + skip;
          vectors[n].size = len - skip;
          bytes += len - skip;
          n++;
          skip = 0;
        }
    }
  return n;
}

/* Writes what the socket takes. Returns FALSE with @error on a failure.
 * Completed frames are moved to @done (their callbacks run later). */
static gboolean
write_some (MinkaFrameConnection *conn, GQueue *done, GError **error)
{
  GOutputVector vectors[2 * WRITE_BATCH];
  while (!g_queue_is_empty (&conn->sends))
    {
      guint n = write_vectors (conn, vectors);
      gsize written = 0;
      GPollableReturn r = g_socket_send_message_with_timeout (conn->socket, NULL, vectors, n,
                                                              NULL, 0, G_SOCKET_MSG_NONE, 0,
                                                              &written, NULL, error);
      if (r == G_POLLABLE_RETURN_WOULD_BLOCK)
        return TRUE;
      if (r != G_POLLABLE_RETURN_OK)
        return FALSE;
      while (written > 0)
        {
          SendOp *op = g_queue_peek_head (&conn->sends);
          gsize take = MIN (written, op->size - op->sent);
          op->sent += take;
          written -= take;
          if (op->sent == op->size)
            g_queue_push_tail (done, g_queue_pop_head (&conn->sends));
        }
      source_clear (&conn->write_timer);     /* progress: a new deadline */
    }
  return TRUE;
}

static void write_flush (MinkaFrameConnection *conn);

static gboolean
on_writable (GSocket *socket, GIOCondition condition, gpointer data)
{
  MinkaFrameConnection *conn = g_object_ref (data);
  g_clear_pointer (&conn->write_source, g_source_unref);
  write_flush (conn);
  g_object_unref (conn);
  return G_SOURCE_REMOVE;
}

/* Writes queued frames; runs their callbacks; waits for room if needed.
 * Called from our own sources only (callbacks may send again). */
static void
write_flush (MinkaFrameConnection *conn)
{
  GQueue done = G_QUEUE_INIT;
  GError *error = NULL;
  if (conn->closed)
    return;
  gboolean ok = write_some (conn, &done, &error);
  SendOp *op;
  while ((op = g_queue_pop_head (&done)) != NULL)
    send_op_complete (conn, op, NULL);
  if (!ok)
    {
      conn_shutdown (conn, error);
      g_error_free (error);
      return;
    }
  if (conn->closed)
    return;
  if (!g_queue_is_empty (&conn->sends))
    {
      if (conn->write_source == NULL)
        conn->write_source = socket_source_new (conn, G_IO_OUT, on_writable, TRUE);
      timer_start (conn, &conn->write_timer, conn->frame_ms, on_write_timeout);
    }
  else
    {
      source_clear (&conn->write_timer);
      if (conn->draining)
        conn_shutdown (conn, NULL);
    }
}

void
minka_frame_connection_send_async (MinkaFrameConnection *conn, JsonObject *header,
                                   GBytes *body, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  GError *error = NULL;
  gboolean open = !conn->closed && !conn->draining;
  GBytes *head = open ? minka_frame_encode_header (header, body, &error) : NULL;
  if (head == NULL)
    {
      GTask *task = g_task_new (conn, cancellable, callback, user_data);
      g_task_set_source_tag (task, minka_frame_connection_send_async);
      g_task_return_error (task, error != NULL ? error : conn_closed_error (conn));
      g_object_unref (task);
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      /* Not started: a cancelled send is dropped. */
      GTask *task = g_task_new (conn, cancellable, callback, user_data);
      g_task_set_source_tag (task, minka_frame_connection_send_async);
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
      g_bytes_unref (head);
      return;
    }
  SendOp *op = g_new0 (SendOp, 1);
  if (callback != NULL)
    {
      op->task = g_task_new (conn, NULL, callback, user_data);
      g_task_set_source_tag (op->task, minka_frame_connection_send_async);
    }
  op->head = head;
  op->size = g_bytes_get_size (head);
  if (body != NULL && g_bytes_get_size (body) > 0)
    {
      op->body = g_bytes_ref (body);
      op->size += g_bytes_get_size (body);
    }
  conn->queued_bytes += op->size;
  gboolean idle = g_queue_is_empty (&conn->sends);
  g_queue_push_tail (&conn->sends, op);
  if (!idle)
    return;                       /* the G_IO_OUT source will take it */

  /* Nothing older waits, so writing now runs no other callback: this
   * frame's own completes through its task, after we return. */
  GQueue done = G_QUEUE_INIT;
  if (!write_some (conn, &done, &error))
    conn_shutdown_later (conn, error);
  while ((op = g_queue_pop_head (&done)) != NULL)
    send_op_complete (conn, op, NULL);
  if (!g_queue_is_empty (&conn->sends) && conn->write_source == NULL && conn->deferred == NULL)
    {
      conn->write_source = socket_source_new (conn, G_IO_OUT, on_writable, TRUE);
      timer_start (conn, &conn->write_timer, conn->frame_ms, on_write_timeout);
    }
}

gboolean
minka_frame_connection_send_finish (MinkaFrameConnection *conn, GAsyncResult *result,
                                    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, conn), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Marks the connection closed, fails what waits and closes the socket. */
static void
conn_shutdown (MinkaFrameConnection *conn, const GError *reason)
{
  if (conn->closed)
    return;
  g_object_ref (conn);     /* completing tasks may drop the caller's last ref */
  conn->closed = TRUE;
  if (reason != NULL)
    conn->close_error = g_error_copy (reason);
  source_clear (&conn->idle_timer);
  source_clear (&conn->read_timer);
  source_clear (&conn->write_timer);
  source_clear (&conn->read_source);
  source_clear (&conn->write_source);
  source_clear (&conn->deferred);
  g_clear_error (&conn->deferred_error);

  g_autoptr (GError) closed = conn_closed_error (conn);
  SendOp *op;
  while ((op = g_queue_pop_head (&conn->sends)) != NULL)
    send_op_complete (conn, op, closed);
  if (conn->read_task != NULL)
    read_complete (conn, NULL, conn_closed_error (conn));
  conn_maybe_close_stream (conn);
  g_object_unref (conn);
}

void
minka_frame_connection_close (MinkaFrameConnection *conn)
{
  g_object_ref (conn);
  if (!conn->closed && !g_queue_is_empty (&conn->sends))
    {
      /* Let queued frames (an ERROR, say) go out first; the frame timeout
       * bounds how long that can take. Reads stop now. */
      conn->draining = TRUE;
      source_clear (&conn->idle_timer);
      source_clear (&conn->read_source);
      if (conn->read_task != NULL)
        read_complete (conn, NULL, conn_closed_error (conn));
    }
  else
    conn_shutdown (conn, NULL);
  g_object_unref (conn);
}

gsize
minka_frame_connection_get_queued_bytes (MinkaFrameConnection *conn)
{
  return conn->queued_bytes;
}

gboolean
minka_frame_connection_is_closed (MinkaFrameConnection *conn)
{
  return conn->closed || conn->draining;
}

GIOStream *
minka_frame_connection_get_stream (MinkaFrameConnection *conn)
{
  return conn->stream;
}

void
minka_frame_connection_set_timeouts (MinkaFrameConnection *conn, guint idle_ms,
                                     guint frame_ms)
{
  conn->idle_ms = idle_ms;
  conn->frame_ms = frame_ms;
}

/* Frames are whole messages: without TCP_NODELAY a small frame sent while
 * an earlier one is unacknowledged waits for the peer's delayed ACK
 * (measured: 44 ms per two-frame request instead of 0.03 ms). */
static void
socket_set_nodelay (GSocket *socket)
{
  g_autoptr (GError) error = NULL;
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, &error))
    g_debug ("cannot set TCP_NODELAY: %s", error->message);
}

MinkaFrameConnection *
minka_frame_connection_new (GIOStream *stream)
{
  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (stream), NULL);
  MinkaFrameConnection *conn = g_object_new (MINKA_TYPE_FRAME_CONNECTION, NULL);
  conn->stream = g_object_ref (stream);
  conn->socket = g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream)));
  if (G_IS_TCP_CONNECTION (stream))
    socket_set_nodelay (conn->socket);
  /* Bytes are received as they come, so a peer's close is seen (and
   * reported to the next read) even while nobody reads. */
  read_want_bytes (conn);
  return conn;
}

static void
minka_frame_connection_dispose (GObject *object)
{
  MinkaFrameConnection *conn = MINKA_FRAME_CONNECTION (object);
  if (conn->stream != NULL)
    conn_shutdown (conn, NULL);
  G_OBJECT_CLASS (minka_frame_connection_parent_class)->dispose (object);
}

static void
minka_frame_connection_finalize (GObject *object)
{
  MinkaFrameConnection *conn = MINKA_FRAME_CONNECTION (object);
  g_clear_object (&conn->stream);
  g_clear_object (&conn->socket);
  g_main_context_unref (conn->context);
  minka_frame_parser_free (conn->parser);
  g_queue_clear_full (&conn->frames, (GDestroyNotify) minka_frame_free);
  g_free (conn->rbuf);
  g_clear_error (&conn->read_end);
  g_clear_error (&conn->close_error);
  g_clear_error (&conn->read_error);
  G_OBJECT_CLASS (minka_frame_connection_parent_class)->finalize (object);
}

static void
minka_frame_connection_class_init (MinkaFrameConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = minka_frame_connection_dispose;
  object_class->finalize = minka_frame_connection_finalize;
}

static void
minka_frame_connection_init (MinkaFrameConnection *conn)
{
  conn->context = g_main_context_ref_thread_default ();
  conn->parser = minka_frame_parser_new ();
  conn->frame_ms = 30000;
  conn->rbuf = g_malloc (READ_CHUNK);
  g_queue_init (&conn->frames);
  g_queue_init (&conn->sends);
}
