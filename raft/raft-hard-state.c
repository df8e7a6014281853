/* raft-hard-state.c — the two-slot hard-state file pair. */
#include "config.h"
#include "raft-hard-state.h"
#include "raft-crc32c.h"
#include "raft-endian.h"
#include "minka-compat.h"

#include <glib/gi18n-lib.h>
#include <string.h>

char *
raft_hard_state_slot_path (const char *dir, guint slot)
{
  char name[16];
  g_snprintf (name, sizeof name, "hardstate-%u", slot & 1);
  return g_build_filename (dir, name, NULL);
}

void
raft_hard_state_encode (guint8 out[RAFT_HARD_STATE_SLOT_SIZE], guint64 seq,
                        const RaftHardState *state)
{
  memset (out, 0, RAFT_HARD_STATE_SLOT_SIZE);
  raft_put_u32 (out, RAFT_HARD_STATE_MAGIC);
  raft_put_u32 (out + 4, 1);
  raft_put_u64 (out + 8, seq);
  raft_put_u64 (out + 16, state->term);
  raft_put_u64 (out + 24, state->vote);
  raft_put_u64 (out + 32, state->commit);
  raft_put_u32 (out + 40, raft_crc32c (out, 40));
}

gboolean
raft_hard_state_decode (const guint8 *data, gsize len, guint64 *seq, RaftHardState *state)
{
  if (len != RAFT_HARD_STATE_SLOT_SIZE || raft_get_u32 (data) != RAFT_HARD_STATE_MAGIC
      || raft_get_u32 (data + 4) != 1 || raft_get_u32 (data + 40) != raft_crc32c (data, 40))
    return FALSE;
  *seq = raft_get_u64 (data + 8);
  state->term = raft_get_u64 (data + 16);
  state->vote = raft_get_u64 (data + 24);
  state->commit = raft_get_u64 (data + 32);
  return *seq > 0;
}

/* Reads one slot: returns TRUE with *present set if the file exists; *valid
 * says whether it decoded. FALSE only on an I/O error other than absence. */
static gboolean
slot_read (const char *dir, guint slot, gboolean *present, gboolean *valid,
           guint64 *seq, RaftHardState *state, GError **error)
{
  g_autofree char *path = raft_hard_state_slot_path (dir, slot);
  g_autofree char *contents = NULL;
  gsize len = 0;
  GError *local = NULL;

  *present = *valid = FALSE;
  if (!g_file_get_contents (path, &contents, &len, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_error_free (local);
          return TRUE;
        }
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_IO, "%s", local->message);
      g_error_free (local);
      return FALSE;
    }
  *present = TRUE;
  *valid = raft_hard_state_decode ((const guint8 *) contents, len, seq, state);
  return TRUE;
}

gboolean
raft_hard_state_load (const char *dir, RaftHardState *state, guint64 *seq, GError **error)
{
  gboolean present[2], valid[2];
  guint64 seqs[2] = { 0, 0 };
  RaftHardState states[2];

  memset (states, 0, sizeof states);
  memset (state, 0, sizeof *state);
  *seq = 0;
  for (guint i = 0; i < 2; i++)
    if (!slot_read (dir, i, &present[i], &valid[i], &seqs[i], &states[i], error))
      return FALSE;
  if (!valid[0] && !valid[1])
    {
      if (present[0] && present[1])
        {
          g_autofree char *p0 = raft_hard_state_slot_path (dir, 0);
          g_autofree char *p1 = raft_hard_state_slot_path (dir, 1);
          g_set_error (error, RAFT_ERROR, RAFT_ERROR_CORRUPT,
                       _("Both hard-state files %s and %s are corrupt: the term and vote "
                         "are unknown, so the node refuses to start"), p0, p1);
          return FALSE;
        }
      return TRUE;
    }
  guint best = (valid[0] && (!valid[1] || seqs[0] > seqs[1])) ? 0 : 1;
  *state = states[best];
  *seq = seqs[best];
  return TRUE;
}

static gboolean
io_error (GError **error, GError *local)
{
  gint code = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOSPC)
              ? RAFT_ERROR_NO_SPACE : RAFT_ERROR_IO;
  g_set_error (error, RAFT_ERROR, code, "%s", local->message);
  g_error_free (local);
  return FALSE;
}

gboolean
raft_hard_state_save (const char *dir, guint64 *seq, const RaftHardState *state,
                      gboolean sync, GError **error)
{
  guint64 next = *seq + 1;
  g_autofree char *path = raft_hard_state_slot_path (dir, (guint) (next & 1));
  guint8 buf[RAFT_HARD_STATE_SLOT_SIZE];
  gboolean is_new = !g_file_test (path, G_FILE_TEST_EXISTS);
  GError *local = NULL;

  raft_hard_state_encode (buf, next, state);
  MinkaFile *file = minka_file_open (path, MINKA_FILE_WRITE | MINKA_FILE_CREATE, &local);
  if (!file)
    return io_error (error, local);
  gboolean ok = minka_file_seek (file, 0, &local)
                && minka_file_write_all (file, buf, sizeof buf, &local)
                && (!sync || minka_file_sync (file, &local));
  minka_file_close (file);
  if (ok && sync && is_new)
    ok = minka_fsync_dir (dir, &local);
  if (!ok)
    return io_error (error, local);
  *seq = next;
  return TRUE;
}
