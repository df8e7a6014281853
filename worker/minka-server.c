/* minka-server.c — accepting, authenticating and reading connections. */
#include "config.h"
#include "minka-server.h"
#include "minka-compat.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define MAX_CONNECTIONS 1024
#define AUTH_TIMEOUT_MS 5000
#define CLIENT_IDLE_MS (10 * 60 * 1000)
#define FRAME_TIMEOUT_MS 30000
#define LISTEN_BACKLOG 512

struct _MinkaServer
{
  GSocketService *service;
  GBytes *key;
  MinkaServerCallbacks cb;
  gpointer user_data;
  GHashTable *conns;              /* MinkaConn* set (each holds one ref) */
};

struct _MinkaConn
{
  int refs;
  MinkaServer *server;            /* NULL once the server is gone */
  MinkaFrameConnection *frames;
  MinkaConnKind kind;
  char *peer_name;
  char *remote;
  gboolean authenticated;
  gboolean reading;
  gboolean closed;
  gpointer data;
  GDestroyNotify destroy;
};

static void conn_read_next (MinkaConn *conn);

MinkaConn *
minka_conn_ref (MinkaConn *conn)
{
  conn->refs++;
  return conn;
}

void
minka_conn_unref (MinkaConn *conn)
{
  if (--conn->refs > 0)
    return;
  if (conn->destroy && conn->data)
    conn->destroy (conn->data);
  g_clear_object (&conn->frames);
  g_free (conn->peer_name);
  g_free (conn->remote);
  g_free (conn);
}

MinkaConnKind minka_conn_get_kind (MinkaConn *conn) { return conn->kind; }
const char *minka_conn_get_peer_name (MinkaConn *conn) { return conn->peer_name; }
const char *minka_conn_get_remote (MinkaConn *conn) { return conn->remote; }
gboolean minka_conn_is_closed (MinkaConn *conn) { return conn->closed; }
gpointer minka_conn_get_data (MinkaConn *conn) { return conn->data; }

gpointer
minka_conn_steal_data (MinkaConn *conn)
{
  gpointer data = conn->data;
  conn->data = NULL;
  conn->destroy = NULL;
  return data;
}

void
minka_conn_set_data (MinkaConn *conn, gpointer data, GDestroyNotify destroy)
{
  if (conn->destroy && conn->data)
    conn->destroy (conn->data);
  conn->data = data;
  conn->destroy = destroy;
}

/* Closing tells the worker once, then drops the server's reference. */
void
minka_conn_close (MinkaConn *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  minka_frame_connection_close (conn->frames);
  MinkaServer *server = conn->server;
  if (server)
    {
      if (conn->authenticated && server->cb.closed)
        server->cb.closed (server->user_data, conn);
      conn->server = NULL;
      if (conn->destroy && conn->data)
        conn->destroy (conn->data);
      conn->data = NULL;
      conn->destroy = NULL;
      g_hash_table_remove (server->conns, conn);   /* unrefs */
    }
}

static void
on_frame (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MinkaConn *conn = user_data;
  GError *error = NULL;
  MinkaFrame *frame = minka_frame_connection_read_finish (conn->frames, result, &error);
  conn->reading = FALSE;
  if (!frame)
    {
      if (!g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED))
        g_debug ("connection from %s: %s", conn->remote, error->message);
      g_error_free (error);
      minka_conn_close (conn);
      minka_conn_unref (conn);
      return;
    }
  gboolean go_on = TRUE;
  if (conn->server)
    go_on = conn->server->cb.frame (conn->server->user_data, conn, frame);
  minka_frame_free (frame);
  if (go_on)
    conn_read_next (conn);
  minka_conn_unref (conn);
}

static void
conn_read_next (MinkaConn *conn)
{
  if (conn->closed || conn->reading)
    return;
  conn->reading = TRUE;
  minka_frame_connection_read_async (conn->frames, NULL, on_frame, minka_conn_ref (conn));
}

void
minka_conn_resume (MinkaConn *conn)
{
  conn_read_next (conn);
}

void
minka_conn_send (MinkaConn *conn, JsonObject *header, GBytes *body,
                 GAsyncReadyCallback callback, gpointer user_data)
{
  minka_frame_connection_send_async (conn->frames, header, body, NULL, callback, user_data);
}

void
minka_conn_send_error (MinkaConn *conn, JsonObject *request, const char *code,
                       const char *message)
{
  g_autoptr (JsonObject) header = minka_frame_header_new_error (request, code, message);
  minka_conn_send (conn, header, NULL, NULL, NULL);
}

void
minka_conn_send_bad_member (MinkaConn *conn, JsonObject *request, const char *name)
{
  g_autofree char *message = g_strdup_printf (_("The request's “%s” has the wrong type"), name);
  minka_conn_send_error (conn, request, "bad_request", message);
}

static void
on_authenticated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MinkaConn *conn = user_data;
  GError *error = NULL;
  MinkaAuthRole role;
  g_autoptr (JsonObject) hello =
    minka_auth_server_finish (conn->frames, result, &role, &error);
  if (!hello || conn->closed)
    {
      if (error)
        g_message ("refused a connection from %s: %s", conn->remote, error->message);
      g_clear_error (&error);
      minka_conn_close (conn);
      minka_conn_unref (conn);
      return;
    }
  conn->authenticated = TRUE;
  if (role == MINKA_AUTH_ROLE_PEER)
    {
      const char *channel = minka_header_get_string (hello, "channel", "control", NULL);
      conn->kind = g_strcmp0 (channel, "bulk") == 0 ? MINKA_CONN_PEER_BULK : MINKA_CONN_PEER_CONTROL;
      conn->peer_name = g_strdup (minka_header_get_string (hello, "node", "?", NULL));
      minka_frame_connection_set_timeouts (conn->frames, 0, FRAME_TIMEOUT_MS);
    }
  else
    {
      conn->kind = MINKA_CONN_CLIENT;
      minka_frame_connection_set_timeouts (conn->frames, CLIENT_IDLE_MS, FRAME_TIMEOUT_MS);
    }
  conn_read_next (conn);
  minka_conn_unref (conn);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection,
             GObject *source_object, gpointer user_data)
{
  MinkaServer *server = user_data;
  g_autoptr (GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autofree char *remote_text = remote && G_IS_INET_SOCKET_ADDRESS (remote)
    ? g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)))
    : g_strdup ("?");

  if (g_hash_table_size (server->conns) >= MAX_CONNECTIONS)
    {
      g_warning ("refusing a connection from %s: %d connections open", remote_text, MAX_CONNECTIONS);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  minka_socket_set_nodelay (g_socket_connection_get_socket (connection));

  MinkaConn *conn = g_new0 (MinkaConn, 1);
  conn->refs = 1;                           /* held by server->conns */
  conn->server = server;
  conn->remote = g_steal_pointer (&remote_text);
  conn->frames = minka_frame_connection_new (G_IO_STREAM (connection));
  /* Until HELLO completes, a silent or slow connection is dropped quickly. */
  minka_frame_connection_set_timeouts (conn->frames, AUTH_TIMEOUT_MS, AUTH_TIMEOUT_MS);
  g_hash_table_add (server->conns, conn);
  minka_auth_server_async (conn->frames, server->key, NULL, on_authenticated, minka_conn_ref (conn));
  return TRUE;
}

MinkaServer *
minka_server_new (const char *host, guint16 port, GBytes *key,
                  const MinkaServerCallbacks *callbacks, gpointer user_data, GError **error)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
  if (!inet)
    {
      /* A host name: resolve it once, synchronously, at start-up. */
      g_autoptr (GResolver) resolver = g_resolver_get_default ();
      GList *addresses = g_resolver_lookup_by_name (resolver, host, NULL, error);
      if (!addresses)
        return NULL;
      inet = g_object_ref (addresses->data);
      g_resolver_free_addresses (addresses);
    }
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (inet, port);

  MinkaServer *server = g_new0 (MinkaServer, 1);
  server->service = g_socket_service_new ();
  /* GLib's default backlog of 10 drops the SYNs of a burst of clients (a
   * 1 s retransmit each) when the main loop is busy. */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (server->service), LISTEN_BACKLOG);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (server->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, NULL, error))
    {
      g_object_unref (server->service);
      g_free (server);
      return NULL;
    }
  server->key = key ? g_bytes_ref (key) : NULL;
  server->cb = *callbacks;
  server->user_data = user_data;
  server->conns = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                         (GDestroyNotify) minka_conn_unref, NULL);
  g_signal_connect (server->service, "incoming", G_CALLBACK (on_incoming), server);
  g_socket_service_start (server->service);
  return server;
}

void
minka_server_free (MinkaServer *server)
{
  if (!server)
    return;
  g_socket_service_stop (server->service);
  g_socket_listener_close (G_SOCKET_LISTENER (server->service));
  g_object_unref (server->service);
  GList *conns = g_hash_table_get_keys (server->conns);
  for (GList *l = conns; l; l = l->next)
    minka_conn_close (l->data);
  g_list_free (conns);
  g_hash_table_destroy (server->conns);
  g_clear_pointer (&server->key, g_bytes_unref);
  g_free (server);
}

guint
minka_server_n_connections (MinkaServer *server)
{
  return g_hash_table_size (server->conns);
}
