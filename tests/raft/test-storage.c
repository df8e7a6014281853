/* test-storage.c — the Raft log store in normal use: append/read/reopen
 * across many segments, suffix truncation then append, compaction behind a
 * snapshot, hard state, a simulated full disk, preallocation of the open
 * segment (appends overwrite zeros, closed segments are exactly sized,
 * reopen-and-append cycles, a full disk while filling), compacted
 * segments recycled as the next open one, and the writer
 * thread (ordering, group commit, error reports). */
#include "config.h"
#include "storage-test-util.h"
#include "raft-segment.h"
#include "raft-snapshot-file.h"
#include "raft-writer.h"

#define MAXLEN 120

static void
check_log (RaftStorage *s, guint64 lo, guint64 hi, guint64 (*term_of) (guint64))
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (RaftEntry));
  GError *error = NULL;
  g_array_set_clear_func (out, (GDestroyNotify) raft_entry_clear);
  ck_assert_msg (raft_storage_read (s, lo, hi, out, &error), "%s", error ? error->message : "");
  ck_assert_uint_eq (out->len, hi - lo + 1);
  for (guint64 i = lo; i <= hi; i++)
    util_check_entry (&g_array_index (out, RaftEntry, i - lo), i, term_of (i), MAXLEN);
  g_array_unref (out);
}

static guint64
term_by_100 (guint64 index)
{
  return 1 + index / 100;
}

static void
append_terms (RaftStorage *s, guint64 lo, guint64 hi, guint batch)
{
  for (guint64 i = lo; i <= hi;)
    {
      guint64 end = MIN (hi, i + batch - 1);
      guint64 t = term_by_100 (i);
      guint64 stop = MIN (end, (t * 100) - 1);   /* one term per batch */
      util_append_range (s, i, stop, t, batch, MAXLEN);
      i = stop + 1;
    }
}

START_TEST (test_round_trip_many_segments)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 2048 };
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.entries->len, 0);
  ck_assert_uint_eq (raft_storage_last_index (s), 0);
  raft_storage_recovery_clear (&rec);

  append_terms (s, 1, 700, 7);
  ck_assert_uint_eq (raft_storage_last_index (s), 700);
  ck_assert_uint_gt (raft_storage_n_segments (s), 20);
  check_log (s, 1, 700, term_by_100);
  check_log (s, 333, 334, term_by_100);
  raft_storage_close (s);

  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.entries->len, 700);
  ck_assert_uint_eq (rec.repairs->len, 0);
  for (guint i = 0; i < rec.entries->len; i++)
    util_check_entry (&g_array_index (rec.entries, RaftEntry, i), i + 1, term_by_100 (i + 1), MAXLEN);
  raft_storage_recovery_clear (&rec);
  guint64 t = 0;
  ck_assert (raft_storage_term (s, 650, &t));
  ck_assert_uint_eq (t, 7);
  append_terms (s, 701, 900, 50);
  check_log (s, 1, 900, term_by_100);
  raft_storage_close (s);

  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.entries->len, 900);
  ck_assert_uint_eq (raft_storage_last_index (s), 900);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_append_rejects_bad_index)
{
  char *dir = util_tmpdir ();
  RaftStorage *s = util_open (dir, NULL, NULL);
  GError *error = NULL;
  RaftEntry e = util_entry (2, 1, MAXLEN);
  ck_assert (!raft_storage_append (s, &e, 1, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_INVALID));
  g_clear_error (&error);
  raft_entry_clear (&e);
  util_append_range (s, 1, 3, 5, 3, MAXLEN);
  e = util_entry (4, 4, MAXLEN);   /* term going backwards */
  ck_assert (!raft_storage_append (s, &e, 1, &error));
  g_clear_error (&error);
  raft_entry_clear (&e);
  ck_assert_uint_eq (raft_storage_last_index (s), 3);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

static guint64
term_after_truncate (guint64 index)
{
  return index < 150 ? term_by_100 (index) : 9;
}

static guint64
term_after_truncate2 (guint64 index)
{
  return index < 190 ? term_after_truncate (index) : 10;
}

START_TEST (test_truncate_suffix_then_append)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 1024 };
  RaftStorageRecovery rec;
  GError *error = NULL;
  RaftStorage *s = util_open (dir, &opts, NULL);
  append_terms (s, 1, 300, 10);
  guint nseg = raft_storage_n_segments (s);
  /* 150 is inside a closed segment. */
  ck_assert (raft_storage_truncate_suffix (s, 150, &error));
  ck_assert_uint_eq (raft_storage_last_index (s), 149);
  ck_assert_uint_lt (raft_storage_n_segments (s), nseg);
  util_append_range (s, 150, 200, 9, 5, MAXLEN);
  check_log (s, 1, 200, term_after_truncate);
  /* 190 is inside the open segment. */
  ck_assert (raft_storage_truncate_suffix (s, 190, &error));
  util_append_range (s, 190, 195, 10, 2, MAXLEN);
  check_log (s, 1, 195, term_after_truncate2);
  /* Committed entries cannot be removed. */
  RaftHardState hs = { 10, 1, 180 };
  ck_assert (raft_storage_save_hard_state (s, &hs, &error));
  ck_assert (!raft_storage_truncate_suffix (s, 170, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_INVALID));
  g_clear_error (&error);
  raft_storage_close (s);

  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.entries->len, 195);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.hard_state.commit, 180);
  for (guint i = 0; i < 195; i++)
    util_check_entry (&g_array_index (rec.entries, RaftEntry, i), i + 1,
                      term_after_truncate2 (i + 1), MAXLEN);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

static void
write_snapshot (const char *dir, guint64 index, guint64 term, const char *body)
{
  RaftNodeId ids[2] = { 1, 2 };
  char *addrs[3] = { (char *) "a:1", (char *) "b:2", NULL };
  RaftSnapshotMeta meta = { index, term, { 2, ids, addrs } };
  GError *error = NULL;
  RaftSnapshotWriter *w = raft_snapshot_writer_new (dir, &meta, &error);
  ck_assert_msg (w != NULL, "%s", error ? error->message : "");
  ck_assert (raft_snapshot_writer_write (w, body, strlen (body), &error));
  ck_assert (raft_snapshot_writer_commit (w, NULL, &error));
}

START_TEST (test_compaction)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 1024 };
  RaftStorageRecovery rec;
  GError *error = NULL;
  RaftStorage *s = util_open (dir, &opts, NULL);
  append_terms (s, 1, 500, 10);
  guint nseg = raft_storage_n_segments (s);
  write_snapshot (dir, 300, term_by_100 (300), "catalog@300");
  RaftSnapshotMeta meta = { 300, term_by_100 (300), { 0 } };
  ck_assert (raft_storage_compact (s, &meta, &error));
  ck_assert_uint_lt (raft_storage_n_segments (s), nseg);
  ck_assert_uint_eq (raft_storage_first_index (s), 301);
  guint64 t = 0;
  ck_assert (raft_storage_term (s, 300, &t));
  ck_assert_uint_eq (t, 4);
  check_log (s, 301, 500, term_by_100);
  raft_storage_close (s);

  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.snapshot.index, 300);
  ck_assert_uint_eq (rec.snapshot.term, 4);
  ck_assert_uint_eq (rec.snapshot.config.n_nodes, 2);
  ck_assert_str_eq (rec.snapshot.config.addresses[1], "b:2");
  ck_assert_ptr_nonnull (rec.snapshot_path);
  ck_assert_uint_eq (rec.entries->len, 200);
  util_check_entry (&g_array_index (rec.entries, RaftEntry, 0), 301, 4, MAXLEN);
  raft_storage_recovery_clear (&rec);

  /* A snapshot beyond the log (install on a lagging node) resets it. */
  write_snapshot (dir, 1000, 12, "catalog@1000");
  ck_assert_uint_eq (util_count_files (dir, ".snap"), 1);
  RaftSnapshotMeta ahead = { 1000, 12, { 0 } };
  ck_assert (raft_storage_compact (s, &ahead, &error));
  ck_assert_uint_eq (raft_storage_last_index (s), 1000);
  ck_assert_uint_eq (raft_storage_n_segments (s), 0);
  util_append_range (s, 1001, 1010, 12, 4, MAXLEN);
  raft_storage_close (s);

  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.snapshot.index, 1000);
  ck_assert_uint_eq (rec.entries->len, 10);
  util_check_entry (&g_array_index (rec.entries, RaftEntry, 9), 1010, 12, MAXLEN);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_hard_state_round_trip)
{
  char *dir = util_tmpdir ();
  RaftStorageRecovery rec;
  GError *error = NULL;
  RaftStorage *s = util_open (dir, NULL, &rec);
  ck_assert_uint_eq (rec.hard_state.term, 0);
  raft_storage_recovery_clear (&rec);
  for (guint64 t = 1; t <= 5; t++)
    {
      RaftHardState hs = { t, t % 3, t * 2 };
      util_append_range (s, raft_storage_last_index (s) + 1, t * 2, t, 8, MAXLEN);
      ck_assert (raft_storage_save_hard_state (s, &hs, &error));
    }
  raft_storage_close (s);
  s = util_open (dir, NULL, &rec);
  ck_assert_uint_eq (rec.hard_state.term, 5);
  ck_assert_uint_eq (rec.hard_state.vote, 2);
  ck_assert_uint_eq (rec.hard_state.commit, 10);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

static guint64
term_one (guint64 index)
{
  return 1;
}

/* Appends batches of 4 until the simulated disk is full; returns the
 * last durable index. */
static guint64
fill_disk (RaftStorage *s, guint64 next)
{
  GError *error = NULL;
  for (;; next += 4)
    {
      RaftEntry es[4];
      for (int i = 0; i < 4; i++)
        es[i] = util_entry (next + i, 1, MAXLEN);
      gboolean ok = raft_storage_append (s, es, 4, &error);
      for (int i = 0; i < 4; i++)
        raft_entry_clear (&es[i]);
      if (!ok)
        break;
    }
  ck_assert_msg (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_NO_SPACE), "%s", error->message);
  g_clear_error (&error);
  return next - 1;
}

START_TEST (test_full_disk)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 4096, .byte_limit = 10000 };
  RaftStorageRecovery rec;
  GError *error = NULL;
  RaftStorage *s = util_open (dir, &opts, NULL);
  guint64 durable = fill_disk (s, 1);
  ck_assert_uint_eq (raft_storage_last_index (s), durable);
  ck_assert_uint_gt (durable, 20);
  /* Still full: the same clean error, nothing changes. */
  RaftEntry e = util_entry (durable + 1, 1, MAXLEN);
  ck_assert (!raft_storage_append (s, &e, 1, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_NO_SPACE));
  g_clear_error (&error);
  check_log (s, 1, durable, term_one);
  /* Space freed: appending works again from where it was. */
  raft_storage_set_byte_limit (s, 0);
  ck_assert (raft_storage_append (s, &e, 1, &error));
  raft_entry_clear (&e);
  durable++;
  raft_storage_set_byte_limit (s, 20000);
  durable = fill_disk (s, durable + 1);
  raft_storage_close (s);

  util_check_closed_segments (dir);
  RaftStorageOptions plain = { .segment_size = 4096 };
  s = util_open (dir, &plain, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.entries->len, durable);
  for (guint i = 0; i < durable; i++)
    util_check_entry (&g_array_index (rec.entries, RaftEntry, i), i + 1, 1, MAXLEN);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_failed_fsync_breaks_until_reopen)
{
  char *dir = util_tmpdir ();
  RaftStorageRecovery rec;
  GError *error = NULL;
  RaftStorage *s = util_open (dir, NULL, NULL);
  util_append_range (s, 1, 10, 1, 5, MAXLEN);
  raft_storage_set_fail_sync (s, TRUE);
  RaftEntry e = util_entry (11, 1, MAXLEN);
  ck_assert (!raft_storage_append (s, &e, 1, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_IO));
  g_clear_error (&error);
  raft_storage_set_fail_sync (s, FALSE);
  /* After a failed fsync the file contents are unknown: refuse everything. */
  ck_assert (!raft_storage_append (s, &e, 1, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_IO));
  ck_assert (strstr (error->message, "reopened"));
  g_clear_error (&error);
  RaftHardState hs = { 2, 0, 0 };
  ck_assert (!raft_storage_save_hard_state (s, &hs, &error));
  g_clear_error (&error);
  ck_assert (!raft_storage_truncate_suffix (s, 5, &error));
  g_clear_error (&error);
  ck_assert_uint_eq (raft_storage_last_index (s), 10);
  raft_storage_close (s);
  /* Reopened: entry 11 reached the file (only its fsync "failed"), so it is
   * a valid, merely unacknowledged, entry; appending resumes after it. */
  s = util_open (dir, NULL, &rec);
  ck_assert_uint_eq (rec.entries->len, 11);
  raft_storage_recovery_clear (&rec);
  raft_entry_clear (&e);
  util_append_range (s, 12, 20, 1, 3, MAXLEN);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

/* ---- writer thread ---- */

typedef struct {
  GArray *seqs;              /* guint64 */
  GArray *last_indexes;      /* guint64 */
  guint errors;
  gint last_error_code;
  GThread *owner;
} Reports;

static void
on_done (const RaftWriterResult *result, gpointer user_data)
{
  Reports *r = user_data;
  ck_assert_ptr_eq (g_thread_self (), r->owner);   /* reported on the caller's loop */
  g_array_append_val (r->seqs, result->seq);
  g_array_append_val (r->last_indexes, result->last_index);
  if (result->error)
    {
      r->errors++;
      r->last_error_code = result->error->code;
    }
}

static void
reports_wait (Reports *r, GMainContext *ctx, guint64 seq)
{
  while (r->seqs->len == 0 || g_array_index (r->seqs, guint64, r->seqs->len - 1) < seq)
    g_main_context_iteration (ctx, TRUE);
}

static void
reports_init (Reports *r)
{
  memset (r, 0, sizeof *r);
  r->owner = g_thread_self ();
  r->seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  r->last_indexes = g_array_new (FALSE, FALSE, sizeof (guint64));
}

static void
reports_clear (Reports *r)
{
  g_array_unref (r->seqs);
  g_array_unref (r->last_indexes);
}

START_TEST (test_writer_group_commit_and_order)
{
  char *dir = util_tmpdir ();
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  Reports r;
  reports_init (&r);
  RaftWriter *w = raft_writer_new (util_open (dir, NULL, NULL), on_done, &r);

  raft_writer_hold (w, TRUE);
  for (guint64 i = 1; i <= 100; i++)
    {
      RaftEntry e = util_entry (i, 1, MAXLEN);
      raft_writer_append (w, &e, 1);
      raft_entry_clear (&e);
    }
  RaftHardState hs = { 1, 7, 100 };
  guint64 hs_seq = raft_writer_save_hard_state (w, &hs);
  guint64 last_seq = 0;
  for (guint64 i = 101; i <= 150; i++)
    {
      RaftEntry e = util_entry (i, 2, MAXLEN);
      last_seq = raft_writer_append (w, &e, 1);
      raft_entry_clear (&e);
    }
  ck_assert_uint_eq (hs_seq, 101);
  ck_assert_uint_eq (last_seq, 151);
  raft_writer_hold (w, FALSE);
  reports_wait (&r, ctx, last_seq);
  RaftWriterStats st = raft_writer_get_stats (w);
  /* 150 queued appends: one fsync before the hard state, one after. */
  ck_assert_uint_eq (st.storage.fsyncs, 2);
  ck_assert_uint_eq (st.storage.entries, 150);
  ck_assert_uint_eq (st.groups, 3);
  ck_assert_uint_eq (r.seqs->len, 3);
  ck_assert_uint_eq (g_array_index (r.seqs, guint64, 0), 100);
  ck_assert_uint_eq (g_array_index (r.last_indexes, guint64, 0), 100);
  ck_assert_uint_eq (g_array_index (r.seqs, guint64, 1), 101);
  ck_assert_uint_eq (g_array_index (r.last_indexes, guint64, 2), 150);
  ck_assert_uint_eq (r.errors, 0);

  /* Ordering across kinds: truncate then append then compact. */
  guint64 s1 = raft_writer_truncate_suffix (w, 120);
  RaftEntry e = util_entry (120, 3, MAXLEN);
  guint64 s2 = raft_writer_append (w, &e, 1);
  raft_entry_clear (&e);
  ck_assert_uint_gt (s2, s1);
  raft_writer_flush (w);
  reports_wait (&r, ctx, s2);
  ck_assert_uint_eq (g_array_index (r.last_indexes, guint64, r.seqs->len - 1), 120);
  ck_assert_uint_eq (r.errors, 0);

  /* A bad append is reported, later good ones still run. */
  e = util_entry (500, 3, MAXLEN);
  raft_writer_append (w, &e, 1);
  raft_entry_clear (&e);
  raft_writer_flush (w);
  e = util_entry (121, 3, MAXLEN);
  guint64 s3 = raft_writer_append (w, &e, 1);
  raft_entry_clear (&e);
  reports_wait (&r, ctx, s3);
  ck_assert_uint_eq (r.errors, 1);
  ck_assert_int_eq (r.last_error_code, RAFT_ERROR_INVALID);
  ck_assert_uint_eq (g_array_index (r.last_indexes, guint64, r.seqs->len - 1), 121);
  raft_writer_free (w);

  RaftStorageRecovery rec;
  RaftStorage *s = util_open (dir, NULL, &rec);
  ck_assert_uint_eq (rec.entries->len, 121);
  ck_assert_uint_eq (rec.hard_state.vote, 7);
  util_check_entry (&g_array_index (rec.entries, RaftEntry, 119), 120, 3, MAXLEN);
  util_check_entry (&g_array_index (rec.entries, RaftEntry, 118), 119, 2, MAXLEN);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  reports_clear (&r);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

START_TEST (test_writer_free_drains_queue)
{
  char *dir = util_tmpdir ();
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  Reports r;
  reports_init (&r);
  RaftWriter *w = raft_writer_new (util_open (dir, NULL, NULL), on_done, &r);
  for (guint64 i = 1; i <= 40; i++)
    {
      RaftEntry e = util_entry (i, 1, MAXLEN);
      raft_writer_append (w, &e, 1);
      raft_entry_clear (&e);
    }
  RaftSnapshotMeta meta = { 10, 1, { 0 } };
  raft_writer_compact (w, &meta);
  raft_writer_free (w);
  /* Reports still queued in the context are dropped, not delivered. */
  while (g_main_context_iteration (ctx, FALSE))
    ;
  ck_assert_uint_eq (r.seqs->len, 0);
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (dir, NULL, &rec);
  ck_assert_uint_eq (raft_storage_last_index (s), 40);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  reports_clear (&r);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

typedef struct {
  guint64 durable;
  guint reports;
} Stream;

static void
on_stream_done (const RaftWriterResult *result, gpointer user_data)
{
  Stream *st = user_data;
  ck_assert_ptr_null (result->error);
  ck_assert_uint_ge (result->last_index, st->durable);   /* never goes back */
  st->durable = result->last_index;
  st->reports++;
}

/* The way a node uses it: keep appending while reports come back. */
START_TEST (test_writer_stream)
{
  char *dir = util_tmpdir ();
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  Stream st = { 0, 0 };
  RaftStorageOptions opts = { .segment_size = 4096 };
  RaftWriter *w = raft_writer_new (util_open (dir, &opts, NULL), on_stream_done, &st);
  guint64 next = 1, total = 600;
  while (st.durable < total)
    {
      while (next <= total && next - 1 - st.durable < 64)
        {
          RaftEntry e = util_entry (next, 1 + next / 100, MAXLEN);
          raft_writer_append (w, &e, 1);
          raft_entry_clear (&e);
          if (next % 50 == 0)
            {
              RaftHardState hs = { 1 + next / 100, 0, st.durable };
              raft_writer_save_hard_state (w, &hs);
            }
          next++;
        }
      g_main_context_iteration (ctx, TRUE);
    }
  raft_writer_flush (w);   /* the last hard state may still be queued */
  RaftWriterStats stats = raft_writer_get_stats (w);
  ck_assert_uint_eq (stats.storage.entries, total);
  ck_assert_uint_le (stats.storage.fsyncs, stats.storage.appends);
  ck_assert_uint_le (stats.storage.appends, total);
  ck_assert_uint_eq (stats.ops_done, stats.ops_submitted);
  raft_writer_free (w);
  ck_assert_uint_ge (util_check_closed_segments (dir), 5);
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.entries->len, total);
  for (guint i = 0; i < total; i++)
    util_check_entry (&g_array_index (rec.entries, RaftEntry, i), i + 1, 1 + (i + 1) / 100, MAXLEN);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

static char *
open_segment_name (const char *dir)
{
  char *name = util_find_file (dir, "open-", ".log");
  ck_assert_ptr_nonnull (name);
  return name;
}

/* Synchronous appends: the first grows the file and zero-fills a step
 * behind it in the same fsync; the next ones overwrite the zeros, so the
 * file length only moves once per step. */
START_TEST (test_prealloc_overwrites)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 64 * 1024, .prealloc_step = 16 * 1024 };
  RaftStorage *s = util_open (dir, &opts, NULL);
  util_append_range (s, 1, 1, 1, 1, MAXLEN);
  g_autofree char *name = open_segment_name (dir);
  gsize len = util_file_size (dir, name);
  ck_assert_uint_gt (len, 16 * 1024);
  RaftStorageStats st = raft_storage_get_stats (s);
  ck_assert_uint_eq (st.prealloc_bytes, len - st.bytes);
  ck_assert_uint_eq (st.fsyncs, 1);
  guint64 next = 2, steps = 0;
  while (raft_storage_n_segments (s) == 1)
    {
      util_append_range (s, next, next, 1, 1, MAXLEN);
      next++;
      if (!util_exists (dir, name))
        break;
      gsize now = util_file_size (dir, name);
      if (now != len)
        {
          ck_assert_uint_gt (now, len);
          steps++;
          len = now;
        }
    }
  /* 64 KiB of records in ~16 KiB steps; each append one fsync. */
  ck_assert_uint_ge (steps, 2);
  ck_assert_uint_le (steps, 5);
  st = raft_storage_get_stats (s);
  ck_assert_uint_eq (st.fsyncs, st.appends);
  ck_assert_uint_eq (st.prealloc_fsyncs, 1);   /* the close: cut, then fsync */
  util_append_range (s, next, next + 100, 1, 3, MAXLEN);
  ck_assert_uint_ge (util_check_closed_segments (dir), 1);
  raft_storage_close (s);
  RaftStorageRecovery rec;
  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.entries->len, next + 100);
  raft_storage_recovery_clear (&rec);
  check_log (s, 1, next + 100, term_one);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

/* What the writer does between bursts: prepare closes full segments,
 * creates the next and fills ahead, so appends never change a file's
 * length; every closed segment ends at its last record. */
START_TEST (test_prepare_ahead)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 8192, .prealloc_step = 2048 };
  GError *error = NULL;
  RaftStorage *s = util_open (dir, &opts, NULL);
  ck_assert (raft_storage_prepare (s, &error));
  ck_assert_uint_eq (raft_storage_n_segments (s), 1);   /* created, empty */
  for (guint64 i = 1; i <= 400; i++)
    {
      ck_assert (raft_storage_prepare (s, &error));
      g_autofree char *name = open_segment_name (dir);
      gsize before = util_file_size (dir, name);
      util_append_range (s, i, i, 1, 1, MAXLEN);
      if (util_exists (dir, name))   /* not closed by this append */
        ck_assert_uint_eq (util_file_size (dir, name), before);
    }
  RaftStorageStats st = raft_storage_get_stats (s);
  ck_assert_uint_eq (st.fsyncs, 400);
  ck_assert_uint_gt (st.prealloc_fsyncs, 4);
  /* Prepared in bounded steps, then there is nothing left to do. */
  for (guint i = 0; !raft_storage_prepared (s); i++)
    {
      ck_assert_uint_lt (i, 4);
      ck_assert (raft_storage_prepare (s, &error));
    }
  st = raft_storage_get_stats (s);
  ck_assert (raft_storage_prepare (s, &error));
  ck_assert_uint_eq (raft_storage_get_stats (s).prealloc_fsyncs, st.prealloc_fsyncs);
  ck_assert_uint_eq (raft_storage_get_stats (s).prealloc_bytes, st.prealloc_bytes);
  ck_assert_uint_ge (util_check_closed_segments (dir), 3);
  raft_storage_close (s);
  RaftStorageRecovery rec;
  s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.entries->len, 400);
  raft_storage_recovery_clear (&rec);
  check_log (s, 1, 400, term_one);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

/* Appends single entries from @next until a recycled segment is opened;
 * returns the next index. */
static guint64
append_until_recycled (RaftStorage *s, guint64 next)
{
  guint64 recycled = raft_storage_get_stats (s).recycled;
  while (raft_storage_get_stats (s).recycled == recycled)
    {
      util_append_range (s, next, next, 1, 1, MAXLEN);
      ck_assert_uint_lt (++next, 5000);
    }
  return next;
}

/* Reopens @dir: recovery reports one repair and keeps 1..@last. */
static void
expect_one_repair (const char *dir, const RaftStorageOptions *opts, guint64 last)
{
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (dir, opts, &rec);
  ck_assert_uint_eq (rec.repairs->len, 1);
  ck_assert_uint_eq (raft_storage_last_index (s), last);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
}

/* Compaction keeps the oldest compacted segment, and the next open segment
 * is made from it (its name carries a salt): appends overwrite its old
 * bytes (with an end marker after each batch) instead of zeros written
 * first. Reopening, with old records still after the marker, finds exactly
 * the log and nothing to report; a record-shaped run of bytes in place of
 * the marker is not taken for an entry; a torn record is reported. */
START_TEST (test_recycle_compacted_segment)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 4096, .prealloc_step = 1024 };
  GError *error = NULL;
  RaftStorage *s = util_open (dir, &opts, NULL);
  util_append_range (s, 1, 200, 1, 3, MAXLEN);
  ck_assert_uint_ge (raft_storage_n_segments (s), 4);
  write_snapshot (dir, 100, 1, "catalog@100");
  RaftSnapshotMeta meta = { 100, 1, { 0 } };
  ck_assert (raft_storage_compact (s, &meta, &error));
  guint spares = util_count_files (dir, ".tmp");
  ck_assert_uint_ge (spares, 2);                     /* several segments went */
  ck_assert_uint_le (spares, 4);
  gsize spare = util_file_size (dir, "spare-0.tmp");  /* the oldest goes first */
  ck_assert_uint_ge (spare, 4096);
  guint64 next = append_until_recycled (s, 201);
  ck_assert (!util_exists (dir, "spare-0.tmp"));
  ck_assert_uint_eq (util_count_files (dir, ".tmp"), spares - 1);
  g_autofree char *name = open_segment_name (dir);
  ck_assert_uint_eq (util_file_size (dir, name), spare);
  guint64 zeros = raft_storage_get_stats (s).prealloc_bytes;
  for (guint i = 0; i < 12; i++, next++)
    util_append_range (s, next, next, 1, 1, MAXLEN);
  ck_assert (util_exists (dir, name));                       /* still open */
  ck_assert_uint_eq (util_file_size (dir, name), spare);     /* overwritten, not grown */
  ck_assert_uint_eq (raft_storage_get_stats (s).prealloc_bytes, zeros);
  check_log (s, 101, next - 1, term_one);
  raft_storage_close (s);

  RaftStorageRecovery rec;
  s = util_open (dir, &opts, &rec);
  ck_assert_msg (rec.repairs->len == 0, "unexpected repair: %s",
                 rec.repairs->len ? (char *) g_ptr_array_index (rec.repairs, 0) : "");
  ck_assert_uint_eq (rec.entries->len, next - 1 - 100);
  raft_storage_recovery_clear (&rec);
  check_log (s, 101, next - 1, term_one);
  util_append_range (s, next, next + 40, 1, 4, MAXLEN);
  next += 41;
  check_log (s, 101, next - 1, term_one);
  raft_storage_close (s);

  /* Recycle once more, then tear the last record: a repair, one entry less. */
  s = util_open (dir, &opts, NULL);
  write_snapshot (dir, next - 1, 1, "catalog@end");
  RaftSnapshotMeta end = { next - 1, 1, { 0 } };
  ck_assert (raft_storage_compact (s, &end, &error));
  next = append_until_recycled (s, next);
  util_append_range (s, next, next + 2, 1, 1, MAXLEN);
  next += 3;
  raft_storage_close (s);
  g_autofree char *open_name = open_segment_name (dir);
  gsize len = 0;
  guint8 *bytes = util_read_file (dir, open_name, &len);
  RaftSegmentScan scan;
  guint64 first = 0, last = 0;
  gboolean is_open = FALSE;
  guint32 salt = 0;
  ck_assert (raft_segment_name_parse (open_name, &first, &last, &is_open, &salt));
  ck_assert_uint_ne (salt, 0);
  raft_segment_scan (bytes, len, first, salt, G_MAXUINT64, NULL, &scan);
  ck_assert (scan.end_marker);
  ck_assert_uint_eq (first + scan.n_records, next);

  /* Where the marker is, bytes shaped like the next record (the marker's
   * sector lost in a crash, an old entry's data carrying such bytes): not
   * salted, so not an entry; a torn tail. */
  GByteArray *forged = g_byte_array_new ();
  RaftEntry fake = util_entry (next, 1, MAXLEN);
  raft_segment_record_append (forged, &fake, 0);
  raft_entry_clear (&fake);
  ck_assert_uint_le (scan.valid_end + forged->len, len);
  guint8 *copy = g_memdup2 (bytes, len);
  memcpy (copy + scan.valid_end, forged->data, forged->len);
  g_byte_array_unref (forged);
  util_write_file (dir, open_name, copy, len);
  g_free (copy);
  expect_one_repair (dir, &opts, next - 1);

  gint64 last_record = g_array_index (scan.offsets, gint64, scan.n_records - 1);
  bytes[last_record + RAFT_SEGMENT_HEADER_SIZE] ^= 0x40;     /* its first data byte */
  util_write_file (dir, open_name, bytes, len);
  raft_segment_scan_clear (&scan);
  g_free (bytes);
  expect_one_repair (dir, &opts, next - 2);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

/* Segment names round-trip with and without a salt; near misses are not
 * segments (recovery leaves such files alone). */
START_TEST (test_segment_names)
{
  guint64 first, last;
  gboolean is_open;
  guint32 salt;
  struct { guint64 first, last; guint32 salt; gboolean open; } cases[] = {
    { 1, 0, 0, TRUE }, { 7, 0, 0xdeadbeef, TRUE }, { 3, 9, 0, FALSE }, { 3, 9, 1, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = cases[i].open
        ? raft_segment_name_open (cases[i].first, cases[i].salt)
        : raft_segment_name_closed (cases[i].first, cases[i].last, cases[i].salt);
      ck_assert_msg (raft_segment_name_parse (name, &first, &last, &is_open, &salt), "%s", name);
      ck_assert_uint_eq (first, cases[i].first);
      ck_assert_uint_eq (last, cases[i].last);
      ck_assert_uint_eq (salt, cases[i].salt);
      ck_assert_int_eq (is_open, cases[i].open);
    }
  const char *bad[] = {
    "open-00000000000000000007-DEADBEEF.log",     /* upper case */
    "open-00000000000000000007-00000000.log",     /* salt 0 is "none" */
    "open-00000000000000000007-1234567.log",      /* 7 digits */
    "open-00000000000000000007_12345678.log",
    "seg-00000000000000000003-00000000000000000009-1234567g.log",
    "seg-00000000000000000009-00000000000000000003.log",   /* first > last */
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    ck_assert_msg (!raft_segment_name_parse (bad[i], &first, &last, &is_open, &salt), "%s", bad[i]);
}
END_TEST

/* Without preallocation files grow with each append, as they used to. */
START_TEST (test_no_prealloc)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 4096, .no_prealloc = TRUE };
  RaftStorage *s = util_open (dir, &opts, NULL);
  util_append_range (s, 1, 200, 1, 3, MAXLEN);
  ck_assert (raft_storage_prepare (s, NULL));
  ck_assert_uint_eq (raft_storage_get_stats (s).prealloc_bytes, 0);
  g_autofree char *name = open_segment_name (dir);
  gsize len = 0;
  g_autofree guint8 *data = util_read_file (dir, name, &len);
  RaftSegmentScan scan;
  guint64 first, last;
  gboolean is_open;
  guint32 salt;
  ck_assert (raft_segment_name_parse (name, &first, &last, &is_open, &salt));
  raft_segment_scan (data, len, first, salt, 0, NULL, &scan);
  ck_assert (!scan.zero_tail && !scan.damaged);
  ck_assert_uint_eq (scan.valid_end, len);
  raft_segment_scan_clear (&scan);
  util_check_closed_segments (dir);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

/* Open, append a seeded mix of batches (sometimes preparing ahead,
 * sometimes truncating a suffix), close; again and again. Every reopen
 * finds nothing to repair and exactly the log written. */
START_TEST (test_reopen_append_cycles)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 3000, .prealloc_step = 1000 };
  GRand *rand = g_rand_new_with_seed (42);
  guint64 last = 0;
  for (guint cycle = 0; cycle < 40; cycle++)
    {
      RaftStorageRecovery rec;
      GError *error = NULL;
      RaftStorage *s = util_open (dir, &opts, &rec);
      ck_assert_uint_eq (rec.repairs->len, 0);
      ck_assert_uint_eq (rec.entries->len, last);
      for (guint i = 0; i < rec.entries->len; i++)
        util_check_entry (&g_array_index (rec.entries, RaftEntry, i), i + 1, 1, MAXLEN);
      raft_storage_recovery_clear (&rec);
      guint batches = (guint) g_rand_int_range (rand, 0, 6);
      for (guint b = 0; b < batches; b++)
        {
          guint n = (guint) g_rand_int_range (rand, 1, 12);
          util_append_range (s, last + 1, last + n, 1, n, MAXLEN);
          last += n;
          if (g_rand_boolean (rand))
            ck_assert (raft_storage_prepare (s, &error));
        }
      if (last > 10 && g_rand_int_range (rand, 0, 4) == 0)
        {
          last -= (guint64) g_rand_int_range (rand, 1, 8);
          ck_assert (raft_storage_truncate_suffix (s, last + 1, &error));
        }
      raft_storage_close (s);
      util_check_closed_segments (dir);
    }
  ck_assert_uint_gt (last, 100);
  ck_assert_uint_ge (util_check_closed_segments (dir), 5);
  g_rand_free (rand);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

/* A full disk while filling ahead costs nothing but the zeros: appends
 * that fit still succeed (growing the file), NO_SPACE comes only when a
 * record cannot be stored, and nothing is lost. */
START_TEST (test_full_disk_while_preallocating)
{
  char *dir = util_tmpdir ();
  RaftStorageOptions opts = { .segment_size = 64 * 1024, .prealloc_step = 16 * 1024,
                              .byte_limit = 3000 };
  GError *error = NULL;
  RaftStorage *s = util_open (dir, &opts, NULL);
  util_append_range (s, 1, 4, 1, 4, MAXLEN);   /* its fill did not fit */
  g_autofree char *name = open_segment_name (dir);
  RaftStorageStats st = raft_storage_get_stats (s);
  ck_assert_uint_eq (st.prealloc_bytes, 0);
  ck_assert_uint_eq (util_file_size (dir, name), st.bytes);
  /* Right after a failed fill, no new attempt until a step was written. */
  ck_assert (raft_storage_prepare (s, &error));
  ck_assert_uint_eq (util_file_size (dir, name), st.bytes);
  raft_storage_set_byte_limit (s, 3000);   /* retry now */
  ck_assert (!raft_storage_prepare (s, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_NO_SPACE));
  g_clear_error (&error);
  ck_assert_uint_eq (util_file_size (dir, name), st.bytes);
  guint64 durable = fill_disk (s, 5);
  ck_assert_uint_gt (durable, 20);
  ck_assert_uint_le (util_file_size (dir, name), 3000);
  check_log (s, 1, durable, term_one);
  /* Space again: the next prepare fills ahead, appends overwrite. */
  raft_storage_set_byte_limit (s, 0);
  for (guint i = 0; !raft_storage_prepared (s); i++)
    {
      ck_assert_uint_lt (i, 10);
      ck_assert (raft_storage_prepare (s, &error));
    }
  gsize len = util_file_size (dir, name);
  ck_assert_uint_eq (len, raft_storage_get_stats (s).bytes + 16 * 1024);
  util_append_range (s, durable + 1, durable + 10, 1, 2, MAXLEN);
  ck_assert_uint_eq (util_file_size (dir, name), len);
  durable += 10;
  /* Full exactly when the zeros run out: appends inside them still work. */
  raft_storage_set_byte_limit (s, len);
  durable = fill_disk (s, durable + 1);
  ck_assert_uint_ge (util_file_size (dir, name), len - 4 * (MAXLEN + 32));
  raft_storage_close (s);

  RaftStorageRecovery rec;
  s = util_open (dir, NULL, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.entries->len, durable);
  raft_storage_recovery_clear (&rec);
  check_log (s, 1, durable, term_one);
  raft_storage_close (s);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

/* Once its queue is empty the writer closes the full segment and prepares
 * the next one (created, zero-filled a step ahead, all fsynced). Waits for
 * that state (it comes as soon as the thread is idle), no timing assumed. */
START_TEST (test_writer_prepares_when_idle)
{
  char *dir = util_tmpdir ();
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  RaftStorageOptions opts = { .segment_size = 4096, .prealloc_step = 4096 };
  RaftWriter *w = raft_writer_new (util_open (dir, &opts, NULL), NULL, NULL);
  RaftEntry es[60];
  for (guint i = 0; i < 60; i++)
    es[i] = util_entry (i + 1, 1, MAXLEN);
  raft_writer_append (w, es, 60);   /* one group, past segment_size */
  for (guint i = 0; i < 60; i++)
    raft_entry_clear (&es[i]);
  raft_writer_flush (w);
  g_autofree char *next = raft_segment_name_open (61, 0);
  for (guint i = 0; !(util_exists (dir, next) && util_file_size (dir, next) == 4096); i++)
    {
      ck_assert_msg (i < 2000, "the writer did not prepare the next segment");
      g_usleep (10 * 1000);
    }
  ck_assert (util_exists (dir, "seg-00000000000000000001-00000000000000000060.log"));
  ck_assert_uint_eq (util_check_closed_segments (dir), 1);
  RaftEntry e = util_entry (61, 1, MAXLEN);
  raft_writer_append (w, &e, 1);
  raft_entry_clear (&e);
  raft_writer_flush (w);
  raft_writer_free (w);
  /* It overwrote the zeros at the start; once idle again the writer may
   * have filled the last 512 bytes allowed past segment_size. */
  gsize len = 0;
  g_autofree guint8 *data = util_read_file (dir, next, &len);
  ck_assert (len == 4096 || len == 4096 + 512);
  RaftEntry got = { 0 };
  ck_assert (raft_segment_record_decode (data, len, 0, &got, NULL));
  ck_assert_uint_eq (got.index, 61);
  raft_entry_clear (&got);
  RaftStorageRecovery rec;
  RaftStorage *s = util_open (dir, &opts, &rec);
  ck_assert_uint_eq (rec.repairs->len, 0);
  ck_assert_uint_eq (rec.entries->len, 61);
  raft_storage_recovery_clear (&rec);
  raft_storage_close (s);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  util_rm_rf (dir);
  g_free (dir);
}
END_TEST

static Suite *
storage_suite (void)
{
  Suite *s = suite_create ("raft-storage");
  TCase *tc = tcase_create ("storage");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_round_trip_many_segments);
  tcase_add_test (tc, test_append_rejects_bad_index);
  tcase_add_test (tc, test_truncate_suffix_then_append);
  tcase_add_test (tc, test_compaction);
  tcase_add_test (tc, test_hard_state_round_trip);
  tcase_add_test (tc, test_full_disk);
  tcase_add_test (tc, test_failed_fsync_breaks_until_reopen);
  tcase_add_test (tc, test_prealloc_overwrites);
  tcase_add_test (tc, test_prepare_ahead);
  tcase_add_test (tc, test_recycle_compacted_segment);
  tcase_add_test (tc, test_segment_names);
  tcase_add_test (tc, test_no_prealloc);
  tcase_add_test (tc, test_reopen_append_cycles);
  tcase_add_test (tc, test_full_disk_while_preallocating);
  suite_add_tcase (s, tc);
  TCase *tw = tcase_create ("writer");
  tcase_set_timeout (tw, 300);
  tcase_add_test (tw, test_writer_group_commit_and_order);
  tcase_add_test (tw, test_writer_free_drains_queue);
  tcase_add_test (tw, test_writer_stream);
  tcase_add_test (tw, test_writer_prepares_when_idle);
  suite_add_tcase (s, tw);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (storage_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
