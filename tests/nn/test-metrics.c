/* test-metrics.c — accuracy, log-loss, confusion matrix, MSE, MAE, R² and
 * argmax against hand-computed values. */
#include <check.h>
#include <glib.h>
#include <math.h>

#include "nn-metrics.h"

START_TEST (test_argmax)
{
  const float v[] = { 0.1f, 0.7f, 0.7f, 0.2f };
  ck_assert_uint_eq (nn_argmax (v, 4), 1);   /* first of equal maxima */
  const float w[] = { NAN, -5.0f, -1.0f };
  ck_assert_uint_eq (nn_argmax (w, 3), 2);
  ck_assert_uint_eq (nn_argmax (v, 1), 0);
}
END_TEST

START_TEST (test_accuracy_and_confusion)
{
  const float probs[] = {
    0.8f, 0.1f, 0.1f,   /* pred 0, true 0 */
    0.2f, 0.5f, 0.3f,   /* pred 1, true 2 */
    0.1f, 0.1f, 0.8f,   /* pred 2, true 2 */
    0.3f, 0.6f, 0.1f,   /* pred 1, true 1 */
  };
  const guint32 labels[] = { 0, 2, 2, 1 };
  ck_assert_double_eq_tol (nn_metric_accuracy (probs, labels, 4, 3), 0.75, 1e-12);
  guint64 conf[9];
  nn_metric_confusion (probs, labels, 4, 3, conf);
  const guint64 expected[9] = { 1, 0, 0,  0, 1, 0,  0, 1, 1 };
  for (int i = 0; i < 9; i++)
    ck_assert_uint_eq (conf[i], expected[i]);
  ck_assert (isnan (nn_metric_accuracy (probs, labels, 0, 3)));
}
END_TEST

START_TEST (test_log_loss)
{
  const float probs[] = { 0.5f, 0.5f,  0.2f, 0.8f };
  const guint32 labels[] = { 0, 1 };
  double expected = -(log (0.5) + log (0.8)) / 2;
  ck_assert_double_eq_tol (nn_metric_log_loss (probs, labels, 2, 2), expected, 1e-6);
  /* a zero probability on the true class is clamped: finite and large */
  const float bad[] = { 0.0f, 1.0f };
  const guint32 l0[] = { 0 };
  double ll = nn_metric_log_loss (bad, l0, 1, 2);
  ck_assert (isfinite (ll));
  ck_assert_double_gt (ll, 10.0);
  /* a perfect prediction stays non-negative */
  const guint32 l1[] = { 1 };
  ck_assert_double_ge (nn_metric_log_loss (bad, l1, 1, 2), 0.0);
  ck_assert_double_lt (nn_metric_log_loss (bad, l1, 1, 2), 1e-6);
}
END_TEST

START_TEST (test_regression_metrics)
{
  const float pred[] = { 1.0f, 2.0f, 4.0f };
  const float target[] = { 1.0f, 3.0f, 2.0f };
  ck_assert_double_eq_tol (nn_metric_mse (pred, target, 3), 5.0 / 3, 1e-9);
  ck_assert_double_eq_tol (nn_metric_mae (pred, target, 3), 1.0, 1e-9);
  /* mean 2, SS_tot = 1+1+0 = 2, SS_res = 0+1+4 = 5 → R² = 1 - 2.5 */
  ck_assert_double_eq_tol (nn_metric_r2 (pred, target, 3), -1.5, 1e-9);
  ck_assert_double_eq_tol (nn_metric_r2 (target, target, 3), 1.0, 1e-12);
  const float mean[] = { 2.0f, 2.0f, 2.0f };
  ck_assert_double_eq_tol (nn_metric_r2 (mean, target, 3), 0.0, 1e-12);
  /* constant target */
  ck_assert_double_eq_tol (nn_metric_r2 (mean, mean, 3), 1.0, 1e-12);
  ck_assert_double_eq_tol (nn_metric_r2 (pred, mean, 3), 0.0, 1e-12);
  ck_assert (isnan (nn_metric_mse (pred, target, 0)));
  ck_assert (isnan (nn_metric_r2 (pred, target, 0)));
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("metrics");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_argmax);
  tcase_add_test (tc, test_accuracy_and_confusion);
  tcase_add_test (tc, test_log_loss);
  tcase_add_test (tc, test_regression_metrics);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
