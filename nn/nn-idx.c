/* nn-idx.c — loads IDX image and label files (the MNIST format), plain or
 * gzip-compressed (detected from the gzip magic, decompressed as a stream
 * with GZlibDecompressor). Pixels stay uint8.
 *
 * Format: a big-endian header — two zero bytes, a type byte (0x08 = ubyte),
 * the number of dimensions — then one big-endian uint32 per dimension, then
 * the data. Images are 0x00000803 (count, rows, columns); labels are
 * 0x00000801 (count). */
#include "config.h"
#include "nn-dataset.h"

#include <glib/gi18n-lib.h>
#include <gio/gio.h>
#include <string.h>

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAX_PIXELS (1u << 24)          /* per image */
#define IDX_MAX_BYTES  (G_GUINT64_CONSTANT (1) << 34)

typedef struct {
  GInputStream *in;
  char *path_display;
} IdxReader;

static void
idx_reader_close (IdxReader *r)
{
  g_clear_object (&r->in);
  g_free (r->path_display);
}

static gboolean
idx_io_error (IdxReader *r, GError *local, GError **error)
{
  g_set_error (error, NN_ERROR, NN_ERROR_IO, _("cannot read %s: %s"),
               r->path_display, local->message);
  g_error_free (local);
  return FALSE;
}

/* Opens @path; when it starts with the gzip magic, reads through a
 * GZlibDecompressor instead. */
static gboolean
idx_reader_open (IdxReader *r, const char *path, GError **error)
{
  memset (r, 0, sizeof *r);
  r->path_display = g_filename_display_name (path);
  GFile *file = g_file_new_for_path (path);
  GError *local = NULL;
  GFileInputStream *fin = g_file_read (file, NULL, &local);
  g_object_unref (file);
  if (fin == NULL)
    {
      /* GIO's message already names the file ("Error opening file …: …"). */
      g_set_error_literal (error, NN_ERROR, NN_ERROR_IO, local->message);
      g_error_free (local);
      return FALSE;
    }
  r->in = G_INPUT_STREAM (fin);
  guint8 magic[2] = { 0, 0 };
  gsize got = 0;
  if (!g_input_stream_read_all (r->in, magic, 2, &got, NULL, &local)
      || !g_seekable_seek (G_SEEKABLE (fin), 0, G_SEEK_SET, NULL, &local))
    return idx_io_error (r, local, error);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
    {
      GZlibDecompressor *gz = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
      r->in = g_converter_input_stream_new (G_INPUT_STREAM (fin), G_CONVERTER (gz));
      g_object_unref (gz);
      g_object_unref (fin);
    }
  return TRUE;
}

/* Reads exactly @n bytes; a short read is a truncated file. */
static gboolean
idx_read_exact (IdxReader *r, void *buf, gsize n, const char *what, GError **error)
{
  gsize got = 0;
  GError *local = NULL;
  if (!g_input_stream_read_all (r->in, buf, n, &got, NULL, &local))
    {
      /* A damaged gzip stream is bad content, not an I/O failure. */
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
        {
          g_set_error (error, NN_ERROR, NN_ERROR_PARSE, _("%s: corrupt data: %s"),
                       r->path_display, local->message);
          g_error_free (local);
          return FALSE;
        }
      return idx_io_error (r, local, error);
    }
  if (got < n)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                   _("%s: truncated file: incomplete %s"), r->path_display, what);
      return FALSE;
    }
  return TRUE;
}

static guint32
idx_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/* Reads the magic and the @n_dims dimensions. */
static gboolean
idx_read_header (IdxReader *r, guint32 magic, guint n_dims, guint32 *dims, GError **error)
{
  guint8 head[16];
  if (!idx_read_exact (r, head, 4, _("header"), error))
    return FALSE;
  guint32 got = idx_be32 (head);
  if (got != magic)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                   _("%s: not an IDX %s file (magic number 0x%08x, expected 0x%08x)"),
                   r->path_display,
                   magic == IDX_MAGIC_IMAGES ? _("images") : _("labels"), got, magic);
      return FALSE;
    }
  if (!idx_read_exact (r, head + 4, 4 * n_dims, _("header"), error))
    return FALSE;
  for (guint i = 0; i < n_dims; i++)
    {
      dims[i] = idx_be32 (head + 4 + 4 * i);
      if (dims[i] == 0)
        {
          g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                       _("%s: dimension %u of the header is zero"), r->path_display, i + 1);
          return FALSE;
        }
    }
  return TRUE;
}

/* Reads @total bytes of data, growing the buffer as data actually arrives so
 * that a lying header cannot make us allocate more than the file holds. */
static guint8 *
idx_read_data (IdxReader *r, guint64 total, GError **error)
{
  if (total > IDX_MAX_BYTES)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                   _("%s: the header announces %llu bytes, more than supported"),
                   r->path_display, (unsigned long long) total);
      return NULL;
    }
  gsize cap = (gsize) MIN (total, (guint64) 1 << 24);
  guint8 *data = g_malloc (cap);
  gsize have = 0;
  while (have < total)
    {
      if (have == cap)
        {
          cap = (gsize) MIN (total, (guint64) cap * 2);
          data = g_realloc (data, cap);
        }
      if (!idx_read_exact (r, data + have, cap - have, _("data"), error))
        {
          g_free (data);
          return NULL;
        }
      have = cap;
    }
  return data;
}

static char **
idx_pixel_names (guint n)
{
  char **names = g_new (char *, n + 1);
  for (guint i = 0; i < n; i++)
    names[i] = g_strdup_printf ("pixel%u", i);
  names[n] = NULL;
  return names;
}

static gboolean
idx_load_images (NnDataset *ds, const char *path, GError **error)
{
  IdxReader r;
  guint32 dims[3];
  gboolean ok = idx_reader_open (&r, path, error)
                && idx_read_header (&r, IDX_MAGIC_IMAGES, 3, dims, error);
  if (ok && (guint64) dims[1] * dims[2] > IDX_MAX_PIXELS)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                   _("%s: images of %u×%u pixels are too large"), r.path_display,
                   dims[1], dims[2]);
      ok = FALSE;
    }
  if (ok)
    {
      ds->n_rows = dims[0];
      ds->n_features = dims[1] * dims[2];
      ds->pixels = idx_read_data (&r, (guint64) dims[0] * ds->n_features, error);
      ok = ds->pixels != NULL;
    }
  idx_reader_close (&r);
  return ok;
}

static gboolean
idx_load_labels (NnDataset *ds, const char *path, GError **error)
{
  IdxReader r;
  guint32 dims[1];
  guint8 *bytes = NULL;
  gboolean ok = idx_reader_open (&r, path, error)
                && idx_read_header (&r, IDX_MAGIC_LABELS, 1, dims, error);
  if (ok && dims[0] != ds->n_rows)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                   _("%s: %u labels for %u images"), r.path_display, dims[0], ds->n_rows);
      ok = FALSE;
    }
  if (ok)
    ok = (bytes = idx_read_data (&r, dims[0], error)) != NULL;
  if (ok)
    {
      guint max = 0;
      ds->labels = g_new (guint32, dims[0]);
      for (guint i = 0; i < dims[0]; i++)
        {
          ds->labels[i] = bytes[i];
          max = MAX (max, bytes[i]);
        }
      ds->has_labels = TRUE;
      ds->n_classes = max + 1;
      ds->class_names = g_new (char *, ds->n_classes + 1);
      for (guint c = 0; c < ds->n_classes; c++)
        ds->class_names[c] = g_strdup_printf ("%u", c);
      ds->class_names[ds->n_classes] = NULL;
    }
  g_free (bytes);
  idx_reader_close (&r);
  return ok;
}

NnDataset *
nn_dataset_load_idx (const char *images_path, const char *labels_path, GError **error)
{
  g_return_val_if_fail (images_path != NULL, NULL);
  NnDataset *ds = g_new0 (NnDataset, 1);
  ds->task = NN_TASK_CLASSIFICATION;
  ds->label_name = g_strdup ("label");
  if (!idx_load_images (ds, images_path, error)
      || (labels_path && !idx_load_labels (ds, labels_path, error)))
    {
      nn_dataset_free (ds);
      return NULL;
    }
  ds->feature_names = idx_pixel_names (ds->n_features);
  if (ds->class_names == NULL)
    ds->class_names = g_new0 (char *, 1);
  return ds;
}
