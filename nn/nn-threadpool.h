/* nn-threadpool.h — a fixed set of GLib threads that run "this function on
 * N parts" and wait for all of them: the trainer's only parallel primitive.
 *
 * Threads are created once. Between jobs they spin for a few tens of
 * microseconds (the next mini-batch usually follows at once) and then
 * block on a GCond, so an idle pool costs no CPU. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _NnThreadPool NnThreadPool;

/* Called once per part, part in [0, n_parts). */
typedef void (*NnPoolFunc) (guint part, guint n_parts, gpointer data);

/* A pool of @n_threads parts in total: the calling thread runs part 0 and
 * n_threads − 1 worker threads run the others. 0 means every core. */
NnThreadPool *nn_thread_pool_new (guint n_threads);
void nn_thread_pool_free (NnThreadPool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnThreadPool, nn_thread_pool_free)

guint nn_thread_pool_size (const NnThreadPool *pool);

/* Run func(part, size, data) for every part and return when all are done.
 * Not reentrant: one caller at a time. */
void nn_thread_pool_run (NnThreadPool *pool, NnPoolFunc func, gpointer data);

/* Inference's pool (nn_model_predict, nn_quant_model_predict): runs @func
 * on a process-wide pool of every core, created on first use, whose threads
 * block when idle and live until the process ends. It serves one caller at
 * a time: when it is busy, or the machine has one core, this returns FALSE
 * having run nothing, and the caller runs the work itself instead of
 * waiting. */
gboolean nn_thread_pool_try_run_shared (NnPoolFunc func, gpointer data);

G_END_DECLS
