/* cli-cluster.c — shared by the `minka` cluster subcommands: finding the
 * cluster from --config / --connect / $MINKA_CONFIG, making a client,
 * waiting for async results, progress bars and safe file names. */
#include "config.h"

#include "cli-cluster.h"
#include "cli.h"

#include "minka-auth.h"
#include "minka-config.h"

#include "minka-compat.h"

#include <glib/gi18n-lib.h>
#include <string.h>

static char *cli_argv0;

void
cli_cluster_set_argv0 (const char *argv0)
{
  g_free (cli_argv0);
  cli_argv0 = g_strdup (argv0);
}

const char *
cli_cluster_get_argv0 (void)
{
  return cli_argv0;
}

void
cli_cluster_add_options (GOptionContext *context, CliClusterOptions *options)
{
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &options->config,
      N_("Cluster description (default: $MINKA_CONFIG)"), N_("CLUSTER.ini") },
    { "connect", 0, 0, G_OPTION_ARG_STRING, &options->connect,
      N_("Workers to talk to instead of a cluster file"), N_("HOST:PORT[,…]") },
    { "key-file", 0, 0, G_OPTION_ARG_FILENAME, &options->key_file,
      N_("Cluster key, with --connect"), N_("FILE") },
    G_OPTION_ENTRY_NULL
  };
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
}

void
cli_cluster_options_clear (CliClusterOptions *options)
{
  g_clear_pointer (&options->config, g_free);
  g_clear_pointer (&options->connect, g_free);
  g_clear_pointer (&options->key_file, g_free);
}

gboolean
cli_cluster_parse (const char *command, const char *parameter, const char *summary,
                   const GOptionEntry *entries, int argc, char **argv,
                   CliClusterOptions *options)
{
  GOptionContext *context = g_option_context_new (parameter);
  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  cli_cluster_add_options (context, options);
  return cli_parse_options (context, command, argc, argv);
}

CliCluster *
cli_cluster_open (const char *command, const CliClusterOptions *options)
{
  GError *error = NULL;
  CliCluster *cluster = cli_cluster_resolve (options, &error);
  if (cluster == NULL)
    cli_fail_error (command, error);
  return cluster;
}

void
cli_cluster_free (CliCluster *cluster)
{
  if (cluster == NULL)
    return;
  g_strfreev (cluster->names);
  g_strfreev (cluster->addresses);
  g_strfreev (cluster->monitors);
  g_clear_pointer (&cluster->key, g_bytes_unref);
  g_free (cluster->config_path);
  g_free (cluster);
}

static CliCluster *
cluster_from_connect (const char *text, const char *key_file, GError **error)
{
  g_autoptr (GPtrArray) list = minka_address_list_parse (text, error);
  if (list == NULL)
    return NULL;
  if (list->len == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--connect needs at least one HOST:PORT"));
      return NULL;
    }
  CliCluster *cluster = g_new0 (CliCluster, 1);
  cluster->names = g_new0 (char *, list->len + 1);
  cluster->addresses = g_new0 (char *, list->len + 1);
  cluster->monitors = g_new0 (char *, list->len + 1);
  for (guint i = 0; i < list->len; i++)
    {
      cluster->addresses[i] = minka_address_to_string (list->pdata[i]);
      cluster->names[i] = g_strdup (cluster->addresses[i]);
      cluster->monitors[i] = g_strdup ("");
    }
  if (key_file != NULL && (cluster->key = minka_auth_key_load (key_file, error)) == NULL)
    {
      cli_cluster_free (cluster);
      return NULL;
    }
  return cluster;
}

static CliCluster *
cluster_from_config (const char *path, GError **error)
{
  g_autoptr (MinkaClusterConfig) config = minka_cluster_config_load (path, error);
  if (config == NULL)
    return NULL;
  if (config->workers->len == 0)
    {
      g_set_error (error, MINKA_CONFIG_ERROR, MINKA_CONFIG_ERROR_INVALID,
                   _("%s lists no worker"), path);
      return NULL;
    }
  CliCluster *cluster = g_new0 (CliCluster, 1);
  guint n = config->workers->len;
  cluster->config_path = g_strdup (path);
  cluster->names = g_new0 (char *, n + 1);
  cluster->addresses = g_new0 (char *, n + 1);
  cluster->monitors = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      const MinkaWorkerConfig *worker = config->workers->pdata[i];
      cluster->names[i] = g_strdup (worker->name);
      cluster->addresses[i] = minka_address_to_string (&worker->address);
      cluster->monitors[i] = worker->monitor.host != NULL
        ? minka_address_to_string (&worker->monitor) : g_strdup ("");
    }
  if (config->key_file != NULL
      && (cluster->key = minka_auth_key_load (config->key_file, error)) == NULL)
    {
      cli_cluster_free (cluster);
      return NULL;
    }
  return cluster;
}

CliCluster *
cli_cluster_resolve (const CliClusterOptions *options, GError **error)
{
  if (options->connect != NULL)
    return cluster_from_connect (options->connect, options->key_file, error);
  if (options->config != NULL)
    return cluster_from_config (options->config, error);
  const char *env = g_getenv ("MINKA_CONFIG");
  if (env != NULL && env[0] != '\0')
    return cluster_from_config (env, error);
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
               _("no cluster given: use --config CLUSTER.ini, --connect HOST:PORT "
                 "or set MINKA_CONFIG"));
  return NULL;
}

MinkaClient *
cli_cluster_client_new (const CliCluster *cluster)
{
  MinkaClient *client = minka_client_new ((const char *const *) cluster->addresses,
                                          cluster->key);
  /* Long enough to ride out a leader election, short enough for a human. */
  minka_client_set_timeouts (client, 2000, 30000, 10000);
  return client;
}

void
cli_cluster_store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **slot = user_data;
  *slot = g_object_ref (result);
}

GAsyncResult *
cli_cluster_wait (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_steal_pointer (slot);
}

struct _CliInterrupt {
  MinkaTerminateWatch *watch;
};

static gboolean
on_interrupt (gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
  return G_SOURCE_CONTINUE;
}

CliInterrupt *
cli_cluster_interrupt_new (GCancellable *cancellable)
{
  CliInterrupt *interrupt = g_new0 (CliInterrupt, 1);
  interrupt->watch = minka_terminate_watch_add (on_interrupt, g_object_ref (cancellable),
                                                g_object_unref);
  return interrupt;
}

void
cli_cluster_interrupt_free (CliInterrupt *interrupt)
{
  if (interrupt == NULL)
    return;
  minka_terminate_watch_remove (interrupt->watch);
  g_free (interrupt);
}

gboolean
cli_cluster_is_terminal (int fd)
{
  /* GLib's portable "is this fd a console" check (isatty / Win32 console). */
  return g_log_writer_supports_color (fd);
}

char *
cli_cluster_format_size (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

static gboolean progress_drawn;

void
cli_cluster_progress_draw (const char *label, guint64 done, guint64 total)
{
  enum { WIDTH = 30 };
  double fraction = total > 0 ? (double) done / (double) total : 1.0;
  int filled = (int) (fraction * WIDTH);
  char bar[WIDTH + 1];
  for (int i = 0; i < WIDTH; i++)
    bar[i] = i < filled ? '#' : '-';
  bar[WIDTH] = '\0';
  g_autofree char *done_text = cli_cluster_format_size (done);
  g_autofree char *total_text = cli_cluster_format_size (total);
  fprintf (stderr, "\r%s [%s] %3d%% %s / %s   ", label, bar, (int) (fraction * 100),
           done_text, total_text);
  fflush (stderr);
  progress_drawn = TRUE;
}

void
cli_cluster_progress_end (void)
{
  if (progress_drawn)
    fprintf (stderr, "\n");
  progress_drawn = FALSE;
}

/* CON, NUL, COM1, aux.txt…: on Windows these open a device whatever the
 * folder or extension. */
static gboolean
cli_cluster_is_device_name (const char *name)
{
  static const char *const devices[] = { "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$" };
  gsize stem = strcspn (name, ".");
  for (gsize i = 0; i < G_N_ELEMENTS (devices); i++)
    if (stem == strlen (devices[i]) && g_ascii_strncasecmp (name, devices[i], stem) == 0)
      return TRUE;
  return stem == 4 && (g_ascii_strncasecmp (name, "COM", 3) == 0
                       || g_ascii_strncasecmp (name, "LPT", 3) == 0)
         && name[3] >= '0' && name[3] <= '9';
}

char *
cli_cluster_safe_filename (const char *name, const char *fallback)
{
  const char *base = name != NULL ? name : "";
  for (const char *p = base; *p != '\0'; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;
  GString *out = g_string_new (NULL);
  for (const char *p = base; *p != '\0'; p++)
    {
      unsigned char c = (unsigned char) *p;
      if (c < 0x20 || c == 0x7f || strchr (":*?\"<>|", c) != NULL)
        g_string_append_c (out, '_');
      else
        g_string_append_c (out, (char) c);
    }
  /* Windows drops trailing dots and spaces (and "x." would become "x"). */
  while (out->len > 0 && (out->str[out->len - 1] == '.' || out->str[out->len - 1] == ' '))
    g_string_truncate (out, out->len - 1);
  if (out->len == 0 || !g_utf8_validate (out->str, -1, NULL))
    {
      g_string_free (out, TRUE);
      return g_strdup (fallback);
    }
  if (cli_cluster_is_device_name (out->str))
    g_string_prepend_c (out, '_');
  return g_string_free (out, FALSE);
}

void
cli_cluster_print_json (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_root (generator, root);
  g_autofree char *text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}
