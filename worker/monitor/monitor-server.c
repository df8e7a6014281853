/* monitor-server.c — the monitor's listening socket (GSocketService), its
 * connection table and limit, and the periodic sweep that enforces the
 * slow-client deadlines. */
#include "config.h"

#include "monitor-server-private.h"

#include <gio/gnetworking.h>
#include <glib/gi18n-lib.h>
#include <string.h>

void
monitor_config_init (MonitorConfig *config)
{
  memset (config, 0, sizeof *config);
  config->address = "127.0.0.1";
  config->request_timeout_ms = 10000;
  config->idle_timeout_ms = 30000;
  config->write_timeout_ms = 10000;
  config->max_connections = 64;
}

const char *
monitor_server_date (MonitorServer *server)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  gint64 second = g_get_real_time () / G_USEC_PER_SEC;
  if (second != server->date_second)
    {
      /* Formatted by hand: strftime names would follow the locale. */
      g_autoptr (GDateTime) now = g_date_time_new_from_unix_utc (second);
      g_snprintf (server->date, sizeof server->date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                  days[g_date_time_get_day_of_week (now) - 1], g_date_time_get_day_of_month (now),
                  months[g_date_time_get_month (now) - 1], g_date_time_get_year (now),
                  g_date_time_get_hour (now), g_date_time_get_minute (now),
                  g_date_time_get_second (now));
      server->date_second = second;
    }
  return server->date;
}

void
monitor_server_forget (MonitorServer *server, MonitorConn *conn)
{
  g_hash_table_remove (server->connections, conn);
  server->stats.open_connections = g_hash_table_size (server->connections);
}

static gboolean
server_on_incoming (GSocketService *service, GSocketConnection *connection,
                    GObject *source_object, gpointer data)
{
  MonitorServer *server = data;
  if (g_hash_table_size (server->connections) >= server->config.max_connections)
    {
      server->stats.connections_rejected++;
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  server->stats.connections_total++;
  MonitorConn *conn = monitor_conn_new (server, connection);
  g_hash_table_add (server->connections, conn);
  server->stats.open_connections = g_hash_table_size (server->connections);
  return TRUE;
}

static gboolean
server_on_sweep (gpointer data)
{
  MonitorServer *server = data;
  gint64 now = g_get_monotonic_time ();
  /* A sweep may close connections: walk a copy of the table. */
  g_autofree gpointer *conns = (gpointer *) g_hash_table_get_keys_as_array (server->connections, NULL);
  for (gpointer *c = conns; *c; c++)
    monitor_conn_sweep (*c, now);
  return G_SOURCE_CONTINUE;
}

static guint
sweep_interval_ms (const MonitorConfig *config)
{
  guint shortest = MIN (config->request_timeout_ms, MIN (config->idle_timeout_ms, config->write_timeout_ms));
  return CLAMP (shortest / 4, 10, 500);
}

/* An IP literal as is; a name (CLUSTER.ini may say "localhost:8001") is
 * resolved once, here, before the server runs. */
static GInetAddress *
bind_address_resolve (const char *host, GError **error)
{
  GInetAddress *inet = g_inet_address_new_from_string (host);
  if (inet != NULL)
    return inet;
  g_autoptr (GResolver) resolver = g_resolver_get_default ();
  g_autoptr (GError) local = NULL;
  GList *found = g_resolver_lookup_by_name (resolver, host, NULL, &local);
  if (found == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Monitor bind address “%s” is neither an IP address nor a known host: %s"),
                   host, local->message);
      return NULL;
    }
  inet = g_object_ref (found->data);
  g_resolver_free_addresses (found);
  return inet;
}

static gboolean
server_listen (MonitorServer *server, GError **error)
{
  g_autoptr (GInetAddress) inet = bind_address_resolve (server->config.address, error);
  if (inet == NULL)
    return FALSE;
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (inet, server->config.port);
  g_autoptr (GSocketAddress) effective = NULL;
  server->service = g_socket_service_new ();
  /* GLib's default backlog (10) drops SYNs from a burst of browsers. */
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (server->service), 128);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (server->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &effective, error))
    {
      g_prefix_error (error, _("Monitor cannot listen on %s:%u: "), server->config.address,
                      server->config.port);
      return FALSE;
    }
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (server->service, "incoming", G_CALLBACK (server_on_incoming), server);
  g_socket_service_start (server->service);
  return TRUE;
}

MonitorServer *
monitor_server_new (const MonitorConfig *config, const MonitorSource *source, GError **error)
{
  MonitorServer *server = g_new0 (MonitorServer, 1);
  server->config = *config;
  server->config.address = g_strdup (config->address ? config->address : "127.0.0.1");
  server->config.token = config->token && config->token[0] ? g_strdup (config->token) : NULL;
  server->config.request_timeout_ms = MAX (config->request_timeout_ms, 1);
  server->config.idle_timeout_ms = MAX (config->idle_timeout_ms, 1);
  server->config.write_timeout_ms = MAX (config->write_timeout_ms, 1);
  server->config.max_connections = MAX (config->max_connections, 1);
  if (source)
    server->source = *source;
  server->context = g_main_context_ref_thread_default ();
  server->connections = g_hash_table_new (g_direct_hash, g_direct_equal);
  server->assets = monitor_assets_load (error);
  if (server->assets == NULL || !server_listen (server, error))
    {
      monitor_server_free (server);
      return NULL;
    }
  server->sweep = g_timeout_source_new (sweep_interval_ms (&server->config));
  g_source_set_callback (server->sweep, server_on_sweep, server, NULL);
  g_source_attach (server->sweep, server->context);
  return server;
}

void
monitor_server_free (MonitorServer *server)
{
  if (server == NULL)
    return;
  if (server->sweep)
    {
      g_source_destroy (server->sweep);
      g_source_unref (server->sweep);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (server->api_bodies); i++)
    g_clear_pointer (&server->api_bodies[i], g_bytes_unref);
  if (server->service)
    {
      g_signal_handlers_disconnect_by_data (server->service, server);
      g_socket_service_stop (server->service);
      g_socket_listener_close (G_SOCKET_LISTENER (server->service));
      g_object_unref (server->service);
    }
  g_autofree gpointer *conns = (gpointer *) g_hash_table_get_keys_as_array (server->connections, NULL);
  for (gpointer *c = conns; *c; c++)
    monitor_conn_close (*c);
  /* Cancelled calls still report back: let them, so nothing leaks. */
  while (server->live_connections > 0)
    g_main_context_iteration (server->context, TRUE);
  g_hash_table_unref (server->connections);
  monitor_assets_free (server->assets);
  g_main_context_unref (server->context);
  g_free ((char *) server->config.address);
  g_free ((char *) server->config.token);
  g_free (server);
}

guint16
monitor_server_get_port (const MonitorServer *server)
{
  return server->port;
}

void
monitor_server_get_stats (const MonitorServer *server, MonitorServerStats *stats)
{
  *stats = server->stats;
}
