/* monitor-response.h — (internal) an HTTP response being built, and its
 * serialisation with Content-Length or chunked transfer coding. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint status;
  GString *headers;           /* extra "Name: value\r\n" lines */
  GBytes *body;               /* NULL: empty */
  gboolean chunked;           /* send with Transfer-Encoding: chunked */
  gboolean close;             /* Connection: close after this one */
} MonitorResponse;

MonitorResponse *monitor_response_new (guint status);
/* A short text/plain body "<status> <reason>\n". */
MonitorResponse *monitor_response_new_error (guint status);
void monitor_response_free (MonitorResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MonitorResponse, monitor_response_free)

void monitor_response_add_header (MonitorResponse *response,
                                  const char *name, const char *value);
void monitor_response_set_body (MonitorResponse *response, GBytes *body,
                                const char *content_type);

const char *monitor_status_reason (guint status);

/* Appends the wire bytes to @out. HEAD responses and 304 carry no body;
 * HTTP/1.0 peers never get chunked, and get "Connection: keep-alive" when
 * the connection stays open. */
void monitor_response_write (const MonitorResponse *response, GByteArray *out,
                             gboolean head_only, guint version_minor,
                             const char *date);

G_END_DECLS
