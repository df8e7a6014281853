/* nn-quant-vnni.c — AVX-512 VNNI kernels for int8 inference (x86 only;
 * chosen at run time when the CPU has AVX-512 F/BW/VL and VNNI; no
 * -march flags: function target attributes, as in nn-gemm-avx512.c).
 *
 * Register tile: MR rows × NP panels of 16 columns, in MR·NP zmm of s32
 * accumulators. Per group of 4 inputs, NP 64-byte vectors of packed s8
 * weights are loaded and the 4 u8 inputs of each row, broadcast as one
 * 32-bit value, go through vpdpbusd against them (64 multiply-adds each).
 * The epilogue dequantises, adds the bias and applies ReLU in registers,
 * with the same float operations as nn-quant-portable.c. A single row
 * (single-sample prediction) runs against up to 16 panels at once and
 * skips its groups of four zero inputs. The row quantiser works 16 or 32
 * floats per step. */
#include "nn-quant-private.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <string.h>

#define MR 6
#define NP 4
#define NP_WIDE 16      /* panels of a single row (GEMV-like) */

#define TARGET "avx512f,avx512bw,avx512vl,avx512vnni"
#define ISA __attribute__ ((target (TARGET)))
#define INLINE static inline __attribute__ ((always_inline, target (TARGET)))

/* Mask of the first @n (≤ 16) lanes. */
INLINE __mmask16
lanes (guint n)
{
  return (__mmask16) ((1u << n) - 1u);
}

/* The 4 inputs of a group, broadcast to every lane. */
INLINE __m512i
group_broadcast (const guint8 *x)
{
  gint32 v;
  memcpy (&v, x, sizeof v);
  return _mm512_set1_epi32 (v);
}

/* y[j0..j0+16) of one row from its accumulators (see NnQuantGemmFn). */
INLINE void
store_panel (const NnQuantLayer *layer, const NnQuantRows *rows, guint r,
             guint j0, __m512i acc, gboolean relu, float *y)
{
  __m512i corr = _mm512_mullo_epi32 (_mm512_set1_epi32 (rows->zp[r]),
                                     _mm512_load_si512 (layer->colsum + j0));
  __m512 scale = _mm512_mul_ps (_mm512_set1_ps (rows->sa[r]),
                                _mm512_load_ps (layer->scale + j0));
  __m512 v = _mm512_cvtepi32_ps (_mm512_sub_epi32 (acc, corr));
  v = _mm512_mul_ps (v, scale);
  v = _mm512_add_ps (v, _mm512_load_ps (layer->bias + j0));
  if (relu)
    v = _mm512_max_ps (_mm512_setzero_ps (), v);   /* 0 > v ? 0 : v */
  if (j0 + NN_QUANT_PANEL <= layer->n)
    _mm512_storeu_ps (y + j0, v);
  else
    _mm512_mask_storeu_ps (y + j0, lanes (layer->n - j0), v);
}

/* Rows r0..r0+mr-1 × panels p0..p0+np-1 over every group of inputs. mr
 * and np are compile-time constants at every call site. */
INLINE void
tile_run (const NnQuantLayer *layer, const NnQuantRows *rows, guint r0,
          guint p0, const int mr, const int np, gboolean relu, float *y,
          gsize ldy)
{
  __m512i acc[MR][NP];
  const gsize pstride = (gsize) layer->k4 * NN_QUANT_GROUP_BYTES;
  const gint8 *w = layer->w + p0 * pstride;
  const guint8 *x = rows->x + r0 * rows->ldx;
  const gsize ldx = rows->ldx;

#pragma GCC unroll 8
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
    for (int v = 0; v < np; v++)
      acc[i][v] = _mm512_setzero_si512 ();

  for (guint g = 0; g < layer->k4; g++)
    {
      __m512i b[NP];
#pragma GCC unroll 4
      for (int v = 0; v < np; v++)
        b[v] = _mm512_load_si512 (w + v * pstride);
#pragma GCC unroll 8
      for (int i = 0; i < mr; i++)
        {
          __m512i a = group_broadcast (x + i * ldx);
#pragma GCC unroll 4
          for (int v = 0; v < np; v++)
            acc[i][v] = _mm512_dpbusd_epi32 (acc[i][v], a, b[v]);
        }
      w += NN_QUANT_GROUP_BYTES;
      x += NN_QUANT_GROUP;
    }

  /* Through memory: GCC allocates the loop's registers badly (spills
   * every accumulator on every step) when the epilogue uses them directly. */
  __m512i done[MR * NP];
#pragma GCC unroll 8
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
    for (int v = 0; v < np; v++)
      _mm512_store_si512 (done + i * np + v, acc[i][v]);
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < np; v++)
      store_panel (layer, rows, r0 + i, (p0 + v) * NN_QUANT_PANEL,
                   _mm512_load_si512 (done + i * np + v), relu, y + (r0 + i) * ldy);
}

/* Indices of the non-zero groups among groups g0..g0+count-1 of row @x
 * (count ≤ ROW_BLOCK); returns how many. Branch free, 16 groups a step
 * with compress in registers (its memory form is microcoded on AMD Zen 4):
 * full 16-index stores, so @idx has ROW_BLOCK + 16 entries. */
#define ROW_BLOCK 256
INLINE guint
nonzero_groups (const guint8 *x, guint g0, guint count, guint32 *idx)
{
  guint n = 0;
  __m512i ids = _mm512_add_epi32 (_mm512_set1_epi32 ((int) g0),
                                  _mm512_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                     10, 11, 12, 13, 14, 15));
  for (guint g = 0; g < count; g += 16)
    {
      __mmask16 m = count - g >= 16 ? 0xFFFF : lanes (count - g);
      __m512i v = _mm512_maskz_loadu_epi32 (m, x + (gsize) (g0 + g) * NN_QUANT_GROUP);
      __mmask16 nz = _mm512_test_epi32_mask (v, v);
      _mm512_storeu_si512 (idx + n, _mm512_maskz_compress_epi32 (nz, ids));
      n += (guint) __builtin_popcount (nz);
      ids = _mm512_add_epi32 (ids, _mm512_set1_epi32 (16));
    }
  return n;
}

/* One row against np ≤ NP_WIDE panels: the weights go straight from
 * memory into vpdpbusd, so up to 16 accumulators fit. Groups of four zero
 * inputs (blank pixels, ReLU zeros) are skipped: a single row is bound by
 * reading the weights, and about half of an image's groups are blank. */
INLINE void
row_run (const NnQuantLayer *layer, const NnQuantRows *rows, guint p0,
         const int np, gboolean relu, float *y)
{
  __m512i acc[NP_WIDE];
  guint32 idx[ROW_BLOCK + 16];
  const gsize pstride = (gsize) layer->k4 * NN_QUANT_GROUP_BYTES;
  const gint8 *w = layer->w + p0 * pstride;
  const guint8 *x = rows->x;

#pragma GCC unroll 16
  for (int v = 0; v < np; v++)
    acc[v] = _mm512_setzero_si512 ();
  for (guint g0 = 0; g0 < layer->k4; g0 += ROW_BLOCK)
    {
      guint nnz = nonzero_groups (x, g0, MIN (ROW_BLOCK, layer->k4 - g0), idx);
      for (guint t = 0; t < nnz; t++)
        {
          gsize g = idx[t];
          __m512i a = group_broadcast (x + g * NN_QUANT_GROUP);
          const gint8 *wg = w + g * NN_QUANT_GROUP_BYTES;
#pragma GCC unroll 16
          for (int v = 0; v < np; v++)
            acc[v] = _mm512_dpbusd_epi32 (acc[v], a, _mm512_load_si512 (wg + v * pstride));
        }
    }
  __m512i done[NP_WIDE];
#pragma GCC unroll 16
  for (int v = 0; v < np; v++)
    _mm512_store_si512 (done + v, acc[v]);
  for (int v = 0; v < np; v++)
    store_panel (layer, rows, 0, (p0 + v) * NN_QUANT_PANEL,
                 _mm512_load_si512 (done + v), relu, y);
}

static void ISA
gemm_single_row (const NnQuantLayer *layer, const NnQuantRows *rows,
                 gboolean relu, float *y)
{
  guint p = 0, np = layer->n_panels;
  for (; p + NP_WIDE <= np; p += NP_WIDE)
    row_run (layer, rows, p, NP_WIDE, relu, y);
  if (np - p >= 8)
    {
      row_run (layer, rows, p, 8, relu, y);
      p += 8;
    }
  if (np - p >= 4)
    {
      row_run (layer, rows, p, 4, relu, y);
      p += 4;
    }
  if (np - p >= 2)
    {
      row_run (layer, rows, p, 2, relu, y);
      p += 2;
    }
  if (np - p >= 1)
    row_run (layer, rows, p, 1, relu, y);
}

/* Every row block of panels p0..p0+np-1: full MR-row tiles, then the
 * leftover rows as 4/2/1-row tiles. */
INLINE void
panel_block (const NnQuantLayer *layer, const NnQuantRows *rows, guint p0,
             const int np, gboolean relu, float *y, gsize ldy)
{
  guint r = 0, m = rows->m;
  for (; r + MR <= m; r += MR)
    tile_run (layer, rows, r, p0, MR, np, relu, y, ldy);
  if (m - r >= 4)
    {
      tile_run (layer, rows, r, p0, 4, np, relu, y, ldy);
      r += 4;
    }
  if (m - r >= 2)
    {
      tile_run (layer, rows, r, p0, 2, np, relu, y, ldy);
      r += 2;
    }
  if (m - r >= 1)
    tile_run (layer, rows, r, p0, 1, np, relu, y, ldy);
}

ISA void
nn_quant_gemm_vnni512 (const NnQuantLayer *layer, const NnQuantRows *rows,
                       gboolean relu, float *y, gsize ldy)
{
  if (rows->m == 1)
    {
      gemm_single_row (layer, rows, relu, y);
      return;
    }
  guint p = 0, np = layer->n_panels;
  for (; p + NP <= np; p += NP)
    panel_block (layer, rows, p, NP, relu, y, ldy);
  switch (np - p)
    {
    case 3:
      panel_block (layer, rows, p, 3, relu, y, ldy);
      break;
    case 2:
      panel_block (layer, rows, p, 2, relu, y, ldy);
      break;
    case 1:
      panel_block (layer, rows, p, 1, relu, y, ldy);
      break;
    default:
      break;
    }
}

/* Range and NaN check of a row, 32 values per step in two chains. */
INLINE void
row_range (const float *x, guint k, float *lo, float *hi, gboolean *nan)
{
  __m512 lo0 = _mm512_setzero_ps (), hi0 = lo0, lo1 = lo0, hi1 = lo0;
  __mmask16 bad = 0;
  guint i = 0;
  for (; i + 32 <= k; i += 32)
    {
      __m512 v0 = _mm512_loadu_ps (x + i), v1 = _mm512_loadu_ps (x + i + 16);
      lo0 = _mm512_min_ps (lo0, v0);
      hi0 = _mm512_max_ps (hi0, v0);
      lo1 = _mm512_min_ps (lo1, v1);
      hi1 = _mm512_max_ps (hi1, v1);
      bad |= _mm512_cmp_ps_mask (v0, v1, _CMP_UNORD_Q);
    }
  for (; i < k; i += 16)
    {
      __mmask16 m = k - i >= 16 ? 0xFFFF : lanes (k - i);
      __m512 v = _mm512_maskz_loadu_ps (m, x + i);
      lo0 = _mm512_min_ps (lo0, v);
      hi0 = _mm512_max_ps (hi0, v);
      bad |= _mm512_cmp_ps_mask (v, v, _CMP_UNORD_Q);
    }
  *lo = _mm512_reduce_min_ps (_mm512_min_ps (lo0, lo1));
  *hi = _mm512_reduce_max_ps (_mm512_max_ps (hi0, hi1));
  *nan = bad != 0;
}

/* 16 values to u8 (see nn_quant_row_params). */
INLINE __m128i
quantize16 (__m512 x, __m512 inv, __m512 z)
{
  __m512 v = _mm512_add_ps (_mm512_mul_ps (x, inv), z);
  v = _mm512_max_ps (v, _mm512_setzero_ps ());   /* v > 0 ? v : 0 */
  v = _mm512_min_ps (v, _mm512_set1_ps (255.f)); /* v < 255 ? v : 255 */
  return _mm512_cvtepi32_epi8 (_mm512_cvtps_epi32 (v));
}

ISA void
nn_quant_row_vnni512 (const float *x, guint k, guint8 *q, gsize ldq,
                      float *sa, gint32 *zp)
{
  float lo, hi, inv;
  gboolean nan;
  row_range (x, k, &lo, &hi, &nan);
  if (!nn_quant_row_params (lo, hi, nan, sa, zp, &inv))
    {
      memset (q, 0, ldq);
      return;
    }
  const __m512 vinv = _mm512_set1_ps (inv);
  const __m512 vz = _mm512_set1_ps ((float) *zp);
  guint i = 0;
  for (; i + 16 <= k; i += 16)
    _mm_storeu_si128 ((__m128i *) (q + i), quantize16 (_mm512_loadu_ps (x + i), vinv, vz));
  if (i < k)
    {
      __mmask16 m = lanes (k - i);
      _mm_mask_storeu_epi8 (q + i, m, quantize16 (_mm512_maskz_loadu_ps (m, x + i), vinv, vz));
    }
  memset (q + k, 0, ldq - k);
}

#else
typedef int nn_quant_vnni_unused;
#endif
