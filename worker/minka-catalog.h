/* minka-catalog.h — the replicated catalog: Minka's Raft state machine.
 *
 * Every worker applies the same committed commands in the same order and so
 * holds the same catalog: the files that exist (name, size, SHA-256 of the
 * content-addressed blob, who holds it), plus a session table that makes
 * client retries exactly-once. It is pure: no I/O, no clocks (times come
 * inside the commands, chosen by the leader), no randomness. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MINKA_CATALOG_ERROR (minka_catalog_error_quark ())
GQuark minka_catalog_error_quark (void);

typedef enum {
  MINKA_CATALOG_ERROR_MALFORMED,   /* not a valid command */
  MINKA_CATALOG_ERROR_BAD_NAME,    /* empty, too long, path-like, control chars */
  MINKA_CATALOG_ERROR_NOT_FOUND,   /* unknown file ID */
  MINKA_CATALOG_ERROR_STALE,       /* an older request of a session: already applied */
} MinkaCatalogError;

#define MINKA_NAME_MAX 255

typedef struct {
  guint64 id;                      /* the log index that created it: unique forever */
  char *name;                      /* names may repeat; IDs never do */
  guint64 size;
  char sha256[65];                 /* lowercase hex: the blob's address */
  gint64 created_ms;               /* leader's wall clock at proposal, Unix ms */
  char *client;                    /* client session that uploaded it */
  GArray *holders;                 /* guint64 node IDs known to hold the blob */
} MinkaFileRecord;

typedef struct {
  gboolean ok;
  guint64 file_id;                 /* put_file: the new (or, on retry, original) ID */
  char deleted_sha256[65];         /* delete_file: the blob the file named ("" otherwise) */
  MinkaCatalogError error_code;
  char *error_message;             /* when !ok */
} MinkaCatalogResult;

void minka_catalog_result_clear (MinkaCatalogResult *result);

typedef struct _MinkaCatalog MinkaCatalog;

MinkaCatalog *minka_catalog_new (void);
void minka_catalog_free (MinkaCatalog *catalog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaCatalog, minka_catalog_free)

/* Commands: what the leader proposes. A command is one line of compact
 * JSON; a put_file of a small file may carry the file's bytes after the
 * line's '\n' (the catalog ignores them; the worker stores them). */
#define MINKA_INLINE_MAX (64 * 1024)
GBytes *minka_catalog_command_put_file (const char *client, guint64 seq,
                                        const char *name, guint64 size,
                                        const char *sha256, gint64 created_ms,
                                        const guint64 *holders, guint n_holders,
                                        GBytes *inline_content);
/* The bytes carried after a command's JSON line, or NULL. */
GBytes *minka_catalog_command_content (GBytes *command);
GBytes *minka_catalog_command_delete_file (const char *client, guint64 seq,
                                           guint64 file_id);

/* Checks that a command would be accepted, without applying it (the leader
 * calls it before proposing, so bad requests never reach the log). */
gboolean minka_catalog_validate_name (const char *name, GError **error);

/* Applies the committed command at log @index. Deterministic: the same
 * sequence of (index, command) gives the same catalog everywhere. A command
 * that fails (bad name, unknown ID) changes nothing but is still "applied";
 * the result says why. */
void minka_catalog_apply (MinkaCatalog *catalog, guint64 index, GBytes *command,
                          MinkaCatalogResult *result);

guint64 minka_catalog_applied_index (const MinkaCatalog *catalog);

/* Look-ups. The returned records belong to the catalog and never change
 * (a record is replaced, not modified). */
const MinkaFileRecord *minka_catalog_lookup (const MinkaCatalog *catalog, guint64 id);
/* Files sorted by ID (a new array of borrowed pointers). */
GPtrArray *minka_catalog_list_files (const MinkaCatalog *catalog);
/* The newest @max files (highest IDs first), without walking the rest:
 * the monitor shows these after every change. */
GPtrArray *minka_catalog_list_newest (const MinkaCatalog *catalog, guint max);
/* Files with this exact name, newest first (borrowed pointers). */
GPtrArray *minka_catalog_find_by_name (const MinkaCatalog *catalog, const char *name);
/* Whether any file still refers to the blob (so it must be kept). O(1). */
gboolean minka_catalog_blob_in_use (const MinkaCatalog *catalog, const char *sha256);
guint minka_catalog_n_files (const MinkaCatalog *catalog);
guint64 minka_catalog_total_bytes (const MinkaCatalog *catalog);

/* SHA-256 (hex) over the catalog's content in a canonical order: equal on
 * all workers that have applied the same commands. */
const char *minka_catalog_digest (MinkaCatalog *catalog);

/* Snapshots: the whole state (files, sessions, applied index) as bytes, and
 * back. Restoring replaces everything. */
GBytes *minka_catalog_snapshot (const MinkaCatalog *catalog);
gboolean minka_catalog_restore (MinkaCatalog *catalog, GBytes *snapshot, GError **error);

/* A snapshot in two steps, so a big catalog is not serialised on the main
 * loop: the capture (cheap: references to the immutable records, plus the
 * applied index and sessions) is taken where the catalog lives; it may
 * then be serialised and freed on one other thread while the catalog
 * changes. The bytes equal minka_catalog_snapshot() at the capture. */
typedef struct _MinkaCatalogCapture MinkaCatalogCapture;
MinkaCatalogCapture *minka_catalog_capture (const MinkaCatalog *catalog);
GBytes *minka_catalog_capture_serialize (MinkaCatalogCapture *capture);
void minka_catalog_capture_free (MinkaCatalogCapture *capture);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaCatalogCapture, minka_catalog_capture_free)

/* A file record as JSON (for the client protocol and the monitor). */
JsonNode *minka_file_record_to_json (const MinkaFileRecord *record);

G_END_DECLS
