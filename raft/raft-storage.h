/* raft-storage.h — the crash-safe Raft log store of one node: segmented
 * log files with CRC'd records, the two-slot hard state and snapshot files,
 * all in one directory; recovery at open. This is the synchronous API (used
 * at start-up, in tests, and by the writer thread, see raft-writer.h). A
 * RaftStorage is not thread-safe: one thread uses it at a time.
 *
 * Errors: RAFT_ERROR_NO_SPACE (disk full; the log is as it was before the
 * failed call, a later call may retry), RAFT_ERROR_IO (any other failure;
 * if the on-disk state became uncertain, e.g. fsync failed, the storage
 * refuses every further write until reopened), RAFT_ERROR_CORRUPT and
 * RAFT_ERROR_DATA_LOSS (open only), RAFT_ERROR_INVALID (bad arguments). */
#pragma once

#include <glib.h>
#include "raft-types.h"

G_BEGIN_DECLS

typedef struct _RaftStorage RaftStorage;

typedef struct {
  guint64 segment_size;      /* close the open segment past this many bytes; 0: 8 MiB */
  gboolean no_sync;          /* skip every fsync (tests and benchmarks only) */
  guint64 byte_limit;        /* test hook: the log files may hold at most this many
                                bytes, a write past it is cut short and fails with
                                G_FILE_ERROR_NOSPC as on a full disk; 0: no limit */
  guint64 prealloc_step;     /* zero-fill the open segment up to this far ahead of the
                                write position, so appends overwrite allocated, durable
                                bytes (fdatasync then skips the journal); 0: 1 MiB */
  gboolean no_prealloc;      /* grow the open segment with every append instead
                                (benchmarks' baseline) */
} RaftStorageOptions;

/* What open found on disk. */
typedef struct {
  RaftHardState hard_state;
  RaftSnapshotMeta snapshot;   /* index 0: no snapshot */
  char *snapshot_path;         /* NULL: no snapshot */
  GArray *entries;             /* RaftEntry with index > snapshot.index, in order */
  GPtrArray *repairs;          /* char*: each problem found and its repair (file, offset, indexes) */
} RaftStorageRecovery;

typedef struct {
  guint64 appends;             /* successful append calls (each one write + one fsync) */
  guint64 entries;             /* entries appended */
  guint64 bytes;               /* record bytes appended */
  guint64 fsyncs;              /* fsyncs of segment files */
  guint64 dir_fsyncs;          /* fsyncs of the directory */
  guint64 hard_state_saves;
  guint64 fsync_usec;          /* total time spent in segment fsyncs */
  guint64 prealloc_bytes;      /* zero bytes written ahead of the write position */
  guint64 recycled;            /* open segments made from a compacted one */
  guint64 prealloc_fsyncs;     /* fsyncs made off the append path (zero fills made
                                  durable by raft_storage_prepare, segment closes) */
  /* Gauges: disk space now held by the log segments (preallocated tails
   * included) and by the compacted segments kept as spares. */
  guint64 log_bytes;
  guint64 spare_bytes;
} RaftStorageStats;

void raft_storage_recovery_clear (RaftStorageRecovery *recovery);

/* Opens (creating if needed) the store in @dir and recovers it; see
 * docs/raft-storage.md for the procedure. @options may be NULL. */
RaftStorage *raft_storage_open (const char *dir, const RaftStorageOptions *options,
                                RaftStorageRecovery *recovery, GError **error);
void raft_storage_close (RaftStorage *storage);

/* Appends @n entries (indexes must follow the last one), writes them with
 * one write and makes them durable with one fsync. The write normally
 * overwrites preallocated zeros; when it has to grow the file, zeros up to
 * prealloc_step beyond it are written before that same fsync. */
gboolean raft_storage_append (RaftStorage *storage, const RaftEntry *entries, guint n,
                              GError **error);
/* Work that would otherwise fall on the next append, done ahead of it, one
 * bounded step per call: closes a full open segment (cut to its last
 * record, fsynced, renamed), creates the next one, zero-fills at most
 * 256 KiB towards prealloc_step ahead of the write position and fsyncs
 * that. The writer thread calls it while its queue is empty, until
 * raft_storage_prepared(). Failing is not fatal (a full disk only means
 * appends grow the file again); an append reports what really matters. */
gboolean raft_storage_prepare (RaftStorage *storage, GError **error);
/* TRUE when raft_storage_prepare has nothing left to do. */
gboolean raft_storage_prepared (RaftStorage *storage);
/* Removes entries with index >= @from_index (conflicting suffix). Refuses
 * to remove entries at or below the snapshot or the stored commit index. */
gboolean raft_storage_truncate_suffix (RaftStorage *storage, guint64 from_index,
                                       GError **error);
gboolean raft_storage_save_hard_state (RaftStorage *storage, const RaftHardState *state,
                                       GError **error);
/* Records that a snapshot file for @snapshot is committed (write it first
 * with raft_snapshot_writer_*), then drops whole closed segments whose
 * entries are all covered by it. If the log does not hold @snapshot's
 * index with its term, the whole log is discarded and the next append
 * starts at snapshot->index + 1. */
gboolean raft_storage_compact (RaftStorage *storage, const RaftSnapshotMeta *snapshot,
                               GError **error);

/* Reads entries [@lo, @hi] from disk into @out (RaftEntry). */
gboolean raft_storage_read (RaftStorage *storage, guint64 lo, guint64 hi, GArray *out,
                            GError **error);

guint64 raft_storage_last_index (RaftStorage *storage);
/* First index readable from the log files (snapshot index + 1 if empty). */
guint64 raft_storage_first_index (RaftStorage *storage);
/* Term of @index if it is in the log or is the snapshot's index. */
gboolean raft_storage_term (RaftStorage *storage, guint64 index, guint64 *term);
const RaftHardState *raft_storage_hard_state (RaftStorage *storage);
const RaftSnapshotMeta *raft_storage_snapshot (RaftStorage *storage);
const char *raft_storage_dir (RaftStorage *storage);
guint raft_storage_n_segments (RaftStorage *storage);
RaftStorageStats raft_storage_get_stats (RaftStorage *storage);
/* Test hook: changes the simulated disk size (0: unlimited). */
void raft_storage_set_byte_limit (RaftStorage *storage, guint64 limit);
/* Test hook: make segment fsyncs fail (as after an I/O error). */
void raft_storage_set_fail_sync (RaftStorage *storage, gboolean fail);

G_END_DECLS
