/* minka-auth.h — the HELLO handshake that opens every connection: role,
 * protocol version and, when the cluster has a key, a mutual HMAC-SHA256
 * challenge. Pure compute/verify functions, key files, random nonces, and
 * async helpers that run the exchange over a MinkaFrameConnection. The
 * exchange is described in docs/protocol.md. */
#pragma once

#include "minka-frame.h"

G_BEGIN_DECLS

#define MINKA_PROTOCOL_VERSION 1
#define MINKA_AUTH_NONCE_LEN 32
#define MINKA_AUTH_MAC_LEN 32
#define MINKA_AUTH_KEY_MIN_LEN 16          /* bytes, after hex decoding */
#define MINKA_AUTH_KEY_MAX_FILE 4096       /* bytes */

#define MINKA_AUTH_ERROR (minka_auth_error_quark ())
GQuark minka_auth_error_quark (void);

typedef enum {
  MINKA_AUTH_ERROR_KEY_FILE,        /* unreadable, too short, too long */
  MINKA_AUTH_ERROR_RANDOM,          /* no source of random bytes */
  MINKA_AUTH_ERROR_PROTOCOL,        /* unexpected frame or missing field */
  MINKA_AUTH_ERROR_VERSION,         /* protocol versions differ */
  MINKA_AUTH_ERROR_DENIED,          /* wrong key, missing answer, bad proof */
  MINKA_AUTH_ERROR_REJECTED,        /* the server sent an ERROR frame */
} MinkaAuthError;

typedef enum {
  MINKA_AUTH_ROLE_PEER,             /* another worker */
  MINKA_AUTH_ROLE_CLIENT,           /* CLI, desktop */
} MinkaAuthRole;

const char *minka_auth_role_to_string (MinkaAuthRole role);
gboolean minka_auth_role_from_string (const char *text, MinkaAuthRole *role);

/* Fills @buffer with cryptographically random bytes (/dev/urandom through
 * GIO; rand_s on Windows). */
gboolean minka_auth_random_bytes (guint8 *buffer, gsize len, GError **error);

/* Loads a key file: if its text (trailing whitespace ignored) is an even
 * number of hex digits it is decoded, otherwise the raw bytes are the key.
 * At least MINKA_AUTH_KEY_MIN_LEN bytes. */
GBytes *minka_auth_key_load (const char *path, GError **error);
/* A new random key as 64 hex digits plus '\n', ready to write to a file. */
char *minka_auth_key_new_hex (GError **error);
/* Writes a new random key file readable only by its owner (mode 0600 where
 * that means something); refuses to overwrite an existing file. */
gboolean minka_auth_key_file_create (const char *path, GError **error);

typedef enum {
  MINKA_AUTH_PROOF_CLIENT,          /* the connecting side answers */
  MINKA_AUTH_PROOF_SERVER,          /* the accepting side answers */
} MinkaAuthProof;

/* HMAC-SHA256(key, label || server_nonce || client_nonce || role || version)
 * as 64 lowercase hex digits; the label differs per side so one side's
 * answer is never valid for the other. */
char *minka_auth_compute (GBytes *key, MinkaAuthProof side,
                          const guint8 server_nonce[MINKA_AUTH_NONCE_LEN],
                          const guint8 client_nonce[MINKA_AUTH_NONCE_LEN],
                          MinkaAuthRole role, guint version);
/* Constant-time check of @answer (may be NULL: FALSE). */
gboolean minka_auth_verify (GBytes *key, MinkaAuthProof side,
                            const guint8 server_nonce[MINKA_AUTH_NONCE_LEN],
                            const guint8 client_nonce[MINKA_AUTH_NONCE_LEN],
                            MinkaAuthRole role, guint version, const char *answer);

/* Hex helpers (lowercase out; in: exactly 2 * @len hex digits). */
char *minka_auth_hex_encode (const guint8 *data, gsize len);
gboolean minka_auth_hex_decode (const char *text, guint8 *out, gsize len);

/* Connecting side: sends HELLO (with the members of @extra copied in, e.g.
 * the peer's node name; may be NULL), answers the challenge when @key is
 * set, and checks the server's proof. With no @key a keyed server answers
 * with an ERROR frame (MINKA_AUTH_ERROR_REJECTED). On any failure the
 * connection is closed. */
void minka_auth_client_async (MinkaFrameConnection *conn, MinkaAuthRole role,
                              GBytes *key, JsonObject *extra,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean minka_auth_client_finish (MinkaFrameConnection *conn, GAsyncResult *result,
                                   GError **error);

/* Accepting side: reads HELLO, challenges when @key is set, and answers
 * with HELLO_OK. Set an idle timeout on @conn first, or a silent peer holds
 * the connection open. On failure it sends an ERROR frame, closes the
 * connection and fails. On success returns the client's HELLO header (role
 * in *role), so the caller can read extra members. */
void minka_auth_server_async (MinkaFrameConnection *conn, GBytes *key,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
JsonObject *minka_auth_server_finish (MinkaFrameConnection *conn, GAsyncResult *result,
                                      MinkaAuthRole *role, GError **error);

G_END_DECLS
