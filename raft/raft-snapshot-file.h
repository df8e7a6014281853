/* raft-snapshot-file.h — snapshot files, streamed in and out in chunks
 * (never held whole in memory), written under a temporary name and made
 * durable by fsync + rename + directory fsync, checked by CRC32-C.
 *
 * Layout, little-endian:
 *   0 u8[8] magic "MKSNAP01"     8 u32 version (1)   12 u32 config length C
 *  16 u64 index                 24 u64 term
 *  32 u32 CRC32-C of bytes 0..31 (lets a reader trust the header early)
 *  36 u32 reserved (0)
 *  40 config (raft_config_encode, C bytes)
 *  40+C data (the application's snapshot bytes, D bytes)
 *  then the 16-byte trailer: u64 D, u32 magic "MKSE",
 *       u32 CRC32-C of every byte of the file before this field.
 * Final name "snapshot-<index 20 digits>.snap"; while being written
 * "snapshot-<index>.<random>.tmp". */
#pragma once

#include <glib.h>
#include "raft-types.h"

G_BEGIN_DECLS

#define RAFT_SNAPSHOT_HEADER_SIZE 40
#define RAFT_SNAPSHOT_TRAILER_SIZE 16

typedef struct _RaftSnapshotWriter RaftSnapshotWriter;
typedef struct _RaftSnapshotReader RaftSnapshotReader;

/* Starts a snapshot file for @meta in @dir (created if missing). */
RaftSnapshotWriter *raft_snapshot_writer_new (const char *dir, const RaftSnapshotMeta *meta,
                                              GError **error);
gboolean raft_snapshot_writer_write (RaftSnapshotWriter *writer, const void *data, gsize len,
                                     GError **error);
/* Writes the trailer, fsyncs, renames to the final name, fsyncs the
 * directory, then deletes older snapshot files in @dir. Frees @writer in
 * all cases (on failure the temporary file is removed). @path_out
 * (optional) receives the final path. */
gboolean raft_snapshot_writer_commit (RaftSnapshotWriter *writer, char **path_out,
                                      GError **error);
/* Drops an unfinished snapshot and its temporary file. */
void raft_snapshot_writer_abort (RaftSnapshotWriter *writer);

/* Opens @path and reads its header into @meta (caller clears it). */
RaftSnapshotReader *raft_snapshot_reader_open (const char *path, RaftSnapshotMeta *meta,
                                               GError **error);
/* Size of the application data in the file. */
guint64 raft_snapshot_reader_data_size (RaftSnapshotReader *reader);
/* Reads up to @max data bytes. Returns the count, 0 at the end once the
 * trailer and whole-file CRC have been checked, -1 with RAFT_ERROR_CORRUPT
 * or RAFT_ERROR_IO. */
gssize raft_snapshot_reader_read (RaftSnapshotReader *reader, void *buffer, gsize max,
                                  GError **error);
void raft_snapshot_reader_close (RaftSnapshotReader *reader);

/* Reads the whole file through the reader, checking every CRC. */
gboolean raft_snapshot_file_verify (const char *path, RaftSnapshotMeta *meta, GError **error);

char *raft_snapshot_file_name (guint64 index);
gboolean raft_snapshot_file_name_parse (const char *name, guint64 *index);
/* Deletes snapshot files in @dir whose index is below @index. */
void raft_snapshot_files_remove_older (const char *dir, guint64 index);

G_END_DECLS
