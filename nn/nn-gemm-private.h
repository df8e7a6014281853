/* nn-gemm-private.h — what the GEMM driver (nn-gemm.c) shares with its
 * per-ISA block kernels (nn-gemm-portable.c, -avx2.c, -avx512.c). */
#pragma once

#include <stddef.h>

/* Blocking (L1d 32 KiB, L2 1 MiB per core). The driver cuts k into equal
 * slices of at most KC and n into NC-wide blocks, so that one slice of A
 * (m×KC) and of B (KC×NC) stay in L2 while the micro-kernels stream them;
 * C is revisited once per k slice. A and a row-major B are read in place;
 * a transposed B is packed per thread into KC×NC_BT panels that stay in
 * L1/L2 while every row of A runs over them. */
#define NN_GEMM_KC 256
#define NN_GEMM_NC 512
#define NN_GEMM_NC_BT 64
#define NN_GEMM_MC 256

/* One block product, k ≤ NN_GEMM_KC:
 *   C[m×n] = alpha · A[m×k] · B[k×n] + beta · C      (beta == 0: C write-only)
 * with A[i][p] = a[i*rsa + p*csa] (any strides: covers both op(A) forms),
 * B[p][j] = b[p*ldb + j] (rows contiguous: op(B) is packed by the driver
 * when B is transposed) and C[i][j] = c[i*ldc + j]. */
typedef struct {
  const float *a;
  ptrdiff_t rsa, csa;
  const float *b;
  ptrdiff_t ldb;
  float *c;
  ptrdiff_t ldc;
  int m, n, k;
  float alpha, beta;
} NnGemmBlock;

typedef void (*NnGemmBlockFn) (const NnGemmBlock *blk);

/* Packs op(B) of a transposed B: dst[p*ld + j] = b[j*ldb + p] for p < kc,
 * j < nc. */
typedef void (*NnGemmPackFn) (const float *b, ptrdiff_t ldb, int kc, int nc,
                              float *dst, ptrdiff_t ld);

void nn_gemm_block_portable (const NnGemmBlock *blk);
void nn_gemm_pack_bt_portable (const float *b, ptrdiff_t ldb, int kc, int nc,
                               float *dst, ptrdiff_t ld);

#if defined(__x86_64__) || defined(__i386__)
void nn_gemm_block_avx2 (const NnGemmBlock *blk);
void nn_gemm_pack_bt_avx2 (const float *b, ptrdiff_t ldb, int kc, int nc,
                           float *dst, ptrdiff_t ld);
void nn_gemm_block_avx512 (const NnGemmBlock *blk);
#endif
