/* nn-quant-private.h — what the int8 driver (nn-quant.c) shares with its
 * kernels (nn-quant-portable.c, nn-quant-vnni.c): the packed layer, the
 * kernel entry points, and the per-row quantisation parameters, which are
 * computed by the same inline code for every kernel so that all of them
 * give bit-identical results.
 *
 * Bit-identity also needs every float operation done once, in the same
 * order, with the same rounding: no contraction into FMAs (the nn library
 * is built with -ffp-contract=off), products and sums written separately
 * in the SIMD code, round-half-to-even wherever a float becomes an
 * integer. */
#pragma once

#include <glib.h>
#include <math.h>

/* Weights are packed in panels of 16 output columns (one zmm of s32
 * accumulators), inputs in groups of 4 (one u8 × s8 dot product per s32
 * lane of vpdpbusd): a panel is k4 groups of 64 bytes, column c's four
 * weights of group q at byte 4·c of the group. */
#define NN_QUANT_PANEL 16
#define NN_QUANT_GROUP 4
#define NN_QUANT_GROUP_BYTES (NN_QUANT_PANEL * NN_QUANT_GROUP)

typedef struct {
  guint k, n;           /* inputs, outputs */
  guint k4;             /* groups of 4 inputs: ⌈k/4⌉ */
  guint n_panels;       /* ⌈n/16⌉ */
  /* w[((p·k4 + q)·16 + c)·4 + t] = weight of input 4q+t to column 16p+c;
   * zero past k and n. 64-byte aligned. */
  gint8 *w;
  /* Per column, n_panels·16 of each (zero past n): the sum of the column's
   * s8 weights (for the zero-point correction), its scale, its bias. */
  gint32 *colsum;
  float *scale;
  float *bias;
} NnQuantLayer;

/* m rows of quantised activations: row r has x[r·ldx + i] for i < 4·k4
 * (zero past k), real value ≈ sa[r] · (x − zp[r]). */
typedef struct {
  const guint8 *x;
  gsize ldx;
  const float *sa;
  const gint32 *zp;
  guint m;
} NnQuantRows;

/* For r < m, j < n, with acc = Σᵢ x[r][i] · w[i][j] in exact s32:
 *   y[r·ldy + j] = (float) (acc − zp[r] · colsum[j]) · (sa[r] · scale[j]) + bias[j]
 * then, when @relu, y = 0 > y ? 0 : y (a NaN stays). Columns ≥ n are not
 * written. */
typedef void (*NnQuantGemmFn) (const NnQuantLayer *layer,
                               const NnQuantRows *rows, gboolean relu,
                               float *y, gsize ldy);

/* Quantises one row x[0..k) into q[0..ldq) (zero past k; ldq is a multiple
 * of 4) and its scale and zero point (nn_quant_row_params). */
typedef void (*NnQuantizeRowFn) (const float *x, guint k, guint8 *q,
                                 gsize ldq, float *sa, gint32 *zp);

void nn_quant_gemm_portable (const NnQuantLayer *layer, const NnQuantRows *rows,
                             gboolean relu, float *y, gsize ldy);
void nn_quant_row_portable (const float *x, guint k, guint8 *q, gsize ldq,
                            float *sa, gint32 *zp);
#if defined(__x86_64__) || defined(__i386__)
void nn_quant_gemm_vnni512 (const NnQuantLayer *layer, const NnQuantRows *rows,
                            gboolean relu, float *y, gsize ldy);
void nn_quant_row_vnni512 (const float *x, guint k, guint8 *q, gsize ldq,
                           float *sa, gint32 *zp);
#endif

/* 0 ≤ @v < 2^22 rounded to the nearest integer, ties to even, as the SIMD
 * conversions do in the default rounding mode: v + 2^23 − 2^23 (each step
 * stored to a float, so that x87 excess precision cannot skip the
 * rounding). */
static inline float
nn_quant_round (float v)
{
  float t = v + 8388608.0f;
  t = t - 8388608.0f;
  return t;
}

/* The quantisation of a row whose values lie in [lo, hi] and that holds a
 * NaN when @nan: the range is widened to include 0 (so that ReLU zeros and
 * padding are exact and the zero point fits in [0, 255]), then
 *   scale = (hi − lo) / 255, zp = round(−lo / scale),
 *   q = clamp(round(x · inv + zp), 0, 255) with inv = 255 / (hi − lo).
 * Returns FALSE when the row cannot be quantised (a NaN, an infinity, or a
 * range beyond a float): the row is then all zeros with a NaN scale, so its
 * outputs are NaN. An all-zero row gets scale 1. */
static inline gboolean
nn_quant_row_params (float lo, float hi, gboolean nan, float *sa, gint32 *zp,
                     float *inv)
{
  lo = lo < 0.f ? lo : 0.f;
  hi = hi > 0.f ? hi : 0.f;
  float range = hi - lo;
  *zp = 0;
  *inv = 0.f;
  if (nan || !isfinite (range))
    {
      *sa = NAN;
      return FALSE;
    }
  if (range == 0.f)
    {
      *sa = 1.f;
      return TRUE;
    }
  *sa = range / 255.f;
  *inv = 255.f / range;
  float z = -lo * *inv;
  z = z < 255.f ? z : 255.f;
  *zp = (gint32) nn_quant_round (z);
  return TRUE;
}
