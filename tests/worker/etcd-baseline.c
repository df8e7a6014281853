/* etcd-baseline.c — a 3-member etcd cluster under wrk, as the same-run
 * baseline for bench-cluster (see etcd-baseline.h).
 *
 * Members run with etcd's defaults for durability (WAL fsync on every
 * commit) and timing (heartbeat 100 ms, election 1000 ms). Load goes to the
 * leader's client URL through the v2 HTTP API (PUT /v2/keys/…, form body):
 * the v3 JSON gateway adds JSON + base64 decoding and an internal gRPC hop
 * per request (40–60% fewer writes/s in a run here, most with 1–64 KiB
 * values), which native etcd clients do not pay, so v2 (also one WAL fsync
 * per commit) is the closer stand-in for them and the harder baseline for
 * Minka. MINKA_BENCH_ETCD_API=v3 measures through the gateway instead. */
#include "config.h"
#include "etcd-baseline.h"
#include "cluster-harness.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#define MEMBERS 3
#define SMALL_VALUE 100
#define FILE_MIN 1024
#define FILE_MAX 65536

typedef struct {
  char name[8];
  guint16 client_port;
  guint16 peer_port;
  GSubprocess *process;
} EtcdMember;

typedef struct {
  char *dir;
  EtcdMember members[MEMBERS];
} EtcdCluster;

/* ---- processes ------------------------------------------------------------- */

/* Free loopback ports: all sockets stay bound until every port is chosen,
 * so the ports differ from each other. */
static void
free_ports (guint16 *ports, guint n)
{
  GSocket *sockets[2 * MEMBERS];
  g_assert (n <= G_N_ELEMENTS (sockets));
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  for (guint i = 0; i < n; i++)
    {
      sockets[i] = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL);
      g_assert_true (g_socket_bind (sockets[i], any, TRUE, NULL));
      g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sockets[i], NULL);
      ports[i] = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
    }
  for (guint i = 0; i < n; i++)
    g_object_unref (sockets[i]);
}

static GSubprocess *
member_spawn (EtcdCluster *c, const char *etcd, guint i, const char *initial_cluster)
{
  EtcdMember *m = &c->members[i];
  g_autofree char *data = g_build_filename (c->dir, m->name, NULL);
  g_autofree char *log = g_strdup_printf ("%s/%s.log", c->dir, m->name);
  g_autofree char *client = g_strdup_printf ("http://127.0.0.1:%u", m->client_port);
  g_autofree char *peer = g_strdup_printf ("http://127.0.0.1:%u", m->peer_port);
  const char *argv[] = {
    etcd, "--name", m->name, "--data-dir", data,
    "--listen-client-urls", client, "--advertise-client-urls", client,
    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
    "--initial-cluster", initial_cluster, "--initial-cluster-state", "new",
    "--initial-cluster-token", "minka-bench", "--enable-v2=true",
    "--logger=zap", "--log-level=warn", NULL
  };
#ifdef G_OS_UNIX
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
#else
  /* No file redirection there (and no Debian etcd): keep the console quiet. */
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  (void) log;
#endif
  g_autoptr (GError) error = NULL;
  GSubprocess *p = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (!p)
    g_printerr ("etcd %s: %s\n", m->name, error->message);
  return p;
}

static EtcdCluster *
etcd_cluster_start (const char *etcd)
{
  EtcdCluster *c = g_new0 (EtcdCluster, 1);
  c->dir = g_dir_make_tmp ("minka-etcd-XXXXXX", NULL);
  g_assert_nonnull (c->dir);
  guint16 ports[2 * MEMBERS];
  free_ports (ports, 2 * MEMBERS);
  GString *initial = g_string_new (NULL);
  for (guint i = 0; i < MEMBERS; i++)
    {
      EtcdMember *m = &c->members[i];
      g_snprintf (m->name, sizeof m->name, "e%u", i + 1);
      m->client_port = ports[2 * i];
      m->peer_port = ports[2 * i + 1];
      g_string_append_printf (initial, "%s%s=http://127.0.0.1:%u", i ? "," : "",
                              m->name, m->peer_port);
    }
  for (guint i = 0; i < MEMBERS; i++)
    c->members[i].process = member_spawn (c, etcd, i, initial->str);
  g_string_free (initial, TRUE);
  return c;
}

/* Stops every member by PID (SIGKILL; nothing needs to survive) and
 * removes the folder. */
static void
etcd_cluster_free (EtcdCluster *c)
{
  for (guint i = 0; i < MEMBERS; i++)
    if (c->members[i].process)
      {
        g_subprocess_force_exit (c->members[i].process);
        g_subprocess_wait (c->members[i].process, NULL, NULL);
        g_clear_object (&c->members[i].process);
      }
  if (g_getenv ("MINKA_KEEP_TEST_DIRS"))
    g_printerr ("kept %s\n", c->dir);
  else
    test_remove_tree (c->dir);
  g_free (c->dir);
  g_free (c);
}

static void
etcd_cluster_dump_logs (EtcdCluster *c)
{
  for (guint i = 0; i < MEMBERS; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s.log", c->dir, c->members[i].name);
      g_autofree char *text = NULL;
      gsize len = 0;
      if (g_file_get_contents (path, &text, &len, NULL))
        g_printerr ("---- etcd %s log (tail) ----\n%s\n", c->members[i].name,
                    len > 2000 ? text + len - 2000 : text);
    }
}

/* ---- plain HTTP ------------------------------------------------------------- */

/* One HTTP/1.0 request to 127.0.0.1:@port; the body of a 200 reply, or NULL. */
static char *
http_request (guint16 port, const char *method, const char *path, const char *body)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 2);
  g_autoptr (GSocketConnection) conn =
    g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  if (!conn)
    return NULL;
  g_autofree char *req = g_strdup_printf ("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                          "Content-Type: application/json\r\n"
                                          "Content-Length: %zu\r\n\r\n%s",
                                          method, path, strlen (body), body);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  if (!g_output_stream_write_all (out, req, strlen (req), NULL, NULL, NULL))
    return NULL;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GString *reply = g_string_new (NULL);
  char buf[4096];
  gssize got;
  while ((got = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len (reply, buf, got);
  const char *end = strstr (reply->str, "\r\n\r\n");
  char *result = NULL;
  if (g_str_has_prefix (reply->str, "HTTP/1.") && strncmp (reply->str + 8, " 200", 4) == 0 && end)
    result = g_strdup (end + 4);
  g_string_free (reply, TRUE);
  return result;
}

static gboolean
member_healthy (const EtcdMember *m)
{
  g_autofree char *body = http_request (m->client_port, "GET", "/health", "");
  return body && strstr (body, "\"health\":\"true\"");
}

static gboolean
etcd_cluster_wait_healthy (EtcdCluster *c, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * (gint64) 1000;
  for (guint i = 0; i < MEMBERS; i++)
    while (!member_healthy (&c->members[i]))
      {
        if (g_get_monotonic_time () > deadline)
          return FALSE;
        g_usleep (100000);
      }
  return TRUE;
}

/* Index of the member whose own ID is the leader its status reports. */
static int
etcd_cluster_leader (EtcdCluster *c)
{
  for (guint i = 0; i < MEMBERS; i++)
    {
      g_autofree char *body = http_request (c->members[i].client_port, "POST",
                                            "/v3/maintenance/status", "{}");
      g_autoptr (JsonParser) parser = json_parser_new ();
      if (!body || !json_parser_load_from_data (parser, body, -1, NULL))
        continue;
      JsonNode *root = json_parser_get_root (parser);
      if (!JSON_NODE_HOLDS_OBJECT (root))
        continue;
      JsonObject *status = json_node_get_object (root);
      JsonObject *header = json_object_get_object_member (status, "header");
      const char *leader = json_object_get_string_member_with_default (status, "leader", "");
      const char *self = header ? json_object_get_string_member_with_default (header, "member_id", "-")
                                : "-";
      if (g_strcmp0 (leader, self) == 0)
        return (int) i;
    }
  return -1;
}

/* ---- wrk -------------------------------------------------------------------- */

/* The number after @label in wrk's output (0 if absent). */
static double
wrk_number_after (const char *out, const char *label)
{
  const char *at = strstr (out, label);
  return at ? g_ascii_strtod (at + strlen (label), NULL) : 0;
}

/* The 50% line of --latency ("50%    1.37ms") in ms; -1 if absent. */
static double
wrk_p50_ms (const char *out)
{
  const char *dist = strstr (out, "Latency Distribution");
  const char *at = dist ? strstr (dist, "50%") : NULL;
  if (!at)
    return -1;
  char *unit = NULL;
  double v = g_ascii_strtod (at + 3, &unit);
  if (g_str_has_prefix (unit, "us"))
    return v / 1000;
  if (g_str_has_prefix (unit, "ms"))
    return v;
  if (g_str_has_prefix (unit, "s"))
    return v * 1000;
  if (g_str_has_prefix (unit, "m"))
    return v * 60000;
  return -1;
}

/* "Socket errors: connect A, read B, write C, timeout D": A+B+C+D. */
static guint64
wrk_socket_errors (const char *out)
{
  const char *at = strstr (out, "Socket errors:");
  if (!at)
    return 0;
  guint64 sum = 0;
  const char *labels[] = { "connect ", "read ", "write ", "timeout " };
  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    sum += (guint64) wrk_number_after (at, labels[i]);
  return sum;
}

static void
wrk_parse (const char *out, EtcdRun *run)
{
  run->writes_per_s = wrk_number_after (out, "Requests/sec:");
  run->p50_ms = wrk_p50_ms (out);
  /* "  3226 requests in 5.01s, …" */
  const char *at = strstr (out, " requests in ");
  const char *start = at;
  while (start && start > out && g_ascii_isdigit (start[-1]))
    start--;
  run->requests = start ? g_ascii_strtoull (start, NULL, 10) : 0;
  run->errors = (guint64) wrk_number_after (out, "Non-2xx or 3xx responses:")
                + wrk_socket_errors (out);
}

static void
wrk_run (const char *wrk, guint16 port, guint connections, const char *api, guint run_id,
         guint min_size, guint max_size, guint seconds, EtcdRun *run)
{
  g_autofree char *script = g_build_filename (MINKA_SOURCE_DIR, "tests", "worker", "etcd-put.lua", NULL);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_autofree char *conns = g_strdup_printf ("%u", connections);
  g_autofree char *duration = g_strdup_printf ("%us", seconds);
  g_autofree char *id = g_strdup_printf ("%u", run_id);
  g_autofree char *min = g_strdup_printf ("%u", min_size);
  g_autofree char *max = g_strdup_printf ("%u", max_size);
  const char *argv[] = { wrk, "-t", "1", "-c", conns, "-d", duration, "--timeout", "10s",
                         "--latency", "-s", script, url, "--", api, id, min, max, NULL };
  memset (run, 0, sizeof *run);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                 | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);
  g_autofree char *out = NULL;
  if (!p || !g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error))
    {
      g_printerr ("wrk: %s\n", error->message);
      return;
    }
  wrk_parse (out ? out : "", run);
  if (run->errors > 0 || run->requests == 0 || g_subprocess_get_exit_status (p) != 0)
    g_printerr ("wrk output:\n%s\n", out ? out : "");
}

/* ---- the measurement ----------------------------------------------------------- */

static void
etcd_run_print (const char *name, const EtcdRun *run)
{
  printf ("etcd_%s_requests=%" G_GUINT64_FORMAT "\n", name, run->requests);
  printf ("etcd_%s_errors=%" G_GUINT64_FORMAT "\n", name, run->errors);
  if (run->errors > 0 || run->requests == 0)
    {
      printf ("etcd_%s_writes_per_s=invalid\n", name);
      return;
    }
  printf ("etcd_%s_writes_per_s=%.1f\n", name, run->writes_per_s);
  printf ("etcd_%s_p50_ms=%.2f\n", name, run->p50_ms);
}

/* A run with failed requests is no rate to compare against. */
static void
etcd_run_validate (EtcdRun *run)
{
  if (run->errors > 0 || run->requests == 0)
    run->writes_per_s = 0;
}

static void
etcd_print_version (const char *etcd)
{
  const char *argv[] = { etcd, "--version", NULL };
  g_autoptr (GSubprocess) p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL);
  g_autofree char *out = NULL;
  if (!p || !g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, NULL) || !out)
    return;
  const char *at = strstr (out, "etcd Version:");
  if (at)
    printf ("etcd_version=%.*s\n", (int) strcspn (at + 14, "\n"), at + 14);
}

static void
etcd_measure_all (EtcdBaseline *out, const char *wrk, guint16 port, const char *api, guint seconds)
{
  struct { const char *name; EtcdRun *run; guint conns, min, max; } loads[] = {
    { "small_c1", &out->small_c1, 1, SMALL_VALUE, SMALL_VALUE },
    { "small_c16", &out->small_c16, 16, SMALL_VALUE, SMALL_VALUE },
    { "files_c1", &out->files_c1, 1, FILE_MIN, FILE_MAX },
    { "files_c16", &out->files_c16, 16, FILE_MIN, FILE_MAX },
  };
  for (guint i = 0; i < G_N_ELEMENTS (loads); i++)
    {
      wrk_run (wrk, port, loads[i].conns, api, i + 1, loads[i].min, loads[i].max, seconds, loads[i].run);
      etcd_run_print (loads[i].name, loads[i].run);
      etcd_run_validate (loads[i].run);
    }
}

void
etcd_baseline_measure (EtcdBaseline *out, guint seconds)
{
  memset (out, 0, sizeof *out);
  g_autofree char *etcd = g_find_program_in_path ("etcd");
  g_autofree char *wrk = g_find_program_in_path ("wrk");
  if (!etcd || !wrk)
    {
      printf ("etcd_baseline=skipped (install etcd-server and wrk)\n");
      return;
    }
  const char *api = g_strcmp0 (g_getenv ("MINKA_BENCH_ETCD_API"), "v3") == 0 ? "v3" : "v2";
  etcd_print_version (etcd);
  printf ("etcd_members=%u\netcd_api=%s\netcd_seconds_per_run=%u\n", MEMBERS, api, seconds);
  EtcdCluster *c = etcd_cluster_start (etcd);
  int leader = -1;
  if (etcd_cluster_wait_healthy (c, 20000))
    {
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
      while ((leader = etcd_cluster_leader (c)) < 0 && g_get_monotonic_time () < deadline)
        g_usleep (100000);
    }
  if (leader < 0)
    {
      printf ("etcd_baseline=failed (cluster not healthy or no leader)\n");
      etcd_cluster_dump_logs (c);
    }
  else
    {
      out->measured = TRUE;
      etcd_measure_all (out, wrk, c->members[leader].client_port, api, seconds);
    }
  etcd_cluster_free (c);
}

void
etcd_baseline_print_ratio (const char *name, double minka, const EtcdRun *etcd)
{
  if (minka > 0 && etcd->writes_per_s > 0)
    printf ("ratio_%s=%.2f\n", name, minka / etcd->writes_per_s);
  else
    printf ("ratio_%s=n/a\n", name);
}
