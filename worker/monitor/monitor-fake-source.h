/* monitor-fake-source.h — made-up but changing worker state for the demo
 * server and the tests, until the real worker plugs its own in. */
#pragma once

#include "monitor-source.h"

G_BEGIN_DECLS

typedef struct _MonitorFakeSource MonitorFakeSource;

/* Data derived from the time since creation (a term change every 20 s, a
 * new file every 5 s, ...); @worker_id names this fake worker. */
MonitorFakeSource *monitor_fake_source_new (guint worker_id);
void monitor_fake_source_free (MonitorFakeSource *fake);
/* Fills @source with callbacks reading @fake. */
void monitor_fake_source_bind (MonitorFakeSource *fake, MonitorSource *source);

G_END_DECLS
