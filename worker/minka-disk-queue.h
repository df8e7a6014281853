/* minka-disk-queue.h — one thread that runs disk jobs in the order they were
 * queued, reporting each back on the main context. The order matters: a
 * snapshot job must run after every blob write queued before it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MinkaDiskQueue MinkaDiskQueue;

/* Runs on the disk thread. Returns a result (may be NULL) or sets @error. */
typedef gpointer (*MinkaDiskJobFunc) (gpointer data, GError **error);
/* Runs on the main context afterwards; owns nothing but @data's contents. */
typedef void (*MinkaDiskDoneFunc) (gpointer data, gpointer result, const GError *error);

MinkaDiskQueue *minka_disk_queue_new (void);
void minka_disk_queue_push (MinkaDiskQueue *queue, MinkaDiskJobFunc job,
                            MinkaDiskDoneFunc done, gpointer data);
/* Waits for the queued jobs to finish (their done callbacks are dropped). */
void minka_disk_queue_free (MinkaDiskQueue *queue);

G_END_DECLS
