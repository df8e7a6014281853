/* minka-disk-queue.c — a FIFO of disk jobs on one thread of its own.
 *
 * Small files make this a job per upload, so hand-offs are batched both
 * ways: the thread takes every queued job in one lock, and the main loop
 * collects finished jobs with a timer that runs every REPORT_MS while any
 * job is outstanding. The disk thread never wakes the main loop: a source
 * attached from another thread does (an eventfd write and one more loop
 * iteration), and one wakeup per small file cost a worker a context switch
 * pair per upload on a VM where each costs microseconds of hypervisor
 * time. Nothing waits on a report for long: a small file is served from
 * memory until its write is reported, snapshots follow their writes on
 * the disk thread itself. */
#include "config.h"
#include "minka-disk-queue.h"

#define REPORT_MS 5

typedef struct {
  MinkaDiskJobFunc job;
  MinkaDiskDoneFunc done;
  GDestroyNotify free_data;
  gpointer data;
  gpointer result;
  GError *error;
} Job;

struct _MinkaDiskQueue
{
  GThread *thread;
  GMainContext *context;
  GMutex lock;
  GCond wake;
  GQueue todo;                    /* Job*, under lock */
  GQueue finished;                /* Job*, under lock */
  gboolean stopping;              /* under lock */
  guint outstanding;              /* main thread: pushed, not yet reported */
  GSource *report;                /* main thread: the timer, while outstanding */
};

static void
job_report (Job *j)
{
  if (j->done)
    j->done (j->data, j->result, j->error);
  g_clear_error (&j->error);
  g_free (j);
}

/* A job whose done callback will not run (the queue is going away). */
static void
job_drop (Job *j)
{
  if (j->free_data)
    j->free_data (j->data);
  g_free (j->result);
  g_clear_error (&j->error);
  g_free (j);
}

static gboolean
on_report (gpointer user_data)
{
  MinkaDiskQueue *queue = user_data;
  g_mutex_lock (&queue->lock);
  GQueue batch = queue->finished;
  g_queue_init (&queue->finished);
  g_mutex_unlock (&queue->lock);
  queue->outstanding -= batch.length;
  gboolean again = queue->outstanding > 0;
  if (!again)
    g_clear_pointer (&queue->report, g_source_unref);
  /* A done callback may push more jobs (and see the timer still there). */
  Job *j;
  while ((j = g_queue_pop_head (&batch)) != NULL)
    job_report (j);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Attached from the main thread, so attaching wakes nothing. Default
 * priority: a busy main loop must not starve the reports. */
static void
report_timer_start (MinkaDiskQueue *queue)
{
  queue->report = g_timeout_source_new (REPORT_MS);
  g_source_set_priority (queue->report, G_PRIORITY_DEFAULT);
  g_source_set_callback (queue->report, on_report, queue, NULL);
  g_source_attach (queue->report, queue->context);
}

static gpointer
disk_thread (gpointer user_data)
{
  MinkaDiskQueue *queue = user_data;
  g_mutex_lock (&queue->lock);
  for (;;)
    {
      while (g_queue_is_empty (&queue->todo) && !queue->stopping)
        g_cond_wait (&queue->wake, &queue->lock);
      if (g_queue_is_empty (&queue->todo))
        break;                                   /* stopping, all done */
      GQueue batch = queue->todo;
      g_queue_init (&queue->todo);
      g_mutex_unlock (&queue->lock);
      Job *j;
      while ((j = g_queue_pop_head (&batch)) != NULL)
        {
          j->result = j->job (j->data, &j->error);
          g_mutex_lock (&queue->lock);
          if (queue->stopping)
            job_drop (j);
          else
            g_queue_push_tail (&queue->finished, j);
          g_mutex_unlock (&queue->lock);
        }
      g_mutex_lock (&queue->lock);
    }
  g_mutex_unlock (&queue->lock);
  return NULL;
}

MinkaDiskQueue *
minka_disk_queue_new (void)
{
  MinkaDiskQueue *queue = g_new0 (MinkaDiskQueue, 1);
  queue->context = g_main_context_ref_thread_default ();
  g_mutex_init (&queue->lock);
  g_cond_init (&queue->wake);
  g_queue_init (&queue->todo);
  g_queue_init (&queue->finished);
  queue->thread = g_thread_new ("minka-disk", disk_thread, queue);
  return queue;
}

void
minka_disk_queue_push (MinkaDiskQueue *queue, MinkaDiskJobFunc job,
                       MinkaDiskDoneFunc done, GDestroyNotify free_data, gpointer data)
{
  Job *j = g_new0 (Job, 1);
  j->job = job;
  j->done = done;
  j->free_data = free_data;
  j->data = data;
  queue->outstanding++;
  if (queue->report == NULL)
    report_timer_start (queue);
  g_mutex_lock (&queue->lock);
  g_queue_push_tail (&queue->todo, j);
  g_cond_signal (&queue->wake);
  g_mutex_unlock (&queue->lock);
}

void
minka_disk_queue_free (MinkaDiskQueue *queue)
{
  if (!queue)
    return;
  g_mutex_lock (&queue->lock);
  queue->stopping = TRUE;
  g_cond_signal (&queue->wake);
  g_mutex_unlock (&queue->lock);
  g_thread_join (queue->thread);        /* runs the queued jobs first */

  /* The report timer may still be attached: remove it before the queue goes. */
  if (queue->report)
    {
      g_source_destroy (queue->report);
      g_clear_pointer (&queue->report, g_source_unref);
    }
  Job *j;
  while ((j = g_queue_pop_head (&queue->finished)) != NULL)
    job_drop (j);
  g_main_context_unref (queue->context);
  g_mutex_clear (&queue->lock);
  g_cond_clear (&queue->wake);
  g_free (queue);
}
