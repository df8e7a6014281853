/* nn-quant-portable.c — the int8 kernels in plain C: the reference that
 * every SIMD kernel must match bit for bit (nn-quant-private.h), and the
 * fallback on CPUs without one. */
#include "nn-quant-private.h"

#include <string.h>

void
nn_quant_row_portable (const float *x, guint k, guint8 *q, gsize ldq,
                       float *sa, gint32 *zp)
{
  float lo = 0.f, hi = 0.f;
  gboolean nan = FALSE;
  for (guint i = 0; i < k; i++)
    {
      lo = x[i] < lo ? x[i] : lo;
      hi = x[i] > hi ? x[i] : hi;
      nan |= x[i] != x[i];
    }
  float inv;
  memset (q, 0, ldq);
  if (!nn_quant_row_params (lo, hi, nan, sa, zp, &inv))
    return;
  float z = (float) *zp;
  for (guint i = 0; i < k; i++)
    {
      float v = x[i] * inv;
      v = v + z;
      v = v > 0.f ? v : 0.f;
      v = v < 255.f ? v : 255.f;
      q[i] = (guint8) nn_quant_round (v);
    }
}

/* The s32 dot products of row @x with the 16 columns of panel @p. */
static void
panel_dot (const NnQuantLayer *layer, const guint8 *x, guint p,
           gint32 acc[NN_QUANT_PANEL])
{
  const gint8 *w = layer->w + (gsize) p * layer->k4 * NN_QUANT_GROUP_BYTES;
  memset (acc, 0, sizeof (gint32) * NN_QUANT_PANEL);
  for (guint g = 0; g < layer->k4; g++)
    {
      const guint8 *xg = x + (gsize) g * NN_QUANT_GROUP;
      for (guint c = 0; c < NN_QUANT_PANEL; c++)
        {
          const gint8 *wc = w + c * NN_QUANT_GROUP;
          acc[c] += xg[0] * wc[0] + xg[1] * wc[1] + xg[2] * wc[2] + xg[3] * wc[3];
        }
      w += NN_QUANT_GROUP_BYTES;
    }
}

void
nn_quant_gemm_portable (const NnQuantLayer *layer, const NnQuantRows *rows,
                        gboolean relu, float *y, gsize ldy)
{
  gint32 acc[NN_QUANT_PANEL];
  for (guint r = 0; r < rows->m; r++)
    {
      const guint8 *x = rows->x + (gsize) r * rows->ldx;
      float *yr = y + (gsize) r * ldy;
      for (guint p = 0; p < layer->n_panels; p++)
        {
          panel_dot (layer, x, p, acc);
          guint j0 = p * NN_QUANT_PANEL;
          guint cols = MIN (NN_QUANT_PANEL, layer->n - j0);
          for (guint c = 0; c < cols; c++)
            {
              guint j = j0 + c;
              float scale = rows->sa[r] * layer->scale[j];
              float v = (float) (acc[c] - rows->zp[r] * layer->colsum[j]);
              v = v * scale;
              v = v + layer->bias[j];
              yr[j] = relu && 0.f > v ? 0.f : v;
            }
        }
    }
}
