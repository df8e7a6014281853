/* raft-log.h — the Raft core's in-memory log: the entries after the last
 * snapshot, which of them are durable, and compaction behind a snapshot.
 * Pure data structure: no I/O. Index i lives at entries[i - offset - 1]
 * where offset is the snapshot index. */
#pragma once

#include "raft-types.h"

G_BEGIN_DECLS

typedef struct {
  guint64 snap_index;                /* last index covered by the snapshot */
  guint64 snap_term;                 /* its term */
  GArray *entries;                   /* RaftEntry, indexes snap_index+1.. */
  guint64 committed;                 /* highest index known committed */
  guint64 applied;                   /* highest index handed out to apply */
  guint64 unstable;                  /* first index not yet handed out to persist */
} RaftLog;

void raft_log_init (RaftLog *log, guint64 snap_index, guint64 snap_term);
void raft_log_clear (RaftLog *log);

guint64 raft_log_first_index (const RaftLog *log);
guint64 raft_log_last_index (const RaftLog *log);
guint64 raft_log_last_term (const RaftLog *log);
/* Term of index; FALSE when the index is compacted away or past the end.
 * The snapshot index itself has a known term. */
gboolean raft_log_term (const RaftLog *log, guint64 index, guint64 *term);
guint64 raft_log_term_or_zero (const RaftLog *log, guint64 index);
const RaftEntry *raft_log_get (const RaftLog *log, guint64 index);
gboolean raft_log_matches (const RaftLog *log, guint64 index, guint64 term);
gboolean raft_log_is_up_to_date (const RaftLog *log, guint64 last_index, guint64 last_term);

/* Appends a copy; entry->index must be last_index + 1. */
void raft_log_append (RaftLog *log, const RaftEntry *entry);
/* Drops every entry after index (index >= snap_index). */
void raft_log_truncate_after (RaftLog *log, guint64 index);
/* Appends entries after prev_index, truncating a conflicting suffix.
 * Returns the first index that changed (0 when nothing changed). */
guint64 raft_log_merge (RaftLog *log, const RaftEntry *entries, guint n);
/* Largest index <= index whose term is <= term (fast backtracking). */
guint64 raft_log_find_conflict_by_term (const RaftLog *log, guint64 index, guint64 term);

/* Forgets entries up to index (which must be in the log or be the snapshot). */
void raft_log_compact (RaftLog *log, guint64 index, guint64 term);
/* Replaces everything with an installed snapshot. */
void raft_log_restore (RaftLog *log, guint64 snap_index, guint64 snap_term);
gboolean raft_log_commit_to (RaftLog *log, guint64 index);

G_END_DECLS
