/* test-raft-sim.c — thousands of random simulated schedules of the Raft
 * core across cluster sizes 1-7, checking safety after every step and
 * liveness after the network heals. MINKA_RAFT_SEED=N replays one seed;
 * MINKA_RAFT_SEEDS=N sets how many seeds run (default 20000; 5000 in the
 * sanitizer build). */
#include "raft-sim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* The sanitizer build is several times slower: it runs the required
 * minimum; the normal build runs more. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MINKA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(MINKA_ASAN)
#define DEFAULT_SEEDS 5000
#else
#define DEFAULT_SEEDS 20000
#endif

static void
run_seeds (guint first_size, guint last_size)
{
  gboolean replay;
  guint64 seed = sim_env_seed (&replay);
  guint count = replay ? 1 : sim_env_seed_count (DEFAULT_SEEDS);
  guint failures = 0;
  gint64 start = g_get_monotonic_time ();
  guint runs = 0;

  for (guint i = 0; i < count; i++)
    {
      guint64 s = replay ? seed : i + 1;
      guint n = first_size + (guint) (s % (last_size - first_size + 1));
      char *error = NULL;
      runs++;
      if (!sim_random_run (s, n, NULL, &error))
        {
          fprintf (stderr, "FAILED: %s\n  replay: MINKA_RAFT_SEED=%" G_GUINT64_FORMAT "\n",
                   error, s);
          g_free (error);
          if (++failures >= 5)
            break;
        }
    }
  printf ("raft-sim: %u seeds, sizes %u-%u, %.2f s\n", runs, first_size, last_size,
          (double) (g_get_monotonic_time () - start) / 1e6);
  ck_assert_uint_eq (failures, 0);
}

START_TEST (test_random_seeds)
{
  run_seeds (1, SIM_MAX_NODES);
}
END_TEST

/* The same seed replays the same run, event for event. */
START_TEST (test_seed_replays_identically)
{
  for (guint64 seed = 1; seed <= 20; seed++)
    {
      guint64 a = 0, b = 0, c = 0;
      guint n = 1 + (guint) (seed % SIM_MAX_NODES);
      ck_assert (sim_random_run (seed, n, &a, NULL));
      ck_assert (sim_random_run (seed, n, &b, NULL));
      ck_assert_uint_eq (a, b);
      ck_assert (sim_random_run (seed + 1000, n, &c, NULL));
      ck_assert_uint_ne (a, c);
    }
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("raft-sim");
  TCase *tc = tcase_create ("random");
  tcase_set_timeout (tc, 1200);
  tcase_add_test (tc, test_seed_replays_identically);
  tcase_add_test (tc, test_random_seeds);
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
