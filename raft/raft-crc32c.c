/* raft-crc32c.c — CRC32-C: slice-by-8 tables and the SSE4.2 crc32
 * instruction, dispatched once at run time. */
#include "config.h"
#include "raft-crc32c.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define RAFT_CRC32C_X86 1
#endif

#define CRC32C_POLY 0x82F63B78u   /* reflected Castagnoli polynomial */

static guint32 crc_table[8][256];

static void
crc32c_tables_build (void)
{
  for (guint32 i = 0; i < 256; i++)
    {
      guint32 c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
      crc_table[0][i] = c;
    }
  for (guint32 i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static void
crc32c_tables_init (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      crc32c_tables_build ();
      g_once_init_leave (&done, 1);
    }
}

static guint32
load_le32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

guint32
raft_crc32c_update_table (guint32 crc, const void *data, gsize len)
{
  const guint8 *p = data;
  guint32 c = ~crc;

  crc32c_tables_init ();
  while (len >= 8)
    {
      guint32 lo = load_le32 (p) ^ c;
      guint32 hi = load_le32 (p + 4);
      c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff]
        ^ crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24]
        ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff]
        ^ crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
      p += 8;
      len -= 8;
    }
  while (len-- > 0)
    c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
  return ~c;
}

#ifdef RAFT_CRC32C_X86
__attribute__((target ("sse4.2")))
static guint32
crc32c_sse42 (guint32 crc, const guint8 *p, gsize len)
{
  guint32 c = ~crc;
#if defined(__x86_64__)
  guint64 c64 = c;
  while (len >= 8)
    {
      guint64 v;
      memcpy (&v, p, 8);
      c64 = _mm_crc32_u64 (c64, v);
      p += 8;
      len -= 8;
    }
  c = (guint32) c64;
#endif
  while (len >= 4)
    {
      guint32 v;
      memcpy (&v, p, 4);
      c = _mm_crc32_u32 (c, v);
      p += 4;
      len -= 4;
    }
  while (len-- > 0)
    c = _mm_crc32_u8 (c, *p++);
  return ~c;
}
#endif

gboolean
raft_crc32c_have_hw (void)
{
#ifdef RAFT_CRC32C_X86
  return __builtin_cpu_supports ("sse4.2") ? TRUE : FALSE;
#else
  return FALSE;
#endif
}

guint32
raft_crc32c_update_hw (guint32 crc, const void *data, gsize len)
{
#ifdef RAFT_CRC32C_X86
  if (raft_crc32c_have_hw ())
    return crc32c_sse42 (crc, data, len);
#endif
  return raft_crc32c_update_table (crc, data, len);
}

typedef guint32 (*Crc32cFunc) (guint32, const void *, gsize);

guint32
raft_crc32c_update (guint32 crc, const void *data, gsize len)
{
  static Crc32cFunc impl = NULL;
  Crc32cFunc f = g_atomic_pointer_get (&impl);
  if (G_UNLIKELY (f == NULL))
    {
      f = raft_crc32c_have_hw () ? raft_crc32c_update_hw : raft_crc32c_update_table;
      g_atomic_pointer_set (&impl, f);
    }
  return f (crc, data, len);
}
