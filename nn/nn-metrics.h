/* nn-metrics.h — evaluation metrics for classification and regression. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* probs: n × n_classes; labels: n class indices. */
double nn_metric_accuracy (const float *probs, const guint32 *labels, guint n, guint n_classes);
double nn_metric_log_loss (const float *probs, const guint32 *labels, guint n, guint n_classes);
/* confusion: n_classes × n_classes counts, row = true class, column = predicted. */
void nn_metric_confusion (const float *probs, const guint32 *labels, guint n,
                          guint n_classes, guint64 *confusion);

double nn_metric_mse (const float *pred, const float *target, guint n);
double nn_metric_mae (const float *pred, const float *target, guint n);
double nn_metric_r2 (const float *pred, const float *target, guint n);

guint nn_argmax (const float *v, guint n);

G_END_DECLS
