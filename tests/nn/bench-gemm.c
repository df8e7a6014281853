/* bench-gemm.c — GFLOP/s of nn_gemm() on the MLP's shapes (784-256-128-10,
 * batch 128 and 64, forward and both backward products, and single-sample
 * predict), against a naive loop and, when built with it, single-threaded
 * OpenBLAS cblas_sgemm. Prints name=value lines. An optional argument
 * keeps only the shapes whose name contains it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn-gemm.h"

#ifdef NN_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif

typedef struct {
  const char *name;
  NnTranspose ta, tb;
  int m, n, k;
} Shape;

/* Layer in→out with batch b: forward X[b×in]·W[in×out] ("nn"),
 * dW = Xᵀ·dY ("tn", m=in n=out k=b), dX = dY·Wᵀ ("nt", m=b n=in k=out). */
static const Shape shapes[] = {
  { "b128_784x256_fwd", NN_NO_TRANS, NN_NO_TRANS, 128, 256, 784 },
  { "b128_784x256_dw", NN_TRANS, NN_NO_TRANS, 784, 256, 128 },
  { "b128_784x256_dx", NN_NO_TRANS, NN_TRANS, 128, 784, 256 },
  { "b128_256x128_fwd", NN_NO_TRANS, NN_NO_TRANS, 128, 128, 256 },
  { "b128_256x128_dw", NN_TRANS, NN_NO_TRANS, 256, 128, 128 },
  { "b128_256x128_dx", NN_NO_TRANS, NN_TRANS, 128, 256, 128 },
  { "b128_128x10_fwd", NN_NO_TRANS, NN_NO_TRANS, 128, 10, 128 },
  { "b128_128x10_dw", NN_TRANS, NN_NO_TRANS, 128, 10, 128 },
  { "b128_128x10_dx", NN_NO_TRANS, NN_TRANS, 128, 128, 10 },
  { "b64_784x256_fwd", NN_NO_TRANS, NN_NO_TRANS, 64, 256, 784 },
  { "b64_784x256_dw", NN_TRANS, NN_NO_TRANS, 784, 256, 64 },
  { "b64_784x256_dx", NN_NO_TRANS, NN_TRANS, 64, 784, 256 },
  { "b64_256x128_fwd", NN_NO_TRANS, NN_NO_TRANS, 64, 128, 256 },
  { "b64_256x128_dw", NN_TRANS, NN_NO_TRANS, 256, 128, 64 },
  { "b64_256x128_dx", NN_NO_TRANS, NN_TRANS, 64, 256, 128 },
  { "b1_784x256_fwd", NN_NO_TRANS, NN_NO_TRANS, 1, 256, 784 },
  { "b1_256x128_fwd", NN_NO_TRANS, NN_NO_TRANS, 1, 128, 256 },
};

static const char *
form_name (const Shape *s)
{
  static const char *const names[] = { "nn", "nt", "tn", "tt" };
  return names[s->ta * 2 + s->tb];
}

typedef struct {
  const Shape *s;
  float *a, *b, *c;
  int lda, ldb, ldc;
} Problem;

typedef void (*GemmFn) (const Problem *p);

static void
run_ours (const Problem *p)
{
  const Shape *s = p->s;
  nn_gemm (s->ta, s->tb, s->m, s->n, s->k, 1.0f, p->a, p->lda, p->b, p->ldb,
           0.0f, p->c, p->ldc);
}

/* The loop one writes first: a dot product per element of C. */
static void
run_naive (const Problem *p)
{
  const Shape *s = p->s;
  for (int i = 0; i < s->m; i++)
    for (int j = 0; j < s->n; j++)
      {
        float sum = 0;
        for (int q = 0; q < s->k; q++)
          {
            float x = s->ta ? p->a[q * p->lda + i] : p->a[i * p->lda + q];
            float y = s->tb ? p->b[j * p->ldb + q] : p->b[q * p->ldb + j];
            sum += x * y;
          }
        p->c[i * p->ldc + j] = sum;
      }
}

#ifdef NN_BENCH_HAVE_OPENBLAS
static void
run_openblas (const Problem *p)
{
  const Shape *s = p->s;
  cblas_sgemm (CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
               s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f,
               p->a, p->lda, p->b, p->ldb, 0.0f, p->c, p->ldc);
}
#endif

/* A contender: a function and, for ours, the kernel to force. */
typedef struct {
  GemmFn fn;
  NnKernel kernel;
  int reps;
  double best_gflops;
} Runner;

static void
runner_call (Runner *r, const Problem *p)
{
  if (r->fn == run_ours)
    nn_gemm_force_kernel (r->kernel);
  for (int i = 0; i < r->reps; i++)
    r->fn (p);
}

/* Best GFLOP/s of each runner over @rounds timed batches of ≥ @min_us.
 * Rounds interleave the runners so that noise from other processes on
 * this shared machine hits them alike. */
static void
bench_runners (Runner *runners, int n_runners, const Problem *p, int rounds,
               gint64 min_us)
{
  double flops = 2.0 * p->s->m * p->s->n * p->s->k;
  for (int i = 0; i < n_runners; i++)
    {
      Runner *r = &runners[i];
      r->reps = 1;
      runner_call (r, p);  /* warm caches and buffers */
      for (;;)
        {
          gint64 t0 = g_get_monotonic_time ();
          runner_call (r, p);
          if (g_get_monotonic_time () - t0 >= min_us)
            break;
          r->reps *= 2;
        }
      r->best_gflops = 0;
    }
  for (int round = 0; round < rounds; round++)
    for (int i = 0; i < n_runners; i++)
      {
        Runner *r = &runners[i];
        gint64 t0 = g_get_monotonic_time ();
        runner_call (r, p);
        double us = (double) (g_get_monotonic_time () - t0);
        double gf = flops * r->reps / (us * 1e3);
        if (gf > r->best_gflops)
          r->best_gflops = gf;
      }
  nn_gemm_force_kernel (NN_KERNEL_AUTO);
}

static void
problem_init (Problem *p, const Shape *s, GRand *rng)
{
  p->s = s;
  p->lda = s->ta ? s->m : s->k;
  p->ldb = s->tb ? s->k : s->n;
  p->ldc = s->n;
  gsize na = (gsize) s->m * s->k, nb = (gsize) s->k * s->n;
  p->a = nn_alloc_floats (na);
  p->b = nn_alloc_floats (nb);
  p->c = nn_alloc_floats ((gsize) s->m * s->n);
  for (gsize i = 0; i < na; i++)
    p->a[i] = (float) g_rand_double_range (rng, -1, 1);
  for (gsize i = 0; i < nb; i++)
    p->b[i] = (float) g_rand_double_range (rng, -1, 1);
}

static void
problem_clear (Problem *p)
{
  nn_free_floats (p->a);
  nn_free_floats (p->b);
  nn_free_floats (p->c);
}

static void
bench_shape (const Shape *s, GRand *rng)
{
  Problem p;
  problem_init (&p, s, rng);
  const char *form = form_name (s);

  Runner runners[NN_KERNEL_COUNT + 1];
  int n = 0;
  for (int k = NN_KERNEL_AUTO; k < NN_KERNEL_COUNT; k++)
    if (nn_gemm_kernel_available (k))
      runners[n++] = (Runner) { .fn = run_ours, .kernel = k };
#ifdef NN_BENCH_HAVE_OPENBLAS
  int blas = n;
  runners[n++] = (Runner) { .fn = run_openblas };
#endif
  bench_runners (runners, n, &p, 40, 1000);
  double ours = runners[0].best_gflops;
  printf ("gemm_%s_%s_gflops=%.1f\n", s->name, form, ours);
  printf ("gemm_%s_%s_us=%.2f\n", s->name, form,
          2.0 * s->m * s->n * s->k / (ours * 1e3));
  for (int i = 1; i < n; i++)
    if (runners[i].fn == run_ours)
      printf ("gemm_%s_%s_%s_gflops=%.1f\n", s->name, form,
              nn_gemm_kernel_name (runners[i].kernel), runners[i].best_gflops);

  Runner naive = { .fn = run_naive };
  bench_runners (&naive, 1, &p, 2, 1);
  printf ("gemm_%s_%s_naive_gflops=%.2f\n", s->name, form, naive.best_gflops);
  printf ("gemm_%s_%s_ratio_naive=%.1f\n", s->name, form, ours / naive.best_gflops);
#ifdef NN_BENCH_HAVE_OPENBLAS
  printf ("gemm_%s_%s_openblas_gflops=%.1f\n", s->name, form, runners[blas].best_gflops);
  printf ("gemm_%s_%s_ratio_openblas=%.3f\n", s->name, form,
          ours / runners[blas].best_gflops);
#endif
  fflush (stdout);
  problem_clear (&p);
}

int
main (int argc, char **argv)
{
#ifdef NN_BENCH_HAVE_OPENBLAS
  openblas_set_num_threads (1);
  printf ("gemm_openblas=1\n");
#else
  printf ("gemm_openblas=0\n");
#endif
  printf ("gemm_kernel=%s\n", nn_gemm_kernel_name (nn_gemm_active_kernel ()));
  GRand *rng = g_rand_new_with_seed (1);
  for (gsize i = 0; i < G_N_ELEMENTS (shapes); i++)
    if (argc < 2 || strstr (shapes[i].name, argv[1]) != NULL)
      bench_shape (&shapes[i], rng);
  g_rand_free (rng);
  return 0;
}
