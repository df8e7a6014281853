/* raft-endian.h — little-endian integers in buffers, for the on-disk and
 * on-wire formats of raft/ (segments, hard state, snapshots, messages). */
#pragma once

#include <glib.h>
#include <string.h>

static inline void
raft_put_u32 (guint8 *p, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static inline void
raft_put_u64 (guint8 *p, guint64 v)
{
  v = GUINT64_TO_LE (v);
  memcpy (p, &v, 8);
}

static inline guint32
raft_get_u32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

static inline guint64
raft_get_u64 (const guint8 *p)
{
  guint64 v;
  memcpy (&v, p, 8);
  return GUINT64_FROM_LE (v);
}

static inline void
raft_append_u32 (GByteArray *out, guint32 v)
{
  guint8 b[4];
  raft_put_u32 (b, v);
  g_byte_array_append (out, b, 4);
}

static inline void
raft_append_u64 (GByteArray *out, guint64 v)
{
  guint8 b[8];
  raft_put_u64 (b, v);
  g_byte_array_append (out, b, 8);
}
