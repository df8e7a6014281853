/* test-monitor-server.c — the monitor server in-process on 127.0.0.1:0,
 * driven with raw bytes: keep-alive, pipelining, HEAD, ETag/304, chunked,
 * every error status, bearer token, slow-client timeouts, the connection
 * limit, and that a slow client never delays the main loop's timers. */
#include <check.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "monitor-test-util.h"

static TestServer *ts;

static void
setup_default (void)
{
  ts = test_server_start (NULL);
}

static void
setup_short_timeouts (void)
{
  MonitorConfig config;
  monitor_config_init (&config);
  config.request_timeout_ms = 300;
  config.idle_timeout_ms = 300;
  config.write_timeout_ms = 300;
  config.max_connections = 3;
  ts = test_server_start (&config);
}

static void
setup_token (void)
{
  MonitorConfig config;
  monitor_config_init (&config);
  config.token = "s3cret-key";
  ts = test_server_start (&config);
}

static void
teardown (void)
{
  test_server_stop (ts);
  ts = NULL;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

static guint
status_of (const char *request)
{
  g_autoptr (TestResponse) r = test_fetch (ts->port, request, FALSE);
  ck_assert_msg (r != NULL, "no response to %s", request);
  return r->status;
}

static JsonObject *
body_object (TestResponse *r, JsonParser *parser)
{
  g_autoptr (GError) error = NULL;
  ck_assert_msg (json_parser_load_from_data (parser, (const char *) r->body->data, r->body->len, &error),
                 "bad JSON: %s", error ? error->message : "");
  ck_assert (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  return json_node_get_object (json_parser_get_root (parser));
}

START_TEST (test_status_json)
{
  g_autoptr (TestResponse) r = test_fetch (ts->port, GET ("/api/status"), FALSE);
  ck_assert_ptr_nonnull (r);
  ck_assert_uint_eq (r->status, 200);
  ck_assert_str_eq (test_response_header (r, "content-type"), "application/json; charset=utf-8");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = body_object (r, parser);
  static const char *const fields[] = { "id", "role", "term", "leader", "commit_index",
    "applied_index", "last_index", "snapshot_index", "uptime_s", "threads", "rss_bytes",
    "catalog_digest", "peers", "jobs" };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    ck_assert_msg (json_object_has_member (o, fields[i]), "missing %s", fields[i]);
  /* The lists have their own endpoints (test_other_api). */
  static const char *const elsewhere[] = { "files", "models", "events", "requests" };
  for (gsize i = 0; i < G_N_ELEMENTS (elsewhere); i++)
    ck_assert_msg (!json_object_has_member (o, elsewhere[i]), "status has %s", elsewhere[i]);
  JsonArray *peers = json_object_get_array_member (o, "peers");
  ck_assert_uint_eq (json_array_get_length (peers), 2);
  JsonObject *p = json_array_get_object_element (peers, 0);
  static const char *const peer_fields[] = { "id", "address", "reachable", "match_index", "lag", "last_contact_ms" };
  for (gsize i = 0; i < G_N_ELEMENTS (peer_fields); i++)
    ck_assert_msg (json_object_has_member (p, peer_fields[i]), "peer lacks %s", peer_fields[i]);
}
END_TEST

START_TEST (test_other_api)
{
  static const char *const paths[] = { "/api/peers", "/api/files", "/api/events", "/api/i18n" };
  static const char *const member[] = { "peers", "files", "events", "lang" };
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: t\r\n\r\n", paths[i]);
      g_autoptr (TestResponse) r = test_fetch (ts->port, req, FALSE);
      ck_assert_ptr_nonnull (r);
      ck_assert_uint_eq (r->status, 200);
      g_autoptr (JsonParser) parser = json_parser_new ();
      ck_assert (json_object_has_member (body_object (r, parser), member[i]));
    }
}
END_TEST

/* The fake source's uptime_s changes every second: two answers 1.2 s
 * apart differ unless the API cache still holds the first one. */
static gboolean
status_changes_within (guint cache_ms)
{
  MonitorConfig config;
  monitor_config_init (&config);
  config.api_cache_ms = cache_ms;
  TestServer *server = test_server_start (&config);
  g_autoptr (TestResponse) a = test_fetch (server->port, GET ("/api/status"), FALSE);
  g_usleep (1200 * 1000);
  g_autoptr (TestResponse) b = test_fetch (server->port, GET ("/api/status"), FALSE);
  ck_assert (a != NULL && b != NULL && a->status == 200 && b->status == 200);
  gboolean changed = a->body->len != b->body->len
                     || memcmp (a->body->data, b->body->data, a->body->len) != 0;
  test_server_stop (server);
  return changed;
}

START_TEST (test_api_cache)
{
  ck_assert_msg (status_changes_within (0), "without a cache every answer is built anew");
  ck_assert_msg (!status_changes_within (60000), "a cached answer is reused until it expires");
  ck_assert_msg (status_changes_within (500), "an expired answer is rebuilt");
}
END_TEST

START_TEST (test_keep_alive)
{
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  for (int i = 0; i < 5; i++)
    {
      test_client_send_str (c, GET ("/api/peers"));
      g_autoptr (TestResponse) r = test_client_read (c, FALSE);
      ck_assert_ptr_nonnull (r);
      ck_assert_uint_eq (r->status, 200);
      ck_assert_ptr_null (test_response_header (r, "connection"));
    }
  test_client_send_str (c, "GET /api/peers HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  g_autoptr (TestResponse) last = test_client_read (c, FALSE);
  ck_assert_ptr_nonnull (last);
  ck_assert_str_eq (test_response_header (last, "connection"), "close");
  ck_assert (test_client_wait_eof (c, 2000));
}
END_TEST

START_TEST (test_http10)
{
  /* 1.0: closes unless keep-alive is asked for; never chunked. */
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  test_client_send_str (c, "GET /api/events HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  g_autoptr (TestResponse) r1 = test_client_read (c, FALSE);
  ck_assert_ptr_nonnull (r1);
  ck_assert_uint_eq (r1->status, 200);
  ck_assert (!r1->was_chunked);
  ck_assert_ptr_nonnull (test_response_header (r1, "content-length"));
  ck_assert_str_eq (test_response_header (r1, "connection"), "keep-alive");
  test_client_send_str (c, "GET /api/peers HTTP/1.0\r\n\r\n");
  g_autoptr (TestResponse) r2 = test_client_read (c, FALSE);
  ck_assert_ptr_nonnull (r2);
  ck_assert_str_eq (test_response_header (r2, "connection"), "close");
  ck_assert (test_client_wait_eof (c, 2000));
}
END_TEST

START_TEST (test_pipelining)
{
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  test_client_send_str (c, GET ("/api/peers") "HEAD /monitor.css HTTP/1.1\r\nHost: t\r\n\r\n"
                        GET ("/nope") GET ("/monitor.css") GET ("/api/files"));
  static const guint want[] = { 200, 200, 404, 200, 200 };
  gsize css_len = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_autoptr (TestResponse) r = test_client_read (c, i == 1);
      ck_assert_msg (r != NULL, "response %zu missing", i);
      ck_assert_uint_eq (r->status, want[i]);
      if (i == 0)
        ck_assert (strstr ((char *) r->body->data, "\"peers\"") != NULL);
      if (i == 1)
        css_len = g_ascii_strtoull (test_response_header (r, "content-length"), NULL, 10);
      if (i == 3)
        {
          ck_assert_uint_eq (r->body->len, css_len);   /* HEAD told the truth */
          ck_assert_str_eq (test_response_header (r, "content-type"), "text/css; charset=utf-8");
        }
      if (i == 4)
        ck_assert (strstr ((char *) r->body->data, "\"files\"") != NULL);
    }
}
END_TEST

START_TEST (test_pipelining_many)
{
  /* 200 requests in one write: all answered, in order (ids alternate). */
  g_autoptr (GString) burst = g_string_new (NULL);
  for (int i = 0; i < 200; i++)
    g_string_append (burst, i % 2 ? GET ("/api/peers") : GET ("/api/files"));
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  test_client_send (c, burst->str, burst->len);
  for (int i = 0; i < 200; i++)
    {
      g_autoptr (TestResponse) r = test_client_read (c, FALSE);
      ck_assert_msg (r != NULL, "response %d missing", i);
      ck_assert_uint_eq (r->status, 200);
      g_autoptr (JsonParser) parser = json_parser_new ();
      ck_assert (json_object_has_member (body_object (r, parser), i % 2 ? "peers" : "files"));
    }
}
END_TEST

/* Requests keep arriving while the answers back up (tiny client window):
 * every answer still comes out whole and in order. */
START_TEST (test_pipelining_slow_reader)
{
  g_autoptr (TestClient) c = test_client_connect_small_window (ts->port);
  g_autoptr (GString) batch = g_string_new (NULL);
  for (int i = 0; i < 200; i++)
    g_string_append (batch, i % 3 ? GET ("/api/status") : GET ("/api/peers"));
  for (int round = 0; round < 3; round++)
    {
      test_client_send (c, batch->str, batch->len);
      g_usleep (100 * 1000);
    }
  for (int i = 0; i < 600; i++)
    {
      g_autoptr (TestResponse) r = test_client_read (c, FALSE);
      ck_assert_msg (r != NULL, "response %d missing", i);
      ck_assert_uint_eq (r->status, 200);
      g_autoptr (JsonParser) parser = json_parser_new ();
      ck_assert (json_object_has_member (body_object (r, parser), (i % 200) % 3 ? "catalog_digest" : "peers"));
    }
}
END_TEST

START_TEST (test_head)
{
  g_autoptr (TestResponse) get = test_fetch (ts->port, GET ("/"), FALSE);
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  test_client_send_str (c, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" GET ("/api/peers"));
  g_autoptr (TestResponse) head = test_client_read (c, TRUE);
  ck_assert_ptr_nonnull (head);
  ck_assert_uint_eq (head->status, 200);
  ck_assert_uint_eq (g_ascii_strtoull (test_response_header (head, "content-length"), NULL, 10), get->body->len);
  ck_assert_str_eq (test_response_header (head, "etag"), test_response_header (get, "etag"));
  /* No body came: the next bytes are the next response. */
  g_autoptr (TestResponse) next = test_client_read (c, FALSE);
  ck_assert_ptr_nonnull (next);
  ck_assert_uint_eq (next->status, 200);
  ck_assert (strstr ((char *) get->body->data, "<!DOCTYPE html>") != NULL);
  ck_assert_str_eq (test_response_header (get, "content-security-policy"),
                    "default-src 'self'; frame-ancestors 'none'");
}
END_TEST

START_TEST (test_etag_304)
{
  static const char *const paths[] = { "/", "/monitor.js", "/monitor.css", "/api/i18n" };
  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: t\r\n\r\n", paths[i]);
      g_autoptr (TestResponse) r = test_fetch (ts->port, req, FALSE);
      const char *etag = test_response_header (r, "etag");
      ck_assert_ptr_nonnull (etag);
      ck_assert (etag[0] == '"');
      g_autofree char *cond = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"x\", W/%s\r\n\r\n",
                                               paths[i], etag);
      g_autoptr (TestClient) c = test_client_connect (ts->port);
      test_client_send_str (c, cond);
      test_client_send_str (c, GET ("/api/peers"));
      g_autoptr (TestResponse) nm = test_client_read (c, FALSE);
      ck_assert_ptr_nonnull (nm);
      ck_assert_uint_eq (nm->status, 304);
      ck_assert_str_eq (test_response_header (nm, "etag"), etag);
      ck_assert_uint_eq (nm->body->len, 0);
      g_autoptr (TestResponse) after = test_client_read (c, FALSE);   /* 304 had no body */
      ck_assert_ptr_nonnull (after);
      ck_assert_uint_eq (after->status, 200);
      g_autofree char *other = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"nope\"\r\n\r\n", paths[i]);
      ck_assert_uint_eq (status_of (other), 200);
    }
}
END_TEST

START_TEST (test_language)
{
  g_autoptr (TestResponse) es = test_fetch (ts->port, "GET /api/i18n HTTP/1.1\r\nHost: t\r\n"
                                            "Accept-Language: fr;q=0.9, es-AR;q=0.8, en;q=0.5\r\n\r\n", FALSE);
  g_autoptr (TestResponse) en = test_fetch (ts->port, "GET /api/i18n HTTP/1.1\r\nHost: t\r\n"
                                            "Accept-Language: en-GB, es;q=0.3\r\n\r\n", FALSE);
  g_autoptr (TestResponse) q = test_fetch (ts->port, "GET /api/i18n?lang=es HTTP/1.1\r\nHost: t\r\n\r\n", FALSE);
  ck_assert (strstr ((char *) es->body->data, "\"lang\": \"es\"") != NULL);
  ck_assert (strstr ((char *) en->body->data, "\"lang\": \"en\"") != NULL);
  ck_assert (strstr ((char *) q->body->data, "\"lang\": \"es\"") != NULL);
  ck_assert_str_eq (test_response_header (es, "vary"), "Accept-Language");
}
END_TEST

START_TEST (test_chunked)
{
  g_autoptr (TestResponse) ev = test_fetch (ts->port, GET ("/api/events"), FALSE);
  ck_assert_ptr_nonnull (ev);
  ck_assert (ev->was_chunked);
  g_autoptr (JsonParser) parser = json_parser_new ();
  ck_assert (json_object_has_member (body_object (ev, parser), "requests"));
  g_autoptr (TestResponse) m = test_fetch (ts->port, GET ("/metrics"), FALSE);
  ck_assert_ptr_nonnull (m);
  ck_assert (m->was_chunked);
  ck_assert_uint_gt (m->body->len, 4096);      /* more than one chunk */
  ck_assert (g_str_has_prefix ((char *) m->body->data, "# HELP "));
}
END_TEST

START_TEST (test_error_statuses)
{
  ck_assert_uint_eq (status_of (GET ("/does/not/exist")), 404);
  ck_assert_uint_eq (status_of (GET ("/api/status/")), 404);
  ck_assert_uint_eq (status_of ("GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
  ck_assert_uint_eq (status_of ("GET /../monitor.css HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
  ck_assert_uint_eq (status_of ("GET /api/../monitor.css HTTP/1.1\r\nHost: t\r\n\r\n"), 200);
  ck_assert_uint_eq (status_of ("GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
  ck_assert_uint_eq (status_of ("GET / HTTP/1.1\nHost: t\n\n"), 400);
  ck_assert_uint_eq (status_of ("G@T / HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
  ck_assert_uint_eq (status_of ("GET / HTTP/9.1\r\nHost: t\r\n\r\n"), 505);
  ck_assert_uint_eq (status_of ("GET / HTTP/1.1\r\n\r\n"), 400);
  ck_assert_uint_eq (status_of ("POST /api/status HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"), 413);
  ck_assert_uint_eq (status_of ("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 413);
  ck_assert_uint_eq (status_of ("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"), 400);

  g_autoptr (TestResponse) r405 = test_fetch (ts->port, "DELETE /api/status HTTP/1.1\r\nHost: t\r\n\r\n", FALSE);
  ck_assert_uint_eq (r405->status, 405);
  ck_assert_str_eq (test_response_header (r405, "allow"), "GET, HEAD");
  g_autoptr (TestResponse) opt = test_fetch (ts->port, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", FALSE);
  ck_assert_uint_eq (opt->status, 405);

  /* NUL byte: 400 and the connection is closed. */
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  test_client_send (c, "GET /\0 HTTP/1.1\r\n\r\n", 19);
  g_autoptr (TestResponse) nul = test_client_read (c, FALSE);
  ck_assert_uint_eq (nul->status, 400);
  ck_assert_str_eq (test_response_header (nul, "connection"), "close");
  ck_assert (test_client_wait_eof (c, 2000));
}
END_TEST

START_TEST (test_431)
{
  g_autoptr (GString) req = g_string_new ("GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
  for (int i = 0; i < 20000; i++)
    g_string_append_c (req, 'a');
  g_string_append (req, "\r\n\r\n");
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  test_client_send (c, req->str, req->len);
  g_autoptr (TestResponse) r = test_client_read (c, FALSE);
  ck_assert_ptr_nonnull (r);
  ck_assert_uint_eq (r->status, 431);
  ck_assert (test_client_wait_eof (c, 3000));
  /* The server is still fine. */
  ck_assert_uint_eq (status_of (GET ("/api/peers")), 200);
}
END_TEST

START_TEST (test_token)
{
  g_autoptr (TestResponse) none = test_fetch (ts->port, GET ("/api/status"), FALSE);
  ck_assert_uint_eq (none->status, 401);
  ck_assert_ptr_nonnull (test_response_header (none, "www-authenticate"));
  ck_assert_uint_eq (status_of ("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-kez\r\n\r\n"), 401);
  ck_assert_uint_eq (status_of ("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-key2\r\n\r\n"), 401);
  ck_assert_uint_eq (status_of ("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Basic s3cret-key\r\n\r\n"), 401);
  ck_assert_uint_eq (status_of ("GET /api/status HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret-key\r\n\r\n"), 200);
  ck_assert_uint_eq (status_of ("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: bearer s3cret-key\r\n\r\n"), 200);
  /* The page and its strings hold no cluster data: open. */
  ck_assert_uint_eq (status_of (GET ("/")), 200);
  ck_assert_uint_eq (status_of (GET ("/api/i18n")), 200);
}
END_TEST

START_TEST (test_slowloris_timeout)
{
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  test_client_send_str (c, "GET /api/status HTTP/1.1\r\nHo");
  g_autoptr (TestResponse) r = test_client_read (c, FALSE);   /* server answers 408 */
  ck_assert_ptr_nonnull (r);
  ck_assert_uint_eq (r->status, 408);
  ck_assert (test_client_wait_eof (c, 3000));
}
END_TEST

START_TEST (test_idle_timeout)
{
  g_autoptr (TestClient) quiet = test_client_connect (ts->port);
  ck_assert (test_client_wait_eof (quiet, 3000));
  g_autoptr (TestClient) c = test_client_connect (ts->port);
  test_client_send_str (c, GET ("/api/peers"));
  g_autoptr (TestResponse) r = test_client_read (c, FALSE);
  ck_assert_uint_eq (r->status, 200);
  ck_assert (test_client_wait_eof (c, 3000));
}
END_TEST

START_TEST (test_connection_limit)
{
  TestClient *held[3];
  for (int i = 0; i < 3; i++)
    {
      held[i] = test_client_connect (ts->port);
      test_client_send_str (held[i], "GET /api/peers HTTP/1.1\r\nHost: t\r\n\r\n");
      g_autoptr (TestResponse) r = test_client_read (held[i], FALSE);
      ck_assert_ptr_nonnull (r);
    }
  /* The fourth is closed without an answer. */
  g_autoptr (TestClient) extra = test_client_connect (ts->port);
  ck_assert (test_client_wait_eof (extra, 250));
  for (int i = 0; i < 3; i++)
    test_client_free (held[i]);
  MonitorServerStats stats;
  monitor_server_get_stats (ts->server, &stats);
  ck_assert_uint_ge (stats.connections_rejected, 1);
}
END_TEST

/* ---- the main loop stays responsive ----------------------------------- */

typedef struct {
  gint64 last_us;
  gint64 max_gap_us;
  guint ticks;
  GSource *source;
} Heartbeat;

static gboolean
heartbeat_tick (gpointer data)
{
  Heartbeat *hb = data;
  gint64 now = g_get_monotonic_time ();
  if (hb->last_us)
    hb->max_gap_us = MAX (hb->max_gap_us, now - hb->last_us);
  hb->last_us = now;
  g_atomic_int_inc (&hb->ticks);
  return G_SOURCE_CONTINUE;
}

static gboolean
heartbeat_start (gpointer data)
{
  Heartbeat *hb = data;
  hb->source = g_timeout_source_new (20);
  g_source_set_callback (hb->source, heartbeat_tick, hb, NULL);
  g_source_attach (hb->source, g_main_context_get_thread_default ());
  return G_SOURCE_REMOVE;
}

static gboolean
heartbeat_stop (gpointer data)
{
  Heartbeat *hb = data;
  g_source_destroy (hb->source);
  g_source_unref (hb->source);
  return G_SOURCE_REMOVE;
}

START_TEST (test_heartbeat_with_slow_clients)
{
  Heartbeat hb = { 0 };
  test_server_invoke (ts, heartbeat_start, &hb);
  /* A slowloris dribbling a head, and a client that asks a lot and never
   * reads its answers. */
  g_autoptr (TestClient) slow = test_client_connect (ts->port);
  g_autoptr (TestClient) greedy = test_client_connect (ts->port);
  g_autoptr (GString) burst = g_string_new (NULL);
  for (int i = 0; i < 300; i++)
    g_string_append (burst, GET ("/api/status"));
  test_client_send (greedy, burst->str, burst->len);
  const char *dribble = "GET /api/status HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaa";
  gboolean sending = TRUE;
  GSocket *s = g_socket_connection_get_socket (slow->connection);
  for (gsize i = 0; i < strlen (dribble); i++)
    {
      /* Keep going after the server gave up on us (it should). */
      if (sending && g_socket_send (s, dribble + i, 1, NULL, NULL) != 1)
        sending = FALSE;
      g_usleep (50 * 1000);
    }
  test_server_invoke (ts, heartbeat_stop, &hb);
  /* ~2.8 s of 20 ms ticks: a blocked loop would show a gap of seconds. */
  ck_assert_uint_ge (hb.ticks, 50);
  ck_assert_msg (hb.max_gap_us < 1000 * 1000, "main loop stalled for %" G_GINT64_FORMAT " us", hb.max_gap_us);
  ck_assert (test_client_wait_eof (slow, 3000));
  ck_assert_uint_eq (status_of (GET ("/api/peers")), 200);
}
END_TEST

START_TEST (test_bind_address)
{
  /* A bad bind address is an error, not a crash; a name is resolved. */
  MonitorConfig config;
  monitor_config_init (&config);
  config.address = "no-such-host.invalid";
  g_autoptr (GError) error = NULL;
  ck_assert_ptr_null (monitor_server_new (&config, NULL, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
  config.address = "localhost";
  MonitorServer *server = monitor_server_new (&config, NULL, NULL);
  ck_assert_ptr_nonnull (server);
  ck_assert_uint_gt (monitor_server_get_port (server), 0);
  monitor_server_free (server);
}
END_TEST

static Suite *
server_suite (void)
{
  Suite *s = suite_create ("monitor-server");
  TCase *tc = tcase_create ("default");
  tcase_add_checked_fixture (tc, setup_default, teardown);
  tcase_add_test (tc, test_status_json);
  tcase_add_test (tc, test_other_api);
  tcase_add_test (tc, test_keep_alive);
  tcase_add_test (tc, test_http10);
  tcase_add_test (tc, test_pipelining);
  tcase_add_test (tc, test_pipelining_many);
  tcase_add_test (tc, test_pipelining_slow_reader);
  tcase_add_test (tc, test_head);
  tcase_add_test (tc, test_etag_304);
  tcase_add_test (tc, test_language);
  tcase_add_test (tc, test_chunked);
  tcase_add_test (tc, test_error_statuses);
  tcase_add_test (tc, test_431);
  suite_add_tcase (s, tc);
  TCase *config = tcase_create ("config");
  tcase_add_test (config, test_bind_address);
  tcase_add_test (config, test_api_cache);
  suite_add_tcase (s, config);
  TCase *auth = tcase_create ("token");
  tcase_add_checked_fixture (auth, setup_token, teardown);
  tcase_add_test (auth, test_token);
  suite_add_tcase (s, auth);
  TCase *slow = tcase_create ("slow-clients");
  tcase_add_checked_fixture (slow, setup_short_timeouts, teardown);
  tcase_add_test (slow, test_slowloris_timeout);
  tcase_add_test (slow, test_idle_timeout);
  tcase_add_test (slow, test_connection_limit);
  tcase_add_test (slow, test_heartbeat_with_slow_clients);
  suite_add_tcase (s, slow);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (server_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
