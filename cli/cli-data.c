/* cli-data.c — helpers shared by the offline subcommands: option parsing and
 * error printing, loading datasets for training or for an existing model,
 * batched prediction, metrics, and number/CSV formatting. */
#include "config.h"
#include "cli.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "nn-csv.h"
#include "nn-metrics.h"

#define CLI_PREDICT_CHUNK 1024

gboolean
cli_parse_options (GOptionContext *context, const char *command, int argc, char **argv)
{
  GError *error = NULL;
  char **args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  gboolean ok = g_option_context_parse_strv (context, &args, &error);
  if (ok && args[1] != NULL)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   _("unexpected argument “%s”"), args[1]);
      ok = FALSE;
    }
  if (!ok)
    {
      g_printerr ("minka %s: %s\n", command, error->message);
      g_printerr (_("Try “minka %s --help” for more information.\n"), command);
      g_error_free (error);
    }
  g_strfreev (args);
  g_option_context_free (context);
  return ok;
}

int
cli_fail (const char *command, int code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("minka %s: %s\n", command, message);
  g_free (message);
  return code;
}

int
cli_fail_error (const char *command, GError *error)
{
  int code = cli_fail (command, CLI_EXIT_ERROR, "%s", error->message);
  g_error_free (error);
  return code;
}

gboolean
cli_path_is_idx (const char *path)
{
  char *lower = g_ascii_strdown (path, -1);
  gboolean idx = g_str_has_suffix (lower, "-ubyte") || g_str_has_suffix (lower, "-ubyte.gz")
                 || g_str_has_suffix (lower, ".idx") || g_str_has_suffix (lower, ".idx.gz");
  g_free (lower);
  return idx;
}

NnDataset *
cli_load_training (const char *data, const char *labels, const char *label_column,
                   NnTask task, GError **error)
{
  if (labels || cli_path_is_idx (data))
    {
      if (labels == NULL)
        {
          g_set_error (error, NN_ERROR, NN_ERROR_INVALID,
                       _("%s looks like IDX images: give their labels with --labels"), data);
          return NULL;
        }
      if (task != NN_TASK_CLASSIFICATION)
        {
          g_set_error_literal (error, NN_ERROR, NN_ERROR_INVALID,
                               _("IDX images can only be used for classification"));
          return NULL;
        }
      return nn_dataset_load_idx (data, labels, error);
    }
  if (label_column == NULL)
    {
      g_set_error_literal (error, NN_ERROR, NN_ERROR_INVALID,
                           _("--label COLUMN is required for CSV data"));
      return NULL;
    }
  return nn_dataset_load_csv (data, label_column, task, NULL, error);
}

static NnDataset *
cli_load_idx_for_model (const NnModel *model, const char *data, const char *labels,
                        gboolean need_label, GError **error)
{
  guint n_in = model->sizes[0], n_out = model->sizes[model->n_layers];
  if (model->task != NN_TASK_CLASSIFICATION)
    {
      g_set_error_literal (error, NN_ERROR, NN_ERROR_MISMATCH,
                           _("IDX images need a classification model, and this model does regression"));
      return NULL;
    }
  if (need_label && labels == NULL)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_INVALID,
                   _("%s looks like IDX images: give their labels too"), data);
      return NULL;
    }
  NnDataset *ds = nn_dataset_load_idx (data, labels, error);
  if (ds == NULL)
    return NULL;
  if (ds->n_features != n_in)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_MISMATCH,
                   _("%s has %u features (pixels) per image but the model expects %u inputs"),
                   data, ds->n_features, n_in);
      nn_dataset_free (ds);
      return NULL;
    }
  for (guint i = 0; ds->has_labels && i < ds->n_rows; i++)
    if (ds->labels[i] >= n_out)
      {
        g_set_error (error, NN_ERROR, NN_ERROR_MISMATCH,
                     _("%s: label %u of image %u is not one of the model's %u classes"),
                     labels, ds->labels[i], i, n_out);
        nn_dataset_free (ds);
        return NULL;
      }
  return ds;
}

NnDataset *
cli_load_for_model (const NnModel *model, const char *data, const char *labels,
                    gboolean need_label, GError **error)
{
  if (labels || cli_path_is_idx (data))
    return cli_load_idx_for_model (model, data, labels, need_label, error);
  if (model->input_names == NULL)
    {
      g_set_error_literal (error, NN_ERROR, NN_ERROR_MISMATCH,
                           _("the model does not name its input columns"));
      return NULL;
    }
  NnCsvOptions opt = {
    .label_column = model->label_name,
    .label_optional = !need_label,
    .task = model->task,
    .known_classes = (const char * const *) model->class_names,
    .feature_columns = (const char * const *) model->input_names,
  };
  return nn_csv_load (data, &opt, error);
}

float *
cli_predict_rows (const NnModel *model, const NnDataset *ds, const guint32 *rows, guint n)
{
  return cli_predict_rows_quant (model, NULL, ds, rows, n);
}

float *
cli_predict_rows_quant (const NnModel *model, const NnQuantModel *qmodel,
                        const NnDataset *ds, const guint32 *rows, guint n)
{
  guint n_in = model->sizes[0], n_out = model->sizes[model->n_layers];
  float *preds = g_new (float, (gsize) MAX (n, 1) * n_out);
  float *raw = g_new (float, (gsize) CLI_PREDICT_CHUNK * n_in);
  guint32 *idx = g_new (guint32, CLI_PREDICT_CHUNK);
  for (guint start = 0; start < n; start += CLI_PREDICT_CHUNK)
    {
      guint count = MIN (CLI_PREDICT_CHUNK, n - start);
      for (guint i = 0; i < count; i++)
        idx[i] = rows ? rows[start + i] : start + i;
      nn_dataset_gather (ds, idx, count, NULL, raw);
      float *out = preds + (gsize) start * n_out;
      if (qmodel != NULL)
        nn_quant_model_predict (qmodel, raw, count, out);
      else
        nn_model_predict (model, raw, count, out);
    }
  g_free (idx);
  g_free (raw);
  return preds;
}

static void
cli_metric_set (CliMetric *m, const char *prefix, const char *name, double value)
{
  if (prefix)
    g_snprintf (m->name, sizeof m->name, "%s_%s", prefix, name);
  else
    g_strlcpy (m->name, name, sizeof m->name);
  m->value = value;
}

guint
cli_metrics_compute (const NnModel *model, const NnDataset *ds, const guint32 *rows,
                     guint n, const float *preds, const char *prefix, CliMetric out[4])
{
  if (!ds->has_labels || n == 0)
    return 0;
  if (model->task == NN_TASK_CLASSIFICATION)
    {
      guint n_out = model->sizes[model->n_layers];
      guint32 *labels = g_new (guint32, n);
      for (guint i = 0; i < n; i++)
        labels[i] = ds->labels[rows ? rows[i] : i];
      cli_metric_set (&out[0], prefix, "accuracy", nn_metric_accuracy (preds, labels, n, n_out));
      cli_metric_set (&out[1], prefix, "log_loss", nn_metric_log_loss (preds, labels, n, n_out));
      g_free (labels);
      return 2;
    }
  float *targets = g_new (float, n);
  for (guint i = 0; i < n; i++)
    targets[i] = ds->targets[rows ? rows[i] : i];
  cli_metric_set (&out[0], prefix, "mse", nn_metric_mse (preds, targets, n));
  cli_metric_set (&out[1], prefix, "mae", nn_metric_mae (preds, targets, n));
  cli_metric_set (&out[2], prefix, "r2", nn_metric_r2 (preds, targets, n));
  g_free (targets);
  return 3;
}

char *
cli_format_double (double value, int digits)
{
  char format[16];
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_snprintf (format, sizeof format, "%%.%dg", digits);
  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, value));
}

void
cli_csv_append_field (GString *line, const char *text)
{
  gboolean quote = text[0] == ' ' || (text[0] && text[strlen (text) - 1] == ' ')
                   || strpbrk (text, ",;\"\r\n") != NULL;
  if (!quote)
    {
      g_string_append (line, text);
      return;
    }
  g_string_append_c (line, '"');
  for (const char *p = text; *p; p++)
    {
      if (*p == '"')
        g_string_append_c (line, '"');
      g_string_append_c (line, *p);
    }
  g_string_append_c (line, '"');
}

char *
cli_pad (const char *text, int width)
{
  glong len = g_utf8_strlen (text, -1);
  glong want = ABS (width);
  if (len >= want)
    return g_strdup (text);
  g_autofree char *spaces = g_strnfill ((gsize) (want - len), ' ');
  return width > 0 ? g_strconcat (text, spaces, NULL) : g_strconcat (spaces, text, NULL);
}
