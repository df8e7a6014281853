/* minka-blob-pack.h — append-only pack files for small lazy blobs, used
 * inside minka-blob-store.c (see the format at the top of
 * minka-blob-pack-record.c, and the crash-safety argument at the top of
 * minka-blob-pack.c and minka-blob-pack-compact.c). Names are 64-hex
 * blob names, already validated by the caller. Errors are in
 * MINKA_BLOB_ERROR. Every function is safe to call from several threads
 * at once. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Largest blob that goes into a pack (bigger ones stay individual files). */
#define MINKA_BLOB_PACK_MAX (64 * 1024)
/* A pack is sealed and a new one started past this size. */
#define MINKA_BLOB_PACK_LIMIT (64u * 1024 * 1024)

typedef struct _MinkaBlobPacks MinkaBlobPacks;

/* Scans every pack in @dir (created if missing): builds the index, skips
 * damaged records, truncates a torn tail of the last pack. */
MinkaBlobPacks *minka_blob_packs_open (const char *dir, GError **error);
void minka_blob_packs_free (MinkaBlobPacks *packs);

/* Size of a packed blob, or -1 if it is not in a pack. */
gint64 minka_blob_packs_size (MinkaBlobPacks *packs, const char *name);
/* The whole blob, CRC-checked; NOT_FOUND if not in a pack. */
GBytes *minka_blob_packs_read (MinkaBlobPacks *packs, const char *name, GError **error);
/* Appends a blob (no fsync); does nothing if it is already packed. The
 * caller has checked that @data hashes to @name. */
gboolean minka_blob_packs_append (MinkaBlobPacks *packs, const char *name, const void *data,
                                  gsize len, GError **error);
/* Appends a tombstone; *found tells whether the blob was packed. */
gboolean minka_blob_packs_delete (MinkaBlobPacks *packs, const char *name, gboolean *found,
                                  GError **error);
/* Makes a packed blob durable (one fdatasync of its pack, only if the blob
 * lies past the pack's durable prefix); *found = FALSE (and TRUE returned)
 * if the blob is not packed. */
gboolean minka_blob_packs_sync (MinkaBlobPacks *packs, const char *name, gboolean *found,
                                GError **error);
/* Makes every append (blobs and tombstones) durable. */
gboolean minka_blob_packs_sync_all (MinkaBlobPacks *packs, GError **error);
/* Appends the names of all packed blobs to @names (g_free'd strings). */
void minka_blob_packs_list (MinkaBlobPacks *packs, GPtrArray *names);
/* Rewrites sealed packs whose live bytes fell below half: one pack, or
 * all of them with @all. Without @all, returns at once if another thread
 * is compacting. */
gboolean minka_blob_packs_compact (MinkaBlobPacks *packs, gboolean all, GError **error);

/* Tests: roll packs over at @bytes instead of MINKA_BLOB_PACK_LIMIT. */
void minka_blob_packs_set_limit (MinkaBlobPacks *packs, guint64 bytes);
/* Tests: make compaction stop (as if the process died) after copying the
 * live records (1) or after syncing them (2); 0 = run to the end. */
void minka_blob_packs_set_compact_stop (MinkaBlobPacks *packs, int stop);
/* Tests: how much of pack @no is known durable (0 if its creation is not;
 * -1 for no such pack). */
gint64 minka_blob_packs_durable_size (MinkaBlobPacks *packs, guint32 no);

/* CRC32-C (Castagnoli); minka_blob_crc32c (0, "123456789", 9) == 0xE3069283. */
guint32 minka_blob_crc32c (guint32 crc, const void *data, gsize len);

G_END_DECLS
