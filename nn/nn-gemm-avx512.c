/* nn-gemm-avx512.c — AVX-512F block kernel for nn_gemm() (x86 only; chosen
 * at run time when the CPU supports it).
 *
 * Register tile: MR rows × NV·16 columns of C held in MR·NV zmm
 * accumulators; per step of k, NV vectors of B are loaded and each of the
 * MR elements of A is broadcast against them. A and B are read in place
 * (strided A, row-contiguous B), so small products pay no packing. */
#include "nn-gemm-private.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define MR 12
#define NV 2
#define NR (NV * 16)
#define NV_WIDE 16      /* tile width for a single row of A (GEMV-like) */

#define ISA __attribute__ ((target ("avx512f")))
#define INLINE static inline __attribute__ ((always_inline, target ("avx512f")))

/* Mask of the first @n (≤ 16) lanes. */
INLINE __mmask16
lanes (int n)
{
  return (__mmask16) ((1u << n) - 1u);
}

/* Accumulates an mr × nv·16 tile over k, A with unit row stride when
 * @a_unit_rs (Aᵀ stored: the mr elements of one step are contiguous),
 * otherwise unit column stride. The last vector is loaded and stored under
 * @mask when @masked. mr, nv, a_unit_rs and masked are compile-time
 * constants at every call site. */
INLINE void
tile_run (const NnGemmBlock *blk, int i0, int j0, const int mr, const int nv,
          const int a_unit_rs, const int masked, __mmask16 mask)
{
  __m512 acc[MR][NV_WIDE];
  const ptrdiff_t rsa = a_unit_rs ? 1 : blk->rsa;
  const ptrdiff_t csa = a_unit_rs ? blk->csa : 1;
  const ptrdiff_t ldb = blk->ldb;
  const float *a = blk->a + i0 * rsa;
  const float *b = blk->b + j0;

#pragma GCC unroll 16
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
      acc[i][v] = _mm512_setzero_ps ();

  if (mr == 1 && !masked)
    {
      /* One row of A: B goes straight from memory into the FMAs, so no
       * registers are held for it and 16 accumulators fit. */
      for (int p = 0; p < blk->k; p++)
        {
          __m512 av = _mm512_set1_ps (a[0]);
#pragma GCC unroll 16
          for (int v = 0; v < nv; v++)
            acc[0][v] = _mm512_fmadd_ps (av, _mm512_loadu_ps (b + 16 * v), acc[0][v]);
          a += csa;
          b += ldb;
        }
    }
  else
    {
      for (int p = 0; p < blk->k; p++)
        {
          __m512 bv[NV_WIDE];
#pragma GCC unroll 8
          for (int v = 0; v < nv; v++)
            bv[v] = masked && v == nv - 1 ? _mm512_maskz_loadu_ps (mask, b + 16 * v)
                                          : _mm512_loadu_ps (b + 16 * v);
#pragma GCC unroll 16
          for (int i = 0; i < mr; i++)
            {
              __m512 av = _mm512_set1_ps (a[i * rsa]);
#pragma GCC unroll 8
              for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps (av, bv[v], acc[i][v]);
            }
          a += csa;
          b += ldb;
        }
    }

  const __m512 alpha = _mm512_set1_ps (blk->alpha);
  const __m512 beta = _mm512_set1_ps (blk->beta);
  const int use_beta = blk->beta != 0.0f;
#pragma GCC unroll 16
  for (int i = 0; i < mr; i++)
    {
      float *cr = blk->c + (i0 + i) * blk->ldc + j0;
#pragma GCC unroll 8
      for (int v = 0; v < nv; v++)
        {
          __m512 r = _mm512_mul_ps (acc[i][v], alpha);
          if (masked && v == nv - 1)
            {
              if (use_beta)
                r = _mm512_fmadd_ps (beta, _mm512_maskz_loadu_ps (mask, cr + 16 * v), r);
              _mm512_mask_storeu_ps (cr + 16 * v, mask, r);
            }
          else
            {
              if (use_beta)
                r = _mm512_fmadd_ps (beta, _mm512_loadu_ps (cr + 16 * v), r);
              _mm512_storeu_ps (cr + 16 * v, r);
            }
        }
    }
}

/* All column tiles of rows i0..i0+mr-1: full NR-wide tiles, then the
 * remainder as one masked tile (≤ NR wide). */
INLINE void
row_panel (const NnGemmBlock *blk, int i0, const int mr, const int a_unit_rs)
{
  int j = 0;
  for (; j + NR <= blk->n; j += NR)
    tile_run (blk, i0, j, mr, NV, a_unit_rs, 0, 0);
  int rest = blk->n - j;
  if (rest > 16)
    tile_run (blk, i0, j, mr, 2, a_unit_rs, 1, lanes (rest - 16));
  else if (rest > 0)
    tile_run (blk, i0, j, mr, 1, a_unit_rs, 1, lanes (rest));
}

/* A single row of A (the single-sample predict case): wide tiles, up to
 * 256 columns (whole 1 KiB rows of B per step), so that enough independent
 * accumulators hide the FMA latency. With one row, a_unit_rs = 1 is right
 * for both layouts of A (csa is then A's only stride). */
INLINE void
row_single (const NnGemmBlock *blk)
{
  int j = 0;
  for (; j + NV_WIDE * 16 <= blk->n; j += NV_WIDE * 16)
    tile_run (blk, 0, j, 1, NV_WIDE, 1, 0, 0);
  for (; j + 64 <= blk->n; j += 64)
    tile_run (blk, 0, j, 1, 4, 1, 0, 0);
  int rest = blk->n - j;
  if (rest > 48)
    tile_run (blk, 0, j, 1, 4, 1, 1, lanes (rest - 48));
  else if (rest > 32)
    tile_run (blk, 0, j, 1, 3, 1, 1, lanes (rest - 32));
  else if (rest > 16)
    tile_run (blk, 0, j, 1, 2, 1, 1, lanes (rest - 16));
  else if (rest > 0)
    tile_run (blk, 0, j, 1, 1, 1, 1, lanes (rest));
}

/* Narrow C (n ≤ 16) with Aᵀ stored, as in the gradient of the last layer:
 * vectorising along j would leave most lanes idle, so vectorise along i
 * instead (A's columns are contiguous) and hold C transposed in nj × 2
 * accumulators; the tile is written back element by element. */
INLINE void
narrow_tile (const NnGemmBlock *blk, int i0, const int nj, __mmask16 m0,
             __mmask16 m1)
{
  __m512 acc[16][2];
  const float *a = blk->a + i0;
  const float *b = blk->b;
#pragma GCC unroll 16
  for (int j = 0; j < nj; j++)
    acc[j][0] = acc[j][1] = _mm512_setzero_ps ();
  for (int p = 0; p < blk->k; p++)
    {
      __m512 a0 = _mm512_maskz_loadu_ps (m0, a);
      __m512 a1 = _mm512_maskz_loadu_ps (m1, a + 16);
#pragma GCC unroll 16
      for (int j = 0; j < nj; j++)
        {
          __m512 bj = _mm512_set1_ps (b[j]);
          acc[j][0] = _mm512_fmadd_ps (a0, bj, acc[j][0]);
          acc[j][1] = _mm512_fmadd_ps (a1, bj, acc[j][1]);
        }
      a += blk->csa;
      b += blk->ldb;
    }
  float t[16][32] __attribute__ ((aligned (64)));
#pragma GCC unroll 16
  for (int j = 0; j < nj; j++)
    {
      _mm512_store_ps (t[j], acc[j][0]);
      _mm512_store_ps (t[j] + 16, acc[j][1]);
    }
  int rows = blk->m - i0 < 32 ? blk->m - i0 : 32;
  for (int i = 0; i < rows; i++)
    {
      float *cr = blk->c + (i0 + i) * blk->ldc;
      if (blk->beta == 0.0f)
        for (int j = 0; j < nj; j++)
          cr[j] = blk->alpha * t[j][i];
      else
        for (int j = 0; j < nj; j++)
          cr[j] = blk->alpha * t[j][i] + blk->beta * cr[j];
    }
}

INLINE void
narrow_run_nj (const NnGemmBlock *blk, const int nj)
{
  for (int i = 0; i < blk->m; i += 32)
    {
      int rest = blk->m - i;
      __mmask16 m0 = rest >= 16 ? 0xFFFF : lanes (rest);
      __mmask16 m1 = rest >= 32 ? 0xFFFF : rest > 16 ? lanes (rest - 16) : 0;
      narrow_tile (blk, i, nj, m0, m1);
    }
}

static void ISA
narrow_run (const NnGemmBlock *blk)
{
  switch (blk->n)
    {
#define COLS(N) case N: narrow_run_nj (blk, N); break;
      COLS (1) COLS (2) COLS (3) COLS (4) COLS (5) COLS (6) COLS (7) COLS (8)
      COLS (9) COLS (10) COLS (11) COLS (12) COLS (13) COLS (14) COLS (15)
      COLS (16)
#undef COLS
    default:
      break;
    }
}

/* Full MR-row panels, then the leftover rows as 8/4/2/1-row panels
 * (fewer specialised copies of the tile than one per row count). */
INLINE void
block_run (const NnGemmBlock *blk, const int a_unit_rs)
{
  if (a_unit_rs && blk->n <= 16 && blk->m >= 16)
    {
      narrow_run (blk);
      return;
    }
  int i = 0;
  for (; i + MR <= blk->m; i += MR)
    row_panel (blk, i, MR, a_unit_rs);
  int rest = blk->m - i;
  if (rest >= 8)
    {
      row_panel (blk, i, 8, a_unit_rs);
      i += 8;
      rest -= 8;
    }
  if (rest >= 4)
    {
      row_panel (blk, i, 4, a_unit_rs);
      i += 4;
      rest -= 4;
    }
  if (rest >= 2)
    {
      row_panel (blk, i, 2, a_unit_rs);
      i += 2;
      rest -= 2;
    }
  if (rest >= 1)
    row_panel (blk, i, 1, a_unit_rs);
}

ISA void
nn_gemm_block_avx512 (const NnGemmBlock *blk)
{
  if (blk->m == 1)
    row_single (blk);
  else if (blk->rsa == 1)
    block_run (blk, 1);
  else
    block_run (blk, 0);
}

#else
typedef int nn_gemm_avx512_unused;
#endif
