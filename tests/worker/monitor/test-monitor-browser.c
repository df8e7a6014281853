/* test-monitor-browser.c — a real browser: headless Chromium loads the page
 * served by minka-monitor-demo and the test checks the rendered DOM (role,
 * catalog digest equal to /api/status, Spanish strings with ?lang=es), then
 * saves a screenshot to BUILD/meson-logs/monitor-page.png. Skipped (77)
 * without /usr/bin/chromium. The 3-worker version comes with the worker. */
#include "config.h"

#include <check.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "chromium-run.h"


static GSubprocess *demo;
static char *base;

static void
demo_start (void)
{
  g_autoptr (GError) error = NULL;
  demo = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, g_getenv ("MINKA_MONITOR_DEMO"),
                           "--port", "0", NULL);
  ck_assert_msg (demo != NULL, "%s", error ? error->message : "");
  g_autoptr (GDataInputStream) out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (demo));
  g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, NULL);
  ck_assert (line && g_str_has_prefix (line, "listening on "));
  base = g_strdup (line + strlen ("listening on "));          /* ends in '/' */
}

static void
demo_stop (void)
{
  g_subprocess_force_exit (demo);
  g_subprocess_wait (demo, NULL, NULL);
  g_clear_object (&demo);
  g_clear_pointer (&base, g_free);
}

/* Runs Chromium headless with @extra args and returns its stdout. */
static char *
chromium_run (const char *const *extra)
{
  g_autoptr (GError) error = NULL;
  char *out = test_chromium_run (extra, &error);
  ck_assert_msg (out != NULL, "%s", error ? error->message : "");
  return out;
}

static char *
status_digest (void)
{
  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) c = g_socket_client_connect_to_uri (sc, base, 0, NULL, &error);
  ck_assert_msg (c != NULL, "%s", error ? error->message : "");
  const char *req = "GET /api/status HTTP/1.0\r\n\r\n";
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (c)), req, strlen (req), NULL, NULL, NULL);
  g_autoptr (GByteArray) all = g_byte_array_new ();
  guint8 buf[4096];
  gssize n;
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (c)), buf, sizeof buf, NULL, NULL)) > 0)
    g_byte_array_append (all, buf, n);
  g_byte_array_append (all, (const guint8 *) "", 1);
  const char *body = strstr ((const char *) all->data, "\r\n\r\n");
  ck_assert_ptr_nonnull (body);
  g_autoptr (JsonParser) parser = json_parser_new ();
  ck_assert (json_parser_load_from_data (parser, body + 4, -1, NULL));
  return g_strdup (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)),
                                                  "catalog_digest"));
}

START_TEST (test_page_renders)
{
  demo_start ();
  g_autofree char *before = status_digest ();
  const char *args[] = { "--dump-dom", base, NULL };
  g_autofree char *dom = chromium_run (args);
  g_autofree char *after = status_digest ();
  ck_assert_msg (strstr (dom, "id=\"role\" class=\"badge leader\">leader<") != NULL, "role not rendered");
  ck_assert_msg (strstr (dom, before) != NULL || strstr (dom, after) != NULL, "digest not rendered");
  ck_assert (strstr (dom, "10.0.0.2:7400") != NULL);                 /* a peer row */
  ck_assert (strstr (dom, "dataset-000.csv") != NULL);               /* a file row */
  ck_assert (strstr (dom, "Catalog digest") != NULL);
  demo_stop ();
}
END_TEST

START_TEST (test_page_spanish_and_screenshot)
{
  demo_start ();
  g_autofree char *url = g_strconcat (base, "?lang=es", NULL);
  const char *args[] = { "--dump-dom", url, NULL };
  g_autofree char *dom = chromium_run (args);
  ck_assert (strstr (dom, "Resumen del catálogo") != NULL);
  ck_assert (strstr (dom, ">líder<") != NULL);
  ck_assert (strstr (dom, "<html lang=\"es\"") != NULL);
  g_autofree char *shot = g_build_filename (g_getenv ("MINKA_BUILD_DIR"), "meson-logs", "monitor-page.png", NULL);
  g_autofree char *shot_arg = g_strconcat ("--screenshot=", shot, NULL);
  g_unlink (shot);
  const char *shot_args[] = { "--window-size=1280,1000", shot_arg, base, NULL };
  g_free (chromium_run (shot_args));
  ck_assert_msg (g_file_test (shot, G_FILE_TEST_IS_REGULAR), "no screenshot at %s", shot);
  demo_stop ();
}
END_TEST

static Suite *
browser_suite (void)
{
  Suite *s = suite_create ("monitor-browser");
  TCase *tc = tcase_create ("chromium");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_page_renders);
  tcase_add_test (tc, test_page_spanish_and_screenshot);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  if (!g_file_test (TEST_CHROMIUM, G_FILE_TEST_IS_EXECUTABLE) || g_getenv ("MINKA_MONITOR_DEMO") == NULL)
    {
      g_print ("chromium not installed: skipped\n");
      return 77;
    }
  SRunner *sr = srunner_create (browser_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
