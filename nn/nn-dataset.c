/* nn-dataset.c — dataset lifetime, seeded train/validation split,
 * normalisation statistics, and per-batch gathering (uint8 or float rows →
 * normalised floats). The loaders live in nn-csv.c and nn-idx.c. */
#include "nn-dataset.h"
#include "nn-layers.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (nn-error-quark, nn_error)

void
nn_dataset_free (NnDataset *ds)
{
  if (ds == NULL)
    return;
  g_free (ds->features);
  g_free (ds->pixels);
  g_free (ds->labels);
  g_free (ds->targets);
  g_strfreev (ds->feature_names);
  g_strfreev (ds->class_names);
  g_free (ds->label_name);
  g_free (ds);
}

void
nn_dataset_split (const NnDataset *ds, double val_fraction, guint64 seed,
                  guint32 **train_rows, guint *n_train,
                  guint32 **val_rows, guint *n_val)
{
  guint n = ds->n_rows;
  if (!(val_fraction > 0.0))
    val_fraction = 0.0;
  if (val_fraction >= 1.0)
    val_fraction = 0.0;
  guint nv = (guint) floor (val_fraction * n + 0.5);
  if (nv >= n && n > 0)
    nv = n - 1;

  guint32 *all = g_new (guint32, n ? n : 1);
  for (guint i = 0; i < n; i++)
    all[i] = i;
  NnRng rng;
  nn_rng_seed (&rng, seed);
  nn_rng_shuffle (&rng, all, n);

  *n_val = nv;
  *val_rows = nv ? g_memdup2 (all, sizeof (guint32) * nv) : NULL;
  *n_train = n - nv;
  *train_rows = g_new (guint32, (n - nv) ? (n - nv) : 1);
  memcpy (*train_rows, all + nv, sizeof (guint32) * (n - nv));
  g_free (all);
}

static NnNormalization *
normalization_alloc (guint n_features)
{
  NnNormalization *norm = g_new0 (NnNormalization, 1);
  norm->n_features = n_features;
  norm->shift = g_new0 (float, n_features ? n_features : 1);
  norm->scale = g_new (float, n_features ? n_features : 1);
  for (guint j = 0; j < n_features; j++)
    norm->scale[j] = 1.0f;
  return norm;
}

NnNormalization *
nn_normalization_new_identity (guint n_features)
{
  return normalization_alloc (n_features);
}

void
nn_normalization_free (NnNormalization *norm)
{
  if (norm == NULL)
    return;
  g_free (norm->shift);
  g_free (norm->scale);
  g_free (norm);
}

NnNormalization *
nn_normalization_from_rows (const NnDataset *ds, const guint32 *rows,
                            guint n_rows)
{
  guint f = ds->n_features;
  NnNormalization *norm = normalization_alloc (f);
  if (ds->pixels != NULL)
    {
      for (guint j = 0; j < f; j++)
        norm->scale[j] = 1.0f / 255.0f;
      return norm;
    }
  if (ds->features == NULL || n_rows == 0)
    return norm;

  /* Two passes in double: mean, then variance (no cancellation). */
  double *mean = g_new0 (double, f ? f : 1);
  double *var = g_new0 (double, f ? f : 1);
  for (guint r = 0; r < n_rows; r++)
    {
      const float *x = ds->features + (gsize) rows[r] * f;
      for (guint j = 0; j < f; j++)
        mean[j] += x[j];
    }
  for (guint j = 0; j < f; j++)
    mean[j] /= n_rows;
  for (guint r = 0; r < n_rows; r++)
    {
      const float *x = ds->features + (gsize) rows[r] * f;
      for (guint j = 0; j < f; j++)
        {
          double d = x[j] - mean[j];
          var[j] += d * d;
        }
    }
  for (guint j = 0; j < f; j++)
    {
      double sd = sqrt (var[j] / n_rows);
      norm->shift[j] = (float) mean[j];
      norm->scale[j] = (sd > 1e-12 * (fabs (mean[j]) + 1.0) && isfinite (sd))
                       ? (float) (1.0 / sd) : 1.0f;
      if (!isfinite (norm->shift[j]))
        norm->shift[j] = 0.0f;
    }
  g_free (mean);
  g_free (var);
  return norm;
}

#define GATHER_AHEAD 4

void
nn_dataset_gather (const NnDataset *ds, const guint32 *rows, guint n,
                   const NnNormalization *norm, float *out)
{
  guint f = ds->n_features;
  g_return_if_fail (norm == NULL || norm->n_features == f);
  gsize row_bytes = (gsize) f * (ds->pixels != NULL ? 1 : sizeof (float));
  const char *base = ds->pixels != NULL ? (const char *) ds->pixels
                                        : (const char *) ds->features;
  for (guint r = 0; r < n; r++)
    {
      float *dst = out + (gsize) r * f;
      gsize at = (gsize) rows[r] * f;
      /* Rows are shuffled, so each is a fresh DRAM access: fetch a few rows
       * ahead (measured: the conversion was latency-bound). */
      if (r + GATHER_AHEAD < n && base != NULL)
        {
          const char *next = base + (gsize) rows[r + GATHER_AHEAD] * row_bytes;
          for (gsize b = 0; b < row_bytes; b += 64)
            __builtin_prefetch (next + b);
        }
      if (ds->pixels != NULL)
        {
          const guint8 *src = ds->pixels + at;
          if (norm != NULL)
            nn_vec_u8_affine (dst, src, norm->shift, norm->scale, f);
          else
            for (guint j = 0; j < f; j++)
              dst[j] = src[j];
        }
      else
        {
          const float *src = ds->features + at;
          if (norm != NULL)
            nn_vec_affine (dst, src, norm->shift, norm->scale, f);
          else
            memcpy (dst, src, sizeof (float) * f);
        }
    }
}
