/* nn-optim.c — SGD with momentum and Adam updates on parameter ranges.
 *
 * Adam runs once per mini-batch over every parameter (235k for the
 * Fashion-MNIST MLP), so it has AVX2 and AVX-512 versions chosen at run
 * time: the compiler will not vectorise sqrtf under -fmath-errno. */
#include "nn-optim.h"
#include "nn-gemm.h"
#include "nn-layers.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define NN_X86 1
#include <immintrin.h>
#endif

NnOptimizer *
nn_optimizer_new (const NnTrainConfig *config, gsize n_params)
{
  NnOptimizer *opt = g_new0 (NnOptimizer, 1);
  opt->kind = config->optimizer;
  opt->lr = config->learning_rate;
  opt->momentum = config->momentum;
  opt->beta1 = config->beta1;
  opt->beta2 = config->beta2;
  opt->epsilon = config->epsilon;
  opt->weight_decay = config->weight_decay;
  opt->n_params = n_params;
  opt->m = nn_alloc_floats (n_params ? n_params : 1);
  if (opt->kind == NN_OPT_ADAM)
    opt->v = nn_alloc_floats (n_params ? n_params : 1);
  return opt;
}

void
nn_optimizer_free (NnOptimizer *opt)
{
  if (opt == NULL)
    return;
  nn_free_floats (opt->m);
  if (opt->v != NULL)
    nn_free_floats (opt->v);
  g_free (opt);
}

void
nn_optimizer_reset (NnOptimizer *opt)
{
  memset (opt->m, 0, sizeof (float) * opt->n_params);
  if (opt->v)
    memset (opt->v, 0, sizeof (float) * opt->n_params);
  opt->step = 0;
}

void
nn_optimizer_begin_step (NnOptimizer *opt)
{
  opt->step++;
  if (opt->kind == NN_OPT_ADAM)
    {
      double t = (double) opt->step;
      double bc1 = 1.0 - pow (opt->beta1, t);
      double bc2 = 1.0 - pow (opt->beta2, t);
      /* p -= lr·m̂/(√v̂ + ε) with m̂ = m/bc1, v̂ = v/bc2 */
      opt->step_a = (float) (opt->lr / bc1);
      opt->step_c = (float) (1.0 / sqrt (bc2));
    }
}

/* ---- Adam -------------------------------------------------------------- */

static void
adam_c (const NnOptimizer *o, float *restrict p, const float *restrict g,
        float *restrict m, float *restrict v, gsize n)
{
  float b1 = o->beta1, b2 = o->beta2, wd = o->weight_decay;
  float a = o->step_a, c = o->step_c, eps = o->epsilon;
  for (gsize i = 0; i < n; i++)
    {
      float gi = g[i] + wd * p[i];
      float mi = b1 * m[i] + (1.0f - b1) * gi;
      float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] -= a * mi / (sqrtf (vi) * c + eps);
    }
}

#ifdef NN_X86
__attribute__ ((target ("avx2,fma"))) static void
adam_avx2 (const NnOptimizer *o, float *restrict p, const float *restrict g,
           float *restrict m, float *restrict v, gsize n)
{
  __m256 b1 = _mm256_set1_ps (o->beta1), nb1 = _mm256_set1_ps (1.0f - o->beta1);
  __m256 b2 = _mm256_set1_ps (o->beta2), nb2 = _mm256_set1_ps (1.0f - o->beta2);
  __m256 wd = _mm256_set1_ps (o->weight_decay), a = _mm256_set1_ps (o->step_a);
  __m256 c = _mm256_set1_ps (o->step_c), eps = _mm256_set1_ps (o->epsilon);
  gsize i = 0;
  for (; i + 8 <= n; i += 8)
    {
      __m256 pi = _mm256_loadu_ps (p + i);
      __m256 gi = _mm256_add_ps (_mm256_loadu_ps (g + i), _mm256_mul_ps (wd, pi));
      __m256 mi = _mm256_add_ps (_mm256_mul_ps (b1, _mm256_loadu_ps (m + i)),
                                 _mm256_mul_ps (nb1, gi));
      __m256 vi = _mm256_add_ps (_mm256_mul_ps (b2, _mm256_loadu_ps (v + i)),
                                 _mm256_mul_ps (_mm256_mul_ps (nb2, gi), gi));
      _mm256_storeu_ps (m + i, mi);
      _mm256_storeu_ps (v + i, vi);
      __m256 den = _mm256_add_ps (_mm256_mul_ps (_mm256_sqrt_ps (vi), c), eps);
      pi = _mm256_sub_ps (pi, _mm256_div_ps (_mm256_mul_ps (a, mi), den));
      _mm256_storeu_ps (p + i, pi);
    }
  adam_c (o, p + i, g + i, m + i, v + i, n - i);
}

__attribute__ ((target ("avx512f"))) static void
adam_avx512 (const NnOptimizer *o, float *restrict p, const float *restrict g,
           float *restrict m, float *restrict v, gsize n)
{
  __m512 b1 = _mm512_set1_ps (o->beta1), nb1 = _mm512_set1_ps (1.0f - o->beta1);
  __m512 b2 = _mm512_set1_ps (o->beta2), nb2 = _mm512_set1_ps (1.0f - o->beta2);
  __m512 wd = _mm512_set1_ps (o->weight_decay), a = _mm512_set1_ps (o->step_a);
  __m512 c = _mm512_set1_ps (o->step_c), eps = _mm512_set1_ps (o->epsilon);
  gsize i = 0;
  for (; i + 16 <= n; i += 16)
    {
      __m512 pi = _mm512_loadu_ps (p + i);
      __m512 gi = _mm512_add_ps (_mm512_loadu_ps (g + i), _mm512_mul_ps (wd, pi));
      __m512 mi = _mm512_add_ps (_mm512_mul_ps (b1, _mm512_loadu_ps (m + i)),
                                 _mm512_mul_ps (nb1, gi));
      __m512 vi = _mm512_add_ps (_mm512_mul_ps (b2, _mm512_loadu_ps (v + i)),
                                 _mm512_mul_ps (_mm512_mul_ps (nb2, gi), gi));
      _mm512_storeu_ps (m + i, mi);
      _mm512_storeu_ps (v + i, vi);
      __m512 den = _mm512_add_ps (_mm512_mul_ps (_mm512_sqrt_ps (vi), c), eps);
      pi = _mm512_sub_ps (pi, _mm512_div_ps (_mm512_mul_ps (a, mi), den));
      _mm512_storeu_ps (p + i, pi);
    }
  adam_c (o, p + i, g + i, m + i, v + i, n - i);
}
#endif

/* ---- SGD with momentum ------------------------------------------------- */

static void
sgd_c (const NnOptimizer *o, float *restrict p, const float *restrict g,
       float *restrict vel, gsize n)
{
  float mu = o->momentum, lr = o->lr, wd = o->weight_decay;
  gsize i = 0;
  /* blocks of 16 with fixed-count loops: vectorised by -O2 */
  for (; i + 16 <= n; i += 16)
    {
      for (int k = 0; k < 16; k++)
        {
          float gi = g[i + k] + wd * p[i + k];
          float vi = mu * vel[i + k] + gi;
          vel[i + k] = vi;
          p[i + k] -= lr * vi;
        }
    }
  for (; i < n; i++)
    {
      float gi = g[i] + wd * p[i];
      float vi = mu * vel[i] + gi;
      vel[i] = vi;
      p[i] -= lr * vi;
    }
}

void
nn_optimizer_update (NnOptimizer *opt, float *params, const float *grad,
                     gsize start, gsize end)
{
  g_return_if_fail (start <= end && end <= opt->n_params);
  gsize n = end - start;
  float *p = params + start;
  const float *g = grad + start;
  if (opt->kind == NN_OPT_SGD)
    {
      sgd_c (opt, p, g, opt->m + start, n);
      return;
    }
#ifdef NN_X86
  switch (nn_simd_level ())
    {
    case 2:
      adam_avx512 (opt, p, g, opt->m + start, opt->v + start, n);
      return;
    case 1:
      adam_avx2 (opt, p, g, opt->m + start, opt->v + start, n);
      return;
    default:
      break;
    }
#endif
  adam_c (opt, p, g, opt->m + start, opt->v + start, n);
}
