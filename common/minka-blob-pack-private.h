/* minka-blob-pack-private.h — what the three parts of the pack store share
 * (not for use outside them): the record format and its scanner
 * (minka-blob-pack-record.c), the tables of an open pack store
 * (minka-blob-pack.c) and the few functions compaction
 * (minka-blob-pack-compact.c) borrows from it. */
#pragma once

#include "minka-blob-pack.h"

#include "minka-compat.h"
#include "minka-sha256.h"

G_BEGIN_DECLS

/* ---- records (minka-blob-pack-record.c) ---- */

#define REC_BLOB 1
#define REC_TOMB 2
#define HDR_LEN 48
#define TOMB_LEN 0

typedef struct {
  const guint8 *start;                /* the header */
  int type;
  const guint8 *sha;
  const guint8 *payload;
  guint32 len;
} Record;

/* A whole record (header + payload) in a new buffer. */
guint8 *minka_blob_record_encode (int type, const guint8 *sha, const void *payload,
                                  guint32 len);
/* Does a sound record start at @p (with @avail bytes left in the file)? */
gboolean minka_blob_record_parse (const guint8 *p, gsize avail, Record *rec);

/* Called with each sound record and the offset of its header. */
typedef void (*RecordFunc) (guint64 off, const Record *rec, gpointer data);

/* Calls @func for each sound record of a pack's bytes; skips damage (with a
 * warning naming @path). Returns the end of the last sound record. */
gsize minka_blob_record_scan (const char *path, const guint8 *buf, gsize size, RecordFunc func,
                              gpointer data);

/* ---- the open pack store (minka-blob-pack.c) ---- */

typedef struct {
  guint8 sha[MINKA_SHA256_LEN];       /* hash key */
  guint32 pack;
  guint32 len;                        /* payload bytes */
  guint64 off;                        /* of the record's header */
} Entry;

typedef struct {
  guint32 no;
  char *path;
  guint64 size;                       /* file length; the append position */
  guint64 synced;                     /* known-durable prefix */
  guint64 live;                       /* HDR_LEN + len of each live blob */
  gboolean dir_synced;                /* its folder entry is durable */
  int refs;                           /* reads and syncs in flight */
  GMutex read_lock;
  MinkaFile *reader;                  /* opened on first read (read_lock) */
} Pack;

struct _MinkaBlobPacks {
  char *dir;
  guint64 limit;
  int compact_stop;
  GMutex append_lock;
  GMutex lock;
  GCond idle;                         /* some pack's refs dropped to 0 */
  GMutex compact_lock;
  GHashTable *index;                  /* Entry.sha → Entry */
  GHashTable *dead;                   /* sha → where its dead records are */
  GHashTable *packs;                  /* number → Pack */
  Pack *current;                      /* NULL until the next append */
  MinkaFile *writer;                  /* of current (append_lock) */
  guint32 next_no;
};

void minka_blob_pack_free (Pack *pack);
/* Turns @local (freed) into an IO error in @error; returns FALSE. */
gboolean minka_blob_packs_set_io_error (GError **error, GError *local);
/* Writes one encoded record at the end of the current pack (append_lock
 * held). */
gboolean minka_blob_packs_append_record (MinkaBlobPacks *packs, const guint8 *record, gsize total,
                                         Pack **pack_out, guint64 *off_out, GError **error);
/* The live entry of a blob becomes a dead record (lock held). */
void minka_blob_packs_entry_kill (MinkaBlobPacks *packs, Entry *entry);
/* Is there a dead record of @sha in a pack other than @except? (lock held) */
gboolean minka_blob_packs_dead_elsewhere (MinkaBlobPacks *packs, const guint8 *sha,
                                          guint32 except);
/* Pack @no is durably gone: its dead records with it (lock held). */
void minka_blob_packs_dead_forget_pack (MinkaBlobPacks *packs, guint32 no);

G_END_DECLS
