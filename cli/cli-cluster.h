/* cli-cluster.h — what the `minka` cluster subcommands share: the entry
 * points, finding the cluster (--config CLUSTER.ini, --connect
 * HOST:PORT[,…], or $MINKA_CONFIG), making a MinkaClient for it, running
 * the main loop until an async operation finishes, and small formatting
 * helpers. */
#pragma once

#include <glib.h>
#include <stdio.h>

#include "minka-client.h"

G_BEGIN_DECLS

int cli_cmd_status (int argc, char **argv);
int cli_cmd_put (int argc, char **argv);
int cli_cmd_ls (int argc, char **argv);
int cli_cmd_get (int argc, char **argv);
int cli_cmd_rm (int argc, char **argv);
int cli_cmd_stress (int argc, char **argv);
int cli_cmd_local_cluster (int argc, char **argv);
int cli_cmd_cluster (int argc, char **argv);

/* main() passes its argv[0] so local-cluster can find minka-worker. */
void cli_cluster_set_argv0 (const char *argv0);
const char *cli_cluster_get_argv0 (void);

/* The options every cluster subcommand takes. */
typedef struct {
  char *config;              /* --config */
  char *connect;             /* --connect */
  char *key_file;            /* --key-file (with --connect) */
} CliClusterOptions;

/* Adds --config, --connect and --key-file to @context's main group. */
void cli_cluster_add_options (GOptionContext *context, CliClusterOptions *options);
void cli_cluster_options_clear (CliClusterOptions *options);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliClusterOptions, cli_cluster_options_clear)

/* The start of every cluster subcommand: parses @entries plus --config,
 * --connect and --key-file; @parameter and @summary are for --help. FALSE
 * after printing a usage error. */
gboolean cli_cluster_parse (const char *command, const char *parameter, const char *summary,
                            const GOptionEntry *entries, int argc, char **argv,
                            CliClusterOptions *options);

typedef struct {
  char **names;              /* worker names ("HOST:PORT" with --connect) */
  char **addresses;          /* "HOST:PORT", same order */
  char **monitors;           /* "HOST:PORT" or "" */
  GBytes *key;               /* NULL: no key */
  char *config_path;         /* NULL with --connect */
} CliCluster;

/* --connect wins, then --config, then $MINKA_CONFIG. */
CliCluster *cli_cluster_resolve (const CliClusterOptions *options, GError **error);
void cli_cluster_free (CliCluster *cluster);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliCluster, cli_cluster_free)
/* cli_cluster_resolve for @command; NULL after printing why (the command
 * then exits with CLI_EXIT_ERROR). */
CliCluster *cli_cluster_open (const char *command, const CliClusterOptions *options);

/* A client for the whole cluster, with the CLI's timeouts. */
MinkaClient *cli_cluster_client_new (const CliCluster *cluster);

/* Iterates the default main context until *@slot is set (by
 * cli_cluster_store_result), then returns it (the caller owns it). */
GAsyncResult *cli_cluster_wait (GAsyncResult **slot);
/* A GAsyncReadyCallback: user_data is a GAsyncResult** slot. */
void cli_cluster_store_result (GObject *source, GAsyncResult *result, gpointer user_data);

/* Cancels @cancellable on Ctrl-C / SIGTERM (Unix) while it exists, so a
 * download can remove its temporary file. */
typedef struct _CliInterrupt CliInterrupt;
CliInterrupt *cli_cluster_interrupt_new (GCancellable *cancellable);
void cli_cluster_interrupt_free (CliInterrupt *interrupt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliInterrupt, cli_cluster_interrupt_free)

/* Whether file descriptor @fd (1: stdout, 2: stderr) is a terminal. */
gboolean cli_cluster_is_terminal (int fd);
/* "12.3 MiB"-style size. */
char *cli_cluster_format_size (guint64 bytes);
/* Prints what @builder built as indented JSON on stdout. */
void cli_cluster_print_json (JsonBuilder *builder);
/* A progress bar on stderr, redrawn in place; @label is shown in front. */
void cli_cluster_progress_draw (const char *label, guint64 done, guint64 total);
void cli_cluster_progress_end (void);

/* A safe local file name from a catalog name, on any system: its last
 * path component, without control characters or characters Windows
 * forbids, without trailing dots or spaces, "_" before a Windows device
 * name (CON, nul.txt, COM1…); never "", "." or ".." (@fallback then). */
char *cli_cluster_safe_filename (const char *name, const char *fallback);

G_END_DECLS
