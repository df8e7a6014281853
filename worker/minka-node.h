/* minka-node.h — drives the pure Raft core for a worker: ticks it from a
 * GLib timer, steps received messages, and handles each Ready in order —
 * persist through the writer thread, then send, then apply — so the main
 * loop never waits on the disk. Work that arrives while a Ready is being
 * persisted is queued and handed to the core right after (which batches
 * many proposals into one fsync). */
#pragma once

#include <glib.h>
#include "raft.h"
#include "raft-storage.h"

G_BEGIN_DECLS

typedef struct _MinkaNode MinkaNode;

typedef struct {
  /* Send one message to a peer (best effort: Raft retries). */
  void (*send) (gpointer user_data, const RaftMessage *msg);
  /* Apply one committed NORMAL entry; the returned pointer is handed to the
   * proposal's waiter (if any) and then to @free_result. */
  gpointer (*apply) (gpointer user_data, const RaftEntry *entry);
  void (*free_result) (gpointer result);
  /* A CONFIG entry was applied, or a snapshot installed: membership changed. */
  void (*config_changed) (gpointer user_data, const RaftConfig *config);
  /* Follower: make the received snapshot at @meta the state (catalog
   * restore); return FALSE if it cannot (the node then stops). */
  gboolean (*install_snapshot) (gpointer user_data, const RaftSnapshotMeta *meta);
  /* Role or leader changed. */
  void (*role_changed) (gpointer user_data, RaftRole role, RaftNodeId leader);
  /* Storage failed (disk full, I/O error): the node stops. */
  void (*fatal) (gpointer user_data, const GError *error);
  /* Optional measurements: how long each Ready took to become durable
   * (write + fsync), and each proposal from propose to applied. */
  void (*persisted) (gpointer user_data, double seconds);
  void (*proposal_done) (gpointer user_data, double seconds);
} MinkaNodeCallbacks;

typedef struct {
  guint tick_ms;               /* default 10 */
  guint election_ticks;        /* default 15: timeout 150-300 ms */
  guint heartbeat_ticks;       /* default 3 */
  gboolean no_sync;            /* tests only */
} MinkaNodeOptions;

/* Called once the proposal is applied (@error NULL, @result from apply) or
 * lost to a leader change (@error set). */
typedef void (*MinkaProposalDone) (gpointer user_data, const GError *error, gpointer result);

/* Opens the log in @dir and builds the core from what it holds. With no
 * log on disk, @bootstrap (may be NULL: wait to be added) is the initial
 * membership. The recovery report (what was repaired) is logged. */
MinkaNode *minka_node_new (RaftNodeId id, const char *dir, const RaftConfig *bootstrap,
                           const MinkaNodeOptions *options,
                           const MinkaNodeCallbacks *callbacks, gpointer user_data,
                           char **snapshot_path_out, GError **error);
void minka_node_free (MinkaNode *node);

/* Starts ticking (after the application restored its snapshot). */
void minka_node_start (MinkaNode *node);

void minka_node_step (MinkaNode *node, const RaftMessage *msg);
/* Leader only; queues when a Ready is out. FALSE + error when not leader. */
gboolean minka_node_propose (MinkaNode *node, GBytes *data,
                             MinkaProposalDone done, gpointer user_data, GError **error);
gboolean minka_node_propose_config (MinkaNode *node, RaftConfigChangeType type,
                                    RaftNodeId id, const char *address,
                                    MinkaProposalDone done, gpointer user_data,
                                    GError **error);
gboolean minka_node_transfer_leadership (MinkaNode *node, RaftNodeId target);
void minka_node_report_snapshot (MinkaNode *node, RaftNodeId peer, gboolean success);
void minka_node_report_unreachable (MinkaNode *node, RaftNodeId peer);

/* The application wrote a snapshot file covering @meta (index <= applied):
 * record it in storage and let the core drop older entries. */
void minka_node_snapshot_taken (MinkaNode *node, const RaftSnapshotMeta *meta);

RaftNode *minka_node_raft (MinkaNode *node);     /* read-only inspection */
guint64 minka_node_applied_index (MinkaNode *node);
const char *minka_node_dir (MinkaNode *node);
RaftStorageStats minka_node_storage_stats (MinkaNode *node);
guint64 minka_node_n_proposals (MinkaNode *node);

G_END_DECLS
