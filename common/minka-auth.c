/* minka-auth.c — HELLO handshake with a mutual HMAC-SHA256 challenge,
 * cluster key files and random nonces. */
#ifdef _WIN32
#define _CRT_RAND_S            /* rand_s: RtlGenRandom, cryptographic */
#include <stdlib.h>
#endif

#include "config.h"

#include "minka-auth.h"

#include <string.h>
#include <glib/gi18n-lib.h>

G_DEFINE_QUARK (minka-auth-error-quark, minka_auth_error)

/* ---- roles, hex, random ------------------------------------------------- */

const char *
minka_auth_role_to_string (MinkaAuthRole role)
{
  return role == MINKA_AUTH_ROLE_PEER ? "peer" : "client";
}

gboolean
minka_auth_role_from_string (const char *text, MinkaAuthRole *role)
{
  if (g_strcmp0 (text, "peer") == 0)
    *role = MINKA_AUTH_ROLE_PEER;
  else if (g_strcmp0 (text, "client") == 0)
    *role = MINKA_AUTH_ROLE_CLIENT;
  else
    return FALSE;
  return TRUE;
}

char *
minka_auth_hex_encode (const guint8 *data, gsize len)
{
  static const char digits[] = "0123456789abcdef";
  char *text = g_malloc (2 * len + 1);
  for (gsize i = 0; i < len; i++)
    {
      text[2 * i] = digits[data[i] >> 4];
      text[2 * i + 1] = digits[data[i] & 15];
    }
  text[2 * len] = '\0';
  return text;
}

gboolean
minka_auth_hex_decode (const char *text, guint8 *out, gsize len)
{
  if (text == NULL || strlen (text) != 2 * len)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (text[2 * i]);
      int lo = g_ascii_xdigit_value (text[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return FALSE;
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

gboolean
minka_auth_random_bytes (guint8 *buffer, gsize len, GError **error)
{
#ifdef _WIN32
  for (gsize i = 0; i < len; i++)
    {
      unsigned int value = 0;
      if (rand_s (&value) != 0)
        {
          g_set_error (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_RANDOM,
                       _("No source of random bytes"));
          return FALSE;
        }
      buffer[i] = (guint8) value;
    }
  return TRUE;
#else
  g_autoptr (GFile) file = g_file_new_for_path ("/dev/urandom");
  g_autoptr (GError) local = NULL;
  g_autoptr (GFileInputStream) in = g_file_read (file, NULL, &local);
  gsize got = 0;
  if (in == NULL
      || !g_input_stream_read_all (G_INPUT_STREAM (in), buffer, len, &got, NULL, &local)
      || got != len)
    {
      g_set_error (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_RANDOM,
                   _("Cannot read random bytes from /dev/urandom: %s"),
                   local != NULL ? local->message : _("short read"));
      return FALSE;
    }
  return TRUE;
#endif
}

/* ---- keys --------------------------------------------------------------- */

static gboolean
text_is_hex_key (const char *data, gsize len)
{
  if (len == 0 || len % 2 != 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isxdigit (data[i]))
      return FALSE;
  return TRUE;
}

GBytes *
minka_auth_key_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &data, &len, &local))
    {
      g_set_error (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE,
                   _("Cannot read key file: %s"), local->message);
      return NULL;
    }
  if (len > MINKA_AUTH_KEY_MAX_FILE)
    {
      g_set_error (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE,
                   _("Key file %s is larger than %d bytes"), path, MINKA_AUTH_KEY_MAX_FILE);
      return NULL;
    }
  gsize text_len = len;
  while (text_len > 0 && g_ascii_isspace (data[text_len - 1]))
    text_len--;

  GBytes *key;
  if (text_is_hex_key (data, text_len))
    {
      gsize n = text_len / 2;
      guint8 *raw = g_malloc (n);
      data[text_len] = '\0';
      minka_auth_hex_decode (data, raw, n);
      key = g_bytes_new_take (raw, n);
    }
  else
    key = g_bytes_new (data, len);

  if (g_bytes_get_size (key) < MINKA_AUTH_KEY_MIN_LEN)
    {
      g_set_error (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE,
                   _("Key in %s is %llu bytes; at least %d are needed "
                     "(for example 64 hex digits)"),
                   path, (unsigned long long) g_bytes_get_size (key), MINKA_AUTH_KEY_MIN_LEN);
      g_bytes_unref (key);
      return NULL;
    }
  return key;
}

char *
minka_auth_key_new_hex (GError **error)
{
  guint8 raw[32];
  if (!minka_auth_random_bytes (raw, sizeof raw, error))
    return NULL;
  g_autofree char *hex = minka_auth_hex_encode (raw, sizeof raw);
  return g_strconcat (hex, "\n", NULL);
}

gboolean
minka_auth_key_file_create (const char *path, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE,
                   _("Key file %s already exists"), path);
      return FALSE;
    }
  g_autofree char *hex = minka_auth_key_new_hex (error);
  if (hex == NULL)
    return FALSE;
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents_full (path, hex, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local))
    {
      g_set_error (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE,
                   _("Cannot write key file: %s"), local->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- HMAC --------------------------------------------------------------- */

char *
minka_auth_compute (GBytes *key, MinkaAuthProof side,
                    const guint8 server_nonce[MINKA_AUTH_NONCE_LEN],
                    const guint8 client_nonce[MINKA_AUTH_NONCE_LEN],
                    MinkaAuthRole role, guint version)
{
  /* The labels include their NUL so "client"/"server" cannot run into the
   * nonce bytes; version is 4 bytes big-endian. */
  static const char client_label[] = "minka-auth-v1 client";
  static const char server_label[] = "minka-auth-v1 server";
  const char *label = side == MINKA_AUTH_PROOF_CLIENT ? client_label : server_label;
  const char *role_name = minka_auth_role_to_string (role);
  guint8 version_be[4] = { (guint8) (version >> 24), (guint8) (version >> 16),
                           (guint8) (version >> 8), (guint8) version };
  gsize key_len = 0;
  const guint8 *key_data = g_bytes_get_data (key, &key_len);

  GHmac *hmac = g_hmac_new (G_CHECKSUM_SHA256, key_data, key_len);
  g_hmac_update (hmac, (const guchar *) label, (gssize) sizeof client_label);
  g_hmac_update (hmac, server_nonce, MINKA_AUTH_NONCE_LEN);
  g_hmac_update (hmac, client_nonce, MINKA_AUTH_NONCE_LEN);
  g_hmac_update (hmac, (const guchar *) role_name, (gssize) strlen (role_name) + 1);
  g_hmac_update (hmac, version_be, sizeof version_be);
  guint8 digest[MINKA_AUTH_MAC_LEN];
  gsize digest_len = sizeof digest;
  g_hmac_get_digest (hmac, digest, &digest_len);
  g_hmac_unref (hmac);
  return minka_auth_hex_encode (digest, sizeof digest);
}

gboolean
minka_auth_verify (GBytes *key, MinkaAuthProof side,
                   const guint8 server_nonce[MINKA_AUTH_NONCE_LEN],
                   const guint8 client_nonce[MINKA_AUTH_NONCE_LEN],
                   MinkaAuthRole role, guint version, const char *answer)
{
  if (answer == NULL || strlen (answer) != 2 * MINKA_AUTH_MAC_LEN)
    return FALSE;
  g_autofree char *expected = minka_auth_compute (key, side, server_nonce, client_nonce,
                                                  role, version);
  /* Constant time: look at every byte whatever the first difference. */
  guint8 diff = 0;
  for (gsize i = 0; i < 2 * MINKA_AUTH_MAC_LEN; i++)
    diff |= (guint8) (expected[i] ^ g_ascii_tolower (answer[i]));
  return diff == 0;
}

/* ---- the handshake ------------------------------------------------------ */

typedef struct {
  MinkaFrameConnection *conn;
  GBytes *key;
  MinkaAuthRole role;
  guint8 server_nonce[MINKA_AUTH_NONCE_LEN];
  guint8 client_nonce[MINKA_AUTH_NONCE_LEN];
  gboolean challenged;
  JsonObject *hello;           /* server: the client's HELLO */
} Handshake;

static void
handshake_free (Handshake *hs)
{
  g_object_unref (hs->conn);
  g_clear_pointer (&hs->key, g_bytes_unref);
  g_clear_pointer (&hs->hello, json_object_unref);
  g_free (hs);
}

static Handshake *
handshake_new (MinkaFrameConnection *conn, GBytes *key)
{
  Handshake *hs = g_new0 (Handshake, 1);
  hs->conn = g_object_ref (conn);
  hs->key = key != NULL ? g_bytes_ref (key) : NULL;
  return hs;
}

static void
handshake_send (Handshake *hs, JsonObject *header)
{
  minka_frame_connection_send_async (hs->conn, header, NULL, NULL, NULL, NULL);
  json_object_unref (header);
}

/* Closes the connection and fails the task with @error (taken). */
static void
handshake_fail (GTask *task, GError *error)
{
  Handshake *hs = g_task_get_task_data (task);
  minka_frame_connection_close (hs->conn);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
nonce_from_header (JsonObject *header, guint8 nonce[MINKA_AUTH_NONCE_LEN])
{
  const char *hex = minka_header_get_string (header, "nonce", NULL, NULL);
  return minka_auth_hex_decode (hex, nonce, MINKA_AUTH_NONCE_LEN);
}

/* -- client -- */

static void client_on_frame (GObject *source, GAsyncResult *result, gpointer data);

static GError *
client_error_from_frame (MinkaFrame *frame)
{
  const char *code = minka_header_get_string (frame->header, "code", "", NULL);
  const char *message = minka_header_get_string (frame->header, "message", "", NULL);
  return g_error_new (MINKA_AUTH_ERROR,
                      strcmp (code, "version") == 0 ? MINKA_AUTH_ERROR_VERSION
                                                    : MINKA_AUTH_ERROR_REJECTED,
                      _("The worker refused the connection: %s"), message);
}

/* HELLO_OK: with a key, the server must have challenged us and proved it
 * holds the key too. */
static GError *
client_check_ok (Handshake *hs, MinkaFrame *frame)
{
  if (hs->key == NULL)
    return NULL;
  const char *proof = minka_header_get_string (frame->header, "proof", NULL, NULL);
  if (hs->challenged && minka_auth_verify (hs->key, MINKA_AUTH_PROOF_SERVER, hs->server_nonce,
                                           hs->client_nonce, hs->role,
                                           MINKA_PROTOCOL_VERSION, proof))
    return NULL;
  return g_error_new_literal (MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_DENIED,
                              _("The worker did not prove it knows the cluster key"));
}

static GError *
client_answer_challenge (Handshake *hs, MinkaFrame *frame)
{
  if (hs->challenged || !nonce_from_header (frame->header, hs->server_nonce))
    return g_error_new_literal (MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_PROTOCOL,
                                _("The worker sent a malformed challenge"));
  hs->challenged = TRUE;
  JsonObject *auth = minka_frame_header_new ("AUTH");
  /* Without a key we still answer (with nothing) so the worker can say
   * clearly that a key is needed. */
  if (hs->key != NULL)
    {
      g_autofree char *answer = minka_auth_compute (hs->key, MINKA_AUTH_PROOF_CLIENT,
                                                    hs->server_nonce, hs->client_nonce,
                                                    hs->role, MINKA_PROTOCOL_VERSION);
      json_object_set_string_member (auth, "answer", answer);
    }
  handshake_send (hs, auth);
  return NULL;
}

static void
client_on_frame (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  Handshake *hs = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (MinkaFrame) frame = minka_frame_connection_read_finish (hs->conn, result, &error);
  if (frame == NULL)
    {
      handshake_fail (task, error);
      return;
    }
  const char *type = minka_frame_get_frame_type (frame);
  if (strcmp (type, "ERROR") == 0)
    error = client_error_from_frame (frame);
  else if (strcmp (type, "CHALLENGE") == 0)
    {
      error = client_answer_challenge (hs, frame);
      if (error == NULL)
        {
          minka_frame_connection_read_async (hs->conn, g_task_get_cancellable (task),
                                             client_on_frame, task);
          return;
        }
    }
  else if (strcmp (type, "HELLO_OK") == 0)
    {
      error = client_check_ok (hs, frame);
      if (error == NULL)
        {
          g_task_return_boolean (task, TRUE);
          g_object_unref (task);
          return;
        }
    }
  else
    error = g_error_new (MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_PROTOCOL,
                         _("Unexpected %s frame during the handshake"), type);
  handshake_fail (task, error);
}

void
minka_auth_client_async (MinkaFrameConnection *conn, MinkaAuthRole role, GBytes *key,
                         JsonObject *extra, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (conn, cancellable, callback, user_data);
  g_task_set_source_tag (task, minka_auth_client_async);
  Handshake *hs = handshake_new (conn, key);
  hs->role = role;
  g_task_set_task_data (task, hs, (GDestroyNotify) handshake_free);

  GError *error = NULL;
  if (!minka_auth_random_bytes (hs->client_nonce, MINKA_AUTH_NONCE_LEN, &error))
    {
      handshake_fail (task, error);
      return;
    }
  JsonObject *hello = minka_frame_header_new ("HELLO");
  if (extra != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *node;
      json_object_iter_init (&iter, extra);
      while (json_object_iter_next (&iter, &name, &node))
        json_object_set_member (hello, name, json_node_copy (node));
      json_object_set_string_member (hello, "type", "HELLO");
    }
  g_autofree char *nonce = minka_auth_hex_encode (hs->client_nonce, MINKA_AUTH_NONCE_LEN);
  json_object_set_string_member (hello, "role", minka_auth_role_to_string (role));
  json_object_set_int_member (hello, "version", MINKA_PROTOCOL_VERSION);
  json_object_set_string_member (hello, "nonce", nonce);
  handshake_send (hs, hello);
  minka_frame_connection_read_async (conn, cancellable, client_on_frame, task);
}

gboolean
minka_auth_client_finish (MinkaFrameConnection *conn, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, conn), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* -- server -- */

/* Sends an ERROR frame, closes (after it is written) and fails. */
static void
server_reject (GTask *task, const char *code, MinkaAuthError domain_code, const char *message)
{
  Handshake *hs = g_task_get_task_data (task);
  handshake_send (hs, minka_frame_header_new_error (NULL, code, message));
  handshake_fail (task, g_error_new_literal (MINKA_AUTH_ERROR, domain_code, message));
}

static void
server_succeed (GTask *task)
{
  Handshake *hs = g_task_get_task_data (task);
  JsonObject *ok = minka_frame_header_new ("HELLO_OK");
  json_object_set_int_member (ok, "version", MINKA_PROTOCOL_VERSION);
  if (hs->key != NULL)
    {
      g_autofree char *proof = minka_auth_compute (hs->key, MINKA_AUTH_PROOF_SERVER,
                                                   hs->server_nonce, hs->client_nonce,
                                                   hs->role, MINKA_PROTOCOL_VERSION);
      json_object_set_string_member (ok, "proof", proof);
    }
  handshake_send (hs, ok);
  g_task_return_pointer (task, json_object_ref (hs->hello), (GDestroyNotify) json_object_unref);
  g_object_unref (task);
}

static void
server_on_auth (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  Handshake *hs = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (MinkaFrame) frame = minka_frame_connection_read_finish (hs->conn, result, &error);
  if (frame == NULL)
    {
      handshake_fail (task, error);
      return;
    }
  if (strcmp (minka_frame_get_frame_type (frame), "AUTH") != 0)
    {
      server_reject (task, "bad_hello", MINKA_AUTH_ERROR_PROTOCOL,
                     _("Expected an AUTH frame answering the challenge"));
      return;
    }
  const char *answer = minka_header_get_string (frame->header, "answer", NULL, NULL);
  if (answer == NULL)
    server_reject (task, "auth_failed", MINKA_AUTH_ERROR_DENIED,
                   _("Authentication failed: this cluster needs a key"));
  else if (!minka_auth_verify (hs->key, MINKA_AUTH_PROOF_CLIENT, hs->server_nonce,
                               hs->client_nonce, hs->role, MINKA_PROTOCOL_VERSION, answer))
    server_reject (task, "auth_failed", MINKA_AUTH_ERROR_DENIED,
                   _("Authentication failed: wrong cluster key"));
  else
    server_succeed (task);
}

static void
server_on_hello (GObject *source, GAsyncResult *result, gpointer data)
{
  GTask *task = data;
  Handshake *hs = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (MinkaFrame) frame = minka_frame_connection_read_finish (hs->conn, result, &error);
  if (frame == NULL)
    {
      handshake_fail (task, error);
      return;
    }
  JsonObject *hello = frame->header;
  JsonNode *version = json_object_get_member (hello, "version");
  if (strcmp (minka_frame_get_frame_type (frame), "HELLO") != 0
      || !minka_auth_role_from_string (minka_header_get_string (hello, "role", NULL, NULL),
                                       &hs->role)
      || version == NULL || json_node_get_value_type (version) != G_TYPE_INT64
      || !nonce_from_header (hello, hs->client_nonce))
    {
      server_reject (task, "bad_hello", MINKA_AUTH_ERROR_PROTOCOL,
                     _("Expected a HELLO frame with role, version and nonce"));
      return;
    }
  if (json_node_get_int (version) != MINKA_PROTOCOL_VERSION)
    {
      g_autofree char *message = g_strdup_printf (
        _("Protocol version %lld is not supported (this worker speaks %d)"),
        (long long) json_node_get_int (version), MINKA_PROTOCOL_VERSION);
      server_reject (task, "version", MINKA_AUTH_ERROR_VERSION, message);
      return;
    }
  hs->hello = json_object_ref (hello);
  if (hs->key == NULL)
    {
      server_succeed (task);
      return;
    }
  if (!minka_auth_random_bytes (hs->server_nonce, MINKA_AUTH_NONCE_LEN, &error))
    {
      server_reject (task, "internal", MINKA_AUTH_ERROR_RANDOM, error->message);
      g_error_free (error);
      return;
    }
  JsonObject *challenge = minka_frame_header_new ("CHALLENGE");
  g_autofree char *nonce = minka_auth_hex_encode (hs->server_nonce, MINKA_AUTH_NONCE_LEN);
  json_object_set_string_member (challenge, "nonce", nonce);
  handshake_send (hs, challenge);
  minka_frame_connection_read_async (hs->conn, g_task_get_cancellable (task),
                                     server_on_auth, task);
}

void
minka_auth_server_async (MinkaFrameConnection *conn, GBytes *key, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (conn, cancellable, callback, user_data);
  g_task_set_source_tag (task, minka_auth_server_async);
  g_task_set_task_data (task, handshake_new (conn, key), (GDestroyNotify) handshake_free);
  minka_frame_connection_read_async (conn, cancellable, server_on_hello, task);
}

JsonObject *
minka_auth_server_finish (MinkaFrameConnection *conn, GAsyncResult *result,
                          MinkaAuthRole *role, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, conn), NULL);
  JsonObject *hello = g_task_propagate_pointer (G_TASK (result), error);
  if (hello != NULL && role != NULL)
    minka_auth_role_from_string (minka_header_get_string (hello, "role", NULL, NULL), role);
  return hello;
}
