/* disk-baseline.h — what this machine's disk allows, measured in the
 * benchmark's own run, so that bench-cluster can print its write figures
 * beside the disk's ceiling: the sequential write rate of three writers at
 * once (the three workers of a local cluster), each with one fdatasync at
 * its end, and the latency of a 32 KiB append followed by fdatasync, with
 * one writer and with three at once. Also the bytes written so far to the
 * disk that holds a folder, to tell how many bytes a stored file costs. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  double seq_write_mb_per_s;      /* three writers at once; 0: not measured */
  double fsync_32k_x3_p50_us;
  double fsync_32k_x1_p50_us;
} DiskBaseline;

/* Measures in @dir (a temporary folder on the disk the cluster uses);
 * prints disk_* name=value lines. */
void disk_baseline_measure (DiskBaseline *out, const char *dir);

/* Bytes written so far to the block device holding @dir (Linux: its
 * /sys/dev/block/MAJOR:MINOR/stat), journal and everything else included;
 * -1 when the system does not say. The page cache's own accounting
 * (/proc/PID/io) is no use here: it counts whole large folios. */
gint64 disk_baseline_device_written_bytes (const char *dir);

/* Writes back every dirty page of the file system holding @dir (`sync -f`),
 * so that bytes written without an fsync are counted too. */
void disk_baseline_flush (const char *dir);

G_END_DECLS
