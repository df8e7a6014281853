/* raft.h — the Raft consensus core as a pure state machine (no sockets,
 * files, clock or global state). Drive it with raft_node_tick(),
 * raft_node_step() and raft_node_propose(); collect a RaftReady with
 * raft_node_ready(), handle it (persist, then send, then apply) and call
 * raft_node_advance(). See docs/raft.md for the full contract. */
#pragma once

#include "raft-types.h"
#include "raft-message.h"

G_BEGIN_DECLS

typedef enum {
  RAFT_ROLE_FOLLOWER,
  RAFT_ROLE_PRE_CANDIDATE,
  RAFT_ROLE_CANDIDATE,
  RAFT_ROLE_LEADER,
} RaftRole;

typedef struct {
  RaftNodeId id;
  guint election_ticks;              /* T: timeout is random in [T, 2T); default 10 */
  guint heartbeat_ticks;             /* default 1; must be < election_ticks */
  guint64 seed;                      /* PRNG seed for election timeouts */
  guint max_entries_per_msg;         /* default 64 */
  gsize max_bytes_per_msg;           /* default 1 MiB (at least one entry is sent) */
  guint max_inflight;                /* appends in flight per follower; default 16 */
} RaftOptions;

/* What a node hands back after it changed: see docs/raft.md "Ready". */
typedef struct {
  guint64 context;                   /* the caller's read request */
  guint64 index;                     /* serve the read once applied >= index */
} RaftReadState;

typedef struct {
  RaftRole role;                     /* current role and leader (not persisted) */
  RaftNodeId leader;
  gboolean has_hard_state;           /* 1. persist hard_state if set */
  RaftHardState hard_state;
  RaftSnapshotMeta *snapshot;        /* 2. install the received snapshot (NULL: none) */
  RaftEntry *entries;                /* 3. persist: replace the log from entries[0].index */
  guint n_entries;
  RaftMessage *messages;             /* 4. send (after 1-3 are durable) */
  guint n_messages;
  RaftEntry *committed;              /* 5. apply in order */
  guint n_committed;
  RaftReadState *read_states;        /* 6. answer reads once applied >= index */
  guint n_read_states;
} RaftReady;

typedef enum {
  RAFT_CONFIG_ADD,
  RAFT_CONFIG_REMOVE,
} RaftConfigChangeType;

typedef struct _RaftNode RaftNode;

void raft_options_init (RaftOptions *options, RaftNodeId id);

/* Builds a node from what storage holds: hard state (NULL: none), the
 * latest snapshot meta (NULL or index 0 with the bootstrap config for a
 * fresh cluster; an empty config for a node waiting to be added) and the
 * log entries after the snapshot, in order. */
RaftNode *raft_node_new (const RaftOptions *options, const RaftHardState *hard_state,
                         const RaftSnapshotMeta *snapshot, const RaftEntry *entries,
                         guint n_entries, GError **error);
void raft_node_free (RaftNode *node);

void raft_node_tick (RaftNode *node);
/* Takes a message received from a peer. Invalid messages are refused. */
gboolean raft_node_step (RaftNode *node, const RaftMessage *msg, GError **error);
/* Leader only: appends data as a NORMAL entry; *index_out gets its index. */
gboolean raft_node_propose (RaftNode *node, GBytes *data, guint64 *index_out, GError **error);
/* Leader only, one at a time, after the leader has committed in its term. */
gboolean raft_node_propose_config_change (RaftNode *node, RaftConfigChangeType type,
                                          RaftNodeId id, const char *address,
                                          guint64 *index_out, GError **error);
/* Linearizable read: a RaftReadState with this context appears in a later
 * Ready. On a follower the request is forwarded to the leader (and may be
 * lost: retry after a timeout). */
gboolean raft_node_read_index (RaftNode *node, guint64 context, GError **error);
gboolean raft_node_transfer_leadership (RaftNode *node, RaftNodeId target, GError **error);
/* Force an election now (PreVote first), e.g. for a single operator action. */
void raft_node_campaign (RaftNode *node);

/* The application took a snapshot covering index (<= applied): the core
 * forgets the entries up to it and serves this snapshot to laggards. */
gboolean raft_node_compact (RaftNode *node, guint64 index, GError **error);
/* Leader: the snapshot stream to peer finished (success) or failed. */
void raft_node_report_snapshot (RaftNode *node, RaftNodeId peer, gboolean success);
/* Leader: the transport could not reach peer; stop pipelining to it. */
void raft_node_report_unreachable (RaftNode *node, RaftNodeId peer);

gboolean raft_node_has_ready (RaftNode *node);
/* The batch to handle; owned by the node, valid until raft_node_advance(). */
const RaftReady *raft_node_ready (RaftNode *node);
void raft_node_advance (RaftNode *node);

/* Inspection. */
RaftNodeId raft_node_id (const RaftNode *node);
RaftRole raft_node_role (const RaftNode *node);
RaftNodeId raft_node_leader (const RaftNode *node);
guint64 raft_node_term (const RaftNode *node);
guint64 raft_node_commit_index (const RaftNode *node);
guint64 raft_node_applied_index (const RaftNode *node);
guint64 raft_node_last_index (const RaftNode *node);
guint64 raft_node_snapshot_index (const RaftNode *node);
/* The latest snapshot (what raft_node_compact() recorded or a leader sent):
 * storage writes this meta with the snapshot file. */
const RaftSnapshotMeta *raft_node_snapshot_meta (const RaftNode *node);
/* Term of a log index (0 if unknown or compacted). */
guint64 raft_node_log_term (const RaftNode *node, guint64 index);
/* The entry at index, or NULL if compacted or beyond the log. */
const RaftEntry *raft_node_log_entry (const RaftNode *node, guint64 index);
const RaftConfig *raft_node_config (const RaftNode *node);
/* Leader: a follower's match index (0 if unknown). */
guint64 raft_node_peer_match (const RaftNode *node, RaftNodeId peer);
/* Leader: a follower's replication progress (for monitors and debugging);
 * state is "probe", "replicate" or "snapshot". FALSE if unknown. */
gboolean raft_node_peer_info (const RaftNode *node, RaftNodeId peer, guint64 *match,
                              guint64 *next, const char **state);
const char *raft_role_name (RaftRole role);

G_END_DECLS
