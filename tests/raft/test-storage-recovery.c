/* test-storage-recovery.c — recovery at open after crashes and damage:
 * the log cut at every byte offset of its last records (with and without
 * the preallocated zeros after them), a bit flipped in every byte (so every
 * field) of them, crashes during zero fills and segment closes, corrupt
 * closed segments, gaps, garbage tails, and crash points around the
 * hard-state write. */
#include "config.h"
#include "storage-test-util.h"
#include "raft-segment.h"
#include "raft-hard-state.h"

#define SMALL 12                 /* small records keep the runtime bounded */
#define N_ENTRIES 100
#define SEG_SIZE 1024

typedef struct {
  char *dir;
  char *open_name;               /* the open segment's file name */
  guint8 *pristine;              /* its bytes after the build (records, then zeros) */
  gsize pristine_len;
  gsize data_end;                /* end of its last record */
  RaftSegmentScan scan;          /* its records */
  guint64 last;                  /* last index */
} Fixture;

/* N_ENTRIES entries in segments of SEG_SIZE bytes; hard-state commit @commit. */
static void
fixture_build (Fixture *f, guint64 commit)
{
  RaftStorageOptions opts = { .segment_size = SEG_SIZE, .no_sync = TRUE };
  GError *error = NULL;
  memset (f, 0, sizeof *f);
  f->dir = util_tmpdir ();
  RaftStorage *s = util_open (f->dir, &opts, NULL);
  util_append_range (s, 1, N_ENTRIES, 1, 1, SMALL);
  RaftHardState hs = { 1, 1, commit };
  ck_assert (raft_storage_save_hard_state (s, &hs, &error));
  ck_assert_uint_ge (raft_storage_n_segments (s), 3);
  raft_storage_close (s);
  f->last = N_ENTRIES;
  f->open_name = util_find_file (f->dir, "open-", ".log");
  ck_assert_ptr_nonnull (f->open_name);
  f->pristine = util_read_file (f->dir, f->open_name, &f->pristine_len);
  guint64 first = 0, last = 0;
  gboolean is_open;
  guint32 salt;
  ck_assert (raft_segment_name_parse (f->open_name, &first, &last, &is_open, &salt));
  raft_segment_scan (f->pristine, f->pristine_len, first, salt, 0, NULL, &f->scan);
  ck_assert (!f->scan.damaged);
  /* Preallocated: the records are followed by zeros. */
  ck_assert (f->scan.zero_tail);
  f->data_end = f->scan.valid_end;
  ck_assert_uint_gt (f->pristine_len, f->data_end + 64);
  ck_assert_uint_ge (f->scan.n_records, 6);
  ck_assert_uint_eq (first + f->scan.n_records - 1, N_ENTRIES);
}

static void
fixture_clear (Fixture *f)
{
  util_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->open_name);
  g_free (f->pristine);
  raft_segment_scan_clear (&f->scan);
}

static gint64
record_offset (Fixture *f, guint i)
{
  return g_array_index (f->scan.offsets, gint64, i);
}

/* Opens and checks the log holds exactly 1..@want_last, intact, and that
 * a repair was reported exactly when @want_repair. */
static void
expect_recovered (Fixture *f, guint64 want_last, gboolean want_repair)
{
  RaftStorageOptions opts = { .segment_size = SEG_SIZE, .no_sync = TRUE };
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (f->dir, &opts, &rec);
  ck_assert_uint_eq (raft_storage_last_index (s), want_last);
  ck_assert_uint_eq (rec.entries->len, want_last);
  util_check_entry (&g_array_index (rec.entries, RaftEntry, want_last - 1), want_last, 1, SMALL);
  if (want_repair)
    ck_assert_uint_ge (rec.repairs->len, 1);
  else
    ck_assert_msg (rec.repairs->len == 0, "unexpected repair: %s",
                   (char *) g_ptr_array_index (rec.repairs, 0));
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  /* A second open finds nothing left to repair. */
  s = util_open (f->dir, &opts, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (raft_storage_last_index (s), want_last);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
}

/* A crash during an append: the records cut at every byte offset, the
 * file ending there (an append that grew the file) or followed by the
 * preallocated zeros (an append over them). A cut at a record boundary is
 * a clean end (the zeros are kept for the next append); anything else is
 * a torn record, cut off with the zeros after it. */
static void
truncate_every_offset (gboolean zeros_after)
{
  Fixture f;
  fixture_build (&f, 50);
  guint n = (guint) f.scan.n_records;
  guint64 first = f.last - n + 1;
  guint from_rec = n - 5;
  guint8 *copy = g_malloc0 (f.pristine_len);
  for (gsize cut = (gsize) record_offset (&f, from_rec); cut <= f.data_end; cut++)
    {
      gsize file_len = zeros_after ? f.pristine_len : cut;
      memset (copy, 0, f.pristine_len);
      memcpy (copy, f.pristine, cut);
      util_write_file (f.dir, f.open_name, copy, file_len);
      guint complete = 0;
      while (complete < n && (complete + 1 == n ? f.data_end
                              : (gsize) record_offset (&f, complete + 1)) <= cut)
        complete++;
      guint64 want = first + complete - 1;
      gsize boundary = complete == n ? f.data_end : (gsize) record_offset (&f, complete);
      gboolean torn = cut != boundary;
      expect_recovered (&f, want, torn);
      ck_assert_uint_eq (util_file_size (f.dir, f.open_name), torn ? boundary : file_len);
    }
  g_free (copy);
  fixture_clear (&f);
}

START_TEST (test_truncate_every_offset)
{
  truncate_every_offset (FALSE);
}
END_TEST

START_TEST (test_torn_record_then_zeros)
{
  truncate_every_offset (TRUE);
}
END_TEST

START_TEST (test_flip_every_field)
{
  Fixture f;
  fixture_build (&f, 50);
  guint n = (guint) f.scan.n_records;
  guint64 first = f.last - n + 1;
  guint8 *copy = g_malloc (f.pristine_len);
  for (guint r = n - 3; r < n; r++)
    {
      gsize start = (gsize) record_offset (&f, r);
      gsize end = r + 1 < n ? (gsize) record_offset (&f, r + 1) : f.data_end;
      for (gsize byte = start; byte < end; byte++)
        for (int bit = 0; bit < 8; bit += (byte - start < RAFT_SEGMENT_HEADER_SIZE) ? 1 : 3)
          {
            memcpy (copy, f.pristine, f.pristine_len);
            copy[byte] ^= (guint8) (1u << bit);
            util_write_file (f.dir, f.open_name, copy, f.pristine_len);
            expect_recovered (&f, first + r - 1, TRUE);
          }
    }
  g_free (copy);
  fixture_clear (&f);
}
END_TEST

START_TEST (test_garbage_tail)
{
  Fixture f;
  fixture_build (&f, 50);
  guint8 *copy = g_malloc0 (f.data_end + 4096);
  memcpy (copy, f.pristine, f.data_end);
  util_write_file (f.dir, f.open_name, copy, f.data_end + 4096);   /* zeros: clean */
  expect_recovered (&f, N_ENTRIES, FALSE);
  ck_assert_uint_eq (util_file_size (f.dir, f.open_name), f.data_end + 4096);
  for (gsize i = 0; i < 4096; i++)
    copy[f.data_end + i] = (guint8) (i * 37 + 11);
  util_write_file (f.dir, f.open_name, copy, f.data_end + 4096);   /* junk */
  expect_recovered (&f, N_ENTRIES, TRUE);
  ck_assert_uint_eq (util_file_size (f.dir, f.open_name), f.data_end);
  /* Zeros with one stray byte far behind them are not a clean end (in a
   * recycled segment, whose name carries a salt, they are: its end marker
   * and its old bytes; test-storage covers that). */
  memset (copy + f.data_end, 0, 4096);
  copy[f.data_end + 4000] = 1;
  util_write_file (f.dir, f.open_name, copy, f.data_end + 4096);
  expect_recovered (&f, N_ENTRIES, TRUE);
  ck_assert_uint_eq (util_file_size (f.dir, f.open_name), f.data_end);
  g_free (copy);
  fixture_clear (&f);
}
END_TEST

START_TEST (test_torn_tail_below_commit_is_data_loss)
{
  Fixture f;
  fixture_build (&f, N_ENTRIES);
  gsize cut = (gsize) record_offset (&f, (guint) f.scan.n_records - 1) + 5;
  g_autofree char *range = g_strdup_printf ("%d..%d", N_ENTRIES, N_ENTRIES);
  util_write_file (f.dir, f.open_name, f.pristine, cut);
  GError *error = NULL;
  RaftStorage *s = raft_storage_open (f.dir, NULL, NULL, &error);
  ck_assert_ptr_null (s);
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_DATA_LOSS));
  ck_assert_msg (strstr (error->message, f.open_name) && strstr (error->message, "offset")
                 && strstr (error->message, range), "%s", error->message);
  g_clear_error (&error);
  /* Nothing was changed on disk. */
  gsize len = 0;
  g_autofree guint8 *after = util_read_file (f.dir, f.open_name, &len);
  ck_assert_uint_eq (len, cut);
  ck_assert_int_eq (memcmp (after, f.pristine, cut), 0);
  fixture_clear (&f);
}
END_TEST

/* Appends @n entries after @last in a fresh open, checks them and that a
 * second open finds nothing to repair. */
static void
append_after_recovery (Fixture *f, guint64 last, guint n)
{
  RaftStorageOptions opts = { .segment_size = SEG_SIZE, .no_sync = TRUE };
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (f->dir, &opts, NULL);
  ck_assert_uint_eq (raft_storage_last_index (s), last);
  util_append_range (s, last + 1, last + n, 2, 1, SMALL);
  raft_storage_close (s);
  s = util_open (f->dir, &opts, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.entries->len, last + n);
  for (guint64 i = 1; i <= last + n; i++)
    util_check_entry (&g_array_index (rec.entries, RaftEntry, i - 1), i, i > last ? 2 : 1, SMALL);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  util_check_closed_segments (f->dir);
}

/* A crash during or right after a zero fill: the records followed by any
 * number of zeros (the fill's writes reached the disk in part, or the
 * whole fill and its fsync did). A clean end; appends overwrite the zeros. */
START_TEST (test_zero_fill_crash_points)
{
  static const gsize tails[] = { 0, 1, 7, 31, 32, 33, 100, 511, 4096, 65536 };
  Fixture f;
  fixture_build (&f, 50);
  guint8 *copy = g_malloc0 (f.data_end + 65536);
  memcpy (copy, f.pristine, f.data_end);
  for (guint t = 0; t < G_N_ELEMENTS (tails); t++)
    {
      util_write_file (f.dir, f.open_name, copy, f.data_end + tails[t]);
      expect_recovered (&f, N_ENTRIES, FALSE);
      ck_assert_uint_eq (util_file_size (f.dir, f.open_name), f.data_end + tails[t]);
    }
  /* With room left (the zeros the fixture's storage wrote), the next
   * append lands at the end of the last record, inside the zeros. */
  util_write_file (f.dir, f.open_name, f.pristine, f.pristine_len);
  append_after_recovery (&f, N_ENTRIES, 1);
  ck_assert_uint_eq (util_file_size (f.dir, f.open_name), f.pristine_len);
  gsize len = 0;
  g_autofree guint8 *after = util_read_file (f.dir, f.open_name, &len);
  ck_assert_int_eq (memcmp (after, f.pristine, f.data_end), 0);
  RaftEntry e = { 0 };
  gsize size = 0;
  ck_assert (raft_segment_record_decode (after + f.data_end, len - f.data_end, 0, &e, &size));
  ck_assert_uint_eq (e.index, N_ENTRIES + 1);
  raft_entry_clear (&e);
  g_free (copy);
  fixture_clear (&f);
}
END_TEST

static gint
name_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* Name of the second closed segment (of at least three) and its range. */
static char *
middle_segment (const char *dir, guint64 *first, guint64 *last)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "seg-"))
      g_ptr_array_add (names, g_strdup (name));
  g_dir_close (d);
  ck_assert_uint_ge (names->len, 3);
  g_ptr_array_sort (names, name_cmp);
  char *pick = g_strdup (g_ptr_array_index (names, 1));
  g_ptr_array_unref (names);
  gboolean is_open;
  guint32 salt;
  ck_assert (raft_segment_name_parse (pick, first, last, &is_open, &salt));
  return pick;
}

static void
damage_record (const char *dir, const char *name, guint record, gsize *offset_out)
{
  gsize len = 0;
  guint8 *data = util_read_file (dir, name, &len);
  RaftSegmentScan scan;
  raft_segment_scan (data, len, 1, 0, 0, NULL, &scan);   /* index check fails: use offsets only */
  gsize off = 0;
  for (guint i = 0; i < record; i++)
    {
      gsize size = 0;
      ck_assert (raft_segment_record_decode (data + off, len - off, 0, NULL, &size));
      off += size;
    }
  data[off + RAFT_SEGMENT_HEADER_SIZE - 1] ^= 0x10;   /* the CRC field */
  util_write_file (dir, name, data, len);
  raft_segment_scan_clear (&scan);
  g_free (data);
  *offset_out = off;
}

/* Name of the newest closed segment and its range. */
static char *
last_closed_segment (const char *dir, guint64 *first, guint64 *last)
{
  char *name = util_find_file (dir, "seg-", ".log");
  gboolean is_open;
  guint32 salt;
  ck_assert_ptr_nonnull (name);
  ck_assert (raft_segment_name_parse (name, first, last, &is_open, &salt));
  return name;
}

static void
remove_file (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  ck_assert_int_eq (g_unlink (path), 0);
}

/* Closing a full segment is: cut the zero tail, fsync, rename; a crash
 * may hit between any two. The fixture's open segment is dropped (its
 * entries are uncommitted) so its closed predecessor plays the full one. */
START_TEST (test_close_crash_points)
{
  Fixture f;
  fixture_build (&f, 3);
  guint64 first, last;
  g_autofree char *closed = last_closed_segment (f.dir, &first, &last);
  g_autofree char *opened = raft_segment_name_open (first, 0);
  gsize len = 0;
  g_autofree guint8 *records = util_read_file (f.dir, closed, &len);
  guint8 *zeros = g_malloc0 (len + 300);
  memcpy (zeros, records, len);
  remove_file (f.dir, f.open_name);
  remove_file (f.dir, closed);
  RaftStorageRecovery rec;

  /* Before the cut: still open, with its zeros. Nothing to repair. */
  util_write_file (f.dir, opened, zeros, len + 300);
  RaftStorage *s = util_open (f.dir, NULL, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (raft_storage_last_index (s), last);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  ck_assert_uint_eq (util_file_size (f.dir, opened), len + 300);

  /* After the cut, before the rename: exactly sized and still open. */
  util_write_file (f.dir, opened, records, len);
  s = util_open (f.dir, NULL, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);

  /* The rename reached the disk but the cut did not (a file system that
   * does not order them): every record checks, only the zeros go. */
  remove_file (f.dir, opened);
  util_write_file (f.dir, closed, zeros, len + 300);
  s = util_open (f.dir, NULL, &rec);
  ck_assert_uint_eq (rec.repairs->len, 1);
  ck_assert_msg (strstr (g_ptr_array_index (rec.repairs, 0), "zero bytes"), "%s",
                 (char *) g_ptr_array_index (rec.repairs, 0));
  ck_assert_uint_eq (raft_storage_last_index (s), last);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  ck_assert_uint_eq (util_file_size (f.dir, closed), len);

  /* After the rename, the next segment created and filled, before any
   * record reached it: it is dropped without a word. */
  g_autofree char *next = raft_segment_name_open (last + 1, 0);
  util_write_file (f.dir, next, zeros + len, 300);
  s = util_open (f.dir, NULL, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (raft_storage_last_index (s), last);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  ck_assert (!util_exists (f.dir, next));

  /* Two open segments (not produced by this code): the older one is cut
   * and closed, the empty newer one dropped. */
  remove_file (f.dir, closed);
  util_write_file (f.dir, opened, zeros, len + 300);
  util_write_file (f.dir, next, zeros + len, 300);
  s = util_open (f.dir, NULL, &rec);
  ck_assert_uint_eq (raft_storage_last_index (s), last);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  ck_assert (util_exists (f.dir, closed) && !util_exists (f.dir, opened));
  util_check_closed_segments (f.dir);

  append_after_recovery (&f, last, 40);
  ck_assert_uint_ge (util_check_closed_segments (f.dir), 4);
  g_free (zeros);
  fixture_clear (&f);
}
END_TEST

START_TEST (test_corrupt_closed_segment_committed)
{
  Fixture f;
  fixture_build (&f, N_ENTRIES);
  guint64 first, last;
  gsize off;
  g_autofree char *name = middle_segment (f.dir, &first, &last);
  damage_record (f.dir, name, 2, &off);
  GError *error = NULL;
  RaftStorage *s = raft_storage_open (f.dir, NULL, NULL, &error);
  ck_assert_ptr_null (s);
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_DATA_LOSS));
  g_autofree char *where = g_strdup_printf ("offset %" G_GSIZE_FORMAT, off);
  g_autofree char *range = g_strdup_printf ("entries %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
                                            first, last);
  g_autofree char *bad = g_strdup_printf ("index %" G_GUINT64_FORMAT, first + 2);
  ck_assert_msg (strstr (error->message, name) && strstr (error->message, where)
                 && strstr (error->message, range) && strstr (error->message, bad),
                 "%s", error->message);
  g_clear_error (&error);
  ck_assert (util_exists (f.dir, name));
  ck_assert_uint_eq (util_count_files (f.dir, ".corrupt"), 0);
  fixture_clear (&f);
}
END_TEST

START_TEST (test_corrupt_closed_segment_uncommitted)
{
  Fixture f;
  fixture_build (&f, 3);
  guint64 first, last;
  gsize off;
  g_autofree char *name = middle_segment (f.dir, &first, &last);
  damage_record (f.dir, name, 0, &off);
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (f.dir, NULL, &rec);
  ck_assert_uint_eq (raft_storage_last_index (s), first - 1);
  ck_assert_uint_ge (rec.repairs->len, 2);   /* the segment, and those after it */
  ck_assert (!util_exists (f.dir, name));
  g_autofree char *aside = g_strconcat (name, ".corrupt", NULL);
  ck_assert (util_exists (f.dir, aside));
  raft_storage_recovery_clear (&rec);
  util_append_range (s, first, first + 9, 2, 3, SMALL);
  raft_storage_close (s);
  s = util_open (f.dir, NULL, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.entries->len, first + 9);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  fixture_clear (&f);
}
END_TEST

START_TEST (test_gap_between_segments)
{
  Fixture f;
  fixture_build (&f, N_ENTRIES);
  guint64 first, last;
  g_autofree char *name = middle_segment (f.dir, &first, &last);
  g_autofree char *path = g_build_filename (f.dir, name, NULL);
  ck_assert_int_eq (g_unlink (path), 0);
  GError *error = NULL;
  ck_assert_ptr_null (raft_storage_open (f.dir, NULL, NULL, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_DATA_LOSS));
  g_autofree char *range = g_strdup_printf ("entries %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                                            " are missing", first, last);
  ck_assert_msg (strstr (error->message, range), "%s", error->message);
  g_clear_error (&error);

  /* With a low commit index the node starts on the prefix. */
  RaftHardState hs = { 1, 1, 2 };
  guint64 seq = 0;
  RaftHardState old;
  ck_assert (raft_hard_state_load (f.dir, &old, &seq, NULL));
  ck_assert (raft_hard_state_save (f.dir, &seq, &hs, FALSE, NULL));
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (f.dir, NULL, &rec);
  ck_assert_uint_eq (raft_storage_last_index (s), first - 1);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  fixture_clear (&f);
}
END_TEST

/* ---- hard state ---- */

static void
write_slot (const char *dir, guint slot, const guint8 *data, gsize len)
{
  char name[16];
  g_snprintf (name, sizeof name, "hardstate-%u", slot);
  util_write_file (dir, name, data, len);
}

static void
expect_hard_state (const char *dir, const RaftHardState *want)
{
  RaftHardState got;
  guint64 seq = 0;
  GError *error = NULL;
  ck_assert_msg (raft_hard_state_load (dir, &got, &seq, &error), "%s",
                 error ? error->message : "");
  ck_assert_uint_eq (got.term, want->term);
  ck_assert_uint_eq (got.vote, want->vote);
  ck_assert_uint_eq (got.commit, want->commit);
}

START_TEST (test_hard_state_crash_points)
{
  char *dir = util_tmpdir ();
  RaftHardState zero = { 0, 0, 0 }, a = { 3, 1, 0 }, b = { 4, 2, 0 }, c = { 5, 3, 0 };
  guint64 seq = 0;
  GError *error = NULL;

  expect_hard_state (dir, &zero);
  /* A crash during the very first save: a torn slot alone means "nothing saved". */
  guint8 enc[RAFT_HARD_STATE_SLOT_SIZE];
  raft_hard_state_encode (enc, 1, &a);
  for (gsize k = 0; k < sizeof enc; k++)
    {
      write_slot (dir, 1, enc, k);
      expect_hard_state (dir, &zero);
    }
  ck_assert (raft_hard_state_save (dir, &seq, &a, TRUE, &error));   /* seq 1, slot 1 */
  ck_assert (raft_hard_state_save (dir, &seq, &b, TRUE, &error));   /* seq 2, slot 0 */
  ck_assert_uint_eq (seq, 2);
  expect_hard_state (dir, &b);

  /* Saving c rewrites slot 1: crash after every prefix of the new bytes,
   * over the old content (torn overwrite) and as a short file. */
  gsize old_len = 0;
  g_autofree guint8 *old = util_read_file (dir, "hardstate-1", &old_len);
  ck_assert_uint_eq (old_len, RAFT_HARD_STATE_SLOT_SIZE);
  raft_hard_state_encode (enc, 3, &c);
  for (gsize k = 0; k <= sizeof enc; k++)
    {
      guint8 torn[RAFT_HARD_STATE_SLOT_SIZE];
      memcpy (torn, enc, k);
      memcpy (torn + k, old + k, sizeof torn - k);
      write_slot (dir, 1, torn, sizeof torn);
      expect_hard_state (dir, memcmp (torn, enc, sizeof enc) == 0 ? &c : &b);
      write_slot (dir, 1, enc, k);
      expect_hard_state (dir, k == sizeof enc ? &c : &b);
    }
  /* After a torn save the next save still lands in the right slot. */
  write_slot (dir, 1, enc, 20);
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (dir, NULL, &rec);
  ck_assert_uint_eq (rec.hard_state.term, 4);
  raft_storage_recovery_clear (&rec);
  ck_assert (raft_storage_save_hard_state (s, &c, &error));
  raft_storage_close (s);
  expect_hard_state (dir, &c);

  /* Both slots damaged: the term and vote are unknown, refuse to start. */
  write_slot (dir, 0, enc, 7);
  write_slot (dir, 1, (const guint8 *) "garbage", 7);
  RaftHardState got;
  ck_assert (!raft_hard_state_load (dir, &got, &seq, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_CORRUPT));
  g_clear_error (&error);
  ck_assert_ptr_null (raft_storage_open (dir, NULL, NULL, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_CORRUPT));
  g_clear_error (&error);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_hard_state_bit_flips)
{
  char *dir = util_tmpdir ();
  RaftHardState a = { 3, 1, 10 }, b = { 4, 2, 11 };
  guint64 seq = 0;
  ck_assert (raft_hard_state_save (dir, &seq, &a, FALSE, NULL));
  ck_assert (raft_hard_state_save (dir, &seq, &b, FALSE, NULL));   /* slot 0 */
  gsize len = 0;
  g_autofree guint8 *good = util_read_file (dir, "hardstate-0", &len);
  for (gsize i = 0; i < len; i++)
    {
      if (i >= 44)
        continue;   /* the reserved word is not checked */
      guint8 copy[RAFT_HARD_STATE_SLOT_SIZE];
      memcpy (copy, good, len);
      copy[i] ^= (guint8) (1u << (i % 8));
      write_slot (dir, 0, copy, len);
      expect_hard_state (dir, &a);
    }
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

static Suite *
recovery_suite (void)
{
  Suite *s = suite_create ("raft-storage-recovery");
  TCase *tc = tcase_create ("log");
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_truncate_every_offset);
  tcase_add_test (tc, test_torn_record_then_zeros);
  tcase_add_test (tc, test_zero_fill_crash_points);
  tcase_add_test (tc, test_close_crash_points);
  tcase_add_test (tc, test_flip_every_field);
  tcase_add_test (tc, test_garbage_tail);
  tcase_add_test (tc, test_torn_tail_below_commit_is_data_loss);
  tcase_add_test (tc, test_corrupt_closed_segment_committed);
  tcase_add_test (tc, test_corrupt_closed_segment_uncommitted);
  tcase_add_test (tc, test_gap_between_segments);
  suite_add_tcase (s, tc);
  TCase *th = tcase_create ("hard-state");
  tcase_add_test (th, test_hard_state_crash_points);
  tcase_add_test (th, test_hard_state_bit_flips);
  suite_add_tcase (s, th);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (recovery_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
