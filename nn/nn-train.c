/* nn-train.c — mini-batch training on the thread pool.
 *
 * A training step runs the whole mini-batch through each layer in turn;
 * every stage is cut into small fixed tasks that the threads take from a
 * shared counter (so a core slowed down by the host simply does fewer):
 *  - gathering the inputs and the output layer + loss: blocks of rows;
 *  - a hidden layer's forward: blocks of its output columns
 *    (y[:, cols] = x·w[:, cols] + b[cols]);
 *  - a layer's backward: blocks of columns of dw (dw[:, cols] = xᵀ·dy[:, cols])
 *    and of dx (dx[:, cols] = dy·w[cols, :]ᵀ);
 *  - the optimizer: ranges of parameters.
 * Each task writes its own part of one shared gradient, so there is no
 * per-thread gradient to sum, and a task computes the same thing whichever
 * thread runs it: the same seed gives bit-identical weights for any thread
 * count. Evaluation splits rows over the threads. Nothing is allocated per
 * batch. */
#include "config.h"
#include "nn-train.h"
#include "nn-gemm.h"
#include "nn-layers.h"
#include "nn-optim.h"
#include "nn-threadpool.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

typedef struct {
  float *input;          /* rows_max × sizes[0] */
  float **act;           /* per layer: rows_max × sizes[l+1] (outputs) */
  float *delta[2];       /* rows_max × max width, backward ping-pong */
  guint32 *labels;       /* rows_max */
  float *targets;        /* rows_max × outputs (regression) */
  /* results of the current job */
  double loss;           /* summed over the slice */
  double sq_err;         /* regression: Σ (pred − target)² */
  guint64 correct;       /* classification */
} Slice;

/* Columns per forward/backward task, rows per row task, parameters per
 * optimizer task (multiples of 16 floats: tasks never share a cache line
 * when the rows are aligned). */
#define TASK_COLS 32
#define TASK_ROWS 16
#define TASK_PARAMS 8192

typedef enum {
  STAGE_GATHER,          /* row tasks: inputs, labels, targets */
  STAGE_FORWARD,         /* column tasks of hidden layer @layer */
  STAGE_HEAD,            /* row tasks: output layer, loss and its gradient */
  STAGE_BACKWARD,        /* dw column tasks, then dx column tasks of @layer */
  STAGE_UPDATE,          /* optimizer on parameter ranges */
  STAGE_EVAL,            /* one part per thread: rows split evenly */
} Stage;

struct _NnTrainer {
  NnModel *model;
  NnTrainConfig config;
  NnThreadPool *pool;
  guint n_threads;
  guint rows_max;        /* rows per thread per forward */
  NnOptimizer *opt;
  Slice *slices;         /* evaluation, per thread */
  Slice step;            /* training: the whole batch */
  float *grad;           /* n_params */
  double *row_loss;      /* per row task of the head stage */
  guint32 *batch;        /* batch_size row indices (run_batches) */
  /* the stage being run */
  Stage stage;
  guint layer;
  guint n_tasks;
  gint next_task;        /* atomic: the next task to take */
  const NnDataset *ds;
  const guint32 *rows;
  guint n_rows;
  float loss_scale;      /* gradient scale: 1/N (xent) or 2/(N·c) (MSE) */
};

void
nn_train_config_init (NnTrainConfig *config)
{
  memset (config, 0, sizeof *config);
  config->optimizer = NN_OPT_ADAM;
  config->learning_rate = 1e-3f;
  config->momentum = 0.9f;
  config->beta1 = 0.9f;
  config->beta2 = 0.999f;
  config->epsilon = 1e-8f;
  config->weight_decay = 0.0f;
  config->batch_size = 128;
  config->epochs = 10;
  config->threads = 0;
  config->seed = 1;
  config->val_fraction = 0.1;
}

static guint
max_width (const NnModel *model)
{
  guint w = 0;
  for (guint l = 0; l <= model->n_layers; l++)
    w = MAX (w, model->sizes[l]);
  return w;
}

static void
slice_init (Slice *s, const NnModel *model, guint rows)
{
  guint outs = nn_model_n_outputs (model);
  guint w = max_width (model);
  s->input = nn_alloc_floats ((gsize) rows * model->sizes[0]);
  s->act = g_new0 (float *, model->n_layers);
  for (guint l = 0; l < model->n_layers; l++)
    s->act[l] = nn_alloc_floats ((gsize) rows * model->sizes[l + 1]);
  s->delta[0] = nn_alloc_floats ((gsize) rows * w);
  s->delta[1] = nn_alloc_floats ((gsize) rows * w);
  s->labels = g_new0 (guint32, rows);
  s->targets = nn_alloc_floats ((gsize) rows * outs);
}

static void
slice_clear (Slice *s, const NnModel *model)
{
  nn_free_floats (s->input);
  for (guint l = 0; l < model->n_layers; l++)
    nn_free_floats (s->act[l]);
  g_free (s->act);
  nn_free_floats (s->delta[0]);
  nn_free_floats (s->delta[1]);
  g_free (s->labels);
  nn_free_floats (s->targets);
}

NnTrainer *
nn_trainer_new (NnModel *model, const NnTrainConfig *config)
{
  g_return_val_if_fail (model != NULL && config != NULL, NULL);
  NnTrainer *t = g_new0 (NnTrainer, 1);
  t->model = model;
  t->config = *config;
  if (t->config.batch_size == 0)
    t->config.batch_size = 128;
  guint threads = config->threads ? config->threads : g_get_num_processors ();
  threads = CLAMP (threads, 1, t->config.batch_size);
  threads = MIN (threads, 256);
  t->n_threads = threads;
  t->pool = nn_thread_pool_new (threads);
  t->rows_max = (t->config.batch_size + threads - 1) / threads;
  t->opt = nn_optimizer_new (&t->config, model->n_params);
  t->slices = g_new0 (Slice, threads);
  for (guint i = 0; i < threads; i++)
    slice_init (&t->slices[i], model, t->rows_max);
  slice_init (&t->step, model, t->config.batch_size);
  t->grad = nn_alloc_floats (model->n_params);
  t->row_loss = g_new0 (double, (t->config.batch_size + TASK_ROWS - 1) / TASK_ROWS);
  t->batch = g_new (guint32, t->config.batch_size);
  return t;
}

void
nn_trainer_free (NnTrainer *t)
{
  if (t == NULL)
    return;
  nn_thread_pool_free (t->pool);
  for (guint i = 0; i < t->n_threads; i++)
    slice_clear (&t->slices[i], t->model);
  g_free (t->slices);
  slice_clear (&t->step, t->model);
  nn_free_floats (t->grad);
  g_free (t->row_loss);
  nn_optimizer_free (t->opt);
  g_free (t->batch);
  g_free (t);
}

guint
nn_trainer_threads (const NnTrainer *t)
{
  return t->n_threads;
}

/* ---- per-slice forward / backward -------------------------------------- */

/* Forward @n rows already in s->input; output probabilities/values end in
 * s->act[last]. */
static void
slice_forward (NnTrainer *t, Slice *s, guint n)
{
  NnModel *m = t->model;
  const float *x = s->input;
  for (guint l = 0; l < m->n_layers; l++)
    {
      gboolean last = l + 1 == m->n_layers;
      nn_dense_forward (x, n, m->sizes[l], m->sizes[l + 1],
                        nn_model_weights (m, l), nn_model_biases (m, l),
                        last ? -1 : (int) m->activation, s->act[l]);
      x = s->act[l];
    }
  if (m->task == NN_TASK_CLASSIFICATION)
    nn_softmax_rows (s->act[m->n_layers - 1], n, nn_model_n_outputs (m));
}

static guint
argmax (const float *v, guint n)
{
  guint best = 0;
  for (guint j = 1; j < n; j++)
    if (v[j] > v[best])
      best = j;
  return best;
}

/* Load rows[0..n) into the slice's input, labels and targets. */
static void
slice_load (NnTrainer *t, Slice *s, const guint32 *rows, guint n)
{
  const NnDataset *ds = t->ds;
  nn_dataset_gather (ds, rows, n, t->model->norm, s->input);
  if (!ds->has_labels)
    return;
  if (t->model->task == NN_TASK_CLASSIFICATION)
    for (guint r = 0; r < n; r++)
      s->labels[r] = ds->labels[rows[r]];
  else
    for (guint r = 0; r < n; r++)
      s->targets[r] = ds->targets[rows[r]];
}

/* Loss of the slice's n rows after forward (evaluation): also counts the
 * correct classes or sums the squared errors. */
static double
slice_loss (NnTrainer *t, Slice *s, guint n)
{
  NnModel *m = t->model;
  guint c = nn_model_n_outputs (m);
  float *out = s->act[m->n_layers - 1];
  if (m->task == NN_TASK_CLASSIFICATION)
    {
      for (guint r = 0; r < n; r++)
        if (argmax (out + (gsize) r * c, c) == s->labels[r])
          s->correct++;
      return nn_xent_loss (out, s->labels, n, c);
    }
  double sse = 0;
  for (gsize i = 0; i < (gsize) n * c; i++)
    {
      double e = (double) out[i] - s->targets[i];
      sse += e * e;
    }
  s->sq_err += sse;
  return sse / c;
}

/* The rows of part @p of @n rows split over @parts threads. */
static void
part_range (guint n, guint p, guint parts, guint *start, guint *end)
{
  *start = (guint) ((guint64) n * p / parts);
  *end = (guint) ((guint64) n * (p + 1) / parts);
}

static void
job_eval_part (NnTrainer *t, guint part)
{
  Slice *s = &t->slices[part];
  guint start, end;
  part_range (t->n_rows, part, t->n_threads, &start, &end);
  s->loss = 0;
  s->sq_err = 0;
  s->correct = 0;
  for (guint at = start; at < end; at += t->rows_max)
    {
      guint n = MIN (t->rows_max, end - at);
      slice_load (t, s, t->rows + at, n);
      slice_forward (t, s, n);
      s->loss += slice_loss (t, s, n);
    }
}

/* ---- training stages (tasks on the whole batch in t->step) ------------ */

static guint
n_blocks (guint count, guint per)
{
  return (count + per - 1) / per;
}

/* y[r0:r1, ·] of the output layer, then the loss and its gradient (written
 * over y); the loss goes to t->row_loss[task]. */
static void
task_head (NnTrainer *t, guint task)
{
  NnModel *m = t->model;
  Slice *s = &t->step;
  guint l = m->n_layers - 1, in = m->sizes[l], c = m->sizes[l + 1];
  guint r0 = task * TASK_ROWS, n = MIN (TASK_ROWS, t->n_rows - r0);
  const float *x = (l == 0 ? s->input : s->act[l - 1]) + (gsize) r0 * in;
  float *y = s->act[l] + (gsize) r0 * c;
  nn_dense_forward (x, n, in, c, nn_model_weights (m, l), nn_model_biases (m, l), -1, y);
  if (m->task == NN_TASK_CLASSIFICATION)
    {
      nn_softmax_rows (y, n, c);
      t->row_loss[task] = nn_softmax_xent_backward (y, s->labels + r0, n, c,
                                                    t->loss_scale, y);
    }
  else
    t->row_loss[task] = nn_mse_backward (y, s->targets + (gsize) r0 * c, n, c,
                                         t->loss_scale, y) / c;
}

/* Columns [j0, j1) of hidden layer l: y = act(x·w + b). */
static void
task_forward (NnTrainer *t, guint l, guint task)
{
  NnModel *m = t->model;
  Slice *s = &t->step;
  guint in = m->sizes[l], out = m->sizes[l + 1], n = t->n_rows;
  guint j0 = task * TASK_COLS, cols = MIN (TASK_COLS, out - j0);
  const float *x = l == 0 ? s->input : s->act[l - 1];
  const float *b = nn_model_biases (m, l) + j0;
  float *y = s->act[l] + j0;
  nn_gemm (NN_NO_TRANS, NN_NO_TRANS, (int) n, (int) cols, (int) in, 1.0f,
           x, (int) in, nn_model_weights (m, l) + j0, (int) out, 0.0f, y, (int) out);
  nn_bias_activation (y, out, b, n, cols, (int) m->activation);
}

/* The gradient w.r.t. layer l's pre-activation output, and where its dx
 * goes: the head writes over the output layer's activations, then two
 * buffers alternate. */
static float *
layer_dz (NnTrainer *t, guint l)
{
  guint last = t->model->n_layers - 1;
  return l == last ? t->step.act[last] : t->step.delta[(last - l - 1) & 1];
}

/* Task of layer l's backward: first the column blocks of dw (and db), then
 * those of dx = dz·wᵀ (times the previous activation's derivative). */
static void
task_backward (NnTrainer *t, guint l, guint task)
{
  NnModel *m = t->model;
  Slice *s = &t->step;
  guint in = m->sizes[l], out = m->sizes[l + 1], n = t->n_rows;
  const float *dz = layer_dz (t, l);
  const float *w = nn_model_weights (m, l);
  guint w_tasks = n_blocks (out, TASK_COLS);
  if (task < w_tasks)
    {
      guint j0 = task * TASK_COLS, cols = MIN (TASK_COLS, out - j0);
      const float *x = l == 0 ? s->input : s->act[l - 1];
      float *gw = t->grad + nn_model_layer_offset (m, l);
      float *gb = gw + (gsize) in * out + j0;
      nn_gemm (NN_TRANS, NN_NO_TRANS, (int) in, (int) cols, (int) n, 1.0f,
               x, (int) in, dz + j0, (int) out, 0.0f, gw + j0, (int) out);
      memset (gb, 0, sizeof (float) * cols);
      for (guint r = 0; r < n; r++)
        nn_vec_add (gb, dz + (gsize) r * out + j0, cols);
      return;
    }
  guint i0 = (task - w_tasks) * TASK_COLS, cols = MIN (TASK_COLS, in - i0);
  float *dx = layer_dz (t, l - 1) + i0;
  nn_gemm (NN_NO_TRANS, NN_TRANS, (int) n, (int) cols, (int) out, 1.0f,
           dz, (int) out, w + (gsize) i0 * out, (int) out, 0.0f, dx, (int) in);
  const float *y = s->act[l - 1] + i0;
  for (guint r = 0; r < n; r++)
    nn_activation_backward (m->activation, y + (gsize) r * in, dx + (gsize) r * in, cols);
}

static void
task_gather (NnTrainer *t, guint task)
{
  Slice *s = &t->step;
  guint r0 = task * TASK_ROWS, n = MIN (TASK_ROWS, t->n_rows - r0);
  guint in = t->model->sizes[0], c = nn_model_n_outputs (t->model);
  const NnDataset *ds = t->ds;
  const guint32 *rows = t->rows + r0;
  nn_dataset_gather (ds, rows, n, t->model->norm, s->input + (gsize) r0 * in);
  if (t->model->task == NN_TASK_CLASSIFICATION)
    for (guint r = 0; r < n; r++)
      s->labels[r0 + r] = ds->labels[rows[r]];
  else
    for (guint r = 0; r < n; r++)
      s->targets[(gsize) (r0 + r) * c] = ds->targets[rows[r]];
}

static void
task_update (NnTrainer *t, guint task)
{
  gsize start = (gsize) task * TASK_PARAMS;
  gsize end = MIN (t->model->n_params, start + TASK_PARAMS);
  const float *g = t->grad;
  nn_optimizer_update_sum (t->opt, t->model->params, &g, 1, start, end);
}

static void
task_run (NnTrainer *t, guint task)
{
  switch (t->stage)
    {
    case STAGE_GATHER:
      task_gather (t, task);
      break;
    case STAGE_FORWARD:
      task_forward (t, t->layer, task);
      break;
    case STAGE_HEAD:
      task_head (t, task);
      break;
    case STAGE_BACKWARD:
      task_backward (t, t->layer, task);
      break;
    case STAGE_UPDATE:
      task_update (t, task);
      break;
    case STAGE_EVAL:
      break;
    }
}

/* Every thread takes tasks until none is left. */
static void
job_run (guint part, guint n_parts, gpointer data)
{
  NnTrainer *t = data;
  if (t->stage == STAGE_EVAL)
    {
      job_eval_part (t, part);
      return;
    }
  (void) n_parts;
  for (;;)
    {
      gint task = g_atomic_int_add (&t->next_task, 1);
      if (task >= (gint) t->n_tasks)
        return;
      task_run (t, (guint) task);
    }
}

static void
trainer_stage (NnTrainer *t, Stage stage, guint layer, guint n_tasks)
{
  t->stage = stage;
  t->layer = layer;
  t->n_tasks = n_tasks;
  g_atomic_int_set (&t->next_task, 0);
  if (n_tasks == 1)
    task_run (t, 0);     /* not worth waking the pool */
  else
    nn_thread_pool_run (t->pool, job_run, t);
}

/* One optimisation step on rows[0..n); returns the summed loss. */
static double
trainer_step (NnTrainer *t, const NnDataset *ds, const guint32 *rows, guint n)
{
  NnModel *m = t->model;
  guint c = nn_model_n_outputs (m), last = m->n_layers - 1;
  t->ds = ds;
  t->rows = rows;
  t->n_rows = n;
  t->loss_scale = m->task == NN_TASK_CLASSIFICATION
                  ? 1.0f / (float) n : 2.0f / ((float) n * (float) c);
  guint row_tasks = n_blocks (n, TASK_ROWS);
  trainer_stage (t, STAGE_GATHER, 0, row_tasks);
  for (guint l = 0; l < last; l++)
    trainer_stage (t, STAGE_FORWARD, l, n_blocks (m->sizes[l + 1], TASK_COLS));
  trainer_stage (t, STAGE_HEAD, last, row_tasks);
  for (guint l = m->n_layers; l-- > 0;)
    trainer_stage (t, STAGE_BACKWARD, l,
                   n_blocks (m->sizes[l + 1], TASK_COLS)
                   + (l > 0 ? n_blocks (m->sizes[l], TASK_COLS) : 0));
  nn_optimizer_begin_step (t->opt);
  trainer_stage (t, STAGE_UPDATE, 0, (guint) ((m->n_params + TASK_PARAMS - 1) / TASK_PARAMS));
  double loss = 0;
  for (guint i = 0; i < row_tasks; i++)
    loss += t->row_loss[i];
  return loss;
}

typedef struct {
  double loss;       /* mean */
  double accuracy;   /* classification, else NAN */
  double r2;         /* regression, else NAN */
} EvalResult;

static EvalResult
trainer_eval (NnTrainer *t, const NnDataset *ds, const guint32 *rows, guint n)
{
  EvalResult res = { NAN, NAN, NAN };
  if (n == 0)
    return res;
  t->stage = STAGE_EVAL;
  t->ds = ds;
  t->rows = rows;
  t->n_rows = n;
  nn_thread_pool_run (t->pool, job_run, t);
  double loss = 0, sse = 0;
  guint64 correct = 0;
  for (guint i = 0; i < t->n_threads; i++)
    {
      loss += t->slices[i].loss;
      sse += t->slices[i].sq_err;
      correct += t->slices[i].correct;
    }
  res.loss = loss / n;
  if (t->model->task == NN_TASK_CLASSIFICATION)
    res.accuracy = (double) correct / n;
  else
    {
      double mean = 0, sst = 0;
      for (guint r = 0; r < n; r++)
        mean += ds->targets[rows[r]];
      mean /= n;
      for (guint r = 0; r < n; r++)
        {
          double d = ds->targets[rows[r]] - mean;
          sst += d * d;
        }
      res.r2 = sst > 0 ? 1.0 - sse / sst : NAN;
    }
  return res;
}

/* ---- validation of inputs ---------------------------------------------- */

static gboolean
check_rows (const NnDataset *ds, const guint32 *rows, guint n,
            gboolean validation, GError **error)
{
  for (guint i = 0; i < n; i++)
    if (rows[i] >= ds->n_rows)
      {
        if (validation)
          g_set_error (error, NN_ERROR, NN_ERROR_INVALID,
                       _("Validation row index %u is out of range (the data has %u rows)"),
                       rows[i], ds->n_rows);
        else
          g_set_error (error, NN_ERROR, NN_ERROR_INVALID,
                       _("Training row index %u is out of range (the data has %u rows)"),
                       rows[i], ds->n_rows);
        return FALSE;
      }
  return TRUE;
}

static gboolean
trainer_check_data (NnTrainer *t, const NnDataset *ds, GError **error)
{
  NnModel *m = t->model;
  guint c = nn_model_n_outputs (m);
  if (ds->n_features != nn_model_n_inputs (m))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_MISMATCH,
                   _("The data has %u features but the model expects %u"),
                   ds->n_features, nn_model_n_inputs (m));
      return FALSE;
    }
  if (m->norm != NULL && m->norm->n_features != ds->n_features)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_MISMATCH,
                   _("The normalisation has %u features but the data has %u"),
                   m->norm->n_features, ds->n_features);
      return FALSE;
    }
  if (!ds->has_labels || (ds->features == NULL && ds->pixels == NULL))
    {
      g_set_error_literal (error, NN_ERROR, NN_ERROR_INVALID,
                           _("The training data has no labels"));
      return FALSE;
    }
  if (m->task == NN_TASK_CLASSIFICATION)
    {
      if (ds->labels == NULL)
        {
          g_set_error_literal (error, NN_ERROR, NN_ERROR_MISMATCH,
                               _("Classification needs class labels"));
          return FALSE;
        }
      for (guint r = 0; r < ds->n_rows; r++)
        if (ds->labels[r] >= c)
          {
            g_set_error (error, NN_ERROR, NN_ERROR_MISMATCH,
                         _("Row %u has class %u but the model has %u classes"),
                         r + 1, ds->labels[r], c);
            return FALSE;
          }
    }
  else if (ds->targets == NULL || c != 1)
    {
      g_set_error_literal (error, NN_ERROR, NN_ERROR_MISMATCH,
                           _("Regression needs numeric targets and a model with one output"));
      return FALSE;
    }
  return TRUE;
}

/* ---- public entry points ----------------------------------------------- */

gboolean
nn_trainer_fit (NnTrainer *t, const NnDataset *ds,
                const guint32 *train_rows, guint n_train,
                const guint32 *val_rows, guint n_val,
                NnEpochCallback callback, gpointer user_data,
                GError **error)
{
  if (n_train == 0 || t->config.epochs == 0)
    {
      g_set_error_literal (error, NN_ERROR, NN_ERROR_INVALID,
                           n_train == 0 ? _("No training rows")
                                        : _("The number of epochs must be at least 1"));
      return FALSE;
    }
  if (val_rows == NULL)
    n_val = 0;
  if (!trainer_check_data (t, ds, error)
      || !check_rows (ds, train_rows, n_train, FALSE, error)
      || !check_rows (ds, val_rows, n_val, TRUE, error))
    return FALSE;

  g_autofree guint32 *order = g_memdup2 (train_rows, sizeof (guint32) * n_train);
  NnRng rng;
  nn_rng_seed (&rng, t->config.seed);
  guint bs = t->config.batch_size;
  gint64 t0 = g_get_monotonic_time ();

  for (guint epoch = 1; epoch <= t->config.epochs; epoch++)
    {
      gint64 e0 = g_get_monotonic_time ();
      nn_rng_shuffle (&rng, order, n_train);
      double loss = 0;
      for (guint at = 0; at < n_train; at += bs)
        loss += trainer_step (t, ds, order + at, MIN (bs, n_train - at));
      gint64 e1 = g_get_monotonic_time ();

      EvalResult val = trainer_eval (t, ds, val_rows, n_val);
      NnEpochReport report = {
        .epoch = epoch,
        .epochs = t->config.epochs,
        .train_loss = loss / n_train,
        .val_loss = val.loss,
        .val_accuracy = val.accuracy,
        .val_r2 = val.r2,
        .samples_per_s = n_train / MAX ((e1 - e0) / 1e6, 1e-9),
        .elapsed_s = (g_get_monotonic_time () - t0) / 1e6,
      };
      if (callback != NULL && !callback (&report, user_data))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               _("Training was cancelled"));
          return FALSE;
        }
    }
  return TRUE;
}

double
nn_trainer_run_batches (NnTrainer *t, const NnDataset *ds,
                        const guint32 *rows, guint n_rows, guint n_batches)
{
  if (n_rows == 0 || n_batches == 0 || !trainer_check_data (t, ds, NULL)
      || !check_rows (ds, rows, n_rows, FALSE, NULL))
    return NAN;
  guint bs = MIN (t->config.batch_size, n_rows);
  double loss = 0;
  guint64 seen = 0;
  guint cursor = 0;
  for (guint b = 0; b < n_batches; b++)
    {
      for (guint i = 0; i < bs; i++)
        {
          t->batch[i] = rows[cursor];
          cursor = cursor + 1 == n_rows ? 0 : cursor + 1;
        }
      loss += trainer_step (t, ds, t->batch, bs);
      seen += bs;
    }
  return loss / seen;
}

double
nn_trainer_evaluate_loss (NnTrainer *t, const NnDataset *ds,
                          const guint32 *rows, guint n_rows)
{
  if (!trainer_check_data (t, ds, NULL) || !check_rows (ds, rows, n_rows, FALSE, NULL))
    return NAN;
  return trainer_eval (t, ds, rows, n_rows).loss;
}
