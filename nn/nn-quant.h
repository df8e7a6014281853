/* nn-quant.h — opt-in int8 inference for an NnModel.
 *
 * nn_quant_model_new() derives, once, per dense layer: s8 weights quantised
 * per output column (symmetric, scale max|w|/127), their column sums and
 * scales, and the fp32 biases. nn_quant_model_predict() then quantises each
 * row of activations to u8 (asymmetric: scale and zero point of the row's
 * range, widened to include 0), multiplies in exact 32-bit integers and
 * dequantises in fp32 before the bias, activation and softmax. Nothing is
 * stored: the .minka file keeps the fp32 weights.
 *
 * The integer product runs on an AVX-512 VNNI kernel (vpdpbusd) when the CPU
 * has one, else on portable C; both give bit-identical outputs. The
 * portable kernel is the reference and the fallback, not a fast path: it is
 * over ten times slower than fp32 inference. Tests can force each kernel,
 * as with nn_gemm_force_kernel(). */
#pragma once

#include <glib.h>
#include "nn-model.h"

G_BEGIN_DECLS

typedef struct _NnQuantModel NnQuantModel;

typedef enum {
  NN_QUANT_KERNEL_AUTO = 0,     /* best available on this CPU */
  NN_QUANT_KERNEL_PORTABLE,     /* plain C, builds everywhere */
  NN_QUANT_KERNEL_VNNI512,      /* x86-64 AVX-512 BW/VL + VNNI */
  NN_QUANT_KERNEL_COUNT
} NnQuantKernel;

/* A layer with more inputs than this is refused: 255 · 127 · k must stay
 * below 2^31 for its 32-bit accumulators to be exact. */
#define NN_QUANT_MAX_INPUTS 66311u

/* The int8 version of @model (which it does not keep: free either in any
 * order). NULL with @error set when a layer has more than
 * NN_QUANT_MAX_INPUTS inputs or a weight is not finite. */
NnQuantModel *nn_quant_model_new (const NnModel *model, GError **error);
void nn_quant_model_free (NnQuantModel *qmodel);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnQuantModel, nn_quant_model_free)

guint nn_quant_model_n_inputs (const NnQuantModel *qmodel);
guint nn_quant_model_n_outputs (const NnQuantModel *qmodel);

/* As nn_model_predict(): @n rows of raw (not normalised) inputs in, n ×
 * outputs class probabilities or regression values out; large batches use
 * every core. Thread-safe. A row holding a NaN or an infinity gives a row
 * of NaNs. */
void nn_quant_model_predict (const NnQuantModel *qmodel,
                             const float *raw_inputs, guint n, float *out);

/* Whether this CPU (and this build) can run @kernel. */
gboolean nn_quant_kernel_available (NnQuantKernel kernel);
/* Force a kernel for every later call (tests, benchmarks); AUTO restores
 * the automatic choice. Returns FALSE if not available. */
gboolean nn_quant_force_kernel (NnQuantKernel kernel);
/* The kernel nn_quant_model_predict() uses now. */
NnQuantKernel nn_quant_active_kernel (void);
/* "auto", "portable", "vnni512". */
const char *nn_quant_kernel_name (NnQuantKernel kernel);

G_END_DECLS
