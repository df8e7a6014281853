/* minka-blob-io.c — blocking blob operations run on GLib's thread pool. */
#include "config.h"
#include "minka-blob-io.h"

typedef struct {
  MinkaFile *file;
  MinkaBlobStore *store;
  MinkaBlobWriter *writer;
  GBytes *chunk;
  char *name;
  guint64 offset;
  gsize max_len;
} BlobOp;

static void
blob_op_free (BlobOp *op)
{
  g_clear_pointer (&op->chunk, g_bytes_unref);
  g_free (op->name);
  g_free (op);
}

static void
run_write (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  BlobOp *op = data;
  GError *error = NULL;
  gsize len = 0;
  const void *bytes = g_bytes_get_data (op->chunk, &len);
  if (minka_blob_writer_write (op->writer, bytes, len, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
run_finish (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  BlobOp *op = data;
  GError *error = NULL;
  char *name = minka_blob_writer_finish (op->writer, &error);
  if (name)
    g_task_return_pointer (task, name, g_free);
  else
    g_task_return_error (task, error);
}

static void
run_read (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  BlobOp *op = data;
  GError *error = NULL;
  GBytes *chunk = minka_blob_store_read_chunk (op->store, op->name, op->offset,
                                               op->max_len, &error);
  if (chunk)
    g_task_return_pointer (task, chunk, (GDestroyNotify) g_bytes_unref);
  else
    g_task_return_error (task, error);
}

static void
start (BlobOp *op, GTaskThreadFunc func, gpointer tag, GCancellable *cancellable,
       GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, op, (GDestroyNotify) blob_op_free);
  g_task_run_in_thread (task, func);
  g_object_unref (task);
}

void
minka_blob_io_write_async (MinkaBlobWriter *writer, GBytes *chunk, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  BlobOp *op = g_new0 (BlobOp, 1);
  op->writer = writer;
  op->chunk = g_bytes_ref (chunk);
  start (op, run_write, minka_blob_io_write_async, cancellable, callback, user_data);
}

gboolean
minka_blob_io_write_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
minka_blob_io_finish_async (MinkaBlobWriter *writer, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  BlobOp *op = g_new0 (BlobOp, 1);
  op->writer = writer;
  start (op, run_finish, minka_blob_io_finish_async, cancellable, callback, user_data);
}

char *
minka_blob_io_finish_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
minka_blob_io_read_async (MinkaBlobStore *store, const char *name, guint64 offset,
                          gsize max_len, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  BlobOp *op = g_new0 (BlobOp, 1);
  op->store = store;
  op->name = g_strdup (name);
  op->offset = offset;
  op->max_len = max_len;
  start (op, run_read, minka_blob_io_read_async, cancellable, callback, user_data);
}

GBytes *
minka_blob_io_read_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
run_path_read (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  BlobOp *op = data;
  GError *error = NULL;
  g_autoptr (MinkaFile) file = minka_file_open (op->name, MINKA_FILE_READ, &error);
  gint64 size = file ? minka_file_size (file, &error) : -1;
  if (size < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  gsize len = op->offset >= (guint64) size ? 0 : (gsize) MIN ((guint64) op->max_len,
                                                               (guint64) size - op->offset);
  guint8 *buffer = g_malloc (MAX (len, 1));
  if (len > 0 && !minka_file_pread_all (file, buffer, len, (gint64) op->offset, &error))
    {
      g_free (buffer);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_bytes_new_take (buffer, len), (GDestroyNotify) g_bytes_unref);
}

void
minka_path_io_read_async (const char *path, guint64 offset, gsize max_len,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  BlobOp *op = g_new0 (BlobOp, 1);
  op->name = g_strdup (path);
  op->offset = offset;
  op->max_len = max_len;
  start (op, run_path_read, minka_path_io_read_async, NULL, callback, user_data);
}

GBytes *
minka_path_io_read_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
run_file_write (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  BlobOp *op = data;
  GError *error = NULL;
  gsize len = 0;
  const void *bytes = g_bytes_get_data (op->chunk, &len);
  if (minka_file_write_all (op->file, bytes, len, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
minka_file_io_write_async (MinkaFile *file, GBytes *chunk,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  BlobOp *op = g_new0 (BlobOp, 1);
  op->file = file;
  op->chunk = g_bytes_ref (chunk);
  start (op, run_file_write, minka_file_io_write_async, NULL, callback, user_data);
}

gboolean
minka_file_io_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
