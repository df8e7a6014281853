/* nn-metrics.c — evaluation metrics: accuracy, confusion matrix and log-loss
 * for classification; MSE, MAE and R² for regression. Sums are in double so
 * that large evaluation sets do not lose precision. With no rows every metric
 * is NAN. */
#include "nn-metrics.h"

#include <math.h>

/* Probabilities are float32: clamping at 1e-7 keeps log() finite and matches
 * what float32 can tell apart from 0 and 1 after a softmax. */
#define NN_LOG_LOSS_EPS 1e-7

guint
nn_argmax (const float *v, guint n)
{
  guint best = 0;
  for (guint i = 1; i < n; i++)
    if (v[i] > v[best] || (isnan (v[best]) && !isnan (v[i])))
      best = i;
  return best;
}

double
nn_metric_accuracy (const float *probs, const guint32 *labels, guint n, guint n_classes)
{
  if (n == 0 || n_classes == 0)
    return NAN;
  guint64 correct = 0;
  for (guint i = 0; i < n; i++)
    if (nn_argmax (probs + (gsize) i * n_classes, n_classes) == labels[i])
      correct++;
  return (double) correct / n;
}

double
nn_metric_log_loss (const float *probs, const guint32 *labels, guint n, guint n_classes)
{
  if (n == 0 || n_classes == 0)
    return NAN;
  double sum = 0.0;
  for (guint i = 0; i < n; i++)
    {
      double p = labels[i] < n_classes ? probs[(gsize) i * n_classes + labels[i]] : 0.0;
      if (!(p > NN_LOG_LOSS_EPS))   /* also catches NaN */
        p = NN_LOG_LOSS_EPS;
      if (p > 1.0 - NN_LOG_LOSS_EPS)
        p = 1.0 - NN_LOG_LOSS_EPS;
      sum -= log (p);
    }
  return sum / n;
}

void
nn_metric_confusion (const float *probs, const guint32 *labels, guint n,
                     guint n_classes, guint64 *confusion)
{
  for (gsize i = 0; i < (gsize) n_classes * n_classes; i++)
    confusion[i] = 0;
  for (guint i = 0; i < n; i++)
    {
      if (labels[i] >= n_classes)
        continue;   /* no row to count it in */
      guint pred = nn_argmax (probs + (gsize) i * n_classes, n_classes);
      confusion[(gsize) labels[i] * n_classes + pred]++;
    }
}

double
nn_metric_mse (const float *pred, const float *target, guint n)
{
  if (n == 0)
    return NAN;
  double sum = 0.0;
  for (guint i = 0; i < n; i++)
    {
      double d = (double) pred[i] - target[i];
      sum += d * d;
    }
  return sum / n;
}

double
nn_metric_mae (const float *pred, const float *target, guint n)
{
  if (n == 0)
    return NAN;
  double sum = 0.0;
  for (guint i = 0; i < n; i++)
    sum += fabs ((double) pred[i] - target[i]);
  return sum / n;
}

/* 1 - SS_res / SS_tot. A constant target has SS_tot = 0: then R² is 1 for a
 * perfect prediction and 0 otherwise (the convention of scikit-learn). */
double
nn_metric_r2 (const float *pred, const float *target, guint n)
{
  if (n == 0)
    return NAN;
  double mean = 0.0;
  for (guint i = 0; i < n; i++)
    mean += target[i];
  mean /= n;
  double ss_res = 0.0, ss_tot = 0.0;
  for (guint i = 0; i < n; i++)
    {
      double r = (double) target[i] - pred[i];
      double t = (double) target[i] - mean;
      ss_res += r * r;
      ss_tot += t * t;
    }
  if (ss_tot == 0.0)
    return ss_res == 0.0 ? 1.0 : 0.0;
  return 1.0 - ss_res / ss_tot;
}
