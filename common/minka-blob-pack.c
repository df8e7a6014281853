/* minka-blob-pack.c — small lazy blobs appended to a few large pack files
 * (DIR/blobs/packs/pack-00000001.pack, …) instead of one file each: no
 * inode to create, rename or fsync per blob. This file opens the packs and
 * keeps the index of the packed blobs; it appends, reads, deletes and
 * syncs them. The record format is in minka-blob-pack-record.c, compaction
 * in minka-blob-pack-compact.c.
 *
 * Appends go to the highest-numbered ("current") pack, sealed once the
 * next record would pass MINKA_BLOB_PACK_LIMIT. Pack numbers only grow.
 *
 * Open scans the packs in number order (reading each file whole) and
 * replays their records: a blob record makes that record the blob's live
 * one (a later copy of the same bytes supersedes an earlier one); a
 * tombstone kills every earlier record of its blob, so writing a blob
 * again after its delete makes it live again. Damaged records are skipped
 * (minka-blob-pack-record.c); damage at the end of the last pack (a torn
 * append) is truncated away. No per-pack index file is written: open reads
 * every pack once (~1 s per few GB).
 *
 * Durability: appends are not fsynced. minka_blob_packs_sync() fdatasyncs
 * the pack holding a blob only if the blob lies past the pack's
 * known-durable prefix (one fsync covers every blob before it), and fsyncs
 * the folder once for a new pack. A delete is durable once its pack is
 * synced (any later sync of that pack, sync_all, or a compaction), as the
 * unlink of an individual blob file was durable only at a folder fsync.
 *
 * Locking: append_lock serialises appends (held across the write) and is
 * taken before lock, which guards the index, dead table and pack table and
 * is never held across I/O. Reads take a reference on the pack under lock,
 * then read under the pack's own read_lock (MinkaFile reads are
 * seek+read); compaction waits for the references before unlinking. */
#include "config.h"

#include "minka-blob-pack-private.h"

#include <errno.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "minka-blob-store.h"

/* Where the dead (deleted or superseded) records of one blob still are. */
typedef struct {
  guint8 sha[MINKA_SHA256_LEN];
  GArray *packs;                      /* guint32 pack numbers, one per record */
} Dead;

/* ---- packs table ----------------------------------------------------------- */

static guint
sha_hash (gconstpointer key)
{
  const guint8 *p = key;              /* the first 4 bytes, little-endian */
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
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

void
minka_blob_pack_free (Pack *pack)
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

gboolean
minka_blob_packs_dead_elsewhere (MinkaBlobPacks *packs, const guint8 *sha, guint32 except)
{
  Dead *dead = g_hash_table_lookup (packs->dead, sha);
  for (guint i = 0; dead != NULL && i < dead->packs->len; i++)
    if (g_array_index (dead->packs, guint32, i) != except)
      return TRUE;
  return FALSE;
}

void
minka_blob_packs_dead_forget_pack (MinkaBlobPacks *packs, guint32 no)
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

void
minka_blob_packs_entry_kill (MinkaBlobPacks *packs, Entry *entry)
{
  dead_add (packs, entry->sha, entry->pack);
  packs_get (packs, entry->pack)->live -= HDR_LEN + entry->len;
}

/* What open_record() replays into. */
typedef struct {
  MinkaBlobPacks *packs;
  Pack *pack;
} Replay;

/* Replays one record into the index (single thread: no lock needed). A
 * later copy of a blob supersedes the earlier; a tombstone kills every
 * earlier record of its blob. */
static void
open_record (guint64 off, const Record *rec, gpointer data)
{
  Replay *replay = data;
  MinkaBlobPacks *packs = replay->packs;
  Pack *pack = replay->pack;
  Entry *entry = g_hash_table_lookup (packs->index, rec->sha);
  if (entry != NULL)
    minka_blob_packs_entry_kill (packs, entry);
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
  Replay replay = { packs, pack };
  gsize good_end = minka_blob_record_scan (pack->path, (const guint8 *) buf, size, open_record,
                                           &replay);
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

gboolean
minka_blob_packs_set_io_error (GError **error, GError *local)
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
                                        (GDestroyNotify) minka_blob_pack_free);
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
          minka_blob_packs_set_io_error (error, local);
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
          minka_blob_pack_free (pack);
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

gboolean
minka_blob_packs_append_record (MinkaBlobPacks *packs, const guint8 *record, gsize total,
                                Pack **pack_out, guint64 *off_out, GError **error)
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
  g_autofree guint8 *record = minka_blob_record_encode (REC_BLOB, sha, data, (guint32) len);
  Pack *pack = NULL;
  guint64 off = 0;

  g_mutex_lock (&packs->append_lock);
  g_mutex_lock (&packs->lock);
  gboolean present = g_hash_table_contains (packs->index, sha);
  g_mutex_unlock (&packs->lock);
  gboolean ok = present
                || minka_blob_packs_append_record (packs, record, HDR_LEN + len, &pack, &off,
                                                   error);
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
      g_autofree guint8 *record = minka_blob_record_encode (REC_TOMB, sha, NULL, TOMB_LEN);
      Pack *pack = NULL;
      guint64 off = 0;
      ok = minka_blob_packs_append_record (packs, record, HDR_LEN + TOMB_LEN, &pack, &off,
                                           error);
      if (ok)
        {
          g_mutex_lock (&packs->lock);
          minka_blob_packs_entry_kill (packs, entry);
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
  else if (!minka_blob_record_parse (buf, total, &rec) || rec.type != REC_BLOB
           || rec.len != copy.len || memcmp (rec.sha, sha, MINKA_SHA256_LEN) != 0)
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
    return minka_blob_packs_set_io_error (error, local);
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

/* ---- test hooks ------------------------------------------------------------ */

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

