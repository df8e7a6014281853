/* monitor-connection.c — one HTTP connection of the monitor: received
 * bytes feed the parser, each complete request is answered in order into an
 * output queue, and what was queued is written in order (so pipelined
 * requests are answered in order). Deadlines are checked by the server's
 * sweep. Nothing here blocks: the socket is non-blocking, read when a
 * G_IO_IN source says so and written at once, with a G_IO_OUT source only
 * while it is full (GIO's per-call async operations add and remove a poll
 * source each time, and each of those wakes the main loop: at 5,000
 * requests/s that cost the worker's writes several percent). */
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
  GSocket *socket;
  GSource *read_source;       /* G_IO_IN while we want bytes */
  GSource *write_source;      /* G_IO_OUT while the socket is full */
  MonitorParser *parser;
  guint8 rbuf[READ_SIZE];
  GByteArray *inbuf;          /* received, not yet parsed */
  GByteArray *outbuf;         /* answers queued, not yet handed to a write */
  GByteArray *sendbuf;        /* what the write in flight reads from: never
                               * touched until it is done (no realloc) */
  gsize send_off;             /* bytes of sendbuf already written */
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
  /* Destroyed by monitor_conn_close (they held references until then). */
  g_clear_pointer (&conn->read_source, g_source_unref);
  g_clear_pointer (&conn->write_source, g_source_unref);
  g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
  g_object_unref (conn->connection);
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
  conn->socket = g_socket_connection_get_socket (connection);
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
  if (conn->read_source)
    g_source_destroy (conn->read_source);
  if (conn->write_source)
    g_source_destroy (conn->write_source);
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

static gboolean conn_write_some (MonitorConn *conn);
static GSource *conn_source_new (MonitorConn *conn, GIOCondition condition,
                                 GSocketSourceFunc func);
static gboolean conn_on_writable (GSocket *socket, GIOCondition condition, gpointer data);

/* What to do next once bytes came in or went out: answer what can be
 * answered, write it, and repeat while the socket takes everything. */
static void
conn_advance (MonitorConn *conn)
{
  while (!conn->closed)
    {
      if (!conn->lingering)
        conn_process_input (conn);
      if (conn_pending_output (conn) == 0 || conn->write_source != NULL)
        break;
      if (!conn_write_some (conn))
        {
          monitor_conn_close (conn);
          return;
        }
      if (conn_pending_output (conn) > 0)
        {
          conn->write_source = conn_source_new (conn, G_IO_OUT, conn_on_writable);
          break;
        }
      if (conn->inbuf->len == 0 || conn->finishing)
        break;
    }
  if (conn->closed)
    return;
  if (conn_pending_output (conn) == 0 && !conn->lingering)
    {
      if (conn->finishing)
        conn_linger (conn);
      else if (conn->peer_closed)
        monitor_conn_close (conn);
    }
  if (!conn->closed)
    conn_read_start (conn);
}

/* ---- socket I/O ------------------------------------------------------- */

static void
conn_unref_cb (gpointer data)
{
  conn_unref (data);
}

/* A source that holds a reference until it goes. It may recurse, so GLib
 * does not take its fd out of the poll set around each dispatch (another
 * wakeup each time); the callbacks re-check the state at every step. */
static GSource *
conn_source_new (MonitorConn *conn, GIOCondition condition, GSocketSourceFunc func)
{
  GSource *source = g_socket_create_source (conn->socket, condition, NULL);
  g_source_set_priority (source, MONITOR_IO_PRIORITY);
  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) func, conn_ref (conn),
                         conn_unref_cb);
  g_source_attach (source, conn->server->context);
  return source;
}

static gboolean
conn_wants_read (const MonitorConn *conn)
{
  return !conn->closed && !conn->peer_closed && conn->inbuf->len == 0
         && (conn->lingering || !conn->finishing);
}

static gboolean
conn_on_readable (GSocket *socket, GIOCondition condition, gpointer data)
{
  MonitorConn *conn = conn_ref (data);
  g_autoptr (GError) error = NULL;
  gssize n = g_socket_receive_with_blocking (conn->socket, (gchar *) conn->rbuf,
                                             sizeof conn->rbuf, FALSE, NULL, &error);
  if (conn->closed)
    ;
  else if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    ;
  else if (n < 0)
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
  gboolean keep = conn_wants_read (conn) && conn->read_source != NULL;
  if (!keep)
    g_clear_pointer (&conn->read_source, g_source_unref);
  conn_unref (conn);
  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
conn_read_start (MonitorConn *conn)
{
  if (conn->read_source == NULL && conn_wants_read (conn))
    conn->read_source = conn_source_new (conn, G_IO_IN, conn_on_readable);
}

/* Writes what the socket takes; FALSE if the connection failed. */
static gboolean
conn_write_some (MonitorConn *conn)
{
  while (conn->send_off < conn->sendbuf->len || conn->outbuf->len > 0)
    {
      if (conn->send_off == conn->sendbuf->len)
        {
          /* Hand the queued answers to the send buffer; new ones queue apart. */
          GByteArray *empty = conn->sendbuf;
          g_byte_array_set_size (empty, 0);
          conn->sendbuf = conn->outbuf;
          conn->outbuf = empty;
          conn->send_off = 0;
        }
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_send_with_blocking (conn->socket,
                                              (const gchar *) conn->sendbuf->data + conn->send_off,
                                              conn->sendbuf->len - conn->send_off, FALSE, NULL,
                                              &error);
      if (n < 0)
        return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      conn->send_off += (gsize) n;
      conn->write_progress_us = conn->last_activity_us = g_get_monotonic_time ();
      if (conn->send_off == conn->sendbuf->len && conn->sendbuf->len > 64 * 1024)
        {
          /* Do not keep a burst's worth of memory per connection. */
          g_byte_array_unref (conn->sendbuf);
          conn->sendbuf = g_byte_array_new ();
          conn->send_off = 0;
        }
    }
  return TRUE;
}

static gboolean
conn_on_writable (GSocket *socket, GIOCondition condition, gpointer data)
{
  MonitorConn *conn = conn_ref (data);
  g_clear_pointer (&conn->write_source, g_source_unref);
  conn_advance (conn);
  conn_unref (conn);
  return G_SOURCE_REMOVE;
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
          conn_advance (conn);
        }
    }
  else if (now - conn->last_activity_us > (gint64) cfg->idle_timeout_ms * 1000)
    monitor_conn_close (conn);
}

