/* nn-gemm.h — single-precision matrix multiply for the MLP.
 *
 * Row-major, single-threaded (the trainer parallelises above it), safe to
 * call from many threads at once. The SIMD micro-kernel is chosen at run
 * time from what the CPU supports; tests can force each path. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  NN_NO_TRANS = 0,
  NN_TRANS = 1,
} NnTranspose;

typedef enum {
  NN_KERNEL_AUTO = 0,       /* best available on this CPU */
  NN_KERNEL_PORTABLE,       /* plain C, builds everywhere */
  NN_KERNEL_AVX2,           /* x86-64 AVX2 + FMA */
  NN_KERNEL_AVX512,         /* x86-64 AVX-512F */
  NN_KERNEL_COUNT
} NnKernel;

/* C[m×n] = alpha · op(A) · op(B) + beta · C, where op(A) is m×k and op(B)
 * is k×n. lda/ldb/ldc are row strides in elements of the matrices as stored
 * (so for A transposed, A is stored k×m and lda ≥ m). beta == 0 means C is
 * write-only (NaNs in C are not propagated). */
void nn_gemm (NnTranspose trans_a, NnTranspose trans_b,
              int m, int n, int k,
              float alpha, const float *a, int lda,
              const float *b, int ldb,
              float beta, float *c, int ldc);

/* Whether this CPU (and this build) can run @kernel. */
gboolean nn_gemm_kernel_available (NnKernel kernel);

/* Force a kernel for every later call (tests, benchmarks); NN_KERNEL_AUTO
 * restores the automatic choice. Returns FALSE if not available. */
gboolean nn_gemm_force_kernel (NnKernel kernel);

/* The kernel nn_gemm() uses now. */
NnKernel nn_gemm_active_kernel (void);

/* "portable", "avx2", "avx512". */
const char *nn_gemm_kernel_name (NnKernel kernel);

/* Aligned float buffers (64-byte aligned, zeroed). */
float *nn_alloc_floats (gsize count);
void nn_free_floats (float *p);

G_END_DECLS
