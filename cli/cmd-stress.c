/* cmd-stress.c — `minka stress --files N --min-size B --max-size B
 * --concurrency C [--seed S]`: uploads N files of random sizes and
 * contents (made from a seeded PRNG, never stored on disk) over C lanes,
 * each lane its own client session; failed requests are retried across
 * leader changes by the client and, if they still fail, counted, never
 * dropped. Then it checks that every acknowledged file is listed with the
 * right size and SHA-256 on every worker (LIST with min_index = the
 * highest acknowledged ID, which is the log index that created it) and
 * that a sample downloads intact from every worker. Prints name=value
 * lines; exits non-zero if anything failed or was lost. */
#include "config.h"

#include "cli.h"
#include "cli-cluster.h"
#include "minka-sha256.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define CMD "stress"
#define SAMPLE_FILES 20
#define VERIFY_DEADLINE_US (30 * G_USEC_PER_SEC)

typedef struct {
  guint64 size;
  char sha256[65];             /* of the content we generated */
  guint64 id;                  /* 0 until acknowledged */
  double ms;                   /* request latency, retries included */
  gboolean failed;
  gboolean bad;                /* acknowledged, then missing or wrong somewhere */
} StressFile;

typedef struct _Stress Stress;

typedef struct {
  Stress *stress;
  MinkaClient *client;
  StressFile *file;
  gint64 started_us;
} StressLane;

struct _Stress {
  const CliCluster *cluster;
  guint64 n_files, min_size, max_size, seed;
  guint concurrency;
  StressFile *files;
  guint64 next, ok, failed, bytes_ok;
  guint lanes_running;
  StressLane *lanes;
  GHashTable *sessions;        /* session IDs of our lanes */
  gboolean live;
  gint64 last_draw_us;
  guint pending;               /* verification requests in flight */
  guint downloads, download_errors;
  guint unverified;            /* workers we could not check */
  gboolean allow_unreachable;
  guint64 unacked_stored;
};

/* ---- content ------------------------------------------------------------- */

static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* File @index's content: a pure function of the seed and the index. */
static GBytes *
stress_content (const Stress *stress, guint64 index, guint64 size)
{
  guint64 state = stress->seed * 0x100000001b3ULL + index;
  guint8 *data = g_malloc (size > 0 ? size : 1);
  for (guint64 at = 0; at < size; at += 8)
    {
      guint64 word = splitmix64 (&state);
      memcpy (data + at, &word, MIN (8, size - at));
    }
  return g_bytes_new_take (data, size);
}

static void
stress_plan (Stress *stress)
{
  guint64 state = stress->seed ^ 0x5eedULL;
  guint64 span = stress->max_size - stress->min_size + 1;
  stress->files = g_new0 (StressFile, stress->n_files);
  for (guint64 i = 0; i < stress->n_files; i++)
    stress->files[i].size = stress->min_size + (span > 0 ? splitmix64 (&state) % span : 0);
}

/* ---- uploads ------------------------------------------------------------- */

static void stress_lane_next (StressLane *lane);

static void
stress_draw (Stress *stress, gboolean force)
{
  gint64 now = g_get_monotonic_time ();
  if (!stress->live || (!force && now - stress->last_draw_us < 100000))
    return;
  stress->last_draw_us = now;
  fprintf (stderr, _("\ruploaded %llu/%llu (failed %llu)   "),
           (unsigned long long) stress->ok, (unsigned long long) stress->n_files,
           (unsigned long long) stress->failed);
  fflush (stderr);
}

static void
on_stress_put (GObject *source, GAsyncResult *result, gpointer data)
{
  StressLane *lane = data;
  Stress *stress = lane->stress;
  StressFile *file = lane->file;
  GError *error = NULL;
  g_autoptr (MinkaFileInfo) info = minka_client_put_finish (MINKA_CLIENT (source), result,
                                                            &error);
  file->ms = (double) (g_get_monotonic_time () - lane->started_us) / 1000.0;
  if (info == NULL)
    {
      file->failed = TRUE;
      stress->failed++;
      if (stress->live)
        fprintf (stderr, "\n");
      g_printerr (_("minka stress: file %llu failed: %s\n"),
                  (unsigned long long) (file - stress->files), error->message);
      g_error_free (error);
    }
  else
    {
      file->id = info->id;
      /* Acknowledged with other content than we sent: as bad as lost. */
      file->bad = strcmp (info->sha256, file->sha256) != 0 || info->size != file->size;
      stress->ok++;
      stress->bytes_ok += file->size;
    }
  lane->file = NULL;
  stress_draw (stress, FALSE);
  stress_lane_next (lane);
}

static void
stress_lane_next (StressLane *lane)
{
  Stress *stress = lane->stress;
  if (stress->next >= stress->n_files)
    {
      stress->lanes_running--;
      return;
    }
  guint64 index = stress->next++;
  StressFile *file = &stress->files[index];
  g_autoptr (GBytes) content = stress_content (stress, index, file->size);
  g_autofree char *sha = minka_sha256_hex (g_bytes_get_data (content, NULL), g_bytes_get_size (content));
  memcpy (file->sha256, sha, 65);
  g_autofree char *name = g_strdup_printf ("stress-%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                                           ".bin", stress->seed, index);
  lane->file = file;
  lane->started_us = g_get_monotonic_time ();
  minka_client_put_bytes_async (lane->client, content, file->sha256, name, NULL, NULL, NULL,
                                on_stress_put, lane);
}

static double
stress_upload (Stress *stress)
{
  stress->lanes = g_new0 (StressLane, stress->concurrency);
  stress->sessions = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 start = g_get_monotonic_time ();
  stress->lanes_running = stress->concurrency;
  for (guint i = 0; i < stress->concurrency; i++)
    {
      StressLane *lane = &stress->lanes[i];
      lane->stress = stress;
      lane->client = cli_cluster_client_new (stress->cluster);
      /* Ride out leader failovers: a request is retried for a minute. */
      minka_client_set_timeouts (lane->client, 2000, 30000, 60000);
      g_hash_table_add (stress->sessions, (gpointer) minka_client_get_session (lane->client));
      stress_lane_next (lane);
    }
  while (stress->lanes_running > 0)
    g_main_context_iteration (NULL, TRUE);
  double seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  stress_draw (stress, TRUE);
  if (stress->live)
    fprintf (stderr, "\n");
  return seconds;
}

/* ---- verification -------------------------------------------------------- */

typedef struct {
  Stress *stress;
  MinkaClient *client;
  const char *address;
  guint64 min_index;
  gint64 deadline_us;
  MinkaFileList *list;         /* the result, or NULL */
  GError *error;
} StressCheck;

static void stress_check_list (StressCheck *check);

static gboolean
on_stress_poll (gpointer data)
{
  stress_check_list (data);
  return G_SOURCE_REMOVE;
}

static void
on_stress_list (GObject *source, GAsyncResult *result, gpointer data)
{
  StressCheck *check = data;
  GError *error = NULL;
  MinkaFileList *list = minka_client_list_finish (MINKA_CLIENT (source), result, &error);
  gboolean behind = list != NULL && list->applied_index < check->min_index;
  gboolean stale = g_error_matches (error, MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_STALE);
  if ((behind || stale) && g_get_monotonic_time () < check->deadline_us)
    {
      /* Not caught up yet: ask again shortly. */
      minka_file_list_free (list);
      g_clear_error (&error);
      g_timeout_add (200, on_stress_poll, check);
      return;
    }
  if (behind)
    {
      error = g_error_new (MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_STALE,
                           _("%s has applied only up to index %llu"),
                           check->address, (unsigned long long) list->applied_index);
      g_clear_pointer (&list, minka_file_list_free);
    }
  check->list = list;
  check->error = error;
  check->stress->pending--;
}

static void
stress_check_list (StressCheck *check)
{
  minka_client_list_async (check->client, check->address, check->min_index, NULL,
                           on_stress_list, check);
}

/* Marks acknowledged files missing or different in @list as bad. */
static void
stress_compare (Stress *stress, const MinkaFileList *list)
{
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  guint64 ours = 0;
  for (guint i = 0; i < list->files->len; i++)
    {
      MinkaFileInfo *info = list->files->pdata[i];
      g_hash_table_insert (by_id, &info->id, info);
      if (info->client != NULL && g_hash_table_contains (stress->sessions, info->client))
        ours++;
    }
  for (guint64 i = 0; i < stress->n_files; i++)
    {
      StressFile *file = &stress->files[i];
      if (file->id == 0)
        continue;
      const MinkaFileInfo *info = g_hash_table_lookup (by_id, &file->id);
      if (info == NULL || info->size != file->size || strcmp (info->sha256, file->sha256) != 0)
        file->bad = TRUE;
    }
  /* Files our sessions stored beyond those acknowledged: a retry applied twice
   * would show here (a request that failed for us may also have landed). */
  stress->unacked_stored = MAX (stress->unacked_stored, ours > stress->ok ? ours - stress->ok : 0);
}

typedef struct {
  Stress *stress;
  StressFile *file;
} StressDownload;

static void
on_stress_get (GObject *source, GAsyncResult *result, gpointer data)
{
  StressDownload *download = data;
  GError *error = NULL;
  g_autoptr (MinkaFileInfo) info = minka_client_get_finish (MINKA_CLIENT (source), result,
                                                            &error);
  /* The client checked the bytes against the SHA-256 the worker announced;
   * that must be the one of the content we generated. */
  if (info == NULL || strcmp (info->sha256, download->file->sha256) != 0)
    {
      download->file->bad = TRUE;
      download->stress->download_errors++;
      g_printerr (_("minka stress: download of file %llu failed: %s\n"),
                  (unsigned long long) download->file->id, error != NULL ? error->message : _("wrong SHA-256"));
    }
  g_clear_error (&error);
  download->stress->downloads++;
  download->stress->pending--;
  g_free (download);
}

static guint
stress_verify (Stress *stress, guint *workers_checked)
{
  guint n = g_strv_length (stress->cluster->addresses);
  guint64 max_id = 0, acked = 0;
  for (guint64 i = 0; i < stress->n_files; i++)
    if (stress->files[i].id > 0)
      {
        max_id = MAX (max_id, stress->files[i].id);
        acked++;
      }
  g_autoptr (MinkaClient) client = cli_cluster_client_new (stress->cluster);
  minka_client_set_timeouts (client, 2000, 30000, 30000);
  StressCheck *checks = g_new0 (StressCheck, n);
  gint64 deadline = g_get_monotonic_time () + VERIFY_DEADLINE_US;
  for (guint w = 0; w < n; w++)
    {
      checks[w] = (StressCheck) { stress, client, stress->cluster->addresses[w], max_id,
                                  deadline, NULL, NULL };
      stress->pending++;
      stress_check_list (&checks[w]);
    }
  while (stress->pending > 0)
    g_main_context_iteration (NULL, TRUE);

  *workers_checked = 0;
  for (guint w = 0; w < n; w++)
    {
      if (checks[w].list == NULL)
        {
          /* A worker that answers but never catches up is a failure; one
           * that cannot be reached at all is one only without
           * --allow-unreachable. */
          gboolean unreachable = !g_error_matches (checks[w].error, MINKA_CLIENT_ERROR,
                                                   MINKA_CLIENT_ERROR_STALE);
          g_printerr (_("minka stress: cannot verify worker %s: %s\n"),
                      stress->cluster->names[w], checks[w].error->message);
          if (!unreachable || !stress->allow_unreachable)
            stress->unverified++;
          continue;
        }
      (*workers_checked)++;
      stress_compare (stress, checks[w].list);
    }

  /* A sample of acknowledged files, spread evenly, from every worker. */
  guint64 step = MAX (1, acked / SAMPLE_FILES), seen = 0;
  for (guint64 i = 0; i < stress->n_files; i++)
    {
      StressFile *file = &stress->files[i];
      if (file->id == 0 || seen++ % step != 0 || seen > step * SAMPLE_FILES)
        continue;
      for (guint w = 0; w < n; w++)
        {
          if (checks[w].list == NULL)
            continue;
          StressDownload *download = g_new0 (StressDownload, 1);
          download->stress = stress;
          download->file = file;
          stress->pending++;
          minka_client_get_async (client, checks[w].address, file->id, NULL, NULL, NULL, NULL,
                                  NULL, on_stress_get, download);
        }
    }
  while (stress->pending > 0)
    g_main_context_iteration (NULL, TRUE);

  for (guint w = 0; w < n; w++)
    {
      minka_file_list_free (checks[w].list);
      g_clear_error (&checks[w].error);
    }
  g_free (checks);
  guint lost = 0;
  for (guint64 i = 0; i < stress->n_files; i++)
    lost += stress->files[i].id > 0 && stress->files[i].bad ? 1 : 0;
  return lost;
}

/* ---- report -------------------------------------------------------------- */

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* Nearest-rank percentile of sorted @values. */
static double
percentile (const GArray *values, double q)
{
  if (values->len == 0)
    return 0;
  guint rank = (guint) (q * values->len + 0.999999);
  rank = CLAMP (rank, 1, values->len);
  return g_array_index (values, double, rank - 1);
}

static void
stress_report (Stress *stress, double seconds, guint lost, guint workers_checked)
{
  g_autoptr (GArray) latencies = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint64 i = 0; i < stress->n_files; i++)
    if (stress->files[i].id > 0)
      g_array_append_val (latencies, stress->files[i].ms);
  g_array_sort (latencies, compare_double);
  double rate = seconds > 0 ? (double) stress->ok / seconds : 0;
  double mb = seconds > 0 ? (double) stress->bytes_ok / 1e6 / seconds : 0;
  g_print ("files=%" G_GUINT64_FORMAT "\n", stress->n_files);
  g_print ("ok=%" G_GUINT64_FORMAT "\n", stress->ok);
  g_print ("failed=%" G_GUINT64_FORMAT "\n", stress->failed);
  g_print ("lost=%u\n", lost);
  g_print ("files_per_s=%.1f\n", rate);
  g_print ("mb_per_s=%.2f\n", mb);
  g_print ("p50_ms=%.2f\n", percentile (latencies, 0.50));
  g_print ("p95_ms=%.2f\n", percentile (latencies, 0.95));
  g_print ("p99_ms=%.2f\n", percentile (latencies, 0.99));
  g_print ("max_ms=%.2f\n", percentile (latencies, 1.0));
  g_print ("elapsed_s=%.3f\n", seconds);
  g_print ("workers_verified=%u\n", workers_checked);
  g_print ("workers_unverified=%u\n", stress->unverified);
  g_print ("downloads_verified=%u\n", stress->downloads - stress->download_errors);
  g_print ("unacked_stored=%" G_GUINT64_FORMAT "\n", stress->unacked_stored);
}

static void
stress_free (Stress *stress)
{
  for (guint i = 0; stress->lanes != NULL && i < stress->concurrency; i++)
    g_clear_object (&stress->lanes[i].client);
  g_free (stress->lanes);
  g_free (stress->files);
  g_clear_pointer (&stress->sessions, g_hash_table_unref);
}

int
cli_cmd_stress (int argc, char **argv)
{
  g_auto (CliClusterOptions) options = { 0 };
  gboolean allow_unreachable = FALSE;
  gint64 files = 100, min_size = 1024, max_size = 65536, concurrency = 1, seed = 1;
  const GOptionEntry entries[] = {
    { "files", 'n', 0, G_OPTION_ARG_INT64, &files, N_("How many files (default 100)"), N_("N") },
    { "min-size", 0, 0, G_OPTION_ARG_INT64, &min_size, N_("Smallest file (default 1024)"),
      N_("BYTES") },
    { "max-size", 0, 0, G_OPTION_ARG_INT64, &max_size, N_("Largest file (default 65536)"),
      N_("BYTES") },
    { "concurrency", 'j', 0, G_OPTION_ARG_INT64, &concurrency,
      N_("Uploads in flight, each its own session (default 1)"), N_("C") },
    { "allow-unreachable", 0, 0, G_OPTION_ARG_NONE, &allow_unreachable,
      N_("Do not fail when a worker cannot be reached for the checks"), NULL },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, N_("Seed of sizes and contents (default 1)"),
      N_("S") },
    G_OPTION_ENTRY_NULL
  };
  if (!cli_cluster_parse (CMD, NULL,
                          _("Upload many random files, then check that every worker "
                            "holds every acknowledged file intact."),
                          entries, argc, argv, &options))
    return CLI_EXIT_USAGE;
  if (files < 1 || min_size < 0 || max_size < min_size || concurrency < 1
      || concurrency > 1024 || seed < 0 || max_size > G_MAXINT32)
    return cli_fail (CMD, CLI_EXIT_USAGE,
                     _("need --files ≥ 1, 0 ≤ --min-size ≤ --max-size ≤ 2 GiB, "
                       "1 ≤ --concurrency ≤ 1024, --seed ≥ 0"));
  g_autoptr (CliCluster) cluster = cli_cluster_open (CMD, &options);
  if (cluster == NULL)
    return CLI_EXIT_ERROR;

  Stress stress = { 0 };
  stress.cluster = cluster;
  stress.n_files = (guint64) files;
  stress.min_size = (guint64) min_size;
  stress.max_size = (guint64) max_size;
  stress.concurrency = (guint) MIN (concurrency, files);
  stress.seed = (guint64) seed;
  stress.live = cli_cluster_is_terminal (2);
  stress.allow_unreachable = allow_unreachable;
  stress_plan (&stress);

  double seconds = stress_upload (&stress);
  guint workers_checked = 0;
  guint lost = stress.ok > 0 ? stress_verify (&stress, &workers_checked) : 0;
  stress_report (&stress, seconds, lost, workers_checked);
  gboolean good = lost == 0 && stress.failed == 0 && stress.unverified == 0
                  && (stress.ok == 0 || workers_checked > 0);
  stress_free (&stress);
  if (!good)
    return cli_fail (CMD, CLI_EXIT_ERROR, _("some files failed or were lost"));
  return CLI_EXIT_OK;
}
