/* raft-types.c — copying, freeing and encoding the shared Raft types. */
#include "config.h"
#include "raft-types.h"
#include "raft-endian.h"

#include <string.h>

G_DEFINE_QUARK (raft-error-quark, raft_error)

void
raft_entry_clear (RaftEntry *entry)
{
  g_clear_pointer (&entry->data, g_bytes_unref);
  memset (entry, 0, sizeof *entry);
}

RaftEntry
raft_entry_copy (const RaftEntry *entry)
{
  RaftEntry copy = *entry;
  if (copy.data)
    g_bytes_ref (copy.data);
  return copy;
}

RaftConfig
raft_config_copy (const RaftConfig *config)
{
  RaftConfig copy = { 0 };
  copy.n_nodes = config->n_nodes;
  copy.ids = g_memdup2 (config->ids, sizeof (RaftNodeId) * config->n_nodes);
  copy.addresses = g_new0 (char *, config->n_nodes + 1);
  for (guint i = 0; i < config->n_nodes; i++)
    copy.addresses[i] = g_strdup (config->addresses && config->addresses[i]
                                  ? config->addresses[i] : "");
  return copy;
}

void
raft_config_clear (RaftConfig *config)
{
  g_clear_pointer (&config->ids, g_free);
  g_clear_pointer (&config->addresses, g_strfreev);
  config->n_nodes = 0;
}

gboolean
raft_config_contains (const RaftConfig *config, RaftNodeId id)
{
  for (guint i = 0; i < config->n_nodes; i++)
    if (config->ids[i] == id)
      return TRUE;
  return FALSE;
}

/* Encoding: u32 count, then per node u64 id, u32 length, address bytes;
 * all little-endian. */

GBytes *
raft_config_encode (const RaftConfig *config)
{
  GByteArray *out = g_byte_array_new ();
  raft_append_u32 (out, config->n_nodes);
  for (guint i = 0; i < config->n_nodes; i++)
    {
      const char *addr = config->addresses && config->addresses[i] ? config->addresses[i] : "";
      gsize len = strlen (addr);
      raft_append_u64 (out, config->ids[i]);
      raft_append_u32 (out, (guint32) len);
      g_byte_array_append (out, (const guint8 *) addr, (guint) len);
    }
  return g_byte_array_free_to_bytes (out);
}

static gboolean
take (const guint8 **p, const guint8 *end, void *dst, gsize n)
{
  if ((gsize) (end - *p) < n)
    return FALSE;
  memcpy (dst, *p, n);
  *p += n;
  return TRUE;
}

gboolean
raft_config_decode (GBytes *bytes, RaftConfig *out, GError **error)
{
  gsize size = 0;
  const guint8 *p = bytes ? g_bytes_get_data (bytes, &size) : NULL;
  const guint8 *end = p ? p + size : NULL;   /* NULL + 0 is not a sum C allows */
  guint32 count = 0;

  memset (out, 0, sizeof *out);
  if (!p || !take (&p, end, &count, 4))
    goto bad;
  count = GUINT32_FROM_LE (count);
  if (count > 1024)
    goto bad;
  out->ids = g_new0 (RaftNodeId, count);
  out->addresses = g_new0 (char *, count + 1);
  for (guint i = 0; i < count; i++)
    {
      guint64 id;
      guint32 len;
      if (!take (&p, end, &id, 8) || !take (&p, end, &len, 4))
        goto bad;
      len = GUINT32_FROM_LE (len);
      if ((gsize) (end - p) < len)
        goto bad;
      out->ids[i] = GUINT64_FROM_LE (id);
      out->addresses[i] = g_strndup ((const char *) p, len);
      out->n_nodes = i + 1;
      p += len;
    }
  if (p != end)
    goto bad;
  return TRUE;

bad:
  raft_config_clear (out);
  g_set_error (error, RAFT_ERROR, RAFT_ERROR_CORRUPT,
               "malformed Raft configuration record");
  return FALSE;
}

void
raft_snapshot_meta_clear (RaftSnapshotMeta *meta)
{
  raft_config_clear (&meta->config);
  meta->index = 0;
  meta->term = 0;
}
