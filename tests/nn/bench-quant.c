/* bench-quant.c — int8 against fp32 inference on the Fashion-MNIST MLP
 * (784-256-128-10, ReLU): single-sample latency (median of groups of 100
 * calls), batch-1024 throughput (median of 31 runs, every core) and the
 * throughput of one core, for fp32 and each int8 kernel this CPU has, in
 * one run; then, unless MINKA_BENCH_QUANT_EPOCHS is 0, the test accuracy
 * of a model trained for that many epochs (default 3) in fp32 and int8,
 * their argmax agreement and largest probability difference. An argument
 * keeps only the kernels (fp32, portable, vnni512) whose name contains it.
 * Prints name=value lines.
 *
 * Uses the Fashion-MNIST test images (MINKA_FASHION_DIR, default
 * /usr/share/datasets/fashion-mnist) when installed, else random pixels
 * (and no accuracy). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn-layers.h"
#include "nn-quant.h"
#include "nn-train.h"
#include "nn-metrics.h"

#define BATCH 1024

static const guint hidden[] = { 256, 128 };

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

typedef void (*PredictFn) (gconstpointer model, const float *raw, guint n, float *out);

static void
predict_fp32 (gconstpointer model, const float *raw, guint n, float *out)
{
  nn_model_predict (model, raw, n, out);
}

static void
predict_int8 (gconstpointer model, const float *raw, guint n, float *out)
{
  nn_quant_model_predict (model, raw, n, out);
}

/* Median µs per single-sample call over groups of 100 calls. */
static double
bench_single (PredictFn fn, gconstpointer model, const float *raw, guint n_in)
{
  enum { GROUPS = 301, PER_GROUP = 100 };
  double lat[GROUPS];
  float out[16];
  for (guint i = 0; i < 500; i++)
    fn (model, raw + (gsize) (i % BATCH) * n_in, 1, out);
  for (guint g = 0; g < GROUPS; g++)
    {
      gint64 t0 = g_get_monotonic_time ();
      for (guint i = 0; i < PER_GROUP; i++)
        fn (model, raw + (gsize) ((g * PER_GROUP + i) % BATCH) * n_in, 1, out);
      lat[g] = (double) (g_get_monotonic_time () - t0) / PER_GROUP;
    }
  qsort (lat, GROUPS, sizeof (double), compare_double);
  return lat[GROUPS / 2];
}

/* Median samples/s of a batch of 1024 over 31 runs. */
static double
bench_batch (PredictFn fn, gconstpointer model, const float *raw, float *out)
{
  enum { RUNS = 31 };
  double sps[RUNS];
  for (guint i = 0; i < 3; i++)
    fn (model, raw, BATCH, out);
  for (guint r = 0; r < RUNS; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      fn (model, raw, BATCH, out);
      sps[r] = BATCH / ((g_get_monotonic_time () - t0 + 1) / 1e6);
    }
  qsort (sps, RUNS, sizeof (double), compare_double);
  return sps[RUNS / 2];
}

/* Median samples/s of one core: 8 calls of 127 rows (below the size
 * from which predictions use every core), over 31 runs. */
static double
bench_one_core (PredictFn fn, gconstpointer model, const float *raw, float *out)
{
  enum { RUNS = 31, ROWS = 127, CALLS = 8 };
  double sps[RUNS];
  fn (model, raw, ROWS, out);
  for (guint r = 0; r < RUNS; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      for (guint c = 0; c < CALLS; c++)
        fn (model, raw + (gsize) c * ROWS * 784, ROWS, out);
      sps[r] = ROWS * CALLS / ((g_get_monotonic_time () - t0 + 1) / 1e6);
    }
  qsort (sps, RUNS, sizeof (double), compare_double);
  return sps[RUNS / 2];
}

static NnModel *
model_new (const NnDataset *ds)
{
  NnModel *model = nn_model_new (NN_TASK_CLASSIFICATION, 784, hidden,
                                 G_N_ELEMENTS (hidden), 10, NN_ACT_RELU, 1);
  if (ds != NULL)
    {
      g_autofree guint32 *rows = g_new (guint32, ds->n_rows);
      for (guint i = 0; i < ds->n_rows; i++)
        rows[i] = i;
      g_autoptr (NnNormalization) norm = nn_normalization_from_rows (ds, rows, ds->n_rows);
      nn_model_set_schema (model, ds, norm);
    }
  return model;
}

static void
bench_speed (const NnDataset *test, const char *filter)
{
  g_autoptr (NnModel) model = model_new (test);
  g_autoptr (NnQuantModel) qmodel = nn_quant_model_new (model, NULL);
  g_autofree float *raw = g_new (float, (gsize) BATCH * 784);
  g_autofree float *out = g_new (float, (gsize) BATCH * 10);
  if (test != NULL)
    {
      guint32 rows[BATCH];
      for (guint i = 0; i < BATCH; i++)
        rows[i] = i;
      nn_dataset_gather (test, rows, BATCH, NULL, raw);
    }
  else
    {
      NnRng rng;
      nn_rng_seed (&rng, 7);
      for (gsize i = 0; i < (gsize) BATCH * 784; i++)
        raw[i] = (float) nn_rng_below (&rng, 256);
    }

  double f_single = 0, f_batch = 0;
  if (filter == NULL || strstr ("fp32", filter))
    {
      f_single = bench_single (predict_fp32, model, raw, 784);
      f_batch = bench_batch (predict_fp32, model, raw, out);
      printf ("fp32_single_latency_us=%.2f\nfp32_batch1024_samples_per_s=%.0f\n",
              f_single, f_batch);
      printf ("fp32_one_core_samples_per_s=%.0f\n",
              bench_one_core (predict_fp32, model, raw, out));
      fflush (stdout);
    }
  for (NnQuantKernel k = NN_QUANT_KERNEL_PORTABLE; k < NN_QUANT_KERNEL_COUNT; k++)
    {
      const char *name = nn_quant_kernel_name (k);
      if (!nn_quant_force_kernel (k) || (filter && !strstr (name, filter)))
        continue;
      double single = bench_single (predict_int8, qmodel, raw, 784);
      double batch = bench_batch (predict_int8, qmodel, raw, out);
      printf ("int8_%s_single_latency_us=%.2f\nint8_%s_batch1024_samples_per_s=%.0f\n",
              name, single, name, batch);
      printf ("int8_%s_one_core_samples_per_s=%.0f\n", name,
              bench_one_core (predict_int8, qmodel, raw, out));
      if (f_single > 0)
        printf ("int8_%s_single_speedup=%.2f\nint8_%s_batch_speedup=%.2f\n",
                name, f_single / single, name, batch / f_batch);
      fflush (stdout);
    }
  nn_quant_force_kernel (NN_QUANT_KERNEL_AUTO);
}

static void
bench_accuracy (const NnDataset *train, const NnDataset *test, guint epochs)
{
  g_autoptr (NnModel) model = model_new (train);
  NnTrainConfig config;
  nn_train_config_init (&config);
  config.epochs = epochs;
  g_autofree guint32 *rows = g_new (guint32, train->n_rows);
  for (guint i = 0; i < train->n_rows; i++)
    rows[i] = i;
  g_autoptr (NnTrainer) trainer = nn_trainer_new (model, &config);
  g_autoptr (GError) error = NULL;
  if (!nn_trainer_fit (trainer, train, rows, train->n_rows, NULL, 0, NULL, NULL, &error))
    {
      printf ("# training failed: %s\n", error->message);
      return;
    }
  g_autoptr (NnQuantModel) qmodel = nn_quant_model_new (model, NULL);
  guint n = test->n_rows;
  g_autofree guint32 *trows = g_new (guint32, n);
  for (guint i = 0; i < n; i++)
    trows[i] = i;
  g_autofree float *raw = g_new (float, (gsize) n * 784);
  g_autofree float *pf = g_new (float, (gsize) n * 10);
  g_autofree float *pq = g_new (float, (gsize) n * 10);
  nn_dataset_gather (test, trows, n, NULL, raw);
  nn_model_predict (model, raw, n, pf);
  nn_quant_model_predict (qmodel, raw, n, pq);
  guint ok_f = 0, ok_q = 0, agree = 0;
  double max_diff = 0;
  for (guint i = 0; i < n; i++)
    {
      guint af = nn_argmax (pf + i * 10, 10), aq = nn_argmax (pq + i * 10, 10);
      ok_f += af == test->labels[i];
      ok_q += aq == test->labels[i];
      agree += af == aq;
      for (guint j = 0; j < 10; j++)
        max_diff = MAX (max_diff, fabs ((double) pf[i * 10 + j] - pq[i * 10 + j]));
    }
  printf ("epochs=%u\nfp32_test_accuracy=%.4f\nint8_test_accuracy=%.4f\n", epochs,
          (double) ok_f / n, (double) ok_q / n);
  printf ("int8_minus_fp32_accuracy=%.4f\nint8_fp32_argmax_agreement=%.4f\n",
          ((double) ok_q - ok_f) / n, (double) agree / n);
  printf ("int8_fp32_max_abs_probability_diff=%.4f\n", max_diff);
}

int
main (int argc, char **argv)
{
  const char *env = g_getenv ("MINKA_FASHION_DIR");
  g_autofree char *dir = g_strdup (env ? env : "/usr/share/datasets/fashion-mnist");
  g_autofree char *ti = g_build_filename (dir, "t10k-images-idx3-ubyte.gz", NULL);
  g_autofree char *tl = g_build_filename (dir, "t10k-labels-idx1-ubyte.gz", NULL);
  g_autoptr (NnDataset) test = nn_dataset_load_idx (ti, tl, NULL);
  if (test == NULL)
    printf ("# Fashion-MNIST not found in %s: random pixels, no accuracy\n", dir);
  printf ("int8_kernel=%s\n", nn_quant_kernel_name (nn_quant_active_kernel ()));
  bench_speed (test, argc > 1 ? argv[1] : NULL);

  const char *ep = g_getenv ("MINKA_BENCH_QUANT_EPOCHS");
  guint epochs = ep ? (guint) g_ascii_strtoull (ep, NULL, 10) : 3;
  if (test == NULL || epochs == 0)
    return 0;
  g_autofree char *ri = g_build_filename (dir, "train-images-idx3-ubyte.gz", NULL);
  g_autofree char *rl = g_build_filename (dir, "train-labels-idx1-ubyte.gz", NULL);
  g_autoptr (NnDataset) train = nn_dataset_load_idx (ri, rl, NULL);
  if (train != NULL)
    bench_accuracy (train, test, epochs);
  return 0;
}
