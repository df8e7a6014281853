/* raft-message.c — copying and binary encoding of Raft messages.
 *
 * Layout (all integers little-endian):
 *   u8 version (1), u8 type, u8 flags (bit0 reject, bit1 transfer),
 *   u64 from, to, term, log_term, index, commit, hint_index, hint_term, context,
 *   u32 n_entries, then per entry: u64 term, u64 index, u8 type,
 *   u32 data length, data bytes;
 *   if type == SNAPSHOT: u64 index, u64 term, u32 config length, config bytes
 *   (raft_config_encode).
 * Decoding checks every length against the bytes that remain before
 * allocating, so a hostile length cannot make it allocate. */
#include "config.h"
#include "raft-message.h"
#include "raft-endian.h"

#include <string.h>

void
raft_message_clear (RaftMessage *msg)
{
  for (guint i = 0; i < msg->n_entries; i++)
    raft_entry_clear (&msg->entries[i]);
  g_free (msg->entries);
  raft_snapshot_meta_clear (&msg->snapshot);
  memset (msg, 0, sizeof *msg);
}

void
raft_message_copy (RaftMessage *dst, const RaftMessage *src)
{
  *dst = *src;
  dst->entries = src->n_entries ? g_new (RaftEntry, src->n_entries) : NULL;
  for (guint i = 0; i < src->n_entries; i++)
    dst->entries[i] = raft_entry_copy (&src->entries[i]);
  dst->snapshot.config = raft_config_copy (&src->snapshot.config);
}

const char *
raft_message_type_name (RaftMessageType type)
{
  static const char *names[] = {
    "?", "append", "append-resp", "vote", "vote-resp", "pre-vote",
    "pre-vote-resp", "heartbeat", "heartbeat-resp", "snapshot",
    "timeout-now", "read-index", "read-index-resp",
  };
  return (guint) type <= RAFT_MSG_TYPE_MAX ? names[type] : "?";
}

static void
put_u8 (GByteArray *out, guint8 v)
{
  g_byte_array_append (out, &v, 1);
}

static void
put_blob (GByteArray *out, GBytes *data)
{
  gsize size = 0;
  const guint8 *p = data ? g_bytes_get_data (data, &size) : NULL;
  raft_append_u32 (out, (guint32) size);
  if (size)
    g_byte_array_append (out, p, (guint) size);
}

GBytes *
raft_message_encode (const RaftMessage *msg)
{
  GByteArray *out = g_byte_array_sized_new (80);
  put_u8 (out, RAFT_MESSAGE_VERSION);
  put_u8 (out, (guint8) msg->type);
  put_u8 (out, (guint8) ((msg->reject ? 1 : 0) | (msg->transfer ? 2 : 0)));
  raft_append_u64 (out, msg->from);
  raft_append_u64 (out, msg->to);
  raft_append_u64 (out, msg->term);
  raft_append_u64 (out, msg->log_term);
  raft_append_u64 (out, msg->index);
  raft_append_u64 (out, msg->commit);
  raft_append_u64 (out, msg->hint_index);
  raft_append_u64 (out, msg->hint_term);
  raft_append_u64 (out, msg->context);
  raft_append_u32 (out, msg->n_entries);
  for (guint i = 0; i < msg->n_entries; i++)
    {
      const RaftEntry *e = &msg->entries[i];
      raft_append_u64 (out, e->term);
      raft_append_u64 (out, e->index);
      put_u8 (out, (guint8) e->type);
      put_blob (out, e->data);
    }
  if (msg->type == RAFT_MSG_SNAPSHOT)
    {
      GBytes *config = raft_config_encode (&msg->snapshot.config);
      raft_append_u64 (out, msg->snapshot.index);
      raft_append_u64 (out, msg->snapshot.term);
      put_blob (out, config);
      g_bytes_unref (config);
    }
  return g_byte_array_free_to_bytes (out);
}

typedef struct {
  const guint8 *p;
  const guint8 *end;
  GBytes *bytes;
} Reader;

static gboolean
get (Reader *r, void *dst, gsize n)
{
  if ((gsize) (r->end - r->p) < n)
    return FALSE;
  memcpy (dst, r->p, n);
  r->p += n;
  return TRUE;
}

static gboolean
get_u8 (Reader *r, guint8 *v)
{
  return get (r, v, 1);
}

static gboolean
get_u32 (Reader *r, guint32 *v)
{
  if (!get (r, v, 4))
    return FALSE;
  *v = GUINT32_FROM_LE (*v);
  return TRUE;
}

static gboolean
get_u64 (Reader *r, guint64 *v)
{
  if (!get (r, v, 8))
    return FALSE;
  *v = GUINT64_FROM_LE (*v);
  return TRUE;
}

/* A slice of the input (no copy); NULL for length 0. */
static gboolean
get_blob (Reader *r, GBytes **out)
{
  guint32 len;
  *out = NULL;
  if (!get_u32 (r, &len) || (gsize) (r->end - r->p) < len)
    return FALSE;
  if (len)
    {
      gsize off = (gsize) (r->p - (const guint8 *) g_bytes_get_data (r->bytes, NULL));
      *out = g_bytes_new_from_bytes (r->bytes, off, len);
    }
  r->p += len;
  return TRUE;
}

static gboolean
decode_header (Reader *r, RaftMessage *m)
{
  guint8 version, type, flags;
  if (!get_u8 (r, &version) || version != RAFT_MESSAGE_VERSION
      || !get_u8 (r, &type) || type < 1 || type > RAFT_MSG_TYPE_MAX
      || !get_u8 (r, &flags) || (flags & ~3u))
    return FALSE;
  m->type = (RaftMessageType) type;
  m->reject = (flags & 1) != 0;
  m->transfer = (flags & 2) != 0;
  return get_u64 (r, &m->from) && get_u64 (r, &m->to) && get_u64 (r, &m->term)
         && get_u64 (r, &m->log_term) && get_u64 (r, &m->index)
         && get_u64 (r, &m->commit) && get_u64 (r, &m->hint_index)
         && get_u64 (r, &m->hint_term) && get_u64 (r, &m->context);
}

/* Smallest encoded entry: term, index, type, length. */
#define ENTRY_MIN_SIZE (8 + 8 + 1 + 4)

static gboolean
decode_entries (Reader *r, RaftMessage *m)
{
  guint32 n;
  if (!get_u32 (r, &n) || n > RAFT_MESSAGE_MAX_ENTRIES
      || (gsize) (r->end - r->p) / ENTRY_MIN_SIZE < n
      || (n > 0 && m->type != RAFT_MSG_APPEND))
    return FALSE;
  m->entries = n ? g_new0 (RaftEntry, n) : NULL;
  for (guint i = 0; i < n; i++)
    {
      RaftEntry *e = &m->entries[i];
      guint8 type;
      if (!get_u64 (r, &e->term) || !get_u64 (r, &e->index) || !get_u8 (r, &type)
          || type > RAFT_ENTRY_CONFIG)
        return FALSE;
      e->type = (RaftEntryType) type;
      m->n_entries = i + 1;
      if (!get_blob (r, &e->data))
        return FALSE;
      /* Entries must be consecutive and follow the previous index. */
      if (e->index != m->index + 1 + i)
        return FALSE;
    }
  return TRUE;
}

static gboolean
decode_snapshot (Reader *r, RaftMessage *m)
{
  GBytes *config = NULL;
  gboolean ok;
  if (!get_u64 (r, &m->snapshot.index) || !get_u64 (r, &m->snapshot.term)
      || !get_blob (r, &config) || !config)
    return FALSE;
  ok = raft_config_decode (config, &m->snapshot.config, NULL);
  g_bytes_unref (config);
  return ok;
}

gboolean
raft_message_decode (GBytes *bytes, RaftMessage *out, GError **error)
{
  Reader r = { 0 };
  gsize size = 0;

  memset (out, 0, sizeof *out);
  if (bytes)
    r.p = g_bytes_get_data (bytes, &size);
  if (!r.p)                 /* no bytes (NULL + 0 is not a pointer sum C allows) */
    goto bad;
  r.end = r.p + size;
  r.bytes = bytes;
  if (!decode_header (&r, out) || !decode_entries (&r, out))
    goto bad;
  if (out->type == RAFT_MSG_SNAPSHOT && !decode_snapshot (&r, out))
    goto bad;
  if (r.p != r.end)
    goto bad;
  return TRUE;

bad:
  raft_message_clear (out);
  g_set_error (error, RAFT_ERROR, RAFT_ERROR_CORRUPT,
               "malformed Raft message (%" G_GSIZE_FORMAT " bytes)", size);
  return FALSE;
}
