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

G_END_DECLS
