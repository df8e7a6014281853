/* test-snapshot-file.c — snapshot files: streamed write and read back,
 * CRC failures anywhere in the file, temporary files (abort, stale ones
 * cleaned at open), older snapshots deleted, and how raft_storage_open
 * picks among snapshots and refuses to start when one lost committed data. */
#include "config.h"
#include "storage-test-util.h"
#include "raft-snapshot-file.h"

static RaftSnapshotMeta
make_meta (guint64 index, guint64 term)
{
  RaftSnapshotMeta meta = { index, term, { 0 } };
  meta.config.n_nodes = 3;
  meta.config.ids = g_new0 (RaftNodeId, 3);
  meta.config.addresses = g_new0 (char *, 4);
  for (guint i = 0; i < 3; i++)
    {
      meta.config.ids[i] = 10 + i;
      meta.config.addresses[i] = g_strdup_printf ("host%u:7000", i);
    }
  return meta;
}

static guint8
body_byte (guint64 pos)
{
  return (guint8) ((pos * 7919) >> 3);
}

/* Writes @size body bytes in chunks of varying size; returns the path. */
static char *
write_snapshot (const char *dir, guint64 index, guint64 term, gsize size)
{
  RaftSnapshotMeta meta = make_meta (index, term);
  GError *error = NULL;
  RaftSnapshotWriter *w = raft_snapshot_writer_new (dir, &meta, &error);
  ck_assert_msg (w != NULL, "%s", error ? error->message : "");
  guint8 chunk[5000];
  gsize pos = 0, step = 1;
  while (pos < size)
    {
      gsize n = MIN (size - pos, step);
      for (gsize i = 0; i < n; i++)
        chunk[i] = body_byte (pos + i);
      ck_assert (raft_snapshot_writer_write (w, chunk, n, &error));
      pos += n;
      step = step * 3 % sizeof chunk + 1;
    }
  char *path = NULL;
  ck_assert_msg (raft_snapshot_writer_commit (w, &path, &error), "%s", error ? error->message : "");
  raft_snapshot_meta_clear (&meta);
  return path;
}

/* Reads @path back in chunks of @chunk bytes; returns -1 on an error.
 * A body that differs from what write_snapshot wrote fails the test
 * only if the reader then reports success. */
static gssize
read_snapshot (const char *path, gsize chunk, RaftSnapshotMeta *meta, GError **error)
{
  RaftSnapshotReader *r = raft_snapshot_reader_open (path, meta, error);
  if (!r)
    return -1;
  guint8 *buf = g_malloc (chunk);
  gsize total = 0;
  gboolean same = TRUE;
  gssize n;
  while ((n = raft_snapshot_reader_read (r, buf, chunk, error)) > 0)
    {
      for (gssize i = 0; i < n; i++)
        same = same && buf[i] == body_byte (total + (gsize) i);
      total += (gsize) n;
    }
  ck_assert (n < 0 || same);
  g_free (buf);
  raft_snapshot_reader_close (r);
  return n < 0 ? -1 : (gssize) total;
}

START_TEST (test_write_read_round_trip)
{
  char *dir = util_tmpdir ();
  gsize sizes[] = { 0, 1, 4095, 300000 };
  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      g_autofree char *path = write_snapshot (dir, 100 + k, 7, sizes[k]);
      ck_assert_uint_eq (util_count_files (dir, ".tmp"), 0);
      for (gsize chunk = 7; chunk <= 70000; chunk *= 37)
        {
          RaftSnapshotMeta meta;
          GError *error = NULL;
          gssize got = read_snapshot (path, chunk, &meta, &error);
          ck_assert_msg (got == (gssize) sizes[k], "%s", error ? error->message : "");
          ck_assert_uint_eq (meta.index, 100 + k);
          ck_assert_uint_eq (meta.term, 7);
          ck_assert_uint_eq (meta.config.n_nodes, 3);
          ck_assert_uint_eq (meta.config.ids[2], 12);
          ck_assert_str_eq (meta.config.addresses[1], "host1:7000");
          raft_snapshot_meta_clear (&meta);
        }
    }
  /* Each commit deleted the older snapshots. */
  ck_assert_uint_eq (util_count_files (dir, ".snap"), 1);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_crc_failures)
{
  char *dir = util_tmpdir ();
  g_autofree char *path = write_snapshot (dir, 50, 3, 2000);
  g_autofree char *name = g_path_get_basename (path);
  gsize len = 0;
  g_autofree guint8 *good = util_read_file (dir, name, &len);
  guint8 *copy = g_malloc (len + 1);
  /* A flipped bit anywhere: header, config, body, trailer. */
  for (gsize i = 0; i < len; i += (i < 64 || i + 64 > len) ? 1 : 97)
    {
      memcpy (copy, good, len);
      copy[i] ^= (guint8) (1u << (i % 8));
      util_write_file (dir, name, copy, len);
      RaftSnapshotMeta meta;
      GError *error = NULL;
      ck_assert_msg (read_snapshot (path, 512, &meta, &error) < 0, "flip at %zu not caught", i);
      ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_CORRUPT));
      ck_assert (strstr (error->message, path));
      g_clear_error (&error);
      raft_snapshot_meta_clear (&meta);
      ck_assert (!raft_snapshot_file_verify (path, NULL, NULL));
    }
  /* Truncated at several points, and extended. */
  gsize cuts[] = { 0, 10, 40, 100, len - 16, len - 1 };
  for (guint k = 0; k < G_N_ELEMENTS (cuts); k++)
    {
      util_write_file (dir, name, good, cuts[k]);
      ck_assert (!raft_snapshot_file_verify (path, NULL, NULL));
    }
  memcpy (copy, good, len);
  copy[len] = 0;
  util_write_file (dir, name, copy, len + 1);
  ck_assert (!raft_snapshot_file_verify (path, NULL, NULL));
  util_write_file (dir, name, good, len);
  ck_assert (raft_snapshot_file_verify (path, NULL, NULL));
  g_free (copy);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_temp_files)
{
  char *dir = util_tmpdir ();
  RaftSnapshotMeta meta = make_meta (9, 2);
  RaftSnapshotWriter *w = raft_snapshot_writer_new (dir, &meta, NULL);
  ck_assert (raft_snapshot_writer_write (w, "abc", 3, NULL));
  ck_assert_uint_eq (util_count_files (dir, ".tmp"), 1);
  raft_snapshot_writer_abort (w);
  ck_assert_uint_eq (util_count_files (dir, ".tmp"), 0);
  ck_assert_uint_eq (util_count_files (dir, ".snap"), 0);
  /* A crash while writing leaves a temporary file: open removes it. */
  w = raft_snapshot_writer_new (dir, &meta, NULL);
  ck_assert (raft_snapshot_writer_write (w, "abc", 3, NULL));
  util_write_file (dir, "snapshot-00000000000000000008.deadbeef.tmp", "x", 1);
  ck_assert_uint_eq (util_count_files (dir, ".tmp"), 2);
  raft_snapshot_writer_abort (w);
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (dir, NULL, &rec);
  ck_assert_uint_eq (util_count_files (dir, ".tmp"), 0);
  ck_assert_uint_eq (rec.snapshot.index, 0);
  ck_assert_ptr_null (rec.snapshot_path);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  raft_snapshot_meta_clear (&meta);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

static void
flip_byte (const char *path, gsize at)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *name = g_path_get_basename (path);
  gsize len = 0;
  guint8 *data = util_read_file (dir, name, &len);
  data[at % len] ^= 0x40;
  util_write_file (dir, name, data, len);
  g_free (data);
}

START_TEST (test_storage_picks_newest_valid)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 1024 };
  GError *error = NULL;
  RaftStorage *s = util_open (dir, &opts, NULL);
  util_append_range (s, 1, 200, 1, 10, 40);
  RaftHardState hs = { 1, 1, 150 };
  ck_assert (raft_storage_save_hard_state (s, &hs, &error));
  g_autofree char *p100 = write_snapshot (dir, 100, 1, 1000);
  RaftSnapshotMeta m100 = make_meta (100, 1);
  ck_assert (raft_storage_compact (s, &m100, &error));
  raft_snapshot_meta_clear (&m100);
  raft_storage_close (s);

  /* Keep a copy of snapshot 100 as if it had not been deleted yet, then
   * add a newer one (which deletes it), put the copy back and damage the
   * newer one: it is moved aside and the older one is used, since the log
   * still covers the range in between. */
  gsize len = 0;
  g_autofree char *n100 = g_path_get_basename (p100);
  g_autofree guint8 *copy100 = util_read_file (dir, n100, &len);
  g_autofree char *p120 = write_snapshot (dir, 120, 1, 1000);
  ck_assert (!util_exists (dir, n100));
  util_write_file (dir, n100, copy100, len);
  flip_byte (p120, 500);

  RaftStorageRecovery rec;
  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.snapshot.index, 100);
  ck_assert_uint_eq (rec.entries->len, 100);
  ck_assert_uint_ge (rec.repairs->len, 1);
  g_autofree char *n120 = g_path_get_basename (p120);
  g_autofree char *aside = g_strconcat (n120, ".corrupt", NULL);
  ck_assert (util_exists (dir, aside));
  ck_assert (!util_exists (dir, n120));
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);

  /* Two valid snapshots: the newest wins, the older is deleted. */
  g_autofree char *p150 = write_snapshot (dir, 150, 1, 1000);
  util_write_file (dir, n100, copy100, len);
  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.snapshot.index, 150);
  ck_assert_str_eq (rec.snapshot_path, p150);
  ck_assert_uint_eq (rec.entries->len, 50);
  ck_assert (!util_exists (dir, n100));
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_corrupt_snapshot_loses_committed_data)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 1024 };
  GError *error = NULL;
  RaftStorage *s = util_open (dir, &opts, NULL);
  util_append_range (s, 1, 300, 1, 10, 40);
  RaftHardState hs = { 1, 1, 290 };
  ck_assert (raft_storage_save_hard_state (s, &hs, &error));
  g_autofree char *path = write_snapshot (dir, 250, 1, 5000);
  RaftSnapshotMeta meta = make_meta (250, 1);
  ck_assert (raft_storage_compact (s, &meta, &error));
  raft_snapshot_meta_clear (&meta);
  guint64 t;
  ck_assert (!raft_storage_term (s, 10, &t));
  raft_storage_close (s);

  flip_byte (path, 3000);
  ck_assert_ptr_null (raft_storage_open (dir, &opts, NULL, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_DATA_LOSS));
  ck_assert_msg (strstr (error->message, path) && strstr (error->message, "offset"),
                 "%s", error->message);
  g_clear_error (&error);
  ck_assert (g_file_test (path, G_FILE_TEST_EXISTS));   /* left for the operator */
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_log_conflicting_with_snapshot_is_dropped)
{
  /* A crash during a snapshot install can leave the old log beside a
   * snapshot that disagrees with it at its index: the log is stale. */
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 1024 };
  RaftStorage *s = util_open (dir, &opts, NULL);
  util_append_range (s, 1, 50, 1, 10, 40);
  raft_storage_close (s);
  g_autofree char *path = write_snapshot (dir, 30, 5, 100);
  RaftStorageRecovery rec;
  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.snapshot.index, 30);
  ck_assert_str_eq (rec.snapshot_path, path);
  ck_assert_uint_eq (rec.entries->len, 0);
  ck_assert_uint_ge (rec.repairs->len, 1);
  ck_assert_uint_eq (raft_storage_last_index (s), 30);
  util_append_range (s, 31, 35, 5, 5, 40);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.entries->len, 5);
  ck_assert_uint_eq (rec.repairs->len, 0);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

static Suite *
snapshot_suite (void)
{
  Suite *s = suite_create ("raft-snapshot-file");
  TCase *tc = tcase_create ("snapshot");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_write_read_round_trip);
  tcase_add_test (tc, test_crc_failures);
  tcase_add_test (tc, test_temp_files);
  tcase_add_test (tc, test_storage_picks_newest_valid);
  tcase_add_test (tc, test_corrupt_snapshot_loses_committed_data);
  tcase_add_test (tc, test_log_conflicting_with_snapshot_is_dropped);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (snapshot_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
