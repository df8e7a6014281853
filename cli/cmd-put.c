/* cmd-put.c — `minka put FILE [--name NAME]`: uploads a file to the
 * cluster (streamed, retried across leader changes) and prints its ID;
 * a progress bar on stderr when it is a terminal. */
#include "config.h"

#include "cli.h"
#include "cli-cluster.h"

#include <glib/gi18n-lib.h>

#define CMD "put"

static void
put_progress (guint64 done, guint64 total, gpointer data)
{
  cli_cluster_progress_draw (data, done, total);
}

int
cli_cmd_put (int argc, char **argv)
{
  g_auto (CliClusterOptions) options = { 0 };
  char *name = NULL;
  char **files = NULL;
  const GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name,
      N_("Name in the cluster (default: the file's name)"), N_("NAME") },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  gboolean parsed = cli_cluster_parse (CMD, _("FILE"),
                                       _("Upload a file to the cluster and print its ID."),
                                       entries, argc, argv, &options);
  g_autofree char *name_owned G_GNUC_UNUSED = name;
  g_auto (GStrv) files_owned G_GNUC_UNUSED = files;
  if (!parsed)
    return CLI_EXIT_USAGE;
  if (files == NULL || files[0] == NULL || files[1] != NULL)
    return cli_fail (CMD, CLI_EXIT_USAGE, _("give exactly one FILE to upload"));
  g_autoptr (CliCluster) cluster = cli_cluster_open (CMD, &options);
  if (cluster == NULL)
    return CLI_EXIT_ERROR;
  GError *error = NULL;

  g_autoptr (GFile) file = g_file_new_for_commandline_arg (files[0]);
  g_autofree char *label = g_file_get_basename (file);
  gboolean live = cli_cluster_is_terminal (2);
  g_autoptr (MinkaClient) client = cli_cluster_client_new (cluster);
  GAsyncResult *slot = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autoptr (CliInterrupt) interrupt G_GNUC_UNUSED = cli_cluster_interrupt_new (cancel);
  minka_client_put_file_async (client, file, name, live ? put_progress : NULL, label, cancel,
                               cli_cluster_store_result, &slot);
  g_autoptr (GAsyncResult) result = cli_cluster_wait (&slot);
  g_autoptr (MinkaFileInfo) info = minka_client_put_finish (client, result, &error);
  cli_cluster_progress_end ();
  if (info == NULL)
    return cli_fail_error (CMD, error);
  g_print ("%" G_GUINT64_FORMAT "\n", info->id);
  return CLI_EXIT_OK;
}
