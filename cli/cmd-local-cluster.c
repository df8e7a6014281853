/* cmd-local-cluster.c — `minka local-cluster --workers N --dir DIR
 * [--base-port P]`: writes DIR/cluster.ini (workers w1..wN on 127.0.0.1,
 * port P+i for peers and clients, P+100+i for the monitor), starts one
 * minka-worker child per worker (GSubprocess), forwards their output
 * prefixed with the worker's name, and stops them all on Ctrl-C, or when
 * one of them dies unexpectedly (then the exit status is non-zero). */
#include "config.h"

#include "cli.h"
#include "cli-cluster.h"

#include "minka-config.h"

#include "minka-compat.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>

#define CMD "local-cluster"
#define STOP_GRACE_MS 10000        /* then the children are killed */

#ifdef G_OS_WIN32
#define EXE_SUFFIX ".exe"
#else
#define EXE_SUFFIX ""
#endif

typedef struct _Local Local;

typedef struct {
  Local *local;
  char *name;
  GSubprocess *process;
  GDataInputStream *output;
  gboolean exited;
} LocalWorker;

struct _Local {
  GPtrArray *workers;          /* LocalWorker* */
  guint running, outputs_open;
  gboolean stopping;
  int exit_code;
  guint kill_timer;
};

static void
local_worker_free (LocalWorker *worker)
{
  g_free (worker->name);
  g_clear_object (&worker->process);
  g_clear_object (&worker->output);
  g_free (worker);
}

/* ---- finding minka-worker ------------------------------------------------ */

static char *
local_try (const char *dir, const char *relative)
{
  g_autofree char *path = g_build_filename (dir, relative, NULL);
  g_autofree char *canonical = g_canonicalize_filename (path, NULL);
  if (g_file_test (canonical, G_FILE_TEST_IS_EXECUTABLE)
      && !g_file_test (canonical, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&canonical);
  return NULL;
}

/* $MINKA_WORKER_BIN, else next to this program (installed side by side, or
 * the build tree's worker/ folder), else the PATH. */
static char *
local_find_worker (GError **error)
{
  const char *env = g_getenv ("MINKA_WORKER_BIN");
  if (env != NULL && env[0] != '\0')
    {
      if (g_file_test (env, G_FILE_TEST_IS_EXECUTABLE))
        return g_strdup (env);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   _("MINKA_WORKER_BIN=%s is not an executable file"), env);
      return NULL;
    }
  const char *argv0 = cli_cluster_get_argv0 ();
  g_autofree char *self = NULL;
  if (argv0 != NULL && (strchr (argv0, '/') != NULL || strchr (argv0, G_DIR_SEPARATOR) != NULL))
    self = g_canonicalize_filename (argv0, NULL);
  else if (argv0 != NULL)
    self = g_find_program_in_path (argv0);
  if (self != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (self);
      const char *candidates[] = { "minka-worker" EXE_SUFFIX,
                                   "../worker/minka-worker" EXE_SUFFIX };
      for (gsize i = 0; i < G_N_ELEMENTS (candidates); i++)
        {
          char *found = local_try (dir, candidates[i]);
          if (found != NULL)
            return found;
        }
    }
  char *found = g_find_program_in_path ("minka-worker");
  if (found == NULL)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                 _("cannot find minka-worker next to minka or in PATH "
                   "(set MINKA_WORKER_BIN)"));
  return found;
}

/* ---- the config ---------------------------------------------------------- */

static gboolean
local_write_config (const char *path, guint workers, guint base_port, GError **error)
{
  g_autoptr (MinkaClusterConfig) config = minka_cluster_config_new ();
  for (guint i = 1; i <= workers; i++)
    {
      g_autofree char *name = g_strdup_printf ("w%u", i);
      g_autofree char *address = g_strdup_printf ("127.0.0.1:%u", base_port + i);
      g_autofree char *monitor = g_strdup_printf ("127.0.0.1:%u", base_port + 100 + i);
      if (!minka_cluster_config_add_worker (config, name, address, monitor, error))
        return FALSE;
    }
  return minka_cluster_config_save (config, path, error);
}

/* ---- children ------------------------------------------------------------ */

static void
local_stop (Local *local)
{
  if (local->stopping)
    return;
  local->stopping = TRUE;
  for (guint i = 0; i < local->workers->len; i++)
    {
      LocalWorker *worker = local->workers->pdata[i];
      if (worker->exited)
        continue;
      /* A clean shutdown: the leader hands over leadership first (on
       * Windows there is no such request: the worker is stopped). */
      guint64 id = minka_subprocess_id (worker->process);
      if (id == 0 || !minka_terminate_process (id, NULL))
        g_subprocess_force_exit (worker->process);
    }
}

static gboolean
on_local_kill_timer (gpointer data)
{
  Local *local = data;
  local->kill_timer = 0;
  for (guint i = 0; i < local->workers->len; i++)
    {
      LocalWorker *worker = local->workers->pdata[i];
      if (!worker->exited)
        {
          g_printerr (_("minka local-cluster: %s did not stop, killing it\n"), worker->name);
          g_subprocess_force_exit (worker->process);
        }
    }
  return G_SOURCE_REMOVE;
}

static void
local_stop_with_grace (Local *local)
{
  local_stop (local);
  if (local->kill_timer == 0)
    local->kill_timer = g_timeout_add (STOP_GRACE_MS, on_local_kill_timer, local);
}

static gboolean
on_local_signal (gpointer data)
{
  Local *local = data;
  if (local->stopping)
    on_local_kill_timer (local);   /* a second Ctrl-C: no more waiting */
  else
    {
      g_printerr ("%s", _("\nminka local-cluster: stopping the workers…\n"));
      local_stop_with_grace (local);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_local_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  LocalWorker *worker = data;
  Local *local = worker->local;
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  worker->exited = TRUE;
  local->running--;
  if (!local->stopping)
    {
      g_autofree char *how = g_subprocess_get_if_exited (worker->process)
        ? g_strdup_printf (_("exit status %d"), g_subprocess_get_exit_status (worker->process))
        : g_strdup_printf (_("killed by signal %d"), g_subprocess_get_term_sig (worker->process));
      g_printerr (_("minka local-cluster: worker %s stopped unexpectedly (%s); "
                    "stopping the others\n"), worker->name, how);
      local->exit_code = CLI_EXIT_ERROR;
      local_stop_with_grace (local);
    }
}

static void
on_local_line (GObject *source, GAsyncResult *result, gpointer data)
{
  LocalWorker *worker = data;
  gsize len = 0;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (
    G_DATA_INPUT_STREAM (source), result, &len, NULL);
  if (line == NULL)
    {
      worker->local->outputs_open--;
      return;
    }
  g_print ("[%s] %s\n", worker->name, line);
  g_data_input_stream_read_line_async (worker->output, G_PRIORITY_DEFAULT, NULL,
                                       on_local_line, worker);
}

static gboolean
local_spawn (Local *local, const char *binary, const char *dir, const char *config_path,
             guint index, GError **error)
{
  LocalWorker *worker = g_new0 (LocalWorker, 1);
  worker->local = local;
  worker->name = g_strdup_printf ("w%u", index);
  g_ptr_array_add (local->workers, worker);
  g_autofree char *data_dir = g_build_filename (dir, worker->name, NULL);
  if (g_mkdir_with_parents (data_dir, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, _("cannot create %s"), data_dir);
      return FALSE;
    }
  const char *argv[] = { binary, "--config", config_path, "--id", worker->name,
                         "--data-dir", data_dir, NULL };
  worker->process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                       | G_SUBPROCESS_FLAGS_STDERR_MERGE, error);
  if (worker->process == NULL)
    return FALSE;
  worker->exited = FALSE;
  local->running++;
  local->outputs_open++;
  worker->output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (worker->process));
  /* A Windows child writes CRLF. */
  g_data_input_stream_set_newline_type (worker->output, G_DATA_STREAM_NEWLINE_TYPE_ANY);
  g_data_input_stream_read_line_async (worker->output, G_PRIORITY_DEFAULT, NULL,
                                       on_local_line, worker);
  g_subprocess_wait_async (worker->process, NULL, on_local_exited, worker);
  return TRUE;
}

static void
local_print_banner (const char *config_path, guint workers, guint base_port)
{
  g_print (_("Cluster description: %s\n"), config_path);
  for (guint i = 1; i <= workers; i++)
    g_print (_("  w%u  address 127.0.0.1:%u  monitor http://127.0.0.1:%u/\n"), i,
             base_port + i, base_port + 100 + i);
  g_print (_("Try: minka status --config %s   (Ctrl-C stops the cluster)\n"), config_path);
}

int
cli_cmd_local_cluster (int argc, char **argv)
{
  gint workers = 3, base_port = 7000;
  char *dir = NULL;
  const GOptionEntry entries[] = {
    { "workers", 'n', 0, G_OPTION_ARG_INT, &workers, N_("How many workers (default 3)"), N_("N") },
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir,
      N_("Folder for cluster.ini and the workers' data"), N_("DIR") },
    { "base-port", 'p', 0, G_OPTION_ARG_INT, &base_port,
      N_("Worker i listens on P+i, its monitor on P+100+i (default 7000)"), N_("P") },
    G_OPTION_ENTRY_NULL
  };
  GOptionContext *context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("Run a cluster of workers on this machine."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!cli_parse_options (context, CMD, argc, argv))
    {
      g_free (dir);
      return CLI_EXIT_USAGE;
    }
  g_autofree char *dir_owned G_GNUC_UNUSED = dir;
  if (dir == NULL)
    return cli_fail (CMD, CLI_EXIT_USAGE, _("--dir DIR is required"));
  if (workers < 1 || workers > 99 || base_port < 1 || base_port + 100 + workers > 65535)
    return cli_fail (CMD, CLI_EXIT_USAGE,
                     _("need 1 ≤ --workers ≤ 99 and ports P+1…P+100+N within 1…65535"));

  GError *error = NULL;
  g_autofree char *binary = local_find_worker (&error);
  if (binary == NULL)
    return cli_fail_error (CMD, error);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    return cli_fail (CMD, CLI_EXIT_ERROR, _("cannot create %s"), dir);
  g_autofree char *config_path = g_build_filename (dir, "cluster.ini", NULL);
  if (!local_write_config (config_path, (guint) workers, (guint) base_port, &error))
    return cli_fail_error (CMD, error);

  Local local = { 0 };
  local.workers = g_ptr_array_new_with_free_func ((GDestroyNotify) local_worker_free);
  for (guint i = 1; i <= (guint) workers && error == NULL; i++)
    local_spawn (&local, binary, dir, config_path, i, &error);
  if (error != NULL)
    {
      g_printerr ("minka %s: %s\n", CMD, error->message);
      g_clear_error (&error);
      local.exit_code = CLI_EXIT_ERROR;
      local_stop_with_grace (&local);
    }
  else
    local_print_banner (config_path, (guint) workers, (guint) base_port);

  MinkaTerminateWatch *watch = minka_terminate_watch_add (on_local_signal, &local, NULL);
  while (local.running > 0 || local.outputs_open > 0)
    g_main_context_iteration (NULL, TRUE);
  minka_terminate_watch_remove (watch);
  if (local.kill_timer != 0)
    g_source_remove (local.kill_timer);
  g_ptr_array_unref (local.workers);
  return local.exit_code;
}
