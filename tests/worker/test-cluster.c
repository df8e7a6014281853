/* test-cluster.c — real minka-worker processes on 127.0.0.1: round trips,
 * kill -9 of the leader during writes, a full restart, a wiped follower,
 * membership changes, hostile input, random requests, orphaned blobs
 * collected, and a live worker's /metrics. Nothing acknowledged may be
 * lost. */
#include "config.h"
#include <check.h>
#include <math.h>
#include <string.h>

#include "cluster-harness.h"
#include "minka-client.h"

#define LEADER_TIMEOUT_MS TEST_CLUSTER_LEADER_TIMEOUT_MS
#define PUT_TIMEOUT_MS 20000

typedef struct {
  guint64 id;
  char *sha256;
  gsize size;
} Acked;

static void
acked_free (Acked *a)
{
  g_free (a->sha256);
  g_free (a);
}

static guint64
put_ok (TestCluster *c, const char *name, GBytes *data, const char *client, guint64 seq)
{
  GError *error = NULL;
  guint64 id = test_cluster_put (c, name, data, client, seq, PUT_TIMEOUT_MS, &error);
  if (!id)
    test_cluster_dump_logs (c);
  ck_assert_msg (id > 0, "put %s failed: %s", name, error ? error->message : "?");
  return id;
}

static Acked *
put_random (TestCluster *c, guint i, gsize size, const char *client)
{
  g_autoptr (GBytes) data = test_random_bytes (size, i + 1);
  g_autofree char *name = g_strdup_printf ("file-%u.bin", i);
  Acked *a = g_new0 (Acked, 1);
  a->id = put_ok (c, name, data, client, i + 1);
  a->sha256 = test_sha256_hex (data);
  a->size = size;
  return a;
}

/* Every acknowledged file is listed by worker @w with its SHA-256, and the
 * worker's digest is returned. */
static char *
check_listed (TestCluster *c, guint w, GPtrArray *acked, guint64 min_index)
{
  GError *error = NULL;
  char *digest = NULL;
  g_autoptr (JsonArray) files = test_cluster_list (c, w, min_index, &digest, &error);
  if (!files)
    test_cluster_dump_logs (c);
  ck_assert_msg (files != NULL, "LIST on w%u: %s", w + 1, error ? error->message : "?");
  for (guint i = 0; i < acked->len; i++)
    {
      Acked *a = acked->pdata[i];
      gboolean found = FALSE;
      for (guint j = 0; j < json_array_get_length (files) && !found; j++)
        {
          JsonObject *f = json_array_get_object_element (files, j);
          if ((guint64) json_object_get_int_member (f, "id") == a->id)
            {
              ck_assert_str_eq (json_object_get_string_member (f, "sha256"), a->sha256);
              found = TRUE;
            }
        }
      ck_assert_msg (found, "w%u lost acknowledged file %" G_GUINT64_FORMAT, w + 1, a->id);
    }
  return digest;
}

static guint64
max_id (GPtrArray *acked)
{
  guint64 m = 0;
  for (guint i = 0; i < acked->len; i++)
    m = MAX (m, ((Acked *) acked->pdata[i])->id);
  return m;
}

static void
check_download (TestCluster *c, guint w, const Acked *a)
{
  GError *error = NULL;
  GBytes *got = NULL;
  /* A worker that was not a holder may still be fetching the blob. */
  for (int attempt = 0; attempt < 100 && !got; attempt++)
    {
      g_clear_error (&error);
      got = test_cluster_get (c, w, a->id, &error);
      if (!got)
        g_usleep (50000);
    }
  ck_assert_msg (got != NULL, "GET %" G_GUINT64_FORMAT " from w%u: %s", a->id, w + 1,
                 error ? error->message : "?");
  g_autofree char *sha = test_sha256_hex (got);
  ck_assert_uint_eq (g_bytes_get_size (got), a->size);
  ck_assert_str_eq (sha, a->sha256);
  g_bytes_unref (got);
}

START_TEST (test_round_trips)
{
  TestCluster *c = test_cluster_new (3, FALSE);
  ck_assert_int_ge (test_cluster_wait_leader (c, LEADER_TIMEOUT_MS), 0);
  const gsize sizes[] = { 0, 1, 1024 * 1024 + 1, 200 * 1024 * 1024 };
  g_autoptr (GPtrArray) acked = g_ptr_array_new_with_free_func ((GDestroyNotify) acked_free);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    g_ptr_array_add (acked, put_random (c, i, sizes[i], "round-trip"));

  g_autofree char *digest0 = NULL;
  for (guint w = 0; w < 3; w++)
    {
      char *digest = check_listed (c, w, acked, max_id (acked));
      if (!digest0)
        digest0 = g_strdup (digest);
      ck_assert_str_eq (digest, digest0);
      g_free (digest);
      for (guint i = 0; i < acked->len; i++)
        check_download (c, w, acked->pdata[i]);
    }
  test_cluster_free (c);
}
END_TEST

START_TEST (test_leader_crash_during_puts)
{
  TestCluster *c = test_cluster_new (3, FALSE);
  int leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
  ck_assert_int_ge (leader, 0);
  g_autoptr (GPtrArray) acked = g_ptr_array_new_with_free_func ((GDestroyNotify) acked_free);
  for (guint i = 0; i < 60; i++)
    {
      if (i == 20)
        test_cluster_kill (c, (guint) leader);      /* mid-stream, no warning */
      g_ptr_array_add (acked, put_random (c, i, 1024 + (i * 997) % 65536, "crash"));
    }
  /* Retrying an acknowledged request (same session and seq) returns the
   * original ID and adds nothing. */
  g_autoptr (GBytes) again = test_random_bytes (1024 + (59 * 997) % 65536, 60);
  guint64 id = put_ok (c, "file-59.bin", again, "crash", 60);
  ck_assert_uint_eq (id, ((Acked *) acked->pdata[59])->id);

  test_cluster_start (c, (guint) leader);
  g_autofree char *d0 = NULL;
  for (guint w = 0; w < 3; w++)
    {
      char *digest = check_listed (c, w, acked, max_id (acked));
      if (!d0)
        d0 = g_strdup (digest);
      ck_assert_str_eq (d0, digest);
      g_free (digest);
    }
  g_autoptr (JsonArray) files = test_cluster_list (c, 0, max_id (acked), NULL, NULL);
  ck_assert_uint_eq (json_array_get_length (files), acked->len);   /* no duplicates */
  check_download (c, (guint) leader, acked->pdata[59]);
  test_cluster_free (c);
}
END_TEST

START_TEST (test_full_restart)
{
  TestCluster *c = test_cluster_new (3, TRUE);
  ck_assert_int_ge (test_cluster_wait_leader (c, LEADER_TIMEOUT_MS), 0);
  g_autoptr (GPtrArray) acked = g_ptr_array_new_with_free_func ((GDestroyNotify) acked_free);
  for (guint i = 0; i < 30; i++)
    g_ptr_array_add (acked, put_random (c, i, 100 + i * 1000, "restart"));
  for (guint w = 0; w < 3; w++)
    test_cluster_kill (c, w);
  for (guint w = 0; w < 3; w++)
    test_cluster_start (c, w);
  ck_assert_int_ge (test_cluster_wait_leader (c, LEADER_TIMEOUT_MS), 0);
  for (guint w = 0; w < 3; w++)
    {
      g_free (check_listed (c, w, acked, max_id (acked)));
      check_download (c, w, acked->pdata[w * 7]);
    }
  test_cluster_free (c);
}
END_TEST

static JsonObject *
cluster_request (TestCluster *c, const char *type, const char *name, const char *address)
{
  g_autoptr (JsonObject) req = minka_frame_header_new (type);
  json_object_set_string_member (req, "name", name);
  if (address)
    json_object_set_string_member (req, "address", address);
  GError *error = NULL;
  MinkaFrame *reply = test_cluster_leader_request (c, req, 10000, &error);
  ck_assert_msg (reply != NULL, "%s: %s", type, error ? error->message : "?");
  JsonObject *h = json_object_ref (reply->header);
  minka_frame_free (reply);
  return h;
}

START_TEST (test_wipe_join_remove)
{
  /* Snapshots every 16 entries, so a wiped follower needs one. */
  TestCluster *c = test_cluster_new_full (3, FALSE, "--snapshot-every=16");
  int leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
  ck_assert_int_ge (leader, 0);
  g_autoptr (GPtrArray) acked = g_ptr_array_new_with_free_func ((GDestroyNotify) acked_free);
  for (guint i = 0; i < 40; i++)
    g_ptr_array_add (acked, put_random (c, i, 2000 + i, "wipe"));

  guint follower = (guint) (leader + 1) % 3;
  test_cluster_kill (c, follower);
  test_cluster_wipe (c, follower);
  test_cluster_start (c, follower);
  g_free (check_listed (c, follower, acked, max_id (acked)));
  for (guint i = 0; i < acked->len; i += 13)
    check_download (c, follower, acked->pdata[i]);
  /* The catalog was parsed when the file arrived, not on the main loop. */
  ck_assert_msg (test_cluster_log_contains (c, follower, "(parsed when it arrived)"),
                 "the wiped follower did not install a pre-parsed snapshot");

  /* A fourth worker joins the running cluster and catches up. */
  TestWorker *w4 = test_cluster_add_joiner (c);
  g_autofree char *w4_address = g_strdup_printf ("127.0.0.1:%u", w4->port);
  g_autoptr (JsonObject) added = cluster_request (c, "CLUSTER_ADD", w4->name, w4_address);
  ck_assert_str_eq (json_object_get_string_member (added, "type"), "CLUSTER_OK");
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (added, "config")), 4);
  g_free (check_listed (c, 3, acked, max_id (acked)));
  check_download (c, 3, acked->pdata[5]);

  /* Writes still commit with four members, and then one is removed. */
  g_ptr_array_add (acked, put_random (c, 100, 5000, "wipe"));
  g_autoptr (JsonObject) removed = cluster_request (c, "CLUSTER_REMOVE", "w4", NULL);
  ck_assert_str_eq (json_object_get_string_member (removed, "type"), "CLUSTER_OK");
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (removed, "config")), 3);
  g_ptr_array_add (acked, put_random (c, 101, 5000, "wipe"));
  for (guint w = 0; w < 3; w++)
    g_free (check_listed (c, w, acked, max_id (acked)));
  test_cluster_free (c);
}
END_TEST

/* The worker answers and, once it applied @min_index, lists @expected files. */
static void
check_alive (TestCluster *c, guint w, guint64 min_index, guint expected)
{
  GError *error = NULL;
  g_autoptr (JsonArray) files = test_cluster_list (c, w, min_index, NULL, &error);
  ck_assert_msg (files != NULL, "w%u: %s", w + 1, error ? error->message : "?");
  ck_assert_uint_eq (json_array_get_length (files), expected);
}

static void
send_raw_and_close (TestCluster *c, guint w, const void *data, gsize len)
{
  TestWorker *worker = c->workers->pdata[w];
  GError *error = NULL;
  TestConn *conn = test_conn_new (worker->port, c->key, &error);
  ck_assert_msg (conn != NULL, "%s", error ? error->message : "");
  test_conn_send_raw (conn, data, len, NULL);
  /* Whatever comes back (an ERROR frame or a close) is fine; a hang is not. */
  g_autoptr (MinkaFrame) reply = test_conn_read (conn, NULL);
  test_conn_free (conn);
}

START_TEST (test_hostile_input)
{
  TestCluster *c = test_cluster_new (3, TRUE);
  int leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
  ck_assert_int_ge (leader, 0);
  g_autoptr (GBytes) one = test_random_bytes (1000, 9);
  guint64 kept = put_ok (c, "keep.bin", one, "hostile", 1);

  /* Random bytes, after a valid handshake. */
  g_autoptr (GBytes) noise = test_random_bytes (4096, 77);
  send_raw_and_close (c, (guint) leader, g_bytes_get_data (noise, NULL), 4096);
  /* A header over 64 KiB with no newline. */
  gsize big = 70 * 1024;
  g_autofree char *huge = g_malloc (big);
  memset (huge, 'a', big);
  huge[0] = '{';
  send_raw_and_close (c, (guint) leader, huge, big);
  /* A body longer than announced: the extra bytes are not a frame. */
  const char *longer = "{\"type\":\"STATUS\",\"id\":1,\"body\":4}\nABCDEFGH-not-a-frame\n";
  send_raw_and_close (c, (guint) leader, longer, strlen (longer));
  /* A truncated frame, then the client goes away. */
  const char *truncated = "{\"type\":\"PUT_DATA\",\"upload\":1,\"body\":100}\nshort";
  TestWorker *lw = c->workers->pdata[leader];
  TestConn *conn = test_conn_new (lw->port, c->key, NULL);
  test_conn_send_raw (conn, truncated, strlen (truncated), NULL);
  test_conn_free (conn);

  /* A wrong key and no key are refused. */
  GError *error = NULL;
  g_autoptr (GBytes) wrong = g_bytes_new_static ("0123456789abcdef0123456789abcdef", 32);
  ck_assert_ptr_null (test_conn_new (lw->port, wrong, &error));
  g_clear_error (&error);
  ck_assert_ptr_null (test_conn_new (lw->port, NULL, &error));
  g_clear_error (&error);

  /* Path-like and NUL names, unknown IDs, malformed requests: error frames. */
  conn = test_conn_new (lw->port, c->key, &error);
  ck_assert_ptr_nonnull (conn);
  const char *names[] = { "../../etc/passwd", "a\x01" "b", "", "..", "dir/x" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (JsonObject) req = minka_frame_header_new ("PUT_BEGIN");
      json_object_set_string_member (req, "name", names[i]);
      json_object_set_int_member (req, "size", 1);
      g_autoptr (MinkaFrame) reply = test_conn_request (conn, req, NULL, &error);
      ck_assert_ptr_nonnull (reply);
      ck_assert_str_eq (minka_frame_get_frame_type (reply), "ERROR");
      ck_assert_str_eq (json_object_get_string_member (reply->header, "code"), "bad_name");
    }
  const char *nul_name = "{\"type\":\"PUT_BEGIN\",\"id\":99,\"name\":\"x\\u0000y\",\"size\":1}\n";
  test_conn_send_raw (conn, nul_name, strlen (nul_name), NULL);
  g_autoptr (MinkaFrame) nul_reply = test_conn_read (conn, NULL);
  ck_assert (nul_reply == NULL || strcmp (minka_frame_get_frame_type (nul_reply), "ERROR") == 0);
  test_conn_free (conn);

  conn = test_conn_new (lw->port, c->key, &error);
  const char *bad_requests[][2] = { { "GET", "file" }, { "DELETE", "file" }, { "EXPLODE", NULL },
                                    { "PUT_DATA", "upload" }, { "PUT_END", "upload" } };
  for (guint i = 0; i < G_N_ELEMENTS (bad_requests); i++)
    {
      g_autoptr (JsonObject) req = minka_frame_header_new (bad_requests[i][0]);
      if (bad_requests[i][1])
        json_object_set_int_member (req, bad_requests[i][1], 123456789);
      g_autoptr (MinkaFrame) reply = test_conn_request (conn, req, NULL, &error);
      ck_assert_msg (reply != NULL, "%s: %s", bad_requests[i][0], error ? error->message : "");
      ck_assert_str_eq (minka_frame_get_frame_type (reply), "ERROR");
    }
  test_conn_free (conn);

  /* Handshakes whose members have the wrong JSON types, before any key is
   * checked: refused, and nothing logs a critical (fatal under the tests). */
  const char *const hellos[] = {
    "{\"type\":\"HELLO\",\"role\":[\"client\"],\"version\":1,\"nonce\":\"00\"}\n",
    "{\"type\":\"HELLO\",\"role\":\"client\",\"version\":{},\"nonce\":[1]}\n",
    "{\"type\":\"HELLO\",\"role\":{\"a\":1},\"version\":[1],\"nonce\":null}\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (hellos); i++)
    {
      g_autoptr (GSocketClient) client = g_socket_client_new ();
      g_socket_client_set_timeout (client, 20);
      g_autoptr (GSocketConnection) raw =
        g_socket_client_connect_to_host (client, "127.0.0.1", lw->port, NULL, &error);
      ck_assert_msg (raw != NULL, "%s", error ? error->message : "");
      GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (raw));
      ck_assert (g_output_stream_write_all (out, hellos[i], strlen (hellos[i]), NULL, NULL, NULL));
      /* An ERROR frame, then the worker closes (end of stream, not a timeout). */
      GString *answer = g_string_new (NULL);
      char buf[4096];
      gssize n;
      GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (raw));
      while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, &error)) > 0)
        g_string_append_len (answer, buf, n);
      ck_assert_msg (n == 0, "HELLO %u: %s", i, error ? error->message : "");
      ck_assert_msg (strstr (answer->str, "\"type\":\"ERROR\"") != NULL, "HELLO %u: %s", i,
                     answer->str);
      g_string_free (answer, TRUE);
    }

  for (guint w = 0; w < 3; w++)
    check_alive (c, w, kept, 1);
  test_cluster_free (c);
}
END_TEST

/* ---- one-frame uploads: PUT_BEGIN with sha256 and the whole content ---- */

/* A PUT_BEGIN to the leader (found again after NOT_LEADER / unavailable).
 * @sha256 NULL: none; @body NULL: none. */
static MinkaFrame *
one_frame_put (TestCluster *c, const char *name, gint64 size, const char *client,
               gint64 seq, const char *sha256, GBytes *body)
{
  GError *error = NULL;
  for (guint attempt = 0; attempt < 100; attempt++)
    {
      int leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
      ck_assert_int_ge (leader, 0);
      TestWorker *lw = c->workers->pdata[leader];
      TestConn *conn = test_conn_new (lw->port, c->key, &error);
      ck_assert_msg (conn != NULL, "%s", error ? error->message : "");
      g_autoptr (JsonObject) req = minka_frame_header_new ("PUT_BEGIN");
      json_object_set_string_member (req, "name", name);
      json_object_set_int_member (req, "size", size);
      json_object_set_string_member (req, "client", client);
      json_object_set_int_member (req, "seq", seq);
      if (sha256)
        json_object_set_string_member (req, "sha256", sha256);
      MinkaFrame *reply = test_conn_request (conn, req, body, &error);
      test_conn_free (conn);
      ck_assert_msg (reply != NULL, "PUT_BEGIN %s: %s", name, error ? error->message : "");
      const char *type = minka_frame_get_frame_type (reply);
      const char *code = json_object_get_string_member_with_default (reply->header, "code", "");
      if (strcmp (type, "NOT_LEADER") != 0
          && !(strcmp (type, "ERROR") == 0 && strcmp (code, "unavailable") == 0))
        return reply;
      minka_frame_free (reply);
      g_usleep (50000);
    }
  ck_abort_msg ("no leader took PUT_BEGIN %s", name);
  return NULL;
}

static void
check_error_code (MinkaFrame *reply, const char *code, const char *what)
{
  ck_assert_msg (strcmp (minka_frame_get_frame_type (reply), "ERROR") == 0,
                 "%s: got %s", what, minka_frame_get_frame_type (reply));
  ck_assert_msg (strcmp (json_object_get_string_member (reply->header, "code"), code) == 0,
                 "%s: got code %s (%s)", what, json_object_get_string_member (reply->header, "code"),
                 json_object_get_string_member_with_default (reply->header, "message", ""));
}

/* Downloads file @id from worker @w, retrying while it is being stored. */
static GBytes *
get_eventually (TestCluster *c, guint w, guint64 id)
{
  GError *error = NULL;
  for (guint attempt = 0; attempt < 100; attempt++)
    {
      GBytes *got = test_cluster_get (c, w, id, &error);
      if (got)
        return got;
      g_clear_error (&error);
      g_usleep (50000);
    }
  ck_abort_msg ("w%u never served file %" G_GUINT64_FORMAT, w + 1, id);
  return NULL;
}

static GAsyncResult *one_frame_result;

static void
on_one_frame_put (GObject *source, GAsyncResult *result, gpointer data)
{
  one_frame_result = g_object_ref (result);
}

START_TEST (test_one_frame_uploads)
{
  TestCluster *c = test_cluster_new (3, FALSE);
  int leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
  ck_assert_int_ge (leader, 0);
  guint64 max_index = 0;

  /* 0 B, 1 B and 64 KiB: answered PUT_OK at once (no PUT_READY). */
  const gsize sizes[] = { 0, 1, 65536 };
  guint64 ids[G_N_ELEMENTS (sizes)];
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) data = test_random_bytes (sizes[i], 100 + i);
      g_autofree char *sha = test_sha256_hex (data);
      g_autofree char *name = g_strdup_printf ("one-%u.bin", i);
      g_autoptr (MinkaFrame) reply = one_frame_put (c, name, (gint64) sizes[i], "one-frame-lane",
                                                    i + 1, sha, data);
      ck_assert_str_eq (minka_frame_get_frame_type (reply), "PUT_OK");
      JsonObject *file = json_object_get_object_member (reply->header, "file");
      ck_assert_str_eq (json_object_get_string_member (file, "sha256"), sha);
      ck_assert_int_eq (json_object_get_int_member (file, "size"), (gint64) sizes[i]);
      ids[i] = (guint64) json_object_get_int_member (file, "id");
      max_index = MAX (max_index, (guint64) json_object_get_int_member (reply->header, "index"));
      leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
      g_autoptr (GBytes) got = get_eventually (c, (guint) leader, ids[i]);
      ck_assert (g_bytes_equal (got, data));
    }

  /* The last write again (same client/seq, a new connection, as a client
   * retries after a lost PUT_OK): the same file, stored once. */
  g_autoptr (GBytes) last = test_random_bytes (65536, 102);
  g_autofree char *last_sha = test_sha256_hex (last);
  g_autoptr (MinkaFrame) again = one_frame_put (c, "one-2.bin", 65536, "one-frame-lane", 3,
                                                last_sha, last);
  ck_assert_msg (strcmp (minka_frame_get_frame_type (again), "PUT_OK") == 0, "retry: %s %s",
                 minka_frame_get_frame_type (again),
                 json_object_get_string_member_with_default (again->header, "message", ""));
  ck_assert_uint_eq ((guint64) json_object_get_int_member (
                       json_object_get_object_member (again->header, "file"), "id"), ids[2]);

  /* Bad one-frame requests: error frames. */
  g_autoptr (GBytes) five = test_random_bytes (5, 7);
  g_autofree char *five_sha = test_sha256_hex (five);
  g_autoptr (GBytes) big = test_random_bytes (65537, 8);
  g_autofree char *big_sha = test_sha256_hex (big);
  struct {
    const char *what, *name;
    gint64 size;
    const char *sha;
    GBytes *body;
    const char *code;
  } bad[] = {
    { "body shorter than size", "b1", 10, five_sha, five, "bad_request" },
    { "body without sha256", "b2", 5, NULL, five, "bad_request" },
    { "wrong sha256", "b3", 5, last_sha, five, "checksum" },
    { "over 64 KiB with a body", "b4", 65537, big_sha, big, "bad_request" },
    { "malformed sha256", "b5", 5, "not-a-sha", five, "bad_request" },
    { "sha256 but no body", "b6", 3, five_sha, NULL, "bad_request" },
    { "bad name", "../b7", 5, five_sha, five, "bad_name" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (MinkaFrame) reply = one_frame_put (c, bad[i].name, bad[i].size, "one-frame-bad",
                                                    100 + i, bad[i].sha, bad[i].body);
      check_error_code (reply, bad[i].code, bad[i].what);
    }

  /* A follower answers NOT_LEADER. */
  leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
  TestWorker *follower = c->workers->pdata[(leader + 1) % 3];
  GError *error = NULL;
  TestConn *conn = test_conn_new (follower->port, c->key, &error);
  ck_assert_ptr_nonnull (conn);
  g_autoptr (JsonObject) req = minka_frame_header_new ("PUT_BEGIN");
  json_object_set_string_member (req, "name", "f.bin");
  json_object_set_int_member (req, "size", 5);
  json_object_set_string_member (req, "client", "one-frame-follower");
  json_object_set_int_member (req, "seq", 1);
  json_object_set_string_member (req, "sha256", five_sha);
  g_autoptr (MinkaFrame) redirected = test_conn_request (conn, req, five, &error);
  ck_assert_ptr_nonnull (redirected);
  ck_assert_str_eq (minka_frame_get_frame_type (redirected), "NOT_LEADER");
  test_conn_free (conn);

  /* Through the client library: up to 64 KiB in one frame, 64 KiB + 1
   * streamed; all stored. */
  g_autoptr (GPtrArray) addresses = g_ptr_array_new_with_free_func (g_free);
  for (guint w = 0; w < 3; w++)
    g_ptr_array_add (addresses, g_strdup_printf ("127.0.0.1:%u",
                                                 ((TestWorker *) c->workers->pdata[w])->port));
  g_ptr_array_add (addresses, NULL);
  MinkaClient *client = minka_client_new ((const char *const *) addresses->pdata, c->key);
  const gsize client_sizes[] = { 0, 1, 65536, 65537 };
  for (guint i = 0; i < G_N_ELEMENTS (client_sizes); i++)
    {
      g_autoptr (GBytes) data = test_random_bytes (client_sizes[i], 200 + i);
      g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_bytes (data);
      g_autofree char *name = g_strdup_printf ("client-%u.bin", i);
      minka_client_put_stream_async (client, stream, client_sizes[i], name, NULL, NULL, NULL,
                                     on_one_frame_put, NULL);
      while (one_frame_result == NULL)
        g_main_context_iteration (NULL, TRUE);
      g_autoptr (GAsyncResult) result = g_steal_pointer (&one_frame_result);
      g_autoptr (MinkaFileInfo) info = minka_client_put_finish (client, result, &error);
      ck_assert_msg (info != NULL, "client put of %" G_GSIZE_FORMAT " bytes: %s",
                     client_sizes[i], error ? error->message : "");
      g_autofree char *sha = test_sha256_hex (data);
      ck_assert_str_eq (info->sha256, sha);
      max_index = MAX (max_index, info->id);
      leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
      g_autoptr (GBytes) got = get_eventually (c, (guint) leader, info->id);
      ck_assert (g_bytes_equal (got, data));
    }
  g_object_unref (client);

  /* Every worker is up and lists 7 files: nothing duplicated. */
  for (guint w = 0; w < 3; w++)
    check_alive (c, w, max_index, 7);
  test_cluster_free (c);
}
END_TEST

static gint64
status_blob_bytes (TestCluster *c, guint w)
{
  g_autoptr (JsonObject) st = test_cluster_status (c, w);
  return st ? json_object_get_int_member_with_default (st, "blob_bytes", -1) : -1;
}

/* A small file deleted right after it was stored — while its lazy write is
 * still queued — must not stay on any disk. */
START_TEST (test_delete_right_after_put)
{
  /* A slow disk keeps each write queued well past the delete. */
  TestCluster *c = test_cluster_new_full (3, FALSE, "--test-slow-disk-ms=30");
  ck_assert_int_ge (test_cluster_wait_leader (c, LEADER_TIMEOUT_MS), 0);
  g_autoptr (GBytes) keep = test_random_bytes (3000, 77);
  g_autoptr (GError) error = NULL;
  ck_assert (test_cluster_put (c, "keep.bin", keep, "deleter", 1, 10000, &error) != 0);
  guint64 seq = 2;
  for (guint i = 0; i < 40; i++)
    {
      g_autoptr (GBytes) data = test_random_bytes (1000 + i * 100, 1000 + i);
      guint64 id = test_cluster_put (c, "gone.bin", data, "deleter", seq++, 10000, &error);
      ck_assert_msg (id != 0, "%s", error ? error->message : "");
      g_autoptr (JsonObject) del = minka_frame_header_new ("DELETE");
      json_object_set_int_member (del, "file", (gint64) id);
      json_object_set_string_member (del, "client", "deleter");
      json_object_set_int_member (del, "seq", (gint64) seq++);
      g_autoptr (MinkaFrame) reply = test_cluster_leader_request (c, del, 10000, &error);
      ck_assert_msg (reply != NULL, "%s", error ? error->message : "");
      ck_assert_str_eq (minka_frame_get_frame_type (reply), "DELETE_OK");
    }
  /* Only keep.bin's bytes remain everywhere (polled: a delete lands after
   * its queued write). */
  for (guint w = 0; w < 3; w++)
    {
      gint64 bytes = -1;
      for (guint tries = 0; tries < 50 && bytes != 3000; tries++)
        {
          g_usleep (200 * 1000);
          bytes = status_blob_bytes (c, w);
        }
      ck_assert_msg (bytes == 3000, "w%u keeps %" G_GINT64_FORMAT " blob bytes", w + 1, bytes);
    }
  test_cluster_free (c);
}
END_TEST

/* Plants a blob no catalog entry names in worker @w's store, as an
 * upload abandoned after its blob was stored would leave it. */
static char *
plant_orphan (TestCluster *c, guint w, GBytes *data)
{
  TestWorker *worker = c->workers->pdata[w];
  g_autofree char *sha = test_sha256_hex (data);
  char shard[3] = { sha[0], sha[1], '\0' };
  g_autofree char *dir = g_build_filename (worker->data_dir, "store", "blobs", "sha256", shard, NULL);
  char *path = g_build_filename (dir, sha + 2, NULL);
  ck_assert_int_eq (g_mkdir_with_parents (dir, 0700), 0);
  ck_assert (g_file_set_contents (path, g_bytes_get_data (data, NULL),
                                  (gssize) g_bytes_get_size (data), NULL));
  return path;
}

/* Orphaned blobs are collected on every worker after two sweeps, while
 * files stored before, during and after the sweeps stay whole. */
START_TEST (test_orphans_collected)
{
  TestCluster *c = test_cluster_new_full (3, FALSE, "--test-gc-interval-ms=400");
  ck_assert_int_ge (test_cluster_wait_leader (c, LEADER_TIMEOUT_MS), 0);
  g_autoptr (GBytes) orphan_big = test_random_bytes (200000, 91);
  g_autoptr (GBytes) orphan_small = test_random_bytes (500, 92);
  g_autoptr (GPtrArray) orphans = g_ptr_array_new_with_free_func (g_free);
  /* Planted while the worker is down, as a crash would leave them (the
   * store counts its bytes when it opens). */
  for (guint w = 0; w < 3; w++)
    {
      test_cluster_kill (c, w);
      g_ptr_array_add (orphans, plant_orphan (c, w, orphan_big));
      g_ptr_array_add (orphans, plant_orphan (c, w, orphan_small));
      test_cluster_start (c, w);
    }
  ck_assert_int_ge (test_cluster_wait_leader (c, LEADER_TIMEOUT_MS), 0);
  /* Files stored while the collector runs: streamed and inline. */
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  guint64 ids[8];
  gint64 total = 0;
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      GBytes *data = test_random_bytes (i % 2 ? 300000 + i : 2000 + i, 200 + i);
      g_autofree char *name = g_strdup_printf ("kept-%u.bin", i);
      ids[i] = put_ok (c, name, data, "gc", i + 1);
      total += (gint64) g_bytes_get_size (data);
      g_ptr_array_add (files, data);
      g_usleep (150 * 1000);
    }
  for (guint k = 0; k < orphans->len; k++)
    {
      gboolean gone = FALSE;
      for (guint tries = 0; tries < 100 && !gone; tries++)
        {
          gone = !g_file_test (orphans->pdata[k], G_FILE_TEST_EXISTS);
          if (!gone)
            g_usleep (100 * 1000);
        }
      ck_assert_msg (gone, "orphan %s was not collected", (char *) orphans->pdata[k]);
    }
  g_usleep (1500 * 1000);                   /* a few more sweeps */
  for (guint w = 0; w < 3; w++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (GBytes) back = test_cluster_get (c, w, ids[i], &error);
          ck_assert_msg (back != NULL, "w%u file %u: %s", w + 1, i, error ? error->message : "");
          ck_assert (g_bytes_equal (back, files->pdata[i]));
        }
      gint64 bytes = -1;
      for (guint tries = 0; tries < 20 && bytes != total; tries++)
        {
          g_usleep (200 * 1000);
          bytes = status_blob_bytes (c, w);
        }
      ck_assert_msg (bytes == total, "w%u keeps %" G_GINT64_FORMAT " blob bytes, not %"
                     G_GINT64_FORMAT, w + 1, bytes, total);
    }
  test_cluster_free (c);
}
END_TEST

/* ---- random requests ---- */

/* A JSON value of a random kind, with the edge cases a parser trips on. */
static JsonNode *
random_json_value (GRand *rand)
{
  static const gint64 ints[] = { 0, 1, -1, 2, 7, 100, 65536, G_MAXINT32, G_MININT32,
                                 (gint64) 1 << 53, G_MAXINT64, G_MININT64 };
  static const double doubles[] = { 0.5, -0.0, 1e300, -1e300, 3.0 };
  static const char *const strings[] = { "", "x", "keep.bin", "../x", "a/b", "..",
                                         "\xc3\xa9", "client-1", "0123456789abcdef" };
  JsonNode *node = json_node_new (JSON_NODE_VALUE);
  switch (g_rand_int_range (rand, 0, 8))
    {
    case 0:
      json_node_set_int (node, ints[g_rand_int_range (rand, 0, G_N_ELEMENTS (ints))]);
      break;
    case 1:
      json_node_set_int (node, g_rand_int_range (rand, -5, 50));
      break;
    case 2:
      json_node_set_double (node, doubles[g_rand_int_range (rand, 0, G_N_ELEMENTS (doubles))]);
      break;
    case 3:
      json_node_set_string (node, strings[g_rand_int_range (rand, 0, G_N_ELEMENTS (strings))]);
      break;
    case 4:
      {
        g_autofree char *long_text = g_strnfill (g_rand_int_range (rand, 1, 5000), 'n');
        json_node_set_string (node, long_text);
        break;
      }
    case 5:
      json_node_set_boolean (node, g_rand_boolean (rand));
      break;
    case 6:
      json_node_init_null (node);
      break;
    default:
      {
        JsonArray *arr = json_array_new ();
        json_array_add_int_element (arr, 1);
        json_array_add_string_element (arr, "a");
        json_node_init_array (node, arr);
        json_array_unref (arr);
        break;
      }
    }
  return node;
}

/* A request of a client frame type (or an unknown one) whose members are
 * taken at random from the names the worker reads. */
static JsonObject *
random_request (GRand *rand)
{
  static const char *const types[] = { "STATUS", "LIST", "GET", "DELETE", "PUT_BEGIN", "PUT_DATA",
                                       "PUT_END", "CLUSTER_ADD", "CLUSTER_REMOVE", "RAFT",
                                       "HELLO", "AUTH", "NOPE" };
  static const char *const members[] = { "id", "name", "size", "file", "upload", "client", "seq",
                                         "after", "limit", "min_index", "index", "digest",
                                         "sha256", "offset", "channel", "node", "address" };
  JsonObject *req = minka_frame_header_new (types[g_rand_int_range (rand, 0, G_N_ELEMENTS (types))]);
  guint n = g_rand_int_range (rand, 0, 6);
  for (guint i = 0; i < n; i++)
    json_object_set_member (req, members[g_rand_int_range (rand, 0, G_N_ELEMENTS (members))],
                            random_json_value (rand));
  return req;
}

/* Sends STATUS under @id (no random request uses ids that large) and
 * reads until its answer; FALSE if the connection ends first. */
static gboolean
status_answered (TestConn *conn, gint64 id)
{
  g_autoptr (JsonObject) status = minka_frame_header_new ("STATUS");
  json_object_set_int_member (status, "id", id);
  if (!test_conn_send (conn, status, NULL, NULL))
    return FALSE;
  for (;;)
    {
      g_autoptr (MinkaFrame) frame = test_conn_read (conn, NULL);
      if (!frame)
        return FALSE;
      if (minka_frame_get_id (frame) == id
          && strcmp (minka_frame_get_frame_type (frame), "STATUS_OK") == 0)
        return TRUE;
    }
}

/* Sends @count random requests to worker @w, each followed by a STATUS
 * that must be answered (reconnecting when the worker closed the link, as
 * it may after a protocol error). Returns the number of reconnections. */
static guint
send_random_requests (TestCluster *c, guint w, GRand *rand, guint count)
{
  TestWorker *worker = c->workers->pdata[w];
  GError *error = NULL;
  TestConn *conn = test_conn_new (worker->port, c->key, &error);
  ck_assert_msg (conn != NULL, "w%u: %s", w + 1, error ? error->message : "");
  guint reconnects = 0;
  for (guint i = 0; i < count; i++)
    {
      g_autoptr (JsonObject) req = random_request (rand);
      g_autoptr (GBytes) body = g_rand_int_range (rand, 0, 3) == 0
                                  ? test_random_bytes (g_rand_int_range (rand, 0, 3000), i) : NULL;
      if (test_conn_send (conn, req, body, NULL)
          && status_answered (conn, ((gint64) 1 << 40) + i))
        continue;
      test_conn_free (conn);
      conn = test_conn_new (worker->port, c->key, &error);
      ck_assert_msg (conn != NULL, "w%u no longer answers after request %u (%s): %s", w + 1, i,
                     json_object_get_string_member (req, "type"),
                     error ? error->message : "");
      reconnects++;
    }
  test_conn_free (conn);
  return reconnects;
}

/* Thousands of well-formed frames with nonsense in them, to the leader and
 * to a follower: every one is answered or ends its connection, the workers
 * stay up, and the three still agree afterwards. The seed is fixed so a
 * failure can be replayed; MINKA_RANDOM_REQUESTS_SEED and _COUNT (per
 * worker) explore further. */
START_TEST (test_random_requests)
{
  TestCluster *c = test_cluster_new (3, TRUE);
  int leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
  ck_assert_int_ge (leader, 0);
  g_autoptr (GBytes) data = test_random_bytes (2000, 5);
  put_ok (c, "before.bin", data, "random-requests", 1);

  const char *seed_env = g_getenv ("MINKA_RANDOM_REQUESTS_SEED");
  const char *count_env = g_getenv ("MINKA_RANDOM_REQUESTS_COUNT");
  guint32 seed = seed_env ? (guint32) g_ascii_strtoull (seed_env, NULL, 10) : 20261206;
  guint count = count_env ? (guint) g_ascii_strtoull (count_env, NULL, 10) : 1500;
  GRand *rand = g_rand_new_with_seed (seed);
  guint follower = ((guint) leader + 1) % 3;
  guint reconnects = send_random_requests (c, (guint) leader, rand, count)
                     + send_random_requests (c, follower, rand, count);
  g_rand_free (rand);
  g_printerr ("random requests (seed %u, %u per worker): %u reconnections\n", seed, count,
              reconnects);

  /* Still a working cluster: a new upload commits everywhere, and every
   * worker has the same catalog. */
  guint64 last = put_ok (c, "after.bin", data, "random-requests", 2);
  g_autofree char *digest0 = NULL;
  for (guint w = 0; w < 3; w++)
    {
      g_autofree char *digest = NULL;
      GError *error = NULL;
      g_autoptr (JsonArray) files = test_cluster_list (c, w, last, &digest, &error);
      ck_assert_msg (files != NULL, "w%u: %s", w + 1, error ? error->message : "");
      if (!digest0)
        digest0 = g_strdup (digest);
      ck_assert_str_eq (digest, digest0);
    }
  test_cluster_free (c);
}
END_TEST

/* The value of the sample @name (no labels) or @name{@labels} in @text. */
static gboolean
metric_value (const char *text, const char *series, double *value)
{
  g_autofree char *needle = g_strconcat ("\n", series, " ", NULL);
  const char *at = strstr (text, needle);
  if (!at)
    return FALSE;
  *value = g_ascii_strtod (at + strlen (needle), NULL);
  return TRUE;
}

static double
metric_expect (const char *text, guint w, const char *series)
{
  double value = 0;
  ck_assert_msg (metric_value (text, series, &value), "w%u: no sample %s", w + 1, series);
  return value;
}

/* Polls worker @w's /metrics until @series is @want (some figures follow
 * work done on other threads, e.g. lazy blob writes); returns that text. */
static char *
wait_metric (TestCluster *c, guint w, const char *series, double want)
{
  double value = NAN;
  for (guint attempt = 0; attempt < 200; attempt++)
    {
      GError *error = NULL;
      char *text = test_cluster_monitor_get (c, w, "/metrics", &error);
      ck_assert_msg (text != NULL, "w%u: %s", w + 1, error ? error->message : "");
      value = metric_expect (text, w, series);
      if (value == want)
        return text;
      g_free (text);
      g_usleep (50000);
    }
  ck_abort_msg ("w%u: %s stayed %g, not %g", w + 1, series, value, want);
  return NULL;
}

/* A live worker's /metrics has every family docs/monitor.md lists, with
 * values that agree with what the cluster did; without the token it is 401. */
START_TEST (test_live_metrics)
{
  static const struct { const char *name, *type; } families[] = {
    { "minka_raft_term", "gauge" }, { "minka_raft_role", "gauge" },
    { "minka_raft_commit_index", "gauge" }, { "minka_raft_applied_index", "gauge" },
    { "minka_raft_last_index", "gauge" }, { "minka_raft_proposals_total", "counter" },
    { "minka_raft_commits_total", "counter" }, { "minka_raft_elections_total", "counter" },
    { "minka_raft_append_latency_seconds", "histogram" },
    { "minka_storage_fsync_latency_seconds", "histogram" },
    { "minka_storage_fsyncs_total", "counter" }, { "minka_storage_log_bytes", "gauge" },
    { "minka_storage_spare_bytes", "gauge" }, { "minka_net_bytes_in_total", "counter" },
    { "minka_net_bytes_out_total", "counter" }, { "minka_requests_total", "counter" },
    { "minka_files", "gauge" }, { "minka_blob_bytes", "gauge" }, { "minka_connections", "gauge" },
    { "minka_uploads_in_progress", "gauge" },
    { "minka_process_rss_bytes", "gauge" }, { "minka_gc_deleted_blobs_total", "counter" },
  };
  TestCluster *c = test_cluster_new (3, TRUE);
  int leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
  ck_assert_int_ge (leader, 0);
  guint64 last = 0;
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GBytes) data = test_random_bytes (5000, 300 + i);
      g_autofree char *name = g_strdup_printf ("metrics-%u.bin", i);
      GError *error = NULL;
      last = test_cluster_put (c, name, data, "metrics-test", i + 1, PUT_TIMEOUT_MS, &error);
      ck_assert_msg (last > 0, "%s", error ? error->message : "");
    }

  for (guint w = 0; w < 3; w++)
    {
      g_autoptr (JsonArray) files = test_cluster_list (c, w, last, NULL, NULL);
      ck_assert_ptr_nonnull (files);
      g_autofree char *text = wait_metric (c, w, "minka_blob_bytes", 3 * 5000);
      for (guint f = 0; f < G_N_ELEMENTS (families); f++)
        {
          g_autofree char *type_line = g_strdup_printf ("# TYPE %s %s\n", families[f].name,
                                                        families[f].type);
          ck_assert_msg (strstr (text, type_line) != NULL, "w%u: no %s", w + 1, type_line);
        }
      const char *role = (int) w == leader ? "leader" : "follower";
      g_autofree char *role_series = g_strdup_printf ("minka_raft_role{role=\"%s\"}", role);
      ck_assert (metric_expect (text, w, role_series) == 1);
      ck_assert (metric_expect (text, w, "minka_files") == 3);
      ck_assert (metric_expect (text, w, "minka_raft_applied_index") >= (double) last);
      ck_assert (metric_expect (text, w, "minka_storage_fsyncs_total") > 0);
      ck_assert (metric_expect (text, w, "minka_storage_log_bytes") > 0);
      ck_assert (metric_expect (text, w, "minka_process_rss_bytes") > 0);
      if ((int) w == leader)
        ck_assert (metric_expect (text, w, "minka_net_bytes_in_total") == 3 * 5000);
    }

  GBytes *key = c->key;
  c->key = NULL;
  GError *error = NULL;
  g_autofree char *denied = test_cluster_monitor_get (c, 0, "/metrics", &error);
  c->key = key;
  ck_assert_ptr_null (denied);
  ck_assert_msg (strstr (error->message, " 401") != NULL, "%s", error->message);
  g_error_free (error);
  test_cluster_free (c);
}
END_TEST

/* One connection can have at most 256 uploads begun and not ended: the
 * next PUT_BEGIN is "busy" (clients retry). Closing the connection ends
 * them all: the worker's count of uploads in progress goes back to 0. */
START_TEST (test_upload_limit)
{
  TestCluster *c = test_cluster_new (3, TRUE);
  int leader = test_cluster_wait_leader (c, LEADER_TIMEOUT_MS);
  ck_assert_int_ge (leader, 0);
  TestWorker *lw = c->workers->pdata[leader];
  GError *error = NULL;
  TestConn *conn = test_conn_new (lw->port, c->key, &error);
  ck_assert_msg (conn != NULL, "%s", error ? error->message : "");
  guint begun = 0;
  for (; begun <= 300; begun++)
    {
      g_autoptr (JsonObject) req = minka_frame_header_new ("PUT_BEGIN");
      g_autofree char *name = g_strdup_printf ("open-%u.bin", begun);
      json_object_set_string_member (req, "name", name);
      json_object_set_int_member (req, "size", begun % 2 ? 100 : 1 << 20);   /* buffer or file */
      g_autoptr (MinkaFrame) reply = test_conn_request (conn, req, NULL, &error);
      ck_assert_msg (reply != NULL, "%s", error ? error->message : "");
      if (strcmp (minka_frame_get_frame_type (reply), "PUT_READY") != 0)
        {
          ck_assert_str_eq (minka_frame_get_frame_type (reply), "ERROR");
          ck_assert_str_eq (json_object_get_string_member (reply->header, "code"), "busy");
          break;
        }
    }
  ck_assert_uint_eq (begun, 256);
  g_free (wait_metric (c, (guint) leader, "minka_uploads_in_progress", 256));
  test_conn_free (conn);
  g_free (wait_metric (c, (guint) leader, "minka_uploads_in_progress", 0));

  g_autoptr (GBytes) data = test_random_bytes (3000, 8);
  put_ok (c, "after-limit.bin", data, "upload-limit", 1);
  test_cluster_free (c);
}
END_TEST

/* One test case each, so one can be run alone: CK_RUN_CASE=wipe_join_remove. */
static void
add_case (Suite *s, const char *name, const TTest *test)
{
  TCase *tc = tcase_create (name);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test);
  suite_add_tcase (s, tc);
}

int
main (void)
{
  Suite *s = suite_create ("cluster");
  add_case (s, "round_trips", test_round_trips);
  add_case (s, "leader_crash_during_puts", test_leader_crash_during_puts);
  add_case (s, "full_restart", test_full_restart);
  add_case (s, "wipe_join_remove", test_wipe_join_remove);
  add_case (s, "hostile_input", test_hostile_input);
  add_case (s, "one_frame_uploads", test_one_frame_uploads);
  add_case (s, "delete_right_after_put", test_delete_right_after_put);
  add_case (s, "orphans_collected", test_orphans_collected);
  add_case (s, "live_metrics", test_live_metrics);
  add_case (s, "random_requests", test_random_requests);
  add_case (s, "upload_limit", test_upload_limit);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
