/* raft-types.h — the data the Raft core and its storage share: log
 * entries, the hard state (term and vote) and snapshot metadata. Nothing
 * here touches sockets, files or clocks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RAFT_ERROR (raft_error_quark ())
GQuark raft_error_quark (void);

typedef enum {
  RAFT_ERROR_CORRUPT,                /* a record or file failed its checks */
  RAFT_ERROR_IO,                     /* the operating system refused */
  RAFT_ERROR_NO_SPACE,               /* disk full: nothing was half-written */
  RAFT_ERROR_DATA_LOSS,              /* recovery would lose committed entries */
  RAFT_ERROR_INVALID,                /* bad argument or message */
} RaftError;

typedef guint64 RaftNodeId;          /* 0 means "none" */
#define RAFT_NO_NODE ((RaftNodeId) 0)

typedef enum {
  RAFT_ENTRY_NORMAL = 0,             /* application command (opaque bytes) */
  RAFT_ENTRY_NOOP = 1,               /* a new leader's empty entry */
  RAFT_ENTRY_CONFIG = 2,             /* membership change (encoded RaftConfig) */
} RaftEntryType;

typedef struct {
  guint64 term;
  guint64 index;
  RaftEntryType type;
  GBytes *data;                      /* may be NULL for NOOP */
} RaftEntry;

/* What must be on disk before a message that depends on it is sent. */
typedef struct {
  guint64 term;
  RaftNodeId vote;
  guint64 commit;                    /* a hint, may lag; never ahead of the log */
} RaftHardState;

/* Cluster membership: the voters, and for each an opaque address string the
 * application uses to reach it. */
typedef struct {
  guint n_nodes;
  RaftNodeId *ids;
  char **addresses;                  /* n_nodes strings (may be "" ) */
} RaftConfig;

typedef struct {
  guint64 index;                     /* last entry the snapshot covers */
  guint64 term;                      /* its term */
  RaftConfig config;                 /* membership as of index */
} RaftSnapshotMeta;

void raft_entry_clear (RaftEntry *entry);
RaftEntry raft_entry_copy (const RaftEntry *entry);

RaftConfig raft_config_copy (const RaftConfig *config);
void raft_config_clear (RaftConfig *config);
gboolean raft_config_contains (const RaftConfig *config, RaftNodeId id);
GBytes *raft_config_encode (const RaftConfig *config);
gboolean raft_config_decode (GBytes *bytes, RaftConfig *out, GError **error);

void raft_snapshot_meta_clear (RaftSnapshotMeta *meta);

G_END_DECLS
