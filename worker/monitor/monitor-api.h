/* monitor-api.h — (internal) the JSON API bodies, written from what the
 * MonitorSource returns (field names: docs/monitor.md). */
#pragma once

#include "monitor-source.h"

G_BEGIN_DECLS

/* Everything the page shows: status fields, peers, files, models, events,
 * requests, jobs. */
GBytes *monitor_api_status (const MonitorSource *source);
GBytes *monitor_api_peers (const MonitorSource *source);    /* {"peers": [...]} */
GBytes *monitor_api_files (const MonitorSource *source);    /* {..., "files", "models"} */
GBytes *monitor_api_events (const MonitorSource *source);   /* {"events", "requests"} */

G_END_DECLS
