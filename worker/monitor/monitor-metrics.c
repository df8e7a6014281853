/* monitor-metrics.c — Prometheus text exposition format 0.0.4 builder.
 * Families are kept apart and rendered at the end, so callers may add the
 * samples of one family in any order and the output stays grouped. */
#include "monitor-metrics.h"

#include <math.h>
#include <string.h>

typedef struct {
  char *name;
  const char *type;
  char *help;
  GString *samples;
} Family;

struct _MonitorMetrics {
  GPtrArray *families;        /* of Family*, in first-use order */
  GHashTable *by_name;        /* name -> Family* (borrowed) */
};

static void
family_free (gpointer data)
{
  Family *family = data;
  g_free (family->name);
  g_free (family->help);
  g_string_free (family->samples, TRUE);
  g_free (family);
}

MonitorMetrics *
monitor_metrics_new (void)
{
  MonitorMetrics *metrics = g_new0 (MonitorMetrics, 1);
  metrics->families = g_ptr_array_new_with_free_func (family_free);
  metrics->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return metrics;
}

void
monitor_metrics_free (MonitorMetrics *metrics)
{
  if (metrics == NULL)
    return;
  g_hash_table_unref (metrics->by_name);
  g_ptr_array_unref (metrics->families);
  g_free (metrics);
}

static gboolean
name_is_valid (const char *name, gboolean colon_ok)
{
  if (name == NULL || name[0] == '\0' || g_ascii_isdigit (name[0]))
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && !(colon_ok && *p == ':'))
      return FALSE;
  return TRUE;
}

gboolean
monitor_metrics_name_is_valid (const char *name)
{
  return name_is_valid (name, TRUE);
}

/* HELP text escapes backslash and newline; label values also escape '"'. */
static void
append_escaped (GString *out, const char *text, gboolean quote)
{
  for (const char *p = text; *p; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (quote && *p == '"')
        g_string_append (out, "\\\"");
      else
        g_string_append_c (out, *p);
    }
}

static void
append_value (GString *out, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (isnan (value))
    g_string_append (out, "NaN");
  else if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (value == floor (value) && fabs (value) < 1e15)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
  else
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.15g", value));
}

static Family *
family_get (MonitorMetrics *metrics, const char *name, const char *type, const char *help)
{
  Family *family = g_hash_table_lookup (metrics->by_name, name);
  if (family != NULL)
    {
      g_return_val_if_fail (strcmp (family->type, type) == 0, NULL);
      return family;
    }
  family = g_new0 (Family, 1);
  family->name = g_strdup (name);
  family->type = type;
  family->help = g_strdup (help ? help : "");
  family->samples = g_string_new (NULL);
  g_ptr_array_add (metrics->families, family);
  g_hash_table_insert (metrics->by_name, family->name, family);
  return family;
}

/* name{l1="v1",...,extra_name="extra_value"} value\n */
static void
sample_append (GString *out, const char *name, const char *suffix,
               const char *const *labels, const char *extra_name,
               const char *extra_value, double value)
{
  g_string_append (out, name);
  g_string_append (out, suffix);
  gboolean any = (labels && labels[0]) || extra_name;
  if (any)
    {
      g_string_append_c (out, '{');
      gboolean first = TRUE;
      for (guint i = 0; labels && labels[i] && labels[i + 1]; i += 2)
        {
          g_string_append_printf (out, "%s%s=\"", first ? "" : ",", labels[i]);
          append_escaped (out, labels[i + 1], TRUE);
          g_string_append_c (out, '"');
          first = FALSE;
        }
      if (extra_name)
        g_string_append_printf (out, "%s%s=\"%s\"", first ? "" : ",", extra_name, extra_value);
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ' ');
  append_value (out, value);
  g_string_append_c (out, '\n');
}

static gboolean
labels_are_valid (const char *const *labels)
{
  guint n = 0;
  for (; labels && labels[n]; n++)
    if (n % 2 == 0 && (!name_is_valid (labels[n], FALSE) || g_str_has_prefix (labels[n], "__")
                       || strcmp (labels[n], "le") == 0))
      return FALSE;
  return n % 2 == 0;
}

static void
simple_add (MonitorMetrics *metrics, const char *type, const char *name,
            const char *help, const char *const *labels, double value)
{
  g_return_if_fail (monitor_metrics_name_is_valid (name));
  g_return_if_fail (labels_are_valid (labels));
  Family *family = family_get (metrics, name, type, help);
  if (family != NULL)
    sample_append (family->samples, name, "", labels, NULL, NULL, value);
}

void
monitor_metrics_counter (MonitorMetrics *metrics, const char *name,
                         const char *help, const char *const *labels, double value)
{
  simple_add (metrics, "counter", name, help, labels, value);
}

void
monitor_metrics_gauge (MonitorMetrics *metrics, const char *name,
                       const char *help, const char *const *labels, double value)
{
  simple_add (metrics, "gauge", name, help, labels, value);
}

void
monitor_metrics_histogram (MonitorMetrics *metrics, const char *name,
                           const char *help, const char *const *labels,
                           const MonitorHistogram *histogram)
{
  g_return_if_fail (monitor_metrics_name_is_valid (name));
  g_return_if_fail (labels_are_valid (labels));
  Family *family = family_get (metrics, name, "histogram", help);
  if (family == NULL)
    return;
  guint64 cumulative = 0;
  char le[G_ASCII_DTOSTR_BUF_SIZE];
  for (guint i = 0; i < histogram->n_bounds; i++)
    {
      cumulative += histogram->counts[i];
      g_ascii_formatd (le, sizeof le, "%.15g", histogram->bounds[i]);
      sample_append (family->samples, name, "_bucket", labels, "le", le, (double) cumulative);
    }
  sample_append (family->samples, name, "_bucket", labels, "le", "+Inf", (double) histogram->count);
  sample_append (family->samples, name, "_sum", labels, NULL, NULL, histogram->sum);
  sample_append (family->samples, name, "_count", labels, NULL, NULL, (double) histogram->count);
}

char *
monitor_metrics_render (const MonitorMetrics *metrics)
{
  GString *out = g_string_sized_new (4096);
  for (guint i = 0; i < metrics->families->len; i++)
    {
      Family *family = g_ptr_array_index (metrics->families, i);
      g_string_append_printf (out, "# HELP %s ", family->name);
      append_escaped (out, family->help, FALSE);
      g_string_append_printf (out, "\n# TYPE %s %s\n", family->name, family->type);
      g_string_append_len (out, family->samples->str, family->samples->len);
    }
  return g_string_free (out, FALSE);
}

/* ---- histogram accumulator -------------------------------------------- */

MonitorHistogram *
monitor_histogram_new (const double *bounds, guint n_bounds)
{
  MonitorHistogram *histogram = g_new0 (MonitorHistogram, 1);
  histogram->n_bounds = n_bounds;
  histogram->bounds = g_memdup2 (bounds, n_bounds * sizeof (double));
  histogram->counts = g_new0 (guint64, n_bounds + 1);
  for (guint i = 1; i < n_bounds; i++)
    g_warn_if_fail (bounds[i] > bounds[i - 1]);
  return histogram;
}

void
monitor_histogram_free (MonitorHistogram *histogram)
{
  if (histogram == NULL)
    return;
  g_free (histogram->bounds);
  g_free (histogram->counts);
  g_free (histogram);
}

void
monitor_histogram_observe (MonitorHistogram *histogram, double value)
{
  guint i = 0;
  while (i < histogram->n_bounds && value > histogram->bounds[i])
    i++;
  histogram->counts[i]++;
  histogram->count++;
  histogram->sum += value;
}
