/* nn-gemm-avx2.c — AVX2+FMA block kernel and transposing B packer for
 * nn_gemm() (x86 only; chosen at run time when the CPU supports them).
 *
 * Register tile: MR rows × NV·8 columns of C in MR·NV ymm accumulators
 * (12 of the 16 registers); per step of k, NV vectors of B are loaded and
 * each of the MR elements of A is broadcast against them. A and B are read
 * in place (strided A, row-contiguous B). */
#include "nn-gemm-private.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define MR 6
#define NV 2
#define NR (NV * 8)
#define NV_WIDE 6       /* tile width for very short A (GEMV-like) */

#define ISA __attribute__ ((target ("avx2,fma")))
#define INLINE static inline __attribute__ ((always_inline, target ("avx2,fma")))

/* Lane mask of the first @n (≤ 8) lanes for maskload/maskstore. */
INLINE __m256i
lanes (int n)
{
  static const int table[16] = { -1, -1, -1, -1, -1, -1, -1, -1,
                                 0, 0, 0, 0, 0, 0, 0, 0 };
  return _mm256_loadu_si256 ((const __m256i *) (table + 8 - n));
}

/* Accumulates an mr × nv·8 tile over k (see nn-gemm-avx512.c: same shape
 * of code, 8 lanes instead of 16). mr, nv, a_unit_rs and masked are
 * compile-time constants at every call site. */
INLINE void
tile_run (const NnGemmBlock *blk, int i0, int j0, const int mr, const int nv,
          const int a_unit_rs, const int masked, __m256i mask)
{
  __m256 acc[MR][NV_WIDE];
  const ptrdiff_t rsa = a_unit_rs ? 1 : blk->rsa;
  const ptrdiff_t csa = a_unit_rs ? blk->csa : 1;
  const ptrdiff_t ldb = blk->ldb;
  const float *a = blk->a + i0 * rsa;
  const float *b = blk->b + j0;

#pragma GCC unroll 8
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
      acc[i][v] = _mm256_setzero_ps ();

  for (int p = 0; p < blk->k; p++)
    {
      __m256 bv[NV_WIDE];
#pragma GCC unroll 8
      for (int v = 0; v < nv; v++)
        bv[v] = masked && v == nv - 1 ? _mm256_maskload_ps (b + 8 * v, mask)
                                      : _mm256_loadu_ps (b + 8 * v);
#pragma GCC unroll 8
      for (int i = 0; i < mr; i++)
        {
          __m256 av = _mm256_broadcast_ss (a + i * rsa);
#pragma GCC unroll 8
          for (int v = 0; v < nv; v++)
            acc[i][v] = _mm256_fmadd_ps (av, bv[v], acc[i][v]);
        }
      a += csa;
      b += ldb;
    }

  const __m256 alpha = _mm256_set1_ps (blk->alpha);
  const __m256 beta = _mm256_set1_ps (blk->beta);
  const int use_beta = blk->beta != 0.0f;
#pragma GCC unroll 8
  for (int i = 0; i < mr; i++)
    {
      float *cr = blk->c + (i0 + i) * blk->ldc + j0;
#pragma GCC unroll 8
      for (int v = 0; v < nv; v++)
        {
          __m256 r = _mm256_mul_ps (acc[i][v], alpha);
          if (masked && v == nv - 1)
            {
              if (use_beta)
                r = _mm256_fmadd_ps (beta, _mm256_maskload_ps (cr + 8 * v, mask), r);
              _mm256_maskstore_ps (cr + 8 * v, mask, r);
            }
          else
            {
              if (use_beta)
                r = _mm256_fmadd_ps (beta, _mm256_loadu_ps (cr + 8 * v), r);
              _mm256_storeu_ps (cr + 8 * v, r);
            }
        }
    }
}

/* All column tiles of rows i0..i0+mr-1: full tiles, then one masked tile. */
INLINE void
row_panel (const NnGemmBlock *blk, int i0, const int mr, const int a_unit_rs)
{
  const __m256i none = _mm256_setzero_si256 ();
  int j = 0;
  for (; j + NR <= blk->n; j += NR)
    tile_run (blk, i0, j, mr, NV, a_unit_rs, 0, none);
  int rest = blk->n - j;
  if (rest > 8)
    tile_run (blk, i0, j, mr, 2, a_unit_rs, 1, lanes (rest - 8));
  else if (rest > 0)
    tile_run (blk, i0, j, mr, 1, a_unit_rs, 1, lanes (rest));
}

/* A single row of A (the single-sample predict case): wider tiles for
 * more independent accumulators. With one row, a_unit_rs = 1 is right for
 * both layouts of A (csa is then A's only stride). */
INLINE void
row_single (const NnGemmBlock *blk)
{
  const __m256i none = _mm256_setzero_si256 ();
  int j = 0;
  for (; j + NV_WIDE * 8 <= blk->n; j += NV_WIDE * 8)
    tile_run (blk, 0, j, 1, NV_WIDE, 1, 0, none);
  for (; j + 16 <= blk->n; j += 16)
    tile_run (blk, 0, j, 1, 2, 1, 0, none);
  int rest = blk->n - j;
  if (rest > 8)
    tile_run (blk, 0, j, 1, 2, 1, 1, lanes (rest - 8));
  else if (rest > 0)
    tile_run (blk, 0, j, 1, 1, 1, 1, lanes (rest));
}

/* Full MR-row panels, then the leftover rows as 4/2/1-row panels
 * (fewer specialised copies of the tile than one per row count). */
INLINE void
block_run (const NnGemmBlock *blk, const int a_unit_rs)
{
  int i = 0;
  for (; i + MR <= blk->m; i += MR)
    row_panel (blk, i, MR, a_unit_rs);
  int rest = blk->m - i;
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
nn_gemm_block_avx2 (const NnGemmBlock *blk)
{
  if (blk->m == 1)
    row_single (blk);
  else if (blk->rsa == 1)
    block_run (blk, 1);
  else
    block_run (blk, 0);
}

/* dst[q*ld + t] = src[t*lds + q] for an 8×8 tile, in registers. */
INLINE void
transpose_8x8 (const float *src, ptrdiff_t lds, float *dst, ptrdiff_t ld)
{
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; i++)
    r[i] = _mm256_loadu_ps (src + i * lds);
  for (int i = 0; i < 8; i += 2)
    {
      t[i] = _mm256_unpacklo_ps (r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps (r[i], r[i + 1]);
    }
  for (int h = 0; h < 8; h += 4)
    {
      u[h + 0] = _mm256_shuffle_ps (t[h + 0], t[h + 2], 0x44);
      u[h + 1] = _mm256_shuffle_ps (t[h + 0], t[h + 2], 0xEE);
      u[h + 2] = _mm256_shuffle_ps (t[h + 1], t[h + 3], 0x44);
      u[h + 3] = _mm256_shuffle_ps (t[h + 1], t[h + 3], 0xEE);
    }
  for (int q = 0; q < 4; q++)
    {
      _mm256_storeu_ps (dst + q * ld, _mm256_permute2f128_ps (u[q], u[q + 4], 0x20));
      _mm256_storeu_ps (dst + (q + 4) * ld, _mm256_permute2f128_ps (u[q], u[q + 4], 0x31));
    }
}

/* 16×16 tiles made of four 8×8 transposes, so that both the rows read
 * from B and the rows written to dst are whole 64-byte lines; tiles go
 * along dst rows, which then fill sequentially. */
ISA void
nn_gemm_pack_bt_avx2 (const float *b, ptrdiff_t ldb, int kc, int nc,
                      float *dst, ptrdiff_t ld)
{
  int p = 0;
  for (; p + 16 <= kc; p += 16)
    {
      int j = 0;
      for (; j + 16 <= nc; j += 16)
        {
          const float *s = b + j * ldb + p;
          float *d = dst + p * ld + j;
          transpose_8x8 (s, ldb, d, ld);
          transpose_8x8 (s + 8, ldb, d + 8 * ld, ld);
          transpose_8x8 (s + 8 * ldb, ldb, d + 8, ld);
          transpose_8x8 (s + 8 * ldb + 8, ldb, d + 8 * ld + 8, ld);
        }
      for (; j < nc; j++)
        for (int q = p; q < p + 16; q++)
          dst[q * ld + j] = b[j * ldb + q];
    }
  for (; p < kc; p++)
    for (int j = 0; j < nc; j++)
      dst[p * ld + j] = b[j * ldb + p];
}

#else
typedef int nn_gemm_avx2_unused;
#endif
