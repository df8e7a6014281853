/* fuzz-segment.c — libFuzzer entry point for what a worker reads back from
 * its own disk after a crash: Raft log segment bytes and segment file
 * names. A disk may hold anything after a torn write or a bit flip, and
 * recovery must describe it, never crash on it.
 *
 * The first byte picks the mode:
 *  - bit 0..1 = 0: the rest is a segment as it is;
 *  - 1: the rest describes records (length, type, term step, data; the
 *    type byte's top bit marks the last), which are encoded and followed
 *    by whatever input is left, so the scanner
 *    sees valid records with damage after them; every one of them must
 *    come back unchanged;
 *  - 2: the rest is a file name; a name that parses must be the canonical
 *    name of what it parsed to.
 * Bit 2 salts the segment (as a recycled one is). */
#include <stdint.h>
#include <string.h>

#include "raft-segment.h"

#define FUZZ_SALT 0x5eed1234u
#define FUZZ_FIRST_INDEX 7

static void
entries_free (GArray *entries)
{
  for (guint i = 0; i < entries->len; i++)
    raft_entry_clear (&g_array_index (entries, RaftEntry, i));
  g_array_unref (entries);
}

/* What every scan must satisfy, whatever the bytes. */
static void
check_scan (const guint8 *data, gsize len, guint32 salt, const RaftSegmentScan *scan,
            GArray *entries)
{
  g_assert_cmpuint (scan->valid_end, <=, len);
  g_assert_cmpuint (scan->n_records, ==, entries->len);
  g_assert_cmpuint (scan->offsets->len, ==, scan->n_records);
  g_assert (!(scan->zero_tail && scan->damaged));
  g_assert (!scan->end_marker || scan->damaged);
  gint64 previous = -1;
  for (guint i = 0; i < scan->n_records; i++)
    {
      gint64 at = g_array_index (scan->offsets, gint64, i);
      g_assert_cmpint (at, >, previous);
      g_assert_cmpint (at, <, (gint64) scan->valid_end);
      previous = at;
      RaftEntry e = { 0 };
      gsize size = 0;
      g_assert_true (raft_segment_record_decode (data + at, len - (gsize) at, salt, &e, &size));
      const RaftEntry *kept = &g_array_index (entries, RaftEntry, i);
      g_assert_cmpuint (e.index, ==, FUZZ_FIRST_INDEX + i);
      g_assert_cmpuint (kept->index, ==, e.index);
      g_assert_cmpuint (kept->term, ==, e.term);
      raft_entry_clear (&e);
    }
  if (scan->zero_tail)
    for (gsize i = scan->valid_end; i < len; i++)
      g_assert_cmpuint (data[i], ==, 0);
}

static void
fuzz_scan (const guint8 *data, gsize len, guint32 salt, GPtrArray *built)
{
  RaftSegmentScan scan;
  GArray *entries = g_array_new (FALSE, TRUE, sizeof (RaftEntry));
  raft_segment_scan (data, len, FUZZ_FIRST_INDEX, salt, FUZZ_FIRST_INDEX - 1, entries, &scan);
  check_scan (data, len, salt, &scan, entries);
  /* Records written whole come back whole, whatever follows them. */
  if (built != NULL)
    {
      g_assert_cmpuint (entries->len, >=, built->len);
      for (guint i = 0; i < built->len; i++)
        {
          const RaftEntry *want = built->pdata[i];
          const RaftEntry *got = &g_array_index (entries, RaftEntry, i);
          g_assert_cmpuint (got->term, ==, want->term);
          g_assert_cmpint (got->type, ==, want->type);
          gsize got_len = 0, want_len = 0;
          const guint8 *got_data = got->data ? g_bytes_get_data (got->data, &got_len) : NULL;
          const guint8 *want_data = want->data ? g_bytes_get_data (want->data, &want_len) : NULL;
          g_assert_cmpuint (got_len, ==, want_len);
          g_assert_true (want_len == 0 || memcmp (got_data, want_data, want_len) == 0);
        }
    }
  raft_segment_scan_clear (&scan);
  entries_free (entries);
}

static void
entry_free (gpointer p)
{
  raft_entry_clear (p);
  g_free (p);
}

/* Records from (length, type, term step, data) groups, then the rest raw. */
static void
fuzz_records (const guint8 *data, gsize len, guint32 salt)
{
  GPtrArray *built = g_ptr_array_new_with_free_func (entry_free);
  GByteArray *segment = g_byte_array_new ();
  guint64 term = 1;
  gsize at = 0;
  while (at + 3 <= len && built->len < 64)
    {
      gsize n = MIN ((gsize) data[at], len - at - 3);
      RaftEntry *e = g_new0 (RaftEntry, 1);
      e->type = (RaftEntryType) (data[at + 1] % 3);
      term += data[at + 2] & 3;
      e->term = term;
      e->index = FUZZ_FIRST_INDEX + built->len;
      e->data = g_bytes_new (data + at + 3, n);
      raft_segment_record_append (segment, e, salt);
      g_ptr_array_add (built, e);
      gboolean last_one = (data[at + 1] & 0x80) != 0;   /* the type byte's top bit */
      at += 3 + n;
      if (last_one)
        break;
    }
  g_byte_array_append (segment, data + at, (guint) (len - at));
  fuzz_scan (segment->data, segment->len, salt, built);
  g_byte_array_unref (segment);
  g_ptr_array_unref (built);
}

static void
fuzz_name (const guint8 *data, gsize len)
{
  char *name = g_strndup ((const char *) data, len);
  guint64 first = 0, last = 0;
  gboolean is_open = FALSE;
  guint32 salt = 0;
  if (raft_segment_name_parse (name, &first, &last, &is_open, &salt))
    {
      char *canonical = is_open ? raft_segment_name_open (first, salt)
                                : raft_segment_name_closed (first, last, salt);
      g_assert_cmpstr (canonical, ==, name);
      g_free (canonical);
    }
  g_free (name);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  guint32 salt = (data[0] & 4) ? FUZZ_SALT : 0;
  switch (data[0] & 3)
    {
    case 0:
      fuzz_scan (data + 1, size - 1, salt, NULL);
      break;
    case 1:
      fuzz_records (data + 1, size - 1, salt);
      break;
    default:
      fuzz_name (data + 1, size - 1);
      break;
    }
  return 0;
}
