/* raft-hard-state.h — term, vote and commit stored atomically in two
 * alternating slot files ("hardstate-0", "hardstate-1"). Each save writes
 * the slot NOT holding the current state, with a higher sequence number,
 * and fsyncs it; load picks the valid slot with the highest sequence. A
 * crash during a save therefore leaves the previous state readable.
 *
 * Slot layout (48 bytes, little-endian):
 *   0 u32 magic "MKHS"   4 u32 version (1)   8 u64 sequence
 *  16 u64 term          24 u64 vote         32 u64 commit
 *  40 u32 CRC32-C of bytes 0..39            44 u32 reserved (0) */
#pragma once

#include <glib.h>
#include "raft-types.h"

G_BEGIN_DECLS

#define RAFT_HARD_STATE_SLOT_SIZE 48
#define RAFT_HARD_STATE_MAGIC 0x53484B4Du

char *raft_hard_state_slot_path (const char *dir, guint slot);

void raft_hard_state_encode (guint8 out[RAFT_HARD_STATE_SLOT_SIZE], guint64 seq,
                             const RaftHardState *state);
gboolean raft_hard_state_decode (const guint8 *data, gsize len, guint64 *seq,
                                 RaftHardState *state);

/* Loads the newest valid slot. No slot file: zero state, *seq = 0. Both
 * slot files present and both invalid: RAFT_ERROR_CORRUPT (the term and
 * vote are unknown, starting would risk voting twice). One file present
 * and invalid (a crash during the very first save): zero state. */
gboolean raft_hard_state_load (const char *dir, RaftHardState *state, guint64 *seq,
                               GError **error);

/* Writes @state with sequence *seq + 1 into slot (*seq + 1) % 2, fsyncs
 * it (and the directory when the file is new), then advances *seq. */
gboolean raft_hard_state_save (const char *dir, guint64 *seq, const RaftHardState *state,
                               gboolean sync, GError **error);

G_END_DECLS
