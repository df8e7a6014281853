/* nn-quant.c — int8 inference: building the quantised model from an
 * NnModel, run-time kernel choice, and the forward pass (chunked rows,
 * large batches over every core). The arithmetic is in nn-quant-<isa>.c;
 * the scheme is described in nn-quant.h. */
#include "config.h"
#include "nn-quant.h"
#include "nn-layers.h"
#include "nn-quant-private.h"
#include "nn-threadpool.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

/* Rows per forward chunk (and per hand-out to a thread): the chunk's
 * quantised inputs and hidden outputs stay in L2 with the weights. */
#define QUANT_CHUNK 64
/* Batches from this size use every core. */
#define QUANT_PARALLEL_MIN 128
/* Scratch on the stack up to this many bytes (one row, a few rows). */
#define QUANT_STACK_BYTES 16384

struct _NnQuantModel {
  NnTask task;
  NnActivation activation;
  guint n_layers;
  guint n_inputs, n_outputs;
  NnQuantLayer *layers;
  float *shift, *scale;     /* input normalisation; NULL when none */
  guint max_k4;             /* over the layers */
  guint max_width;          /* widest layer output (floats) */
};

/* ---- kernels ----------------------------------------------------------- */

static gint quant_forced = NN_QUANT_KERNEL_AUTO;

static const char *const quant_kernel_names[NN_QUANT_KERNEL_COUNT] = {
  [NN_QUANT_KERNEL_AUTO] = "auto",
  [NN_QUANT_KERNEL_PORTABLE] = "portable",
  [NN_QUANT_KERNEL_VNNI512] = "vnni512",
};

const char *
nn_quant_kernel_name (NnQuantKernel kernel)
{
  if ((int) kernel < 0 || kernel >= NN_QUANT_KERNEL_COUNT)
    return "unknown";
  return quant_kernel_names[kernel];
}

gboolean
nn_quant_kernel_available (NnQuantKernel kernel)
{
  switch (kernel)
    {
    case NN_QUANT_KERNEL_AUTO:
    case NN_QUANT_KERNEL_PORTABLE:
      return TRUE;
#if defined(__x86_64__) || defined(__i386__)
    case NN_QUANT_KERNEL_VNNI512:
      __builtin_cpu_init ();
      return __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
             && __builtin_cpu_supports ("avx512vl")
             && __builtin_cpu_supports ("avx512vnni");
#endif
    default:
      return FALSE;
    }
}

static NnQuantKernel
quant_kernel_best (void)
{
  static gsize best = 0;
  if (g_once_init_enter (&best))
    {
      NnQuantKernel k = NN_QUANT_KERNEL_PORTABLE;
      if (nn_quant_kernel_available (NN_QUANT_KERNEL_VNNI512))
        k = NN_QUANT_KERNEL_VNNI512;
      g_once_init_leave (&best, (gsize) k + 1);
    }
  return (NnQuantKernel) (best - 1);
}

gboolean
nn_quant_force_kernel (NnQuantKernel kernel)
{
  if ((int) kernel < 0 || kernel >= NN_QUANT_KERNEL_COUNT
      || !nn_quant_kernel_available (kernel))
    return FALSE;
  g_atomic_int_set (&quant_forced, (gint) kernel);
  return TRUE;
}

NnQuantKernel
nn_quant_active_kernel (void)
{
  NnQuantKernel k = (NnQuantKernel) g_atomic_int_get (&quant_forced);
  return k == NN_QUANT_KERNEL_AUTO ? quant_kernel_best () : k;
}

typedef struct {
  NnQuantGemmFn gemm;
  NnQuantizeRowFn quantize;
} QuantKernels;

static QuantKernels
quant_kernels (void)
{
#if defined(__x86_64__) || defined(__i386__)
  if (nn_quant_active_kernel () == NN_QUANT_KERNEL_VNNI512)
    return (QuantKernels) { nn_quant_gemm_vnni512, nn_quant_row_vnni512 };
#endif
  return (QuantKernels) { nn_quant_gemm_portable, nn_quant_row_portable };
}

/* ---- building ---------------------------------------------------------- */

static void
quant_layer_clear (NnQuantLayer *layer)
{
  g_aligned_free (layer->w);
  g_aligned_free (layer->colsum);
  g_aligned_free (layer->scale);
  g_aligned_free (layer->bias);
}

/* Column j of the k×n row-major @w into s8 (symmetric, its own scale),
 * packed into layer->w. */
static void
quant_layer_pack_column (NnQuantLayer *layer, const float *w, guint j)
{
  guint k = layer->k, n = layer->n;
  double top = 0.0;
  for (guint i = 0; i < k; i++)
    top = MAX (top, fabs ((double) w[(gsize) i * n + j]));
  double to_q = top > 0.0 ? 127.0 / top : 0.0;
  layer->scale[j] = (float) (top / 127.0);

  guint p = j / NN_QUANT_PANEL, c = j % NN_QUANT_PANEL;
  gint8 *panel = layer->w + (gsize) p * layer->k4 * NN_QUANT_GROUP_BYTES;
  gint32 sum = 0;
  for (guint i = 0; i < k; i++)
    {
      double q = nearbyint (w[(gsize) i * n + j] * to_q);
      gint8 v = (gint8) CLAMP (q, -127.0, 127.0);
      guint g = i / NN_QUANT_GROUP, t = i % NN_QUANT_GROUP;
      panel[(gsize) g * NN_QUANT_GROUP_BYTES + c * NN_QUANT_GROUP + t] = v;
      sum += v;
    }
  layer->colsum[j] = sum;
}

static gboolean
quant_layer_init (NnQuantLayer *layer, guint index, guint k, guint n,
                  const float *w, const float *b, GError **error)
{
  if (k > NN_QUANT_MAX_INPUTS)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_INVALID,
                   _("Layer %u has %u inputs, more than int8 inference supports (%u)"),
                   index + 1, k, NN_QUANT_MAX_INPUTS);
      return FALSE;
    }
  for (gsize i = 0; i < (gsize) k * n; i++)
    if (!isfinite (w[i]))
      {
        g_set_error (error, NN_ERROR, NN_ERROR_INVALID,
                     _("Layer %u has a weight that is not a finite number"), index + 1);
        return FALSE;
      }
  layer->k = k;
  layer->n = n;
  layer->k4 = (k + NN_QUANT_GROUP - 1) / NN_QUANT_GROUP;
  layer->n_panels = (n + NN_QUANT_PANEL - 1) / NN_QUANT_PANEL;
  gsize cols = (gsize) layer->n_panels * NN_QUANT_PANEL;
  layer->w = g_aligned_alloc0 ((gsize) layer->n_panels * layer->k4,
                               NN_QUANT_GROUP_BYTES, 64);
  layer->colsum = g_aligned_alloc0 (cols, sizeof (gint32), 64);
  layer->scale = g_aligned_alloc0 (cols, sizeof (float), 64);
  layer->bias = g_aligned_alloc0 (cols, sizeof (float), 64);
  memcpy (layer->bias, b, sizeof (float) * n);
  for (guint j = 0; j < n; j++)
    quant_layer_pack_column (layer, w, j);
  return TRUE;
}

NnQuantModel *
nn_quant_model_new (const NnModel *model, GError **error)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  NnQuantModel *q = g_new0 (NnQuantModel, 1);
  q->task = model->task;
  q->activation = model->activation;
  q->n_layers = model->n_layers;
  q->n_inputs = nn_model_n_inputs (model);
  q->n_outputs = nn_model_n_outputs (model);
  q->layers = g_new0 (NnQuantLayer, model->n_layers);
  NnModel *m = (NnModel *) model;   /* accessors only read */
  for (guint l = 0; l < model->n_layers; l++)
    {
      guint k = model->sizes[l], n = model->sizes[l + 1];
      if (!quant_layer_init (&q->layers[l], l, k, n, nn_model_weights (m, l),
                             nn_model_biases (m, l), error))
        {
          nn_quant_model_free (q);
          return NULL;
        }
      q->max_k4 = MAX (q->max_k4, q->layers[l].k4);
      q->max_width = MAX (q->max_width, n);
    }
  if (model->norm != NULL)
    {
      q->shift = g_memdup2 (model->norm->shift, sizeof (float) * q->n_inputs);
      q->scale = g_memdup2 (model->norm->scale, sizeof (float) * q->n_inputs);
    }
  return q;
}

void
nn_quant_model_free (NnQuantModel *qmodel)
{
  if (qmodel == NULL)
    return;
  for (guint l = 0; qmodel->layers != NULL && l < qmodel->n_layers; l++)
    quant_layer_clear (&qmodel->layers[l]);
  g_free (qmodel->layers);
  g_free (qmodel->shift);
  g_free (qmodel->scale);
  g_free (qmodel);
}

guint
nn_quant_model_n_inputs (const NnQuantModel *qmodel)
{
  return qmodel->n_inputs;
}

guint
nn_quant_model_n_outputs (const NnQuantModel *qmodel)
{
  return qmodel->n_outputs;
}

/* ---- inference --------------------------------------------------------- */

/* Scratch for a chunk of up to @rows rows: quantised activations (with
 * their scales and zero points), hidden outputs, one normalised input row. */
typedef struct {
  guint8 *x;
  gsize ldx;
  float *sa;
  gint32 *zp;
  float *hidden;
  float *row;
} QuantScratch;

static gsize
quant_scratch_bytes (const NnQuantModel *q, guint rows)
{
  gsize ldx = (gsize) q->max_k4 * NN_QUANT_GROUP;
  gsize bytes = (gsize) rows * ldx;
  bytes += (gsize) rows * (sizeof (float) + sizeof (gint32));
  bytes += ((gsize) rows * q->max_width + q->n_inputs) * sizeof (float);
  return bytes + 4 * 64;   /* alignment of each part */
}

static void
quant_scratch_init (QuantScratch *s, const NnQuantModel *q, guint rows,
                    guint8 *mem)
{
  gsize ldx = (gsize) q->max_k4 * NN_QUANT_GROUP;
  guint8 *p = (guint8 *) (((guintptr) mem + 63) & ~(guintptr) 63);
  s->x = p;
  s->ldx = ldx;
  p += (rows * ldx + 63) & ~(gsize) 63;
  s->hidden = (float *) p;
  p += ((gsize) rows * q->max_width * sizeof (float) + 63) & ~(gsize) 63;
  s->row = (float *) p;
  p += ((gsize) q->n_inputs * sizeof (float) + 63) & ~(gsize) 63;
  s->sa = (float *) p;
  s->zp = (gint32 *) (s->sa + rows);
}

/* Quantises @n raw input rows into s, normalised first (one row at a time,
 * so that the float copy stays in L1). */
static void
quant_inputs (const NnQuantModel *q, const QuantKernels *kern,
              const float *raw, guint n, QuantScratch *s)
{
  guint in = q->n_inputs;
  for (guint r = 0; r < n; r++)
    {
      const float *x = raw + (gsize) r * in;
      if (q->shift != NULL)
        {
          nn_vec_affine (s->row, x, q->shift, q->scale, in);
          x = s->row;
        }
      kern->quantize (x, in, s->x + r * s->ldx, s->ldx, s->sa + r, s->zp + r);
    }
}

/* Forward @n ≤ QUANT_CHUNK rows. */
static void
quant_chunk (const NnQuantModel *q, const QuantKernels *kern,
             const float *raw, guint n, QuantScratch *s, float *out)
{
  quant_inputs (q, kern, raw, n, s);
  NnQuantRows rows = { s->x, s->ldx, s->sa, s->zp, n };
  for (guint l = 0; l < q->n_layers; l++)
    {
      const NnQuantLayer *layer = &q->layers[l];
      if (l + 1 == q->n_layers)
        {
          kern->gemm (layer, &rows, FALSE, out, layer->n);
          break;
        }
      gboolean relu = q->activation == NN_ACT_RELU;
      kern->gemm (layer, &rows, relu, s->hidden, layer->n);
      if (!relu)
        nn_activation_forward (q->activation, s->hidden, (gsize) n * layer->n);
      for (guint r = 0; r < n; r++)
        kern->quantize (s->hidden + (gsize) r * layer->n, layer->n,
                        s->x + r * s->ldx, s->ldx, s->sa + r, s->zp + r);
    }
  if (q->task == NN_TASK_CLASSIFICATION)
    nn_softmax_rows (out, n, q->n_outputs);
}

/* A prediction's rows, handed out QUANT_CHUNK at a time: each thread
 * takes the next chunk until none is left, so that a core slowed by other
 * work (the host, another process) does fewer. Which thread forwards a row
 * does not change its bits. */
typedef struct {
  const NnQuantModel *q;
  const float *raw;
  guint n;
  float *out;
  gsize next;     /* atomic (g_atomic_pointer_add): first row not taken */
} QuantJob;

/* Takes chunks of @job until none is left, with one scratch allocation. */
static void
quant_job_run (QuantJob *job)
{
  const NnQuantModel *q = job->q;
  QuantKernels kern = quant_kernels ();
  guint chunk = MIN (job->n, QUANT_CHUNK);
  gsize bytes = quant_scratch_bytes (q, chunk);
  guint8 stack[QUANT_STACK_BYTES];
  guint8 *heap = bytes > sizeof stack ? g_malloc (bytes) : NULL;
  QuantScratch s;
  quant_scratch_init (&s, q, chunk, heap ? heap : stack);
  for (;;)
    {
      gsize start = (gsize) g_atomic_pointer_add (&job->next, chunk);
      if (start >= job->n)
        break;
      guint rows = (guint) MIN (chunk, job->n - start);
      quant_chunk (q, &kern, job->raw + start * q->n_inputs, rows, &s,
                   job->out + start * q->n_outputs);
    }
  g_free (heap);
}

static void
quant_job_part (guint part, guint n_parts, gpointer data)
{
  quant_job_run (data);
}

void
nn_quant_model_predict (const NnQuantModel *qmodel, const float *raw_inputs,
                        guint n, float *out)
{
  g_return_if_fail (qmodel != NULL);
  if (n == 0)
    return;
  QuantJob job = { qmodel, raw_inputs, n, out, 0 };
  if (n >= QUANT_PARALLEL_MIN && nn_thread_pool_try_run_shared (quant_job_part, &job))
    return;
  quant_job_run (&job);
}
