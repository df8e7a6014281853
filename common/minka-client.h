/* minka-client.h — MinkaClient, the asynchronous client of a Minka cluster
 * (used by the `minka` CLI and the desktop app).
 *
 * A client is created with the workers' addresses (and the cluster key, if
 * any). It connects on demand, authenticates (HELLO, role "client"), keeps
 * one connection per worker it talks to, sends writes to the leader
 * (following NOT_LEADER), matches replies by "id", and retries with capped,
 * jittered exponential backoff across leader changes and connection
 * failures until a retry deadline. Nothing blocks: every operation is a
 * GTask on the thread-default main context current at minka_client_new().
 *
 * Each client is one session ("lane"): a random 128-bit ID sent as "client"
 * with a per-write "seq", so a retried write is applied exactly once. Writes
 * of one client are therefore run one at a time, in call order; use several
 * clients for concurrent writes. Requests are described in docs/requests.md. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MINKA_CLIENT_ERROR (minka_client_error_quark ())
GQuark minka_client_error_quark (void);

/* Error codes; the server's ERROR "code" maps to the first eight. */
typedef enum {
  MINKA_CLIENT_ERROR_BAD_REQUEST,
  MINKA_CLIENT_ERROR_NOT_FOUND,
  MINKA_CLIENT_ERROR_BAD_NAME,
  MINKA_CLIENT_ERROR_TOO_LARGE,
  MINKA_CLIENT_ERROR_CHECKSUM,     /* uploaded or downloaded bytes do not match */
  MINKA_CLIENT_ERROR_STALE,
  MINKA_CLIENT_ERROR_INTERNAL,
  MINKA_CLIENT_ERROR_REMOTE,       /* any other server error code */
  MINKA_CLIENT_ERROR_PROTOCOL,     /* a reply that makes no sense */
  MINKA_CLIENT_ERROR_UNAVAILABLE,  /* no leader / unreachable until the deadline */
} MinkaClientError;

/* A file of the catalog (a "file object" of docs/requests.md). */
typedef struct {
  guint64 id;
  char *name;
  guint64 size;
  char sha256[65];
  gint64 created_ms;
  char *client;
} MinkaFileInfo;

void minka_file_info_free (MinkaFileInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaFileInfo, minka_file_info_free)
/* Parses a file object; NULL with @error if a member is missing or wrong. */
MinkaFileInfo *minka_file_info_from_json (JsonObject *object, GError **error);

/* The result of a LIST (all pages). */
typedef struct {
  GPtrArray *files;          /* MinkaFileInfo*, sorted by ID */
  guint64 applied_index;     /* of the worker that answered (first page) */
  char *digest;              /* its catalog digest (first page) */
  char *address;             /* the worker that answered */
} MinkaFileList;

void minka_file_list_free (MinkaFileList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaFileList, minka_file_list_free)

/* One worker's answer to STATUS, or why it could not be reached. */
typedef struct {
  char *address;
  gboolean reachable;
  JsonObject *reply;         /* the STATUS_OK header ("worker", "peers"); NULL if unreachable */
  GError *error;             /* NULL if reachable */
} MinkaWorkerStatus;

void minka_worker_status_free (MinkaWorkerStatus *status);

/* Progress of an upload or download: bytes done out of @total. Called on
 * the client's main context. Bytes done go back to 0 when a transfer is
 * retried from the start. */
typedef void (*MinkaProgressFunc) (guint64 done, guint64 total, gpointer user_data);

#define MINKA_TYPE_CLIENT (minka_client_get_type ())
G_DECLARE_FINAL_TYPE (MinkaClient, minka_client, MINKA, CLIENT, GObject)

/* @addresses: "HOST:PORT" strings (at least one). @key: the cluster's shared
 * secret, or NULL when the cluster has none. */
MinkaClient *minka_client_new (const char *const *addresses, GBytes *key);

/* @connect_ms: connect + HELLO of one connection; @request_ms: the longest
 * silence while waiting for a reply (the connection is then dropped and
 * the request retried); @deadline_ms: no new attempt of an operation
 * starts this long after it was called (it then fails with the last error,
 * G_IO_ERROR_TIMED_OUT for a timeout). 0 keeps the current value. Defaults:
 * 3000, 30000, 60000. */
void minka_client_set_timeouts (MinkaClient *client, guint connect_ms,
                                guint request_ms, guint deadline_ms);
/* Initial and maximum retry delays (defaults 50 and 2000 ms). */
void minka_client_set_backoff (MinkaClient *client, guint initial_ms, guint max_ms);

/* The session ID (32 lowercase hex digits) and the addresses given. */
const char *minka_client_get_session (MinkaClient *client);
const char *const *minka_client_get_addresses (MinkaClient *client);
/* The address believed to be the leader's, or NULL. */
const char *minka_client_get_leader (MinkaClient *client);

/* STATUS of the worker at @address (it need not be in the list). Returns
 * the STATUS_OK header (a new reference). */
void minka_client_status_async (MinkaClient *client, const char *address,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
JsonObject *minka_client_status_finish (MinkaClient *client, GAsyncResult *result,
                                        GError **error);

/* STATUS of every listed worker, in parallel. Never fails except when
 * cancelled: returns a GPtrArray of MinkaWorkerStatus in the order of the
 * addresses, unreachable ones marked so. */
void minka_client_status_all_async (MinkaClient *client, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *minka_client_status_all_finish (MinkaClient *client, GAsyncResult *result,
                                           GError **error);

/* Every file of the catalog (all pages). @address: a given worker, or NULL
 * for any (the leader when known). @min_index: the worker first waits
 * until it has applied this log index (0: no wait). */
void minka_client_list_async (MinkaClient *client, const char *address,
                              guint64 min_index, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
MinkaFileList *minka_client_list_finish (MinkaClient *client, GAsyncResult *result,
                                         GError **error);

/* Largest file sent as one PUT_BEGIN frame carrying the whole content and
 * its SHA-256 (docs/requests.md, "Uploads"): one round trip instead of two.
 * It equals the worker's limit for files stored inside the log entry. */
#define MINKA_CLIENT_ONE_FRAME_MAX (64 * 1024)

/* Uploads @size bytes read from @stream, which must be seekable (it is
 * rewound when the upload is retried from the start) and stay usable until
 * the operation completes. @name: the file's name in the catalog. A file of
 * at most MINKA_CLIENT_ONE_FRAME_MAX bytes is read whole, hashed and sent
 * in one frame (kept in memory for retries); a larger one is streamed in
 * 1 MiB chunks and hashed as it is read. Progress reaches @size once the
 * content is sent. Returns the stored file (its ID, and its log index too). */
void minka_client_put_stream_async (MinkaClient *client, GInputStream *stream,
                                    guint64 size, const char *name,
                                    MinkaProgressFunc progress, gpointer progress_data,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
/* The same from memory. @sha256 (lowercase hex, may be NULL) is the
 * content's hash when the caller already has it: a small file is then sent
 * without hashing it again (the worker still checks it). */
void minka_client_put_bytes_async (MinkaClient *client, GBytes *content,
                                   const char *sha256, const char *name,
                                   MinkaProgressFunc progress, gpointer progress_data,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
/* The same from a file; @name NULL means the file's basename. */
void minka_client_put_file_async (MinkaClient *client, GFile *file, const char *name,
                                  MinkaProgressFunc progress, gpointer progress_data,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
/* Finishes either put. */
MinkaFileInfo *minka_client_put_finish (MinkaClient *client, GAsyncResult *result,
                                        GError **error);

/* Downloads file @id (when non-zero) or the newest file named @name, from
 * the worker at @address (NULL: any), into @out (NULL: only verify). The
 * SHA-256 is checked at the end (MINKA_CLIENT_ERROR_CHECKSUM). @out is not
 * closed. A retry after bytes were written needs @out to be seekable and
 * truncatable, else the operation fails. Returns the file's description. */
void minka_client_get_async (MinkaClient *client, const char *address, guint64 id,
                             const char *name, GOutputStream *out,
                             MinkaProgressFunc progress, gpointer progress_data,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
/* The same into @dest: written to a temporary file in the same folder,
 * renamed to @dest once verified (removed on failure). Without @overwrite
 * an existing @dest is an error (G_IO_ERROR_EXISTS). */
void minka_client_get_file_async (MinkaClient *client, const char *address, guint64 id,
                                  const char *name, GFile *dest, gboolean overwrite,
                                  MinkaProgressFunc progress, gpointer progress_data,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
/* Finishes either get. */
MinkaFileInfo *minka_client_get_finish (MinkaClient *client, GAsyncResult *result,
                                        GError **error);

/* Deletes file @id. Returns the deleted file's ID. */
void minka_client_delete_async (MinkaClient *client, guint64 id,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
guint64 minka_client_delete_finish (MinkaClient *client, GAsyncResult *result,
                                    GError **error);

/* Adds worker @name (at @address, monitor at @monitor or NULL) to the
 * cluster, or removes it. Returns a copy of the CLUSTER_OK "config" member
 * (the members as the worker describes them; a JSON null if absent). */
void minka_client_cluster_add_async (MinkaClient *client, const char *name,
                                     const char *address, const char *monitor,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
void minka_client_cluster_remove_async (MinkaClient *client, const char *name,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
JsonNode *minka_client_cluster_finish (MinkaClient *client, GAsyncResult *result,
                                       GError **error);

G_END_DECLS
