/* cmd-rm.c — `minka rm ID`: deletes a file from the cluster's catalog (a
 * replicated write, retried across leader changes, applied exactly once). */
#include "config.h"

#include "cli.h"
#include "cli-cluster.h"

#include <glib/gi18n-lib.h>

#define CMD "rm"

int
cli_cmd_rm (int argc, char **argv)
{
  g_auto (CliClusterOptions) options = { 0 };
  char **args = NULL;
  const GOptionEntry entries[] = {
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  gboolean parsed = cli_cluster_parse (CMD, _("ID"), _("Delete a file from the cluster."),
                                       entries, argc, argv, &options);
  g_auto (GStrv) args_owned G_GNUC_UNUSED = args;
  guint64 id = 0;
  if (!parsed)
    return CLI_EXIT_USAGE;
  if (args == NULL || args[0] == NULL || args[1] != NULL
      || !g_ascii_string_to_unsigned (args[0], 10, 1, G_MAXINT64, &id, NULL))
    return cli_fail (CMD, CLI_EXIT_USAGE, _("give exactly one file ID (a positive number)"));
  g_autoptr (CliCluster) cluster = cli_cluster_open (CMD, &options);
  if (cluster == NULL)
    return CLI_EXIT_ERROR;
  GError *error = NULL;

  g_autoptr (MinkaClient) client = cli_cluster_client_new (cluster);
  GAsyncResult *slot = NULL;
  minka_client_delete_async (client, id, NULL, cli_cluster_store_result, &slot);
  g_autoptr (GAsyncResult) result = cli_cluster_wait (&slot);
  guint64 deleted = minka_client_delete_finish (client, result, &error);
  if (error != NULL)
    return cli_fail_error (CMD, error);
  g_print (_("Deleted file %llu\n"), (unsigned long long) (deleted != 0 ? deleted : id));
  return CLI_EXIT_OK;
}
