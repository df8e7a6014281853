/* test-train.c — the thread-pool trainer: learning (iris-like 3-class data,
 * a noisy nonlinear regression, uint8 images), bit-identical determinism
 * for a seed (whatever the thread count), distributed-round batches, cancellation and
 * bad input. Data is generated here from seeded PRNGs. */
#include <check.h>
#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "nn-layers.h"
#include "nn-train.h"

static NnDataset *
make_iris_like (guint per_class, guint64 seed)
{
  static const float means[3][4] = {
    { 5.0f, 3.4f, 1.5f, 0.2f }, { 5.9f, 2.8f, 4.3f, 1.3f }, { 6.6f, 3.0f, 5.6f, 2.0f } };
  static const float sds[4] = { 0.5f, 0.4f, 0.45f, 0.22f };
  NnDataset *ds = g_new0 (NnDataset, 1);
  ds->n_rows = 3 * per_class;
  ds->n_features = 4;
  ds->features = g_new (float, ds->n_rows * 4);
  ds->labels = g_new (guint32, ds->n_rows);
  ds->has_labels = TRUE;
  ds->task = NN_TASK_CLASSIFICATION;
  ds->n_classes = 3;
  const char *names[] = { "sl", "sw", "pl", "pw", NULL };
  const char *classes[] = { "a", "b", "c", NULL };
  ds->feature_names = g_strdupv ((char **) names);
  ds->class_names = g_strdupv ((char **) classes);
  ds->label_name = g_strdup ("species");
  NnRng r;
  nn_rng_seed (&r, seed);
  for (guint i = 0; i < ds->n_rows; i++)
    {
      guint c = i % 3;
      ds->labels[i] = c;
      for (guint j = 0; j < 4; j++)
        ds->features[i * 4 + j] = means[c][j] + sds[j] * (float) nn_rng_normal (&r);
    }
  return ds;
}

/* y = sin(2·x0) + 0.5·x1² − x2 + noise, x ∈ U(−2, 2)³ */
static NnDataset *
make_regression (guint n, guint64 seed)
{
  NnDataset *ds = g_new0 (NnDataset, 1);
  ds->n_rows = n;
  ds->n_features = 3;
  ds->features = g_new (float, n * 3);
  ds->targets = g_new (float, n);
  ds->has_labels = TRUE;
  ds->task = NN_TASK_REGRESSION;
  ds->label_name = g_strdup ("y");
  NnRng r;
  nn_rng_seed (&r, seed);
  for (guint i = 0; i < n; i++)
    {
      float *x = ds->features + i * 3;
      for (guint j = 0; j < 3; j++)
        x[j] = (float) (nn_rng_uniform (&r) * 4 - 2);
      ds->targets[i] = sinf (2 * x[0]) + 0.5f * x[1] * x[1] - x[2]
                       + 0.1f * (float) nn_rng_normal (&r);
    }
  return ds;
}

typedef struct {
  guint calls;
  NnEpochReport last;
  guint stop_at;
} Progress;

static gboolean
on_epoch (const NnEpochReport *report, gpointer data)
{
  Progress *p = data;
  p->calls++;
  p->last = *report;
  ck_assert_uint_eq (report->epoch, p->calls);
  ck_assert (isfinite (report->train_loss));
  ck_assert (report->samples_per_s > 0 && report->elapsed_s >= 0);
  return p->stop_at == 0 || report->epoch < p->stop_at;
}

static NnModel *
train_model (NnDataset *ds, NnTask task, const guint *hidden, guint n_hidden,
             NnActivation act, NnTrainConfig *config, Progress *progress,
             guint32 *train, guint n_train, guint32 *val, guint n_val)
{
  guint outs = task == NN_TASK_CLASSIFICATION ? ds->n_classes : 1;
  NnModel *m = nn_model_new (task, ds->n_features, hidden, n_hidden, outs, act,
                             config->seed);
  g_autoptr (NnNormalization) norm = nn_normalization_from_rows (ds, train, n_train);
  nn_model_set_schema (m, ds, norm);
  g_autoptr (NnTrainer) t = nn_trainer_new (m, config);
  g_autoptr (GError) error = NULL;
  gboolean ok = nn_trainer_fit (t, ds, train, n_train, val, n_val, on_epoch,
                                progress, &error);
  ck_assert_msg (ok, "%s", error ? error->message : "");
  return m;
}

static double
accuracy (const NnModel *m, const NnDataset *ds, const guint32 *rows, guint n)
{
  guint ok = 0, c = m->sizes[m->n_layers];
  float p[16];
  for (guint i = 0; i < n; i++)
    {
      nn_model_predict (m, ds->features + rows[i] * ds->n_features, 1, p);
      guint best = 0;
      for (guint j = 1; j < c; j++)
        if (p[j] > p[best])
          best = j;
      ok += best == ds->labels[rows[i]];
    }
  return (double) ok / n;
}

START_TEST (test_learns_iris_like)
{
  g_autoptr (NnDataset) ds = make_iris_like (100, 1);
  g_autofree guint32 *train = NULL, *val = NULL;
  guint nt, nv;
  nn_dataset_split (ds, 0.3, 3, &train, &nt, &val, &nv);
  for (int opt = 0; opt < 2; opt++)
    {
      NnTrainConfig c;
      nn_train_config_init (&c);
      c.optimizer = opt == 0 ? NN_OPT_ADAM : NN_OPT_SGD;
      c.learning_rate = opt == 0 ? 0.01f : 0.05f;
      c.batch_size = 16;
      c.epochs = 60;
      c.threads = 2;
      c.seed = 11;
      Progress p = { 0 };
      guint hidden[1] = { 16 };
      g_autoptr (NnModel) m = train_model (ds, NN_TASK_CLASSIFICATION, hidden, 1,
                                           NN_ACT_RELU, &c, &p, train, nt, val, nv);
      ck_assert_uint_eq (p.calls, 60);
      double acc = accuracy (m, ds, val, nv);
      ck_assert_msg (acc >= 0.95, "optimizer %d: validation accuracy %.3f", opt, acc);
      ck_assert_msg (fabs (p.last.val_accuracy - acc) < 1e-9,
                     "reported %.4f, measured %.4f", p.last.val_accuracy, acc);
      ck_assert (p.last.val_loss < 0.3);
      ck_assert (isnan (p.last.val_r2));
    }
}
END_TEST

START_TEST (test_learns_regression)
{
  g_autoptr (NnDataset) ds = make_regression (2000, 5);
  g_autofree guint32 *train = NULL, *val = NULL;
  guint nt, nv;
  nn_dataset_split (ds, 0.25, 9, &train, &nt, &val, &nv);
  NnTrainConfig c;
  nn_train_config_init (&c);
  c.learning_rate = 0.005f;
  c.batch_size = 32;
  c.epochs = 60;
  c.threads = 2;
  c.seed = 4;
  Progress p = { 0 };
  guint hidden[2] = { 32, 32 };
  g_autoptr (NnModel) m = train_model (ds, NN_TASK_REGRESSION, hidden, 2,
                                       NN_ACT_TANH, &c, &p, train, nt, val, nv);
  /* R² computed here, independently of the trainer */
  double mean = 0, sst = 0, sse = 0;
  for (guint i = 0; i < nv; i++)
    mean += ds->targets[val[i]];
  mean /= nv;
  for (guint i = 0; i < nv; i++)
    {
      float pred;
      nn_model_predict (m, ds->features + val[i] * 3, 1, &pred);
      double t = ds->targets[val[i]];
      sse += (pred - t) * (pred - t);
      sst += (t - mean) * (t - mean);
    }
  double r2 = 1 - sse / sst;
  ck_assert_msg (r2 >= 0.9, "R² %.3f", r2);
  ck_assert_msg (fabs (p.last.val_r2 - r2) < 1e-3, "reported R² %.4f vs %.4f",
                 p.last.val_r2, r2);
  ck_assert (isnan (p.last.val_accuracy));
}
END_TEST

/* uint8 "images": class 1 when the left half is brighter than the right. */
START_TEST (test_learns_pixels)
{
  g_autoptr (NnDataset) ds = g_new0 (NnDataset, 1);
  guint n = 600, f = 20;
  ds->n_rows = n;
  ds->n_features = f;
  ds->pixels = g_new (guint8, n * f);
  ds->labels = g_new (guint32, n);
  ds->has_labels = TRUE;
  ds->n_classes = 2;
  NnRng r;
  nn_rng_seed (&r, 77);
  for (guint i = 0; i < n; i++)
    {
      guint c = nn_rng_below (&r, 2);
      ds->labels[i] = c;
      for (guint j = 0; j < f; j++)
        {
          gboolean bright = (j < f / 2) == (c == 1);
          ds->pixels[i * f + j] = (guint8) (bright ? 120 + nn_rng_below (&r, 136)
                                                   : nn_rng_below (&r, 140));
        }
    }
  g_autofree guint32 *train = NULL, *val = NULL;
  guint nt, nv;
  nn_dataset_split (ds, 0.2, 1, &train, &nt, &val, &nv);
  NnTrainConfig c;
  nn_train_config_init (&c);
  c.epochs = 30;
  c.batch_size = 32;
  c.learning_rate = 0.01f;
  c.threads = 3;
  Progress p = { 0 };
  guint hidden[1] = { 8 };
  g_autoptr (NnModel) m = train_model (ds, NN_TASK_CLASSIFICATION, hidden, 1,
                                       NN_ACT_SIGMOID, &c, &p, train, nt, val, nv);
  ck_assert_msg (p.last.val_accuracy >= 0.95, "accuracy %.3f", p.last.val_accuracy);
  ck_assert (m->norm != NULL && fabsf (m->norm->scale[0] - 1.0f / 255) < 1e-9f);
}
END_TEST

/* Train the iris-like model and return its parameters. */
static float *
train_params (guint threads, guint64 seed, NnOptimizerKind opt, NnLrSchedule schedule,
              gsize *n_params)
{
  g_autoptr (NnDataset) ds = make_iris_like (67, 2);   /* 201 rows */
  guint32 *rows = g_new (guint32, ds->n_rows);
  for (guint i = 0; i < ds->n_rows; i++)
    rows[i] = i;
  NnTrainConfig c;
  nn_train_config_init (&c);
  c.optimizer = opt;
  c.batch_size = 20;     /* last batch of 1 row: some threads get none */
  c.epochs = 5;
  c.threads = threads;
  c.seed = seed;
  c.weight_decay = 1e-3f;
  c.lr_schedule = schedule;
  Progress p = { 0 };
  guint hidden[2] = { 33, 17 };
  g_autoptr (NnModel) m = train_model (ds, NN_TASK_CLASSIFICATION, hidden, 2,
                                       NN_ACT_RELU, &c, &p, rows, ds->n_rows, NULL, 0);
  ck_assert (isnan (p.last.val_loss));
  g_free (rows);
  *n_params = m->n_params;
  return g_memdup2 (m->params, sizeof (float) * m->n_params);
}

START_TEST (test_deterministic)
{
  static const guint threads[] = { 1, 2, 3 };
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    for (int opt = 0; opt < 2; opt++)
      {
        gsize na, nb, nc;
        g_autofree float *a = train_params (threads[i], 42, opt, NN_LR_COSINE, &na);
        g_autofree float *b = train_params (threads[i], 42, opt, NN_LR_COSINE, &nb);
        g_autofree float *c = train_params (threads[i], 43, opt, NN_LR_COSINE, &nc);
        ck_assert_uint_eq (na, nb);
        ck_assert_msg (memcmp (a, b, na * sizeof (float)) == 0,
                       "threads %u optimizer %d: runs differ", threads[i], opt);
        ck_assert (memcmp (a, c, na * sizeof (float)) != 0);
      }
}
END_TEST

/* The stages are cut into fixed tasks (blocks of rows, of columns: 33 is
 * two column blocks, one partial), so the thread count does not change the
 * arithmetic at all. */
START_TEST (test_same_for_any_thread_count)
{
  for (int opt = 0; opt < 2; opt++)
    {
      gsize n1, n2, n3;
      g_autofree float *a = train_params (1, 7, opt, NN_LR_COSINE, &n1);
      g_autofree float *b = train_params (2, 7, opt, NN_LR_COSINE, &n2);
      g_autofree float *c = train_params (3, 7, opt, NN_LR_COSINE, &n3);
      ck_assert_uint_eq (n1, n2);
      ck_assert_uint_eq (n1, n3);
      ck_assert_msg (memcmp (a, b, n1 * sizeof (float)) == 0, "optimizer %d: 1 vs 2 threads", opt);
      ck_assert_msg (memcmp (a, c, n1 * sizeof (float)) == 0, "optimizer %d: 1 vs 3 threads", opt);
    }
}
END_TEST

/* Cosine decay starts at the base rate, halves at mid-run, ends at 0 and
 * never rises; constant is constant. */
START_TEST (test_lr_schedule)
{
  ck_assert_float_eq (nn_lr_at (NN_LR_CONSTANT, 0.01f, 0, 100), 0.01f);
  ck_assert_float_eq (nn_lr_at (NN_LR_CONSTANT, 0.01f, 99, 100), 0.01f);
  ck_assert_float_eq (nn_lr_at (NN_LR_COSINE, 0.01f, 0, 100), 0.01f);
  ck_assert_float_eq_tol (nn_lr_at (NN_LR_COSINE, 0.01f, 50, 100), 0.005f, 1e-7f);
  ck_assert_float_eq_tol (nn_lr_at (NN_LR_COSINE, 0.01f, 100, 100), 0.0f, 1e-9f);
  ck_assert_float_eq_tol (nn_lr_at (NN_LR_COSINE, 0.01f, 500, 100), 0.0f, 1e-9f);
  ck_assert_float_eq (nn_lr_at (NN_LR_COSINE, 0.01f, 3, 0), 0.01f);
  float prev = 1.0f;
  for (guint64 s = 0; s <= 1000; s++)
    {
      float lr = nn_lr_at (NN_LR_COSINE, 1.0f, s, 1000);
      ck_assert (lr <= prev && lr >= 0.0f);
      prev = lr;
    }
  /* and the trainer follows it */
  gsize na, nb;
  g_autofree float *a = train_params (1, 42, NN_OPT_ADAM, NN_LR_COSINE, &na);
  g_autofree float *b = train_params (1, 42, NN_OPT_ADAM, NN_LR_CONSTANT, &nb);
  ck_assert_uint_eq (na, nb);
  ck_assert (memcmp (a, b, na * sizeof (float)) != 0);
}
END_TEST

START_TEST (test_run_batches)
{
  g_autoptr (NnDataset) ds = make_iris_like (50, 8);
  guint32 rows[150];
  for (guint i = 0; i < 150; i++)
    rows[i] = 149 - i;
  guint hidden[1] = { 10 };
  g_autoptr (NnModel) m = nn_model_new (NN_TASK_CLASSIFICATION, 4, hidden, 1, 3,
                                        NN_ACT_TANH, 1);
  m->norm = nn_normalization_from_rows (ds, rows, 150);
  NnTrainConfig c;
  nn_train_config_init (&c);
  c.batch_size = 64;
  c.threads = 2;
  c.learning_rate = 0.01f;
  g_autoptr (NnTrainer) t = nn_trainer_new (m, &c);
  ck_assert_uint_eq (nn_trainer_threads (t), 2);
  double before = nn_trainer_evaluate_loss (t, ds, rows, 150);
  g_autofree float *p0 = g_memdup2 (m->params, 4 * m->n_params);
  double loss = nn_trainer_run_batches (t, ds, rows, 150, 50);  /* wraps around */
  ck_assert (isfinite (loss) && loss > 0);
  ck_assert (memcmp (p0, m->params, 4 * m->n_params) != 0);
  double after = nn_trainer_evaluate_loss (t, ds, rows, 150);
  ck_assert_msg (after < 0.5 * before, "loss %.3f → %.3f", before, after);
  /* bad input gives NAN, not a crash */
  guint32 bad = 150;
  ck_assert (isnan (nn_trainer_run_batches (t, ds, &bad, 1, 1)));
  ck_assert (isnan (nn_trainer_run_batches (t, ds, rows, 0, 1)));
}
END_TEST

START_TEST (test_cancel_and_bad_input)
{
  g_autoptr (NnDataset) ds = make_iris_like (20, 3);
  guint32 rows[60];
  for (guint i = 0; i < 60; i++)
    rows[i] = i;
  guint hidden[1] = { 4 };
  g_autoptr (NnModel) m = nn_model_new (NN_TASK_CLASSIFICATION, 4, hidden, 1, 3,
                                        NN_ACT_RELU, 1);
  NnTrainConfig c;
  nn_train_config_init (&c);
  c.epochs = 10;
  c.threads = 2;
  g_autoptr (NnTrainer) t = nn_trainer_new (m, &c);
  Progress p = { 0 };
  p.stop_at = 2;
  g_autoptr (GError) error = NULL;
  ck_assert (!nn_trainer_fit (t, ds, rows, 60, rows, 10, on_epoch, &p, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  ck_assert_uint_eq (p.calls, 2);
  g_clear_error (&error);

  ck_assert (!nn_trainer_fit (t, ds, rows, 0, NULL, 0, NULL, NULL, &error));
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_INVALID));
  g_clear_error (&error);

  guint32 bad_rows[2] = { 0, 60 };
  ck_assert (!nn_trainer_fit (t, ds, bad_rows, 2, NULL, 0, NULL, NULL, &error));
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_INVALID));
  g_clear_error (&error);

  ds->labels[5] = 3;   /* the model has 3 classes */
  ck_assert (!nn_trainer_fit (t, ds, rows, 60, NULL, 0, NULL, NULL, &error));
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_MISMATCH));
  ck_assert (strstr (error->message, "Row 6") != NULL);
  g_clear_error (&error);
  ds->labels[5] = 2;

  ds->n_features = 3;
  ck_assert (!nn_trainer_fit (t, ds, rows, 60, NULL, 0, NULL, NULL, &error));
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_MISMATCH));
  ds->n_features = 4;
  g_clear_error (&error);

  /* a regression dataset on a classification model */
  g_autoptr (NnDataset) reg = make_regression (10, 1);
  g_autoptr (NnModel) rm = nn_model_new (NN_TASK_REGRESSION, 3, NULL, 0, 2,
                                         NN_ACT_RELU, 1);
  g_autoptr (NnTrainer) rt = nn_trainer_new (rm, &c);
  ck_assert (!nn_trainer_fit (rt, reg, rows, 10, NULL, 0, NULL, NULL, &error));
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_MISMATCH));
}
END_TEST

/* A learning rate far too large makes the weights overflow: fit() stops
 * with an error at that epoch instead of returning a model of NaNs (whose
 * loss looked finite: a NaN probability counts as the smallest one). */
START_TEST (test_divergence_is_an_error)
{
  g_autoptr (NnDataset) ds = make_regression (200, 2);
  for (guint i = 0; i < ds->n_rows; i++)
    ds->targets[i] *= 1e6f;
  guint32 rows[200];
  for (guint i = 0; i < 200; i++)
    rows[i] = i;
  guint hidden[1] = { 16 };
  g_autoptr (NnModel) m = nn_model_new (NN_TASK_REGRESSION, 3, hidden, 1, 1, NN_ACT_RELU, 1);
  NnTrainConfig c;
  nn_train_config_init (&c);
  c.optimizer = NN_OPT_SGD;
  c.learning_rate = 10.0f;
  c.lr_schedule = NN_LR_CONSTANT;
  c.epochs = 20;
  c.threads = 2;
  g_autoptr (NnTrainer) t = nn_trainer_new (m, &c);
  g_autoptr (GError) error = NULL;
  ck_assert (!nn_trainer_fit (t, ds, rows, 200, NULL, 0, NULL, NULL, &error));
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_INVALID));
  ck_assert_msg (strstr (error->message, "diverged") != NULL, "%s", error->message);
}
END_TEST

static Suite *
train_suite (void)
{
  Suite *s = suite_create ("train");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_learns_iris_like);
  tcase_add_test (tc, test_learns_regression);
  tcase_add_test (tc, test_learns_pixels);
  tcase_add_test (tc, test_deterministic);
  tcase_add_test (tc, test_same_for_any_thread_count);
  tcase_add_test (tc, test_lr_schedule);
  tcase_add_test (tc, test_run_batches);
  tcase_add_test (tc, test_cancel_and_bad_input);
  tcase_add_test (tc, test_divergence_is_an_error);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (train_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
