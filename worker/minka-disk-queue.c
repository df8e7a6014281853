/* minka-disk-queue.c — a FIFO of disk jobs on one GThreadPool thread. */
#include "config.h"
#include "minka-disk-queue.h"

struct _MinkaDiskQueue
{
  GThreadPool *pool;
  GMainContext *context;
  gint stopping;                  /* atomic: done callbacks are dropped */
};

typedef struct {
  MinkaDiskQueue *queue;
  MinkaDiskJobFunc job;
  MinkaDiskDoneFunc done;
  gpointer data;
  gpointer result;
  GError *error;
} Job;

static gboolean
report (gpointer user_data)
{
  Job *j = user_data;
  if (!g_atomic_int_get (&j->queue->stopping) && j->done)
    j->done (j->data, j->result, j->error);
  g_clear_error (&j->error);
  g_free (j);
  return G_SOURCE_REMOVE;
}

static void
run (gpointer item, gpointer user_data)
{
  Job *j = item;
  j->result = j->job (j->data, &j->error);
  if (g_atomic_int_get (&j->queue->stopping))
    {
      g_clear_error (&j->error);
      g_free (j);
      return;
    }
  /* Default priority, not idle: a busy main loop must not starve writes. */
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, report, j, NULL);
  g_source_attach (source, j->queue->context);
  g_source_unref (source);
}

MinkaDiskQueue *
minka_disk_queue_new (void)
{
  MinkaDiskQueue *queue = g_new0 (MinkaDiskQueue, 1);
  queue->context = g_main_context_ref_thread_default ();
  /* One exclusive thread: jobs run one at a time, in order. */
  queue->pool = g_thread_pool_new (run, queue, 1, TRUE, NULL);
  return queue;
}

void
minka_disk_queue_push (MinkaDiskQueue *queue, MinkaDiskJobFunc job,
                       MinkaDiskDoneFunc done, gpointer data)
{
  Job *j = g_new0 (Job, 1);
  j->queue = queue;
  j->job = job;
  j->done = done;
  j->data = data;
  g_thread_pool_push (queue->pool, j, NULL);
}

void
minka_disk_queue_free (MinkaDiskQueue *queue)
{
  if (!queue)
    return;
  g_atomic_int_set (&queue->stopping, 1);
  g_thread_pool_free (queue->pool, FALSE, TRUE);
  g_main_context_unref (queue->context);
  g_free (queue);
}
