/* test-dataset.c — dataset core: seeded train/validation split,
 * normalisation statistics (CSV standardisation, image 1/255), and batch
 * gathering from float and uint8 rows. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "nn-dataset.h"

static NnDataset *
make_float_ds (guint n_rows, guint n_features)
{
  NnDataset *ds = g_new0 (NnDataset, 1);
  ds->n_rows = n_rows;
  ds->n_features = n_features;
  ds->features = g_new (float, n_rows * n_features);
  for (guint r = 0; r < n_rows; r++)
    for (guint j = 0; j < n_features; j++)
      ds->features[r * n_features + j] = (float) (r * (j + 1)) + 0.5f * j;
  return ds;
}

START_TEST (test_split)
{
  g_autoptr (NnDataset) ds = make_float_ds (1000, 1);
  g_autofree guint32 *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL,
                     *tr3 = NULL, *va3 = NULL;
  guint nt, nv, nt2, nv2, nt3, nv3;
  nn_dataset_split (ds, 0.2, 7, &tr, &nt, &va, &nv);
  ck_assert_uint_eq (nv, 200);
  ck_assert_uint_eq (nt, 800);
  gboolean seen[1000] = { FALSE };
  for (guint i = 0; i < nt; i++)
    {
      ck_assert_uint_lt (tr[i], 1000);
      ck_assert (!seen[tr[i]]);
      seen[tr[i]] = TRUE;
    }
  for (guint i = 0; i < nv; i++)
    {
      ck_assert_uint_lt (va[i], 1000);
      ck_assert (!seen[va[i]]);
      seen[va[i]] = TRUE;
    }
  /* the validation rows are spread, not the last 200 */
  guint low = 0;
  for (guint i = 0; i < nv; i++)
    low += va[i] < 500;
  ck_assert (low > 60 && low < 140);
  /* same seed, same split; other seed, other split */
  nn_dataset_split (ds, 0.2, 7, &tr2, &nt2, &va2, &nv2);
  ck_assert (nt2 == nt && memcmp (tr, tr2, 4 * nt) == 0 && memcmp (va, va2, 4 * nv) == 0);
  nn_dataset_split (ds, 0.2, 8, &tr3, &nt3, &va3, &nv3);
  ck_assert (memcmp (va, va3, 4 * nv) != 0);
}
END_TEST

START_TEST (test_split_edges)
{
  g_autoptr (NnDataset) ds = make_float_ds (5, 1);
  guint32 *tr, *va;
  guint nt, nv;
  nn_dataset_split (ds, 0.0, 1, &tr, &nt, &va, &nv);
  ck_assert_uint_eq (nt, 5);
  ck_assert_uint_eq (nv, 0);
  ck_assert (va == NULL);
  g_free (tr);
  /* never the whole set as validation */
  nn_dataset_split (ds, 0.99, 1, &tr, &nt, &va, &nv);
  ck_assert_uint_eq (nt, 1);
  ck_assert_uint_eq (nv, 4);
  g_free (tr);
  g_free (va);
  nn_dataset_split (ds, -3.0, 1, &tr, &nt, &va, &nv);
  ck_assert_uint_eq (nt, 5);
  g_free (tr);
  g_free (va);
}
END_TEST

START_TEST (test_standardisation)
{
  g_autoptr (NnDataset) ds = make_float_ds (101, 3);
  /* column 2 constant */
  for (guint r = 0; r < 101; r++)
    ds->features[r * 3 + 2] = 4.0f;
  /* statistics from the first 51 rows only */
  guint32 rows[51];
  for (guint i = 0; i < 51; i++)
    rows[i] = i;
  g_autoptr (NnNormalization) norm = nn_normalization_from_rows (ds, rows, 51);
  ck_assert_uint_eq (norm->n_features, 3);
  float out[51 * 3];
  nn_dataset_gather (ds, rows, 51, norm, out);
  for (guint j = 0; j < 2; j++)
    {
      double m = 0, v = 0;
      for (guint i = 0; i < 51; i++)
        m += out[i * 3 + j];
      m /= 51;
      for (guint i = 0; i < 51; i++)
        v += (out[i * 3 + j] - m) * (out[i * 3 + j] - m);
      v /= 51;
      ck_assert_msg (fabs (m) < 1e-5, "column %u mean %g", j, m);
      ck_assert_msg (fabs (v - 1) < 1e-4, "column %u variance %g", j, v);
    }
  ck_assert (norm->scale[2] == 1.0f && norm->shift[2] == 4.0f);
  for (guint i = 0; i < 51; i++)
    ck_assert (out[i * 3 + 2] == 0.0f);
  /* column 0 is r: mean 25, population sd sqrt((51²−1)/12) */
  ck_assert (fabsf (norm->shift[0] - 25.0f) < 1e-5f);
  ck_assert (fabs (1.0 / norm->scale[0] - sqrt ((51.0 * 51 - 1) / 12)) < 1e-4);
}
END_TEST

START_TEST (test_gather_pixels)
{
  g_autoptr (NnDataset) ds = g_new0 (NnDataset, 1);
  guint f = 37;   /* a block of 16 twice and a tail */
  ds->n_rows = 4;
  ds->n_features = f;
  ds->pixels = g_new (guint8, 4 * f);
  for (guint i = 0; i < 4 * f; i++)
    ds->pixels[i] = (guint8) (i * 7);
  guint32 all[4] = { 0, 1, 2, 3 };
  g_autoptr (NnNormalization) norm = nn_normalization_from_rows (ds, all, 4);
  for (guint j = 0; j < f; j++)
    {
      ck_assert (norm->shift[j] == 0.0f);
      ck_assert (norm->scale[j] == 1.0f / 255.0f);
    }
  guint32 rows[3] = { 3, 0, 3 };
  float out[3 * 37], raw[3 * 37];
  nn_dataset_gather (ds, rows, 3, norm, out);
  nn_dataset_gather (ds, rows, 3, NULL, raw);
  for (guint i = 0; i < 3; i++)
    for (guint j = 0; j < f; j++)
      {
        guint8 px = ds->pixels[rows[i] * f + j];
        ck_assert (raw[i * f + j] == (float) px);
        ck_assert (fabsf (out[i * f + j] - px / 255.0f) < 1e-7f);
      }
}
END_TEST

START_TEST (test_gather_floats_identity)
{
  g_autoptr (NnDataset) ds = make_float_ds (10, 19);
  g_autoptr (NnNormalization) id = nn_normalization_new_identity (19);
  guint32 rows[2] = { 9, 4 };
  float a[2 * 19], b[2 * 19];
  nn_dataset_gather (ds, rows, 2, id, a);
  nn_dataset_gather (ds, rows, 2, NULL, b);
  ck_assert (memcmp (a, b, sizeof a) == 0);
  ck_assert (memcmp (a, ds->features + 9 * 19, 19 * 4) == 0);
  /* no rows: the identity normalisation for empty statistics */
  g_autoptr (NnNormalization) empty = nn_normalization_from_rows (ds, rows, 0);
  ck_assert (empty->shift[0] == 0.0f && empty->scale[0] == 1.0f);
}
END_TEST

START_TEST (test_free_and_quark)
{
  nn_dataset_free (NULL);
  nn_normalization_free (NULL);
  ck_assert (NN_ERROR != 0);
  ck_assert_str_eq (g_quark_to_string (NN_ERROR), "nn-error-quark");
  NnDataset *ds = g_new0 (NnDataset, 1);
  ds->feature_names = g_strsplit ("a,b", ",", -1);
  ds->label_name = g_strdup ("y");
  ds->labels = g_new0 (guint32, 3);
  nn_dataset_free (ds);   /* ASan checks nothing leaks */
}
END_TEST

static Suite *
dataset_suite (void)
{
  Suite *s = suite_create ("dataset");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_split);
  tcase_add_test (tc, test_split_edges);
  tcase_add_test (tc, test_standardisation);
  tcase_add_test (tc, test_gather_pixels);
  tcase_add_test (tc, test_gather_floats_identity);
  tcase_add_test (tc, test_free_and_quark);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (dataset_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
