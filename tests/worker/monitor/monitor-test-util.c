/* monitor-test-util.c — see monitor-test-util.h. */
#include "monitor-test-util.h"

#include <gio/gnetworking.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_TIMEOUT_S 5

static gpointer
server_thread (gpointer data)
{
  TestServer *ts = data;
  g_main_context_push_thread_default (ts->context);
  MonitorSource source;
  monitor_fake_source_bind (ts->fake, &source);
  g_autoptr (GError) error = NULL;
  ts->server = monitor_server_new (&ts->config, &source, &error);
  if (ts->server == NULL)
    g_error ("test server: %s", error->message);
  g_mutex_lock (&ts->lock);
  ts->port = monitor_server_get_port (ts->server);
  ts->ready = TRUE;
  g_cond_signal (&ts->cond);
  g_mutex_unlock (&ts->lock);
  g_main_loop_run (ts->loop);
  monitor_server_free (ts->server);
  /* Let GIO finish what the listener cancelled. */
  while (g_main_context_iteration (ts->context, FALSE))
    ;
  g_main_context_pop_thread_default (ts->context);
  return NULL;
}

TestServer *
test_server_start (const MonitorConfig *config)
{
  TestServer *ts = g_new0 (TestServer, 1);
  if (config)
    ts->config = *config;
  else
    monitor_config_init (&ts->config);
  ts->config.address = "127.0.0.1";
  ts->config.port = 0;
  ts->fake = monitor_fake_source_new (1);
  ts->context = g_main_context_new ();
  ts->loop = g_main_loop_new (ts->context, FALSE);
  g_mutex_init (&ts->lock);
  g_cond_init (&ts->cond);
  ts->thread = g_thread_new ("monitor-test-server", server_thread, ts);
  g_mutex_lock (&ts->lock);
  while (!ts->ready)
    g_cond_wait (&ts->cond, &ts->lock);
  g_mutex_unlock (&ts->lock);
  return ts;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
test_server_stop (TestServer *ts)
{
  g_main_context_invoke (ts->context, quit_loop, ts->loop);
  g_thread_join (ts->thread);
  g_main_loop_unref (ts->loop);
  g_main_context_unref (ts->context);
  monitor_fake_source_free (ts->fake);
  g_mutex_clear (&ts->lock);
  g_cond_clear (&ts->cond);
  g_free (ts);
}

typedef struct {
  GSourceFunc func;
  gpointer data;
  GMutex lock;
  GCond cond;
  gboolean done;
} Invocation;

static gboolean
invoke_run (gpointer data)
{
  Invocation *inv = data;
  inv->func (inv->data);
  g_mutex_lock (&inv->lock);
  inv->done = TRUE;
  g_cond_signal (&inv->cond);
  g_mutex_unlock (&inv->lock);
  return G_SOURCE_REMOVE;
}

void
test_server_invoke (TestServer *ts, GSourceFunc func, gpointer data)
{
  Invocation inv = { func, data, { 0 }, { 0 }, FALSE };
  g_mutex_init (&inv.lock);
  g_cond_init (&inv.cond);
  g_main_context_invoke (ts->context, invoke_run, &inv);
  g_mutex_lock (&inv.lock);
  while (!inv.done)
    g_cond_wait (&inv.cond, &inv.lock);
  g_mutex_unlock (&inv.lock);
  g_mutex_clear (&inv.lock);
  g_cond_clear (&inv.cond);
}

/* ---- client ----------------------------------------------------------- */

static TestClient *
client_wrap (GSocketConnection *connection)
{
  TestClient *client = g_new0 (TestClient, 1);
  client->connection = connection;
  client->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (client->in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (client->in), FALSE);
  client->out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  return client;
}

TestClient *
test_client_connect (guint16 port)
{
  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  g_socket_client_set_timeout (sc, CLIENT_TIMEOUT_S);
  g_autoptr (GError) error = NULL;
  GSocketConnection *connection = g_socket_client_connect_to_host (sc, "127.0.0.1", port, NULL, &error);
  if (connection == NULL)
    g_error ("test client: %s", error->message);
  return client_wrap (connection);
}

TestClient *
test_client_connect_small_window (guint16 port)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_TCP, &error);
  if (socket == NULL)
    g_error ("test client: %s", error->message);
  g_socket_set_option (socket, SOL_SOCKET, SO_RCVBUF, 4096, NULL);
  g_socket_set_timeout (socket, CLIENT_TIMEOUT_S);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  if (!g_socket_connect (socket, address, NULL, &error))
    g_error ("test client: %s", error->message);
  return client_wrap (g_socket_connection_factory_create_connection (socket));
}

void
test_client_free (TestClient *client)
{
  if (client == NULL)
    return;
  g_object_unref (client->in);
  g_io_stream_close (G_IO_STREAM (client->connection), NULL, NULL);
  g_object_unref (client->connection);
  g_free (client);
}

void
test_client_send (TestClient *client, const char *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  if (!g_output_stream_write_all (client->out, data, len, NULL, NULL, &error))
    g_error ("test client send: %s", error->message);
}

void
test_client_send_str (TestClient *client, const char *text)
{
  test_client_send (client, text, strlen (text));
}

void
test_response_free (TestResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->version);
  g_hash_table_unref (response->headers);
  g_byte_array_unref (response->body);
  g_free (response);
}

const char *
test_response_header (const TestResponse *response, const char *name)
{
  return g_hash_table_lookup (response->headers, name);
}

static char *
read_line (TestClient *client)
{
  return g_data_input_stream_read_line (client->in, NULL, NULL, NULL);
}

static gboolean
read_exact (TestClient *client, GByteArray *into, gsize n)
{
  gsize old = into->len, got = 0;
  g_byte_array_set_size (into, old + n);
  return g_input_stream_read_all (G_INPUT_STREAM (client->in), into->data + old, n, &got, NULL, NULL)
         && got == n;
}

/* Decodes a chunked body strictly: hex size line, data, CRLF; then "0"
 * and an empty trailer line. */
static gboolean
read_chunked (TestClient *client, GByteArray *body)
{
  for (;;)
    {
      g_autofree char *line = read_line (client);
      if (line == NULL || line[0] == '\0' || strspn (line, "0123456789abcdefABCDEF") != strlen (line))
        return FALSE;
      guint64 size = g_ascii_strtoull (line, NULL, 16);
      if (size == 0)
        {
          g_autofree char *end = read_line (client);
          return end != NULL && end[0] == '\0';
        }
      if (!read_exact (client, body, size))
        return FALSE;
      g_autofree char *crlf = read_line (client);
      if (crlf == NULL || crlf[0] != '\0')
        return FALSE;
    }
}

static gboolean
read_body (TestClient *client, TestResponse *r, gboolean head_request)
{
  const char *te = test_response_header (r, "transfer-encoding");
  const char *cl = test_response_header (r, "content-length");
  if (head_request || r->status == 304 || r->status == 204)
    return TRUE;
  if (te)
    {
      r->was_chunked = TRUE;
      return g_ascii_strcasecmp (te, "chunked") == 0 && cl == NULL && read_chunked (client, r->body);
    }
  if (cl == NULL)
    return FALSE;                      /* our server always frames bodies */
  return read_exact (client, r->body, g_ascii_strtoull (cl, NULL, 10));
}

TestResponse *
test_client_read (TestClient *client, gboolean head_request)
{
  g_autofree char *status_line = read_line (client);
  if (status_line == NULL)
    return NULL;
  g_auto (GStrv) parts = g_strsplit (status_line, " ", 3);
  if (g_strv_length (parts) < 3 || !g_str_has_prefix (parts[0], "HTTP/1."))
    return NULL;
  TestResponse *r = g_new0 (TestResponse, 1);
  r->version = g_strdup (parts[0]);
  r->status = (guint) atoi (parts[1]);
  r->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->body = g_byte_array_new ();
  for (;;)
    {
      g_autofree char *line = read_line (client);
      if (line == NULL)
        {
          test_response_free (r);
          return NULL;
        }
      if (line[0] == '\0')
        break;
      char *colon = strchr (line, ':');
      if (colon == NULL)
        {
          test_response_free (r);
          return NULL;
        }
      g_hash_table_replace (r->headers, g_ascii_strdown (line, colon - line),
                            g_strstrip (g_strdup (colon + 1)));
    }
  if (!read_body (client, r, head_request))
    {
      test_response_free (r);
      return NULL;
    }
  return r;
}

gboolean
test_client_wait_eof (TestClient *client, guint timeout_ms)
{
  GSocket *socket = g_socket_connection_get_socket (client->connection);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  /* Buffered bytes first, then the socket itself. */
  g_buffered_input_stream_set_buffer_size (G_BUFFERED_INPUT_STREAM (client->in), 4096);
  while (g_get_monotonic_time () < deadline)
    {
      gsize buffered = g_buffered_input_stream_get_available (G_BUFFERED_INPUT_STREAM (client->in));
      if (buffered > 0)
        {
          g_input_stream_skip (G_INPUT_STREAM (client->in), buffered, NULL, NULL);
          continue;
        }
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      if (left_ms <= 0)
        break;
      if (!g_socket_condition_timed_wait (socket, G_IO_IN | G_IO_HUP | G_IO_ERR, left_ms * 1000, NULL, NULL))
        return FALSE;
      char buf[4096];
      gssize n = g_socket_receive (socket, buf, sizeof buf, NULL, NULL);
      if (n <= 0)
        return TRUE;                   /* EOF or reset: closed */
    }
  return FALSE;
}

TestResponse *
test_fetch (guint16 port, const char *request, gboolean head_request)
{
  g_autoptr (TestClient) client = test_client_connect (port);
  test_client_send_str (client, request);
  return test_client_read (client, head_request);
}
