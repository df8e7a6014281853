/* nn-layers.h — the building blocks of the MLP: a small seeded PRNG, dense
 * layer forward/backward (through nn_gemm), activations, and the two
 * output losses (softmax + cross-entropy, linear + MSE).
 *
 * Matrices are row-major with one sample per row. A dense layer's weights
 * are in×out (row i holds the weights from input i), then out biases. */
#pragma once

#include <glib.h>
#include "nn-model.h"

G_BEGIN_DECLS

/* xoshiro256** seeded through splitmix64: fast, good quality, and the same
 * stream on every platform (unlike g_random). */
typedef struct {
  guint64 s[4];
} NnRng;

void nn_rng_seed (NnRng *rng, guint64 seed);
guint64 nn_rng_next (NnRng *rng);
/* Uniform in [0, 1). */
double nn_rng_uniform (NnRng *rng);
/* Uniform integer in [0, bound), bound > 0 (unbiased). */
guint32 nn_rng_below (NnRng *rng, guint32 bound);
/* Standard normal (Box–Muller). */
double nn_rng_normal (NnRng *rng);
/* Fisher–Yates shuffle of @n indices. */
void nn_rng_shuffle (NnRng *rng, guint32 *v, guint n);

/* y[n×out] = x[n×in] · w[in×out] + b, then the activation in place
 * (@act < 0: linear). */
void nn_dense_forward (const float *x, guint n, guint in, guint out,
                       const float *w, const float *b, int act, float *y);

/* y[r·ld + j] = act(y[r·ld + j] + b[j]) for r < n, j < cols (@act < 0:
 * linear): the bias and activation of a block of columns. */
void nn_bias_activation (float *y, gsize ld, const float *b, guint n,
                         guint cols, int act);

/* Backward of a dense layer given dy[n×out] (gradient w.r.t. its
 * pre-activation output): dw[in×out] = xᵀ·dy, db[out] = column sums of dy,
 * and, when @dx is not NULL, dx[n×in] = dy·wᵀ. dw and db are overwritten. */
void nn_dense_backward (const float *x, guint n, guint in, guint out,
                        const float *w, const float *dy,
                        float *dw, float *db, float *dx);

/* In place: y = f(y). */
void nn_activation_forward (NnActivation act, float *y, gsize count);
/* In place: d *= f'(·), computed from the activation's OUTPUT y. */
void nn_activation_backward (NnActivation act, const float *y, float *d,
                             gsize count);

/* Row-wise softmax of z[n×c] in place (numerically stable). */
void nn_softmax_rows (float *z, guint n, guint c);

/* Given probabilities p[n×c] (softmax output) and labels, writes the
 * gradient of scale·Σ cross-entropy w.r.t. the logits into dz (may alias p)
 * and returns Σ cross-entropy over the n rows (unscaled). Labels must be
 * < c (callers validate them). */
double nn_softmax_xent_backward (const float *p, const guint32 *labels,
                                 guint n, guint c, float scale, float *dz);
/* Σ cross-entropy only (probabilities clamped at 1e-7 as in the gradient's
 * loss). */
double nn_xent_loss (const float *p, const guint32 *labels, guint n, guint c);

/* Squared error: writes dz = scale·(pred − target) (may alias pred) and
 * returns Σ (pred − target)² over the n×c values. For the gradient of the
 * mean squared error over N rows pass scale = 2 / (N·c). */
double nn_mse_backward (const float *pred, const float *target, guint n,
                        guint c, float scale, float *dz);

/* Element-wise helpers with run-time SIMD dispatch. nn_simd_level():
 * 0 portable, 1 AVX2+FMA, 2 AVX-512F (what this CPU and build support). */
int nn_simd_level (void);
/* dst[i] += src[i] */
void nn_vec_add (float *dst, const float *src, gsize count);
/* dst[j] = (src[j] − shift[j]) · scale[j], from floats or bytes. */
void nn_vec_affine (float *dst, const float *src, const float *shift,
                    const float *scale, gsize count);
void nn_vec_u8_affine (float *dst, const guint8 *src, const float *shift,
                       const float *scale, gsize count);

G_END_DECLS
