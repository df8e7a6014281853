/* test-quant.c — int8 inference (nn-quant.h): the portable and VNNI kernels
 * bit-identical on odd shapes, exact integer arithmetic on values the
 * quantisation represents exactly, batches equal to row-by-row calls,
 * closeness to fp32 (random MLPs with each activation, regression, a
 * trained classifier's argmax), edge cases (n of 0 and 1, constant rows,
 * NaN inputs, refused models) and the kernel selection API. The VNNI side
 * is skipped on CPUs without it. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn-layers.h"
#include "nn-quant.h"
#include "nn-train.h"
#include "nn-metrics.h"

static NnModel *
random_model (NnTask task, const guint *sizes, guint n_layers, NnActivation act,
              guint64 seed)
{
  NnModel *m = nn_model_new (task, sizes[0], sizes + 1, n_layers - 1,
                             sizes[n_layers], act, seed);
  NnRng rng;
  nn_rng_seed (&rng, seed + 1000);
  for (guint l = 0; l < n_layers; l++)
    {
      float *b = nn_model_biases (m, l);
      for (guint j = 0; j < sizes[l + 1]; j++)
        b[j] = (float) (nn_rng_uniform (&rng) - 0.5) * 0.2f;
    }
  return m;
}

/* n rows of k inputs in [−2, 3), with zeros, a constant row and an
 * all-zero row among them. */
static float *
random_inputs (guint n, guint k, guint64 seed)
{
  float *x = g_new (float, (gsize) n * k);
  NnRng rng;
  nn_rng_seed (&rng, seed);
  for (gsize i = 0; i < (gsize) n * k; i++)
    x[i] = nn_rng_below (&rng, 4) == 0 ? 0.f : (float) (nn_rng_uniform (&rng) * 5 - 2);
  if (n > 2)
    {
      for (guint i = 0; i < k; i++)
        {
          x[(gsize) k + i] = 1.5f;      /* constant row */
          x[(gsize) 2 * k + i] = 0.f;   /* zero row */
        }
    }
  return x;
}

/* int8 predictions of @n rows with @kernel forced. */
static float *
predict_with (NnQuantKernel kernel, const NnQuantModel *q, const float *x, guint n)
{
  ck_assert (nn_quant_force_kernel (kernel));
  float *out = g_new (float, (gsize) MAX (n, 1) * nn_quant_model_n_outputs (q));
  nn_quant_model_predict (q, x, n, out);
  ck_assert (nn_quant_force_kernel (NN_QUANT_KERNEL_AUTO));
  return out;
}

static gboolean
have_vnni (void)
{
  return nn_quant_kernel_available (NN_QUANT_KERNEL_VNNI512);
}

/* Portable and VNNI outputs of @m on @n rows are the same bits; returns
 * the portable ones (caller frees). */
static float *
check_identical (const NnModel *m, const float *x, guint n, const char *what)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NnQuantModel) q = nn_quant_model_new (m, &error);
  ck_assert_msg (q != NULL, "%s: %s", what, error ? error->message : "");
  float *ref = predict_with (NN_QUANT_KERNEL_PORTABLE, q, x, n);
  if (have_vnni ())
    {
      g_autofree float *simd = predict_with (NN_QUANT_KERNEL_VNNI512, q, x, n);
      gsize count = (gsize) n * nn_model_n_outputs (m);
      for (gsize i = 0; i < count; i++)
        ck_assert_msg (memcmp (&ref[i], &simd[i], sizeof (float)) == 0,
                       "%s: output %zu (row %zu): portable %.9g, vnni %.9g", what, i,
                       i / nn_model_n_outputs (m), ref[i], simd[i]);
    }
  return ref;
}

START_TEST (test_kernels_identical)
{
  static const guint dims[] = { 1, 3, 17, 129, 784 };
  static const guint rows[] = { 1, 3, 300 };
  guint64 seed = 1;
  for (guint a = 0; a < G_N_ELEMENTS (dims); a++)
    for (guint b = 0; b < G_N_ELEMENTS (dims); b++)
      for (guint r = 0; r < G_N_ELEMENTS (rows); r++)
        {
          guint sizes[2] = { dims[a], dims[b] };
          g_autoptr (NnModel) m = random_model (NN_TASK_REGRESSION, sizes, 1,
                                                NN_ACT_RELU, seed);
          g_autofree float *x = random_inputs (rows[r], dims[a], seed++);
          g_autofree char *what = g_strdup_printf ("k %u n %u m %u", dims[a], dims[b],
                                                   rows[r]);
          g_free (check_identical (m, x, rows[r], what));
        }
}
END_TEST

/* Hidden layers (re-quantised activations) with each activation, both
 * tasks. */
START_TEST (test_kernels_identical_deep)
{
  static const guint sizes[] = { 29, 37, 18, 5 };
  static const NnActivation acts[] = { NN_ACT_RELU, NN_ACT_TANH, NN_ACT_SIGMOID };
  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    for (int task = 0; task < 2; task++)
      {
        g_autoptr (NnModel) m = random_model (task, sizes, 3, acts[a], a + 1);
        g_autofree float *x = random_inputs (301, sizes[0], a + 7);
        g_autofree char *what = g_strdup_printf ("%s task %d", nn_activation_name (acts[a]),
                                                 task);
        g_free (check_identical (m, x, 301, what));
      }
}
END_TEST

/* With every column holding ±127 (weight scale 1) and every row spanning
 * exactly 255 (input scale 1, integer zero point), the quantisation is
 * exact, so each kernel must return exactly (float) Σ x·w + b. */
START_TEST (test_exact_integers)
{
  static const guint shapes[][3] = { { 784, 256, 7 }, { 5, 3, 300 }, { 130, 17, 13 },
                                     { 1, 1, 2 }, { 64, 129, 1 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      guint k = shapes[s][0], n = shapes[s][1], rows = shapes[s][2];
      guint sizes[2] = { k, n };
      g_autoptr (NnModel) m = nn_model_new_sized (NN_TASK_REGRESSION, sizes, 1, NN_ACT_RELU);
      NnRng rng;
      nn_rng_seed (&rng, s + 3);
      float *w = nn_model_weights (m, 0), *b = nn_model_biases (m, 0);
      for (guint i = 0; i < k; i++)
        for (guint j = 0; j < n; j++)
          w[i * n + j] = (float) ((int) nn_rng_below (&rng, 255) - 127);
      for (guint j = 0; j < n; j++)
        {
          w[(j % k) * n + j] = j % 2 ? 127.f : -127.f;
          b[j] = (float) ((int) nn_rng_below (&rng, 21) - 10);
        }
      g_autofree float *x = g_new (float, (gsize) rows * k);
      for (guint r = 0; r < rows; r++)
        {
          int lo = -(int) nn_rng_below (&rng, 256);     /* −255 … 0 */
          for (guint i = 0; i < k; i++)
            x[r * k + i] = (float) (lo + (int) nn_rng_below (&rng, 256));
          x[r * k + r % k] = (float) lo;
          if (k > 1)
            x[r * k + (r + 1) % k] = (float) (lo + 255);
          else
            x[r] = 0.f;    /* one input: the range [lo, hi] always holds 0 */
        }
      g_autofree float *out = check_identical (m, x, rows, "exact");
      for (guint r = 0; r < rows; r++)
        for (guint j = 0; j < n; j++)
          {
            gint64 acc = 0;
            for (guint i = 0; i < k; i++)
              acc += (gint64) x[r * k + i] * (gint64) w[i * n + j];
            float want = (float) acc + b[j];
            ck_assert_msg (out[r * n + j] == want, "k %u n %u row %u col %u: %.9g, want %.9g",
                           k, n, r, j, out[r * n + j], want);
          }
    }
}
END_TEST

/* A batch (split into chunks and over threads) gives the same bits as
 * one row at a time (the single-row kernel path); rows with a NaN or an
 * infinity give NaNs. */
START_TEST (test_batch_equals_rows)
{
  static const guint sizes[] = { 784, 256, 128, 10 };
  g_autoptr (NnModel) m = random_model (NN_TASK_CLASSIFICATION, sizes, 3, NN_ACT_RELU, 5);
  g_autoptr (NnQuantModel) q = nn_quant_model_new (m, NULL);
  guint n = 1000;
  g_autofree float *x = random_inputs (n, 784, 9);
  x[7 * 784 + 100] = NAN;         /* in the vector loops, and in a tail */
  x[8 * 784 + 783] = -INFINITY;
  for (NnQuantKernel k = NN_QUANT_KERNEL_PORTABLE; k < NN_QUANT_KERNEL_COUNT; k++)
    {
      if (!nn_quant_force_kernel (k))
        continue;
      g_autofree float *batch = g_new (float, n * 10);
      nn_quant_model_predict (q, x, n, batch);
      for (guint r = 0; r < n; r++)
        {
          float one[10];
          nn_quant_model_predict (q, x + (gsize) r * 784, 1, one);
          ck_assert_msg (memcmp (one, batch + r * 10, sizeof one) == 0, "%s: row %u",
                         nn_quant_kernel_name (k), r);
          ck_assert_msg ((r == 7 || r == 8) == !!isnan (one[0]), "%s: row %u",
                         nn_quant_kernel_name (k), r);
        }
    }
  nn_quant_force_kernel (NN_QUANT_KERNEL_AUTO);
}
END_TEST

static double
max_abs_diff (const float *a, const float *b, gsize count)
{
  double d = 0;
  for (gsize i = 0; i < count; i++)
    d = MAX (d, fabs ((double) a[i] - b[i]));
  return d;
}

/* int8 against fp32 on random MLPs with input normalisation: probability
 * (or, for regression, value relative to the output's spread) errors stay
 * small. */
START_TEST (test_close_to_fp32)
{
  static const guint sizes[] = { 60, 48, 32, 6 };
  static const NnActivation acts[] = { NN_ACT_RELU, NN_ACT_TANH, NN_ACT_SIGMOID };
  guint n = 400;
  g_autofree float *x = random_inputs (n, sizes[0], 3);
  g_autoptr (NnNormalization) norm = nn_normalization_new_identity (sizes[0]);
  for (guint i = 0; i < sizes[0]; i++)
    {
      norm->shift[i] = 0.5f + 0.01f * i;
      norm->scale[i] = 0.5f + 0.02f * i;
    }
  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    for (int task = 0; task < 2; task++)
      {
        g_autoptr (NnModel) m = random_model (task, sizes, 3, acts[a], 10 + a);
        m->norm = nn_normalization_new_identity (sizes[0]);
        memcpy (m->norm->shift, norm->shift, sizeof (float) * sizes[0]);
        memcpy (m->norm->scale, norm->scale, sizeof (float) * sizes[0]);
        g_autoptr (NnQuantModel) q = nn_quant_model_new (m, NULL);
        gsize count = (gsize) n * sizes[3];
        g_autofree float *f = g_new (float, count);
        g_autofree float *i8 = g_new (float, count);
        nn_model_predict (m, x, n, f);
        nn_quant_model_predict (q, x, n, i8);
        double err = max_abs_diff (f, i8, count);
        if (task == NN_TASK_REGRESSION)
          {
            double spread = 0;
            for (gsize i = 0; i < count; i++)
              spread = MAX (spread, fabs (f[i]));
            err /= spread;
          }
        ck_assert_msg (err < 0.03, "%s task %d: error %g", nn_activation_name (acts[a]),
                       task, err);
      }
}
END_TEST

/* Gaussian blobs in 24 dimensions, 5 classes, some overlap. */
static NnDataset *
make_blobs (guint n, guint64 seed)
{
  enum { F = 24, C = 5 };
  NnDataset *ds = g_new0 (NnDataset, 1);
  ds->n_rows = n;
  ds->n_features = F;
  ds->features = g_new (float, (gsize) n * F);
  ds->labels = g_new (guint32, n);
  ds->has_labels = TRUE;
  ds->task = NN_TASK_CLASSIFICATION;
  ds->n_classes = C;
  NnRng r;
  nn_rng_seed (&r, seed);
  float means[C][F];
  for (guint c = 0; c < C; c++)
    for (guint j = 0; j < F; j++)
      means[c][j] = (float) (nn_rng_normal (&r) * 0.6 + 3.0);
  for (guint i = 0; i < n; i++)
    {
      guint c = i % C;
      ds->labels[i] = c;
      for (guint j = 0; j < F; j++)
        ds->features[i * F + j] = means[c][j] + (float) nn_rng_normal (&r);
    }
  return ds;
}

START_TEST (test_trained_argmax)
{
  g_autoptr (NnDataset) ds = make_blobs (3000, 4);
  g_autofree guint32 *train = NULL, *val = NULL;
  guint nt, nv;
  nn_dataset_split (ds, 0.3, 2, &train, &nt, &val, &nv);
  static const guint hidden[] = { 64, 32 };
  g_autoptr (NnModel) m = nn_model_new (NN_TASK_CLASSIFICATION, 24, hidden, 2, 5,
                                        NN_ACT_RELU, 6);
  g_autoptr (NnNormalization) norm = nn_normalization_from_rows (ds, train, nt);
  nn_model_set_schema (m, ds, norm);
  NnTrainConfig c;
  nn_train_config_init (&c);
  c.epochs = 15;
  c.batch_size = 32;
  c.threads = 2;
  c.seed = 6;
  g_autoptr (NnTrainer) t = nn_trainer_new (m, &c);
  g_autoptr (GError) error = NULL;
  ck_assert_msg (nn_trainer_fit (t, ds, train, nt, NULL, 0, NULL, NULL, &error), "%s",
                 error ? error->message : "");

  g_autoptr (NnQuantModel) q = nn_quant_model_new (m, &error);
  ck_assert (q != NULL);
  g_autofree float *x = g_new (float, (gsize) nv * 24);
  nn_dataset_gather (ds, val, nv, NULL, x);
  g_autofree float *f = g_new (float, (gsize) nv * 5);
  g_autofree float *i8 = g_new (float, (gsize) nv * 5);
  nn_model_predict (m, x, nv, f);
  nn_quant_model_predict (q, x, nv, i8);
  guint agree = 0, ok_f = 0, ok_q = 0;
  for (guint i = 0; i < nv; i++)
    {
      guint af = nn_argmax (f + i * 5, 5), aq = nn_argmax (i8 + i * 5, 5);
      agree += af == aq;
      ok_f += af == ds->labels[val[i]];
      ok_q += aq == ds->labels[val[i]];
    }
  ck_assert_msg (ok_f >= 0.8 * nv, "fp32 accuracy %u/%u: the model did not learn", ok_f, nv);
  ck_assert_msg (agree >= 0.99 * nv, "argmax agreement %u/%u", agree, nv);
  ck_assert_msg (abs ((int) ok_q - (int) ok_f) <= (int) (0.01 * nv), "accuracy %u vs %u",
                 ok_q, ok_f);
  ck_assert_msg (max_abs_diff (f, i8, (gsize) nv * 5) < 0.05, "probabilities differ by %g",
                 max_abs_diff (f, i8, (gsize) nv * 5));
}
END_TEST

START_TEST (test_edge_rows)
{
  static const guint sizes[] = { 8, 16, 3 };
  g_autoptr (NnModel) m = random_model (NN_TASK_CLASSIFICATION, sizes, 2, NN_ACT_RELU, 2);
  g_autoptr (NnQuantModel) q = nn_quant_model_new (m, NULL);
  ck_assert_uint_eq (nn_quant_model_n_inputs (q), 8);
  ck_assert_uint_eq (nn_quant_model_n_outputs (q), 3);

  /* n = 0 writes nothing (and reads nothing). */
  float out[3 * 4] = { 42.f, 42.f, 42.f };
  nn_quant_model_predict (q, NULL, 0, out);
  ck_assert (out[0] == 42.f && out[1] == 42.f && out[2] == 42.f);

  /* Constant rows (one value; zeros only) and n = 1: close to fp32,
   * probabilities summing to 1. */
  float rows[4][8];
  for (guint i = 0; i < 8; i++)
    {
      rows[0][i] = 3.25f;
      rows[1][i] = 0.f;
      rows[2][i] = -7.f;
      rows[3][i] = i == 5 ? 1.f : 0.f;
    }
  float f[4 * 3];
  nn_model_predict (m, &rows[0][0], 4, f);
  for (guint r = 0; r < 4; r++)
    {
      float one[3];
      nn_quant_model_predict (q, rows[r], 1, one);
      ck_assert_msg (max_abs_diff (one, f + r * 3, 3) < 0.02, "row %u", r);
      ck_assert_float_eq_tol (one[0] + one[1] + one[2], 1.0f, 1e-5f);
    }

  /* A NaN or an infinity makes that row NaN, not its neighbours. */
  rows[1][3] = NAN;
  rows[2][0] = INFINITY;
  for (NnQuantKernel k = NN_QUANT_KERNEL_PORTABLE; k < NN_QUANT_KERNEL_COUNT; k++)
    {
      if (!nn_quant_force_kernel (k))
        continue;
      nn_quant_model_predict (q, &rows[0][0], 4, out);
      for (guint j = 0; j < 3; j++)
        {
          ck_assert (isfinite (out[j]) && isfinite (out[9 + j]));
          ck_assert (isnan (out[3 + j]) && isnan (out[6 + j]));
        }
    }
  nn_quant_force_kernel (NN_QUANT_KERNEL_AUTO);
}
END_TEST

START_TEST (test_refused_models)
{
  guint sizes[2] = { NN_QUANT_MAX_INPUTS + 1, 1 };
  g_autoptr (NnModel) big = nn_model_new_sized (NN_TASK_REGRESSION, sizes, 1, NN_ACT_RELU);
  g_autoptr (GError) error = NULL;
  ck_assert (nn_quant_model_new (big, &error) == NULL);
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_INVALID));
  g_clear_error (&error);

  sizes[0] = NN_QUANT_MAX_INPUTS;   /* the largest accepted */
  g_autoptr (NnModel) edge = nn_model_new_sized (NN_TASK_REGRESSION, sizes, 1, NN_ACT_RELU);
  float *w = nn_model_weights (edge, 0);
  g_autofree float *x = g_new (float, sizes[0]);
  for (guint i = 0; i < sizes[0]; i++)
    {
      w[i] = -1.f;     /* the most negative accumulator possible */
      x[i] = 1.f;
    }
  g_autoptr (NnQuantModel) q = nn_quant_model_new (edge, &error);
  ck_assert (q != NULL);
  g_autofree float *out = check_identical (edge, x, 1, "largest k");
  ck_assert_float_eq_tol (out[0], -(float) sizes[0], 1e-6f * sizes[0]);

  static const guint small[] = { 4, 2 };
  g_autoptr (NnModel) bad = random_model (NN_TASK_REGRESSION, small, 1, NN_ACT_RELU, 1);
  nn_model_weights (bad, 0)[5] = NAN;
  ck_assert (nn_quant_model_new (bad, &error) == NULL);
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_INVALID));
}
END_TEST

START_TEST (test_kernel_api)
{
  ck_assert (nn_quant_kernel_available (NN_QUANT_KERNEL_AUTO));
  ck_assert (nn_quant_kernel_available (NN_QUANT_KERNEL_PORTABLE));
  ck_assert (!nn_quant_kernel_available (NN_QUANT_KERNEL_COUNT));
  ck_assert (!nn_quant_force_kernel (NN_QUANT_KERNEL_COUNT));
  ck_assert (!nn_quant_force_kernel ((NnQuantKernel) -1));
  ck_assert_str_eq (nn_quant_kernel_name (NN_QUANT_KERNEL_PORTABLE), "portable");
  ck_assert_str_eq (nn_quant_kernel_name (NN_QUANT_KERNEL_VNNI512), "vnni512");
  ck_assert_str_eq (nn_quant_kernel_name (NN_QUANT_KERNEL_COUNT), "unknown");
  ck_assert (nn_quant_force_kernel (NN_QUANT_KERNEL_PORTABLE));
  ck_assert_int_eq (nn_quant_active_kernel (), NN_QUANT_KERNEL_PORTABLE);
  ck_assert (nn_quant_force_kernel (NN_QUANT_KERNEL_AUTO));
  ck_assert_int_eq (nn_quant_active_kernel (),
                    have_vnni () ? NN_QUANT_KERNEL_VNNI512 : NN_QUANT_KERNEL_PORTABLE);
  ck_assert (nn_quant_force_kernel (NN_QUANT_KERNEL_VNNI512) == have_vnni ());
  nn_quant_force_kernel (NN_QUANT_KERNEL_AUTO);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("quant");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  if (!have_vnni ())
    fprintf (stderr, "# no AVX-512 VNNI on this CPU: the portable kernel only\n");
  tcase_add_test (tc, test_kernels_identical);
  tcase_add_test (tc, test_kernels_identical_deep);
  tcase_add_test (tc, test_exact_integers);
  tcase_add_test (tc, test_batch_equals_rows);
  tcase_add_test (tc, test_close_to_fp32);
  tcase_add_test (tc, test_trained_argmax);
  tcase_add_test (tc, test_edge_rows);
  tcase_add_test (tc, test_refused_models);
  tcase_add_test (tc, test_kernel_api);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
