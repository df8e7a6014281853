/* test-monitor-metrics.c — the Prometheus text builder, checked by a
 * strict validator of the exposition format 0.0.4 written here (names,
 * labels and escapes, values, HELP/TYPE placement, grouping, histogram
 * buckets), which also checks the live /metrics of an in-process server. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor-metrics.h"
#include "monitor-test-util.h"

/* ---- strict validator ------------------------------------------------- */

typedef struct {
  GHashTable *types;          /* family -> type */
  GHashTable *helps;          /* family set */
  GHashTable *closed;         /* families whose samples are over */
  GHashTable *series;         /* "name{labels}" seen */
  char *current;              /* family of the previous sample */
  /* histogram checks for the current (family, labels-without-le) */
  char *hist_key;
  double last_le, last_bucket, inf_bucket;
  gboolean saw_inf;
  char *error;
} Validator;

static gboolean
v_fail (Validator *v, guint line, const char *why)
{
  if (v->error == NULL)
    v->error = g_strdup_printf ("line %u: %s", line, why);
  return FALSE;
}

static gboolean
is_name (const char *s, gsize len, gboolean colon)
{
  if (len == 0 || g_ascii_isdigit (s[0]))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '_' && !(colon && s[i] == ':'))
      return FALSE;
  return TRUE;
}

static gboolean
parse_value (const char *s, double *out)
{
  if (strcmp (s, "NaN") == 0) { *out = NAN; return TRUE; }
  if (strcmp (s, "+Inf") == 0) { *out = INFINITY; return TRUE; }
  if (strcmp (s, "-Inf") == 0) { *out = -INFINITY; return TRUE; }
  if (*s == '\0' || strspn (s, "0123456789+-.eE") != strlen (s))
    return FALSE;
  char *end = NULL;
  *out = g_ascii_strtod (s, &end);
  return end && *end == '\0';
}

static const char *
family_of (Validator *v, const char *name)
{
  static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (name, suffixes[i]))
      {
        g_autofree char *base = g_strndup (name, strlen (name) - strlen (suffixes[i]));
        const char *type = g_hash_table_lookup (v->types, base);
        if (type && (strcmp (type, "histogram") == 0 || strcmp (type, "summary") == 0))
          {
            gpointer key = NULL;
            g_hash_table_lookup_extended (v->types, base, &key, NULL);
            return key;
          }
      }
  return name;
}

static gboolean
v_comment (Validator *v, guint ln, const char *line)
{
  g_auto (GStrv) parts = g_strsplit (line, " ", 4);
  if (g_strv_length (parts) < 3 || (strcmp (parts[1], "HELP") != 0 && strcmp (parts[1], "TYPE") != 0))
    return TRUE;                                   /* a plain comment */
  const char *name = parts[2];
  if (!is_name (name, strlen (name), TRUE))
    return v_fail (v, ln, "bad metric name in HELP/TYPE");
  if (g_hash_table_contains (v->closed, name) || g_strcmp0 (v->current, name) == 0)
    return v_fail (v, ln, "HELP/TYPE after the family's samples");
  if (strcmp (parts[1], "HELP") == 0)
    {
      if (!g_hash_table_add (v->helps, g_strdup (name)))
        return v_fail (v, ln, "second HELP");
      for (const char *p = parts[3] ? parts[3] : ""; *p; p++)
        if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
          return v_fail (v, ln, "bad escape in HELP");
        else if (*p == '\\')
          p++;
      return TRUE;
    }
  static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };
  gboolean known = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    known |= parts[3] && strcmp (parts[3], types[i]) == 0;
  if (!known)
    return v_fail (v, ln, "unknown TYPE");
  if (g_hash_table_contains (v->types, name))
    return v_fail (v, ln, "second TYPE");
  g_hash_table_insert (v->types, g_strdup (name), g_strdup (parts[3]));
  return TRUE;
}

/* Parses {a="x",b="y"} at *p; fills @labels (sorted "a=x" strings) and the
 * le value. */
static gboolean
v_labels (Validator *v, guint ln, const char **p, GPtrArray *labels, char **le)
{
  const char *s = *p + 1;
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gboolean ok = FALSE;
  while (*s != '}')
    {
      const char *start = s;
      while (g_ascii_isalnum (*s) || *s == '_')
        s++;
      if (!is_name (start, s - start, FALSE) || *s != '=' || s[1] != '"')
        { v_fail (v, ln, "bad label name"); goto out; }
      char *lname = g_strndup (start, s - start);
      s += 2;
      GString *value = g_string_new (NULL);
      while (*s && *s != '"')
        {
          if (*s == '\\')
            {
              if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                break;
              s++;
            }
          g_string_append_c (value, *s++);
        }
      if (*s != '"')
        {
          g_free (lname);
          g_string_free (value, TRUE);
          v_fail (v, ln, "bad label value");
          goto out;
        }
      s++;
      if (strcmp (lname, "le") == 0)
        *le = g_strdup (value->str);
      else
        g_ptr_array_add (labels, g_strdup_printf ("%s=%s", lname, value->str));
      g_string_free (value, TRUE);
      if (g_hash_table_contains (seen, lname))
        {
          g_free (lname);
          v_fail (v, ln, "duplicate label");
          goto out;
        }
      g_hash_table_add (seen, lname);
      if (*s == ',')
        s++;
      else if (*s != '}')
        { v_fail (v, ln, "expected , or }"); goto out; }
    }
  *p = s + 1;
  ok = TRUE;
out:
  g_hash_table_unref (seen);
  return ok;
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static gboolean
v_histogram_end (Validator *v, guint ln)
{
  if (v->hist_key && !v->saw_inf)
    return v_fail (v, ln, "histogram without le=\"+Inf\" bucket");
  g_clear_pointer (&v->hist_key, g_free);
  return TRUE;
}

static gboolean
v_histogram_sample (Validator *v, guint ln, const char *name, const char *key,
                    const char *le, double value)
{
  if (g_str_has_suffix (name, "_bucket"))
    {
      double bound;
      if (le == NULL || !parse_value (le, &bound) || isnan (bound))
        return v_fail (v, ln, "bucket without a valid le");
      if (g_strcmp0 (v->hist_key, key) != 0)
        {
          if (!v_histogram_end (v, ln))
            return FALSE;
          v->hist_key = g_strdup (key);
          v->last_le = -INFINITY;
          v->last_bucket = 0;
          v->saw_inf = FALSE;
        }
      if (bound <= v->last_le)
        return v_fail (v, ln, "le not increasing");
      if (value < v->last_bucket)
        return v_fail (v, ln, "buckets not cumulative");
      v->last_le = bound;
      v->last_bucket = value;
      if (isinf (bound))
        {
          v->saw_inf = TRUE;
          v->inf_bucket = value;
        }
      return TRUE;
    }
  if (le != NULL)
    return v_fail (v, ln, "le label outside _bucket");
  if (g_str_has_suffix (name, "_count"))
    {
      if (!v->saw_inf || g_strcmp0 (v->hist_key, key) != 0 || value != v->inf_bucket)
        return v_fail (v, ln, "_count differs from the +Inf bucket");
    }
  else if (!g_str_has_suffix (name, "_sum"))
    return v_fail (v, ln, "histogram sample is not _bucket/_sum/_count");
  return TRUE;
}

static gboolean
v_sample (Validator *v, guint ln, const char *line)
{
  const char *p = line;
  while (g_ascii_isalnum (*p) || *p == '_' || *p == ':')
    p++;
  g_autofree char *name = g_strndup (line, p - line);
  if (!is_name (name, strlen (name), TRUE))
    return v_fail (v, ln, "bad sample name");
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *le = NULL;
  if (*p == '{' && !v_labels (v, ln, &p, labels, &le))
    return FALSE;
  if (*p != ' ')
    return v_fail (v, ln, "expected a space before the value");
  g_auto (GStrv) rest = g_strsplit (p + 1, " ", -1);
  guint n = g_strv_length (rest);
  double value;
  if (n < 1 || n > 2 || !parse_value (rest[0], &value))
    return v_fail (v, ln, "bad value");
  if (n == 2 && (rest[1][0] == '\0' || strspn (rest[1], "-0123456789") != strlen (rest[1])))
    return v_fail (v, ln, "bad timestamp");
  const char *family = family_of (v, name);
  if (g_strcmp0 (v->current, family) != 0)
    {
      if (g_hash_table_contains (v->closed, family))
        return v_fail (v, ln, "family samples are not contiguous");
      if (!v_histogram_end (v, ln))
        return FALSE;
      if (v->current)
        g_hash_table_add (v->closed, g_strdup (v->current));
      g_free (v->current);
      v->current = g_strdup (family);
    }
  g_ptr_array_sort (labels, cmp_str);
  g_ptr_array_add (labels, NULL);
  g_autofree char *label_key = g_strjoinv (",", (char **) labels->pdata);
  g_autofree char *key = g_strdup_printf ("%s{%s}", family, label_key);
  g_autofree char *series = g_strdup_printf ("%s{%s,le=%s}", name, label_key, le ? le : "");
  if (!g_hash_table_add (v->series, g_steal_pointer (&series)))
    return v_fail (v, ln, "duplicate series");
  const char *type = g_hash_table_lookup (v->types, family);
  if (type && strcmp (type, "counter") == 0 && !(value >= 0))
    return v_fail (v, ln, "negative or NaN counter");
  if (type && strcmp (type, "histogram") == 0)
    return v_histogram_sample (v, ln, name, key, le, value);
  return TRUE;
}

/* NULL if @text is valid, else a message (free it). */
static char *
metrics_validate (const char *text)
{
  Validator v = { 0 };
  v.types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  v.helps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  v.closed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  v.series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gsize len = strlen (text);
  if (len == 0 || text[len - 1] != '\n')
    v_fail (&v, 0, "text does not end with a newline");
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] && lines[i + 1] && v.error == NULL; i++)
    {
      const char *line = lines[i];
      if (line[0] == '\0')
        continue;
      if (strchr (line, '\r') || strchr (line, '\t'))
        v_fail (&v, i + 1, "CR or tab in line");
      else if (line[0] == '#')
        v_comment (&v, i + 1, line);
      else
        v_sample (&v, i + 1, line);
    }
  if (v.error == NULL)
    v_histogram_end (&v, 0);
  g_hash_table_unref (v.types);
  g_hash_table_unref (v.helps);
  g_hash_table_unref (v.closed);
  g_hash_table_unref (v.series);
  g_free (v.current);
  g_free (v.hist_key);
  return v.error;
}

/* ---- tests ------------------------------------------------------------ */

START_TEST (test_builder_golden)
{
  g_autoptr (MonitorMetrics) m = monitor_metrics_new ();
  const char *leader[] = { "role", "leader", NULL };
  const char *follower[] = { "role", "follower", NULL };
  monitor_metrics_gauge (m, "minka_raft_term", "Current term.", NULL, 7);
  monitor_metrics_gauge (m, "minka_raft_role", "Role.", leader, 1);
  monitor_metrics_counter (m, "minka_x_total", "Line\\one\nline two.", NULL, 2.5);
  monitor_metrics_gauge (m, "minka_raft_role", "Role.", follower, 0);  /* grouped */
  double bounds[] = { 0.001, 0.01, 0.1 };
  g_autoptr (MonitorHistogram) h = monitor_histogram_new (bounds, 3);
  monitor_histogram_observe (h, 0.0005);
  monitor_histogram_observe (h, 0.001);
  monitor_histogram_observe (h, 0.05);
  monitor_histogram_observe (h, 3);
  const char *hl[] = { "op", "a\"b\\c\nd", NULL };
  monitor_metrics_histogram (m, "minka_lat_seconds", "Latency.", hl, h);
  g_autofree char *text = monitor_metrics_render (m);
  const char *want =
    "# HELP minka_raft_term Current term.\n"
    "# TYPE minka_raft_term gauge\n"
    "minka_raft_term 7\n"
    "# HELP minka_raft_role Role.\n"
    "# TYPE minka_raft_role gauge\n"
    "minka_raft_role{role=\"leader\"} 1\n"
    "minka_raft_role{role=\"follower\"} 0\n"
    "# HELP minka_x_total Line\\\\one\\nline two.\n"
    "# TYPE minka_x_total counter\n"
    "minka_x_total 2.5\n"
    "# HELP minka_lat_seconds Latency.\n"
    "# TYPE minka_lat_seconds histogram\n"
    "minka_lat_seconds_bucket{op=\"a\\\"b\\\\c\\nd\",le=\"0.001\"} 2\n"
    "minka_lat_seconds_bucket{op=\"a\\\"b\\\\c\\nd\",le=\"0.01\"} 2\n"
    "minka_lat_seconds_bucket{op=\"a\\\"b\\\\c\\nd\",le=\"0.1\"} 3\n"
    "minka_lat_seconds_bucket{op=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 4\n"
    "minka_lat_seconds_sum{op=\"a\\\"b\\\\c\\nd\"} 3.0515\n"
    "minka_lat_seconds_count{op=\"a\\\"b\\\\c\\nd\"} 4\n";
  ck_assert_str_eq (text, want);
  g_autofree char *err = metrics_validate (text);
  ck_assert_msg (err == NULL, "%s", err);
}
END_TEST

START_TEST (test_special_values)
{
  g_autoptr (MonitorMetrics) m = monitor_metrics_new ();
  monitor_metrics_gauge (m, "g_nan", "", NULL, NAN);
  monitor_metrics_gauge (m, "g_inf", "", NULL, INFINITY);
  monitor_metrics_gauge (m, "g_ninf", "", NULL, -INFINITY);
  monitor_metrics_gauge (m, "g_big", "", NULL, 1e20);
  monitor_metrics_gauge (m, "g_small", "", NULL, 1.5e-9);
  g_autofree char *text = monitor_metrics_render (m);
  ck_assert (strstr (text, "g_nan NaN\n"));
  ck_assert (strstr (text, "g_inf +Inf\n"));
  ck_assert (strstr (text, "g_ninf -Inf\n"));
  ck_assert (strstr (text, "g_big 1e+20\n"));
  ck_assert (strstr (text, "g_small 1.5e-09\n"));
  g_autofree char *err = metrics_validate (text);
  ck_assert_msg (err == NULL, "%s", err);
  ck_assert (monitor_metrics_name_is_valid ("a:b_c9"));
  ck_assert (!monitor_metrics_name_is_valid ("9a"));
  ck_assert (!monitor_metrics_name_is_valid ("a-b"));
  ck_assert (!monitor_metrics_name_is_valid (""));
}
END_TEST

/* The validator itself must reject what is wrong. */
START_TEST (test_validator_rejects)
{
  static const char *const bad[] = {
    "m 1",                                            /* no final newline */
    "9m 1\n",
    "m{l=\"x} 1\n",
    "m{l=\"\\x\"} 1\n",
    "m{l=\"a\",l=\"b\"} 1\n",
    "m{1l=\"a\"} 1\n",
    "m one\n",
    "m  1\n",
    "m 1 2 3\n",
    "# TYPE m gauge\n# TYPE m gauge\nm 1\n",
    "m 1\n# TYPE m gauge\n",
    "# TYPE m wibble\nm 1\n",
    "a 1\nb 1\na 2\n",
    "m 1\nm 2\n",
    "# TYPE c counter\nc -1\n",
    "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
    "# TYPE h histogram\nh_bucket 1\n",
    "m 1\r\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *err = metrics_validate (bad[i]);
      ck_assert_msg (err != NULL, "accepted bad input %zu", i);
    }
  g_autofree char *ok = metrics_validate ("# a comment\n\nm{a=\"1\",} 1 1700000000000\nm{a=\"2\"} -Inf\n");
  ck_assert_msg (ok == NULL, "%s", ok);
}
END_TEST

START_TEST (test_live_metrics)
{
  TestServer *ts = test_server_start (NULL);
  for (int round = 0; round < 2; round++)
    {
      g_autoptr (TestResponse) r = test_fetch (ts->port, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", FALSE);
      ck_assert_ptr_nonnull (r);
      ck_assert_uint_eq (r->status, 200);
      ck_assert_str_eq (test_response_header (r, "content-type"), MONITOR_METRICS_CONTENT_TYPE);
      g_autofree char *text = g_strndup ((const char *) r->body->data, r->body->len);
      g_autofree char *err = metrics_validate (text);
      ck_assert_msg (err == NULL, "%s", err);
      static const char *const names[] = {
        "minka_raft_term", "minka_raft_role", "minka_raft_commit_index", "minka_raft_applied_index",
        "minka_raft_proposals_total", "minka_raft_commits_total", "minka_raft_elections_total",
        "minka_raft_append_latency_seconds", "minka_storage_fsync_latency_seconds",
        "minka_net_bytes_in_total", "minka_net_bytes_out_total", "minka_files", "minka_blob_bytes",
        "minka_connections", "minka_process_rss_bytes", "minka_monitor_requests_total",
      };
      for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
        {
          g_autofree char *type_line = g_strdup_printf ("# TYPE %s ", names[i]);
          ck_assert_msg (strstr (text, type_line) != NULL, "missing %s", names[i]);
        }
    }
  test_server_stop (ts);
}
END_TEST

static Suite *
metrics_suite (void)
{
  Suite *s = suite_create ("monitor-metrics");
  TCase *tc = tcase_create ("metrics");
  tcase_add_test (tc, test_builder_golden);
  tcase_add_test (tc, test_special_values);
  tcase_add_test (tc, test_validator_rejects);
  tcase_add_test (tc, test_live_metrics);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (metrics_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
