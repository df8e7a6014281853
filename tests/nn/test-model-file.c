/* test-model-file.c — the .minka format: round trip of parameters and
 * metadata, and rejection (never a crash) of truncated, bit-flipped,
 * wrong-magic, wrong-version and inconsistent files. */
#include <check.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "nn-model.h"
#include "test-crc32.h"

static NnModel *
make_model (void)
{
  guint hidden[2] = { 6, 4 };
  NnModel *m = nn_model_new (NN_TASK_CLASSIFICATION, 3, hidden, 2, 3,
                             NN_ACT_TANH, 99);
  NnDataset ds = { 0 };
  char *names[] = { "sepal length", "wïdth", "x,\"y\"", NULL };
  char *classes[] = { "setosa", "versicolor", "virginica", NULL };
  ds.n_features = 3;
  ds.feature_names = names;
  ds.class_names = classes;
  ds.n_classes = 3;
  ds.label_name = "species";
  NnNormalization *norm = nn_normalization_new_identity (3);
  norm->shift[0] = 5.8f;
  norm->shift[1] = -0.1f;
  norm->scale[2] = 1.0f / 3.0f;
  nn_model_set_schema (m, &ds, norm);
  nn_normalization_free (norm);
  nn_model_set_metric (m, "test_accuracy", 0.9712);
  nn_model_set_metric (m, "val_loss", 0.123456789);
  nn_model_set_metric (m, "nan_metric", NAN);   /* not stored */
  m->created_unix = 1763800000;
  return m;
}

static void
assert_models_equal (const NnModel *a, const NnModel *b)
{
  ck_assert_int_eq (a->task, b->task);
  ck_assert_uint_eq (a->n_layers, b->n_layers);
  for (guint l = 0; l <= a->n_layers; l++)
    ck_assert_uint_eq (a->sizes[l], b->sizes[l]);
  ck_assert_int_eq (a->activation, b->activation);
  ck_assert_uint_eq (a->n_params, b->n_params);
  ck_assert (memcmp (a->params, b->params, 4 * a->n_params) == 0);
  ck_assert (g_strv_equal ((const char * const *) a->input_names,
                           (const char * const *) b->input_names));
  ck_assert (g_strv_equal ((const char * const *) a->class_names,
                           (const char * const *) b->class_names));
  ck_assert_str_eq (a->label_name, b->label_name);
  ck_assert (memcmp (a->norm->shift, b->norm->shift, 4 * a->norm->n_features) == 0);
  ck_assert (memcmp (a->norm->scale, b->norm->scale, 4 * a->norm->n_features) == 0);
  ck_assert_int_eq (a->created_unix, b->created_unix);
}

START_TEST (test_round_trip_bytes)
{
  g_autoptr (NnModel) m = make_model ();
  g_autoptr (GBytes) bytes = nn_model_serialize (m);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnModel) back = nn_model_deserialize (bytes, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  assert_models_equal (m, back);
  double *acc = g_hash_table_lookup (back->metrics, "test_accuracy");
  double *vl = g_hash_table_lookup (back->metrics, "val_loss");
  ck_assert (acc != NULL && *acc == 0.9712);
  ck_assert (vl != NULL && *vl == 0.123456789);
  ck_assert (g_hash_table_lookup (back->metrics, "nan_metric") == NULL);
  /* serialising again gives the same bytes */
  g_autoptr (GBytes) again = nn_model_serialize (back);
  ck_assert (g_bytes_equal (bytes, again));
  /* and the same predictions */
  float x[6] = { 5.0f, 0.2f, 1.0f, 7.0f, -1.0f, 0.0f }, pa[6], pb[6];
  nn_model_predict (m, x, 2, pa);
  nn_model_predict (back, x, 2, pb);
  ck_assert (memcmp (pa, pb, sizeof pa) == 0);
}
END_TEST

START_TEST (test_round_trip_regression_minimal)
{
  /* no hidden layer, no schema at all */
  g_autoptr (NnModel) m = nn_model_new (NN_TASK_REGRESSION, 4, NULL, 0, 1,
                                        NN_ACT_RELU, 5);
  g_autoptr (GBytes) bytes = nn_model_serialize (m);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnModel) back = nn_model_deserialize (bytes, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  ck_assert_int_eq (back->task, NN_TASK_REGRESSION);
  ck_assert (back->input_names == NULL && back->class_names == NULL);
  ck_assert (back->norm == NULL && back->label_name == NULL);
  ck_assert (memcmp (m->params, back->params, 4 * m->n_params) == 0);
}
END_TEST

START_TEST (test_save_load_file)
{
  g_autoptr (NnModel) m = make_model ();
  g_autofree char *dir = g_dir_make_tmp ("minka-model-XXXXXX", NULL);
  ck_assert (dir != NULL);
  g_autofree char *path = g_build_filename (dir, "m.minka", NULL);
  g_autoptr (GError) error = NULL;
  ck_assert (nn_model_save (m, path, &error));
  g_autoptr (NnModel) back = nn_model_load (path, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  assert_models_equal (m, back);
  /* overwrite in place */
  ck_assert (nn_model_save (back, path, &error));
  g_remove (path);
  g_autoptr (NnModel) missing = nn_model_load (path, &error);
  ck_assert (missing == NULL);
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_IO));
  g_clear_error (&error);
  g_autofree char *bad = g_build_filename (dir, "no", "such", "dir.minka", NULL);
  ck_assert (!nn_model_save (m, bad, &error));
  ck_assert (g_error_matches (error, NN_ERROR, NN_ERROR_IO));
  g_rmdir (dir);
}
END_TEST

static void
expect_format_error (const guint8 *data, gsize len, const char *fragment)
{
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnModel) m = nn_model_deserialize (b, &error);
  ck_assert_msg (m == NULL, "accepted a bad file (len %zu)", (size_t) len);
  ck_assert_msg (g_error_matches (error, NN_ERROR, NN_ERROR_FORMAT),
                 "wrong error: %s", error ? error->message : "(none)");
  if (fragment != NULL)
    ck_assert_msg (strstr (error->message, fragment) != NULL,
                   "message “%s” lacks “%s”", error->message, fragment);
}

START_TEST (test_truncated_every_length)
{
  g_autoptr (NnModel) m = make_model ();
  g_autoptr (GBytes) bytes = nn_model_serialize (m);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  for (gsize n = 0; n < len; n++)
    expect_format_error (data, n, "truncated");
  /* trailing garbage */
  guint8 *longer = g_malloc (len + 3);
  memcpy (longer, data, len);
  memset (longer + len, 0, 3);
  expect_format_error (longer, len + 3, NULL);
  g_free (longer);
}
END_TEST

START_TEST (test_bit_flips)
{
  g_autoptr (NnModel) m = make_model ();
  g_autoptr (GBytes) bytes = nn_model_serialize (m);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint8 *copy = g_memdup2 (data, len);
  for (gsize i = 0; i < len; i++)
    {
      guint8 bit = (guint8) (1u << (i % 8));
      copy[i] ^= bit;
      expect_format_error (copy, len, NULL);
      copy[i] ^= bit;
    }
  g_free (copy);
}
END_TEST

START_TEST (test_wrong_magic_and_foreign)
{
  const char *png = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR and more bytes here........";
  expect_format_error ((const guint8 *) png, 40, "magic");
  const char *text = "task,layers\nclassification,3\n";
  expect_format_error ((const guint8 *) text, strlen (text), "magic");
  guint8 zeros[100] = { 0 };
  expect_format_error (zeros, sizeof zeros, "magic");
  expect_format_error (zeros, 3, "magic");
}
END_TEST

/* Rewrite a file's fields and fix its CRC, to test the checks after it. */
static GBytes *
forge (const NnModel *m, guint32 version, const char *json_replace_from,
       const char *json_replace_to, gint64 n_params_override)
{
  g_autoptr (GBytes) bytes = nn_model_serialize (m);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint32 hlen;
  memcpy (&hlen, data + 12, 4);
  hlen = GUINT32_FROM_LE (hlen);
  g_autofree char *json = g_strndup ((const char *) data + 24, hlen);
  if (json_replace_from != NULL)
    {
      char *at = strstr (json, json_replace_from);
      g_assert (at != NULL);
      g_autofree char *head = g_strndup (json, at - json);
      char *edited = g_strconcat (head, json_replace_to,
                                  at + strlen (json_replace_from), NULL);
      g_free (json);
      json = edited;
    }
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, data, 8);
  guint32 v = GUINT32_TO_LE (version), h = GUINT32_TO_LE ((guint32) strlen (json));
  g_byte_array_append (out, (guint8 *) &v, 4);
  g_byte_array_append (out, (guint8 *) &h, 4);
  guint64 np = GUINT64_TO_LE (n_params_override >= 0 ? (guint64) n_params_override
                                                     : m->n_params);
  g_byte_array_append (out, (guint8 *) &np, 8);
  g_byte_array_append (out, (guint8 *) json, strlen (json));
  g_byte_array_append (out, data + 24 + hlen, 4 * m->n_params);
  guint32 crc = GUINT32_TO_LE (test_crc32 (out->data, out->len));
  g_byte_array_append (out, (guint8 *) &crc, 4);
  return g_byte_array_free_to_bytes (out);
}

static void
expect_forged_error (GBytes *b, const char *fragment)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (b, &len);
  expect_format_error (d, len, fragment);
  g_bytes_unref (b);
}

START_TEST (test_forged_headers)
{
  g_autoptr (NnModel) m = make_model ();
  /* the forger itself produces a valid file when nothing is changed */
  {
    g_autoptr (GBytes) ok = forge (m, 1, NULL, NULL, -1);
    g_autoptr (GError) error = NULL;
    g_autoptr (NnModel) back = nn_model_deserialize (ok, &error);
    ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  }
  expect_forged_error (forge (m, 2, NULL, NULL, -1), "version 2");
  expect_forged_error (forge (m, 0, NULL, NULL, -1), "version");
  /* sizes inconsistent with the weight count */
  expect_forged_error (forge (m, 1, "[3,6,4,3]", "[3,6,5,3]", -1), "parameters");
  expect_forged_error (forge (m, 1, "[3,6,4,3]", "[3,6,4,0]", -1), "layer size");
  expect_forged_error (forge (m, 1, "[3,6,4,3]", "[3,4000000000,4,3]", -1), "layer size");
  expect_forged_error (forge (m, 1, "[3,6,4,3]", "[3,6,4,-3]", -1), "layer size");
  expect_forged_error (forge (m, 1, "[3,6,4,3]", "[3.5,6,4,3]", -1), "layer size");
  expect_forged_error (forge (m, 1, "[3,6,4,3]", "[16777216,16777216,4,3]", -1), "parameters");
  expect_forged_error (forge (m, 1, "[3,6,4,3]", "[3]", -1), "layers");
  expect_forged_error (forge (m, 1, "[3,6,4,3]", "\"big\"", -1), "layers");
  /* n_params field disagreeing with the actual size */
  expect_forged_error (forge (m, 1, NULL, NULL, (gint64) m->n_params + 1), "truncated");
  expect_forged_error (forge (m, 1, NULL, NULL, G_GINT64_CONSTANT (1) << 40), "parameter count");
  /* schema fields */
  expect_forged_error (forge (m, 1, "\"classification\"", "\"clustering\"", -1), "task");
  expect_forged_error (forge (m, 1, "\"tanh\"", "\"swish\"", -1), "activation");
  expect_forged_error (forge (m, 1, "\"setosa\",", "", -1), "class_names");
  expect_forged_error (forge (m, 1, "\"setosa\"", "7", -1), "class_names");
  expect_forged_error (forge (m, 1, "\"sepal length\",", "", -1), "input_names");
  expect_forged_error (forge (m, 1, "\"species\"", "[]", -1), "label_name");
  expect_forged_error (forge (m, 1, "\"shift\":[", "\"shift\":[1,", -1), "shift");
  expect_forged_error (forge (m, 1, "\"scale\":[", "\"scale\":[\"a\",", -1), "scale");
  /* finite as a double, not as a float32 (found by fuzz-model) */
  expect_forged_error (forge (m, 1, "\"shift\":[5.8000001907348633", "\"shift\":[1e39", -1),
                       "shift");
  expect_forged_error (forge (m, 1, "\"normalization\":{", "\"normalization\":[{", -1), NULL);
  expect_forged_error (forge (m, 1, "\"test_accuracy\":", "\"test_accuracy\":\"x\",\"a\":", -1), "metric");
  expect_forged_error (forge (m, 1, "\"setosa\",", "\"virginica\",", -1), "twice");
  expect_forged_error (forge (m, 1, "\"sepal length\",", "\"wïdth\",", -1), "twice");
  /* weights that are not finite numbers (a diverged model) */
  for (guint k = 0; k < 2; k++)
    {
      g_autoptr (NnModel) bad = make_model ();
      bad->params[k == 0 ? 0 : bad->n_params - 1] = k == 0 ? NAN : -INFINITY;
      g_autoptr (GBytes) b = nn_model_serialize (bad);
      gsize len;
      const guint8 *d = g_bytes_get_data (b, &len);
      expect_format_error (d, len, "not a finite number");
    }
  /* a creation time no gint64 holds (found by fuzz-model) */
  expect_forged_error (forge (m, 1, "\"created_unix\":", "\"created_unix\":1e300,\"x\":", -1),
                       "created_unix");
  expect_forged_error (forge (m, 1, "\"created_unix\":", "\"created_unix\":-1e19,\"x\":", -1),
                       "created_unix");
  expect_forged_error (forge (m, 1, "{", "[", -1), NULL);
  expect_forged_error (forge (m, 1, "{", "", -1), "JSON");
}
END_TEST

START_TEST (test_activation_names)
{
  NnActivation a;
  ck_assert (nn_activation_from_name ("relu", &a) && a == NN_ACT_RELU);
  ck_assert (nn_activation_from_name ("TANH", &a) && a == NN_ACT_TANH);
  ck_assert (nn_activation_from_name ("sigmoid", &a) && a == NN_ACT_SIGMOID);
  ck_assert (!nn_activation_from_name ("gelu", &a));
  ck_assert (!nn_activation_from_name (NULL, &a));
  ck_assert_str_eq (nn_activation_name (NN_ACT_SIGMOID), "sigmoid");
}
END_TEST

START_TEST (test_model_layout)
{
  guint hidden[1] = { 5 };
  g_autoptr (NnModel) m = nn_model_new (NN_TASK_CLASSIFICATION, 4, hidden, 1, 3,
                                        NN_ACT_RELU, 1);
  ck_assert_uint_eq (m->n_params, 4 * 5 + 5 + 5 * 3 + 3);
  ck_assert (nn_model_weights (m, 0) == m->params);
  ck_assert (nn_model_biases (m, 0) == m->params + 20);
  ck_assert (nn_model_weights (m, 1) == m->params + 25);
  ck_assert (nn_model_biases (m, 1) == m->params + 40);
  for (guint i = 20; i < 25; i++)
    ck_assert (m->params[i] == 0.0f);
  /* same seed, same weights; other seed, other weights */
  g_autoptr (NnModel) same = nn_model_new (NN_TASK_CLASSIFICATION, 4, hidden, 1, 3,
                                           NN_ACT_RELU, 1);
  g_autoptr (NnModel) other = nn_model_new (NN_TASK_CLASSIFICATION, 4, hidden, 1, 3,
                                            NN_ACT_RELU, 2);
  ck_assert (memcmp (m->params, same->params, 4 * m->n_params) == 0);
  ck_assert (memcmp (m->params, other->params, 4 * m->n_params) != 0);
  /* predict: probabilities that sum to 1, one row and many rows agree */
  float x[8 * 4], p[8 * 3], p1[3];
  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = (float) i / 7.0f - 2.0f;
  nn_model_predict (m, x, 8, p);
  for (guint r = 0; r < 8; r++)
    {
      ck_assert (fabsf (p[r * 3] + p[r * 3 + 1] + p[r * 3 + 2] - 1.0f) < 1e-5f);
      nn_model_predict (m, x + r * 4, 1, p1);
      for (guint j = 0; j < 3; j++)
        ck_assert (fabsf (p1[j] - p[r * 3 + j]) < 1e-5f);
    }
}
END_TEST

/* Large batches run on the shared pool; results must match row by row,
 * also with several threads predicting at once. */
typedef struct {
  const NnModel *model;
  const float *x;
  const float *expect;
  guint n;
  gboolean ok;
} PredictCheck;

static gpointer
predict_thread (gpointer data)
{
  PredictCheck *c = data;
  guint outs = c->model->sizes[c->model->n_layers];
  float *p = g_new (float, c->n * outs);
  c->ok = TRUE;
  for (int rep = 0; rep < 5; rep++)
    {
      nn_model_predict (c->model, c->x, c->n, p);
      for (guint i = 0; i < c->n * outs; i++)
        if (fabsf (p[i] - c->expect[i]) > 1e-5f * (1 + fabsf (c->expect[i])))
          c->ok = FALSE;
    }
  g_free (p);
  return NULL;
}

START_TEST (test_predict_large_batches)
{
  guint hidden[2] = { 40, 20 };
  g_autoptr (NnModel) m = nn_model_new (NN_TASK_CLASSIFICATION, 30, hidden, 2, 5,
                                        NN_ACT_RELU, 3);
  m->norm = nn_normalization_new_identity (30);
  m->norm->shift[3] = 0.5f;
  m->norm->scale[7] = 2.0f;
  guint n = 777;
  float *x = g_new (float, n * 30), *expect = g_new (float, n * 5);
  for (guint i = 0; i < n * 30; i++)
    x[i] = (i * 37 % 101) / 50.0f - 1.0f;
  for (guint r = 0; r < n; r++)
    nn_model_predict (m, x + r * 30, 1, expect + r * 5);
  PredictCheck checks[3];
  GThread *threads[3];
  for (int t = 0; t < 3; t++)
    {
      checks[t] = (PredictCheck) { m, x, expect, n, FALSE };
      threads[t] = g_thread_new ("predict", predict_thread, &checks[t]);
    }
  for (int t = 0; t < 3; t++)
    {
      g_thread_join (threads[t]);
      ck_assert_msg (checks[t].ok, "thread %d: batch ≠ row by row", t);
    }
  g_free (x);
  g_free (expect);
}
END_TEST

static Suite *
model_file_suite (void)
{
  Suite *s = suite_create ("model-file");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_round_trip_bytes);
  tcase_add_test (tc, test_round_trip_regression_minimal);
  tcase_add_test (tc, test_save_load_file);
  tcase_add_test (tc, test_truncated_every_length);
  tcase_add_test (tc, test_bit_flips);
  tcase_add_test (tc, test_wrong_magic_and_foreign);
  tcase_add_test (tc, test_forged_headers);
  tcase_add_test (tc, test_activation_names);
  tcase_add_test (tc, test_model_layout);
  tcase_add_test (tc, test_predict_large_batches);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (model_file_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
