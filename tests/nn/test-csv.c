/* test-csv.c — the CSV loader: separators, quoting, line ends, BOM, class
 * mapping, column selection, and every error with its line and column. */
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "nn-csv.h"
#include "nn-dataset.h"

static char *tmp_dir;

static void
setup (void)
{
  tmp_dir = g_dir_make_tmp ("minka-test-csv-XXXXXX", NULL);
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

/* Writes @len bytes (-1: strlen) to a fresh file and returns its path. */
static char *
write_file (const char *content, gssize len)
{
  static int counter;
  char *name = g_strdup_printf ("f%d.csv", counter++);
  char *path = g_build_filename (tmp_dir, name, NULL);
  g_free (name);
  ck_assert (g_file_set_contents (path, content, len, NULL));
  return path;
}

static NnDataset *
load (const char *content, const char *label, NnTask task, GError **error)
{
  char *path = write_file (content, -1);
  NnDataset *ds = nn_dataset_load_csv (path, label, task, NULL, error);
  g_free (path);
  return ds;
}

/* Loading must fail with @code and a message containing every @needle. */
static void
expect_error (const char *content, const char *label, NnError code, ...)
{
  GError *error = NULL;
  NnDataset *ds = load (content, label, NN_TASK_CLASSIFICATION, &error);
  ck_assert_ptr_null (ds);
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (g_error_matches (error, NN_ERROR, code),
                 "wrong error code %d: %s", error->code, error->message);
  va_list args;
  va_start (args, code);
  const char *needle;
  while ((needle = va_arg (args, const char *)))
    ck_assert_msg (strstr (error->message, needle), "“%s” not in “%s”", needle, error->message);
  va_end (args);
  g_error_free (error);
}

START_TEST (test_basic_comma)
{
  GError *error = NULL;
  NnDataset *ds = load ("a,b,label\n1,2.5,x\n-3,4e2,y\n0.5,6,x\n", "label",
                        NN_TASK_CLASSIFICATION, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (ds->n_rows, 3);
  ck_assert_uint_eq (ds->n_features, 2);
  ck_assert_ptr_null (ds->pixels);
  ck_assert (ds->has_labels);
  ck_assert_str_eq (ds->feature_names[0], "a");
  ck_assert_str_eq (ds->feature_names[1], "b");
  ck_assert_ptr_null (ds->feature_names[2]);
  ck_assert_str_eq (ds->label_name, "label");
  ck_assert_float_eq (ds->features[0], 1.0f);
  ck_assert_float_eq (ds->features[1], 2.5f);
  ck_assert_float_eq (ds->features[2], -3.0f);
  ck_assert_float_eq (ds->features[3], 400.0f);
  ck_assert_uint_eq (ds->n_classes, 2);
  ck_assert_str_eq (ds->class_names[0], "x");
  ck_assert_str_eq (ds->class_names[1], "y");
  ck_assert_uint_eq (ds->labels[0], 0);
  ck_assert_uint_eq (ds->labels[1], 1);
  ck_assert_uint_eq (ds->labels[2], 0);
  nn_dataset_free (ds);
}
END_TEST

START_TEST (test_semicolon_crlf_bom)
{
  GError *error = NULL;
  NnDataset *ds = load ("\xEF\xBB\xBF" "x;label;y\r\n1;b;2\r\n3;a;4\r\n", "label",
                        NN_TASK_CLASSIFICATION, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (ds->n_rows, 2);
  ck_assert_str_eq (ds->feature_names[0], "x");
  ck_assert_str_eq (ds->feature_names[1], "y");
  ck_assert_float_eq (ds->features[1], 2.0f);
  ck_assert_float_eq (ds->features[3], 4.0f);
  /* string classes are sorted: a, b */
  ck_assert_str_eq (ds->class_names[0], "a");
  ck_assert_uint_eq (ds->labels[0], 1);
  ck_assert_uint_eq (ds->labels[1], 0);
  nn_dataset_free (ds);
}
END_TEST

START_TEST (test_quoting)
{
  GError *error = NULL;
  const char *csv =
    "\"col, one\",\"say \"\"hi\"\"\",label\n"
    "\"1.5\",2,\"multi\nline, class\"\n"
    "  \"3\" ,4,plain\n";
  NnDataset *ds = load (csv, "label", NN_TASK_CLASSIFICATION, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (ds->n_rows, 2);
  ck_assert_str_eq (ds->feature_names[0], "col, one");
  ck_assert_str_eq (ds->feature_names[1], "say \"hi\"");
  ck_assert_float_eq (ds->features[0], 1.5f);
  ck_assert_float_eq (ds->features[2], 3.0f);
  ck_assert_uint_eq (ds->n_classes, 2);
  ck_assert_str_eq (ds->class_names[0], "multi\nline, class");
  ck_assert_str_eq (ds->class_names[1], "plain");
  nn_dataset_free (ds);
}
END_TEST

START_TEST (test_integer_labels_sorted_numerically)
{
  GError *error = NULL;
  NnDataset *ds = load ("f,label\n1,10\n2,2\n3,-1\n4,2\n", "label",
                        NN_TASK_CLASSIFICATION, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (ds->n_classes, 3);
  ck_assert_str_eq (ds->class_names[0], "-1");
  ck_assert_str_eq (ds->class_names[1], "2");
  ck_assert_str_eq (ds->class_names[2], "10");
  ck_assert_uint_eq (ds->labels[0], 2);
  ck_assert_uint_eq (ds->labels[1], 1);
  ck_assert_uint_eq (ds->labels[2], 0);
  ck_assert_uint_eq (ds->labels[3], 1);
  nn_dataset_free (ds);
}
END_TEST

/* Labels with invalid UTF-8 are known by their valid form (U+FFFD for each
 * bad byte): "\x9c" twice and "\x9d" are one class, and every label is a
 * valid class index (fuzz-csv once found labels left unmapped). */
START_TEST (test_invalid_utf8_labels)
{
  GError *error = NULL;
  NnDataset *ds = load ("f,label\n1,\x9c\n2,b\n3,\x9c\n4,\x9d\n5,b\n", "label",
                        NN_TASK_CLASSIFICATION, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (ds->n_classes, 2);
  ck_assert_str_eq (ds->class_names[0], "b");
  ck_assert_str_eq (ds->class_names[1], "\xef\xbf\xbd");
  const guint32 want[] = { 1, 0, 1, 1, 0 };
  for (guint r = 0; r < G_N_ELEMENTS (want); r++)
    ck_assert_uint_eq (ds->labels[r], want[r]);
  nn_dataset_free (ds);
}
END_TEST

START_TEST (test_known_classes)
{
  const char *known[] = { "z", "y", NULL };
  char *path = write_file ("a,c\n1,y\n2,z\n", -1);
  GError *error = NULL;
  NnDataset *ds = nn_dataset_load_csv (path, "c", NN_TASK_CLASSIFICATION, known, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (ds->n_classes, 2);
  ck_assert_str_eq (ds->class_names[0], "z");
  ck_assert_uint_eq (ds->labels[0], 1);
  ck_assert_uint_eq (ds->labels[1], 0);
  nn_dataset_free (ds);
  g_free (path);

  path = write_file ("a,c\n1,y\n2,w\n", -1);
  ds = nn_dataset_load_csv (path, "c", NN_TASK_CLASSIFICATION, known, &error);
  ck_assert_ptr_null (ds);
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_MISMATCH));
  ck_assert_msg (strstr (error->message, "line 3, column 2"), "%s", error->message);
  ck_assert_msg (strstr (error->message, "“w”"), "%s", error->message);
  g_clear_error (&error);
  g_free (path);
}
END_TEST

START_TEST (test_regression_and_no_label)
{
  GError *error = NULL;
  NnDataset *ds = load ("x,y\n1,0.5\n2,1.5\n\n", "y", NN_TASK_REGRESSION, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (ds->n_rows, 2);
  ck_assert_uint_eq (ds->n_features, 1);
  ck_assert_ptr_null (ds->labels);
  ck_assert_float_eq (ds->targets[1], 1.5f);
  ck_assert_uint_eq (ds->n_classes, 0);
  nn_dataset_free (ds);

  ds = load ("x,y\n1,0.5\n2,1.5", NULL, NN_TASK_REGRESSION, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert (!ds->has_labels);
  ck_assert_uint_eq (ds->n_features, 2);
  ck_assert_float_eq (ds->features[3], 1.5f);   /* last row without a newline */
  nn_dataset_free (ds);
}
END_TEST

START_TEST (test_select_columns)
{
  const char *wanted[] = { "c", "a", NULL };
  NnCsvOptions opt = { .label_column = "label", .label_optional = TRUE,
                       .task = NN_TASK_CLASSIFICATION, .feature_columns = wanted };
  char *path = write_file ("a,id,c\n1,abc,3\n4,def,6\n", -1);
  GError *error = NULL;
  NnDataset *ds = nn_csv_load (path, &opt, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert (!ds->has_labels);
  ck_assert_uint_eq (ds->n_features, 2);
  ck_assert_str_eq (ds->feature_names[0], "c");
  ck_assert_float_eq (ds->features[0], 3.0f);
  ck_assert_float_eq (ds->features[1], 1.0f);
  nn_dataset_free (ds);
  g_free (path);

  const char *wanted2[] = { "a", "b", "zz", NULL };
  opt.feature_columns = wanted2;
  path = write_file ("a,label\n1,x\n", -1);
  ds = nn_csv_load (path, &opt, &error);
  ck_assert_ptr_null (ds);
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_MISMATCH));
  ck_assert_msg (strstr (error->message, "“b”") && strstr (error->message, "“zz”"),
                 "%s", error->message);
  g_clear_error (&error);
  g_free (path);
}
END_TEST

START_TEST (test_large_streamed)
{
  /* Bigger than one 64 KiB read, with a quoted field across the boundary. */
  GString *s = g_string_new ("a,b,label\n");
  for (int i = 0; i < 20000; i++)
    g_string_append_printf (s, "%d,\"%d.25\",%s\r\n", i, i % 7, i % 3 ? "odd" : "even");
  GError *error = NULL;
  NnDataset *ds = load (s->str, "label", NN_TASK_CLASSIFICATION, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (ds->n_rows, 20000);
  ck_assert_float_eq (ds->features[2 * 19999], 19999.0f);
  ck_assert_float_eq (ds->features[2 * 19999 + 1], (19999 % 7) + 0.25f);
  ck_assert_uint_eq (ds->labels[19999], 1);   /* "odd" after "even" */
  nn_dataset_free (ds);
  g_string_free (s, TRUE);
}
END_TEST

START_TEST (test_errors_cells)
{
  expect_error ("a,b,label\n1,2,x\n3,abc,y\n", "label", NN_ERROR_PARSE,
                "line 3, column 2", "“b”", "not a number", "“abc”", NULL);
  expect_error ("a,b,label\n1,nan,x\n", "label", NN_ERROR_PARSE,
                "line 2, column 2", "“b”", "“nan”", NULL);
  expect_error ("a,b,label\n1,-inf,x\n", "label", NN_ERROR_PARSE,
                "line 2, column 2", "“-inf”", NULL);
  expect_error ("a,b,label\n1,1e999,x\n", "label", NN_ERROR_PARSE,
                "line 2, column 2", NULL);
  expect_error ("a,b,label\n1,,x\n", "label", NN_ERROR_PARSE,
                "line 2, column 2", "“b”", "missing value", NULL);
  expect_error ("a,b,label\n1,2,\n", "label", NN_ERROR_PARSE,
                "line 2, column 3", "“label”", "missing value", NULL);
  expect_error ("a;b;label\r\n1;2;x\r\n1;2 3;x\r\n", "label", NN_ERROR_PARSE,
                "line 3, column 2", NULL);
  /* lines are counted inside quoted fields too */
  expect_error ("a,b,label\n1,\"2\",\"multi\nline\"\n5,x,y\n", "label", NN_ERROR_PARSE,
                "line 4, column 2", "not a number", NULL);
}
END_TEST

START_TEST (test_errors_structure)
{
  expect_error ("a,b,label\n1,2,x\n3,4\n", "label", NN_ERROR_PARSE,
                "line 3, column 3", "“label”", "missing field", NULL);
  expect_error ("a,b,label\n1,2,x,9\n", "label", NN_ERROR_PARSE,
                "line 2, column 4", "too many", NULL);
  expect_error ("a,b,label\n1,2,x\n3,\"4,y\n", "label", NN_ERROR_PARSE,
                "line 3, column 2", "unterminated", NULL);
  GString *runaway = g_string_new ("a,b,label\n1,2,x\n3,\"");
  for (int i = 0; i < 200000; i++)
    g_string_append (runaway, "4,5,y\n");
  expect_error (runaway->str, "label", NN_ERROR_PARSE, "line 3, column 2", "longer than", NULL);
  g_string_free (runaway, TRUE);
  expect_error ("a,b,label\n1,\"2\"z,x\n", "label", NN_ERROR_PARSE,
                "line 2, column 2", "closing quote", NULL);
  expect_error ("a,,label\n1,2,x\n", "label", NN_ERROR_PARSE,
                "line 1, column 2", "empty column name", NULL);
  expect_error ("a,b,a\n1,2,3\n", "b", NN_ERROR_PARSE,
                "line 1, column 3", "“a”", "duplicate", "column 1", NULL);
  expect_error ("a,b\n1,2\n", "label", NN_ERROR_PARSE,
                "line 1", "“label”", "“a”, “b”", NULL);
  expect_error ("", "label", NN_ERROR_PARSE, "line 1", "empty", NULL);
  expect_error ("\xEF\xBB\xBF\r\n\n", "label", NN_ERROR_PARSE, "empty", NULL);
  expect_error ("a,b,label\n", "label", NN_ERROR_PARSE, "line 2", "no data rows", NULL);
  expect_error ("label\nx\n", "label", NN_ERROR_PARSE, "no feature columns", NULL);
}
END_TEST

START_TEST (test_missing_file)
{
  GError *error = NULL;
  char *path = g_build_filename (tmp_dir, "does-not-exist.csv", NULL);
  NnDataset *ds = nn_dataset_load_csv (path, "label", NN_TASK_CLASSIFICATION, NULL, &error);
  ck_assert_ptr_null (ds);
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_IO));
  ck_assert_msg (strstr (error->message, "does-not-exist.csv"), "%s", error->message);
  g_error_free (error);
  g_free (path);
}
END_TEST

START_TEST (test_binary_garbage)
{
  /* Random bytes (with NULs) must give an error, never a crash. */
  GRand *rand = g_rand_new_with_seed (42);
  for (int round = 0; round < 50; round++)
    {
      guint8 buf[300];
      for (gsize i = 0; i < sizeof buf; i++)
        buf[i] = (guint8) g_rand_int_range (rand, 0, 256);
      char *path = write_file ((const char *) buf, sizeof buf);
      GError *error = NULL;
      NnDataset *ds = nn_dataset_load_csv (path, "label", NN_TASK_CLASSIFICATION, NULL, &error);
      ck_assert_ptr_null (ds);
      ck_assert_ptr_nonnull (error);
      ck_assert (g_utf8_validate (error->message, -1, NULL));
      g_error_free (error);
      g_free (path);
    }
  g_rand_free (rand);
}
END_TEST

static Suite *
csv_suite (void)
{
  Suite *s = suite_create ("csv");
  TCase *tc = tcase_create ("core");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_basic_comma);
  tcase_add_test (tc, test_semicolon_crlf_bom);
  tcase_add_test (tc, test_quoting);
  tcase_add_test (tc, test_integer_labels_sorted_numerically);
  tcase_add_test (tc, test_known_classes);
  tcase_add_test (tc, test_invalid_utf8_labels);
  tcase_add_test (tc, test_regression_and_no_label);
  tcase_add_test (tc, test_select_columns);
  tcase_add_test (tc, test_large_streamed);
  tcase_add_test (tc, test_errors_cells);
  tcase_add_test (tc, test_errors_structure);
  tcase_add_test (tc, test_missing_file);
  tcase_add_test (tc, test_binary_garbage);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (csv_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
