/* test-catalog.c — the replicated catalog: apply, exactly-once sessions,
 * determinism of the digest, snapshots and malformed commands. */
#include "config.h"
#include <check.h>
#include <string.h>

#include "minka-catalog.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void
apply_ok (MinkaCatalog *c, guint64 index, GBytes *cmd, guint64 *id_out)
{
  MinkaCatalogResult r;
  minka_catalog_apply (c, index, cmd, &r);
  ck_assert_msg (r.ok, "apply failed: %s", r.error_message);
  if (id_out)
    *id_out = r.file_id;
  minka_catalog_result_clear (&r);
  g_bytes_unref (cmd);
}

static MinkaCatalogError
apply_error (MinkaCatalog *c, guint64 index, GBytes *cmd)
{
  MinkaCatalogResult r;
  minka_catalog_apply (c, index, cmd, &r);
  ck_assert (!r.ok);
  ck_assert_ptr_nonnull (r.error_message);
  MinkaCatalogError code = r.error_code;
  minka_catalog_result_clear (&r);
  g_bytes_unref (cmd);
  return code;
}

static GBytes *
put (const char *client, guint64 seq, const char *name, const char *sha)
{
  guint64 holders[] = { 1, 2 };
  return minka_catalog_command_put_file (client, seq, name, 10, sha, 1700000000000, holders, 2, NULL);
}

START_TEST (test_put_lookup_delete)
{
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  guint64 id = 0, id2 = 0;
  apply_ok (c, 5, put ("c1", 1, "data.csv", SHA_A), &id);
  ck_assert_uint_eq (id, 5);                      /* ID = log index */
  apply_ok (c, 6, put ("c1", 2, "data.csv", SHA_B), &id2);   /* same name: new ID */
  ck_assert_uint_eq (minka_catalog_n_files (c), 2);
  ck_assert_uint_eq (minka_catalog_total_bytes (c), 20);

  const MinkaFileRecord *r = minka_catalog_lookup (c, 5);
  ck_assert_str_eq (r->name, "data.csv");
  ck_assert_str_eq (r->sha256, SHA_A);
  ck_assert_uint_eq (r->holders->len, 2);

  g_autoptr (GPtrArray) same = minka_catalog_find_by_name (c, "data.csv");
  ck_assert_uint_eq (same->len, 2);
  ck_assert_uint_eq (((MinkaFileRecord *) same->pdata[0])->id, 6);   /* newest first */

  ck_assert (minka_catalog_blob_in_use (c, SHA_A));
  apply_ok (c, 7, minka_catalog_command_delete_file ("c1", 3, 5), NULL);
  ck_assert (!minka_catalog_blob_in_use (c, SHA_A));
  ck_assert_ptr_null (minka_catalog_lookup (c, 5));
  ck_assert_uint_eq (apply_error (c, 8, minka_catalog_command_delete_file ("c1", 4, 5)),
                     MINKA_CATALOG_ERROR_NOT_FOUND);
  ck_assert_uint_eq (minka_catalog_applied_index (c), 8);
}
END_TEST

START_TEST (test_retry_is_exactly_once)
{
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  guint64 first = 0, again = 0;
  apply_ok (c, 10, put ("client-x", 7, "a", SHA_A), &first);
  /* The same request committed again after a failover: same ID, no new file. */
  apply_ok (c, 11, put ("client-x", 7, "a", SHA_A), &again);
  ck_assert_uint_eq (first, again);
  ck_assert_uint_eq (minka_catalog_n_files (c), 1);
  /* An older request arriving late is refused, not applied. */
  ck_assert_uint_eq (apply_error (c, 12, put ("client-x", 6, "old", SHA_A)),
                     MINKA_CATALOG_ERROR_STALE);
  ck_assert_uint_eq (minka_catalog_n_files (c), 1);
  /* Another client is independent; seq 0 means "no session". */
  apply_ok (c, 13, put ("client-y", 7, "b", SHA_A), NULL);
  apply_ok (c, 14, put ("", 0, "c", SHA_A), NULL);
  apply_ok (c, 15, put ("", 0, "c", SHA_A), NULL);
  ck_assert_uint_eq (minka_catalog_n_files (c), 4);
}
END_TEST

START_TEST (test_bad_names_and_commands)
{
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  const char *bad[] = { "", ".", "..", "../../etc/passwd", "a/b", "a\\b", "tab\there",
                        "new\nline", "\x7f" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    ck_assert_uint_eq (apply_error (c, i + 1, put ("c", 0, bad[i], SHA_A)),
                       MINKA_CATALOG_ERROR_BAD_NAME);
  /* Invalid UTF-8 cannot even travel in a JSON command: the leader's check
   * refuses it before proposing. */
  GError *error = NULL;
  ck_assert (!minka_catalog_validate_name ("\xff\xfe", &error));
  ck_assert (g_error_matches (error, MINKA_CATALOG_ERROR, MINKA_CATALOG_ERROR_BAD_NAME));
  g_clear_error (&error);
  char long_name[300];
  memset (long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  ck_assert_uint_eq (apply_error (c, 20, put ("c", 0, long_name, SHA_A)),
                     MINKA_CATALOG_ERROR_BAD_NAME);
  ck_assert_uint_eq (apply_error (c, 21, put ("c", 0, "ok", "ABCD")),
                     MINKA_CATALOG_ERROR_MALFORMED);

  const char *garbage[] = { "", "{", "[]", "{\"op\":\"put_file\"}", "{\"op\":1,\"client\":\"\",\"seq\":0}",
                            "{\"op\":\"explode\",\"client\":\"\",\"seq\":0}",
                            "{\"op\":\"delete_file\",\"client\":\"\",\"seq\":0,\"id\":-4}",
                            "{\"op\":\"put_file\",\"client\":\"\",\"seq\":0,\"name\":\"n\",\"size\":\"big\","
                            "\"sha256\":\"" SHA_A "\",\"created_ms\":1,\"holders\":[]}" };
  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    ck_assert_uint_eq (apply_error (c, 30 + i, g_bytes_new (garbage[i], strlen (garbage[i]))),
                       MINKA_CATALOG_ERROR_MALFORMED);
  /* An embedded NUL is malformed, not truncated and accepted. */
  static const char with_nul[] = "{\"op\":\"delete_file\",\"client\":\"\",\"seq\":0,\"id\":1}\0junk";
  ck_assert_uint_eq (apply_error (c, 40, g_bytes_new (with_nul, sizeof with_nul - 1)),
                     MINKA_CATALOG_ERROR_MALFORMED);
  ck_assert_uint_eq (minka_catalog_n_files (c), 0);
}
END_TEST

static MinkaCatalog *
build_sample (guint n, guint64 seed)
{
  MinkaCatalog *c = minka_catalog_new ();
  GRand *rand = g_rand_new_with_seed ((guint32) seed);
  for (guint i = 1; i <= n; i++)
    {
      g_autofree char *name = g_strdup_printf ("file-%u.bin", g_rand_int_range (rand, 0, 50));
      if (i > 3 && g_rand_int_range (rand, 0, 5) == 0)
        {
          MinkaCatalogResult r;
          g_autoptr (GBytes) del = minka_catalog_command_delete_file ("d", i, i - 3);
          minka_catalog_apply (c, i, del, &r);
          minka_catalog_result_clear (&r);
        }
      else
        apply_ok (c, i, put ("s", i, name, (i % 2) ? SHA_A : SHA_B), NULL);
    }
  g_rand_free (rand);
  return c;
}

START_TEST (test_inline_content)
{
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  guint64 holders[] = { 1 };
  /* Bytes after the JSON line, including newlines and NULs, belong to the
   * worker: the catalog applies the command exactly as without them. */
  static const char content[] = "line one\nline two\0binary";
  g_autoptr (GBytes) bytes = g_bytes_new_static (content, sizeof content);
  GBytes *cmd = minka_catalog_command_put_file ("c", 1, "small.txt", sizeof content, SHA_A, 5,
                                                holders, 1, bytes);
  g_autoptr (GBytes) carried = minka_catalog_command_content (cmd);
  ck_assert (carried != NULL && g_bytes_equal (carried, bytes));
  guint64 id = 0;
  apply_ok (c, 3, cmd, &id);
  ck_assert_uint_eq (minka_catalog_lookup (c, id)->size, sizeof content);

  g_autoptr (GBytes) plain = minka_catalog_command_put_file ("c", 2, "x", 1, SHA_A, 5, holders, 1, NULL);
  ck_assert_ptr_null (minka_catalog_command_content (plain));
}
END_TEST

START_TEST (test_digest_deterministic)
{
  g_autoptr (MinkaCatalog) a = build_sample (200, 42);
  g_autoptr (MinkaCatalog) b = build_sample (200, 42);
  g_autoptr (MinkaCatalog) other = build_sample (200, 43);
  ck_assert_str_eq (minka_catalog_digest (a), minka_catalog_digest (b));
  ck_assert_str_ne (minka_catalog_digest (a), minka_catalog_digest (other));
  ck_assert_uint_eq (strlen (minka_catalog_digest (a)), 64);

  /* The cached digest follows changes, and a delete undoes a put exactly
   * (the digest is kept up to date incrementally, not recomputed). */
  g_autofree char *before = g_strdup (minka_catalog_digest (a));
  guint64 id = 0;
  apply_ok (a, 500, put ("z", 1, "late", SHA_A), &id);
  ck_assert_str_ne (before, minka_catalog_digest (a));
  apply_ok (a, 501, minka_catalog_command_delete_file ("z", 2, id), NULL);
  ck_assert_str_eq (before, minka_catalog_digest (a));

  /* Same files reached by different histories: same digest. */
  g_autoptr (MinkaCatalog) x = minka_catalog_new ();
  g_autoptr (MinkaCatalog) y = minka_catalog_new ();
  apply_ok (x, 1, put ("c", 1, "f", SHA_A), NULL);
  apply_ok (y, 1, put ("c", 1, "f", SHA_A), NULL);
  apply_ok (y, 2, put ("c", 2, "g", SHA_B), NULL);
  ck_assert_str_ne (minka_catalog_digest (x), minka_catalog_digest (y));
  apply_ok (y, 3, minka_catalog_command_delete_file ("c", 3, 2), NULL);
  ck_assert_str_eq (minka_catalog_digest (x), minka_catalog_digest (y));
  /* The empty catalog has a digest of its own. */
  g_autoptr (MinkaCatalog) empty = minka_catalog_new ();
  ck_assert_str_ne (minka_catalog_digest (empty), minka_catalog_digest (x));
}
END_TEST

START_TEST (test_snapshot_round_trip)
{
  g_autoptr (MinkaCatalog) a = build_sample (300, 7);
  g_autoptr (GBytes) snap = minka_catalog_snapshot (a);
  g_autoptr (MinkaCatalog) b = minka_catalog_new ();
  GError *error = NULL;
  ck_assert_msg (minka_catalog_restore (b, snap, &error), "%s", error ? error->message : "");
  ck_assert_str_eq (minka_catalog_digest (a), minka_catalog_digest (b));
  ck_assert_uint_eq (minka_catalog_applied_index (a), minka_catalog_applied_index (b));
  ck_assert_uint_eq (minka_catalog_total_bytes (a), minka_catalog_total_bytes (b));
  g_autoptr (GBytes) snap2 = minka_catalog_snapshot (b);
  ck_assert (g_bytes_equal (snap, snap2));

  /* Sessions survive the snapshot: a retry after restore is still deduplicated. */
  guint64 id = 0;
  apply_ok (b, 1000, put ("s", 300, "ignored", SHA_A), &id);
  ck_assert_uint_eq (minka_catalog_n_files (b), minka_catalog_n_files (a));
}
END_TEST

START_TEST (test_snapshot_escapes_text)
{
  /* Names and messages with JSON's special characters and non-ASCII text
   * come back exactly. */
  static const char *const names[] = { "say \"hi\".txt", "no\u00a0break", "ñandú — 数据.csv",
                                       "and'quote", "emoji 🐈.png" };
  g_autoptr (MinkaCatalog) a = minka_catalog_new ();
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    apply_ok (a, i + 1, put ("c\"lient\\", i + 1, names[i], SHA_B), NULL);
  /* A failed command leaves its message in the session table. */
  apply_error (a, 10, minka_catalog_command_delete_file ("c\"lient\\", 6, 999));
  g_autoptr (GBytes) snap = minka_catalog_snapshot (a);
  g_autoptr (MinkaCatalog) b = minka_catalog_new ();
  GError *error = NULL;
  ck_assert_msg (minka_catalog_restore (b, snap, &error), "%s", error ? error->message : "");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const MinkaFileRecord *r = minka_catalog_lookup (b, i + 1);
      ck_assert_ptr_nonnull (r);
      ck_assert_str_eq (r->name, names[i]);
      ck_assert_str_eq (r->client, "c\"lient\\");
    }
  ck_assert_str_eq (minka_catalog_digest (a), minka_catalog_digest (b));
  g_autoptr (GBytes) again = minka_catalog_snapshot (b);
  ck_assert (g_bytes_equal (snap, again));
  /* The retried failure is answered from the restored session. */
  MinkaCatalogResult r;
  g_autoptr (GBytes) retry = minka_catalog_command_delete_file ("c\"lient\\", 6, 999);
  minka_catalog_apply (b, 11, retry, &r);
  ck_assert (!r.ok);
  ck_assert_uint_eq (r.error_code, MINKA_CATALOG_ERROR_NOT_FOUND);
  minka_catalog_result_clear (&r);
}
END_TEST

START_TEST (test_restore_rejects_garbage)
{
  g_autoptr (MinkaCatalog) a = build_sample (20, 1);
  g_autoptr (GBytes) snap = minka_catalog_snapshot (a);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (snap, &len);
  g_autofree char *before = g_strdup (minka_catalog_digest (a));

  /* Every truncation either fails cleanly or (never) succeeds: the catalog
   * must be unchanged after a failed restore. */
  for (gsize cut = 0; cut < len; cut += 7)
    {
      g_autoptr (GBytes) part = g_bytes_new (data, cut);
      GError *error = NULL;
      ck_assert (!minka_catalog_restore (a, part, &error));
      ck_assert (g_error_matches (error, MINKA_CATALOG_ERROR, MINKA_CATALOG_ERROR_MALFORMED));
      g_clear_error (&error);
      ck_assert_str_eq (before, minka_catalog_digest (a));
    }
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("catalog");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_put_lookup_delete);
  tcase_add_test (tc, test_retry_is_exactly_once);
  tcase_add_test (tc, test_bad_names_and_commands);
  tcase_add_test (tc, test_inline_content);
  tcase_add_test (tc, test_digest_deterministic);
  tcase_add_test (tc, test_snapshot_round_trip);
  tcase_add_test (tc, test_snapshot_escapes_text);
  tcase_add_test (tc, test_restore_rejects_garbage);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
