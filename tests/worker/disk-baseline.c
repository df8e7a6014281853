/* disk-baseline.c — the disk's own limits, measured beside bench-cluster's
 * write runs (see disk-baseline.h). */
#include "config.h"
#include "disk-baseline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "minka-compat.h"

#define SEQ_BYTES (288u * 1024 * 1024)    /* in all, over WRITERS files */
#define SEQ_CHUNK (1024u * 1024)
#define SMALL_WRITE (32u * 1024)
#define SMALL_WRITES 300
#define WRITERS 3

typedef struct {
  char *path;
  const guint8 *chunk;            /* SEQ_CHUNK bytes */
  GError *error;
} SeqWriter;

/* SEQ_BYTES / WRITERS bytes in SEQ_CHUNK writes, then one fdatasync. */
static gpointer
seq_writer_run (gpointer data)
{
  SeqWriter *w = data;
  MinkaFile *file = minka_file_open (w->path, MINKA_FILE_WRITE | MINKA_FILE_CREATE
                                              | MINKA_FILE_TRUNCATE, &w->error);
  gboolean ok = file != NULL;
  for (guint done = 0; ok && done < SEQ_BYTES / WRITERS; done += SEQ_CHUNK)
    ok = minka_file_write_all (file, w->chunk, SEQ_CHUNK, &w->error);
  if (ok)
    minka_file_sync (file, &w->error);
  minka_file_close (file);
  g_unlink (w->path);
  return NULL;
}

/* MB/s of WRITERS files written at once (the three workers' logs and
 * packs), each made durable at its end; 0 on failure. */
static double
measure_sequential (const char *dir)
{
  g_autofree guint8 *chunk = g_malloc (SEQ_CHUNK);
  for (guint i = 0; i < SEQ_CHUNK; i++)
    chunk[i] = (guint8) g_random_int ();      /* no run of zeros a disk could elide */
  SeqWriter writers[WRITERS] = { { 0 } };
  GThread *threads[WRITERS];
  gint64 t0 = g_get_monotonic_time ();
  for (guint i = 0; i < WRITERS; i++)
    {
      g_autofree char *name = g_strdup_printf ("disk-baseline-seq-%u.tmp", i);
      writers[i].path = g_build_filename (dir, name, NULL);
      writers[i].chunk = chunk;
      threads[i] = g_thread_new ("disk-baseline", seq_writer_run, &writers[i]);
    }
  for (guint i = 0; i < WRITERS; i++)
    g_thread_join (threads[i]);
  double seconds = (g_get_monotonic_time () - t0) / 1e6;
  double mb_per_s = SEQ_BYTES / 1e6 / seconds;
  for (guint i = 0; i < WRITERS; i++)
    {
      if (writers[i].error && mb_per_s > 0)
        printf ("disk_seq_write_error=%s\n", writers[i].error->message);
      if (writers[i].error)
        mb_per_s = 0;
      g_clear_error (&writers[i].error);
      g_free (writers[i].path);
    }
  return mb_per_s;
}

typedef struct {
  char *path;
  double *latency_us;             /* SMALL_WRITES */
  gboolean ok;
} Writer;

/* SMALL_WRITES appends of SMALL_WRITE bytes, each made durable, as a log
 * that grows by one entry per request would. */
static gpointer
writer_run (gpointer data)
{
  Writer *w = data;
  guint8 block[SMALL_WRITE];
  for (guint i = 0; i < SMALL_WRITE; i++)
    block[i] = (guint8) (i * 131 + 7);
  MinkaFile *file = minka_file_open (w->path, MINKA_FILE_WRITE | MINKA_FILE_CREATE
                                              | MINKA_FILE_TRUNCATE, NULL);
  w->ok = file != NULL;
  for (guint i = 0; w->ok && i < SMALL_WRITES; i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      w->ok = minka_file_write_all (file, block, sizeof block, NULL)
              && minka_file_sync (file, NULL);
      w->latency_us[i] = (double) (g_get_monotonic_time () - t0);
    }
  minka_file_close (file);
  g_unlink (w->path);
  return NULL;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Median latency of a durable 32 KiB append with @n writers at once; 0 on
 * failure. */
static double
measure_small_syncs (const char *dir, guint n)
{
  Writer writers[WRITERS];
  GThread *threads[WRITERS];
  double *all = g_new (double, (gsize) n * SMALL_WRITES);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("disk-baseline-%u.tmp", i);
      writers[i].path = g_build_filename (dir, name, NULL);
      writers[i].latency_us = all + (gsize) i * SMALL_WRITES;
      threads[i] = g_thread_new ("disk-baseline", writer_run, &writers[i]);
    }
  gboolean ok = TRUE;
  for (guint i = 0; i < n; i++)
    {
      g_thread_join (threads[i]);
      ok = ok && writers[i].ok;
      g_free (writers[i].path);
    }
  qsort (all, (gsize) n * SMALL_WRITES, sizeof (double), compare_doubles);
  double p50 = ok ? all[(gsize) n * SMALL_WRITES / 2] : 0;
  g_free (all);
  return p50;
}

void
disk_baseline_measure (DiskBaseline *out, const char *dir)
{
  memset (out, 0, sizeof *out);
  out->seq_write_mb_per_s = measure_sequential (dir);
  out->fsync_32k_x1_p50_us = measure_small_syncs (dir, 1);
  out->fsync_32k_x3_p50_us = measure_small_syncs (dir, WRITERS);
  printf ("disk_seq_write_mb_per_s=%.0f\n", out->seq_write_mb_per_s);
  printf ("disk_fsync_32k_one_writer_p50_us=%.0f\n", out->fsync_32k_x1_p50_us);
  printf ("disk_fsync_32k_three_writers_p50_us=%.0f\n", out->fsync_32k_x3_p50_us);
}

/* Linux's dev_t encoding (the kernel's new_encode_dev): 12 bits of major
 * number, 20 of minor, split around the low byte. */
static guint
dev_major (guint64 dev)
{
  return (guint) (((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffULL));
}

static guint
dev_minor (guint64 dev)
{
  return (guint) ((dev & 0xff) | ((dev >> 12) & ~0xffULL));
}

gint64
disk_baseline_device_written_bytes (const char *dir)
{
  g_autoptr (GFile) file = g_file_new_for_path (dir);
  g_autoptr (GFileInfo) info = g_file_query_info (file, G_FILE_ATTRIBUTE_UNIX_DEVICE,
                                                  G_FILE_QUERY_INFO_NONE, NULL, NULL);
  if (!info || !g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_UNIX_DEVICE))
    return -1;
  guint64 dev = g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_UNIX_DEVICE);
  g_autofree char *path = g_strdup_printf ("/sys/dev/block/%u:%u/stat",
                                           dev_major (dev), dev_minor (dev));
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;             /* not Linux, or not a block device (tmpfs, overlay) */
  /* Fields: reads, merged, sectors read, ms; writes, merged, sectors written… */
  g_auto (GStrv) fields = g_strsplit_set (g_strstrip (text), " \t", -1);
  guint seen = 0;
  for (guint i = 0; fields[i]; i++)
    if (fields[i][0] != '\0' && ++seen == 7)
      return g_ascii_strtoll (fields[i], NULL, 10) * 512;
  return -1;
}

void
disk_baseline_flush (const char *dir)
{
  const char *argv[] = { "sync", "-f", dir, NULL };
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, NULL, NULL);
}
