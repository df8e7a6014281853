/* monitor-fake-source.c — a MonitorSource whose numbers move with the clock,
 * so the demo page visibly changes and every API field is filled. */
#include "monitor-fake-source.h"

#include "minka-compat.h"

struct _MonitorFakeSource {
  guint id;
  gint64 start_us;
  MonitorHistogram *append_latency;
  MonitorHistogram *fsync_latency;
  guint64 rss_bytes;          /* sampled at most once a second: reading */
  gint64 rss_sampled_us;      /* /proc costs more than the whole answer */
  JsonNode *files_cache;      /* rebuilt when the file count changes, as a */
  guint files_cache_n;        /* worker would when its catalog changes */
  JsonNode *events_cache;
  guint64 events_cache_key;
  char *digest;               /* of the current fake catalog */
  guint digest_n;
};

static const double latency_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25 };

MonitorFakeSource *
monitor_fake_source_new (guint worker_id)
{
  MonitorFakeSource *fake = g_new0 (MonitorFakeSource, 1);
  fake->id = worker_id;
  fake->start_us = g_get_monotonic_time ();
  fake->append_latency = monitor_histogram_new (latency_bounds, G_N_ELEMENTS (latency_bounds));
  fake->fsync_latency = monitor_histogram_new (latency_bounds, G_N_ELEMENTS (latency_bounds));
  return fake;
}

void
monitor_fake_source_free (MonitorFakeSource *fake)
{
  if (fake == NULL)
    return;
  monitor_histogram_free (fake->append_latency);
  monitor_histogram_free (fake->fsync_latency);
  g_clear_pointer (&fake->files_cache, json_node_unref);
  g_clear_pointer (&fake->events_cache, json_node_unref);
  g_free (fake->digest);
  g_free (fake);
}

static double
fake_elapsed (const MonitorFakeSource *fake)
{
  return (g_get_monotonic_time () - fake->start_us) / 1e6;
}

static guint64
fake_rss (MonitorFakeSource *fake)
{
  gint64 now = g_get_monotonic_time ();
  if (fake->rss_sampled_us == 0 || now - fake->rss_sampled_us >= G_USEC_PER_SEC)
    {
      fake->rss_bytes = minka_rss_bytes ();
      fake->rss_sampled_us = now;
    }
  return fake->rss_bytes;
}

static guint64 fake_term (double t) { return 1 + (guint64) (t / 20); }
static guint64 fake_commit (double t) { return 10 + (guint64) (t * 7); }
static guint fake_n_files (double t) { return 3 + (guint) (t / 5); }

/* The digest of a catalog of @n_files files (kept, as a worker keeps the
 * digest of its applied catalog). */
static const char *
fake_digest (MonitorFakeSource *fake, guint n_files)
{
  if (fake->digest == NULL || fake->digest_n != n_files)
    {
      g_autofree char *seed = g_strdup_printf ("catalog-%u", n_files);
      g_free (fake->digest);
      fake->digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, seed, -1);
      fake->digest_n = n_files;
    }
  return fake->digest;
}

static JsonNode *
fake_status (gpointer data)
{
  MonitorFakeSource *fake = data;
  double t = fake_elapsed (fake);
  guint64 commit = fake_commit (t);
  const char *digest = fake_digest (fake, fake_n_files (t));
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, fake->id);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, fake->id == 1 ? "leader" : "follower");
  json_builder_set_member_name (b, "term");
  json_builder_add_int_value (b, fake_term (t));
  json_builder_set_member_name (b, "leader");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "commit_index");
  json_builder_add_int_value (b, commit);
  json_builder_set_member_name (b, "applied_index");
  json_builder_add_int_value (b, commit - 1);
  json_builder_set_member_name (b, "last_index");
  json_builder_add_int_value (b, commit + 1);
  json_builder_set_member_name (b, "snapshot_index");
  json_builder_add_int_value (b, commit / 100 * 100);
  json_builder_set_member_name (b, "uptime_s");
  json_builder_add_int_value (b, (gint64) t);
  json_builder_set_member_name (b, "threads");
  json_builder_add_int_value (b, minka_cpu_count ());
  json_builder_set_member_name (b, "rss_bytes");
  json_builder_add_int_value (b, fake_rss (fake));
  json_builder_set_member_name (b, "catalog_digest");
  json_builder_add_string_value (b, digest);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
fake_peers (gpointer data)
{
  MonitorFakeSource *fake = data;
  double t = fake_elapsed (fake);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint id = 1; id <= 3; id++)
    {
      if (id == fake->id)
        continue;
      guint64 lag = (id == 3 && ((guint64) t / 10) % 2) ? 5 : 0;   /* peer 3 lags now and then */
      g_autofree char *address = g_strdup_printf ("10.0.0.%u:7400", id);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, id);
      json_builder_set_member_name (b, "address");
      json_builder_add_string_value (b, address);
      json_builder_set_member_name (b, "reachable");
      json_builder_add_boolean_value (b, lag == 0);
      json_builder_set_member_name (b, "match_index");
      json_builder_add_int_value (b, fake_commit (t) - lag);
      json_builder_set_member_name (b, "lag");
      json_builder_add_int_value (b, lag);
      json_builder_set_member_name (b, "last_contact_ms");
      json_builder_add_int_value (b, lag ? 1500 : 40);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

static void
fake_file (JsonBuilder *b, guint i, const char *prefix, const char *ext)
{
  g_autofree char *name = g_strdup_printf ("%s-%03u.%s", prefix, i, ext);
  g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  g_autoptr (GDateTime) created = g_date_time_new_from_unix_utc (1795000000 + i * 60);
  g_autofree char *iso = g_date_time_format_iso8601 (created);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, 100 + i);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, 1024 * (i + 1) * 37);
  json_builder_set_member_name (b, "sha256");
  json_builder_add_string_value (b, sha);
  json_builder_set_member_name (b, "created");
  json_builder_add_string_value (b, iso);
  json_builder_end_object (b);
}

static JsonNode *
fake_files_build (MonitorFakeSource *fake, guint n)
{
  const char *digest = fake_digest (fake, n);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "catalog_digest");
  json_builder_add_string_value (b, digest);
  json_builder_set_member_name (b, "files");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    fake_file (b, i, "dataset", "csv");
  json_builder_end_array (b);
  json_builder_set_member_name (b, "models");
  json_builder_begin_array (b);
  for (guint i = 0; i < n / 3; i++)
    fake_file (b, i, "model", "mlp");
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
fake_files (gpointer data)
{
  MonitorFakeSource *fake = data;
  guint n = fake_n_files (fake_elapsed (fake));
  if (fake->files_cache == NULL || fake->files_cache_n != n)
    {
      g_clear_pointer (&fake->files_cache, json_node_unref);
      fake->files_cache = fake_files_build (fake, n);
      fake->files_cache_n = n;
    }
  return json_node_ref (fake->files_cache);
}

static void
fake_entry (JsonBuilder *b, double when, const char *kind, const char *message)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc ((gint64) (1795000000 + when));
  g_autofree char *iso = g_date_time_format_iso8601 (time);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, iso);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, kind);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
}

static JsonNode *
fake_events_build (double t)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "events");
  json_builder_begin_array (b);
  for (guint64 term = fake_term (t); term >= 1 && term + 10 > fake_term (t); term--)
    {
      g_autofree char *msg = g_strdup_printf ("term %" G_GUINT64_FORMAT ": worker 1 elected leader", term);
      fake_entry (b, (double) (term - 1) * 20.0, "election", msg);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "requests");
  json_builder_begin_array (b);
  for (guint i = fake_n_files (t); i > 0 && i + 10 > fake_n_files (t); i--)
    {
      g_autofree char *msg = g_strdup_printf ("upload dataset-%03u.csv", i - 1);
      fake_entry (b, (i - 1) * 5.0, "upload", msg);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
fake_events (gpointer data)
{
  MonitorFakeSource *fake = data;
  double t = fake_elapsed (fake);
  guint64 key = fake_term (t) << 32 | fake_n_files (t);
  if (fake->events_cache == NULL || fake->events_cache_key != key)
    {
      g_clear_pointer (&fake->events_cache, json_node_unref);
      fake->events_cache = fake_events_build (t);
      fake->events_cache_key = key;
    }
  return json_node_ref (fake->events_cache);
}

static void
fake_metrics (MonitorMetrics *m, gpointer data)
{
  MonitorFakeSource *fake = data;
  double t = fake_elapsed (fake);
  static const char *const roles[] = { "leader", "follower", "candidate" };
  const char *role = fake->id == 1 ? "leader" : "follower";
  monitor_histogram_observe (fake->append_latency, 0.0004 + 0.001 * (fake_commit (t) % 7));
  monitor_histogram_observe (fake->fsync_latency, 0.002 + 0.003 * (fake_commit (t) % 5));
  monitor_metrics_gauge (m, "minka_raft_term", "Current Raft term.", NULL, fake_term (t));
  for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
    {
      const char *labels[] = { "role", roles[i], NULL };
      monitor_metrics_gauge (m, "minka_raft_role", "1 for this worker's current Raft role.",
                             labels, g_strcmp0 (role, roles[i]) == 0);
    }
  monitor_metrics_gauge (m, "minka_raft_commit_index", "Highest committed log index.", NULL, fake_commit (t));
  monitor_metrics_gauge (m, "minka_raft_applied_index", "Highest applied log index.", NULL, fake_commit (t) - 1);
  monitor_metrics_counter (m, "minka_raft_proposals_total", "Entries proposed on this worker.", NULL, fake_commit (t));
  monitor_metrics_counter (m, "minka_raft_commits_total", "Entries committed.", NULL, fake_commit (t));
  monitor_metrics_counter (m, "minka_raft_elections_total", "Elections started by this worker.", NULL, fake_term (t) - 1);
  monitor_metrics_histogram (m, "minka_raft_append_latency_seconds",
                             "Time from proposal to commit.", NULL, fake->append_latency);
  monitor_metrics_histogram (m, "minka_storage_fsync_latency_seconds",
                             "Duration of log fsync calls.", NULL, fake->fsync_latency);
  monitor_metrics_counter (m, "minka_net_bytes_in_total", "Bytes received from peers and clients.", NULL, t * 5e4);
  monitor_metrics_counter (m, "minka_net_bytes_out_total", "Bytes sent to peers and clients.", NULL, t * 8e4);
  monitor_metrics_gauge (m, "minka_files", "Files in the applied catalog.", NULL, fake_n_files (t));
  monitor_metrics_gauge (m, "minka_blob_bytes", "Bytes held in the blob store.", NULL, fake_n_files (t) * 37888.0);
  monitor_metrics_gauge (m, "minka_connections", "Open peer and client connections.", NULL, 2);
  monitor_metrics_gauge (m, "minka_process_rss_bytes", "Resident set size.", NULL, fake_rss (fake));
}

void
monitor_fake_source_bind (MonitorFakeSource *fake, MonitorSource *source)
{
  *source = (MonitorSource) {
    .status = fake_status, .peers = fake_peers, .files = fake_files,
    .events = fake_events, .jobs = NULL, .metrics = fake_metrics, .user_data = fake,
  };
}
