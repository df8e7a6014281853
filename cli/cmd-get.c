/* cmd-get.c — `minka get ID|NAME [-o OUT] [--force]`: downloads a file of
 * the cluster, verified against its SHA-256, written to a temporary file
 * and renamed into place. Without -o it lands in the current folder under
 * its catalog name made safe (never "../../etc/passwd": only the last
 * component is kept); an existing file is replaced only with --force. */
#include "config.h"

#include "cli.h"
#include "cli-cluster.h"

#include <glib/gi18n-lib.h>

#define CMD "get"

static void
get_progress (guint64 done, guint64 total, gpointer data)
{
  cli_cluster_progress_draw (data, done, total);
}

/* A positive decimal number: an ID; anything else is a name. */
static guint64
get_parse_id (const char *text)
{
  guint64 id = 0;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &id, NULL))
    return 0;
  return id;
}

/* The catalog name of file @id (a LIST), or NULL with @error. */
static char *
get_lookup_name (MinkaClient *client, guint64 id, GError **error)
{
  GAsyncResult *slot = NULL;
  minka_client_list_async (client, NULL, 0, NULL, cli_cluster_store_result, &slot);
  g_autoptr (GAsyncResult) result = cli_cluster_wait (&slot);
  g_autoptr (MinkaFileList) list = minka_client_list_finish (client, result, error);
  if (list == NULL)
    return NULL;
  for (guint i = 0; i < list->files->len; i++)
    {
      const MinkaFileInfo *info = list->files->pdata[i];
      if (info->id == id)
        return g_strdup (info->name);
    }
  g_set_error (error, MINKA_CLIENT_ERROR, MINKA_CLIENT_ERROR_NOT_FOUND,
               _("no file with ID %llu"), (unsigned long long) id);
  return NULL;
}

/* Where to write: @out as given (inside it if it is a folder), else the
 * current folder; the catalog name only ever supplies a last component. */
static GFile *
get_destination (const char *out, const char *catalog_name, guint64 id)
{
  g_autofree char *fallback = g_strdup_printf ("file-%" G_GUINT64_FORMAT, id);
  g_autofree char *safe = cli_cluster_safe_filename (catalog_name, fallback);
  if (out != NULL && !g_file_test (out, G_FILE_TEST_IS_DIR))
    return g_file_new_for_commandline_arg (out);
  g_autofree char *dir = out != NULL ? g_strdup (out) : g_get_current_dir ();
  g_autofree char *path = g_build_filename (dir, safe, NULL);
  return g_file_new_for_path (path);
}

int
cli_cmd_get (int argc, char **argv)
{
  g_auto (CliClusterOptions) options = { 0 };
  char *out = NULL;
  gboolean force = FALSE;
  char **args = NULL;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      N_("Where to write (a file, or a folder; default: the current folder)"), N_("OUT") },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, N_("Replace an existing file"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &args, NULL, NULL },
    G_OPTION_ENTRY_NULL
  };
  gboolean parsed = cli_cluster_parse (CMD, _("ID|NAME"),
                                       _("Download a file from the cluster. A number is taken "
                                         "as a file ID, anything else as a name (the newest "
                                         "file of that name)."),
                                       entries, argc, argv, &options);
  g_autofree char *out_owned G_GNUC_UNUSED = out;
  g_auto (GStrv) args_owned G_GNUC_UNUSED = args;
  if (!parsed)
    return CLI_EXIT_USAGE;
  if (args == NULL || args[0] == NULL || args[1] != NULL)
    return cli_fail (CMD, CLI_EXIT_USAGE, _("give exactly one file ID or name"));
  if (args[0][0] == '\0')
    return cli_fail (CMD, CLI_EXIT_USAGE, _("the file name is empty"));
  g_autoptr (CliCluster) cluster = cli_cluster_open (CMD, &options);
  if (cluster == NULL)
    return CLI_EXIT_ERROR;
  GError *error = NULL;

  g_autoptr (MinkaClient) client = cli_cluster_client_new (cluster);
  guint64 id = get_parse_id (args[0]);
  const char *name = id == 0 ? args[0] : NULL;
  g_autofree char *catalog_name = NULL;
  if (out == NULL || g_file_test (out, G_FILE_TEST_IS_DIR))
    {
      catalog_name = id != 0 ? get_lookup_name (client, id, &error) : g_strdup (name);
      if (catalog_name == NULL)
        return cli_fail_error (CMD, error);
    }
  g_autoptr (GFile) dest = get_destination (out, catalog_name, id);
  g_autofree char *dest_path = g_file_get_parse_name (dest);
  if (!force && g_file_query_exists (dest, NULL))
    return cli_fail (CMD, CLI_EXIT_ERROR, _("%s already exists (use --force to replace it)"),
                     dest_path);

  g_autofree char *label = g_file_get_basename (dest);
  gboolean live = cli_cluster_is_terminal (2);
  GAsyncResult *slot = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autoptr (CliInterrupt) interrupt G_GNUC_UNUSED = cli_cluster_interrupt_new (cancel);
  minka_client_get_file_async (client, NULL, id, name, dest, force,
                               live ? get_progress : NULL, label, cancel,
                               cli_cluster_store_result, &slot);
  g_autoptr (GAsyncResult) result = cli_cluster_wait (&slot);
  g_autoptr (MinkaFileInfo) info = minka_client_get_finish (client, result, &error);
  cli_cluster_progress_end ();
  if (info == NULL)
    return cli_fail_error (CMD, error);
  g_print ("%s\n", dest_path);
  return CLI_EXIT_OK;
}
