/* minka-frame.c — the frame codec (header line of JSON + raw body) and the
 * incremental parser; pure, no I/O (MinkaFrameConnection, the I/O, is in
 * minka-frame-connection.c). */
#include "config.h"

#include "minka-frame.h"

#include <string.h>
#include <glib/gi18n-lib.h>

G_DEFINE_QUARK (minka-frame-error-quark, minka_frame_error)

/* ---- frames and headers ------------------------------------------------ */

MinkaFrame *
minka_frame_new (JsonObject *header, GBytes *body)
{
  MinkaFrame *frame = g_new0 (MinkaFrame, 1);
  frame->header = json_object_ref (header);
  frame->body = body != NULL ? g_bytes_ref (body) : NULL;
  return frame;
}

void
minka_frame_free (MinkaFrame *frame)
{
  if (frame == NULL)
    return;
  json_object_unref (frame->header);
  g_clear_pointer (&frame->body, g_bytes_unref);
  g_free (frame);
}

const char *
minka_frame_get_frame_type (const MinkaFrame *frame)
{
  return json_object_get_string_member_with_default (frame->header, "type", NULL);
}

gint64
minka_frame_get_id (const MinkaFrame *frame)
{
  JsonNode *node = json_object_get_member (frame->header, "id");
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
    return -1;
  gint64 id = json_node_get_int (node);
  return id >= 0 ? id : -1;
}

/* The member @name if it holds a value of @type; NULL if absent or null;
 * else NULL with *@bad set. */
static JsonNode *
header_member_of_type (JsonObject *header, const char *name, GType type, const char **bad)
{
  JsonNode *node = json_object_get_member (header, name);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type)
    return node;
  if (bad != NULL && *bad == NULL)
    *bad = name;
  return NULL;
}

gint64
minka_header_get_int (JsonObject *header, const char *name, gint64 fallback, const char **bad)
{
  JsonNode *node = header_member_of_type (header, name, G_TYPE_INT64, bad);
  return node ? json_node_get_int (node) : fallback;
}

const char *
minka_header_get_string (JsonObject *header, const char *name, const char *fallback,
                         const char **bad)
{
  JsonNode *node = header_member_of_type (header, name, G_TYPE_STRING, bad);
  return node ? json_node_get_string (node) : fallback;
}

JsonObject *
minka_frame_header_new (const char *type)
{
  JsonObject *header = json_object_new ();
  json_object_set_string_member (header, "type", type);
  return header;
}

JsonObject *
minka_frame_header_new_reply (JsonObject *request, const char *type)
{
  JsonObject *header = minka_frame_header_new (type);
  JsonNode *id = request != NULL ? json_object_get_member (request, "id") : NULL;
  if (id != NULL)
    json_object_set_member (header, "id", json_node_copy (id));
  return header;
}

JsonObject *
minka_frame_header_new_error (JsonObject *request, const char *code,
                              const char *message)
{
  JsonObject *header = minka_frame_header_new_reply (request, "ERROR");
  json_object_set_string_member (header, "code", code);
  json_object_set_string_member (header, "message", message);
  return header;
}

/* ---- encoder ------------------------------------------------------------ */

static gboolean
header_has_type (JsonObject *header)
{
  JsonNode *node = json_object_get_member (header, "type");
  return node != NULL && json_node_get_value_type (node) == G_TYPE_STRING
         && json_node_get_string (node) != NULL && json_node_get_string (node)[0] != '\0';
}

GBytes *
minka_frame_encode_header (JsonObject *header, GBytes *body, GError **error)
{
  gsize body_len = body != NULL ? g_bytes_get_size (body) : 0;

  if (!header_has_type (header))
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header has no \"type\""));
      return NULL;
    }
  if (body_len > MINKA_FRAME_MAX_BODY)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BODY_TOO_LONG,
                   _("Frame body of %llu bytes is over the limit of %d bytes"),
                   (unsigned long long) body_len, MINKA_FRAME_MAX_BODY);
      return NULL;
    }
  if (body_len > 0)
    json_object_set_int_member (header, "body", (gint64) body_len);
  else if (json_object_has_member (header, "body"))
    json_object_remove_member (header, "body");

  JsonNode *root = json_node_alloc ();
  json_node_init_object (root, header);
  JsonGenerator *gen = json_generator_new ();
  json_generator_set_root (gen, root);
  gsize len = 0;
  char *text = json_generator_to_data (gen, &len);
  g_object_unref (gen);
  json_node_unref (root);

  if (len > MINKA_FRAME_MAX_HEADER)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_HEADER_TOO_LONG,
                   _("Frame header of %llu bytes is over the limit of %d bytes"),
                   (unsigned long long) len, MINKA_FRAME_MAX_HEADER);
      g_free (text);
      return NULL;
    }
  text = g_realloc (text, len + 1);
  text[len] = '\n';
  return g_bytes_new_take (text, len + 1);
}

GBytes *
minka_frame_encode (JsonObject *header, GBytes *body, GError **error)
{
  g_autoptr (GBytes) head = minka_frame_encode_header (header, body, error);
  if (head == NULL)
    return NULL;
  GByteArray *all = g_byte_array_new ();
  g_byte_array_append (all, g_bytes_get_data (head, NULL), g_bytes_get_size (head));
  if (body != NULL)
    g_byte_array_append (all, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  return g_byte_array_free_to_bytes (all);
}

/* ---- header validation -------------------------------------------------- */

static gboolean
is_json_space (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A quick scan before json-glib sees the text: it must be one object with
 * nothing after it (json-glib would ignore trailing values), and nesting is
 * bounded because json-glib parses recursively (64 KiB of '[' would
 * otherwise exhaust the stack). Returns NULL or what is wrong. */
static const char *
header_shape_problem (const char *text, gsize len, guint max_depth)
{
  guint depth = 0;
  gboolean in_string = FALSE, escaped = FALSE, closed = FALSE;
  gsize i = 0;

  while (i < len && is_json_space (text[i]))
    i++;
  if (i == len || text[i] != '{')
    return _("Frame header is not a JSON object");
  for (; i < len; i++)
    {
      char c = text[i];
      if (closed)
        {
          if (!is_json_space (c))
            return _("Frame header has data after its JSON object");
        }
      else if (in_string)
        {
          if (escaped)
            {
              escaped = FALSE;
              /* C strings end at NUL: "a\u0000b" would silently become "a". */
              if (c == 'u' && i + 4 < len && memcmp (text + i + 1, "0000", 4) == 0)
                return _("Frame header contains an escaped NUL character");
            }
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > max_depth)
            return _("Frame header is nested too deeply");
        }
      else if (c == '}' || c == ']')
        closed = --depth == 0;
    }
  return NULL;
}

static gboolean
header_check_body (JsonObject *header, gsize max_body, gsize *body_len, GError **error)
{
  JsonNode *node = json_object_get_member (header, "body");
  *body_len = 0;
  if (node == NULL)
    return TRUE;
  if (json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < 0)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header: \"body\" must be a non-negative integer"));
      return FALSE;
    }
  gint64 n = json_node_get_int (node);
  if ((guint64) n > max_body)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BODY_TOO_LONG,
                   _("Frame body of %lld bytes is over the limit of %llu bytes"),
                   (long long) n, (unsigned long long) max_body);
      return FALSE;
    }
  *body_len = (gsize) n;
  return TRUE;
}

static gboolean
header_check_text (const char *line, gsize len, GError **error)
{
  const char *what = NULL;
  if (len == 0)
    what = _("Frame header is empty");
  else if (memchr (line, '\0', len) != NULL)
    what = _("Frame header contains a NUL byte");
  else if (!g_utf8_validate (line, (gssize) len, NULL))
    what = _("Frame header is not valid UTF-8");
  else
    what = header_shape_problem (line, len, MINKA_FRAME_MAX_DEPTH);
  if (what == NULL)
    return TRUE;
  g_set_error_literal (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER, what);
  return FALSE;
}

/* ---- the common case: a flat header ------------------------------------- */

/* Nearly every header is one flat object of plain strings, integers and
 * booleans ({"type":"RAFT","body":412}). Those are read here directly:
 * json-glib's parser (a GObject, a scanner and a node tree per call) cost
 * about 8% of a worker's main thread. Anything else — nesting, escapes,
 * fractions, a repeated member — returns NULL and goes to json-glib, so
 * both paths accept exactly the same headers. */
typedef struct {
  const char *p, *end;
} FlatCursor;

static void
flat_skip_space (FlatCursor *c)
{
  while (c->p < c->end && is_json_space (*c->p))
    c->p++;
}

/* A string without escapes or control characters; NULL otherwise. */
static char *
flat_string (FlatCursor *c)
{
  if (c->p >= c->end || *c->p != '"')
    return NULL;
  const char *start = ++c->p;
  while (c->p < c->end && *c->p != '"')
    {
      if (*c->p == '\\' || (guchar) *c->p < 0x20)
        return NULL;
      c->p++;
    }
  if (c->p >= c->end)
    return NULL;
  return g_strndup (start, (gsize) (c->p++ - start));
}

/* An integer that fits gint64, a string, true, false or null. */
static JsonNode *
flat_value (FlatCursor *c)
{
  if (c->p >= c->end)
    return NULL;
  if (*c->p == '"')
    {
      char *text = flat_string (c);
      if (text == NULL)
        return NULL;
      JsonNode *node = json_node_init_string (json_node_alloc (), text);
      g_free (text);
      return node;
    }
  static const char *const words[] = { "true", "false", "null" };
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    {
      gsize n = strlen (words[i]);
      if ((gsize) (c->end - c->p) >= n && memcmp (c->p, words[i], n) == 0)
        {
          c->p += n;
          return i < 2 ? json_node_init_boolean (json_node_alloc (), i == 0)
                       : json_node_init_null (json_node_alloc ());
        }
    }
  const char *start = c->p;
  gboolean negative = *c->p == '-';
  if (negative)
    c->p++;
  const char *digits = c->p;
  guint64 v = 0;
  while (c->p < c->end && g_ascii_isdigit (*c->p))
    {
      guint d = (guint) (*c->p++ - '0');
      if (v > (G_MAXUINT64 - d) / 10)
        return NULL;
      v = v * 10 + d;
    }
  gsize n_digits = (gsize) (c->p - digits);
  if (n_digits == 0 || (n_digits > 1 && *digits == '0')
      || (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
      || v > (negative ? (guint64) G_MAXINT64 + 1 : (guint64) G_MAXINT64))
    {
      c->p = start;
      return NULL;
    }
  gint64 value = negative ? (gint64) (0 - v) : (gint64) v;
  return json_node_init_int (json_node_alloc (), value);
}

static JsonObject *
flat_object_parse (const char *text, gsize len)
{
  FlatCursor c = { text, text + len };
  g_autoptr (JsonObject) object = json_object_new ();
  flat_skip_space (&c);
  if (c.p >= c.end || *c.p++ != '{')
    return NULL;
  flat_skip_space (&c);
  if (c.p < c.end && *c.p == '}')
    c.p++;
  else
    for (;;)
      {
        g_autofree char *name = flat_string (&c);
        flat_skip_space (&c);
        if (name == NULL || c.p >= c.end || *c.p++ != ':'
            || json_object_has_member (object, name))
          return NULL;
        flat_skip_space (&c);
        JsonNode *value = flat_value (&c);
        if (value == NULL)
          return NULL;
        json_object_set_member (object, name, value);
        flat_skip_space (&c);
        if (c.p < c.end && *c.p == ',')
          {
            c.p++;
            flat_skip_space (&c);
            continue;
          }
        if (c.p < c.end && *c.p == '}')
          {
            c.p++;
            break;
          }
        return NULL;
      }
  flat_skip_space (&c);
  return c.p == c.end ? g_steal_pointer (&object) : NULL;
}

static JsonObject *
header_check_object (JsonObject *header, gsize max_body, gsize *body_len, GError **error)
{
  if (!header_has_type (header))
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header has no \"type\" string"));
      return NULL;
    }
  if (!header_check_body (header, max_body, body_len, error))
    return NULL;
  return json_object_ref (header);
}

JsonObject *
minka_frame_parse_header (const char *line, gsize len, gsize max_body,
                          gsize *body_len, GError **error)
{
  g_autoptr (GError) json_error = NULL;

  *body_len = 0;
  if (!header_check_text (line, len, error))
    return NULL;
  g_autoptr (JsonObject) flat = flat_object_parse (line, len);
  if (flat != NULL)
    return header_check_object (flat, max_body, body_len, error);

  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, line, (gssize) len, &json_error))
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header is not valid JSON: %s"), json_error->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (json_parser_has_assignment (parser, NULL) || root == NULL
      || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame header is not a JSON object"));
      return NULL;
    }
  return header_check_object (json_node_get_object (root), max_body, body_len, error);
}

/* ---- incremental parser ------------------------------------------------- */

struct _MinkaFrameParser {
  gsize max_header, max_body;
  GByteArray *line;        /* header bytes received so far (no '\n') */
  JsonObject *header;      /* non-NULL while the body is being received */
  guint8 *body;
  gsize body_len, body_got, body_cap;
  gboolean failed;
};

MinkaFrameParser *
minka_frame_parser_new (void)
{
  MinkaFrameParser *parser = g_new0 (MinkaFrameParser, 1);
  parser->max_header = MINKA_FRAME_MAX_HEADER;
  parser->max_body = MINKA_FRAME_MAX_BODY;
  parser->line = g_byte_array_new ();
  return parser;
}

void
minka_frame_parser_set_limits (MinkaFrameParser *parser, gsize max_header, gsize max_body)
{
  if (max_header > 0)
    parser->max_header = max_header;
  if (max_body > 0)
    parser->max_body = max_body;
}

void
minka_frame_parser_free (MinkaFrameParser *parser)
{
  if (parser == NULL)
    return;
  g_byte_array_unref (parser->line);
  g_clear_pointer (&parser->header, json_object_unref);
  g_free (parser->body);
  g_free (parser);
}

gboolean
minka_frame_parser_in_frame (const MinkaFrameParser *parser)
{
  return parser->line->len > 0 || parser->header != NULL;
}

static MinkaFrame *
parser_take_frame (MinkaFrameParser *parser)
{
  GBytes *body = NULL;
  if (parser->body_len > 0)
    body = g_bytes_new_take (parser->body, parser->body_len);
  MinkaFrame *frame = g_new0 (MinkaFrame, 1);
  frame->header = parser->header;
  frame->body = body;
  parser->header = NULL;
  parser->body = NULL;
  parser->body_len = parser->body_got = parser->body_cap = 0;
  return frame;
}

/* Body memory grows with the bytes that actually arrive, up to exactly the
 * announced size, so announcing 8 MiB costs nothing until it is sent. */
static void
parser_body_append (MinkaFrameParser *parser, const guint8 *data, gsize n)
{
  gsize need = parser->body_got + n;
  if (need > parser->body_cap)
    {
      gsize cap = MAX (parser->body_cap * 2, MAX (need, (gsize) 64 * 1024));
      parser->body_cap = MIN (cap, parser->body_len);
      parser->body = g_realloc (parser->body, parser->body_cap);
    }
  memcpy (parser->body + parser->body_got, data, n);
  parser->body_got += n;
}

/* Header phase: returns bytes used, or (gsize) -1 on error. */
static gsize
parser_feed_line (MinkaFrameParser *parser, const guint8 *data, gsize len, GError **error)
{
  gsize room = parser->max_header - parser->line->len;
  const guint8 *nl = memchr (data, '\n', MIN (len, room + 1));
  if (nl == NULL)
    {
      if (len > room)
        {
          g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_HEADER_TOO_LONG,
                       _("Frame header is longer than %llu bytes"),
                       (unsigned long long) parser->max_header);
          return (gsize) -1;
        }
      g_byte_array_append (parser->line, data, (guint) len);
      return len;
    }
  gsize take = (gsize) (nl - data);
  g_byte_array_append (parser->line, data, (guint) take);
  parser->header = minka_frame_parse_header ((const char *) parser->line->data,
                                             parser->line->len, parser->max_body,
                                             &parser->body_len, error);
  g_byte_array_set_size (parser->line, 0);
  return parser->header != NULL ? take + 1 : (gsize) -1;
}

MinkaFrame *
minka_frame_parser_feed (MinkaFrameParser *parser, const guint8 *data, gsize len,
                         gsize *consumed, GError **error)
{
  *consumed = 0;
  if (parser->failed)
    {
      g_set_error (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER,
                   _("Frame stream is broken by an earlier error"));
      return NULL;
    }
  if (parser->header == NULL)
    {
      if (len == 0)
        return NULL;
      gsize used = parser_feed_line (parser, data, len, error);
      if (used == (gsize) -1)
        {
          parser->failed = TRUE;
          return NULL;
        }
      *consumed = used;
      if (parser->header == NULL)
        return NULL;
      data += used;
      len -= used;
    }
  gsize n = MIN (len, parser->body_len - parser->body_got);
  if (n > 0)
    parser_body_append (parser, data, n);
  *consumed += n;
  return parser->body_got == parser->body_len ? parser_take_frame (parser) : NULL;
}
