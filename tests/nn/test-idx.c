/* test-idx.c — IDX images and labels, plain and gzip: round trip of small
 * generated files, and rejection of truncated, bad-magic, mismatched and
 * corrupt ones. */
#include <check.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "nn-dataset.h"

static char *tmp_dir;

static void
setup (void)
{
  tmp_dir = g_dir_make_tmp ("minka-test-idx-XXXXXX", NULL);
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

static void
put_be32 (GByteArray *a, guint32 v)
{
  guint8 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
  g_byte_array_append (a, b, 4);
}

/* n images of rows×cols with pixel (i, p) = (i * 7 + p) % 256. */
static GByteArray *
make_images (guint32 magic, guint n, guint rows, guint cols)
{
  GByteArray *a = g_byte_array_new ();
  put_be32 (a, magic);
  put_be32 (a, n);
  put_be32 (a, rows);
  put_be32 (a, cols);
  for (guint i = 0; i < n; i++)
    for (guint p = 0; p < rows * cols; p++)
      {
        guint8 v = (guint8) ((i * 7 + p) % 256);
        g_byte_array_append (a, &v, 1);
      }
  return a;
}

/* Only the header of an images file. */
static GByteArray *
make_image_header (guint32 n, guint32 rows, guint32 cols)
{
  GByteArray *a = g_byte_array_new ();
  put_be32 (a, 0x803);
  put_be32 (a, n);
  put_be32 (a, rows);
  put_be32 (a, cols);
  return a;
}

/* n labels with label i = i % n_classes. */
static GByteArray *
make_labels (guint32 magic, guint n, guint n_classes)
{
  GByteArray *a = g_byte_array_new ();
  put_be32 (a, magic);
  put_be32 (a, n);
  for (guint i = 0; i < n; i++)
    {
      guint8 v = (guint8) (i % n_classes);
      g_byte_array_append (a, &v, 1);
    }
  return a;
}

/* Writes @len bytes of @a (plain or gzip) to tmp_dir/@name; frees @a. */
static char *
write_idx (const char *name, GByteArray *a, gsize len, gboolean gzip)
{
  char *path = g_build_filename (tmp_dir, name, NULL);
  GFile *file = g_file_new_for_path (path);
  GOutputStream *out = G_OUTPUT_STREAM (g_file_replace (file, NULL, FALSE, 0, NULL, NULL));
  ck_assert_ptr_nonnull (out);
  if (gzip)
    {
      GZlibCompressor *z = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
      GOutputStream *zout = g_converter_output_stream_new (out, G_CONVERTER (z));
      g_object_unref (z);
      g_object_unref (out);
      out = zout;
    }
  ck_assert (g_output_stream_write_all (out, a->data, MIN (len, a->len), NULL, NULL, NULL));
  ck_assert (g_output_stream_close (out, NULL, NULL));
  g_object_unref (out);
  g_object_unref (file);
  g_byte_array_unref (a);
  return path;
}

static void
check_loaded (NnDataset *ds, guint n, guint rows, guint cols, guint n_classes)
{
  ck_assert_uint_eq (ds->n_rows, n);
  ck_assert_uint_eq (ds->n_features, rows * cols);
  ck_assert_ptr_null (ds->features);
  ck_assert_ptr_nonnull (ds->pixels);
  ck_assert_int_eq (ds->task, NN_TASK_CLASSIFICATION);
  guint wrong = 0;
  for (guint i = 0; i < n; i++)
    for (guint p = 0; p < rows * cols; p++)
      wrong += ds->pixels[(gsize) i * rows * cols + p] != (i * 7 + p) % 256;
  ck_assert_uint_eq (wrong, 0);
  ck_assert_str_eq (ds->feature_names[0], "pixel0");
  char *last = g_strdup_printf ("pixel%u", rows * cols - 1);
  ck_assert_str_eq (ds->feature_names[rows * cols - 1], last);
  g_free (last);
  ck_assert_ptr_null (ds->feature_names[rows * cols]);
  ck_assert (ds->has_labels);
  ck_assert_uint_eq (ds->n_classes, n_classes);
  ck_assert_str_eq (ds->class_names[0], "0");
  ck_assert_ptr_null (ds->class_names[n_classes]);
  wrong = 0;
  for (guint i = 0; i < n; i++)
    wrong += ds->labels[i] != i % n_classes;
  ck_assert_uint_eq (wrong, 0);
}

START_TEST (test_plain)
{
  char *img = write_idx ("img", make_images (0x803, 5, 3, 4), G_MAXSIZE, FALSE);
  char *lab = write_idx ("lab", make_labels (0x801, 5, 3), G_MAXSIZE, FALSE);
  GError *error = NULL;
  NnDataset *ds = nn_dataset_load_idx (img, lab, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  check_loaded (ds, 5, 3, 4, 3);
  nn_dataset_free (ds);

  /* images alone, for prediction */
  ds = nn_dataset_load_idx (img, NULL, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  ck_assert (!ds->has_labels);
  ck_assert_uint_eq (ds->n_rows, 5);
  nn_dataset_free (ds);
  g_free (img);
  g_free (lab);
}
END_TEST

START_TEST (test_gzip)
{
  /* Large enough to span several decompressor reads; ten classes. */
  char *img = write_idx ("img.gz", make_images (0x803, 300, 28, 28), G_MAXSIZE, TRUE);
  char *lab = write_idx ("lab.gz", make_labels (0x801, 300, 10), G_MAXSIZE, TRUE);
  GError *error = NULL;
  NnDataset *ds = nn_dataset_load_idx (img, lab, &error);
  ck_assert_msg (ds != NULL, "%s", error ? error->message : "");
  check_loaded (ds, 300, 28, 28, 10);
  ck_assert_str_eq (ds->class_names[9], "9");
  nn_dataset_free (ds);
  g_free (img);
  g_free (lab);
}
END_TEST

static void
expect_error (const char *img, const char *lab, NnError code, const char *needle)
{
  GError *error = NULL;
  NnDataset *ds = nn_dataset_load_idx (img, lab, &error);
  ck_assert_ptr_null (ds);
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (g_error_matches (error, NN_ERROR, code), "code %d: %s", error->code,
                 error->message);
  ck_assert_msg (strstr (error->message, needle), "“%s” not in “%s”", needle, error->message);
  g_error_free (error);
}

START_TEST (test_errors)
{
  char *lab = write_idx ("lab", make_labels (0x801, 5, 3), G_MAXSIZE, FALSE);
  char *img = write_idx ("img", make_images (0x803, 5, 3, 4), G_MAXSIZE, FALSE);
  for (int gz = 0; gz < 2; gz++)
    {
      char *p;
      p = write_idx ("trunc", make_images (0x803, 5, 3, 4), 16 + 5 * 12 - 1, gz);
      expect_error (p, lab, NN_ERROR_PARSE, "truncated");
      g_free (p);
      p = write_idx ("trunc-head", make_images (0x803, 5, 3, 4), 10, gz);
      expect_error (p, lab, NN_ERROR_PARSE, "truncated");
      g_free (p);
      p = write_idx ("magic", make_images (0x802, 5, 3, 4), G_MAXSIZE, gz);
      expect_error (p, lab, NN_ERROR_PARSE, "magic");
      g_free (p);
      /* labels file given as images, and the other way round */
      expect_error (lab, img, NN_ERROR_PARSE, "magic");
      p = write_idx ("lab6", make_labels (0x801, 6, 3), G_MAXSIZE, gz);
      expect_error (img, p, NN_ERROR_PARSE, "6 labels for 5 images");
      g_free (p);
      p = write_idx ("labtrunc", make_labels (0x801, 5, 3), 8 + 4, gz);
      expect_error (img, p, NN_ERROR_PARSE, "truncated");
      g_free (p);
      p = write_idx ("zero", make_images (0x803, 5, 0, 4), G_MAXSIZE, gz);
      expect_error (p, NULL, NN_ERROR_PARSE, "zero");
      g_free (p);
      p = write_idx ("empty", make_images (0x803, 0, 0, 0), 0, gz);
      expect_error (p, NULL, NN_ERROR_PARSE, "truncated");
      g_free (p);
    }
  /* a header that promises far more data than the file has */
  char *p = write_idx ("huge", make_image_header (0xffffffffu, 1000, 1000), 16, FALSE);
  expect_error (p, NULL, NN_ERROR_PARSE, "");
  g_free (p);
  GByteArray *big = make_image_header (1000000, 28, 28);
  g_byte_array_set_size (big, 16 + 100);
  p = write_idx ("big", big, G_MAXSIZE, FALSE);
  expect_error (p, NULL, NN_ERROR_PARSE, "truncated");
  g_free (p);
  /* corrupt gzip: valid header, garbage deflate data */
  GByteArray *a = g_byte_array_new ();
  const guint8 gzhead[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0x12 };
  g_byte_array_append (a, gzhead, sizeof gzhead);
  p = write_idx ("bad.gz", a, G_MAXSIZE, FALSE);
  GError *error = NULL;
  ck_assert_ptr_null (nn_dataset_load_idx (p, NULL, &error));
  ck_assert_ptr_nonnull (error);
  g_clear_error (&error);
  g_free (p);
  char *missing = g_build_filename (tmp_dir, "nope", NULL);
  expect_error (missing, NULL, NN_ERROR_IO, "nope");
  expect_error (img, missing, NN_ERROR_IO, "nope");
  g_free (missing);
  g_free (img);
  g_free (lab);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("idx");
  TCase *tc = tcase_create ("core");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_plain);
  tcase_add_test (tc, test_gzip);
  tcase_add_test (tc, test_errors);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
