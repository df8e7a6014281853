/* raft-writer.h — runs a RaftStorage on its own thread so disk writes
 * never block the caller's main loop. Operations are queued and take
 * effect in submission order; consecutive queued appends are merged into
 * one write and one fsync (group commit). Completion is reported on the
 * GMainContext that was thread-default when the writer was created. */
#pragma once

#include <glib.h>
#include "raft-types.h"
#include "raft-storage.h"

G_BEGIN_DECLS

typedef struct _RaftWriter RaftWriter;

typedef struct {
  guint64 seq;               /* every operation up to this one has finished */
  guint64 last_index;        /* durable last log index after it */
  const GError *error;       /* NULL, or why the operation(s) in this report failed */
} RaftWriterResult;

/* Called in the creator's main context, in order, once per finished group
 * of operations (a group is a merged run of appends, or one other op). */
typedef void (*RaftWriterDoneFunc) (const RaftWriterResult *result, gpointer user_data);

typedef struct {
  guint64 ops_submitted;
  guint64 ops_done;
  guint64 groups;            /* groups of operations executed */
  RaftStorageStats storage;  /* as of the last finished group */
} RaftWriterStats;

/* Takes ownership of @storage. @done may be NULL. */
RaftWriter *raft_writer_new (RaftStorage *storage, RaftWriterDoneFunc done, gpointer user_data);
/* Each returns the operation's sequence number (1, 2, ...). Entries and
 * their data are referenced, not copied. */
guint64 raft_writer_append (RaftWriter *writer, const RaftEntry *entries, guint n);
guint64 raft_writer_truncate_suffix (RaftWriter *writer, guint64 from_index);
guint64 raft_writer_save_hard_state (RaftWriter *writer, const RaftHardState *state);
guint64 raft_writer_compact (RaftWriter *writer, const RaftSnapshotMeta *snapshot);
/* Blocks until every operation submitted so far has finished (the
 * reports may still be waiting in the main context). */
void raft_writer_flush (RaftWriter *writer);
/* While held, the thread starts no new work (tests use it to queue ops;
 * do not flush while held). */
void raft_writer_hold (RaftWriter *writer, gboolean hold);
RaftWriterStats raft_writer_get_stats (RaftWriter *writer);
/* Finishes the queue, stops the thread, closes the storage. Reports not
 * yet delivered are dropped. */
void raft_writer_free (RaftWriter *writer);

G_END_DECLS
