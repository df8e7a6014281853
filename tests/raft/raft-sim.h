/* raft-sim.h — a deterministic simulator for the Raft core: N nodes in one
 * process, a fake clock, a fake network (drop, delay, duplicate, reorder,
 * partition), crashes that lose whatever was not persisted, restarts from
 * persisted state, snapshots and membership changes. It checks the Raft
 * safety properties as it goes and records the first violation. */
#pragma once

#include "raft.h"

G_BEGIN_DECLS

#define SIM_MAX_NODES 7

typedef struct {
  guint n_nodes;                     /* initial voters, ids 1..n */
  guint64 seed;
  guint election_ticks;              /* default 10 */
  guint heartbeat_ticks;             /* default 1 */
  guint min_delay, max_delay;        /* network delay in ticks; default 1, 1 */
  double drop;                       /* probability a packet is lost */
  double duplicate;                  /* probability a packet is delivered twice */
  double crash_in_ready;             /* probability a Ready is lost to a crash */
  guint compact_every;               /* snapshot after this many applied entries (0: never) */
  guint max_inflight;                /* 0: core default */
  guint max_entries_per_msg;         /* 0: core default */
  gboolean encode;                   /* pass every message through the codec */
} SimOptions;

typedef struct _Sim Sim;

void sim_options_init (SimOptions *opt, guint n_nodes, guint64 seed);
Sim *sim_new (const SimOptions *opt);
void sim_free (Sim *sim);

/* One tick of the fake clock: deliver due packets, tick every live node. */
void sim_tick (Sim *sim);
void sim_run (Sim *sim, guint ticks);
/* Deliver everything in flight (ignoring delays) until the network is quiet. */
void sim_flush (Sim *sim);

/* The live leader with the highest term (0: none). */
RaftNodeId sim_leader (Sim *sim);
/* Ticks until a leader exists (0 when none within max_ticks). */
RaftNodeId sim_wait_leader (Sim *sim, guint max_ticks);
/* Proposes on node id (must be the leader); returns the index or 0. */
guint64 sim_propose (Sim *sim, RaftNodeId id, const char *command);
/* Proposes count copies in a row, then handles the Ready once. */
guint sim_propose_many (Sim *sim, RaftNodeId id, const char *command, guint count);
/* Ticks until node id applied index (FALSE on timeout). */
gboolean sim_wait_applied (Sim *sim, RaftNodeId id, guint64 index, guint max_ticks);

/* Sees (and may rewrite) a copy of every message sent; drops it when the
 * filter returns FALSE (NULL: no filter). */
typedef gboolean (*SimFilter) (RaftMessage *msg, gpointer data);
void sim_set_filter (Sim *sim, SimFilter filter, gpointer data);
/* Makes node id start an election now (PreVote first). */
void sim_campaign (Sim *sim, RaftNodeId id);
/* Runs a read on node id; TRUE if the core accepted it. */
gboolean sim_read (Sim *sim, RaftNodeId id, guint64 context);

/* Faults. */
void sim_isolate (Sim *sim, RaftNodeId id);
void sim_cut (Sim *sim, RaftNodeId a, RaftNodeId b);
void sim_partition (Sim *sim, const RaftNodeId *group, guint n);  /* group vs. the rest */
void sim_heal (Sim *sim);
void sim_crash (Sim *sim, RaftNodeId id);
void sim_restart (Sim *sim, RaftNodeId id);
/* Replace node id's persisted log with entries of the given terms
 * (index 1..n), set its term, and restart it. For the paper's figures. */
void sim_set_log (Sim *sim, RaftNodeId id, const guint64 *terms, guint n, guint64 term);
/* Creates a fresh node with an empty log and config (to be added). */
void sim_add_node (Sim *sim, RaftNodeId id);
/* Crashes @id and restarts it with an empty disk (a wiped data folder),
 * keeping its place in the membership. */
void sim_wipe (Sim *sim, RaftNodeId id);
/* Compacts node id's log up to what it applied (a snapshot). */
void sim_compact (Sim *sim, RaftNodeId id);

/* Inspection. */
RaftNode *sim_node (Sim *sim, RaftNodeId id);            /* NULL if down */
guint64 sim_applied (Sim *sim, RaftNodeId id);
guint64 sim_digest (Sim *sim, RaftNodeId id);
guint64 sim_now (Sim *sim);
guint64 sim_total_applied (Sim *sim);                     /* sum over nodes */
/* Read states seen by node id: context and index of the latest one. */
gboolean sim_last_read (Sim *sim, RaftNodeId id, guint64 *context, guint64 *index);
/* Whether every safety check passed so far; the first failure otherwise. */
gboolean sim_ok (Sim *sim);
const char *sim_error (Sim *sim);
/* Records a failure (used by the random scenario's liveness checks). */
void sim_fail (Sim *sim, const char *format, ...) G_GNUC_PRINTF (2, 3);
guint64 sim_random (Sim *sim);

/* The randomised scenario used by test-raft-sim: chaos (partitions,
 * drops, crashes, membership changes, snapshots, transfers, reads), then
 * heal and check liveness. FALSE with *error set on any violation.
 * fingerprint (may be NULL) summarises the final state, to check that a
 * seed replays identically. */
gboolean sim_random_run (guint64 seed, guint n_nodes, guint64 *fingerprint, char **error);

/* Seeds for the suites: MINKA_RAFT_SEED replays one, MINKA_RAFT_SEEDS sets
 * how many. */
guint64 sim_env_seed (gboolean *set);
guint sim_env_seed_count (guint fallback);

G_END_DECLS
