/* cli.h — shared pieces of the `minka` command-line client: the subcommand
 * entry points, exit codes, data loading and evaluation helpers used by the
 * offline subcommands (cli-data.c), and output formatting. */
#pragma once

#include <glib.h>
#include <stdio.h>

#include "nn-dataset.h"
#include "nn-model.h"
#include "nn-quant.h"

G_BEGIN_DECLS

enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_ERROR = 1,     /* the command ran and failed (bad data, I/O…) */
  CLI_EXIT_USAGE = 2,     /* bad command line */
};

/* A subcommand gets argv with argv[0] = its own name. */
typedef int (*CliCommandFunc) (int argc, char **argv);

int cli_cmd_train_local (int argc, char **argv);
int cli_cmd_predict_local (int argc, char **argv);
int cli_cmd_model_info (int argc, char **argv);

/* Parses @argv with @context (takes ownership of it); on a bad command line
 * prints the error and a hint to stderr and returns FALSE. */
gboolean cli_parse_options (GOptionContext *context, const char *command,
                            int argc, char **argv);
/* Prints "minka COMMAND: MESSAGE" to stderr and returns @code. */
int cli_fail (const char *command, int code, const char *format, ...) G_GNUC_PRINTF (3, 4);
int cli_fail_error (const char *command, GError *error);

/* Whether @path looks like an IDX file (…-ubyte, …-ubyte.gz, …idx, …idx.gz). */
gboolean cli_path_is_idx (const char *path);

/* Loads training data: IDX when @labels is set or @data looks like IDX,
 * else CSV with @label_column. */
NnDataset *cli_load_training (const char *data, const char *labels,
                              const char *label_column, NnTask task,
                              GError **error);
/* Loads data for an existing model: CSV columns matched by name to the
 * model's inputs (extra columns ignored); IDX must have the model's input
 * count. The label is read when present, and required if @need_label. */
NnDataset *cli_load_for_model (const NnModel *model, const char *data,
                               const char *labels, gboolean need_label,
                               GError **error);

/* Raw predictions for @n rows (@rows NULL: 0..n-1): n × outputs floats. */
float *cli_predict_rows (const NnModel *model, const NnDataset *ds,
                         const guint32 *rows, guint n);
/* The same through @qmodel, the int8 version of @model, when it is not
 * NULL. */
float *cli_predict_rows_quant (const NnModel *model, const NnQuantModel *qmodel,
                               const NnDataset *ds, const guint32 *rows, guint n);

typedef struct {
  char name[64];
  double value;
} CliMetric;

/* Metrics of @preds against the labels of @rows: accuracy and log_loss, or
 * mse, mae and r2; names get "@prefix_" in front when @prefix is set.
 * Returns how many were written to @out (at most 4). */
guint cli_metrics_compute (const NnModel *model, const NnDataset *ds,
                           const guint32 *rows, guint n, const float *preds,
                           const char *prefix, CliMetric out[4]);

/* A double as text in the C locale ("%.*g"). */
char *cli_format_double (double value, int digits);
/* @text padded with spaces to @width characters (not bytes, so accented
 * headers line up): on the right when @width > 0, on the left when < 0. */
char *cli_pad (const char *text, int width);

/* Appends @text to @line as a CSV field (quoted when needed). */
void cli_csv_append_field (GString *line, const char *text);

G_END_DECLS
