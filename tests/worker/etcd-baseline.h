/* etcd-baseline.h — issue 4 sets Minka's write targets relative to etcd 3.4
 * (3 members on loopback). This measures that baseline in the benchmark's
 * own run: a 3-member etcd cluster as child processes on 127.0.0.1 (free
 * ports, a temporary folder, default durability and timing), loaded with
 * wrk at concurrency 1 and 16 through etcd's HTTP API, with small values
 * and with the 1–64 KiB sizes `minka stress` uploads. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One wrk run against the leader. writes_per_s is 0 when the run is not
 * valid (no etcd, wrk failed, or any request failed). */
typedef struct {
  double writes_per_s;
  double p50_ms;
  guint64 requests;
  guint64 errors;                 /* non-2xx responses + socket errors */
} EtcdRun;

typedef struct {
  gboolean measured;              /* FALSE: etcd or wrk missing, or no cluster */
  EtcdRun small_c1, small_c16;    /* 100-byte values */
  EtcdRun files_c1, files_c16;    /* uniform 1–64 KiB values */
} EtcdBaseline;

/* Starts the cluster, runs the four loads for @seconds each, stops the
 * cluster and removes its folder. Prints etcd_* name=value lines, or
 * "etcd_baseline=skipped (…)" when etcd or wrk is not installed. */
void etcd_baseline_measure (EtcdBaseline *out, guint seconds);

/* Prints ratio_@name=@minka/@etcd when both are valid rates. */
void etcd_baseline_print_ratio (const char *name, double minka, const EtcdRun *etcd);

G_END_DECLS
