/* minka-worker-files.c — file bytes beside the log: client uploads to the
 * leader, pushing blobs to followers until a majority holds them durably,
 * proposing the FILE entry, downloads, and fetching blobs a worker lacks.
 * Every disk operation runs off the main loop (minka-blob-io). */
#include "config.h"
#include "minka-worker-private.h"
#include "minka-blob-io.h"
#include "minka-sha256.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#define MAX_FILE_SIZE (G_GUINT64_CONSTANT (1) << 40)     /* 1 TiB */
#define FETCH_RETRY_MS 500
/* Uploads in progress: each holds a file (or up to 64 KiB) until it ends.
 * These bound what clients can make a worker hold open; past them the
 * answer is "busy" and clients retry. */
#define MAX_UPLOADS_PER_CONN 256
#define MAX_UPLOADS_OPEN 4096

/* ---- uploads (leader) ------------------------------------------------------------ */

typedef struct {
  int refs;
  MinkaWorker *worker;
  MinkaConn *conn;
  guint64 handle;
  char *name;
  char *client;
  guint64 seq;
  guint64 size;
  guint64 received;
  MinkaBlobWriter *writer;         /* large files: streamed to a blob */
  GByteArray *inline_data;         /* small files: they travel in the log entry */
  GBytes *content;                 /* a small file's whole content, once known */
  char *sha256;
  JsonObject *end_request;         /* PUT_END, answered at the end */
  GArray *holders;                 /* RaftNodeId that hold the blob durably */
  guint pushes_pending;
  guint needed;                    /* majority of the membership */
  gboolean proposed;
  gboolean finished;               /* replied (or the connection is gone) */
} Upload;

/* Per client connection: its uploads by handle. */
typedef struct {
  GHashTable *uploads;             /* guint64* → Upload* */
  guint64 next_handle;
} ClientState;

static Upload *
upload_ref (Upload *u)
{
  u->refs++;
  return u;
}

static void
upload_unref (Upload *u)
{
  if (--u->refs > 0)
    return;
  u->worker->uploads_open--;
  g_clear_pointer (&u->writer, minka_blob_writer_free);
  g_clear_pointer (&u->inline_data, g_byte_array_unref);
  g_clear_pointer (&u->content, g_bytes_unref);
  g_clear_pointer (&u->end_request, json_object_unref);
  g_array_unref (u->holders);
  minka_conn_unref (u->conn);
  g_free (u->name);
  g_free (u->client);
  if (u->sha256 != NULL)
    minka_worker_gc_unpin (u->worker, u->sha256);   /* committed or given up */
  g_free (u->sha256);
  g_free (u);
}

static void
upload_forget (Upload *u)
{
  ClientState *state = minka_conn_get_data (u->conn);
  if (state)
    g_hash_table_remove (state->uploads, &u->handle);
}

static void
upload_fail (Upload *u, JsonObject *request, const char *code, const char *message)
{
  if (u->finished)
    return;
  u->finished = TRUE;
  if (!minka_conn_is_closed (u->conn))
    minka_conn_send_error (u->conn, request ? request : u->end_request, code, message);
  upload_forget (u);
}

static void
client_state_free (ClientState *state)
{
  /* The connection is gone: mark its uploads finished so late callbacks
   * neither reply nor propose. */
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, state->uploads);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((Upload *) value)->finished = TRUE;
  g_hash_table_destroy (state->uploads);
  g_free (state);
}

static ClientState *
client_state (MinkaConn *conn)
{
  ClientState *state = minka_conn_get_data (conn);
  if (!state)
    {
      state = g_new0 (ClientState, 1);
      state->uploads = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                              (GDestroyNotify) upload_unref);
      minka_conn_set_data (conn, state, (GDestroyNotify) client_state_free);
    }
  return state;
}

static Upload *
find_upload (MinkaConn *conn, JsonObject *header)
{
  ClientState *state = client_state (conn);
  gint64 handle = minka_header_get_int (header, "upload", -1, NULL);   /* else: unknown upload */
  return handle < 0 ? NULL : g_hash_table_lookup (state->uploads, &handle);
}

static gboolean put_end_inline (MinkaWorker *worker, Upload *u, JsonObject *req);

/* A PUT_BEGIN that carries "sha256" is a whole small upload in one frame:
 * its body is the content (absent for an empty file). Answers bad_request
 * and returns FALSE when the body does not fit that form. */
static gboolean
put_begin_body_ok (MinkaConn *conn, JsonObject *req, gint64 size, GBytes *body)
{
  JsonNode *sha = json_object_get_member (req, "sha256");
  gsize len = body ? g_bytes_get_size (body) : 0;
  g_autofree char *msg = NULL;
  if (!sha && len > 0)
    msg = g_strdup (_("A PUT_BEGIN with a body must carry the sha256 of the content"));
  else if (!sha)
    return TRUE;
  else if (!JSON_NODE_HOLDS_VALUE (sha) || json_node_get_value_type (sha) != G_TYPE_STRING)
    msg = g_strdup (_("Invalid SHA-256"));
  else if (size > MINKA_INLINE_MAX)
    msg = g_strdup_printf (_("A one-frame upload holds at most %u bytes; send larger files with PUT_DATA"),
                           (guint) MINKA_INLINE_MAX);
  else if ((guint64) len != (guint64) size)
    msg = g_strdup_printf (_("The PUT_BEGIN body has %llu bytes but the size says %llu"),
                           (unsigned long long) len, (unsigned long long) size);
  else
    return TRUE;
  minka_conn_send_error (conn, req, "bad_request", msg);
  return FALSE;
}

/* Registers a new upload of @conn (the writer, if any, is taken). */
static Upload *
put_begin_register (MinkaWorker *worker, MinkaConn *conn, const char *name, const char *client,
                    guint64 seq, guint64 size, MinkaBlobWriter *writer)
{
  ClientState *state = client_state (conn);
  Upload *u = g_new0 (Upload, 1);
  u->refs = 1;
  u->worker = worker;
  worker->uploads_open++;
  u->conn = minka_conn_ref (conn);
  u->handle = ++state->next_handle;
  u->name = g_strdup (name);
  u->client = g_strdup (client);
  u->seq = seq;
  u->size = size;
  u->writer = writer;
  if (!writer)
    u->inline_data = g_byte_array_new ();   /* grows with what arrives, not what is announced */
  u->holders = g_array_new (FALSE, FALSE, sizeof (RaftNodeId));
  guint64 *key = g_new (guint64, 1);
  *key = u->handle;
  g_hash_table_insert (state->uploads, key, u);
  return u;
}

/* The one-frame form: the body is the whole content; it ends like PUT_END
 * of a small upload, answered PUT_OK (or an error) to the PUT_BEGIN. */
static gboolean
put_begin_one_frame (MinkaWorker *worker, Upload *u, JsonObject *req, GBytes *body)
{
  gsize len = body ? g_bytes_get_size (body) : 0;
  /* The frame's body is the content: no copy. */
  u->content = body ? g_bytes_ref (body) : g_bytes_new (NULL, 0);
  u->received = len;
  worker->upload_bytes += len;
  u->end_request = json_object_ref (req);
  return put_end_inline (worker, u, req);
}

static gboolean
put_begin (MinkaWorker *worker, MinkaConn *conn, MinkaFrame *frame)
{
  JsonObject *req = frame->header;
  if (!minka_worker_is_leader (worker))
    {
      minka_worker_reply_not_leader (worker, conn, req);
      return TRUE;
    }
  const char *bad = NULL;
  const char *name = minka_header_get_string (req, "name", NULL, &bad);
  const char *client = minka_header_get_string (req, "client", "", &bad);
  gint64 size = minka_header_get_int (req, "size", -1, &bad);
  gint64 seq = minka_header_get_int (req, "seq", 0, &bad);
  GError *error = NULL;
  if (bad)
    {
      minka_conn_send_bad_member (conn, req, bad);
      return TRUE;
    }
  if (size < 0 || (guint64) size > MAX_FILE_SIZE || seq < 0)
    {
      minka_conn_send_error (conn, req, "bad_request", _("PUT_BEGIN needs a size and a sequence number"));
      return TRUE;
    }
  if (!put_begin_body_ok (conn, req, size, frame->body))
    return TRUE;
  if (!minka_catalog_validate_name (name, &error))
    {
      minka_conn_send_error (conn, req, "bad_name", error->message);
      g_error_free (error);
      return TRUE;
    }
  if (g_hash_table_size (client_state (conn)->uploads) >= MAX_UPLOADS_PER_CONN
      || worker->uploads_open >= MAX_UPLOADS_OPEN)
    {
      minka_conn_send_error (conn, req, "busy", _("Too many uploads in progress; try again"));
      return TRUE;
    }
  MinkaBlobWriter *writer = NULL;
  if (size > MINKA_INLINE_MAX
      && !(writer = minka_blob_writer_new (worker->blobs, NULL, size, &error)))
    {
      minka_conn_send_error (conn, req, "internal", error->message);
      g_error_free (error);
      return TRUE;
    }

  Upload *u = put_begin_register (worker, conn, name, client, (guint64) seq, (guint64) size,
                                  writer);
  if (json_object_has_member (req, "sha256"))
    return put_begin_one_frame (worker, u, req, frame->body);

  g_autoptr (JsonObject) reply = minka_frame_header_new_reply (req, "PUT_READY");
  json_object_set_int_member (reply, "upload", (gint64) u->handle);
  minka_conn_send (conn, reply, NULL, NULL, NULL);
  return TRUE;
}

static void
on_chunk_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Upload *u = user_data;
  GError *error = NULL;
  if (!minka_blob_io_write_finish (result, &error))
    {
      upload_fail (u, NULL, "internal", error->message);
      g_error_free (error);
    }
  minka_conn_resume (u->conn);
  upload_unref (u);
}

static gboolean
put_data (MinkaWorker *worker, MinkaConn *conn, MinkaFrame *frame)
{
  Upload *u = find_upload (conn, frame->header);
  if (!u || u->finished || (!u->writer && !u->inline_data))
    {
      minka_conn_send_error (conn, frame->header, "bad_request", _("Unknown upload"));
      return TRUE;
    }
  gsize len = frame->body ? g_bytes_get_size (frame->body) : 0;
  if (u->received + len > u->size)
    {
      upload_fail (u, frame->header, "too_large", _("More bytes than the announced size"));
      return TRUE;
    }
  if (len == 0)
    return TRUE;
  u->received += len;
  worker->upload_bytes += len;
  if (u->inline_data)
    {
      g_byte_array_append (u->inline_data, g_bytes_get_data (frame->body, NULL), (guint) len);
      return TRUE;
    }
  /* Pause reading until the chunk is written: backpressure to the client. */
  minka_blob_io_write_async (u->writer, frame->body, NULL, on_chunk_written, upload_ref (u));
  return FALSE;
}

static void
on_put_committed (gpointer user_data, const GError *error, gpointer result)
{
  Upload *u = user_data;
  MinkaCatalogResult *res = result;
  if (error)
    upload_fail (u, NULL, "unavailable", error->message);
  else if (!res->ok)
    upload_fail (u, NULL, res->error_code == MINKA_CATALOG_ERROR_BAD_NAME ? "bad_name" : "stale",
                 res->error_message);
  else if (!u->finished)
    {
      u->finished = TRUE;
      const MinkaFileRecord *record = minka_catalog_lookup (u->worker->catalog, res->file_id);
      g_autoptr (JsonObject) reply = minka_frame_header_new_reply (u->end_request, "PUT_OK");
      if (record)
        json_object_set_member (reply, "file", minka_file_record_to_json (record));
      else
        {
          /* Deleted in the meantime (or a retry of a deleted file). */
          JsonObject *file = json_object_new ();
          json_object_set_int_member (file, "id", (gint64) res->file_id);
          json_object_set_object_member (reply, "file", file);
        }
      /* The committed index: a client reads its own write anywhere by asking
       * a worker to have applied at least this much (LIST min_index). */
      json_object_set_int_member (reply, "index", (gint64) res->file_id);
      if (!minka_conn_is_closed (u->conn))
        minka_conn_send (u->conn, reply, NULL, NULL, NULL);
      u->worker->uploads++;
      minka_worker_log_request (u->worker, "upload", "stored %s (%" G_GUINT64_FORMAT " bytes) as file %"
                                G_GUINT64_FORMAT, u->name, u->size, res->file_id);
      upload_forget (u);
    }
  upload_unref (u);
}

static void
upload_propose (Upload *u)
{
  MinkaWorker *worker = u->worker;
  GError *error = NULL;
  u->proposed = TRUE;
  GBytes *content = u->content;
  g_autoptr (GBytes) command =
    minka_catalog_command_put_file (u->client, u->seq, u->name, u->size, u->sha256,
                                    g_get_real_time () / 1000,
                                    (const guint64 *) u->holders->data, u->holders->len,
                                    content);
  if (!minka_node_propose (worker->node, command, on_put_committed, upload_ref (u), &error))
    {
      upload_unref (u);
      upload_fail (u, NULL, "unavailable", error->message);
      g_error_free (error);
    }
}

typedef struct {
  Upload *upload;
  RaftNodeId peer;
} Push;

static void
on_blob_pushed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Push *push = user_data;
  Upload *u = push->upload;
  GError *error = NULL;
  u->pushes_pending--;
  if (minka_peer_push_blob_finish (NULL, result, &error))
    g_array_append_val (u->holders, push->peer);
  else
    {
      g_debug ("pushing %s: %s", u->sha256, error->message);
      g_error_free (error);
    }
  if (!u->proposed && !u->finished)
    {
      if (u->holders->len >= u->needed)
        upload_propose (u);
      else if (u->holders->len + u->pushes_pending < u->needed)
        upload_fail (u, NULL, "unavailable",
                     _("Not enough workers could store the file; try again"));
    }
  upload_unref (u);
  g_free (push);
}

/* The blob is durable here: make a majority hold it, then propose. */
static void
upload_replicate (Upload *u)
{
  MinkaWorker *worker = u->worker;
  const RaftConfig *members = raft_node_config (minka_node_raft (worker->node));
  u->needed = members->n_nodes / 2 + 1;
  g_array_append_val (u->holders, worker->id);
  for (guint i = 0; i < members->n_nodes; i++)
    {
      MinkaPeer *peer = g_hash_table_lookup (worker->peers, &members->ids[i]);
      if (!peer)
        continue;
      Push *push = g_new0 (Push, 1);
      push->upload = upload_ref (u);
      push->peer = members->ids[i];
      u->pushes_pending++;
      minka_peer_push_blob_async (peer, worker->blobs, u->sha256, u->size,
                                  on_blob_pushed, push);
    }
  if (u->holders->len >= u->needed)
    upload_propose (u);
  else if (u->pushes_pending + u->holders->len < u->needed)
    upload_fail (u, NULL, "unavailable", _("Not enough workers to store the file"));
}

static void
on_upload_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Upload *u = user_data;
  GError *error = NULL;
  char *name = minka_blob_io_finish_finish (result, &error);
  g_clear_pointer (&u->writer, minka_blob_writer_free);
  const char *expected = minka_header_get_string (u->end_request, "sha256", NULL, NULL);
  if (!name)
    {
      upload_fail (u, NULL, g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_NO_SPACE)
                   ? "internal" : "bad_request", error->message);
      g_error_free (error);
    }
  else if (expected && strcmp (expected, name) != 0)
    {
      upload_fail (u, NULL, "checksum",
                   _("The uploaded bytes do not match the SHA-256 the client sent"));
      g_free (name);
    }
  else if (!u->finished)
    {
      u->sha256 = name;
      /* Stored but not yet named by a committed entry: not an orphan. */
      minka_worker_gc_pin (u->worker, u->sha256);
      if (minka_worker_is_leader (u->worker))
        upload_replicate (u);
      else
        upload_fail (u, NULL, "unavailable", _("This worker lost the leadership; try again"));
    }
  else
    g_free (name);
  upload_unref (u);
}

/* A small file: its bytes go into the log entry, so every member that
 * applies it holds it; the leader stores its own copy first, so that it can
 * serve the file as soon as it answers. */
static void
upload_propose_inline (Upload *u)
{
  const RaftConfig *members = raft_node_config (minka_node_raft (u->worker->node));
  for (guint i = 0; i < members->n_nodes; i++)
    g_array_append_val (u->holders, members->ids[i]);
  upload_propose (u);
}

/* A small file's bytes are already durable in the log entry, so each worker
 * writes its blob without an fsync, on the disk thread, off every request's
 * path. Until the write lands, worker->writing holds the bytes, and
 * downloads are served from there. */
typedef struct {
  MinkaWorker *worker;
  GBytes *content;
  char *sha256;
  gboolean hash_checked;        /* this worker hashed these very bytes */
} LazyWrite;

static void
lazy_write_free (LazyWrite *w)
{
  g_bytes_unref (w->content);
  g_free (w->sha256);
  g_free (w);
}

static gpointer
run_lazy_write (gpointer data, GError **error)
{
  LazyWrite *w = data;
  if (w->worker->options.slow_disk_ms)
    g_usleep (w->worker->options.slow_disk_ms * 1000);   /* tests: a slow disk */
  /* The leader hashed the upload on arrival: no second pass over it. A
   * follower checks the bytes the log brought against the entry's hash. */
  if (w->hash_checked)
    return minka_blob_store_put_checked_lazy (w->worker->blobs, w->sha256, w->content, error);
  gsize len = 0;
  const void *bytes = g_bytes_get_data (w->content, &len);
  g_autoptr (MinkaBlobWriter) writer = minka_blob_writer_new (w->worker->blobs, w->sha256,
                                                              (gint64) len, error);
  if (!writer)
    return NULL;
  minka_blob_writer_set_lazy (writer, TRUE);
  if (!minka_blob_writer_write (writer, bytes, len, error))
    return NULL;
  return minka_blob_writer_finish (writer, error);
}

static void
on_lazy_written (gpointer data, gpointer result, const GError *error)
{
  LazyWrite *w = data;
  MinkaWorker *worker = w->worker;
  g_hash_table_remove (worker->writing, w->sha256);
  if (!result)
    g_warning ("storing small file %s failed: %s (it will be fetched from a peer)",
               w->sha256, error ? error->message : "?");
  /* Deleted while its write was queued: remove it now that it landed. */
  if (g_hash_table_remove (worker->delete_after_write, w->sha256)
      && !minka_catalog_blob_in_use (worker->catalog, w->sha256))
    minka_blob_store_delete (worker->blobs, w->sha256, NULL);
  g_free (result);
  lazy_write_free (w);
}

void
minka_worker_files_delete_blob (MinkaWorker *worker, const char *sha256)
{
  if (g_hash_table_contains (worker->writing, sha256))
    g_hash_table_add (worker->delete_after_write, g_strdup (sha256));
  else
    minka_blob_store_delete (worker->blobs, sha256, NULL);
}

void
minka_worker_files_store_inline (MinkaWorker *worker, const char *sha256, GBytes *content,
                                 gboolean hash_checked)
{
  /* Stored again before an earlier delete of the same bytes took effect. */
  g_hash_table_remove (worker->delete_after_write, sha256);
  if (minka_blob_store_has (worker->blobs, sha256)
      || g_hash_table_contains (worker->writing, sha256))
    return;
  LazyWrite *w = g_new0 (LazyWrite, 1);
  w->worker = worker;
  w->content = g_bytes_ref (content);
  w->sha256 = g_strdup (sha256);
  w->hash_checked = hash_checked;
  g_hash_table_insert (worker->writing, g_strdup (sha256), g_bytes_ref (content));
  /* Listed now, not when written: a snapshot queued after this write must
   * sync it (if the write fails, that sync fails and the snapshot is
   * retried). */
  g_ptr_array_add (worker->unsynced, g_strdup (sha256));
  minka_disk_queue_push (worker->disk, run_lazy_write, on_lazy_written,
                         (GDestroyNotify) lazy_write_free, w);
}

/* The leader checks the hash (64 KiB at most: microseconds), stores its own
 * copy lazily like every member will, and proposes at once. */
static gboolean
put_end_inline (MinkaWorker *worker, Upload *u, JsonObject *req)
{
  const char *expected = minka_header_get_string (req, "sha256", NULL, NULL);   /* put_end () */
  if (expected && !minka_blob_name_is_valid (expected))
    {
      upload_fail (u, req, "bad_request", _("Invalid SHA-256"));
      return TRUE;
    }
  if (u->content == NULL)
    u->content = g_bytes_new (u->inline_data->data, u->inline_data->len);
  gsize len = 0;
  const void *data = g_bytes_get_data (u->content, &len);
  g_autofree char *actual = minka_sha256_hex (data, len);
  if (expected && strcmp (expected, actual) != 0)
    {
      upload_fail (u, req, "checksum",
                   _("The uploaded bytes do not match the SHA-256 the client sent"));
      return TRUE;
    }
  minka_worker_files_store_inline (worker, actual, u->content, TRUE);
  u->sha256 = g_steal_pointer (&actual);
  minka_worker_gc_pin (worker, u->sha256);
  upload_propose_inline (u);
  return TRUE;
}

static gboolean
put_end (MinkaWorker *worker, MinkaConn *conn, JsonObject *req)
{
  Upload *u = find_upload (conn, req);
  if (!u || u->finished || (!u->writer && !u->inline_data) || u->end_request)
    {
      minka_conn_send_error (conn, req, "bad_request", _("Unknown upload"));
      return TRUE;
    }
  u->end_request = json_object_ref (req);
  const char *bad = NULL;
  minka_header_get_string (req, "sha256", NULL, &bad);
  if (bad)
    {
      upload_fail (u, req, "bad_request", _("Invalid SHA-256"));
      return TRUE;
    }
  if (u->received != u->size)
    {
      g_autofree char *msg = g_strdup_printf (_("Received %llu bytes of %llu"),
                                              (unsigned long long) u->received,
                                              (unsigned long long) u->size);
      upload_fail (u, req, "bad_request", msg);
      return TRUE;
    }
  if (u->inline_data)
    return put_end_inline (worker, u, req);
  minka_blob_io_finish_async (u->writer, NULL, on_upload_stored, upload_ref (u));
  return TRUE;
}

/* ---- downloads (any worker holding the blob) ---------------------------------------- */

typedef struct {
  MinkaWorker *worker;
  MinkaConn *conn;
  JsonNode *id;
  char *sha256;
  guint64 size;
  guint64 offset;
  GBytes *memory;                  /* a small file not yet written to disk */
} Download;

static void
download_free (Download *d)
{
  minka_conn_unref (d->conn);
  json_node_unref (d->id);
  g_free (d->sha256);
  g_clear_pointer (&d->memory, g_bytes_unref);
  g_free (d);
}

static JsonObject *
download_header (Download *d, const char *type)
{
  JsonObject *h = minka_frame_header_new (type);
  json_object_set_member (h, "id", json_node_copy (d->id));
  return h;
}

static void download_next (Download *d);

static void
on_download_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Download *d = user_data;
  if (!minka_frame_connection_send_finish (MINKA_FRAME_CONNECTION (source), result, NULL))
    download_free (d);
  else
    download_next (d);
}

static void
on_download_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Download *d = user_data;
  GError *error = NULL;
  g_autoptr (GBytes) chunk = minka_blob_io_read_finish (result, &error);
  if (!chunk || g_bytes_get_size (chunk) == 0 || minka_conn_is_closed (d->conn))
    {
      /* The reply already started: all we can do is close the stream. */
      g_warning ("download of %s failed: %s", d->sha256, error ? error->message : "short file");
      g_clear_error (&error);
      minka_conn_close (d->conn);
      download_free (d);
      return;
    }
  d->offset += g_bytes_get_size (chunk);
  g_autoptr (JsonObject) h = download_header (d, "GET_DATA");
  minka_conn_send (d->conn, h, chunk, on_download_sent, d);
}

static void
download_next (Download *d)
{
  if (minka_conn_is_closed (d->conn))
    {
      download_free (d);
      return;
    }
  if (d->offset >= d->size)
    {
      g_autoptr (JsonObject) h = download_header (d, "GET_END");
      minka_conn_send (d->conn, h, NULL, NULL, NULL);
      download_free (d);
      return;
    }
  gsize len = (gsize) MIN ((guint64) MINKA_CHUNK_SIZE, d->size - d->offset);
  if (d->memory)
    {
      g_autoptr (GBytes) chunk = g_bytes_new_from_bytes (d->memory, (gsize) d->offset, len);
      d->offset += len;
      g_autoptr (JsonObject) h = download_header (d, "GET_DATA");
      minka_conn_send (d->conn, h, chunk, on_download_sent, d);
      return;
    }
  minka_blob_io_read_async (d->worker->blobs, d->sha256, d->offset, len,
                            NULL, on_download_read, d);
}

static const MinkaFileRecord *
find_record (MinkaWorker *worker, JsonObject *req)
{
  gint64 id = minka_header_get_int (req, "file", -1, NULL);
  if (id >= 0)
    return minka_catalog_lookup (worker->catalog, (guint64) id);
  const char *name = minka_header_get_string (req, "name", NULL, NULL);
  if (!name)
    return NULL;
  g_autoptr (GPtrArray) same = minka_catalog_find_by_name (worker->catalog, name);
  return same->len > 0 ? same->pdata[0] : NULL;
}

static gboolean
get_file (MinkaWorker *worker, MinkaConn *conn, JsonObject *req)
{
  const MinkaFileRecord *record = find_record (worker, req);
  if (!record)
    {
      minka_conn_send_error (conn, req, "not_found", _("No such file"));
      return TRUE;
    }
  GBytes *pending = g_hash_table_lookup (worker->writing, record->sha256);
  if (!pending && !minka_blob_store_has (worker->blobs, record->sha256))
    {
      minka_worker_files_ensure_blob (worker, record);
      minka_conn_send_error (conn, req, "unavailable",
                             _("This worker is still fetching the file; try again or ask another worker"));
      return TRUE;
    }
  minka_worker_log_request (worker, "download", "file %" G_GUINT64_FORMAT " (%s) to %s",
                            record->id, record->name, minka_conn_get_remote (conn));
  worker->download_bytes += record->size;
  g_autoptr (JsonObject) reply = minka_frame_header_new_reply (req, "GET_OK");
  json_object_set_member (reply, "file", minka_file_record_to_json (record));
  minka_conn_send (conn, reply, NULL, NULL, NULL);

  Download *d = g_new0 (Download, 1);
  d->worker = worker;
  d->conn = minka_conn_ref (conn);
  JsonNode *id = json_object_get_member (req, "id");
  d->id = id ? json_node_copy (id) : json_node_init_int (json_node_alloc (), -1);
  d->sha256 = g_strdup (record->sha256);
  d->size = record->size;
  d->memory = pending ? g_bytes_ref (pending) : NULL;
  download_next (d);
  return TRUE;
}

gboolean
minka_worker_files_client_frame (MinkaWorker *worker, MinkaConn *conn, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);
  if (strcmp (type, "PUT_BEGIN") == 0)
    return put_begin (worker, conn, frame);
  if (strcmp (type, "PUT_DATA") == 0)
    return put_data (worker, conn, frame);
  if (strcmp (type, "PUT_END") == 0)
    return put_end (worker, conn, frame->header);
  if (strcmp (type, "GET") == 0)
    return get_file (worker, conn, frame->header);
  minka_conn_send_error (conn, frame->header, "bad_request", _("Unknown request"));
  return TRUE;
}

/* ---- blobs pushed by the leader (bulk link) ----------------------------------------- */

/* One blob being received on a bulk link. Refcounted: a write running on
 * a thread keeps it alive even if the link closes meanwhile. */
typedef struct {
  int refs;
  MinkaBlobWriter *writer;
  char *sha256;
  MinkaConn *conn;
} Receive;

static Receive *
receive_ref (Receive *r)
{
  g_atomic_int_inc (&r->refs);
  return r;
}

static void
receive_unref (Receive *r)
{
  if (!g_atomic_int_dec_and_test (&r->refs))
    return;
  g_clear_pointer (&r->writer, minka_blob_writer_free);
  minka_conn_unref (r->conn);
  g_free (r->sha256);
  g_free (r);
}

static void
bulk_reply (MinkaConn *conn, const char *type, const char *sha256)
{
  g_autoptr (JsonObject) h = minka_frame_header_new (type);
  json_object_set_string_member (h, "sha256", sha256);
  minka_conn_send (conn, h, NULL, NULL, NULL);
}

static void
on_receive_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Receive *r = user_data;
  GError *error = NULL;
  if (!minka_blob_io_write_finish (result, &error))
    {
      minka_conn_send_error (r->conn, NULL, "internal", error->message);
      g_error_free (error);
      minka_conn_close (r->conn);
    }
  minka_conn_resume (r->conn);
  receive_unref (r);
}

static void
on_receive_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Receive *r = user_data;
  GError *error = NULL;
  g_autofree char *name = minka_blob_io_finish_finish (result, &error);
  g_clear_pointer (&r->writer, minka_blob_writer_free);
  if (name)
    bulk_reply (r->conn, "BLOB_STORED", name);
  else
    {
      minka_conn_send_error (r->conn, NULL, "checksum", error->message);
      g_error_free (error);
    }
  minka_conn_resume (r->conn);
  receive_unref (r);
}

static void
on_fetch_reply_sent (GObject *source, GAsyncResult *result, gpointer user_data);

typedef struct {
  MinkaWorker *worker;
  MinkaConn *conn;
  char *sha256;
  guint64 size;
  guint64 offset;
} Serve;

static void serve_next (Serve *s);

static void
serve_free (Serve *s)
{
  minka_conn_resume (s->conn);
  minka_conn_unref (s->conn);
  g_free (s->sha256);
  g_free (s);
}

static void
on_serve_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Serve *s = user_data;
  g_autoptr (GBytes) chunk = minka_blob_io_read_finish (result, NULL);
  if (!chunk || g_bytes_get_size (chunk) == 0)
    {
      minka_conn_close (s->conn);
      serve_free (s);
      return;
    }
  s->offset += g_bytes_get_size (chunk);
  g_autoptr (JsonObject) h = minka_frame_header_new ("BLOB_DATA");
  minka_conn_send (s->conn, h, chunk, on_fetch_reply_sent, s);
}

static void
on_fetch_reply_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Serve *s = user_data;
  if (!minka_frame_connection_send_finish (MINKA_FRAME_CONNECTION (source), result, NULL))
    serve_free (s);
  else
    serve_next (s);
}

static void
serve_next (Serve *s)
{
  if (s->offset >= s->size)
    {
      g_autoptr (JsonObject) h = minka_frame_header_new ("BLOB_END");
      minka_conn_send (s->conn, h, NULL, NULL, NULL);
      serve_free (s);
      return;
    }
  minka_blob_io_read_async (s->worker->blobs, s->sha256, s->offset,
                            (gsize) MIN ((guint64) MINKA_CHUNK_SIZE, s->size - s->offset),
                            NULL, on_serve_read, s);
}

static gboolean
blob_fetch (MinkaWorker *worker, MinkaConn *conn, JsonObject *req)
{
  const char *sha = minka_header_get_string (req, "sha256", "", NULL);
  gint64 size = minka_blob_name_is_valid (sha) ? minka_blob_store_size (worker->blobs, sha, NULL) : -1;
  if (size < 0)
    {
      minka_conn_send_error (conn, req, "not_found", "no such blob here");
      return TRUE;
    }
  g_autoptr (JsonObject) h = minka_frame_header_new ("BLOB_OK");
  json_object_set_int_member (h, "size", size);
  minka_conn_send (conn, h, NULL, NULL, NULL);
  Serve *s = g_new0 (Serve, 1);
  s->worker = worker;
  s->conn = minka_conn_ref (conn);
  s->sha256 = g_strdup (sha);
  s->size = (guint64) size;
  serve_next (s);
  return FALSE;                   /* one request at a time on a bulk link */
}

gboolean
minka_worker_files_bulk_frame (MinkaWorker *worker, MinkaConn *conn, MinkaFrame *frame)
{
  const char *type = minka_frame_get_frame_type (frame);
  JsonObject *h = frame->header;
  Receive *r = minka_conn_get_data (conn);
  GError *error = NULL;

  if (strcmp (type, "BLOB_FETCH") == 0)
    return blob_fetch (worker, conn, h);

  if (strcmp (type, "BLOB_PUSH") == 0)
    {
      const char *sha = minka_header_get_string (h, "sha256", "", NULL);
      gint64 size = minka_header_get_int (h, "size", -1, NULL);
      if (minka_blob_store_has (worker->blobs, sha))
        {
          /* The leader counts us as a holder from here: a blob the
           * collector had marked must wait for two more sweeps. */
          minka_worker_gc_touch (worker, sha);
          bulk_reply (conn, "BLOB_STORED", sha);
          return TRUE;
        }
      MinkaBlobWriter *writer = minka_blob_name_is_valid (sha) && size >= 0
        ? minka_blob_writer_new (worker->blobs, sha, size, &error) : NULL;
      if (!writer)
        {
          minka_conn_send_error (conn, h, "bad_request", error ? error->message : "bad BLOB_PUSH");
          g_clear_error (&error);
          return TRUE;
        }
      r = g_new0 (Receive, 1);
      r->refs = 1;
      r->writer = writer;
      r->sha256 = g_strdup (sha);
      r->conn = minka_conn_ref (conn);
      minka_conn_set_data (conn, r, (GDestroyNotify) receive_unref);
      bulk_reply (conn, "BLOB_READY", sha);
      return TRUE;
    }
  if (strcmp (type, "BLOB_DATA") == 0 && r && r->writer)
    {
      if (!frame->body)
        return TRUE;
      minka_blob_io_write_async (r->writer, frame->body, NULL, on_receive_written,
                                 receive_ref (r));
      return FALSE;
    }
  if (strcmp (type, "BLOB_END") == 0 && r && r->writer)
    {
      minka_blob_io_finish_async (r->writer, NULL, on_receive_stored, receive_ref (r));
      return FALSE;
    }
  minka_conn_send_error (conn, h, "bad_request", "unexpected frame on a bulk link");
  minka_conn_close (conn);
  return FALSE;
}

/* ---- fetching blobs this worker lacks -------------------------------------------------- */

typedef struct {
  MinkaWorker *worker;
  guint64 file_id;
  char *sha256;
  guint next_holder;
  guint attempts;
} Fetch;

static void fetch_try (Fetch *f);

static void
fetch_done (Fetch *f)
{
  g_hash_table_remove (f->worker->fetching, f->sha256);
  g_free (f->sha256);
  g_free (f);
}

static gboolean
on_fetch_retry (gpointer user_data)
{
  fetch_try (user_data);
  return G_SOURCE_REMOVE;
}

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fetch *f = user_data;
  GError *error = NULL;
  if (minka_peer_fetch_blob_finish (NULL, result, &error))
    {
      g_debug ("fetched blob %s", f->sha256);
      fetch_done (f);
      return;
    }
  g_debug ("fetching %s failed: %s", f->sha256, error->message);
  g_error_free (error);
  fetch_try (f);
}

static void
fetch_try (Fetch *f)
{
  MinkaWorker *worker = f->worker;
  const MinkaFileRecord *record = minka_catalog_lookup (worker->catalog, f->file_id);
  if (worker->shutting_down || !record || minka_blob_store_has (worker->blobs, f->sha256))
    {
      fetch_done (f);
      return;
    }
  /* Try the recorded holders, then any peer (holders may have changed). */
  while (f->next_holder < record->holders->len + g_hash_table_size (worker->peers))
    {
      guint i = f->next_holder++;
      MinkaPeer *peer = NULL;
      if (i < record->holders->len)
        peer = g_hash_table_lookup (worker->peers, &g_array_index (record->holders, guint64, i));
      else
        {
          GList *peers = g_hash_table_get_values (worker->peers);
          peer = g_list_nth_data (peers, i - record->holders->len);
          g_list_free (peers);
        }
      if (peer)
        {
          minka_peer_fetch_blob_async (peer, worker->blobs, f->sha256, on_fetched, f);
          return;
        }
    }
  f->next_holder = 0;
  f->attempts++;
  g_timeout_add (MIN (FETCH_RETRY_MS * f->attempts, 10000), on_fetch_retry, f);
}

void
minka_worker_files_ensure_blob (MinkaWorker *worker, const MinkaFileRecord *record)
{
  if (minka_blob_store_has (worker->blobs, record->sha256)
      || g_hash_table_contains (worker->writing, record->sha256)
      || g_hash_table_contains (worker->fetching, record->sha256))
    return;
  Fetch *f = g_new0 (Fetch, 1);
  f->worker = worker;
  f->file_id = record->id;
  f->sha256 = g_strdup (record->sha256);
  g_hash_table_add (worker->fetching, g_strdup (f->sha256));
  fetch_try (f);
}
