/* test-compat.c — the operating-system layer: durable files, RSS, processes. */
#include "config.h"
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "minka-compat.h"

static char *
make_temp_dir (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("minka-compat-XXXXXX", &error);
  ck_assert_msg (dir != NULL, "%s", error ? error->message : "");
  return dir;
}

static void
remove_file_and_dir (const char *dir, const char *path)
{
  g_unlink (path);
  g_rmdir (dir);
}

START_TEST (test_file_write_read_truncate)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "f", NULL);
  GError *error = NULL;

  MinkaFile *f = minka_file_open (path, MINKA_FILE_READ | MINKA_FILE_WRITE | MINKA_FILE_CREATE, &error);
  ck_assert_ptr_nonnull (f);
  ck_assert (minka_file_write_all (f, "hello world", 11, &error));
  ck_assert (minka_file_sync (f, &error));
  ck_assert_int_eq (minka_file_size (f, &error), 11);

  char buf[6] = { 0 };
  ck_assert (minka_file_pread_all (f, buf, 5, 6, &error));
  ck_assert_str_eq (buf, "world");
  ck_assert (!minka_file_pread_all (f, buf, 5, 8, &error));   /* past the end */
  ck_assert_ptr_nonnull (error);
  g_clear_error (&error);

  ck_assert (minka_file_truncate (f, 5, &error));
  ck_assert_int_eq (minka_file_size (f, &error), 5);
  minka_file_close (f);

  ck_assert (minka_fsync_dir (dir, &error));
  remove_file_and_dir (dir, path);
}
END_TEST

START_TEST (test_file_exclusive_and_missing)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "x", NULL);
  GError *error = NULL;

  ck_assert_ptr_null (minka_file_open (path, MINKA_FILE_READ, &error));
  ck_assert (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
  g_clear_error (&error);

  MinkaFile *f = minka_file_open (path, MINKA_FILE_WRITE | MINKA_FILE_CREATE | MINKA_FILE_EXCLUSIVE, &error);
  ck_assert_ptr_nonnull (f);
  minka_file_close (f);
  ck_assert_ptr_null (minka_file_open (path, MINKA_FILE_WRITE | MINKA_FILE_CREATE | MINKA_FILE_EXCLUSIVE, &error));
  ck_assert (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_EXIST));
  g_clear_error (&error);
  remove_file_and_dir (dir, path);
}
END_TEST

START_TEST (test_rss_and_cpus)
{
  ck_assert_uint_gt (minka_rss_bytes (), 0);
  ck_assert_uint_ge (minka_peak_rss_bytes (), minka_rss_bytes () / 2);
  ck_assert_uint_ge (minka_cpu_count (), 1);
}
END_TEST

/* Reads "Max open files" (soft, hard) from /proc/self/limits; FALSE where
 * there is no such file or a limit is "unlimited". */
static gboolean
proc_file_limits (guint64 *soft, guint64 *hard)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/limits", &text, NULL, NULL))
    return FALSE;
  const char *line = strstr (text, "Max open files");
  if (!line)
    return FALSE;
  char *end = NULL;
  *soft = g_ascii_strtoull (line + strlen ("Max open files"), &end, 10);
  if (end == line + strlen ("Max open files"))
    return FALSE;
  const char *hard_text = end;
  *hard = g_ascii_strtoull (hard_text, &end, 10);
  return end != hard_text;
}

/* The limit never goes down, and goes up to what was asked or the hard
 * limit, whichever is lower; the kernel's own figures agree. */
START_TEST (test_file_limit)
{
  guint64 now = minka_raise_file_limit (16);
  if (now == 0)
    return;                         /* nothing to read here (Windows) */
  ck_assert_uint_ge (now, 16);
  ck_assert_uint_eq (minka_raise_file_limit (16), now);
  guint64 soft = 0, hard = 0;
  if (!proc_file_limits (&soft, &hard))
    return;
  ck_assert_uint_eq (soft, now);
  guint64 raised = minka_raise_file_limit (now + 100);
  ck_assert_uint_eq (raised, MIN (now + 100, hard));
  ck_assert (proc_file_limits (&soft, &hard));
  ck_assert_uint_eq (soft, raised);
}
END_TEST

START_TEST (test_kill_child)
{
  GError *error = NULL;
  GSubprocess *child = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "sleep", "30", NULL);
  ck_assert_ptr_nonnull (child);
  guint64 id = minka_subprocess_id (child);
  ck_assert_uint_ne (id, 0);
  ck_assert (minka_kill_process (id, &error));
  ck_assert (g_subprocess_wait (child, NULL, &error));
  /* A killed child did not exit normally. */
  ck_assert (!g_subprocess_get_successful (child));
  ck_assert_uint_eq (minka_subprocess_id (child), 0);
  /* No such process: an error, not a crash. */
  ck_assert (!minka_kill_process (0, &error));
  g_clear_error (&error);
  g_object_unref (child);
}
END_TEST

static Suite *
compat_suite (void)
{
  Suite *s = suite_create ("compat");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_file_write_read_truncate);
  tcase_add_test (tc, test_file_exclusive_and_missing);
  tcase_add_test (tc, test_rss_and_cpus);
  tcase_add_test (tc, test_file_limit);
  tcase_add_test (tc, test_kill_child);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (compat_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
