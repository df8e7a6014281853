/* monitor-api.c — the bodies of /api/status, /api/peers, /api/files and
 * /api/events. The source's nodes are written member by member (a missing
 * section is written as []), so nothing is copied or merged and the
 * source's nodes are never changed: a source may hand out cached nodes. */
#include "monitor-api.h"

#include "monitor-json.h"

/* Calls a source callback; a missing callback, a NULL or a node of the
 * wrong type gives an empty object or array. */
static JsonNode *
source_call (JsonNode *(*fn) (gpointer), gpointer user_data, JsonNodeType want)
{
  JsonNode *node = fn ? fn (user_data) : NULL;
  if (node != NULL && JSON_NODE_TYPE (node) != want)
    {
      g_warning ("monitor: a source callback returned the wrong JSON type");
      json_node_unref (node);
      node = NULL;
    }
  if (node == NULL)
    {
      node = json_node_new (want);
      if (want == JSON_NODE_OBJECT)
        json_node_take_object (node, json_object_new ());
      else
        json_node_take_array (node, json_array_new ());
    }
  return node;
}

static gboolean
any_has (JsonObject *const *objects, const char *name)
{
  for (JsonObject *const *o = objects; o && *o; o++)
    if (json_object_has_member (*o, name))
      return TRUE;
  return FALSE;
}

typedef struct {
  GString *out;
  gboolean *first;
} Section;

static void
section_member (JsonObject *object, const char *name, JsonNode *value, gpointer data)
{
  Section *s = data;
  monitor_json_write_member (s->out, name, value, s->first);
}

static void
write_members (GString *out, JsonObject *object, gboolean *first)
{
  Section s = { out, first };
  json_object_foreach_member (object, section_member, &s);
}

/* "name":[] unless one of @have has it. */
static void
ensure_array (GString *out, const char *name, JsonObject *const *have, gboolean *first)
{
  if (any_has (have, name))
    return;
  g_autoptr (JsonNode) empty = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (empty, json_array_new ());
  monitor_json_write_member (out, name, empty, first);
}

static GBytes *
object_body (JsonNode *(*fn) (gpointer), gpointer user_data, const char *array1, const char *array2)
{
  g_autoptr (JsonNode) node = source_call (fn, user_data, JSON_NODE_OBJECT);
  JsonObject *have[] = { json_node_get_object (node), NULL };
  GString *out = g_string_sized_new (2048);
  gboolean first = TRUE;
  g_string_append_c (out, '{');
  write_members (out, have[0], &first);
  ensure_array (out, array1, have, &first);
  ensure_array (out, array2, have, &first);
  g_string_append_c (out, '}');
  return g_string_free_to_bytes (out);
}

GBytes *
monitor_api_files (const MonitorSource *src)
{
  return object_body (src->files, src->user_data, "files", "models");
}

GBytes *
monitor_api_events (const MonitorSource *src)
{
  return object_body (src->events, src->user_data, "events", "requests");
}

GBytes *
monitor_api_peers (const MonitorSource *src)
{
  g_autoptr (JsonNode) peers = source_call (src->peers, src->user_data, JSON_NODE_ARRAY);
  GString *out = g_string_sized_new (1024);
  gboolean first = TRUE;
  g_string_append_c (out, '{');
  monitor_json_write_member (out, "peers", peers, &first);
  g_string_append_c (out, '}');
  return g_string_free_to_bytes (out);
}

/* This worker's state, its peers and its jobs. The file list and the event
 * logs have their own endpoints: the page fetches them only when
 * catalog_digest or events_serial say they changed, so polling the status
 * (the page every second, monitoring systems far more often) stays cheap
 * however many files the catalog holds. */
GBytes *
monitor_api_status (const MonitorSource *src)
{
  g_autoptr (JsonNode) status = source_call (src->status, src->user_data, JSON_NODE_OBJECT);
  JsonObject *have[] = { json_node_get_object (status), NULL };
  GString *out = g_string_sized_new (2048);
  gboolean first = TRUE;
  g_string_append_c (out, '{');
  write_members (out, have[0], &first);
  if (!any_has (have, "peers"))
    {
      g_autoptr (JsonNode) peers = source_call (src->peers, src->user_data, JSON_NODE_ARRAY);
      monitor_json_write_member (out, "peers", peers, &first);
    }
  if (!any_has (have, "jobs"))
    {
      g_autoptr (JsonNode) jobs = source_call (src->jobs, src->user_data, JSON_NODE_ARRAY);
      monitor_json_write_member (out, "jobs", jobs, &first);
    }
  g_string_append_c (out, '}');
  return g_string_free_to_bytes (out);
}
