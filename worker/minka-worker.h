/* minka-worker.h — one Minka worker: Raft node, replicated catalog, blob
 * store, peer links and the client/peer server, wired together on the
 * GLib main loop. */
#pragma once

#include <glib.h>
#include "minka-config.h"

G_BEGIN_DECLS

typedef struct _MinkaWorker MinkaWorker;

typedef struct {
  const char *data_dir;         /* default ./data-<name> */
  guint threads;                /* training threads (0 = all cores) */
  gboolean join;                /* start outside the membership, wait to be added */
  guint snapshot_every;         /* entries between snapshots; default 4096 */
  gboolean no_sync;             /* tests only: skip fsync */
  guint slow_disk_ms;           /* tests only: each small-file write waits this long */
  guint gc_interval_ms;         /* between sweeps for orphaned blobs, also their grace
                                 * period; 0 = 10 minutes (tests use less) */
} MinkaWorkerOptions;

MinkaWorker *minka_worker_new (MinkaClusterConfig *config, const char *name,
                               const MinkaWorkerOptions *options, GError **error);
/* Starts serving; @quit runs when the worker must stop (fatal error, or
 * after a clean shutdown). */
void minka_worker_start (MinkaWorker *worker, GSourceFunc quit, gpointer quit_data);
/* Clean shutdown: a leader first hands leadership to an up-to-date peer. */
void minka_worker_shutdown (MinkaWorker *worker);
void minka_worker_free (MinkaWorker *worker);

G_END_DECLS
