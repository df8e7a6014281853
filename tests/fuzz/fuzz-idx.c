/* fuzz-idx.c — libFuzzer entry point for the IDX loader (MNIST-style image
 * and label files that users upload for training). The first two bytes
 * give where the images file ends and the labels file begins; both go to
 * temporary files because the loader streams from paths. Bit 0 of the
 * third byte loads the images without labels. A pair either loads into a
 * dataset whose sizes agree, or is refused with a message; nothing may
 * crash, leak or read out of bounds. */
#include <stdint.h>
#include <string.h>

#include <glib/gstdio.h>

#include "nn-dataset.h"

static char *
fuzz_tmp (const char *pattern)
{
  char *path = NULL;
  int fd = g_file_open_tmp (pattern, &path, NULL);
  g_assert (fd >= 0);
  g_close (fd, NULL);
  return path;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static char *images_path, *labels_path;
  if (images_path == NULL)
    {
      images_path = fuzz_tmp ("minka-fuzz-XXXXXX-images.idx");
      labels_path = fuzz_tmp ("minka-fuzz-XXXXXX-labels.idx");
    }
  if (size < 3)
    return 0;
  gsize split = MIN ((gsize) (data[0] | (data[1] << 8)), size - 3);
  gboolean with_labels = (data[2] & 1) == 0;
  const guint8 *rest = data + 3;
  g_assert_true (g_file_set_contents (images_path, (const char *) rest, (gssize) split, NULL));
  g_assert_true (g_file_set_contents (labels_path, (const char *) rest + split,
                                      (gssize) (size - 3 - split), NULL));
  GError *error = NULL;
  NnDataset *ds = nn_dataset_load_idx (images_path, with_labels ? labels_path : NULL, &error);
  if (ds != NULL)
    {
      g_assert (ds->n_rows > 0 && ds->n_features > 0 && ds->pixels != NULL);
      g_assert_cmpuint (g_strv_length (ds->feature_names), ==, ds->n_features);
      guint sum = 0;
      for (gsize i = 0; i < (gsize) ds->n_rows * ds->n_features; i++)
        sum += ds->pixels[i];
      if (with_labels)
        for (guint r = 0; r < ds->n_rows; r++)
          g_assert_cmpuint (ds->labels[r], <, ds->n_classes);
      (void) sum;
      nn_dataset_free (ds);
    }
  else
    {
      g_assert (error != NULL && error->message[0] != '\0');
      g_error_free (error);
    }
  return 0;
}
