/* minka-worker-main.c — the minka-worker daemon: options, logging, the
 * main loop, and a clean stop on Ctrl-C / termination. */
#include "config.h"
#include "minka-worker.h"
#include "minka-compat.h"

#include <locale.h>
#include <stdlib.h>
#include <glib/gi18n-lib.h>

/* What a worker may hold open at once: 1,024 connections, 4,096 uploads,
 * and log segments, downloads and the monitor's connections. */
#define WORKER_FILE_LIMIT 16384
#define WORKER_FILE_LIMIT_LOW 6144

typedef struct {
  GMainLoop *loop;
  MinkaWorker *worker;
  guint signals;
} Daemon;

static gboolean
on_quit (gpointer user_data)
{
  Daemon *daemon = user_data;
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_terminate (gpointer user_data)
{
  Daemon *daemon = user_data;
  if (++daemon->signals > 1)
    {
      g_main_loop_quit (daemon->loop);      /* a second Ctrl-C: stop now */
      return G_SOURCE_CONTINUE;
    }
  g_message (_("Stopping…"));
  minka_worker_shutdown (daemon->worker);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *config_path = NULL, *name = NULL, *data_dir = NULL;
  int threads = 0, snapshot_every = 0, slow_disk_ms = 0, gc_interval_ms = 0;
  gboolean join = FALSE, no_sync = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, N_("Cluster description (CLUSTER.ini)"), N_("FILE") },
    { "id", 'i', 0, G_OPTION_ARG_STRING, &name, N_("This worker's name in the config"), N_("NAME") },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, N_("Where to keep the log, snapshots and files (default: ./data-NAME)"), N_("DIR") },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, N_("Training threads (default: every core)"), N_("N") },
    { "join", 0, 0, G_OPTION_ARG_NONE, &join, N_("Start outside the cluster and wait to be added (minka cluster add)"), NULL },
    { "snapshot-every", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &snapshot_every, "Entries between snapshots", "N" },
    { "no-sync", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &no_sync, "Skip fsync (tests only: loses data on power failure)", NULL },
    { "test-slow-disk-ms", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &slow_disk_ms, "Delay each small-file write (tests only)", "MS" },
    { "test-gc-interval-ms", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &gc_interval_ms, "Period and grace of the orphaned-blob collector (tests only; default 10 minutes)", "MS" },
    G_OPTION_ENTRY_NULL
  };

  setlocale (LC_ALL, "");
  minka_console_use_utf8 ();
  bindtextdomain (GETTEXT_PACKAGE, minka_locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_autoptr (GOptionContext) context = g_option_context_new (_("— run one Minka worker"));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("minka-worker: %s\n", error->message);
      return 2;
    }
  if (!config_path || !name)
    {
      g_printerr (_("minka-worker: --config and --id are required (see --help)\n"));
      return 2;
    }
  if (threads < 0 || snapshot_every < 0 || slow_disk_ms < 0 || gc_interval_ms < 0)
    {
      g_printerr (_("minka-worker: --threads and --snapshot-every cannot be negative\n"));
      return 2;
    }

  /* Linux's default soft limit of 1024 descriptors is too few (above). */
  guint64 file_limit = minka_raise_file_limit (WORKER_FILE_LIMIT);
  if (file_limit != 0 && file_limit < WORKER_FILE_LIMIT_LOW)
    g_warning ("only %" G_GUINT64_FORMAT " files may be open at once (ulimit -n): "
               "under many connections some will be refused", file_limit);

  g_autoptr (MinkaClusterConfig) config = minka_cluster_config_load (config_path, &error);
  if (!config)
    {
      g_printerr ("minka-worker: %s\n", error->message);
      return 1;
    }
  MinkaWorkerOptions options = {
    .data_dir = data_dir,
    .threads = (guint) threads,
    .join = join,
    .snapshot_every = (guint) snapshot_every,
    .no_sync = no_sync,
    .slow_disk_ms = (guint) slow_disk_ms,
    .gc_interval_ms = (guint) gc_interval_ms,
  };
  Daemon daemon = { 0 };
  daemon.worker = minka_worker_new (config, name, &options, &error);
  if (!daemon.worker)
    {
      g_printerr ("minka-worker: %s\n", error->message);
      return 1;
    }
  daemon.loop = g_main_loop_new (NULL, FALSE);
  minka_on_terminate (on_terminate, &daemon);
  minka_worker_start (daemon.worker, on_quit, &daemon);
  g_main_loop_run (daemon.loop);
  minka_worker_free (daemon.worker);
  g_main_loop_unref (daemon.loop);
  return 0;
}
