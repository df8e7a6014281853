/* monitor-json.h — (internal) a compact JSON writer for JsonNode trees,
 * straight into a GString: the API answers are written member by member
 * from the source's nodes, without merging them into a new tree first. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Appends @node (NULL: null) as compact JSON. Object members keep their
 * insertion order; NaN and infinities become null; invalid UTF-8 is
 * repaired. */
void monitor_json_write (GString *out, JsonNode *node);
/* Appends "name":value, preceded by a comma unless *first. */
void monitor_json_write_member (GString *out, const char *name, JsonNode *value,
                                gboolean *first);

G_END_DECLS
