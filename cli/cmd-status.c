/* cmd-status.c — `minka status [--json]`: every worker of the cluster with
 * its role, term, leader, commit and applied index and catalog digest, or
 * "unreachable"; a table, or JSON for scripts. */
#include "config.h"

#include "cli.h"
#include "cli-cluster.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#define CMD "status"

static const char *
status_string (JsonObject *worker, const char *member)
{
  JsonNode *node = worker != NULL ? json_object_get_member (worker, member) : NULL;
  return node != NULL && json_node_get_value_type (node) == G_TYPE_STRING
    ? json_node_get_string (node) : "-";
}

static gint64
status_int (JsonObject *worker, const char *member)
{
  JsonNode *node = worker != NULL ? json_object_get_member (worker, member) : NULL;
  return node != NULL && json_node_get_value_type (node) == G_TYPE_INT64
    ? json_node_get_int (node) : -1;
}

static JsonObject *
status_worker (const MinkaWorkerStatus *status)
{
  JsonNode *node = status->reply != NULL ? json_object_get_member (status->reply, "worker") : NULL;
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static void
status_print_table (const CliCluster *cluster, GPtrArray *results)
{
  g_autofree char *h_worker = cli_pad (_("WORKER"), 12), *h_address = cli_pad (_("ADDRESS"), 21);
  g_autofree char *h_role = cli_pad (_("ROLE"), 10), *h_term = cli_pad (_("TERM"), -6);
  g_autofree char *h_leader = cli_pad (_("LEADER"), 12), *h_commit = cli_pad (_("COMMIT"), -8);
  g_autofree char *h_applied = cli_pad (_("APPLIED"), -8);
  g_print ("%s %s %s %s %s %s %s  %s\n", h_worker, h_address, h_role, h_term, h_leader,
           h_commit, h_applied, _("DIGEST"));
  for (guint i = 0; i < results->len; i++)
    {
      const MinkaWorkerStatus *status = results->pdata[i];
      JsonObject *worker = status_worker (status);
      if (!status->reachable)
        {
          g_print ("%-12s %-21s %s (%s)\n", cluster->names[i], status->address,
                   _("unreachable"), status->error->message);
          continue;
        }
      g_autofree char *digest = g_strndup (status_string (worker, "digest"), 16);
      g_print ("%-12s %-21s %-10s %6" G_GINT64_FORMAT " %-12s %8" G_GINT64_FORMAT
               " %8" G_GINT64_FORMAT "  %s\n",
               cluster->names[i], status->address, status_string (worker, "role"),
               status_int (worker, "term"), status_string (worker, "leader"),
               status_int (worker, "commit_index"), status_int (worker, "applied_index"),
               digest);
    }
}

static void
status_print_json (const CliCluster *cluster, GPtrArray *results)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  json_builder_begin_array (builder);
  for (guint i = 0; i < results->len; i++)
    {
      const MinkaWorkerStatus *status = results->pdata[i];
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, cluster->names[i]);
      json_builder_set_member_name (builder, "address");
      json_builder_add_string_value (builder, status->address);
      json_builder_set_member_name (builder, "reachable");
      json_builder_add_boolean_value (builder, status->reachable);
      if (status->reachable)
        {
          JsonNode *worker = json_object_get_member (status->reply, "worker");
          JsonNode *peers = json_object_get_member (status->reply, "peers");
          json_builder_set_member_name (builder, "worker");
          json_builder_add_value (builder, worker != NULL ? json_node_copy (worker)
                                                          : json_node_new (JSON_NODE_NULL));
          json_builder_set_member_name (builder, "peers");
          json_builder_add_value (builder, peers != NULL ? json_node_copy (peers)
                                                         : json_node_new (JSON_NODE_NULL));
        }
      else
        {
          json_builder_set_member_name (builder, "error");
          json_builder_add_string_value (builder, status->error->message);
        }
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  cli_cluster_print_json (builder);
}

int
cli_cmd_status (int argc, char **argv)
{
  g_auto (CliClusterOptions) options = { 0 };
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!cli_cluster_parse (CMD, NULL, _("Show every worker of the cluster."), entries,
                          argc, argv, &options))
    return CLI_EXIT_USAGE;
  g_autoptr (CliCluster) cluster = cli_cluster_open (CMD, &options);
  if (cluster == NULL)
    return CLI_EXIT_ERROR;
  GError *error = NULL;

  g_autoptr (MinkaClient) client = cli_cluster_client_new (cluster);
  GAsyncResult *slot = NULL;
  minka_client_status_all_async (client, NULL, cli_cluster_store_result, &slot);
  g_autoptr (GAsyncResult) result = cli_cluster_wait (&slot);
  g_autoptr (GPtrArray) results = minka_client_status_all_finish (client, result, &error);
  if (results == NULL)
    return cli_fail_error (CMD, error);

  guint reachable = 0;
  for (guint i = 0; i < results->len; i++)
    reachable += ((MinkaWorkerStatus *) results->pdata[i])->reachable ? 1 : 0;
  if (json)
    status_print_json (cluster, results);
  else
    status_print_table (cluster, results);
  if (reachable == 0)
    return cli_fail (CMD, CLI_EXIT_ERROR, _("no worker of the cluster could be reached"));
  return CLI_EXIT_OK;
}
