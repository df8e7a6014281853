/* test-raft-types.c — tests of raft-types.c: entry and configuration
 * copies, the configuration encoding and its rejection of bad input. */
#include "raft-types.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static RaftConfig
config_make (void)
{
  RaftConfig c = { 0 };
  c.n_nodes = 3;
  c.ids = g_new0 (RaftNodeId, 3);
  c.addresses = g_new0 (char *, 4);
  c.ids[0] = 1;
  c.ids[1] = 0xffffffffffffULL;
  c.ids[2] = 9;
  c.addresses[0] = g_strdup ("10.0.0.1:7000");
  c.addresses[1] = g_strdup ("");
  c.addresses[2] = g_strdup ("host-é:1");
  return c;
}

START_TEST (test_entry_copy_and_clear)
{
  RaftEntry e = { 3, 7, RAFT_ENTRY_NORMAL, g_bytes_new ("abc", 3) }, c;
  c = raft_entry_copy (&e);
  ck_assert_ptr_eq (c.data, e.data);           /* shares the bytes */
  ck_assert_uint_eq (c.term, 3);
  ck_assert_uint_eq (c.index, 7);
  raft_entry_clear (&e);
  ck_assert_ptr_null (e.data);
  ck_assert_uint_eq (e.index, 0);
  ck_assert_uint_eq (g_bytes_get_size (c.data), 3);
  raft_entry_clear (&c);
  raft_entry_clear (&c);                       /* clearing twice is harmless */
}
END_TEST

START_TEST (test_config_copy_contains)
{
  RaftConfig c = config_make (), d = raft_config_copy (&c);
  ck_assert_uint_eq (d.n_nodes, 3);
  ck_assert (raft_config_contains (&d, 9));
  ck_assert (!raft_config_contains (&d, 2));
  ck_assert_str_eq (d.addresses[0], "10.0.0.1:7000");
  ck_assert_ptr_ne (d.addresses[0], c.addresses[0]);
  raft_config_clear (&c);
  raft_config_clear (&d);
  ck_assert_uint_eq (d.n_nodes, 0);
  ck_assert (!raft_config_contains (&d, 1));
}
END_TEST

START_TEST (test_config_encode_round_trip)
{
  RaftConfig c = config_make (), out;
  GBytes *b = raft_config_encode (&c);
  GError *error = NULL;
  ck_assert (raft_config_decode (b, &out, &error));
  ck_assert_uint_eq (out.n_nodes, 3);
  for (guint i = 0; i < 3; i++)
    {
      ck_assert_uint_eq (out.ids[i], c.ids[i]);
      ck_assert_str_eq (out.addresses[i], c.addresses[i]);
    }
  raft_config_clear (&out);
  g_bytes_unref (b);
  raft_config_clear (&c);
  /* The empty configuration (a node waiting to be added) encodes too. */
  b = raft_config_encode (&c);
  ck_assert (raft_config_decode (b, &out, NULL));
  ck_assert_uint_eq (out.n_nodes, 0);
  raft_config_clear (&out);
  g_bytes_unref (b);
}
END_TEST

START_TEST (test_config_decode_rejects_malformed)
{
  RaftConfig c = config_make (), out;
  GBytes *b = raft_config_encode (&c);
  gsize size;
  const guint8 *p = g_bytes_get_data (b, &size);
  guint8 *longer;
  GBytes *bad;
  static const guint8 huge[] = { 0xff, 0xff, 0xff, 0xff, 1, 2 };

  for (gsize len = 0; len < size; len++)
    {
      GError *error = NULL;
      bad = g_bytes_new (p, len);
      ck_assert (!raft_config_decode (bad, &out, &error));
      ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_CORRUPT));
      ck_assert_uint_eq (out.n_nodes, 0);
      g_error_free (error);
      g_bytes_unref (bad);
    }
  longer = g_malloc (size + 1);
  memcpy (longer, p, size);
  longer[size] = 7;
  bad = g_bytes_new_take (longer, size + 1);
  ck_assert (!raft_config_decode (bad, &out, NULL));       /* trailing byte */
  g_bytes_unref (bad);
  bad = g_bytes_new_static (huge, sizeof huge);
  ck_assert (!raft_config_decode (bad, &out, NULL));       /* absurd count */
  g_bytes_unref (bad);
  ck_assert (!raft_config_decode (NULL, &out, NULL));
  g_bytes_unref (b);
  raft_config_clear (&c);
}
END_TEST

START_TEST (test_snapshot_meta_clear)
{
  RaftSnapshotMeta m = { 10, 2, config_make () };
  raft_snapshot_meta_clear (&m);
  ck_assert_uint_eq (m.index, 0);
  ck_assert_uint_eq (m.term, 0);
  ck_assert_uint_eq (m.config.n_nodes, 0);
  ck_assert_ptr_null (m.config.ids);
  ck_assert (RAFT_ERROR != 0);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("raft-types");
  TCase *tc = tcase_create ("types");
  tcase_add_test (tc, test_entry_copy_and_clear);
  tcase_add_test (tc, test_config_copy_contains);
  tcase_add_test (tc, test_config_encode_round_trip);
  tcase_add_test (tc, test_config_decode_rejects_malformed);
  tcase_add_test (tc, test_snapshot_meta_clear);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (suite ());
  int failed;
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
