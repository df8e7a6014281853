/* minka-sha256.c — SHA-256 (FIPS 180-4): a portable block function and one
 * using the x86 SHA extensions, chosen at run time. */
#include "minka-sha256.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define MINKA_SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* Fractional parts of the cube roots of the first 64 primes. */
static const guint32 K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

typedef void (*BlockFunc) (guint32 state[8], const guint8 *data, gsize n_blocks);

/* ---- portable ----------------------------------------------------------- */

static inline guint32
rotr (guint32 x, unsigned n)
{
  return (x >> n) | (x << (32 - n));
}

static inline guint32
load_be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static void
blocks_portable (guint32 state[8], const guint8 *data, gsize n_blocks)
{
  for (; n_blocks > 0; n_blocks--, data += 64)
    {
      guint32 w[64];
      for (int t = 0; t < 16; t++)
        w[t] = load_be32 (data + 4 * t);
      for (int t = 16; t < 64; t++)
        {
          guint32 s0 = rotr (w[t - 15], 7) ^ rotr (w[t - 15], 18) ^ (w[t - 15] >> 3);
          guint32 s1 = rotr (w[t - 2], 17) ^ rotr (w[t - 2], 19) ^ (w[t - 2] >> 10);
          w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
      guint32 a = state[0], b = state[1], c = state[2], d = state[3];
      guint32 e = state[4], f = state[5], g = state[6], h = state[7];
      for (int t = 0; t < 64; t++)
        {
          guint32 t1 = h + (rotr (e, 6) ^ rotr (e, 11) ^ rotr (e, 25)) + ((e & f) ^ (~e & g))
                       + K[t] + w[t];
          guint32 t2 = (rotr (a, 2) ^ rotr (a, 13) ^ rotr (a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
          h = g;
          g = f;
          f = e;
          e = d + t1;
          d = c;
          c = b;
          b = a;
          a = t1 + t2;
        }
      state[0] += a;
      state[1] += b;
      state[2] += c;
      state[3] += d;
      state[4] += e;
      state[5] += f;
      state[6] += g;
      state[7] += h;
    }
}

/* ---- x86 SHA extensions ------------------------------------------------- */

#ifdef MINKA_SHA256_X86
/* The SHA instructions keep the state as ABEF and CDGH halves and do two
 * rounds per sha256rnds2; the message schedule is four words at a time. */
__attribute__ ((target ("sha,sse4.1,ssse3"))) static void
blocks_sha_ni (guint32 state[8], const guint8 *data, gsize n_blocks)
{
  const __m128i byteswap = _mm_set_epi64x (0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i dcba = _mm_loadu_si128 ((const __m128i *) &state[0]);
  __m128i hgfe = _mm_loadu_si128 ((const __m128i *) &state[4]);
  __m128i cdab = _mm_shuffle_epi32 (dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32 (hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8 (cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16 (efgh, cdab, 0xF0);

  for (; n_blocks > 0; n_blocks--, data += 64)
    {
      __m128i abef_in = abef, cdgh_in = cdgh;
      __m128i w[4];
      /* Unrolled, w[] lives in registers: 2x faster than the plain loop. */
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++)
        {
          if (i < 4)
            w[i] = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (data + 16 * i)), byteswap);
          else
            {
              __m128i x = _mm_sha256msg1_epu32 (w[i & 3], w[(i + 1) & 3]);
              x = _mm_add_epi32 (x, _mm_alignr_epi8 (w[(i + 3) & 3], w[(i + 2) & 3], 4));
              w[i & 3] = _mm_sha256msg2_epu32 (x, w[(i + 3) & 3]);
            }
          __m128i wk = _mm_add_epi32 (w[i & 3], _mm_loadu_si128 ((const __m128i *) &K[4 * i]));
          /* Two rounds each: the old ABEF becomes the new CDGH, so after
           * the pair the variables hold ABEF and CDGH again. */
          cdgh = _mm_sha256rnds2_epu32 (cdgh, abef, wk);
          abef = _mm_sha256rnds2_epu32 (abef, cdgh, _mm_shuffle_epi32 (wk, 0x0E));
        }
      abef = _mm_add_epi32 (abef, abef_in);
      cdgh = _mm_add_epi32 (cdgh, cdgh_in);
    }

  __m128i feba = _mm_shuffle_epi32 (abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32 (cdgh, 0xB1);
  _mm_storeu_si128 ((__m128i *) &state[0], _mm_blend_epi16 (feba, dchg, 0xF0));
  _mm_storeu_si128 ((__m128i *) &state[4], _mm_alignr_epi8 (dchg, feba, 8));
}

static gboolean
cpu_has_sha (void)
{
  /* GCC 12's __builtin_cpu_supports does not report "sha": ask CPUID
   * (leaf 7, EBX bit 29); SSE4.1 (leaf 1, ECX bit 19) comes with it. */
  unsigned a, b, c, d;
  if (!__get_cpuid_count (7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
    return FALSE;
  return __get_cpuid (1, &a, &b, &c, &d) && (c & (1u << 19)) && (c & (1u << 9));
}
#endif

static gint force_portable;     /* atomic */

static BlockFunc
choose_blocks (void)
{
#ifdef MINKA_SHA256_X86
  static gsize has_sha = 0;     /* 1 + answer, once */
  if (g_once_init_enter (&has_sha))
    g_once_init_leave (&has_sha, 1 + (gsize) cpu_has_sha ());
  if (has_sha == 2 && !g_atomic_int_get (&force_portable))
    return blocks_sha_ni;
#endif
  return blocks_portable;
}

const char *
minka_sha256_implementation (void)
{
  return choose_blocks () == blocks_portable ? "portable" : "sha-ni";
}

void
minka_sha256_force_portable (gboolean portable)
{
  g_atomic_int_set (&force_portable, portable ? 1 : 0);
}

/* ---- streaming ---------------------------------------------------------- */

void
minka_sha256_init (MinkaSha256 *sha)
{
  static const guint32 initial[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  };
  memcpy (sha->state, initial, sizeof initial);
  sha->total = 0;
  sha->block_len = 0;
}

void
minka_sha256_update (MinkaSha256 *sha, const void *data, gsize len)
{
  const guint8 *p = data;
  BlockFunc blocks = choose_blocks ();

  if (len == 0)                 /* data may be NULL then (an empty GBytes) */
    return;
  sha->total += len;
  if (sha->block_len > 0)
    {
      gsize n = MIN (len, 64 - sha->block_len);
      memcpy (sha->block + sha->block_len, p, n);
      sha->block_len += n;
      p += n;
      len -= n;
      if (sha->block_len < 64)
        return;
      blocks (sha->state, sha->block, 1);
      sha->block_len = 0;
    }
  if (len >= 64)
    {
      blocks (sha->state, p, len / 64);
      p += len & ~(gsize) 63;
      len &= 63;
    }
  memcpy (sha->block, p, len);
  sha->block_len = len;
}

void
minka_sha256_finish (MinkaSha256 *sha, guint8 digest[MINKA_SHA256_LEN])
{
  guint64 bits = sha->total * 8;
  guint8 pad[72] = { 0x80 };
  gsize pad_len = (sha->block_len < 56 ? 56 : 120) - sha->block_len;
  for (int i = 0; i < 8; i++)
    pad[pad_len + i] = (guint8) (bits >> (56 - 8 * i));
  minka_sha256_update (sha, pad, pad_len + 8);
  for (int i = 0; i < 8; i++)
    {
      digest[4 * i] = (guint8) (sha->state[i] >> 24);
      digest[4 * i + 1] = (guint8) (sha->state[i] >> 16);
      digest[4 * i + 2] = (guint8) (sha->state[i] >> 8);
      digest[4 * i + 3] = (guint8) sha->state[i];
    }
}

void
minka_sha256_finish_hex (MinkaSha256 *sha, char hex[MINKA_SHA256_HEX_LEN + 1])
{
  static const char digits[] = "0123456789abcdef";
  guint8 digest[MINKA_SHA256_LEN];
  minka_sha256_finish (sha, digest);
  for (int i = 0; i < MINKA_SHA256_LEN; i++)
    {
      hex[2 * i] = digits[digest[i] >> 4];
      hex[2 * i + 1] = digits[digest[i] & 15];
    }
  hex[MINKA_SHA256_HEX_LEN] = '\0';
}

char *
minka_sha256_hex (const void *data, gsize len)
{
  MinkaSha256 sha;
  char *hex = g_malloc (MINKA_SHA256_HEX_LEN + 1);
  minka_sha256_init (&sha);
  minka_sha256_update (&sha, data, len);
  minka_sha256_finish_hex (&sha, hex);
  return hex;
}
