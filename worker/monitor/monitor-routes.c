/* monitor-routes.c — what each path answers: the page assets (ETag / 304),
 * the page strings per language, the JSON API (monitor-api.c) and
 * /metrics. Also the checks every request goes through: body (413),
 * path (404), method (405), bearer token (401). */
#include "monitor-server-private.h"

#include <string.h>

#include "monitor-api.h"

typedef enum { ROUTE_ASSET, ROUTE_I18N, ROUTE_STATUS, ROUTE_PEERS, ROUTE_FILES,
               ROUTE_EVENTS, ROUTE_METRICS } RouteKind;

static const struct {
  const char *path;
  RouteKind kind;
  gboolean protected;         /* needs the token when one is set */
} routes[] = {
  { "/api/i18n", ROUTE_I18N, FALSE },
  { "/api/status", ROUTE_STATUS, TRUE },
  { "/api/peers", ROUTE_PEERS, TRUE },
  { "/api/files", ROUTE_FILES, TRUE },
  { "/api/events", ROUTE_EVENTS, TRUE },
  { "/metrics", ROUTE_METRICS, TRUE },
};

gboolean
monitor_token_check (const char *expected, const char *authorization)
{
  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return FALSE;
  const char *given = authorization + 7;
  while (*given == ' ')
    given++;
  /* Compare digests byte by byte without early exit: the time taken says
   * nothing about how much of the token was right, nor its length. */
  guint8 a[32], b[32];
  gsize la = sizeof a, lb = sizeof b;
  GChecksum *ca = g_checksum_new (G_CHECKSUM_SHA256);
  GChecksum *cb = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (ca, (const guchar *) expected, strlen (expected));
  g_checksum_update (cb, (const guchar *) given, strlen (given));
  g_checksum_get_digest (ca, a, &la);
  g_checksum_get_digest (cb, b, &lb);
  g_checksum_free (ca);
  g_checksum_free (cb);
  guint8 diff = 0;
  for (gsize i = 0; i < sizeof a; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

/* ---- JSON API ------------------------------------------------------- */

static MonitorResponse *
response_json (GBytes *body)
{
  MonitorResponse *response = monitor_response_new (200);
  monitor_response_set_body (response, body, "application/json; charset=utf-8");
  monitor_response_add_header (response, "Cache-Control", "no-store");
  g_bytes_unref (body);
  return response;
}

/* ---- /metrics --------------------------------------------------------- */

static void
metrics_add_own (MonitorMetrics *m, const MonitorServer *server)
{
  static const char *const classes[] = { "1xx", "1xx", "2xx", "3xx", "4xx", "5xx" };
  monitor_metrics_gauge (m, "minka_monitor_connections", "Open monitor HTTP connections.",
                         NULL, server->stats.open_connections);
  monitor_metrics_counter (m, "minka_monitor_connections_total", "Monitor HTTP connections accepted.",
                           NULL, server->stats.connections_total);
  monitor_metrics_counter (m, "minka_monitor_connections_rejected_total",
                           "Monitor HTTP connections refused by the connection limit.",
                           NULL, server->stats.connections_rejected);
  monitor_metrics_counter (m, "minka_monitor_requests_total", "Monitor HTTP requests answered.",
                           NULL, server->stats.requests_total);
  monitor_metrics_counter (m, "minka_monitor_timeouts_total",
                           "Monitor HTTP connections closed for being too slow.",
                           NULL, server->stats.timeouts_total);
  for (guint i = 2; i < G_N_ELEMENTS (classes); i++)
    {
      const char *labels[] = { "code", classes[i], NULL };
      monitor_metrics_counter (m, "minka_monitor_responses_total",
                               "Monitor HTTP responses by status class.",
                               labels, server->responses_by_status[i]);
    }
}

static MonitorResponse *
response_metrics (const MonitorServer *server)
{
  g_autoptr (MonitorMetrics) metrics = monitor_metrics_new ();
  if (server->source.metrics)
    server->source.metrics (metrics, server->source.user_data);
  metrics_add_own (metrics, server);
  char *text = monitor_metrics_render (metrics);
  g_autoptr (GBytes) body = g_bytes_new_take (text, strlen (text));
  MonitorResponse *response = monitor_response_new (200);
  monitor_response_set_body (response, body, MONITOR_METRICS_CONTENT_TYPE);
  monitor_response_add_header (response, "Cache-Control", "no-store");
  response->chunked = TRUE;
  return response;
}

/* ---- static assets ---------------------------------------------------- */

static MonitorResponse *
response_asset (const MonitorAsset *asset, const MonitorRequest *request, gboolean vary)
{
  MonitorResponse *response;
  if (monitor_etag_matches (monitor_request_get_header (request, "if-none-match"), asset->etag))
    response = monitor_response_new (304);
  else
    {
      response = monitor_response_new (200);
      monitor_response_set_body (response, asset->bytes, asset->content_type);
    }
  monitor_response_add_header (response, "ETag", asset->etag);
  monitor_response_add_header (response, "Cache-Control", "no-cache");
  monitor_response_add_header (response, "X-Content-Type-Options", "nosniff");
  if (g_str_has_prefix (asset->content_type, "text/html"))
    monitor_response_add_header (response, "Content-Security-Policy",
                                 "default-src 'self'; frame-ancestors 'none'");
  if (vary)
    monitor_response_add_header (response, "Vary", "Accept-Language");
  return response;
}

/* ---- dispatch --------------------------------------------------------- */

static gboolean
route_find (const MonitorServer *server, const char *path, RouteKind *kind, gboolean *protected)
{
  for (gsize i = 0; i < G_N_ELEMENTS (routes); i++)
    if (strcmp (routes[i].path, path) == 0)
      {
        *kind = routes[i].kind;
        *protected = routes[i].protected;
        return TRUE;
      }
  const MonitorAsset *asset = monitor_assets_lookup (server->assets, path);
  *kind = ROUTE_ASSET;
  *protected = FALSE;
  return asset != NULL && path[0] == '/';
}

/* The body of a JSON API route, rebuilt when older than api_cache_ms. */
static GBytes *
api_body (MonitorServer *server, RouteKind kind)
{
  const MonitorSource *src = &server->source;
  guint slot = kind - ROUTE_STATUS;
  gint64 now = g_get_monotonic_time ();
  g_assert (slot < G_N_ELEMENTS (server->api_bodies));
  if (server->api_bodies[slot] != NULL
      && now - server->api_built_us[slot] < (gint64) server->config.api_cache_ms * 1000)
    return g_bytes_ref (server->api_bodies[slot]);
  GBytes *body = NULL;
  switch (kind)
    {
    case ROUTE_STATUS: body = monitor_api_status (src); break;
    case ROUTE_PEERS:  body = monitor_api_peers (src); break;
    case ROUTE_FILES:  body = monitor_api_files (src); break;
    case ROUTE_EVENTS: body = monitor_api_events (src); break;
    default: g_assert_not_reached ();
    }
  g_clear_pointer (&server->api_bodies[slot], g_bytes_unref);
  server->api_bodies[slot] = g_bytes_ref (body);
  server->api_built_us[slot] = now;
  return body;
}

static MonitorResponse *
route_dispatch (MonitorServer *server, RouteKind kind, const MonitorRequest *request)
{
  switch (kind)
    {
    case ROUTE_ASSET:
      return response_asset (monitor_assets_lookup (server->assets, request->path), request, FALSE);
    case ROUTE_I18N:
      {
        const char *lang = monitor_language_negotiate (
            monitor_request_get_header (request, "accept-language"), request->query);
        return response_asset (monitor_assets_i18n (server->assets, lang), request, TRUE);
      }
    case ROUTE_STATUS:
    case ROUTE_PEERS:
    case ROUTE_FILES:
      return response_json (api_body (server, kind));
    case ROUTE_EVENTS:
      {
        MonitorResponse *response = response_json (api_body (server, kind));
        response->chunked = TRUE;     /* can grow long: sent chunked */
        return response;
      }
    case ROUTE_METRICS:
      return response_metrics (server);
    default:
      g_assert_not_reached ();
    }
}

MonitorResponse *
monitor_routes_handle (MonitorServer *server, const MonitorRequest *request)
{
  RouteKind kind;
  gboolean protected;
  if (monitor_request_has_body (request))
    {
      /* No endpoint takes a body; we do not read it, so the connection ends. */
      MonitorResponse *response = monitor_response_new_error (413);
      response->close = TRUE;
      return response;
    }
  if (strcmp (request->path, "*") == 0)
    {
      MonitorResponse *response = monitor_response_new_error (405);
      monitor_response_add_header (response, "Allow", "GET, HEAD");
      return response;
    }
  if (!route_find (server, request->path, &kind, &protected))
    return monitor_response_new_error (404);
  if (request->method_id != MONITOR_METHOD_GET && request->method_id != MONITOR_METHOD_HEAD)
    {
      MonitorResponse *response = monitor_response_new_error (405);
      monitor_response_add_header (response, "Allow", "GET, HEAD");
      return response;
    }
  if (protected && server->config.token
      && !monitor_token_check (server->config.token, monitor_request_get_header (request, "authorization")))
    {
      MonitorResponse *response = monitor_response_new_error (401);
      monitor_response_add_header (response, "WWW-Authenticate", "Bearer realm=\"minka-monitor\"");
      return response;
    }
  return route_dispatch (server, kind, request);
}
