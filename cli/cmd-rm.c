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
  CliClusterOptions options = { 0 };
  char **args = NULL;
  const GOptionEntry entries[] = {
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, NULL },
    { NULL }
  };
  GOptionContext *context = g_option_context_new (_("ID"));
  g_option_context_set_summary (context, _("Delete a file from the cluster."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  cli_cluster_add_options (context, &options);
  gboolean parsed = cli_parse_options (context, CMD, argc, argv);
  g_auto (GStrv) args_owned = args;
  guint64 id = 0;
  if (!parsed || args == NULL || args[0] == NULL || args[1] != NULL
      || !g_ascii_string_to_unsigned (args[0], 10, 1, G_MAXINT64, &id, NULL))
    {
      cli_cluster_options_clear (&options);
      if (parsed)
        return cli_fail (CMD, CLI_EXIT_USAGE, _("give exactly one file ID (a positive number)"));
      return CLI_EXIT_USAGE;
    }

  GError *error = NULL;
  g_autoptr (CliCluster) cluster = cli_cluster_resolve (&options, &error);
  cli_cluster_options_clear (&options);
  if (cluster == NULL)
    return cli_fail_error (CMD, error);

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
