/* cmd-train-local.c — `minka train-local`: trains an MLP on this machine
 * from a CSV or IDX dataset, shows per-epoch progress on stderr, prints one
 * `name=value` line per final metric on stdout and saves a .minka model.
 * Metrics are on --test when given, else on a held-out validation split. */
#include "config.h"
#include "cli.h"
#include "cli-progress.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "nn-train.h"

#define CMD "train-local"
#define CLI_MAX_LAYER_WIDTH 65536
#define CLI_MAX_LAYERS 64

typedef struct {
  char *data, *labels, *label, *task, *layers, *activation, *optimizer, *lr, *lr_schedule;
  char *test, *test_labels, *out;
  gint batch, epochs, threads;
  gint64 seed;
} TrainOptions;

typedef struct {
  NnTask task;
  guint hidden[CLI_MAX_LAYERS];
  guint n_hidden;
  NnActivation activation;
  NnTrainConfig config;
} TrainPlan;

static void
train_options_clear (TrainOptions *o)
{
  g_free (o->data);
  g_free (o->labels);
  g_free (o->label);
  g_free (o->task);
  g_free (o->layers);
  g_free (o->activation);
  g_free (o->optimizer);
  g_free (o->lr);
  g_free (o->lr_schedule);
  g_free (o->test);
  g_free (o->test_labels);
  g_free (o->out);
}

static GOptionContext *
train_options_context (TrainOptions *o)
{
  const GOptionEntry entries[] = {
    { "data", 0, 0, G_OPTION_ARG_FILENAME, &o->data, N_("Training data: CSV, or IDX images"), N_("FILE") },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &o->labels, N_("IDX labels for IDX images"), N_("IDX") },
    { "label", 0, 0, G_OPTION_ARG_STRING, &o->label, N_("Name of the CSV label column"), N_("COLUMN") },
    { "task", 0, 0, G_OPTION_ARG_STRING, &o->task, N_("classification (default) or regression"), N_("TASK") },
    { "layers", 0, 0, G_OPTION_ARG_STRING, &o->layers, N_("Hidden layer widths (default 256,128; \"none\" for none)"), N_("N,N,…") },
    { "activation", 0, 0, G_OPTION_ARG_STRING, &o->activation, N_("relu (default), tanh or sigmoid"), N_("NAME") },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &o->optimizer, N_("adam (default) or sgd"), N_("NAME") },
    { "lr", 0, 0, G_OPTION_ARG_STRING, &o->lr, N_("Learning rate (default 0.001 for Adam, 0.01 for SGD)"), N_("F") },
    { "lr-schedule", 0, 0, G_OPTION_ARG_STRING, &o->lr_schedule, N_("cosine (default: decays to 0 over the epochs) or constant"), N_("NAME") },
    { "batch", 0, 0, G_OPTION_ARG_INT, &o->batch, N_("Mini-batch size (default 128)"), N_("N") },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &o->epochs, N_("Passes over the data (default 10)"), N_("N") },
    { "threads", 0, 0, G_OPTION_ARG_INT, &o->threads, N_("Threads (default 0: every core)"), N_("N") },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &o->seed, N_("Random seed (default 1)"), N_("N") },
    { "test", 0, 0, G_OPTION_ARG_FILENAME, &o->test, N_("Test data for the final metrics"), N_("FILE") },
    { "test-labels", 0, 0, G_OPTION_ARG_FILENAME, &o->test_labels, N_("IDX labels of the test images"), N_("IDX") },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &o->out, N_("Where to write the model"), N_("MODEL.minka") },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  GOptionContext *ctx = g_option_context_new (_("— train a model on this machine"));
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (ctx,
    _("Trains a multilayer perceptron on a CSV file (label column chosen with --label)\n"
      "or on IDX images with --labels. Progress goes to stderr; the final metrics\n"
      "go to stdout as name=value lines (test_… with --test, else val_… on a\n"
      "held-out 10% validation split)."));
  return ctx;
}

/* "256,128" → widths; "none" or "" → no hidden layer. */
static gboolean
train_parse_layers (const char *text, TrainPlan *plan, GError **error)
{
  plan->n_hidden = 0;
  if (text[0] == '\0' || g_ascii_strcasecmp (text, "none") == 0)
    return TRUE;
  char **parts = g_strsplit (text, ",", -1);
  gboolean ok = TRUE;
  for (guint i = 0; ok && parts[i]; i++)
    {
      guint64 width = 0;
      char *part = g_strstrip (parts[i]);
      ok = plan->n_hidden < CLI_MAX_LAYERS
           && g_ascii_string_to_unsigned (part, 10, 1, CLI_MAX_LAYER_WIDTH, &width, NULL);
      if (ok)
        plan->hidden[plan->n_hidden++] = (guint) width;
    }
  g_strfreev (parts);
  if (!ok)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 _("--layers “%s”: expected comma-separated widths between 1 and %d, e.g. 256,128"),
                 text, CLI_MAX_LAYER_WIDTH);
  return ok;
}

static gboolean
train_bad_value (GError **error, const char *option, const char *value, const char *expected)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _("%s “%s”: expected %s"), option, value, expected);
  return FALSE;
}

static gboolean
train_plan_from_options (const TrainOptions *o, TrainPlan *plan, GError **error)
{
  char num[32];
  nn_train_config_init (&plan->config);
  if (o->data == NULL || o->out == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("--data FILE and --out MODEL.minka are required"));
      return FALSE;
    }
  plan->task = NN_TASK_CLASSIFICATION;
  if (o->task && strcmp (o->task, "regression") == 0)
    plan->task = NN_TASK_REGRESSION;
  else if (o->task && strcmp (o->task, "classification") != 0)
    return train_bad_value (error, "--task", o->task, _("classification or regression"));
  if (!train_parse_layers (o->layers ? o->layers : "256,128", plan, error))
    return FALSE;
  plan->activation = NN_ACT_RELU;
  if (o->activation && !nn_activation_from_name (o->activation, &plan->activation))
    return train_bad_value (error, "--activation", o->activation, _("relu, tanh or sigmoid"));
  if (o->optimizer && strcmp (o->optimizer, "sgd") == 0)
    {
      plan->config.optimizer = NN_OPT_SGD;
      plan->config.learning_rate = 1e-2f;
    }
  else if (o->optimizer && strcmp (o->optimizer, "adam") != 0)
    return train_bad_value (error, "--optimizer", o->optimizer, _("adam or sgd"));
  if (o->lr)
    {
      char *end = NULL;
      double lr = g_ascii_strtod (o->lr, &end);
      if (end == o->lr || *end != '\0' || !(lr > 0.0 && lr <= 10.0))
        return train_bad_value (error, "--lr", o->lr, _("a number in (0, 10]"));
      plan->config.learning_rate = (float) lr;
    }
  if (o->lr_schedule && strcmp (o->lr_schedule, "constant") == 0)
    plan->config.lr_schedule = NN_LR_CONSTANT;
  else if (o->lr_schedule && strcmp (o->lr_schedule, "cosine") != 0)
    return train_bad_value (error, "--lr-schedule", o->lr_schedule, _("cosine or constant"));
  g_snprintf (num, sizeof num, "%d", o->batch);
  if (o->batch <= 0 || o->batch > 1 << 20)
    return train_bad_value (error, "--batch", num, _("a positive number"));
  g_snprintf (num, sizeof num, "%d", o->epochs);
  if (o->epochs <= 0 || o->epochs > 1000000)
    return train_bad_value (error, "--epochs", num, _("a positive number"));
  g_snprintf (num, sizeof num, "%d", o->threads);
  if (o->threads < 0 || o->threads > 1024)
    return train_bad_value (error, "--threads", num, _("0 (every core) or a positive number"));
  g_snprintf (num, sizeof num, "%" G_GINT64_FORMAT, o->seed);
  if (o->seed < 0)
    return train_bad_value (error, "--seed", num, _("a non-negative number"));
  if (o->test_labels && !o->test)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("--test-labels needs --test"));
      return FALSE;
    }
  plan->config.batch_size = (guint) o->batch;
  plan->config.epochs = (guint) o->epochs;
  plan->config.threads = (guint) o->threads;
  plan->config.seed = (guint64) o->seed;
  return TRUE;
}

static gboolean
train_on_epoch (const NnEpochReport *report, gpointer user_data)
{
  cli_progress_epoch (user_data, report);
  return TRUE;
}

/* Prints and stores the final metrics. */
static void
train_report_metrics (NnModel *model, const NnDataset *ds, const guint32 *rows,
                      guint n, const char *prefix)
{
  float *preds = cli_predict_rows (model, ds, rows, n);
  CliMetric metrics[4];
  guint count = cli_metrics_compute (model, ds, rows, n, preds, prefix, metrics);
  for (guint i = 0; i < count; i++)
    {
      char *value = cli_format_double (metrics[i].value, 6);
      g_print ("%s=%s\n", metrics[i].name, value);
      g_free (value);
      nn_model_set_metric (model, metrics[i].name, metrics[i].value);
    }
  g_free (preds);
}

/* NULL with @error when the network would be too large. */
static NnModel *
train_build_model (const TrainPlan *plan, const NnDataset *ds, const NnNormalization *norm,
                   GError **error)
{
  guint n_out = plan->task == NN_TASK_CLASSIFICATION ? ds->n_classes : 1;
  guint sizes[CLI_MAX_LAYERS + 2];
  sizes[0] = ds->n_features;
  for (guint i = 0; i < plan->n_hidden; i++)
    sizes[i + 1] = plan->hidden[i];
  sizes[plan->n_hidden + 1] = n_out;
  if (nn_model_count_params (sizes, plan->n_hidden + 1) == 0)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_INVALID,
                   _("the network is too large (more than %llu parameters)"),
                   (unsigned long long) NN_MODEL_MAX_PARAMS);
      return NULL;
    }
  NnModel *model = nn_model_new (plan->task, ds->n_features, plan->hidden, plan->n_hidden,
                                 n_out, plan->activation, plan->config.seed);
  nn_model_set_schema (model, ds, norm);
  return model;
}

static int
train_run (const TrainOptions *o, TrainPlan *plan)
{
  GError *error = NULL;
  g_autoptr (NnDataset) ds = cli_load_training (o->data, o->labels, o->label, plan->task, &error);
  if (ds == NULL)
    return cli_fail_error (CMD, error);
  if (plan->task == NN_TASK_CLASSIFICATION && ds->n_classes < 2)
    return cli_fail (CMD, CLI_EXIT_ERROR,
                     _("classification needs at least two classes; %s has %u"), o->data, ds->n_classes);

  g_autofree guint32 *train_rows = NULL, *val_rows = NULL;
  guint n_train = 0, n_val = 0;
  nn_dataset_split (ds, o->test ? 0.0 : plan->config.val_fraction, plan->config.seed,
                    &train_rows, &n_train, &val_rows, &n_val);
  if (n_train == 0)
    return cli_fail (CMD, CLI_EXIT_ERROR, _("%s has too few rows to train on"), o->data);

  g_autoptr (NnNormalization) norm = nn_normalization_from_rows (ds, train_rows, n_train);
  g_autoptr (NnModel) model = train_build_model (plan, ds, norm, &error);
  if (model == NULL)
    return cli_fail_error (CMD, error);
  g_autoptr (NnDataset) test = NULL;
  if (o->test && !(test = cli_load_for_model (model, o->test, o->test_labels, TRUE, &error)))
    return cli_fail_error (CMD, error);

  g_autoptr (NnTrainer) trainer = nn_trainer_new (model, &plan->config);
  CliProgress *progress = cli_progress_new (plan->config.epochs,
                                            plan->task == NN_TASK_CLASSIFICATION);
  gboolean ok = nn_trainer_fit (trainer, ds, train_rows, n_train, val_rows, n_val,
                                train_on_epoch, progress, &error);
  cli_progress_free (progress);
  if (!ok)
    return cli_fail_error (CMD, error);

  if (test)
    train_report_metrics (model, test, NULL, test->n_rows, "test");
  else if (n_val > 0)
    train_report_metrics (model, ds, val_rows, n_val, "val");
  else
    train_report_metrics (model, ds, train_rows, n_train, "train");

  if (!nn_model_save (model, o->out, &error))
    return cli_fail_error (CMD, error);
  g_printerr (_("Saved the model to %s\n"), o->out);
  return CLI_EXIT_OK;
}

int
cli_cmd_train_local (int argc, char **argv)
{
  TrainOptions o = { .batch = 128, .epochs = 10, .threads = 0, .seed = 1 };
  TrainPlan plan;
  GError *error = NULL;
  int code;
  if (!cli_parse_options (train_options_context (&o), CMD, argc, argv))
    code = CLI_EXIT_USAGE;
  else if (!train_plan_from_options (&o, &plan, &error))
    {
      code = cli_fail (CMD, CLI_EXIT_USAGE, "%s", error->message);
      g_error_free (error);
    }
  else
    code = train_run (&o, &plan);
  train_options_clear (&o);
  return code;
}
