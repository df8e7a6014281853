/* bench-monitor.c — requests/s of /api/status over keep-alive with 16
 * connections against minka-monitor-demo started as a subprocess on a free
 * loopback port: with wrk when /usr/bin/wrk exists, else with a
 * GSocketClient load generator (16 threads, one connection each). The
 * static /monitor.css is measured the same way as a baseline. Prints
 * name=value lines; the target is >= 5000 req/s for /api/status. On a busy
 * machine req/s swings a lot, so on Linux the demo's CPU time per request
 * (from /proc, USER_HZ = 100) is printed too: it depends far less on load. */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRK "/usr/bin/wrk"
#define CONNECTIONS 16
#define SECONDS 3

static GSubprocess *
demo_start (guint16 *port)
{
  const char *path = g_getenv ("MINKA_MONITOR_DEMO");
  g_autoptr (GError) error = NULL;
  if (path == NULL)
    g_error ("MINKA_MONITOR_DEMO is not set");
  GSubprocess *p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, path, "--port", "0",
                                     "--max-connections", "64", NULL);
  if (p == NULL)
    g_error ("%s", error->message);
  g_autoptr (GDataInputStream) out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  const char *colon = line ? strrchr (line, ':') : NULL;
  if (colon == NULL)
    g_error ("demo did not start");
  *port = (guint16) atoi (colon + 1);
  return p;
}

/* utime + stime of @pid in seconds, or -1 (not Linux). */
static double
process_cpu_seconds (const char *pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  const char *paren = strrchr (text, ')');      /* the name may hold spaces */
  if (paren == NULL)
    return -1;
  g_auto (GStrv) fields = g_strsplit (paren + 2, " ", 20);
  if (g_strv_length (fields) < 13)
    return -1;
  /* After ") ": state is field 3 of stat; utime, stime are 14 and 15. */
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) / 100.0;
}

static guint64
wrk_requests (const char *out)
{
  const char *line = strstr (out, " requests in ");
  if (line == NULL)
    return 0;
  while (line > out && line[-1] != '\n')
    line--;
  return g_ascii_strtoull (line, NULL, 10);
}

static double
wrk_run (guint16 port, const char *path, guint64 *requests)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  g_autofree char *duration = g_strdup_printf ("%ds", SECONDS);
  g_autofree char *conns = g_strdup_printf ("%d", CONNECTIONS);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, WRK,
                                                "-t", "2", "-c", conns, "-d", duration, url, NULL);
  char *out = NULL;
  if (p == NULL || !g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error))
    g_error ("wrk: %s", error ? error->message : "failed");
  const char *rps = strstr (out, "Requests/sec:");
  double value = rps ? g_ascii_strtod (rps + strlen ("Requests/sec:"), NULL) : 0;
  *requests = wrk_requests (out);
  if (strstr (out, "Non-2xx") || strstr (out, "Socket errors"))
    g_printerr ("wrk reported errors:\n%s", out);
  g_free (out);
  return value;
}

/* ---- in-process load generator --------------------------------------- */

typedef struct {
  guint16 port;
  const char *path;
  gint64 deadline;
  guint64 done;
} Worker;

static gpointer
load_worker (gpointer data)
{
  Worker *w = data;
  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  g_autoptr (GSocketConnection) c = g_socket_client_connect_to_host (sc, "127.0.0.1", w->port, NULL, NULL);
  if (c == NULL)
    return NULL;
  g_autofree char *req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: b\r\n\r\n", w->path);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c));
  g_autoptr (GDataInputStream) in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (c)));
  g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  while (g_get_monotonic_time () < w->deadline)
    {
      if (!g_output_stream_write_all (out, req, strlen (req), NULL, NULL, NULL))
        break;
      gsize length = 0;
      for (;;)
        {
          g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, NULL);
          if (line == NULL)
            return NULL;
          if (line[0] == '\0')
            break;
          if (g_ascii_strncasecmp (line, "Content-Length:", 15) == 0)
            length = g_ascii_strtoull (line + 15, NULL, 10);
        }
      if (!g_input_stream_skip (G_INPUT_STREAM (in), length, NULL, NULL))
        break;
      w->done++;
    }
  return NULL;
}

static double
inprocess_run (guint16 port, const char *path, guint64 *requests)
{
  Worker workers[CONNECTIONS];
  GThread *threads[CONNECTIONS];
  gint64 start = g_get_monotonic_time ();
  for (int i = 0; i < CONNECTIONS; i++)
    {
      workers[i] = (Worker) { port, path, start + SECONDS * G_USEC_PER_SEC, 0 };
      threads[i] = g_thread_new ("load", load_worker, &workers[i]);
    }
  guint64 total = 0;
  for (int i = 0; i < CONNECTIONS; i++)
    {
      g_thread_join (threads[i]);
      total += workers[i].done;
    }
  *requests = total;
  return total / ((g_get_monotonic_time () - start) / 1e6);
}

int
main (void)
{
  guint16 port = 0;
  GSubprocess *demo = demo_start (&port);
  gboolean use_wrk = g_file_test (WRK, G_FILE_TEST_IS_EXECUTABLE);
  const char *pid = g_subprocess_get_identifier (demo);
  static const char *const paths[] = { "/api/status", "/monitor.css" };
  static const char *const names[] = { "status", "static_css" };
  double rps[2], cpu_us[2];
  for (int i = 0; i < 2; i++)
    {
      guint64 requests = 0;
      double cpu0 = process_cpu_seconds (pid);
      rps[i] = use_wrk ? wrk_run (port, paths[i], &requests) : inprocess_run (port, paths[i], &requests);
      double cpu1 = process_cpu_seconds (pid);
      cpu_us[i] = cpu0 >= 0 && requests > 0 ? (cpu1 - cpu0) * 1e6 / requests : -1;
    }
  printf ("monitor_load_generator=%s\n", use_wrk ? "wrk" : "inprocess");
  printf ("monitor_connections=%d\n", CONNECTIONS);
  for (int i = 0; i < 2; i++)
    {
      printf ("monitor_%s_rps=%.0f\n", names[i], rps[i]);
      if (cpu_us[i] >= 0)
        printf ("monitor_%s_cpu_us_per_request=%.1f\n", names[i], cpu_us[i]);
    }
  printf ("monitor_status_vs_static_rps_ratio=%.2f\n", rps[1] > 0 ? rps[0] / rps[1] : 0);
  printf ("monitor_status_target_met=%s\n", rps[0] >= 5000 ? "yes" : "no");
  g_subprocess_force_exit (demo);
  g_subprocess_wait (demo, NULL, NULL);
  g_object_unref (demo);
  return rps[0] > 0 ? 0 : 1;
}
