/* nn-model-file.c — the .minka model file: writing, reading and validating
 * it (format described in docs/model-format.md).
 *
 *   magic "\x89MINKA\r\n" | u32 version | u32 header_len | u64 n_params |
 *   JSON header | n_params × float32 | u32 CRC32 of everything before
 *
 * All integers and floats little-endian. Every field is checked before it
 * is trusted, and the total size must match exactly, so a bad file never
 * causes a large allocation or a read past the end. */
#include "config.h"
#include "nn-model.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "\x89MINKA\r\n"
#define MAGIC_LEN 8
#define FORMAT_VERSION 1
#define PREFIX_LEN 24            /* magic + version + header_len + n_params */
#define MAX_HEADER_LEN (16u << 20)
#define MAX_LAYERS 64
#define MAX_WIDTH (1u << 24)

/* ---- CRC32 (IEEE 802.3, reflected, as zlib/PNG) ------------------------ */

static guint32 crc_table[256];

static gpointer
crc_table_init (gpointer unused)
{
  for (guint32 i = 0; i < 256; i++)
    {
      guint32 c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      crc_table[i] = c;
    }
  return NULL;
}

static guint32
crc32_compute (const guint8 *data, gsize len)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, crc_table_init, NULL);
  guint32 c = 0xFFFFFFFFu;
  for (gsize i = 0; i < len; i++)
    c = crc_table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/* ---- little-endian helpers --------------------------------------------- */

static void
put_u32 (GByteArray *out, guint32 v)
{
  guint32 le = GUINT32_TO_LE (v);
  g_byte_array_append (out, (const guint8 *) &le, 4);
}

static void
put_u64 (GByteArray *out, guint64 v)
{
  guint64 le = GUINT64_TO_LE (v);
  g_byte_array_append (out, (const guint8 *) &le, 8);
}

static guint32
get_u32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

static guint64
get_u64 (const guint8 *p)
{
  guint64 v;
  memcpy (&v, p, 8);
  return GUINT64_FROM_LE (v);
}

/* ---- writing ----------------------------------------------------------- */

static void
add_string_array (JsonBuilder *b, const char *name, char **strv)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; strv[i] != NULL; i++)
    json_builder_add_string_value (b, strv[i]);
  json_builder_end_array (b);
}

static void
add_float_array (JsonBuilder *b, const char *name, const float *v, guint n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    json_builder_add_double_value (b, v[i]);
  json_builder_end_array (b);
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
add_metrics (JsonBuilder *b, GHashTable *metrics)
{
  json_builder_set_member_name (b, "metrics");
  json_builder_begin_object (b);
  if (metrics != NULL)
    {
      /* sorted names: the same model always gives the same bytes */
      g_autofree gpointer *keys =
        g_hash_table_get_keys_as_array (metrics, NULL);
      guint n = g_hash_table_size (metrics);
      qsort (keys, n, sizeof (gpointer), compare_names);
      for (guint i = 0; i < n; i++)
        {
          const double *v = g_hash_table_lookup (metrics, keys[i]);
          if (v == NULL || !isfinite (*v))
            continue;   /* JSON has no NaN/Inf */
          json_builder_set_member_name (b, keys[i]);
          json_builder_add_double_value (b, *v);
        }
    }
  json_builder_end_object (b);
}

static char *
header_to_json (const NnModel *model, gsize *len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, "minka-model");
  json_builder_set_member_name (b, "task");
  json_builder_add_string_value (b, model->task == NN_TASK_REGRESSION
                                    ? "regression" : "classification");
  json_builder_set_member_name (b, "layers");
  json_builder_begin_array (b);
  for (guint l = 0; l <= model->n_layers; l++)
    json_builder_add_int_value (b, model->sizes[l]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "activation");
  json_builder_add_string_value (b, nn_activation_name (model->activation));
  json_builder_set_member_name (b, "output");
  json_builder_add_string_value (b, model->task == NN_TASK_REGRESSION
                                    ? "linear" : "softmax");
  if (model->input_names != NULL)
    add_string_array (b, "input_names", model->input_names);
  if (model->class_names != NULL)
    add_string_array (b, "class_names", model->class_names);
  if (model->label_name != NULL)
    {
      json_builder_set_member_name (b, "label_name");
      json_builder_add_string_value (b, model->label_name);
    }
  if (model->norm != NULL)
    {
      json_builder_set_member_name (b, "normalization");
      json_builder_begin_object (b);
      add_float_array (b, "shift", model->norm->shift, model->norm->n_features);
      add_float_array (b, "scale", model->norm->scale, model->norm->n_features);
      json_builder_end_object (b);
    }
  add_metrics (b, model->metrics);
  json_builder_set_member_name (b, "created_unix");
  json_builder_add_int_value (b, model->created_unix);
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (model->created_unix);
  if (dt != NULL)
    {
      g_autofree char *iso = g_date_time_format_iso8601 (dt);
      json_builder_set_member_name (b, "created");
      json_builder_add_string_value (b, iso);
    }
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, len);
}

GBytes *
nn_model_serialize (const NnModel *model)
{
  gsize hlen = 0;
  g_autofree char *json = header_to_json (model, &hlen);
  GByteArray *out = g_byte_array_sized_new (PREFIX_LEN + hlen
                                            + 4 * model->n_params + 4);
  g_byte_array_append (out, (const guint8 *) MAGIC, MAGIC_LEN);
  put_u32 (out, FORMAT_VERSION);
  put_u32 (out, (guint32) hlen);
  put_u64 (out, model->n_params);
  g_byte_array_append (out, (const guint8 *) json, hlen);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  g_byte_array_append (out, (const guint8 *) model->params,
                       4 * model->n_params);
#else
  for (gsize i = 0; i < model->n_params; i++)
    {
      guint32 bits;
      memcpy (&bits, &model->params[i], 4);
      put_u32 (out, bits);
    }
#endif
  put_u32 (out, crc32_compute (out->data, out->len));
  return g_byte_array_free_to_bytes (out);
}

gboolean
nn_model_save (const NnModel *model, const char *path, GError **error)
{
  g_autoptr (GBytes) bytes = nn_model_serialize (model);
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents_full (path, data, (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT
                                 | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_IO,
                   _("Cannot write model file “%s”: %s"), path, local->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- reading ----------------------------------------------------------- */

static gboolean
format_error (GError **error, const char *message)
{
  g_set_error_literal (error, NN_ERROR, NN_ERROR_FORMAT, message);
  return FALSE;
}

/* Member @name of @obj if it exists and has JSON type @type, else NULL. */
static JsonNode *
member_of_type (JsonObject *obj, const char *name, JsonNodeType type)
{
  JsonNode *node = json_object_get_member (obj, name);
  if (node == NULL || JSON_NODE_TYPE (node) != type)
    return NULL;
  return node;
}

static const char *
member_string (JsonObject *obj, const char *name)
{
  JsonNode *node = member_of_type (obj, name, JSON_NODE_VALUE);
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
node_number (JsonNode *node, double *out)
{
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return FALSE;
  GType t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    *out = (double) json_node_get_int (node);
  else if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return isfinite (*out);
}

/* Optional array of exactly @want strings; *out stays NULL when absent. */
static gboolean
read_names (JsonObject *obj, const char *name, guint want, char ***out,
            GError **error)
{
  *out = NULL;
  if (!json_object_has_member (obj, name))
    return TRUE;
  JsonNode *node = member_of_type (obj, name, JSON_NODE_ARRAY);
  JsonArray *arr = node ? json_node_get_array (node) : NULL;
  if (arr == NULL || json_array_get_length (arr) != want)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                   _("Model header: “%s” must be a list of %u names"), name, want);
      return FALSE;
    }
  char **names = g_new0 (char *, want + 1);
  /* Columns and classes are found by name: each must be there once. */
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < want; i++)
    {
      JsonNode *el = json_array_get_element (arr, i);
      if (JSON_NODE_TYPE (el) != JSON_NODE_VALUE
          || json_node_get_value_type (el) != G_TYPE_STRING)
        {
          g_strfreev (names);
          g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                       _("Model header: “%s” item %u is not a string"), name, i + 1);
          return FALSE;
        }
      names[i] = g_strdup (json_node_get_string (el));
      if (!g_hash_table_add (seen, names[i]))
        {
          g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                       _("Model header: “%s” has “%s” twice"), name, names[i]);
          g_strfreev (names);
          return FALSE;
        }
    }
  *out = names;
  return TRUE;
}

static gboolean
read_float_array (JsonObject *obj, const char *name, guint want, float *out,
                  GError **error)
{
  JsonNode *node = member_of_type (obj, name, JSON_NODE_ARRAY);
  JsonArray *arr = node ? json_node_get_array (node) : NULL;
  if (arr == NULL || json_array_get_length (arr) != want)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                   _("Model header: normalization “%s” must be a list of %u numbers"),
                   name, want);
      return FALSE;
    }
  for (guint i = 0; i < want; i++)
    {
      double v;
      /* Past FLT_MAX a double has no float32 value (the conversion is
       * undefined; in practice an infinity that would be written back as
       * "inf", which is not JSON). */
      if (!node_number (json_array_get_element (arr, i), &v) || fabs (v) > FLT_MAX)
        {
          g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                       _("Model header: normalization “%s” item %u is not a finite number"),
                       name, i + 1);
          return FALSE;
        }
      out[i] = (float) v;
    }
  return TRUE;
}

/* Task, layer sizes and activation: enough to allocate the model. */
static NnModel *
model_from_header (JsonObject *obj, guint64 n_params, GError **error)
{
  const char *task_s = member_string (obj, "task");
  NnTask task;
  if (g_strcmp0 (task_s, "classification") == 0)
    task = NN_TASK_CLASSIFICATION;
  else if (g_strcmp0 (task_s, "regression") == 0)
    task = NN_TASK_REGRESSION;
  else
    {
      format_error (error, _("Model header: “task” must be “classification” or “regression”"));
      return NULL;
    }

  NnActivation act;
  if (!nn_activation_from_name (member_string (obj, "activation"), &act))
    {
      format_error (error, _("Model header: unknown or missing “activation”"));
      return NULL;
    }

  JsonNode *node = member_of_type (obj, "layers", JSON_NODE_ARRAY);
  JsonArray *arr = node ? json_node_get_array (node) : NULL;
  guint n = arr ? json_array_get_length (arr) : 0;
  if (n < 2 || n > MAX_LAYERS + 1)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                   _("Model header: “layers” must list 2 to %u sizes"), MAX_LAYERS + 1);
      return NULL;
    }
  g_autofree guint *sizes = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    {
      double v;
      if (!node_number (json_array_get_element (arr, i), &v)
          || v < 1 || v > MAX_WIDTH || v != floor (v))
        {
          g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                       _("Model header: layer size %u is not an integer between 1 and %u"),
                       i + 1, MAX_WIDTH);
          return NULL;
        }
      sizes[i] = (guint) v;
    }
  gsize expect = nn_model_count_params (sizes, n - 1);
  if (expect == 0 || expect != n_params)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                   _("Model header: layer sizes need %llu"
                     " parameters but the file holds %llu"),
                   (unsigned long long) expect, (unsigned long long) n_params);
      return NULL;
    }
  return nn_model_new_sized (task, sizes, n - 1, act);
}

/* Names, normalisation, metrics, creation time. */
static gboolean
model_read_schema (NnModel *model, JsonObject *obj, GError **error)
{
  guint in = nn_model_n_inputs (model);
  if (!read_names (obj, "input_names", in, &model->input_names, error))
    return FALSE;
  if (model->task == NN_TASK_CLASSIFICATION
      && !read_names (obj, "class_names", nn_model_n_outputs (model),
                      &model->class_names, error))
    return FALSE;
  if (json_object_has_member (obj, "label_name"))
    {
      const char *label = member_string (obj, "label_name");
      if (label == NULL)
        return format_error (error, _("Model header: “label_name” must be a string"));
      model->label_name = g_strdup (label);
    }
  if (json_object_has_member (obj, "normalization"))
    {
      JsonNode *node = member_of_type (obj, "normalization", JSON_NODE_OBJECT);
      if (node == NULL)
        return format_error (error, _("Model header: “normalization” must be an object"));
      JsonObject *nobj = json_node_get_object (node);
      model->norm = nn_normalization_new_identity (in);
      if (!read_float_array (nobj, "shift", in, model->norm->shift, error)
          || !read_float_array (nobj, "scale", in, model->norm->scale, error))
        return FALSE;
    }
  if (json_object_has_member (obj, "metrics"))
    {
      JsonNode *node = member_of_type (obj, "metrics", JSON_NODE_OBJECT);
      if (node == NULL)
        return format_error (error, _("Model header: “metrics” must be an object"));
      JsonObject *mobj = json_node_get_object (node);
      g_autoptr (GList) names = json_object_get_members (mobj);
      for (GList *l = names; l != NULL; l = l->next)
        {
          double v;
          if (!node_number (json_object_get_member (mobj, l->data), &v))
            {
              g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                           _("Model header: metric “%s” is not a finite number"),
                           (const char *) l->data);
              return FALSE;
            }
          nn_model_set_metric (model, l->data, v);
        }
    }
  JsonNode *created_node = json_object_get_member (obj, "created_unix");
  double created = 0;
  if (created_node && JSON_NODE_HOLDS_VALUE (created_node)
      && json_node_get_value_type (created_node) == G_TYPE_INT64)
    model->created_unix = json_node_get_int (created_node);   /* exact, as written */
  else if (node_number (created_node, &created))
    {
      /* ±2^63 are exact doubles; a value outside cannot be converted. */
      if (created < -9223372036854775808.0 || created >= 9223372036854775808.0)
        return format_error (error, _("Model header: created_unix is out of range"));
      model->created_unix = (gint64) created;
    }
  return TRUE;
}

/* Magic, version, sizes and CRC of the binary frame. */
static gboolean
check_frame (const guint8 *data, gsize len, guint32 *hlen, guint64 *n_params,
             GError **error)
{
  if (len < MAGIC_LEN)
    {
      if (len == 0 || memcmp (data, MAGIC, len) == 0)
        return format_error (error, _("Model file is truncated"));
      return format_error (error, _("Not a Minka model file (bad magic)"));
    }
  if (memcmp (data, MAGIC, MAGIC_LEN) != 0)
    return format_error (error, _("Not a Minka model file (bad magic)"));
  if (len < PREFIX_LEN + 4)
    return format_error (error, _("Model file is truncated"));
  guint32 version = get_u32 (data + 8);
  if (version != FORMAT_VERSION)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                   _("Unsupported model file version %u (this program reads version %u)"),
                   version, FORMAT_VERSION);
      return FALSE;
    }
  *hlen = get_u32 (data + 12);
  *n_params = get_u64 (data + 16);
  if (*hlen == 0 || *hlen > MAX_HEADER_LEN)
    return format_error (error, _("Model file has an invalid header length"));
  if (*n_params == 0 || *n_params > NN_MODEL_MAX_PARAMS)
    return format_error (error, _("Model file has an invalid parameter count"));
  guint64 expect = (guint64) PREFIX_LEN + *hlen + 4 * *n_params + 4;
  if (len < expect)
    return format_error (error, _("Model file is truncated"));
  if (len > expect)
    return format_error (error, _("Model file has unexpected data after its end"));
  if (crc32_compute (data, len - 4) != get_u32 (data + len - 4))
    return format_error (error, _("Model file is corrupt (checksum mismatch)"));
  return TRUE;
}

NnModel *
nn_model_deserialize (GBytes *bytes, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint32 hlen;
  guint64 n_params;
  if (!check_frame (data, len, &hlen, &n_params, error))
    return NULL;

  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) jerr = NULL;
  if (!json_parser_load_from_data (parser, (const char *) data + PREFIX_LEN,
                                   hlen, &jerr))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                   _("Model header is not valid JSON: %s"), jerr->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || JSON_NODE_TYPE (root) != JSON_NODE_OBJECT)
    {
      format_error (error, _("Model header is not a JSON object"));
      return NULL;
    }
  JsonObject *obj = json_node_get_object (root);
  g_autoptr (NnModel) model = model_from_header (obj, n_params, error);
  if (model == NULL || !model_read_schema (model, obj, error))
    return NULL;

  const guint8 *w = data + PREFIX_LEN + hlen;
  for (gsize i = 0; i < model->n_params; i++)
    {
      guint32 bits = get_u32 (w + 4 * i);
      memcpy (&model->params[i], &bits, 4);
      if (!isfinite (model->params[i]))
        {
          g_set_error (error, NN_ERROR, NN_ERROR_FORMAT,
                       _("Model file has a weight that is not a finite number (parameter %u)"),
                       (guint) i + 1);   /* < NN_MODEL_MAX_PARAMS */
          return NULL;
        }
    }
  return g_steal_pointer (&model);
}

NnModel *
nn_model_load (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *contents = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &contents, &len, &local))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_IO,
                   _("Cannot read model file “%s”: %s"), path, local->message);
      return NULL;
    }
  g_autoptr (GBytes) bytes = g_bytes_new_take (contents, len);
  NnModel *model = nn_model_deserialize (bytes, error);
  if (model == NULL)
    g_prefix_error (error, "%s: ", path);
  return model;
}
