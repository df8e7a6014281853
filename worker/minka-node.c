/* minka-node.c — the worker's Raft driver: ticks, steps and the Ready
 * loop (persist on the writer thread → send → apply → advance). */
#include "config.h"
#include "minka-node.h"
#include "raft-writer.h"

#include <string.h>

typedef enum {
  QUEUED_STEP,
  QUEUED_PROPOSE,
  QUEUED_CONFIG,
  QUEUED_TRANSFER,
  QUEUED_REPORT_SNAPSHOT,
  QUEUED_UNREACHABLE,
  QUEUED_COMPACT,
} QueuedKind;

/* Work that arrived while a Ready was out (the core accepts nothing then). */
typedef struct {
  QueuedKind kind;
  RaftMessage msg;                 /* STEP */
  GBytes *data;                    /* PROPOSE */
  RaftConfigChangeType change;     /* CONFIG */
  RaftNodeId peer;                 /* CONFIG, TRANSFER, REPORT_SNAPSHOT, UNREACHABLE */
  char *address;                   /* CONFIG */
  gboolean success;                /* REPORT_SNAPSHOT */
  RaftSnapshotMeta meta;           /* COMPACT */
  MinkaProposalDone done;
  gpointer done_data;
} Queued;

typedef struct {
  guint64 term;
  gint64 start_us;
  MinkaProposalDone done;
  gpointer done_data;
} Waiter;

struct _MinkaNode
{
  RaftNode *raft;
  RaftWriter *writer;
  MinkaNodeOptions options;
  MinkaNodeCallbacks cb;
  gpointer user_data;
  char *dir;
  guint tick_source;
  const RaftReady *ready;          /* the Ready being handled, or NULL */
  gboolean busy;                   /* a Ready is out, waiting for the disk */
  gboolean sent_early;             /* its appends already went out */
  guint64 wait_seq;                /* writer op that ends the current Ready */
  gint64 ready_start_us;
  guint64 submitted_last;          /* last log index handed to the writer */
  RaftHardState saved;             /* last hard state handed to the writer */
  RaftHardState latest;            /* newest hard state from the core */
  guint commit_source;             /* saves a newer commit index once a second */
  guint pending_ticks;
  GQueue queue;                    /* Queued* */
  GHashTable *waiters;             /* guint64 index → Waiter* */
  RaftRole role;
  RaftNodeId leader;
  GBytes *config_seen;             /* encoded config last reported */
  guint64 proposals;
  gboolean stopped;
};

static void node_process (MinkaNode *node);

static void
queued_free (Queued *q)
{
  raft_message_clear (&q->msg);
  g_clear_pointer (&q->data, g_bytes_unref);
  g_free (q->address);
  raft_snapshot_meta_clear (&q->meta);
  g_free (q);
}

static void
fail_done (MinkaProposalDone done, gpointer data, GError *error)
{
  if (done)
    done (data, error, NULL);
}

/* ---- waiters ---------------------------------------------------------------- */

static void
waiter_add (MinkaNode *node, guint64 index, MinkaProposalDone done, gpointer data)
{
  if (!done)
    return;
  Waiter *w = g_new0 (Waiter, 1);
  w->term = raft_node_term (node->raft);
  w->start_us = g_get_monotonic_time ();
  w->done = done;
  w->done_data = data;
  /* An older proposal at this index was overwritten by another leader's
   * log and never committed: tell its owner before forgetting it. */
  guint64 lookup = index;
  Waiter *old = g_hash_table_lookup (node->waiters, &lookup);
  if (old)
    {
      g_hash_table_remove (node->waiters, &lookup);
      GError *error = g_error_new_literal (RAFT_ERROR, RAFT_ERROR_INVALID,
                                           "leadership changed before the request committed");
      old->done (old->done_data, error, NULL);
      g_error_free (error);
      g_free (old);
    }
  guint64 *key = g_new (guint64, 1);
  *key = index;
  g_hash_table_insert (node->waiters, key, w);
}

/* Resolves the waiter of @entry's index, if any: success only if the entry
 * committed there is the one that was proposed (same term). */
static void
waiter_resolve (MinkaNode *node, const RaftEntry *entry, gpointer result)
{
  guint64 key = entry->index;
  Waiter *w = g_hash_table_lookup (node->waiters, &key);
  if (!w)
    return;
  g_hash_table_remove (node->waiters, &key);   /* frees the key, not the waiter */
  if (node->cb.proposal_done)
    node->cb.proposal_done (node->user_data, (g_get_monotonic_time () - w->start_us) / 1e6);
  if (w->term == entry->term)
    w->done (w->done_data, NULL, result);
  else
    {
      GError *error = g_error_new_literal (RAFT_ERROR, RAFT_ERROR_INVALID,
                                           "leadership changed before the request committed");
      w->done (w->done_data, error, NULL);
      g_error_free (error);
    }
  g_free (w);
}

static void
waiters_fail_all (MinkaNode *node, const char *why)
{
  GHashTableIter iter;
  gpointer value;
  GError *error = g_error_new_literal (RAFT_ERROR, RAFT_ERROR_INVALID, why);
  g_hash_table_iter_init (&iter, node->waiters);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Waiter *w = value;
      g_hash_table_iter_remove (&iter);
      w->done (w->done_data, error, NULL);
      g_free (w);
    }
  g_error_free (error);
}

/* ---- handing work to the core --------------------------------------------------- */

static void
execute (MinkaNode *node, Queued *q)
{
  GError *error = NULL;
  guint64 index = 0;

  switch (q->kind)
    {
    case QUEUED_STEP:
      if (!raft_node_step (node->raft, &q->msg, &error))
        {
          g_debug ("dropped Raft message: %s", error->message);
          g_clear_error (&error);
        }
      break;
    case QUEUED_PROPOSE:
      if (raft_node_propose (node->raft, q->data, &index, &error))
        waiter_add (node, index, q->done, q->done_data);
      else
        fail_done (q->done, q->done_data, error);
      break;
    case QUEUED_CONFIG:
      if (raft_node_propose_config_change (node->raft, q->change, q->peer, q->address,
                                           &index, &error))
        waiter_add (node, index, q->done, q->done_data);
      else
        fail_done (q->done, q->done_data, error);
      break;
    case QUEUED_TRANSFER:
      if (!raft_node_transfer_leadership (node->raft, q->peer, &error))
        g_message ("leadership transfer refused: %s", error->message);
      break;
    case QUEUED_REPORT_SNAPSHOT:
      raft_node_report_snapshot (node->raft, q->peer, q->success);
      break;
    case QUEUED_UNREACHABLE:
      raft_node_report_unreachable (node->raft, q->peer);
      break;
    case QUEUED_COMPACT:
      if (!raft_node_compact (node->raft, q->meta.index, &error))
        g_message ("log compaction refused: %s", error->message);
      else
        raft_writer_compact (node->writer, &q->meta);
      break;
    }
  g_clear_error (&error);
}

static void
enqueue (MinkaNode *node, Queued *q)
{
  g_queue_push_tail (&node->queue, q);
  node_process (node);
}

static void
drain_queue (MinkaNode *node)
{
  for (; node->pending_ticks > 0; node->pending_ticks--)
    raft_node_tick (node->raft);
  Queued *q;
  while (!node->busy && (q = g_queue_pop_head (&node->queue)))
    {
      execute (node, q);
      queued_free (q);
    }
}

/* ---- the Ready loop --------------------------------------------------------------- */

static void
report_changes (MinkaNode *node, const RaftReady *rd)
{
  if (rd->role != node->role || rd->leader != node->leader)
    {
      node->role = rd->role;
      node->leader = rd->leader;
      if (node->cb.role_changed)
        node->cb.role_changed (node->user_data, rd->role, rd->leader);
    }
  g_autoptr (GBytes) config = raft_config_encode (raft_node_config (node->raft));
  if (!node->config_seen || !g_bytes_equal (config, node->config_seen))
    {
      g_clear_pointer (&node->config_seen, g_bytes_unref);
      node->config_seen = g_bytes_ref (config);
      if (node->cb.config_changed)
        node->cb.config_changed (node->user_data, raft_node_config (node->raft));
    }
}

static void
apply_committed (MinkaNode *node, const RaftReady *rd)
{
  for (guint i = 0; i < rd->n_committed; i++)
    {
      const RaftEntry *e = &rd->committed[i];
      gpointer result = NULL;
      if (e->type == RAFT_ENTRY_NORMAL && node->cb.apply)
        result = node->cb.apply (node->user_data, e);
      waiter_resolve (node, e, result);
      if (result && node->cb.free_result)
        node->cb.free_result (result);
    }
}

/* A leader's appends and heartbeats may leave before its own copy of the
 * entries is durable (Raft thesis §10.2.1): the leader counts itself toward
 * a commit only once this Ready is persisted, because the followers'
 * answers are queued until then. Votes, answers and anything sent in a
 * Ready that changes term or vote still wait for the disk. */
static gboolean
message_may_leave_early (const RaftMessage *msg)
{
  return msg->type == RAFT_MSG_APPEND || msg->type == RAFT_MSG_HEARTBEAT;
}

static void
send_messages (MinkaNode *node, const RaftReady *rd, gboolean early_only, gboolean skip_early)
{
  for (guint i = 0; i < rd->n_messages; i++)
    {
      gboolean early = message_may_leave_early (&rd->messages[i]);
      if ((early_only && !early) || (skip_early && early))
        continue;
      node->cb.send (node->user_data, &rd->messages[i]);
    }
}

/* The Ready's state is durable: send, apply, advance, continue. */
static void
finish_ready (MinkaNode *node)
{
  const RaftReady *rd = node->ready;
  send_messages (node, rd, FALSE, node->sent_early);
  node->sent_early = FALSE;
  apply_committed (node, rd);
  report_changes (node, rd);
  raft_node_advance (node->raft);
  node->ready = NULL;
  node->busy = FALSE;
}

static void
start_ready (MinkaNode *node)
{
  const RaftReady *rd = node->ready = raft_node_ready (node->raft);
  guint64 last_seq = 0;

  if (rd->snapshot)
    {
      if (!node->cb.install_snapshot (node->user_data, rd->snapshot))
        {
          GError *error = g_error_new (RAFT_ERROR, RAFT_ERROR_IO,
                                       "cannot install the snapshot at index %" G_GUINT64_FORMAT,
                                       rd->snapshot->index);
          node->stopped = TRUE;
          node->cb.fatal (node->user_data, error);
          g_error_free (error);
          return;
        }
      last_seq = raft_writer_compact (node->writer, rd->snapshot);
      node->submitted_last = rd->snapshot->index;
    }
  if (rd->n_entries > 0)
    {
      guint64 first = rd->entries[0].index;
      if (first <= node->submitted_last)
        last_seq = raft_writer_truncate_suffix (node->writer, first);
      last_seq = raft_writer_append (node->writer, rd->entries, rd->n_entries);
      node->submitted_last = rd->entries[rd->n_entries - 1].index;
    }
  /* Term and vote must be durable before anything is sent. The commit index
   * alone need not be (it is relearned from the leader after a restart), so
   * a change of commit only does not cost an fsync on the commit path. */
  if (rd->has_hard_state)
    node->latest = rd->hard_state;
  gboolean vote_changed = rd->has_hard_state && (rd->hard_state.term != node->saved.term
                                                  || rd->hard_state.vote != node->saved.vote);
  if (vote_changed)
    {
      last_seq = raft_writer_save_hard_state (node->writer, &rd->hard_state);
      node->saved = rd->hard_state;
    }

  node->busy = TRUE;
  node->wait_seq = last_seq;
  node->ready_start_us = g_get_monotonic_time ();
  if (last_seq == 0)
    {
      finish_ready (node);        /* nothing to persist */
      return;
    }
  if (rd->role == RAFT_ROLE_LEADER && !vote_changed && !rd->snapshot)
    {
      send_messages (node, rd, TRUE, FALSE);
      node->sent_early = TRUE;
    }
}

static void
node_process (MinkaNode *node)
{
  while (!node->busy && !node->stopped)
    {
      drain_queue (node);
      if (node->busy || !raft_node_has_ready (node->raft))
        return;
      start_ready (node);
    }
}

static void
on_writer_done (const RaftWriterResult *result, gpointer user_data)
{
  MinkaNode *node = user_data;
  if (node->stopped)
    return;
  if (result->error)
    {
      node->stopped = TRUE;
      node->cb.fatal (node->user_data, result->error);
      return;
    }
  if (node->busy && result->seq >= node->wait_seq)
    {
      if (node->cb.persisted)
        node->cb.persisted (node->user_data, (g_get_monotonic_time () - node->ready_start_us) / 1e6);
      finish_ready (node);
      node_process (node);
    }
}

/* The commit index in the hard state lets recovery tell committed entries
 * from the rest; keeping it a second old costs no fsync on the write path. */
static gboolean
on_save_commit (gpointer user_data)
{
  MinkaNode *node = user_data;
  if (!node->stopped && node->latest.commit > node->saved.commit
      && node->latest.term == node->saved.term)
    {
      raft_writer_save_hard_state (node->writer, &node->latest);
      node->saved = node->latest;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_tick (gpointer user_data)
{
  MinkaNode *node = user_data;
  if (node->busy)
    node->pending_ticks++;
  else
    raft_node_tick (node->raft);
  node_process (node);
  return G_SOURCE_CONTINUE;
}

/* ---- construction -------------------------------------------------------------------- */

static void
log_repairs (const RaftStorageRecovery *recovery)
{
  for (guint i = 0; recovery->repairs && i < recovery->repairs->len; i++)
    g_warning ("log recovery: %s", (const char *) recovery->repairs->pdata[i]);
}

MinkaNode *
minka_node_new (RaftNodeId id, const char *dir, const RaftConfig *bootstrap,
                const MinkaNodeOptions *options, const MinkaNodeCallbacks *callbacks,
                gpointer user_data, char **snapshot_path_out, GError **error)
{
  RaftStorageOptions storage_options = { 0 };
  RaftStorageRecovery recovery = { 0 };
  storage_options.no_sync = options && options->no_sync;

  RaftStorage *storage = raft_storage_open (dir, &storage_options, &recovery, error);
  if (!storage)
    return NULL;
  log_repairs (&recovery);

  MinkaNode *node = g_new0 (MinkaNode, 1);
  node->options.tick_ms = options && options->tick_ms ? options->tick_ms : 10;
  node->options.election_ticks = options && options->election_ticks ? options->election_ticks : 15;
  node->options.heartbeat_ticks = options && options->heartbeat_ticks ? options->heartbeat_ticks : 3;
  node->cb = *callbacks;
  node->user_data = user_data;
  node->dir = g_strdup (dir);
  node->waiters = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_queue_init (&node->queue);

  RaftOptions raft_options;
  raft_options_init (&raft_options, id);
  raft_options.election_ticks = node->options.election_ticks;
  raft_options.heartbeat_ticks = node->options.heartbeat_ticks;
  raft_options.seed = id ^ (guint64) g_get_real_time ();

  /* Without a snapshot, membership starts from the bootstrap config (the
   * log's CONFIG entries then take over). */
  RaftSnapshotMeta start = { 0 };
  if (recovery.snapshot.index > 0)
    start = recovery.snapshot;
  else if (bootstrap)
    start.config = *bootstrap;
  node->raft = raft_node_new (&raft_options, &recovery.hard_state, &start,
                              (const RaftEntry *) recovery.entries->data,
                              recovery.entries->len, error);
  if (!node->raft)
    {
      raft_storage_recovery_clear (&recovery);
      raft_storage_close (storage);
      g_hash_table_destroy (node->waiters);
      g_free (node->dir);
      g_free (node);
      return NULL;
    }
  node->submitted_last = raft_storage_last_index (storage);
  node->saved = *raft_storage_hard_state (storage);
  node->latest = node->saved;
  if (snapshot_path_out)
    *snapshot_path_out = g_strdup (recovery.snapshot_path);
  raft_storage_recovery_clear (&recovery);
  node->writer = raft_writer_new (storage, on_writer_done, node);
  node->role = raft_node_role (node->raft);
  node->leader = raft_node_leader (node->raft);
  return node;
}

void
minka_node_start (MinkaNode *node)
{
  if (node->cb.config_changed)
    {
      node->config_seen = raft_config_encode (raft_node_config (node->raft));
      node->cb.config_changed (node->user_data, raft_node_config (node->raft));
    }
  node->tick_source = g_timeout_add (node->options.tick_ms, on_tick, node);
  node->commit_source = g_timeout_add_seconds (1, on_save_commit, node);
  /* A single-node cluster elects itself without waiting for a timeout. */
  if (raft_node_config (node->raft)->n_nodes == 1
      && raft_config_contains (raft_node_config (node->raft), raft_node_id (node->raft)))
    raft_node_campaign (node->raft);
  node_process (node);
}

void
minka_node_free (MinkaNode *node)
{
  if (!node)
    return;
  if (node->tick_source)
    g_source_remove (node->tick_source);
  if (node->commit_source)
    g_source_remove (node->commit_source);
  on_save_commit (node);                  /* a clean stop keeps the newest commit */
  node->stopped = TRUE;
  raft_writer_free (node->writer);        /* finishes queued writes */
  waiters_fail_all (node, "the worker is shutting down");
  g_queue_clear_full (&node->queue, (GDestroyNotify) queued_free);
  g_hash_table_destroy (node->waiters);
  raft_node_free (node->raft);
  g_clear_pointer (&node->config_seen, g_bytes_unref);
  g_free (node->dir);
  g_free (node);
}

/* ---- public operations ------------------------------------------------------------------- */

void
minka_node_step (MinkaNode *node, const RaftMessage *msg)
{
  Queued *q = g_new0 (Queued, 1);
  q->kind = QUEUED_STEP;
  raft_message_copy (&q->msg, msg);
  enqueue (node, q);
}

static gboolean
check_leader (MinkaNode *node, GError **error)
{
  if (node->stopped || raft_node_role (node->raft) != RAFT_ROLE_LEADER)
    {
      g_set_error_literal (error, RAFT_ERROR, RAFT_ERROR_INVALID, "not the leader");
      return FALSE;
    }
  return TRUE;
}

gboolean
minka_node_propose (MinkaNode *node, GBytes *data, MinkaProposalDone done,
                    gpointer user_data, GError **error)
{
  if (!check_leader (node, error))
    return FALSE;
  node->proposals++;
  Queued *q = g_new0 (Queued, 1);
  q->kind = QUEUED_PROPOSE;
  q->data = g_bytes_ref (data);
  q->done = done;
  q->done_data = user_data;
  enqueue (node, q);
  return TRUE;
}

gboolean
minka_node_propose_config (MinkaNode *node, RaftConfigChangeType type, RaftNodeId id,
                           const char *address, MinkaProposalDone done,
                           gpointer user_data, GError **error)
{
  if (!check_leader (node, error))
    return FALSE;
  node->proposals++;
  Queued *q = g_new0 (Queued, 1);
  q->kind = QUEUED_CONFIG;
  q->change = type;
  q->peer = id;
  q->address = g_strdup (address ? address : "");
  q->done = done;
  q->done_data = user_data;
  enqueue (node, q);
  return TRUE;
}

gboolean
minka_node_transfer_leadership (MinkaNode *node, RaftNodeId target)
{
  if (raft_node_role (node->raft) != RAFT_ROLE_LEADER)
    return FALSE;
  Queued *q = g_new0 (Queued, 1);
  q->kind = QUEUED_TRANSFER;
  q->peer = target;
  enqueue (node, q);
  return TRUE;
}

void
minka_node_report_snapshot (MinkaNode *node, RaftNodeId peer, gboolean success)
{
  Queued *q = g_new0 (Queued, 1);
  q->kind = QUEUED_REPORT_SNAPSHOT;
  q->peer = peer;
  q->success = success;
  enqueue (node, q);
}

void
minka_node_report_unreachable (MinkaNode *node, RaftNodeId peer)
{
  Queued *q = g_new0 (Queued, 1);
  q->kind = QUEUED_UNREACHABLE;
  q->peer = peer;
  enqueue (node, q);
}

void
minka_node_snapshot_taken (MinkaNode *node, const RaftSnapshotMeta *meta)
{
  Queued *q = g_new0 (Queued, 1);
  q->kind = QUEUED_COMPACT;
  q->meta.index = meta->index;
  q->meta.term = meta->term;
  q->meta.config = raft_config_copy (&meta->config);
  enqueue (node, q);
}

RaftNode *
minka_node_raft (MinkaNode *node)
{
  return node->raft;
}

guint64
minka_node_applied_index (MinkaNode *node)
{
  return raft_node_applied_index (node->raft);
}

const char *
minka_node_dir (MinkaNode *node)
{
  return node->dir;
}

RaftStorageStats
minka_node_storage_stats (MinkaNode *node)
{
  return raft_writer_get_stats (node->writer).storage;
}

guint64
minka_node_n_proposals (MinkaNode *node)
{
  return node->proposals;
}
