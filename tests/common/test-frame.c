/* test-frame.c — the frame codec: parser at every split point, every
 * rejection, encode/parse round trips, and MinkaFrameConnection over a real
 * loopback TCP pair (bodies, truncation, timeouts, cancellation). */
#include <check.h>
#include <string.h>
#include <gio/gnetworking.h>

#include "minka-frame.h"

/* ---- helpers ------------------------------------------------------------ */

static GBytes *
make_body (gsize len, guint seed)
{
  guint8 *data = g_malloc (len > 0 ? len : 1);
  GRand *rand = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_rand_int (rand);
  g_rand_free (rand);
  return g_bytes_new_take (data, len);
}

static GBytes *
encode_simple (const char *type, gint64 id, GBytes *body)
{
  g_autoptr (JsonObject) header = minka_frame_header_new (type);
  json_object_set_int_member (header, "id", id);
  json_object_set_string_member (header, "note", "line\nbreak \"quoted\" ñ");
  GError *error = NULL;
  GBytes *bytes = minka_frame_encode (header, body, &error);
  ck_assert_ptr_null (error);
  return bytes;
}

/* Feeds @data in the given pieces and collects every frame. */
static GPtrArray *
parse_pieces (const guint8 *data, gsize len, gsize split, GError **error)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) minka_frame_free);
  g_autoptr (MinkaFrameParser) parser = minka_frame_parser_new ();
  gsize starts[2] = { 0, split }, ends[2] = { split, len };
  for (int piece = 0; piece < 2; piece++)
    {
      const guint8 *p = data + starts[piece];
      gsize left = ends[piece] - starts[piece];
      while (left > 0)
        {
          gsize used = 0;
          MinkaFrame *frame = minka_frame_parser_feed (parser, p, left, &used, error);
          if (error != NULL && *error != NULL)
            return frames;
          ck_assert_uint_le (used, left);
          p += used;
          left -= used;
          if (frame != NULL)
            g_ptr_array_add (frames, frame);
          else
            ck_assert_uint_eq (left, 0);
        }
    }
  ck_assert (!minka_frame_parser_in_frame (parser));
  return frames;
}

static void
assert_bytes_equal (GBytes *a, GBytes *b)
{
  gsize a_len = a != NULL ? g_bytes_get_size (a) : 0;
  gsize b_len = b != NULL ? g_bytes_get_size (b) : 0;
  ck_assert_uint_eq (a_len, b_len);
  if (a_len > 0)
    ck_assert (memcmp (g_bytes_get_data (a, NULL), g_bytes_get_data (b, NULL), a_len) == 0);
}

/* ---- codec tests -------------------------------------------------------- */

START_TEST (test_round_trip)
{
  g_autoptr (GBytes) body = make_body (1000, 1);
  g_autoptr (GBytes) bytes = encode_simple ("PUT", 7, body);
  const guint8 *data = g_bytes_get_data (bytes, NULL);
  gsize len = g_bytes_get_size (bytes);
  /* One header line: exactly one '\n' before the body. */
  const guint8 *nl = memchr (data, '\n', len);
  ck_assert_ptr_nonnull (nl);
  ck_assert_uint_eq (len - (gsize) (nl + 1 - data), 1000);

  GError *error = NULL;
  g_autoptr (GPtrArray) frames = parse_pieces (data, len, 0, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (frames->len, 1);
  MinkaFrame *frame = frames->pdata[0];
  ck_assert_str_eq (minka_frame_get_frame_type (frame), "PUT");
  ck_assert_int_eq (minka_frame_get_id (frame), 7);
  ck_assert_str_eq (json_object_get_string_member (frame->header, "note"),
                    "line\nbreak \"quoted\" ñ");
  ck_assert_int_eq (json_object_get_int_member (frame->header, "body"), 1000);
  assert_bytes_equal (frame->body, body);
}
END_TEST

START_TEST (test_every_split)
{
  g_autoptr (GBytes) body1 = make_body (300, 2);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) f1 = encode_simple ("A", 1, NULL);
  g_autoptr (GBytes) f2 = encode_simple ("B", 2, body1);
  g_autoptr (GBytes) f3 = encode_simple ("C", 3, empty);
  GByteArray *all = g_byte_array_new ();
  GBytes *parts[] = { f1, f2, f3 };
  for (int i = 0; i < 3; i++)
    g_byte_array_append (all, g_bytes_get_data (parts[i], NULL), g_bytes_get_size (parts[i]));

  for (gsize split = 0; split <= all->len; split++)
    {
      GError *error = NULL;
      g_autoptr (GPtrArray) frames = parse_pieces (all->data, all->len, split, &error);
      ck_assert_ptr_null (error);
      ck_assert_uint_eq (frames->len, 3);
      MinkaFrame *a = frames->pdata[0], *b = frames->pdata[1], *c = frames->pdata[2];
      ck_assert_str_eq (minka_frame_get_frame_type (a), "A");
      ck_assert_ptr_null (a->body);
      ck_assert_str_eq (minka_frame_get_frame_type (b), "B");
      assert_bytes_equal (b->body, body1);
      ck_assert_int_eq (minka_frame_get_id (c), 3);
      ck_assert_ptr_null (c->body);
    }

  /* Byte by byte. */
  g_autoptr (MinkaFrameParser) parser = minka_frame_parser_new ();
  guint count = 0;
  for (gsize i = 0; i < all->len; i++)
    {
      gsize used = 0;
      GError *error = NULL;
      MinkaFrame *frame = minka_frame_parser_feed (parser, all->data + i, 1, &used, &error);
      ck_assert_ptr_null (error);
      ck_assert_uint_eq (used, 1);
      if (frame != NULL)
        count++;
      minka_frame_free (frame);
    }
  ck_assert_uint_eq (count, 3);
  g_byte_array_unref (all);
}
END_TEST

typedef struct {
  const char *text;
  gsize len;                  /* 0: strlen */
  MinkaFrameError code;
} BadCase;

static const BadCase bad_cases[] = {
  { "not json\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "[1,2]\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "\"str\"\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":5}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"\"}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":null}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\",\"body\":-1}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\",\"body\":1.5}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\",\"body\":\"3\"}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\",\"body\":true}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\",\"body\":8388609}\n", 0, MINKA_FRAME_ERROR_BODY_TOO_LONG },
  { "{\"type\":\"A\",\"body\":99999999999999}\n", 0, MINKA_FRAME_ERROR_BODY_TOO_LONG },
  { "{\"type\":\"A\"\0}\n", 15, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\xff\"}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\"} {\"x\":1}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "var a = {\"type\":\"A\"}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\"\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\"}x\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { " {\"type\":\"A\"}]]\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
  { "{\"type\":\"A\",\"name\":\"x\\u0000y\"}\n", 0, MINKA_FRAME_ERROR_BAD_HEADER },
};

START_TEST (test_reject)
{
  const BadCase *c = &bad_cases[_i];
  gsize len = c->len > 0 ? c->len : strlen (c->text);
  g_autoptr (MinkaFrameParser) parser = minka_frame_parser_new ();
  gsize used = 0;
  GError *error = NULL;
  MinkaFrame *frame = minka_frame_parser_feed (parser, (const guint8 *) c->text, len,
                                               &used, &error);
  ck_assert_msg (frame == NULL && error != NULL, "case %d accepted", _i);
  ck_assert_msg (g_error_matches (error, MINKA_FRAME_ERROR, (gint) c->code),
                 "case %d: %s", _i, error->message);
  ck_assert (error->message[0] != '\0');
  g_clear_error (&error);

  /* The parser stays failed. */
  const char *good = "{\"type\":\"A\"}\n";
  frame = minka_frame_parser_feed (parser, (const guint8 *) good, strlen (good), &used, &error);
  ck_assert_ptr_null (frame);
  ck_assert_ptr_nonnull (error);
  g_clear_error (&error);
}
END_TEST

START_TEST (test_deep_nesting)
{
  GString *text = g_string_new ("{\"type\":\"A\",\"x\":");
  for (int i = 0; i < 20000; i++)
    g_string_append_c (text, '[');
  for (int i = 0; i < 20000; i++)
    g_string_append_c (text, ']');
  g_string_append (text, "}\n");
  g_autoptr (MinkaFrameParser) parser = minka_frame_parser_new ();
  gsize used = 0;
  GError *error = NULL;
  ck_assert_ptr_null (minka_frame_parser_feed (parser, (const guint8 *) text->str, text->len,
                                               &used, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER));
  g_clear_error (&error);
  g_string_free (text, TRUE);

  /* Brackets inside strings do not count. */
  const char *ok = "{\"type\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}\n";
  g_autoptr (MinkaFrameParser) parser2 = minka_frame_parser_new ();
  MinkaFrame *frame = minka_frame_parser_feed (parser2, (const guint8 *) ok, strlen (ok),
                                               &used, &error);
  ck_assert_ptr_null (error);
  ck_assert_ptr_nonnull (frame);
  minka_frame_free (frame);
}
END_TEST

START_TEST (test_header_limit)
{
  /* Exactly 64 KiB of header is accepted... */
  GString *text = g_string_new ("{\"type\":\"A\",\"pad\":\"");
  while (text->len < MINKA_FRAME_MAX_HEADER - 2)
    g_string_append_c (text, 'x');
  g_string_append (text, "\"}");
  ck_assert_uint_eq (text->len, MINKA_FRAME_MAX_HEADER);
  g_string_append_c (text, '\n');
  g_autoptr (MinkaFrameParser) parser = minka_frame_parser_new ();
  gsize used = 0;
  GError *error = NULL;
  MinkaFrame *frame = minka_frame_parser_feed (parser, (const guint8 *) text->str, text->len,
                                               &used, &error);
  ck_assert_ptr_null (error);
  ck_assert_ptr_nonnull (frame);
  minka_frame_free (frame);

  /* ...one more byte is not... */
  g_string_insert_c (text, 20, 'y');
  g_autoptr (MinkaFrameParser) parser1 = minka_frame_parser_new ();
  ck_assert_ptr_null (minka_frame_parser_feed (parser1, (const guint8 *) text->str, text->len,
                                               &used, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_HEADER_TOO_LONG));
  g_clear_error (&error);

  /* ...and a header with no end is caught near the limit, fed in pieces. */
  g_string_truncate (text, 20);
  for (int i = 0; i < 3 * MINKA_FRAME_MAX_HEADER; i++)
    g_string_append_c (text, 'z');
  g_string_append (text, "\"}\n");
  g_autoptr (MinkaFrameParser) parser2 = minka_frame_parser_new ();
  gsize pos = 0;
  while (error == NULL && pos < text->len)
    {
      gsize n = MIN ((gsize) 1000, text->len - pos);
      frame = minka_frame_parser_feed (parser2, (const guint8 *) text->str + pos, n, &used, &error);
      ck_assert_ptr_null (frame);
      pos += n;
    }
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_HEADER_TOO_LONG));
  ck_assert_uint_le (pos, MINKA_FRAME_MAX_HEADER + 1000);
  ck_assert_uint_lt (pos, text->len);
  g_clear_error (&error);
  g_string_free (text, TRUE);
}
END_TEST

START_TEST (test_body_limit_and_small_limits)
{
  gsize body_len = 0;
  GError *error = NULL;
  const char *line = "{\"type\":\"A\",\"body\":8388608}";
  JsonObject *header = minka_frame_parse_header (line, strlen (line), MINKA_FRAME_MAX_BODY,
                                                 &body_len, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (body_len, MINKA_FRAME_MAX_BODY);
  json_object_unref (header);

  g_autoptr (MinkaFrameParser) parser = minka_frame_parser_new ();
  minka_frame_parser_set_limits (parser, 16, 4);
  const char *big = "{\"type\":\"AB\",\"body\":5}\n";
  gsize used = 0;
  ck_assert_ptr_null (minka_frame_parser_feed (parser, (const guint8 *) big, strlen (big),
                                               &used, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_HEADER_TOO_LONG));
  g_clear_error (&error);
}
END_TEST

/* What json-glib alone makes of a header line: the object, or NULL when it
 * is not a JSON object with a non-empty "type" string and a valid "body". */
static JsonNode *
reference_parse (const char *line)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, line, -1, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  JsonNode *type = json_object_get_member (json_node_get_object (root), "type");
  if (type == NULL || json_node_get_value_type (type) != G_TYPE_STRING
      || json_node_get_string (type)[0] == '\0')
    return NULL;
  JsonNode *body = json_object_get_member (json_node_get_object (root), "body");
  if (body != NULL && (json_node_get_value_type (body) != G_TYPE_INT64
                       || json_node_get_int (body) < 0))
    return NULL;
  return json_node_copy (root);
}

/* The flat-header fast path must accept exactly what json-glib accepts and
 * give the same members. */
static void
assert_same_as_json_glib (const char *line)
{
  gsize body_len = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) ours = minka_frame_parse_header (line, strlen (line), G_MAXSIZE,
                                                          &body_len, &error);
  g_autoptr (JsonNode) want = reference_parse (line);
  if (want == NULL)
    {
      ck_assert_msg (ours == NULL, "accepted what json-glib rejects: %s", line);
      return;
    }
  ck_assert_msg (ours != NULL, "rejected %s: %s", line, error ? error->message : "");
  g_autoptr (JsonNode) got = json_node_init_object (json_node_alloc (), ours);
  ck_assert_msg (json_node_equal (got, want), "different members for %s", line);
}

START_TEST (test_flat_headers_match_json_glib)
{
  static const char *const lines[] = {
    "{\"type\":\"RAFT\",\"body\":412}",
    " { \"type\" : \"A\" , \"n\" : -17 , \"ok\":true,\"no\":false,\"x\":null } ",
    "{\"type\":\"A\",\"max\":9223372036854775807,\"min\":-9223372036854775808}",
    "{\"type\":\"A\",\"big\":9223372036854775808}",
    "{\"type\":\"A\",\"huge\":123456789012345678901234567890}",
    "{\"type\":\"A\",\"zero\":0,\"negzero\":-0}",
    "{\"type\":\"A\",\"lead\":012}",
    "{\"type\":\"A\",\"frac\":1.5,\"exp\":1e3}",
    "{\"type\":\"A\",\"s\":\"ñandú 数据 🐈\"}",
    "{\"type\":\"A\",\"esc\":\"a\\\"b\\\\c\\u00e9\\n\"}",
    "{\"type\":\"A\",\"dup\":1,\"dup\":2}",
    "{\"type\":\"A\",\"nested\":{\"a\":[1,2,{\"b\":null}]}}",
    "{\"type\":\"A\",\"arr\":[]}",
    "{\"type\":\"A\",}",
    "{\"type\":\"A\" \"b\":1}",
    "{\"type\":\"A\",\"b\":}",
    "{\"type\":\"A\",\"b\":tru}",
    "{\"type\":\"A\",\"b\":-}",
    "{\"type\":\"A\",\"b\":\"unterminated}",
    "{\"type\":7}",
    "{\"body\":1}",
    "{}",
    "{\"type\":\"\"}",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    assert_same_as_json_glib (lines[i]);

  /* Random flat-looking headers built from valid and invalid pieces. */
  static const char *const values[] = { "1", "-1", "0", "00", "1.0", "\"v\"", "\"\"", "true",
                                        "false", "null", "nul", "\"a\\tb\"", "[1]", "{}",
                                        "99999999999999999999", "-9223372036854775809" };
  static const char *const names[] = { "type", "body", "id", "name", "x" };
  GRand *rand = g_rand_new_with_seed (2026);
  for (guint round = 0; round < 3000; round++)
    {
      g_autoptr (GString) line = g_string_new ("{\"type\":\"T\"");
      guint n = g_rand_int_range (rand, 0, 5);
      for (guint k = 0; k < n; k++)
        g_string_append_printf (line, ",%s\"%s\":%s", g_rand_int_range (rand, 0, 8) ? "" : " ",
                                names[g_rand_int_range (rand, 0, G_N_ELEMENTS (names))],
                                values[g_rand_int_range (rand, 0, G_N_ELEMENTS (values))]);
      g_string_append (line, g_rand_int_range (rand, 0, 10) ? "}" : "} ");
      assert_same_as_json_glib (line->str);
    }
  g_rand_free (rand);
}
END_TEST

START_TEST (test_encode_errors)
{
  GError *error = NULL;
  g_autoptr (JsonObject) no_type = json_object_new ();
  ck_assert_ptr_null (minka_frame_encode (no_type, NULL, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER));
  g_clear_error (&error);

  g_autoptr (JsonObject) header = minka_frame_header_new ("A");
  g_autoptr (GBytes) huge = g_bytes_new_take (g_malloc0 (MINKA_FRAME_MAX_BODY + 1),
                                              MINKA_FRAME_MAX_BODY + 1);
  ck_assert_ptr_null (minka_frame_encode (header, huge, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BODY_TOO_LONG));
  g_clear_error (&error);

  /* A stale "body" member is removed when there is no body. */
  json_object_set_int_member (header, "body", 12);
  g_autoptr (GBytes) bytes = minka_frame_encode (header, NULL, &error);
  ck_assert_ptr_null (error);
  ck_assert (!json_object_has_member (header, "body"));

  g_autoptr (JsonObject) request = minka_frame_header_new ("GET");
  json_object_set_int_member (request, "id", 42);
  g_autoptr (JsonObject) reply = minka_frame_header_new_error (request, "not_found", "No such file");
  ck_assert_int_eq (json_object_get_int_member (reply, "id"), 42);
  ck_assert_str_eq (json_object_get_string_member (reply, "type"), "ERROR");
  ck_assert_str_eq (json_object_get_string_member (reply, "code"), "not_found");
}
END_TEST

/* ---- loopback connection tests ------------------------------------------ */

typedef struct {
  GSocketService *service;
  GSocketConnection *server;   /* accepted side */
  GSocketConnection *client;
} Pair;

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer data)
{
  Pair *pair = data;
  if (pair->server == NULL)
    pair->server = g_object_ref (connection);
  return TRUE;
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  Pair *pair = data;
  GError *error = NULL;
  pair->client = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  ck_assert_ptr_null (error);
}

static void
pair_open (Pair *pair)
{
  memset (pair, 0, sizeof *pair);
  pair->service = g_socket_service_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  GError *error = NULL;
  ck_assert (g_socket_listener_add_address (G_SOCKET_LISTENER (pair->service), any,
                                            G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                            NULL, &bound, &error));
  g_signal_connect (pair->service, "incoming", G_CALLBACK (on_incoming), pair);
  g_socket_service_start (pair->service);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (bound), NULL, on_connected, pair);
  while (pair->server == NULL || pair->client == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static void
pair_close (Pair *pair)
{
  g_socket_service_stop (pair->service);
  g_socket_listener_close (G_SOCKET_LISTENER (pair->service));
  g_clear_object (&pair->service);
  g_clear_object (&pair->server);
  g_clear_object (&pair->client);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_steal_pointer (slot);
}

static MinkaFrame *
read_frame (MinkaFrameConnection *conn, GError **error)
{
  GAsyncResult *result = NULL;
  minka_frame_connection_read_async (conn, NULL, store_result, &result);
  g_autoptr (GAsyncResult) done = wait_for (&result);
  return minka_frame_connection_read_finish (conn, done, error);
}

static void
send_frame (MinkaFrameConnection *conn, const char *type, gint64 id, GBytes *body)
{
  g_autoptr (JsonObject) header = minka_frame_header_new (type);
  json_object_set_int_member (header, "id", id);
  minka_frame_connection_send_async (conn, header, body, NULL, NULL, NULL);
}

START_TEST (test_conn_exchange)
{
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) a = minka_frame_connection_new (G_IO_STREAM (pair.client));
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  gsize sizes[] = { 0, 1, 1024 * 1024 + 1, MINKA_FRAME_MAX_BODY, 5 };

  /* Small frames must not wait for delayed ACKs (Nagle). */
  gint nodelay = 0;
  ck_assert (g_socket_get_option (g_socket_connection_get_socket (pair.client),
                                  IPPROTO_TCP, TCP_NODELAY, &nodelay, NULL));
  ck_assert_int_ne (nodelay, 0);
  GBytes *bodies[G_N_ELEMENTS (sizes)];

  /* Queue every frame at once: they must arrive whole and in order. */
  GAsyncResult *last_sent = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      bodies[i] = make_body (sizes[i], 10 + i);
      g_autoptr (JsonObject) header = minka_frame_header_new ("PUT");
      json_object_set_int_member (header, "id", i);
      minka_frame_connection_send_async (a, header, bodies[i], NULL,
                                         i + 1 == G_N_ELEMENTS (sizes) ? store_result : NULL,
                                         &last_sent);
    }
  /* Nothing has been written yet, or at most part of it. */
  ck_assert_uint_gt (minka_frame_connection_get_queued_bytes (a), MINKA_FRAME_MAX_BODY);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      GError *error = NULL;
      g_autoptr (MinkaFrame) frame = read_frame (b, &error);
      ck_assert_ptr_null (error);
      ck_assert_int_eq (minka_frame_get_id (frame), i);
      assert_bytes_equal (frame->body, bodies[i]);
      /* Echo it back with the body. */
      g_autoptr (JsonObject) reply = minka_frame_header_new_reply (frame->header, "OK");
      minka_frame_connection_send_async (b, reply, frame->body, NULL, NULL, NULL);
    }
  g_autoptr (GAsyncResult) sent = wait_for (&last_sent);
  ck_assert (minka_frame_connection_send_finish (a, sent, NULL));
  ck_assert_uint_eq (minka_frame_connection_get_queued_bytes (a), 0);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      GError *error = NULL;
      g_autoptr (MinkaFrame) frame = read_frame (a, &error);
      ck_assert_ptr_null (error);
      ck_assert_str_eq (minka_frame_get_frame_type (frame), "OK");
      ck_assert_int_eq (minka_frame_get_id (frame), i);
      assert_bytes_equal (frame->body, bodies[i]);
      g_bytes_unref (bodies[i]);
    }

  /* A clean close from one side is MINKA_FRAME_ERROR_CLOSED on the other. */
  minka_frame_connection_close (a);
  ck_assert (minka_frame_connection_is_closed (a));
  GError *error = NULL;
  ck_assert_ptr_null (read_frame (b, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED));
  g_clear_error (&error);
  ck_assert_ptr_null (read_frame (a, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED));
  g_clear_error (&error);
  pair_close (&pair);
}
END_TEST

static void
raw_write (GSocketConnection *conn, const char *data, gsize len)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  ck_assert (g_output_stream_write_all (out, data, len, NULL, NULL, NULL));
}

START_TEST (test_conn_short_body)
{
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  const char *text = "{\"type\":\"PUT\",\"body\":100}\n0123456789";
  raw_write (pair.client, text, strlen (text));
  ck_assert (g_io_stream_close (G_IO_STREAM (pair.client), NULL, NULL));
  GError *error = NULL;
  ck_assert_ptr_null (read_frame (b, &error));
  ck_assert_msg (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TRUNCATED),
                 "%s", error->message);
  g_clear_error (&error);
  ck_assert (minka_frame_connection_is_closed (b));
  pair_close (&pair);
}
END_TEST

START_TEST (test_conn_bad_frame_then_error_reply)
{
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) a = minka_frame_connection_new (G_IO_STREAM (pair.client));
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  raw_write (pair.client, "garbage\n", 8);
  GError *error = NULL;
  ck_assert_ptr_null (read_frame (b, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER));
  g_autoptr (JsonObject) reply = minka_frame_header_new_error (NULL, "bad_frame", error->message);
  g_clear_error (&error);
  /* Reads keep failing, but the error frame still goes out. */
  ck_assert_ptr_null (read_frame (b, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_BAD_HEADER));
  g_clear_error (&error);
  minka_frame_connection_send_async (b, reply, NULL, NULL, NULL, NULL);
  minka_frame_connection_close (b);
  g_autoptr (MinkaFrame) frame = read_frame (a, &error);
  ck_assert_ptr_null (error);
  ck_assert_str_eq (minka_frame_get_frame_type (frame), "ERROR");
  ck_assert_str_eq (json_object_get_string_member (frame->header, "code"), "bad_frame");
  ck_assert_ptr_null (read_frame (a, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED));
  g_clear_error (&error);
  pair_close (&pair);
}
END_TEST

START_TEST (test_conn_timeouts)
{
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  g_autoptr (MinkaFrameConnection) a = minka_frame_connection_new (G_IO_STREAM (pair.client));

  /* Idle: nothing arrives. */
  minka_frame_connection_set_timeouts (b, 50, 0);
  GError *error = NULL;
  ck_assert_ptr_null (read_frame (b, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT));
  g_clear_error (&error);
  ck_assert (minka_frame_connection_is_closed (b));
  ck_assert_ptr_null (read_frame (b, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT));
  g_clear_error (&error);
  /* The peer sees the close. */
  ck_assert_ptr_null (read_frame (a, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED));
  g_clear_error (&error);
  pair_close (&pair);

  /* Slow peer: a frame starts but never finishes (no idle limit). */
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) c = minka_frame_connection_new (G_IO_STREAM (pair.server));
  minka_frame_connection_set_timeouts (c, 0, 80);
  raw_write (pair.client, "{\"type\":\"PU", 11);
  ck_assert_ptr_null (read_frame (c, &error));
  ck_assert_msg (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_TIMEOUT),
                 "%s", error->message);
  g_clear_error (&error);
  pair_close (&pair);
}
END_TEST

static gboolean
send_tick (gpointer data)
{
  send_frame (data, "TICK", 0, NULL);
  return G_SOURCE_CONTINUE;
}

START_TEST (test_conn_idle_timer_resets)
{
  /* Frames every 20 ms keep a connection with a 400 ms idle limit open
   * for well over 400 ms in total. */
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) a = minka_frame_connection_new (G_IO_STREAM (pair.client));
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  minka_frame_connection_set_timeouts (b, 400, 400);
  guint source = g_timeout_add (20, send_tick, a);
  gint64 start = g_get_monotonic_time ();
  guint frames = 0;
  while (g_get_monotonic_time () - start < 1000 * 1000)
    {
      GError *error = NULL;
      g_autoptr (MinkaFrame) frame = read_frame (b, &error);
      ck_assert_msg (frame != NULL, "%s", error != NULL ? error->message : "");
      frames++;
    }
  g_source_remove (source);
  ck_assert_uint_gt (frames, 5);
  ck_assert (!minka_frame_connection_is_closed (b));
  pair_close (&pair);
}
END_TEST

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

START_TEST (test_conn_cancel_keeps_connection)
{
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) a = minka_frame_connection_new (G_IO_STREAM (pair.client));
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  /* Half a frame arrives, then the reader gives up waiting... */
  raw_write (pair.client, "{\"type\":\"HA", 11);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  GAsyncResult *result = NULL;
  minka_frame_connection_read_async (b, cancel, store_result, &result);
  g_timeout_add (30, cancel_later, cancel);
  g_autoptr (GAsyncResult) done = wait_for (&result);
  GError *error = NULL;
  ck_assert_ptr_null (minka_frame_connection_read_finish (b, done, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&error);
  ck_assert (!minka_frame_connection_is_closed (b));
  /* ...and the rest of the frame is still read correctly afterwards. */
  raw_write (pair.client, "LF\"}\n", 5);
  send_frame (a, "NEXT", 2, NULL);
  g_autoptr (MinkaFrame) f1 = read_frame (b, &error);
  ck_assert_ptr_null (error);
  ck_assert_str_eq (minka_frame_get_frame_type (f1), "HALF");
  g_autoptr (MinkaFrame) f2 = read_frame (b, &error);
  ck_assert_ptr_null (error);
  ck_assert_str_eq (minka_frame_get_frame_type (f2), "NEXT");
  pair_close (&pair);
}
END_TEST

START_TEST (test_conn_close_flushes_and_rules)
{
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) a = minka_frame_connection_new (G_IO_STREAM (pair.client));
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  GError *error = NULL;

  /* Two reads at once: the second is refused, the first still works. */
  GAsyncResult *first = NULL, *second = NULL;
  minka_frame_connection_read_async (a, NULL, store_result, &first);
  minka_frame_connection_read_async (a, NULL, store_result, &second);
  g_autoptr (GAsyncResult) second_done = wait_for (&second);
  ck_assert_ptr_null (minka_frame_connection_read_finish (a, second_done, &error));
  ck_assert (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING));
  g_clear_error (&error);

  /* A big frame queued right before close() still arrives whole. */
  g_autoptr (GBytes) body = make_body (MINKA_FRAME_MAX_BODY, 77);
  send_frame (b, "BIG", 1, body);
  minka_frame_connection_close (b);
  ck_assert (minka_frame_connection_is_closed (b));
  g_autoptr (JsonObject) late = minka_frame_header_new ("LATE");
  GAsyncResult *late_result = NULL;
  minka_frame_connection_send_async (b, late, NULL, NULL, store_result, &late_result);
  g_autoptr (GAsyncResult) late_done = wait_for (&late_result);
  ck_assert (!minka_frame_connection_send_finish (b, late_done, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED));
  g_clear_error (&error);

  g_autoptr (GAsyncResult) first_done = wait_for (&first);
  g_autoptr (MinkaFrame) frame = minka_frame_connection_read_finish (a, first_done, &error);
  ck_assert_ptr_null (error);
  ck_assert_str_eq (minka_frame_get_frame_type (frame), "BIG");
  assert_bytes_equal (frame->body, body);
  ck_assert_ptr_null (read_frame (a, &error));
  ck_assert (g_error_matches (error, MINKA_FRAME_ERROR, MINKA_FRAME_ERROR_CLOSED));
  g_clear_error (&error);
  pair_close (&pair);
}
END_TEST

static void
spin_ms (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
}

START_TEST (test_conn_read_ahead_is_bounded)
{
  /* Nobody reads: a flood of header-only frames must soon meet a full
   * socket, not fill our memory. */
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  GSocket *raw = g_socket_connection_get_socket (pair.client);
  static const char ping[] = "{\"type\":\"PING\",\"id\":1}\n";
  GString *chunk = g_string_new (NULL);
  for (guint i = 0; i < 4096; i++)
    g_string_append (chunk, ping);
  gsize written = 0;
  guint stalls = 0;
  while (stalls < 200 && written < 256u * 1024 * 1024)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_send_with_blocking (raw, chunk->str, chunk->len, FALSE, NULL, &error);
      if (n > 0)
        {
          written += (gsize) n;
          stalls = 0;
        }
      else
        stalls++;
      g_main_context_iteration (NULL, FALSE);
    }
  g_string_free (chunk, TRUE);
  ck_assert_msg (written < 64u * 1024 * 1024, "the peer wrote %zu bytes unread", written);
  /* The frames that were taken are all still there, in order. */
  GError *error = NULL;
  g_autoptr (MinkaFrame) first = read_frame (b, &error);
  ck_assert_ptr_null (error);
  ck_assert_str_eq (minka_frame_get_frame_type (first), "PING");
  pair_close (&pair);
}
END_TEST

START_TEST (test_conn_close_then_unref_still_sends)
{
  /* close() and dropping the last reference with frames queued (no
   * callbacks): they still go out, the last one too. */
  Pair pair;
  pair_open (&pair);
  MinkaFrameConnection *b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  g_autoptr (MinkaFrameConnection) a = minka_frame_connection_new (G_IO_STREAM (pair.client));
  g_autoptr (GBytes) body = make_body (1024 * 1024, 9);
  for (guint i = 0; i < 8; i++)
    send_frame (b, "DATA", i, body);
  send_frame (b, "LAST", 99, NULL);
  ck_assert_uint_gt (minka_frame_connection_get_queued_bytes (b), 0);
  minka_frame_connection_close (b);
  g_object_unref (b);
  for (guint i = 0; i < 8; i++)
    {
      GError *error = NULL;
      g_autoptr (MinkaFrame) f = read_frame (a, &error);
      ck_assert_msg (f != NULL, "frame %u: %s", i, error ? error->message : "");
      ck_assert_int_eq (minka_frame_get_id (f), i);
    }
  GError *error = NULL;
  g_autoptr (MinkaFrame) last = read_frame (a, &error);
  ck_assert_msg (last != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq (minka_frame_get_frame_type (last), "LAST");
  pair_close (&pair);
}
END_TEST

START_TEST (test_conn_slow_reader_is_not_a_slow_peer)
{
  /* The reader is busy while a fast peer sends more than the read-ahead
   * limit: receiving pauses, and that pause is not the peer's fault, so
   * the frame deadline must not fire. */
  Pair pair;
  pair_open (&pair);
  g_autoptr (MinkaFrameConnection) a = minka_frame_connection_new (G_IO_STREAM (pair.client));
  g_autoptr (MinkaFrameConnection) b = minka_frame_connection_new (G_IO_STREAM (pair.server));
  minka_frame_connection_set_timeouts (b, 0, 300);
  g_autoptr (GBytes) body = make_body (1024 * 1024, 4);
  for (guint i = 0; i < 8; i++)
    send_frame (a, "DATA", i, body);
  spin_ms (1000);
  for (guint i = 0; i < 8; i++)
    {
      GError *error = NULL;
      g_autoptr (MinkaFrame) f = read_frame (b, &error);
      ck_assert_msg (f != NULL, "frame %u: %s", i, error ? error->message : "");
      ck_assert_int_eq (minka_frame_get_id (f), i);
    }
  pair_close (&pair);
}
END_TEST

static Suite *
frame_suite (void)
{
  Suite *s = suite_create ("frame");
  TCase *codec = tcase_create ("codec");
  tcase_add_test (codec, test_round_trip);
  tcase_add_test (codec, test_flat_headers_match_json_glib);
  tcase_add_test (codec, test_every_split);
  tcase_add_loop_test (codec, test_reject, 0, G_N_ELEMENTS (bad_cases));
  tcase_add_test (codec, test_deep_nesting);
  tcase_add_test (codec, test_header_limit);
  tcase_add_test (codec, test_body_limit_and_small_limits);
  tcase_add_test (codec, test_encode_errors);
  suite_add_tcase (s, codec);
  TCase *conn = tcase_create ("connection");
  tcase_add_test (conn, test_conn_exchange);
  tcase_add_test (conn, test_conn_short_body);
  tcase_add_test (conn, test_conn_bad_frame_then_error_reply);
  tcase_add_test (conn, test_conn_timeouts);
  tcase_add_test (conn, test_conn_cancel_keeps_connection);
  tcase_add_test (conn, test_conn_close_flushes_and_rules);
  tcase_add_test (conn, test_conn_idle_timer_resets);
  tcase_add_test (conn, test_conn_read_ahead_is_bounded);
  tcase_add_test (conn, test_conn_close_then_unref_still_sends);
  tcase_add_test (conn, test_conn_slow_reader_is_not_a_slow_peer);
  suite_add_tcase (s, conn);
  return s;
}

int
main (void)
{
  SRunner *runner = srunner_create (frame_suite ());
  srunner_run_all (runner, CK_NORMAL);
  int failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}
