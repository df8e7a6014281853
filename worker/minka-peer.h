/* minka-peer.h — this worker's links to one other worker: a control
 * connection that carries Raft messages (one way, reconnecting with
 * backoff) and a few bulk connections for blobs and snapshots, so a
 * heartbeat never waits behind a file. Each bulk connection runs one
 * operation at a time; a new operation goes to the least busy one. */
#pragma once

#include <gio/gio.h>
#include "minka-blob-store.h"
#include "raft-types.h"

G_BEGIN_DECLS

typedef struct _MinkaPeer MinkaPeer;

MinkaPeer *minka_peer_new (RaftNodeId id, const char *name, const char *address,
                           const char *self_name, GBytes *key);
void minka_peer_free (MinkaPeer *peer);

RaftNodeId minka_peer_get_id (MinkaPeer *peer);
const char *minka_peer_get_name (MinkaPeer *peer);
const char *minka_peer_get_address (MinkaPeer *peer);
/* Whether the control connection is up, and when a frame last went out
 * on it (monotonic µs, 0 = never). */
gboolean minka_peer_is_reachable (MinkaPeer *peer);
gint64 minka_peer_last_contact (MinkaPeer *peer);

/* Queues an encoded Raft message (dropped if the peer stays unreachable:
 * Raft retransmits). */
void minka_peer_send_raft (MinkaPeer *peer, GBytes *encoded);

/* Makes the peer hold blob @sha256 durably (no-op if it already has it). */
void minka_peer_push_blob_async (MinkaPeer *peer, MinkaBlobStore *store,
                                 const char *sha256, guint64 size,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean minka_peer_push_blob_finish (MinkaPeer *peer, GAsyncResult *result, GError **error);

/* Downloads blob @sha256 from the peer into @store, verifying the hash. */
void minka_peer_fetch_blob_async (MinkaPeer *peer, MinkaBlobStore *store,
                                  const char *sha256,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean minka_peer_fetch_blob_finish (MinkaPeer *peer, GAsyncResult *result, GError **error);

/* Streams the snapshot file at @path (index @index) to the peer, which
 * keeps it until its Raft core installs it. */
void minka_peer_push_snapshot_async (MinkaPeer *peer, const char *path, guint64 index,
                                     GAsyncReadyCallback callback, gpointer user_data);
gboolean minka_peer_push_snapshot_finish (MinkaPeer *peer, GAsyncResult *result,
                                          GError **error);

G_END_DECLS
