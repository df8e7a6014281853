/* raft-segment.c — encoding, decoding and scanning log records, and
 * segment file names. No file I/O here. */
#include "config.h"
#include "raft-segment.h"
#include "raft-crc32c.h"
#include "raft-endian.h"

#include <string.h>

/* The CRC a record carries: over the segment's salt (if it has one: a
 * recycled segment), the header's first 28 bytes and the data. */
static guint32
record_crc (guint32 salt, const guint8 *header, const guint8 *data, gsize len)
{
  guint32 crc = 0;
  if (salt != 0)
    {
      guint8 le[4];
      raft_put_u32 (le, salt);
      crc = raft_crc32c_update (crc, le, sizeof le);
    }
  crc = raft_crc32c_update (crc, header, 28);
  return raft_crc32c_update (crc, data, len);
}

void
raft_segment_record_append (GByteArray *out, const RaftEntry *entry, guint32 salt)
{
  gsize len = 0;
  const guint8 *data = entry->data ? g_bytes_get_data (entry->data, &len) : NULL;
  guint8 header[RAFT_SEGMENT_HEADER_SIZE];

  g_return_if_fail (len <= RAFT_SEGMENT_MAX_DATA);
  raft_put_u32 (header, RAFT_SEGMENT_RECORD_MAGIC);
  raft_put_u32 (header + 4, (guint32) len);
  raft_put_u64 (header + 8, entry->term);
  raft_put_u64 (header + 16, entry->index);
  raft_put_u32 (header + 24, (guint32) entry->type);
  raft_put_u32 (header + 28, record_crc (salt, header, data, len));
  g_byte_array_append (out, header, sizeof header);
  if (len > 0)
    g_byte_array_append (out, data, (guint) len);
}

/* Checks the record at @data; returns NULL if valid, else why not. */
static const char *
record_check (const guint8 *data, gsize len, guint32 salt, gsize *record_size)
{
  if (len < RAFT_SEGMENT_HEADER_SIZE)
    return "short record header";
  if (raft_get_u32 (data) != RAFT_SEGMENT_RECORD_MAGIC)
    return "bad record magic";
  guint32 dlen = raft_get_u32 (data + 4);
  if (dlen > RAFT_SEGMENT_MAX_DATA)
    return "bad record length";
  if (len - RAFT_SEGMENT_HEADER_SIZE < dlen)
    return "record runs past the end of the file";
  if (record_crc (salt, data, data + RAFT_SEGMENT_HEADER_SIZE, dlen) != raft_get_u32 (data + 28))
    return "bad record CRC";
  if (raft_get_u32 (data + 24) > RAFT_ENTRY_CONFIG)
    return "bad record type";
  *record_size = RAFT_SEGMENT_HEADER_SIZE + dlen;
  return NULL;
}

static void
record_fill (const guint8 *data, RaftEntry *entry)
{
  guint32 dlen = raft_get_u32 (data + 4);
  entry->term = raft_get_u64 (data + 8);
  entry->index = raft_get_u64 (data + 16);
  entry->type = (RaftEntryType) raft_get_u32 (data + 24);
  entry->data = dlen > 0 ? g_bytes_new (data + RAFT_SEGMENT_HEADER_SIZE, dlen) : NULL;
}

gboolean
raft_segment_record_decode (const guint8 *data, gsize len, guint32 salt, RaftEntry *entry,
                            gsize *record_size)
{
  gsize size = 0;
  if (record_check (data, len, salt, &size) != NULL)
    return FALSE;
  if (entry)
    record_fill (data, entry);
  if (record_size)
    *record_size = size;
  return TRUE;
}

static gboolean
bytes_all_zero (const guint8 *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (data[i] != 0)
      return FALSE;
  return TRUE;
}

void
raft_segment_scan (const guint8 *data, gsize len, guint64 first_index, guint32 salt,
                   guint64 keep_after, GArray *entries, RaftSegmentScan *scan)
{
  gsize pos = 0;

  memset (scan, 0, sizeof *scan);
  scan->first_index = first_index;
  scan->offsets = g_array_new (FALSE, FALSE, sizeof (gint64));
  scan->terms = g_array_new (FALSE, FALSE, sizeof (guint64));
  while (pos < len)
    {
      gsize size = 0;
      const char *why = record_check (data + pos, len - pos, salt, &size);
      guint64 expect = first_index + scan->n_records;
      if (!why && raft_get_u64 (data + pos + 16) != expect)
        why = "record index out of sequence";
      guint64 term = why ? 0 : raft_get_u64 (data + pos + 8);
      if (!why && scan->n_records > 0
          && term < g_array_index (scan->terms, guint64, scan->n_records - 1))
        why = "record term goes backwards";
      if (why)
        {
          if (bytes_all_zero (data + pos, len - pos))
            scan->zero_tail = TRUE;
          else
            {
              scan->damaged = TRUE;
              scan->why = why;
              scan->end_marker = len - pos >= RAFT_SEGMENT_HEADER_SIZE
                                 && bytes_all_zero (data + pos, RAFT_SEGMENT_HEADER_SIZE);
            }
          break;
        }
      gint64 off = (gint64) pos;
      g_array_append_val (scan->offsets, off);
      g_array_append_val (scan->terms, term);
      if (entries && expect > keep_after)
        {
          RaftEntry e = { 0 };
          record_fill (data + pos, &e);
          g_array_append_val (entries, e);
        }
      scan->n_records++;
      pos += size;
    }
  scan->valid_end = pos;
}

void
raft_segment_scan_clear (RaftSegmentScan *scan)
{
  g_clear_pointer (&scan->offsets, g_array_unref);
  g_clear_pointer (&scan->terms, g_array_unref);
}

char *
raft_segment_name_closed (guint64 first, guint64 last, guint32 salt)
{
  if (salt != 0)
    return g_strdup_printf ("seg-%020" G_GUINT64_FORMAT "-%020" G_GUINT64_FORMAT "-%08x.log",
                            first, last, salt);
  return g_strdup_printf ("seg-%020" G_GUINT64_FORMAT "-%020" G_GUINT64_FORMAT ".log",
                          first, last);
}

char *
raft_segment_name_open (guint64 first, guint32 salt)
{
  if (salt != 0)
    return g_strdup_printf ("open-%020" G_GUINT64_FORMAT "-%08x.log", first, salt);
  return g_strdup_printf ("open-%020" G_GUINT64_FORMAT ".log", first);
}

/* Parses exactly 20 decimal digits at @p. */
static gboolean
parse_index (const char *p, guint64 *out)
{
  char digits[21];
  memcpy (digits, p, 20);
  digits[20] = '\0';
  for (int i = 0; i < 20; i++)
    if (!g_ascii_isdigit (digits[i]))
      return FALSE;
  return g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64, out, NULL);
}

/* Parses "-" and exactly 8 lowercase hex digits (not all zero) at @p. */
static gboolean
parse_salt (const char *p, guint32 *out)
{
  if (p[0] != '-')
    return FALSE;
  guint32 v = 0;
  for (int i = 1; i <= 8; i++)
    {
      int d = g_ascii_xdigit_value (p[i]);
      if (d < 0 || g_ascii_isupper (p[i]))
        return FALSE;
      v = v << 4 | (guint32) d;
    }
  *out = v;
  return v != 0;
}

gboolean
raft_segment_name_parse (const char *name, guint64 *first, guint64 *last,
                         gboolean *is_open, guint32 *salt)
{
  gsize n = strlen (name);
  *salt = 0;
  if (!g_str_has_suffix (name, ".log"))
    return FALSE;
  if ((n == 5 + 20 + 4 || n == 5 + 20 + 9 + 4) && g_str_has_prefix (name, "open-"))
    {
      *last = 0;
      *is_open = TRUE;
      return parse_index (name + 5, first) && *first > 0
             && (n == 5 + 20 + 4 || parse_salt (name + 25, salt));
    }
  if ((n == 4 + 20 + 1 + 20 + 4 || n == 4 + 20 + 1 + 20 + 9 + 4)
      && g_str_has_prefix (name, "seg-") && name[24] == '-')
    {
      *is_open = FALSE;
      return parse_index (name + 4, first) && parse_index (name + 25, last)
             && *first > 0 && *first <= *last
             && (n == 4 + 20 + 1 + 20 + 4 || parse_salt (name + 45, salt));
    }
  return FALSE;
}
