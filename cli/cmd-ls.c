/* cmd-ls.c — `minka ls [--json]`: the files of the cluster's catalog (ID,
 * size, SHA-256, creation time, name), as a table or JSON. */
#include "config.h"

#include "cli.h"
#include "cli-cluster.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#define CMD "ls"

static char *
ls_time_text (gint64 ms)
{
  g_autoptr (GDateTime) time = g_date_time_new_from_unix_utc (ms / 1000);
  return time != NULL ? g_date_time_format (time, "%Y-%m-%d %H:%M:%S") : g_strdup ("-");
}

static void
ls_print_table (const MinkaFileList *list)
{
  g_autofree char *h_id = cli_pad (_("ID"), -8), *h_size = cli_pad (_("SIZE"), -12);
  g_autofree char *h_sha = cli_pad (_("SHA-256"), 16), *h_created = cli_pad (_("CREATED (UTC)"), 19);
  g_print ("%s %s  %s  %s  %s\n", h_id, h_size, h_sha, h_created, _("NAME"));
  for (guint i = 0; i < list->files->len; i++)
    {
      const MinkaFileInfo *info = list->files->pdata[i];
      g_autofree char *created = ls_time_text (info->created_ms);
      g_print ("%8" G_GUINT64_FORMAT " %12" G_GUINT64_FORMAT "  %.16s  %-19s  %s\n", info->id,
               info->size, info->sha256, created, info->name);
    }
}

static void
ls_print_json (const MinkaFileList *list)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "applied_index");
  json_builder_add_int_value (builder, (gint64) list->applied_index);
  json_builder_set_member_name (builder, "digest");
  json_builder_add_string_value (builder, list->digest != NULL ? list->digest : "");
  json_builder_set_member_name (builder, "files");
  json_builder_begin_array (builder);
  for (guint i = 0; i < list->files->len; i++)
    {
      const MinkaFileInfo *info = list->files->pdata[i];
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_int_value (builder, (gint64) info->id);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, info->name);
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, (gint64) info->size);
      json_builder_set_member_name (builder, "sha256");
      json_builder_add_string_value (builder, info->sha256);
      json_builder_set_member_name (builder, "created_ms");
      json_builder_add_int_value (builder, info->created_ms);
      json_builder_set_member_name (builder, "client");
      json_builder_add_string_value (builder, info->client != NULL ? info->client : "");
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  cli_cluster_print_json (builder);
}

int
cli_cmd_ls (int argc, char **argv)
{
  g_auto (CliClusterOptions) options = { 0 };
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!cli_cluster_parse (CMD, NULL, _("List the files stored in the cluster."), entries,
                          argc, argv, &options))
    return CLI_EXIT_USAGE;
  g_autoptr (CliCluster) cluster = cli_cluster_open (CMD, &options);
  if (cluster == NULL)
    return CLI_EXIT_ERROR;
  GError *error = NULL;

  g_autoptr (MinkaClient) client = cli_cluster_client_new (cluster);
  GAsyncResult *slot = NULL;
  minka_client_list_async (client, NULL, 0, NULL, cli_cluster_store_result, &slot);
  g_autoptr (GAsyncResult) result = cli_cluster_wait (&slot);
  g_autoptr (MinkaFileList) list = minka_client_list_finish (client, result, &error);
  if (list == NULL)
    return cli_fail_error (CMD, error);
  if (json)
    ls_print_json (list);
  else
    ls_print_table (list);
  return CLI_EXIT_OK;
}
