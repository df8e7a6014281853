/* test-cli-names.c — the local file names `minka get` writes to: whatever
 * a catalog name holds, the result stays in the chosen folder and is a
 * name Windows accepts too. */
#include <check.h>

#include "cli-cluster.h"

typedef struct {
  const char *name;
  const char *expected;
} NameCase;

static const NameCase name_cases[] = {
  { "data.csv", "data.csv" },
  { "../../etc/passwd", "passwd" },
  { "dir\\sub\\file.txt", "file.txt" },
  { "a:b*c?.txt", "a_b_c_.txt" },
  { "tab\there", "tab_here" },
  { "..", "fallback" },
  { ".", "fallback" },
  { "", "fallback" },
  { "dir/", "fallback" },
  { "report.", "report" },
  { "trailing space ", "trailing space" },
  { "CON", "_CON" },
  { "nul.txt", "_nul.txt" },
  { "com1.log", "_com1.log" },
  { "LPT9", "_LPT9" },
  { "COM", "COM" },
  { "console.txt", "console.txt" },
  { "aux1", "aux1" },
  { "café.csv", "café.csv" },
};

START_TEST (test_safe_filename)
{
  const NameCase *c = &name_cases[_i];
  g_autofree char *got = cli_cluster_safe_filename (c->name, "fallback");
  ck_assert_msg (g_strcmp0 (got, c->expected) == 0, "“%s” gave “%s”, expected “%s”",
                 c->name, got, c->expected);
}
END_TEST

START_TEST (test_safe_filename_null)
{
  g_autofree char *got = cli_cluster_safe_filename (NULL, "fallback");
  ck_assert_str_eq (got, "fallback");
  g_autofree char *invalid = cli_cluster_safe_filename ("bad\xff.bin", "fallback");
  ck_assert_str_eq (invalid, "fallback");
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("cli-names");
  TCase *tc = tcase_create ("names");
  tcase_add_loop_test (tc, test_safe_filename, 0, G_N_ELEMENTS (name_cases));
  tcase_add_test (tc, test_safe_filename_null);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? 0 : 1;
}
