/* nn-model.c — the MLP: construction and seeded initialisation, schema and
 * metrics, and inference (one row or batches). The file format is in
 * nn-model-file.c. */
#include "nn-model.h"
#include "nn-gemm.h"
#include "nn-layers.h"
#include "nn-threadpool.h"

#include <math.h>
#include <string.h>

/* Rows per forward chunk in nn_model_predict: keeps the buffers in L2. */
#define PREDICT_CHUNK 256
/* Batches from this size use every core. */
#define PREDICT_PARALLEL_MIN 128
/* Stack buffer for small predictions (one row, a few rows). */
#define PREDICT_STACK_FLOATS 4096

gsize
nn_model_count_params (const guint *sizes, guint n_layers)
{
  guint64 total = 0;
  for (guint l = 0; l < n_layers; l++)
    {
      guint64 in = sizes[l], out = sizes[l + 1];
      if (in == 0 || out == 0)
        return 0;
      guint64 layer = in * out + out;   /* no overflow: both < 2^32 */
      total += layer;
      if (layer > NN_MODEL_MAX_PARAMS || total > NN_MODEL_MAX_PARAMS)
        return 0;
    }
  return (gsize) total;
}

NnModel *
nn_model_new_sized (NnTask task, const guint *sizes, guint n_layers,
                    NnActivation activation)
{
  g_return_val_if_fail (n_layers >= 1, NULL);
  gsize n_params = nn_model_count_params (sizes, n_layers);
  g_return_val_if_fail (n_params > 0, NULL);

  NnModel *model = g_new0 (NnModel, 1);
  model->task = task;
  model->n_layers = n_layers;
  model->sizes = g_memdup2 (sizes, sizeof (guint) * (n_layers + 1));
  model->activation = activation;
  model->n_params = n_params;
  model->params = nn_alloc_floats (n_params);
  model->metrics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  model->created_unix = g_get_real_time () / G_USEC_PER_SEC;
  return model;
}

NnModel *
nn_model_new (NnTask task, guint n_inputs, const guint *hidden,
              guint n_hidden, guint n_outputs, NnActivation activation,
              guint64 seed)
{
  guint n_layers = n_hidden + 1;
  g_autofree guint *sizes = g_new (guint, n_layers + 1);
  sizes[0] = n_inputs;
  for (guint i = 0; i < n_hidden; i++)
    sizes[i + 1] = hidden[i];
  sizes[n_layers] = n_outputs;

  NnModel *model = nn_model_new_sized (task, sizes, n_layers, activation);
  if (model == NULL)
    return NULL;

  NnRng rng;
  nn_rng_seed (&rng, seed);
  for (guint l = 0; l < n_layers; l++)
    {
      guint in = sizes[l], out = sizes[l + 1];
      float *w = nn_model_weights (model, l);
      gsize count = (gsize) in * out;
      gboolean last = l + 1 == n_layers;
      if (activation == NN_ACT_RELU && !last)
        {
          /* He: N(0, 2/in) */
          double sd = sqrt (2.0 / in);
          for (gsize i = 0; i < count; i++)
            w[i] = (float) (nn_rng_normal (&rng) * sd);
        }
      else
        {
          /* Xavier/Glorot uniform: U(±√(6/(in+out))) */
          double lim = sqrt (6.0 / ((double) in + out));
          for (gsize i = 0; i < count; i++)
            w[i] = (float) ((2.0 * nn_rng_uniform (&rng) - 1.0) * lim);
        }
      /* biases stay zero */
    }
  return model;
}

void
nn_model_free (NnModel *model)
{
  if (model == NULL)
    return;
  g_free (model->sizes);
  nn_free_floats (model->params);
  nn_normalization_free (model->norm);
  g_strfreev (model->input_names);
  g_strfreev (model->class_names);
  g_free (model->label_name);
  if (model->metrics)
    g_hash_table_unref (model->metrics);
  g_free (model);
}

guint
nn_model_n_inputs (const NnModel *model)
{
  return model->sizes[0];
}

guint
nn_model_n_outputs (const NnModel *model)
{
  return model->sizes[model->n_layers];
}

gsize
nn_model_layer_offset (const NnModel *model, guint layer)
{
  gsize off = 0;
  for (guint l = 0; l < layer; l++)
    off += (gsize) model->sizes[l] * model->sizes[l + 1] + model->sizes[l + 1];
  return off;
}

float *
nn_model_weights (NnModel *model, guint layer)
{
  g_return_val_if_fail (layer < model->n_layers, NULL);
  return model->params + nn_model_layer_offset (model, layer);
}

float *
nn_model_biases (NnModel *model, guint layer)
{
  g_return_val_if_fail (layer < model->n_layers, NULL);
  return model->params + nn_model_layer_offset (model, layer)
         + (gsize) model->sizes[layer] * model->sizes[layer + 1];
}

static NnNormalization *
normalization_copy (const NnNormalization *norm)
{
  NnNormalization *copy = nn_normalization_new_identity (norm->n_features);
  memcpy (copy->shift, norm->shift, sizeof (float) * norm->n_features);
  memcpy (copy->scale, norm->scale, sizeof (float) * norm->n_features);
  return copy;
}

void
nn_model_set_schema (NnModel *model, const NnDataset *ds,
                     const NnNormalization *norm)
{
  g_return_if_fail (ds->n_features == nn_model_n_inputs (model));
  g_return_if_fail (norm == NULL || norm->n_features == ds->n_features);

  g_strfreev (model->input_names);
  model->input_names = ds->feature_names ? g_strdupv (ds->feature_names) : NULL;
  g_strfreev (model->class_names);
  model->class_names = NULL;
  if (model->task == NN_TASK_CLASSIFICATION && ds->class_names != NULL
      && g_strv_length (ds->class_names) == nn_model_n_outputs (model))
    model->class_names = g_strdupv (ds->class_names);
  g_free (model->label_name);
  model->label_name = g_strdup (ds->label_name);
  nn_normalization_free (model->norm);
  model->norm = norm ? normalization_copy (norm) : NULL;
}

void
nn_model_set_metric (NnModel *model, const char *name, double value)
{
  double *v = g_new (double, 1);
  *v = value;
  g_hash_table_replace (model->metrics, g_strdup (name), v);
}

const char *
nn_activation_name (NnActivation act)
{
  switch (act)
    {
    case NN_ACT_RELU:
      return "relu";
    case NN_ACT_TANH:
      return "tanh";
    case NN_ACT_SIGMOID:
      return "sigmoid";
    }
  return "unknown";
}

gboolean
nn_activation_from_name (const char *name, NnActivation *out)
{
  static const NnActivation all[] = { NN_ACT_RELU, NN_ACT_TANH, NN_ACT_SIGMOID };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (name != NULL && g_ascii_strcasecmp (name, nn_activation_name (all[i])) == 0)
      {
        *out = all[i];
        return TRUE;
      }
  return FALSE;
}

/* ---- inference --------------------------------------------------------- */

static guint
model_max_width (const NnModel *model)
{
  guint w = 0;
  for (guint l = 0; l <= model->n_layers; l++)
    w = MAX (w, model->sizes[l]);
  return w;
}

/* Forward @n rows (n ≤ PREDICT_CHUNK) with buffers a, b of n × max width. */
static void
predict_chunk (const NnModel *model, const float *raw, guint n, float *a,
               float *b, float *out)
{
  guint in = model->sizes[0];
  const float *x = raw;
  if (model->norm != NULL)
    {
      const float *sh = model->norm->shift, *sc = model->norm->scale;
      for (guint r = 0; r < n; r++)
        nn_vec_affine (a + (gsize) r * in, raw + (gsize) r * in, sh, sc, in);
      x = a;
    }
  float *bufs[2] = { b, a };
  NnModel *m = (NnModel *) model;   /* accessors only read */
  for (guint l = 0; l < model->n_layers; l++)
    {
      gboolean last = l + 1 == model->n_layers;
      float *y = last ? out : bufs[l & 1];
      int act = last ? -1 : (int) model->activation;
      nn_dense_forward (x, n, model->sizes[l], model->sizes[l + 1],
                        nn_model_weights (m, l), nn_model_biases (m, l), act, y);
      x = y;
    }
  if (model->task == NN_TASK_CLASSIFICATION)
    nn_softmax_rows (out, n, nn_model_n_outputs (model));
}

/* Predict rows serially, in chunks, with one buffer allocation. */
static void
predict_serial (const NnModel *model, const float *raw_inputs, guint n,
                float *out)
{
  guint width = model_max_width (model);
  guint chunk = MIN (n, PREDICT_CHUNK);
  gsize per_buf = (gsize) chunk * width;
  float stack[PREDICT_STACK_FLOATS];
  float *heap = NULL;
  float *a, *b;
  if (2 * per_buf <= PREDICT_STACK_FLOATS)
    a = stack;
  else
    a = heap = g_aligned_alloc (2 * per_buf, sizeof (float), 64);   /* written before read: no zeroing */
  b = a + per_buf;

  guint in = model->sizes[0], outs = nn_model_n_outputs (model);
  for (guint start = 0; start < n; start += chunk)
    {
      guint rows = MIN (chunk, n - start);
      predict_chunk (model, raw_inputs + (gsize) start * in, rows, a, b,
                     out + (gsize) start * outs);
    }
  if (heap != NULL)
    g_aligned_free (heap);
}

/* Large batches are split over every core (nn_thread_pool_try_run_shared):
 * one GEMM stream cannot reach the batch-prediction target on its own. */
typedef struct {
  const NnModel *model;
  const float *raw;
  guint n;
  float *out;
} PredictJob;

static void
predict_part (guint part, guint n_parts, gpointer data)
{
  PredictJob *job = data;
  guint start = (guint) ((guint64) job->n * part / n_parts);
  guint end = (guint) ((guint64) job->n * (part + 1) / n_parts);
  if (end > start)
    predict_serial (job->model, job->raw + (gsize) start * job->model->sizes[0],
                    end - start,
                    job->out + (gsize) start * nn_model_n_outputs (job->model));
}

void
nn_model_predict (const NnModel *model, const float *raw_inputs, guint n,
                  float *out)
{
  if (n == 0)
    return;
  if (n >= PREDICT_PARALLEL_MIN)
    {
      PredictJob job = { model, raw_inputs, n, out };
      if (nn_thread_pool_try_run_shared (predict_part, &job))
        return;
    }
  predict_serial (model, raw_inputs, n, out);
}
