/* minka-frame.c — frame codec (header line of JSON + raw body), the
 * incremental parser, and MinkaFrameConnection: async frame I/O over a
 * GIOStream with a write queue and idle/slow-peer timeouts. */
#include "config.h"

#include "minka-frame.h"

#include <string.h>
#include <gio/gnetworking.h>      /* GLib's portable IPPROTO_TCP, TCP_NODELAY */
#include <glib/gi18n-lib.h>

G_DEFINE_QUARK (minka-frame-error-quark, minka_frame_error)

/* ---- frames and headers ------------------------------------------------ */

MinkaFrame *
minka_frame_new (JsonObject *header, GBytes *body)
{
  MinkaFrame *frame = g_new0 (MinkaFrame, 1);
  frame->header = json_object_ref (header);
  frame->body = body != NULL ? g_bytes_ref (body) : NULL;
  return frame;
}

void
minka_frame_free (MinkaFrame *frame)
{
  if (frame == NULL)
    return;
  json_object_unref (frame->header);
  g_clear_pointer (&frame->body, g_bytes_unref);
  g_free (frame);
}

const char *
minka_frame_get_frame_type (const MinkaFrame *frame)
{
  return json_object_get_string_member_with_default (frame->header, "type", NULL);
}

gint64
minka_frame_get_id (const MinkaFrame *frame)
{
  JsonNode *node = json_object_get_member (frame->header, "id");
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
    return -1;
  gint64 id = json_node_get_int (node);
  return id >= 0 ? id : -1;
}

JsonObject *
minka_frame_header_new (const char *type)
{
  JsonObject *header = json_object_new ();
  json_object_set_string_member (header, "type", type);
  return header;
}

JsonObject *
minka_frame_header_new_reply (JsonObject *request, const char *type)
{
  JsonObject *header = minka_frame_header_new (type);
  JsonNode *id = request != NULL ? json_object_get_member (request, "id") : NULL;
  if (id != NULL)
    json_object_set_member (header, "id", json_node_copy (id));
  return header;
}

JsonObject *
minka_frame_header_new_error (JsonObject *request, const char *code,
                              const char *message)
{
  JsonObject *header = minka_frame_header_new_reply (request, "ERROR");
  json_object_set_string_member (header, "code", code);
  json_object_set_string_member (header, "message", message);
  return header;
}

/* ---- encoder ------------------------------------------------------------ */

static gboolean
header_has_type (JsonObject *header)
{
  JsonNode *node = json_object_get_member (header, "type");
  return node != NULL && json_node_get_value_type (node) == G_TYPE_STRING
         && json_node_get_string (node) != NULL && json_node_get_string (node)[0] != '\0';
}

GBytes *
minka_frame_encode_header (JsonObject *header, GBytes *body, GError **error)
{
  gsize body_len = body != NULL ? g_bytes_get_size (body) : 0;

  if (!header_has_type (header))
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header has no \"type\""));
      return NULL;
    }
  if (body_len > MINKA_FRAME_MAX_BODY)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BODY_TOO_LONG,
                   _("Frame body of %llu bytes is over the limit of %d bytes"),
                   (unsigned long long) body_len, MINKA_FRAME_MAX_BODY);
      return NULL;
    }
  if (body_len > 0)
    json_object_set_int_member (header, "body", (gint64) body_len);
  else if (json_object_has_member (header, "body"))
    json_object_remove_member (header, "body");

  JsonNode *root = json_node_alloc ();
  json_node_init_object (root, header);
  JsonGenerator *gen = json_generator_new ();
  json_generator_set_root (gen, root);
  gsize len = 0;
  char *text = json_generator_to_data (gen, &len);
  g_object_unref (gen);
  json_node_unref (root);

  if (len > MINKA_FRAME_MAX_HEADER)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_HEADER_TOO_LONG,
                   _("Frame header of %llu bytes is over the limit of %d bytes"),
                   (unsigned long long) len, MINKA_FRAME_MAX_HEADER);
      g_free (text);
      return NULL;
    }
  text = g_realloc (text, len + 1);
  text[len] = '\n';
  return g_bytes_new_take (text, len + 1);
}

GBytes *
minka_frame_encode (JsonObject *header, GBytes *body, GError **error)
{
  g_autoptr (GBytes) head = minka_frame_encode_header (header, body, error);
  if (head == NULL)
    return NULL;
  GByteArray *all = g_byte_array_new ();
  g_byte_array_append (all, g_bytes_get_data (head, NULL), g_bytes_get_size (head));
  if (body != NULL)
    g_byte_array_append (all, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  return g_byte_array_free_to_bytes (all);
}

/* ---- header validation -------------------------------------------------- */

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A quick scan before json-glib sees the text: it must be one object with
 * nothing after it (json-glib would ignore trailing values), and nesting is
 * bounded because json-glib parses recursively (64 KiB of '[' would
 * otherwise exhaust the stack). Returns NULL or what is wrong. */
static const char *
header_shape_problem (const char *text, gsize len, guint max_depth)
{
  guint depth = 0;
  gboolean in_string = FALSE, escaped = FALSE, closed = FALSE;
  gsize i = 0;

  while (i < len && is_json_space (text[i]))
    i++;
  if (i == len || text[i] != '{')
    return _("Frame header is not a JSON object");
  for (; i < len; i++)
    {
      char c = text[i];
      if (closed)
        {
          if (!is_json_space (c))
            return _("Frame header has data after its JSON object");
        }
      else if (in_string)
        {
          if (escaped)
            {
              escaped = FALSE;
              /* C strings end at NUL: "a\u0000b" would silently become "a". */
              if (c == 'u' && i + 4 < len && memcmp (text + i + 1, "0000", 4) == 0)
                return _("Frame header contains an escaped NUL character");
            }
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > max_depth)
            return _("Frame header is nested too deeply");
        }
      else if (c == '}' || c == ']')
        closed = --depth == 0;
    }
  return NULL;
}

static gboolean
header_check_body (JsonObject *header, gsize max_body, gsize *body_len, GError **error)
{
  JsonNode *node = json_object_get_member (header, "body");
  *body_len = 0;
  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 0)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header: \"body\" must be a non-negative integer"));
      return FALSE;
    }
  gint64 n = json_node_get_int (node);
  if ((guint64) n > max_body)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BODY_TOO_LONG,
                   _("Frame body of %lld bytes is over the limit of %llu bytes"),
                   (long long) n, (unsigned long long) max_body);
      return FALSE;
    }
  *body_len = (gsize) n;
  return TRUE;
}

static gboolean
header_check_text (const char *line, gsize len, GError **error)
{
  const char *what = NULL;
  if (len == 0)
    what = _("Frame header is empty");
  else if (memchr (line, '\0', len) != NULL)
    what = _("Frame header contains a NUL byte");
  else if (!g_utf8_validate (line, (gssize) len, NULL))
    what = _("Frame header is not valid UTF-8");
  else
    what = header_shape_problem (line, len, MINKA_FRAME_MAX_DEPTH);
  if (what == NULL)
    return TRUE;
  g_set_error_literal (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER, what);
  return FALSE;
}

JsonObject *
minka_frame_parse_header (const char *line, gsize len, gsize max_body,
                          gsize *body_len, GError **error)
{
  g_autoptr (GError) json_error = NULL;

  *body_len = 0;
  if (!header_check_text (line, len, error))
    return NULL;

  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, line, (gssize) len, &json_error))
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header is not valid JSON: %s"), json_error->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (json_parser_has_assignment (parser, NULL) || root == NULL
      || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header is not a JSON object"));
      return NULL;
    }
  JsonObject *header = json_node_get_object (root);
  if (!header_has_type (header))
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header has no \"type\" string"));
      return NULL;
    }
  if (!header_check_body (header, max_body, body_len, error))
    return NULL;
  return json_object_ref (header);
}

/* ---- incremental parser ------------------------------------------------- */

struct _MinkaFrameParser {
  gsize max_header, max_body;
  GByteArray *line;        /* header bytes received so far (no '\n') */
  JsonObject *header;      /* non-NULL while the body is being received */
  guint8 *body;
  gsize body_len, body_got, body_cap;
  gboolean failed;
};

MinkaFrameParser *
minka_frame_parser_new (void)
{
  MinkaFrameParser *parser = g_new0 (MinkaFrameParser, 1);
  parser->max_header = MINKA_FRAME_MAX_HEADER;
  parser->max_body = MINKA_FRAME_MAX_BODY;
  parser->line = g_byte_array_new ();
  return parser;
}

void
minka_frame_parser_set_limits (MinkaFrameParser *parser, gsize max_header, gsize max_body)
{
  if (max_header > 0)
    parser->max_header = max_header;
  if (max_body > 0)
    parser->max_body = max_body;
}

void
minka_frame_parser_free (MinkaFrameParser *parser)
{
  if (parser == NULL)
    return;
  g_byte_array_unref (parser->line);
  g_clear_pointer (&parser->header, json_object_unref);
  g_free (parser->body);
  g_free (parser);
}

gboolean
minka_frame_parser_in_frame (const MinkaFrameParser *parser)
{
  return parser->line->len > 0 || parser->header != NULL;
}

static MinkaFrame *
parser_take_frame (MinkaFrameParser *parser)
{
  GBytes *body = NULL;
  if (parser->body_len > 0)
    body = g_bytes_new_take (parser->body, parser->body_len);
  MinkaFrame *frame = g_new0 (MinkaFrame, 1);
  frame->header = parser->header;
  frame->body = body;
  parser->header = NULL;
  parser->body = NULL;
  parser->body_len = parser->body_got = parser->body_cap = 0;
  return frame;
}

/* Body memory grows with the bytes that actually arrive, up to exactly the
 * announced size, so announcing 8 MiB costs nothing until it is sent. */
static void
parser_body_append (MinkaFrameParser *parser, const guint8 *data, gsize n)
{
  gsize need = parser->body_got + n;
  if (need > parser->body_cap)
    {
      gsize cap = MAX (parser->body_cap * 2, MAX (need, (gsize) 64 * 1024));
      parser->body_cap = MIN (cap, parser->body_len);
      parser->body = g_realloc (parser->body, parser->body_cap);
    }
  memcpy (parser->body + parser->body_got, data, n);
  parser->body_got += n;
}

/* Header phase: returns bytes used, or (gsize) -1 on error. */
static gsize
parser_feed_line (MinkaFrameParser *parser, const guint8 *data, gsize len, GError **error)
{
  gsize room = parser->max_header - parser->line->len;
  const guint8 *nl = memchr (data, '\n', MIN (len, room + 1));
  if (nl == NULL)
    {
      if (len > room)
        {
          g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_HEADER_TOO_LONG,
                       _("Frame header is longer than %llu bytes"),
                       (unsigned long long) parser->max_header);
          return (gsize) -1;
        }
      g_byte_array_append (parser->line, data, (guint) len);
      return len;
    }
  gsize take = (gsize) (nl - data);
  g_byte_array_append (parser->line, data, (guint) take);
  parser->header = minka_frame_parse_header ((const char *) parser->line->data,
                                             parser->line->len, parser->max_body,
                                             &parser->body_len, error);
  g_byte_array_set_size (parser->line, 0);
  return parser->header != NULL ? take + 1 : (gsize) -1;
}

MinkaFrame *
minka_frame_parser_feed (MinkaFrameParser *parser, const guint8 *data, gsize len,
                         gsize *consumed, GError **error)
{
  *consumed = 0;
  if (parser->failed)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame stream is broken by an earlier error"));
      return NULL;
    }
  if (parser->header == NULL)
    {
      if (len == 0)
        return NULL;
      gsize used = parser_feed_line (parser, data, len, error);
      if (used == (gsize) -1)
        {
          parser->failed = TRUE;
          return NULL;
        }
      *consumed = used;
      if (parser->header == NULL)
        return NULL;
      data += used;
      len -= used;
    }
  gsize n = MIN (len, parser->body_len - parser->body_got);
  if (n > 0)
    parser_body_append (parser, data, n);
  *consumed += n;
  return parser->body_got == parser->body_len ? parser_take_frame (parser) : NULL;
}

/* ---- MinkaFrameConnection ----------------------------------------------- */

#define READ_CHUNK (64 * 1024)
/* Frames queued while a write is in flight go out together in one writev,
 * up to this many frames or about this many bytes. */
#define WRITE_BATCH 16
#define WRITE_BATCH_BYTES (1024 * 1024)

typedef struct {
  GBytes *head;
  GBytes *body;
  GOutputVector vectors[2];
  GTask *task;
  gsize *queued_bytes;           /* the connection's counter */
} SendOp;

struct _MinkaFrameConnection {
  GObject parent_instance;

  GIOStream *stream;
  GMainContext *context;
  MinkaFrameParser *parser;
  guint idle_ms, frame_ms;

  guint8 *rbuf;
  gsize rbuf_pos, rbuf_len;
  GTask *read_task;              /* the pending read, if any */
  GCancellable *read_cancel;     /* cancels the stream read of read_task */
  GCancellable *read_user_cancel;
  gulong read_user_handler;
  gboolean read_in_flight;
  GSource *idle_timer, *read_timer;

  GQueue sends;                  /* SendOp* not yet started */
  GPtrArray *sending;            /* SendOp* being written, or NULL */
  gsize queued_bytes;            /* sends not yet completed */
  GOutputVector vectors[2 * WRITE_BATCH];
  GCancellable *write_cancel;
  GSource *write_timer;

  gboolean closed, stream_closed;
  gboolean draining;             /* close() called: finish sends, then close */
  GError *close_error;           /* why it closed (NULL: closed by us) */
  GError *read_error;            /* a protocol error: reads fail, sends work */
};

G_DEFINE_TYPE (MinkaFrameConnection, minka_frame_connection, G_TYPE_OBJECT)

static void conn_shutdown (MinkaFrameConnection *conn, const GError *reason);

static void
send_op_free (SendOp *op)
{
  *op->queued_bytes -= op->vectors[0].size + op->vectors[1].size;
  g_bytes_unref (op->head);
  g_clear_pointer (&op->body, g_bytes_unref);
  g_clear_object (&op->task);
  g_free (op);
}

static GError *
conn_closed_error (MinkaFrameConnection *conn)
{
  if (conn->close_error != NULL)
    return g_error_copy (conn->close_error);
  return g_error_new_literal (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED,
                              _("Connection closed"));
}

static void
timer_clear (GSource **timer)
{
  if (*timer != NULL)
    {
      g_source_destroy (*timer);
      g_source_unref (*timer);
      *timer = NULL;
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

static void
conn_maybe_close_stream (MinkaFrameConnection *conn)
{
  if (!conn->closed || conn->stream_closed || conn->read_in_flight || conn->sending != NULL)
    return;
  conn->stream_closed = TRUE;
  /* A socket close does not block; nothing is in flight any more. */
  g_io_stream_close (conn->stream, NULL, NULL);
}

/* Detaches the pending read and completes it with @frame or @error. */
static void
read_complete (MinkaFrameConnection *conn, MinkaFrame *frame, GError *error)
{
  GTask *task = g_steal_pointer (&conn->read_task);
  timer_clear (&conn->idle_timer);
  if (conn->read_user_cancel != NULL)
    {
      g_cancellable_disconnect (conn->read_user_cancel, conn->read_user_handler);
      g_clear_object (&conn->read_user_cancel);
      conn->read_user_handler = 0;
    }
  /* A cancel that raced with completion must not hit the next read. */
  if (!conn->closed && g_cancellable_is_cancelled (conn->read_cancel))
    {
      g_object_unref (conn->read_cancel);
      conn->read_cancel = g_cancellable_new ();
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
  timer_clear (&conn->idle_timer);
  conn_shutdown (conn, error);
  return G_SOURCE_REMOVE;
}

static gboolean
on_read_timeout (gpointer data)
{
  MinkaFrameConnection *conn = data;
  g_autoptr (GError) error = g_error_new (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT,
                                          _("Frame not received completely within %u ms"),
                                          conn->frame_ms);
  timer_clear (&conn->read_timer);
  conn_shutdown (conn, error);
  return G_SOURCE_REMOVE;
}

static void on_stream_read (GObject *source, GAsyncResult *result, gpointer data);

/* Parses buffered bytes; completes the read or asks the stream for more. */
static void
read_pump (MinkaFrameConnection *conn)
{
  while (conn->rbuf_pos < conn->rbuf_len)
    {
      GError *error = NULL;
      gsize used = 0;
      MinkaFrame *frame = minka_frame_parser_feed (conn->parser, conn->rbuf + conn->rbuf_pos,
                                                   conn->rbuf_len - conn->rbuf_pos,
                                                   &used, &error);
      conn->rbuf_pos += used;
      if (error != NULL)
        {
          /* Keep the write side so the caller can send an ERROR frame. */
          timer_clear (&conn->read_timer);
          conn->read_error = error;
          read_complete (conn, NULL, g_error_copy (error));
          return;
        }
      if (frame != NULL)
        {
          timer_clear (&conn->read_timer);
          read_complete (conn, frame, NULL);
          return;
        }
    }
  if (minka_frame_parser_in_frame (conn->parser))
    {
      timer_clear (&conn->idle_timer);
      timer_start (conn, &conn->read_timer, conn->frame_ms, on_read_timeout);
    }
  else
    timer_start (conn, &conn->idle_timer, conn->idle_ms, on_idle_timeout);

  conn->read_in_flight = TRUE;
  g_input_stream_read_async (g_io_stream_get_input_stream (conn->stream), conn->rbuf,
                             READ_CHUNK, G_PRIORITY_DEFAULT, conn->read_cancel,
                             on_stream_read, g_object_ref (conn));
}

static void
on_stream_read (GObject *source, GAsyncResult *result, gpointer data)
{
  MinkaFrameConnection *conn = data;
  GError *error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  conn->read_in_flight = FALSE;
  if (conn->closed)
    {
      g_clear_error (&error);
      read_complete (conn, NULL, conn_closed_error (conn));
      conn_maybe_close_stream (conn);
    }
  else if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* The caller cancelled: the connection and any partial frame stay
       * (unless close() cancelled it). */
      if (conn->draining)
        {
          g_clear_error (&error);
          error = conn_closed_error (conn);
        }
      read_complete (conn, NULL, error);
    }
  else if (n <= 0)
    {
      if (n == 0)
        error = minka_frame_parser_in_frame (conn->parser)
          ? g_error_new_literal (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TRUNCATED,
                                 _("Peer closed the connection in the middle of a frame"))
          : g_error_new_literal (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED,
                                 _("Peer closed the connection"));
      conn_shutdown (conn, error);
      g_error_free (error);
    }
  else
    {
      conn->rbuf_pos = 0;
      conn->rbuf_len = (gsize) n;
      read_pump (conn);
    }
  g_object_unref (conn);
}

static void
on_user_cancelled (GCancellable *cancellable, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

void
minka_frame_connection_read_async (MinkaFrameConnection *conn, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (conn, cancellable, callback, user_data);
  g_task_set_source_tag (task, minka_frame_connection_read_async);
  /* A frame already taken off the stream must reach the caller even if
   * the cancellable fires just after: it cannot be put back. */
  g_task_set_check_cancellable (task, FALSE);

  if (conn->closed || conn->draining || conn->read_error != NULL || conn->read_task != NULL)
    {
      if (conn->closed || conn->draining)
        g_task_return_error (task, conn_closed_error (conn));
      else if (conn->read_error != NULL)
        g_task_return_error (task, g_error_copy (conn->read_error));
      else
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                                 "a frame read is already pending");
      g_object_unref (task);
      return;
    }
  conn->read_task = task;
  if (cancellable != NULL)
    {
      conn->read_user_cancel = g_object_ref (cancellable);
      conn->read_user_handler = g_cancellable_connect (cancellable,
                                                       G_CALLBACK (on_user_cancelled),
                                                       g_object_ref (conn->read_cancel),
                                                       g_object_unref);
    }
  read_pump (conn);
}

MinkaFrame *
minka_frame_connection_read_finish (MinkaFrameConnection *conn, GAsyncResult *result,
                                    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, conn), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- writing ------------------------------------------------------------ */

static void write_pump (MinkaFrameConnection *conn);

static gboolean
on_write_timeout (gpointer data)
{
  MinkaFrameConnection *conn = data;
  g_autoptr (GError) error = g_error_new (MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT,
                                          _("Peer did not accept a frame within %u ms"),
                                          conn->frame_ms);
  timer_clear (&conn->write_timer);
  conn_shutdown (conn, error);
  return G_SOURCE_REMOVE;
}

static void
on_stream_written (GObject *source, GAsyncResult *result, gpointer data)
{
  MinkaFrameConnection *conn = data;
  GError *error = NULL;
  g_autoptr (GPtrArray) batch = g_steal_pointer (&conn->sending);

  timer_clear (&conn->write_timer);
  if (!g_output_stream_writev_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (conn->closed)
        {
          g_clear_error (&error);
          error = conn_closed_error (conn);
        }
      else
        conn_shutdown (conn, error);
    }
  for (guint i = 0; i < batch->len; i++)
    {
      SendOp *op = batch->pdata[i];
      if (error != NULL)
        g_task_return_error (op->task, g_error_copy (error));
      else
        g_task_return_boolean (op->task, TRUE);
    }
  g_clear_error (&error);

  if (conn->closed)
    conn_maybe_close_stream (conn);
  else if (conn->draining && g_queue_is_empty (&conn->sends))
    conn_shutdown (conn, NULL);
  else
    write_pump (conn);
  g_object_unref (conn);
}

/* Takes queued frames (skipping cancelled ones) into one batch. */
static GPtrArray *
write_take_batch (MinkaFrameConnection *conn, guint *n_vectors)
{
  GPtrArray *batch = g_ptr_array_new_with_free_func ((GDestroyNotify) send_op_free);
  gsize bytes = 0;
  SendOp *op;

  *n_vectors = 0;
  while (batch->len < WRITE_BATCH && bytes < WRITE_BATCH_BYTES
         && (op = g_queue_pop_head (&conn->sends)) != NULL)
    {
      if (g_task_return_error_if_cancelled (op->task))
        {
          send_op_free (op);
          continue;
        }
      g_ptr_array_add (batch, op);
      conn->vectors[(*n_vectors)++] = op->vectors[0];
      bytes += op->vectors[0].size;
      if (op->body != NULL)
        {
          conn->vectors[(*n_vectors)++] = op->vectors[1];
          bytes += op->vectors[1].size;
        }
    }
  return batch;
}

static void
write_pump (MinkaFrameConnection *conn)
{
  guint n_vectors = 0;

  if (conn->sending != NULL || conn->closed)
    return;
  GPtrArray *batch = write_take_batch (conn, &n_vectors);
  if (batch->len == 0)
    {
      g_ptr_array_unref (batch);
      if (conn->draining)
        conn_shutdown (conn, NULL);
      return;
    }
  conn->sending = batch;
  timer_start (conn, &conn->write_timer, conn->frame_ms, on_write_timeout);
  g_output_stream_writev_all_async (g_io_stream_get_output_stream (conn->stream),
                                    conn->vectors, n_vectors, G_PRIORITY_DEFAULT,
                                    conn->write_cancel, on_stream_written,
                                    g_object_ref (conn));
}

void
minka_frame_connection_send_async (MinkaFrameConnection *conn, JsonObject *header,
                                   GBytes *body, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  GError *error = NULL;
  GTask *task = g_task_new (conn, cancellable, callback, user_data);
  g_task_set_source_tag (task, minka_frame_connection_send_async);
  g_task_set_check_cancellable (task, FALSE);   /* sent is sent */

  gboolean open = !conn->closed && !conn->draining;
  GBytes *head = open ? minka_frame_encode_header (header, body, &error) : NULL;
  if (head == NULL)
    {
      g_task_return_error (task, error != NULL ? error : conn_closed_error (conn));
      g_object_unref (task);
      return;
    }
  SendOp *op = g_new0 (SendOp, 1);
  op->task = task;
  op->head = head;
  op->vectors[0].buffer = g_bytes_get_data (head, &op->vectors[0].size);
  if (body != NULL && g_bytes_get_size (body) > 0)
    {
      op->body = g_bytes_ref (body);
      op->vectors[1].buffer = g_bytes_get_data (body, &op->vectors[1].size);
    }
  op->queued_bytes = &conn->queued_bytes;
  conn->queued_bytes += op->vectors[0].size + op->vectors[1].size;
  g_queue_push_tail (&conn->sends, op);
  write_pump (conn);
}

gboolean
minka_frame_connection_send_finish (MinkaFrameConnection *conn, GAsyncResult *result,
                                    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, conn), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- lifecycle ------------------------------------------------------------ */

/* Marks the connection closed, fails what waits, and closes the stream as
 * soon as in-flight I/O (cancelled here) has come back. */
static void
conn_shutdown (MinkaFrameConnection *conn, const GError *reason)
{
  if (conn->closed)
    return;
  g_object_ref (conn);     /* completing tasks may drop the caller's last ref */
  conn->closed = TRUE;
  if (reason != NULL)
    conn->close_error = g_error_copy (reason);
  timer_clear (&conn->idle_timer);
  timer_clear (&conn->read_timer);
  timer_clear (&conn->write_timer);
  g_cancellable_cancel (conn->read_cancel);
  g_cancellable_cancel (conn->write_cancel);

  SendOp *op;
  while ((op = g_queue_pop_head (&conn->sends)) != NULL)
    {
      g_task_return_error (op->task, conn_closed_error (conn));
      send_op_free (op);
    }
  if (conn->read_task != NULL)
    read_complete (conn, NULL, conn_closed_error (conn));
  conn_maybe_close_stream (conn);
  g_object_unref (conn);
}

void
minka_frame_connection_close (MinkaFrameConnection *conn)
{
  g_object_ref (conn);
  if (!conn->closed && (conn->sending != NULL || !g_queue_is_empty (&conn->sends)))
    {
      /* Let queued frames (an ERROR, say) go out first; the frame timeout
       * bounds how long that can take. */
      conn->draining = TRUE;
      timer_clear (&conn->idle_timer);
      g_cancellable_cancel (conn->read_cancel);
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
stream_set_nodelay (GIOStream *stream)
{
  if (!G_IS_TCP_CONNECTION (stream))
    return;
  GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
  g_autoptr (GError) error = NULL;
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, &error))
    g_debug ("cannot set TCP_NODELAY: %s", error->message);
}

MinkaFrameConnection *
minka_frame_connection_new (GIOStream *stream)
{
  MinkaFrameConnection *conn = g_object_new (MINKA_TYPE_FRAME_CONNECTION, NULL);
  conn->stream = g_object_ref (stream);
  stream_set_nodelay (stream);
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
  g_clear_object (&conn->read_cancel);
  g_clear_object (&conn->write_cancel);
  g_main_context_unref (conn->context);
  minka_frame_parser_free (conn->parser);
  g_free (conn->rbuf);
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
  conn->read_cancel = g_cancellable_new ();
  conn->write_cancel = g_cancellable_new ();
  g_queue_init (&conn->sends);
}
