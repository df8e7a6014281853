/* bench-storage.c — Raft log storage throughput: entries appended per
 * second with one fsync per batch at batch sizes 1, 16 and 256 (~100-byte
 * entries), the writer thread's group commit under a stream of single-
 * entry appends, fsyncs per entry, and the p50 latency of a bare fsync
 * (the baseline) and of a one-entry append. Then the preallocation figure:
 * 3 threads (like 3 workers on one disk) each appending 32 KiB entries one
 * at a time with an fsync each, p50/p99 per append, for a plain growing
 * file (the baseline), a plain file overwriting synced zeros (the floor),
 * and the storage without preallocation, with it, and with it plus
 * raft_storage_prepare between appends (as the writer thread does); once
 * back to back (the disk saturated) and once paced at one append per
 * CONC_PACE_US per thread (a busy but not saturated disk).
 * Prints name=value lines. */
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

/* ---- 3 concurrent appenders of 32 KiB entries ---- */

#define CONC_THREADS 3
#define CONC_ENTRY (32 * 1024)
#define CONC_APPENDS 600          /* ~19 MiB per thread: two segment closes */
#define CONC_PACE_US 3000         /* paced run: ~11 MB/s of records per thread */

typedef enum { MODE_FILE_GROW, MODE_FILE_OVERWRITE, MODE_NO_PREALLOC, MODE_PREALLOC,
               MODE_PREPARE, MODE_WRITER_NO_PREALLOC, MODE_WRITER_PREALLOC } ConcMode;

static const char *const conc_names[] = { "file_grow", "file_overwrite", "storage_no_prealloc",
                                          "storage_prealloc", "storage_prealloc_prepare",
                                          "writer_no_prealloc", "writer_prealloc" };

typedef struct {
  ConcMode mode;
  char *dir;
  GBytes *payload;
  gint64 pace;               /* µs between append starts; 0: back to back */
  gint64 next;               /* when the next append may start */
  GArray *lat;               /* gint64 µs per append (write + fsync) */
} ConcThread;

static void
conc_pace (ConcThread *t)
{
  if (t->pace == 0)
    return;
  gint64 now = g_get_monotonic_time ();
  if (t->next > now)
    g_usleep ((gulong) (t->next - now));
  t->next = MAX (now, t->next) + t->pace;
}

static gint64
timed_file_append (MinkaFile *f, gint64 offset, const guint8 *buf, gsize len)
{
  gint64 t0 = g_get_monotonic_time ();
  if (!minka_file_seek (f, offset, NULL) || !minka_file_write_all (f, buf, len, NULL)
      || !minka_file_sync (f, NULL))
    g_error ("plain file append failed");
  return g_get_monotonic_time () - t0;
}

static void
conc_plain_file (ConcThread *t)
{
  g_autofree char *path = g_build_filename (t->dir, "plain", NULL);
  MinkaFile *f = minka_file_open (path, MINKA_FILE_READ | MINKA_FILE_WRITE | MINKA_FILE_CREATE
                                  | MINKA_FILE_TRUNCATE, NULL);
  gsize len = 0;
  const guint8 *buf = g_bytes_get_data (t->payload, &len);
  gsize rec = len + 32;
  g_autofree guint8 *rbuf = g_malloc0 (rec);
  memcpy (rbuf + 32, buf, len);
  if (t->mode == MODE_FILE_OVERWRITE)
    {
      /* Zeros written and synced once, before the timed appends. */
      guint8 *zeros = g_malloc0 (1024 * 1024);
      for (gsize done = 0; done < rec * CONC_APPENDS; done += 1024 * 1024)
        minka_file_write_all (f, zeros, 1024 * 1024, NULL);
      minka_file_sync (f, NULL);
      g_free (zeros);
    }
  for (guint i = 0; i < CONC_APPENDS; i++)
    {
      conc_pace (t);
      gint64 dt = timed_file_append (f, (gint64) (i * rec), rbuf, rec);
      g_array_append_val (t->lat, dt);
    }
  minka_file_close (f);
}

static void
conc_storage (ConcThread *t)
{
  RaftStorageOptions opts = { .no_prealloc = t->mode == MODE_NO_PREALLOC };
  RaftStorage *s = raft_storage_open (t->dir, &opts, NULL, NULL);
  if (!s)
    g_error ("open %s failed", t->dir);
  for (guint i = 0; i < CONC_APPENDS; i++)
    {
      RaftEntry e = make_entry (i + 1, t->payload);
      conc_pace (t);
      gint64 t0 = g_get_monotonic_time ();
      if (!raft_storage_append (s, &e, 1, NULL))
        g_error ("append failed");
      gint64 dt = g_get_monotonic_time () - t0;
      g_array_append_val (t->lat, dt);
      raft_entry_clear (&e);
      if (t->mode == MODE_PREPARE)
        raft_storage_prepare (s, NULL);
    }
  raft_storage_close (s);
}

/* Through the writer thread, one entry in flight: the latency from
 * submitting an append to its report on this thread's main context. */
static void
conc_writer (ConcThread *t)
{
  RaftStorageOptions opts = { .no_prealloc = t->mode == MODE_WRITER_NO_PREALLOC };
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  Progress p = { 0 };
  RaftWriter *w = raft_writer_new (raft_storage_open (t->dir, &opts, NULL, NULL), on_done, &p);
  for (guint i = 0; i < CONC_APPENDS; i++)
    {
      RaftEntry e = make_entry (i + 1, t->payload);
      conc_pace (t);
      gint64 t0 = g_get_monotonic_time ();
      raft_writer_append (w, &e, 1);
      while (p.durable < i + 1)
        g_main_context_iteration (ctx, TRUE);
      gint64 dt = g_get_monotonic_time () - t0;
      g_array_append_val (t->lat, dt);
      raft_entry_clear (&e);
    }
  raft_writer_free (w);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
}

static gpointer
conc_thread (gpointer data)
{
  ConcThread *t = data;
  if (t->mode == MODE_FILE_GROW || t->mode == MODE_FILE_OVERWRITE)
    conc_plain_file (t);
  else if (t->mode == MODE_WRITER_NO_PREALLOC || t->mode == MODE_WRITER_PREALLOC)
    conc_writer (t);
  else
    conc_storage (t);
  return NULL;
}

static double
percentile (GArray *sorted, double p)
{
  guint i = (guint) (p * (sorted->len - 1) + 0.5);
  return sorted->len ? (double) g_array_index (sorted, gint64, i) : 0;
}

/* Runs @mode on 3 threads at once; adds every latency to @all. Returns
 * the wall time in µs. */
static gint64
conc_run (const char *dir, ConcMode mode, GBytes *payload, gint64 pace, GArray *all)
{
  ConcThread t[CONC_THREADS];
  GThread *th[CONC_THREADS];
  gint64 start = g_get_monotonic_time ();
  for (guint i = 0; i < CONC_THREADS; i++)
    {
      t[i].mode = mode;
      t[i].dir = g_strdup_printf ("%s/conc-%s-%u", dir, conc_names[mode], i);
      g_mkdir_with_parents (t[i].dir, 0755);
      t[i].payload = payload;
      t[i].pace = pace;
      t[i].next = 0;
      t[i].lat = g_array_new (FALSE, FALSE, sizeof (gint64));
      th[i] = g_thread_new ("appender", conc_thread, &t[i]);
    }
  for (guint i = 0; i < CONC_THREADS; i++)
    {
      g_thread_join (th[i]);
      g_array_append_vals (all, t[i].lat->data, t[i].lat->len);
      g_array_unref (t[i].lat);
      rm_rf (t[i].dir);
      g_free (t[i].dir);
    }
  return g_get_monotonic_time () - start;
}

/* Each mode twice, interleaved (the disk's mood drifts), then the figures. */
static double
mean (GArray *samples)
{
  double sum = 0;
  for (guint i = 0; i < samples->len; i++)
    sum += (double) g_array_index (samples, gint64, i);
  return samples->len ? sum / samples->len : 0;
}

static void
bench_concurrent (const char *dir, gint64 pace)
{
  const char *tag = pace ? "paced_" : "";
  enum { N_MODES = MODE_WRITER_PREALLOC + 1, ROUNDS = 2 };
  guint8 *data = g_malloc (CONC_ENTRY);
  for (guint i = 0; i < CONC_ENTRY; i++)
    data[i] = (guint8) (i * 13 + 5);
  GBytes *payload = g_bytes_new_take (data, CONC_ENTRY);
  GArray *lat[N_MODES];
  gint64 wall[N_MODES] = { 0 };
  double p50s[N_MODES], p99s[N_MODES];
  for (guint m = 0; m < N_MODES; m++)
    lat[m] = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint r = 0; r < ROUNDS; r++)
    for (guint m = 0; m < N_MODES; m++)
      wall[m] += conc_run (dir, (ConcMode) m, payload, pace, lat[m]);
  g_print ("conc_%sthreads=%d\nconc_%sentry_bytes=%d\nconc_%sappends_per_thread=%d\n",
           tag, CONC_THREADS, tag, CONC_ENTRY, tag, CONC_APPENDS * ROUNDS);
  if (pace)
    g_print ("conc_paced_interval_us=%" G_GINT64_FORMAT "\n", pace);
  for (guint m = 0; m < N_MODES; m++)
    {
      g_array_sort (lat[m], cmp_i64);
      p50s[m] = percentile (lat[m], 0.50);
      p99s[m] = percentile (lat[m], 0.99);
      g_print ("conc_%s%s_append_p50_us=%.0f\n", tag, conc_names[m], p50s[m]);
      g_print ("conc_%s%s_append_p99_us=%.0f\n", tag, conc_names[m], p99s[m]);
      g_print ("conc_%s%s_append_mean_us=%.0f\n", tag, conc_names[m], mean (lat[m]));
      if (!pace)   /* wall time includes fills and the overwrite file's zeros */
        g_print ("conc_%s_appends_per_s=%.0f\n", conc_names[m],
                 (double) lat[m]->len / ((double) wall[m] / 1e6));
    }
  for (guint m = 1; m < N_MODES; m++)
    {
      g_print ("conc_%s%s_p50_vs_file_grow=%.2f\n", tag, conc_names[m], p50s[m] / p50s[0]);
      g_print ("conc_%s%s_p99_vs_file_grow=%.2f\n", tag, conc_names[m], p99s[m] / p99s[0]);
    }
  for (guint m = 0; m < N_MODES; m++)
    g_array_unref (lat[m]);
  g_bytes_unref (payload);
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
  bench_concurrent (dir, 0);
  bench_concurrent (dir, CONC_PACE_US);

  g_bytes_unref (payload);
  rm_rf (dir);
  g_free (dir);
  return 0;
}
