/* bench-blob-store.c — small lazy blobs (1 B–64 KiB, as the worker stores
 * small files from the Raft log) written as one file each (the old way,
 * forced with minka_blob_store_set_packing (FALSE)) against appended to
 * pack files, as name=value lines: writes per second, their ratio, reads
 * per second, and what making them durable costs. MINKA_BENCH_BLOBS sets
 * the number of blobs (default 5000). */
#include <string.h>
#include <glib/gstdio.h>

#include "minka-blob-store.h"
#include "minka-compat.h"

static double
now_s (void)
{
  return (double) g_get_monotonic_time () / 1e6;
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir != NULL)
    {
      const char *entry;
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, entry, NULL);
          remove_tree (child);
        }
      g_dir_close (dir);
      g_rmdir (path);
    }
  else
    g_remove (path);
}

/* Writes @n lazy blobs; their sizes and bytes depend only on the index. */
static GPtrArray *
write_blobs (MinkaBlobStore *store, guint n, const guint8 *noise, double *seconds)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GRand *rand = g_rand_new_with_seed (42);
  guint8 *buf = g_malloc (65536);
  double t0 = now_s ();
  for (guint i = 0; i < n; i++)
    {
      gsize len = (gsize) g_rand_int_range (rand, 1, 65537);
      memcpy (buf, noise, len);
      memcpy (buf, &i, MIN (len, sizeof i));           /* distinct bytes */
      g_autoptr (GError) error = NULL;
      g_autoptr (MinkaBlobWriter) writer = minka_blob_writer_new (store, NULL, (gint64) len, &error);
      char *name = NULL;
      if (writer != NULL)
        {
          minka_blob_writer_set_lazy (writer, TRUE);
          if (minka_blob_writer_write (writer, buf, len, &error))
            name = minka_blob_writer_finish (writer, &error);
        }
      if (name == NULL)
        g_error ("write failed: %s", error ? error->message : "?");
      g_ptr_array_add (names, name);
    }
  *seconds = now_s () - t0;
  g_free (buf);
  g_rand_free (rand);
  return names;
}

static double
read_blobs (MinkaBlobStore *store, GPtrArray *names)
{
  double t0 = now_s ();
  for (guint i = 0; i < names->len; i++)
    {
      g_autoptr (GBytes) chunk = minka_blob_store_read_chunk (store, names->pdata[i], 0, 65536,
                                                              NULL);
      if (chunk == NULL)
        g_error ("read failed");
    }
  return names->len / (now_s () - t0);
}

/* Durable by name, as the worker's snapshot does where there is no syncfs;
 * at most @limit names. */
static double
sync_names (MinkaBlobStore *store, GPtrArray *names, guint limit)
{
  double t0 = now_s ();
  for (guint i = 0; i < names->len && i < limit; i++)
    if (!minka_blob_store_sync (store, names->pdata[i], NULL))
      g_error ("sync failed");
  return now_s () - t0;
}

static double
sync_filesystem (const char *dir)
{
  double t0 = now_s ();
  if (!minka_sync_filesystem (dir, NULL))
    return -1;
  return now_s () - t0;
}

int
main (void)
{
  const char *env = g_getenv ("MINKA_BENCH_BLOBS");
  guint n = env != NULL ? (guint) g_ascii_strtoull (env, NULL, 10) : 5000;
  guint8 *noise = g_malloc (65536);
  GRand *rand = g_rand_new_with_seed (7);
  for (guint i = 0; i < 65536; i++)
    noise[i] = (guint8) g_rand_int (rand);
  g_rand_free (rand);
  g_print ("blobs=%u\n", n);

  double rate[2];
  for (int packed = 0; packed <= 1; packed++)
    {
      const char *mode = packed ? "packs" : "files";
      g_autofree char *dir = g_dir_make_tmp ("minka-bench-blobs-XXXXXX", NULL);
      MinkaBlobStore *store = minka_blob_store_open (dir, NULL);
      minka_blob_store_set_packing (store, packed);
      sync_filesystem (dir);                 /* start from a clean page cache */
      double seconds = 0;
      g_autoptr (GPtrArray) names = write_blobs (store, n, noise, &seconds);
      rate[packed] = n / seconds;
      g_print ("%s_writes_per_s=%.0f\n", mode, rate[packed]);
      g_print ("%s_reads_per_s=%.0f\n", mode, read_blobs (store, names));
      /* Files: one fsync per blob plus folders, so only the first 200;
       * packs: every name (one fsync per pack, the rest are no-ops). */
      guint limit = packed ? n : MIN (n, 200u);
      g_print ("%s_sync_%u_names_s=%.3f\n", mode, limit, sync_names (store, names, limit));
      g_print ("%s_syncfs_after_s=%.3f\n", mode, sync_filesystem (dir));
      minka_blob_store_free (store);
      remove_tree (dir);
    }
  g_print ("packs_vs_files_writes_ratio=%.2f\n", rate[1] / rate[0]);
  g_free (noise);
  return 0;
}
