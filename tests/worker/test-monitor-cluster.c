/* test-monitor-cluster.c — the web monitor of a running 3-worker cluster in
 * a real browser: after uploads, headless Chromium renders each worker's
 * page and every page shows that worker's role and the same catalog digest.
 * A screenshot of the leader's page goes to BUILD/meson-logs. Skipped (77)
 * without /usr/bin/chromium. */
#include "config.h"
#include <check.h>
#include <string.h>

#include "chromium-run.h"
#include "cluster-harness.h"

START_TEST (test_three_monitors_agree)
{
  TestCluster *c = test_cluster_new (3, FALSE);
  int leader = test_cluster_wait_leader (c, TEST_CLUSTER_LEADER_TIMEOUT_MS);
  ck_assert_int_ge (leader, 0);
  guint64 last = 0;
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (GBytes) data = test_random_bytes (1000 + i, i);
      g_autofree char *name = g_strdup_printf ("page-%u.bin", i);
      GError *error = NULL;
      last = test_cluster_put (c, name, data, "monitor-test", i + 1, 20000, &error);
      ck_assert_msg (last > 0, "%s", error ? error->message : "");
    }

  g_autofree char *digest = NULL;
  for (guint w = 0; w < 3; w++)
    {
      /* Wait until this worker applied the last upload, so its digest is final. */
      g_autofree char *d = NULL;
      g_autoptr (JsonArray) files = test_cluster_list (c, w, last, &d, NULL);
      ck_assert_ptr_nonnull (files);
      if (!digest)
        digest = g_strdup (d);
      ck_assert_str_eq (digest, d);
    }

  for (guint w = 0; w < 3; w++)
    {
      TestWorker *worker = c->workers->pdata[w];
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/", worker->monitor_port);
      const char *args[] = { "--dump-dom", url, NULL };
      GError *error = NULL;
      g_autofree char *dom = test_chromium_run (args, &error);
      ck_assert_msg (dom != NULL, "%s", error ? error->message : "");
      const char *role = (int) w == leader ? "leader" : "follower";
      g_autofree char *role_html = g_strdup_printf ("id=\"role\" class=\"badge %s\">%s<", role, role);
      ck_assert_msg (strstr (dom, role_html) != NULL, "w%u page does not show %s", w + 1, role);
      ck_assert_msg (strstr (dom, digest) != NULL, "w%u page does not show digest %s", w + 1, digest);
      ck_assert_msg (strstr (dom, "page-4.bin") != NULL, "w%u page does not list the files", w + 1);
    }

  TestWorker *lw = c->workers->pdata[leader];
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/", lw->monitor_port);
  g_autofree char *shot = g_build_filename (g_getenv ("MINKA_BUILD_DIR"), "meson-logs",
                                            "monitor-cluster.png", NULL);
  g_autofree char *shot_arg = g_strconcat ("--screenshot=", shot, NULL);
  const char *shot_args[] = { "--window-size=1280,1100", shot_arg, url, NULL };
  g_free (test_chromium_run (shot_args, NULL));
  ck_assert_msg (g_file_test (shot, G_FILE_TEST_IS_REGULAR), "no screenshot at %s", shot);
  test_cluster_free (c);
}
END_TEST

int
main (void)
{
  if (!test_chromium_available ())
    {
      g_printerr ("skipped: %s is not installed\n", TEST_CHROMIUM);
      return 77;
    }
  Suite *s = suite_create ("monitor-cluster");
  TCase *tc = tcase_create ("chromium");
  tcase_set_timeout (tc, 400);
  tcase_add_test (tc, test_three_monitors_agree);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
