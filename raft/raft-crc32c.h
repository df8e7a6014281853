/* raft-crc32c.h — CRC32-C (Castagnoli), the checksum of every Raft log
 * record, hard-state slot and snapshot file. The SSE4.2 instruction is used
 * when the CPU has it (chosen at run time), a slice-by-8 table otherwise. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Extends @crc (the value returned for the bytes so far; 0 to start) with
 * @len bytes. raft_crc32c_update (0, "123456789", 9) == 0xE3069283. */
guint32 raft_crc32c_update (guint32 crc, const void *data, gsize len);

static inline guint32
raft_crc32c (const void *data, gsize len)
{
  return raft_crc32c_update (0, data, len);
}

/* The two implementations, exposed so tests can compare them. */
guint32 raft_crc32c_update_table (guint32 crc, const void *data, gsize len);
/* Falls back to the table when the CPU lacks SSE4.2. */
guint32 raft_crc32c_update_hw (guint32 crc, const void *data, gsize len);
gboolean raft_crc32c_have_hw (void);

G_END_DECLS
