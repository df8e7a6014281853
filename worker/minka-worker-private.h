/* minka-worker-private.h — the worker's state, shared by the files that
 * implement its parts (minka-worker*.c). Not used outside worker/. */
#pragma once

#include "minka-worker.h"
#include "minka-worker-gc.h"
#include "minka-blob-store.h"
#include "minka-catalog.h"
#include "minka-disk-queue.h"
#include "minka-node.h"
#include "minka-peer.h"
#include "minka-server.h"
#include "monitor-server.h"

typedef struct {
  gint64 time_ms;
  char *kind;
  char *message;
} MinkaEvent;

struct _MinkaWorker
{
  MinkaClusterConfig *config;
  char *name;
  RaftNodeId id;
  char *address;                /* host:port we listen on */
  char *data_dir;
  GBytes *key;
  MinkaWorkerOptions options;
  gint64 started_us;

  MinkaBlobStore *blobs;
  MinkaCatalog *catalog;
  MinkaNode *node;
  MinkaServer *server;
  GHashTable *peers;            /* RaftNodeId* → MinkaPeer* (current members but us) */
  GHashTable *peer_names;       /* RaftNodeId* → char* name, every member we know */

  /* Snapshots. */
  char *snapshot_path;          /* newest snapshot file, or NULL */
  guint64 snapshot_index;
  guint64 snapshot_bytes;       /* size of the last snapshot taken here */
  gboolean snapshot_running;
  char *incoming_dir;           /* snapshots received from a leader */
  /* The catalog of the last snapshot received, parsed off the main loop
   * (seconds for a million files), waiting for Raft to install it. */
  MinkaCatalog *incoming_catalog;
  guint64 incoming_catalog_index;

  /* Files being fetched from peers (sha256 set). */
  GHashTable *fetching;

  /* Small files arrive inside log entries; their blobs are written lazily
   * (no fsync) on the disk queue, and synced before a snapshot lets the
   * log entries go. */
  MinkaDiskQueue *disk;
  GHashTable *writing;          /* sha256 → GBytes: lazy writes queued */
  GHashTable *delete_after_write; /* sha256 set: deleted while being written */
  GPtrArray *unsynced;          /* sha256 of lazily written blobs */
  guint64 inline_bytes;         /* file bytes applied from the log since the last snapshot */

  /* Orphaned blob collection (minka-worker-gc.c). */
  MinkaGc *gc;
  guint gc_source;              /* the next sweep's timer */
  gboolean gc_listing;          /* a listing is queued on the disk thread */
  GHashTable *gc_pins;          /* sha256 → count: blobs in flight (uploads, pushes) */
  GHashTable *gc_doomed;        /* sha256 → gint64* (mark time, s): deleted in batches */
  guint gc_delete_source;
  guint gc_batch_deleted;       /* by the current sweep */
  guint64 gc_batch_freed;
  guint64 gc_deleted;           /* blobs collected since start */
  guint64 gc_bytes_freed;

  /* Recent Raft events and client requests, for status and the monitor. */
  GQueue events;                /* MinkaEvent* */
  GQueue request_log;           /* MinkaEvent* */

  /* The web monitor and what it reports. Its JSON sections are cached until
   * the catalog (applied index) or the event logs change. */
  MonitorServer *monitor;
  JsonNode *monitor_files;
  guint64 monitor_files_index;
  JsonNode *monitor_events;
  guint64 monitor_events_serial;
  guint64 events_serial;        /* bumped by every new event or request */
  MonitorHistogram *append_seconds;     /* proposal → applied */
  MonitorHistogram *persist_seconds;    /* Ready → durable (write + fsync) */
  guint64 requests;
  guint64 uploads;
  guint64 upload_bytes;
  guint uploads_open;              /* uploads begun and not yet freed (each may hold a file) */
  guint64 download_bytes;
  guint64 commits;
  guint64 elections;

  GSourceFunc quit;
  gpointer quit_data;
  gboolean shutting_down;
};

/* minka-worker.c */
void minka_worker_event (MinkaWorker *worker, const char *kind, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);
gboolean minka_worker_is_leader (MinkaWorker *worker);
/* Answers NOT_LEADER (with the leader's address if known). */
void minka_worker_reply_not_leader (MinkaWorker *worker, MinkaConn *conn, JsonObject *request);
const char *minka_worker_member_name (MinkaWorker *worker, RaftNodeId id);
MinkaPeer *minka_worker_peer_for (MinkaWorker *worker, RaftNodeId id);
JsonObject *minka_worker_status_json (MinkaWorker *worker);
guint64 minka_worker_blob_bytes (MinkaWorker *worker);

/* Records a client request for the monitor's "recent requests". */
void minka_worker_log_request (MinkaWorker *worker, const char *kind, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);
JsonArray *minka_worker_peers_json (MinkaWorker *worker);

/* minka-worker-monitor.c */
gboolean minka_worker_monitor_start (MinkaWorker *worker, GError **error);
void minka_worker_monitor_stop (MinkaWorker *worker);

/* minka-worker-files.c: uploads, downloads, blob replication. */
gboolean minka_worker_files_client_frame (MinkaWorker *worker, MinkaConn *conn,
                                          MinkaFrame *frame);
gboolean minka_worker_files_bulk_frame (MinkaWorker *worker, MinkaConn *conn,
                                        MinkaFrame *frame);
/* After a FILE entry is applied: fetch the blob if this worker lacks it. */
void minka_worker_files_ensure_blob (MinkaWorker *worker, const MinkaFileRecord *record);
/* After a FILE entry that carried the file's bytes is applied, and by the
 * leader on upload. @hash_checked: this worker computed @sha256 from these
 * very bytes (no second hash on the disk thread). */
void minka_worker_files_store_inline (MinkaWorker *worker, const char *sha256, GBytes *content,
                                      gboolean hash_checked);
/* Deletes a blob the catalog no longer uses (after its queued write, if any). */
void minka_worker_files_delete_blob (MinkaWorker *worker, const char *sha256);

/* minka-worker-requests.c: STATUS, LIST, DELETE, CLUSTER_*. */
gboolean minka_worker_requests_frame (MinkaWorker *worker, MinkaConn *conn, MinkaFrame *frame);

/* minka-worker-gc.c: collection of blobs no catalog entry names. Init
 * before anything may pin; start once serving; clear when freeing. */
void minka_worker_gc_init (MinkaWorker *worker);
void minka_worker_gc_start (MinkaWorker *worker);
void minka_worker_gc_clear (MinkaWorker *worker);
/* A blob in flight (an upload between storing it and its FILE entry's
 * commit, a push being received): never collected while pinned; after the
 * last unpin it must be found unreferenced at two more sweeps. Pins nest. */
void minka_worker_gc_pin (MinkaWorker *worker, const char *sha256);
void minka_worker_gc_unpin (MinkaWorker *worker, const char *sha256);
/* Someone wants this blob again (e.g. a push of bytes already held):
 * restart its grace period. */
void minka_worker_gc_touch (MinkaWorker *worker, const char *sha256);

/* minka-worker-snapshot.c */
void minka_worker_snapshot_maybe (MinkaWorker *worker);
gboolean minka_worker_snapshot_restore_startup (MinkaWorker *worker, const char *path,
                                                GError **error);
gboolean minka_worker_snapshot_install (MinkaWorker *worker, const RaftSnapshotMeta *meta);
void minka_worker_snapshot_send (MinkaWorker *worker, const RaftMessage *msg);
gboolean minka_worker_snapshot_bulk_frame (MinkaWorker *worker, MinkaConn *conn,
                                           MinkaFrame *frame);
