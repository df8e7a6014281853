/* monitor-metrics.h — a small builder for the Prometheus text exposition
 * format 0.0.4 (counters, gauges, histograms with HELP and TYPE lines), and
 * a histogram accumulator the worker can observe latencies into. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MONITOR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct _MonitorMetrics MonitorMetrics;

MonitorMetrics *monitor_metrics_new (void);
void monitor_metrics_free (MonitorMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MonitorMetrics, monitor_metrics_free)

/* One sample each. @labels is NULL or a NULL-terminated list of
 * name, value pairs ("role", "leader", NULL). Samples of one metric name may
 * be added in several calls (with different labels); the output groups them
 * under one HELP/TYPE. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; counter
 * names should end in _total. */
void monitor_metrics_counter (MonitorMetrics *metrics, const char *name,
                              const char *help, const char *const *labels,
                              double value);
void monitor_metrics_gauge (MonitorMetrics *metrics, const char *name,
                            const char *help, const char *const *labels,
                            double value);

/* Latency-style histogram: @bounds are the ascending upper bounds of the
 * finite buckets; counts[i] is the number of observations <= bounds[i] and
 * > bounds[i-1]; counts[n_bounds] the rest (+Inf). */
typedef struct {
  guint n_bounds;
  double *bounds;
  guint64 *counts;            /* n_bounds + 1, not cumulative */
  double sum;
  guint64 count;
} MonitorHistogram;

MonitorHistogram *monitor_histogram_new (const double *bounds, guint n_bounds);
void monitor_histogram_free (MonitorHistogram *histogram);
void monitor_histogram_observe (MonitorHistogram *histogram, double value);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MonitorHistogram, monitor_histogram_free)

void monitor_metrics_histogram (MonitorMetrics *metrics, const char *name,
                                const char *help, const char *const *labels,
                                const MonitorHistogram *histogram);

/* The text so far (families in the order first added). */
char *monitor_metrics_render (const MonitorMetrics *metrics);

/* Exposed for tests. */
gboolean monitor_metrics_name_is_valid (const char *name);

G_END_DECLS
