/* bench-catalog.c — the replicated catalog at scale: catalogs of 10k, 100k
 * and 1M files built through the real command path (put_file command +
 * apply), then, as name=value lines: apply time per file, snapshot
 * serialisation, restore, blob_in_use per call, and the main-loop stall of
 * taking a snapshot (the capture) against the full serialisation measured
 * in the same run. MINKA_BENCH_CATALOG_SIZES (comma-separated) overrides
 * the sizes. */
#include <string.h>
#include <stdlib.h>

#include "minka-catalog.h"

static double
now_s (void)
{
  return (double) g_get_monotonic_time () / 1e6;
}

/* More clients than the catalog keeps sessions for: a full session table. */
#define N_CLIENTS 5000

/* Half as many distinct blobs as files, names repeating every 1000 files:
 * shared shas and repeated names, as with real uploads of small files. */
static void
fake_sha (guint i, char sha[65])
{
  g_autofree char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                                      (const guchar *) &i, sizeof i);
  memcpy (sha, hex, 65);
}

static MinkaCatalog *
build_catalog (guint n_files, double *apply_s)
{
  MinkaCatalog *catalog = minka_catalog_new ();
  guint64 holders[] = { 1, 2, 3 };
  double apply = 0;
  for (guint i = 0; i < n_files; i++)
    {
      char sha[65], name[32];
      fake_sha (i / 2, sha);
      char client[32];
      g_snprintf (name, sizeof name, "file-%u.bin", i % 1000);
      g_snprintf (client, sizeof client, "client-%u", i % N_CLIENTS);
      g_autoptr (GBytes) cmd = minka_catalog_command_put_file (client, i / N_CLIENTS + 1, name,
                                                               4096 + i % 100, sha,
                                                               1700000000000 + i,
                                                               holders, 3, NULL);
      MinkaCatalogResult result;
      double t0 = now_s ();
      minka_catalog_apply (catalog, i + 1, cmd, &result);
      apply += now_s () - t0;
      if (!result.ok)
        g_error ("apply failed: %s", result.error_message);
      minka_catalog_result_clear (&result);
    }
  *apply_s = apply;
  return catalog;
}

static void
bench_size (guint n)
{
  double apply_s = 0;
  g_autoptr (MinkaCatalog) catalog = build_catalog (n, &apply_s);
  g_print ("files=%u\n", n);
  g_print ("apply_us_per_file_%u=%.3f\n", n, apply_s * 1e6 / n);

  double t0 = now_s ();
  g_autoptr (GBytes) snapshot = minka_catalog_snapshot (catalog);
  double snapshot_s = now_s () - t0;
  g_print ("snapshot_ms_%u=%.2f\n", n, snapshot_s * 1e3);
  g_print ("snapshot_bytes_%u=%" G_GSIZE_FORMAT "\n", n, g_bytes_get_size (snapshot));
  g_autofree char *snap_sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, snapshot);
  g_print ("snapshot_sha256_%u=%s\n", n, snap_sha);

  /* The stall: what the main loop pays, then the rest runs on a thread. */
  t0 = now_s ();
  MinkaCatalogCapture *capture = minka_catalog_capture (catalog);
  double capture_s = now_s () - t0;
  t0 = now_s ();
  g_autoptr (GBytes) serialised = minka_catalog_capture_serialize (capture);
  double serialise_s = now_s () - t0;
  t0 = now_s ();
  minka_catalog_capture_free (capture);
  double release_s = now_s () - t0;
  if (!g_bytes_equal (serialised, snapshot))
    g_error ("the captured snapshot differs from the direct one");
  g_print ("capture_stall_ms_%u=%.2f\n", n, capture_s * 1e3);
  g_print ("capture_serialise_ms_%u=%.2f\n", n, serialise_s * 1e3);
  g_print ("capture_release_ms_%u=%.2f\n", n, release_s * 1e3);
  g_print ("stall_ratio_vs_snapshot_%u=%.4f\n", n, capture_s / snapshot_s);

  g_autoptr (MinkaCatalog) restored = minka_catalog_new ();
  g_autoptr (GError) error = NULL;
  t0 = now_s ();
  if (!minka_catalog_restore (restored, snapshot, &error))
    g_error ("restore failed: %s", error->message);
  g_print ("restore_ms_%u=%.2f\n", n, (now_s () - t0) * 1e3);
  if (strcmp (minka_catalog_digest (restored), minka_catalog_digest (catalog)) != 0)
    g_error ("restored digest differs");

  /* Half the calls hit a blob in use, half miss (the worst case of a scan). */
  enum { CALLS = 1000 };
  static char shas[CALLS][65];
  for (guint i = 0; i < CALLS; i++)
    fake_sha (i % 2 ? n + i : (i * 7919u) % (n / 2), shas[i]);
  guint calls = CALLS, in_use = 0;
  t0 = now_s ();
  for (guint i = 0; i < calls; i++)
    in_use += minka_catalog_blob_in_use (catalog, shas[i]);
  double blob_s = now_s () - t0;
  if (in_use != calls / 2)
    g_error ("blob_in_use: %u of %u in use, expected half", in_use, calls);
  g_print ("blob_in_use_us_%u=%.3f\n", n, blob_s * 1e6 / calls);
}

int
main (void)
{
  const char *env = g_getenv ("MINKA_BENCH_CATALOG_SIZES");
  g_auto (GStrv) sizes = g_strsplit (env ? env : "10000,100000,1000000", ",", -1);
  for (guint i = 0; sizes[i]; i++)
    {
      guint n = (guint) g_ascii_strtoull (sizes[i], NULL, 10);
      if (n >= 2)
        bench_size (n);
    }
  return 0;
}
