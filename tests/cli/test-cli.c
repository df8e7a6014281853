/* test-cli.c — runs the built `minka` binary (path from meson, MINKA_CLI_PATH)
 * with GSubprocess: bad inputs must exit non-zero (1 for bad data, 2 for a
 * bad command line, never a crash) with a clear message on stderr; a small
 * train-local → model-info → predict-local round trip must work. */
#include <check.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <string.h>

#ifndef MINKA_CLI_PATH
#error "MINKA_CLI_PATH must be defined by the build"
#endif

static char *tmp_dir;

typedef struct {
  gboolean exited;   /* FALSE: killed by a signal (a crash) */
  int status;
  char *out, *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

/* Runs minka with the NULL-terminated arguments. */
static Run
run_minka (const char *first, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) MINKA_CLI_PATH);
  va_list args;
  va_start (args, first);
  for (const char *a = first; a; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  GSubprocessLauncher *launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                             | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "LANGUAGE");
  GError *error = NULL;
  GSubprocess *proc = g_subprocess_launcher_spawnv (launcher,
                                                    (const char * const *) argv->pdata, &error);
  ck_assert_msg (proc != NULL, "spawn: %s", error ? error->message : "");
  Run r = { 0 };
  ck_assert (g_subprocess_communicate_utf8 (proc, NULL, NULL, &r.out, &r.err, &error));
  r.exited = g_subprocess_get_if_exited (proc);
  r.status = r.exited ? g_subprocess_get_exit_status (proc) : -1;
  g_object_unref (proc);
  g_object_unref (launcher);
  g_ptr_array_free (argv, TRUE);
  return r;
}

/* The run failed cleanly with @code and stderr contains every needle. */
static void
expect_failure (Run *r, int code, ...)
{
  ck_assert_msg (r->exited, "minka crashed; stderr: %s", r->err);
  ck_assert_msg (r->status == code, "exit %d, expected %d; stderr: %s", r->status, code, r->err);
  ck_assert_msg (r->err[0] != '\0', "no message on stderr");
  va_list args;
  va_start (args, code);
  for (const char *n = va_arg (args, const char *); n; n = va_arg (args, const char *))
    ck_assert_msg (strstr (r->err, n), "“%s” not in stderr: %s", n, r->err);
  va_end (args);
  run_clear (r);
}

static void
expect_success (Run *r)
{
  ck_assert_msg (r->exited && r->status == 0, "exit %d; stderr: %s", r->status, r->err);
}

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static char *
write_tmp (const char *name, const char *content, gssize len)
{
  char *path = tmp_path (name);
  ck_assert (g_file_set_contents (path, content, len, NULL));
  return path;
}

/* Three well-separated classes in x1, x2 (seeded), plus an "id" column. */
static char *
write_blobs (const char *name, gboolean with_id, guint32 seed)
{
  static const char *kinds[] = { "red", "green", "blue" };
  GRand *rand = g_rand_new_with_seed (seed);
  GString *s = g_string_new (with_id ? "id,x1,x2,kind\n" : "x1,x2,kind\n");
  for (int i = 0; i < 300; i++)
    {
      int c = i % 3;
      double x1 = c * 3.0 + g_rand_double_range (rand, -1, 1);
      double x2 = -c * 2.0 + g_rand_double_range (rand, -1, 1);
      char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (a, sizeof a, "%.4f", x1);
      g_ascii_formatd (b, sizeof b, "%.4f", x2);
      if (with_id)
        g_string_append_printf (s, "row%d,", i);
      g_string_append_printf (s, "%s,%s,%s\n", a, b, kinds[c]);
    }
  g_rand_free (rand);
  char *path = write_tmp (name, s->str, -1);
  g_string_free (s, TRUE);
  return path;
}

/* y = 2 x1 - x2 + small noise. */
static char *
write_linear (const char *name)
{
  GRand *rand = g_rand_new_with_seed (7);
  GString *s = g_string_new ("x1;x2;y\n");
  for (int i = 0; i < 400; i++)
    {
      double x1 = g_rand_double_range (rand, -2, 2), x2 = g_rand_double_range (rand, -2, 2);
      double y = 2 * x1 - x2 + g_rand_double_range (rand, -0.1, 0.1);
      char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE], c[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (s, "%s;%s;%s\n", g_ascii_formatd (a, sizeof a, "%.4f", x1),
                              g_ascii_formatd (b, sizeof b, "%.4f", x2),
                              g_ascii_formatd (c, sizeof c, "%.4f", y));
    }
  g_rand_free (rand);
  char *path = write_tmp (name, s->str, -1);
  g_string_free (s, TRUE);
  return path;
}

/* The value of "name=value" in @text, or -1. */
static double
metric_value (const char *text, const char *name)
{
  char *key = g_strconcat (name, "=", NULL);
  const char *p = text;
  double v = -1;
  while ((p = strstr (p, key)))
    {
      if (p == text || p[-1] == '\n')
        {
          v = g_ascii_strtod (p + strlen (key), NULL);
          break;
        }
      p++;
    }
  g_free (key);
  return v;
}

/* Trains the blobs model into tmp_dir/blobs.minka. */
static char *
train_blobs (void)
{
  char *data = write_blobs ("train.csv", FALSE, 1);
  char *model = tmp_path ("blobs.minka");
  Run r = run_minka ("train-local", "--data", data, "--label", "kind", "--layers", "16",
                     "--epochs", "30", "--lr", "0.01", "--threads", "2", "--seed", "3",
                     "--out", model, NULL);
  expect_success (&r);
  double acc = metric_value (r.out, "val_accuracy");
  ck_assert_msg (acc >= 0.9, "val_accuracy %g; stdout: %s", acc, r.out);
  ck_assert (metric_value (r.out, "val_log_loss") >= 0);
  ck_assert (strstr (r.err, "epoch 30/30"));
  run_clear (&r);
  g_free (data);
  return model;
}

static void
setup (void)
{
  tmp_dir = g_dir_make_tmp ("minka-test-cli-XXXXXX", NULL);
  ck_assert_ptr_nonnull (tmp_dir);
}

static void
teardown (void)
{
  GDir *dir = g_dir_open (tmp_dir, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)))
    {
      char *p = g_build_filename (tmp_dir, name, NULL);
      g_unlink (p);
      g_free (p);
    }
  if (dir)
    g_dir_close (dir);
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
}

START_TEST (test_help_and_usage)
{
  Run r = run_minka ("--help", NULL);
  expect_success (&r);
  ck_assert (strstr (r.out, "train-local") && strstr (r.out, "model-info"));
  run_clear (&r);
  r = run_minka ("train-local", "--help", NULL);
  expect_success (&r);
  ck_assert (strstr (r.out, "--layers") && strstr (r.out, "--test-labels"));
  run_clear (&r);
  r = run_minka (NULL);
  expect_failure (&r, 2, "Usage", NULL);
  r = run_minka ("frobnicate", NULL);
  expect_failure (&r, 2, "frobnicate", NULL);
  r = run_minka ("model-info", NULL);
  expect_failure (&r, 2, "model-info", NULL);
}
END_TEST

START_TEST (test_bad_options)
{
  char *data = write_blobs ("ok.csv", FALSE, 1);
  char *out = tmp_path ("never.minka");
  struct { const char *opt, *value, *needle; } cases[] = {
    { "--layers", "abc", "--layers" },
    { "--layers", "16,,8", "--layers" },
    { "--layers", "0", "--layers" },
    { "--epochs", "-1", "--epochs" },
    { "--epochs", "abc", "--epochs" },
    { "--epochs", "0", "--epochs" },
    { "--batch", "0", "--batch" },
    { "--lr", "-0.1", "--lr" },
    { "--lr", "fast", "--lr" },
    { "--lr-schedule", "step", "--lr-schedule" },
    { "--threads", "-2", "--threads" },
    { "--task", "clustering", "--task" },
    { "--activation", "gelu", "--activation" },
    { "--optimizer", "rmsprop", "--optimizer" },
    { "--seed", "-5", "--seed" },
  };
  /* a valid command line for a network too large to allocate */
  Run big = run_minka ("train-local", "--data", data, "--label", "kind", "--out", out,
                       "--layers", "65536,65536", NULL);
  expect_failure (&big, 1, "too large", NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Run r = run_minka ("train-local", "--data", data, "--label", "kind", "--out", out,
                         cases[i].opt, cases[i].value, NULL);
      expect_failure (&r, 2, cases[i].needle, NULL);
    }
  Run r = run_minka ("train-local", "--label", "kind", "--out", out, NULL);
  expect_failure (&r, 2, "--data", NULL);
  r = run_minka ("train-local", "--data", data, "--label", "kind", "--out", out, "stray", NULL);
  expect_failure (&r, 2, "stray", NULL);
  r = run_minka ("predict-local", "--data", data, NULL);
  expect_failure (&r, 2, "--model", NULL);
  r = run_minka ("predict-local", "--model", out, "--data", data, "--precision", "int4", NULL);
  expect_failure (&r, 2, "--precision", "int4", NULL);
  ck_assert (!g_file_test (out, G_FILE_TEST_EXISTS));
  g_free (data);
  g_free (out);
}
END_TEST

START_TEST (test_bad_data)
{
  char *out = tmp_path ("never.minka");
  char *missing = tmp_path ("missing.csv");
  Run r = run_minka ("train-local", "--data", missing, "--label", "kind", "--out", out, NULL);
  expect_failure (&r, 1, "missing.csv", NULL);

  char *bad = write_tmp ("bad.csv", "x1,x2,kind\n1,2,a\n3,oops,b\n", -1);
  r = run_minka ("train-local", "--data", bad, "--label", "kind", "--out", out, NULL);
  expect_failure (&r, 1, "line 3, column 2", "x2", "oops", NULL);

  char *ragged = write_tmp ("ragged.csv", "x1;x2;kind\r\n1;2;a\r\n3;4\r\n", -1);
  r = run_minka ("train-local", "--data", ragged, "--label", "kind", "--out", out, NULL);
  expect_failure (&r, 1, "line 3", "kind", NULL);

  char *good = write_blobs ("good.csv", FALSE, 1);
  r = run_minka ("train-local", "--data", good, "--label", "colour", "--out", out, NULL);
  expect_failure (&r, 1, "colour", "kind", NULL);
  r = run_minka ("train-local", "--data", good, "--out", out, NULL);
  expect_failure (&r, 1, "--label", NULL);
  r = run_minka ("train-local", "--data", good, "--label", "kind", "--task", "regression",
                 "--out", out, NULL);
  expect_failure (&r, 1, "kind", "not a number", NULL);

  char *one_class = write_tmp ("one.csv", "x,k\n1,a\n2,a\n3,a\n", -1);
  r = run_minka ("train-local", "--data", one_class, "--label", "k", "--out", out, NULL);
  expect_failure (&r, 1, "two classes", NULL);

  guint8 garbage[512];
  GRand *rand = g_rand_new_with_seed (5);
  for (gsize i = 0; i < sizeof garbage; i++)
    garbage[i] = (guint8) g_rand_int_range (rand, 0, 256);
  g_rand_free (rand);
  char *bin = write_tmp ("garbage.csv", (const char *) garbage, sizeof garbage);
  r = run_minka ("train-local", "--data", bin, "--label", "kind", "--out", out, NULL);
  expect_failure (&r, 1, "garbage.csv", NULL);
  r = run_minka ("train-local", "--data", bin, "--labels", bin, "--out", out, NULL);
  expect_failure (&r, 1, "garbage.csv", NULL);

  ck_assert (!g_file_test (out, G_FILE_TEST_EXISTS));
  g_free (out);
  g_free (missing);
  g_free (bad);
  g_free (ragged);
  g_free (good);
  g_free (one_class);
  g_free (bin);
}
END_TEST

START_TEST (test_bad_models)
{
  char *data = write_blobs ("p.csv", FALSE, 2);
  char *corrupt = write_tmp ("corrupt.minka", "MINKA\0\0\0this is not a model", 28);
  Run r = run_minka ("model-info", corrupt, NULL);
  expect_failure (&r, 1, "model-info", NULL);
  r = run_minka ("predict-local", "--model", corrupt, "--data", data, NULL);
  expect_failure (&r, 1, "predict-local", NULL);
  char *missing = tmp_path ("nope.minka");
  r = run_minka ("model-info", missing, NULL);
  expect_failure (&r, 1, "nope.minka", NULL);

  /* a valid model whose file is then truncated */
  char *model = train_blobs ();
  char *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (model, &bytes, &len, NULL));
  char *cut = write_tmp ("cut.minka", bytes, len / 2);
  r = run_minka ("model-info", cut, NULL);
  expect_failure (&r, 1, "model-info", NULL);
  g_free (bytes);
  g_free (cut);
  g_free (model);
  g_free (missing);
  g_free (corrupt);
  g_free (data);
}
END_TEST

START_TEST (test_predict_mismatch)
{
  char *model = train_blobs ();
  char *no_x2 = write_tmp ("nox2.csv", "x1,kind\n1,red\n", -1);
  Run r = run_minka ("predict-local", "--model", model, "--data", no_x2, NULL);
  expect_failure (&r, 1, "x2", NULL);

  char *bad_class = write_tmp ("badclass.csv", "x1,x2,kind\n1,2,red\n1,2,purple\n", -1);
  r = run_minka ("predict-local", "--model", model, "--data", bad_class, NULL);
  expect_failure (&r, 1, "purple", "line 3", NULL);

  /* 2 images of 3×4 pixels: 12 features for a 2-input model */
  static const guint8 idx[] = { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
                                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  char *images = write_tmp ("img-ubyte", (const char *) idx, sizeof idx);
  r = run_minka ("predict-local", "--model", model, "--data", images, NULL);
  expect_failure (&r, 1, "12", NULL);
  g_free (images);
  g_free (bad_class);
  g_free (no_x2);
  g_free (model);
}
END_TEST

START_TEST (test_round_trip_classification)
{
  char *model = train_blobs ();
  Run r = run_minka ("model-info", model, NULL);
  expect_success (&r);
  ck_assert_msg (strstr (r.out, "classification") && strstr (r.out, "2-16-3")
                 && strstr (r.out, "x1, x2") && strstr (r.out, "blue, green, red")
                 && strstr (r.out, "val_accuracy="), "%s", r.out);
  run_clear (&r);

  r = run_minka ("model-info", "--json", model, NULL);
  expect_success (&r);
  JsonParser *parser = json_parser_new ();
  ck_assert_msg (json_parser_load_from_data (parser, r.out, -1, NULL), "%s", r.out);
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  ck_assert_str_eq (json_object_get_string_member (o, "task"), "classification");
  ck_assert_int_eq (json_object_get_int_member (o, "parameters"), 2 * 16 + 16 + 16 * 3 + 3);
  ck_assert_str_eq (json_array_get_string_element (json_object_get_array_member (o, "inputs"), 1), "x2");
  ck_assert (json_object_get_double_member (json_object_get_object_member (o, "metrics"),
                                            "val_accuracy") >= 0.9);
  g_object_unref (parser);
  run_clear (&r);

  /* New data with an extra text column and the columns in another order. */
  char *data = write_blobs ("new.csv", TRUE, 9);
  r = run_minka ("predict-local", "--model", model, "--data", data, NULL);
  expect_success (&r);
  ck_assert_msg (g_str_has_prefix (r.out, "x1,x2,kind,prediction,p_blue,p_green,p_red\n"),
                 "%s", r.out);
  char **lines = g_strsplit (r.out, "\n", -1);
  ck_assert_uint_eq (g_strv_length (lines), 302);   /* header, 300 rows, "" */
  char **cells = g_strsplit (lines[1], ",", -1);
  ck_assert_uint_eq (g_strv_length (cells), 7);
  ck_assert_str_eq (cells[2], "red");
  g_strfreev (cells);
  g_strfreev (lines);
  double acc = metric_value (r.err, "accuracy");
  ck_assert_msg (acc >= 0.9, "accuracy %g; stderr: %s", acc, r.err);
  run_clear (&r);

  char *pred = tmp_path ("pred.csv");
  r = run_minka ("predict-local", "--model", model, "--data", data, "--out", pred, NULL);
  expect_success (&r);
  ck_assert (metric_value (r.out, "accuracy") >= 0.9);
  ck_assert (g_file_test (pred, G_FILE_TEST_EXISTS));
  run_clear (&r);

  /* int8 inference: the same columns, and the same class on (nearly) every
   * row as fp32. */
  Run f = run_minka ("predict-local", "--model", model, "--data", data, "--precision", "fp32", NULL);
  expect_success (&f);
  r = run_minka ("predict-local", "--model", model, "--data", data, "--precision", "int8", NULL);
  expect_success (&r);
  ck_assert (metric_value (r.err, "accuracy") >= 0.9);
  char **flines = g_strsplit (f.out, "\n", -1), **qlines = g_strsplit (r.out, "\n", -1);
  ck_assert_uint_eq (g_strv_length (qlines), 302);
  ck_assert_str_eq (qlines[0], flines[0]);
  guint differ = 0;
  for (guint i = 1; i < 301; i++)
    {
      char **fc = g_strsplit (flines[i], ",", -1), **qc = g_strsplit (qlines[i], ",", -1);
      ck_assert_uint_eq (g_strv_length (qc), 7);
      differ += strcmp (fc[3], qc[3]) != 0;
      g_strfreev (fc);
      g_strfreev (qc);
    }
  ck_assert_msg (differ <= 3, "%u of 300 int8 predictions differ from fp32", differ);
  g_strfreev (flines);
  g_strfreev (qlines);
  run_clear (&f);
  run_clear (&r);

  /* Without the label column: predictions only, no metrics. */
  char *unlabelled = write_tmp ("unlabelled.csv", "x2,x1\n-4,6\n0,0\n", -1);
  r = run_minka ("predict-local", "--model", model, "--data", unlabelled, NULL);
  expect_success (&r);
  ck_assert_msg (strstr (r.out, "x1,x2,prediction,p_blue") && strstr (r.out, "\n6,-4,blue,")
                 && strstr (r.out, "\n0,0,red,"), "%s", r.out);
  ck_assert (strstr (r.err, "accuracy") == NULL);
  run_clear (&r);
  g_free (unlabelled);
  g_free (pred);
  g_free (data);
  g_free (model);
}
END_TEST

START_TEST (test_round_trip_regression)
{
  char *data = write_linear ("lin.csv");
  char *model = tmp_path ("lin.minka");
  Run r = run_minka ("train-local", "--data", data, "--label", "y", "--task", "regression",
                     "--layers", "16", "--activation", "tanh", "--epochs", "60", "--lr", "0.01",
                     "--lr-schedule", "constant",
                     "--batch", "32", "--seed", "4", "--out", model, NULL);
  expect_success (&r);
  double r2 = metric_value (r.out, "val_r2");
  ck_assert_msg (r2 >= 0.9, "val_r2 %g; stdout: %s", r2, r.out);
  ck_assert (metric_value (r.out, "val_mse") >= 0);
  run_clear (&r);
  r = run_minka ("predict-local", "--model", model, "--data", data, NULL);
  expect_success (&r);
  ck_assert (g_str_has_prefix (r.out, "x1,x2,y,prediction\n"));
  ck_assert (metric_value (r.err, "r2") >= 0.9);
  ck_assert (metric_value (r.err, "mse") >= 0);
  run_clear (&r);
  g_free (model);
  g_free (data);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("cli");
  TCase *tc = tcase_create ("core");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_help_and_usage);
  tcase_add_test (tc, test_bad_options);
  tcase_add_test (tc, test_bad_data);
  tcase_add_test (tc, test_bad_models);
  tcase_add_test (tc, test_predict_mismatch);
  tcase_add_test (tc, test_round_trip_classification);
  tcase_add_test (tc, test_round_trip_regression);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
