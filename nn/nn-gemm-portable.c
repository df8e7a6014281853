/* nn-gemm-portable.c — plain C block kernel for nn_gemm(): builds on any
 * CPU; the compiler's vectoriser does what it can with the baseline ISA. */
#include "nn-gemm-private.h"

#define MR 4
#define NR 16

/* One MR×NR tile (or a smaller edge tile: mr ≤ MR, nr ≤ NR). Inlined with
 * constant mr and nr wherever possible so the inner loops have fixed trip
 * counts and vectorise. */
static inline __attribute__ ((always_inline)) void
tile_run (const NnGemmBlock *blk, int i0, int j0, int mr, int nr)
{
  float acc[MR][NR] = { { 0 } };
  const float *a = blk->a + i0 * blk->rsa;
  const float *b = blk->b + j0;

  for (int p = 0; p < blk->k; p++)
    {
      const float *brow = b + p * blk->ldb;
      for (int i = 0; i < mr; i++)
        {
          float aip = a[i * blk->rsa + p * blk->csa];
          for (int j = 0; j < nr; j++)
            acc[i][j] += aip * brow[j];
        }
    }

  for (int i = 0; i < mr; i++)
    {
      float *crow = blk->c + (i0 + i) * blk->ldc + j0;
      if (blk->beta == 0.0f)
        for (int j = 0; j < nr; j++)
          crow[j] = blk->alpha * acc[i][j];
      else
        for (int j = 0; j < nr; j++)
          crow[j] = blk->alpha * acc[i][j] + blk->beta * crow[j];
    }
}

void
nn_gemm_block_portable (const NnGemmBlock *blk)
{
  for (int j = 0; j < blk->n; j += NR)
    {
      int nr = blk->n - j < NR ? blk->n - j : NR;
      for (int i = 0; i < blk->m; i += MR)
        {
          int mr = blk->m - i < MR ? blk->m - i : MR;
          if (nr < NR)
            tile_run (blk, i, j, mr, nr);
          else if (mr == 4)
            tile_run (blk, i, j, 4, NR);
          else if (mr == 3)
            tile_run (blk, i, j, 3, NR);
          else if (mr == 2)
            tile_run (blk, i, j, 2, NR);
          else
            tile_run (blk, i, j, 1, NR);
        }
    }
}

void
nn_gemm_pack_bt_portable (const float *b, ptrdiff_t ldb, int kc, int nc,
                          float *dst, ptrdiff_t ld)
{
  /* Small square tiles keep both reads and writes within a few lines. */
  enum { T = 16 };
  for (int jj = 0; jj < nc; jj += T)
    {
      int je = jj + T < nc ? jj + T : nc;
      for (int pp = 0; pp < kc; pp += T)
        {
          int pe = pp + T < kc ? pp + T : kc;
          for (int j = jj; j < je; j++)
            for (int p = pp; p < pe; p++)
              dst[p * ld + j] = b[j * ldb + p];
        }
    }
}
