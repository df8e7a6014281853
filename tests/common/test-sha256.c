/* test-sha256.c — SHA-256 against the FIPS 180-4 examples and against
 * GChecksum for every length around the block boundaries and random
 * splits, for both the portable and the SHA-extension block functions. */
#include <check.h>
#include <string.h>

#include "minka-sha256.h"

static char *
reference (const guint8 *data, gsize len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
}

static void
check_known (void)
{
  g_autofree char *empty = minka_sha256_hex ("", 0);
  /* Empty updates with no buffer at all (an empty GBytes) are no-ops. */
  MinkaSha256 nothing;
  char nothing_hex[MINKA_SHA256_HEX_LEN + 1];
  minka_sha256_init (&nothing);
  minka_sha256_update (&nothing, NULL, 0);
  minka_sha256_update (&nothing, "a", 1);
  minka_sha256_update (&nothing, NULL, 0);
  minka_sha256_finish_hex (&nothing, nothing_hex);
  ck_assert_str_eq (nothing_hex, "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
  ck_assert_str_eq (empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  g_autofree char *abc = minka_sha256_hex ("abc", 3);
  ck_assert_str_eq (abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  g_autofree char *two_hex = minka_sha256_hex (two, strlen (two));
  ck_assert_str_eq (two_hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

  /* One million 'a', fed in uneven pieces. */
  MinkaSha256 sha;
  char hex[MINKA_SHA256_HEX_LEN + 1];
  g_autofree char *as = g_strnfill (1000, 'a');
  minka_sha256_init (&sha);
  for (int i = 0; i < 1000; i++)
    {
      minka_sha256_update (&sha, as, 333);
      minka_sha256_update (&sha, as, 667);
    }
  minka_sha256_finish_hex (&sha, hex);
  ck_assert_str_eq (hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void
check_against_gchecksum (guint seed)
{
  gsize max = 1100;
  guint8 *data = g_malloc (max);
  GRand *rand = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < max; i++)
    data[i] = (guint8) g_rand_int (rand);

  for (gsize len = 0; len < max; len++)
    {
      g_autofree char *want = reference (data, len);
      g_autofree char *got = minka_sha256_hex (data, len);
      ck_assert_msg (strcmp (want, got) == 0, "length %" G_GSIZE_FORMAT, len);

      /* Same bytes in random pieces. */
      MinkaSha256 sha;
      char hex[MINKA_SHA256_HEX_LEN + 1];
      minka_sha256_init (&sha);
      for (gsize pos = 0; pos < len;)
        {
          gsize step = (gsize) g_rand_int_range (rand, 0, 150);
          gsize n = MIN (step, len - pos);
          minka_sha256_update (&sha, data + pos, n);
          pos += n;
        }
      minka_sha256_finish_hex (&sha, hex);
      ck_assert_str_eq (hex, want);
    }
  g_rand_free (rand);
  g_free (data);
}

START_TEST (test_auto)
{
  minka_sha256_force_portable (FALSE);
  check_known ();
  check_against_gchecksum (1);
}
END_TEST

START_TEST (test_portable)
{
  minka_sha256_force_portable (TRUE);
  ck_assert_str_eq (minka_sha256_implementation (), "portable");
  check_known ();
  check_against_gchecksum (2);
  minka_sha256_force_portable (FALSE);
}
END_TEST

START_TEST (test_large_buffer)
{
  gsize len = 3 * 1024 * 1024 + 17;
  guint8 *data = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (i * 131 + (i >> 9));
  g_autofree char *want = reference (data, len);
  g_autofree char *got = minka_sha256_hex (data, len);
  ck_assert_str_eq (got, want);
  g_free (data);
  /* Which one ran (for the log; both are checked above). */
  g_print ("sha256 implementation: %s\n", minka_sha256_implementation ());
}
END_TEST

static Suite *
sha_suite (void)
{
  Suite *s = suite_create ("sha256");
  TCase *tc = tcase_create ("sha256");
  tcase_add_test (tc, test_auto);
  tcase_add_test (tc, test_portable);
  tcase_add_test (tc, test_large_buffer);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *runner = srunner_create (sha_suite ());
  srunner_run_all (runner, CK_NORMAL);
  int failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}
