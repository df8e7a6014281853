/* minka.c — entry point of the `minka` command-line client: sets up
 * gettext, then dispatches to a subcommand from the table below. Each
 * subcommand lives in its own cmd-*.c file and parses its own options. */
#include "config.h"
#include "cli.h"
#include "cli-cluster.h"
#include "minka-compat.h"

#include <glib/gi18n-lib.h>
#include <locale.h>
#include <string.h>

typedef struct {
  const char *name;
  CliCommandFunc run;
  const char *summary;   /* N_() — translated when printed */
} CliCommand;

static const CliCommand cli_commands[] = {
  { "train-local", cli_cmd_train_local, N_("Train a model on this machine") },
  { "predict-local", cli_cmd_predict_local, N_("Predict with a saved model on this machine") },
  { "model-info", cli_cmd_model_info, N_("Describe a saved model") },
  { "status", cli_cmd_status, N_("Show every worker of the cluster") },
  { "put", cli_cmd_put, N_("Upload a file to the cluster") },
  { "ls", cli_cmd_ls, N_("List the files stored in the cluster") },
  { "get", cli_cmd_get, N_("Download a file from the cluster") },
  { "rm", cli_cmd_rm, N_("Delete a file from the cluster") },
  { "stress", cli_cmd_stress, N_("Upload many random files and verify every worker") },
  { "local-cluster", cli_cmd_local_cluster, N_("Run a cluster of workers on this machine") },
  { "cluster", cli_cmd_cluster, N_("Add a worker to the cluster or remove one") },
};

static void
cli_print_usage (FILE *stream)
{
  fprintf (stream, "%s", _("Usage: minka COMMAND [OPTION…]\n\nCommands:\n"));
  for (gsize i = 0; i < G_N_ELEMENTS (cli_commands); i++)
    fprintf (stream, "  %-16s %s\n", cli_commands[i].name, _(cli_commands[i].summary));
  fprintf (stream, "%s", _("\nRun “minka COMMAND --help” for the options of a command.\n"));
}

static const CliCommand *
cli_find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cli_commands); i++)
    if (strcmp (cli_commands[i].name, name) == 0)
      return &cli_commands[i];
  return NULL;
}

static int
cli_run_command (const CliCommand *cmd, int argc, char **argv)
{
  char *prgname = g_strconcat ("minka ", cmd->name, NULL);
  g_set_prgname (prgname);   /* "Usage: minka train-local …" in --help */
  g_free (prgname);
  return cmd->run (argc, argv);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  minka_console_use_utf8 ();
  bindtextdomain (GETTEXT_PACKAGE, minka_locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("minka");
#ifdef G_OS_WIN32
  /* argv is in the ANSI code page there; GLib's file names are UTF-8.
   * (GOption converts the other arguments itself.) */
  g_auto (GStrv) utf8_argv = g_win32_get_command_line ();
  cli_cluster_set_argv0 (utf8_argv[0]);
#else
  cli_cluster_set_argv0 (argv[0]);
#endif

  if (argc < 2)
    {
      cli_print_usage (stderr);
      return CLI_EXIT_USAGE;
    }
  const char *name = argv[1];
  if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0 || strcmp (name, "help") == 0)
    {
      const CliCommand *cmd = argc > 2 ? cli_find_command (argv[2]) : NULL;
      if (cmd)
        {
          char *args[] = { (char *) cmd->name, (char *) "--help", NULL };
          return cli_run_command (cmd, 2, args);
        }
      cli_print_usage (stdout);
      return CLI_EXIT_OK;
    }
  if (strcmp (name, "--version") == 0)
    {
      printf ("minka %s\n", MINKA_VERSION);
      return CLI_EXIT_OK;
    }
  const CliCommand *cmd = cli_find_command (name);
  if (cmd == NULL)
    {
      g_printerr (_("minka: unknown command “%s”\n"), name);
      cli_print_usage (stderr);
      return CLI_EXIT_USAGE;
    }
  return cli_run_command (cmd, argc - 1, argv + 1);
}
