/* test-monitor-json.c — the compact JSON writer (round trip through
 * json-glib's parser for every value kind, escapes, member order) and the
 * API bodies composed from a MonitorSource (sections, missing callbacks,
 * members already given by an earlier section, cached nodes untouched). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor-api.h"
#include "monitor-json.h"

static JsonNode *
parse (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  ck_assert_msg (json_parser_load_from_data (parser, text, -1, &error), "%s: %s", text,
                 error ? error->message : "");
  return json_node_copy (json_parser_get_root (parser));
}

static char *
write_node (JsonNode *node)
{
  GString *out = g_string_new (NULL);
  monitor_json_write (out, node);
  return g_string_free (out, FALSE);
}

START_TEST (test_round_trip)
{
  const char *text =
    "{\"z\":1,\"a\":-9223372036854775807,\"big\":9223372036854775807,\"zero\":0,"
    "\"d\":0.1,\"e\":-1.5e-300,\"t\":true,\"f\":false,\"n\":null,"
    "\"s\":\"quote\\\" back\\\\ nl\\n tab\\t cr\\r ctl\\u0001 del\\u007f é ✓ 😀\","
    "\"arr\":[1,[],{},[{\"x\":[null]}]],\"obj\":{\"b\":2,\"a\":1},\"empty\":\"\"}";
  g_autoptr (JsonNode) original = parse (text);
  g_autofree char *written = write_node (original);
  g_autoptr (JsonNode) again = parse (written);
  ck_assert (json_node_equal (original, again));
  /* Insertion order kept; compact. */
  ck_assert (g_str_has_prefix (written, "{\"z\":1,\"a\":-9223372036854775807,"));
  ck_assert (strstr (written, "\"obj\":{\"b\":2,\"a\":1}") != NULL);
  ck_assert (strstr (written, "\\u0001") != NULL);
}
END_TEST

START_TEST (test_special_values)
{
  g_autoptr (JsonNode) nan = json_node_new (JSON_NODE_VALUE);
  json_node_set_double (nan, NAN);
  g_autofree char *a = write_node (nan);
  ck_assert_str_eq (a, "null");
  g_autoptr (JsonNode) bad = json_node_new (JSON_NODE_VALUE);
  json_node_set_string (bad, "ok\xff\xfe");
  g_autofree char *b = write_node (bad);
  ck_assert (g_utf8_validate (b, -1, NULL));
  ck_assert (g_str_has_prefix (b, "\"ok"));
  g_autofree char *c = write_node (NULL);
  ck_assert_str_eq (c, "null");
  g_autoptr (JsonNode) min = json_node_new (JSON_NODE_VALUE);
  json_node_set_int (min, G_MININT64);
  g_autofree char *d = write_node (min);
  ck_assert_str_eq (d, "-9223372036854775808");
}
END_TEST

/* ---- API bodies -------------------------------------------------------- */

static JsonNode *cached_files;

static JsonNode *
src_status (gpointer data)
{
  return parse ("{\"id\":7,\"role\":\"leader\",\"catalog_digest\":\"abc\"}");
}

static JsonNode *
src_peers (gpointer data)
{
  return parse ("[{\"id\":2,\"reachable\":true}]");
}

static JsonNode *
src_files (gpointer data)
{
  return json_node_ref (cached_files);
}

static JsonNode *
src_events (gpointer data)
{
  return parse ("{\"events\":[{\"kind\":\"election\"}]}");
}

static JsonObject *
body_object (GBytes *body, JsonNode **keep)
{
  g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  *keep = parse (text);
  return json_node_get_object (*keep);
}

START_TEST (test_api_bodies)
{
  cached_files = parse ("{\"catalog_digest\":\"abc\",\"files\":[{\"id\":1,\"name\":\"a.csv\"}]}");
  g_autofree char *cached_before = write_node (cached_files);
  MonitorSource src = { .status = src_status, .peers = src_peers, .files = src_files,
                        .events = src_events, .jobs = NULL, .metrics = NULL, .user_data = NULL };
  g_autoptr (JsonNode) keep = NULL;
  g_autoptr (GBytes) status = monitor_api_status (&src);
  JsonObject *o = body_object (status, &keep);
  ck_assert_int_eq (json_object_get_int_member (o, "id"), 7);
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (o, "peers")), 1);
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (o, "jobs")), 0);
  /* The file list and the logs are not in the status: it stays small. */
  ck_assert_uint_eq (json_object_get_size (o), 5);
  ck_assert (!json_object_has_member (o, "files") && !json_object_has_member (o, "events"));

  g_autoptr (JsonNode) keep_events = NULL;
  g_autoptr (GBytes) events = monitor_api_events (&src);
  JsonObject *ev = body_object (events, &keep_events);
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (ev, "events")), 1);
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (ev, "requests")), 0);

  g_autoptr (JsonNode) keep2 = NULL;
  g_autoptr (GBytes) files = monitor_api_files (&src);
  JsonObject *f = body_object (files, &keep2);
  ck_assert_str_eq (json_object_get_string_member (f, "catalog_digest"), "abc");
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (f, "files")), 1);
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (f, "models")), 0);
  /* The cached node was not touched. */
  g_autofree char *cached_after = write_node (cached_files);
  ck_assert_str_eq (cached_before, cached_after);
  json_node_unref (cached_files);

  MonitorSource empty = { 0 };
  g_autoptr (JsonNode) keep3 = NULL;
  g_autoptr (GBytes) nothing = monitor_api_status (&empty);
  JsonObject *e = body_object (nothing, &keep3);
  static const char *const arrays[] = { "peers", "jobs" };
  for (gsize i = 0; i < G_N_ELEMENTS (arrays); i++)
    ck_assert (JSON_NODE_HOLDS_ARRAY (json_object_get_member (e, arrays[i])));
  g_autoptr (JsonNode) keep4 = NULL;
  g_autoptr (GBytes) no_files = monitor_api_files (&empty);
  JsonObject *nf = body_object (no_files, &keep4);
  ck_assert (JSON_NODE_HOLDS_ARRAY (json_object_get_member (nf, "files")));
  ck_assert (JSON_NODE_HOLDS_ARRAY (json_object_get_member (nf, "models")));
  g_autoptr (GBytes) peers = monitor_api_peers (&empty);
  ck_assert_uint_eq (g_bytes_get_size (peers), strlen ("{\"peers\":[]}"));
  ck_assert (memcmp (g_bytes_get_data (peers, NULL), "{\"peers\":[]}", g_bytes_get_size (peers)) == 0);
}
END_TEST

static Suite *
json_suite (void)
{
  Suite *s = suite_create ("monitor-json");
  TCase *tc = tcase_create ("json");
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_special_values);
  tcase_add_test (tc, test_api_bodies);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (json_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
