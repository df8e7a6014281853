/* bench-storage.c — Raft log storage throughput: entries appended per
 * second with one fsync per batch at batch sizes 1, 16 and 256 (~100-byte
 * entries), the writer thread's group commit under a stream of single-
 * entry appends, fsyncs per entry, and the p50 latency of a bare fsync
 * (the baseline) and of a one-entry append. Prints name=value lines. */
#include "config.h"
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "minka-compat.h"
#include "raft-storage.h"
#include "raft-writer.h"

#define ENTRY_BYTES 100
#define RUN_USEC (1500 * 1000)

static void
rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d)
    {
      const char *name;
      while ((name = g_dir_read_name (d)) != NULL)
        {
          char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
          g_free (child);
        }
      g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static gint
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static double
p50 (GArray *samples)
{
  g_array_sort (samples, cmp_i64);
  return samples->len ? (double) g_array_index (samples, gint64, samples->len / 2) : 0;
}

static RaftEntry
make_entry (guint64 index, GBytes *payload)
{
  RaftEntry e = { 1, index, RAFT_ENTRY_NORMAL, g_bytes_ref (payload) };
  return e;
}

/* fsync of a 100-byte append to a plain file: what one commit costs. */
static void
bench_raw_fsync (const char *dir)
{
  char *path = g_build_filename (dir, "raw", NULL);
  MinkaFile *f = minka_file_open (path, MINKA_FILE_WRITE | MINKA_FILE_CREATE, NULL);
  GArray *lat = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint8 buf[ENTRY_BYTES + 32] = { 0 };
  gint64 start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < RUN_USEC / 2)
    {
      minka_file_write_all (f, buf, sizeof buf, NULL);
      gint64 t0 = g_get_monotonic_time ();
      minka_file_sync (f, NULL);
      gint64 dt = g_get_monotonic_time () - t0;
      g_array_append_val (lat, dt);
    }
  g_print ("raw_fsync_p50_us=%.1f\n", p50 (lat));
  g_print ("raw_fsyncs=%u\n", lat->len);
  g_array_unref (lat);
  minka_file_close (f);
  g_unlink (path);
  g_free (path);
}

/* Synchronous appends of @batch entries, each batch one write + fsync. */
static double
bench_batch (const char *dir, guint batch, GBytes *payload)
{
  char *sub = g_strdup_printf ("%s/batch%u", dir, batch);
  RaftStorage *s = raft_storage_open (sub, NULL, NULL, NULL);
  RaftEntry *es = g_new0 (RaftEntry, batch);
  GArray *lat = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint64 next = 1;
  gint64 start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < RUN_USEC)
    {
      for (guint i = 0; i < batch; i++)
        es[i] = make_entry (next + i, payload);
      gint64 t0 = g_get_monotonic_time ();
      if (!raft_storage_append (s, es, batch, NULL))
        g_error ("append failed");
      gint64 dt = g_get_monotonic_time () - t0;
      g_array_append_val (lat, dt);
      for (guint i = 0; i < batch; i++)
        raft_entry_clear (&es[i]);
      next += batch;
    }
  double secs = (double) (g_get_monotonic_time () - start) / 1e6;
  RaftStorageStats st = raft_storage_get_stats (s);
  double rate = (double) st.entries / secs;
  g_print ("storage_batch%u_entries_per_s=%.0f\n", batch, rate);
  g_print ("storage_batch%u_fsyncs_per_entry=%.4f\n", batch, (double) st.fsyncs / (double) st.entries);
  g_print ("storage_batch%u_append_p50_us=%.1f\n", batch, p50 (lat));
  if (batch == 1)
    g_print ("storage_fsync_mean_us=%.1f\n", (double) st.fsync_usec / (double) MAX (st.fsyncs, 1));
  g_array_unref (lat);
  g_free (es);
  raft_storage_close (s);
  rm_rf (sub);
  g_free (sub);
  return rate;
}

typedef struct {
  guint64 durable;
} Progress;

static void
on_done (const RaftWriterResult *result, gpointer user_data)
{
  Progress *p = user_data;
  if (result->error)
    g_error ("writer: %s", result->error->message);
  p->durable = result->last_index;
}

/* A stream of single-entry appends through the writer thread, at most
 * @window not yet durable: the writer merges whatever is queued. */
static void
bench_writer (const char *dir, guint window, GBytes *payload)
{
  char *sub = g_strdup_printf ("%s/writer%u", dir, window);
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  Progress p = { 0 };
  RaftWriter *w = raft_writer_new (raft_storage_open (sub, NULL, NULL, NULL), on_done, &p);
  guint64 next = 1;
  gint64 start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < RUN_USEC)
    {
      while (next - 1 - p.durable < window)
        {
          RaftEntry e = make_entry (next++, payload);
          raft_writer_append (w, &e, 1);
          raft_entry_clear (&e);
        }
      g_main_context_iteration (ctx, TRUE);
    }
  raft_writer_flush (w);
  double secs = (double) (g_get_monotonic_time () - start) / 1e6;
  RaftWriterStats st = raft_writer_get_stats (w);
  g_print ("writer_window%u_entries_per_s=%.0f\n", window, (double) st.storage.entries / secs);
  g_print ("writer_window%u_fsyncs_per_entry=%.4f\n", window,
           (double) st.storage.fsyncs / (double) MAX (st.storage.entries, 1));
  raft_writer_free (w);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  rm_rf (sub);
  g_free (sub);
}

int
main (void)
{
  char *dir = g_dir_make_tmp ("raft-bench-storage-XXXXXX", NULL);
  guint8 data[ENTRY_BYTES];
  for (guint i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 7);
  GBytes *payload = g_bytes_new (data, sizeof data);

  g_print ("entry_bytes=%d\n", ENTRY_BYTES);
  g_print ("tmpdir=%s\n", dir);
  bench_raw_fsync (dir);
  double r1 = bench_batch (dir, 1, payload);
  double r16 = bench_batch (dir, 16, payload);
  double r256 = bench_batch (dir, 256, payload);
  g_print ("storage_batch16_speedup_vs_batch1=%.1f\n", r16 / r1);
  g_print ("storage_batch256_speedup_vs_batch1=%.1f\n", r256 / r1);
  bench_writer (dir, 1, payload);
  bench_writer (dir, 16, payload);
  bench_writer (dir, 256, payload);

  g_bytes_unref (payload);
  rm_rf (dir);
  g_free (dir);
  return 0;
}
