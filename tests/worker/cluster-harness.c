/* cluster-harness.c — real worker processes and a blocking test client. */
#include "config.h"
#include "cluster-harness.h"
#include "minka-auth.h"
#include "minka-compat.h"

#include <string.h>
#include <glib/gstdio.h>

#define IO_TIMEOUT_S 20

static gboolean wait_up (TestCluster *cluster, guint i, guint timeout_ms);

/* ---- processes ----------------------------------------------------------------- */

static guint16
free_port (void)
{
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (s, any, TRUE, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
write_config (TestCluster *cluster)
{
  GString *ini = g_string_new ("[cluster]\n");
  if (cluster->key)
    g_string_append (ini, "key-file=cluster.key\n");
  for (guint i = 0; i < cluster->workers->len; i++)
    {
      TestWorker *w = cluster->workers->pdata[i];
      g_string_append_printf (ini, "[worker %s]\naddress=127.0.0.1:%u\nmonitor=127.0.0.1:%u\n",
                              w->name, w->port, w->monitor_port);
    }
  g_assert_true (g_file_set_contents (cluster->config_path, ini->str, -1, NULL));
  g_string_free (ini, TRUE);
}

static gboolean
port_taken (TestCluster *cluster, guint16 port)
{
  for (guint i = 0; i < cluster->workers->len; i++)
    {
      TestWorker *w = cluster->workers->pdata[i];
      if (w->port == port || w->monitor_port == port)
        return TRUE;
    }
  return FALSE;
}

/* A free port no worker of @cluster has: the kernel may hand the same
 * ephemeral port out twice in a row once its probe socket is closed (the
 * config then names one address twice and every worker refuses it). */
static guint16
cluster_free_port (TestCluster *cluster, guint16 also_taken)
{
  guint16 port;
  do
    port = free_port ();
  while (port == also_taken || port_taken (cluster, port));
  return port;
}

static TestWorker *
worker_new (TestCluster *cluster, guint number)
{
  TestWorker *w = g_new0 (TestWorker, 1);
  w->name = g_strdup_printf ("w%u", number);
  w->data_dir = g_build_filename (cluster->dir, w->name, NULL);
  w->port = cluster_free_port (cluster, 0);
  w->monitor_port = cluster_free_port (cluster, w->port);
  g_ptr_array_add (cluster->workers, w);
  return w;
}

#ifndef G_OS_UNIX
/* Windows has no file redirection in GSubprocessLauncher: a thread copies
 * the child's output pipe to the log until the child closes it. */
static gpointer
copy_log_thread (gpointer data)
{
  GOutputStream *log = data;
  GInputStream *out = g_object_get_data (G_OBJECT (log), "minka-child-output");
  g_output_stream_splice (log, out, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, NULL);
  g_object_unref (log);
  return NULL;
}
#endif

/* Starts @argv with stdout and stderr going to the file @log_path. */
static GSubprocess *
spawn_logged (const char * const *argv, const char *log_path, GError **error)
{
#ifdef G_OS_UNIX
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
  return g_subprocess_launcher_spawnv (launcher, argv, error);
#else
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr (GFile) file = g_file_new_for_path (log_path);
  GFileOutputStream *log = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, error);
  if (log == NULL)
    return NULL;
  GSubprocess *process = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (process == NULL)
    {
      g_object_unref (log);
      return NULL;
    }
  g_object_set_data_full (G_OBJECT (log), "minka-child-output",
                          g_object_ref (g_subprocess_get_stdout_pipe (process)), g_object_unref);
  g_thread_unref (g_thread_new ("worker-log", copy_log_thread, log));
  return process;
#endif
}

static void
start_process (TestCluster *cluster, TestWorker *w, gboolean join)
{
  GError *error = NULL;
  /* One log per run, so a restart does not overwrite the first run's. */
  g_free (w->log_path);
  w->log_path = g_strdup_printf ("%s/%s.run%u.log", cluster->dir, w->name, ++w->runs);
  const char *argv[10] = { MINKA_WORKER_BIN, "--config", cluster->config_path, "--id", w->name,
                           "--data-dir", w->data_dir, NULL };
  guint argc = 7;
  if (join)
    argv[argc++] = "--join";
  if (cluster->extra_arg)
    argv[argc++] = cluster->extra_arg;
  w->process = spawn_logged (argv, w->log_path, &error);
  g_assert_no_error (error);
}

TestCluster *
test_cluster_new (guint n, gboolean with_key)
{
  return test_cluster_new_full (n, with_key, NULL);
}

TestCluster *
test_cluster_new_full (guint n, gboolean with_key, const char *extra_arg)
{
  TestCluster *cluster = g_new0 (TestCluster, 1);
  cluster->extra_arg = g_strdup (extra_arg);
  cluster->dir = g_dir_make_tmp ("minka-cluster-XXXXXX", NULL);
  g_assert_nonnull (cluster->dir);
  cluster->config_path = g_build_filename (cluster->dir, "cluster.ini", NULL);
  cluster->workers = g_ptr_array_new ();
  if (with_key)
    {
      g_autofree char *hex = minka_auth_key_new_hex (NULL);
      g_autofree char *key_path = g_build_filename (cluster->dir, "cluster.key", NULL);
      g_assert_true (g_file_set_contents (key_path, hex, -1, NULL));
      cluster->key = minka_auth_key_load (key_path, NULL);
      g_assert_nonnull (cluster->key);
    }
  for (guint i = 1; i <= n; i++)
    worker_new (cluster, i);
  write_config (cluster);
  for (guint i = 0; i < n; i++)
    start_process (cluster, cluster->workers->pdata[i], FALSE);
  return cluster;
}

TestWorker *
test_cluster_add_joiner (TestCluster *cluster)
{
  TestWorker *w = worker_new (cluster, cluster->workers->len + 1);
  write_config (cluster);
  start_process (cluster, w, TRUE);
  wait_up (cluster, cluster->workers->len - 1, 10000);
  return w;
}

/* Waits until the worker answers STATUS (it listens once its log is open). */
static gboolean
wait_up (TestCluster *cluster, guint i, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      JsonObject *st = test_cluster_status (cluster, i);
      if (st)
        {
          json_object_unref (st);
          return TRUE;
        }
      g_usleep (10000);
    }
  return FALSE;
}

void
test_cluster_start (TestCluster *cluster, guint i)
{
  TestWorker *w = cluster->workers->pdata[i];
  g_assert_null (w->process);
  start_process (cluster, w, FALSE);
  if (!wait_up (cluster, i, 10000))
    test_cluster_dump_logs (cluster);
}

void
test_cluster_kill (TestCluster *cluster, guint i)
{
  TestWorker *w = cluster->workers->pdata[i];
  if (!w->process)
    return;
  guint64 id = minka_subprocess_id (w->process);
  if (id != 0)
    minka_kill_process (id, NULL);
  g_subprocess_wait (w->process, NULL, NULL);
  g_clear_object (&w->process);
}

void
test_remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir)
    {
      const char *name;
      while ((name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          test_remove_tree (child);
        }
      g_dir_close (dir);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

void
test_cluster_wipe (TestCluster *cluster, guint i)
{
  TestWorker *w = cluster->workers->pdata[i];
  g_assert_null (w->process);
  test_remove_tree (w->data_dir);
}

void
test_cluster_dump_logs (TestCluster *cluster)
{
  for (guint i = 0; i < cluster->workers->len; i++)
    {
      TestWorker *w = cluster->workers->pdata[i];
      g_autofree char *text = NULL;
      gsize len = 0;
      if (!g_file_get_contents (w->log_path, &text, &len, NULL))
        continue;
      const char *tail = len > 3000 ? text + len - 3000 : text;
      g_printerr ("---- %s log (tail) ----\n%s\n", w->name, tail);
    }
}

gboolean
test_cluster_log_contains (TestCluster *cluster, guint i, const char *needle)
{
  TestWorker *w = cluster->workers->pdata[i];
  g_autofree char *text = NULL;
  if (!g_file_get_contents (w->log_path, &text, NULL, NULL))
    return FALSE;
  return strstr (text, needle) != NULL;
}

void
test_cluster_free (TestCluster *cluster)
{
  for (guint i = 0; i < cluster->workers->len; i++)
    test_cluster_kill (cluster, i);
  if (g_getenv ("MINKA_KEEP_TEST_DIRS"))
    g_printerr ("kept %s\n", cluster->dir);
  else
    test_remove_tree (cluster->dir);
  for (guint i = 0; i < cluster->workers->len; i++)
    {
      TestWorker *w = cluster->workers->pdata[i];
      g_free (w->name);
      g_free (w->data_dir);
      g_free (w->log_path);
      g_free (w);
    }
  g_ptr_array_unref (cluster->workers);
  g_clear_pointer (&cluster->key, g_bytes_unref);
  g_free (cluster->config_path);
  g_free (cluster->extra_arg);
  g_free (cluster->dir);
  g_free (cluster);
}

/* ---- a blocking client -------------------------------------------------------------- */

struct _TestConn
{
  GSocketConnection *sock;
  MinkaFrameParser *parser;
  GByteArray *pending;            /* bytes read but not parsed yet */
  gint64 next_id;
};

void
test_conn_free (TestConn *conn)
{
  if (!conn)
    return;
  g_io_stream_close (G_IO_STREAM (conn->sock), NULL, NULL);
  g_object_unref (conn->sock);
  minka_frame_parser_free (conn->parser);
  g_byte_array_unref (conn->pending);
  g_free (conn);
}

gboolean
test_conn_send_raw (TestConn *conn, const void *data, gsize len, GError **error)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn->sock));
  return g_output_stream_write_all (out, data, len, NULL, NULL, error);
}

gboolean
test_conn_send (TestConn *conn, JsonObject *header, GBytes *body, GError **error)
{
  g_autoptr (GBytes) head = minka_frame_encode_header (header, body, error);
  if (!head)
    return FALSE;
  if (!test_conn_send_raw (conn, g_bytes_get_data (head, NULL), g_bytes_get_size (head), error))
    return FALSE;
  return !body || test_conn_send_raw (conn, g_bytes_get_data (body, NULL),
                                      g_bytes_get_size (body), error);
}

MinkaFrame *
test_conn_read (TestConn *conn, GError **error)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn->sock));
  for (;;)
    {
      gsize consumed = 0;
      MinkaFrame *frame = minka_frame_parser_feed (conn->parser, conn->pending->data,
                                                   conn->pending->len, &consumed, error);
      g_byte_array_remove_range (conn->pending, 0, (guint) consumed);
      if (frame)
        return frame;
      if (error && *error)
        return NULL;
      guint8 buffer[64 * 1024];
      gssize n = g_input_stream_read (in, buffer, sizeof buffer, NULL, error);
      if (n < 0)
        return NULL;
      if (n == 0)
        {
          g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED, "closed by the worker");
          return NULL;
        }
      g_byte_array_append (conn->pending, buffer, (guint) n);
    }
}

static gboolean
handshake (TestConn *conn, GBytes *key, GError **error)
{
  guint8 client_nonce[MINKA_AUTH_NONCE_LEN], server_nonce[MINKA_AUTH_NONCE_LEN];
  minka_auth_random_bytes (client_nonce, sizeof client_nonce, NULL);
  g_autofree char *nonce_hex = minka_auth_hex_encode (client_nonce, sizeof client_nonce);
  g_autoptr (JsonObject) hello = minka_frame_header_new ("HELLO");
  json_object_set_string_member (hello, "role", "client");
  json_object_set_int_member (hello, "version", MINKA_PROTOCOL_VERSION);
  json_object_set_string_member (hello, "nonce", nonce_hex);
  if (!test_conn_send (conn, hello, NULL, error))
    return FALSE;
  g_autoptr (MinkaFrame) reply = test_conn_read (conn, error);
  if (!reply)
    return FALSE;
  if (strcmp (minka_frame_get_frame_type (reply), "CHALLENGE") == 0)
    {
      const char *server_hex = json_object_get_string_member_with_default (reply->header, "nonce", "");
      g_autoptr (JsonObject) auth = minka_frame_header_new ("AUTH");
      if (key && minka_auth_hex_decode (server_hex, server_nonce, sizeof server_nonce))
        {
          g_autofree char *answer = minka_auth_compute (key, MINKA_AUTH_PROOF_CLIENT, server_nonce,
                                                        client_nonce, MINKA_AUTH_ROLE_CLIENT,
                                                        MINKA_PROTOCOL_VERSION);
          json_object_set_string_member (auth, "answer", answer);
        }
      if (!test_conn_send (conn, auth, NULL, error))
        return FALSE;
      g_clear_pointer (&reply, minka_frame_free);
      reply = test_conn_read (conn, error);
      if (!reply)
        return FALSE;
    }
  if (strcmp (minka_frame_get_frame_type (reply), "HELLO_OK") != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "handshake refused: %s",
                   json_object_get_string_member_with_default (reply->header, "message", "?"));
      return FALSE;
    }
  return TRUE;
}

TestConn *
test_conn_new (guint16 port, GBytes *key, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, IO_TIMEOUT_S);
  GSocketConnection *sock = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, error);
  if (!sock)
    return NULL;
  /* A header and its body go out in two writes: without this the second
   * waits for the worker's delayed ACK (40 ms). */
  minka_socket_set_nodelay (g_socket_connection_get_socket (sock));
  TestConn *conn = g_new0 (TestConn, 1);
  conn->sock = sock;
  conn->parser = minka_frame_parser_new ();
  conn->pending = g_byte_array_new ();
  if (!handshake (conn, key, error))
    {
      test_conn_free (conn);
      return NULL;
    }
  return conn;
}

MinkaFrame *
test_conn_request (TestConn *conn, JsonObject *header, GBytes *body, GError **error)
{
  gint64 id = ++conn->next_id;
  json_object_set_int_member (header, "id", id);
  if (!test_conn_send (conn, header, body, error))
    return NULL;
  for (;;)
    {
      MinkaFrame *frame = test_conn_read (conn, error);
      if (!frame || minka_frame_get_id (frame) == id)
        return frame;
      minka_frame_free (frame);
    }
}

/* ---- the web monitor ----------------------------------------------------------------- */

#define MONITOR_MAX_ANSWER (16u << 20)

/* Reads until the server closes (HTTP/1.0), at most MONITOR_MAX_ANSWER. */
static GByteArray *
read_to_eof (GInputStream *in, GError **error)
{
  GByteArray *all = g_byte_array_new ();
  guint8 buf[16384];
  for (;;)
    {
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, error);
      if (n < 0 || all->len + (gsize) n > MONITOR_MAX_ANSWER)
        {
          if (n >= 0)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "answer too large");
          g_byte_array_unref (all);
          return NULL;
        }
      if (n == 0)
        return all;
      g_byte_array_append (all, buf, (guint) n);
    }
}

char *
test_cluster_monitor_get (TestCluster *cluster, guint i, const char *path, GError **error)
{
  TestWorker *w = cluster->workers->pdata[i];
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, IO_TIMEOUT_S);
  g_autoptr (GSocketConnection) sock =
    g_socket_client_connect_to_host (client, "127.0.0.1", w->monitor_port, NULL, error);
  if (!sock)
    return NULL;
  g_autofree char *auth = NULL;
  if (cluster->key)
    {
      gsize len = 0;
      const guint8 *key = g_bytes_get_data (cluster->key, &len);
      g_autofree char *hex = minka_auth_hex_encode (key, len);
      auth = g_strdup_printf ("Authorization: Bearer %s\r\n", hex);
    }
  g_autofree char *request = g_strdup_printf ("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n",
                                              path, auth ? auth : "");
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (sock));
  if (!g_output_stream_write_all (out, request, strlen (request), NULL, NULL, error))
    return NULL;
  GByteArray *answer = read_to_eof (g_io_stream_get_input_stream (G_IO_STREAM (sock)), error);
  if (!answer)
    return NULL;
  g_byte_array_append (answer, (const guint8 *) "", 1);   /* NUL-terminate */
  char *text = (char *) g_byte_array_free (answer, FALSE);
  const char *body = strstr (text, "\r\n\r\n");
  char *result = NULL;
  if (!g_str_has_prefix (text, "HTTP/1.") || strlen (text) < 12 || strncmp (text + 8, " 200", 4) != 0
      || !body)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "GET %s: %.60s", path, text);
  else
    result = g_strdup (body + 4);
  g_free (text);
  return result;
}

/* ---- cluster-level helpers ------------------------------------------------------------ */

static TestConn *
connect_worker (TestCluster *cluster, guint i, GError **error)
{
  TestWorker *w = cluster->workers->pdata[i];
  return test_conn_new (w->port, cluster->key, error);
}

JsonObject *
test_cluster_status (TestCluster *cluster, guint i)
{
  TestConn *conn = connect_worker (cluster, i, NULL);
  if (!conn)
    return NULL;
  g_autoptr (JsonObject) req = minka_frame_header_new ("STATUS");
  g_autoptr (MinkaFrame) reply = test_conn_request (conn, req, NULL, NULL);
  test_conn_free (conn);
  if (!reply || !json_object_has_member (reply->header, "worker"))
    return NULL;
  return json_object_ref (json_object_get_object_member (reply->header, "worker"));
}

int
test_cluster_wait_leader (TestCluster *cluster, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  do
    {
      for (guint i = 0; i < cluster->workers->len; i++)
        {
          TestWorker *w = cluster->workers->pdata[i];
          if (!w->process)
            continue;
          g_autoptr (JsonObject) st = test_cluster_status (cluster, i);
          if (st && g_strcmp0 (json_object_get_string_member (st, "role"), "leader") == 0)
            return (int) i;
        }
      g_usleep (20000);
    }
  while (g_get_monotonic_time () < deadline);
  g_printerr ("no leader after %u ms\n", timeout_ms);
  test_cluster_dump_logs (cluster);
  return -1;
}

static int
worker_by_address (TestCluster *cluster, const char *address)
{
  for (guint i = 0; i < cluster->workers->len; i++)
    {
      TestWorker *w = cluster->workers->pdata[i];
      g_autofree char *text = g_strdup_printf ("127.0.0.1:%u", w->port);
      if (g_strcmp0 (text, address) == 0)
        return (int) i;
    }
  return -1;
}

MinkaFrame *
test_cluster_leader_request (TestCluster *cluster, JsonObject *header, guint timeout_ms,
                             GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint target = 0;
  GError *last = NULL;
  while (g_get_monotonic_time () < deadline)
    {
      g_clear_error (&last);
      TestConn *conn = connect_worker (cluster, target, &last);
      MinkaFrame *reply = conn ? test_conn_request (conn, header, NULL, &last) : NULL;
      test_conn_free (conn);
      const char *type = reply ? minka_frame_get_frame_type (reply) : NULL;
      if (reply && strcmp (type, "NOT_LEADER") == 0)
        {
          int next = worker_by_address (cluster, json_object_get_string_member_with_default (reply->header, "address", ""));
          target = next >= 0 ? (guint) next : (target + 1) % cluster->workers->len;
          minka_frame_free (reply);
          g_usleep (next >= 0 ? 0 : 20000);
          continue;
        }
      if (reply && strcmp (type, "ERROR") == 0
          && g_strcmp0 (json_object_get_string_member_with_default (reply->header, "code", ""), "unavailable") == 0)
        {
          minka_frame_free (reply);
          g_usleep (20000);
          continue;
        }
      if (reply)
        return reply;
      target = (target + 1) % cluster->workers->len;
      g_usleep (20000);
    }
  g_propagate_error (error, last ? last : g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no leader answered"));
  return NULL;
}

/* One upload attempt on worker @i. Returns the reply (PUT_OK, NOT_LEADER,
 * ERROR) or NULL on a transport error. */
static MinkaFrame *
put_once (TestCluster *cluster, guint i, const char *name, GBytes *data, const char *client,
          guint64 seq, GError **error)
{
  g_autoptr (GError) local = NULL;
  TestConn *conn = connect_worker (cluster, i, error);
  if (!conn)
    return NULL;
  g_autoptr (JsonObject) begin = minka_frame_header_new ("PUT_BEGIN");
  json_object_set_string_member (begin, "name", name);
  json_object_set_int_member (begin, "size", (gint64) g_bytes_get_size (data));
  json_object_set_string_member (begin, "client", client);
  json_object_set_int_member (begin, "seq", (gint64) seq);
  MinkaFrame *reply = test_conn_request (conn, begin, NULL, error);
  if (!reply || strcmp (minka_frame_get_frame_type (reply), "PUT_READY") != 0)
    {
      test_conn_free (conn);
      return reply;
    }
  gint64 upload = json_object_get_int_member (reply->header, "upload");
  minka_frame_free (reply);
  gsize size = g_bytes_get_size (data);
  for (gsize off = 0; off < size; off += 1024 * 1024)
    {
      g_autoptr (GBytes) chunk = g_bytes_new_from_bytes (data, off, MIN ((gsize) 1024 * 1024, size - off));
      g_autoptr (JsonObject) h = minka_frame_header_new ("PUT_DATA");
      json_object_set_int_member (h, "upload", upload);
      if (!test_conn_send (conn, h, chunk, error))
        {
          test_conn_free (conn);
          return NULL;
        }
    }
  g_autofree char *sha = test_sha256_hex (data);
  g_autoptr (JsonObject) end = minka_frame_header_new ("PUT_END");
  json_object_set_int_member (end, "upload", upload);
  json_object_set_string_member (end, "sha256", sha);
  reply = test_conn_request (conn, end, NULL, error);
  test_conn_free (conn);
  return reply;
}

guint64
test_cluster_put (TestCluster *cluster, const char *name, GBytes *data, const char *client,
                  guint64 seq, guint timeout_ms, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint target = 0;
  g_autoptr (GError) last = NULL;
  while (g_get_monotonic_time () < deadline)
    {
      g_clear_error (&last);
      g_autoptr (MinkaFrame) reply = put_once (cluster, target, name, data, client, seq, &last);
      const char *type = reply ? minka_frame_get_frame_type (reply) : "";
      if (strcmp (type, "PUT_OK") == 0)
        return (guint64) json_object_get_int_member (json_object_get_object_member (reply->header, "file"), "id");
      if (strcmp (type, "NOT_LEADER") == 0)
        {
          int next = worker_by_address (cluster, json_object_get_string_member_with_default (reply->header, "address", ""));
          if (next >= 0)
            {
              target = (guint) next;
              continue;
            }
        }
      else if (strcmp (type, "ERROR") == 0)
        {
          const char *code = json_object_get_string_member_with_default (reply->header, "code", "");
          if (strcmp (code, "unavailable") != 0)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", code,
                           json_object_get_string_member_with_default (reply->header, "message", ""));
              return 0;
            }
        }
      target = (target + 1) % cluster->workers->len;
      g_usleep (20000);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "upload of %s timed out (%s)", name,
               last ? last->message : "no leader");
  return 0;
}

GBytes *
test_cluster_get (TestCluster *cluster, guint i, guint64 id, GError **error)
{
  TestConn *conn = connect_worker (cluster, i, error);
  if (!conn)
    return NULL;
  g_autoptr (JsonObject) req = minka_frame_header_new ("GET");
  json_object_set_int_member (req, "file", (gint64) id);
  g_autoptr (MinkaFrame) reply = test_conn_request (conn, req, NULL, error);
  if (!reply || strcmp (minka_frame_get_frame_type (reply), "GET_OK") != 0)
    {
      if (reply)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                     json_object_get_string_member_with_default (reply->header, "message", "GET failed"));
      test_conn_free (conn);
      return NULL;
    }
  GByteArray *content = g_byte_array_new ();
  for (;;)
    {
      g_autoptr (MinkaFrame) frame = test_conn_read (conn, error);
      if (!frame)
        {
          g_byte_array_unref (content);
          test_conn_free (conn);
          return NULL;
        }
      if (strcmp (minka_frame_get_frame_type (frame), "GET_END") == 0)
        break;
      if (frame->body)
        g_byte_array_append (content, g_bytes_get_data (frame->body, NULL),
                             (guint) g_bytes_get_size (frame->body));
    }
  test_conn_free (conn);
  return g_byte_array_free_to_bytes (content);
}

JsonArray *
test_cluster_list (TestCluster *cluster, guint i, guint64 min_index, char **digest_out,
                   GError **error)
{
  TestConn *conn = connect_worker (cluster, i, error);
  if (!conn)
    return NULL;
  g_autoptr (JsonObject) req = minka_frame_header_new ("LIST");
  json_object_set_int_member (req, "min_index", (gint64) min_index);
  g_autoptr (MinkaFrame) reply = test_conn_request (conn, req, NULL, error);
  test_conn_free (conn);
  if (!reply || strcmp (minka_frame_get_frame_type (reply), "LIST_OK") != 0 || !reply->body)
    {
      if (reply)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "LIST: %s",
                     json_object_get_string_member_with_default (reply->header, "message", "?"));
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, g_bytes_get_data (reply->body, NULL),
                                   (gssize) g_bytes_get_size (reply->body), error))
    return NULL;
  if (digest_out)
    *digest_out = g_strdup (json_object_get_string_member (reply->header, "digest"));
  return json_array_ref (json_node_get_array (json_parser_get_root (parser)));
}

GBytes *
test_random_bytes (gsize size, guint32 seed)
{
  guint8 *data = g_malloc (MAX (size, 1));
  guint32 x = seed * 2654435761u + 1;
  for (gsize i = 0; i < size; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      data[i] = (guint8) x;
    }
  return g_bytes_new_take (data, size);
}

char *
test_sha256_hex (GBytes *data)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, data);
}
