/* nn-train.c — mini-batch training on the thread pool.
 *
 * A training step runs the whole mini-batch through each layer in turn;
 * every stage is cut into small fixed tasks:
 *  - gathering the inputs and the output layer + loss: blocks of rows;
 *  - a hidden layer's forward: blocks of its output columns
 *    (y[:, cols] = x·w[:, cols] + b[cols]);
 *  - a layer's backward: blocks of columns of dw (dw[:, cols] = xᵀ·dy[:, cols])
 *    and of dx (dx[:, cols] = dy·w[cols, :]ᵀ), and the optimizer on the
 *    blocks of the layer above, whose weights this stage no longer reads.
 * Each task writes its own part of one shared gradient, so there is no
 * per-thread gradient to sum, and a task computes the same thing whichever
 * thread runs it: the same seed gives bit-identical weights for any thread
 * count.
 *
 * Data stays on one core. The trainer keeps its own copy of the weights,
 * each layer transposed (out × in), so that a block of output columns is
 * one contiguous run of weights, gradients and Adam moments, and every
 * block has a home thread: the same one in the forward pass, the gradient
 * and the update. On the two cores here a cache line moving between them
 * costs about 0.25 µs, and with blocks taken by whichever thread came first
 * most of the weights crossed over twice a step. A thread that has run its
 * home tasks helps with the others' (a core slowed by the host does fewer).
 * Evaluation splits rows over the threads. Nothing is allocated per batch. */
#include "config.h"
#include "nn-train.h"
#include "nn-metrics.h"
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

/* Columns per column task, rows per row task (multiples of 16 floats:
 * tasks never share a cache line when the rows are aligned). */
#define TASK_COLS 32
#define TASK_ROWS 16

typedef enum {
  TASK_GATHER,             /* row blocks: inputs, labels, targets */
  TASK_FORWARD,            /* column blocks of a hidden layer */
  TASK_HEAD,               /* row blocks: output layer, loss and its gradient */
  TASK_WEIGHT_GRAD,        /* column blocks of dw (and db) */
  TASK_WEIGHT_GRAD_UPDATE, /* the same, then the optimizer on those columns */
  TASK_INPUT_GRAD,         /* column blocks of dx */
  TASK_UPDATE,             /* the optimizer on column blocks of a layer */
} TaskKind;

/* A run of @n_blocks tasks of one kind on one layer. Thread p's home blocks
 * are the p-th of n_threads equal runs, so block b of a layer has the same
 * home in every stage. */
typedef struct {
  TaskKind kind;
  guint layer;
  guint n_blocks;
} Segment;

/* Per thread: how many of the current stage's home tasks were taken. */
typedef struct {
  gint taken;              /* atomic */
  char pad[64 - sizeof (gint)];
} PartCounter;

struct _NnTrainer {
  NnModel *model;
  NnTrainConfig config;
  NnThreadPool *pool;
  guint n_threads;
  guint rows_max;        /* rows per thread per forward */
  NnOptimizer *opt;
  Slice *slices;         /* evaluation, per thread */
  Slice step;            /* training: the whole batch */
  float *grad;           /* n_params, laid out as params */
  double *row_loss;      /* per row task of the head stage */
  guint32 *batch;        /* batch_size row indices (run_batches) */
  float *params;         /* the model's parameters, weights transposed */
  /* the stage being run */
  gboolean evaluating;   /* evaluation: rows split evenly, no tasks */
  Segment segs[3];
  guint n_segs;
  PartCounter *next;     /* n_threads */
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
  config->lr_schedule = NN_LR_COSINE;
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
  t->params = nn_alloc_floats (model->n_params);
  t->next = g_aligned_alloc0 (threads, sizeof (PartCounter), 64);
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
  nn_free_floats (t->params);
  g_aligned_free (t->next);
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
        if (nn_argmax (out + (gsize) r * c, c) == s->labels[r])
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

/* ---- the trainer's copy of the parameters ------------------------------ */

/* dst (cols × rows) = srcᵀ, src being rows × cols. */
static void
transpose (float *dst, const float *src, guint rows, guint cols)
{
  enum { TILE = 32 };
  for (guint r0 = 0; r0 < rows; r0 += TILE)
    for (guint c0 = 0; c0 < cols; c0 += TILE)
      for (guint r = r0; r < MIN (r0 + TILE, rows); r++)
        for (guint c = c0; c < MIN (c0 + TILE, cols); c++)
          dst[(gsize) c * rows + r] = src[(gsize) r * cols + c];
}

/* Copies model → trainer (@to_trainer) or back, transposing each layer's
 * weights; the biases keep their place. */
static void
params_sync (NnTrainer *t, gboolean to_trainer)
{
  NnModel *m = t->model;
  for (guint l = 0; l < m->n_layers; l++)
    {
      guint in = m->sizes[l], out = m->sizes[l + 1];
      gsize off = nn_model_layer_offset (m, l), n_w = (gsize) in * out;
      if (to_trainer)
        transpose (t->params + off, m->params + off, in, out);
      else
        transpose (m->params + off, t->params + off, out, in);
      float *dst = (to_trainer ? t->params : m->params) + off + n_w;
      const float *src = (to_trainer ? m->params : t->params) + off + n_w;
      memcpy (dst, src, sizeof (float) * out);
    }
}

/* Layer l's weights (out × in) and biases in the trainer's copy. */
static const float *
layer_wt (const NnTrainer *t, guint l)
{
  return t->params + nn_model_layer_offset (t->model, l);
}

static const float *
layer_bias (const NnTrainer *t, guint l)
{
  const NnModel *m = t->model;
  return layer_wt (t, l) + (gsize) m->sizes[l] * m->sizes[l + 1];
}

/* ---- training stages (tasks on the whole batch in t->step) ------------ */

static guint
n_blocks (guint count, guint per)
{
  return (count + per - 1) / per;
}

/* y[r0:r1, ·] of the output layer, then the loss and its gradient (written
 * over y); the loss goes to t->row_loss[block]. */
static void
task_head (NnTrainer *t, guint block)
{
  NnModel *m = t->model;
  Slice *s = &t->step;
  guint l = m->n_layers - 1, in = m->sizes[l], c = m->sizes[l + 1];
  guint r0 = block * TASK_ROWS, n = MIN (TASK_ROWS, t->n_rows - r0);
  const float *x = (l == 0 ? s->input : s->act[l - 1]) + (gsize) r0 * in;
  float *y = s->act[l] + (gsize) r0 * c;
  nn_gemm (NN_NO_TRANS, NN_TRANS, (int) n, (int) c, (int) in, 1.0f,
           x, (int) in, layer_wt (t, l), (int) in, 0.0f, y, (int) c);
  nn_bias_activation (y, c, layer_bias (t, l), n, c, -1);
  if (m->task == NN_TASK_CLASSIFICATION)
    {
      nn_softmax_rows (y, n, c);
      t->row_loss[block] = nn_softmax_xent_backward (y, s->labels + r0, n, c,
                                                     t->loss_scale, y);
    }
  else
    t->row_loss[block] = nn_mse_backward (y, s->targets + (gsize) r0 * c, n, c,
                                          t->loss_scale, y) / c;
}

/* Columns [j0, j1) of hidden layer l: y = act(x·w + b). */
static void
task_forward (NnTrainer *t, guint l, guint block)
{
  NnModel *m = t->model;
  Slice *s = &t->step;
  guint in = m->sizes[l], out = m->sizes[l + 1], n = t->n_rows;
  guint j0 = block * TASK_COLS, cols = MIN (TASK_COLS, out - j0);
  const float *x = l == 0 ? s->input : s->act[l - 1];
  float *y = s->act[l] + j0;
  nn_gemm (NN_NO_TRANS, NN_TRANS, (int) n, (int) cols, (int) in, 1.0f,
           x, (int) in, layer_wt (t, l) + (gsize) j0 * in, (int) in, 0.0f, y, (int) out);
  nn_bias_activation (y, out, layer_bias (t, l) + j0, n, cols, (int) m->activation);
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

/* The optimizer on output columns [j0, j1) of layer l: rows j0..j1 of its
 * transposed weights (one contiguous run) and those biases. */
static void
task_update (NnTrainer *t, guint l, guint block)
{
  NnModel *m = t->model;
  guint in = m->sizes[l], out = m->sizes[l + 1];
  guint j0 = block * TASK_COLS, j1 = MIN (j0 + TASK_COLS, out);
  gsize w = nn_model_layer_offset (m, l), b = w + (gsize) in * out;
  nn_optimizer_update (t->opt, t->params, t->grad, w + (gsize) j0 * in, w + (gsize) j1 * in);
  nn_optimizer_update (t->opt, t->params, t->grad, b + j0, b + j1);
}

/* dw[cols, :] = dz[:, cols]ᵀ·x (transposed) and db[cols] of layer l. */
static void
task_weight_grad (NnTrainer *t, guint l, guint block)
{
  NnModel *m = t->model;
  Slice *s = &t->step;
  guint in = m->sizes[l], out = m->sizes[l + 1], n = t->n_rows;
  guint j0 = block * TASK_COLS, cols = MIN (TASK_COLS, out - j0);
  const float *dz = layer_dz (t, l);
  const float *x = l == 0 ? s->input : s->act[l - 1];
  float *gw = t->grad + nn_model_layer_offset (m, l);
  float *gb = gw + (gsize) in * out + j0;
  nn_gemm (NN_TRANS, NN_NO_TRANS, (int) cols, (int) in, (int) n, 1.0f,
           dz + j0, (int) out, x, (int) in, 0.0f, gw + (gsize) j0 * in, (int) in);
  memset (gb, 0, sizeof (float) * cols);
  for (guint r = 0; r < n; r++)
    nn_vec_add (gb, dz + (gsize) r * out + j0, cols);
}

/* dx[:, cols] = dz·w[cols, :]ᵀ of layer l, times the derivative of the
 * previous layer's activation: the dz of layer l − 1. */
static void
task_input_grad (NnTrainer *t, guint l, guint block)
{
  NnModel *m = t->model;
  Slice *s = &t->step;
  guint in = m->sizes[l], out = m->sizes[l + 1], n = t->n_rows;
  guint i0 = block * TASK_COLS, cols = MIN (TASK_COLS, in - i0);
  const float *dz = layer_dz (t, l);
  float *dx = layer_dz (t, l - 1) + i0;
  nn_gemm (NN_NO_TRANS, NN_NO_TRANS, (int) n, (int) cols, (int) out, 1.0f,
           dz, (int) out, layer_wt (t, l) + i0, (int) in, 0.0f, dx, (int) in);
  const float *y = s->act[l - 1] + i0;
  for (guint r = 0; r < n; r++)
    nn_activation_backward (m->activation, y + (gsize) r * in, dx + (gsize) r * in, cols);
}

static void
task_gather (NnTrainer *t, guint block)
{
  Slice *s = &t->step;
  guint r0 = block * TASK_ROWS, n = MIN (TASK_ROWS, t->n_rows - r0);
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
task_run (NnTrainer *t, const Segment *seg, guint block)
{
  switch (seg->kind)
    {
    case TASK_GATHER:
      task_gather (t, block);
      break;
    case TASK_FORWARD:
      task_forward (t, seg->layer, block);
      break;
    case TASK_HEAD:
      task_head (t, block);
      break;
    case TASK_WEIGHT_GRAD:
      task_weight_grad (t, seg->layer, block);
      break;
    case TASK_WEIGHT_GRAD_UPDATE:
      task_weight_grad (t, seg->layer, block);
      task_update (t, seg->layer, block);
      break;
    case TASK_INPUT_GRAD:
      task_input_grad (t, seg->layer, block);
      break;
    case TASK_UPDATE:
      task_update (t, seg->layer, block);
      break;
    }
}

/* Takes the next unstarted task whose home is thread @home; FALSE when
 * none is left. */
static gboolean
stage_take (NnTrainer *t, guint home, const Segment **seg, guint *block)
{
  guint k = (guint) g_atomic_int_add (&t->next[home].taken, 1);
  for (guint i = 0; i < t->n_segs; i++)
    {
      guint first, end;
      part_range (t->segs[i].n_blocks, home, t->n_threads, &first, &end);
      if (k < end - first)
        {
          *seg = &t->segs[i];
          *block = first + k;
          return TRUE;
        }
      k -= end - first;
    }
  return FALSE;
}

/* A thread runs the tasks whose home it is, then helps the others. */
static void
job_run (guint part, guint n_parts, gpointer data)
{
  NnTrainer *t = data;
  if (t->evaluating)
    {
      job_eval_part (t, part);
      return;
    }
  for (guint i = 0; i < n_parts; i++)
    {
      guint home = (part + i) % n_parts;
      const Segment *seg;
      guint block;
      while (stage_take (t, home, &seg, &block))
        task_run (t, seg, block);
    }
}

/* Runs one stage: the tasks of up to three segments, in parallel. */
static void
trainer_stage (NnTrainer *t, const Segment *segs, guint n_segs)
{
  guint total = 0;
  for (guint i = 0; i < n_segs; i++)
    {
      t->segs[i] = segs[i];
      total += segs[i].n_blocks;
    }
  t->n_segs = n_segs;
  for (guint p = 0; p < t->n_threads; p++)
    g_atomic_int_set (&t->next[p].taken, 0);
  if (total == 1)
    task_run (t, &segs[0], 0);     /* not worth waking the pool */
  else
    nn_thread_pool_run (t->pool, job_run, t);
}

static void
trainer_stage1 (NnTrainer *t, TaskKind kind, guint layer, guint n)
{
  Segment seg = { kind, layer, n };
  trainer_stage (t, &seg, 1);
}

/* The backward stage of layer l: its weight gradient, its input gradient
 * (the next stage's dz) and the update of layer l + 1, whose weights no
 * task reads any more. Layer 0 has no input gradient, so its update follows
 * its gradient in the same task. */
static void
trainer_backward_stage (NnTrainer *t, guint l)
{
  NnModel *m = t->model;
  Segment segs[3];
  guint n = 0;
  segs[n++] = (Segment) { l == 0 ? TASK_WEIGHT_GRAD_UPDATE : TASK_WEIGHT_GRAD, l,
                          n_blocks (m->sizes[l + 1], TASK_COLS) };
  if (l > 0)
    segs[n++] = (Segment) { TASK_INPUT_GRAD, l, n_blocks (m->sizes[l], TASK_COLS) };
  if (l + 1 < m->n_layers)
    segs[n++] = (Segment) { TASK_UPDATE, l + 1, n_blocks (m->sizes[l + 2], TASK_COLS) };
  trainer_stage (t, segs, n);
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
  trainer_stage1 (t, TASK_GATHER, 0, row_tasks);
  for (guint l = 0; l < last; l++)
    trainer_stage1 (t, TASK_FORWARD, l, n_blocks (m->sizes[l + 1], TASK_COLS));
  trainer_stage1 (t, TASK_HEAD, last, row_tasks);
  nn_optimizer_begin_step (t->opt);
  for (guint l = m->n_layers; l-- > 0;)
    trainer_backward_stage (t, l);
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
  t->evaluating = TRUE;
  t->ds = ds;
  t->rows = rows;
  t->n_rows = n;
  nn_thread_pool_run (t->pool, job_run, t);
  t->evaluating = FALSE;
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

/* FALSE once a step overflowed: NaN spreads through every later step and
 * the loss hides it (a NaN probability counts as the smallest one). */
static gboolean
params_finite (const NnModel *model)
{
  for (gsize i = 0; i < model->n_params; i++)
    if (!isfinite (model->params[i]))
      return FALSE;
  return TRUE;
}

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
  guint64 total_steps = (guint64) (n_train + bs - 1) / bs * t->config.epochs;
  guint64 step = 0;
  gint64 t0 = g_get_monotonic_time ();
  params_sync (t, TRUE);

  for (guint epoch = 1; epoch <= t->config.epochs; epoch++)
    {
      gint64 e0 = g_get_monotonic_time ();
      nn_rng_shuffle (&rng, order, n_train);
      double loss = 0;
      for (guint at = 0; at < n_train; at += bs)
        {
          t->opt->lr = nn_lr_at (t->config.lr_schedule, t->config.learning_rate,
                                 step++, total_steps);
          loss += trainer_step (t, ds, order + at, MIN (bs, n_train - at));
        }
      gint64 e1 = g_get_monotonic_time ();
      params_sync (t, FALSE);
      if (!params_finite (t->model))
        {
          g_set_error (error, NN_ERROR, NN_ERROR_INVALID,
                       _("Training diverged in epoch %u: the weights are no longer finite "
                         "numbers. Try a smaller learning rate."), epoch);
          return FALSE;
        }

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
  params_sync (t, TRUE);
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
  params_sync (t, FALSE);
  return loss / seen;
}

float
nn_lr_at (NnLrSchedule schedule, float base, guint64 step, guint64 total_steps)
{
  if (schedule == NN_LR_CONSTANT || total_steps == 0)
    return base;
  double progress = (double) MIN (step, total_steps) / (double) total_steps;
  return (float) (base * 0.5 * (1.0 + cos (G_PI * progress)));
}

double
nn_trainer_evaluate_loss (NnTrainer *t, const NnDataset *ds,
                          const guint32 *rows, guint n_rows)
{
  if (!trainer_check_data (t, ds, NULL) || !check_rows (ds, rows, n_rows, FALSE, NULL))
    return NAN;
  return trainer_eval (t, ds, rows, n_rows).loss;
}
