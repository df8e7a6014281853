/* minka-blob-io.h — blob and file I/O off the main loop. Each call runs one
 * blocking operation (write a chunk, finish with fsync + rename, read a
 * chunk) on GLib's thread pool and reports back in the caller's main
 * context, so heartbeats never wait behind the disk. Callers chain them:
 * the next network read starts only when the previous write is done, which
 * is also what keeps memory bounded to one chunk per transfer. */
#pragma once

#include <gio/gio.h>
#include "minka-blob-store.h"
#include "minka-compat.h"

G_BEGIN_DECLS

#define MINKA_CHUNK_SIZE (1024 * 1024)

void minka_blob_io_write_async (MinkaBlobWriter *writer, GBytes *chunk,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean minka_blob_io_write_finish (GAsyncResult *result, GError **error);

/* Returns the blob's name (SHA-256). */
void minka_blob_io_finish_async (MinkaBlobWriter *writer, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
char *minka_blob_io_finish_finish (GAsyncResult *result, GError **error);

void minka_blob_io_read_async (MinkaBlobStore *store, const char *name, guint64 offset,
                               gsize max_len, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
GBytes *minka_blob_io_read_finish (GAsyncResult *result, GError **error);

/* Plain files (snapshots in transit): read a chunk of @path at @offset
 * (empty at the end), append a chunk to an open file. */
void minka_path_io_read_async (const char *path, guint64 offset, gsize max_len,
                               GAsyncReadyCallback callback, gpointer user_data);
GBytes *minka_path_io_read_finish (GAsyncResult *result, GError **error);

void minka_file_io_write_async (MinkaFile *file, GBytes *chunk,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean minka_file_io_finish (GAsyncResult *result, GError **error);

G_END_DECLS
