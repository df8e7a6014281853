/* minka-worker-gc.h — the decision half of the blob garbage collector,
 * free of sockets and Raft so tests can drive it: which of the blobs held
 * here have been unreferenced long enough to delete. The worker half
 * (timer, listing, deleting) is in minka-worker-gc.c. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE while @sha256 is referenced or in flight (must not be deleted). */
typedef gboolean (*MinkaGcInUseFunc) (const char *sha256, gpointer user_data);

/* What the worker knows at one sweep. */
typedef struct {
  gint64 now_us;               /* monotonic clock */
  guint64 last_index;          /* last entry in this worker's Raft log */
  guint64 applied_index;       /* last entry applied to the catalog */
  gboolean settled;            /* knows a leader and applied all it knows committed */
} MinkaGcView;

typedef struct {
  gint64 time_us;              /* first seen unreferenced (monotonic) */
  gint64 wall_s;               /* the same, seconds since the epoch */
  guint64 last_index;          /* the Raft log's last index then */
} MinkaGcMark;

typedef struct {
  GHashTable *marks;           /* sha256 → MinkaGcMark* */
  gint64 grace_us;
} MinkaGc;

MinkaGc *minka_gc_new (gint64 grace_us);
void minka_gc_free (MinkaGc *gc);
/* Drops @sha256's mark: it must be seen unreferenced afresh (twice). */
void minka_gc_forget (MinkaGc *gc, const char *sha256);
/* One sweep over @names (every blob held here). An unreferenced blob
 * without a mark gets one; a referenced one, or one no longer held, loses
 * it. Returns the names to delete now (their marks are dropped, and each
 * mark's wall_s is copied into @wall_out when not NULL, same order): those
 * still unreferenced, marked at an earlier sweep at least the grace period
 * ago, while the view
 * is settled and every log entry the worker held when it marked them has
 * been applied (so a FILE entry already in the log cannot name them).
 * Free with g_ptr_array_unref. */
GPtrArray *minka_gc_decide (MinkaGc *gc, GPtrArray *names, MinkaGcInUseFunc in_use,
                            gpointer user_data, const MinkaGcView *view, GArray *wall_out);

G_END_DECLS
