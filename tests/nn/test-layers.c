/* test-layers.c — layers, activations, losses, optimizers, PRNG and thread
 * pool: finite-difference gradient checks against a double-precision
 * reference, hand-computed optimizer steps, GEMV vs GEMM paths. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "nn-gemm.h"
#include "nn-layers.h"
#include "nn-optim.h"
#include "nn-threadpool.h"

/* ---- PRNG ---------------------------------------------------------------- */

START_TEST (test_rng_deterministic)
{
  NnRng a, b, c;
  nn_rng_seed (&a, 7);
  nn_rng_seed (&b, 7);
  nn_rng_seed (&c, 8);
  gboolean differs = FALSE;
  for (int i = 0; i < 1000; i++)
    {
      guint64 x = nn_rng_next (&a);
      ck_assert_uint_eq (x, nn_rng_next (&b));
      if (x != nn_rng_next (&c))
        differs = TRUE;
    }
  ck_assert (differs);
  double sum = 0;
  guint counts[5] = { 0 };
  for (int i = 0; i < 100000; i++)
    {
      double u = nn_rng_uniform (&a);
      ck_assert (u >= 0.0 && u < 1.0);
      sum += u;
      guint k = nn_rng_below (&a, 5);
      ck_assert_uint_lt (k, 5);
      counts[k]++;
    }
  ck_assert (fabs (sum / 100000 - 0.5) < 0.01);
  for (int k = 0; k < 5; k++)
    ck_assert (counts[k] > 19000 && counts[k] < 21000);
  double m = 0, v = 0;
  for (int i = 0; i < 100000; i++)
    {
      double z = nn_rng_normal (&a);
      m += z;
      v += z * z;
    }
  ck_assert (fabs (m / 100000) < 0.02);
  ck_assert (fabs (v / 100000 - 1.0) < 0.03);
}
END_TEST

START_TEST (test_rng_shuffle_permutation)
{
  NnRng r;
  nn_rng_seed (&r, 3);
  guint32 v[100];
  for (guint i = 0; i < 100; i++)
    v[i] = i;
  nn_rng_shuffle (&r, v, 100);
  gboolean seen[100] = { FALSE };
  guint fixed = 0;
  for (guint i = 0; i < 100; i++)
    {
      ck_assert_uint_lt (v[i], 100);
      ck_assert (!seen[v[i]]);
      seen[v[i]] = TRUE;
      fixed += v[i] == i;
    }
  ck_assert_uint_lt (fixed, 10);
}
END_TEST

/* ---- gradient checks ----------------------------------------------------- */

/* A 2-layer net in[N×I] → H (act) → O (softmax+xent or linear+MSE). */
#define N 4
#define I 5
#define H 7
#define O 3

typedef struct {
  float x[N * I];
  guint32 labels[N];
  float targets[N * O];
  float p[I * H + H + H * O + O];   /* w1 b1 w2 b2 */
} Net;

static double
act_d (int act, double v)
{
  switch (act)
    {
    case NN_ACT_RELU:
      return v > 0 ? v : 0;
    case NN_ACT_TANH:
      return tanh (v);
    default:
      return 1.0 / (1.0 + exp (-v));
    }
}

/* Reference loss in double: mean xent, or mean over N·O of squared error. */
static double
ref_loss (const Net *net, const double *p, int act, gboolean classify)
{
  const double *w1 = p, *b1 = p + I * H, *w2 = b1 + H, *b2 = w2 + H * O;
  double loss = 0;
  for (int r = 0; r < N; r++)
    {
      double h[H], z[O];
      for (int j = 0; j < H; j++)
        {
          double s = b1[j];
          for (int i = 0; i < I; i++)
            s += net->x[r * I + i] * w1[i * H + j];
          h[j] = act_d (act, s);
        }
      for (int k = 0; k < O; k++)
        {
          double s = b2[k];
          for (int j = 0; j < H; j++)
            s += h[j] * w2[j * O + k];
          z[k] = s;
        }
      if (classify)
        {
          double mx = z[0], sum = 0;
          for (int k = 1; k < O; k++)
            mx = fmax (mx, z[k]);
          for (int k = 0; k < O; k++)
            sum += exp (z[k] - mx);
          loss += -(z[net->labels[r]] - mx - log (sum));
        }
      else
        for (int k = 0; k < O; k++)
          {
            double e = z[k] - net->targets[r * O + k];
            loss += e * e;
          }
    }
  return classify ? loss / N : loss / (N * O);
}

/* Float forward + backward with the library; returns the loss. */
static double
lib_grad (const Net *net, int act, gboolean classify, float *grad)
{
  const float *w1 = net->p, *b1 = w1 + I * H, *w2 = b1 + H, *b2 = w2 + H * O;
  float h[N * H], z[N * O], dh[N * H];
  float *gw1 = grad, *gb1 = gw1 + I * H, *gw2 = gb1 + H, *gb2 = gw2 + H * O;
  nn_dense_forward (net->x, N, I, H, w1, b1, act, h);
  nn_dense_forward (h, N, H, O, w2, b2, -1, z);
  double loss;
  if (classify)
    {
      nn_softmax_rows (z, N, O);
      loss = nn_softmax_xent_backward (z, net->labels, N, O, 1.0f / N, z) / N;
    }
  else
    loss = nn_mse_backward (z, net->targets, N, O, 2.0f / (N * O), z) / (N * O);
  nn_dense_backward (h, N, H, O, w2, z, gw2, gb2, dh);
  nn_activation_backward ((NnActivation) act, h, dh, N * H);
  nn_dense_backward (net->x, N, I, H, w1, dh, gw1, gb1, NULL);
  return loss;
}

static void
net_init (Net *net, guint64 seed)
{
  NnRng r;
  nn_rng_seed (&r, seed);
  for (int i = 0; i < N * I; i++)
    net->x[i] = (float) nn_rng_normal (&r);
  for (int i = 0; i < N; i++)
    net->labels[i] = nn_rng_below (&r, O);
  for (int i = 0; i < N * O; i++)
    net->targets[i] = (float) nn_rng_normal (&r);
  for (guint i = 0; i < G_N_ELEMENTS (net->p); i++)
    net->p[i] = (float) (nn_rng_normal (&r) * 0.7);
}

static void
check_gradients (int act, gboolean classify)
{
  for (guint64 seed = 1; seed <= 5; seed++)
    {
      Net net;
      net_init (&net, seed + 100 * act + (classify ? 1000 : 0));
      guint np = G_N_ELEMENTS (net.p);
      float grad[G_N_ELEMENTS (net.p)];
      double p[G_N_ELEMENTS (net.p)];
      for (guint i = 0; i < np; i++)
        p[i] = net.p[i];
      double loss = lib_grad (&net, act, classify, grad);
      double ref = ref_loss (&net, p, act, classify);
      ck_assert_msg (fabs (loss - ref) < 1e-4 * (1 + fabs (ref)),
                     "loss %g vs reference %g", loss, ref);
      for (guint i = 0; i < np; i++)
        {
          const double eps = 1e-6;
          double save = p[i];
          p[i] = save + eps;
          double up = ref_loss (&net, p, act, classify);
          p[i] = save - eps;
          double down = ref_loss (&net, p, act, classify);
          p[i] = save;
          double num = (up - down) / (2 * eps);
          ck_assert_msg (fabs (num - grad[i]) < 2e-4 + 1e-3 * fabs (num),
                         "act %d classify %d seed %" G_GUINT64_FORMAT
                         " param %u: analytic %g numeric %g",
                         act, classify, seed, i, grad[i], num);
        }
    }
}

START_TEST (test_grad_relu_softmax) { check_gradients (NN_ACT_RELU, TRUE); }
END_TEST
START_TEST (test_grad_tanh_softmax) { check_gradients (NN_ACT_TANH, TRUE); }
END_TEST
START_TEST (test_grad_sigmoid_softmax) { check_gradients (NN_ACT_SIGMOID, TRUE); }
END_TEST
START_TEST (test_grad_relu_mse) { check_gradients (NN_ACT_RELU, FALSE); }
END_TEST
START_TEST (test_grad_tanh_mse) { check_gradients (NN_ACT_TANH, FALSE); }
END_TEST
START_TEST (test_grad_sigmoid_mse) { check_gradients (NN_ACT_SIGMOID, FALSE); }
END_TEST

/* ---- forward paths ------------------------------------------------------- */

/* The one-row GEMV path (sparse, intrinsics) must match the GEMM path. */
START_TEST (test_dense_gemv_matches_gemm)
{
  static const guint shapes[][2] = { { 1, 1 }, { 3, 17 }, { 17, 10 }, { 130, 70 },
                                     { 784, 256 }, { 600, 129 }, { 33, 64 },
                                     /* 256-column pass, then 32 and masked
                                      * columns; more inputs than one chunk */
                                     { 1000, 300 }, { 20, 512 } };
  NnRng r;
  nn_rng_seed (&r, 11);
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      guint in = shapes[s][0], out = shapes[s][1], n = 5;
      float *x = g_new (float, n * in), *w = g_new (float, in * out);
      float *b = g_new (float, out);
      float *y_all = g_new (float, n * out), *y_one = g_new (float, out);
      for (guint i = 0; i < n * in; i++)
        x[i] = nn_rng_uniform (&r) < 0.4 ? 0.0f : (float) nn_rng_normal (&r);
      for (guint i = 0; i < in * out; i++)
        w[i] = (float) nn_rng_normal (&r);
      for (guint i = 0; i < out; i++)
        b[i] = (float) nn_rng_normal (&r);
      for (int act = -1; act <= NN_ACT_SIGMOID; act++)
        {
          nn_dense_forward (x, n, in, out, w, b, act, y_all);
          for (guint row = 0; row < n; row++)
            {
              nn_dense_forward (x + row * in, 1, in, out, w, b, act, y_one);
              for (guint j = 0; j < out; j++)
                {
                  float a = y_all[row * out + j], c = y_one[j];
                  ck_assert_msg (fabsf (a - c) <= 1e-4f * (1 + fabsf (a)) * sqrtf (in),
                                 "shape %u×%u act %d: %g vs %g", in, out, act, a, c);
                }
            }
        }
      g_free (x);
      g_free (w);
      g_free (b);
      g_free (y_all);
      g_free (y_one);
    }
}
END_TEST

START_TEST (test_softmax_stable)
{
  float z[6] = { 1000.f, 1001.f, 999.f, -1000.f, -1000.f, -1000.f };
  nn_softmax_rows (z, 2, 3);
  for (int r = 0; r < 2; r++)
    {
      float sum = 0;
      for (int j = 0; j < 3; j++)
        {
          ck_assert (isfinite (z[r * 3 + j]));
          sum += z[r * 3 + j];
        }
      ck_assert (fabsf (sum - 1.0f) < 1e-6f);
    }
  ck_assert (z[1] > z[0] && z[0] > z[2]);
  ck_assert (fabsf (z[3] - 1.0f / 3) < 1e-6f);
  /* a zero probability gives a large but finite loss */
  float p[3] = { 0.0f, 1.0f, 0.0f };
  guint32 label = 0;
  double loss = nn_xent_loss (p, &label, 1, 3);
  ck_assert (isfinite (loss) && loss > 10);
}
END_TEST

START_TEST (test_activation_values)
{
  float y[3] = { -2.0f, 0.0f, 3.0f };
  nn_activation_forward (NN_ACT_RELU, y, 3);
  ck_assert (y[0] == 0.0f && y[1] == 0.0f && y[2] == 3.0f);
  float t[2] = { 0.5f, -1.0f };
  nn_activation_forward (NN_ACT_TANH, t, 2);
  ck_assert (fabsf (t[0] - tanhf (0.5f)) < 1e-7f);
  float s[2] = { 0.0f, 2.0f };
  nn_activation_forward (NN_ACT_SIGMOID, s, 2);
  ck_assert (fabsf (s[0] - 0.5f) < 1e-7f);
  ck_assert (fabsf (s[1] - 1.0f / (1.0f + expf (-2.0f))) < 1e-6f);
}
END_TEST

/* ---- optimizers ---------------------------------------------------------- */

static NnOptimizer *
make_opt (NnOptimizerKind kind, float lr, float wd, gsize n)
{
  NnTrainConfig c;
  nn_train_config_init (&c);
  c.optimizer = kind;
  c.learning_rate = lr;
  c.weight_decay = wd;
  return nn_optimizer_new (&c, n);
}

START_TEST (test_sgd_momentum_steps)
{
  /* 37 params: the SIMD block loop and the scalar tail both run */
  const gsize n = 37;
  g_autoptr (NnOptimizer) opt = make_opt (NN_OPT_SGD, 0.1f, 0.01f, n);
  float p[37], g[37];
  for (gsize i = 0; i < n; i++)
    {
      p[i] = 1.0f + i;
      g[i] = 0.5f - 0.1f * i;
    }
  double ep[37], ev[37] = { 0 };
  for (gsize i = 0; i < n; i++)
    ep[i] = p[i];
  for (int step = 0; step < 3; step++)
    {
      nn_optimizer_begin_step (opt);
      nn_optimizer_update (opt, p, g, 0, 20);
      nn_optimizer_update (opt, p, g, 20, n);
      for (gsize i = 0; i < n; i++)
        {
          double gi = g[i] + 0.01 * ep[i];
          ev[i] = 0.9 * ev[i] + gi;
          ep[i] -= 0.1 * ev[i];
        }
    }
  for (gsize i = 0; i < n; i++)
    ck_assert_msg (fabs (p[i] - ep[i]) < 1e-5 * (1 + fabs (ep[i])),
                   "param %zu: %g vs %g", (size_t) i, p[i], ep[i]);
  /* the first step by hand: p0 = 1, g0 = 0.5, v = 0.5 + 0.01 = 0.51 → 0.949 */
  g_autoptr (NnOptimizer) one = make_opt (NN_OPT_SGD, 0.1f, 0.01f, 1);
  float q = 1.0f, gq = 0.5f;
  nn_optimizer_begin_step (one);
  nn_optimizer_update (one, &q, &gq, 0, 1);
  ck_assert (fabsf (q - 0.949f) < 1e-6f);
}
END_TEST

START_TEST (test_adam_steps)
{
  /* First Adam step moves every parameter by lr·sign(g) (bias-corrected). */
  const gsize n = 45;
  g_autoptr (NnOptimizer) opt = make_opt (NN_OPT_ADAM, 0.01f, 0.0f, n);
  float p[45], g[45];
  for (gsize i = 0; i < n; i++)
    {
      p[i] = 0.25f * i;
      g[i] = (i % 3 == 0) ? -2.0f : 0.3f + i;
    }
  nn_optimizer_begin_step (opt);
  nn_optimizer_update (opt, p, g, 0, n);
  for (gsize i = 0; i < n; i++)
    {
      double expect = 0.25 * i - 0.01 * (g[i] > 0 ? 1 : -1);
      ck_assert_msg (fabs (p[i] - expect) < 1e-6, "param %zu", (size_t) i);
    }
  /* Second step with a different gradient, by the textbook formulas. */
  float g2[45];
  for (gsize i = 0; i < n; i++)
    g2[i] = 0.5f * g[i] - 1.0f;
  nn_optimizer_begin_step (opt);
  nn_optimizer_update (opt, p, g2, 0, 16);
  nn_optimizer_update (opt, p, g2, 16, n);
  for (gsize i = 0; i < n; i++)
    {
      double m1 = 0.1 * g[i], v1 = 0.001 * g[i] * g[i];
      double m2 = 0.9 * m1 + 0.1 * g2[i], v2 = 0.999 * v1 + 0.001 * g2[i] * g2[i];
      double mh = m2 / (1 - 0.81), vh = v2 / (1 - 0.999 * 0.999);
      double p1 = 0.25 * i - 0.01 * (g[i] > 0 ? 1 : -1);
      double expect = p1 - 0.01 * mh / (sqrt (vh) + 1e-8);
      ck_assert_msg (fabs (p[i] - expect) < 2e-6 * (1 + fabs (expect)),
                     "param %zu: %.9g vs %.9g", (size_t) i, p[i], expect);
    }
}
END_TEST

START_TEST (test_adam_weight_decay)
{
  /* zero gradient + decay: g = wd·p, so the first step is −lr·sign(p) */
  g_autoptr (NnOptimizer) opt = make_opt (NN_OPT_ADAM, 0.1f, 0.5f, 2);
  float p[2] = { 2.0f, -3.0f }, g[2] = { 0.0f, 0.0f };
  nn_optimizer_begin_step (opt);
  nn_optimizer_update (opt, p, g, 0, 2);
  ck_assert (fabsf (p[0] - 1.9f) < 1e-6f);
  ck_assert (fabsf (p[1] + 2.9f) < 1e-6f);
}
END_TEST

/* ---- thread pool --------------------------------------------------------- */

typedef struct {
  gint hits[16];
  gint calls;
} PoolProbe;

static void
probe_part (guint part, guint n_parts, gpointer data)
{
  PoolProbe *p = data;
  g_assert (part < n_parts && n_parts <= 16);
  g_atomic_int_inc (&p->hits[part]);
  g_atomic_int_inc (&p->calls);
}

START_TEST (test_thread_pool_runs_every_part)
{
  static const guint sizes[] = { 1, 2, 3, 8 };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      g_autoptr (NnThreadPool) pool = nn_thread_pool_new (sizes[s]);
      ck_assert_uint_eq (nn_thread_pool_size (pool), sizes[s]);
      PoolProbe probe = { { 0 }, 0 };
      for (int round = 0; round < 300; round++)
        {
          nn_thread_pool_run (pool, probe_part, &probe);
          /* every part finished before run returned */
          ck_assert_int_eq (g_atomic_int_get (&probe.calls),
                            (round + 1) * (gint) sizes[s]);
          if (round == 150)
            g_usleep (2000);   /* let the workers block, then wake them */
        }
      for (guint i = 0; i < sizes[s]; i++)
        ck_assert_int_eq (probe.hits[i], 300);
    }
  g_autoptr (NnThreadPool) all = nn_thread_pool_new (0);
  ck_assert_uint_eq (nn_thread_pool_size (all), g_get_num_processors ());
}
END_TEST

static Suite *
layers_suite (void)
{
  Suite *s = suite_create ("layers");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_rng_deterministic);
  tcase_add_test (tc, test_rng_shuffle_permutation);
  tcase_add_test (tc, test_grad_relu_softmax);
  tcase_add_test (tc, test_grad_tanh_softmax);
  tcase_add_test (tc, test_grad_sigmoid_softmax);
  tcase_add_test (tc, test_grad_relu_mse);
  tcase_add_test (tc, test_grad_tanh_mse);
  tcase_add_test (tc, test_grad_sigmoid_mse);
  tcase_add_test (tc, test_dense_gemv_matches_gemm);
  tcase_add_test (tc, test_softmax_stable);
  tcase_add_test (tc, test_activation_values);
  tcase_add_test (tc, test_sgd_momentum_steps);
  tcase_add_test (tc, test_adam_steps);
  tcase_add_test (tc, test_adam_weight_decay);
  tcase_add_test (tc, test_thread_pool_runs_every_part);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (layers_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
