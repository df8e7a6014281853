/* raft-writer.c — the writer thread: an operation queue, merging of
 * appends (group commit), reports posted to the creator's context, and
 * segment preparation while the queue is empty. */
#include "config.h"
#include "raft-writer.h"

#include <string.h>

typedef enum { OP_APPEND, OP_TRUNCATE, OP_HARD_STATE, OP_COMPACT, OP_STOP } OpKind;

typedef struct {
  OpKind kind;
  guint64 seq;
  GArray *entries;           /* OP_APPEND: RaftEntry */
  guint64 index;             /* OP_TRUNCATE */
  RaftHardState hard;        /* OP_HARD_STATE */
  RaftSnapshotMeta snapshot; /* OP_COMPACT */
} Op;

typedef struct {
  guint64 seq;
  guint64 last_index;
  GError *error;
} Report;

/* Shared between the writer and reports still queued in the context. */
typedef struct {
  GMutex lock;
  GQueue reports;            /* Report* */
  gboolean scheduled;
  gboolean alive;
  RaftWriterDoneFunc done;
  gpointer user_data;
  GMainContext *context;
} Outbox;

struct _RaftWriter
{
  RaftStorage *storage;      /* used only by the thread once started */
  GThread *thread;
  GMutex lock;
  GCond cond;
  GQueue ops;                /* Op* */
  gboolean hold;
  guint64 next_seq;
  guint64 done_seq;
  RaftWriterStats stats;
  Outbox *outbox;
};

static void
op_free (Op *op)
{
  if (op->entries)
    g_array_unref (op->entries);
  raft_snapshot_meta_clear (&op->snapshot);
  g_free (op);
}

static void
report_free (Report *r)
{
  g_clear_error (&r->error);
  g_free (r);
}

static void
outbox_release (gpointer p)
{
  Outbox *o = p;
  g_mutex_lock (&o->lock);
  g_queue_clear_full (&o->reports, (GDestroyNotify) report_free);
  g_mutex_unlock (&o->lock);
  g_mutex_clear (&o->lock);
  g_main_context_unref (o->context);
}

static void
outbox_unref (gpointer p)
{
  g_atomic_rc_box_release_full (p, outbox_release);
}

static gboolean
outbox_dispatch (gpointer p)
{
  Outbox *o = p;
  for (;;)
    {
      g_mutex_lock (&o->lock);
      Report *r = g_queue_pop_head (&o->reports);
      if (!r)
        o->scheduled = FALSE;
      gboolean alive = o->alive;
      g_mutex_unlock (&o->lock);
      if (!r)
        break;
      if (alive && o->done)
        {
          RaftWriterResult result = { r->seq, r->last_index, r->error };
          o->done (&result, o->user_data);
        }
      report_free (r);
    }
  return G_SOURCE_REMOVE;
}

static void
outbox_post (Outbox *o, guint64 seq, guint64 last_index, GError *error)
{
  Report *r = g_new0 (Report, 1);
  r->seq = seq;
  r->last_index = last_index;
  r->error = error;
  g_mutex_lock (&o->lock);
  g_queue_push_tail (&o->reports, r);
  gboolean schedule = !o->scheduled;
  o->scheduled = TRUE;
  g_mutex_unlock (&o->lock);
  if (schedule)
    {
      GSource *src = g_idle_source_new ();
      g_source_set_priority (src, G_PRIORITY_DEFAULT);
      g_source_set_callback (src, outbox_dispatch, g_atomic_rc_box_acquire (o),
                             outbox_unref);
      g_source_attach (src, o->context);
      g_source_unref (src);
    }
}

/* ---- the thread ---- */

/* Takes the next group: a run of consecutive appends, or one other op. */
static GPtrArray *
writer_take_group (RaftWriter *w)
{
  GPtrArray *group = g_ptr_array_new_with_free_func ((GDestroyNotify) op_free);
  g_mutex_lock (&w->lock);
  while (w->hold || g_queue_is_empty (&w->ops))
    g_cond_wait (&w->cond, &w->lock);
  Op *op = g_queue_pop_head (&w->ops);
  g_ptr_array_add (group, op);
  while (op->kind == OP_APPEND && !g_queue_is_empty (&w->ops)
         && ((Op *) g_queue_peek_head (&w->ops))->kind == OP_APPEND)
    g_ptr_array_add (group, g_queue_pop_head (&w->ops));
  g_mutex_unlock (&w->lock);
  return group;
}

static gboolean
writer_run_appends (RaftWriter *w, GPtrArray *group, GError **error)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (RaftEntry));
  for (guint i = 0; i < group->len; i++)
    {
      Op *op = g_ptr_array_index (group, i);
      g_array_append_vals (all, op->entries->data, op->entries->len);
    }
  gboolean ok = raft_storage_append (w->storage, (RaftEntry *) all->data, all->len, error);
  g_array_unref (all);   /* the entries still belong to the ops */
  return ok;
}

static gboolean
writer_run (RaftWriter *w, GPtrArray *group, GError **error)
{
  Op *op = g_ptr_array_index (group, 0);
  switch (op->kind)
    {
    case OP_APPEND:
      return writer_run_appends (w, group, error);
    case OP_TRUNCATE:
      return raft_storage_truncate_suffix (w->storage, op->index, error);
    case OP_HARD_STATE:
      return raft_storage_save_hard_state (w->storage, &op->hard, error);
    case OP_COMPACT:
      return raft_storage_compact (w->storage, &op->snapshot, error);
    case OP_STOP:
      break;
    }
  return TRUE;
}

/* Between bursts, does the work the next append would otherwise wait for
 * (closing a full segment, creating and zero-filling the next one), in
 * bounded steps, stopping as soon as an operation is queued. Its errors
 * are not reported: a later operation meets any that matter. The step
 * limit only guards against a storage that never gets ready (e.g. a
 * rename that keeps failing). */
static void
writer_prepare_if_idle (RaftWriter *w)
{
  for (guint step = 0; step < 64; step++)
    {
      g_mutex_lock (&w->lock);
      gboolean idle = !w->hold && g_queue_is_empty (&w->ops);
      g_mutex_unlock (&w->lock);
      if (!idle || raft_storage_prepared (w->storage))
        return;
      gboolean prepared = raft_storage_prepare (w->storage, NULL);
      /* Preparing changes what the files hold: keep the figures current. */
      g_mutex_lock (&w->lock);
      w->stats.storage = raft_storage_get_stats (w->storage);
      g_mutex_unlock (&w->lock);
      if (!prepared)
        return;
    }
}

static gpointer
writer_thread (gpointer data)
{
  RaftWriter *w = data;
  for (;;)
    {
      writer_prepare_if_idle (w);
      GPtrArray *group = writer_take_group (w);
      Op *first = g_ptr_array_index (group, 0);
      Op *last = g_ptr_array_index (group, group->len - 1);
      if (first->kind == OP_STOP)
        {
          g_ptr_array_unref (group);
          return NULL;
        }
      GError *error = NULL;
      writer_run (w, group, &error);
      guint64 seq = last->seq;
      guint64 last_index = raft_storage_last_index (w->storage);
      g_mutex_lock (&w->lock);
      w->done_seq = seq;
      w->stats.ops_done += group->len;
      w->stats.groups++;
      w->stats.storage = raft_storage_get_stats (w->storage);
      g_cond_broadcast (&w->cond);
      g_mutex_unlock (&w->lock);
      outbox_post (w->outbox, seq, last_index, error);
      g_ptr_array_unref (group);
    }
}

/* ---- the caller's side ---- */

RaftWriter *
raft_writer_new (RaftStorage *storage, RaftWriterDoneFunc done, gpointer user_data)
{
  RaftWriter *w = g_new0 (RaftWriter, 1);
  w->storage = storage;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);
  g_queue_init (&w->ops);
  w->outbox = g_atomic_rc_box_new0 (Outbox);
  g_mutex_init (&w->outbox->lock);
  g_queue_init (&w->outbox->reports);
  w->outbox->alive = TRUE;
  w->outbox->done = done;
  w->outbox->user_data = user_data;
  w->outbox->context = g_main_context_ref_thread_default ();
  w->stats.storage = raft_storage_get_stats (storage);
  w->thread = g_thread_new ("raft-writer", writer_thread, w);
  return w;
}

static guint64
writer_submit (RaftWriter *w, Op *op)
{
  g_mutex_lock (&w->lock);
  guint64 seq = op->seq = ++w->next_seq;
  g_queue_push_tail (&w->ops, op);   /* the thread may free it once unlocked */
  w->stats.ops_submitted++;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
  return seq;
}

guint64
raft_writer_append (RaftWriter *w, const RaftEntry *entries, guint n)
{
  Op *op = g_new0 (Op, 1);
  op->kind = OP_APPEND;
  op->entries = g_array_sized_new (FALSE, FALSE, sizeof (RaftEntry), n);
  g_array_set_clear_func (op->entries, (GDestroyNotify) raft_entry_clear);
  for (guint i = 0; i < n; i++)
    {
      RaftEntry e = raft_entry_copy (&entries[i]);
      g_array_append_val (op->entries, e);
    }
  return writer_submit (w, op);
}

guint64
raft_writer_truncate_suffix (RaftWriter *w, guint64 from_index)
{
  Op *op = g_new0 (Op, 1);
  op->kind = OP_TRUNCATE;
  op->index = from_index;
  return writer_submit (w, op);
}

guint64
raft_writer_save_hard_state (RaftWriter *w, const RaftHardState *state)
{
  Op *op = g_new0 (Op, 1);
  op->kind = OP_HARD_STATE;
  op->hard = *state;
  return writer_submit (w, op);
}

guint64
raft_writer_compact (RaftWriter *w, const RaftSnapshotMeta *snapshot)
{
  Op *op = g_new0 (Op, 1);
  op->kind = OP_COMPACT;
  op->snapshot.index = snapshot->index;
  op->snapshot.term = snapshot->term;
  op->snapshot.config = raft_config_copy (&snapshot->config);
  return writer_submit (w, op);
}

void
raft_writer_flush (RaftWriter *w)
{
  g_mutex_lock (&w->lock);
  guint64 target = w->next_seq;
  while (w->done_seq < target)
    g_cond_wait (&w->cond, &w->lock);
  g_mutex_unlock (&w->lock);
}

void
raft_writer_hold (RaftWriter *w, gboolean hold)
{
  g_mutex_lock (&w->lock);
  w->hold = hold;
  g_cond_broadcast (&w->cond);
  g_mutex_unlock (&w->lock);
}

RaftWriterStats
raft_writer_get_stats (RaftWriter *w)
{
  g_mutex_lock (&w->lock);
  RaftWriterStats stats = w->stats;
  g_mutex_unlock (&w->lock);
  return stats;
}

void
raft_writer_free (RaftWriter *w)
{
  if (!w)
    return;
  Op *stop = g_new0 (Op, 1);
  stop->kind = OP_STOP;
  raft_writer_hold (w, FALSE);
  writer_submit (w, stop);
  g_thread_join (w->thread);
  g_mutex_lock (&w->outbox->lock);
  w->outbox->alive = FALSE;
  g_mutex_unlock (&w->outbox->lock);
  outbox_unref (w->outbox);
  raft_storage_close (w->storage);
  g_queue_clear_full (&w->ops, (GDestroyNotify) op_free);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_free (w);
}
