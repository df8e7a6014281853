/* minka-blob-pack-record.c — the bytes of a pack file: the record format,
 * its CRC32-C, and the scan that finds the sound records of a pack and
 * steps over damage. Knows nothing of the index built from them
 * (minka-blob-pack.c).
 *
 * Record format (integers little-endian), one after another, no padding:
 *   0  u32 magic "MKP1"        4  u8 type (1 blob, 2 tombstone), 3 zero bytes
 *   8  u32 payload length     12  u32 CRC32-C of bytes 0–11, 16–47, payload
 *  16  32 raw bytes: SHA-256 of the blob (its name)
 *  48  payload: the blob's bytes (at most 64 KiB); none for a tombstone.
 *
 * A record failing its CRC is skipped: the scan looks for the next magic
 * and accepts a record found that way only if its bytes also hash to its
 * name. */
#include "minka-blob-pack-private.h"

#include <string.h>

#define PACK_MAGIC 0x31504b4du        /* "MKP1" read as little-endian */

/* ---- CRC32-C ------------------------------------------------------------- */

static guint32 crc_table[256];

static gpointer
crc_table_init (gpointer unused)
{
  (void) unused;
  for (guint32 i = 0; i < 256; i++)
    {
      guint32 c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      crc_table[i] = c;
    }
  return NULL;
}

#if defined(__x86_64__)
__attribute__ ((target ("sse4.2"))) static guint32
crc32c_hw (guint32 c, const guint8 *p, gsize len)
{
  guint64 c64 = c;
  for (; len >= 8; p += 8, len -= 8)
    {
      guint64 word;
      memcpy (&word, p, 8);
      c64 = __builtin_ia32_crc32di (c64, word);
    }
  c = (guint32) c64;
  for (; len > 0; p++, len--)
    c = __builtin_ia32_crc32qi (c, *p);
  return c;
}
#endif

guint32
minka_blob_crc32c (guint32 crc, const void *data, gsize len)
{
  const guint8 *p = data;
  guint32 c = ~crc;
#if defined(__x86_64__)
  static gint have_hw = -1;
  if (g_atomic_int_get (&have_hw) < 0)
    g_atomic_int_set (&have_hw, __builtin_cpu_supports ("sse4.2") ? 1 : 0);
  if (g_atomic_int_get (&have_hw))
    return ~crc32c_hw (c, p, len);
#endif
  static GOnce once = G_ONCE_INIT;
  g_once (&once, crc_table_init, NULL);
  for (; len > 0; p++, len--)
    c = crc_table[(c ^ *p) & 0xff] ^ (c >> 8);
  return ~c;
}

/* ---- records ------------------------------------------------------------- */

static void
put_u32 (guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8) (v >> (8 * i));
}

static guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static guint32
record_crc (const guint8 *header, const guint8 *payload, guint32 len)
{
  guint32 crc = minka_blob_crc32c (0, header, 12);
  crc = minka_blob_crc32c (crc, header + 16, MINKA_SHA256_LEN);
  return minka_blob_crc32c (crc, payload, len);
}

guint8 *
minka_blob_record_encode (int type, const guint8 *sha, const void *payload, guint32 len)
{
  guint8 *buf = g_malloc0 (HDR_LEN + (gsize) len);
  put_u32 (buf, PACK_MAGIC);
  buf[4] = (guint8) type;
  put_u32 (buf + 8, len);
  memcpy (buf + 16, sha, MINKA_SHA256_LEN);
  if (len > 0)
    memcpy (buf + HDR_LEN, payload, len);
  put_u32 (buf + 12, record_crc (buf, buf + HDR_LEN, len));
  return buf;
}

gboolean
minka_blob_record_parse (const guint8 *p, gsize avail, Record *rec)
{
  if (avail < HDR_LEN || get_u32 (p) != PACK_MAGIC || p[5] || p[6] || p[7])
    return FALSE;
  rec->type = p[4];
  rec->len = get_u32 (p + 8);
  if ((rec->type == REC_BLOB && rec->len > MINKA_BLOB_PACK_MAX)
      || (rec->type == REC_TOMB && rec->len != TOMB_LEN)
      || (rec->type != REC_BLOB && rec->type != REC_TOMB)
      || (gsize) rec->len > avail - HDR_LEN)
    return FALSE;
  rec->start = p;
  rec->sha = p + 16;
  rec->payload = p + HDR_LEN;
  return get_u32 (p + 12) == record_crc (p, rec->payload, rec->len);
}

static gboolean
record_hash_ok (const Record *rec)
{
  if (rec->type != REC_BLOB)
    return TRUE;
  MinkaSha256 sha;
  guint8 digest[MINKA_SHA256_LEN];
  minka_sha256_init (&sha);
  minka_sha256_update (&sha, rec->payload, rec->len);
  minka_sha256_finish (&sha, digest);
  return memcmp (digest, rec->sha, MINKA_SHA256_LEN) == 0;
}

gsize
minka_blob_record_scan (const char *path, const guint8 *buf, gsize size, RecordFunc func,
                        gpointer data)
{
  gsize pos = 0, good_end = 0, bad_from = 0;
  gboolean resync = FALSE;
  while (pos + HDR_LEN <= size)
    {
      Record rec;
      if (minka_blob_record_parse (buf + pos, size - pos, &rec)
          && (!resync || record_hash_ok (&rec)))
        {
          if (resync)
            g_warning ("blob pack %s: skipped %" G_GSIZE_FORMAT " damaged bytes at offset %"
                       G_GSIZE_FORMAT, path, pos - bad_from, bad_from);
          resync = FALSE;
          func (pos, &rec, data);
          pos += HDR_LEN + rec.len;
          good_end = pos;
          continue;
        }
      if (!resync)
        bad_from = pos;
      resync = TRUE;
      /* Look for the next magic number. */
      const guint8 *next = NULL;
      for (gsize at = pos + 1; at + 4 <= size && next == NULL; at++)
        if (buf[at] == 'M' && get_u32 (buf + at) == PACK_MAGIC)
          next = buf + at;
      pos = next != NULL ? (gsize) (next - buf) : size;
    }
  return good_end;
}
