/* cmd-predict-local.c — `minka predict-local`: runs a saved model over a CSV
 * or IDX file and writes the predictions as CSV.
 *
 * Output columns: for CSV input, the model's input columns (matched by name,
 * other columns ignored); for IDX input, "row" (the image index) instead of
 * the pixels; then the label when the input has one, "prediction", and for
 * classification one "p_<class>" probability per class.
 * When the input has labels, the metrics (accuracy= and log_loss=, or mse=,
 * mae= and r2=) are printed to stdout if --out is given, else to stderr so
 * that stdout stays a clean CSV. --precision int8 predicts with the int8
 * version of the model (nn-quant.h), derived when the model is loaded. */
#include "config.h"
#include "cli.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CMD "predict-local"
#define PREDICT_CHUNK 1024

typedef struct {
  char *model, *data, *labels, *out, *precision;
} PredictOptions;

static GOptionContext *
predict_options_context (PredictOptions *o)
{
  const GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &o->model, N_("The model (.minka)"), N_("MODEL") },
    { "data", 0, 0, G_OPTION_ARG_FILENAME, &o->data, N_("Input data: CSV, or IDX images"), N_("FILE") },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &o->labels, N_("IDX labels, to measure accuracy"), N_("IDX") },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &o->out, N_("Write predictions here instead of stdout"), N_("FILE") },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &o->precision,
      N_("fp32 (default), or int8: faster on CPUs with AVX-512 VNNI, probabilities a little less exact"), N_("NAME") },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  GOptionContext *ctx = g_option_context_new (_("— predict with a model on this machine"));
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (ctx,
    _("Writes the input columns (or the row number, for images), the prediction and,\n"
      "for classification, one p_<class> probability per class as CSV. When the data\n"
      "has the label, prints accuracy= (classification) or mse=, mae= and r2=\n"
      "(regression): to stdout with --out, else to stderr."));
  return ctx;
}

static void
predict_write_header (GString *line, const NnModel *model, const NnDataset *ds, gboolean images)
{
  if (images)
    cli_csv_append_field (line, "row");
  else
    for (guint f = 0; f < ds->n_features; f++)
      {
        if (f)
          g_string_append_c (line, ',');
        cli_csv_append_field (line, ds->feature_names[f]);
      }
  if (ds->has_labels)
    {
      g_string_append_c (line, ',');
      cli_csv_append_field (line, model->label_name ? model->label_name : "label");
    }
  g_string_append (line, ",prediction");
  for (guint c = 0; model->task == NN_TASK_CLASSIFICATION && model->class_names[c]; c++)
    {
      char *name = g_strconcat ("p_", model->class_names[c], NULL);
      g_string_append_c (line, ',');
      cli_csv_append_field (line, name);
      g_free (name);
    }
  g_string_append (line, "\n");
}

static void
predict_append_number (GString *line, double v)
{
  char *text = cli_format_double (v, 7);
  g_string_append (line, text);
  g_free (text);
}

static void
predict_write_row (GString *line, const NnModel *model, const NnDataset *ds,
                   gboolean images, guint row, const float *pred)
{
  guint n_out = model->sizes[model->n_layers];
  if (images)
    g_string_append_printf (line, "%u", row);
  else
    for (guint f = 0; f < ds->n_features; f++)
      {
        if (f)
          g_string_append_c (line, ',');
        predict_append_number (line, ds->features[(gsize) row * ds->n_features + f]);
      }
  if (ds->has_labels)
    {
      g_string_append_c (line, ',');
      if (model->task == NN_TASK_CLASSIFICATION)
        cli_csv_append_field (line, model->class_names[ds->labels[row]]);
      else
        predict_append_number (line, ds->targets[row]);
    }
  g_string_append_c (line, ',');
  if (model->task == NN_TASK_REGRESSION)
    {
      predict_append_number (line, pred[0]);
      g_string_append (line, "\n");
      return;
    }
  guint best = 0;
  for (guint c = 1; c < n_out; c++)
    if (pred[c] > pred[best])
      best = c;
  cli_csv_append_field (line, model->class_names[best]);
  for (guint c = 0; c < n_out; c++)
    {
      g_string_append_c (line, ',');
      predict_append_number (line, pred[c]);
    }
  g_string_append (line, "\n");
}

static gboolean
predict_write_all (FILE *out, const char *out_name, const NnModel *model,
                   const NnDataset *ds, const float *preds, GError **error)
{
  gboolean images = ds->pixels != NULL;
  guint n_out = model->sizes[model->n_layers];
  GString *line = g_string_new (NULL);
  predict_write_header (line, model, ds, images);
  for (guint row = 0; row < ds->n_rows; row++)
    {
      predict_write_row (line, model, ds, images, row, preds + (gsize) row * n_out);
      if (line->len >= 1 << 16 || row + 1 == ds->n_rows)
        {
          fwrite (line->str, 1, line->len, out);
          g_string_truncate (line, 0);
        }
    }
  g_string_free (line, TRUE);
  if (fflush (out) != 0 || ferror (out))
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("cannot write %s: %s"), out_name, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* Metrics go where they do not mix with the CSV. */
static void
predict_print_metrics (const NnModel *model, const NnDataset *ds, const float *preds,
                       gboolean to_stdout)
{
  CliMetric metrics[4];
  guint count = cli_metrics_compute (model, ds, NULL, ds->n_rows, preds, NULL, metrics);
  for (guint i = 0; i < count; i++)
    {
      char *value = cli_format_double (metrics[i].value, 6);
      if (to_stdout)
        g_print ("%s=%s\n", metrics[i].name, value);
      else
        g_printerr ("%s=%s\n", metrics[i].name, value);
      g_free (value);
    }
}

static int
predict_run (const PredictOptions *o)
{
  GError *error = NULL;
  g_autoptr (NnModel) model = nn_model_load (o->model, &error);
  if (model == NULL)
    return cli_fail_error (CMD, error);
  if (model->task == NN_TASK_CLASSIFICATION && (model->class_names == NULL
      || g_strv_length (model->class_names) != model->sizes[model->n_layers]))
    return cli_fail (CMD, CLI_EXIT_ERROR, _("%s does not name its classes"), o->model);
  g_autoptr (NnQuantModel) qmodel = NULL;
  if (g_strcmp0 (o->precision, "int8") == 0
      && (qmodel = nn_quant_model_new (model, &error)) == NULL)
    return cli_fail_error (CMD, error);
  g_autoptr (NnDataset) ds = cli_load_for_model (model, o->data, o->labels, FALSE, &error);
  if (ds == NULL)
    return cli_fail_error (CMD, error);

  float *preds = cli_predict_rows_quant (model, qmodel, ds, NULL, ds->n_rows);
  FILE *out = stdout;
  if (o->out && !(out = g_fopen (o->out, "wb")))
    {
      int saved = errno;
      g_free (preds);
      return cli_fail (CMD, CLI_EXIT_ERROR, _("cannot write %s: %s"), o->out, g_strerror (saved));
    }
  gboolean ok = predict_write_all (out, o->out ? o->out : "stdout", model, ds, preds, &error);
  if (out != stdout && fclose (out) != 0 && ok)
    {
      int saved = errno;
      ok = FALSE;
      g_set_error (&error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("cannot write %s: %s"), o->out, g_strerror (saved));
    }
  if (ok && ds->has_labels)
    predict_print_metrics (model, ds, preds, o->out != NULL);
  g_free (preds);
  return ok ? CLI_EXIT_OK : cli_fail_error (CMD, error);
}

int
cli_cmd_predict_local (int argc, char **argv)
{
  PredictOptions o = { NULL, NULL, NULL, NULL, NULL };
  int code;
  if (!cli_parse_options (predict_options_context (&o), CMD, argc, argv))
    code = CLI_EXIT_USAGE;
  else if (o.model == NULL || o.data == NULL)
    code = cli_fail (CMD, CLI_EXIT_USAGE, _("--model MODEL and --data FILE are required"));
  else if (o.precision != NULL && strcmp (o.precision, "fp32") != 0
           && strcmp (o.precision, "int8") != 0)
    code = cli_fail (CMD, CLI_EXIT_USAGE, _("%s “%s”: expected %s"), "--precision",
                     o.precision, _("fp32 or int8"));
  else
    code = predict_run (&o);
  g_free (o.model);
  g_free (o.data);
  g_free (o.labels);
  g_free (o.out);
  g_free (o.precision);
  return code;
}
