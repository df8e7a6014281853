/* raft-progress.h — what a leader knows about one follower's log: match and
 * next index, the replication state (probe, pipelined replicate, waiting for
 * a snapshot) and the bounded window of AppendEntries in flight. */
#pragma once

#include "raft-types.h"

G_BEGIN_DECLS

typedef enum {
  RAFT_PROGRESS_PROBE,               /* one append at a time until a match is found */
  RAFT_PROGRESS_REPLICATE,           /* pipelined appends, window-bounded */
  RAFT_PROGRESS_SNAPSHOT,            /* a snapshot is being streamed */
} RaftProgressState;

#define RAFT_PROGRESS_MAX_WINDOW 256

typedef struct {
  RaftNodeId id;
  RaftProgressState state;
  guint64 match;                     /* highest index known replicated */
  guint64 next;                      /* next index to send */
  guint64 pending_snapshot;          /* snapshot index being sent */
  gboolean probe_sent;               /* PROBE: an append is outstanding */
  gboolean recent_active;            /* heard from within an election timeout */
  guint64 read_ack;                  /* highest ReadIndex round it acknowledged */
  /* In-flight window: last index of each unacknowledged append (ring). */
  guint64 inflight[RAFT_PROGRESS_MAX_WINDOW];
  guint inflight_start, inflight_count, inflight_max;
} RaftProgress;

void raft_progress_init (RaftProgress *pr, RaftNodeId id, guint64 next, guint window);
void raft_progress_become_probe (RaftProgress *pr);
void raft_progress_become_replicate (RaftProgress *pr);
void raft_progress_become_snapshot (RaftProgress *pr, guint64 snapshot_index);
/* An acknowledgement up to index; FALSE if it told us nothing new. */
gboolean raft_progress_update (RaftProgress *pr, guint64 index);
/* A rejection of an append at rejected; next_hint is where to try next.
 * FALSE when the rejection is stale. */
gboolean raft_progress_decrease (RaftProgress *pr, guint64 rejected, guint64 next_hint);
/* Records that an append ending at last was sent. */
void raft_progress_sent (RaftProgress *pr, guint64 last, guint n_entries);
gboolean raft_progress_is_paused (const RaftProgress *pr);
gboolean raft_progress_window_full (const RaftProgress *pr);
void raft_progress_free_to (RaftProgress *pr, guint64 index);
void raft_progress_free_first (RaftProgress *pr);
const char *raft_progress_state_name (RaftProgressState state);

G_END_DECLS
