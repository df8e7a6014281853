/* fuzz-csv.c — libFuzzer entry point for the CSV loader, which reads the
 * datasets users upload. The first byte picks the options (label column
 * "y" or none, classification or regression, known classes, a chosen list
 * of feature columns); the rest is the file, written to a temporary file
 * because the loader streams from a path. A file either loads into a
 * dataset whose sizes agree with each other, or is refused with a message;
 * nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "nn-csv.h"

static char *fuzz_path;

static const char *
fuzz_file (void)
{
  if (fuzz_path == NULL)
    {
      int fd = g_file_open_tmp ("minka-fuzz-XXXXXX.csv", &fuzz_path, NULL);
      g_assert (fd >= 0);
      g_close (fd, NULL);
    }
  return fuzz_path;
}

static void
fuzz_check_dataset (const NnDataset *ds, const NnCsvOptions *options)
{
  g_assert_cmpuint (g_strv_length (ds->feature_names), ==, ds->n_features);
  if (options->feature_columns != NULL)
    g_assert_cmpuint (ds->n_features, ==, g_strv_length ((char **) options->feature_columns));
  g_assert (ds->n_rows == 0 || ds->features != NULL);
  if (ds->has_labels && ds->task == NN_TASK_CLASSIFICATION)
    {
      g_assert_cmpuint (g_strv_length (ds->class_names), ==, ds->n_classes);
      for (guint r = 0; r < ds->n_rows; r++)
        g_assert_cmpuint (ds->labels[r], <, ds->n_classes);
    }
  /* Touch every value, so that a short buffer shows under ASan. */
  double sum = 0;
  for (gsize i = 0; i < (gsize) ds->n_rows * ds->n_features; i++)
    sum += ds->features[i];
  if (ds->has_labels && ds->task == NN_TASK_REGRESSION)
    for (guint r = 0; r < ds->n_rows; r++)
      sum += ds->targets[r];
  (void) sum;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const classes[] = { "a", "b", "1", NULL };
  static const char *const features[] = { "x", "z", NULL };
  if (size == 0)
    return 0;
  guint8 choice = data[0];
  NnCsvOptions options = {
    .label_column = (choice & 1) ? NULL : "y",
    .label_optional = (choice & 2) != 0,
    .task = (choice & 4) ? NN_TASK_REGRESSION : NN_TASK_CLASSIFICATION,
    .known_classes = (choice & 8) && !(choice & 4) ? classes : NULL,
    .feature_columns = (choice & 16) ? features : NULL,
  };
  g_assert_true (g_file_set_contents (fuzz_file (), (const char *) data + 1,
                                      (gssize) size - 1, NULL));
  GError *error = NULL;
  NnDataset *ds = nn_csv_load (fuzz_file (), &options, &error);
  if (ds != NULL)
    {
      fuzz_check_dataset (ds, &options);
      nn_dataset_free (ds);
    }
  else
    {
      g_assert (error != NULL && error->message[0] != '\0');
      g_error_free (error);
    }
  return 0;
}
