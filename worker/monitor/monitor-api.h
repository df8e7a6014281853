/* monitor-api.h — (internal) the JSON API bodies, written from what the
 * MonitorSource returns (field names: docs/monitor.md). */
#pragma once

#include "monitor-source.h"

G_BEGIN_DECLS

/* This worker's status fields, its peers and its jobs (the file list and
 * the logs are fetched apart, when catalog_digest / events_serial change). */
GBytes *monitor_api_status (const MonitorSource *source);
GBytes *monitor_api_peers (const MonitorSource *source);    /* {"peers": [...]} */
GBytes *monitor_api_files (const MonitorSource *source);    /* {..., "files", "models"} */
GBytes *monitor_api_events (const MonitorSource *source);   /* {"events", "requests"} */

G_END_DECLS
