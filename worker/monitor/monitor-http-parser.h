/* monitor-http-parser.h — incremental HTTP/1.x request parser for the
 * worker's web monitor. Pure: bytes in, complete requests (or an HTTP error
 * status) out; no I/O, no clocks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MONITOR_MAX_HEAD (16 * 1024)   /* request line + headers */
#define MONITOR_MAX_HEADERS 100

typedef enum {
  MONITOR_METHOD_OTHER = 0,   /* a valid token we do not know */
  MONITOR_METHOD_GET,
  MONITOR_METHOD_HEAD,
  MONITOR_METHOD_POST,
  MONITOR_METHOD_PUT,
  MONITOR_METHOD_DELETE,
  MONITOR_METHOD_OPTIONS,
  MONITOR_METHOD_PATCH,
  MONITOR_METHOD_TRACE,
  MONITOR_METHOD_CONNECT,
} MonitorMethod;

typedef struct {
  char *name;                 /* lower case */
  char *value;                /* surrounding spaces and tabs removed */
} MonitorHeader;

typedef struct {
  char *method;
  MonitorMethod method_id;
  char *target;               /* request-target as sent */
  char *path;                 /* percent-decoded, normalised; "/" or "*" */
  char *query;                /* raw, without '?'; NULL when absent */
  guint version_minor;        /* HTTP/1.<minor>: 0 or 1 */
  gboolean keep_alive;        /* after Connection and version rules */
  guint64 content_length;     /* 0 when absent */
  gboolean chunked;           /* Transfer-Encoding: chunked */
  GPtrArray *headers;         /* of MonitorHeader*, in order */
} MonitorRequest;

void monitor_request_free (MonitorRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MonitorRequest, monitor_request_free)

/* First header of that (lower-case) name, or NULL. */
const char *monitor_request_get_header (const MonitorRequest *request,
                                        const char *name);
/* TRUE when the request announces a body (Content-Length > 0 or chunked). */
gboolean monitor_request_has_body (const MonitorRequest *request);

typedef enum {
  MONITOR_PARSE_NEED_MORE,    /* all input buffered, no complete head yet */
  MONITOR_PARSE_REQUEST,      /* *request set; the rest of the input waits */
  MONITOR_PARSE_ERROR,        /* *status set (400, 431, 505); stop reading */
} MonitorParseResult;

typedef struct _MonitorParser MonitorParser;

MonitorParser *monitor_parser_new (gsize max_head);
void monitor_parser_free (MonitorParser *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MonitorParser, monitor_parser_free)

/* Feeds up to @len bytes. *consumed says how many were taken; on
 * MONITOR_PARSE_REQUEST the bytes after the head are not consumed (the
 * next request of a pipeline, or a body the caller must deal with). After an
 * error the parser stays failed. */
MonitorParseResult monitor_parser_feed (MonitorParser *parser,
                                        const guint8 *data, gsize len,
                                        gsize *consumed,
                                        MonitorRequest **request,
                                        guint *status);
/* TRUE while part of a request head has been received. */
gboolean monitor_parser_in_progress (const MonitorParser *parser);
/* Why the last error happened (a short English phrase for logs). */
const char *monitor_parser_get_error (const MonitorParser *parser);

/* Percent-decodes and normalises an origin-form path ("/a/./b/../c" ->
 * "/a/c"). Returns NULL on bad escapes, NUL, backslash, or ".." above the
 * root. Exposed for tests. */
char *monitor_path_normalise (const char *raw, gsize len);

G_END_DECLS
