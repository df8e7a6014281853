/* raft-segment.h — one segment file of the Raft log: the record format
 * (every record carries a CRC32-C over its header and data), scanning a
 * segment's bytes back into entries, and segment file names.
 *
 * Record layout, little-endian, no padding:
 *   0  u32 magic   RAFT_SEGMENT_RECORD_MAGIC ("MKLR" in file order)
 *   4  u32 length  of the data that follows the header
 *   8  u64 term
 *  16  u64 index
 *  24  u32 type    RaftEntryType
 *  28  u32 crc     CRC32-C of the segment's salt (4 bytes, if it has one),
 *                  bytes 0..27, then the data
 *  32  data[length]
 *
 * Names: a closed segment is "seg-<first>-<last>.log", the open one
 * "open-<first>.log", both with 20-digit zero-padded decimal indexes. A
 * recycled segment (made from a compacted one, whose old records are still
 * in it) has a random salt, 8 lowercase hex digits before ".log"
 * ("open-<first>-<salt>.log"): its records' CRCs cover the salt, so no old
 * record — nor a record-shaped run of bytes inside an old entry's data —
 * can pass for one of its own. Salt 0 means none. */
#pragma once

#include <glib.h>
#include "raft-types.h"

G_BEGIN_DECLS

#define RAFT_SEGMENT_RECORD_MAGIC 0x524C4B4Du
#define RAFT_SEGMENT_HEADER_SIZE 32
#define RAFT_SEGMENT_MAX_DATA (64u * 1024 * 1024)

/* Appends the encoded record of @entry to @out. */
void raft_segment_record_append (GByteArray *out, const RaftEntry *entry, guint32 salt);

/* The result of reading a segment's bytes from the start. */
typedef struct {
  guint64 first_index;       /* index the first record must have */
  guint64 n_records;         /* valid records, in index order from first_index */
  GArray *offsets;           /* gint64 file offset of each valid record */
  GArray *terms;             /* guint64 term of each valid record */
  gsize valid_end;           /* end of the last valid record */
  gboolean zero_tail;        /* bytes after valid_end are all zero (preallocated
                                space of an open segment): a clean end */
  gboolean damaged;          /* bytes after valid_end are not a valid record
                                and not all zero */
  gboolean end_marker;       /* damaged, but with a zero record header at
                                valid_end: how a recycled segment ends (its
                                old bytes follow the marker) */
  const char *why;           /* what was wrong at valid_end (static string) */
} RaftSegmentScan;

/* Reads records from @data until the end or the first invalid one (short
 * record, bad magic, length, CRC — over @salt too when it is not 0 —, type,
 * or an index out of sequence). If every byte from there to the end is
 * zero, that is a zero tail, not damage; a zero record header followed by
 * other bytes is damage with end_marker set (recovery decides).
 * Entries with index > @keep_after are appended to @entries (RaftEntry)
 * when it is not NULL. Never fails; the damage is described in @scan. */
void raft_segment_scan (const guint8 *data, gsize len, guint64 first_index, guint32 salt,
                        guint64 keep_after, GArray *entries, RaftSegmentScan *scan);
void raft_segment_scan_clear (RaftSegmentScan *scan);

/* Decodes the single record at the start of @data (its index is not
 * checked). Returns FALSE if it is short or invalid. */
gboolean raft_segment_record_decode (const guint8 *data, gsize len, guint32 salt,
                                     RaftEntry *entry, gsize *record_size);

char *raft_segment_name_closed (guint64 first, guint64 last, guint32 salt);
char *raft_segment_name_open (guint64 first, guint32 salt);
/* Parses either form, with or without a salt (@salt is 0 without); @last
 * is 0 for an open segment. */
gboolean raft_segment_name_parse (const char *name, guint64 *first, guint64 *last,
                                  gboolean *is_open, guint32 *salt);

G_END_DECLS
