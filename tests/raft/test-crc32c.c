/* test-crc32c.c — CRC32-C against published vectors (RFC 3720 B.4 and the
 * classic "123456789" check value), and the table and SSE4.2 paths
 * against each other at every length and alignment. */
#include "config.h"
#include <check.h>
#include <glib.h>
#include <string.h>

#include "raft-crc32c.h"

static void
check_all (const void *data, gsize len, guint32 want)
{
  ck_assert_uint_eq (raft_crc32c (data, len), want);
  ck_assert_uint_eq (raft_crc32c_update_table (0, data, len), want);
  ck_assert_uint_eq (raft_crc32c_update_hw (0, data, len), want);
}

START_TEST (test_check_value)
{
  check_all ("123456789", 9, 0xE3069283u);
  check_all ("", 0, 0);
  check_all ("a", 1, 0xC1D04330u);
}
END_TEST

START_TEST (test_rfc3720_vectors)
{
  guint8 buf[32];
  memset (buf, 0, sizeof buf);
  check_all (buf, 32, 0x8A9136AAu);
  memset (buf, 0xff, sizeof buf);
  check_all (buf, 32, 0x62A8AB43u);
  for (int i = 0; i < 32; i++)
    buf[i] = (guint8) i;
  check_all (buf, 32, 0x46DD794Eu);
  for (int i = 0; i < 32; i++)
    buf[i] = (guint8) (31 - i);
  check_all (buf, 32, 0x113FDB5Cu);
  static const guint8 iscsi_read[48] = {
    0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
    0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  check_all (iscsi_read, sizeof iscsi_read, 0xD9963A56u);
}
END_TEST

/* Bit-at-a-time reference, independent of the tables. */
static guint32
crc_reference (const guint8 *p, gsize len)
{
  guint32 c = 0xFFFFFFFFu;
  for (gsize i = 0; i < len; i++)
    {
      c ^= p[i];
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
  return ~c;
}

START_TEST (test_paths_agree)
{
  GRand *rand = g_rand_new_with_seed (42);
  guint8 buf[600];
  for (gsize i = 0; i < sizeof buf; i++)
    buf[i] = (guint8) g_rand_int (rand);
  for (gsize align = 0; align < 8; align++)
    for (gsize len = 0; len + align <= 520; len++)
      {
        guint32 want = crc_reference (buf + align, len);
        ck_assert_uint_eq (raft_crc32c_update_table (0, buf + align, len), want);
        ck_assert_uint_eq (raft_crc32c_update_hw (0, buf + align, len), want);
      }
  g_rand_free (rand);
}
END_TEST

START_TEST (test_incremental)
{
  guint8 buf[300];
  for (gsize i = 0; i < sizeof buf; i++)
    buf[i] = (guint8) (i * 13 + 5);
  guint32 whole = raft_crc32c (buf, sizeof buf);
  for (gsize cut = 0; cut <= sizeof buf; cut++)
    {
      guint32 c = raft_crc32c_update (0, buf, cut);
      ck_assert_uint_eq (raft_crc32c_update (c, buf + cut, sizeof buf - cut), whole);
      c = raft_crc32c_update_table (0, buf, cut);
      ck_assert_uint_eq (raft_crc32c_update_hw (c, buf + cut, sizeof buf - cut), whole);
    }
}
END_TEST

static Suite *
crc_suite (void)
{
  Suite *s = suite_create ("raft-crc32c");
  TCase *tc = tcase_create ("crc32c");
  tcase_add_test (tc, test_check_value);
  tcase_add_test (tc, test_rfc3720_vectors);
  tcase_add_test (tc, test_paths_agree);
  tcase_add_test (tc, test_incremental);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (crc_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
