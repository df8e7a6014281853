/* nn-optim.h — SGD with momentum and Adam over one flat parameter array,
 * with L2 weight decay (added to the gradient, on every parameter).
 *
 * An update works on a range [start, end) of the parameters so that the
 * trainer's threads can update disjoint ranges in parallel; the result does
 * not depend on how the array is split. */
#pragma once

#include <glib.h>
#include "nn-train.h"

G_BEGIN_DECLS

typedef struct {
  NnOptimizerKind kind;
  float lr, momentum, beta1, beta2, epsilon, weight_decay;
  gsize n_params;
  float *m;             /* SGD: velocity; Adam: first moment */
  float *v;             /* Adam: second moment; NULL for SGD */
  guint64 step;         /* steps taken (Adam bias correction) */
  /* per-step constants, set by nn_optimizer_begin_step() */
  float step_a, step_c;
} NnOptimizer;

NnOptimizer *nn_optimizer_new (const NnTrainConfig *config, gsize n_params);
void nn_optimizer_free (NnOptimizer *opt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnOptimizer, nn_optimizer_free)

/* Forget the moments (a fresh start). */
void nn_optimizer_reset (NnOptimizer *opt);

/* Call once per step, before the nn_optimizer_update() calls of that step. */
void nn_optimizer_begin_step (NnOptimizer *opt);

/* Apply this step's update to params[start..end) given grad[start..end).
 * Disjoint ranges may be updated from different threads. */
void nn_optimizer_update (NnOptimizer *opt, float *params, const float *grad,
                          gsize start, gsize end);

G_END_DECLS
