/* minka-disk-queue.h — one thread that runs disk jobs in the order they were
 * queued, reporting each back on the main context. The order matters: a
 * snapshot job must run after every blob write queued before it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MinkaDiskQueue MinkaDiskQueue;

/* Runs on the disk thread. Returns a result (NULL, or memory g_free can
 * release) or sets @error. */
typedef gpointer (*MinkaDiskJobFunc) (gpointer data, GError **error);
/* Runs on the main context afterwards, and frees @data. */
typedef void (*MinkaDiskDoneFunc) (gpointer data, gpointer result, const GError *error);

MinkaDiskQueue *minka_disk_queue_new (void);
/* Call from the thread of the main context the queue was made on. @free_data
 * frees @data when the queue is freed before @done could run (the result
 * is then released with g_free). */
void minka_disk_queue_push (MinkaDiskQueue *queue, MinkaDiskJobFunc job,
                            MinkaDiskDoneFunc done, GDestroyNotify free_data,
                            gpointer data);
/* Waits for the queued jobs to finish; their done callbacks are not run
 * (what they would use may be gone), their data is freed. */
void minka_disk_queue_free (MinkaDiskQueue *queue);

G_END_DECLS
