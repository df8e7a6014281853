/* cluster-harness.h — runs real minka-worker processes on 127.0.0.1 (free
 * ports, a temporary folder) for cluster tests and benchmarks, and talks to
 * them with a small blocking client built on the project's frame codec and
 * handshake. Workers are stopped by PID (kill -9 for crash tests). */
#pragma once

#include <gio/gio.h>
#include "minka-frame.h"

G_BEGIN_DECLS

typedef struct {
  char *name;
  char *data_dir;
  char *log_path;                 /* of the latest run */
  guint runs;
  guint16 port;
  guint16 monitor_port;
  GSubprocess *process;           /* NULL when stopped */
} TestWorker;

typedef struct {
  char *dir;
  char *config_path;
  GBytes *key;                    /* NULL: no cluster key */
  GPtrArray *workers;             /* TestWorker* */
  char *extra_arg;                /* one more worker option, e.g. --snapshot-every=16 */
} TestCluster;

/* Writes a config for @n workers (w1…wN) and starts them all. */
TestCluster *test_cluster_new (guint n, gboolean with_key);
/* The same with one extra worker option for every worker. */
TestCluster *test_cluster_new_full (guint n, gboolean with_key, const char *extra_arg);
/* Adds wN+1 to the config file (not to the Raft membership) and starts it
 * with --join. */
TestWorker *test_cluster_add_joiner (TestCluster *cluster);
void test_cluster_start (TestCluster *cluster, guint i);
void test_cluster_kill (TestCluster *cluster, guint i);       /* kill -9 */
void test_cluster_wipe (TestCluster *cluster, guint i);       /* delete its data dir */
void test_cluster_free (TestCluster *cluster);
/* How long tests wait for a leader: a limit, not a measurement (three
 * sanitizer-built workers starting beside other tests on two cores). */
#define TEST_CLUSTER_LEADER_TIMEOUT_MS 20000
/* Index of the leader as its own STATUS says (-1 after @timeout_ms, with
 * every worker's log tail printed). */
int test_cluster_wait_leader (TestCluster *cluster, guint timeout_ms);
/* The current run's log of worker @i contains @needle. */
gboolean test_cluster_log_contains (TestCluster *cluster, guint i, const char *needle);
/* Prints the tail of every worker's log to stderr (on failures). */
void test_cluster_dump_logs (TestCluster *cluster);
/* GET @path from worker @i's web monitor (HTTP/1.0, with the cluster key as
 * the bearer token when there is one): the body of a 200 answer, or NULL
 * and @error. */
char *test_cluster_monitor_get (TestCluster *cluster, guint i, const char *path,
                                GError **error);

/* A blocking connection that has passed HELLO. */
typedef struct _TestConn TestConn;
TestConn *test_conn_new (guint16 port, GBytes *key, GError **error);
void test_conn_free (TestConn *conn);
/* Sends a request (an "id" is added) and returns the reply with that id. */
MinkaFrame *test_conn_request (TestConn *conn, JsonObject *header, GBytes *body,
                               GError **error);
/* Sends a frame without waiting. */
gboolean test_conn_send (TestConn *conn, JsonObject *header, GBytes *body, GError **error);
/* Reads the next frame. */
MinkaFrame *test_conn_read (TestConn *conn, GError **error);
/* Raw bytes on the socket (malformed-input tests). */
gboolean test_conn_send_raw (TestConn *conn, const void *data, gsize len, GError **error);

/* STATUS of worker @i ("worker" object; NULL if unreachable). */
JsonObject *test_cluster_status (TestCluster *cluster, guint i);

/* Uploads @data as @name with session @client/@seq, following NOT_LEADER
 * and retrying for up to @timeout_ms. Returns the file ID (0 on failure,
 * with @error). */
guint64 test_cluster_put (TestCluster *cluster, const char *name, GBytes *data,
                          const char *client, guint64 seq, guint timeout_ms, GError **error);
/* Downloads file @id from worker @i (NULL + error if it cannot). */
GBytes *test_cluster_get (TestCluster *cluster, guint i, guint64 id, GError **error);
/* LIST on worker @i once it applied @min_index: file objects (JsonArray). */
JsonArray *test_cluster_list (TestCluster *cluster, guint i, guint64 min_index,
                              char **digest_out, GError **error);
/* A client request that goes to the leader (follows NOT_LEADER). */
MinkaFrame *test_cluster_leader_request (TestCluster *cluster, JsonObject *header,
                                         guint timeout_ms, GError **error);

GBytes *test_random_bytes (gsize size, guint32 seed);
/* Deletes a file or a folder with everything in it. */
void test_remove_tree (const char *path);
char *test_sha256_hex (GBytes *data);

G_END_DECLS
