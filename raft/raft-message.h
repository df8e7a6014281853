/* raft-message.h — the messages Raft nodes exchange, and their compact
 * binary encoding (little-endian, versioned). Decoding rejects malformed
 * input with RAFT_ERROR_CORRUPT and never over-allocates. */
#pragma once

#include "raft-types.h"

G_BEGIN_DECLS

typedef enum {
  RAFT_MSG_APPEND = 1,               /* AppendEntries (entries may be empty) */
  RAFT_MSG_APPEND_RESP = 2,
  RAFT_MSG_VOTE = 3,                 /* RequestVote */
  RAFT_MSG_VOTE_RESP = 4,
  RAFT_MSG_PRE_VOTE = 5,             /* would you vote for me at term+1? */
  RAFT_MSG_PRE_VOTE_RESP = 6,
  RAFT_MSG_HEARTBEAT = 7,
  RAFT_MSG_HEARTBEAT_RESP = 8,
  RAFT_MSG_SNAPSHOT = 9,             /* leader → follower: install this snapshot */
  RAFT_MSG_TIMEOUT_NOW = 10,         /* leadership transfer: campaign now */
  RAFT_MSG_READ_INDEX = 11,          /* follower → leader: forwarded ReadIndex */
  RAFT_MSG_READ_INDEX_RESP = 12,
} RaftMessageType;

#define RAFT_MSG_TYPE_MAX 12

typedef struct {
  RaftMessageType type;
  RaftNodeId from;
  RaftNodeId to;
  guint64 term;
  /* APPEND: previous entry; VOTE/PRE_VOTE: candidate's last entry;
   * APPEND_RESP: index acknowledged (or rejected prev index). */
  guint64 log_term;
  guint64 index;
  guint64 commit;
  gboolean reject;
  guint64 hint_index;                /* APPEND_RESP reject: conflict hint */
  guint64 hint_term;
  guint64 context;                   /* HEARTBEAT(_RESP)/READ_INDEX(_RESP): read context */
  gboolean transfer;                 /* VOTE caused by leadership transfer */
  guint n_entries;
  RaftEntry *entries;
  RaftSnapshotMeta snapshot;         /* SNAPSHOT: what to install */
} RaftMessage;

#define RAFT_MESSAGE_VERSION 1
/* Decoding refuses messages claiming more than this many entries. */
#define RAFT_MESSAGE_MAX_ENTRIES 65536

void raft_message_clear (RaftMessage *msg);
void raft_message_copy (RaftMessage *dst, const RaftMessage *src);
const char *raft_message_type_name (RaftMessageType type);

GBytes *raft_message_encode (const RaftMessage *msg);
gboolean raft_message_decode (GBytes *bytes, RaftMessage *out, GError **error);

G_END_DECLS
