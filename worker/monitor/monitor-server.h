/* monitor-server.h — the worker's web monitor: a hand-written HTTP/1.1
 * server on GSocketService (GIO async only, so a slow or stuck browser can
 * never delay the main loop it shares with Raft heartbeats). Read-only:
 * it serves the page, the JSON API and /metrics from a MonitorSource. */
#pragma once

#include <gio/gio.h>

#include "monitor-source.h"

G_BEGIN_DECLS

typedef struct {
  const char *address;        /* bind address: "127.0.0.1", "0.0.0.0", "::";
                               * a host name is resolved once, at start */
  guint16 port;               /* 0: any free port (see get_port) */
  const char *token;          /* NULL/"": open; else data endpoints need
                               * "Authorization: Bearer <token>" */
  guint request_timeout_ms;   /* a request head must arrive within this */
  guint idle_timeout_ms;      /* idle keep-alive connections are closed */
  guint write_timeout_ms;     /* a client must accept output this often */
  guint max_connections;      /* more are closed at once */
  guint api_cache_ms;         /* a JSON API body is reused for this long, so
                               * a flood of pollers costs one build per
                               * period (0: built for every request) */
} MonitorConfig;

/* Defaults: 127.0.0.1, port 0, no token, 10 s, 30 s, 10 s, 64, no cache. */
void monitor_config_init (MonitorConfig *config);

typedef struct {
  guint64 connections_total;
  guint64 connections_rejected;
  guint64 requests_total;
  guint64 timeouts_total;
  guint open_connections;
} MonitorServerStats;

typedef struct _MonitorServer MonitorServer;

/* Binds and starts serving on the thread-default main context. The config
 * strings are copied; @source is copied (user_data stays borrowed). */
MonitorServer *monitor_server_new (const MonitorConfig *config,
                                   const MonitorSource *source,
                                   GError **error);
/* Stops listening and closes every connection. */
void monitor_server_free (MonitorServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MonitorServer, monitor_server_free)

guint16 monitor_server_get_port (const MonitorServer *server);
void monitor_server_get_stats (const MonitorServer *server, MonitorServerStats *stats);

G_END_DECLS
