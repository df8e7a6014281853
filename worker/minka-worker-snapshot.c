/* minka-worker-snapshot.c — catalog snapshots: taking them every N
 * entries (captured on the main loop, serialised and written off it, then
 * the log is compacted), restoring at start-up, streaming one to a lagging
 * follower over the bulk link, and receiving and installing one on a
 * follower. The catalog is metadata (file bytes stay in blobs), so a
 * snapshot is small; a follower that installs one fetches the blobs it
 * lacks afterwards. */
#include "config.h"
#include "minka-worker-private.h"
#include "minka-blob-io.h"
#include "minka-compat.h"
#include "raft-snapshot-file.h"

#include <string.h>
#include <glib/gstdio.h>

/* ---- reading a snapshot file into the catalog ----------------------------------- */

/* A new catalog from a snapshot file (any thread: it touches no worker). */
static MinkaCatalog *
catalog_from_file (const char *path, RaftSnapshotMeta *meta, GError **error)
{
  RaftSnapshotReader *reader = raft_snapshot_reader_open (path, meta, error);
  if (!reader)
    return NULL;
  GByteArray *data = g_byte_array_new ();
  guint8 buffer[64 * 1024];
  gssize n;
  while ((n = raft_snapshot_reader_read (reader, buffer, sizeof buffer, error)) > 0)
    g_byte_array_append (data, buffer, (guint) n);
  raft_snapshot_reader_close (reader);
  g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (data);
  MinkaCatalog *catalog = minka_catalog_new ();
  if (n < 0 || !minka_catalog_restore (catalog, bytes, error))
    {
      minka_catalog_free (catalog);
      raft_snapshot_meta_clear (meta);
      return NULL;
    }
  return catalog;
}

/* Makes @catalog, read from the snapshot file @path, the worker's. */
static void
catalog_take (MinkaWorker *worker, MinkaCatalog *catalog, const char *path, guint64 index)
{
  minka_catalog_free (worker->catalog);
  worker->catalog = catalog;
  g_free (worker->snapshot_path);
  worker->snapshot_path = g_strdup (path);
  worker->snapshot_index = index;
}

static gboolean
restore_from_file (MinkaWorker *worker, const char *path, RaftSnapshotMeta *meta, GError **error)
{
  MinkaCatalog *catalog = catalog_from_file (path, meta, error);
  if (catalog == NULL)
    return FALSE;
  catalog_take (worker, catalog, path, meta->index);
  return TRUE;
}

gboolean
minka_worker_snapshot_restore_startup (MinkaWorker *worker, const char *path, GError **error)
{
  RaftSnapshotMeta meta = { 0 };
  if (!restore_from_file (worker, path, &meta, error))
    return FALSE;
  minka_worker_event (worker, "snapshot", "restored the catalog from the snapshot at index %"
                      G_GUINT64_FORMAT, meta.index);
  raft_snapshot_meta_clear (&meta);
  /* Blobs named by the catalog but missing here are fetched once peers are up. */
  g_autoptr (GPtrArray) files = minka_catalog_list_files (worker->catalog);
  for (guint i = 0; i < files->len; i++)
    minka_worker_files_ensure_blob (worker, files->pdata[i]);
  return TRUE;
}

/* ---- taking snapshots ------------------------------------------------------------ */

/* Small files ride in log entries: once the log holds this many of their
 * bytes, take a snapshot (which makes them durable as blobs) so the log —
 * kept in memory by the Raft core — stays small. */
#define INLINE_BYTES_PER_SNAPSHOT (16 * 1024 * 1024)
/* A snapshot serialises the whole catalog, so with a big catalog taking one
 * every 16 MiB or 4,096 entries would cost more than the writes themselves
 * (quadratic over a long upload). The gap grows with the catalog instead:
 * at least this many times the last snapshot's size in file bytes, and one
 * entry per this many files, so snapshot work stays a bounded share. */
#define SNAPSHOT_GROWTH_FACTOR 4
#define FILES_PER_SNAPSHOT_ENTRY 4
/* But the Raft core keeps the log since the last snapshot in memory: never
 * more than this many file bytes in it, however big the catalog (a
 * million-file catalog's snapshot is ~150 MB; 4x that would be 600 MB of
 * RAM). Only the capture runs on the main loop (59 ms at a million files);
 * serialising runs on the disk thread. */
#define INLINE_BYTES_MAX (256 * 1024 * 1024)

static gboolean
snapshot_due (MinkaWorker *worker, guint64 applied)
{
  guint64 every = MAX ((guint64) worker->options.snapshot_every,
                       minka_catalog_n_files (worker->catalog) / FILES_PER_SNAPSHOT_ENTRY);
  guint64 bytes = MIN ((guint64) INLINE_BYTES_MAX,
                       MAX ((guint64) INLINE_BYTES_PER_SNAPSHOT,
                            SNAPSHOT_GROWTH_FACTOR * worker->snapshot_bytes));
  return applied >= worker->snapshot_index + every || worker->inline_bytes >= bytes;
}

typedef struct {
  MinkaWorker *worker;
  char *dir;
  RaftSnapshotMeta meta;
  MinkaCatalogCapture *capture; /* taken on the main loop, serialised on the disk thread */
  GBytes *data;                 /* the serialised catalog, once written */
  GPtrArray *unsynced;          /* blobs to make durable before the log goes */
} TakeSnapshot;

static void
take_snapshot_free (TakeSnapshot *t)
{
  g_free (t->dir);
  raft_snapshot_meta_clear (&t->meta);
  minka_catalog_capture_free (t->capture);
  g_clear_pointer (&t->data, g_bytes_unref);
  g_ptr_array_unref (t->unsynced);
  g_free (t);
}

/* Makes the lazily written blobs durable: one syncfs of the store where
 * the system has it (one call instead of three fsyncs per blob), else each
 * blob in turn. */
static gboolean
sync_blobs (TakeSnapshot *t, GError **error)
{
  if (t->unsynced->len == 0)
    return TRUE;
  g_autoptr (GError) unsupported = NULL;
  /* The log and the blob store live in the same data folder. */
  if (minka_sync_filesystem (t->dir, &unsupported))
    return TRUE;
  if (!g_error_matches (unsupported, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    {
      g_propagate_error (error, g_steal_pointer (&unsupported));
      return FALSE;
    }
  for (guint i = 0; i < t->unsynced->len; i++)
    if (!minka_blob_store_sync (t->worker->blobs, t->unsynced->pdata[i], error))
      return FALSE;
  return TRUE;
}

/* On the disk thread, after every lazy blob write queued before it. */
static gpointer
run_take_snapshot (gpointer data, GError **error)
{
  TakeSnapshot *t = data;
  if (!sync_blobs (t, error))
    return NULL;
  /* Serialising a big catalog takes long: here, not on the main loop. The
   * capture's references are dropped here too. */
  t->data = minka_catalog_capture_serialize (t->capture);
  g_clear_pointer (&t->capture, minka_catalog_capture_free);
  char *path = NULL;
  RaftSnapshotWriter *writer = raft_snapshot_writer_new (t->dir, &t->meta, error);
  gsize len = 0;
  const void *bytes = g_bytes_get_data (t->data, &len);
  if (!writer || !raft_snapshot_writer_write (writer, bytes, len, error))
    {
      if (writer)
        raft_snapshot_writer_abort (writer);
      return NULL;
    }
  if (!raft_snapshot_writer_commit (writer, &path, error))
    return NULL;
  return path;
}

static void
on_snapshot_taken (gpointer data, gpointer result, const GError *error)
{
  TakeSnapshot *t = data;
  MinkaWorker *worker = t->worker;
  char *path = result;
  worker->snapshot_running = FALSE;
  if (!path)
    {
      g_warning ("snapshot at index %" G_GUINT64_FORMAT " failed: %s", t->meta.index,
                 error ? error->message : "?");
      /* Those blobs are still not known to be durable: try again next time. */
      for (guint i = 0; i < t->unsynced->len; i++)
        g_ptr_array_add (worker->unsynced, g_strdup (t->unsynced->pdata[i]));
      take_snapshot_free (t);
      return;
    }
  g_free (worker->snapshot_path);
  worker->snapshot_path = path;
  worker->snapshot_index = t->meta.index;
  worker->snapshot_bytes = g_bytes_get_size (t->data);
  minka_node_snapshot_taken (worker->node, &t->meta);
  minka_worker_event (worker, "snapshot", "snapshot at index %" G_GUINT64_FORMAT " (%"
                      G_GSIZE_FORMAT " bytes); log compacted", t->meta.index,
                      g_bytes_get_size (t->data));
  take_snapshot_free (t);
}

void
minka_worker_snapshot_maybe (MinkaWorker *worker)
{
  RaftNode *raft = minka_node_raft (worker->node);
  guint64 applied = minka_catalog_applied_index (worker->catalog);
  if (worker->snapshot_running || !snapshot_due (worker, applied))
    return;
  guint64 term = raft_node_log_term (raft, applied);
  if (term == 0)
    return;
  TakeSnapshot *t = g_new0 (TakeSnapshot, 1);
  t->worker = worker;
  t->dir = g_strdup (minka_node_dir (worker->node));
  t->meta.index = applied;
  t->meta.term = term;
  t->meta.config = raft_config_copy (raft_node_config (raft));
  t->capture = minka_catalog_capture (worker->catalog);
  t->unsynced = worker->unsynced;
  worker->unsynced = g_ptr_array_new_with_free_func (g_free);
  worker->inline_bytes = 0;
  worker->snapshot_running = TRUE;
  minka_disk_queue_push (worker->disk, run_take_snapshot, on_snapshot_taken,
                         (GDestroyNotify) take_snapshot_free, t);
}

/* ---- leader: sending a snapshot --------------------------------------------------- */

typedef struct {
  MinkaWorker *worker;
  RaftMessage msg;
} SendSnapshot;

static void
on_snapshot_pushed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SendSnapshot *s = user_data;
  MinkaWorker *worker = s->worker;
  GError *error = NULL;
  gboolean ok = minka_peer_push_snapshot_finish (NULL, result, &error);
  MinkaPeer *peer = minka_worker_peer_for (worker, s->msg.to);
  if (ok && peer)
    {
      /* The follower holds the file: now its core may install it. */
      g_autoptr (GBytes) encoded = raft_message_encode (&s->msg);
      minka_peer_send_raft (peer, encoded);
      minka_worker_event (worker, "snapshot", "sent the snapshot at index %" G_GUINT64_FORMAT " to %s",
                          s->msg.snapshot.index, minka_peer_get_name (peer));
    }
  else if (error)
    {
      g_message ("sending a snapshot failed: %s", error->message);
      g_error_free (error);
    }
  minka_node_report_snapshot (worker->node, s->msg.to, ok && peer);
  raft_message_clear (&s->msg);
  g_free (s);
}

void
minka_worker_snapshot_send (MinkaWorker *worker, const RaftMessage *msg)
{
  MinkaPeer *peer = minka_worker_peer_for (worker, msg->to);
  if (!peer || !worker->snapshot_path || worker->snapshot_index != msg->snapshot.index)
    {
      g_message ("cannot send the snapshot at index %" G_GUINT64_FORMAT " to %s: this worker's "
                 "snapshot is at %" G_GUINT64_FORMAT, msg->snapshot.index,
                 minka_worker_member_name (worker, msg->to), worker->snapshot_index);
      minka_node_report_snapshot (worker->node, msg->to, FALSE);
      return;
    }
  SendSnapshot *s = g_new0 (SendSnapshot, 1);
  s->worker = worker;
  raft_message_copy (&s->msg, msg);
  minka_peer_push_snapshot_async (peer, worker->snapshot_path, msg->snapshot.index,
                                  on_snapshot_pushed, s);
}

/* ---- follower: receiving a snapshot file ----------------------------------------------- */

typedef struct {
  MinkaWorker *worker;
  MinkaFile *file;
  char *tmp_path;
  char *final_path;
  guint64 index;
  guint64 size;
  guint64 received;
  MinkaCatalog *catalog;        /* parsed on the thread, for the install */
} Incoming;

static void
incoming_free (Incoming *in)
{
  if (in->file)
    {
      minka_file_close (in->file);
      g_unlink (in->tmp_path);
    }
  g_free (in->tmp_path);
  g_free (in->final_path);
  g_clear_pointer (&in->catalog, minka_catalog_free);
  g_free (in);
}

static char *
incoming_path (MinkaWorker *worker, guint64 index)
{
  g_autofree char *name = raft_snapshot_file_name (index);
  return g_build_filename (worker->incoming_dir, name, NULL);
}

static void
on_incoming_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MinkaConn *conn = user_data;
  GError *error = NULL;
  if (!minka_file_io_finish (result, &error))
    {
      minka_conn_send_error (conn, NULL, "internal", error->message);
      g_error_free (error);
      minka_conn_close (conn);
    }
  minka_conn_resume (conn);
  minka_conn_unref (conn);
}

/* fsync, close, verify every CRC, rename into incoming/, then parse the
 * catalog here so that installing it later does not stall the main loop
 * (if parsing fails, the install parses again and reports it). */
static void
run_incoming_finish (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Incoming *in = data;
  GError *error = NULL;
  RaftSnapshotMeta meta = { 0 };
  gboolean ok = minka_file_sync (in->file, &error);
  minka_file_close (in->file);
  in->file = NULL;
  ok = ok && raft_snapshot_file_verify (in->tmp_path, &meta, &error);
  if (ok && meta.index != in->index)
    {
      ok = FALSE;
      g_set_error (&error, RAFT_ERROR, RAFT_ERROR_CORRUPT, "snapshot index mismatch");
    }
  raft_snapshot_meta_clear (&meta);
  if (ok && g_rename (in->tmp_path, in->final_path) != 0)
    {
      ok = FALSE;
      g_set_error (&error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "rename %s: %s", in->tmp_path, g_strerror (errno));
    }
  if (!ok)
    {
      g_unlink (in->tmp_path);
      g_task_return_error (task, error);
      return;
    }
  RaftSnapshotMeta parsed = { 0 };
  GError *parse_error = NULL;
  in->catalog = catalog_from_file (in->final_path, &parsed, &parse_error);
  if (in->catalog == NULL)
    {
      g_warning ("snapshot %s: %s", in->final_path, parse_error->message);
      g_error_free (parse_error);
    }
  raft_snapshot_meta_clear (&parsed);
  g_task_return_boolean (task, TRUE);
}

static void
on_incoming_finished (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MinkaConn *conn = user_data;
  GError *error = NULL;
  Incoming *in = g_task_get_task_data (G_TASK (result));
  if (g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* An open link means a live worker (its server closes every link
       * before the worker goes). */
      if (in->catalog != NULL && !minka_conn_is_closed (conn))
        {
          MinkaWorker *worker = in->worker;
          g_clear_pointer (&worker->incoming_catalog, minka_catalog_free);
          worker->incoming_catalog = g_steal_pointer (&in->catalog);
          worker->incoming_catalog_index = in->index;
        }
      g_autoptr (JsonObject) h = minka_frame_header_new ("SNAPSHOT_OK");
      minka_conn_send (conn, h, NULL, NULL, NULL);
    }
  else
    {
      minka_conn_send_error (conn, NULL, "checksum", error->message);
      g_error_free (error);
    }
  minka_conn_resume (conn);
  minka_conn_unref (conn);
}

gboolean
minka_worker_snapshot_bulk_frame (MinkaWorker *worker, MinkaConn *conn, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);
  Incoming *in = minka_conn_get_data (conn);
  GError *error = NULL;

  if (strcmp (type, "SNAPSHOT_PUSH") == 0)
    {
      gint64 index = minka_header_get_int (frame->header, "index", -1, NULL);
      gint64 size = minka_header_get_int (frame->header, "size", -1, NULL);
      if (index <= 0 || size <= 0)
        {
          minka_conn_send_error (conn, frame->header, "bad_request", "bad SNAPSHOT_PUSH");
          return TRUE;
        }
      in = g_new0 (Incoming, 1);
      in->worker = worker;
      in->index = (guint64) index;
      in->size = (guint64) size;
      in->final_path = incoming_path (worker, in->index);
      in->tmp_path = g_strconcat (in->final_path, ".tmp", NULL);
      in->file = minka_file_open (in->tmp_path, MINKA_FILE_WRITE | MINKA_FILE_CREATE
                                  | MINKA_FILE_TRUNCATE, &error);
      if (!in->file)
        {
          minka_conn_send_error (conn, frame->header, "internal", error->message);
          g_error_free (error);
          incoming_free (in);
          return TRUE;
        }
      minka_conn_set_data (conn, in, (GDestroyNotify) incoming_free);
      g_autoptr (JsonObject) h = minka_frame_header_new ("SNAPSHOT_READY");
      minka_conn_send (conn, h, NULL, NULL, NULL);
      return TRUE;
    }
  if (strcmp (type, "SNAPSHOT_DATA") == 0 && in && in->file && frame->body)
    {
      in->received += g_bytes_get_size (frame->body);
      if (in->received > in->size)
        {
          minka_conn_send_error (conn, frame->header, "too_large", "snapshot longer than announced");
          minka_conn_close (conn);
          return FALSE;
        }
      minka_file_io_write_async (in->file, frame->body, on_incoming_written, minka_conn_ref (conn));
      return FALSE;
    }
  if (strcmp (type, "SNAPSHOT_END") == 0 && in && in->file)
    {
      /* The thread owns the file from here, whatever happens to the link. */
      GTask *task = g_task_new (NULL, NULL, on_incoming_finished, minka_conn_ref (conn));
      g_task_set_task_data (task, minka_conn_steal_data (conn), (GDestroyNotify) incoming_free);
      g_task_run_in_thread (task, run_incoming_finish);
      g_object_unref (task);
      return FALSE;
    }
  minka_conn_send_error (conn, frame->header, "bad_request", "unexpected snapshot frame");
  minka_conn_close (conn);
  return FALSE;
}

/* ---- follower: installing (from the Raft Ready) ------------------------------------------ */

gboolean
minka_worker_snapshot_install (MinkaWorker *worker, const RaftSnapshotMeta *meta)
{
  g_autofree char *received = incoming_path (worker, meta->index);
  g_autofree char *name = raft_snapshot_file_name (meta->index);
  g_autofree char *final = g_build_filename (minka_node_dir (worker->node), name, NULL);
  GError *error = NULL;

  if (g_rename (received, final) != 0 && !g_file_test (final, G_FILE_TEST_EXISTS))
    {
      g_warning ("no received snapshot file for index %" G_GUINT64_FORMAT, meta->index);
      return FALSE;
    }
  minka_fsync_dir (minka_node_dir (worker->node), NULL);
  RaftSnapshotMeta read_meta = { 0 };
  gboolean prepared = worker->incoming_catalog != NULL
                      && worker->incoming_catalog_index == meta->index;
  if (prepared)
    {
      /* Parsed when the file arrived: only a pointer swap here. */
      catalog_take (worker, g_steal_pointer (&worker->incoming_catalog), final, meta->index);
    }
  else if (!restore_from_file (worker, final, &read_meta, &error))
    {
      g_warning ("cannot install the snapshot at index %" G_GUINT64_FORMAT ": %s",
                 meta->index, error->message);
      g_error_free (error);
      return FALSE;
    }
  raft_snapshot_meta_clear (&read_meta);
  if (worker->incoming_catalog != NULL && worker->incoming_catalog_index <= meta->index)
    g_clear_pointer (&worker->incoming_catalog, minka_catalog_free);   /* superseded */
  raft_snapshot_files_remove_older (minka_node_dir (worker->node), meta->index);
  minka_worker_event (worker, "snapshot", "installed the leader's snapshot at index %"
                      G_GUINT64_FORMAT "%s", meta->index,
                      prepared ? " (parsed when it arrived)" : "");
  g_autoptr (GPtrArray) files = minka_catalog_list_files (worker->catalog);
  for (guint i = 0; i < files->len; i++)
    minka_worker_files_ensure_blob (worker, files->pdata[i]);
  return TRUE;
}
