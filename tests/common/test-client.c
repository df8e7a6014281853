/* test-client.c — MinkaClient against in-process fake workers (a
 * GSocketService on 127.0.0.1 speaking docs/requests.md): status, paged
 * lists, streamed uploads and downloads with progress and SHA-256 checks,
 * NOT_LEADER redirects, a connection dropped mid-upload (retried with the
 * same client/seq), a worker that never answers, and an unreachable one.
 * Files of at most 64 KiB go as one PUT_BEGIN frame with their content;
 * the fake also plays a worker that predates that form. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>

#include "minka-auth.h"
#include "minka-client.h"
#include "minka-frame.h"

/* ---- the fake worker ----------------------------------------------------- */

typedef enum {
  FAKE_NORMAL,
  FAKE_REDIRECT,      /* every write: NOT_LEADER pointing at redirect_to */
  FAKE_DROP_UPLOAD,   /* closes the connection at the first PUT_DATA, once */
  FAKE_SILENT,        /* authenticates, then never answers */
} FakeMode;

typedef struct {
  guint64 id;
  char *name;
  char *sha256;
  char *client;
  GBytes *data;
} FakeFile;

typedef struct {
  GSocketService *service;
  char *address;
  FakeMode mode;
  char *redirect_to;
  GBytes *key;
  GPtrArray *files;            /* FakeFile* by ID */
  GHashTable *sessions;        /* "client/seq" → file ID (committed writes) */
  GHashTable *begun;           /* "client/seq" seen in PUT_BEGIN */
  guint64 next_id;
  guint page_size;
  guint duplicate_seqs, drops, list_requests, connections;
  gboolean corrupt_get;        /* GET sends a flipped byte */
  guint unavailable_left;      /* answer this many writes with ERROR unavailable */
  guint drop_get_left;         /* close this many GETs after their first chunk */
  GArray *seqs;                /* seq of each PUT_BEGIN, in arrival order */
  gboolean legacy_put;         /* ignores a PUT_BEGIN's sha256 and body (older worker) */
  guint drop_commit_left;      /* one-frame puts: commit, then close without a reply */
  guint one_frame_puts;        /* PUT_BEGIN frames carrying sha256 */
  guint put_data_frames;
} Fake;

typedef struct {
  Fake *fake;
  MinkaFrameConnection *conn;
  GByteArray *upload;          /* bytes of the upload in progress */
  char *name, *client;
  gint64 seq, size;
} FakeConn;

static void
fake_file_free (FakeFile *file)
{
  g_free (file->name);
  g_free (file->sha256);
  g_free (file->client);
  g_bytes_unref (file->data);
  g_free (file);
}

static void
fake_conn_free (FakeConn *fc)
{
  g_clear_object (&fc->conn);
  if (fc->upload != NULL)
    g_byte_array_unref (fc->upload);
  g_free (fc->name);
  g_free (fc->client);
  g_free (fc);
}

static void
fake_send (FakeConn *fc, JsonObject *header, GBytes *body)
{
  minka_frame_connection_send_async (fc->conn, header, body, NULL, NULL, NULL);
  json_object_unref (header);
}

static JsonObject *
fake_file_json (const FakeFile *file)
{
  JsonObject *object = json_object_new ();
  json_object_set_int_member (object, "id", (gint64) file->id);
  json_object_set_string_member (object, "name", file->name);
  json_object_set_int_member (object, "size", (gint64) g_bytes_get_size (file->data));
  json_object_set_string_member (object, "sha256", file->sha256);
  json_object_set_int_member (object, "created_ms", 1000);
  json_object_set_string_member (object, "client", file->client);
  json_object_set_array_member (object, "holders", json_array_new ());
  return object;
}

static FakeFile *
fake_find (Fake *fake, JsonObject *request)
{
  gint64 id = json_object_get_int_member_with_default (request, "file", 0);
  const char *name = json_object_get_string_member_with_default (request, "name", NULL);
  for (guint i = fake->files->len; i-- > 0;)
    {
      FakeFile *file = fake->files->pdata[i];
      if ((id != 0 && file->id == (guint64) id)
          || (id == 0 && g_strcmp0 (file->name, name) == 0))
        return file;
    }
  return NULL;
}

static gboolean
fake_is_write (const char *type)
{
  return g_str_equal (type, "PUT_BEGIN") || g_str_equal (type, "DELETE")
         || g_str_has_prefix (type, "CLUSTER_");
}

static void
fake_status (FakeConn *fc, JsonObject *request)
{
  JsonObject *reply = minka_frame_header_new_reply (request, "STATUS_OK");
  JsonObject *worker = json_object_new ();
  json_object_set_string_member (worker, "name", "fake");
  json_object_set_string_member (worker, "role",
                                 fc->fake->mode == FAKE_REDIRECT ? "follower" : "leader");
  json_object_set_int_member (worker, "term", 3);
  json_object_set_int_member (worker, "commit_index", (gint64) fc->fake->next_id);
  json_object_set_string_member (worker, "address", fc->fake->address);
  json_object_set_object_member (reply, "worker", worker);
  json_object_set_array_member (reply, "peers", json_array_new ());
  fake_send (fc, reply, NULL);
}

static void
fake_list (FakeConn *fc, JsonObject *request)
{
  Fake *fake = fc->fake;
  gint64 after = json_object_get_int_member_with_default (request, "after", 0);
  guint limit = MIN ((guint) json_object_get_int_member_with_default (request, "limit", 10000),
                     fake->page_size);
  JsonArray *array = json_array_new ();
  guint64 next_after = 0;
  fake->list_requests++;
  for (guint i = 0; i < fake->files->len; i++)
    {
      FakeFile *file = fake->files->pdata[i];
      if (file->id <= (guint64) after)
        continue;
      if (json_array_get_length (array) == limit)
        {
          next_after = ((FakeFile *) fake->files->pdata[i - 1])->id;
          break;
        }
      json_array_add_object_element (array, fake_file_json (file));
    }
  JsonNode *root = json_node_init_array (json_node_alloc (), array);
  gsize len = 0;
  char *text = json_to_string (root, FALSE);
  len = strlen (text);
  json_node_unref (root);
  json_array_unref (array);
  JsonObject *reply = minka_frame_header_new_reply (request, "LIST_OK");
  json_object_set_int_member (reply, "applied_index", (gint64) fake->next_id);
  json_object_set_string_member (reply, "digest", "d1g3st");
  json_object_set_int_member (reply, "next_after", (gint64) next_after);
  GBytes *body = g_bytes_new_take (text, len);
  fake_send (fc, reply, body);
  g_bytes_unref (body);
}

static gboolean fake_put_end (FakeConn *fc, JsonObject *request);

/* FALSE when the connection was dropped. */
static gboolean
fake_put_begin (FakeConn *fc, MinkaFrame *frame)
{
  JsonObject *request = frame->header;
  Fake *fake = fc->fake;
  g_autofree char *key = g_strdup_printf (
    "%s/%" G_GINT64_FORMAT, json_object_get_string_member_with_default (request, "client", ""),
    json_object_get_int_member_with_default (request, "seq", 0));
  if (g_hash_table_contains (fake->begun, key))
    fake->duplicate_seqs++;
  g_hash_table_add (fake->begun, g_strdup (key));
  g_array_append_val (fake->seqs, ((gint64) { json_object_get_int_member_with_default (request, "seq", 0) }));

  g_free (fc->name);
  g_free (fc->client);
  fc->name = g_strdup (json_object_get_string_member_with_default (request, "name", ""));
  fc->client = g_strdup (json_object_get_string_member_with_default (request, "client", ""));
  fc->seq = json_object_get_int_member_with_default (request, "seq", 0);
  fc->size = json_object_get_int_member_with_default (request, "size", -1);
  if (fc->upload != NULL)
    g_byte_array_unref (fc->upload);
  fc->upload = g_byte_array_new ();
  if (!fake->legacy_put && json_object_has_member (request, "sha256"))
    {
      /* The one-frame form: the body is the whole content. */
      fake->one_frame_puts++;
      if (frame->body != NULL)
        g_byte_array_append (fc->upload, g_bytes_get_data (frame->body, NULL),
                             (guint) g_bytes_get_size (frame->body));
      return fake_put_end (fc, request);
    }
  JsonObject *reply = minka_frame_header_new_reply (request, "PUT_READY");
  json_object_set_int_member (reply, "upload", 77);
  fake_send (fc, reply, NULL);
  return TRUE;
}

/* Commits the upload and answers PUT_OK; FALSE when the connection was
 * dropped instead of answering. */
static gboolean
fake_put_end (FakeConn *fc, JsonObject *request)
{
  Fake *fake = fc->fake;
  g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, fc->upload->data,
                                                      fc->upload->len);
  g_autofree char *key = g_strdup_printf ("%s/%" G_GINT64_FORMAT, fc->client, fc->seq);
  if (g_strcmp0 (sha, json_object_get_string_member_with_default (request, "sha256", ""))
      != 0 || (gint64) fc->upload->len != fc->size)
    {
      fake_send (fc, minka_frame_header_new_error (request, "checksum", "bad upload"), NULL);
      return TRUE;
    }
  gpointer existing = g_hash_table_lookup (fake->sessions, key);
  FakeFile *file = NULL;
  if (existing != NULL)
    {
      g_autoptr (JsonObject) probe = json_object_new ();
      json_object_set_int_member (probe, "file", GPOINTER_TO_INT (existing));
      file = fake_find (fake, probe);
    }
  else
    {
      file = g_new0 (FakeFile, 1);
      file->id = ++fake->next_id;
      file->name = g_strdup (fc->name);
      file->sha256 = g_strdup (sha);
      file->client = g_strdup (fc->client);
      file->data = g_bytes_new (fc->upload->data, fc->upload->len);
      g_ptr_array_add (fake->files, file);
      g_hash_table_insert (fake->sessions, g_strdup (key), GINT_TO_POINTER ((int) file->id));
    }
  if (json_object_has_member (request, "sha256") && json_object_has_member (request, "name")
      && fake->drop_commit_left > 0)
    {
      fake->drop_commit_left--;
      fake->drops++;
      minka_frame_connection_close (fc->conn);
      return FALSE;
    }
  JsonObject *reply = minka_frame_header_new_reply (request, "PUT_OK");
  json_object_set_object_member (reply, "file", fake_file_json (file));
  fake_send (fc, reply, NULL);
  return TRUE;
}

static void
fake_get (FakeConn *fc, JsonObject *request)
{
  FakeFile *file = fake_find (fc->fake, request);
  if (file == NULL)
    {
      fake_send (fc, minka_frame_header_new_error (request, "not_found", "no such file"), NULL);
      return;
    }
  JsonObject *reply = minka_frame_header_new_reply (request, "GET_OK");
  json_object_set_object_member (reply, "file", fake_file_json (file));
  fake_send (fc, reply, NULL);
  gsize size = g_bytes_get_size (file->data);
  for (gsize at = 0; at < size; at += 100000)
    {
      gsize n = MIN (100000, size - at);
      GBytes *chunk = g_bytes_new_from_bytes (file->data, at, n);
      if (fc->fake->corrupt_get && at == 0)
        {
          guint8 *copy = g_bytes_unref_to_data (chunk, &n);
          copy[0] ^= 1;
          chunk = g_bytes_new_take (copy, n);
        }
      fake_send (fc, minka_frame_header_new_reply (request, "GET_DATA"), chunk);
      g_bytes_unref (chunk);
      if (fc->fake->drop_get_left > 0)
        {
          fc->fake->drop_get_left--;
          fc->fake->drops++;
          minka_frame_connection_close (fc->conn);
          return;
        }
    }
  fake_send (fc, minka_frame_header_new_reply (request, "GET_END"), NULL);
}

static void
fake_delete (FakeConn *fc, JsonObject *request)
{
  FakeFile *file = fake_find (fc->fake, request);
  if (file == NULL)
    {
      fake_send (fc, minka_frame_header_new_error (request, "not_found", "no such file"), NULL);
      return;
    }
  JsonObject *reply = minka_frame_header_new_reply (request, "DELETE_OK");
  json_object_set_int_member (reply, "file", (gint64) file->id);
  g_ptr_array_remove (fc->fake->files, file);
  fake_send (fc, reply, NULL);
}

/* Answers one frame; FALSE when the connection was dropped. */
static gboolean
fake_handle (FakeConn *fc, MinkaFrame *frame)
{
  Fake *fake = fc->fake;
  const char *type = minka_frame_get_frame_type (frame);
  JsonObject *request = frame->header;

  if (fake->mode == FAKE_SILENT)
    return TRUE;
  if (fake->unavailable_left > 0 && fake_is_write (type))
    {
      fake->unavailable_left--;
      if (g_str_equal (type, "PUT_BEGIN"))
        g_array_append_val (fake->seqs, ((gint64) { json_object_get_int_member_with_default (request, "seq", 0) }));
      fake_send (fc, minka_frame_header_new_error (request, "unavailable", "electing"), NULL);
    }
  else if (fake->mode == FAKE_REDIRECT && fake_is_write (type))
    {
      JsonObject *reply = minka_frame_header_new_reply (request, "NOT_LEADER");
      json_object_set_string_member (reply, "leader", "b");
      json_object_set_string_member (reply, "address", fake->redirect_to);
      fake_send (fc, reply, NULL);
    }
  else if (g_str_equal (type, "STATUS"))
    fake_status (fc, request);
  else if (g_str_equal (type, "LIST"))
    fake_list (fc, request);
  else if (g_str_equal (type, "PUT_BEGIN"))
    return fake_put_begin (fc, frame);
  else if (g_str_equal (type, "PUT_DATA") && fc->upload != NULL)
    {
      fake->put_data_frames++;
      if (fake->mode == FAKE_DROP_UPLOAD && fake->drops == 0)
        {
          fake->drops++;
          minka_frame_connection_close (fc->conn);
          return FALSE;
        }
      if (frame->body != NULL)
        g_byte_array_append (fc->upload, g_bytes_get_data (frame->body, NULL),
                             (guint) g_bytes_get_size (frame->body));
    }
  else if (g_str_equal (type, "PUT_END") && fc->upload != NULL)
    return fake_put_end (fc, request);
  else if (g_str_equal (type, "GET"))
    fake_get (fc, request);
  else if (g_str_equal (type, "DELETE"))
    fake_delete (fc, request);
  else if (g_str_equal (type, "CLUSTER_ADD") || g_str_equal (type, "CLUSTER_REMOVE"))
    {
      JsonObject *reply = minka_frame_header_new_reply (request, "CLUSTER_OK");
      JsonObject *config = json_object_new ();
      json_object_set_string_member (config, "changed",
                                     json_object_get_string_member_with_default (request, "name", ""));
      json_object_set_object_member (reply, "config", config);
      fake_send (fc, reply, NULL);
    }
  else
    fake_send (fc, minka_frame_header_new_error (request, "bad_request", "unknown"), NULL);
  return TRUE;
}

static void
on_fake_frame (GObject *source, GAsyncResult *result, gpointer data)
{
  FakeConn *fc = data;
  g_autoptr (MinkaFrame) frame = minka_frame_connection_read_finish (fc->conn, result, NULL);
  if (frame == NULL || !fake_handle (fc, frame))
    {
      fake_conn_free (fc);
      return;
    }
  minka_frame_connection_read_async (fc->conn, NULL, on_fake_frame, fc);
}

static void
on_fake_hello (GObject *source, GAsyncResult *result, gpointer data)
{
  FakeConn *fc = data;
  g_autoptr (JsonObject) hello = minka_auth_server_finish (fc->conn, result, NULL, NULL);
  if (hello == NULL)
    {
      fake_conn_free (fc);
      return;
    }
  minka_frame_connection_read_async (fc->conn, NULL, on_fake_frame, fc);
}

static gboolean
on_fake_incoming (GSocketService *service, GSocketConnection *connection,
                  GObject *source, gpointer data)
{
  Fake *fake = data;
  FakeConn *fc = g_new0 (FakeConn, 1);
  fc->fake = fake;
  fc->conn = minka_frame_connection_new (G_IO_STREAM (connection));
  fake->connections++;
  minka_auth_server_async (fc->conn, fake->key, NULL, on_fake_hello, fc);
  return TRUE;
}

static Fake *
fake_new (FakeMode mode)
{
  Fake *fake = g_new0 (Fake, 1);
  fake->mode = mode;
  fake->page_size = 10000;
  fake->files = g_ptr_array_new_with_free_func ((GDestroyNotify) fake_file_free);
  fake->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fake->begun = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fake->seqs = g_array_new (FALSE, FALSE, sizeof (gint64));
  fake->service = g_socket_service_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  GError *error = NULL;
  ck_assert (g_socket_listener_add_address (G_SOCKET_LISTENER (fake->service), any_port,
                                            G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                            NULL, &bound, &error));
  fake->address = g_strdup_printf (
    "127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_signal_connect (fake->service, "incoming", G_CALLBACK (on_fake_incoming), fake);
  g_socket_service_start (fake->service);
  return fake;
}

static void
fake_free (Fake *fake)
{
  g_socket_service_stop (fake->service);
  g_socket_listener_close (G_SOCKET_LISTENER (fake->service));
  g_object_unref (fake->service);
  g_ptr_array_unref (fake->files);
  g_hash_table_unref (fake->sessions);
  g_hash_table_unref (fake->begun);
  g_array_unref (fake->seqs);
  g_free (fake->address);
  g_free (fake->redirect_to);
  g_clear_pointer (&fake->key, g_bytes_unref);
  g_free (fake);
}

/* ---- helpers ------------------------------------------------------------- */

static GAsyncResult *last_result;

static void
on_done (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **slot = data;
  *slot = g_object_ref (result);
}

/* Runs the main loop until the callback stored a result. */
static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  GAsyncResult *result = *slot;
  *slot = NULL;
  return result;
}

static void
drain_main_loop (void)
{
  for (int i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
}

static MinkaClient *
client_for (const char *a, const char *b)
{
  const char *addresses[] = { a, b, NULL };
  MinkaClient *client = minka_client_new (addresses, NULL);
  minka_client_set_timeouts (client, 2000, 5000, 10000);
  minka_client_set_backoff (client, 5, 50);
  return client;
}

static GBytes *
random_bytes (gsize len, guint32 seed)
{
  guint8 *data = g_malloc (len + 1);
  GRand *rand = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_rand_int (rand);
  g_rand_free (rand);
  return g_bytes_new_take (data, len);
}

typedef struct {
  guint calls;
  guint64 last_done, total;
} Progress;

static void
on_progress (guint64 done, guint64 total, gpointer data)
{
  Progress *progress = data;
  progress->calls++;
  ck_assert_uint_le (done, total);
  progress->last_done = done;
  progress->total = total;
}

static MinkaFileInfo *
put_bytes (MinkaClient *client, GBytes *bytes, const char *name, Progress *progress,
           GError **error)
{
  g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_bytes (bytes);
  minka_client_put_stream_async (client, stream, g_bytes_get_size (bytes), name,
                                 progress != NULL ? on_progress : NULL, progress, NULL,
                                 on_done, &last_result);
  g_autoptr (GAsyncResult) result = wait_for (&last_result);
  return minka_client_put_finish (client, result, error);
}

static GBytes *
get_bytes (MinkaClient *client, const char *address, guint64 id, const char *name,
           MinkaFileInfo **info_out, GError **error)
{
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  minka_client_get_async (client, address, id, name, out, NULL, NULL, NULL, on_done,
                          &last_result);
  g_autoptr (GAsyncResult) result = wait_for (&last_result);
  MinkaFileInfo *info = minka_client_get_finish (client, result, error);
  if (info == NULL)
    return NULL;
  if (info_out != NULL)
    *info_out = info;
  else
    minka_file_info_free (info);
  g_output_stream_close (out, NULL, NULL);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

static MinkaFileList *
list_files (MinkaClient *client, const char *address, GError **error)
{
  minka_client_list_async (client, address, 0, NULL, on_done, &last_result);
  g_autoptr (GAsyncResult) result = wait_for (&last_result);
  return minka_client_list_finish (client, result, error);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST (test_status)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  MinkaClient *client = client_for (fake->address, "127.0.0.1:1");
  GError *error = NULL;

  ck_assert_uint_eq (strlen (minka_client_get_session (client)), 32);
  minka_client_status_async (client, fake->address, NULL, on_done, &last_result);
  g_autoptr (GAsyncResult) result = wait_for (&last_result);
  g_autoptr (JsonObject) reply = minka_client_status_finish (client, result, &error);
  ck_assert_ptr_null (error);
  JsonObject *worker = json_object_get_object_member (reply, "worker");
  ck_assert_str_eq (json_object_get_string_member (worker, "role"), "leader");

  /* All workers: the second address refuses connections. */
  minka_client_status_all_async (client, NULL, on_done, &last_result);
  g_autoptr (GAsyncResult) all_result = wait_for (&last_result);
  g_autoptr (GPtrArray) all = minka_client_status_all_finish (client, all_result, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (all->len, 2);
  MinkaWorkerStatus *up = all->pdata[0], *down = all->pdata[1];
  ck_assert (up->reachable && up->reply != NULL && up->error == NULL);
  ck_assert_str_eq (up->address, fake->address);
  ck_assert (!down->reachable && down->reply == NULL && down->error != NULL);

  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_put_list_get_delete)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  fake->page_size = 2;
  MinkaClient *client = client_for (fake->address, NULL);
  GError *error = NULL;
  Progress progress = { 0 };

  /* 2.5 MiB: three PUT_DATA chunks, progress reaches the total. */
  g_autoptr (GBytes) big = random_bytes (5 * 512 * 1024, 1);
  g_autoptr (MinkaFileInfo) info = put_bytes (client, big, "big.bin", &progress, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (info->size, g_bytes_get_size (big));
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, big);
  ck_assert_str_eq (info->sha256, sha);
  ck_assert_uint_ge (progress.calls, 4);
  ck_assert_uint_eq (progress.last_done, g_bytes_get_size (big));
  ck_assert_uint_eq (progress.total, g_bytes_get_size (big));

  /* Empty and small files; seqs increase by one per write. */
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr (GBytes) small = random_bytes (i * 7, 10 + i);
      g_autofree char *name = g_strdup_printf ("small-%u", i);
      g_autoptr (MinkaFileInfo) small_info = put_bytes (client, small, name, NULL, &error);
      ck_assert_ptr_null (error);
      ck_assert_uint_eq (small_info->size, i * 7);
    }
  ck_assert_uint_eq (fake->seqs->len, 5);
  for (guint i = 0; i < 5; i++)
    ck_assert_int_eq (g_array_index (fake->seqs, gint64, i), i + 1);

  /* Pages of two: five files in three LIST requests. */
  g_autoptr (MinkaFileList) list = list_files (client, NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (list->files->len, 5);
  ck_assert_uint_eq (fake->list_requests, 3);
  ck_assert_str_eq (list->digest, "d1g3st");
  ck_assert_uint_eq (list->applied_index, 5);
  ck_assert_str_eq (((MinkaFileInfo *) list->files->pdata[0])->name, "big.bin");

  /* Download by ID and by name, byte-identical. */
  g_autoptr (GBytes) got = get_bytes (client, NULL, info->id, NULL, NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert (g_bytes_equal (got, big));
  g_autoptr (GBytes) by_name = get_bytes (client, fake->address, 0, "small-3", NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (g_bytes_get_size (by_name), 21);
  g_autoptr (GBytes) empty = get_bytes (client, NULL, 0, "small-0", NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (g_bytes_get_size (empty), 0);

  /* Unknown ID: not_found. */
  ck_assert_ptr_null (get_bytes (client, NULL, 999, NULL, NULL, &error));
  ck_assert (g_error_matches (error, MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_NOT_FOUND));
  g_clear_error (&error);

  /* Delete. */
  minka_client_delete_async (client, info->id, NULL, on_done, &last_result);
  g_autoptr (GAsyncResult) deleted = wait_for (&last_result);
  ck_assert_uint_eq (minka_client_delete_finish (client, deleted, &error), info->id);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (fake->files->len, 4);

  /* Cluster changes are writes too. */
  minka_client_cluster_add_async (client, "w4", "127.0.0.1:7004", NULL, NULL, on_done,
                                  &last_result);
  g_autoptr (GAsyncResult) added = wait_for (&last_result);
  g_autoptr (JsonNode) config = minka_client_cluster_finish (client, added, &error);
  ck_assert_ptr_null (error);
  ck_assert (JSON_NODE_HOLDS_OBJECT (config));
  ck_assert_str_eq (json_object_get_string_member (json_node_get_object (config), "changed"),
                    "w4");

  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_get_file)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  MinkaClient *client = client_for (fake->address, NULL);
  GError *error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("minka-client-XXXXXX", &error);
  ck_assert_ptr_null (error);
  g_autofree char *src_path = g_build_filename (dir, "src.bin", NULL);
  g_autofree char *dest_path = g_build_filename (dir, "dest.bin", NULL);
  g_autoptr (GBytes) content = random_bytes (300000, 5);
  ck_assert (g_file_set_contents (src_path, g_bytes_get_data (content, NULL), 300000, NULL));

  /* Put from a file: the name defaults to its basename. */
  g_autoptr (GFile) src = g_file_new_for_path (src_path);
  minka_client_put_file_async (client, src, NULL, NULL, NULL, NULL, on_done, &last_result);
  g_autoptr (GAsyncResult) put = wait_for (&last_result);
  g_autoptr (MinkaFileInfo) info = minka_client_put_finish (client, put, &error);
  ck_assert_ptr_null (error);
  ck_assert_str_eq (info->name, "src.bin");

  /* Get to a file, then refuse to overwrite it, then overwrite it. */
  g_autoptr (GFile) dest = g_file_new_for_path (dest_path);
  Progress progress = { 0 };
  for (int round = 0; round < 3; round++)
    {
      minka_client_get_file_async (client, NULL, info->id, NULL, dest, round == 2,
                                   on_progress, &progress, NULL, on_done, &last_result);
      g_autoptr (GAsyncResult) result = wait_for (&last_result);
      g_autoptr (MinkaFileInfo) got = minka_client_get_finish (client, result, &error);
      if (round == 1)
        {
          ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS));
          g_clear_error (&error);
          continue;
        }
      ck_assert_ptr_null (error);
      ck_assert_uint_eq (got->size, 300000);
      g_autofree char *data = NULL;
      gsize len = 0;
      ck_assert (g_file_get_contents (dest_path, &data, &len, NULL));
      ck_assert_uint_eq (len, 300000);
      ck_assert (memcmp (data, g_bytes_get_data (content, NULL), len) == 0);
    }
  ck_assert_uint_eq (progress.last_done, 300000);

  /* A corrupted download fails with a checksum error and leaves nothing. */
  fake->corrupt_get = TRUE;
  g_autofree char *bad_path = g_build_filename (dir, "bad.bin", NULL);
  g_autoptr (GFile) bad = g_file_new_for_path (bad_path);
  minka_client_get_file_async (client, NULL, info->id, NULL, bad, FALSE, NULL, NULL, NULL,
                               on_done, &last_result);
  g_autoptr (GAsyncResult) corrupt = wait_for (&last_result);
  ck_assert_ptr_null (minka_client_get_finish (client, corrupt, &error));
  ck_assert (g_error_matches (error, MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_CHECKSUM));
  g_clear_error (&error);
  ck_assert (!g_file_test (bad_path, G_FILE_TEST_EXISTS));
  GDir *listing = g_dir_open (dir, 0, NULL);
  guint entries = 0;
  while (g_dir_read_name (listing) != NULL)
    entries++;
  g_dir_close (listing);
  ck_assert_uint_eq (entries, 2);   /* src.bin and dest.bin: no temporary file left */

  g_remove (src_path);
  g_remove (dest_path);
  g_rmdir (dir);
  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_not_leader_redirect)
{
  Fake *leader = fake_new (FAKE_NORMAL);
  Fake *follower = fake_new (FAKE_REDIRECT);
  follower->redirect_to = g_strdup (leader->address);
  /* Only the follower is listed: the client must follow NOT_LEADER. */
  MinkaClient *client = client_for (follower->address, NULL);
  GError *error = NULL;

  g_autoptr (GBytes) bytes = random_bytes (1000, 2);
  g_autoptr (MinkaFileInfo) info = put_bytes (client, bytes, "r.bin", NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (leader->files->len, 1);
  ck_assert_uint_eq (follower->files->len, 0);
  ck_assert_str_eq (minka_client_get_leader (client), leader->address);

  /* The next write goes straight to the leader. */
  guint before = follower->connections;
  g_autoptr (MinkaFileInfo) second = put_bytes (client, bytes, "r2.bin", NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (follower->connections, before);
  ck_assert_uint_eq (leader->files->len, 2);

  g_object_unref (client);
  drain_main_loop ();
  fake_free (follower);
  fake_free (leader);
}
END_TEST

START_TEST (test_drop_mid_upload)
{
  Fake *fake = fake_new (FAKE_DROP_UPLOAD);
  MinkaClient *client = client_for (fake->address, NULL);
  GError *error = NULL;
  Progress progress = { 0 };

  g_autoptr (GBytes) bytes = random_bytes (3 * 1024 * 1024 + 5, 3);
  g_autoptr (MinkaFileInfo) info = put_bytes (client, bytes, "d.bin", &progress, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (fake->drops, 1);
  /* The retry reused client/seq: the fake saw the same pair twice and
   * stored one file. */
  ck_assert_uint_eq (fake->duplicate_seqs, 1);
  ck_assert_uint_eq (fake->seqs->len, 2);
  ck_assert_int_eq (g_array_index (fake->seqs, gint64, 0), g_array_index (fake->seqs, gint64, 1));
  ck_assert_uint_eq (fake->files->len, 1);
  ck_assert_uint_eq (progress.last_done, g_bytes_get_size (bytes));
  g_autoptr (GBytes) got = get_bytes (client, NULL, info->id, NULL, NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert (g_bytes_equal (got, bytes));

  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_unavailable_and_dropped_download)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  MinkaClient *client = client_for (fake->address, NULL);
  GError *error = NULL;

  /* "unavailable" (no leader yet) twice: retried with the same seq. */
  fake->unavailable_left = 2;
  g_autoptr (GBytes) bytes = random_bytes (250000, 8);
  g_autoptr (MinkaFileInfo) info = put_bytes (client, bytes, "u.bin", NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (fake->unavailable_left, 0);
  ck_assert_uint_eq (fake->seqs->len, 3);
  ck_assert_int_eq (g_array_index (fake->seqs, gint64, 0), 1);
  ck_assert_int_eq (g_array_index (fake->seqs, gint64, 2), 1);
  ck_assert_uint_eq (fake->files->len, 1);

  /* A download cut after its first chunk is retried; the output file is
   * rewound, so it ends up byte-identical. */
  fake->drop_get_left = 1;
  g_autofree char *dir = g_dir_make_tmp ("minka-client-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "u.bin", NULL);
  g_autoptr (GFile) dest = g_file_new_for_path (path);
  minka_client_get_file_async (client, NULL, info->id, NULL, dest, FALSE, NULL, NULL, NULL,
                               on_done, &last_result);
  g_autoptr (GAsyncResult) result = wait_for (&last_result);
  g_autoptr (MinkaFileInfo) got = minka_client_get_finish (client, result, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (fake->drops, 1);
  g_autofree char *data = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (path, &data, &len, NULL));
  ck_assert_uint_eq (len, 250000);
  ck_assert (memcmp (data, g_bytes_get_data (bytes, NULL), len) == 0);

  /* The same into a stream that cannot be rewound: a clear failure. */
  fake->drop_get_left = 1;
  g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr (GZlibCompressor) zlib = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW, -1);
  g_autoptr (GOutputStream) unseekable = g_converter_output_stream_new (memory,
                                                                        G_CONVERTER (zlib));
  minka_client_get_async (client, NULL, info->id, NULL, unseekable, NULL, NULL, NULL, on_done,
                          &last_result);
  g_autoptr (GAsyncResult) cut = wait_for (&last_result);
  ck_assert_ptr_null (minka_client_get_finish (client, cut, &error));
  ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED), "got %s",
                 error->message);
  g_clear_error (&error);

  g_remove (path);
  g_rmdir (dir);
  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_silent_timeout)
{
  Fake *fake = fake_new (FAKE_SILENT);
  MinkaClient *client = client_for (fake->address, NULL);
  minka_client_set_timeouts (client, 500, 150, 600);
  GError *error = NULL;

  g_autoptr (MinkaFileList) list = list_files (client, NULL, &error);
  ck_assert_ptr_null (list);
  ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT),
                 "got %s", error->message);
  g_clear_error (&error);
  /* Each timed-out attempt dropped its connection and made a new one. */
  ck_assert_uint_ge (fake->connections, 2);

  g_autoptr (GBytes) bytes = random_bytes (10, 4);
  ck_assert_ptr_null (put_bytes (client, bytes, "s.bin", NULL, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  g_clear_error (&error);

  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_unreachable)
{
  MinkaClient *client = client_for ("127.0.0.1:1", NULL);
  minka_client_set_timeouts (client, 500, 500, 300);
  GError *error = NULL;

  ck_assert_ptr_null (list_files (client, NULL, &error));
  ck_assert_msg (g_error_matches (error, MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_UNAVAILABLE),
                 "got %s", error->message);
  g_clear_error (&error);
  g_object_unref (client);
  drain_main_loop ();
}
END_TEST

START_TEST (test_cancel_and_concurrent_writes)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  MinkaClient *client = client_for (fake->address, NULL);
  GError *error = NULL;
  GAsyncResult *first = NULL, *second = NULL, *cancelled = NULL;

  /* Two writes at once on one session run in order; a cancelled one fails. */
  g_autoptr (GBytes) a = random_bytes (200000, 6);
  g_autoptr (GBytes) b = random_bytes (100, 7);
  g_autoptr (GInputStream) sa = g_memory_input_stream_new_from_bytes (a);
  g_autoptr (GInputStream) sb = g_memory_input_stream_new_from_bytes (b);
  g_autoptr (GInputStream) sc = g_memory_input_stream_new_from_bytes (b);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  minka_client_put_stream_async (client, sa, 200000, "a", NULL, NULL, NULL, on_done, &first);
  minka_client_put_stream_async (client, sc, 100, "c", NULL, NULL, cancel, on_done, &cancelled);
  minka_client_put_stream_async (client, sb, 100, "b", NULL, NULL, NULL, on_done, &second);
  g_cancellable_cancel (cancel);
  g_autoptr (GAsyncResult) r1 = wait_for (&first);
  g_autoptr (GAsyncResult) r2 = wait_for (&second);
  g_autoptr (GAsyncResult) r3 = wait_for (&cancelled);
  g_autoptr (MinkaFileInfo) i1 = minka_client_put_finish (client, r1, &error);
  ck_assert_ptr_null (error);
  g_autoptr (MinkaFileInfo) i2 = minka_client_put_finish (client, r2, &error);
  ck_assert_ptr_null (error);
  ck_assert_ptr_null (minka_client_put_finish (client, r3, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&error);
  ck_assert_uint_lt (i1->id, i2->id);
  ck_assert_uint_eq (fake->seqs->len, 2);
  ck_assert_int_lt (g_array_index (fake->seqs, gint64, 0), g_array_index (fake->seqs, gint64, 1));

  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_keyed_cluster)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  fake->key = g_bytes_new_static ("0123456789abcdef0123", 20);
  GError *error = NULL;

  /* Right key: works. */
  const char *addresses[] = { fake->address, NULL };
  MinkaClient *client = minka_client_new (addresses, fake->key);
  g_autoptr (MinkaFileList) list = list_files (client, NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (list->files->len, 0);
  g_object_unref (client);

  /* No key, or a wrong one: rejected at once (no retries until the
   * deadline), with the authentication error. */
  for (int round = 0; round < 2; round++)
    {
      g_autoptr (GBytes) wrong = g_bytes_new_static ("0123456789abcdef0124", 20);
      client = minka_client_new (addresses, round == 0 ? NULL : wrong);
      minka_client_set_timeouts (client, 5000, 5000, 30000);
      guint before = fake->connections;
      ck_assert_ptr_null (list_files (client, NULL, &error));
      ck_assert_msg (error != NULL && error->domain == MINKA_AUTH_ERROR, "got %s",
                     error != NULL ? error->message : "no error");
      ck_assert_uint_eq (fake->connections, before + 1);
      g_clear_error (&error);
      g_object_unref (client);
    }

  drain_main_loop ();
  fake_free (fake);
}
END_TEST

/* Uploads @size random bytes; checks the stored file, the progress and
 * the content read back. */
static void
put_and_check (MinkaClient *client, gsize size, guint32 seed)
{
  GError *error = NULL;
  Progress progress = { 0 };
  g_autoptr (GBytes) bytes = random_bytes (size, seed);
  g_autofree char *name = g_strdup_printf ("f-%" G_GSIZE_FORMAT, size);
  g_autoptr (MinkaFileInfo) info = put_bytes (client, bytes, name, &progress, &error);
  ck_assert_msg (error == NULL, "%" G_GSIZE_FORMAT " bytes: %s", size, error ? error->message : "");
  ck_assert_uint_eq (info->size, size);
  g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  ck_assert_str_eq (info->sha256, sha);
  ck_assert_uint_ge (progress.calls, 1);
  ck_assert_uint_eq (progress.last_done, size);
  ck_assert_uint_eq (progress.total, size);
  g_autoptr (GBytes) got = get_bytes (client, NULL, info->id, NULL, NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert (g_bytes_equal (got, bytes));
}

START_TEST (test_one_frame_sizes)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  MinkaClient *client = client_for (fake->address, NULL);

  /* Up to 64 KiB: one PUT_BEGIN with the content, no PUT_DATA. */
  const gsize small[] = { 0, 1, MINKA_CLIENT_ONE_FRAME_MAX };
  for (guint i = 0; i < G_N_ELEMENTS (small); i++)
    put_and_check (client, small[i], 20 + i);
  ck_assert_uint_eq (fake->one_frame_puts, 3);
  ck_assert_uint_eq (fake->put_data_frames, 0);

  /* One byte more: the streamed form. */
  put_and_check (client, MINKA_CLIENT_ONE_FRAME_MAX + 1, 30);
  ck_assert_uint_eq (fake->one_frame_puts, 3);
  ck_assert_uint_eq (fake->put_data_frames, 1);
  ck_assert_uint_eq (fake->files->len, 4);
  ck_assert_uint_eq (fake->seqs->len, 4);

  /* A stream shorter than the announced size: a clear error. */
  GError *error = NULL;
  g_autoptr (GBytes) short_bytes = random_bytes (10, 31);
  g_autoptr (GInputStream) stream = g_memory_input_stream_new_from_bytes (short_bytes);
  minka_client_put_stream_async (client, stream, 100, "short", NULL, NULL, NULL, on_done,
                                 &last_result);
  g_autoptr (GAsyncResult) result = wait_for (&last_result);
  ck_assert_ptr_null (minka_client_put_finish (client, result, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_FAILED));
  g_clear_error (&error);
  ck_assert_uint_eq (fake->files->len, 4);

  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_one_frame_retries)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  MinkaClient *client = client_for (fake->address, NULL);
  GError *error = NULL;

  /* Committed, then the connection drops before PUT_OK: the retry has the
   * same client/seq and gets the same file, stored once. */
  fake->drop_commit_left = 1;
  g_autoptr (GBytes) bytes = random_bytes (5000, 40);
  g_autoptr (MinkaFileInfo) info = put_bytes (client, bytes, "once.bin", NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (fake->drops, 1);
  ck_assert_uint_eq (fake->one_frame_puts, 2);
  ck_assert_uint_eq (fake->duplicate_seqs, 1);
  ck_assert_uint_eq (fake->files->len, 1);
  ck_assert_uint_eq (info->id, ((FakeFile *) fake->files->pdata[0])->id);

  /* "unavailable" twice: retried with the same seq, from memory. */
  fake->unavailable_left = 2;
  g_autoptr (MinkaFileInfo) second = put_bytes (client, bytes, "again.bin", NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (fake->seqs->len, 5);
  ck_assert_int_eq (g_array_index (fake->seqs, gint64, 2), 2);
  ck_assert_int_eq (g_array_index (fake->seqs, gint64, 4), 2);
  ck_assert_uint_eq (fake->files->len, 2);

  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

static MinkaFileInfo *
put_memory (MinkaClient *client, GBytes *bytes, const char *sha, const char *name,
            GError **error)
{
  minka_client_put_bytes_async (client, bytes, sha, name, NULL, NULL, NULL, on_done,
                                &last_result);
  g_autoptr (GAsyncResult) result = wait_for (&last_result);
  return minka_client_put_finish (client, result, error);
}

START_TEST (test_put_bytes)
{
  Fake *fake = fake_new (FAKE_NORMAL);
  MinkaClient *client = client_for (fake->address, NULL);
  GError *error = NULL;

  /* With the caller's hash, without one, and larger than one frame. */
  const gsize sizes[] = { 3000, 0, MINKA_CLIENT_ONE_FRAME_MAX + 7 };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) bytes = random_bytes (sizes[i], 60 + i);
      g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
      g_autoptr (MinkaFileInfo) info = put_memory (client, bytes, i == 1 ? NULL : sha,
                                                   "mem.bin", &error);
      ck_assert_msg (error == NULL, "%s", error ? error->message : "");
      ck_assert_str_eq (info->sha256, sha);
      g_autoptr (GBytes) got = get_bytes (client, NULL, info->id, NULL, NULL, &error);
      ck_assert (g_bytes_equal (got, bytes));
    }
  ck_assert_uint_eq (fake->one_frame_puts, 2);
  ck_assert_uint_eq (fake->put_data_frames, 1);

  /* A wrong hash from the caller is refused by the worker, not stored. */
  g_autoptr (GBytes) bytes = random_bytes (100, 70);
  g_autofree char *wrong = g_strnfill (64, 'a');
  ck_assert_ptr_null (put_memory (client, bytes, wrong, "wrong.bin", &error));
  ck_assert_ptr_nonnull (error);
  g_clear_error (&error);
  ck_assert_uint_eq (fake->files->len, 3);

  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

START_TEST (test_one_frame_older_worker)
{
  /* A worker that ignores the content answers PUT_READY: the client then
   * sends it as PUT_DATA + PUT_END. */
  Fake *fake = fake_new (FAKE_NORMAL);
  fake->legacy_put = TRUE;
  MinkaClient *client = client_for (fake->address, NULL);
  put_and_check (client, 5000, 50);
  put_and_check (client, 0, 51);
  ck_assert_uint_eq (fake->one_frame_puts, 0);
  ck_assert_uint_eq (fake->put_data_frames, 1);
  ck_assert_uint_eq (fake->files->len, 2);
  g_object_unref (client);
  drain_main_loop ();
  fake_free (fake);
}
END_TEST

static Suite *
client_suite (void)
{
  Suite *suite = suite_create ("client");
  TCase *tc = tcase_create ("client");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_status);
  tcase_add_test (tc, test_put_list_get_delete);
  tcase_add_test (tc, test_get_file);
  tcase_add_test (tc, test_not_leader_redirect);
  tcase_add_test (tc, test_drop_mid_upload);
  tcase_add_test (tc, test_unavailable_and_dropped_download);
  tcase_add_test (tc, test_silent_timeout);
  tcase_add_test (tc, test_unreachable);
  tcase_add_test (tc, test_cancel_and_concurrent_writes);
  tcase_add_test (tc, test_keyed_cluster);
  tcase_add_test (tc, test_one_frame_sizes);
  tcase_add_test (tc, test_one_frame_retries);
  tcase_add_test (tc, test_put_bytes);
  tcase_add_test (tc, test_one_frame_older_worker);
  suite_add_tcase (suite, tc);
  return suite;
}

int
main (void)
{
  SRunner *runner = srunner_create (client_suite ());
  srunner_run_all (runner, CK_NORMAL);
  int failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}
