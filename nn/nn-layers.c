/* nn-layers.c — PRNG, dense layers, activations and losses of the MLP.
 *
 * The heavy products go through nn_gemm; the element-wise loops are written
 * in blocks of 16 so that GCC's -O2 (very cheap) vectoriser turns them into
 * whole SIMD registers, and each is compiled for AVX2 and AVX-512 as well,
 * chosen at run time. */
#include "nn-layers.h"
#include "nn-gemm.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define NN_X86 1
#include <immintrin.h>
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define BLOCK 16

/* ---- PRNG -------------------------------------------------------------- */

static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void
nn_rng_seed (NnRng *rng, guint64 seed)
{
  guint64 st = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&st);
}

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

guint64
nn_rng_next (NnRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

double
nn_rng_uniform (NnRng *rng)
{
  return (double) (nn_rng_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

guint32
nn_rng_below (NnRng *rng, guint32 bound)
{
  /* Lemire's multiply-shift with rejection of the biased low range. */
  guint64 m = (guint64) (guint32) (nn_rng_next (rng) >> 32) * bound;
  guint32 low = (guint32) m;
  if (low < bound)
    {
      guint32 threshold = (guint32) (-bound) % bound;
      while (low < threshold)
        {
          m = (guint64) (guint32) (nn_rng_next (rng) >> 32) * bound;
          low = (guint32) m;
        }
    }
  return (guint32) (m >> 32);
}

double
nn_rng_normal (NnRng *rng)
{
  double u1 = nn_rng_uniform (rng);
  double u2 = nn_rng_uniform (rng);
  if (u1 < 1e-300)
    u1 = 1e-300;
  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

void
nn_rng_shuffle (NnRng *rng, guint32 *v, guint n)
{
  for (guint i = n; i > 1; i--)
    {
      guint32 j = nn_rng_below (rng, i);
      guint32 t = v[i - 1];
      v[i - 1] = v[j];
      v[j] = t;
    }
}

/* ---- SIMD dispatch ----------------------------------------------------- */

int
nn_simd_level (void)
{
  static int level = -1;
  int l = g_atomic_int_get (&level);
  if (l >= 0)
    return l;
  l = 0;
#ifdef NN_X86
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    l = 1;
  if (__builtin_cpu_supports ("avx512f"))
    l = 2;
#endif
  g_atomic_int_set (&level, l);
  return l;
}

/* Defines name_c, name_avx2, name_avx512 from an always-inline body, and
 * name() dispatching on nn_simd_level(). */
#ifdef NN_X86
#define NN_CLONES(name, params, args)                                          \
  static void name##_c params { name##_body args; }                            \
  __attribute__ ((target ("avx2,fma"))) static void name##_avx2 params         \
  { name##_body args; }                                                        \
  __attribute__ ((target ("avx512f"))) static void name##_avx512 params        \
  { name##_body args; }                                                        \
  static void name params                                                      \
  {                                                                            \
    switch (nn_simd_level ())                                                  \
      {                                                                        \
      case 2: name##_avx512 args; break;                                       \
      case 1: name##_avx2 args; break;                                         \
      default: name##_c args; break;                                           \
      }                                                                        \
  }
#else
#define NN_CLONES(name, params, args)                                          \
  static void name params { name##_body args; }
#endif

ALWAYS_INLINE void
vec_add_body (float *restrict dst, const float *restrict src, gsize count)
{
  gsize i = 0;
  for (; i + BLOCK <= count; i += BLOCK)
    for (int k = 0; k < BLOCK; k++)
      dst[i + k] += src[i + k];
  for (; i < count; i++)
    dst[i] += src[i];
}
NN_CLONES (vec_add, (float *restrict dst, const float *restrict src, gsize count),
           (dst, src, count))

void
nn_vec_add (float *dst, const float *src, gsize count)
{
  vec_add (dst, src, count);
}

/* y[0..out) = Σ_t v[t]·w[idx[t]·out + ·] over a compact list of the
 * non-zero inputs, 64 columns at a time in registers (@accumulate: add to
 * y). Each weight row chunk is read once and y is written once. */
#define GEMV_COLS 64
ALWAYS_INLINE void
gemv_sparse_body (const guint32 *restrict idx, const float *restrict v,
                  guint nnz, const float *restrict w, guint stride, guint cols,
                  gboolean accumulate, float *restrict y)
{
  guint j = 0;
  for (; j + GEMV_COLS <= cols; j += GEMV_COLS)
    {
      float acc[GEMV_COLS];
      for (int k = 0; k < GEMV_COLS; k++)
        acc[k] = accumulate ? y[j + k] : 0.f;
      for (guint t = 0; t < nnz; t++)
        {
          const float *wr = w + (gsize) idx[t] * stride + j;
          float a = v[t];
          for (int k = 0; k < GEMV_COLS; k++)
            acc[k] += a * wr[k];
        }
      for (int k = 0; k < GEMV_COLS; k++)
        y[j + k] = acc[k];
    }
  for (; j < cols; j++)
    {
      float acc = accumulate ? y[j] : 0.f;
      for (guint t = 0; t < nnz; t++)
        acc += v[t] * w[(gsize) idx[t] * stride + j];
      y[j] = acc;
    }
}

/* GCC does not keep the portable body's accumulators in registers, so the
 * x86 versions are written with intrinsics. */
#ifdef NN_X86
/* 16 or 8 accumulators of 16 columns: 256 or 128 columns per pass over the
 * inputs. */
__attribute__ ((target ("avx512f"))) static void
gemv_sparse_avx512 (const guint32 *restrict idx, const float *restrict v,
                    guint nnz, const float *restrict w, guint out,
                    gboolean accumulate, float *restrict y)
{
  guint j = 0;
  /* 256 columns (the Fashion-MNIST hidden layer) in one pass: each weight
   * row is read once as one contiguous KB (software prefetch of the next
   * rows measured no better). */
  for (; j + 256 <= out; j += 256)
    {
      __m512 a[16];
      for (int k = 0; k < 16; k++)
        a[k] = accumulate ? _mm512_loadu_ps (y + j + 16 * k) : _mm512_setzero_ps ();
      for (guint t = 0; t < nnz; t++)
        {
          const float *wr = w + (gsize) idx[t] * out + j;
          __m512 s = _mm512_set1_ps (v[t]);
          for (int k = 0; k < 16; k++)
            a[k] = _mm512_fmadd_ps (s, _mm512_loadu_ps (wr + 16 * k), a[k]);
        }
      for (int k = 0; k < 16; k++)
        _mm512_storeu_ps (y + j + 16 * k, a[k]);
    }
  for (; j + 128 <= out; j += 128)
    {
      __m512 a[8];
      for (int k = 0; k < 8; k++)
        a[k] = accumulate ? _mm512_loadu_ps (y + j + 16 * k) : _mm512_setzero_ps ();
      for (guint t = 0; t < nnz; t++)
        {
          const float *wr = w + (gsize) idx[t] * out + j;
          __m512 s = _mm512_set1_ps (v[t]);
          for (int k = 0; k < 8; k++)
            a[k] = _mm512_fmadd_ps (s, _mm512_loadu_ps (wr + 16 * k), a[k]);
        }
      for (int k = 0; k < 8; k++)
        _mm512_storeu_ps (y + j + 16 * k, a[k]);
    }
  for (; j + 32 <= out; j += 32)
    {
      __m512 a0 = accumulate ? _mm512_loadu_ps (y + j) : _mm512_setzero_ps ();
      __m512 a1 = accumulate ? _mm512_loadu_ps (y + j + 16) : _mm512_setzero_ps ();
      for (guint t = 0; t < nnz; t++)
        {
          const float *wr = w + (gsize) idx[t] * out + j;
          __m512 s = _mm512_set1_ps (v[t]);
          a0 = _mm512_fmadd_ps (s, _mm512_loadu_ps (wr), a0);
          a1 = _mm512_fmadd_ps (s, _mm512_loadu_ps (wr + 16), a1);
        }
      _mm512_storeu_ps (y + j, a0);
      _mm512_storeu_ps (y + j + 16, a1);
    }
  for (; j < out; j += 16)
    {
      /* masked: the last block may be partial (e.g. 10 output classes) */
      guint cols = MIN (16, out - j);
      __mmask16 mask = (__mmask16) ((1u << cols) - 1);
      __m512 a0 = accumulate ? _mm512_maskz_loadu_ps (mask, y + j) : _mm512_setzero_ps ();
      for (guint t = 0; t < nnz; t++)
        a0 = _mm512_fmadd_ps (_mm512_set1_ps (v[t]),
                              _mm512_maskz_loadu_ps (mask, w + (gsize) idx[t] * out + j),
                              a0);
      _mm512_mask_storeu_ps (y + j, mask, a0);
    }
}

__attribute__ ((target ("avx2,fma"))) static void
gemv_sparse_avx2 (const guint32 *restrict idx, const float *restrict v,
                  guint nnz, const float *restrict w, guint out,
                  gboolean accumulate, float *restrict y)
{
  guint j = 0;
  for (; j + 32 <= out; j += 32)
    {
      __m256 a0, a1, a2, a3;
      if (accumulate)
        {
          a0 = _mm256_loadu_ps (y + j);
          a1 = _mm256_loadu_ps (y + j + 8);
          a2 = _mm256_loadu_ps (y + j + 16);
          a3 = _mm256_loadu_ps (y + j + 24);
        }
      else
        a0 = a1 = a2 = a3 = _mm256_setzero_ps ();
      for (guint t = 0; t < nnz; t++)
        {
          const float *wr = w + (gsize) idx[t] * out + j;
          __m256 s = _mm256_set1_ps (v[t]);
          a0 = _mm256_fmadd_ps (s, _mm256_loadu_ps (wr), a0);
          a1 = _mm256_fmadd_ps (s, _mm256_loadu_ps (wr + 8), a1);
          a2 = _mm256_fmadd_ps (s, _mm256_loadu_ps (wr + 16), a2);
          a3 = _mm256_fmadd_ps (s, _mm256_loadu_ps (wr + 24), a3);
        }
      _mm256_storeu_ps (y + j, a0);
      _mm256_storeu_ps (y + j + 8, a1);
      _mm256_storeu_ps (y + j + 16, a2);
      _mm256_storeu_ps (y + j + 24, a3);
    }
  if (j < out)
    gemv_sparse_body (idx, v, nnz, w + j, out, out - j, accumulate, y + j);
}
#endif

static void
gemv_sparse (const guint32 *idx, const float *v, guint nnz, const float *w,
             guint out, gboolean accumulate, float *y)
{
#ifdef NN_X86
  switch (nn_simd_level ())
    {
    case 2:
      gemv_sparse_avx512 (idx, v, nnz, w, out, accumulate, y);
      return;
    case 1:
      gemv_sparse_avx2 (idx, v, nnz, w, out, accumulate, y);
      return;
    default:
      break;
    }
#endif
  gemv_sparse_body (idx, v, nnz, w, out, out, accumulate, y);
}

/* The non-zero x[0..n) as (index, value) pairs; returns how many. Branch
 * free: about half the inputs are zero, so a branch would mispredict
 * constantly. */
static guint
compact_nonzero_c (const float *x, guint first, guint n, guint32 *idx, float *v)
{
  guint nnz = 0;
  for (guint i = 0; i < n; i++)
    {
      idx[nnz] = first + i;
      v[nnz] = x[i];
      nnz += x[i] != 0.f;
    }
  return nnz;
}

#ifdef NN_X86
/* 16 inputs per step with the AVX-512 compress instructions. */
__attribute__ ((target ("avx512f"))) static guint
compact_nonzero_avx512 (const float *x, guint first, guint n, guint32 *idx, float *v)
{
  guint nnz = 0, i = 0;
  __m512i step = _mm512_set1_epi32 (16);
  __m512i ids = _mm512_add_epi32 (_mm512_set1_epi32 ((int) first),
                                  _mm512_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                     10, 11, 12, 13, 14, 15));
  for (; i + 16 <= n; i += 16)
    {
      __m512 xs = _mm512_loadu_ps (x + i);
      __mmask16 nz = _mm512_cmp_ps_mask (xs, _mm512_setzero_ps (), _CMP_NEQ_UQ);
      /* compress in registers, then a full store (stays below i + 16 ≤ n):
       * the memory form of compress is microcoded on AMD Zen 4 */
      _mm512_storeu_ps (v + nnz, _mm512_maskz_compress_ps (nz, xs));
      _mm512_storeu_si512 (idx + nnz, _mm512_maskz_compress_epi32 (nz, ids));
      nnz += (guint) __builtin_popcount (nz);
      ids = _mm512_add_epi32 (ids, step);
    }
  return nnz + compact_nonzero_c (x + i, first + i, n - i, idx + nnz, v + nnz);
}
#endif

static guint
compact_nonzero (const float *x, guint first, guint n, guint32 *idx, float *v)
{
#ifdef NN_X86
  if (nn_simd_level () == 2)
    return compact_nonzero_avx512 (x, first, n, idx, v);
#endif
  return compact_nonzero_c (x, first, n, idx, v);
}

/* y = x·w for one row, skipping zero inputs (blank pixels, ReLU zeros). */
#define GEMV_CHUNK 512
static void
dense_row_forward (const float *x, guint in, guint out, const float *w,
                   float *y)
{
  guint32 idx[GEMV_CHUNK];
  float v[GEMV_CHUNK];
  gboolean started = FALSE;
  for (guint i0 = 0; i0 < in; i0 += GEMV_CHUNK)
    {
      guint end = MIN (in, i0 + GEMV_CHUNK);
      guint nnz = compact_nonzero (x + i0, i0, end - i0, idx, v);
      if (nnz == 0 && started)
        continue;
      gemv_sparse (idx, v, nnz, w, out, started, y);
      started = TRUE;
    }
  if (!started)
    memset (y, 0, sizeof (float) * out);
}

ALWAYS_INLINE void
u8_affine_body (float *restrict dst, const guint8 *restrict src,
                const float *restrict shift, const float *restrict scale,
                gsize count)
{
  gsize i = 0;
  for (; i + BLOCK <= count; i += BLOCK)
    for (int k = 0; k < BLOCK; k++)
      dst[i + k] = ((float) src[i + k] - shift[i + k]) * scale[i + k];
  for (; i < count; i++)
    dst[i] = ((float) src[i] - shift[i]) * scale[i];
}
NN_CLONES (u8_affine, (float *restrict dst, const guint8 *restrict src,
                       const float *restrict shift, const float *restrict scale,
                       gsize count),
           (dst, src, shift, scale, count))

void
nn_vec_u8_affine (float *dst, const guint8 *src, const float *shift,
                  const float *scale, gsize count)
{
  u8_affine (dst, src, shift, scale, count);
}

ALWAYS_INLINE void
affine_body (float *restrict dst, const float *restrict src,
             const float *restrict shift, const float *restrict scale,
             gsize count)
{
  gsize i = 0;
  for (; i + BLOCK <= count; i += BLOCK)
    for (int k = 0; k < BLOCK; k++)
      dst[i + k] = (src[i + k] - shift[i + k]) * scale[i + k];
  for (; i < count; i++)
    dst[i] = (src[i] - shift[i]) * scale[i];
}
NN_CLONES (affine, (float *restrict dst, const float *restrict src,
                    const float *restrict shift, const float *restrict scale,
                    gsize count),
           (dst, src, shift, scale, count))

void
nn_vec_affine (float *dst, const float *src, const float *shift,
               const float *scale, gsize count)
{
  affine (dst, src, shift, scale, count);
}

/* y = max(y + b, 0) on @cols columns of @n rows @ld floats apart. */
ALWAYS_INLINE void
bias_relu_body (float *restrict y, gsize ld, const float *restrict b, guint n,
                guint cols)
{
  for (guint r = 0; r < n; r++)
    {
      float *row = y + r * ld;
      guint i = 0;
      for (; i + BLOCK <= cols; i += BLOCK)
        for (int k = 0; k < BLOCK; k++)
          {
            float v = row[i + k] + b[i + k];
            row[i + k] = v > 0.f ? v : 0.f;
          }
      for (; i < cols; i++)
        {
          float v = row[i] + b[i];
          row[i] = v > 0.f ? v : 0.f;
        }
    }
}
NN_CLONES (bias_relu, (float *restrict y, gsize ld, const float *restrict b, guint n,
                       guint cols),
           (y, ld, b, n, cols))

ALWAYS_INLINE void
bias_add_body (float *restrict y, gsize ld, const float *restrict b, guint n,
               guint cols)
{
  for (guint r = 0; r < n; r++)
    vec_add_body (y + r * ld, b, cols);
}
NN_CLONES (bias_add, (float *restrict y, gsize ld, const float *restrict b, guint n,
                      guint cols),
           (y, ld, b, n, cols))

/* d = y > 0 ? d : 0 */
ALWAYS_INLINE void
relu_back_body (const float *restrict y, float *restrict d, gsize count)
{
  gsize i = 0;
  for (; i + BLOCK <= count; i += BLOCK)
    for (int k = 0; k < BLOCK; k++)
      d[i + k] = y[i + k] > 0.f ? d[i + k] : 0.f;
  for (; i < count; i++)
    d[i] = y[i] > 0.f ? d[i] : 0.f;
}
NN_CLONES (relu_back, (const float *restrict y, float *restrict d, gsize count),
           (y, d, count))

/* ---- activations ------------------------------------------------------- */

static inline float
sigmoidf (float v)
{
  return 1.0f / (1.0f + expf (-v));
}

void
nn_activation_forward (NnActivation act, float *y, gsize count)
{
  switch (act)
    {
    case NN_ACT_RELU:
      for (gsize i = 0; i < count; i++)
        y[i] = y[i] > 0.f ? y[i] : 0.f;
      break;
    case NN_ACT_TANH:
      for (gsize i = 0; i < count; i++)
        y[i] = tanhf (y[i]);
      break;
    case NN_ACT_SIGMOID:
      for (gsize i = 0; i < count; i++)
        y[i] = sigmoidf (y[i]);
      break;
    }
}

void
nn_activation_backward (NnActivation act, const float *y, float *d, gsize count)
{
  switch (act)
    {
    case NN_ACT_RELU:
      relu_back (y, d, count);
      break;
    case NN_ACT_TANH:
      for (gsize i = 0; i < count; i++)
        d[i] *= 1.0f - y[i] * y[i];
      break;
    case NN_ACT_SIGMOID:
      for (gsize i = 0; i < count; i++)
        d[i] *= y[i] * (1.0f - y[i]);
      break;
    }
}

/* ---- dense ------------------------------------------------------------- */

/* Rows up to this count use a row-by-row GEMV instead of GEMM: for a
 * single sample GEMM's packing of the weights costs more than the product,
 * and the GEMV skips zero inputs (ReLU outputs, blank pixels). */
#define DENSE_GEMV_MAX_ROWS 2

void
nn_dense_forward (const float *x, guint n, guint in, guint out,
                  const float *w, const float *b, int act, float *y)
{
  if (n <= DENSE_GEMV_MAX_ROWS)
    {
      for (guint r = 0; r < n; r++)
        dense_row_forward (x + (gsize) r * in, in, out, w, y + (gsize) r * out);
    }
  else
    nn_gemm (NN_NO_TRANS, NN_NO_TRANS, (int) n, (int) out, (int) in,
             1.0f, x, (int) in, w, (int) out, 0.0f, y, (int) out);

  nn_bias_activation (y, out, b, n, out, act);
}

void
nn_bias_activation (float *y, gsize ld, const float *b, guint n, guint cols,
                    int act)
{
  if (act == NN_ACT_RELU)
    bias_relu (y, ld, b, n, cols);
  else
    {
      bias_add (y, ld, b, n, cols);
      if (act >= 0)
        for (guint r = 0; r < n; r++)
          nn_activation_forward ((NnActivation) act, y + r * ld, cols);
    }
}

void
nn_dense_backward (const float *x, guint n, guint in, guint out,
                   const float *w, const float *dy,
                   float *dw, float *db, float *dx)
{
  nn_gemm (NN_TRANS, NN_NO_TRANS, (int) in, (int) out, (int) n,
           1.0f, x, (int) in, dy, (int) out, 0.0f, dw, (int) out);
  memset (db, 0, sizeof (float) * out);
  for (guint r = 0; r < n; r++)
    vec_add (db, dy + (gsize) r * out, out);
  if (dx != NULL)
    nn_gemm (NN_NO_TRANS, NN_TRANS, (int) n, (int) in, (int) out,
             1.0f, dy, (int) out, w, (int) out, 0.0f, dx, (int) in);
}

/* ---- losses ------------------------------------------------------------ */

void
nn_softmax_rows (float *z, guint n, guint c)
{
  for (guint r = 0; r < n; r++)
    {
      float *row = z + (gsize) r * c;
      float mx = row[0];
      for (guint j = 1; j < c; j++)
        mx = row[j] > mx ? row[j] : mx;
      float sum = 0.f;
      for (guint j = 0; j < c; j++)
        {
          row[j] = expf (row[j] - mx);
          sum += row[j];
        }
      float inv = 1.0f / sum;
      for (guint j = 0; j < c; j++)
        row[j] *= inv;
    }
}

#define XENT_MIN_P 1e-7f

double
nn_xent_loss (const float *p, const guint32 *labels, guint n, guint c)
{
  double loss = 0.0;
  for (guint r = 0; r < n; r++)
    {
      float pl = p[(gsize) r * c + labels[r]];
      loss -= log (pl > XENT_MIN_P ? pl : XENT_MIN_P);
    }
  return loss;
}

double
nn_softmax_xent_backward (const float *p, const guint32 *labels, guint n,
                          guint c, float scale, float *dz)
{
  double loss = nn_xent_loss (p, labels, n, c);
  for (guint r = 0; r < n; r++)
    {
      const float *pr = p + (gsize) r * c;
      float *dr = dz + (gsize) r * c;
      for (guint j = 0; j < c; j++)
        dr[j] = scale * (pr[j] - (j == labels[r] ? 1.0f : 0.0f));
    }
  return loss;
}

double
nn_mse_backward (const float *pred, const float *target, guint n, guint c,
                 float scale, float *dz)
{
  double sum = 0.0;
  gsize total = (gsize) n * c;
  for (gsize i = 0; i < total; i++)
    {
      float e = pred[i] - target[i];
      sum += (double) e * e;
      dz[i] = scale * e;
    }
  return sum;
}
