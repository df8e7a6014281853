/* nn-model.h — a multilayer perceptron: architecture, parameters, metadata,
 * inference, and the .minka file format (docs/model-format.md).
 *
 * All parameters live in one contiguous float array (layer by layer:
 * weights in×out row-major, then biases), so that workers can exchange and
 * average them as one block. */
#pragma once

#include <glib.h>
#include "nn-dataset.h"

G_BEGIN_DECLS

typedef enum {
  NN_ACT_RELU = 0,
  NN_ACT_TANH,
  NN_ACT_SIGMOID,
} NnActivation;

typedef struct {
  NnTask task;
  guint n_layers;           /* dense layers (hidden + output) */
  guint *sizes;             /* n_layers + 1: input, hidden…, output */
  NnActivation activation;  /* of hidden layers; output is softmax (classification) or linear */
  float *params;            /* all weights and biases, see above */
  gsize n_params;
  NnNormalization *norm;    /* applied to raw inputs before the first layer */
  char **input_names;       /* sizes[0] names, NULL-terminated */
  char **class_names;       /* classification: sizes[n_layers] names; else NULL */
  char *label_name;
  GHashTable *metrics;      /* char* name → double* value (e.g. "test_accuracy") */
  gint64 created_unix;      /* seconds since the epoch */
} NnModel;

/* A new model with He (ReLU) or Xavier (tanh/sigmoid) initialisation from a
 * seeded PRNG. @hidden are the hidden layer widths (may be 0 of them). */
NnModel *nn_model_new (NnTask task, guint n_inputs, const guint *hidden,
                       guint n_hidden, guint n_outputs, NnActivation activation,
                       guint64 seed);
/* A model with @n_layers dense layers of the given @sizes (n_layers + 1
 * entries) and zeroed parameters, no schema (used when loading). */
NnModel *nn_model_new_sized (NnTask task, const guint *sizes, guint n_layers,
                             NnActivation activation);
/* Parameter count for these sizes, or 0 if it overflows / exceeds
 * NN_MODEL_MAX_PARAMS. */
#define NN_MODEL_MAX_PARAMS ((gsize) 1 << 28)
gsize nn_model_count_params (const guint *sizes, guint n_layers);
guint nn_model_n_inputs (const NnModel *model);
guint nn_model_n_outputs (const NnModel *model);
/* Offset of layer @l's weights (then its biases at + in·out) in params. */
gsize nn_model_layer_offset (const NnModel *model, guint layer);
void nn_model_free (NnModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnModel, nn_model_free)

/* Offsets into params for layer @l (0-based). */
float *nn_model_weights (NnModel *model, guint layer);
float *nn_model_biases (NnModel *model, guint layer);

/* Fill names/normalisation/class names from a dataset (takes copies). */
void nn_model_set_schema (NnModel *model, const NnDataset *ds,
                          const NnNormalization *norm);

void nn_model_set_metric (NnModel *model, const char *name, double value);

/* Predict n rows of raw (not normalised) inputs: out is n × outputs, class
 * probabilities or regression values. Thread-safe for a const model. */
void nn_model_predict (const NnModel *model, const float *raw_inputs, guint n,
                       float *out);

/* The .minka format. */
GBytes *nn_model_serialize (const NnModel *model);
NnModel *nn_model_deserialize (GBytes *bytes, GError **error);
gboolean nn_model_save (const NnModel *model, const char *path, GError **error);
NnModel *nn_model_load (const char *path, GError **error);

const char *nn_activation_name (NnActivation act);
gboolean nn_activation_from_name (const char *name, NnActivation *out);

G_END_DECLS
