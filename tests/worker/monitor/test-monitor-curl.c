/* test-monitor-curl.c — a real client: /usr/bin/curl against
 * minka-monitor-demo (a subprocess on a free loopback port) for every
 * endpoint, keep-alive, HEAD, 304, HTTP/1.0, the error statuses and the
 * bearer token. Skipped (77) when curl is not installed. */
#include <check.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#define CURL "/usr/bin/curl"

typedef struct {
  GSubprocess *process;
  char *base;                 /* "http://127.0.0.1:PORT" */
} Demo;

static Demo *
demo_start (const char *token)
{
  const char *path = g_getenv ("MINKA_MONITOR_DEMO");
  ck_assert_msg (path != NULL, "MINKA_MONITOR_DEMO is not set");
  g_autoptr (GError) error = NULL;
  Demo *demo = g_new0 (Demo, 1);
  if (token)
    demo->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, path, "--port", "0",
                                      "--token", token, NULL);
  else
    demo->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, path, "--port", "0", NULL);
  ck_assert_msg (demo->process != NULL, "%s", error ? error->message : "");
  g_autoptr (GDataInputStream) out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (demo->process));
  g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  ck_assert_msg (line != NULL && g_str_has_prefix (line, "listening on http://"), "demo said: %s", line ? line : "");
  demo->base = g_strndup (line + strlen ("listening on "), strlen (line) - strlen ("listening on ") - 1);
  return demo;
}

static void
demo_stop (Demo *demo)
{
  g_subprocess_force_exit (demo->process);
  g_subprocess_wait (demo->process, NULL, NULL);
  g_object_unref (demo->process);
  g_free (demo->base);
  g_free (demo);
}

/* Runs curl with @args (NULL-terminated) and returns its stdout. */
static char *
curl_run (const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) CURL);
  g_ptr_array_add (argv, (gpointer) "-s");
  g_ptr_array_add (argv, (gpointer) "--max-time");
  g_ptr_array_add (argv, (gpointer) "10");
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  char *out = NULL;
  ck_assert (g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error));
  return out;
}

static char *
url (const Demo *demo, const char *path)
{
  return g_strconcat (demo->base, path, NULL);
}

static Demo *demo;

static void
setup (void)
{
  demo = demo_start (NULL);
}

static void
teardown (void)
{
  demo_stop (demo);
}

START_TEST (test_every_endpoint)
{
  static const struct { const char *path; const char *type; const char *needle; } eps[] = {
    { "/", "text/html; charset=utf-8", "<!DOCTYPE html>" },
    { "/index.html", "text/html; charset=utf-8", "/monitor.js" },
    { "/monitor.css", "text/css; charset=utf-8", "prefers-color-scheme" },
    { "/monitor.js", "text/javascript; charset=utf-8", "/api/status" },
    { "/favicon.ico", "image/svg+xml", "<svg" },
    { "/api/i18n", "application/json; charset=utf-8", "\"lang\"" },
    { "/api/status", "application/json; charset=utf-8", "\"catalog_digest\"" },
    { "/api/peers", "application/json; charset=utf-8", "\"match_index\"" },
    { "/api/files", "application/json; charset=utf-8", "\"sha256\"" },
    { "/api/events", "application/json; charset=utf-8", "\"events\"" },
    { "/metrics", "text/plain; version=0.0.4; charset=utf-8", "# TYPE minka_raft_term gauge" },
  };
  g_autofree char *tmp = g_build_filename (g_get_tmp_dir (), "minka-curl-XXXXXX", NULL);
  int fd = g_mkstemp (tmp);
  ck_assert_int_ge (fd, 0);
  g_close (fd, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (eps); i++)
    {
      g_autofree char *u = url (demo, eps[i].path);
      const char *args[] = { "-o", tmp, "-w", "%{http_code}|%{content_type}", u, NULL };
      g_autofree char *out = curl_run (args);
      g_autofree char *want = g_strdup_printf ("200|%s", eps[i].type);
      ck_assert_str_eq (out, want);
      g_autofree char *body = NULL;
      ck_assert (g_file_get_contents (tmp, &body, NULL, NULL));
      ck_assert_msg (strstr (body, eps[i].needle) != NULL, "%s lacks %s", eps[i].path, eps[i].needle);
      if (g_str_has_prefix (eps[i].type, "application/json"))
        {
          g_autoptr (JsonParser) parser = json_parser_new ();
          ck_assert (json_parser_load_from_data (parser, body, -1, NULL));
        }
    }
  g_unlink (tmp);
}
END_TEST

START_TEST (test_keep_alive_reuse)
{
  g_autofree char *a = url (demo, "/api/status");
  g_autofree char *b = url (demo, "/api/peers");
  const char *args[] = { "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}:%{num_connects};", a, b, NULL };
  g_autofree char *out = curl_run (args);
  ck_assert_str_eq (out, "200:1;200:0;");     /* the second reused the connection */
}
END_TEST

START_TEST (test_head_and_304)
{
  g_autofree char *u = url (demo, "/monitor.js");
  const char *head_args[] = { "-I", u, NULL };
  g_autofree char *head = curl_run (head_args);
  ck_assert (g_str_has_prefix (head, "HTTP/1.1 200 OK\r\n"));
  const char *etag = strstr (head, "ETag: ");
  ck_assert_ptr_nonnull (etag);
  g_autofree char *tag = g_strndup (etag + 6, strchr (etag, '\r') - etag - 6);
  g_autofree char *inm = g_strdup_printf ("If-None-Match: %s", tag);
  const char *cond[] = { "-o", "/dev/null", "-w", "%{http_code}", "-H", inm, u, NULL };
  g_autofree char *code = curl_run (cond);
  ck_assert_str_eq (code, "304");
}
END_TEST

START_TEST (test_errors_and_versions)
{
  g_autofree char *root = url (demo, "/");
  g_autofree char *nope = url (demo, "/nope");
  g_autofree char *status = url (demo, "/api/status");
  g_autofree char *trav = url (demo, "/%2e%2e/%2e%2e/etc/passwd");
  struct { const char *args[8]; const char *want; } cases[] = {
    { { "-o", "/dev/null", "-w", "%{http_code}", nope, NULL }, "404" },
    { { "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", status, NULL }, "405" },
    { { "-o", "/dev/null", "-w", "%{http_code}", "-d", "x=1", status, NULL }, "413" },
    { { "-o", "/dev/null", "-w", "%{http_code}", "--path-as-is", trav, NULL }, "400" },
    { { "-o", "/dev/null", "-w", "%{http_code}", "-0", root, NULL }, "200" },
    { { "-o", "/dev/null", "-w", "%{http_code}", "-H", "Accept-Language: es", root, NULL }, "200" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = curl_run (cases[i].args);
      ck_assert_msg (strcmp (out, cases[i].want) == 0, "case %zu: %s", i, out);
    }
  g_autofree char *i18n = url (demo, "/api/i18n");
  const char *es_args[] = { "-H", "Accept-Language: es-MX,es;q=0.9", i18n, NULL };
  g_autofree char *es = curl_run (es_args);
  ck_assert (strstr (es, "\"lang\": \"es\"") != NULL);
}
END_TEST

START_TEST (test_token)
{
  Demo *locked = demo_start ("k3y");
  g_autofree char *u = url (locked, "/api/status");
  const char *none[] = { "-o", "/dev/null", "-w", "%{http_code}", u, NULL };
  const char *wrong[] = { "-o", "/dev/null", "-w", "%{http_code}", "--oauth2-bearer", "key", u, NULL };
  const char *right[] = { "-o", "/dev/null", "-w", "%{http_code}", "--oauth2-bearer", "k3y", u, NULL };
  g_autofree char *a = curl_run (none);
  g_autofree char *b = curl_run (wrong);
  g_autofree char *c = curl_run (right);
  ck_assert_str_eq (a, "401");
  ck_assert_str_eq (b, "401");
  ck_assert_str_eq (c, "200");
  demo_stop (locked);
}
END_TEST

static Suite *
curl_suite (void)
{
  Suite *s = suite_create ("monitor-curl");
  TCase *tc = tcase_create ("curl");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_every_endpoint);
  tcase_add_test (tc, test_keep_alive_reuse);
  tcase_add_test (tc, test_head_and_304);
  tcase_add_test (tc, test_errors_and_versions);
  tcase_add_test (tc, test_token);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  if (!g_file_test (CURL, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_print ("curl not installed: skipped\n");
      return 77;
    }
  SRunner *sr = srunner_create (curl_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
