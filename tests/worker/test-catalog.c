/* test-catalog.c — the replicated catalog: apply, exactly-once sessions,
 * determinism of the digest, snapshots (and captures serialised later),
 * blob reference counts, the newest-files listing and malformed commands. */
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

/* The answer blob_in_use must give: a scan of every file (what it used to do). */
static gboolean
blob_in_use_by_scan (MinkaCatalog *c, const char *sha)
{
  g_autoptr (GPtrArray) files = minka_catalog_list_files (c);
  for (guint i = 0; i < files->len; i++)
    if (strcmp (((const MinkaFileRecord *) files->pdata[i])->sha256, sha) == 0)
      return TRUE;
  return FALSE;
}

static void
fake_sha (guint i, char sha[65])
{
  g_snprintf (sha, 65, "%064x", i);
}

START_TEST (test_blob_in_use_shared)
{
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  guint64 a1 = 0, a2 = 0, b1 = 0;
  apply_ok (c, 1, put ("c", 1, "one", SHA_A), &a1);
  apply_ok (c, 2, put ("c", 2, "two", SHA_A), &a2);        /* same bytes, other name */
  apply_ok (c, 3, put ("c", 3, "one", SHA_B), &b1);        /* same name, other bytes */
  ck_assert (minka_catalog_blob_in_use (c, SHA_A));
  ck_assert (minka_catalog_blob_in_use (c, SHA_B));

  /* A retried delete and a delete of an unknown ID change no count. */
  apply_ok (c, 4, minka_catalog_command_delete_file ("d", 1, a1), NULL);
  apply_ok (c, 5, minka_catalog_command_delete_file ("d", 1, a1), NULL);
  ck_assert_uint_eq (apply_error (c, 6, minka_catalog_command_delete_file ("d", 2, a1)),
                     MINKA_CATALOG_ERROR_NOT_FOUND);
  ck_assert (minka_catalog_blob_in_use (c, SHA_A));        /* a2 still names it */
  apply_ok (c, 7, minka_catalog_command_delete_file ("d", 3, a2), NULL);
  ck_assert (!minka_catalog_blob_in_use (c, SHA_A));
  ck_assert (minka_catalog_blob_in_use (c, SHA_B));
  apply_ok (c, 8, put ("c", 4, "again", SHA_A), NULL);     /* back in use */
  ck_assert (minka_catalog_blob_in_use (c, SHA_A));

  /* Restoring replaces the counts: a catalog that named SHA_A and SHA_C
   * takes the snapshot of one that names only SHA_B. */
  static const char SHA_C[] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
  g_autoptr (MinkaCatalog) only_b = minka_catalog_new ();
  apply_ok (only_b, 1, put ("c", 1, "b", SHA_B), NULL);
  apply_ok (only_b, 2, put ("c", 2, "b", SHA_B), NULL);
  g_autoptr (GBytes) snap = minka_catalog_snapshot (only_b);
  apply_ok (c, 9, put ("c", 5, "c", SHA_C), NULL);
  GError *error = NULL;
  ck_assert_msg (minka_catalog_restore (c, snap, &error), "%s", error ? error->message : "");
  ck_assert (!minka_catalog_blob_in_use (c, SHA_A));
  ck_assert (!minka_catalog_blob_in_use (c, SHA_C));
  ck_assert (minka_catalog_blob_in_use (c, SHA_B));
  /* Both restored files name SHA_B: it stays in use until both are gone. */
  apply_ok (c, 10, minka_catalog_command_delete_file ("e", 1, 1), NULL);
  ck_assert (minka_catalog_blob_in_use (c, SHA_B));
  apply_ok (c, 11, minka_catalog_command_delete_file ("e", 2, 2), NULL);
  ck_assert (!minka_catalog_blob_in_use (c, SHA_B));
  /* A failed restore leaves the counts alone. */
  apply_ok (c, 12, put ("c", 6, "a", SHA_A), NULL);
  g_autoptr (GBytes) garbage = g_bytes_new_static ("{\"version\":1}", 13);
  ck_assert (!minka_catalog_restore (c, garbage, NULL));
  ck_assert (minka_catalog_blob_in_use (c, SHA_A));
  ck_assert (!minka_catalog_blob_in_use (c, SHA_B));
  ck_assert (!minka_catalog_blob_in_use (c, "not a sha"));
}
END_TEST

/* Random puts and deletes over a few shared blobs, checked against a scan
 * after every step, then after a snapshot and restore. Seeded. */
START_TEST (test_blob_in_use_matches_scan)
{
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  GRand *rand = g_rand_new_with_seed (1234);
  guint64 holders[] = { 1 };
  for (guint i = 1; i <= 1500; i++)
    {
      char sha[65];
      guint n_files = minka_catalog_n_files (c);
      if (n_files > 0 && g_rand_int_range (rand, 0, 2) == 0)
        {
          g_autoptr (GPtrArray) files = minka_catalog_list_files (c);
          const MinkaFileRecord *victim = files->pdata[g_rand_int_range (rand, 0, (gint32) n_files)];
          apply_ok (c, i, minka_catalog_command_delete_file ("d", i, victim->id), NULL);
        }
      else
        {
          fake_sha ((guint) g_rand_int_range (rand, 0, 40), sha);
          apply_ok (c, i, minka_catalog_command_put_file ("p", i, "same-name", 1, sha, 0,
                                                          holders, 1, NULL), NULL);
        }
      for (guint k = 0; k < 41; k++)
        {
          fake_sha (k, sha);
          ck_assert_int_eq (minka_catalog_blob_in_use (c, sha), blob_in_use_by_scan (c, sha));
        }
      /* The newest files are the last ones of the full list, reversed. */
      g_autoptr (GPtrArray) all = minka_catalog_list_files (c);
      guint want = 1 + i % 7;
      g_autoptr (GPtrArray) newest = minka_catalog_list_newest (c, want);
      ck_assert_uint_eq (newest->len, MIN (want, all->len));
      for (guint k = 0; k < newest->len; k++)
        ck_assert_ptr_eq (newest->pdata[k], all->pdata[all->len - 1 - k]);
    }
  g_rand_free (rand);

  g_autoptr (GBytes) snap = minka_catalog_snapshot (c);
  g_autoptr (MinkaCatalog) restored = minka_catalog_new ();
  ck_assert (minka_catalog_restore (restored, snap, NULL));
  guint used = 0;
  for (guint k = 0; k < 41; k++)
    {
      char sha[65];
      fake_sha (k, sha);
      ck_assert_int_eq (minka_catalog_blob_in_use (restored, sha), blob_in_use_by_scan (c, sha));
      used += minka_catalog_blob_in_use (restored, sha);
    }
  ck_assert_uint_gt (used, 0);          /* the sequence leaves some blobs in use */
  ck_assert_uint_lt (used, 40);         /* and some not */
}
END_TEST

/* Changes a catalog in every way a snapshot shows: files deleted (so their
 * records are freed by the catalog), replaced sessions, new files and
 * sessions, a later applied index. */
static void
change_catalog (MinkaCatalog *c, guint64 from_index)
{
  g_autoptr (GPtrArray) files = minka_catalog_list_files (c);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (guint i = 0; i < files->len; i += 2)
    g_array_append_val (ids, ((const MinkaFileRecord *) files->pdata[i])->id);
  guint64 index = from_index;
  for (guint i = 0; i < ids->len; i++, index++)
    apply_ok (c, index, minka_catalog_command_delete_file ("s", index, g_array_index (ids, guint64, i)), NULL);
  for (guint i = 0; i < 50; i++, index++)
    {
      g_autofree char *client = g_strdup_printf ("new-%u", i);
      apply_ok (c, index, put (client, 1, "late.bin", SHA_B), NULL);
    }
  apply_error (c, index, minka_catalog_command_delete_file ("s", index + 1, 999999));
}

typedef struct {
  MinkaCatalogCapture *capture;
  GBytes *bytes;
} SerialiseJob;

static gpointer
serialise_thread (gpointer data)
{
  SerialiseJob *job = data;
  job->bytes = minka_catalog_capture_serialize (job->capture);
  g_clear_pointer (&job->capture, minka_catalog_capture_free);
  return NULL;
}

START_TEST (test_capture_survives_changes)
{
  MinkaCatalog *c = build_sample (400, 11);
  g_autoptr (GBytes) before = minka_catalog_snapshot (c);

  /* Serialised on the main thread after the catalog changed. */
  g_autoptr (MinkaCatalogCapture) capture = minka_catalog_capture (c);
  change_catalog (c, 1000);
  g_autoptr (GBytes) later = minka_catalog_capture_serialize (capture);
  ck_assert (g_bytes_equal (later, before));
  g_autoptr (GBytes) now = minka_catalog_snapshot (c);
  ck_assert (!g_bytes_equal (now, before));

  /* Serialised on another thread while the catalog changes, and the
   * capture outlives the catalog (the last reference frees the records). */
  SerialiseJob job = { minka_catalog_capture (c), NULL };
  GThread *thread = g_thread_new ("serialise", serialise_thread, &job);
  change_catalog (c, 5000);
  minka_catalog_free (c);
  g_thread_join (thread);
  ck_assert (g_bytes_equal (job.bytes, now));
  g_bytes_unref (job.bytes);

  /* And the captured bytes restore to the state at the capture. */
  g_autoptr (MinkaCatalog) restored = minka_catalog_new ();
  g_autoptr (MinkaCatalog) original = build_sample (400, 11);
  ck_assert (minka_catalog_restore (restored, later, NULL));
  ck_assert_str_eq (minka_catalog_digest (restored), minka_catalog_digest (original));
}
END_TEST

/* Whether a put applied at @index made a new file (FALSE: deduplicated). */
static gboolean
put_is_new (MinkaCatalog *c, guint64 index, const char *client, guint64 seq)
{
  guint before = minka_catalog_n_files (c);
  MinkaCatalogResult r;
  g_autoptr (GBytes) cmd = put (client, seq, "f", SHA_A);
  minka_catalog_apply (c, index, cmd, &r);
  minka_catalog_result_clear (&r);
  return minka_catalog_n_files (c) > before;
}

/* A full session table evicts the least recently used session, the same
 * way before and after a snapshot is restored. */
START_TEST (test_sessions_evict_oldest)
{
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  enum { FULL = 4096 };
  for (guint i = 0; i < FULL; i++)
    {
      g_autofree char *client = g_strdup_printf ("client-%u", i);
      ck_assert (put_is_new (c, i + 1, client, 1));
    }
  ck_assert (put_is_new (c, 5000, "client-0", 2));         /* client-0 is now the youngest */
  ck_assert (put_is_new (c, 5001, "late", 1));             /* evicts client-1 */

  g_autoptr (GBytes) snap = minka_catalog_snapshot (c);
  g_autoptr (MinkaCatalog) r = minka_catalog_new ();
  ck_assert (minka_catalog_restore (r, snap, NULL));
  MinkaCatalog *both[] = { c, r };
  for (guint k = 0; k < 2; k++)
    {
      MinkaCatalog *x = both[k];
      ck_assert (put_is_new (x, 5002, "later", 1));        /* evicts client-2 */
      ck_assert (!put_is_new (x, 5003, "client-0", 2));    /* kept: deduplicated */
      ck_assert (!put_is_new (x, 5004, "client-3", 1));    /* kept */
      ck_assert (put_is_new (x, 5005, "client-1", 1));     /* evicted: applied again */
      ck_assert (put_is_new (x, 5006, "client-2", 1));     /* evicted (client-3 goes) */
      ck_assert (put_is_new (x, 5007, "client-3", 1));
    }
  ck_assert_str_eq (minka_catalog_digest (c), minka_catalog_digest (r));
  g_autoptr (GBytes) snap_c = minka_catalog_snapshot (c);
  g_autoptr (GBytes) snap_r = minka_catalog_snapshot (r);
  ck_assert (g_bytes_equal (snap_c, snap_r));
}
END_TEST

/* Files stay in ID order and findable whatever order IDs arrive in, with
 * deletes leaving holes that get compacted: checked against a sorted model
 * over a seeded random sequence, then through a snapshot. */
START_TEST (test_files_any_order)
{
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  g_autoptr (GArray) model = g_array_new (FALSE, FALSE, sizeof (guint64));   /* sorted IDs */
  GRand *rand = g_rand_new_with_seed (77);
  guint64 holders[] = { 1 };
  for (guint step = 0; step < 3000; step++)
    {
      gboolean del = model->len > 0 && g_rand_int_range (rand, 0, 100) < 45;
      if (del)
        {
          guint at = (guint) g_rand_int_range (rand, 0, (gint32) model->len);
          guint64 id = g_array_index (model, guint64, at);
          apply_ok (c, 100000 + step, minka_catalog_command_delete_file ("", 0, id), NULL);
          g_array_remove_index (model, at);
          continue;
        }
      /* Mostly increasing IDs (as from the log), sometimes an old one. */
      guint64 id = g_rand_int_range (rand, 0, 10) ? 20000 + step * 2
                                                  : (guint64) g_rand_int_range (rand, 1, 20000);
      guint at = 0;
      while (at < model->len && g_array_index (model, guint64, at) < id)
        at++;
      if (at < model->len && g_array_index (model, guint64, at) == id)
        continue;
      g_autofree char *name = g_strdup_printf ("f%" G_GUINT64_FORMAT, id);
      apply_ok (c, id, minka_catalog_command_put_file ("", 0, name, 1, SHA_A, 0, holders, 1, NULL), NULL);
      g_array_insert_val (model, at, id);
    }
  g_rand_free (rand);

  ck_assert_uint_eq (minka_catalog_n_files (c), model->len);
  ck_assert_uint_gt (model->len, 100);
  g_autoptr (GPtrArray) files = minka_catalog_list_files (c);
  ck_assert_uint_eq (files->len, model->len);
  for (guint i = 0; i < model->len; i++)
    {
      guint64 id = g_array_index (model, guint64, i);
      const MinkaFileRecord *r = files->pdata[i];
      ck_assert_uint_eq (r->id, id);
      ck_assert_ptr_eq (minka_catalog_lookup (c, id), r);
      g_autofree char *name = g_strdup_printf ("f%" G_GUINT64_FORMAT, id);
      ck_assert_str_eq (r->name, name);
    }
  ck_assert_ptr_null (minka_catalog_lookup (c, 20001));   /* odd: never used */

  g_autoptr (GBytes) snap = minka_catalog_snapshot (c);
  g_autoptr (MinkaCatalog) r = minka_catalog_new ();
  ck_assert (minka_catalog_restore (r, snap, NULL));
  g_autoptr (GBytes) snap2 = minka_catalog_snapshot (r);
  ck_assert (g_bytes_equal (snap, snap2));
  ck_assert_str_eq (minka_catalog_digest (r), minka_catalog_digest (c));
}
END_TEST

/* A hand-made snapshot may list files out of order, even twice: restored
 * in ID order, the later duplicate winning, counted once. */
START_TEST (test_restore_unsorted_files)
{
#define FILE_JSON(id, name, sha) "{\"id\":" #id ",\"name\":\"" name "\",\"size\":1,\"sha256\":\"" \
  sha "\",\"created_ms\":0,\"client\":\"\",\"holders\":[]}"
  static const char text[] = "{\"version\":1,\"applied_index\":9,\"files\":["
    FILE_JSON (7, "seven", SHA_A) "," FILE_JSON (3, "three", SHA_A) ","
    FILE_JSON (7, "seven-again", SHA_B) "," FILE_JSON (5, "five", SHA_A) "],\"sessions\":[]}";
#undef FILE_JSON
  g_autoptr (GBytes) snap = g_bytes_new_static (text, sizeof text - 1);
  g_autoptr (MinkaCatalog) c = minka_catalog_new ();
  GError *error = NULL;
  ck_assert_msg (minka_catalog_restore (c, snap, &error), "%s", error ? error->message : "");
  g_autoptr (GPtrArray) files = minka_catalog_list_files (c);
  ck_assert_uint_eq (files->len, 3);
  ck_assert_uint_eq (((const MinkaFileRecord *) files->pdata[0])->id, 3);
  ck_assert_uint_eq (((const MinkaFileRecord *) files->pdata[1])->id, 5);
  ck_assert_str_eq (((const MinkaFileRecord *) files->pdata[2])->name, "seven-again");
  ck_assert_uint_eq (minka_catalog_total_bytes (c), 3);
  ck_assert (minka_catalog_blob_in_use (c, SHA_B));
  apply_ok (c, 10, minka_catalog_command_delete_file ("", 0, 7), NULL);
  ck_assert (!minka_catalog_blob_in_use (c, SHA_B));
  ck_assert (minka_catalog_blob_in_use (c, SHA_A));
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
  tcase_add_test (tc, test_blob_in_use_shared);
  tcase_add_test (tc, test_blob_in_use_matches_scan);
  tcase_add_test (tc, test_capture_survives_changes);
  tcase_add_test (tc, test_sessions_evict_oldest);
  tcase_add_test (tc, test_files_any_order);
  tcase_add_test (tc, test_restore_unsorted_files);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
