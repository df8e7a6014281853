/* nn-dataset.h — tabular (CSV) and image (IDX) datasets held in memory.
 *
 * Features stay in their raw form: floats for CSV, uint8 pixels for images
 * (4× less memory); nn_dataset_gather() converts and normalises one batch
 * at a time. Normalisation is a per-feature (x - shift) * scale, computed
 * from training rows and stored in the model. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NN_ERROR (nn_error_quark ())
GQuark nn_error_quark (void);

typedef enum {
  NN_ERROR_PARSE,          /* bad CSV/IDX content; message names line and column */
  NN_ERROR_IO,             /* cannot read or write a file */
  NN_ERROR_FORMAT,         /* not a .minka file, wrong version, bad CRC, truncated */
  NN_ERROR_MISMATCH,       /* wrong feature count, unknown column, unknown class */
  NN_ERROR_INVALID,        /* bad argument (empty data, zero epochs, ...) */
} NnError;

typedef enum {
  NN_TASK_CLASSIFICATION = 0,
  NN_TASK_REGRESSION = 1,
} NnTask;

typedef struct {
  guint n_rows;
  guint n_features;
  float *features;         /* n_rows × n_features, or NULL when pixels is set */
  guint8 *pixels;          /* n_rows × n_features, or NULL when features is set */
  gboolean has_labels;     /* FALSE when loaded for prediction without a label */
  guint32 *labels;         /* classification: class index per row */
  float *targets;          /* regression: target per row */
  NnTask task;
  char **feature_names;    /* n_features names, NULL-terminated (images: "pixel0"…) */
  char **class_names;      /* classification: n_classes names, NULL-terminated */
  guint n_classes;
  char *label_name;        /* label column name, or "label" for IDX */
} NnDataset;

typedef struct {
  guint n_features;
  float *shift;            /* subtract ... */
  float *scale;            /* ... then multiply */
} NnNormalization;

/* Load a CSV with a header row; separator ',' or ';' detected from the
 * header; quoted fields, CRLF. @label_column names the label (NULL: no label,
 * for prediction). For classification, labels may be strings or integers;
 * @known_classes (NULL-terminated, may be NULL) fixes the class list — used
 * when evaluating a model, an unknown class is then an error. */
NnDataset *nn_dataset_load_csv (const char *path, const char *label_column,
                                NnTask task, const char * const *known_classes,
                                GError **error);

/* Load IDX images (+ labels, may be NULL), plain or gzip. */
NnDataset *nn_dataset_load_idx (const char *images_path, const char *labels_path,
                                GError **error);

void nn_dataset_free (NnDataset *ds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnDataset, nn_dataset_free)

/* Seeded shuffle of 0..n_rows-1 split into train and validation index sets
 * (@val_fraction in [0, 1)). Caller frees both with g_free. */
void nn_dataset_split (const NnDataset *ds, double val_fraction, guint64 seed,
                       guint32 **train_rows, guint *n_train,
                       guint32 **val_rows, guint *n_val);

/* Normalisation from the given rows: images → shift 0, scale 1/255;
 * CSV → standardisation (mean, 1/std; constant columns get scale 1). */
NnNormalization *nn_normalization_from_rows (const NnDataset *ds,
                                             const guint32 *rows, guint n_rows);
NnNormalization *nn_normalization_new_identity (guint n_features);
void nn_normalization_free (NnNormalization *norm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnNormalization, nn_normalization_free)

/* Copy rows[0..n) into @out (n × n_features floats), normalised with @norm
 * (NULL: raw values). */
void nn_dataset_gather (const NnDataset *ds, const guint32 *rows, guint n,
                        const NnNormalization *norm, float *out);

G_END_DECLS
