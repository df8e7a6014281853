/* nn-gemm.c — nn_gemm() driver: argument checks, run-time kernel choice,
 * k/n blocking, packing of a transposed B into a per-thread buffer, and
 * the aligned float allocator. The arithmetic is in nn-gemm-<isa>.c. */
#include "nn-gemm.h"
#include "nn-gemm-private.h"

#include <string.h>


/* Kernel forced by nn_gemm_force_kernel(), NN_KERNEL_AUTO when none. */
static gint gemm_forced = NN_KERNEL_AUTO;

static const char *const gemm_kernel_names[NN_KERNEL_COUNT] = {
  [NN_KERNEL_AUTO] = "auto",
  [NN_KERNEL_PORTABLE] = "portable",
  [NN_KERNEL_AVX2] = "avx2",
  [NN_KERNEL_AVX512] = "avx512",
};

const char *
nn_gemm_kernel_name (NnKernel kernel)
{
  if ((int) kernel < 0 || kernel >= NN_KERNEL_COUNT)
    return "unknown";
  return gemm_kernel_names[kernel];
}

gboolean
nn_gemm_kernel_available (NnKernel kernel)
{
  switch (kernel)
    {
    case NN_KERNEL_AUTO:
    case NN_KERNEL_PORTABLE:
      return TRUE;
#if defined(__x86_64__) || defined(__i386__)
    case NN_KERNEL_AVX2:
      __builtin_cpu_init ();
      return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
    case NN_KERNEL_AVX512:
      __builtin_cpu_init ();
      return __builtin_cpu_supports ("avx512f");
#endif
    default:
      return FALSE;
    }
}

/* Best kernel of this CPU, computed once. */
static NnKernel
gemm_kernel_best (void)
{
  static gsize best = 0;
  if (g_once_init_enter (&best))
    {
      NnKernel k = NN_KERNEL_PORTABLE;
      if (nn_gemm_kernel_available (NN_KERNEL_AVX512))
        k = NN_KERNEL_AVX512;
      else if (nn_gemm_kernel_available (NN_KERNEL_AVX2))
        k = NN_KERNEL_AVX2;
      g_once_init_leave (&best, (gsize) k + 1);
    }
  return (NnKernel) (best - 1);
}

gboolean
nn_gemm_force_kernel (NnKernel kernel)
{
  if ((int) kernel < 0 || kernel >= NN_KERNEL_COUNT
      || !nn_gemm_kernel_available (kernel))
    return FALSE;
  g_atomic_int_set (&gemm_forced, (gint) kernel);
  return TRUE;
}

NnKernel
nn_gemm_active_kernel (void)
{
  NnKernel k = (NnKernel) g_atomic_int_get (&gemm_forced);
  return k == NN_KERNEL_AUTO ? gemm_kernel_best () : k;
}

static NnGemmBlockFn
gemm_block_fn (NnKernel kernel)
{
  switch (kernel)
    {
#if defined(__x86_64__) || defined(__i386__)
    case NN_KERNEL_AVX512:
      return nn_gemm_block_avx512;
    case NN_KERNEL_AVX2:
      return nn_gemm_block_avx2;
#endif
    default:
      return nn_gemm_block_portable;
    }
}

/* The AVX-512 kernel packs with AVX2 code too (every AVX-512 CPU has it). */
static NnGemmPackFn
gemm_pack_fn (NnKernel kernel)
{
#if defined(__x86_64__) || defined(__i386__)
  if (kernel != NN_KERNEL_PORTABLE && nn_gemm_kernel_available (NN_KERNEL_AVX2))
    return nn_gemm_pack_bt_avx2;
#else
  (void) kernel;
#endif
  return nn_gemm_pack_bt_portable;
}

float *
nn_alloc_floats (gsize count)
{
  /* Whole 64-byte lines, so SIMD code may touch the last one entirely;
   * g_aligned_alloc0 checks the size for overflow. */
  gsize lines = count / 16 + 1;
  return g_aligned_alloc0 (lines, 16 * sizeof (float), 64);
}

void
nn_free_floats (float *p)
{
  g_aligned_free (p);
}

/* Per-thread packing buffer for op(B) when B is transposed: KC×NC_BT floats,
 * freed when the thread exits. */
static GPrivate gemm_pack_key = G_PRIVATE_INIT ((GDestroyNotify) g_aligned_free);

static float *
gemm_pack_buffer (void)
{
  float *buf = g_private_get (&gemm_pack_key);
  if (buf == NULL)
    {
      buf = nn_alloc_floats ((gsize) NN_GEMM_KC * NN_GEMM_NC_BT);
      g_private_set (&gemm_pack_key, buf);
    }
  return buf;
}

/* C = beta · C over m×n (beta == 0 writes zeros). */
static void
gemm_scale_c (int m, int n, float beta, float *c, int ldc)
{
  for (int i = 0; i < m; i++)
    {
      float *row = c + (gsize) i * ldc;
      if (beta == 0.0f)
        memset (row, 0, (gsize) n * sizeof (float));
      else if (beta != 1.0f)
        for (int j = 0; j < n; j++)
          row[j] *= beta;
    }
}

void
nn_gemm (NnTranspose trans_a, NnTranspose trans_b,
         int m, int n, int k,
         float alpha, const float *a, int lda,
         const float *b, int ldb,
         float beta, float *c, int ldc)
{
  g_return_if_fail (m >= 0 && n >= 0 && k >= 0);
  if (m == 0 || n == 0)
    return;
  g_return_if_fail (c != NULL && ldc >= n);
  if (k == 0 || alpha == 0.0f)
    {
      gemm_scale_c (m, n, beta, c, ldc);
      return;
    }
  g_return_if_fail (a != NULL && b != NULL);
  g_return_if_fail (lda >= (trans_a ? m : k));
  g_return_if_fail (ldb >= (trans_b ? k : n));

  NnKernel kernel = nn_gemm_active_kernel ();
  NnGemmBlockFn block = gemm_block_fn (kernel);
  NnGemmPackFn pack_bt = gemm_pack_fn (kernel);
  float *pack = trans_b ? gemm_pack_buffer () : NULL;
  ptrdiff_t rsa = trans_a ? 1 : lda;
  ptrdiff_t csa = trans_a ? lda : 1;
  /* Equal k slices (784 → 4×196, not 3×256 + 16), a multiple of 8. */
  int k_slices = (k + NN_GEMM_KC - 1) / NN_GEMM_KC;
  int kc_step = ((k + k_slices - 1) / k_slices + 7) & ~7;

  int nc_step = trans_b ? NN_GEMM_NC_BT : NN_GEMM_NC;
  for (int jc = 0; jc < n; jc += nc_step)
    {
      int nc = MIN (nc_step, n - jc);
      for (int pc = 0; pc < k; pc += kc_step)
        {
          int kc = MIN (kc_step, k - pc);
          NnGemmBlock blk = {
            .a = a + pc * csa, .rsa = rsa, .csa = csa,
            .c = c + jc, .ldc = ldc,
            .n = nc, .k = kc,
            .alpha = alpha, .beta = pc == 0 ? beta : 1.0f,
          };
          if (trans_b)
            {
              pack_bt (b + (gsize) jc * ldb + pc, ldb, kc, nc, pack, nc);
              blk.b = pack;
              blk.ldb = nc;
            }
          else
            {
              blk.b = b + (gsize) pc * ldb + jc;
              blk.ldb = ldb;
            }
          for (int ic = 0; ic < m; ic += NN_GEMM_MC)
            {
              NnGemmBlock sub = blk;
              sub.m = MIN (NN_GEMM_MC, m - ic);
              sub.a = blk.a + ic * rsa;
              sub.c = blk.c + (gsize) ic * ldc;
              block (&sub);
            }
        }
    }
}
