/* raft-segment.c — encoding, decoding and scanning log records, and
 * segment file names. No file I/O here. */
#include "config.h"
#include "raft-segment.h"
#include "raft-crc32c.h"
#include "raft-endian.h"

#include <string.h>

void
raft_segment_record_append (GByteArray *out, const RaftEntry *entry)
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
  guint32 crc = raft_crc32c_update (0, header, 28);
  crc = raft_crc32c_update (crc, data, len);
  raft_put_u32 (header + 28, crc);
  g_byte_array_append (out, header, sizeof header);
  if (len > 0)
    g_byte_array_append (out, data, (guint) len);
}

/* Checks the record at @data; returns NULL if valid, else why not. */
static const char *
record_check (const guint8 *data, gsize len, gsize *record_size)
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
  guint32 crc = raft_crc32c_update (0, data, 28);
  crc = raft_crc32c_update (crc, data + RAFT_SEGMENT_HEADER_SIZE, dlen);
  if (crc != raft_get_u32 (data + 28))
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
raft_segment_record_decode (const guint8 *data, gsize len, RaftEntry *entry,
                            gsize *record_size)
{
  gsize size = 0;
  if (record_check (data, len, &size) != NULL)
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
raft_segment_scan (const guint8 *data, gsize len, guint64 first_index,
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
      const char *why = record_check (data + pos, len - pos, &size);
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
raft_segment_name_closed (guint64 first, guint64 last)
{
  return g_strdup_printf ("seg-%020" G_GUINT64_FORMAT "-%020" G_GUINT64_FORMAT ".log",
                          first, last);
}

char *
raft_segment_name_open (guint64 first)
{
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

gboolean
raft_segment_name_parse (const char *name, guint64 *first, guint64 *last,
                         gboolean *is_open)
{
  gsize n = strlen (name);
  if (n == 5 + 20 + 4 && g_str_has_prefix (name, "open-") && g_str_has_suffix (name, ".log"))
    {
      *last = 0;
      *is_open = TRUE;
      return parse_index (name + 5, first) && *first > 0;
    }
  if (n == 4 + 20 + 1 + 20 + 4 && g_str_has_prefix (name, "seg-") && name[24] == '-'
      && g_str_has_suffix (name, ".log"))
    {
      *is_open = FALSE;
      return parse_index (name + 4, first) && parse_index (name + 25, last)
             && *first > 0 && *first <= *last;
    }
  return FALSE;
}
