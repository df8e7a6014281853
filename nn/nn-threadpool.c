/* nn-threadpool.c — GLib worker threads running parts of one job at a time.
 *
 * A job is published by bumping a generation counter; each worker runs its
 * part and decrements the pending count. Both sides spin briefly before
 * blocking, because on a training run the next job (the trainer runs about
 * eight per mini-batch) arrives within microseconds, and a futex wake-up
 * costs about as much as a small GEMM: the mutex, broadcast and signal are
 * only used when the other side has actually gone to sleep. Prediction
 * (fp32 and int8) shares one process-wide pool, created on first use. */
#include "nn-threadpool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause ()
#else
#define CPU_RELAX() do { } while (0)
#endif

/* How long a thread spins before blocking (microseconds). */
#define SPIN_US 50

typedef struct {
  NnThreadPool *pool;
  guint part;
  GThread *thread;
} Worker;

struct _NnThreadPool {
  guint size;
  Worker *workers;        /* size − 1 */
  GMutex mutex;
  GCond work_cond;        /* workers wait for a new generation */
  GCond done_cond;        /* the caller waits for pending == 0 */
  gint generation;        /* atomic */
  gint pending;           /* atomic: parts not yet finished */
  gint quit;              /* atomic, set under mutex */
  gint sleepers;          /* atomic: workers blocked (or about to block) */
  gint caller_sleeping;   /* atomic: the caller blocks on done_cond */
  NnPoolFunc func;
  gpointer data;
};

/* Spin until *value != not_value (or == want when @equal), for at most
 * SPIN_US. Returns TRUE if the condition was met. */
static gboolean
spin_wait (gint *value, gint target, gboolean equal)
{
  gint64 deadline = 0;
  for (guint i = 0;; i++)
    {
      gint v = g_atomic_int_get (value);
      if (equal ? v == target : v != target)
        return TRUE;
      CPU_RELAX ();
      if ((i & 63) == 63)
        {
          gint64 now = g_get_monotonic_time ();
          if (deadline == 0)
            deadline = now + SPIN_US;
          else if (now >= deadline)
            return FALSE;
        }
    }
}

static gpointer
worker_main (gpointer user_data)
{
  Worker *w = user_data;
  NnThreadPool *pool = w->pool;
  gint seen = 0;

  for (;;)
    {
      if (!spin_wait (&pool->generation, seen, FALSE))
        {
          /* Announce the sleep before re-checking, so that a publisher
           * either sees a sleeper (and broadcasts) or we see its job. */
          g_mutex_lock (&pool->mutex);
          g_atomic_int_inc (&pool->sleepers);
          while (g_atomic_int_get (&pool->generation) == seen && !pool->quit)
            g_cond_wait (&pool->work_cond, &pool->mutex);
          g_atomic_int_add (&pool->sleepers, -1);
          g_mutex_unlock (&pool->mutex);
        }
      /* func and data were stored before the generation was bumped (a full
       * barrier), and stay until every part has finished. */
      seen = g_atomic_int_get (&pool->generation);
      if (g_atomic_int_get (&pool->quit))
        return NULL;

      pool->func (w->part, pool->size, pool->data);

      if (g_atomic_int_dec_and_test (&pool->pending)
          && g_atomic_int_get (&pool->caller_sleeping))
        {
          g_mutex_lock (&pool->mutex);
          g_cond_signal (&pool->done_cond);
          g_mutex_unlock (&pool->mutex);
        }
    }
}

NnThreadPool *
nn_thread_pool_new (guint n_threads)
{
  if (n_threads == 0)
    n_threads = g_get_num_processors ();
  if (n_threads == 0)
    n_threads = 1;

  NnThreadPool *pool = g_new0 (NnThreadPool, 1);
  pool->size = n_threads;
  g_mutex_init (&pool->mutex);
  g_cond_init (&pool->work_cond);
  g_cond_init (&pool->done_cond);
  pool->workers = g_new0 (Worker, n_threads);
  for (guint i = 1; i < n_threads; i++)
    {
      Worker *w = &pool->workers[i];
      w->pool = pool;
      w->part = i;
      char name[32];
      g_snprintf (name, sizeof name, "nn-worker-%u", i);
      w->thread = g_thread_new (name, worker_main, w);
    }
  return pool;
}

void
nn_thread_pool_free (NnThreadPool *pool)
{
  if (pool == NULL)
    return;
  g_mutex_lock (&pool->mutex);
  g_atomic_int_set (&pool->quit, TRUE);
  g_atomic_int_inc (&pool->generation);
  g_cond_broadcast (&pool->work_cond);
  g_mutex_unlock (&pool->mutex);
  for (guint i = 1; i < pool->size; i++)
    g_thread_join (pool->workers[i].thread);
  g_free (pool->workers);
  g_mutex_clear (&pool->mutex);
  g_cond_clear (&pool->work_cond);
  g_cond_clear (&pool->done_cond);
  g_free (pool);
}

guint
nn_thread_pool_size (const NnThreadPool *pool)
{
  return pool->size;
}

void
nn_thread_pool_run (NnThreadPool *pool, NnPoolFunc func, gpointer data)
{
  if (pool->size == 1)
    {
      func (0, 1, data);
      return;
    }

  pool->func = func;
  pool->data = data;
  g_atomic_int_set (&pool->pending, (gint) pool->size - 1);
  g_atomic_int_inc (&pool->generation);
  /* A futex wake costs microseconds: only when a worker went to sleep. */
  if (g_atomic_int_get (&pool->sleepers) > 0)
    {
      g_mutex_lock (&pool->mutex);
      g_cond_broadcast (&pool->work_cond);
      g_mutex_unlock (&pool->mutex);
    }

  func (0, pool->size, data);

  if (!spin_wait (&pool->pending, 0, TRUE))
    {
      g_mutex_lock (&pool->mutex);
      g_atomic_int_set (&pool->caller_sleeping, TRUE);
      while (g_atomic_int_get (&pool->pending) != 0)
        g_cond_wait (&pool->done_cond, &pool->mutex);
      g_atomic_int_set (&pool->caller_sleeping, FALSE);
      g_mutex_unlock (&pool->mutex);
    }
}

static GMutex shared_pool_lock;

static gpointer
shared_pool_create (gpointer unused)
{
  return g_get_num_processors () > 1 ? nn_thread_pool_new (0) : NULL;
}

gboolean
nn_thread_pool_try_run_shared (NnPoolFunc func, gpointer data)
{
  static GOnce once = G_ONCE_INIT;
  NnThreadPool *pool = g_once (&once, shared_pool_create, NULL);
  if (pool == NULL || !g_mutex_trylock (&shared_pool_lock))
    return FALSE;
  nn_thread_pool_run (pool, func, data);
  g_mutex_unlock (&shared_pool_lock);
  return TRUE;
}
