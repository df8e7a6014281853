/* test-monitor-parser.c — the pure HTTP request parser: fields, keep-alive
 * rules, byte-at-a-time feeding, pipelines, path normalisation, every error
 * status, and the seed corpus of tests/fuzz (file names say the expected
 * outcome: "ok-…" or "<status>-…"). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "monitor-http-parser.h"

typedef struct {
  MonitorParseResult result;
  guint status;
  gsize consumed;
  MonitorRequest *request;
} Outcome;

static Outcome
parse_all (const char *data, gsize len)
{
  g_autoptr (MonitorParser) parser = monitor_parser_new (MONITOR_MAX_HEAD);
  Outcome o = { 0 };
  o.result = monitor_parser_feed (parser, (const guint8 *) data, len, &o.consumed, &o.request, &o.status);
  return o;
}

static Outcome
parse_str (const char *text)
{
  return parse_all (text, strlen (text));
}

static guint
status_of (const char *text)
{
  Outcome o = parse_str (text);
  monitor_request_free (o.request);
  return o.result == MONITOR_PARSE_REQUEST ? 200 : o.result == MONITOR_PARSE_ERROR ? o.status : 0;
}

START_TEST (test_simple_get)
{
  const char *text = "GET /api/status?x=1&lang=es HTTP/1.1\r\nHost: w1\r\nX-Thing:  v a l  \r\n\r\n";
  Outcome o = parse_str (text);
  ck_assert_int_eq (o.result, MONITOR_PARSE_REQUEST);
  ck_assert_uint_eq (o.consumed, strlen (text));
  MonitorRequest *r = o.request;
  ck_assert_str_eq (r->method, "GET");
  ck_assert_int_eq (r->method_id, MONITOR_METHOD_GET);
  ck_assert_str_eq (r->path, "/api/status");
  ck_assert_str_eq (r->query, "x=1&lang=es");
  ck_assert_uint_eq (r->version_minor, 1);
  ck_assert (r->keep_alive);
  ck_assert_str_eq (monitor_request_get_header (r, "x-thing"), "v a l");
  ck_assert_str_eq (monitor_request_get_header (r, "host"), "w1");
  ck_assert_ptr_null (monitor_request_get_header (r, "absent"));
  ck_assert (!monitor_request_has_body (r));
  monitor_request_free (r);
}
END_TEST

START_TEST (test_byte_at_a_time)
{
  const char *text = "HEAD /monitor.css HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET";
  g_autoptr (MonitorParser) parser = monitor_parser_new (MONITOR_MAX_HEAD);
  gsize head_len = strlen (text) - 3;
  for (gsize i = 0; i < head_len; i++)
    {
      gsize consumed = 0;
      guint status = 0;
      MonitorRequest *r = NULL;
      MonitorParseResult res = monitor_parser_feed (parser, (const guint8 *) text + i, 1, &consumed, &r, &status);
      ck_assert_uint_eq (consumed, 1);
      if (i + 1 < head_len)
        {
          ck_assert_int_eq (res, MONITOR_PARSE_NEED_MORE);
          ck_assert (monitor_parser_in_progress (parser));
        }
      else
        {
          ck_assert_int_eq (res, MONITOR_PARSE_REQUEST);
          ck_assert_int_eq (r->method_id, MONITOR_METHOD_HEAD);
          ck_assert_uint_eq (r->version_minor, 0);
          ck_assert (r->keep_alive);
          ck_assert (!monitor_parser_in_progress (parser));
          monitor_request_free (r);
        }
    }
}
END_TEST

START_TEST (test_pipeline)
{
  const char *text = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  g_autoptr (MonitorParser) parser = monitor_parser_new (MONITOR_MAX_HEAD);
  gsize off = 0, consumed = 0;
  guint status = 0;
  g_autoptr (MonitorRequest) a = NULL;
  g_autoptr (MonitorRequest) b = NULL;
  ck_assert_int_eq (monitor_parser_feed (parser, (const guint8 *) text, strlen (text), &consumed, &a, &status),
                    MONITOR_PARSE_REQUEST);
  off = consumed;
  ck_assert_str_eq (a->path, "/a");
  ck_assert (a->keep_alive);
  ck_assert_int_eq (monitor_parser_feed (parser, (const guint8 *) text + off, strlen (text) - off, &consumed, &b, &status),
                    MONITOR_PARSE_REQUEST);
  ck_assert_uint_eq (off + consumed, strlen (text));
  ck_assert_str_eq (b->path, "/b");
  ck_assert (!b->keep_alive);
}
END_TEST

START_TEST (test_keep_alive_rules)
{
  static const struct { const char *text; gboolean keep; } cases[] = {
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\n", TRUE },
    { "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", FALSE },
    { "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n", FALSE },
    { "GET / HTTP/1.0\r\n\r\n", FALSE },
    { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", TRUE },
    { "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", FALSE },
    { "GET / HTTP/1.9\r\nHost: a\r\n\r\n", TRUE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Outcome o = parse_str (cases[i].text);
      ck_assert_int_eq (o.result, MONITOR_PARSE_REQUEST);
      ck_assert_msg (o.request->keep_alive == cases[i].keep, "case %zu", i);
      monitor_request_free (o.request);
    }
}
END_TEST

START_TEST (test_bodies)
{
  Outcome o = parse_str ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\nhello");
  ck_assert_int_eq (o.result, MONITOR_PARSE_REQUEST);
  ck_assert_uint_eq (o.request->content_length, 12);
  ck_assert (monitor_request_has_body (o.request));
  ck_assert_uint_eq (o.consumed, strlen ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n"));
  monitor_request_free (o.request);
  o = parse_str ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  ck_assert_int_eq (o.result, MONITOR_PARSE_REQUEST);
  ck_assert (o.request->chunked);
  monitor_request_free (o.request);
  o = parse_str ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  ck_assert (!monitor_request_has_body (o.request));
  monitor_request_free (o.request);
}
END_TEST

START_TEST (test_error_statuses)
{
  static const struct { const char *text; guint status; } cases[] = {
    { "GET / HTTP/1.1\nHost: a\n\n", 400 },                      /* missing CR */
    { "GET / HTTP/1.1\r\nHost: a\n\r\n", 400 },
    { "GET / HTTP/1.1\rX\r\n\r\n", 400 },                        /* bare CR */
    { "G\"T / HTTP/1.1\r\nHost: a\r\n\r\n", 400 },               /* bad method */
    { "GET/ HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400 },
    { "GET / http/1.1\r\nHost: a\r\n\r\n", 400 },                /* bad version */
    { "GET / HTTP/11\r\nHost: a\r\n\r\n", 400 },
    { "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400 },
    { "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505 },
    { "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505 },
    { "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400 },     /* obs-fold */
    { "GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nNoColon\r\nHost: a\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
    { "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400 },
    { "GET / HTTP/1.1\r\n\r\n", 400 },                            /* no Host */
    { "GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n", 400 },
    { "GET %2e%2e HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /%2e%2e HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /%2E%2E/x HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /a/../../x HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /a%2f..%2f..%2fx HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /%x1 HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /% HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /%0 HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /a%5cb HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
    { "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400 },        /* raw non-ASCII */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    ck_assert_msg (status_of (cases[i].text) == cases[i].status, "case %zu: got %u want %u",
                   i, status_of (cases[i].text), cases[i].status);
}
END_TEST

START_TEST (test_nul_bytes)
{
  static const char with_nul[] = "GET / HTTP/1.1\r\nHost: a\0\r\n\r\n";
  Outcome o = parse_all (with_nul, sizeof with_nul - 1);
  ck_assert_int_eq (o.result, MONITOR_PARSE_ERROR);
  ck_assert_uint_eq (o.status, 400);
  ck_assert_uint_eq (o.consumed, 24);          /* stopped at the NUL */
}
END_TEST

START_TEST (test_431)
{
  g_autoptr (GString) big = g_string_new ("GET / HTTP/1.1\r\nHost: a\r\nX: ");
  while (big->len < MONITOR_MAX_HEAD - 4)
    g_string_append_c (big, 'v');
  g_string_append (big, "\r\n\r\n");
  ck_assert_uint_eq (status_of (big->str), 200);   /* exactly at the limit */
  g_string_insert_c (big, 30, 'v');
  ck_assert_uint_eq (status_of (big->str), 431);
  g_autoptr (GString) many = g_string_new ("GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 0; i < MONITOR_MAX_HEADERS; i++)
    g_string_append_printf (many, "X-%d: 1\r\n", i);
  g_string_append (many, "\r\n");
  ck_assert_uint_eq (status_of (many->str), 431);
  /* An endless header is refused as soon as it passes the limit. */
  g_autoptr (MonitorParser) parser = monitor_parser_new (MONITOR_MAX_HEAD);
  char chunk[1024];
  memset (chunk, 'a', sizeof chunk);
  MonitorParseResult res = MONITOR_PARSE_NEED_MORE;
  gsize fed = 0, consumed = 0;
  guint status = 0;
  MonitorRequest *r = NULL;
  monitor_parser_feed (parser, (const guint8 *) "GET /", 5, &consumed, &r, &status);
  while (res == MONITOR_PARSE_NEED_MORE && fed < 100000)
    {
      res = monitor_parser_feed (parser, (const guint8 *) chunk, sizeof chunk, &consumed, &r, &status);
      fed += consumed;
    }
  ck_assert_int_eq (res, MONITOR_PARSE_ERROR);
  ck_assert_uint_eq (status, 431);
  ck_assert_uint_le (fed, MONITOR_MAX_HEAD);
  /* It stays failed. */
  ck_assert_int_eq (monitor_parser_feed (parser, (const guint8 *) "\r\n", 2, &consumed, &r, &status),
                    MONITOR_PARSE_ERROR);
}
END_TEST

START_TEST (test_methods)
{
  static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT" };
  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    {
      g_autofree char *text = g_strdup_printf ("%s / HTTP/1.1\r\nHost: a\r\n\r\n", known[i]);
      Outcome o = parse_str (text);
      ck_assert_int_eq (o.result, MONITOR_PARSE_REQUEST);
      ck_assert_int_eq (o.request->method_id, (int) i + 1);
      monitor_request_free (o.request);
    }
  Outcome o = parse_str ("get / HTTP/1.1\r\nHost: a\r\n\r\n");   /* case matters */
  ck_assert_int_eq (o.request->method_id, MONITOR_METHOD_OTHER);
  monitor_request_free (o.request);
  o = parse_str ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  ck_assert_str_eq (o.request->path, "*");
  monitor_request_free (o.request);
}
END_TEST

START_TEST (test_path_normalise)
{
  static const struct { const char *in; const char *out; } cases[] = {
    { "/", "/" }, { "/a", "/a" }, { "/a/", "/a/" }, { "//a//b", "/a/b" },
    { "/a/./b", "/a/b" }, { "/a/b/..", "/a/" }, { "/a/../b", "/b" },
    { "/%61pi/status", "/api/status" }, { "/api/%2e/status", "/api/status" },
    { "/x/%2e%2e/api", "/api" }, { "/..", NULL }, { "/%2e%2e", NULL },
    { "/a/../..", NULL }, { "/%2", NULL }, { "/%gg", NULL }, { "/%00", NULL },
    { "/a%2fb", NULL }, { "a", NULL }, { "", NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = monitor_path_normalise (cases[i].in, strlen (cases[i].in));
      ck_assert_msg (g_strcmp0 (got, cases[i].out) == 0, "%s -> %s", cases[i].in, got ? got : "NULL");
    }
}
END_TEST

START_TEST (test_absolute_form)
{
  Outcome o = parse_str ("GET http://w1:8080/api/peers?x HTTP/1.1\r\nHost: w1\r\n\r\n");
  ck_assert_int_eq (o.result, MONITOR_PARSE_REQUEST);
  ck_assert_str_eq (o.request->path, "/api/peers");
  ck_assert_str_eq (o.request->query, "x");
  monitor_request_free (o.request);
  o = parse_str ("GET http://w1 HTTP/1.1\r\nHost: w1\r\n\r\n");
  ck_assert_str_eq (o.request->path, "/");
  monitor_request_free (o.request);
}
END_TEST

/* Every seed of the fuzz corpus, whole and split at every third byte. */
START_TEST (test_corpus)
{
  g_autofree char *dir_path = g_build_filename (MINKA_SOURCE_DIR, "tests", "fuzz", "corpus", "monitor-parser", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &error);
  ck_assert_msg (dir != NULL, "%s", error ? error->message : "");
  guint n = 0;
  for (const char *name; (name = g_dir_read_name (dir)) != NULL; n++)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      g_autofree char *data = NULL;
      gsize len = 0;
      ck_assert (g_file_get_contents (path, &data, &len, NULL));
      guint want = g_str_has_prefix (name, "ok-") ? 200 : (guint) atoi (name);
      Outcome o = parse_all (data, len);
      guint got = o.result == MONITOR_PARSE_REQUEST ? 200 : o.status;
      ck_assert_msg (got == want, "%s: got %u want %u", name, got, want);
      monitor_request_free (o.request);
      /* The same outcome when the bytes arrive in pieces. */
      g_autoptr (MonitorParser) parser = monitor_parser_new (MONITOR_MAX_HEAD);
      MonitorParseResult res = MONITOR_PARSE_NEED_MORE;
      guint status = 0;
      for (gsize off = 0; off < len && res == MONITOR_PARSE_NEED_MORE; off += 3)
        {
          gsize consumed = 0;
          g_autoptr (MonitorRequest) r = NULL;
          res = monitor_parser_feed (parser, (const guint8 *) data + off, MIN (3, len - off), &consumed, &r, &status);
        }
      ck_assert_msg ((res == MONITOR_PARSE_REQUEST ? 200 : status) == want, "%s split", name);
    }
  ck_assert_uint_ge (n, 30);
}
END_TEST

static Suite *
parser_suite (void)
{
  Suite *s = suite_create ("monitor-parser");
  TCase *tc = tcase_create ("parser");
  tcase_add_test (tc, test_simple_get);
  tcase_add_test (tc, test_byte_at_a_time);
  tcase_add_test (tc, test_pipeline);
  tcase_add_test (tc, test_keep_alive_rules);
  tcase_add_test (tc, test_bodies);
  tcase_add_test (tc, test_error_statuses);
  tcase_add_test (tc, test_nul_bytes);
  tcase_add_test (tc, test_431);
  tcase_add_test (tc, test_methods);
  tcase_add_test (tc, test_path_normalise);
  tcase_add_test (tc, test_absolute_form);
  tcase_add_test (tc, test_corpus);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (parser_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
