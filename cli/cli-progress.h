/* cli-progress.h — per-epoch training progress on stderr: a live bar
 * redrawn in place on a terminal, one plain line per epoch otherwise. */
#pragma once

#include <glib.h>

#include "nn-train.h"

G_BEGIN_DECLS

typedef struct _CliProgress CliProgress;

CliProgress *cli_progress_new (guint epochs, gboolean classification);
void cli_progress_epoch (CliProgress *progress, const NnEpochReport *report);
/* Ends the live line, if any, and frees. */
void cli_progress_free (CliProgress *progress);

G_END_DECLS
