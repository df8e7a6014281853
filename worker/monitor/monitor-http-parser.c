/* monitor-http-parser.c — incremental HTTP/1.x request parser (see the
 * header). The head is buffered until its blank line, checked byte by byte
 * as it arrives (NUL, bare CR or LF, size), then parsed in one pass. */
#include "monitor-http-parser.h"

#include <string.h>

struct _MonitorParser {
  GByteArray *head;
  gsize max_head;
  gboolean failed;
  guint fail_status;
  const char *error;
};

typedef struct {
  guint status;
  const char *why;
} ParseFailure;

void
monitor_request_free (MonitorRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->method);
  g_free (request->target);
  g_free (request->path);
  g_free (request->query);
  if (request->headers)
    g_ptr_array_unref (request->headers);
  g_free (request);
}

static void
header_free (gpointer data)
{
  MonitorHeader *header = data;
  g_free (header->name);
  g_free (header->value);
  g_free (header);
}

const char *
monitor_request_get_header (const MonitorRequest *request, const char *name)
{
  for (guint i = 0; i < request->headers->len; i++)
    {
      MonitorHeader *h = g_ptr_array_index (request->headers, i);
      if (strcmp (h->name, name) == 0)
        return h->value;
    }
  return NULL;
}

gboolean
monitor_request_has_body (const MonitorRequest *request)
{
  return request->content_length > 0 || request->chunked;
}

MonitorParser *
monitor_parser_new (gsize max_head)
{
  MonitorParser *parser = g_new0 (MonitorParser, 1);
  parser->head = g_byte_array_sized_new (512);
  parser->max_head = max_head ? max_head : MONITOR_MAX_HEAD;
  return parser;
}

void
monitor_parser_free (MonitorParser *parser)
{
  if (parser == NULL)
    return;
  g_byte_array_unref (parser->head);
  g_free (parser);
}

gboolean
monitor_parser_in_progress (const MonitorParser *parser)
{
  return parser->head->len > 0;
}

const char *
monitor_parser_get_error (const MonitorParser *parser)
{
  return parser->error;
}

/* ---- request line and headers ---------------------------------------- */

static gboolean
is_tchar (guchar c)
{
  return g_ascii_isalnum (c) || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static gboolean
is_token (const char *s, gsize len)
{
  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!is_tchar ((guchar) s[i]))
      return FALSE;
  return TRUE;
}

static MonitorMethod
method_lookup (const char *method)
{
  static const struct { const char *name; MonitorMethod id; } known[] = {
    { "GET", MONITOR_METHOD_GET }, { "HEAD", MONITOR_METHOD_HEAD },
    { "POST", MONITOR_METHOD_POST }, { "PUT", MONITOR_METHOD_PUT },
    { "DELETE", MONITOR_METHOD_DELETE }, { "OPTIONS", MONITOR_METHOD_OPTIONS },
    { "PATCH", MONITOR_METHOD_PATCH }, { "TRACE", MONITOR_METHOD_TRACE },
    { "CONNECT", MONITOR_METHOD_CONNECT },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp (method, known[i].name) == 0)   /* methods are case-sensitive */
      return known[i].id;
  return MONITOR_METHOD_OTHER;
}

static gboolean
fail (ParseFailure *f, guint status, const char *why)
{
  f->status = status;
  f->why = why;
  return FALSE;
}

/* origin-form "/p?q", absolute-form "http://host/p?q", or "*". */
static gboolean
target_parse (MonitorRequest *req, ParseFailure *f)
{
  const char *t = req->target;
  for (const char *p = t; *p; p++)
    if ((guchar) *p <= 0x20 || (guchar) *p >= 0x7f || *p == '#')
      return fail (f, 400, "invalid character in request target");
  if (strcmp (t, "*") == 0)
    {
      if (req->method_id != MONITOR_METHOD_OPTIONS)
        return fail (f, 400, "asterisk target without OPTIONS");
      req->path = g_strdup ("*");
      return TRUE;
    }
  if (g_ascii_strncasecmp (t, "http://", 7) == 0 || g_ascii_strncasecmp (t, "https://", 8) == 0)
    {
      const char *authority = strstr (t, "://") + 3;
      const char *slash = strchr (authority, '/');
      if (authority[0] == '/' || authority[0] == '\0')
        return fail (f, 400, "absolute target without host");
      t = slash ? slash : "/";
    }
  if (t[0] != '/')
    return fail (f, 400, "request target is not a path");
  const char *question = strchr (t, '?');
  gsize path_len = question ? (gsize) (question - t) : strlen (t);
  req->path = monitor_path_normalise (t, path_len);
  if (req->path == NULL)
    return fail (f, 400, "bad percent-encoding or path traversal");
  if (question)
    req->query = g_strdup (question + 1);
  return TRUE;
}

static gboolean
version_parse (MonitorRequest *req, const char *v, ParseFailure *f)
{
  if (strlen (v) != 8 || strncmp (v, "HTTP/", 5) != 0 || !g_ascii_isdigit (v[5])
      || v[6] != '.' || !g_ascii_isdigit (v[7]))
    return fail (f, 400, "malformed HTTP version");
  if (v[5] != '1')
    return fail (f, 505, "unsupported HTTP major version");
  req->version_minor = v[7] == '0' ? 0 : 1;   /* 1.x (x > 1) is served as 1.1 */
  return TRUE;
}

static gboolean
request_line_parse (MonitorRequest *req, const char *line, ParseFailure *f)
{
  const char *sp1 = strchr (line, ' ');
  const char *sp2 = sp1 ? strchr (sp1 + 1, ' ') : NULL;
  if (sp1 == NULL || sp2 == NULL || strchr (sp2 + 1, ' ') != NULL)
    return fail (f, 400, "request line is not METHOD SP TARGET SP VERSION");
  if (!is_token (line, sp1 - line))
    return fail (f, 400, "bad method token");
  if (sp2 == sp1 + 1)
    return fail (f, 400, "empty request target");
  req->method = g_strndup (line, sp1 - line);
  req->method_id = method_lookup (req->method);
  req->target = g_strndup (sp1 + 1, sp2 - sp1 - 1);
  return version_parse (req, sp2 + 1, f) && target_parse (req, f);
}

static gboolean
header_line_parse (MonitorRequest *req, const char *line, ParseFailure *f)
{
  if (line[0] == ' ' || line[0] == '\t')
    return fail (f, 400, "obsolete line folding");
  const char *colon = strchr (line, ':');
  if (colon == NULL || !is_token (line, colon - line))
    return fail (f, 400, "bad header name");
  const char *v = colon + 1;
  for (const char *p = v; *p; p++)
    if (((guchar) *p < 0x20 && *p != '\t') || *p == 0x7f)
      return fail (f, 400, "control character in header value");
  while (*v == ' ' || *v == '\t')
    v++;
  gsize vlen = strlen (v);
  while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    vlen--;
  if (req->headers->len >= MONITOR_MAX_HEADERS)
    return fail (f, 431, "too many header fields");
  MonitorHeader *h = g_new (MonitorHeader, 1);
  h->name = g_ascii_strdown (line, colon - line);
  h->value = g_strndup (v, vlen);
  g_ptr_array_add (req->headers, h);
  return TRUE;
}

static guint
header_count (const MonitorRequest *req, const char *name)
{
  guint n = 0;
  for (guint i = 0; i < req->headers->len; i++)
    n += strcmp (((MonitorHeader *) g_ptr_array_index (req->headers, i))->name, name) == 0;
  return n;
}

/* TRUE if any Connection header lists @token. */
static gboolean
connection_has (const MonitorRequest *req, const char *token)
{
  for (guint i = 0; i < req->headers->len; i++)
    {
      MonitorHeader *h = g_ptr_array_index (req->headers, i);
      if (strcmp (h->name, "connection") != 0)
        continue;
      g_auto (GStrv) parts = g_strsplit (h->value, ",", -1);
      for (char **p = parts; *p; p++)
        if (g_ascii_strcasecmp (g_strstrip (*p), token) == 0)
          return TRUE;
    }
  return FALSE;
}

static gboolean
body_headers_check (MonitorRequest *req, ParseFailure *f)
{
  guint n_cl = header_count (req, "content-length");
  guint n_te = header_count (req, "transfer-encoding");
  if (n_cl > 1)
    return fail (f, 400, "duplicate Content-Length");
  if (n_cl == 1)
    {
      const char *cl = monitor_request_get_header (req, "content-length");
      gsize len = strlen (cl);
      if (len == 0 || len > 18 || strspn (cl, "0123456789") != len)
        return fail (f, 400, "invalid Content-Length");
      req->content_length = g_ascii_strtoull (cl, NULL, 10);
    }
  if (n_te > 0)
    {
      if (n_cl > 0)
        return fail (f, 400, "both Content-Length and Transfer-Encoding");
      if (req->version_minor == 0)
        return fail (f, 400, "Transfer-Encoding in HTTP/1.0");
      /* The last coding of the last header must be chunked. */
      const char *te = NULL;
      for (guint i = 0; i < req->headers->len; i++)
        {
          MonitorHeader *h = g_ptr_array_index (req->headers, i);
          if (strcmp (h->name, "transfer-encoding") == 0)
            te = h->value;
        }
      const char *last = strrchr (te, ',');
      g_autofree char *coding = g_strstrip (g_strdup (last ? last + 1 : te));
      if (g_ascii_strcasecmp (coding, "chunked") != 0)
        return fail (f, 400, "Transfer-Encoding does not end in chunked");
      req->chunked = TRUE;
    }
  return TRUE;
}

static gboolean
semantics_check (MonitorRequest *req, ParseFailure *f)
{
  guint n_host = header_count (req, "host");
  if (n_host > 1)
    return fail (f, 400, "duplicate Host");
  if (n_host == 0 && req->version_minor == 1)
    return fail (f, 400, "HTTP/1.1 request without Host");
  if (!body_headers_check (req, f))
    return FALSE;
  if (req->version_minor == 1)
    req->keep_alive = !connection_has (req, "close");
  else
    req->keep_alive = connection_has (req, "keep-alive") && !connection_has (req, "close");
  return TRUE;
}

/* @head ends with CRLF CRLF and holds no NUL, bare CR or bare LF. */
static MonitorRequest *
head_parse (const guint8 *head, gsize len, ParseFailure *f)
{
  g_autofree char *text = g_strndup ((const char *) head, len - 4);
  g_auto (GStrv) lines = g_strsplit (text, "\r\n", -1);
  g_autoptr (MonitorRequest) req = g_new0 (MonitorRequest, 1);
  req->headers = g_ptr_array_new_with_free_func (header_free);
  if (!request_line_parse (req, lines[0], f))
    return NULL;
  for (char **line = lines + 1; *line; line++)
    if (!header_line_parse (req, *line, f))
      return NULL;
  if (!semantics_check (req, f))
    return NULL;
  return g_steal_pointer (&req);
}

/* ---- incremental framing ---------------------------------------------- */

static MonitorParseResult
parser_fail (MonitorParser *parser, guint status, const char *why, guint *status_out)
{
  parser->failed = TRUE;
  parser->fail_status = status;
  parser->error = why;
  *status_out = status;
  return MONITOR_PARSE_ERROR;
}

MonitorParseResult
monitor_parser_feed (MonitorParser *parser, const guint8 *data, gsize len,
                     gsize *consumed, MonitorRequest **request, guint *status)
{
  GByteArray *head = parser->head;
  *consumed = 0;
  *request = NULL;
  *status = 0;
  if (parser->failed)
    {
      *status = parser->fail_status;
      return MONITOR_PARSE_ERROR;
    }
  for (gsize i = 0; i < len; i++)
    {
      guint8 b = data[i];
      guint8 prev = head->len ? head->data[head->len - 1] : 0;
      *consumed = i + 1;
      if (b == 0)
        return parser_fail (parser, 400, "NUL byte in request head", status);
      if (prev == '\r' && b != '\n')
        return parser_fail (parser, 400, "CR not followed by LF", status);
      if (b == '\n' && prev != '\r')
        return parser_fail (parser, 400, "line ends without CR", status);
      if (b == '\n' && head->len == 1)
        {
          head->len = 0;      /* an empty line before the request is ignored */
          continue;
        }
      g_byte_array_append (head, &b, 1);
      if (head->len > parser->max_head)
        return parser_fail (parser, 431, "request head too large", status);
      if (b == '\n' && head->len >= 4 && memcmp (head->data + head->len - 4, "\r\n\r\n", 4) == 0)
        {
          ParseFailure f = { 0, NULL };
          *request = head_parse (head->data, head->len, &f);
          head->len = 0;
          if (*request == NULL)
            return parser_fail (parser, f.status, f.why, status);
          return MONITOR_PARSE_REQUEST;
        }
    }
  return MONITOR_PARSE_NEED_MORE;
}
