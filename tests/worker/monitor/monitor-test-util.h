/* monitor-test-util.h — helpers for the monitor tests: a server with fake
 * data running on its own thread and main context, and a blocking raw-bytes
 * HTTP client (GSocketClient) that reads responses, chunked ones too. */
#pragma once

#include <gio/gio.h>

#include "monitor-fake-source.h"
#include "monitor-server.h"

G_BEGIN_DECLS

typedef struct {
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  MonitorServer *server;
  MonitorFakeSource *fake;
  MonitorConfig config;
  guint16 port;
  GMutex lock;
  GCond cond;
  gboolean ready;
} TestServer;

/* Starts a server on 127.0.0.1:0 with @config (NULL: defaults). */
TestServer *test_server_start (const MonitorConfig *config);
void test_server_stop (TestServer *ts);
/* Runs @func(@data) on the server's thread and waits for it. */
void test_server_invoke (TestServer *ts, GSourceFunc func, gpointer data);

typedef struct {
  GSocketConnection *connection;
  GDataInputStream *in;
  GOutputStream *out;
} TestClient;

typedef struct {
  guint status;
  char *version;
  GHashTable *headers;        /* lower-case name -> value (last one wins) */
  GByteArray *body;
  gboolean was_chunked;
} TestResponse;

TestClient *test_client_connect (guint16 port);
/* Same with a tiny receive buffer, so the server's writes back up. */
TestClient *test_client_connect_small_window (guint16 port);
void test_client_free (TestClient *client);
void test_client_send (TestClient *client, const char *data, gsize len);
void test_client_send_str (TestClient *client, const char *text);
/* Reads one response (no body if @head_request); NULL on EOF, timeout or a
 * malformed response. */
TestResponse *test_client_read (TestClient *client, gboolean head_request);
/* TRUE if the server closes the connection within @timeout_ms. */
gboolean test_client_wait_eof (TestClient *client, guint timeout_ms);
const char *test_response_header (const TestResponse *response, const char *name);
void test_response_free (TestResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestResponse, test_response_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestClient, test_client_free)

/* One request on a fresh connection. */
TestResponse *test_fetch (guint16 port, const char *request, gboolean head_request);

G_END_DECLS
