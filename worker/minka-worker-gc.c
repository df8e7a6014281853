/* minka-worker-gc.c — collects orphaned blobs: bytes stored here that no
 * catalog entry names (a streamed upload whose client vanished before its
 * FILE entry committed, a proposal lost to a leader change, a push for an
 * upload that then failed, an inline file whose entry was never
 * committed). Safe first: a blob is deleted only when two sweeps at least
 * the grace period apart both found it unreferenced and not in flight, the
 * worker knows a leader and has applied everything it knows committed,
 * every log entry it held at the first sweep has been applied since, and
 * a blob file was installed at least six intervals ago. The
 * listing runs on the disk thread; the decision and the deletes run on the
 * main loop, where the catalog cannot change under them (deletes go in
 * batches, each blob checked again just before). A restart forgets the
 * marks (it only delays collection). */
#include "config.h"
#include "minka-worker-private.h"
#include "minka-worker-gc.h"

#define GC_DEFAULT_INTERVAL_MS (10 * 60 * 1000)
#define GC_DELETE_BATCH 256
/* A blob file installed less than this many intervals ago stays (1 hour by
 * default). A follower that stored a pushed blob does not see the upload:
 * its FILE entry comes only once a majority holds the bytes, which for a
 * huge file pushed to a slow peer can take long after this one acked. */
#define GC_MIN_AGE_INTERVALS 6

/* ---- decision (pure) ---------------------------------------------------------- */

MinkaGc *
minka_gc_new (gint64 grace_us)
{
  MinkaGc *gc = g_new0 (MinkaGc, 1);
  gc->marks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gc->grace_us = grace_us;
  return gc;
}

void
minka_gc_free (MinkaGc *gc)
{
  if (!gc)
    return;
  g_hash_table_destroy (gc->marks);
  g_free (gc);
}

void
minka_gc_forget (MinkaGc *gc, const char *sha256)
{
  g_hash_table_remove (gc->marks, sha256);
}

static gboolean
mark_is_ripe (const MinkaGc *gc, const MinkaGcMark *mark, const MinkaGcView *view)
{
  return view->settled && view->now_us - mark->time_us >= gc->grace_us
         && view->applied_index >= mark->last_index;
}

GPtrArray *
minka_gc_decide (MinkaGc *gc, GPtrArray *names, MinkaGcInUseFunc in_use, gpointer user_data,
                 const MinkaGcView *view, GArray *wall_out)
{
  GPtrArray *doomed = g_ptr_array_new_with_free_func (g_free);
  /* Marks of blobs that are gone or referenced again are dropped with the
   * old table. */
  GHashTable *kept = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      gpointer key = NULL, value = NULL;
      if (in_use (name, user_data))
        continue;
      MinkaGcMark *mark = NULL;
      if (g_hash_table_steal_extended (gc->marks, name, &key, &value))
        {
          g_free (key);
          mark = value;
        }
      /* A mark made now is never ripe: two sweeps, even with no grace. */
      if (mark && mark_is_ripe (gc, mark, view))
        {
          g_ptr_array_add (doomed, g_strdup (name));
          if (wall_out)
            g_array_append_val (wall_out, mark->wall_s);
          g_free (mark);
          continue;
        }
      if (!mark)
        {
          mark = g_new0 (MinkaGcMark, 1);
          mark->time_us = view->now_us;
          mark->wall_s = g_get_real_time () / G_USEC_PER_SEC;
          mark->last_index = view->last_index;
        }
      g_hash_table_insert (kept, g_strdup (name), mark);
    }
  g_hash_table_destroy (gc->marks);
  gc->marks = kept;
  return doomed;
}

/* ---- the worker's sweeps ------------------------------------------------------- */

static guint
gc_interval_ms (MinkaWorker *worker)
{
  return worker->options.gc_interval_ms ? worker->options.gc_interval_ms
                                        : GC_DEFAULT_INTERVAL_MS;
}

/* Lazily written blobs not yet synced by a snapshot: the snapshot syncs
 * each by name where there is no syncfs, and fails on a missing one. Kept
 * until then (a set built per sweep and per delete batch). */
static GHashTable *
gc_unsynced_set (MinkaWorker *worker)
{
  GHashTable *set = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < worker->unsynced->len; i++)
    g_hash_table_add (set, worker->unsynced->pdata[i]);
  return set;
}

typedef struct {
  MinkaWorker *worker;
  GHashTable *unsynced;
} GcCheck;

static gboolean
gc_blob_in_use (const char *sha256, gpointer user_data)
{
  GcCheck *check = user_data;
  MinkaWorker *worker = check->worker;
  return minka_catalog_blob_in_use (worker->catalog, sha256)
         || g_hash_table_contains (worker->writing, sha256)
         || g_hash_table_contains (worker->fetching, sha256)
         || g_hash_table_contains (worker->gc_pins, sha256)
         || g_hash_table_contains (check->unsynced, sha256);
}

static MinkaGcView
gc_view (MinkaWorker *worker)
{
  RaftNode *raft = minka_node_raft (worker->node);
  RaftRole role = raft_node_role (raft);
  MinkaGcView view = {
    .now_us = g_get_monotonic_time (),
    .last_index = raft_node_last_index (raft),
    .applied_index = raft_node_applied_index (raft),
  };
  /* A candidate or a follower without a leader may be missing entries
   * that name blobs it holds: it collects nothing. */
  view.settled = !worker->shutting_down && !worker->snapshot_running
                 && (role == RAFT_ROLE_LEADER
                     || (role == RAFT_ROLE_FOLLOWER && raft_node_leader (raft) != RAFT_NO_NODE))
                 && view.applied_index >= raft_node_commit_index (raft);
  return view;
}

/* Deletes one doomed blob unless it was wanted again meanwhile; returns
 * the bytes freed, or -1. */
static gint64
gc_delete_one (GcCheck *check, const char *name, gint64 marked_wall_s)
{
  MinkaWorker *worker = check->worker;
  GError *error = NULL;
  gint64 bytes = -1;
  /* The catalog may have changed since the decision (earlier batches). A
   * blob re-stored since it was marked (a new upload of the same bytes)
   * is left alone too; it is marked afresh at the next sweep if unwanted. */
  if (gc_blob_in_use (name, check))
    return -1;
  gint64 young_s = g_get_real_time () / G_USEC_PER_SEC
                   - (gint64) gc_interval_ms (worker) * GC_MIN_AGE_INTERVALS / 1000;
  if (!minka_blob_store_delete_if_older (worker->blobs, name, MIN (marked_wall_s, young_s),
                                         &bytes, &error))
    {
      g_warning ("gc: cannot delete blob %s: %s", name, error->message);
      g_error_free (error);
      return -1;
    }
  return bytes;
}

static void gc_schedule (MinkaWorker *worker);

static void
gc_deletes_done (MinkaWorker *worker)
{
  if (worker->gc_batch_deleted > 0)
    {
      minka_worker_event (worker, "gc", "deleted %u unreferenced blobs (%" G_GUINT64_FORMAT
                          " bytes); %u more marked unreferenced", worker->gc_batch_deleted,
                          worker->gc_batch_freed, g_hash_table_size (worker->gc->marks));
    }
  worker->gc_deleted += worker->gc_batch_deleted;
  worker->gc_bytes_freed += worker->gc_batch_freed;
  worker->gc_batch_deleted = 0;
  worker->gc_batch_freed = 0;
  gc_schedule (worker);
}

/* Deletes a batch of doomed blobs per main loop iteration, so a huge
 * backlog never blocks the loop for long (one unlink is ~10-20 µs). */
static gboolean
on_gc_delete_batch (gpointer user_data)
{
  MinkaWorker *worker = user_data;
  MinkaGcView view = gc_view (worker);
  GcCheck check = { worker, gc_unsynced_set (worker) };
  GHashTableIter iter;
  gpointer key, value;
  guint n = 0;
  g_hash_table_iter_init (&iter, worker->gc_doomed);
  while (n < GC_DELETE_BATCH && g_hash_table_iter_next (&iter, &key, &value))
    {
      /* A worker that lost its leader meanwhile deletes nothing more. */
      gint64 bytes = view.settled ? gc_delete_one (&check, key, *(gint64 *) value) : -1;
      if (bytes >= 0)
        {
          worker->gc_batch_deleted++;
          worker->gc_batch_freed += (guint64) bytes;
        }
      g_hash_table_iter_remove (&iter);
      n++;
    }
  g_hash_table_destroy (check.unsynced);
  if (g_hash_table_size (worker->gc_doomed) > 0)
    return G_SOURCE_CONTINUE;
  worker->gc_delete_source = 0;
  gc_deletes_done (worker);
  return G_SOURCE_REMOVE;
}

typedef struct {
  MinkaWorker *worker;
  GPtrArray *names;
  gint64 started_us;
} GcListing;

static void
gc_listing_free (GcListing *listing)
{
  g_clear_pointer (&listing->names, g_ptr_array_unref);
  g_free (listing);
}

/* On the disk thread (the store is thread-safe; the queue is drained
 * before the store is freed). */
static gpointer
run_gc_listing (gpointer data, GError **error)
{
  GcListing *listing = data;
  listing->names = minka_blob_store_list (listing->worker->blobs, error);
  return NULL;
}

static gboolean on_gc_timer (gpointer user_data);

/* The next sweep starts an interval after this one's deletes end. */
static void
gc_schedule (MinkaWorker *worker)
{
  if (!worker->shutting_down && worker->gc_source == 0)
    worker->gc_source = g_timeout_add (gc_interval_ms (worker), on_gc_timer, worker);
}

static void
gc_sweep (MinkaWorker *worker, GPtrArray *names, gint64 list_us)
{
  MinkaGcView view = gc_view (worker);
  gint64 start = g_get_monotonic_time ();
  g_autoptr (GArray) walls = g_array_new (FALSE, FALSE, sizeof (gint64));
  GcCheck check = { worker, gc_unsynced_set (worker) };
  g_autoptr (GPtrArray) doomed = minka_gc_decide (worker->gc, names, gc_blob_in_use, &check,
                                                  &view, walls);
  g_hash_table_destroy (check.unsynced);
  for (guint i = 0; i < doomed->len; i++)
    g_hash_table_replace (worker->gc_doomed, g_strdup (doomed->pdata[i]),
                          g_memdup2 (&g_array_index (walls, gint64, i), sizeof (gint64)));
  g_debug ("gc: %u blobs listed in %" G_GINT64_FORMAT " µs, decided in %" G_GINT64_FORMAT
           " µs; %u marked, %u to delete%s", names->len, list_us,
           g_get_monotonic_time () - start, g_hash_table_size (worker->gc->marks), doomed->len,
           view.settled ? "" : " (not settled)");
}

static void
on_gc_listed (gpointer data, gpointer result, const GError *error)
{
  GcListing *listing = data;
  MinkaWorker *worker = listing->worker;
  (void) result;
  worker->gc_listing = FALSE;
  if (error)
    g_warning ("gc: cannot list the blobs: %s", error->message);
  else if (!worker->shutting_down)
    gc_sweep (worker, listing->names, g_get_monotonic_time () - listing->started_us);
  gc_listing_free (listing);
  if (g_hash_table_size (worker->gc_doomed) > 0)
    worker->gc_delete_source = g_idle_add (on_gc_delete_batch, worker);
  else
    gc_deletes_done (worker);
}

static gboolean
on_gc_timer (gpointer user_data)
{
  MinkaWorker *worker = user_data;
  worker->gc_source = 0;
  if (worker->shutting_down || worker->gc_listing)
    return G_SOURCE_REMOVE;
  GcListing *listing = g_new0 (GcListing, 1);
  listing->worker = worker;
  listing->started_us = g_get_monotonic_time ();
  worker->gc_listing = TRUE;
  minka_disk_queue_push (worker->disk, run_gc_listing, on_gc_listed,
                         (GDestroyNotify) gc_listing_free, listing);
  return G_SOURCE_REMOVE;
}

void
minka_worker_gc_init (MinkaWorker *worker)
{
  worker->gc = minka_gc_new ((gint64) gc_interval_ms (worker) * 1000);
  worker->gc_pins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  worker->gc_doomed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

void
minka_worker_gc_start (MinkaWorker *worker)
{
  gc_schedule (worker);
}

void
minka_worker_gc_clear (MinkaWorker *worker)
{
  g_clear_handle_id (&worker->gc_source, g_source_remove);
  g_clear_handle_id (&worker->gc_delete_source, g_source_remove);
  g_clear_pointer (&worker->gc_doomed, g_hash_table_destroy);
  g_clear_pointer (&worker->gc, minka_gc_free);
  g_clear_pointer (&worker->gc_pins, g_hash_table_destroy);
}

void
minka_worker_gc_pin (MinkaWorker *worker, const char *sha256)
{
  if (!worker->gc_pins)
    return;                     /* the worker is being freed */
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (worker->gc_pins, sha256));
  g_hash_table_replace (worker->gc_pins, g_strdup (sha256), GUINT_TO_POINTER (n + 1));
  minka_worker_gc_touch (worker, sha256);
}

void
minka_worker_gc_unpin (MinkaWorker *worker, const char *sha256)
{
  if (!worker->gc_pins)
    return;
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (worker->gc_pins, sha256));
  if (n <= 1)
    g_hash_table_remove (worker->gc_pins, sha256);
  else
    g_hash_table_replace (worker->gc_pins, g_strdup (sha256), GUINT_TO_POINTER (n - 1));
  /* Judged afresh from now on: two more sweeps before it can go. */
  minka_worker_gc_touch (worker, sha256);
}

void
minka_worker_gc_touch (MinkaWorker *worker, const char *sha256)
{
  if (!worker->gc)
    return;
  minka_gc_forget (worker->gc, sha256);
  g_hash_table_remove (worker->gc_doomed, sha256);
}
