/* raft.c — the Raft consensus core: roles and elections (PreVote,
 * CheckQuorum), log replication with pipelining, commitment, snapshots,
 * single-server membership changes, leadership transfer and ReadIndex.
 * A pure state machine: ticks and messages in, a RaftReady batch out. */
#include "config.h"
#include "raft.h"
#include "raft-log.h"
#include "raft-progress.h"

#include <string.h>

typedef struct {
  guint64 context;
  guint64 index;                     /* commit index when the read arrived */
  guint64 seq;                       /* heartbeat round that must be acked */
  RaftNodeId from;                   /* self, or the follower that forwarded it */
} PendingRead;

typedef struct {
  RaftNodeId id;
  gboolean granted;
} Vote;

struct _RaftNode {
  RaftOptions opt;
  guint64 rng;
  RaftRole role;
  guint64 term;
  RaftNodeId vote;
  RaftNodeId leader;
  RaftLog log;
  RaftConfig config;                 /* latest config in the log (or snapshot) */
  guint64 config_index;              /* where it came from */
  RaftSnapshotMeta snap;             /* the latest snapshot we can serve */
  GArray *progress;                  /* RaftProgress per member (leader only) */
  GArray *votes;                     /* Vote, during (pre-)campaigns */
  guint election_elapsed;
  guint heartbeat_elapsed;
  guint randomized_timeout;
  guint64 term_start;                /* leader: index of its NOOP entry */
  RaftNodeId transferee;             /* leader: transfer in progress to */
  guint64 read_seq;
  GArray *pending_reads;             /* PendingRead, in seq order */
  /* Output. */
  RaftHardState prev_hs;
  GArray *msgs;                      /* RaftMessage */
  GArray *read_states;               /* RaftReadState */
  gboolean install_pending;
  RaftSnapshotMeta install;
  gboolean ready_out;
  RaftReady ready;
  guint64 ready_last;                /* log index persisted by the handed-out Ready */
  guint64 ready_applied;             /* commit index handed out to apply */
  gboolean append_pending;           /* leader: proposals not yet sent */
};

static void send_append_to_all (RaftNode *node);
static gboolean send_append (RaftNode *node, RaftProgress *pr, gboolean send_if_empty);

/* ---- small helpers ---------------------------------------------------- */

static guint64
rng_next (RaftNode *node)
{
  /* splitmix64: tiny, seedable, and good enough for timeouts. */
  guint64 z = (node->rng += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static void
reset_randomized_timeout (RaftNode *node)
{
  guint t = node->opt.election_ticks;
  node->randomized_timeout = t + (guint) (rng_next (node) % t);
}

static gboolean
is_voter (const RaftNode *node, RaftNodeId id)
{
  return raft_config_contains (&node->config, id);
}

/* May this node start elections? Members may; so may a node whose removal
 * is not committed yet: it may be the only one holding that entry, and the
 * remaining members need a leader that has it (it counts votes in the new
 * configuration and steps down once the removal commits). */
static gboolean
promotable (const RaftNode *node)
{
  return is_voter (node, node->opt.id) || node->config_index > node->log.committed;
}

static guint
quorum (const RaftNode *node)
{
  return node->config.n_nodes / 2 + 1;
}

static RaftProgress *
progress_get (RaftNode *node, RaftNodeId id)
{
  for (guint i = 0; i < node->progress->len; i++)
    {
      RaftProgress *pr = &g_array_index (node->progress, RaftProgress, i);
      if (pr->id == id)
        return pr;
    }
  return NULL;
}

static RaftMessage *
msg_new (RaftNode *node, RaftMessageType type, RaftNodeId to)
{
  RaftMessage m = { 0 };
  m.type = type;
  m.from = node->opt.id;
  m.to = to;
  m.term = node->term;
  g_array_append_val (node->msgs, m);
  return &g_array_index (node->msgs, RaftMessage, node->msgs->len - 1);
}

static void
message_array_clear (gpointer p)
{
  raft_message_clear (p);
}

/* ---- configuration ---------------------------------------------------- */

static void
progress_sync (RaftNode *node)
{
  guint64 last = raft_log_last_index (&node->log);
  for (guint i = node->progress->len; i-- > 0;)
    if (!is_voter (node, g_array_index (node->progress, RaftProgress, i).id))
      g_array_remove_index (node->progress, i);
  for (guint i = 0; i < node->config.n_nodes; i++)
    {
      RaftNodeId id = node->config.ids[i];
      RaftProgress pr;
      if (progress_get (node, id))
        continue;
      raft_progress_init (&pr, id, last + 1, node->opt.max_inflight);
      pr.recent_active = TRUE;       /* give a newcomer one timeout to answer */
      if (id == node->opt.id)
        pr.match = last;
      g_array_append_val (node->progress, pr);
    }
}

static void
config_set (RaftNode *node, const RaftConfig *config, guint64 index)
{
  RaftConfig copy = raft_config_copy (config);
  raft_config_clear (&node->config);
  node->config = copy;
  node->config_index = index;
  if (node->role == RAFT_ROLE_LEADER)
    progress_sync (node);
}

/* The configuration in force: the last CONFIG entry of the log, else the
 * snapshot's. Entries take effect when appended (dissertation §4.1). */
static void
config_recompute (RaftNode *node)
{
  guint64 first = raft_log_first_index (&node->log);
  for (guint64 i = raft_log_last_index (&node->log); i >= first && i > 0; i--)
    {
      const RaftEntry *e = raft_log_get (&node->log, i);
      RaftConfig c;
      if (e->type != RAFT_ENTRY_CONFIG)
        continue;
      if (raft_config_decode (e->data, &c, NULL))
        {
          config_set (node, &c, i);
          raft_config_clear (&c);
          return;
        }
      g_warning ("raft: ignoring malformed config entry at index %" G_GUINT64_FORMAT, i);
    }
  config_set (node, &node->snap.config, node->snap.index);
}

/* ---- role changes ----------------------------------------------------- */

static void
reset (RaftNode *node, guint64 term)
{
  if (term != node->term)
    {
      node->term = term;
      node->vote = RAFT_NO_NODE;
    }
  node->leader = RAFT_NO_NODE;
  node->election_elapsed = 0;
  node->heartbeat_elapsed = 0;
  reset_randomized_timeout (node);
  node->transferee = RAFT_NO_NODE;
  g_array_set_size (node->votes, 0);
  g_array_set_size (node->progress, 0);
  g_array_set_size (node->pending_reads, 0);
}

static void
become_follower (RaftNode *node, guint64 term, RaftNodeId leader)
{
  reset (node, term);
  node->role = RAFT_ROLE_FOLLOWER;
  node->leader = leader;
}

static void
become_leader (RaftNode *node)
{
  RaftEntry noop = { 0 };
  node->role = RAFT_ROLE_LEADER;
  reset (node, node->term);
  node->leader = node->opt.id;
  progress_sync (node);
  for (guint i = 0; i < node->progress->len; i++)
    {
      RaftProgress *pr = &g_array_index (node->progress, RaftProgress, i);
      pr->recent_active = pr->id == node->opt.id;
    }
  noop.term = node->term;
  noop.index = raft_log_last_index (&node->log) + 1;
  noop.type = RAFT_ENTRY_NOOP;
  raft_log_append (&node->log, &noop);
  node->term_start = noop.index;
  progress_sync (node);
  if (progress_get (node, node->opt.id))
    progress_get (node, node->opt.id)->match = noop.index;
}

/* ---- commitment ------------------------------------------------------- */

static int
cmp_desc (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? 1 : x > y ? -1 : 0;
}

static void
step_down_if_removed (RaftNode *node)
{
  if (node->role == RAFT_ROLE_LEADER && !is_voter (node, node->opt.id)
      && node->config_index <= node->log.committed)
    become_follower (node, node->term, RAFT_NO_NODE);
}

/* Commit the highest index a majority of voters match, if it is from the
 * current term (Raft §5.4.2, Figure 8). */
static gboolean
maybe_commit (RaftNode *node)
{
  guint n = node->config.n_nodes;
  guint64 matches[1024];
  guint64 mci;
  gboolean advanced = FALSE;

  if (n == 0 || n > G_N_ELEMENTS (matches))
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      RaftProgress *pr = progress_get (node, node->config.ids[i]);
      matches[i] = pr ? pr->match : 0;
    }
  qsort (matches, n, sizeof matches[0], cmp_desc);
  mci = matches[quorum (node) - 1];
  if (mci > node->log.committed && raft_log_term_or_zero (&node->log, mci) == node->term)
    advanced = raft_log_commit_to (&node->log, mci);
  return advanced;
}

/* ---- elections -------------------------------------------------------- */

static guint
count_votes (RaftNode *node, gboolean granted)
{
  guint n = 0;
  for (guint i = 0; i < node->votes->len; i++)
    {
      Vote *v = &g_array_index (node->votes, Vote, i);
      if (v->granted == granted && is_voter (node, v->id))
        n++;
    }
  return n;
}

static void
record_vote (RaftNode *node, RaftNodeId id, gboolean granted)
{
  Vote v = { id, granted };
  for (guint i = 0; i < node->votes->len; i++)
    if (g_array_index (node->votes, Vote, i).id == id)
      return;
  g_array_append_val (node->votes, v);
}

static void campaign (RaftNode *node, gboolean pre_vote, gboolean transfer);

static void
tally (RaftNode *node)
{
  if (count_votes (node, TRUE) >= quorum (node))
    {
      if (node->role == RAFT_ROLE_PRE_CANDIDATE)
        campaign (node, FALSE, FALSE);
      else
        {
          become_leader (node);
          maybe_commit (node);       /* a single-node cluster commits at once */
          send_append_to_all (node);
        }
    }
  else if (count_votes (node, FALSE) >= quorum (node))
    become_follower (node, node->term, RAFT_NO_NODE);
}

static void
campaign (RaftNode *node, gboolean pre_vote, gboolean transfer)
{
  guint64 vote_term;
  if (pre_vote)
    {
      reset (node, node->term);
      node->role = RAFT_ROLE_PRE_CANDIDATE;
      vote_term = node->term + 1;    /* term and vote stay unchanged */
    }
  else
    {
      reset (node, node->term + 1);
      node->role = RAFT_ROLE_CANDIDATE;
      node->vote = node->opt.id;
      vote_term = node->term;
    }
  record_vote (node, node->opt.id, TRUE);
  for (guint i = 0; i < node->config.n_nodes; i++)
    {
      RaftNodeId id = node->config.ids[i];
      RaftMessage *m;
      if (id == node->opt.id)
        continue;
      m = msg_new (node, pre_vote ? RAFT_MSG_PRE_VOTE : RAFT_MSG_VOTE, id);
      m->term = vote_term;
      m->index = raft_log_last_index (&node->log);
      m->log_term = raft_log_last_term (&node->log);
      m->transfer = transfer;
    }
  tally (node);
}

static void
handle_vote_request (RaftNode *node, const RaftMessage *m)
{
  gboolean pre = m->type == RAFT_MSG_PRE_VOTE;
  gboolean can_vote = node->vote == m->from
                      || (node->vote == RAFT_NO_NODE && node->leader == RAFT_NO_NODE)
                      || (pre && m->term > node->term);
  RaftMessage *r;
  if (can_vote && raft_log_is_up_to_date (&node->log, m->index, m->log_term))
    {
      r = msg_new (node, pre ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP, m->from);
      r->term = m->term;
      if (!pre)
        {
          node->election_elapsed = 0;
          node->vote = m->from;
        }
    }
  else
    {
      r = msg_new (node, pre ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP, m->from);
      r->reject = TRUE;
    }
}

/* ---- replication (leader side) ---------------------------------------- */

static gboolean
send_snapshot (RaftNode *node, RaftProgress *pr)
{
  RaftMessage *m;
  if (!pr->recent_active)
    return FALSE;
  m = msg_new (node, RAFT_MSG_SNAPSHOT, pr->id);
  m->snapshot.index = node->snap.index;
  m->snapshot.term = node->snap.term;
  m->snapshot.config = raft_config_copy (&node->snap.config);
  raft_progress_become_snapshot (pr, node->snap.index);
  return TRUE;
}

static gboolean
send_append (RaftNode *node, RaftProgress *pr, gboolean send_if_empty)
{
  guint64 prev, prev_term, last = raft_log_last_index (&node->log);
  GArray *ents;
  gsize bytes = 0;
  RaftMessage *m;

  if (pr->id == node->opt.id || raft_progress_is_paused (pr))
    return FALSE;
  prev = pr->next - 1;
  if (!raft_log_term (&node->log, prev, &prev_term))
    return send_snapshot (node, pr);
  if (pr->next > last && !send_if_empty)
    return FALSE;
  ents = g_array_new (FALSE, FALSE, sizeof (RaftEntry));
  for (guint64 i = pr->next; i <= last && ents->len < node->opt.max_entries_per_msg; i++)
    {
      RaftEntry e = raft_entry_copy (raft_log_get (&node->log, i));
      gsize size = e.data ? g_bytes_get_size (e.data) : 0;
      if (ents->len > 0 && bytes + size > node->opt.max_bytes_per_msg)
        {
          raft_entry_clear (&e);
          break;
        }
      bytes += size;
      g_array_append_val (ents, e);
    }
  m = msg_new (node, RAFT_MSG_APPEND, pr->id);
  m->index = prev;
  m->log_term = prev_term;
  m->commit = node->log.committed;
  m->n_entries = ents->len;
  m->entries = (RaftEntry *) g_array_free (ents, ents->len == 0);
  raft_progress_sent (pr, prev + m->n_entries, m->n_entries);
  return TRUE;
}

static void
send_append_to_all (RaftNode *node)
{
  for (guint i = 0; i < node->progress->len; i++)
    send_append (node, &g_array_index (node->progress, RaftProgress, i), TRUE);
}

static void
send_heartbeats (RaftNode *node)
{
  for (guint i = 0; i < node->progress->len; i++)
    {
      RaftProgress *pr = &g_array_index (node->progress, RaftProgress, i);
      RaftMessage *m;
      if (pr->id == node->opt.id)
        continue;
      m = msg_new (node, RAFT_MSG_HEARTBEAT, pr->id);
      m->commit = MIN (pr->match, node->log.committed);
      m->context = node->read_seq;
    }
}

static void
send_timeout_now (RaftNode *node, RaftNodeId to)
{
  msg_new (node, RAFT_MSG_TIMEOUT_NOW, to);
}

/* ---- ReadIndex -------------------------------------------------------- */

static void
read_release (RaftNode *node, const PendingRead *pr)
{
  if (pr->from == node->opt.id)
    {
      RaftReadState rs = { pr->context, pr->index };
      g_array_append_val (node->read_states, rs);
    }
  else
    {
      RaftMessage *m = msg_new (node, RAFT_MSG_READ_INDEX_RESP, pr->from);
      m->index = pr->index;
      m->context = pr->context;
    }
}

/* Releases the reads whose heartbeat round a majority acknowledged. */
static void
reads_advance (RaftNode *node)
{
  guint done = 0;
  while (done < node->pending_reads->len)
    {
      PendingRead *r = &g_array_index (node->pending_reads, PendingRead, done);
      guint acks = 0;
      for (guint i = 0; i < node->config.n_nodes; i++)
        {
          RaftNodeId id = node->config.ids[i];
          RaftProgress *pr = progress_get (node, id);
          if (id == node->opt.id || (pr && pr->read_ack >= r->seq))
            acks++;
        }
      if (acks < quorum (node))
        break;
      read_release (node, r);
      done++;
    }
  g_array_remove_range (node->pending_reads, 0, done);
}

static gboolean
leader_read (RaftNode *node, guint64 context, RaftNodeId from)
{
  PendingRead r = { context, node->log.committed, 0, from };
  /* Our commit index is only known to be current once we committed an
   * entry of our own term (Raft §8). */
  if (node->log.committed < node->term_start || node->transferee)
    return FALSE;
  r.seq = ++node->read_seq;
  g_array_append_val (node->pending_reads, r);
  reads_advance (node);              /* a one-member cluster answers at once */
  if (node->pending_reads->len > 0)
    send_heartbeats (node);
  return TRUE;
}

/* ---- stepping: leader ------------------------------------------------- */

static void
leader_on_append_resp (RaftNode *node, const RaftMessage *m)
{
  RaftProgress *pr = progress_get (node, m->from);
  if (!pr || m->index > raft_log_last_index (&node->log))
    return;                          /* unknown peer, or acks what we never sent */
  pr->recent_active = TRUE;
  if (m->reject)
    {
      guint64 hint = m->hint_index;
      if (m->hint_term > 0)
        hint = raft_log_find_conflict_by_term (&node->log, m->hint_index, m->hint_term);
      if (raft_progress_decrease (pr, m->index, hint + 1))
        {
          if (pr->state == RAFT_PROGRESS_REPLICATE)
            raft_progress_become_probe (pr);
          send_append (node, pr, TRUE);
        }
      return;
    }
  {
    gboolean was_paused = raft_progress_is_paused (pr);
    if (!raft_progress_update (pr, m->index))
      return;
    if (pr->state == RAFT_PROGRESS_PROBE)
      raft_progress_become_replicate (pr);
    else if (pr->state == RAFT_PROGRESS_SNAPSHOT && pr->match >= pr->pending_snapshot)
      raft_progress_become_probe (pr);
    else if (pr->state == RAFT_PROGRESS_REPLICATE)
      raft_progress_free_to (pr, m->index);
    if (maybe_commit (node))
      {
        step_down_if_removed (node);
        if (node->role != RAFT_ROLE_LEADER)
          return;
        send_append_to_all (node);
      }
    else if (was_paused)
      send_append (node, pr, FALSE);
    while (send_append (node, pr, FALSE))
      ;
    if (m->from == node->transferee && pr->match == raft_log_last_index (&node->log))
      send_timeout_now (node, m->from);
  }
}

static void
leader_step (RaftNode *node, const RaftMessage *m)
{
  RaftProgress *pr;
  switch (m->type)
    {
    case RAFT_MSG_APPEND_RESP:
      leader_on_append_resp (node, m);
      break;
    case RAFT_MSG_HEARTBEAT_RESP:
      pr = progress_get (node, m->from);
      if (!pr)
        break;
      pr->recent_active = TRUE;
      pr->probe_sent = FALSE;
      /* The follower holds less than it once acknowledged: its disk was
       * wiped or replaced. Forget the old match and probe from its end.
       * (A stale, reordered response only causes one extra probe.) */
      if (m->index < pr->match)
        {
          pr->match = m->index;
          raft_progress_become_probe (pr);   /* a snapshot if it is behind our log */
        }
      /* Acks may have been lost: let one more append out so the follower
       * either acknowledges past the window or rejects the gap. */
      if (pr->state == RAFT_PROGRESS_REPLICATE && raft_progress_window_full (pr))
        raft_progress_free_first (pr);
      if (m->context > pr->read_ack)
        pr->read_ack = MIN (m->context, node->read_seq);
      /* Behind: send (even an empty append) so lost appends get noticed. */
      if (pr->match < raft_log_last_index (&node->log))
        send_append (node, pr, TRUE);
      reads_advance (node);
      break;
    case RAFT_MSG_READ_INDEX:
      leader_read (node, m->context, m->from);   /* dropped if not ready */
      break;
    default:
      break;
    }
}

/* ---- stepping: follower ----------------------------------------------- */

static void
reply_append (RaftNode *node, RaftNodeId to, guint64 index)
{
  RaftMessage *r = msg_new (node, RAFT_MSG_APPEND_RESP, to);
  r->index = index;
}

static void
follower_on_append (RaftNode *node, const RaftMessage *m)
{
  RaftLog *log = &node->log;
  if (m->index < log->committed)
    {
      reply_append (node, m->from, log->committed);
      return;
    }
  if (raft_log_matches (log, m->index, m->log_term))
    {
      guint64 last_new = m->index + m->n_entries;
      guint64 changed = raft_log_merge (log, m->entries, m->n_entries);
      if (changed)
        {
          gboolean config_touched = changed <= node->config_index;
          for (guint i = 0; i < m->n_entries && !config_touched; i++)
            config_touched = m->entries[i].index >= changed
                             && m->entries[i].type == RAFT_ENTRY_CONFIG;
          if (config_touched)
            config_recompute (node);
        }
      raft_log_commit_to (log, MIN (m->commit, last_new));
      reply_append (node, m->from, last_new);
    }
  else
    {
      guint64 hint = raft_log_find_conflict_by_term (log, MIN (m->index, raft_log_last_index (log)),
                                                     m->log_term);
      RaftMessage *r = msg_new (node, RAFT_MSG_APPEND_RESP, m->from);
      r->reject = TRUE;
      r->index = m->index;
      r->hint_index = hint;
      r->hint_term = raft_log_term_or_zero (log, hint);
    }
}

static void
follower_on_snapshot (RaftNode *node, const RaftMessage *m)
{
  const RaftSnapshotMeta *s = &m->snapshot;
  if (s->index <= node->log.committed)
    {
      reply_append (node, m->from, node->log.committed);
      return;
    }
  if (raft_log_matches (&node->log, s->index, s->term))
    {
      /* We already hold that prefix: just learn it is committed. */
      raft_log_commit_to (&node->log, s->index);
      reply_append (node, m->from, node->log.committed);
      return;
    }
  raft_log_restore (&node->log, s->index, s->term);
  raft_snapshot_meta_clear (&node->snap);
  node->snap.index = s->index;
  node->snap.term = s->term;
  node->snap.config = raft_config_copy (&s->config);
  config_set (node, &s->config, s->index);
  raft_snapshot_meta_clear (&node->install);
  node->install.index = s->index;
  node->install.term = s->term;
  node->install.config = raft_config_copy (&s->config);
  node->install_pending = TRUE;
  reply_append (node, m->from, s->index);
}

static void
follower_step (RaftNode *node, const RaftMessage *m)
{
  RaftMessage *r;
  switch (m->type)
    {
    case RAFT_MSG_APPEND:
      node->election_elapsed = 0;
      node->leader = m->from;
      follower_on_append (node, m);
      break;
    case RAFT_MSG_HEARTBEAT:
      node->election_elapsed = 0;
      node->leader = m->from;
      raft_log_commit_to (&node->log, m->commit);
      r = msg_new (node, RAFT_MSG_HEARTBEAT_RESP, m->from);
      r->context = m->context;
      r->index = raft_log_last_index (&node->log);   /* lets a leader see a wiped log */
      break;
    case RAFT_MSG_SNAPSHOT:
      node->election_elapsed = 0;
      node->leader = m->from;
      follower_on_snapshot (node, m);
      break;
    case RAFT_MSG_TIMEOUT_NOW:
      if (promotable (node))
        campaign (node, FALSE, TRUE);
      break;
    case RAFT_MSG_READ_INDEX:
      if (node->leader != RAFT_NO_NODE)
        {
          r = msg_new (node, RAFT_MSG_READ_INDEX, node->leader);
          r->context = m->context;
        }
      break;
    case RAFT_MSG_READ_INDEX_RESP:
      {
        RaftReadState rs = { m->context, m->index };
        g_array_append_val (node->read_states, rs);
      }
      break;
    default:
      break;
    }
}

static void
candidate_step (RaftNode *node, const RaftMessage *m)
{
  RaftMessageType want = node->role == RAFT_ROLE_PRE_CANDIDATE
                         ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP;
  switch (m->type)
    {
    case RAFT_MSG_APPEND:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
      /* A leader of our term (or the next, for a pre-candidate) exists. */
      become_follower (node, m->term, m->from);
      follower_step (node, m);
      break;
    case RAFT_MSG_PRE_VOTE_RESP:
    case RAFT_MSG_VOTE_RESP:
      if (m->type != want)
        break;
      if (m->type == RAFT_MSG_PRE_VOTE_RESP && !m->reject && m->term != node->term + 1)
        break;
      record_vote (node, m->from, !m->reject);
      tally (node);
      break;
    default:
      break;
    }
}

/* ---- step: the term rules (Raft §5.1, PreVote and CheckQuorum) --------- */

static gboolean
in_lease (const RaftNode *node)
{
  return node->leader != RAFT_NO_NODE && node->election_elapsed < node->opt.election_ticks;
}

/* FALSE when the message is to be ignored after the term checks. */
static gboolean
step_term (RaftNode *node, const RaftMessage *m)
{
  gboolean vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE;
  if (m->term > node->term)
    {
      if (vote_req && !m->transfer && in_lease (node))
        return FALSE;                /* a live leader exists: do not disrupt */
      if (m->type == RAFT_MSG_PRE_VOTE
          || (m->type == RAFT_MSG_PRE_VOTE_RESP && !m->reject))
        return TRUE;
      if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT
          || m->type == RAFT_MSG_SNAPSHOT)
        become_follower (node, m->term, m->from);
      else
        become_follower (node, m->term, RAFT_NO_NODE);
      return TRUE;
    }
  if (m->term < node->term)
    {
      if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT)
        msg_new (node, RAFT_MSG_APPEND_RESP, m->from);   /* tells a stale leader */
      else if (m->type == RAFT_MSG_PRE_VOTE)
        msg_new (node, RAFT_MSG_PRE_VOTE_RESP, m->from)->reject = TRUE;
      return FALSE;
    }
  return TRUE;
}

static gboolean
message_valid (const RaftNode *node, const RaftMessage *m, GError **error)
{
  if (m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_TYPE_MAX)
    goto bad;
  if (m->from == RAFT_NO_NODE || m->from == node->opt.id || m->to != node->opt.id)
    goto bad;
  if (m->n_entries > 0 && (m->type != RAFT_MSG_APPEND || !m->entries))
    goto bad;
  for (guint i = 0; i < m->n_entries; i++)
    if (m->entries[i].index != m->index + 1 + i || m->entries[i].term > m->term)
      goto bad;
  if (m->type == RAFT_MSG_SNAPSHOT && m->snapshot.index == 0)
    goto bad;
  /* Only a leader or candidate (term >= 1) sends these. */
  if (m->term == 0 && (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT
                       || m->type == RAFT_MSG_SNAPSHOT || m->type == RAFT_MSG_TIMEOUT_NOW
                       || m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE))
    goto bad;
  return TRUE;
bad:
  g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
               "invalid Raft %s message from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
               raft_message_type_name (m->type), m->from, m->to);
  return FALSE;
}

static gboolean
check_not_in_ready (const RaftNode *node, GError **error)
{
  if (!node->ready_out)
    return TRUE;
  g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
               "Raft node called between raft_node_ready() and raft_node_advance()");
  return FALSE;
}

gboolean
raft_node_step (RaftNode *node, const RaftMessage *m, GError **error)
{
  if (!check_not_in_ready (node, error) || !message_valid (node, m, error))
    return FALSE;
  if (!step_term (node, m))
    return TRUE;
  if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE)
    {
      handle_vote_request (node, m);
      return TRUE;
    }
  switch (node->role)
    {
    case RAFT_ROLE_LEADER:
      leader_step (node, m);
      break;
    case RAFT_ROLE_CANDIDATE:
    case RAFT_ROLE_PRE_CANDIDATE:
      candidate_step (node, m);
      break;
    case RAFT_ROLE_FOLLOWER:
    default:
      follower_step (node, m);
      break;
    }
  return TRUE;
}

/* ---- ticks ------------------------------------------------------------ */

static gboolean
check_quorum_active (RaftNode *node)
{
  guint active = 0;
  for (guint i = 0; i < node->config.n_nodes; i++)
    {
      RaftNodeId id = node->config.ids[i];
      RaftProgress *pr = progress_get (node, id);
      if (id == node->opt.id || (pr && pr->recent_active))
        active++;
    }
  for (guint i = 0; i < node->progress->len; i++)
    {
      RaftProgress *pr = &g_array_index (node->progress, RaftProgress, i);
      pr->recent_active = pr->id == node->opt.id;
    }
  return active >= quorum (node);
}

static void
tick_leader (RaftNode *node)
{
  node->heartbeat_elapsed++;
  node->election_elapsed++;
  if (node->election_elapsed >= node->opt.election_ticks)
    {
      node->election_elapsed = 0;
      node->transferee = RAFT_NO_NODE;          /* a transfer that stalled */
      if (!check_quorum_active (node))
        {
          become_follower (node, node->term, RAFT_NO_NODE);
          return;
        }
    }
  if (node->heartbeat_elapsed >= node->opt.heartbeat_ticks)
    {
      node->heartbeat_elapsed = 0;
      send_heartbeats (node);
    }
}

void
raft_node_tick (RaftNode *node)
{
  g_return_if_fail (!node->ready_out);
  if (node->role == RAFT_ROLE_LEADER)
    {
      tick_leader (node);
      return;
    }
  if (node->election_elapsed < G_MAXUINT)
    node->election_elapsed++;
  /* A node outside the configuration never campaigns; its lease on the
   * last leader it heard from simply runs out. */
  if (promotable (node) && node->election_elapsed >= node->randomized_timeout)
    {
      node->election_elapsed = 0;
      campaign (node, TRUE, FALSE);
    }
}

void
raft_node_campaign (RaftNode *node)
{
  g_return_if_fail (!node->ready_out);
  if (node->role != RAFT_ROLE_LEADER && promotable (node))
    campaign (node, TRUE, FALSE);
}

/* ---- proposals -------------------------------------------------------- */

static gboolean
check_leader (RaftNode *node, GError **error)
{
  if (!check_not_in_ready (node, error))
    return FALSE;
  if (node->role != RAFT_ROLE_LEADER)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "not the Raft leader (leader is %" G_GUINT64_FORMAT ")", node->leader);
      return FALSE;
    }
  if (node->transferee)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "leadership transfer to %" G_GUINT64_FORMAT " in progress", node->transferee);
      return FALSE;
    }
  return TRUE;
}

static guint64
leader_append (RaftNode *node, RaftEntryType type, GBytes *data)
{
  RaftEntry e = { 0 };
  RaftProgress *self;
  e.term = node->term;
  e.index = raft_log_last_index (&node->log) + 1;
  e.type = type;
  e.data = data;
  raft_log_append (&node->log, &e);
  self = progress_get (node, node->opt.id);
  if (self)
    self->match = e.index;
  return e.index;
}

gboolean
raft_node_propose (RaftNode *node, GBytes *data, guint64 *index_out, GError **error)
{
  guint64 index;
  if (!check_leader (node, error))
    return FALSE;
  index = leader_append (node, RAFT_ENTRY_NORMAL, data);
  if (index_out)
    *index_out = index;
  maybe_commit (node);
  /* Sent when the Ready is built: proposals made in a row share appends. */
  node->append_pending = TRUE;
  return TRUE;
}

static gboolean
config_change_build (const RaftNode *node, RaftConfigChangeType type, RaftNodeId id,
                     const char *address, RaftConfig *out, GError **error)
{
  const RaftConfig *c = &node->config;
  gboolean present = raft_config_contains (c, id);
  guint n = 0;
  if (id == RAFT_NO_NODE || (type == RAFT_CONFIG_ADD) == present
      || (type == RAFT_CONFIG_REMOVE && c->n_nodes <= 1) || c->n_nodes >= 1024)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "cannot %s node %" G_GUINT64_FORMAT " in a cluster of %u",
                   type == RAFT_CONFIG_ADD ? "add" : "remove", id, c->n_nodes);
      return FALSE;
    }
  out->ids = g_new0 (RaftNodeId, c->n_nodes + 1);
  out->addresses = g_new0 (char *, c->n_nodes + 2);
  for (guint i = 0; i < c->n_nodes; i++)
    {
      if (c->ids[i] == id)
        continue;
      out->ids[n] = c->ids[i];
      out->addresses[n++] = g_strdup (c->addresses[i] ? c->addresses[i] : "");
    }
  if (type == RAFT_CONFIG_ADD)
    {
      out->ids[n] = id;
      out->addresses[n++] = g_strdup (address ? address : "");
    }
  out->n_nodes = n;
  return TRUE;
}

gboolean
raft_node_propose_config_change (RaftNode *node, RaftConfigChangeType type, RaftNodeId id,
                                 const char *address, guint64 *index_out, GError **error)
{
  RaftConfig next = { 0 };
  GBytes *data;
  guint64 index;
  if (!check_leader (node, error))
    return FALSE;
  if (node->log.committed < node->term_start || node->config_index > node->log.committed)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "a membership change is pending (or this leader has not committed yet)");
      return FALSE;
    }
  if (!config_change_build (node, type, id, address, &next, error))
    return FALSE;
  data = raft_config_encode (&next);
  index = leader_append (node, RAFT_ENTRY_CONFIG, data);
  g_bytes_unref (data);
  config_set (node, &next, index);
  raft_config_clear (&next);
  if (progress_get (node, node->opt.id))
    progress_get (node, node->opt.id)->match = index;
  if (index_out)
    *index_out = index;
  if (maybe_commit (node))
    step_down_if_removed (node);
  if (node->role == RAFT_ROLE_LEADER)
    send_append_to_all (node);
  return TRUE;
}

gboolean
raft_node_read_index (RaftNode *node, guint64 context, GError **error)
{
  if (!check_not_in_ready (node, error))
    return FALSE;
  if (node->role == RAFT_ROLE_LEADER)
    {
      if (leader_read (node, context, node->opt.id))
        return TRUE;
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "the Raft leader has not committed an entry of its term yet");
      return FALSE;
    }
  if (node->leader == RAFT_NO_NODE)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID, "no Raft leader known");
      return FALSE;
    }
  msg_new (node, RAFT_MSG_READ_INDEX, node->leader)->context = context;
  return TRUE;
}

gboolean
raft_node_transfer_leadership (RaftNode *node, RaftNodeId target, GError **error)
{
  RaftProgress *pr;
  if (!check_leader (node, error))
    return FALSE;
  if (target == node->opt.id)
    return TRUE;
  pr = progress_get (node, target);
  if (!pr || !is_voter (node, target))
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "node %" G_GUINT64_FORMAT " is not a voter", target);
      return FALSE;
    }
  node->transferee = target;
  node->election_elapsed = 0;        /* the transfer must finish within a timeout */
  if (pr->match == raft_log_last_index (&node->log))
    send_timeout_now (node, target);
  else
    send_append (node, pr, TRUE);
  return TRUE;
}

/* ---- snapshots -------------------------------------------------------- */

gboolean
raft_node_compact (RaftNode *node, guint64 index, GError **error)
{
  RaftConfig config;
  guint64 term;
  if (!check_not_in_ready (node, error))
    return FALSE;
  if (index > node->log.applied || !raft_log_term (&node->log, index, &term))
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "cannot compact to %" G_GUINT64_FORMAT " (applied %" G_GUINT64_FORMAT
                   ", snapshot %" G_GUINT64_FORMAT ")", index, node->log.applied, node->snap.index);
      return FALSE;
    }
  if (index == node->snap.index)
    return TRUE;
  config = raft_config_copy (&node->snap.config);
  for (guint64 i = node->snap.index + 1; i <= index; i++)
    {
      const RaftEntry *e = raft_log_get (&node->log, i);
      RaftConfig c;
      if (e->type == RAFT_ENTRY_CONFIG && raft_config_decode (e->data, &c, NULL))
        {
          raft_config_clear (&config);
          config = c;
        }
    }
  raft_config_clear (&node->snap.config);
  node->snap.config = config;
  node->snap.index = index;
  node->snap.term = term;
  raft_log_compact (&node->log, index, term);
  return TRUE;
}

void
raft_node_report_snapshot (RaftNode *node, RaftNodeId peer, gboolean success)
{
  RaftProgress *pr;
  g_return_if_fail (!node->ready_out);
  if (node->role != RAFT_ROLE_LEADER || !(pr = progress_get (node, peer))
      || pr->state != RAFT_PROGRESS_SNAPSHOT)
    return;
  if (!success)
    pr->pending_snapshot = 0;
  raft_progress_become_probe (pr);
  pr->probe_sent = TRUE;             /* resume on the next heartbeat answer */
}

void
raft_node_report_unreachable (RaftNode *node, RaftNodeId peer)
{
  RaftProgress *pr;
  g_return_if_fail (!node->ready_out);
  if (node->role == RAFT_ROLE_LEADER && (pr = progress_get (node, peer))
      && pr->state == RAFT_PROGRESS_REPLICATE)
    raft_progress_become_probe (pr);
}

/* ---- Ready ------------------------------------------------------------ */

static RaftHardState
hard_state (const RaftNode *node)
{
  RaftHardState hs = { node->term, node->vote, node->log.committed };
  return hs;
}

static gboolean
hard_state_equal (const RaftHardState *a, const RaftHardState *b)
{
  return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

static void
flush_appends (RaftNode *node)
{
  if (node->append_pending && node->role == RAFT_ROLE_LEADER)
    send_append_to_all (node);
  node->append_pending = FALSE;
}

gboolean
raft_node_has_ready (RaftNode *node)
{
  RaftHardState hs;
  if (node->ready_out)
    return FALSE;
  flush_appends (node);
  hs = hard_state (node);
  return !hard_state_equal (&hs, &node->prev_hs) || node->install_pending
         || node->log.unstable <= raft_log_last_index (&node->log)
         || node->msgs->len > 0 || node->log.committed > node->log.applied
         || node->read_states->len > 0;
}

const RaftReady *
raft_node_ready (RaftNode *node)
{
  RaftReady *r = &node->ready;
  RaftLog *log = &node->log;
  guint64 last = raft_log_last_index (log);

  g_return_val_if_fail (!node->ready_out, NULL);
  flush_appends (node);
  memset (r, 0, sizeof *r);
  r->role = node->role;
  r->leader = node->leader;
  r->hard_state = hard_state (node);
  r->has_hard_state = !hard_state_equal (&r->hard_state, &node->prev_hs);
  r->snapshot = node->install_pending ? &node->install : NULL;
  if (log->unstable <= last)
    {
      r->entries = (RaftEntry *) raft_log_get (log, log->unstable);
      r->n_entries = (guint) (last - log->unstable + 1);
    }
  r->messages = (RaftMessage *) node->msgs->data;
  r->n_messages = node->msgs->len;
  if (log->committed > log->applied)
    {
      r->committed = (RaftEntry *) raft_log_get (log, log->applied + 1);
      r->n_committed = (guint) (log->committed - log->applied);
    }
  r->read_states = (RaftReadState *) node->read_states->data;
  r->n_read_states = node->read_states->len;
  node->ready_last = last;
  node->ready_applied = log->committed;
  node->ready_out = TRUE;
  return r;
}

void
raft_node_advance (RaftNode *node)
{
  g_return_if_fail (node->ready_out);
  node->ready_out = FALSE;
  if (node->ready.has_hard_state)
    node->prev_hs = node->ready.hard_state;
  node->log.unstable = node->ready_last + 1;
  node->log.applied = node->ready_applied;
  g_array_set_size (node->msgs, 0);
  g_array_set_size (node->read_states, 0);
  if (node->install_pending)
    {
      node->install_pending = FALSE;
      raft_snapshot_meta_clear (&node->install);
    }
  memset (&node->ready, 0, sizeof node->ready);
}

/* ---- construction ----------------------------------------------------- */

void
raft_options_init (RaftOptions *options, RaftNodeId id)
{
  memset (options, 0, sizeof *options);
  options->id = id;
  options->election_ticks = 10;
  options->heartbeat_ticks = 1;
  options->seed = id;
  options->max_entries_per_msg = 64;
  options->max_bytes_per_msg = 1024 * 1024;
  options->max_inflight = 16;
}

static gboolean
options_valid (const RaftOptions *o, GError **error)
{
  if (o->id == RAFT_NO_NODE || o->election_ticks < 2 || o->heartbeat_ticks < 1
      || o->heartbeat_ticks >= o->election_ticks || o->max_entries_per_msg < 1
      || o->max_inflight < 1)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "invalid Raft options (id %" G_GUINT64_FORMAT ", election %u, heartbeat %u)",
                   o->id, o->election_ticks, o->heartbeat_ticks);
      return FALSE;
    }
  return TRUE;
}

static gboolean
restore_log (RaftNode *node, const RaftEntry *entries, guint n, GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      if (entries[i].index != raft_log_last_index (&node->log) + 1
          || entries[i].term < raft_log_last_term (&node->log))
        {
          g_set_error (error, RAFT_ERROR, RAFT_ERROR_CORRUPT,
                       "Raft log entry %u has index %" G_GUINT64_FORMAT " term %" G_GUINT64_FORMAT
                       " (expected index %" G_GUINT64_FORMAT ")", i, entries[i].index,
                       entries[i].term, raft_log_last_index (&node->log) + 1);
          return FALSE;
        }
      raft_log_append (&node->log, &entries[i]);
    }
  return TRUE;
}

RaftNode *
raft_node_new (const RaftOptions *options, const RaftHardState *hs,
               const RaftSnapshotMeta *snapshot, const RaftEntry *entries,
               guint n_entries, GError **error)
{
  RaftNode *node;
  if (!options_valid (options, error))
    return NULL;
  node = g_new0 (RaftNode, 1);
  node->opt = *options;
  if (node->opt.max_bytes_per_msg == 0)
    node->opt.max_bytes_per_msg = 1024 * 1024;
  node->rng = options->seed ^ (options->id * G_GUINT64_CONSTANT (0x2545F4914F6CDD1D));
  node->progress = g_array_new (FALSE, TRUE, sizeof (RaftProgress));
  node->votes = g_array_new (FALSE, TRUE, sizeof (Vote));
  node->pending_reads = g_array_new (FALSE, TRUE, sizeof (PendingRead));
  node->msgs = g_array_new (FALSE, TRUE, sizeof (RaftMessage));
  g_array_set_clear_func (node->msgs, message_array_clear);
  node->read_states = g_array_new (FALSE, TRUE, sizeof (RaftReadState));
  if (snapshot)
    {
      node->snap.index = snapshot->index;
      node->snap.term = snapshot->term;
      node->snap.config = raft_config_copy (&snapshot->config);
    }
  raft_log_init (&node->log, node->snap.index, node->snap.term);
  if (!restore_log (node, entries, n_entries, error))
    {
      raft_node_free (node);
      return NULL;
    }
  node->log.unstable = raft_log_last_index (&node->log) + 1;
  if (hs)
    {
      node->term = hs->term;
      node->vote = hs->vote;
      node->log.committed = CLAMP (hs->commit, node->snap.index,
                                   raft_log_last_index (&node->log));
    }
  if (raft_log_last_term (&node->log) > node->term)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_CORRUPT,
                   "Raft log term %" G_GUINT64_FORMAT " is ahead of the stored term %"
                   G_GUINT64_FORMAT, raft_log_last_term (&node->log), node->term);
      raft_node_free (node);
      return NULL;
    }
  node->prev_hs = hard_state (node);
  config_recompute (node);
  become_follower (node, node->term, RAFT_NO_NODE);
  return node;
}

void
raft_node_free (RaftNode *node)
{
  if (!node)
    return;
  raft_log_clear (&node->log);
  raft_config_clear (&node->config);
  raft_snapshot_meta_clear (&node->snap);
  raft_snapshot_meta_clear (&node->install);
  g_array_unref (node->progress);
  g_array_unref (node->votes);
  g_array_unref (node->pending_reads);
  g_array_unref (node->msgs);
  g_array_unref (node->read_states);
  g_free (node);
}

/* ---- inspection ------------------------------------------------------- */

RaftNodeId raft_node_id (const RaftNode *node) { return node->opt.id; }
RaftRole raft_node_role (const RaftNode *node) { return node->role; }
RaftNodeId raft_node_leader (const RaftNode *node) { return node->leader; }
guint64 raft_node_term (const RaftNode *node) { return node->term; }
guint64 raft_node_commit_index (const RaftNode *node) { return node->log.committed; }
guint64 raft_node_applied_index (const RaftNode *node) { return node->log.applied; }
guint64 raft_node_last_index (const RaftNode *node) { return raft_log_last_index (&node->log); }
guint64 raft_node_snapshot_index (const RaftNode *node) { return node->snap.index; }
const RaftConfig *raft_node_config (const RaftNode *node) { return &node->config; }
const RaftSnapshotMeta *raft_node_snapshot_meta (const RaftNode *node) { return &node->snap; }

guint64
raft_node_log_term (const RaftNode *node, guint64 index)
{
  return raft_log_term_or_zero (&node->log, index);
}

const RaftEntry *
raft_node_log_entry (const RaftNode *node, guint64 index)
{
  return raft_log_get (&node->log, index);
}

guint64
raft_node_peer_match (const RaftNode *node, RaftNodeId peer)
{
  RaftProgress *pr;
  if (node->role != RAFT_ROLE_LEADER)
    return 0;
  pr = progress_get ((RaftNode *) node, peer);
  return pr ? pr->match : 0;
}

gboolean
raft_node_peer_info (const RaftNode *node, RaftNodeId peer, guint64 *match,
                     guint64 *next, const char **state)
{
  RaftProgress *pr;
  if (node->role != RAFT_ROLE_LEADER || !(pr = progress_get ((RaftNode *) node, peer)))
    return FALSE;
  *match = pr->match;
  *next = pr->next;
  *state = raft_progress_state_name (pr->state);
  if (pr->state == RAFT_PROGRESS_PROBE && pr->probe_sent)
    *state = "probe-paused";
  else if (pr->state == RAFT_PROGRESS_REPLICATE && raft_progress_window_full (pr))
    *state = "replicate-full";
  return TRUE;
}

const char *
raft_role_name (RaftRole role)
{
  switch (role)
    {
    case RAFT_ROLE_FOLLOWER: return "follower";
    case RAFT_ROLE_PRE_CANDIDATE: return "pre-candidate";
    case RAFT_ROLE_CANDIDATE: return "candidate";
    case RAFT_ROLE_LEADER: return "leader";
    default: return "?";
    }
}
