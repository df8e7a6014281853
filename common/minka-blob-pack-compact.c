/* minka-blob-pack-compact.c — compaction of the pack files: rewrites the
 * still-needed records of a mostly dead sealed pack into the current one,
 * then removes the old pack (minka_blob_packs_compact()).
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
 * comes back. */
#include "config.h"

#include "minka-blob-pack-private.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "minka-blob-store.h"

typedef struct {
  MinkaBlobPacks *packs;
  Pack *pack;                         /* the pack being compacted */
  GError *error;
} Compaction;

/* Copies one record of the pack being compacted if it is still needed. */
static void
compact_record (guint64 off, const Record *rec, gpointer data)
{
  Compaction *c = data;
  MinkaBlobPacks *packs = c->packs;
  Pack *pack = c->pack;
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
           && minka_blob_packs_dead_elsewhere (packs, rec->sha, pack->no);
  g_mutex_unlock (&packs->lock);
  gsize total = HDR_LEN + rec->len;
  Pack *dest = NULL;
  guint64 dest_off = 0;
  if (keep
      && minka_blob_packs_append_record (packs, rec->start, total, &dest, &dest_off, &c->error)
      && entry != NULL)
    {
      g_mutex_lock (&packs->lock);
      minka_blob_packs_entry_kill (packs, entry); /* the old record, until @pack is gone */
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
    ok = minka_blob_packs_set_io_error (error, local);
  if (ok)
    {
      /* Only now may tombstones of its dead records be dropped. */
      g_mutex_lock (&packs->lock);
      minka_blob_packs_dead_forget_pack (packs, pack->no);
      g_mutex_unlock (&packs->lock);
    }
  minka_blob_pack_free (pack);
  return ok;
}

static gboolean
compact_pack (MinkaBlobPacks *packs, Pack *pack, GError **error)
{
  g_autofree char *buf = NULL;
  gsize size = 0;
  GError *local = NULL;
  if (!g_file_get_contents (pack->path, &buf, &size, &local))
    return minka_blob_packs_set_io_error (error, local);
  Compaction c = { packs, pack, NULL };
  minka_blob_record_scan (pack->path, (const guint8 *) buf, size, compact_record, &c);
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
minka_blob_packs_set_compact_stop (MinkaBlobPacks *packs, int stop)
{
  packs->compact_stop = stop;
}
