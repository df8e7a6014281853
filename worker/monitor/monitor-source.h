/* monitor-source.h — how the worker hands its state to the monitor: a plain
 * struct of callbacks, all called on the monitor's main context (the
 * worker's main loop) while a request is being answered. Each returns a
 * JsonNode reference the monitor takes (and unrefs); the monitor never
 * changes it, so a source may keep a cached node and return
 * json_node_ref (cached) until its data changes. A NULL callback (or a NULL
 * result) gives an empty section. Field names: docs/monitor.md. */
#pragma once

#include <json-glib/json-glib.h>

#include "monitor-metrics.h"

G_BEGIN_DECLS

typedef struct {
  /* Object: id, role, term, leader, commit_index, applied_index,
   * last_index, snapshot_index, uptime_s, threads, rss_bytes,
   * catalog_digest, ... */
  JsonNode *(*status) (gpointer user_data);
  /* Array of {id, address, reachable, match_index, lag, last_contact_ms}. */
  JsonNode *(*peers) (gpointer user_data);
  /* Object {catalog_digest, files: [...], models: [...]}. */
  JsonNode *(*files) (gpointer user_data);
  /* Object {events: [...], requests: [...]}. */
  JsonNode *(*events) (gpointer user_data);
  /* Array of training jobs (may stay NULL until training exists). */
  JsonNode *(*jobs) (gpointer user_data);
  /* Adds the worker's samples (the monitor adds its own afterwards). */
  void (*metrics) (MonitorMetrics *metrics, gpointer user_data);
  gpointer user_data;
} MonitorSource;

G_END_DECLS
