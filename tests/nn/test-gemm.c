/* test-gemm.c — nn_gemm() against a naive double-precision reference: every
 * transpose form, every kernel this CPU has, odd shapes, strides,
 * alpha/beta, concurrency; plus the kernel selection API. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn-gemm.h"

/* Matrices as stored: A is m×k (k×m if transposed), B is k×n (n×k). Row
 * strides get some padding; the padding holds a sentinel that must survive. */
typedef struct {
  NnTranspose ta, tb;
  int m, n, k;
  int lda, ldb, ldc;
  float alpha, beta;
  float *a, *b, *c, *c0;
} Case;

static const float SENTINEL = 12345.0f;

static void
case_fill (Case *t, GRand *rng, int pad)
{
  int arows = t->ta ? t->k : t->m, acols = t->ta ? t->m : t->k;
  int brows = t->tb ? t->n : t->k, bcols = t->tb ? t->k : t->n;
  t->lda = acols + pad;
  t->ldb = bcols + pad;
  t->ldc = t->n + pad;
  t->a = nn_alloc_floats ((gsize) arows * t->lda + 1);
  t->b = nn_alloc_floats ((gsize) brows * t->ldb + 1);
  t->c = nn_alloc_floats ((gsize) t->m * t->ldc + 1);
  t->c0 = nn_alloc_floats ((gsize) t->m * t->ldc + 1);
  for (int i = 0; i < arows * t->lda; i++)
    t->a[i] = (i % t->lda) < acols ? (float) g_rand_double_range (rng, -1, 1) : NAN;
  for (int i = 0; i < brows * t->ldb; i++)
    t->b[i] = (i % t->ldb) < bcols ? (float) g_rand_double_range (rng, -1, 1) : NAN;
  for (int i = 0; i < t->m * t->ldc; i++)
    t->c0[i] = (i % t->ldc) < t->n ? (float) g_rand_double_range (rng, -1, 1) : SENTINEL;
  if (t->beta == 0.0f)  /* C must be write-only: NaNs may not leak out. */
    for (int i = 0; i < t->m * t->ldc; i++)
      if ((i % t->ldc) < t->n)
        t->c0[i] = NAN;
}

static void
case_free (Case *t)
{
  nn_free_floats (t->a);
  nn_free_floats (t->b);
  nn_free_floats (t->c);
  nn_free_floats (t->c0);
}

static double
case_a (const Case *t, int i, int p)
{
  return t->ta ? t->a[(gsize) p * t->lda + i] : t->a[(gsize) i * t->lda + p];
}

static double
case_b (const Case *t, int p, int j)
{
  return t->tb ? t->b[(gsize) j * t->ldb + p] : t->b[(gsize) p * t->ldb + j];
}

/* Runs nn_gemm on the case and checks every element and the padding;
 * returns the number of bad elements (reported once). */
static int
case_check (Case *t, const char *what)
{
  memcpy (t->c, t->c0, sizeof (float) * (gsize) t->m * t->ldc);
  nn_gemm (t->ta, t->tb, t->m, t->n, t->k, t->alpha, t->a, t->lda,
           t->b, t->ldb, t->beta, t->c, t->ldc);
  int bad = 0;
  for (int i = 0; i < t->m; i++)
    for (int j = 0; j < t->ldc; j++)
      {
        float got = t->c[(gsize) i * t->ldc + j];
        double want, tol;
        if (j >= t->n)
          {
            want = SENTINEL;
            tol = 0;
          }
        else
          {
            double s = 0, sabs = 0;
            for (int p = 0; p < t->k; p++)
              {
                double v = case_a (t, i, p) * case_b (t, p, j);
                s += v;
                sabs += fabs (v);
              }
            double c0 = t->c0[(gsize) i * t->ldc + j];
            want = t->alpha * s;
            sabs = fabs (t->alpha) * sabs;
            if (t->beta != 0.0f)
              {
                want += t->beta * c0;
                sabs += fabs (t->beta * c0);
              }
            tol = (t->k + 4) * FLT_EPSILON * sabs + 1e-30;
          }
        if (!(fabs (got - want) <= tol))
          {
            if (bad == 0)
              fprintf (stderr, "%s [%s] ta=%d tb=%d m=%d n=%d k=%d alpha=%g "
                       "beta=%g: C[%d][%d]=%.9g want %.9g (tol %.3g)\n",
                       what, nn_gemm_kernel_name (nn_gemm_active_kernel ()),
                       t->ta, t->tb, t->m, t->n, t->k, t->alpha, t->beta,
                       i, j, got, want, tol);
            bad++;
          }
      }
  return bad;
}

static int
run_case (GRand *rng, NnTranspose ta, NnTranspose tb, int m, int n, int k,
          float alpha, float beta, int pad, const char *what)
{
  Case t = { .ta = ta, .tb = tb, .m = m, .n = n, .k = k,
             .alpha = alpha, .beta = beta };
  case_fill (&t, rng, pad);
  int bad = case_check (&t, what);
  case_free (&t);
  return bad;
}

static const int odd_sizes[] = { 1, 3, 17, 129 };
static const float alphas[] = { 1.0f, -0.75f, 2.0f };
static const float betas[] = { 0.0f, 1.0f, -1.5f };

/* _i indexes the kernel; each kernel runs all forms on odd shapes. */
START_TEST (test_odd_shapes)
{
  NnKernel kernel = (NnKernel) (_i + NN_KERNEL_PORTABLE);
  if (!nn_gemm_kernel_available (kernel))
    return;
  ck_assert (nn_gemm_force_kernel (kernel));
  GRand *rng = g_rand_new_with_seed (100 + _i);
  int bad = 0, n_sizes = G_N_ELEMENTS (odd_sizes), count = 0;
  for (int form = 0; form < 4; form++)
    for (int im = 0; im < n_sizes; im++)
      for (int in = 0; in < n_sizes; in++)
        for (int ik = 0; ik < n_sizes; ik++, count++)
          {
            int m = odd_sizes[im], n = odd_sizes[in], k = odd_sizes[ik];
            float alpha = alphas[count % G_N_ELEMENTS (alphas)];
            float beta = betas[(count / 3) % G_N_ELEMENTS (betas)];
            int pad = count % 5;
            bad += run_case (rng, form & 1, form >> 1, m, n, k, alpha, beta,
                             pad, "odd");
          }
  g_rand_free (rng);
  nn_gemm_force_kernel (NN_KERNEL_AUTO);
  ck_assert_int_eq (bad, 0);
}
END_TEST

/* Random shapes up to ~300 (crossing the k and n block edges). */
START_TEST (test_random_shapes)
{
  NnKernel kernel = (NnKernel) (_i + NN_KERNEL_PORTABLE);
  if (!nn_gemm_kernel_available (kernel))
    return;
  ck_assert (nn_gemm_force_kernel (kernel));
  GRand *rng = g_rand_new_with_seed (7 + _i);
  int bad = 0;
  for (int r = 0; r < 24; r++)
    {
      int m = g_rand_int_range (rng, 1, 70);
      int n = g_rand_int_range (rng, 1, r % 4 == 0 ? 600 : 90);
      int k = g_rand_int_range (rng, 1, r % 3 == 0 ? 600 : 90);
      bad += run_case (rng, r & 1, (r >> 1) & 1, m, n, k,
                       alphas[r % 3], betas[(r / 3) % 3], r % 7, "random");
    }
  g_rand_free (rng);
  nn_gemm_force_kernel (NN_KERNEL_AUTO);
  ck_assert_int_eq (bad, 0);
}
END_TEST

/* The MLP's products, forward and backward, batch 128 and 64. */
START_TEST (test_mlp_shapes)
{
  NnKernel kernel = (NnKernel) (_i + NN_KERNEL_PORTABLE);
  if (!nn_gemm_kernel_available (kernel))
    return;
  ck_assert (nn_gemm_force_kernel (kernel));
  static const int layers[][2] = { { 784, 256 }, { 256, 128 }, { 128, 10 } };
  static const int batches[] = { 128, 64, 1 };
  GRand *rng = g_rand_new_with_seed (42);
  int bad = 0;
  for (gsize bi = 0; bi < G_N_ELEMENTS (batches); bi++)
    for (gsize li = 0; li < G_N_ELEMENTS (layers); li++)
      {
        int bs = batches[bi], in = layers[li][0], out = layers[li][1];
        /* forward Y = X·W, dW = Xᵀ·dY, dX = dY·Wᵀ */
        bad += run_case (rng, NN_NO_TRANS, NN_NO_TRANS, bs, out, in, 1, 0, 0, "fwd");
        bad += run_case (rng, NN_TRANS, NN_NO_TRANS, in, out, bs, 1, 1, 0, "dW");
        bad += run_case (rng, NN_NO_TRANS, NN_TRANS, bs, in, out, 1, 0, 0, "dX");
      }
  g_rand_free (rng);
  nn_gemm_force_kernel (NN_KERNEL_AUTO);
  ck_assert_int_eq (bad, 0);
}
END_TEST

/* m, n or k = 0, and alpha = 0. */
START_TEST (test_degenerate)
{
  float c[6] = { 1, 2, 3, 4, 5, 6 }, a[6] = { 1, 1, 1, 1, 1, 1 };
  nn_gemm (NN_NO_TRANS, NN_NO_TRANS, 0, 3, 2, 1, a, 2, a, 3, 0, c, 3);
  ck_assert_float_eq (c[0], 1);
  nn_gemm (NN_NO_TRANS, NN_NO_TRANS, 2, 0, 2, 1, a, 2, a, 1, 0, c, 3);
  ck_assert_float_eq (c[5], 6);
  /* k = 0: C = beta·C */
  nn_gemm (NN_NO_TRANS, NN_NO_TRANS, 2, 3, 0, 1, a, 1, a, 3, 2, c, 3);
  ck_assert_float_eq (c[0], 2);
  ck_assert_float_eq (c[5], 12);
  /* alpha = 0, beta = 0: zeros even over NaN */
  c[4] = NAN;
  nn_gemm (NN_TRANS, NN_TRANS, 2, 3, 2, 0, a, 2, a, 2, 0, c, 3);
  for (int i = 0; i < 6; i++)
    ck_assert_float_eq (c[i], 0);
  /* 1×1×1 */
  float x = 3, y = -2, z = 100;
  nn_gemm (NN_NO_TRANS, NN_NO_TRANS, 1, 1, 1, 0.5f, &x, 1, &y, 1, 0.25f, &z, 1);
  ck_assert_float_eq (z, 22);
}
END_TEST

START_TEST (test_kernel_api)
{
  ck_assert_str_eq (nn_gemm_kernel_name (NN_KERNEL_PORTABLE), "portable");
  ck_assert_str_eq (nn_gemm_kernel_name (NN_KERNEL_AVX2), "avx2");
  ck_assert_str_eq (nn_gemm_kernel_name (NN_KERNEL_AVX512), "avx512");
  ck_assert (nn_gemm_kernel_available (NN_KERNEL_PORTABLE));
  ck_assert (nn_gemm_kernel_available (NN_KERNEL_AUTO));
  ck_assert (!nn_gemm_kernel_available (NN_KERNEL_COUNT));
  ck_assert (!nn_gemm_force_kernel (NN_KERNEL_COUNT));
  ck_assert (!nn_gemm_force_kernel ((NnKernel) -1));

  NnKernel best = nn_gemm_active_kernel ();
  ck_assert_int_ne (best, NN_KERNEL_AUTO);
  ck_assert (nn_gemm_kernel_available (best));
  for (int k = NN_KERNEL_PORTABLE; k < NN_KERNEL_COUNT; k++)
    {
      if (nn_gemm_kernel_available (k))
        {
          ck_assert (nn_gemm_force_kernel (k));
          ck_assert_int_eq (nn_gemm_active_kernel (), k);
          ck_assert (k <= (int) best);  /* auto picks the best */
        }
      else
        ck_assert (!nn_gemm_force_kernel (k));
    }
  ck_assert (nn_gemm_force_kernel (NN_KERNEL_AUTO));
  ck_assert_int_eq (nn_gemm_active_kernel (), best);
#if defined(__x86_64__)
  __builtin_cpu_init ();
  ck_assert_int_eq (nn_gemm_kernel_available (NN_KERNEL_AVX512),
                    __builtin_cpu_supports ("avx512f"));
#endif

  float *p = nn_alloc_floats (37);
  ck_assert_int_eq ((guintptr) p % 64, 0);
  for (int i = 0; i < 37; i++)
    ck_assert_float_eq (p[i], 0);
  nn_free_floats (p);
}
END_TEST

/* Several threads multiply at once (each with its own packing buffer). */
typedef struct {
  int seed;
  int bad;
} ThreadJob;

static gpointer
thread_run (gpointer data)
{
  ThreadJob *job = data;
  GRand *rng = g_rand_new_with_seed (job->seed);
  for (int r = 0; r < 4; r++)
    job->bad += run_case (rng, r & 1, NN_TRANS, 33 + r, 300 + job->seed, 280,
                          1, 0.5f, 1, "thread");
  g_rand_free (rng);
  return NULL;
}

START_TEST (test_threads)
{
  ThreadJob jobs[4];
  GThread *th[4];
  for (int i = 0; i < 4; i++)
    {
      jobs[i] = (ThreadJob) { .seed = i + 1 };
      th[i] = g_thread_new ("gemm-test", thread_run, &jobs[i]);
    }
  for (int i = 0; i < 4; i++)
    {
      g_thread_join (th[i]);
      ck_assert_int_eq (jobs[i].bad, 0);
    }
}
END_TEST

static Suite *
gemm_suite (void)
{
  Suite *s = suite_create ("gemm");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  int nk = NN_KERNEL_COUNT - NN_KERNEL_PORTABLE;
  tcase_add_loop_test (tc, test_odd_shapes, 0, nk);
  tcase_add_loop_test (tc, test_random_shapes, 0, nk);
  tcase_add_loop_test (tc, test_mlp_shapes, 0, nk);
  tcase_add_test (tc, test_degenerate);
  tcase_add_test (tc, test_kernel_api);
  tcase_add_test (tc, test_threads);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (gemm_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
