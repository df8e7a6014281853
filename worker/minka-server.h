/* minka-server.h — the worker's listening socket. Every accepted
 * connection must pass the HELLO exchange (and the HMAC challenge when the
 * cluster has a key) before any other frame is read; then its frames are
 * handed one at a time to the worker. A handler may pause the connection
 * (e.g. until a chunk is on disk) and resume it later: that is the
 * backpressure that keeps a fast uploader from filling memory. */
#pragma once

#include <gio/gio.h>
#include "minka-auth.h"
#include "minka-frame.h"

G_BEGIN_DECLS

typedef struct _MinkaServer MinkaServer;
typedef struct _MinkaConn MinkaConn;

typedef enum {
  MINKA_CONN_CLIENT,
  MINKA_CONN_PEER_CONTROL,
  MINKA_CONN_PEER_BULK,
} MinkaConnKind;

typedef struct {
  /* Return TRUE to read the next frame now, FALSE to pause until
   * minka_conn_resume(). The frame is borrowed. */
  gboolean (*frame) (gpointer user_data, MinkaConn *conn, MinkaFrame *frame);
  /* The connection is gone (its per-connection data is freed after). */
  void (*closed) (gpointer user_data, MinkaConn *conn);
} MinkaServerCallbacks;

MinkaServer *minka_server_new (const char *host, guint16 port, GBytes *key,
                               const MinkaServerCallbacks *callbacks, gpointer user_data,
                               GError **error);
void minka_server_free (MinkaServer *server);
guint minka_server_n_connections (MinkaServer *server);

MinkaConn *minka_conn_ref (MinkaConn *conn);
void minka_conn_unref (MinkaConn *conn);
MinkaConnKind minka_conn_get_kind (MinkaConn *conn);
/* The peer's worker name (peer connections), or NULL. */
const char *minka_conn_get_peer_name (MinkaConn *conn);
const char *minka_conn_get_remote (MinkaConn *conn);
gboolean minka_conn_is_closed (MinkaConn *conn);

/* Per-connection state owned by the worker, freed with @destroy on close. */
void minka_conn_set_data (MinkaConn *conn, gpointer data, GDestroyNotify destroy);
gpointer minka_conn_get_data (MinkaConn *conn);
/* Takes the data back without destroying it. */
gpointer minka_conn_steal_data (MinkaConn *conn);

void minka_conn_resume (MinkaConn *conn);
void minka_conn_close (MinkaConn *conn);

/* Queues a frame; @callback (may be NULL) runs once it is written (use it
 * to pace streams). */
void minka_conn_send (MinkaConn *conn, JsonObject *header, GBytes *body,
                      GAsyncReadyCallback callback, gpointer user_data);
/* Shorthands: an ERROR reply to @request, a NOT_LEADER reply. */
void minka_conn_send_error (MinkaConn *conn, JsonObject *request, const char *code,
                            const char *message);
/* bad_request, naming the request member @name that has the wrong JSON type. */
void minka_conn_send_bad_member (MinkaConn *conn, JsonObject *request, const char *name);

G_END_DECLS
