/* minka-frame.h — the wire frame of Minka: a header line of compact JSON
 * ending in '\n', then, if the header says "body": N, exactly N raw bytes.
 * A pure incremental parser and an encoder (no I/O, minka-frame.c), plus
 * MinkaFrameConnection, async frame I/O over a socket connection
 * (minka-frame-connection.c). See docs/protocol.md. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MINKA_FRAME_MAX_HEADER (64 * 1024)       /* bytes, without the '\n' */
#define MINKA_FRAME_MAX_BODY (8 * 1024 * 1024)   /* bytes */
#define MINKA_FRAME_MAX_DEPTH 32                 /* JSON nesting in a header */

#define MINKA_FRAME_ERROR (minka_frame_error_quark ())
GQuark minka_frame_error_quark (void);

typedef enum {
  MINKA_FRAME_ERROR_HEADER_TOO_LONG,  /* no '\n' within the header limit */
  MINKA_FRAME_ERROR_BAD_HEADER,       /* not JSON, not an object, NUL, bad type/body */
  MINKA_FRAME_ERROR_BODY_TOO_LONG,    /* "body" over the limit */
  MINKA_FRAME_ERROR_TRUNCATED,        /* peer closed in the middle of a frame */
  MINKA_FRAME_ERROR_CLOSED,           /* peer closed between frames / we closed */
  MINKA_FRAME_ERROR_TIMEOUT,          /* idle or slow peer */
} MinkaFrameError;

/* A decoded frame. @body is NULL when the frame has no body (or "body": 0). */
typedef struct {
  JsonObject *header;
  GBytes *body;
} MinkaFrame;

/* Takes new references on @header and @body (either may be shared). */
MinkaFrame *minka_frame_new (JsonObject *header, GBytes *body);
void minka_frame_free (MinkaFrame *frame);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaFrame, minka_frame_free)

/* The "type" member (never NULL for a parsed frame). */
const char *minka_frame_get_frame_type (const MinkaFrame *frame);
/* The "id" member if it is a non-negative integer, else -1. */
gint64 minka_frame_get_id (const MinkaFrame *frame);

/* Members of a header the other side sent. Absent or null gives
 * @fallback; a member of another JSON type gives @fallback too and, when
 * @bad is not NULL and still NULL, sets *@bad to @name, so that a handler
 * reading several can answer once, naming the first wrong one. Unlike
 * json-glib's accessors, no input makes these log a critical. */
gint64 minka_header_get_int (JsonObject *header, const char *name, gint64 fallback,
                             const char **bad);
const char *minka_header_get_string (JsonObject *header, const char *name,
                                     const char *fallback, const char **bad);

/* New header objects (caller owns the reference). A reply copies the
 * request's "id", whatever its JSON type. */
JsonObject *minka_frame_header_new (const char *type);
JsonObject *minka_frame_header_new_reply (JsonObject *request, const char *type);
/* {"type":"ERROR","id":<request id>,"code":@code,"message":@message};
 * @request may be NULL when the error is not about a request. */
JsonObject *minka_frame_header_new_error (JsonObject *request, const char *code,
                                          const char *message);

/* Encodes a frame: sets (or removes, when @body is NULL or empty) the "body"
 * member of @header, then returns the header line including '\n'. The body
 * itself is not copied: send it after the returned bytes. Fails if "type"
 * is missing or a limit is exceeded. */
GBytes *minka_frame_encode_header (JsonObject *header, GBytes *body, GError **error);
/* The whole frame in one buffer (tests, small frames). */
GBytes *minka_frame_encode (JsonObject *header, GBytes *body, GError **error);

/* Validates one header line (without its '\n') and returns its object;
 * *body_len receives the announced body size (0 if none). */
JsonObject *minka_frame_parse_header (const char *line, gsize len, gsize max_body,
                                      gsize *body_len, GError **error);

/* Incremental parser: feed any split of the byte stream, get frames out.
 * Never buffers more than the header limit plus one body. After an error
 * the parser stays failed (the connection must be closed). */
typedef struct _MinkaFrameParser MinkaFrameParser;

MinkaFrameParser *minka_frame_parser_new (void);
/* Lower limits (tests, or a role that needs less). 0 keeps the default. */
void minka_frame_parser_set_limits (MinkaFrameParser *parser, gsize max_header,
                                    gsize max_body);
void minka_frame_parser_free (MinkaFrameParser *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaFrameParser, minka_frame_parser_free)

/* Consumes bytes from @data up to the end of the first frame that
 * completes, and returns that frame; *consumed says how many bytes were
 * used (call again with the rest). Returns NULL with *consumed == @len when
 * more bytes are needed, or NULL with @error set on a bad frame. */
MinkaFrame *minka_frame_parser_feed (MinkaFrameParser *parser, const guint8 *data,
                                     gsize len, gsize *consumed, GError **error);
/* TRUE when part of a frame has been received (for truncation/timeouts). */
gboolean minka_frame_parser_in_frame (const MinkaFrameParser *parser);

/* MinkaFrameConnection (minka-frame-connection.c): frames over a
 * GSocketConnection. Use it from one thread, the one whose thread-default
 * main context was current at creation. Incoming frames are parsed as they
 * arrive (up to a few MiB ahead of the reader, then the peer is made to
 * wait); one read at a time hands them over. Sends are queued and written
 * in order, never interleaved. An I/O error, end of stream or timeout
 * closes the connection (later calls fail with the same error, or
 * MINKA_FRAME_ERROR_CLOSED) once the frames that arrived before it were
 * read. A bad frame from the peer fails the read and every later read, but
 * sends still work so the caller can answer with an ERROR frame before
 * closing. Callbacks never run inside the call that started them. */
#define MINKA_TYPE_FRAME_CONNECTION (minka_frame_connection_get_type ())
G_DECLARE_FINAL_TYPE (MinkaFrameConnection, minka_frame_connection, MINKA,
                      FRAME_CONNECTION, GObject)

/* @stream must be a GSocketConnection; sets TCP_NODELAY on TCP. */
MinkaFrameConnection *minka_frame_connection_new (GIOStream *stream);
GIOStream *minka_frame_connection_get_stream (MinkaFrameConnection *conn);

/* @idle_ms: a pending read with no frame started fails with
 * MINKA_FRAME_ERROR_TIMEOUT after this long (0 = never; default 0).
 * @frame_ms: a frame must be fully received, or fully written, within this
 * long once its first byte moved (0 = never; default 30000). */
void minka_frame_connection_set_timeouts (MinkaFrameConnection *conn,
                                          guint idle_ms, guint frame_ms);

/* Reads the next frame. Cancelling @cancellable fails the read with
 * G_IO_ERROR_CANCELLED but keeps the connection and any partial frame. */
void minka_frame_connection_read_async (MinkaFrameConnection *conn,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
MinkaFrame *minka_frame_connection_read_finish (MinkaFrameConnection *conn,
                                                GAsyncResult *result,
                                                GError **error);

/* Queues a frame (sets header "body" as minka_frame_encode_header does;
 * @body is referenced, not copied) and writes what the socket takes at
 * once. The callback (may be NULL) runs once the frame is fully written.
 * A @cancellable already cancelled drops the frame; a queued frame always
 * goes out or fails with the connection. */
void minka_frame_connection_send_async (MinkaFrameConnection *conn,
                                        JsonObject *header, GBytes *body,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean minka_frame_connection_send_finish (MinkaFrameConnection *conn,
                                             GAsyncResult *result,
                                             GError **error);
/* Bytes (headers + bodies) of sends not yet completed: a sender of many
 * chunks waits for send callbacks when this grows (back-pressure). */
gsize minka_frame_connection_get_queued_bytes (MinkaFrameConnection *conn);

/* Closes the connection: a pending read fails at once with
 * MINKA_FRAME_ERROR_CLOSED, frames already queued are still written (within
 * the frame timeout), then the stream is closed. Idempotent. */
void minka_frame_connection_close (MinkaFrameConnection *conn);
gboolean minka_frame_connection_is_closed (MinkaFrameConnection *conn);

G_END_DECLS
