/* monitor-connection.c — one HTTP connection of the monitor: async reads
 * feed the parser, each complete request is answered in order into an
 * output queue, and one async write at a time sends what was queued before
 * it started (so pipelined requests are answered in order). Deadlines are
 * checked by the server's sweep. Nothing here blocks: every socket call is
 * GIO async. */
#include "monitor-server-private.h"

#include <string.h>

#define READ_SIZE 16384
/* Below the worker's sockets and timers: a flood of browsers is served with
 * what the worker has left, and never delays Raft or client requests. */
#define MONITOR_IO_PRIORITY G_PRIORITY_LOW

struct _MonitorConn {
  gint refs;                  /* server table + each pending async call */
  MonitorServer *server;
  GSocketConnection *connection;
  GCancellable *cancellable;
  MonitorParser *parser;
  guint8 rbuf[READ_SIZE];
  GByteArray *inbuf;          /* received, not yet parsed */
  GByteArray *outbuf;         /* answers queued, not yet handed to a write */
  GByteArray *sendbuf;        /* what the write in flight reads from: never
                               * touched until it is done (no realloc) */
  gsize send_off;             /* bytes of sendbuf already written */
  gboolean reading, writing;
  gboolean peer_closed;       /* read side saw EOF */
  gboolean finishing;         /* answer what we have, then close */
  gboolean lingering;         /* our side shut down; discarding input */
  gboolean closed;
  gint64 request_start_us;    /* first byte of the current head, or 0 */
  gint64 last_activity_us;
  gint64 write_progress_us;
  gint64 linger_start_us;
};

static void conn_read_start (MonitorConn *conn);
static void conn_write_start (MonitorConn *conn);

static MonitorConn *
conn_ref (MonitorConn *conn)
{
  conn->refs++;
  return conn;
}

static void
conn_unref (MonitorConn *conn)
{
  if (--conn->refs > 0)
    return;
  MonitorServer *server = conn->server;
  g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
  g_object_unref (conn->connection);
  g_object_unref (conn->cancellable);
  monitor_parser_free (conn->parser);
  g_byte_array_unref (conn->inbuf);
  g_byte_array_unref (conn->outbuf);
  g_byte_array_unref (conn->sendbuf);
  g_free (conn);
  server->live_connections--;
}

MonitorConn *
monitor_conn_new (MonitorServer *server, GSocketConnection *connection)
{
  MonitorConn *conn = g_new0 (MonitorConn, 1);
  conn->refs = 1;
  conn->server = server;
  conn->connection = g_object_ref (connection);
  conn->cancellable = g_cancellable_new ();
  conn->parser = monitor_parser_new (MONITOR_MAX_HEAD);
  conn->inbuf = g_byte_array_new ();
  conn->outbuf = g_byte_array_new ();
  conn->sendbuf = g_byte_array_new ();
  conn->last_activity_us = g_get_monotonic_time ();
  server->live_connections++;
  conn_read_start (conn);
  return conn;
}

void
monitor_conn_close (MonitorConn *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  g_cancellable_cancel (conn->cancellable);
  monitor_server_forget (conn->server, conn);
  conn_unref (conn);                            /* the server table's */
}

/* ---- answering -------------------------------------------------------- */

static gsize
conn_pending_output (const MonitorConn *conn)
{
  return conn->outbuf->len + (conn->sendbuf->len - conn->send_off);
}

static void
conn_queue (MonitorConn *conn, const MonitorResponse *response,
            gboolean head_only, guint version_minor)
{
  if (conn_pending_output (conn) == 0)
    conn->write_progress_us = g_get_monotonic_time ();
  monitor_response_write (response, conn->outbuf, head_only, version_minor,
                          monitor_server_date (conn->server));
  conn->server->responses_by_status[MIN (response->status / 100, 5)]++;
}

static void
conn_answer (MonitorConn *conn, const MonitorRequest *request)
{
  g_autoptr (MonitorResponse) response = monitor_routes_handle (conn->server, request);
  conn->server->stats.requests_total++;
  if (!request->keep_alive)
    response->close = TRUE;
  conn_queue (conn, response, request->method_id == MONITOR_METHOD_HEAD, request->version_minor);
  if (response->close)
    conn->finishing = TRUE;
}

static void
conn_answer_error (MonitorConn *conn, guint status)
{
  g_autoptr (MonitorResponse) response = monitor_response_new_error (status);
  response->close = TRUE;
  conn_queue (conn, response, FALSE, 1);
  conn->finishing = TRUE;
}

/* Parses what has arrived and answers each complete request, until the
 * input runs out or the output backlog is too large. */
static void
conn_process_input (MonitorConn *conn)
{
  while (conn->inbuf->len > 0 && !conn->finishing && conn_pending_output (conn) < MONITOR_OUTPUT_HIGH)
    {
      gsize consumed = 0;
      guint status = 0;
      g_autoptr (MonitorRequest) request = NULL;
      MonitorParseResult r = monitor_parser_feed (conn->parser, conn->inbuf->data, conn->inbuf->len,
                                                  &consumed, &request, &status);
      g_byte_array_remove_range (conn->inbuf, 0, consumed);
      if (r == MONITOR_PARSE_REQUEST)
        conn_answer (conn, request);
      else if (r == MONITOR_PARSE_ERROR)
        {
          g_debug ("monitor: bad request (%u): %s", status, monitor_parser_get_error (conn->parser));
          conn_answer_error (conn, status);
        }
    }
  if (conn->finishing)
    g_byte_array_set_size (conn->inbuf, 0);
  if (!monitor_parser_in_progress (conn->parser))
    conn->request_start_us = 0;
  else if (conn->request_start_us == 0)
    conn->request_start_us = g_get_monotonic_time ();
}

/* After the last response: half-close, then read and drop whatever the
 * peer still sends until its FIN, so our data is not lost to a reset. */
static void
conn_linger (MonitorConn *conn)
{
  GSocket *socket = g_socket_connection_get_socket (conn->connection);
  if (conn->peer_closed || !g_socket_shutdown (socket, FALSE, TRUE, NULL))
    {
      monitor_conn_close (conn);
      return;
    }
  conn->lingering = TRUE;
  conn->linger_start_us = g_get_monotonic_time ();
  conn_read_start (conn);
}

/* What to do next once a read or write has finished. */
static void
conn_advance (MonitorConn *conn)
{
  if (conn->closed)
    return;
  if (!conn->lingering)
    conn_process_input (conn);
  if (conn_pending_output (conn) > 0)
    conn_write_start (conn);
  else if (conn->finishing && !conn->lingering)
    conn_linger (conn);
  else if (conn->peer_closed && !conn->lingering)
    monitor_conn_close (conn);
  if (!conn->closed && !conn->peer_closed && conn->inbuf->len == 0
      && (conn->lingering || !conn->finishing))
    conn_read_start (conn);
}

/* ---- async I/O -------------------------------------------------------- */

static void
conn_on_read (GObject *stream, GAsyncResult *result, gpointer data)
{
  MonitorConn *conn = data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (stream), result, &error);
  conn->reading = FALSE;
  if (!conn->closed)
    {
      if (n < 0)
        monitor_conn_close (conn);
      else if (n == 0)
        {
          /* Peer done sending: finish the answers we owe (a half-sent
           * request is dropped), then close. */
          conn->peer_closed = TRUE;
          if (conn->lingering)
            monitor_conn_close (conn);
          else
            conn_advance (conn);
        }
      else
        {
          conn->last_activity_us = g_get_monotonic_time ();
          if (!conn->lingering)
            g_byte_array_append (conn->inbuf, conn->rbuf, n);
          conn_advance (conn);
        }
    }
  conn_unref (conn);
}

static void
conn_read_start (MonitorConn *conn)
{
  if (conn->reading || conn->closed)
    return;
  conn->reading = TRUE;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn->connection));
  g_input_stream_read_async (in, conn->rbuf, sizeof conn->rbuf, MONITOR_IO_PRIORITY,
                             conn->cancellable, conn_on_read, conn_ref (conn));
}

static void
conn_on_write (GObject *stream, GAsyncResult *result, gpointer data)
{
  MonitorConn *conn = data;
  g_autoptr (GError) error = NULL;
  gssize n = g_output_stream_write_finish (G_OUTPUT_STREAM (stream), result, &error);
  conn->writing = FALSE;
  if (!conn->closed)
    {
      if (n < 0)
        monitor_conn_close (conn);
      else
        {
          conn->send_off += n;
          conn->write_progress_us = conn->last_activity_us = g_get_monotonic_time ();
          if (conn->send_off == conn->sendbuf->len)
            {
              if (conn->sendbuf->len > 64 * 1024)
                {
                  /* Do not keep a burst's worth of memory per connection. */
                  g_byte_array_unref (conn->sendbuf);
                  conn->sendbuf = g_byte_array_new ();
                }
              g_byte_array_set_size (conn->sendbuf, 0);
              conn->send_off = 0;
            }
          conn_advance (conn);
        }
    }
  conn_unref (conn);
}

static void
conn_write_start (MonitorConn *conn)
{
  if (conn->writing || conn->closed)
    return;
  if (conn->send_off == conn->sendbuf->len)
    {
      if (conn->outbuf->len == 0)
        return;
      /* Hand the queued answers to the write; new ones queue apart. */
      GByteArray *empty = conn->sendbuf;
      g_byte_array_set_size (empty, 0);
      conn->sendbuf = conn->outbuf;
      conn->outbuf = empty;
      conn->send_off = 0;
    }
  conn->writing = TRUE;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn->connection));
  g_output_stream_write_async (out, conn->sendbuf->data + conn->send_off,
                               conn->sendbuf->len - conn->send_off, MONITOR_IO_PRIORITY,
                               conn->cancellable, conn_on_write, conn_ref (conn));
}

/* ---- deadlines -------------------------------------------------------- */

void
monitor_conn_sweep (MonitorConn *conn, gint64 now)
{
  const MonitorConfig *cfg = &conn->server->config;
  gboolean sending = conn_pending_output (conn) > 0;
  if (conn->lingering)
    {
      if (now - conn->linger_start_us > (gint64) MIN (MONITOR_LINGER_MS, cfg->request_timeout_ms) * 1000)
        monitor_conn_close (conn);
    }
  else if (sending)
    {
      if (now - conn->write_progress_us > (gint64) cfg->write_timeout_ms * 1000)
        {
          conn->server->stats.timeouts_total++;
          monitor_conn_close (conn);
        }
    }
  else if (conn->request_start_us != 0)
    {
      if (now - conn->request_start_us > (gint64) cfg->request_timeout_ms * 1000)
        {
          /* Slow head (slowloris): answer 408 and close. */
          conn->server->stats.timeouts_total++;
          conn_answer_error (conn, 408);
          conn->request_start_us = 0;
          conn_write_start (conn);
        }
    }
  else if (now - conn->last_activity_us > (gint64) cfg->idle_timeout_ms * 1000)
    monitor_conn_close (conn);
}

