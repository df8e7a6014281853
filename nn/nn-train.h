/* nn-train.h — mini-batch training of an NnModel on a thread pool.
 *
 * Each mini-batch is split over the pool (GLib threads that block when
 * idle) in fixed tasks that need no gradient reduction, so the same seed
 * gives bit-identical weights for any thread count. The trainer works on
 * its own copy of the parameters and writes them back to the model after
 * every epoch and every nn_trainer_run_batches(). The same trainer runs
 * a whole local job (nn_trainer_fit) or a few batches of a shard for a
 * distributed round (nn_trainer_run_batches). */
#pragma once

#include <glib.h>
#include "nn-dataset.h"
#include "nn-model.h"

G_BEGIN_DECLS

typedef enum {
  NN_OPT_ADAM = 0,
  NN_OPT_SGD,                 /* with momentum */
} NnOptimizerKind;

typedef enum {
  NN_LR_CONSTANT = 0,
  NN_LR_COSINE,               /* from learning_rate down to 0 over the run */
} NnLrSchedule;

typedef struct {
  NnOptimizerKind optimizer;
  float learning_rate;        /* default 1e-3 (Adam), 1e-2 (SGD) */
  NnLrSchedule lr_schedule;   /* nn_trainer_fit only; default cosine */
  float momentum;             /* SGD; default 0.9 */
  float beta1, beta2, epsilon;/* Adam; defaults 0.9, 0.999, 1e-8 */
  float weight_decay;         /* L2; default 0 */
  guint batch_size;           /* default 128 */
  guint epochs;               /* default 10 */
  guint threads;              /* 0 = every core */
  guint64 seed;               /* shuffling (and init, by the caller) */
  double val_fraction;        /* held-out split when no test set; default 0.1 */
} NnTrainConfig;

void nn_train_config_init (NnTrainConfig *config);   /* fills the defaults */

typedef struct {
  guint epoch;                /* 1-based */
  guint epochs;
  double train_loss;          /* mean over the epoch */
  double val_loss;            /* NAN when there is no validation set */
  double val_accuracy;        /* classification; NAN otherwise */
  double val_r2;              /* regression; NAN otherwise */
  double samples_per_s;
  double elapsed_s;
} NnEpochReport;

/* Return FALSE to stop training early (cancel). */
typedef gboolean (*NnEpochCallback) (const NnEpochReport *report, gpointer user_data);

typedef struct _NnTrainer NnTrainer;

NnTrainer *nn_trainer_new (NnModel *model, const NnTrainConfig *config);
void nn_trainer_free (NnTrainer *trainer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnTrainer, nn_trainer_free)

guint nn_trainer_threads (const NnTrainer *trainer);

/* Train config->epochs epochs on @train_rows, evaluating on @val_rows (may
 * be NULL) after each, calling @callback. Uses model->norm (set it first).
 * Returns FALSE with @error if cancelled or input is invalid. */
gboolean nn_trainer_fit (NnTrainer *trainer, const NnDataset *ds,
                         const guint32 *train_rows, guint n_train,
                         const guint32 *val_rows, guint n_val,
                         NnEpochCallback callback, gpointer user_data,
                         GError **error);

/* Run @n_batches mini-batches over @rows (in order, wrapping around),
 * for a distributed round. Returns the mean loss. */
double nn_trainer_run_batches (NnTrainer *trainer, const NnDataset *ds,
                               const guint32 *rows, guint n_rows,
                               guint n_batches);

/* The learning rate of step @step (0-based) of @total_steps: @base when
 * constant; base·½(1 + cos(π·step/total)) for cosine (base at the first
 * step, 0 at the end). */
float nn_lr_at (NnLrSchedule schedule, float base, guint64 step, guint64 total_steps);

/* Mean loss on @rows (batched forward, no training). */
double nn_trainer_evaluate_loss (NnTrainer *trainer, const NnDataset *ds,
                                 const guint32 *rows, guint n_rows);

G_END_DECLS
