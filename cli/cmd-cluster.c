/* cmd-cluster.c — `minka cluster add NAME --address HOST:PORT [--monitor
 * HOST:PORT]` and `minka cluster remove NAME`: membership changes of a
 * running cluster, sent to the leader; prints the new configuration. */
#include "config.h"

#include "cli.h"
#include "cli-cluster.h"

#include "minka-config.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define CMD "cluster"

static void
cluster_print_config (JsonNode *config)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, config);
  g_autofree char *text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

static int
cluster_usage (void)
{
  g_printerr ("%s", _("Usage: minka cluster add NAME --address HOST:PORT [--monitor HOST:PORT]\n"
                      "       minka cluster remove NAME\n"));
  return CLI_EXIT_USAGE;
}

int
cli_cmd_cluster (int argc, char **argv)
{
  g_auto (CliClusterOptions) options = { 0 };
  char *address = NULL, *monitor = NULL;
  char **args = NULL;
  const GOptionEntry entries[] = {
    { "address", 'a', 0, G_OPTION_ARG_STRING, &address,
      N_("Address of the new worker (add)"), N_("HOST:PORT") },
    { "monitor", 'm', 0, G_OPTION_ARG_STRING, &monitor,
      N_("Monitor address of the new worker (add)"), N_("HOST:PORT") },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  gboolean parsed = cli_cluster_parse (CMD, _("add|remove NAME"),
                                       _("Add a worker to the running cluster, or remove one."),
                                       entries, argc, argv, &options);
  g_autofree char *address_owned G_GNUC_UNUSED = address;
  g_autofree char *monitor_owned G_GNUC_UNUSED = monitor;
  g_auto (GStrv) args_owned G_GNUC_UNUSED = args;
  if (!parsed)
    return CLI_EXIT_USAGE;
  gboolean add = args != NULL && args[0] != NULL && strcmp (args[0], "add") == 0;
  gboolean remove = args != NULL && args[0] != NULL && strcmp (args[0], "remove") == 0;
  if ((!add && !remove) || args[1] == NULL || args[2] != NULL || (add && address == NULL)
      || (remove && (address != NULL || monitor != NULL)))
    return cluster_usage ();
  GError *error = NULL;
  MinkaAddress parsed_address = { 0 }, parsed_monitor = { 0 };
  if (!minka_config_name_is_valid (args[1]))
    return cli_fail (CMD, CLI_EXIT_USAGE,
                     _("“%s” is not a valid worker name (letters, digits, '-', '_', '.')"),
                     args[1]);
  gboolean valid = (address == NULL || minka_address_parse (address, &parsed_address, &error))
                   && (monitor == NULL || minka_address_parse (monitor, &parsed_monitor, &error));
  minka_address_clear (&parsed_address);
  minka_address_clear (&parsed_monitor);
  if (!valid)
    return cli_fail_error (CMD, error);
  g_autoptr (CliCluster) cluster = cli_cluster_open (CMD, &options);
  if (cluster == NULL)
    return CLI_EXIT_ERROR;

  g_autoptr (MinkaClient) client = cli_cluster_client_new (cluster);
  GAsyncResult *slot = NULL;
  if (add)
    minka_client_cluster_add_async (client, args[1], address, monitor, NULL,
                                    cli_cluster_store_result, &slot);
  else
    minka_client_cluster_remove_async (client, args[1], NULL, cli_cluster_store_result, &slot);
  g_autoptr (GAsyncResult) result = cli_cluster_wait (&slot);
  g_autoptr (JsonNode) config = minka_client_cluster_finish (client, result, &error);
  if (config == NULL)
    return cli_fail_error (CMD, error);
  g_printerr (add ? _("Added worker %s.\n") : _("Removed worker %s.\n"), args[1]);
  cluster_print_config (config);
  return CLI_EXIT_OK;
}
