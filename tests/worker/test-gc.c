/* test-gc.c — the orphaned-blob collector's decision (minka_gc_decide),
 * without a cluster: a blob goes only after two sweeps at least the grace
 * period apart found it unreferenced, while the worker is settled and has
 * applied the log it held at the first; references, forgets and vanished
 * blobs restart the count; a seeded random run against a model; and the
 * worker's pins and touches. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "minka-worker-gc.h"
#include "minka-worker-private.h"

#define SEC ((gint64) G_USEC_PER_SEC)

/* Blob i is named "blob-i"; in_use[i] says whether it is referenced. */
typedef struct {
  gboolean in_use[256];
  guint n;
  guint calls;
} World;

static gboolean
world_in_use (const char *sha256, gpointer user_data)
{
  World *w = user_data;
  w->calls++;
  return w->in_use[atoi (sha256 + 5)];
}

static GPtrArray *
world_names (World *w)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < w->n; i++)
    g_ptr_array_add (names, g_strdup_printf ("blob-%u", i));
  return names;
}

static MinkaGcView
view_at (gint64 now_us)
{
  MinkaGcView view = { .now_us = now_us, .last_index = 10, .applied_index = 10,
                       .settled = TRUE };
  return view;
}

/* Runs one sweep; returns the doomed names joined by spaces. */
static char *
sweep (MinkaGc *gc, World *w, GPtrArray *names, const MinkaGcView *view)
{
  g_autoptr (GArray) walls = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GPtrArray) doomed = minka_gc_decide (gc, names, world_in_use, w, view, walls);
  ck_assert_uint_eq (walls->len, doomed->len);
  g_ptr_array_add (doomed, NULL);
  return g_strjoinv (" ", (char **) doomed->pdata);
}

static void
expect_sweep (MinkaGc *gc, World *w, GPtrArray *names, const MinkaGcView *view,
              const char *expected)
{
  g_autofree char *got = sweep (gc, w, names, view);
  ck_assert_str_eq (got, expected);
}

START_TEST (test_two_sweeps_and_grace)
{
  World w = { .n = 3 };
  w.in_use[1] = TRUE;
  g_autoptr (GPtrArray) names = world_names (&w);
  MinkaGc *gc = minka_gc_new (60 * SEC);
  MinkaGcView v = view_at (1000 * SEC);
  expect_sweep (gc, &w, names, &v, "");                 /* marks 0 and 2 */
  ck_assert_uint_eq (g_hash_table_size (gc->marks), 2);
  v.now_us += 59 * SEC;
  expect_sweep (gc, &w, names, &v, "");                 /* grace not over */
  v.now_us += 1 * SEC;
  expect_sweep (gc, &w, names, &v, "blob-0 blob-2");
  ck_assert_uint_eq (g_hash_table_size (gc->marks), 0);
  /* Listed again (a delete that failed): judged afresh. The referenced
   * one is never marked, however long it waits. */
  v.now_us += 3600 * SEC;
  expect_sweep (gc, &w, names, &v, "");
  ck_assert_uint_eq (g_hash_table_size (gc->marks), 2);
  ck_assert (!g_hash_table_contains (gc->marks, "blob-1"));
  minka_gc_free (gc);
}
END_TEST

/* With grace 0, two sweeps are still needed. */
START_TEST (test_zero_grace_needs_two_sweeps)
{
  World w = { .n = 2 };
  g_autoptr (GPtrArray) names = world_names (&w);
  MinkaGc *gc = minka_gc_new (0);
  MinkaGcView v = view_at (5 * SEC);
  expect_sweep (gc, &w, names, &v, "");
  expect_sweep (gc, &w, names, &v, "blob-0 blob-1");
  expect_sweep (gc, &w, names, &v, "");                 /* re-listed: marked again */
  minka_gc_free (gc);
}
END_TEST

START_TEST (test_reference_restarts)
{
  World w = { .n = 1 };
  g_autoptr (GPtrArray) names = world_names (&w);
  MinkaGc *gc = minka_gc_new (10 * SEC);
  MinkaGcView v = view_at (0);
  expect_sweep (gc, &w, names, &v, "");
  v.now_us += 10 * SEC;
  w.in_use[0] = TRUE;                                   /* its FILE entry applied */
  expect_sweep (gc, &w, names, &v, "");
  ck_assert_uint_eq (g_hash_table_size (gc->marks), 0);
  v.now_us += 10 * SEC;
  w.in_use[0] = FALSE;                                  /* the file deleted... */
  expect_sweep (gc, &w, names, &v, "");                 /* ...marked afresh */
  v.now_us += 5 * SEC;
  minka_gc_forget (gc, "blob-0");                       /* pinned and unpinned */
  expect_sweep (gc, &w, names, &v, "");
  v.now_us += 9 * SEC;
  expect_sweep (gc, &w, names, &v, "");
  v.now_us += 1 * SEC;
  expect_sweep (gc, &w, names, &v, "blob-0");
  minka_gc_free (gc);
}
END_TEST

START_TEST (test_not_settled_or_log_behind)
{
  World w = { .n = 1 };
  g_autoptr (GPtrArray) names = world_names (&w);
  MinkaGc *gc = minka_gc_new (10 * SEC);
  MinkaGcView v = view_at (0);
  v.last_index = 50;                                    /* entries 11..50 unapplied */
  expect_sweep (gc, &w, names, &v, "");
  v.now_us += 20 * SEC;
  v.last_index = 60;
  v.applied_index = 49;                                 /* 50 may name it */
  expect_sweep (gc, &w, names, &v, "");
  v.now_us += 20 * SEC;
  v.applied_index = 60;
  v.settled = FALSE;                                    /* no leader known */
  expect_sweep (gc, &w, names, &v, "");
  ck_assert_uint_eq (g_hash_table_size (gc->marks), 1); /* the mark survives */
  v.now_us += 20 * SEC;
  v.settled = TRUE;
  expect_sweep (gc, &w, names, &v, "blob-0");
  minka_gc_free (gc);
}
END_TEST

START_TEST (test_vanished_blob_loses_its_mark)
{
  World w = { .n = 2 };
  g_autoptr (GPtrArray) names = world_names (&w);
  g_autoptr (GPtrArray) only_one = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (only_one, g_strdup ("blob-1"));
  MinkaGc *gc = minka_gc_new (10 * SEC);
  MinkaGcView v = view_at (0);
  expect_sweep (gc, &w, names, &v, "");
  v.now_us += 10 * SEC;
  expect_sweep (gc, &w, only_one, &v, "blob-1");        /* blob-0 deleted elsewhere */
  ck_assert_uint_eq (g_hash_table_size (gc->marks), 0);
  v.now_us += 10 * SEC;
  expect_sweep (gc, &w, names, &v, "");                 /* blob-0 back: new mark */
  minka_gc_free (gc);
}
END_TEST

/* A seeded random run: blobs come and go, get referenced and released,
 * the clock jumps, the worker loses its leader. A model tracks, per blob,
 * the sweep and time it was first seen unreferenced since it was last
 * referenced, listed-missing, forgotten or deleted; every deletion must
 * match the model's rule exactly, and no referenced blob is ever doomed. */
START_TEST (test_random_against_model)
{
  GRand *rand = g_rand_new_with_seed (20261122);
  World w = { .n = 200 };
  gint64 first_time[200];
  guint64 first_last[200];
  gboolean marked[200] = { FALSE };
  const gint64 grace = 30 * SEC;
  MinkaGc *gc = minka_gc_new (grace);
  MinkaGcView v = view_at (0);
  guint64 deleted = 0;
  for (guint64 s = 1; s <= 400; s++)
    {
      v.now_us += g_rand_int_range (rand, 0, 25) * SEC;
      v.last_index += (guint64) g_rand_int_range (rand, 0, 3);
      v.applied_index = MIN (v.last_index, v.applied_index + (guint64) g_rand_int_range (rand, 0, 4));
      v.settled = g_rand_int_range (rand, 0, 10) != 0;
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      gboolean listed[200];
      for (guint i = 0; i < w.n; i++)
        {
          if (g_rand_int_range (rand, 0, 8) == 0)
            w.in_use[i] = !w.in_use[i];
          if (g_rand_int_range (rand, 0, 50) == 0)
            {
              g_autofree char *name = g_strdup_printf ("blob-%u", i);
              minka_gc_forget (gc, name);               /* pinned and unpinned */
              marked[i] = FALSE;
            }
          listed[i] = g_rand_int_range (rand, 0, 20) != 0;
          if (listed[i])
            g_ptr_array_add (names, g_strdup_printf ("blob-%u", i));
        }
      /* The model's prediction. */
      gboolean expect[200] = { FALSE };
      for (guint i = 0; i < w.n; i++)
        {
          if (!listed[i] || w.in_use[i])
            {
              marked[i] = FALSE;
              continue;
            }
          if (marked[i] && v.settled
              && v.now_us - first_time[i] >= grace && v.applied_index >= first_last[i])
            {
              expect[i] = TRUE;
              marked[i] = FALSE;
              continue;
            }
          if (!marked[i])
            {
              marked[i] = TRUE;
              first_time[i] = v.now_us;
              first_last[i] = v.last_index;
            }
        }
      g_autoptr (GArray) walls = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_autoptr (GPtrArray) doomed = minka_gc_decide (gc, names, world_in_use, &w, &v, walls);
      gboolean got[200] = { FALSE };
      for (guint k = 0; k < doomed->len; k++)
        {
          guint i = (guint) atoi ((const char *) doomed->pdata[k] + 5);
          ck_assert (!w.in_use[i]);
          got[i] = TRUE;
        }
      for (guint i = 0; i < w.n; i++)
        ck_assert_msg (got[i] == expect[i], "sweep %" G_GUINT64_FORMAT " blob %u: got %d, expected %d",
                       s, i, got[i], expect[i]);
      deleted += doomed->len;
      guint n_marked = 0;
      for (guint i = 0; i < w.n; i++)
        n_marked += marked[i];
      ck_assert_uint_eq (g_hash_table_size (gc->marks), n_marked);
    }
  ck_assert_uint_gt (deleted, 50);                      /* the run did delete things */
  minka_gc_free (gc);
  g_rand_free (rand);
}
END_TEST

static gboolean
nothing_in_use (G_GNUC_UNUSED const char *sha256, G_GNUC_UNUSED gpointer user_data)
{
  return FALSE;
}

/* The worker's pins (uploads and pushes in flight, from
 * minka-worker-files.c) nest, and pinning, unpinning or touching a blob
 * drops its mark and takes it off the delete queue. */
START_TEST (test_pins_and_touches)
{
  MinkaWorker *worker = g_new0 (MinkaWorker, 1);
  worker->options.gc_interval_ms = 1000;
  minka_worker_gc_init (worker);
  ck_assert_int_eq (worker->gc->grace_us, 1000 * 1000);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (names, g_strdup_printf ("blob-%u", i));
  MinkaGcView v = view_at (0);
  g_autoptr (GPtrArray) none = minka_gc_decide (worker->gc, names, nothing_in_use, NULL, &v, NULL);
  ck_assert_uint_eq (g_hash_table_size (worker->gc->marks), 3);
  minka_worker_gc_pin (worker, "blob-0");
  minka_worker_gc_pin (worker, "blob-0");
  ck_assert (!g_hash_table_contains (worker->gc->marks, "blob-0"));
  minka_worker_gc_unpin (worker, "blob-0");
  ck_assert (g_hash_table_contains (worker->gc_pins, "blob-0"));     /* nested */
  minka_worker_gc_unpin (worker, "blob-0");
  ck_assert (!g_hash_table_contains (worker->gc_pins, "blob-0"));
  minka_worker_gc_unpin (worker, "blob-0");                          /* extra: harmless */
  ck_assert_uint_eq (g_hash_table_size (worker->gc_pins), 0);
  g_hash_table_insert (worker->gc_doomed, g_strdup ("blob-1"), g_new0 (gint64, 1));
  minka_worker_gc_touch (worker, "blob-1");
  ck_assert (!g_hash_table_contains (worker->gc->marks, "blob-1"));
  ck_assert_uint_eq (g_hash_table_size (worker->gc_doomed), 0);
  ck_assert (g_hash_table_contains (worker->gc->marks, "blob-2"));
  minka_worker_gc_clear (worker);
  minka_worker_gc_pin (worker, "blob-2");                            /* after clear: ignored */
  minka_worker_gc_touch (worker, "blob-2");
  g_free (worker);
}
END_TEST

static Suite *
gc_suite (void)
{
  Suite *s = suite_create ("gc");
  TCase *tc = tcase_create ("decide");
  tcase_add_test (tc, test_two_sweeps_and_grace);
  tcase_add_test (tc, test_zero_grace_needs_two_sweeps);
  tcase_add_test (tc, test_reference_restarts);
  tcase_add_test (tc, test_not_settled_or_log_behind);
  tcase_add_test (tc, test_vanished_blob_loses_its_mark);
  tcase_add_test (tc, test_random_against_model);
  tcase_add_test (tc, test_pins_and_touches);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *runner = srunner_create (gc_suite ());
  srunner_run_all (runner, CK_NORMAL);
  int failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}
