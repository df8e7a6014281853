/* monitor-server-private.h — (internal) what the server, its connections
 * and its routes share. */
#pragma once

#include "monitor-assets.h"
#include "monitor-http-parser.h"
#include "monitor-response.h"
#include "monitor-server.h"

G_BEGIN_DECLS

#define MONITOR_LINGER_MS 2000        /* wait for the peer's FIN after ours */
#define MONITOR_OUTPUT_HIGH (256 * 1024)  /* stop parsing above this backlog */

struct _MonitorServer {
  MonitorConfig config;       /* strings owned */
  MonitorSource source;
  GMainContext *context;
  GSocketService *service;
  GSource *sweep;
  guint16 port;
  MonitorAssets *assets;
  GHashTable *connections;    /* MonitorConn* set; a conn's first ref */
  guint live_connections;     /* not yet freed (may be closing) */
  MonitorServerStats stats;
  guint64 responses_by_status[6];   /* index status / 100 */
  char date[40];
  gint64 date_second;
  GBytes *api_bodies[4];      /* the JSON API's last bodies (status, peers, */
  gint64 api_built_us[4];     /* files, events) and when they were built */
};

typedef struct _MonitorConn MonitorConn;

/* monitor-connection.c */
MonitorConn *monitor_conn_new (MonitorServer *server, GSocketConnection *connection);
/* Checks the connection's deadlines; may close it. */
void monitor_conn_sweep (MonitorConn *conn, gint64 now_us);
/* Closes at once; frees once pending async calls have returned. */
void monitor_conn_close (MonitorConn *conn);

/* monitor-server.c */
const char *monitor_server_date (MonitorServer *server);
/* Removes @conn from the table (monitor_conn_close does the unref). */
void monitor_server_forget (MonitorServer *server, MonitorConn *conn);

/* monitor-routes.c: the answer to one parsed request. */
MonitorResponse *monitor_routes_handle (MonitorServer *server, const MonitorRequest *request);
/* The Bearer check, constant time in the token's content. */
gboolean monitor_token_check (const char *expected, const char *authorization);

G_END_DECLS
