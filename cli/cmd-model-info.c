/* cmd-model-info.c — `minka model-info MODEL.minka [--json]`: what a saved
 * model is (task, layers, activation, parameter count, inputs, classes,
 * normalisation kind, metrics, creation time), as text or JSON. */
#include "config.h"
#include "cli.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define CMD "model-info"
#define INFO_NAMES_SHOWN 12

static char *
info_created_text (gint64 unix_time)
{
  GDateTime *dt = g_date_time_new_from_unix_utc (unix_time);
  if (dt == NULL)
    return g_strdup ("?");
  char *text = g_date_time_format_iso8601 (dt);
  g_date_time_unref (dt);
  return text;
}

static char *
info_layers_text (const NnModel *model)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i <= model->n_layers; i++)
    g_string_append_printf (s, "%s%u", i ? "-" : "", model->sizes[i]);
  return g_string_free (s, FALSE);
}

/* "a, b, c" — at most INFO_NAMES_SHOWN names, then "… (N in all)". */
static char *
info_names_text (char **names)
{
  if (names == NULL)
    return g_strdup ("-");
  guint n = g_strv_length (names);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n && i < INFO_NAMES_SHOWN; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", names[i]);
  if (n > INFO_NAMES_SHOWN)
    g_string_append_printf (s, _(", … (%u in all)"), n);
  return g_string_free (s, FALSE);
}

static GList *
info_sorted_metric_names (const NnModel *model)
{
  return g_list_sort (g_hash_table_get_keys (model->metrics), (GCompareFunc) strcmp);
}

static void
info_print_text (const NnModel *model)
{
  char *layers = info_layers_text (model);
  char *inputs = info_names_text (model->input_names);
  char *classes = info_names_text (model->class_names);
  char *created = info_created_text (model->created_unix);
  gboolean cls = model->task == NN_TASK_CLASSIFICATION;
  g_print (_("Task:        %s\n"), cls ? _("classification") : _("regression"));
  g_print (_("Layers:      %s\n"), layers);
  g_print (_("Activation:  %s (output: %s)\n"), nn_activation_name (model->activation),
           cls ? "softmax" : _("linear"));
  g_print (_("Parameters:  %llu\n"), (unsigned long long) model->n_params);
  g_print (_("Inputs:      %s\n"), inputs);
  g_print (_("Label:       %s\n"), model->label_name ? model->label_name : "-");
  if (cls)
    g_print (_("Classes:     %s\n"), classes);
  g_print (_("Created:     %s\n"), created);
  GList *names = info_sorted_metric_names (model);
  if (names)
    g_print (_("Metrics:\n"));
  for (GList *l = names; l; l = l->next)
    {
      const double *v = g_hash_table_lookup (model->metrics, l->data);
      char *value = cli_format_double (*v, 6);
      g_print ("  %s=%s\n", (const char *) l->data, value);
      g_free (value);
    }
  g_list_free (names);
  g_free (layers);
  g_free (inputs);
  g_free (classes);
  g_free (created);
}

static void
info_add_strv (JsonBuilder *b, const char *member, char **names)
{
  json_builder_set_member_name (b, member);
  if (names == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_array (b);
  for (guint i = 0; names[i]; i++)
    json_builder_add_string_value (b, names[i]);
  json_builder_end_array (b);
}

static void
info_print_json (const NnModel *model)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "task");
  json_builder_add_string_value (b, model->task == NN_TASK_CLASSIFICATION ? "classification" : "regression");
  json_builder_set_member_name (b, "layers");
  json_builder_begin_array (b);
  for (guint i = 0; i <= model->n_layers; i++)
    json_builder_add_int_value (b, model->sizes[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "activation");
  json_builder_add_string_value (b, nn_activation_name (model->activation));
  json_builder_set_member_name (b, "parameters");
  json_builder_add_int_value (b, (gint64) model->n_params);
  info_add_strv (b, "inputs", model->input_names);
  json_builder_set_member_name (b, "label");
  if (model->label_name)
    json_builder_add_string_value (b, model->label_name);
  else
    json_builder_add_null_value (b);
  info_add_strv (b, "classes", model->class_names);
  json_builder_set_member_name (b, "metrics");
  json_builder_begin_object (b);
  GList *names = info_sorted_metric_names (model);
  for (GList *l = names; l; l = l->next)
    {
      double v = *(const double *) g_hash_table_lookup (model->metrics, l->data);
      json_builder_set_member_name (b, l->data);
      if (isfinite (v))
        json_builder_add_double_value (b, v);
      else
        json_builder_add_null_value (b);   /* JSON has no NaN */
    }
  g_list_free (names);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "created_unix");
  json_builder_add_int_value (b, model->created_unix);
  char *created = info_created_text (model->created_unix);
  json_builder_set_member_name (b, "created");
  json_builder_add_string_value (b, created);
  g_free (created);
  json_builder_end_object (b);

  JsonNode *root = json_builder_get_root (b);
  JsonGenerator *gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  char *text = json_generator_to_data (gen, NULL);
  fputs (text, stdout);
  fputc ('\n', stdout);
  g_free (text);
  g_object_unref (gen);
  json_node_unref (root);
  g_object_unref (b);
}

int
cli_cmd_model_info (int argc, char **argv)
{
  gboolean json = FALSE;
  char **rest = NULL;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON instead of text"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, N_("MODEL.minka") },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  GOptionContext *ctx = g_option_context_new (_("— describe a saved model"));
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (ctx, CMD, argc, argv))
    {
      g_strfreev (rest);
      return CLI_EXIT_USAGE;
    }
  if (rest == NULL || rest[0] == NULL || rest[1] != NULL)
    {
      g_strfreev (rest);
      return cli_fail (CMD, CLI_EXIT_USAGE, _("give exactly one model file"));
    }
  GError *error = NULL;
  NnModel *model = nn_model_load (rest[0], &error);
  g_strfreev (rest);
  if (model == NULL)
    return cli_fail_error (CMD, error);
  if (json)
    info_print_json (model);
  else
    info_print_text (model);
  nn_model_free (model);
  return CLI_EXIT_OK;
}
