/* minka-blob-pack.c — small lazy blobs appended to a few large pack files
 * (DIR/blobs/packs/pack-00000001.pack, …) instead of one file each: no
 * inode to create, rename or fsync per blob.
 *
 * Record format (integers little-endian), one after another, no padding:
 *   0  u32 magic "MKP1"        4  u8 type (1 blob, 2 tombstone), 3 zero bytes
 *   8  u32 payload length     12  u32 CRC32-C of bytes 0–11, 16–47, payload
 *  16  32 raw bytes: SHA-256 of the blob (its name)
 *  48  payload: the blob's bytes (at most 64 KiB); none for a tombstone.
 * Appends go to the highest-numbered ("current") pack, sealed once the
 * next record would pass MINKA_BLOB_PACK_LIMIT. Pack numbers only grow.
 *
 * Open scans the packs in number order (reading each file whole) and
 * replays their records: a blob record makes that record the blob's live
 * one (a later copy of the same bytes supersedes an earlier one); a
 * tombstone kills every earlier record of its blob, so writing a blob
 * again after its delete makes it live again. A record failing its CRC is
 * skipped: the scan looks for the next magic and accepts a record found
 * that way only if its bytes also hash to its name. Damage at the end of
 * the last pack (a torn append) is truncated away. No per-pack index file
 * is written: open reads every pack once (~1 s per few GB).
 *
 * Durability: appends are not fsynced. minka_blob_packs_sync() fdatasyncs
 * the pack holding a blob only if the blob lies past the pack's
 * known-durable prefix (one fsync covers every blob before it), and fsyncs
 * the folder once for a new pack. A delete is durable once its pack is
 * synced (any later sync of that pack, sync_all, or a compaction), as the
 * unlink of an individual blob file was durable only at a folder fsync.
 *
 * Compaction of a sealed pack P whose live bytes are below half its size:
 * (1) copy byte for byte to the current pack P's live blob records, and
 * its tombstones still needed — their blob is not live and has a dead
 * record in another pack (the "dead" table, rebuilt at open) — moving the
 * index entries; (2) fdatasync every pack with unsynced appends; (3)
 * forget P, wait for reads in flight, unlink it, fsync the folder, and
 * only then forget P's dead records. A crash before (3) leaves P and the
 * copies: copies are later in scan order and hold the same bytes, every
 * tombstone still follows the records it kills; P is compacted again. A
 * crash in (3) at worst brings P back whole. A live record is dropped only
 * after its copy is durable; a tombstone only once no other pack holds a
 * record it must kill (or its blob was written again after it, and that
 * record was synced in (2)) — so no live blob is lost and no deleted one
 * comes back.
 *
 * Locking: append_lock serialises appends (held across the write) and is
 * taken before lock, which guards the index, dead table and pack table and
 * is never held across I/O. Reads take a reference on the pack under lock,
 * then read under the pack's own read_lock (MinkaFile reads are
 * seek+read); compaction waits for the references before unlinking. */
#include "config.h"

#include "minka-blob-pack.h"

#include <errno.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "minka-blob-store.h"
#include "minka-compat.h"
#include "minka-sha256.h"

#define PACK_MAGIC 0x31504b4du        /* "MKP1" read as little-endian */
#define REC_BLOB 1
#define REC_TOMB 2
#define HDR_LEN 48
#define TOMB_LEN 0

typedef struct {
  guint8 sha[MINKA_SHA256_LEN];       /* hash key */
  guint32 pack;
  guint32 len;                        /* payload bytes */
  guint64 off;                        /* of the record's header */
} Entry;

/* Where the dead (deleted or superseded) records of one blob still are. */
typedef struct {
  guint8 sha[MINKA_SHA256_LEN];
  GArray *packs;                      /* guint32 pack numbers, one per record */
} Dead;

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
  GHashTable *dead;                   /* Dead.sha → Dead */
  GHashTable *packs;                  /* number → Pack */
  Pack *current;                      /* NULL until the next append */
  MinkaFile *writer;                  /* of current (append_lock) */
  guint32 next_no;
};

typedef struct {
  const guint8 *start;                /* the header */
  int type;
  const guint8 *sha;
  const guint8 *payload;
  guint32 len;
} Record;

/* ---- CRC32-C ------------------------------------------------------------- */

static guint32 crc_table[256];

static gpointer
crc_table_init (gpointer unused)
{
  (void) unused;
  for (guint32 i = 0; i < 256; i++)
    {
      guint32 c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      crc_table[i] = c;
    }
  return NULL;
}

#if defined(__x86_64__)
__attribute__ ((target ("sse4.2"))) static guint32
crc32c_hw (guint32 c, const guint8 *p, gsize len)
{
  guint64 c64 = c;
  for (; len >= 8; p += 8, len -= 8)
    {
      guint64 word;
      memcpy (&word, p, 8);
      c64 = __builtin_ia32_crc32di (c64, word);
    }
  c = (guint32) c64;
  for (; len > 0; p++, len--)
    c = __builtin_ia32_crc32qi (c, *p);
  return c;
}
#endif

guint32
minka_blob_crc32c (guint32 crc, const void *data, gsize len)
{
  const guint8 *p = data;
  guint32 c = ~crc;
#if defined(__x86_64__)
  static gint have_hw = -1;
  if (g_atomic_int_get (&have_hw) < 0)
    g_atomic_int_set (&have_hw, __builtin_cpu_supports ("sse4.2") ? 1 : 0);
  if (g_atomic_int_get (&have_hw))
    return ~crc32c_hw (c, p, len);
#endif
  static GOnce once = G_ONCE_INIT;
  g_once (&once, crc_table_init, NULL);
  for (; len > 0; p++, len--)
    c = crc_table[(c ^ *p) & 0xff] ^ (c >> 8);
  return ~c;
}

/* ---- records ------------------------------------------------------------- */

static void
put_u32 (guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8) (v >> (8 * i));
}

static guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static guint32
record_crc (const guint8 *header, const guint8 *payload, guint32 len)
{
  guint32 crc = minka_blob_crc32c (0, header, 12);
  crc = minka_blob_crc32c (crc, header + 16, MINKA_SHA256_LEN);
  return minka_blob_crc32c (crc, payload, len);
}

/* A whole record (header + payload) in a new buffer. */
static guint8 *
record_encode (int type, const guint8 *sha, const void *payload, guint32 len)
{
  guint8 *buf = g_malloc0 (HDR_LEN + (gsize) len);
  put_u32 (buf, PACK_MAGIC);
  buf[4] = (guint8) type;
  put_u32 (buf + 8, len);
  memcpy (buf + 16, sha, MINKA_SHA256_LEN);
  if (len > 0)
    memcpy (buf + HDR_LEN, payload, len);
  put_u32 (buf + 12, record_crc (buf, buf + HDR_LEN, len));
  return buf;
}

/* Does a sound record start at @p (with @avail bytes left in the file)? */
static gboolean
record_parse (const guint8 *p, gsize avail, Record *rec)
{
  if (avail < HDR_LEN || get_u32 (p) != PACK_MAGIC || p[5] || p[6] || p[7])
    return FALSE;
  rec->type = p[4];
  rec->len = get_u32 (p + 8);
  if ((rec->type == REC_BLOB && rec->len > MINKA_BLOB_PACK_MAX)
      || (rec->type == REC_TOMB && rec->len != TOMB_LEN)
      || (rec->type != REC_BLOB && rec->type != REC_TOMB)
      || (gsize) rec->len > avail - HDR_LEN)
    return FALSE;
  rec->start = p;
  rec->sha = p + 16;
  rec->payload = p + HDR_LEN;
  return get_u32 (p + 12) == record_crc (p, rec->payload, rec->len);
}

static gboolean
record_hash_ok (const Record *rec)
{
  if (rec->type != REC_BLOB)
    return TRUE;
  MinkaSha256 sha;
  guint8 digest[MINKA_SHA256_LEN];
  minka_sha256_init (&sha);
  minka_sha256_update (&sha, rec->payload, rec->len);
  minka_sha256_finish (&sha, digest);
  return memcmp (digest, rec->sha, MINKA_SHA256_LEN) == 0;
}

typedef void (*RecordFunc) (MinkaBlobPacks *packs, Pack *pack, guint64 off, const Record *rec,
                            gpointer data);

/* Calls @func for each sound record of a pack's bytes; skips damage (with a
 * warning). Returns the end of the last sound record. */
static gsize
pack_scan (MinkaBlobPacks *packs, Pack *pack, const guint8 *buf, gsize size, RecordFunc func,
           gpointer data)
{
  gsize pos = 0, good_end = 0, bad_from = 0;
  gboolean resync = FALSE;
  while (pos + HDR_LEN <= size)
    {
      Record rec;
      if (record_parse (buf + pos, size - pos, &rec) && (!resync || record_hash_ok (&rec)))
        {
          if (resync)
            g_warning ("blob pack %s: skipped %" G_GSIZE_FORMAT " damaged bytes at offset %"
                       G_GSIZE_FORMAT, pack->path, pos - bad_from, bad_from);
          resync = FALSE;
          func (packs, pack, pos, &rec, data);
          pos += HDR_LEN + rec.len;
          good_end = pos;
          continue;
        }
      if (!resync)
        bad_from = pos;
      resync = TRUE;
      /* Look for the next magic number. */
      const guint8 *next = NULL;
      for (gsize at = pos + 1; at + 4 <= size && next == NULL; at++)
        if (buf[at] == 'M' && get_u32 (buf + at) == PACK_MAGIC)
          next = buf + at;
      pos = next != NULL ? (gsize) (next - buf) : size;
    }
  return good_end;
}

/* ---- packs table ----------------------------------------------------------- */

static guint
sha_hash (gconstpointer key)
{
  return get_u32 (key);
}

static gboolean
sha_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, MINKA_SHA256_LEN) == 0;
}

static void
sha_from_name (const char *name, guint8 sha[MINKA_SHA256_LEN])
{
  for (int i = 0; i < MINKA_SHA256_LEN; i++)
    sha[i] = (guint8) (g_ascii_xdigit_value (name[2 * i]) << 4
                       | g_ascii_xdigit_value (name[2 * i + 1]));
}

static char *
name_from_sha (const guint8 *sha)
{
  char *name = g_malloc (MINKA_SHA256_HEX_LEN + 1);
  for (int i = 0; i < MINKA_SHA256_LEN; i++)
    g_snprintf (name + 2 * i, 3, "%02x", sha[i]);
  return name;
}

static Pack *
pack_new (MinkaBlobPacks *packs, guint32 no)
{
  Pack *pack = g_new0 (Pack, 1);
  char leaf[32];
  g_snprintf (leaf, sizeof leaf, "pack-%08u.pack", no);
  pack->no = no;
  pack->path = g_build_filename (packs->dir, leaf, NULL);
  g_mutex_init (&pack->read_lock);
  return pack;
}

static void
pack_free (Pack *pack)
{
  g_clear_pointer (&pack->reader, minka_file_close);
  g_mutex_clear (&pack->read_lock);
  g_free (pack->path);
  g_free (pack);
}

static Pack *
packs_get (MinkaBlobPacks *packs, guint32 no)
{
  return g_hash_table_lookup (packs->packs, GUINT_TO_POINTER (no));
}

static void
set_file_error (GError **error, GError *local)
{
  int code = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOSPC)
               ? MINKA_BLOB_ERROR_NO_SPACE : MINKA_BLOB_ERROR_IO;
  g_set_error_literal (error, MINKA_BLOB_ERROR, code, local->message);
  g_error_free (local);
}

/* Drops a reference taken under lock. */
static void
pack_unref (MinkaBlobPacks *packs, Pack *pack)
{
  g_mutex_lock (&packs->lock);
  if (--pack->refs == 0)
    g_cond_broadcast (&packs->idle);
  g_mutex_unlock (&packs->lock);
}

/* ---- open ---------------------------------------------------------------- */

static void
dead_free (Dead *dead)
{
  g_array_unref (dead->packs);
  g_free (dead);
}

/* Notes a dead record of @sha in pack @no (lock held or single thread). */
static void
dead_add (MinkaBlobPacks *packs, const guint8 *sha, guint32 no)
{
  Dead *dead = g_hash_table_lookup (packs->dead, sha);
  if (dead == NULL)
    {
      dead = g_new0 (Dead, 1);
      memcpy (dead->sha, sha, MINKA_SHA256_LEN);
      dead->packs = g_array_new (FALSE, FALSE, sizeof (guint32));
      g_hash_table_insert (packs->dead, dead->sha, dead);
    }
  g_array_append_val (dead->packs, no);
}

/* Is there a dead record of @sha in a pack other than @except? */
static gboolean
dead_elsewhere (MinkaBlobPacks *packs, const guint8 *sha, guint32 except)
{
  Dead *dead = g_hash_table_lookup (packs->dead, sha);
  for (guint i = 0; dead != NULL && i < dead->packs->len; i++)
    if (g_array_index (dead->packs, guint32, i) != except)
      return TRUE;
  return FALSE;
}

/* Pack @no is durably gone: its dead records with it. */
static void
dead_forget_pack (MinkaBlobPacks *packs, guint32 no)
{
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, packs->dead);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      GArray *numbers = ((Dead *) value)->packs;
      for (guint i = numbers->len; i-- > 0;)
        if (g_array_index (numbers, guint32, i) == no)
          g_array_remove_index_fast (numbers, i);
      if (numbers->len == 0)
        g_hash_table_iter_remove (&iter);
    }
}

/* The live entry of a blob becomes a dead record (lock held). */
static void
entry_kill (MinkaBlobPacks *packs, Entry *entry)
{
  dead_add (packs, entry->sha, entry->pack);
  packs_get (packs, entry->pack)->live -= HDR_LEN + entry->len;
}

/* Replays one record into the index (single thread: no lock needed). A
 * later copy of a blob supersedes the earlier; a tombstone kills every
 * earlier record of its blob. */
static void
open_record (MinkaBlobPacks *packs, Pack *pack, guint64 off, const Record *rec, gpointer data)
{
  (void) data;
  Entry *entry = g_hash_table_lookup (packs->index, rec->sha);
  if (entry != NULL)
    entry_kill (packs, entry);
  if (rec->type == REC_BLOB)
    {
      if (entry == NULL)
        {
          entry = g_new0 (Entry, 1);
          memcpy (entry->sha, rec->sha, MINKA_SHA256_LEN);
          g_hash_table_insert (packs->index, entry->sha, entry);
        }
      entry->pack = pack->no;
      entry->off = off;
      entry->len = rec->len;
      pack->live += HDR_LEN + rec->len;
    }
  else if (entry != NULL)
    g_hash_table_remove (packs->index, entry->sha);
}

static gboolean
pack_load (MinkaBlobPacks *packs, guint32 no, gboolean last, GError **error)
{
  Pack *pack = pack_new (packs, no);
  g_hash_table_insert (packs->packs, GUINT_TO_POINTER (no), pack);
  g_autofree char *buf = NULL;
  gsize size = 0;
  GError *local = NULL;
  if (!g_file_get_contents (pack->path, &buf, &size, &local))
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_IO, "%s", local->message);
      g_error_free (local);
      return FALSE;
    }
  gsize good_end = pack_scan (packs, pack, (const guint8 *) buf, size, open_record, NULL);
  pack->size = size;
  if (last && good_end < size)
    {
      /* A torn append: cut it off so new records follow sound ones. */
      g_warning ("blob pack %s: truncating %" G_GSIZE_FORMAT " damaged bytes at its end",
                 pack->path, size - good_end);
      g_autoptr (MinkaFile) file = minka_file_open (pack->path, MINKA_FILE_WRITE, &local);
      if (file == NULL || !minka_file_truncate (file, (gint64) good_end, &local))
        {
          set_file_error (error, local);
          return FALSE;
        }
      pack->size = good_end;
    }
  return TRUE;
}

static gint
compare_u32 (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;
  return x < y ? -1 : x > y;
}

/* Pack numbers found in the folder, ascending. */
static GArray *
packs_find (const char *dir, GError **error)
{
  GError *local = NULL;
  GDir *d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_IO, "%s", local->message);
      g_error_free (local);
      return NULL;
    }
  GArray *numbers = g_array_new (FALSE, FALSE, sizeof (guint32));
  const char *entry;
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      guint32 no = 0;
      gboolean ok = strlen (entry) == 18 && g_str_has_prefix (entry, "pack-")
                    && g_str_has_suffix (entry, ".pack");
      for (int i = 5; ok && i < 13; i++)
        {
          ok = g_ascii_isdigit (entry[i]);
          no = no * 10 + (guint32) (entry[i] - '0');
        }
      if (ok && no > 0)
        g_array_append_val (numbers, no);
    }
  g_dir_close (d);
  g_array_sort (numbers, compare_u32);
  return numbers;
}

static gboolean
set_dir_error (GError **error, GError *local)
{
  g_set_error_literal (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_IO, local->message);
  g_error_free (local);
  return FALSE;
}

static MinkaBlobPacks *
packs_new (const char *dir)
{
  MinkaBlobPacks *packs = g_new0 (MinkaBlobPacks, 1);
  packs->dir = g_strdup (dir);
  packs->limit = MINKA_BLOB_PACK_LIMIT;
  packs->next_no = 1;
  g_mutex_init (&packs->append_lock);
  g_mutex_init (&packs->lock);
  g_mutex_init (&packs->compact_lock);
  g_cond_init (&packs->idle);
  packs->index = g_hash_table_new_full (sha_hash, sha_equal, NULL, g_free);
  packs->dead = g_hash_table_new_full (sha_hash, sha_equal, NULL, (GDestroyNotify) dead_free);
  packs->packs = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                        (GDestroyNotify) pack_free);
  return packs;
}

MinkaBlobPacks *
minka_blob_packs_open (const char *dir, GError **error)
{
  GError *local = NULL;
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *parent = g_path_get_dirname (dir);
      if (g_mkdir_with_parents (dir, 0700) != 0)
        {
          int saved = errno;
          g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_IO,
                       _("Cannot create folder %s: %s"), dir, g_strerror (saved));
          return NULL;
        }
      if (!minka_fsync_dir (parent, &local))
        {
          set_dir_error (error, local);
          return NULL;
        }
    }
  GArray *numbers = packs_find (dir, error);
  if (numbers == NULL)
    return NULL;
  MinkaBlobPacks *packs = packs_new (dir);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < numbers->len; i++)
    ok = pack_load (packs, g_array_index (numbers, guint32, i), i + 1 == numbers->len, error);
  if (ok && numbers->len > 0)
    {
      guint32 last = g_array_index (numbers, guint32, numbers->len - 1);
      Pack *pack = packs_get (packs, last);
      packs->next_no = last + 1;
      if (pack->size < packs->limit)
        packs->current = pack;
    }
  g_array_unref (numbers);
  if (!ok)
    g_clear_pointer (&packs, minka_blob_packs_free);
  return packs;
}

void
minka_blob_packs_free (MinkaBlobPacks *packs)
{
  if (packs == NULL)
    return;
  g_clear_pointer (&packs->writer, minka_file_close);
  g_hash_table_destroy (packs->index);
  g_hash_table_destroy (packs->dead);
  g_hash_table_destroy (packs->packs);
  g_mutex_clear (&packs->append_lock);
  g_mutex_clear (&packs->lock);
  g_mutex_clear (&packs->compact_lock);
  g_cond_clear (&packs->idle);
  g_free (packs->dir);
  g_free (packs);
}

/* ---- appends (append_lock held) -------------------------------------------- */

/* Seals a full current pack; starts a new one when there is none. */
static gboolean
current_prepare (MinkaBlobPacks *packs, gsize total, GError **error)
{
  GError *local = NULL;
  Pack *current = packs->current;
  if (current != NULL && current->size > 0 && current->size + total > packs->limit)
    {
      g_clear_pointer (&packs->writer, minka_file_close);
      g_mutex_lock (&packs->lock);
      packs->current = current = NULL;
      g_mutex_unlock (&packs->lock);
    }
  if (current == NULL)
    {
      Pack *pack = pack_new (packs, packs->next_no);
      packs->writer = minka_file_open (pack->path, MINKA_FILE_WRITE | MINKA_FILE_CREATE
                                                   | MINKA_FILE_EXCLUSIVE | MINKA_FILE_APPEND,
                                       &local);
      if (packs->writer == NULL)
        {
          pack_free (pack);
          set_file_error (error, local);
          return FALSE;
        }
      packs->next_no++;
      g_mutex_lock (&packs->lock);
      g_hash_table_insert (packs->packs, GUINT_TO_POINTER (pack->no), pack);
      packs->current = pack;
      g_mutex_unlock (&packs->lock);
    }
  else if (packs->writer == NULL
           && !(packs->writer = minka_file_open (current->path,
                                                 MINKA_FILE_WRITE | MINKA_FILE_APPEND, &local)))
    {
      set_file_error (error, local);
      return FALSE;
    }
  return TRUE;
}

/* Writes one encoded record at the end of the current pack. */
static gboolean
append_raw (MinkaBlobPacks *packs, const guint8 *record, gsize total, Pack **pack_out,
            guint64 *off_out, GError **error)
{
  if (!current_prepare (packs, total, error))
    return FALSE;
  Pack *pack = packs->current;
  GError *local = NULL;
  if (!minka_file_write_all (packs->writer, record, total, &local))
    {
      /* Cut a partial record off so the next one follows sound bytes. */
      minka_file_truncate (packs->writer, (gint64) pack->size, NULL);
      set_file_error (error, local);
      return FALSE;
    }
  *pack_out = pack;
  *off_out = pack->size;
  g_mutex_lock (&packs->lock);
  pack->size += total;
  g_mutex_unlock (&packs->lock);
  return TRUE;
}

gboolean
minka_blob_packs_append (MinkaBlobPacks *packs, const char *name, const void *data, gsize len,
                         GError **error)
{
  g_return_val_if_fail (len <= MINKA_BLOB_PACK_MAX, FALSE);
  guint8 sha[MINKA_SHA256_LEN];
  sha_from_name (name, sha);
  g_autofree guint8 *record = record_encode (REC_BLOB, sha, data, (guint32) len);
  Pack *pack = NULL;
  guint64 off = 0;

  g_mutex_lock (&packs->append_lock);
  g_mutex_lock (&packs->lock);
  gboolean present = g_hash_table_contains (packs->index, sha);
  g_mutex_unlock (&packs->lock);
  gboolean ok = present || append_raw (packs, record, HDR_LEN + len, &pack, &off, error);
  if (ok && !present)
    {
      Entry *entry = g_new0 (Entry, 1);
      memcpy (entry->sha, sha, MINKA_SHA256_LEN);
      entry->pack = pack->no;
      entry->off = off;
      entry->len = (guint32) len;
      g_mutex_lock (&packs->lock);
      g_hash_table_insert (packs->index, entry->sha, entry);
      pack->live += HDR_LEN + len;
      g_mutex_unlock (&packs->lock);
    }
  g_mutex_unlock (&packs->append_lock);
  return ok;
}

gboolean
minka_blob_packs_delete (MinkaBlobPacks *packs, const char *name, gboolean *found,
                         GError **error)
{
  guint8 sha[MINKA_SHA256_LEN];
  sha_from_name (name, sha);
  gboolean ok = TRUE;
  *found = FALSE;

  g_mutex_lock (&packs->append_lock);
  g_mutex_lock (&packs->lock);
  Entry *entry = g_hash_table_lookup (packs->index, sha);
  g_mutex_unlock (&packs->lock);
  if (entry != NULL)
    {
      /* Only append_lock holders change entries: @entry stays valid. */
      g_autofree guint8 *record = record_encode (REC_TOMB, sha, NULL, TOMB_LEN);
      Pack *pack = NULL;
      guint64 off = 0;
      ok = append_raw (packs, record, HDR_LEN + TOMB_LEN, &pack, &off, error);
      if (ok)
        {
          g_mutex_lock (&packs->lock);
          entry_kill (packs, entry);
          g_hash_table_remove (packs->index, sha);
          g_mutex_unlock (&packs->lock);
          *found = TRUE;
        }
    }
  g_mutex_unlock (&packs->append_lock);
  return ok;
}

/* ---- reads and syncs --------------------------------------------------------- */

gint64
minka_blob_packs_size (MinkaBlobPacks *packs, const char *name)
{
  guint8 sha[MINKA_SHA256_LEN];
  sha_from_name (name, sha);
  g_mutex_lock (&packs->lock);
  Entry *entry = g_hash_table_lookup (packs->index, sha);
  gint64 size = entry != NULL ? (gint64) entry->len : -1;
  g_mutex_unlock (&packs->lock);
  return size;
}

GBytes *
minka_blob_packs_read (MinkaBlobPacks *packs, const char *name, GError **error)
{
  guint8 sha[MINKA_SHA256_LEN];
  sha_from_name (name, sha);
  g_mutex_lock (&packs->lock);
  Entry *entry = g_hash_table_lookup (packs->index, sha);
  Entry copy = entry != NULL ? *entry : (Entry) { { 0 }, 0, 0, 0 };
  Pack *pack = entry != NULL ? packs_get (packs, entry->pack) : NULL;
  if (pack != NULL)
    pack->refs++;
  g_mutex_unlock (&packs->lock);
  if (pack == NULL)
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_NOT_FOUND,
                   _("Blob %s is not stored here"), name);
      return NULL;
    }

  gsize total = HDR_LEN + (gsize) copy.len;
  guint8 *buf = g_malloc (total);
  GError *local = NULL;
  g_mutex_lock (&pack->read_lock);
  if (pack->reader == NULL)
    pack->reader = minka_file_open (pack->path, MINKA_FILE_READ, &local);
  gboolean ok = pack->reader != NULL
                && minka_file_pread_all (pack->reader, buf, total, (gint64) copy.off, &local);
  g_mutex_unlock (&pack->read_lock);
  pack_unref (packs, pack);
  Record rec;
  if (!ok)
    set_file_error (error, local);
  else if (!record_parse (buf, total, &rec) || rec.type != REC_BLOB || rec.len != copy.len
           || memcmp (rec.sha, sha, MINKA_SHA256_LEN) != 0)
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH,
                   _("Blob %s is damaged in its pack file"), name);
      ok = FALSE;
    }
  if (!ok)
    {
      g_free (buf);
      return NULL;
    }
  GBytes *whole = g_bytes_new_take (buf, total);
  GBytes *payload = g_bytes_new_from_bytes (whole, HDR_LEN, copy.len);
  g_bytes_unref (whole);
  return payload;
}

/* fdatasyncs a pack the caller holds a reference on. */
static gboolean
pack_sync (MinkaBlobPacks *packs, Pack *pack, GError **error)
{
  g_mutex_lock (&packs->lock);
  guint64 target = pack->size;
  gboolean dir_done = pack->dir_synced;
  g_mutex_unlock (&packs->lock);
  GError *local = NULL;
  MinkaFile *file = minka_file_open (pack->path, MINKA_FILE_WRITE, &local);
  gboolean ok = file != NULL && minka_file_sync (file, &local);
  g_clear_pointer (&file, minka_file_close);
  if (!ok)
    {
      set_file_error (error, local);
      return FALSE;
    }
  if (!dir_done && !minka_fsync_dir (packs->dir, &local))
    return set_dir_error (error, local);
  g_mutex_lock (&packs->lock);
  pack->synced = MAX (pack->synced, target);
  pack->dir_synced = TRUE;
  g_mutex_unlock (&packs->lock);
  return TRUE;
}

gboolean
minka_blob_packs_sync (MinkaBlobPacks *packs, const char *name, gboolean *found,
                       GError **error)
{
  guint8 sha[MINKA_SHA256_LEN];
  sha_from_name (name, sha);
  g_mutex_lock (&packs->lock);
  Entry *entry = g_hash_table_lookup (packs->index, sha);
  Pack *pack = entry != NULL ? packs_get (packs, entry->pack) : NULL;
  *found = pack != NULL;
  if (pack != NULL && pack->synced >= entry->off + HDR_LEN + entry->len && pack->dir_synced)
    pack = NULL;                    /* already durable */
  if (pack != NULL)
    pack->refs++;
  g_mutex_unlock (&packs->lock);
  if (pack == NULL)
    return TRUE;
  gboolean ok = pack_sync (packs, pack, error);
  pack_unref (packs, pack);
  return ok;
}

gboolean
minka_blob_packs_sync_all (MinkaBlobPacks *packs, GError **error)
{
  g_autoptr (GPtrArray) todo = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  g_mutex_lock (&packs->lock);
  g_hash_table_iter_init (&iter, packs->packs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Pack *pack = value;
      if (pack->synced < pack->size || !pack->dir_synced)
        {
          pack->refs++;
          g_ptr_array_add (todo, pack);
        }
    }
  g_mutex_unlock (&packs->lock);
  gboolean ok = TRUE;
  for (guint i = 0; i < todo->len; i++)
    {
      ok = ok && pack_sync (packs, todo->pdata[i], error);
      pack_unref (packs, todo->pdata[i]);
    }
  return ok;
}

void
minka_blob_packs_list (MinkaBlobPacks *packs, GPtrArray *names)
{
  GHashTableIter iter;
  gpointer key;
  g_mutex_lock (&packs->lock);
  g_hash_table_iter_init (&iter, packs->index);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, name_from_sha (key));
  g_mutex_unlock (&packs->lock);
}

/* ---- compaction ---------------------------------------------------------------- */

typedef struct {
  GError *error;
} Compaction;

/* Copies one record of the pack being compacted if it is still needed. */
static void
compact_record (MinkaBlobPacks *packs, Pack *pack, guint64 off, const Record *rec,
                gpointer data)
{
  Compaction *c = data;
  if (c->error != NULL)
    return;
  g_mutex_lock (&packs->append_lock);
  g_mutex_lock (&packs->lock);
  Entry *entry = NULL;
  gboolean keep;
  if (rec->type == REC_BLOB)
    {
      entry = g_hash_table_lookup (packs->index, rec->sha);
      keep = entry != NULL && entry->pack == pack->no && entry->off == off;
    }
  else
    /* Needed while its blob has dead records in other packs, unless the
     * blob was written again since (that record comes after it). */
    keep = !g_hash_table_contains (packs->index, rec->sha)
           && dead_elsewhere (packs, rec->sha, pack->no);
  g_mutex_unlock (&packs->lock);
  gsize total = HDR_LEN + rec->len;
  Pack *dest = NULL;
  guint64 dest_off = 0;
  if (keep && append_raw (packs, rec->start, total, &dest, &dest_off, &c->error)
      && entry != NULL)
    {
      g_mutex_lock (&packs->lock);
      entry_kill (packs, entry);            /* the old record, until @pack is gone */
      entry->pack = dest->no;
      entry->off = dest_off;
      dest->live += total;
      g_mutex_unlock (&packs->lock);
    }
  g_mutex_unlock (&packs->append_lock);
}

/* Forgets a compacted pack, waits for reads of it, removes its file. */
static gboolean
pack_drop (MinkaBlobPacks *packs, Pack *pack, GError **error)
{
  g_mutex_lock (&packs->lock);
  if (pack->live > 0)
    {
      /* Entries the copy did not find (the file changed under us). */
      GHashTableIter iter;
      gpointer value;
      g_hash_table_iter_init (&iter, packs->index);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (((Entry *) value)->pack == pack->no)
          g_hash_table_iter_remove (&iter);
      g_warning ("blob pack %s changed while being compacted: some blobs were lost",
                 pack->path);
    }
  g_hash_table_steal (packs->packs, GUINT_TO_POINTER (pack->no));
  while (pack->refs > 0)
    g_cond_wait (&packs->idle, &packs->lock);
  g_mutex_unlock (&packs->lock);

  g_clear_pointer (&pack->reader, minka_file_close);
  GError *local = NULL;
  gboolean ok = TRUE;
  if (g_remove (pack->path) != 0 && errno != ENOENT)
    {
      int saved = errno;
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_IO, _("Cannot remove %s: %s"),
                   pack->path, g_strerror (saved));
      ok = FALSE;
    }
  else if (!minka_fsync_dir (packs->dir, &local))
    ok = set_dir_error (error, local);
  if (ok)
    {
      /* Only now may tombstones of its dead records be dropped. */
      g_mutex_lock (&packs->lock);
      dead_forget_pack (packs, pack->no);
      g_mutex_unlock (&packs->lock);
    }
  pack_free (pack);
  return ok;
}

static gboolean
compact_pack (MinkaBlobPacks *packs, Pack *pack, GError **error)
{
  g_autofree char *buf = NULL;
  gsize size = 0;
  GError *local = NULL;
  if (!g_file_get_contents (pack->path, &buf, &size, &local))
    return set_dir_error (error, local);
  Compaction c = { NULL };
  pack_scan (packs, pack, (const guint8 *) buf, size, compact_record, &c);
  if (c.error != NULL)
    {
      g_propagate_error (error, c.error);
      return FALSE;
    }
  if (packs->compact_stop == 1)
    return TRUE;
  if (!minka_blob_packs_sync_all (packs, error))
    return FALSE;
  if (packs->compact_stop == 2)
    return TRUE;
  return pack_drop (packs, pack, error);
}

/* The lowest-numbered sealed pack below @below that is mostly dead. */
static Pack *
compact_pick (MinkaBlobPacks *packs, guint32 below)
{
  GHashTableIter iter;
  gpointer value;
  Pack *best = NULL;
  g_mutex_lock (&packs->lock);
  g_hash_table_iter_init (&iter, packs->packs);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Pack *pack = value;
      if (pack != packs->current && pack->no < below && pack->live * 2 < pack->size
          && (best == NULL || pack->no < best->no))
        best = pack;
    }
  g_mutex_unlock (&packs->lock);
  return best;
}

gboolean
minka_blob_packs_compact (MinkaBlobPacks *packs, gboolean all, GError **error)
{
  if (all)
    g_mutex_lock (&packs->compact_lock);
  else if (!g_mutex_trylock (&packs->compact_lock))
    return TRUE;
  /* Packs sealed while copying are left for a later call: no endless
   * loop over packs made only of tombstones. */
  g_mutex_lock (&packs->append_lock);
  guint32 below = packs->next_no;
  g_mutex_unlock (&packs->append_lock);
  gboolean ok = TRUE;
  Pack *pack;
  while (ok && (pack = compact_pick (packs, below)) != NULL)
    {
      ok = compact_pack (packs, pack, error);
      if (!all || packs->compact_stop != 0)
        break;
    }
  g_mutex_unlock (&packs->compact_lock);
  return ok;
}

void
minka_blob_packs_set_limit (MinkaBlobPacks *packs, guint64 bytes)
{
  g_mutex_lock (&packs->append_lock);
  packs->limit = bytes;
  g_mutex_unlock (&packs->append_lock);
}

gint64
minka_blob_packs_durable_size (MinkaBlobPacks *packs, guint32 no)
{
  g_mutex_lock (&packs->lock);
  Pack *pack = packs_get (packs, no);
  gint64 size = pack == NULL ? -1 : pack->dir_synced ? (gint64) pack->synced : 0;
  g_mutex_unlock (&packs->lock);
  return size;
}

void
minka_blob_packs_set_compact_stop (MinkaBlobPacks *packs, int stop)
{
  packs->compact_stop = stop;
}
