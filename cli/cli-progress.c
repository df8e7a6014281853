/* cli-progress.c — training progress on stderr. On a terminal the line is
 * redrawn in place as a bar over the epochs; otherwise (logs, pipes, tests)
 * each epoch prints one plain line. */
#include "config.h"
#include "cli-progress.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <stdio.h>

#define CLI_BAR_WIDTH 24

struct _CliProgress {
  guint epochs;
  gboolean classification;
  gboolean live;     /* stderr is a terminal */
  gboolean drawn;    /* a live line is on screen */
};

CliProgress *
cli_progress_new (guint epochs, gboolean classification)
{
  CliProgress *p = g_new0 (CliProgress, 1);
  p->epochs = epochs;
  p->classification = classification;
  /* GLib's check works on a bare descriptor number (no fileno() in C11). */
  p->live = g_log_writer_supports_color (2);
  return p;
}

/* "val accuracy 0.8712" / "val r2 0.47", or "" without a validation set. */
static char *
cli_progress_val_text (CliProgress *p, const NnEpochReport *r)
{
  if (p->classification && !isnan (r->val_accuracy))
    return g_strdup_printf (_("  val loss %.4f  val accuracy %.4f"), r->val_loss, r->val_accuracy);
  if (!p->classification && !isnan (r->val_r2))
    return g_strdup_printf (_("  val loss %.4g  val R² %.4f"), r->val_loss, r->val_r2);
  return g_strdup ("");
}

void
cli_progress_epoch (CliProgress *p, const NnEpochReport *r)
{
  char *val = cli_progress_val_text (p, r);
  if (p->live)
    {
      char bar[CLI_BAR_WIDTH + 1];
      guint filled = p->epochs ? (guint) ((guint64) r->epoch * CLI_BAR_WIDTH / p->epochs) : 0;
      for (guint i = 0; i < CLI_BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
      bar[CLI_BAR_WIDTH] = '\0';
      /* \r and "erase to end of line" redraw the same line. */
      g_printerr ("\r\033[K");
      g_printerr (_("epoch %u/%u [%s] loss %.4f%s  %.0f samples/s"),
                  r->epoch, r->epochs, bar, r->train_loss, val, r->samples_per_s);
      p->drawn = TRUE;
    }
  else
    g_printerr (_("epoch %u/%u: loss %.4f%s  %.0f samples/s  %.1f s\n"),
                r->epoch, r->epochs, r->train_loss, val, r->samples_per_s, r->elapsed_s);
  g_free (val);
}

void
cli_progress_free (CliProgress *p)
{
  if (p == NULL)
    return;
  if (p->drawn)
    g_printerr ("\n");
  g_free (p);
}
