/* test-config.c — CLUSTER.ini loading and validation, node IDs, writing a
 * config back, and HOST:PORT list parsing. */
#include <check.h>
#include <string.h>
#include <glib/gstdio.h>

#include "minka-config.h"

static MinkaClusterConfig *
load (const char *text, GError **error)
{
  return minka_cluster_config_load_from_data (text, strlen (text), "/base", error);
}

START_TEST (test_load_good)
{
  const char *text =
    "# a comment\n"
    "[cluster]\n"
    "key-file=cluster.key\n"
    "election-timeout-ms=150\n"
    "[worker a]\n"
    "address=127.0.0.1:7001\n"
    "monitor=127.0.0.1:8001\n"
    "[worker b]\n"
    "address=localhost:7002\n"
    "monitor=0.0.0.0:8001\n"
    "[worker c-3.x_y]\n"
    "address=[::1]:7003\n"
    "monitor=0.0.0.0:8001\n"
    "[worker d]\n"
    "address=h:7004\n";
  GError *error = NULL;
  g_autoptr (MinkaClusterConfig) config = load (text, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (config->workers->len, 4);
  g_autofree char *expected_key = g_build_filename ("/base", "cluster.key", NULL);
  ck_assert_str_eq (config->key_file, expected_key);

  const MinkaWorkerConfig *a = minka_cluster_config_find (config, "a");
  ck_assert_ptr_nonnull (a);
  ck_assert_str_eq (a->address.host, "127.0.0.1");
  ck_assert_uint_eq (a->address.port, 7001);
  ck_assert_uint_eq (a->monitor.port, 8001);
  const MinkaWorkerConfig *b = minka_cluster_config_find (config, "b");
  ck_assert_str_eq (b->monitor.host, "0.0.0.0");
  ck_assert_ptr_null (minka_cluster_config_find (config, "d")->monitor.host);
  const MinkaWorkerConfig *c = config->workers->pdata[2];
  ck_assert_str_eq (c->name, "c-3.x_y");
  ck_assert_str_eq (c->address.host, "::1");
  g_autofree char *c_text = minka_address_to_string (&c->address);
  ck_assert_str_eq (c_text, "[::1]:7003");
  ck_assert_ptr_eq (minka_cluster_config_find_id (config, a->id), a);
  ck_assert_ptr_null (minka_cluster_config_find (config, "zz"));

  gint64 value = 0;
  ck_assert (minka_cluster_config_get_int (config, "election-timeout-ms", 100, 10, 10000,
                                           &value, &error));
  ck_assert_int_eq (value, 150);
  ck_assert (minka_cluster_config_get_int (config, "heartbeat-ms", 50, 1, 1000, &value, &error));
  ck_assert_int_eq (value, 50);
  ck_assert (!minka_cluster_config_get_int (config, "election-timeout-ms", 100, 500, 1000,
                                            &value, &error));
  ck_assert_ptr_nonnull (strstr (error->message, "election-timeout-ms"));
  g_clear_error (&error);
}
END_TEST

/* The issue's own example annotates lines with comments; a key-file path
 * with backslashes (Windows) is taken as written, not as escapes. */
START_TEST (test_inline_comments_and_raw_paths)
{
  const char *text =
    "[cluster]\n"
    "key-file=C:\\new\\temp\\cluster.key        # optional shared secret\n"
    "election-timeout-ms=150 ; milliseconds\n"
    "monitor-access=loopback\t# or token, open\n"
    "[worker a]\n"
    "address=127.0.0.1:7001      # peers and clients\n"
    "monitor=127.0.0.1:8001      # web monitor\n"
    "[worker b]\n"
    "address=127.0.0.1:7002\n";
  GError *error = NULL;
  g_autoptr (MinkaClusterConfig) config = load (text, &error);
  ck_assert_msg (error == NULL, "%s", error ? error->message : "");
  const MinkaWorkerConfig *a = minka_cluster_config_find (config, "a");
  ck_assert_uint_eq (a->address.port, 7001);
  ck_assert_uint_eq (a->monitor.port, 8001);
  g_autofree char *key = minka_cluster_config_get_value (config, "cluster", "key-file");
  ck_assert_str_eq (key, "C:\\new\\temp\\cluster.key");
  g_autofree char *access = minka_cluster_config_get_value (config, "cluster", "monitor-access");
  ck_assert_str_eq (access, "loopback");
  gint64 ms = 0;
  ck_assert (minka_cluster_config_get_int (config, "election-timeout-ms", 300, 10, 60000, &ms, NULL));
  ck_assert_int_eq (ms, 150);
  ck_assert_ptr_null (minka_cluster_config_get_value (config, "cluster", "missing"));
  /* A '#' inside a value (no space before it) is part of it. */
  g_autoptr (MinkaClusterConfig) hash = load ("[cluster]\nkey-file=dir#1/k \n[worker a]\naddress=h:1\n", &error);
  ck_assert_ptr_null (error);
  g_autofree char *hashed = minka_cluster_config_get_value (hash, "cluster", "key-file");
  ck_assert_str_eq (hashed, "dir#1/k");
}
END_TEST

START_TEST (test_node_ids_stable)
{
  /* The ID depends only on the name: order and membership do not matter. */
  g_autoptr (MinkaClusterConfig) one = load ("[worker a]\naddress=h:1\n[worker b]\naddress=h:2\n",
                                             NULL);
  g_autoptr (MinkaClusterConfig) two = load ("[worker c]\naddress=h:3\n[worker b]\naddress=h:9\n",
                                             NULL);
  ck_assert_ptr_nonnull (one);
  ck_assert_ptr_nonnull (two);
  ck_assert_uint_eq (minka_cluster_config_find (one, "b")->id,
                     minka_cluster_config_find (two, "b")->id);
  ck_assert_uint_ne (minka_cluster_config_find (one, "a")->id,
                     minka_cluster_config_find (one, "b")->id);
  /* Pinned values: changing the hash would renumber every cluster. */
  ck_assert_uint_eq (minka_config_node_id (""), G_GUINT64_CONSTANT (14695981039346656037));
  ck_assert_uint_eq (minka_config_node_id ("a"), G_GUINT64_CONSTANT (0xaf63dc4c8601ec8c));
  ck_assert_uint_ne (minka_config_node_id ("a"), 0);
}
END_TEST

typedef struct {
  const char *text;
  MinkaConfigError code;
  const char *mentions;       /* the message must name this */
} BadConfig;

static const BadConfig bad_configs[] = {
  { "not a key file", MINKA_CONFIG_ERROR_PARSE, NULL },
  { "[cluster]\n", MINKA_CONFIG_ERROR_INVALID, "worker" },
  { "[worker a]\nmonitor=h:1\n", MINKA_CONFIG_ERROR_INVALID, "[worker a] address" },
  { "[worker a]\naddress=h\n", MINKA_CONFIG_ERROR_INVALID, "[worker a] address" },
  { "[worker a]\naddress=h:0\n", MINKA_CONFIG_ERROR_INVALID, "1 to 65535" },
  { "[worker a]\naddress=h:65536\n", MINKA_CONFIG_ERROR_INVALID, "h:65536" },
  { "[worker a]\naddress=h:-5\n", MINKA_CONFIG_ERROR_INVALID, "h:-5" },
  { "[worker a]\naddress=h:70x\n", MINKA_CONFIG_ERROR_INVALID, "h:70x" },
  { "[worker a]\naddress=:7000\n", MINKA_CONFIG_ERROR_INVALID, "host" },
  { "[worker a]\naddress=bad_host!:7000\n", MINKA_CONFIG_ERROR_INVALID, "host" },
  { "[worker a]\naddress=::1:7000\n", MINKA_CONFIG_ERROR_INVALID, "IPv6" },
  { "[worker a]\naddress=[nothost]:7000\n", MINKA_CONFIG_ERROR_INVALID, "IPv6" },
  { "[worker a]\naddress=h:1\nmonitor=h:x\n", MINKA_CONFIG_ERROR_INVALID, "[worker a] monitor" },
  { "[worker a]\naddress=h:1\nport=3\n", MINKA_CONFIG_ERROR_INVALID, "port" },
  { "[worker ]\naddress=h:1\n", MINKA_CONFIG_ERROR_INVALID, "worker" },
  { "[worker ../x]\naddress=h:1\n", MINKA_CONFIG_ERROR_INVALID, "../x" },
  { "[workers]\naddress=h:1\n", MINKA_CONFIG_ERROR_INVALID, "[workers]" },
  { "[worker a]\naddress=h:1\n[worker  a]\naddress=h:2\n", MINKA_CONFIG_ERROR_DUPLICATE, "a" },
  { "[worker a]\naddress=h:1\n[worker b]\naddress=H:1\n", MINKA_CONFIG_ERROR_DUPLICATE,
    "[worker b] address" },
  { "[worker a]\naddress=h:1\nmonitor=h:2\n[worker b]\naddress=h:2\n",
    MINKA_CONFIG_ERROR_DUPLICATE, "worker a" },
  { "[worker a]\naddress=h:1\nmonitor=h:1\n", MINKA_CONFIG_ERROR_DUPLICATE, "monitor" },
  { "[worker a]\naddress=10.0.0.1:1\n[worker b]\naddress=10.0.0.1:1\n",
    MINKA_CONFIG_ERROR_DUPLICATE, "[worker b] address" },
  { "[cluster]\nkey-file=\n[worker a]\naddress=h:1\n", MINKA_CONFIG_ERROR_INVALID, "key-file" },
};

START_TEST (test_load_bad)
{
  const BadConfig *bad = &bad_configs[_i];
  GError *error = NULL;
  MinkaClusterConfig *config = load (bad->text, &error);
  ck_assert_msg (config == NULL, "case %d accepted", _i);
  ck_assert_msg (g_error_matches (error, MINKA_CONFIG_ERROR, (gint) bad->code),
                 "case %d: %s", _i, error->message);
  if (bad->mentions != NULL)
    ck_assert_msg (strstr (error->message, bad->mentions) != NULL,
                   "case %d: \"%s\" does not mention %s", _i, error->message, bad->mentions);
  g_clear_error (&error);
}
END_TEST

START_TEST (test_write_and_reload)
{
  g_autofree char *dir = g_dir_make_tmp ("minka-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "CLUSTER.ini", NULL);
  g_autoptr (MinkaClusterConfig) config = minka_cluster_config_new ();
  GError *error = NULL;
  minka_cluster_config_set_key_file (config, "cluster.key");
  ck_assert (minka_cluster_config_add_worker (config, "w1", "127.0.0.1:7001",
                                              "127.0.0.1:8001", &error));
  ck_assert (minka_cluster_config_add_worker (config, "w2", "127.0.0.1:7002", NULL, &error));
  ck_assert (!minka_cluster_config_add_worker (config, "w3", "127.0.0.1:7002", NULL, &error));
  ck_assert (g_error_matches (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_DUPLICATE));
  g_clear_error (&error);
  ck_assert (!minka_cluster_config_add_worker (config, "w/3", "127.0.0.1:7003", NULL, &error));
  g_clear_error (&error);
  ck_assert_uint_eq (config->workers->len, 2);
  ck_assert (minka_cluster_config_save (config, path, &error));

  g_autoptr (MinkaClusterConfig) back = minka_cluster_config_load (path, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (back->workers->len, 2);
  const MinkaWorkerConfig *w1 = minka_cluster_config_find (back, "w1");
  ck_assert_uint_eq (w1->id, minka_config_node_id ("w1"));
  ck_assert_uint_eq (w1->monitor.port, 8001);
  g_autofree char *key = g_build_filename (dir, "cluster.key", NULL);
  ck_assert_str_eq (back->key_file, key);
  ck_assert_str_eq (back->path, path);
  g_remove (path);

  /* Missing file: the error names it. */
  ck_assert_ptr_null (minka_cluster_config_load (path, &error));
  ck_assert_ptr_nonnull (strstr (error->message, "CLUSTER.ini"));
  g_clear_error (&error);
  g_rmdir (dir);
}
END_TEST

START_TEST (test_address_list)
{
  GError *error = NULL;
  GPtrArray *list = minka_address_list_parse ("127.0.0.1:7001, host.example:7002,[::1]:7003",
                                              &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (list->len, 3);
  MinkaAddress *second = list->pdata[1];
  ck_assert_str_eq (second->host, "host.example");
  ck_assert_uint_eq (second->port, 7002);
  g_ptr_array_unref (list);

  const char *bad[] = { "", "h:1,", "h:1,,h:2", "h", "h:1,h", "h:99999", "-h:1", "h:1 2" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      ck_assert_msg (minka_address_list_parse (bad[i], &error) == NULL, "accepted %s", bad[i]);
      ck_assert (g_error_matches (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID));
      g_clear_error (&error);
    }
  ck_assert_ptr_null (minka_address_list_parse (NULL, &error));
  g_clear_error (&error);

  MinkaAddress address;
  ck_assert (minka_address_parse ("65535.example:65535", &address, NULL));
  ck_assert_uint_eq (address.port, 65535);
  minka_address_clear (&address);
}
END_TEST

static Suite *
config_suite (void)
{
  Suite *s = suite_create ("config");
  TCase *tc = tcase_create ("config");
  tcase_add_test (tc, test_load_good);
  tcase_add_test (tc, test_inline_comments_and_raw_paths);
  tcase_add_test (tc, test_node_ids_stable);
  tcase_add_loop_test (tc, test_load_bad, 0, G_N_ELEMENTS (bad_configs));
  tcase_add_test (tc, test_write_and_reload);
  tcase_add_test (tc, test_address_list);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *runner = srunner_create (config_suite ());
  srunner_run_all (runner, CK_NORMAL);
  int failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}
