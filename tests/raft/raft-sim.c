/* raft-sim.c — the deterministic Raft simulator (see raft-sim.h).
 *
 * Durability model: what a node hands out in a Ready becomes durable only
 * when the simulator "persists" it while handling that Ready; a crash
 * (random, or sim_crash) throws the node's memory away, including a Ready
 * not yet handled, and it restarts from what was persisted. Messages of a
 * Ready are sent only after it was persisted, so nothing that depends on
 * lost state ever leaves the node.
 *
 * Safety checks, done incrementally as the information appears:
 *  - Election Safety: at most one leader per term;
 *  - Log Matching: every persisted entry with the same (index, term) has
 *    the same content and the same previous term (so, by induction, the
 *    same prefix);
 *  - Leader Completeness: a new leader's log holds every entry applied
 *    anywhere so far;
 *  - State Machine Safety: every node applies the same entry at an index,
 *    and the application digest after index i is the same everywhere
 *    (this also checks snapshot transfer);
 *  - ReadIndex: a read index is at least the highest commit index any node
 *    knew when the read was issued. */
#include "raft-sim.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  guint64 at;
  guint64 seq;
  RaftNodeId from, to;
  GBytes *wire;                      /* encoded message (opt.encode) */
  RaftMessage msg;                   /* otherwise, a copy */
  guint64 snap_digest;               /* SNAPSHOT: the streamed app state */
} Packet;

typedef struct {
  gboolean exists;
  RaftNodeId id;
  RaftNode *node;                    /* NULL while crashed */
  guint incarnation;
  /* Disk. */
  RaftHardState hs;
  RaftSnapshotMeta snap;
  guint64 snap_digest;
  GArray *log;                       /* RaftEntry after snap.index */
  /* Application (volatile). */
  guint64 applied;
  guint64 digest;
  /* Snapshot stream received, waiting for the core to accept it. */
  guint64 incoming_index;
  guint64 incoming_digest;
  gboolean has_read;
  guint64 read_context, read_index;
} SimNode;

typedef struct {
  guint64 term;
  guint64 hash;                      /* of the entry content */
  guint64 digest;                    /* app digest after applying it */
} Applied;

struct _Sim {
  SimOptions opt;
  guint64 rng;
  guint64 now;
  guint64 seq;
  SimNode nodes[SIM_MAX_NODES + 1];  /* by id; [0] unused */
  GPtrArray *packets;
  gboolean cut[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
  GHashTable *leaders;               /* term -> leader id */
  GHashTable *entries;               /* "index:term" -> EntrySeen */
  GArray *applied;                   /* Applied by index */
  GHashTable *reads;                 /* context -> floor commit index */
  guint64 next_read;
  SimFilter filter;
  gpointer filter_data;
  GString *error;
};

typedef struct {
  guint64 hash;
  guint64 prev_term;
} EntrySeen;

static void sim_process (Sim *sim, SimNode *n);

/* ---- utilities -------------------------------------------------------- */

guint64
sim_random (Sim *sim)
{
  guint64 z = (sim->rng += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static gboolean
chance (Sim *sim, double p)
{
  if (p <= 0)
    return FALSE;
  return (double) (sim_random (sim) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static guint64
mix (guint64 h, guint64 v)
{
  h ^= v + G_GUINT64_CONSTANT (0x9E3779B97F4A7C15) + (h << 6) + (h >> 2);
  h *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  return h ^ (h >> 33);
}

static guint64
entry_hash (const RaftEntry *e)
{
  guint64 h = mix (e->term, e->type);
  gsize size = 0, i = 0;
  const guint8 *p = e->data ? g_bytes_get_data (e->data, &size) : NULL;
  for (; i + 8 <= size; i += 8)
    {
      guint64 w;
      memcpy (&w, p + i, 8);
      h = mix (h, w);
    }
  for (; i < size; i++)
    h = mix (h, p[i]);
  return mix (h, size);
}

void
sim_fail (Sim *sim, const char *format, ...)
{
  va_list ap;
  if (sim->error->len > 0)
    return;
  g_string_append_printf (sim->error, "seed %" G_GUINT64_FORMAT " t=%" G_GUINT64_FORMAT ": ",
                          sim->opt.seed, sim->now);
  va_start (ap, format);
  g_string_append_vprintf (sim->error, format, ap);
  va_end (ap);
}

gboolean sim_ok (Sim *sim) { return sim->error->len == 0; }
const char *sim_error (Sim *sim) { return sim->error->str; }
guint64 sim_now (Sim *sim) { return sim->now; }

static SimNode *
node_get (Sim *sim, RaftNodeId id)
{
  g_assert (id >= 1 && id <= SIM_MAX_NODES);
  return &sim->nodes[id];
}

RaftNode *sim_node (Sim *sim, RaftNodeId id) { return node_get (sim, id)->node; }
guint64 sim_applied (Sim *sim, RaftNodeId id) { return node_get (sim, id)->applied; }
guint64 sim_digest (Sim *sim, RaftNodeId id) { return node_get (sim, id)->digest; }

gboolean
sim_last_read (Sim *sim, RaftNodeId id, guint64 *context, guint64 *index)
{
  SimNode *n = node_get (sim, id);
  *context = n->read_context;
  *index = n->read_index;
  return n->has_read;
}

guint64
sim_total_applied (Sim *sim)
{
  guint64 total = 0;
  for (guint i = 1; i <= SIM_MAX_NODES; i++)
    total += sim->nodes[i].applied;
  return total;
}

static void
entry_array_clear (gpointer p)
{
  raft_entry_clear (p);
}

/* ---- disk and restart ------------------------------------------------- */

static void
node_start (Sim *sim, SimNode *n)
{
  RaftOptions o;
  GError *error = NULL;
  raft_options_init (&o, n->id);
  o.election_ticks = sim->opt.election_ticks;
  o.heartbeat_ticks = sim->opt.heartbeat_ticks;
  o.seed = mix (sim->opt.seed, n->id * 1000 + n->incarnation++);
  if (sim->opt.max_inflight)
    o.max_inflight = sim->opt.max_inflight;
  if (sim->opt.max_entries_per_msg)
    o.max_entries_per_msg = sim->opt.max_entries_per_msg;
  n->node = raft_node_new (&o, &n->hs, &n->snap, (const RaftEntry *) n->log->data,
                           n->log->len, &error);
  if (!n->node)
    {
      sim_fail (sim, "node %" G_GUINT64_FORMAT " cannot restart: %s", n->id, error->message);
      g_error_free (error);
      return;
    }
  n->applied = n->snap.index;
  n->digest = n->snap_digest;
  n->incoming_index = 0;
}

static void
node_disk_init (SimNode *n, RaftNodeId id, const RaftConfig *config)
{
  n->exists = TRUE;
  n->id = id;
  memset (&n->hs, 0, sizeof n->hs);
  raft_snapshot_meta_clear (&n->snap);
  n->snap.config = raft_config_copy (config);
  n->snap_digest = 0;
  if (n->log)
    g_array_set_size (n->log, 0);
  else
    {
      n->log = g_array_new (FALSE, TRUE, sizeof (RaftEntry));
      g_array_set_clear_func (n->log, entry_array_clear);
    }
}

static guint64
disk_last_index (SimNode *n)
{
  return n->snap.index + n->log->len;
}

static guint64
disk_term (SimNode *n, guint64 index)
{
  if (index == n->snap.index)
    return n->snap.term;
  if (index < n->snap.index || index > disk_last_index (n))
    return 0;
  return g_array_index (n->log, RaftEntry, index - n->snap.index - 1).term;
}

static void
check_entry_seen (Sim *sim, SimNode *n, const RaftEntry *e)
{
  char key[48];
  EntrySeen *seen;
  guint64 h = entry_hash (e), prev = disk_term (n, e->index - 1);
  g_snprintf (key, sizeof key, "%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, e->index, e->term);
  seen = g_hash_table_lookup (sim->entries, key);
  if (!seen)
    {
      seen = g_new (EntrySeen, 1);
      seen->hash = h;
      seen->prev_term = prev;
      g_hash_table_insert (sim->entries, g_strdup (key), seen);
      return;
    }
  if (seen->hash != h)
    sim_fail (sim, "Log Matching: node %" G_GUINT64_FORMAT " entry %s differs", n->id, key);
  if (seen->prev_term != prev)
    sim_fail (sim, "Log Matching: node %" G_GUINT64_FORMAT " entry %s follows term %"
              G_GUINT64_FORMAT ", elsewhere term %" G_GUINT64_FORMAT, n->id, key, prev,
              seen->prev_term);
}

static void
persist_entries (Sim *sim, SimNode *n, const RaftEntry *entries, guint count)
{
  guint64 first;
  if (count == 0)
    return;
  first = entries[0].index;
  if (first <= n->snap.index || first > disk_last_index (n) + 1)
    {
      sim_fail (sim, "node %" G_GUINT64_FORMAT ": Ready entries start at %" G_GUINT64_FORMAT
                " but disk holds %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT, n->id, first,
                n->snap.index + 1, disk_last_index (n));
      return;
    }
  g_array_set_size (n->log, (guint) (first - n->snap.index - 1));
  for (guint i = 0; i < count; i++)
    {
      RaftEntry copy = raft_entry_copy (&entries[i]);
      check_entry_seen (sim, n, &entries[i]);
      g_array_append_val (n->log, copy);
    }
}

static void
persist_snapshot (SimNode *n, const RaftSnapshotMeta *meta, guint64 digest)
{
  guint64 drop = 0;
  if (meta->index <= disk_last_index (n) && disk_term (n, meta->index) == meta->term
      && meta->index >= n->snap.index)
    drop = meta->index - n->snap.index;          /* compaction: keep the suffix */
  else
    drop = n->log->len;                          /* install: replace the log */
  g_array_remove_range (n->log, 0, (guint) MIN (drop, n->log->len));
  raft_snapshot_meta_clear (&n->snap);
  n->snap.index = meta->index;
  n->snap.term = meta->term;
  n->snap.config = raft_config_copy (&meta->config);
  n->snap_digest = digest;
}

void
sim_compact (Sim *sim, RaftNodeId id)
{
  SimNode *n = node_get (sim, id);
  GError *error = NULL;
  if (!n->node || n->applied <= n->snap.index)
    return;
  if (!raft_node_compact (n->node, n->applied, &error))
    {
      sim_fail (sim, "compact: %s", error->message);
      g_error_free (error);
      return;
    }
  persist_snapshot (n, raft_node_snapshot_meta (n->node), n->digest);
}

/* ---- network ---------------------------------------------------------- */

static void
packet_free (gpointer p)
{
  Packet *pk = p;
  if (pk->wire)
    g_bytes_unref (pk->wire);
  raft_message_clear (&pk->msg);
  g_free (pk);
}

static gboolean
link_up (Sim *sim, RaftNodeId a, RaftNodeId b)
{
  return !sim->cut[a][b];
}

static Packet *
packet_new (Sim *sim, const RaftMessage *m, guint64 digest)
{
  Packet *pk = g_new0 (Packet, 1);
  guint span = sim->opt.max_delay - sim->opt.min_delay + 1;
  pk->at = sim->now + sim->opt.min_delay + sim_random (sim) % span;
  pk->seq = sim->seq++;
  pk->from = m->from;
  pk->to = m->to;
  pk->snap_digest = digest;
  if (sim->opt.encode)
    pk->wire = raft_message_encode (m);
  else
    raft_message_copy (&pk->msg, m);
  return pk;
}

/* Returns whether the message (a snapshot stream, say) got through. */
static gboolean
net_send (Sim *sim, SimNode *from, const RaftMessage *m)
{
  guint64 digest = 0;
  if (m->to < 1 || m->to > SIM_MAX_NODES)
    return FALSE;
  if (m->type == RAFT_MSG_SNAPSHOT)
    {
      if (m->snapshot.index != from->snap.index)
        sim_fail (sim, "node %" G_GUINT64_FORMAT " sends snapshot %" G_GUINT64_FORMAT
                  " but holds %" G_GUINT64_FORMAT, from->id, m->snapshot.index, from->snap.index);
      digest = from->snap_digest;
    }
  if (!link_up (sim, m->from, m->to) || chance (sim, sim->opt.drop))
    return FALSE;
  if (sim->filter)
    {
      RaftMessage copy;
      gboolean pass;
      raft_message_copy (&copy, m);
      pass = sim->filter (&copy, sim->filter_data);
      if (pass)
        g_ptr_array_add (sim->packets, packet_new (sim, &copy, digest));
      raft_message_clear (&copy);
      return pass;
    }
  g_ptr_array_add (sim->packets, packet_new (sim, m, digest));
  if (chance (sim, sim->opt.duplicate))
    g_ptr_array_add (sim->packets, packet_new (sim, m, digest));
  return TRUE;
}

static void
deliver (Sim *sim, Packet *pk)
{
  SimNode *n = node_get (sim, pk->to);
  RaftMessage decoded = { 0 };
  const RaftMessage *m = &pk->msg;
  GError *error = NULL;

  if (!n->exists || !n->node || !link_up (sim, pk->from, pk->to))
    return;
  if (pk->wire)
    {
      if (!raft_message_decode (pk->wire, &decoded, &error))
        {
          sim_fail (sim, "decode: %s", error->message);
          g_error_free (error);
          return;
        }
      m = &decoded;
    }
  if (m->type == RAFT_MSG_SNAPSHOT)
    {
      n->incoming_index = m->snapshot.index;
      n->incoming_digest = pk->snap_digest;
    }
  if (!raft_node_step (n->node, m, &error))
    {
      sim_fail (sim, "step: %s", error->message);
      g_error_free (error);
    }
  raft_message_clear (&decoded);
  sim_process (sim, n);
}

static int
packet_cmp (gconstpointer a, gconstpointer b)
{
  const Packet *x = *(Packet * const *) a, *y = *(Packet * const *) b;
  if (x->at != y->at)
    return x->at < y->at ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

/* Delivers packets due by `until`, including ones sent meanwhile. */
static void
net_deliver_due (Sim *sim, guint64 until)
{
  for (guint round = 0; round < 10000; round++)
    {
      GPtrArray *due = g_ptr_array_new_with_free_func (packet_free);
      for (guint i = 0; i < sim->packets->len;)
        {
          Packet *pk = g_ptr_array_index (sim->packets, i);
          if (pk->at <= until)
            {
              g_ptr_array_add (due, pk);
              g_ptr_array_steal_index_fast (sim->packets, i);
            }
          else
            i++;
        }
      if (due->len == 0)
        {
          g_ptr_array_unref (due);
          return;
        }
      g_ptr_array_sort (due, packet_cmp);
      for (guint i = 0; i < due->len; i++)
        deliver (sim, g_ptr_array_index (due, i));
      g_ptr_array_unref (due);
    }
}

/* ---- handling a Ready ------------------------------------------------- */

static void
check_leader (Sim *sim, SimNode *n)
{
  guint64 term = raft_node_term (n->node);
  gpointer prev;
  if (raft_node_role (n->node) != RAFT_ROLE_LEADER)
    return;
  prev = g_hash_table_lookup (sim->leaders, GSIZE_TO_POINTER ((gsize) term));
  if (prev)
    {
      if (GPOINTER_TO_SIZE (prev) != n->id)
        sim_fail (sim, "Election Safety: term %" G_GUINT64_FORMAT " has leaders %"
                  G_GSIZE_FORMAT " and %" G_GUINT64_FORMAT, term, GPOINTER_TO_SIZE (prev), n->id);
      return;
    }
  g_hash_table_insert (sim->leaders, GSIZE_TO_POINTER ((gsize) term),
                       GSIZE_TO_POINTER ((gsize) n->id));
  /* Leader Completeness: it holds everything applied anywhere. */
  for (guint64 i = raft_node_snapshot_index (n->node) + 1; i < sim->applied->len; i++)
    {
      Applied *a = &g_array_index (sim->applied, Applied, i);
      const RaftEntry *e;
      if (a->term == 0)
        continue;
      e = raft_node_log_entry (n->node, i);
      if (!e || e->term != a->term || entry_hash (e) != a->hash)
        {
          sim_fail (sim, "Leader Completeness: leader %" G_GUINT64_FORMAT " of term %"
                    G_GUINT64_FORMAT " lacks applied entry %" G_GUINT64_FORMAT,
                    n->id, term, i);
          return;
        }
    }
}

static void
check_applied (Sim *sim, SimNode *n, guint64 index, guint64 term, guint64 hash)
{
  Applied *a;
  if (sim->applied->len <= index)
    g_array_set_size (sim->applied, (guint) index + 64);
  a = &g_array_index (sim->applied, Applied, index);
  if (a->term == 0)
    {
      a->term = term;
      a->hash = hash;
      a->digest = n->digest;
      return;
    }
  if (a->term != term || a->hash != hash || a->digest != n->digest)
    sim_fail (sim, "State Machine Safety: node %" G_GUINT64_FORMAT " applied a different entry"
              " (or state) at %" G_GUINT64_FORMAT, n->id, index);
}

static void
apply_entries (Sim *sim, SimNode *n, const RaftEntry *entries, guint count)
{
  for (guint i = 0; i < count; i++)
    {
      const RaftEntry *e = &entries[i];
      guint64 h = entry_hash (e);
      if (e->index != n->applied + 1)
        {
          sim_fail (sim, "node %" G_GUINT64_FORMAT " applies %" G_GUINT64_FORMAT " after %"
                    G_GUINT64_FORMAT, n->id, e->index, n->applied);
          return;
        }
      n->digest = mix (n->digest, h);
      n->applied = e->index;
      check_applied (sim, n, e->index, e->term, h);
    }
}

static void
install_snapshot (Sim *sim, SimNode *n, const RaftSnapshotMeta *meta)
{
  if (n->incoming_index != meta->index)
    {
      sim_fail (sim, "node %" G_GUINT64_FORMAT " installs snapshot %" G_GUINT64_FORMAT
                " but received %" G_GUINT64_FORMAT, n->id, meta->index, n->incoming_index);
      return;
    }
  n->applied = meta->index;
  n->digest = n->incoming_digest;
  persist_snapshot (n, meta, n->digest);
  if (sim->applied->len > meta->index)
    {
      Applied *a = &g_array_index (sim->applied, Applied, meta->index);
      if (a->term && a->digest != n->digest)
        sim_fail (sim, "snapshot %" G_GUINT64_FORMAT " installed on node %" G_GUINT64_FORMAT
                  " has a different state", meta->index, n->id);
    }
}

static void
check_reads (Sim *sim, SimNode *n, const RaftReady *rd)
{
  for (guint i = 0; i < rd->n_read_states; i++)
    {
      const RaftReadState *rs = &rd->read_states[i];
      gpointer floor;
      if (!g_hash_table_lookup_extended (sim->reads, GSIZE_TO_POINTER ((gsize) rs->context),
                                         NULL, &floor))
        continue;
      if (rs->index < GPOINTER_TO_SIZE (floor))
        sim_fail (sim, "ReadIndex: read %" G_GUINT64_FORMAT " got index %" G_GUINT64_FORMAT
                  " below commit %" G_GSIZE_FORMAT, rs->context, rs->index,
                  GPOINTER_TO_SIZE (floor));
      n->has_read = TRUE;
      n->read_context = rs->context;
      n->read_index = rs->index;
    }
}

static void
sim_process (Sim *sim, SimNode *n)
{
  while (n->node && raft_node_has_ready (n->node))
    {
      const RaftReady *rd = raft_node_ready (n->node);
      RaftNodeId snap_ok[SIM_MAX_NODES + 1] = { 0 };
      guint n_reports = 0;
      gboolean reports[SIM_MAX_NODES + 1];

      check_leader (sim, n);
      if (chance (sim, sim->opt.crash_in_ready))
        {
          sim_crash (sim, n->id);    /* the Ready is lost */
          return;
        }
      /* 1-3: persist (snapshot, entries, hard state). */
      if (rd->snapshot)
        install_snapshot (sim, n, rd->snapshot);
      persist_entries (sim, n, rd->entries, rd->n_entries);
      if (rd->has_hard_state)
        n->hs = rd->hard_state;
      /* 4: send. */
      for (guint i = 0; i < rd->n_messages; i++)
        {
          gboolean ok = net_send (sim, n, &rd->messages[i]);
          if (rd->messages[i].type == RAFT_MSG_SNAPSHOT && n_reports < SIM_MAX_NODES)
            {
              snap_ok[n_reports] = rd->messages[i].to;
              reports[n_reports++] = ok;
            }
        }
      /* 5-6: apply, answer reads. */
      apply_entries (sim, n, rd->committed, rd->n_committed);
      check_reads (sim, n, rd);
      raft_node_advance (n->node);
      for (guint i = 0; i < n_reports; i++)
        raft_node_report_snapshot (n->node, snap_ok[i], reports[i]);
      if (sim->opt.compact_every && n->applied >= n->snap.index + sim->opt.compact_every)
        sim_compact (sim, n->id);
    }
}

/* ---- clock ------------------------------------------------------------ */

/* MINKA_RAFT_TRACE=1 prints every node's state each tick (for replays). */
static void
trace_tick (Sim *sim)
{
  static int enabled = -1;
  if (enabled < 0)
    enabled = g_getenv ("MINKA_RAFT_TRACE") != NULL;
  if (!enabled)
    return;
  fprintf (stderr, "t=%" G_GUINT64_FORMAT, sim->now);
  for (guint i = 1; i <= SIM_MAX_NODES; i++)
    {
      SimNode *n = &sim->nodes[i];
      const RaftConfig *c;
      if (!n->exists)
        continue;
      if (!n->node)
        {
          fprintf (stderr, " | %u down", i);
          continue;
        }
      c = raft_node_config (n->node);
      fprintf (stderr, " | %u %c t%" G_GUINT64_FORMAT " c%" G_GUINT64_FORMAT " l%" G_GUINT64_FORMAT
               " s%" G_GUINT64_FORMAT " a%" G_GUINT64_FORMAT " cfg%u", i,
               "FPCL"[raft_node_role (n->node)], raft_node_term (n->node),
               raft_node_commit_index (n->node), raft_node_last_index (n->node),
               raft_node_snapshot_index (n->node), n->applied, c->n_nodes);
      if (raft_node_role (n->node) == RAFT_ROLE_LEADER)
        for (guint j = 0; j < c->n_nodes; j++)
          {
            guint64 match = 0, next = 0;
            const char *state = "?";
            raft_node_peer_info (n->node, c->ids[j], &match, &next, &state);
            fprintf (stderr, " m%" G_GUINT64_FORMAT "=%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                     "%s", c->ids[j], match, next, state);
          }
    }
  fprintf (stderr, "\n");
}

void
sim_tick (Sim *sim)
{
  trace_tick (sim);
  sim->now++;
  net_deliver_due (sim, sim->now);
  for (guint i = 1; i <= SIM_MAX_NODES; i++)
    {
      SimNode *n = &sim->nodes[i];
      if (!n->exists || !n->node)
        continue;
      raft_node_tick (n->node);
      sim_process (sim, n);
    }
}

void
sim_run (Sim *sim, guint ticks)
{
  for (guint i = 0; i < ticks; i++)
    sim_tick (sim);
}

void
sim_flush (Sim *sim)
{
  net_deliver_due (sim, G_MAXUINT64);
}

RaftNodeId
sim_leader (Sim *sim)
{
  RaftNodeId best = 0;
  guint64 best_term = 0;
  for (guint i = 1; i <= SIM_MAX_NODES; i++)
    {
      SimNode *n = &sim->nodes[i];
      if (n->node && raft_node_role (n->node) == RAFT_ROLE_LEADER
          && raft_node_term (n->node) >= best_term)
        {
          best = n->id;
          best_term = raft_node_term (n->node);
        }
    }
  return best;
}

RaftNodeId
sim_wait_leader (Sim *sim, guint max_ticks)
{
  for (guint i = 0; i <= max_ticks; i++)
    {
      RaftNodeId id = sim_leader (sim);
      if (id)
        return id;
      sim_tick (sim);
    }
  return 0;
}

guint64
sim_propose (Sim *sim, RaftNodeId id, const char *command)
{
  SimNode *n = node_get (sim, id);
  GBytes *data;
  guint64 index = 0;
  if (!n->node)
    return 0;
  data = g_bytes_new (command, strlen (command));
  if (!raft_node_propose (n->node, data, &index, NULL))
    index = 0;
  g_bytes_unref (data);
  sim_process (sim, n);
  return index;
}

guint
sim_propose_many (Sim *sim, RaftNodeId id, const char *command, guint count)
{
  SimNode *n = node_get (sim, id);
  GBytes *data;
  guint done = 0;
  if (!n->node)
    return 0;
  data = g_bytes_new (command, strlen (command));
  while (done < count && raft_node_propose (n->node, data, NULL, NULL))
    done++;
  g_bytes_unref (data);
  sim_process (sim, n);
  return done;
}

gboolean
sim_wait_applied (Sim *sim, RaftNodeId id, guint64 index, guint max_ticks)
{
  for (guint i = 0; i <= max_ticks; i++)
    {
      if (node_get (sim, id)->applied >= index)
        return TRUE;
      sim_tick (sim);
    }
  return FALSE;
}

static guint64
max_commit (Sim *sim)
{
  guint64 m = 0;
  for (guint i = 1; i <= SIM_MAX_NODES; i++)
    if (sim->nodes[i].node)
      m = MAX (m, raft_node_commit_index (sim->nodes[i].node));
  return m;
}

void
sim_set_filter (Sim *sim, SimFilter filter, gpointer data)
{
  sim->filter = filter;
  sim->filter_data = data;
}

void
sim_campaign (Sim *sim, RaftNodeId id)
{
  SimNode *n = node_get (sim, id);
  if (!n->node)
    return;
  raft_node_campaign (n->node);
  sim_process (sim, n);
}

gboolean
sim_read (Sim *sim, RaftNodeId id, guint64 context)
{
  SimNode *n = node_get (sim, id);
  if (!n->node)
    return FALSE;
  g_hash_table_insert (sim->reads, GSIZE_TO_POINTER ((gsize) context),
                       GSIZE_TO_POINTER ((gsize) max_commit (sim)));
  if (!raft_node_read_index (n->node, context, NULL))
    return FALSE;
  sim_process (sim, n);
  return TRUE;
}

/* ---- faults ----------------------------------------------------------- */

void
sim_cut (Sim *sim, RaftNodeId a, RaftNodeId b)
{
  sim->cut[a][b] = sim->cut[b][a] = TRUE;
}

void
sim_isolate (Sim *sim, RaftNodeId id)
{
  for (RaftNodeId j = 1; j <= SIM_MAX_NODES; j++)
    if (j != id)
      sim_cut (sim, id, j);
}

void
sim_partition (Sim *sim, const RaftNodeId *group, guint count)
{
  gboolean in[SIM_MAX_NODES + 1] = { 0 };
  for (guint i = 0; i < count; i++)
    in[group[i]] = TRUE;
  for (RaftNodeId a = 1; a <= SIM_MAX_NODES; a++)
    for (RaftNodeId b = 1; b <= SIM_MAX_NODES; b++)
      if (in[a] != in[b])
        sim->cut[a][b] = TRUE;
}

void
sim_heal (Sim *sim)
{
  memset (sim->cut, 0, sizeof sim->cut);
}

void
sim_crash (Sim *sim, RaftNodeId id)
{
  SimNode *n = node_get (sim, id);
  g_clear_pointer (&n->node, raft_node_free);
}

void
sim_restart (Sim *sim, RaftNodeId id)
{
  SimNode *n = node_get (sim, id);
  if (n->exists && !n->node)
    node_start (sim, n);
}

void
sim_set_log (Sim *sim, RaftNodeId id, const guint64 *terms, guint count, guint64 term)
{
  SimNode *n = node_get (sim, id);
  RaftConfig config = raft_config_copy (&n->snap.config);
  sim_crash (sim, id);
  node_disk_init (n, id, &config);
  raft_config_clear (&config);
  for (guint i = 0; i < count; i++)
    {
      RaftEntry e = { terms[i], i + 1, RAFT_ENTRY_NORMAL, NULL };
      char buf[48];
      g_snprintf (buf, sizeof buf, "t%" G_GUINT64_FORMAT "i%u", terms[i], i + 1);
      e.data = g_bytes_new (buf, strlen (buf));
      check_entry_seen (sim, n, &e);
      g_array_append_val (n->log, e);
    }
  n->hs.term = term;
  node_start (sim, n);
}

void
sim_wipe (Sim *sim, RaftNodeId id)
{
  sim_set_log (sim, id, NULL, 0, 0);
}

void
sim_add_node (Sim *sim, RaftNodeId id)
{
  SimNode *n = node_get (sim, id);
  RaftConfig empty = { 0 };
  sim_crash (sim, id);
  node_disk_init (n, id, &empty);
  node_start (sim, n);
}

/* ---- construction ----------------------------------------------------- */

void
sim_options_init (SimOptions *opt, guint n_nodes, guint64 seed)
{
  memset (opt, 0, sizeof *opt);
  opt->n_nodes = n_nodes;
  opt->seed = seed;
  opt->election_ticks = 10;
  opt->heartbeat_ticks = 1;
  opt->min_delay = 1;
  opt->max_delay = 1;
}

Sim *
sim_new (const SimOptions *opt)
{
  Sim *sim = g_new0 (Sim, 1);
  RaftConfig config = { 0 };
  g_assert (opt->n_nodes >= 1 && opt->n_nodes <= SIM_MAX_NODES);
  g_assert (opt->min_delay <= opt->max_delay);
  sim->opt = *opt;
  sim->rng = mix (opt->seed, 0x5157);
  sim->packets = g_ptr_array_new_with_free_func (packet_free);
  sim->leaders = g_hash_table_new (g_direct_hash, g_direct_equal);
  sim->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sim->applied = g_array_new (FALSE, TRUE, sizeof (Applied));
  sim->reads = g_hash_table_new (g_direct_hash, g_direct_equal);
  sim->error = g_string_new (NULL);
  config.n_nodes = opt->n_nodes;
  config.ids = g_new0 (RaftNodeId, opt->n_nodes);
  config.addresses = g_new0 (char *, opt->n_nodes + 1);
  for (guint i = 0; i < opt->n_nodes; i++)
    {
      config.ids[i] = i + 1;
      config.addresses[i] = g_strdup_printf ("sim-%u", i + 1);
    }
  for (guint i = 1; i <= opt->n_nodes; i++)
    {
      node_disk_init (&sim->nodes[i], i, &config);
      node_start (sim, &sim->nodes[i]);
    }
  raft_config_clear (&config);
  return sim;
}

void
sim_free (Sim *sim)
{
  for (guint i = 1; i <= SIM_MAX_NODES; i++)
    {
      SimNode *n = &sim->nodes[i];
      g_clear_pointer (&n->node, raft_node_free);
      g_clear_pointer (&n->log, g_array_unref);
      raft_snapshot_meta_clear (&n->snap);
    }
  g_ptr_array_unref (sim->packets);
  g_hash_table_unref (sim->leaders);
  g_hash_table_unref (sim->entries);
  g_array_unref (sim->applied);
  g_hash_table_unref (sim->reads);
  g_string_free (sim->error, TRUE);
  g_free (sim);
}

/* ---- the random scenario ---------------------------------------------- */

static void
chaos_read (Sim *sim)
{
  RaftNodeId id = 1 + sim_random (sim) % SIM_MAX_NODES;
  SimNode *n = &sim->nodes[id];
  guint64 ctx = ++sim->next_read;
  if (!n->node)
    return;
  /* Anything committed anywhere before the read started must be seen. */
  g_hash_table_insert (sim->reads, GSIZE_TO_POINTER ((gsize) ctx),
                       GSIZE_TO_POINTER ((gsize) max_commit (sim)));
  if (raft_node_read_index (n->node, ctx, NULL))
    sim_process (sim, n);
}

static void
chaos_membership (Sim *sim, RaftNodeId leader)
{
  RaftNode *node = sim_node (sim, leader);
  const RaftConfig *c = raft_node_config (node);
  RaftNodeId id = 1 + sim_random (sim) % SIM_MAX_NODES;
  gboolean member = raft_config_contains (c, id);
  GError *error = NULL;
  RaftConfigChangeType type = member ? RAFT_CONFIG_REMOVE : RAFT_CONFIG_ADD;

  if (member && c->n_nodes <= 1)
    return;
  if (!member)
    {
      /* Only once no pending change could still include it. */
      if (raft_node_commit_index (node) < raft_node_last_index (node))
        return;
      /* A removed node rejoins with its disk intact (one that lost its
       * disk must come back under a new id: stale packets from its old
       * self could otherwise vouch for entries it no longer has). */
      if (!sim->nodes[id].exists)
        sim_add_node (sim, id);
    }
  if (raft_node_propose_config_change (node, type, id, "", NULL, &error))
    sim_process (sim, &sim->nodes[leader]);
  else
    g_error_free (error);
}

static void
chaos_step (Sim *sim, guint64 seed)
{
  RaftNodeId leader = sim_leader (sim);
  RaftNodeId any = 1 + sim_random (sim) % SIM_MAX_NODES;
  guint r = sim_random (sim) % 1000;
  char cmd[64];

  if (leader && r < 300)
    {
      g_snprintf (cmd, sizeof cmd, "c%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, seed, sim->now);
      sim_propose (sim, leader, cmd);
    }
  else if (r < 330)
    {
      guint count = 1 + sim_random (sim) % SIM_MAX_NODES;
      RaftNodeId group[SIM_MAX_NODES];
      for (guint i = 0; i < count; i++)
        group[i] = 1 + sim_random (sim) % SIM_MAX_NODES;
      sim_heal (sim);
      sim_partition (sim, group, count);
    }
  else if (r < 360)
    sim_heal (sim);
  else if (r < 375 && sim->nodes[any].node)
    sim_crash (sim, any);
  else if (r < 420)
    sim_restart (sim, any);
  else if (r < 430 && leader)
    chaos_membership (sim, leader);
  else if (r < 440 && leader)
    {
      GError *error = NULL;
      if (raft_node_transfer_leadership (sim_node (sim, leader), any, &error))
        sim_process (sim, &sim->nodes[leader]);
      else
        g_clear_error (&error);
    }
  else if (r < 470)
    chaos_read (sim);
  else if (r < 480)
    sim_compact (sim, any);
  sim_tick (sim);
}

/* How long node id may take to commit or apply up to index once healed:
 * 30 election timeouts, plus a round trip per entry of backlog (a window
 * of 1 and batches of 1 are among the parameters). */
static guint
backlog_ticks (Sim *sim, RaftNodeId id, guint64 index)
{
  guint64 done = sim_node (sim, id) ? raft_node_commit_index (sim_node (sim, id)) : 0;
  guint64 backlog = index > done ? index - done : 0;
  return sim->opt.election_ticks * 30 + (guint) backlog * (2 * sim->opt.max_delay + 2);
}

static gboolean
heal_and_check_liveness (Sim *sim, guint64 seed)
{
  guint bound = sim->opt.election_ticks * 30;
  guint64 start = sim->now, index = 0, term = 0;
  RaftNodeId leader = 0;
  char cmd[64];

  /* The healed network is like TCP: no loss and, with a fixed delay,
   * no reordering (safety was checked under reordering before). */
  sim_heal (sim);
  sim->opt.drop = 0;
  sim->opt.crash_in_ready = 0;
  sim->opt.min_delay = sim->opt.max_delay;
  for (RaftNodeId id = 1; id <= SIM_MAX_NODES; id++)
    sim_restart (sim, id);
  g_snprintf (cmd, sizeof cmd, "final-%" G_GUINT64_FORMAT, seed);
  while (sim->now - start < bound && sim_ok (sim))
    {
      RaftNodeId l = sim_leader (sim);
      if (l && (l != leader || raft_node_term (sim_node (sim, l)) != term || !index))
        {
          leader = l;
          term = raft_node_term (sim_node (sim, l));
          index = sim_propose (sim, l, cmd);
          bound = MAX (bound, (guint) (sim->now - start) + backlog_ticks (sim, l, index));
        }
      if (index && sim_applied (sim, leader) >= index
          && g_array_index (sim->applied, Applied, index).term == term)
        break;
      sim_tick (sim);
    }
  if (!sim_ok (sim))
    return FALSE;
  if (!index || sim_applied (sim, leader) < index
      || g_array_index (sim->applied, Applied, index).term != term)
    {
      sim_fail (sim, "liveness: no proposal committed within %u ticks of healing "
                "(leader %" G_GUINT64_FORMAT ")", bound, sim_leader (sim));
      return FALSE;
    }
  /* Every member of the leader's configuration catches up too. */
  {
    const RaftConfig *c = raft_node_config (sim_node (sim, leader));
    RaftNodeId ids[SIM_MAX_NODES];
    guint count = MIN (c->n_nodes, SIM_MAX_NODES);
    memcpy (ids, c->ids, count * sizeof ids[0]);
    for (guint i = 0; i < count; i++)
      if (!sim_wait_applied (sim, ids[i], index,
                             backlog_ticks (sim, ids[i], index)))
        {
          sim_fail (sim, "liveness: node %" G_GUINT64_FORMAT " did not apply %" G_GUINT64_FORMAT
                    " (applied %" G_GUINT64_FORMAT ")", ids[i], index, sim_applied (sim, ids[i]));
          return FALSE;
        }
  }
  return sim_ok (sim);
}

/* MINKA_RAFT_CHAOS_TICKS lengthens the chaos phase for deeper runs. */
static guint
chaos_ticks (void)
{
  const char *s = g_getenv ("MINKA_RAFT_CHAOS_TICKS");
  guint64 v = s && *s ? g_ascii_strtoull (s, NULL, 10) : 0;
  return v > 0 && v < 1000000 ? (guint) v : 250;
}

static guint64
fingerprint_of (Sim *sim)
{
  guint64 f = mix (sim->now, sim->seq);
  for (guint i = 1; i <= SIM_MAX_NODES; i++)
    {
      SimNode *n = &sim->nodes[i];
      f = mix (f, n->applied);
      f = mix (f, n->digest);
      if (n->node)
        f = mix (f, raft_node_term (n->node));
    }
  return f;
}

gboolean
sim_random_run (guint64 seed, guint n_nodes, guint64 *fingerprint, char **error)
{
  SimOptions opt;
  Sim *sim;
  guint64 r;
  gboolean ok;
  static const double drops[] = { 0, 0.02, 0.1, 0.3 };
  static const guint compacts[] = { 0, 3, 10, 40 };

  sim_options_init (&opt, n_nodes, seed);
  r = mix (seed, 77);
  opt.drop = drops[r % 4];
  opt.duplicate = (r >> 8) % 2 ? 0.05 : 0;
  opt.min_delay = (r >> 12) % 2;
  opt.max_delay = opt.min_delay + (guint) ((r >> 16) % 4);
  opt.crash_in_ready = (r >> 20) % 3 == 0 ? 0.002 : (r >> 20) % 3 == 1 ? 0.01 : 0;
  opt.compact_every = compacts[(r >> 24) % 4];
  opt.max_inflight = 1 + (guint) ((r >> 28) % 8);
  opt.max_entries_per_msg = 1 + (guint) ((r >> 32) % 8);
  opt.encode = (r >> 36) % 4 == 0;
  /* Raft needs a round trip well inside an election timeout. */
  opt.election_ticks = 10 + (guint) ((r >> 40) % 8);
  opt.heartbeat_ticks = 1 + (guint) ((r >> 44) % 3);
  sim = sim_new (&opt);
  for (guint i = 0; i < chaos_ticks () && sim_ok (sim); i++)
    chaos_step (sim, seed);
  ok = sim_ok (sim) && heal_and_check_liveness (sim, seed);
  if (fingerprint)
    *fingerprint = fingerprint_of (sim);
  if (!ok && error)
    *error = g_strdup_printf ("%s [n=%u election=%u heartbeat=%u drop=%.2f dup=%.2f "
                              "delay=%u..%u crash=%.3f compact=%u window=%u batch=%u encode=%d]",
                              sim_error (sim), n_nodes, opt.election_ticks, opt.heartbeat_ticks,
                              opt.drop, opt.duplicate, opt.min_delay, opt.max_delay,
                              opt.crash_in_ready, opt.compact_every, opt.max_inflight,
                              opt.max_entries_per_msg, opt.encode);
  sim_free (sim);
  return ok;
}

/* ---- seeds from the environment --------------------------------------- */

guint64
sim_env_seed (gboolean *set)
{
  const char *s = g_getenv ("MINKA_RAFT_SEED");
  *set = s && *s;
  return *set ? g_ascii_strtoull (s, NULL, 10) : 0;
}

guint
sim_env_seed_count (guint fallback)
{
  const char *s = g_getenv ("MINKA_RAFT_SEEDS");
  guint64 v = s && *s ? g_ascii_strtoull (s, NULL, 10) : 0;
  return v > 0 && v < G_MAXUINT ? (guint) v : fallback;
}
