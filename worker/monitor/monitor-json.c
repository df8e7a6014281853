/* monitor-json.c — compact JSON output for JsonNode (see the header).
 * Written for /api/status: json-glib's generator (printf for every number,
 * and a merged copy of the tree to feed it) made up ~40% of a request's
 * instructions; writing the source's nodes directly took the request from
 * ~290k to ~220k instructions (callgrind, demo source). */
#include "monitor-json.h"

#include <math.h>
#include <string.h>

static void
write_string (GString *out, const char *text)
{
  g_autofree char *repaired = NULL;
  if (!g_utf8_validate (text, -1, NULL))
    text = repaired = g_utf8_make_valid (text, -1);
  g_string_append_c (out, '"');
  const char *run = text;
  for (const char *p = text; *p; p++)
    {
      guchar c = (guchar) *p;
      if (c >= 0x20 && c != '"' && c != '\\')
        continue;
      g_string_append_len (out, run, p - run);
      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        default: g_string_append_printf (out, "\\u%04x", c); break;
        }
      run = p + 1;
    }
  g_string_append (out, run);
  g_string_append_c (out, '"');
}

static void
write_int (GString *out, gint64 value)
{
  char buf[24];
  char *p = buf + sizeof buf;
  guint64 magnitude = value < 0 ? (guint64) 0 - (guint64) value : (guint64) value;
  do
    {
      *--p = (char) ('0' + magnitude % 10);
      magnitude /= 10;
    }
  while (magnitude > 0);
  if (value < 0)
    *--p = '-';
  g_string_append_len (out, p, buf + sizeof buf - p);
}

static void
write_value (GString *out, JsonNode *node)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      write_int (out, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      {
        double d = json_node_get_double (node);
        if (isfinite (d))
          g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.17g", d));
        else
          g_string_append (out, "null");
      }
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    case G_TYPE_STRING:
      write_string (out, json_node_get_string (node));
      break;
    default:
      g_string_append (out, "null");
      break;
    }
}

typedef struct {
  GString *out;
  gboolean first;
} MemberWriter;

static void
write_one_member (JsonObject *object, const char *name, JsonNode *value, gpointer data)
{
  MemberWriter *w = data;
  monitor_json_write_member (w->out, name, value, &w->first);
}

void
monitor_json_write_member (GString *out, const char *name, JsonNode *value, gboolean *first)
{
  if (!*first)
    g_string_append_c (out, ',');
  *first = FALSE;
  write_string (out, name);
  g_string_append_c (out, ':');
  monitor_json_write (out, value);
}

void
monitor_json_write (GString *out, JsonNode *node)
{
  if (node == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        MemberWriter w = { out, TRUE };
        g_string_append_c (out, '{');
        json_object_foreach_member (json_node_get_object (node), write_one_member, &w);
        g_string_append_c (out, '}');
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);
        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            monitor_json_write (out, json_array_get_element (array, i));
          }
        g_string_append_c (out, ']');
      }
      break;
    case JSON_NODE_VALUE:
      write_value (out, node);
      break;
    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}
