/* minka-blob-store.h — content-addressed, durable file store:
 * DIR/blobs/sha256/ab/cdef… (the name is the SHA-256 of the bytes, 64
 * lowercase hex digits). Blobs are written by a streaming writer (temp file
 * in DIR/blobs/tmp, hashed as it goes, fsynced, renamed into place, folder
 * fsynced) and read in chunks, so a blob never has to fit in memory. Blob
 * names are validated before any path is built. Hashing uses
 * minka-sha256 (SHA extensions when present). Small lazy blobs go to
 * append-only pack files instead (DIR/blobs/packs, see
 * minka-blob-pack.c); every reader sees both forms. All functions are safe to
 * call from several threads at once (pack state is behind a mutex). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MINKA_BLOB_NAME_LEN 64

#define MINKA_BLOB_ERROR (minka_blob_error_quark ())
GQuark minka_blob_error_quark (void);

typedef enum {
  MINKA_BLOB_ERROR_BAD_NAME,        /* not 64 lowercase hex digits */
  MINKA_BLOB_ERROR_NOT_FOUND,
  MINKA_BLOB_ERROR_HASH_MISMATCH,   /* bytes do not hash to the expected name */
  MINKA_BLOB_ERROR_SIZE_MISMATCH,
  MINKA_BLOB_ERROR_IO,              /* the file system refused (see message) */
  MINKA_BLOB_ERROR_NO_SPACE,        /* disk full */
} MinkaBlobError;

typedef struct _MinkaBlobStore MinkaBlobStore;
typedef struct _MinkaBlobWriter MinkaBlobWriter;

/* Creates the folders if needed and removes temp files left by a crash.
 * Open one store per data folder per process. */
MinkaBlobStore *minka_blob_store_open (const char *dir, GError **error);
void minka_blob_store_free (MinkaBlobStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaBlobStore, minka_blob_store_free)

gboolean minka_blob_name_is_valid (const char *name);

/* Path of a blob (whether or not it exists); NULL with an error for a bad
 * name. */
char *minka_blob_store_path (MinkaBlobStore *store, const char *name, GError **error);
gboolean minka_blob_store_has (MinkaBlobStore *store, const char *name);
/* Size in bytes, or -1 with an error. */
gint64 minka_blob_store_size (MinkaBlobStore *store, const char *name, GError **error);
/* A stream over the blob's bytes (read it in chunks). */
GInputStream *minka_blob_store_open_read (MinkaBlobStore *store, const char *name,
                                          GError **error);
/* Up to @max_len bytes from @offset (fewer at the end; empty past it). */
GBytes *minka_blob_store_read_chunk (MinkaBlobStore *store, const char *name,
                                     guint64 offset, gsize max_len, GError **error);
/* Re-hashes the file: HASH_MISMATCH if it does not match its name. */
gboolean minka_blob_store_verify (MinkaBlobStore *store, const char *name, GError **error);
/* Deleting a missing blob is not an error. */
gboolean minka_blob_store_delete (MinkaBlobStore *store, const char *name, GError **error);
/* Deletes a blob unless its file was installed (renamed into place) at or
 * after @written_before_s (seconds since the epoch): then it is left alone
 * and *@freed is -1; otherwise *@freed is the bytes removed (0 if it was
 * missing). Atomic against a writer installing the same blob. The garbage
 * collector's delete: a blob re-stored since it was judged unreferenced is
 * wanted again. */
gboolean minka_blob_store_delete_if_older (MinkaBlobStore *store, const char *name,
                                           gint64 written_before_s, gint64 *freed,
                                           GError **error);
/* Names of every stored blob, sorted (free with g_ptr_array_unref). */
GPtrArray *minka_blob_store_list (MinkaBlobStore *store, GError **error);
/* Sum of the sizes of all stored blobs: a running total (the store is
 * walked once, at open), so O(1). */
guint64 minka_blob_store_total_bytes (MinkaBlobStore *store);

/* Streaming writer. @expected_name (or NULL) and @expected_size (or -1)
 * are checked at finish. Freeing an unfinished writer aborts it (removes
 * its temp file). Several writers of the same blob may run at once: the
 * content is the same, so the last rename wins harmlessly. */
MinkaBlobWriter *minka_blob_writer_new (MinkaBlobStore *store, const char *expected_name,
                                        gint64 expected_size, GError **error);
gboolean minka_blob_writer_write (MinkaBlobWriter *writer, const void *data, gsize len,
                                  GError **error);
guint64 minka_blob_writer_get_size (MinkaBlobWriter *writer);
/* Verifies, fsyncs, renames into place and fsyncs the folder; returns the
 * blob's name. On failure the temp file is removed. Call once. */
char *minka_blob_writer_finish (MinkaBlobWriter *writer, GError **error);
void minka_blob_writer_free (MinkaBlobWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaBlobWriter, minka_blob_writer_free)

/* A lazy writer skips every fsync: for bytes that are already durable
 * elsewhere (a small file inside a Raft log entry). Call
 * minka_blob_store_sync() before that other copy may go away. */
void minka_blob_writer_set_lazy (MinkaBlobWriter *writer, gboolean lazy);
/* Makes a stored blob durable: fsync of the file and of its folders. */
gboolean minka_blob_store_sync (MinkaBlobStore *store, const char *name, GError **error);

/* Small lazy blobs (at most MINKA_BLOB_PACK_MAX = 64 KiB announced to
 * minka_blob_writer_new) are appended to pack files under DIR/blobs/packs
 * instead of one file each; every function above sees them too. */
/* Makes every pack append durable (blobs and deletes): one fdatasync per
 * pack that has unsynced appends. */
gboolean minka_blob_store_sync_packs (MinkaBlobStore *store, GError **error);
/* Rewrites every sealed pack whose live bytes fell below half, reclaiming
 * the space of deleted packed blobs. Slow (copies and fsyncs): call it off
 * the main thread. Lazy writes also compact one such pack now and then. */
gboolean minka_blob_store_compact (MinkaBlobStore *store, GError **error);
/* Tests and benchmarks: FALSE stores small lazy blobs as files (the old
 * way). Set it before creating writers. */
void minka_blob_store_set_packing (MinkaBlobStore *store, gboolean pack_small);
/* Tests: the pack files' state (minka-blob-pack.h). */
typedef struct _MinkaBlobPacks MinkaBlobPacks;
MinkaBlobPacks *minka_blob_store_get_packs (MinkaBlobStore *store);

/* Convenience: stores @bytes whole (small blobs, tests). */
char *minka_blob_store_put_bytes (MinkaBlobStore *store, GBytes *bytes, GError **error);
/* Stores @content lazily (no fsync, as minka_blob_writer_set_lazy) under
 * @sha256, which the caller has already checked is its hash: a small blob
 * goes to a pack with no copy and no second hash. Returns the name. */
char *minka_blob_store_put_checked_lazy (MinkaBlobStore *store, const char *sha256,
                                         GBytes *content, GError **error);

G_END_DECLS
