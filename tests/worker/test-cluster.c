/* test-cluster.c — real minka-worker processes on 127.0.0.1: round trips,
 * kill -9 of the leader during writes, a full restart, a wiped follower,
 * membership changes, and hostile input. Nothing acknowledged may be lost. */
#include "config.h"
#include <check.h>
#include <string.h>

#include "cluster-harness.h"

#define LEADER_TIMEOUT_MS 5000
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

  for (guint w = 0; w < 3; w++)
    check_alive (c, w, kept, 1);
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
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
