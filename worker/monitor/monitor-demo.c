/* monitor-demo.c — minka-monitor-demo: serves the monitor page, API and
 * metrics from fake, changing worker state, to try and test the monitor
 * before the worker exists. Prints "listening on http://ADDR:PORT/". */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <locale.h>
#include <stdio.h>

#include "minka-compat.h"
#include "monitor-fake-source.h"
#include "monitor-server.h"

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, minka_locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_autofree char *address = NULL;
  g_autofree char *token = NULL;
  gint port = 0, request_ms = 10000, idle_ms = 30000, max_conns = 64, worker_id = 1;
  GOptionEntry entries[] = {
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address, N_("Address to listen on (default 127.0.0.1)"), N_("IP") },
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, N_("Port to listen on (0: any free port)"), N_("PORT") },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token, N_("Require this bearer token for the data endpoints"), N_("KEY") },
    { "request-timeout-ms", 0, 0, G_OPTION_ARG_INT, &request_ms, N_("Time allowed to send a request head"), N_("MS") },
    { "idle-timeout-ms", 0, 0, G_OPTION_ARG_INT, &idle_ms, N_("Idle keep-alive connections are closed after this"), N_("MS") },
    { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_conns, N_("Maximum open connections"), N_("N") },
    { "worker-id", 0, 0, G_OPTION_ARG_INT, &worker_id, N_("ID of the fake worker (1 is the leader)"), N_("ID") },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("Serve the Minka worker monitor with fake, changing data."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr (_("minka-monitor-demo: %s\n"), error->message);
      return 2;
    }
  if (port < 0 || port > 65535 || request_ms <= 0 || idle_ms <= 0 || max_conns <= 0 || worker_id <= 0)
    {
      g_printerr (_("minka-monitor-demo: an option is out of range\n"));
      return 2;
    }

  MonitorConfig config;
  monitor_config_init (&config);
  if (address)
    config.address = address;
  config.port = (guint16) port;
  config.token = token;
  config.request_timeout_ms = config.write_timeout_ms = (guint) request_ms;
  config.idle_timeout_ms = (guint) idle_ms;
  config.max_connections = (guint) max_conns;

  MonitorFakeSource *fake = monitor_fake_source_new ((guint) worker_id);
  MonitorSource source;
  monitor_fake_source_bind (fake, &source);
  MonitorServer *server = monitor_server_new (&config, &source, &error);
  if (server == NULL)
    {
      g_printerr (_("minka-monitor-demo: %s\n"), error->message);
      monitor_fake_source_free (fake);
      return 1;
    }
  printf ("listening on http://%s:%u/\n", config.address, monitor_server_get_port (server));
  fflush (stdout);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);
  monitor_server_free (server);
  monitor_fake_source_free (fake);
  return 0;
}
