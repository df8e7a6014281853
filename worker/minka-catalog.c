/* minka-catalog.c — the replicated catalog (Raft state machine): applying
 * commands, exactly-once client sessions, digest and snapshots.
 *
 * Records are immutable once in the tree and reference-counted (GLib
 * atomic rc boxes), so a snapshot capture only takes references and the
 * serialisation can run on another thread while the catalog changes. */
#include "config.h"
#include "minka-catalog.h"
#include "minka-frame.h"
#include "minka-sha256.h"

#include <string.h>
#include <glib/gi18n-lib.h>

/* Sessions beyond this many are evicted, least recently used first (by log
 * index, so every replica evicts the same ones). */
#define MAX_SESSIONS 4096
#define SNAPSHOT_VERSION 1

G_DEFINE_QUARK (minka-catalog-error-quark, minka_catalog_error)

typedef struct {
  char *client;                 /* the catalog's: its key in sessions */
  guint64 last_seq;
  guint64 last_index;
  MinkaCatalogResult last_result;
} Session;

struct _MinkaCatalog
{
  /* The files in ID order: an array with holes (NULL) where files were
   * deleted, compacted when holes pass half, and an index from ID to slot.
   * IDs are log indices, so new files are appended. A capture copies the
   * array in one pass: walking a GTree of 1M files instead stalled the main
   * loop ~3x longer (see bench-catalog). */
  GPtrArray *slots;             /* MinkaFileRecord* (one reference each) or NULL */
  GHashTable *slot_of;          /* guint64* (&record->id) → slot + 1 */
  guint n_holes;
  guint64 max_id;               /* no file in slots has a greater ID */
  GHashTable *blob_refs;        /* char* sha256 → number of files naming it */
  GHashTable *sessions;         /* char* client → Session* */
  GTree *session_ages;          /* Session* by (last_index, client): eviction order */
  guint64 applied_index;
  guint64 total_bytes;
  guint64 digest_sum[4];        /* Σ record digests mod 2^256 (see digest) */
  char *digest;                 /* cached; NULL when stale */
};

static void files_insert (MinkaCatalog *catalog, MinkaFileRecord *record);
static void files_remove (MinkaCatalog *catalog, MinkaFileRecord *record);

/* ---- records, results, sessions ----------------------------------------- */

/* Records are GLib atomic rc boxes: the catalog holds one reference, each
 * snapshot capture another; the last release (on any thread) frees. */
static MinkaFileRecord *
file_record_new (void)
{
  return g_atomic_rc_box_new0 (MinkaFileRecord);
}

static void
file_record_clear (MinkaFileRecord *record)
{
  g_free (record->name);
  g_free (record->client);
  g_array_unref (record->holders);
}

static void
file_record_release (gpointer record)
{
  g_atomic_rc_box_release_full (record, (GDestroyNotify) file_record_clear);
}

void
minka_catalog_result_clear (MinkaCatalogResult *result)
{
  g_clear_pointer (&result->error_message, g_free);
  memset (result, 0, sizeof *result);
}

static void
result_copy (MinkaCatalogResult *dst, const MinkaCatalogResult *src)
{
  *dst = *src;
  dst->error_message = g_strdup (src->error_message);
}

static void
result_fail (MinkaCatalogResult *result, MinkaCatalogError code, const char *message)
{
  minka_catalog_result_clear (result);
  result->ok = FALSE;
  result->error_code = code;
  result->error_message = g_strdup (message);
}

static void
session_free (Session *session)
{
  minka_catalog_result_clear (&session->last_result);
  g_free (session);
}

/* Oldest first. Each command has its own log index, so ties only come
 * from a hand-made snapshot; the client name then keeps the order the same
 * on every replica. */
static int
compare_session_ages (gconstpointer a, gconstpointer b)
{
  const Session *x = a, *y = b;
  if (x->last_index != y->last_index)
    return x->last_index < y->last_index ? -1 : 1;
  return strcmp (x->client, y->client);
}

MinkaCatalog *
minka_catalog_new (void)
{
  MinkaCatalog *catalog = g_new0 (MinkaCatalog, 1);
  catalog->slots = g_ptr_array_new ();
  catalog->slot_of = g_hash_table_new (g_int64_hash, g_int64_equal);
  catalog->blob_refs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  catalog->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) session_free);
  catalog->session_ages = g_tree_new (compare_session_ages);
  return catalog;
}

void
minka_catalog_free (MinkaCatalog *catalog)
{
  if (!catalog)
    return;
  g_hash_table_destroy (catalog->slot_of);
  for (guint i = 0; i < catalog->slots->len; i++)
    if (catalog->slots->pdata[i])
      file_record_release (catalog->slots->pdata[i]);
  g_ptr_array_unref (catalog->slots);
  g_hash_table_destroy (catalog->blob_refs);
  g_tree_destroy (catalog->session_ages);
  g_hash_table_destroy (catalog->sessions);
  g_free (catalog->digest);
  g_free (catalog);
}

/* ---- validation ------------------------------------------------------------ */

gboolean
minka_catalog_validate_name (const char *name, GError **error)
{
  const char *problem = NULL;
  gsize len = name ? strlen (name) : 0;

  if (len == 0)
    problem = _("the name is empty");
  else if (len > MINKA_NAME_MAX)
    problem = _("the name is longer than 255 bytes");
  else if (!g_utf8_validate (name, (gssize) len, NULL))
    problem = _("the name is not valid UTF-8");
  else if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    problem = _("the name is a path component");
  else
    for (const char *p = name; *p && !problem; p++)
      {
        if ((guchar) *p < 0x20 || *p == 0x7f)
          problem = _("the name contains a control character");
        else if (*p == '/' || *p == '\\')
          problem = _("the name contains a path separator");
      }

  if (problem)
    g_set_error (error, MINKA_CATALOG_ERROR, MINKA_CATALOG_ERROR_BAD_NAME,
                 _("Invalid file name: %s"), problem);
  return problem == NULL;
}

static gboolean
is_sha256_hex (const char *s)
{
  if (!s || strlen (s) != 64)
    return FALSE;
  for (int i = 0; i < 64; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* ---- commands -------------------------------------------------------------- */

static GBytes *
json_to_bytes (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  gsize len = 0;
  char *text = json_generator_to_data (gen, &len);
  return g_bytes_new_take (text, len);
}

/* A small JSON writer for what is written on every upload (the put_file
 * command) and for snapshots of the whole catalog: json-glib builds a tree
 * of nodes first and then prints it, several times the cost. */
static void
json_put_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) (text ? text : ""); *p; p++)
    {
      if (*p == '"' || *p == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) *p);
        }
      else if (*p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
}

/* ,"name": — the comma unless @first */
static void
json_put_key (GString *out, const char *name, gboolean first)
{
  if (!first)
    g_string_append_c (out, ',');
  json_put_string (out, name);
  g_string_append_c (out, ':');
}

static void
json_put_uint (GString *out, guint64 v)
{
  g_string_append_printf (out, "%" G_GUINT64_FORMAT, v);
}

static void
json_put_int (GString *out, gint64 v)
{
  g_string_append_printf (out, "%" G_GINT64_FORMAT, v);
}

static void
json_put_uint_array (GString *out, const guint64 *values, guint n)
{
  g_string_append_c (out, '[');
  for (guint i = 0; i < n; i++)
    {
      if (i)
        g_string_append_c (out, ',');
      json_put_uint (out, values[i]);
    }
  g_string_append_c (out, ']');
}

static void
begin_command (JsonBuilder *b, const char *op, const char *client, guint64 seq)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "op");
  json_builder_add_string_value (b, op);
  json_builder_set_member_name (b, "client");
  json_builder_add_string_value (b, client ? client : "");
  json_builder_set_member_name (b, "seq");
  json_builder_add_int_value (b, (gint64) seq);
}

GBytes *
minka_catalog_command_put_file (const char *client, guint64 seq, const char *name,
                                guint64 size, const char *sha256, gint64 created_ms,
                                const guint64 *holders, guint n_holders,
                                GBytes *inline_content)
{
  gsize content_len = inline_content ? g_bytes_get_size (inline_content) : 0;
  GString *out = g_string_sized_new (256 + content_len);
  g_string_append_c (out, '{');
  json_put_key (out, "op", TRUE);
  json_put_string (out, "put_file");
  json_put_key (out, "client", FALSE);
  json_put_string (out, client);
  json_put_key (out, "seq", FALSE);
  json_put_uint (out, seq);
  json_put_key (out, "name", FALSE);
  json_put_string (out, name);
  json_put_key (out, "size", FALSE);
  json_put_uint (out, size);
  json_put_key (out, "sha256", FALSE);
  json_put_string (out, sha256);
  json_put_key (out, "created_ms", FALSE);
  json_put_int (out, created_ms);
  json_put_key (out, "holders", FALSE);
  json_put_uint_array (out, holders, n_holders);
  g_string_append_c (out, '}');
  if (inline_content)
    {
      /* The JSON line (compact JSON holds no raw '\n'), then the bytes. */
      g_string_append_c (out, '\n');
      g_string_append_len (out, g_bytes_get_data (inline_content, NULL), (gssize) content_len);
    }
  return g_string_free_to_bytes (out);
}

/* Length of the JSON line of a command (up to the first '\n'). */
static gsize
command_json_length (const char *data, gsize len)
{
  const char *newline = memchr (data, '\n', len);
  return newline ? (gsize) (newline - data) : len;
}

GBytes *
minka_catalog_command_content (GBytes *command)
{
  gsize len = 0;
  const char *data = command ? g_bytes_get_data (command, &len) : NULL;
  if (!data)
    return NULL;
  gsize json_len = command_json_length (data, len);
  if (json_len == len)
    return NULL;
  return g_bytes_new_from_bytes (command, json_len + 1, len - json_len - 1);
}

GBytes *
minka_catalog_command_delete_file (const char *client, guint64 seq, guint64 file_id)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  begin_command (b, "delete_file", client, seq);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, (gint64) file_id);
  json_builder_end_object (b);
  return json_to_bytes (b);
}

/* ---- applying -------------------------------------------------------------- */

/* Reads a non-negative integer member; FALSE if missing or of another type. */
static gboolean
get_uint (JsonObject *obj, const char *member, guint64 *out)
{
  gint64 v = minka_header_get_int (obj, member, -1, NULL);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

/* The node IDs of a "holders" array; elements that are not integers are
 * skipped (json_array_get_int_element would log a critical on them). */
static GArray *
holders_from_json (JsonArray *array)
{
  GArray *holders = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *h = json_array_get_element (array, i);
      if (JSON_NODE_HOLDS_VALUE (h) && json_node_get_value_type (h) == G_TYPE_INT64)
        {
          guint64 node_id = (guint64) json_node_get_int (h);
          g_array_append_val (holders, node_id);
        }
    }
  return holders;
}

static const char *
get_string (JsonObject *obj, const char *member)
{
  return minka_header_get_string (obj, member, NULL, NULL);
}

static void
apply_put_file (MinkaCatalog *catalog, guint64 index, JsonObject *cmd,
                const char *client, MinkaCatalogResult *result)
{
  const char *name = get_string (cmd, "name");
  const char *sha = get_string (cmd, "sha256");
  guint64 size = 0, created = 0;
  JsonNode *holders_node = json_object_get_member (cmd, "holders");
  g_autoptr (GError) error = NULL;

  if (!sha || !is_sha256_hex (sha) || !get_uint (cmd, "size", &size)
      || !get_uint (cmd, "created_ms", &created)
      || !holders_node || !JSON_NODE_HOLDS_ARRAY (holders_node))
    {
      result_fail (result, MINKA_CATALOG_ERROR_MALFORMED, _("Malformed put_file command"));
      return;
    }
  if (!minka_catalog_validate_name (name, &error))
    {
      result_fail (result, MINKA_CATALOG_ERROR_BAD_NAME, error->message);
      return;
    }

  MinkaFileRecord *record = file_record_new ();
  record->id = index;
  record->name = g_strdup (name);
  record->size = size;
  memcpy (record->sha256, sha, 65);
  record->created_ms = (gint64) created;
  record->client = g_strdup (client);
  record->holders = holders_from_json (json_node_get_array (holders_node));
  files_insert (catalog, record);
  result->ok = TRUE;
  result->file_id = record->id;
}

static void
apply_delete_file (MinkaCatalog *catalog, JsonObject *cmd, MinkaCatalogResult *result)
{
  guint64 id = 0;
  if (!get_uint (cmd, "id", &id))
    {
      result_fail (result, MINKA_CATALOG_ERROR_MALFORMED, _("Malformed delete_file command"));
      return;
    }
  MinkaFileRecord *record = (MinkaFileRecord *) minka_catalog_lookup (catalog, id);
  if (!record)
    {
      g_autofree char *msg = g_strdup_printf (_("No file with ID %llu"), (unsigned long long) id);
      result_fail (result, MINKA_CATALOG_ERROR_NOT_FOUND, msg);
      return;
    }
  memcpy (result->deleted_sha256, record->sha256, sizeof result->deleted_sha256);
  files_remove (catalog, record);
  result->ok = TRUE;
  result->file_id = id;
}

/* Least recently used first, in O(log n): evicting by a scan of the
 * table cost 4,096 steps per command once clients outnumber MAX_SESSIONS. */
static void
evict_oldest_session (MinkaCatalog *catalog)
{
  GTreeNode *oldest = g_tree_node_first (catalog->session_ages);
  if (!oldest)
    return;
  Session *s = g_tree_node_key (oldest);
  g_tree_remove (catalog->session_ages, s);
  g_hash_table_remove (catalog->sessions, s->client);
}

/* A new, empty session for @client, replacing any it had. */
static Session *
session_new (MinkaCatalog *catalog, const char *client)
{
  Session *old = g_hash_table_lookup (catalog->sessions, client);
  if (old)
    {
      g_tree_remove (catalog->session_ages, old);
      g_hash_table_remove (catalog->sessions, client);
    }
  Session *s = g_new0 (Session, 1);
  s->client = g_strdup (client);
  g_hash_table_insert (catalog->sessions, s->client, s);
  return s;
}

/* Returns TRUE if the request was seen before; @result is then filled. */
static gboolean
session_check (MinkaCatalog *catalog, const char *client, guint64 seq,
               MinkaCatalogResult *result)
{
  if (seq == 0 || client[0] == '\0')
    return FALSE;                         /* no session: not deduplicated */
  Session *s = g_hash_table_lookup (catalog->sessions, client);
  if (!s || seq > s->last_seq)
    return FALSE;
  if (seq == s->last_seq)
    result_copy (result, &s->last_result);
  else
    result_fail (result, MINKA_CATALOG_ERROR_STALE,
                 _("This request was superseded by a newer one from the same client"));
  return TRUE;
}

static void
session_record (MinkaCatalog *catalog, const char *client, guint64 seq,
                guint64 index, const MinkaCatalogResult *result)
{
  if (seq == 0 || client[0] == '\0')
    return;
  Session *s = g_hash_table_lookup (catalog->sessions, client);
  if (s)
    g_tree_remove (catalog->session_ages, s);     /* its age changes */
  else
    {
      if (g_hash_table_size (catalog->sessions) >= MAX_SESSIONS)
        evict_oldest_session (catalog);
      s = session_new (catalog, client);
    }
  s->last_seq = seq;
  s->last_index = index;
  g_tree_insert (catalog->session_ages, s, s);
  minka_catalog_result_clear (&s->last_result);
  result_copy (&s->last_result, result);
}

void
minka_catalog_apply (MinkaCatalog *catalog, guint64 index, GBytes *command,
                     MinkaCatalogResult *result)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len = 0;
  const char *data = command ? g_bytes_get_data (command, &len) : NULL;

  memset (result, 0, sizeof *result);
  if (index > catalog->applied_index)
    catalog->applied_index = index;
  if (data)
    len = command_json_length (data, len);     /* inline bytes are not the catalog's */

  if (!data || len == 0 || memchr (data, '\0', len)
      || !json_parser_load_from_data (parser, data, (gssize) len, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      result_fail (result, MINKA_CATALOG_ERROR_MALFORMED, _("Malformed catalog command"));
      return;
    }

  JsonObject *cmd = json_node_get_object (json_parser_get_root (parser));
  const char *op = get_string (cmd, "op");
  const char *client = get_string (cmd, "client");
  guint64 seq = 0;
  if (!op || !client || !get_uint (cmd, "seq", &seq))
    {
      result_fail (result, MINKA_CATALOG_ERROR_MALFORMED, _("Malformed catalog command"));
      return;
    }
  if (session_check (catalog, client, seq, result))
    return;

  if (strcmp (op, "put_file") == 0)
    apply_put_file (catalog, index, cmd, client, result);
  else if (strcmp (op, "delete_file") == 0)
    apply_delete_file (catalog, cmd, result);
  else
    result_fail (result, MINKA_CATALOG_ERROR_MALFORMED, _("Unknown catalog command"));

  session_record (catalog, client, seq, index, result);
}

/* ---- look-ups ------------------------------------------------------------- */

guint64
minka_catalog_applied_index (const MinkaCatalog *catalog)
{
  return catalog->applied_index;
}

const MinkaFileRecord *
minka_catalog_lookup (const MinkaCatalog *catalog, guint64 id)
{
  guint slot = GPOINTER_TO_UINT (g_hash_table_lookup (catalog->slot_of, &id));
  return slot ? catalog->slots->pdata[slot - 1] : NULL;
}

GPtrArray *
minka_catalog_list_files (const MinkaCatalog *catalog)
{
  GPtrArray *out = g_ptr_array_sized_new (minka_catalog_n_files (catalog));
  for (guint i = 0; i < catalog->slots->len; i++)
    if (catalog->slots->pdata[i])
      g_ptr_array_add (out, catalog->slots->pdata[i]);
  return out;
}

GPtrArray *
minka_catalog_list_newest (const MinkaCatalog *catalog, guint max)
{
  GPtrArray *out = g_ptr_array_sized_new (MIN (max, minka_catalog_n_files (catalog)));
  for (guint i = catalog->slots->len; i > 0 && out->len < max; i--)
    if (catalog->slots->pdata[i - 1])
      g_ptr_array_add (out, catalog->slots->pdata[i - 1]);
  return out;
}

GPtrArray *
minka_catalog_find_by_name (const MinkaCatalog *catalog, const char *name)
{
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = catalog->slots->len; i > 0; i--)     /* newest (highest ID) first */
    {
      MinkaFileRecord *r = catalog->slots->pdata[i - 1];
      if (r != NULL && strcmp (r->name, name) == 0)
        g_ptr_array_add (out, r);
    }
  return out;
}

gboolean
minka_catalog_blob_in_use (const MinkaCatalog *catalog, const char *sha256)
{
  return sha256 && g_hash_table_contains (catalog->blob_refs, sha256);
}

guint
minka_catalog_n_files (const MinkaCatalog *catalog)
{
  return g_hash_table_size (catalog->slot_of);
}

guint64
minka_catalog_total_bytes (const MinkaCatalog *catalog)
{
  return catalog->total_bytes;
}

/* ---- digest ----------------------------------------------------------------- */

/* The digest must be equal on replicas that applied the same commands and
 * cheap to keep up to date: a catalog of a million files cannot be hashed
 * again on every change. Each record has its own SHA-256 (of a canonical
 * line); the catalog keeps their sum modulo 2^256 — a multiset hash, so
 * adding and removing a record are O(1) and the order does not matter —
 * and the digest is the SHA-256 of that sum and the file count. */
static void
record_digest (const MinkaFileRecord *r, guint64 limbs[4])
{
  /* Names cannot hold tabs or newlines (validated), so lines are unambiguous. */
  g_autofree char *line = g_strdup_printf ("%" G_GUINT64_FORMAT "\t%s\t%" G_GUINT64_FORMAT
                                           "\t%s\t%" G_GINT64_FORMAT "\n",
                                           r->id, r->name, r->size, r->sha256, r->created_ms);
  MinkaSha256 sha;
  guint8 digest[MINKA_SHA256_LEN];
  minka_sha256_init (&sha);
  minka_sha256_update (&sha, line, strlen (line));
  minka_sha256_finish (&sha, digest);
  for (guint i = 0; i < 4; i++)
    {
      limbs[i] = 0;
      for (guint b = 0; b < 8; b++)
        limbs[i] |= (guint64) digest[i * 8 + b] << (8 * b);
    }
}

static void
digest_account (MinkaCatalog *catalog, const MinkaFileRecord *r, gboolean add)
{
  guint64 d[4];
  record_digest (r, d);
  guint64 carry = 0;
  for (guint i = 0; i < 4; i++)
    {
      guint64 before = catalog->digest_sum[i];
      if (add)
        {
          guint64 sum = before + d[i];
          guint64 out = sum < before;
          catalog->digest_sum[i] = sum + carry;
          carry = out | (catalog->digest_sum[i] < sum);
        }
      else
        {
          guint64 diff = before - d[i];
          guint64 out = before < d[i];
          catalog->digest_sum[i] = diff - carry;
          carry = out | (diff < carry);
        }
    }
  g_clear_pointer (&catalog->digest, g_free);
}

/* The count of files per blob, so blob_in_use is O(1) however big the
 * catalog (it is asked on every delete). The key lives inside the value. */
typedef struct {
  guint count;
  char sha256[65];
} BlobRef;

static void
blob_ref (MinkaCatalog *catalog, const char *sha256)
{
  BlobRef *ref = g_hash_table_lookup (catalog->blob_refs, sha256);
  if (!ref)
    {
      ref = g_new0 (BlobRef, 1);
      memcpy (ref->sha256, sha256, sizeof ref->sha256);
      g_hash_table_insert (catalog->blob_refs, ref->sha256, ref);
    }
  ref->count++;
}

static void
blob_unref (MinkaCatalog *catalog, const char *sha256)
{
  BlobRef *ref = g_hash_table_lookup (catalog->blob_refs, sha256);
  g_return_if_fail (ref != NULL);
  if (--ref->count == 0)
    g_hash_table_remove (catalog->blob_refs, sha256);
}

/* Points the index at slots @from.. (after they moved). */
static void
slots_reindex (MinkaCatalog *catalog, guint from)
{
  for (guint i = from; i < catalog->slots->len; i++)
    {
      MinkaFileRecord *r = catalog->slots->pdata[i];
      if (r)
        g_hash_table_insert (catalog->slot_of, &r->id, GUINT_TO_POINTER (i + 1));
    }
}

/* Removes the holes. */
static void
slots_compact (MinkaCatalog *catalog)
{
  guint kept = 0;
  for (guint i = 0; i < catalog->slots->len; i++)
    if (catalog->slots->pdata[i])
      catalog->slots->pdata[kept++] = catalog->slots->pdata[i];
  g_ptr_array_set_size (catalog->slots, kept);
  catalog->n_holes = 0;
  catalog->max_id = kept ? ((MinkaFileRecord *) catalog->slots->pdata[kept - 1])->id : 0;
  slots_reindex (catalog, 0);
}

/* Puts @record in ID order: appended in the usual case (a new ID is the
 * newest log index); otherwise (only a test or an old index) inserted in
 * O(n). Restores sort their files first, so they always append. */
static void
slots_insert (MinkaCatalog *catalog, MinkaFileRecord *record)
{
  GPtrArray *slots = catalog->slots;
  if (slots->len == 0 || catalog->max_id < record->id)
    {
      catalog->max_id = record->id;
      g_ptr_array_add (slots, record);
      g_hash_table_insert (catalog->slot_of, &record->id, GUINT_TO_POINTER (slots->len));
      return;
    }
  slots_compact (catalog);
  guint lo = 0, hi = slots->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (((MinkaFileRecord *) slots->pdata[mid])->id < record->id)
        lo = mid + 1;
      else
        hi = mid;
    }
  g_ptr_array_insert (slots, (gint) lo, record);
  catalog->max_id = MAX (catalog->max_id, record->id);
  slots_reindex (catalog, lo);
}

/* Adds @record to the files (replacing one with the same ID); takes the
 * reference. */
static void
files_insert (MinkaCatalog *catalog, MinkaFileRecord *record)
{
  guint slot = GPOINTER_TO_UINT (g_hash_table_lookup (catalog->slot_of, &record->id));
  MinkaFileRecord *old = slot ? catalog->slots->pdata[slot - 1] : NULL;
  if (old)
    {
      digest_account (catalog, old, FALSE);
      catalog->total_bytes -= old->size;
      blob_unref (catalog, old->sha256);
      /* Same ID, same place; the index's key must point into the new record. */
      catalog->slots->pdata[slot - 1] = record;
      g_hash_table_remove (catalog->slot_of, &record->id);
      g_hash_table_insert (catalog->slot_of, &record->id, GUINT_TO_POINTER (slot));
      file_record_release (old);
    }
  else
    slots_insert (catalog, record);
  digest_account (catalog, record, TRUE);
  catalog->total_bytes += record->size;
  blob_ref (catalog, record->sha256);
}

static void
files_remove (MinkaCatalog *catalog, MinkaFileRecord *record)
{
  digest_account (catalog, record, FALSE);
  catalog->total_bytes -= record->size;
  blob_unref (catalog, record->sha256);
  guint slot = GPOINTER_TO_UINT (g_hash_table_lookup (catalog->slot_of, &record->id));
  g_hash_table_remove (catalog->slot_of, &record->id);
  catalog->slots->pdata[slot - 1] = NULL;
  catalog->n_holes++;
  file_record_release (record);
  if (catalog->n_holes > 64 && catalog->n_holes > catalog->slots->len / 2)
    slots_compact (catalog);
}

const char *
minka_catalog_digest (MinkaCatalog *catalog)
{
  if (!catalog->digest)
    {
      guint8 sum[32];
      for (guint i = 0; i < 4; i++)
        for (guint b = 0; b < 8; b++)
          sum[i * 8 + b] = (guint8) (catalog->digest_sum[i] >> (8 * b));
      g_autofree char *head = g_strdup_printf ("minka-catalog-v2\n%u\n",
                                               minka_catalog_n_files (catalog));
      MinkaSha256 sha;
      char hex[MINKA_SHA256_HEX_LEN + 1];
      minka_sha256_init (&sha);
      minka_sha256_update (&sha, head, strlen (head));
      minka_sha256_update (&sha, sum, sizeof sum);
      minka_sha256_finish_hex (&sha, hex);
      catalog->digest = g_strdup (hex);
    }
  return catalog->digest;
}

/* ---- JSON and snapshots -------------------------------------------------------- */

static void
write_record (GString *out, const MinkaFileRecord *r)
{
  g_string_append_c (out, '{');
  json_put_key (out, "id", TRUE);
  json_put_uint (out, r->id);
  json_put_key (out, "name", FALSE);
  json_put_string (out, r->name);
  json_put_key (out, "size", FALSE);
  json_put_uint (out, r->size);
  json_put_key (out, "sha256", FALSE);
  json_put_string (out, r->sha256);
  json_put_key (out, "created_ms", FALSE);
  json_put_int (out, r->created_ms);
  json_put_key (out, "client", FALSE);
  json_put_string (out, r->client);
  json_put_key (out, "holders", FALSE);
  json_put_uint_array (out, (const guint64 *) r->holders->data, r->holders->len);
  g_string_append_c (out, '}');
}

JsonNode *
minka_file_record_to_json (const MinkaFileRecord *record)
{
  JsonObject *o = json_object_new ();
  json_object_set_int_member (o, "id", (gint64) record->id);
  json_object_set_string_member (o, "name", record->name);
  json_object_set_int_member (o, "size", (gint64) record->size);
  json_object_set_string_member (o, "sha256", record->sha256);
  json_object_set_int_member (o, "created_ms", record->created_ms);
  json_object_set_string_member (o, "client", record->client ? record->client : "");
  JsonArray *holders = json_array_sized_new (record->holders->len);
  for (guint i = 0; i < record->holders->len; i++)
    json_array_add_int_element (holders, (gint64) g_array_index (record->holders, guint64, i));
  json_object_set_array_member (o, "holders", holders);
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, o);
  return node;
}

/* Sessions as captured for a snapshot: copies (Session with a client of
 * its own), since sessions change in place on every command. */
static void
session_copy_clear (Session *copy)
{
  g_free (copy->client);
  minka_catalog_result_clear (&copy->last_result);
}

static int
compare_session_clients (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Session *) a)->client, ((const Session *) b)->client);
}

static GArray *
sessions_copy (GHashTable *sessions)
{
  GArray *out = g_array_sized_new (FALSE, TRUE, sizeof (Session), g_hash_table_size (sessions));
  g_array_set_clear_func (out, (GDestroyNotify) session_copy_clear);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const Session *s = value;
      Session copy = *s;
      copy.client = g_strdup (s->client);
      result_copy (&copy.last_result, &s->last_result);
      g_array_append_val (out, copy);
    }
  return out;
}

/* Sorts @copies by client so the snapshot bytes are the same on every replica. */
static void
write_sessions (GString *out, GArray *copies)
{
  g_array_sort (copies, compare_session_clients);
  g_string_append_c (out, '[');
  for (guint i = 0; i < copies->len; i++)
    {
      const Session *s = &g_array_index (copies, Session, i);
      g_string_append (out, i ? ",{" : "{");
      json_put_key (out, "client", TRUE);
      json_put_string (out, s->client);
      json_put_key (out, "seq", FALSE);
      json_put_uint (out, s->last_seq);
      json_put_key (out, "index", FALSE);
      json_put_uint (out, s->last_index);
      json_put_key (out, "ok", FALSE);
      g_string_append (out, s->last_result.ok ? "true" : "false");
      json_put_key (out, "file_id", FALSE);
      json_put_uint (out, s->last_result.file_id);
      json_put_key (out, "code", FALSE);
      json_put_int (out, s->last_result.error_code);
      json_put_key (out, "message", FALSE);
      json_put_string (out, s->last_result.error_message);
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ']');
}

/* What a snapshot holds, taken at one instant: the files are shared
 * (referenced) with the catalog; the sessions (at most MAX_SESSIONS, and
 * changed in place) are copied. */
struct _MinkaCatalogCapture
{
  guint64 applied_index;
  GPtrArray *files;             /* MinkaFileRecord* by ID, one reference each */
  GArray *sessions;             /* Session copies, sorted when serialised */
};

MinkaCatalogCapture *
minka_catalog_capture (const MinkaCatalog *catalog)
{
  MinkaCatalogCapture *capture = g_new0 (MinkaCatalogCapture, 1);
  capture->applied_index = catalog->applied_index;
  capture->files = g_ptr_array_new_full (minka_catalog_n_files (catalog), file_record_release);
  for (guint i = 0; i < catalog->slots->len; i++)
    if (catalog->slots->pdata[i])
      g_ptr_array_add (capture->files, g_atomic_rc_box_acquire (catalog->slots->pdata[i]));
  capture->sessions = sessions_copy (catalog->sessions);
  return capture;
}

void
minka_catalog_capture_free (MinkaCatalogCapture *capture)
{
  if (!capture)
    return;
  g_ptr_array_unref (capture->files);
  g_array_unref (capture->sessions);
  g_free (capture);
}

GBytes *
minka_catalog_capture_serialize (MinkaCatalogCapture *capture)
{
  GString *out = g_string_sized_new (256 + 200 * (gsize) capture->files->len
                                     + 128 * (gsize) capture->sessions->len);
  g_string_append_c (out, '{');
  json_put_key (out, "version", TRUE);
  json_put_int (out, SNAPSHOT_VERSION);
  json_put_key (out, "applied_index", FALSE);
  json_put_uint (out, capture->applied_index);
  json_put_key (out, "files", FALSE);
  g_string_append_c (out, '[');
  for (guint i = 0; i < capture->files->len; i++)
    {
      if (i)
        g_string_append_c (out, ',');
      write_record (out, capture->files->pdata[i]);
    }
  g_string_append_c (out, ']');
  json_put_key (out, "sessions", FALSE);
  write_sessions (out, capture->sessions);
  g_string_append_c (out, '}');
  return g_string_free_to_bytes (out);
}

GBytes *
minka_catalog_snapshot (const MinkaCatalog *catalog)
{
  g_autoptr (MinkaCatalogCapture) capture = minka_catalog_capture (catalog);
  return minka_catalog_capture_serialize (capture);
}

/* Parses one file of a snapshot; NULL if malformed. */
static MinkaFileRecord *
restore_file (JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  JsonObject *o = json_node_get_object (node);
  guint64 id = 0, size = 0, created = 0;
  const char *name = get_string (o, "name"), *sha = get_string (o, "sha256");
  const char *client = get_string (o, "client");
  JsonNode *holders = json_object_get_member (o, "holders");
  if (!get_uint (o, "id", &id) || !get_uint (o, "size", &size)
      || !get_uint (o, "created_ms", &created) || !name || !is_sha256_hex (sha)
      || !client || !holders || !JSON_NODE_HOLDS_ARRAY (holders)
      || !minka_catalog_validate_name (name, NULL))
    return NULL;

  MinkaFileRecord *r = file_record_new ();
  r->id = id;
  r->name = g_strdup (name);
  r->size = size;
  memcpy (r->sha256, sha, 65);
  r->created_ms = (gint64) created;
  r->client = g_strdup (client);
  r->holders = holders_from_json (json_node_get_array (holders));
  return r;
}

static int
compare_record_ids (gconstpointer a, gconstpointer b)
{
  guint64 x = (*(MinkaFileRecord * const *) a)->id, y = (*(MinkaFileRecord * const *) b)->id;
  return x < y ? -1 : x > y;
}

/* The files, sorted by ID first (a stable sort: of two with the same ID the
 * later wins, as before) so that each insert is an append even if a
 * hand-made snapshot lists them out of order. */
static gboolean
restore_files (MinkaCatalog *catalog, JsonObject *root)
{
  JsonNode *node = json_object_get_member (root, "files");
  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  JsonArray *arr = json_node_get_array (node);
  guint n = json_array_get_length (arr);
  g_autoptr (GPtrArray) records = g_ptr_array_new_full (n, file_record_release);
  for (guint i = 0; i < n; i++)
    {
      MinkaFileRecord *r = restore_file (json_array_get_element (arr, i));
      if (!r)
        return FALSE;
      g_ptr_array_add (records, r);
    }
  g_ptr_array_sort (records, compare_record_ids);
  g_ptr_array_set_free_func (records, NULL);      /* the catalog takes them */
  for (guint i = 0; i < records->len; i++)
    files_insert (catalog, records->pdata[i]);
  return TRUE;
}

static gboolean
restore_session (MinkaCatalog *catalog, JsonNode *node)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;
  JsonObject *o = json_node_get_object (node);
  const char *client = get_string (o, "client");
  const char *message = get_string (o, "message");
  guint64 seq = 0, index = 0, file_id = 0, code = 0;
  JsonNode *ok = json_object_get_member (o, "ok");
  if (!client || !message || !get_uint (o, "seq", &seq) || !get_uint (o, "index", &index)
      || !get_uint (o, "file_id", &file_id) || !get_uint (o, "code", &code)
      || !ok || !JSON_NODE_HOLDS_VALUE (ok)
      || json_node_get_value_type (ok) != G_TYPE_BOOLEAN)
    return FALSE;
  Session *s = session_new (catalog, client);
  s->last_seq = seq;
  s->last_index = index;
  s->last_result.ok = json_node_get_boolean (ok);
  s->last_result.file_id = file_id;
  s->last_result.error_code = (MinkaCatalogError) code;
  s->last_result.error_message = message[0] ? g_strdup (message) : NULL;
  g_tree_insert (catalog->session_ages, s, s);
  return TRUE;
}

static gboolean
restore_array (MinkaCatalog *catalog, JsonObject *root, const char *member,
               gboolean (*restore_one) (MinkaCatalog *, JsonNode *))
{
  JsonNode *node = json_object_get_member (root, member);
  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  JsonArray *arr = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    if (!restore_one (catalog, json_array_get_element (arr, i)))
      return FALSE;
  return TRUE;
}

gboolean
minka_catalog_restore (MinkaCatalog *catalog, GBytes *snapshot, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len = 0;
  const char *data = g_bytes_get_data (snapshot, &len);
  g_autoptr (MinkaCatalog) fresh = minka_catalog_new ();
  guint64 version = 0, applied = 0;

  if (!data || len == 0 || memchr (data, '\0', len)
      || !json_parser_load_from_data (parser, data, (gssize) len, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto bad;
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  if (!get_uint (root, "version", &version) || version != SNAPSHOT_VERSION
      || !get_uint (root, "applied_index", &applied)
      || !restore_files (fresh, root)
      || !restore_array (fresh, root, "sessions", restore_session))
    goto bad;

  /* Swap the fresh state in only once everything parsed. */
  MinkaCatalog tmp = *catalog;
  *catalog = *fresh;
  *fresh = tmp;
  catalog->applied_index = applied;
  g_clear_pointer (&catalog->digest, g_free);
  return TRUE;

bad:
  g_set_error (error, MINKA_CATALOG_ERROR, MINKA_CATALOG_ERROR_MALFORMED,
               _("The catalog snapshot is malformed"));
  return FALSE;
}
