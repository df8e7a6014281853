/* chromium-run.c — headless Chromium with a private profile and a timeout,
 * run from its own main context so callers need no main loop. */
#include "config.h"
#include "chromium-run.h"

#include <gio/gio.h>

#define BROWSER_TIMEOUT_S 90

typedef struct {
  GMainLoop *loop;
  char *out;
} Run;

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &run->out, NULL, NULL);
  g_main_loop_quit (run->loop);
}

static gboolean
on_timeout (gpointer data)
{
  g_subprocess_force_exit (data);     /* a hung browser fails the test */
  return G_SOURCE_REMOVE;
}

gboolean
test_chromium_available (void)
{
  return g_file_test (TEST_CHROMIUM, G_FILE_TEST_IS_EXECUTABLE);
}

char *
test_chromium_run (const char *const *extra, GError **error)
{
  g_autofree char *profile = g_dir_make_tmp ("minka-chromium-XXXXXX", error);
  if (!profile)
    return NULL;
  g_autofree char *profile_arg = g_strconcat ("--user-data-dir=", profile, NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  /* No background networking: this machine reaches no outside host. */
  const char *fixed[] = { TEST_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--virtual-time-budget=5000", profile_arg };
  for (gsize i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (argv, (gpointer) fixed[i]);
  for (const char *const *a = extra; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                 | G_SUBPROCESS_FLAGS_STDERR_SILENCE, error);
  if (!p)
    return NULL;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  Run run = { g_main_loop_new (context, FALSE), NULL };
  GSource *timer = g_timeout_source_new_seconds (BROWSER_TIMEOUT_S);
  g_source_set_callback (timer, on_timeout, p, NULL);
  g_source_attach (timer, context);
  g_subprocess_communicate_utf8_async (p, NULL, NULL, on_communicated, &run);
  g_main_loop_run (run.loop);
  g_source_destroy (timer);
  g_source_unref (timer);
  g_main_loop_unref (run.loop);
  g_main_context_pop_thread_default (context);

  /* Chromium leaves its profile behind: remove it (best effort). */
  g_autofree char *rm_argv0 = g_find_program_in_path ("rm");
  if (rm_argv0)
    {
      const char *rm_argv[] = { rm_argv0, "-rf", profile, NULL };
      g_spawn_sync (NULL, (char **) rm_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, NULL, NULL);
    }
  if (!g_subprocess_get_if_exited (p) || g_subprocess_get_exit_status (p) != 0)
    {
      g_free (run.out);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "chromium failed or timed out");
      return NULL;
    }
  return run.out ? run.out : g_strdup ("");
}
