/* test-auth.c — HMAC compute/verify, key files, and the HELLO handshake
 * over a real loopback TCP pair: right key, wrong key, missing key on
 * either side, bad version, and a replayed answer. */
#include <check.h>
#include <string.h>
#include <glib/gstdio.h>

#include "minka-auth.h"

static GBytes *
key_from_byte (guint8 value)
{
  guint8 raw[32];
  memset (raw, value, sizeof raw);
  return g_bytes_new (raw, sizeof raw);
}

/* ---- pure functions ----------------------------------------------------- */

START_TEST (test_compute_verify)
{
  g_autoptr (GBytes) key = key_from_byte (7);
  g_autoptr (GBytes) other = key_from_byte (8);
  guint8 sn[MINKA_AUTH_NONCE_LEN], cn[MINKA_AUTH_NONCE_LEN], sn2[MINKA_AUTH_NONCE_LEN];
  memset (sn, 1, sizeof sn);
  memset (cn, 2, sizeof cn);
  memcpy (sn2, sn, sizeof sn);
  sn2[31] ^= 1;

  g_autofree char *answer = minka_auth_compute (key, MINKA_AUTH_PROOF_CLIENT, sn, cn,
                                                MINKA_AUTH_ROLE_CLIENT, 1);
  ck_assert_uint_eq (strlen (answer), 64);
  g_autofree char *again = minka_auth_compute (key, MINKA_AUTH_PROOF_CLIENT, sn, cn,
                                               MINKA_AUTH_ROLE_CLIENT, 1);
  ck_assert_str_eq (answer, again);
  ck_assert (minka_auth_verify (key, MINKA_AUTH_PROOF_CLIENT, sn, cn, MINKA_AUTH_ROLE_CLIENT, 1,
                                answer));
  /* Any change of key, nonce, side, role or version breaks it. */
  ck_assert (!minka_auth_verify (other, MINKA_AUTH_PROOF_CLIENT, sn, cn,
                                 MINKA_AUTH_ROLE_CLIENT, 1, answer));
  ck_assert (!minka_auth_verify (key, MINKA_AUTH_PROOF_CLIENT, sn2, cn,
                                 MINKA_AUTH_ROLE_CLIENT, 1, answer));
  ck_assert (!minka_auth_verify (key, MINKA_AUTH_PROOF_CLIENT, sn, sn2,
                                 MINKA_AUTH_ROLE_CLIENT, 1, answer));
  ck_assert (!minka_auth_verify (key, MINKA_AUTH_PROOF_SERVER, sn, cn,
                                 MINKA_AUTH_ROLE_CLIENT, 1, answer));
  ck_assert (!minka_auth_verify (key, MINKA_AUTH_PROOF_CLIENT, sn, cn,
                                 MINKA_AUTH_ROLE_PEER, 1, answer));
  ck_assert (!minka_auth_verify (key, MINKA_AUTH_PROOF_CLIENT, sn, cn,
                                 MINKA_AUTH_ROLE_CLIENT, 2, answer));
  ck_assert (!minka_auth_verify (key, MINKA_AUTH_PROOF_CLIENT, sn, cn,
                                 MINKA_AUTH_ROLE_CLIENT, 1, NULL));
  ck_assert (!minka_auth_verify (key, MINKA_AUTH_PROOF_CLIENT, sn, cn,
                                 MINKA_AUTH_ROLE_CLIENT, 1, "abcd"));
  answer[10] = answer[10] == '0' ? '1' : '0';
  ck_assert (!minka_auth_verify (key, MINKA_AUTH_PROOF_CLIENT, sn, cn,
                                 MINKA_AUTH_ROLE_CLIENT, 1, answer));

  /* Known answer, so the wire format cannot drift silently. */
  g_autofree char *fixed = minka_auth_compute (key, MINKA_AUTH_PROOF_SERVER, sn, cn,
                                               MINKA_AUTH_ROLE_PEER, 1);
  GHmac *hmac = g_hmac_new (G_CHECKSUM_SHA256, g_bytes_get_data (key, NULL), 32);
  g_hmac_update (hmac, (const guchar *) "minka-auth-v1 server", 21);
  g_hmac_update (hmac, sn, 32);
  g_hmac_update (hmac, cn, 32);
  g_hmac_update (hmac, (const guchar *) "peer", 5);
  g_hmac_update (hmac, (const guchar *) "\0\0\0\1", 4);
  ck_assert_str_eq (fixed, g_hmac_get_string (hmac));
  g_hmac_unref (hmac);
}
END_TEST

START_TEST (test_hex_and_random)
{
  guint8 raw[4] = { 0x00, 0xab, 0x7f, 0xff }, back[4];
  g_autofree char *hex = minka_auth_hex_encode (raw, 4);
  ck_assert_str_eq (hex, "00ab7fff");
  ck_assert (minka_auth_hex_decode (hex, back, 4));
  ck_assert (memcmp (raw, back, 4) == 0);
  ck_assert (!minka_auth_hex_decode ("00ab7f", back, 4));
  ck_assert (!minka_auth_hex_decode ("00ab7fzz", back, 4));
  ck_assert (!minka_auth_hex_decode (NULL, back, 4));

  guint8 a[32] = { 0 }, b[32] = { 0 };
  ck_assert (minka_auth_random_bytes (a, 32, NULL));
  ck_assert (minka_auth_random_bytes (b, 32, NULL));
  ck_assert (memcmp (a, b, 32) != 0);

  MinkaAuthRole role;
  ck_assert (minka_auth_role_from_string ("peer", &role) && role == MINKA_AUTH_ROLE_PEER);
  ck_assert (!minka_auth_role_from_string ("admin", &role));
}
END_TEST

static char *
write_temp (const char *dir, const char *name, const void *data, gsize len)
{
  char *path = g_build_filename (dir, name, NULL);
  ck_assert (g_file_set_contents (path, data, (gssize) len, NULL));
  return path;
}

START_TEST (test_key_files)
{
  g_autofree char *dir = g_dir_make_tmp ("minka-auth-XXXXXX", NULL);
  GError *error = NULL;

  g_autofree char *hex = minka_auth_key_new_hex (&error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (strlen (hex), 65);
  g_autofree char *hex_path = write_temp (dir, "hex.key", hex, strlen (hex));
  g_autoptr (GBytes) key = minka_auth_key_load (hex_path, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (g_bytes_get_size (key), 32);

  const guint8 raw[20] = { 1, 2, 3, 0, 250, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 255, 'x', 'y', ' ', '\n' };
  g_autofree char *raw_path = write_temp (dir, "raw.key", raw, sizeof raw);
  g_autoptr (GBytes) raw_key = minka_auth_key_load (raw_path, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (g_bytes_get_size (raw_key), sizeof raw);

  /* 30 hex digits decode to 15 bytes: too short. */
  g_autofree char *short_path = write_temp (dir, "short.key", "00112233445566778899aabbccddee\n", 31);
  ck_assert_ptr_null (minka_auth_key_load (short_path, &error));
  ck_assert (g_error_matches (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE));
  ck_assert_ptr_nonnull (strstr (error->message, "short.key"));
  g_clear_error (&error);

  g_autofree char *missing = g_build_filename (dir, "missing.key", NULL);
  ck_assert_ptr_null (minka_auth_key_load (missing, &error));
  ck_assert (g_error_matches (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE));
  g_clear_error (&error);

  g_autofree char *big = g_strnfill (MINKA_AUTH_KEY_MAX_FILE + 1, 'k');
  g_autofree char *big_path = write_temp (dir, "big.key", big, strlen (big));
  ck_assert_ptr_null (minka_auth_key_load (big_path, &error));
  ck_assert (g_error_matches (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE));
  g_clear_error (&error);

  /* A created key file loads, and is not overwritten. */
  g_autofree char *new_path = g_build_filename (dir, "new.key", NULL);
  ck_assert (minka_auth_key_file_create (new_path, &error));
  g_autoptr (GBytes) new_key = minka_auth_key_load (new_path, &error);
  ck_assert_ptr_null (error);
  ck_assert_uint_eq (g_bytes_get_size (new_key), 32);
  ck_assert (!g_bytes_equal (new_key, key));
  ck_assert (!minka_auth_key_file_create (new_path, &error));
  ck_assert (g_error_matches (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_KEY_FILE));
  g_clear_error (&error);
#ifndef G_OS_WIN32
  GStatBuf st;
  ck_assert_int_eq (g_stat (new_path, &st), 0);
  ck_assert_int_eq (st.st_mode & 0777, 0600);
#endif

  const char *paths[] = { hex_path, raw_path, short_path, big_path, new_path };
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    g_remove (paths[i]);
  g_rmdir (dir);
}
END_TEST

/* ---- handshake over loopback -------------------------------------------- */

typedef struct {
  GSocketService *service;
  GSocketConnection *server;
  GSocketConnection *client;
  MinkaFrameConnection *s, *c;
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
  pair->client = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, NULL);
  ck_assert_ptr_nonnull (pair->client);
}

static void
pair_open (Pair *pair)
{
  memset (pair, 0, sizeof *pair);
  pair->service = g_socket_service_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  ck_assert (g_socket_listener_add_address (G_SOCKET_LISTENER (pair->service), any,
                                            G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                            NULL, &bound, NULL));
  g_signal_connect (pair->service, "incoming", G_CALLBACK (on_incoming), pair);
  g_socket_service_start (pair->service);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (bound), NULL, on_connected, pair);
  while (pair->server == NULL || pair->client == NULL)
    g_main_context_iteration (NULL, TRUE);
  pair->s = minka_frame_connection_new (G_IO_STREAM (pair->server));
  pair->c = minka_frame_connection_new (G_IO_STREAM (pair->client));
}

static void
pair_close (Pair *pair)
{
  minka_frame_connection_close (pair->s);
  minka_frame_connection_close (pair->c);
  /* Let queued frames drain before the objects go. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&pair->s);
  g_clear_object (&pair->c);
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

typedef struct {
  gboolean client_ok, server_ok;
  GError *client_error, *server_error;
  JsonObject *hello;
  MinkaAuthRole role;
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_clear_error (&o->client_error);
  g_clear_error (&o->server_error);
  g_clear_pointer (&o->hello, json_object_unref);
}

static void
run_handshake (GBytes *client_key, GBytes *server_key, Outcome *out)
{
  Pair pair;
  pair_open (&pair);
  memset (out, 0, sizeof *out);
  GAsyncResult *cres = NULL, *sres = NULL;
  g_autoptr (JsonObject) extra = json_object_new ();
  json_object_set_string_member (extra, "node", "worker-a");
  json_object_set_string_member (extra, "type", "NOT-HELLO");
  minka_auth_server_async (pair.s, server_key, NULL, store_result, &sres);
  minka_auth_client_async (pair.c, MINKA_AUTH_ROLE_PEER, client_key, extra, NULL,
                           store_result, &cres);
  g_autoptr (GAsyncResult) s_done = wait_for (&sres);
  g_autoptr (GAsyncResult) c_done = wait_for (&cres);
  out->hello = minka_auth_server_finish (pair.s, s_done, &out->role, &out->server_error);
  out->server_ok = out->hello != NULL;
  out->client_ok = minka_auth_client_finish (pair.c, c_done, &out->client_error);
  /* Failure closes the connection on the side that failed. */
  ck_assert (out->server_ok || minka_frame_connection_is_closed (pair.s));
  ck_assert (out->client_ok || minka_frame_connection_is_closed (pair.c));
  pair_close (&pair);
}

START_TEST (test_handshake_right_key)
{
  g_autoptr (GBytes) key = key_from_byte (3);
  Outcome o;
  run_handshake (key, key, &o);
  ck_assert_msg (o.client_ok, "%s", o.client_error ? o.client_error->message : "");
  ck_assert (o.server_ok);
  ck_assert_int_eq (o.role, MINKA_AUTH_ROLE_PEER);
  ck_assert_str_eq (json_object_get_string_member (o.hello, "node"), "worker-a");
  ck_assert_str_eq (json_object_get_string_member (o.hello, "type"), "HELLO");
  outcome_clear (&o);
}
END_TEST

START_TEST (test_handshake_no_key_anywhere)
{
  Outcome o;
  run_handshake (NULL, NULL, &o);
  ck_assert (o.client_ok && o.server_ok);
  outcome_clear (&o);
}
END_TEST

START_TEST (test_handshake_wrong_key)
{
  g_autoptr (GBytes) key = key_from_byte (3);
  g_autoptr (GBytes) wrong = key_from_byte (4);
  Outcome o;
  run_handshake (wrong, key, &o);
  ck_assert (!o.client_ok && !o.server_ok);
  ck_assert (g_error_matches (o.server_error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_DENIED));
  ck_assert (g_error_matches (o.client_error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_REJECTED));
  ck_assert_ptr_nonnull (strstr (o.client_error->message, "wrong cluster key"));
  outcome_clear (&o);
}
END_TEST

START_TEST (test_handshake_missing_client_key)
{
  g_autoptr (GBytes) key = key_from_byte (3);
  Outcome o;
  run_handshake (NULL, key, &o);
  ck_assert (!o.client_ok && !o.server_ok);
  ck_assert (g_error_matches (o.server_error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_DENIED));
  ck_assert (g_error_matches (o.client_error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_REJECTED));
  ck_assert_ptr_nonnull (strstr (o.client_error->message, "needs a key"));
  outcome_clear (&o);
}
END_TEST

START_TEST (test_handshake_server_without_key)
{
  /* A client holding a key refuses a worker that cannot prove it. */
  g_autoptr (GBytes) key = key_from_byte (3);
  Outcome o;
  run_handshake (key, NULL, &o);
  ck_assert (!o.client_ok);
  ck_assert (g_error_matches (o.client_error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_DENIED));
  outcome_clear (&o);
}
END_TEST

/* Raw client helpers: drive the server by hand. */
static MinkaFrame *
read_frame (MinkaFrameConnection *conn)
{
  GAsyncResult *result = NULL;
  minka_frame_connection_read_async (conn, NULL, store_result, &result);
  g_autoptr (GAsyncResult) done = wait_for (&result);
  return minka_frame_connection_read_finish (conn, done, NULL);
}

static void
send_hello (MinkaFrameConnection *conn, gint64 version, const guint8 *nonce)
{
  g_autoptr (JsonObject) hello = minka_frame_header_new ("HELLO");
  g_autofree char *hex = minka_auth_hex_encode (nonce, MINKA_AUTH_NONCE_LEN);
  json_object_set_string_member (hello, "role", "client");
  json_object_set_int_member (hello, "version", version);
  json_object_set_string_member (hello, "nonce", hex);
  minka_frame_connection_send_async (conn, hello, NULL, NULL, NULL, NULL);
}

START_TEST (test_handshake_bad_version)
{
  Pair pair;
  pair_open (&pair);
  guint8 nonce[MINKA_AUTH_NONCE_LEN] = { 0 };
  GAsyncResult *sres = NULL;
  minka_auth_server_async (pair.s, NULL, NULL, store_result, &sres);
  send_hello (pair.c, 99, nonce);
  g_autoptr (MinkaFrame) reply = read_frame (pair.c);
  ck_assert_ptr_nonnull (reply);
  ck_assert_str_eq (minka_frame_get_frame_type (reply), "ERROR");
  ck_assert_str_eq (json_object_get_string_member (reply->header, "code"), "version");
  g_autoptr (GAsyncResult) done = wait_for (&sres);
  GError *error = NULL;
  ck_assert_ptr_null (minka_auth_server_finish (pair.s, done, NULL, &error));
  ck_assert (g_error_matches (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_VERSION));
  g_clear_error (&error);
  /* Then the server closes. */
  ck_assert_ptr_null (read_frame (pair.c));
  pair_close (&pair);
}
END_TEST

START_TEST (test_handshake_replayed_answer)
{
  g_autoptr (GBytes) key = key_from_byte (5);
  guint8 cn[MINKA_AUTH_NONCE_LEN], sn1[MINKA_AUTH_NONCE_LEN], sn2[MINKA_AUTH_NONCE_LEN];
  memset (cn, 9, sizeof cn);
  char *answer1 = NULL;

  for (int session = 0; session < 2; session++)
    {
      Pair pair;
      pair_open (&pair);
      GAsyncResult *sres = NULL;
      minka_auth_server_async (pair.s, key, NULL, store_result, &sres);
      send_hello (pair.c, MINKA_PROTOCOL_VERSION, cn);
      g_autoptr (MinkaFrame) challenge = read_frame (pair.c);
      ck_assert_str_eq (minka_frame_get_frame_type (challenge), "CHALLENGE");
      const char *nonce = json_object_get_string_member (challenge->header, "nonce");
      ck_assert (minka_auth_hex_decode (nonce, session == 0 ? sn1 : sn2, MINKA_AUTH_NONCE_LEN));
      if (session == 0)
        {
          /* Record a valid answer (as an eavesdropper would), then leave. */
          answer1 = minka_auth_compute (key, MINKA_AUTH_PROOF_CLIENT, sn1, cn,
                                        MINKA_AUTH_ROLE_CLIENT, MINKA_PROTOCOL_VERSION);
          minka_frame_connection_close (pair.c);
          g_autoptr (GAsyncResult) done = wait_for (&sres);
          ck_assert_ptr_null (minka_auth_server_finish (pair.s, done, NULL, NULL));
        }
      else
        {
          /* A fresh nonce, so the old answer must fail. */
          ck_assert (memcmp (sn1, sn2, sizeof sn1) != 0);
          g_autoptr (JsonObject) auth = minka_frame_header_new ("AUTH");
          json_object_set_string_member (auth, "answer", answer1);
          minka_frame_connection_send_async (pair.c, auth, NULL, NULL, NULL, NULL);
          g_autoptr (MinkaFrame) reply = read_frame (pair.c);
          ck_assert_str_eq (minka_frame_get_frame_type (reply), "ERROR");
          ck_assert_str_eq (json_object_get_string_member (reply->header, "code"), "auth_failed");
          g_autoptr (GAsyncResult) done = wait_for (&sres);
          GError *error = NULL;
          ck_assert_ptr_null (minka_auth_server_finish (pair.s, done, NULL, &error));
          ck_assert (g_error_matches (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_DENIED));
          g_clear_error (&error);
        }
      pair_close (&pair);
    }
  g_free (answer1);
}
END_TEST

START_TEST (test_handshake_garbage_instead_of_hello)
{
  Pair pair;
  pair_open (&pair);
  GAsyncResult *sres = NULL;
  minka_auth_server_async (pair.s, NULL, NULL, store_result, &sres);
  g_autoptr (JsonObject) get = minka_frame_header_new ("GET");
  minka_frame_connection_send_async (pair.c, get, NULL, NULL, NULL, NULL);
  g_autoptr (MinkaFrame) reply = read_frame (pair.c);
  ck_assert_str_eq (minka_frame_get_frame_type (reply), "ERROR");
  ck_assert_str_eq (json_object_get_string_member (reply->header, "code"), "bad_hello");
  g_autoptr (GAsyncResult) done = wait_for (&sres);
  GError *error = NULL;
  ck_assert_ptr_null (minka_auth_server_finish (pair.s, done, NULL, &error));
  ck_assert (g_error_matches (error, MINKA_AUTH_ERROR, MINKA_AUTH_ERROR_PROTOCOL));
  g_clear_error (&error);
  pair_close (&pair);
}
END_TEST

static Suite *
auth_suite (void)
{
  Suite *s = suite_create ("auth");
  TCase *pure = tcase_create ("pure");
  tcase_add_test (pure, test_compute_verify);
  tcase_add_test (pure, test_hex_and_random);
  tcase_add_test (pure, test_key_files);
  suite_add_tcase (s, pure);
  TCase *hs = tcase_create ("handshake");
  tcase_add_test (hs, test_handshake_right_key);
  tcase_add_test (hs, test_handshake_no_key_anywhere);
  tcase_add_test (hs, test_handshake_wrong_key);
  tcase_add_test (hs, test_handshake_missing_client_key);
  tcase_add_test (hs, test_handshake_server_without_key);
  tcase_add_test (hs, test_handshake_bad_version);
  tcase_add_test (hs, test_handshake_replayed_answer);
  tcase_add_test (hs, test_handshake_garbage_instead_of_hello);
  suite_add_tcase (s, hs);
  return s;
}

int
main (void)
{
  SRunner *runner = srunner_create (auth_suite ());
  srunner_run_all (runner, CK_NORMAL);
  int failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}
