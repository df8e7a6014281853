/* minka-sha256.h — incremental SHA-256 for blobs and uploads. Uses the x86
 * SHA extensions when the CPU has them (chosen at run time), a portable C
 * version otherwise. GChecksum does ~117 MB/s here, which made hashing the
 * bottleneck of every blob write (fsynced writes run at ~460+ MB/s). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MINKA_SHA256_LEN 32
#define MINKA_SHA256_HEX_LEN 64

typedef struct {
  guint32 state[8];
  guint64 total;                 /* bytes hashed so far */
  guint8 block[64];
  gsize block_len;
} MinkaSha256;

void minka_sha256_init (MinkaSha256 *sha);
void minka_sha256_update (MinkaSha256 *sha, const void *data, gsize len);
/* Finishes the hash; @sha must be initialised again before reuse. */
void minka_sha256_finish (MinkaSha256 *sha, guint8 digest[MINKA_SHA256_LEN]);
/* 64 lowercase hex digits and a NUL. */
void minka_sha256_finish_hex (MinkaSha256 *sha, char hex[MINKA_SHA256_HEX_LEN + 1]);
/* One-shot, newly allocated hex string. */
char *minka_sha256_hex (const void *data, gsize len);

/* "sha-ni" or "portable": which block function is in use. */
const char *minka_sha256_implementation (void);
/* Tests: force the portable version (TRUE) or automatic choice (FALSE). */
void minka_sha256_force_portable (gboolean portable);

G_END_DECLS
