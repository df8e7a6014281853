/* test-raft-core.c — unit tests of the Raft core's parts: the in-memory
 * log, replication progress, message encoding (round trip and malformed
 * input) and the node API's argument checks and Ready contract. */
#include "raft.h"
#include "raft-log.h"
#include "raft-progress.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static RaftEntry
entry (guint64 index, guint64 term, const char *data)
{
  RaftEntry e = { term, index, RAFT_ENTRY_NORMAL, NULL };
  if (data)
    e.data = g_bytes_new (data, strlen (data));
  return e;
}

static void
log_fill (RaftLog *log, const guint64 *terms, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      RaftEntry e = entry (raft_log_last_index (log) + 1, terms[i], "x");
      raft_log_append (log, &e);
      raft_entry_clear (&e);
    }
}

/* ---- log -------------------------------------------------------------- */

START_TEST (test_log_append_and_terms)
{
  static const guint64 terms[] = { 1, 1, 2, 3, 3 };
  RaftLog log;
  guint64 t;
  raft_log_init (&log, 0, 0);
  ck_assert_uint_eq (raft_log_last_index (&log), 0);
  ck_assert_uint_eq (raft_log_last_term (&log), 0);
  log_fill (&log, terms, 5);
  ck_assert_uint_eq (raft_log_last_index (&log), 5);
  ck_assert_uint_eq (raft_log_last_term (&log), 3);
  ck_assert (raft_log_term (&log, 0, &t) && t == 0);
  ck_assert (raft_log_term (&log, 3, &t) && t == 2);
  ck_assert (!raft_log_term (&log, 6, &t));
  ck_assert (raft_log_matches (&log, 4, 3));
  ck_assert (!raft_log_matches (&log, 4, 2));
  ck_assert (raft_log_is_up_to_date (&log, 5, 3));
  ck_assert (raft_log_is_up_to_date (&log, 1, 4));
  ck_assert (!raft_log_is_up_to_date (&log, 4, 3));
  ck_assert (!raft_log_is_up_to_date (&log, 9, 2));
  ck_assert_uint_eq (log.unstable, 1);
  raft_log_clear (&log);
}
END_TEST

START_TEST (test_log_merge_truncates_conflicts)
{
  static const guint64 terms[] = { 1, 1, 2, 2, 2 };
  RaftLog log;
  RaftEntry in[3];
  raft_log_init (&log, 0, 0);
  log_fill (&log, terms, 5);
  log.unstable = 6;                  /* all persisted */
  /* Entries that already match change nothing. */
  in[0] = entry (2, 1, "x");
  in[1] = entry (3, 2, "x");
  ck_assert_uint_eq (raft_log_merge (&log, in, 2), 0);
  raft_entry_clear (&in[0]);
  raft_entry_clear (&in[1]);
  /* A conflict at 4 truncates from there. */
  in[0] = entry (3, 2, "x");
  in[1] = entry (4, 3, "y");
  in[2] = entry (5, 3, "z");
  ck_assert_uint_eq (raft_log_merge (&log, in, 3), 4);
  ck_assert_uint_eq (raft_log_last_index (&log), 5);
  ck_assert_uint_eq (raft_log_term_or_zero (&log, 4), 3);
  ck_assert_uint_eq (log.unstable, 4);
  for (int i = 0; i < 3; i++)
    raft_entry_clear (&in[i]);
  raft_log_truncate_after (&log, 2);
  ck_assert_uint_eq (raft_log_last_index (&log), 2);
  ck_assert_uint_eq (log.unstable, 3);
  raft_log_clear (&log);
}
END_TEST

START_TEST (test_log_find_conflict_by_term)
{
  static const guint64 terms[] = { 1, 1, 4, 4, 5, 5, 6 };
  RaftLog log;
  raft_log_init (&log, 0, 0);
  log_fill (&log, terms, 7);
  ck_assert_uint_eq (raft_log_find_conflict_by_term (&log, 7, 5), 6);
  ck_assert_uint_eq (raft_log_find_conflict_by_term (&log, 7, 3), 2);
  ck_assert_uint_eq (raft_log_find_conflict_by_term (&log, 20, 6), 7);
  ck_assert_uint_eq (raft_log_find_conflict_by_term (&log, 4, 0), 0);
  raft_log_clear (&log);
}
END_TEST

START_TEST (test_log_compact_and_restore)
{
  static const guint64 terms[] = { 1, 1, 2, 2, 3 };
  RaftLog log;
  guint64 t;
  raft_log_init (&log, 0, 0);
  log_fill (&log, terms, 5);
  log.committed = log.applied = 4;
  log.unstable = 6;
  raft_log_compact (&log, 3, 2);
  ck_assert_uint_eq (raft_log_first_index (&log), 4);
  ck_assert_uint_eq (raft_log_last_index (&log), 5);
  ck_assert (raft_log_term (&log, 3, &t) && t == 2);
  ck_assert (!raft_log_term (&log, 2, &t));
  ck_assert_ptr_null (raft_log_get (&log, 3));
  ck_assert_uint_eq (raft_log_get (&log, 5)->term, 3);
  ck_assert_uint_eq (raft_log_find_conflict_by_term (&log, 5, 0), 3);
  raft_log_restore (&log, 10, 4);
  ck_assert_uint_eq (raft_log_last_index (&log), 10);
  ck_assert_uint_eq (raft_log_last_term (&log), 4);
  ck_assert_uint_eq (log.committed, 10);
  ck_assert (!raft_log_commit_to (&log, 9));
  raft_log_clear (&log);
}
END_TEST

/* ---- progress --------------------------------------------------------- */

START_TEST (test_progress_probe_and_replicate)
{
  RaftProgress pr;
  raft_progress_init (&pr, 2, 11, 3);
  ck_assert (!raft_progress_is_paused (&pr));
  raft_progress_sent (&pr, 10, 0);
  ck_assert (raft_progress_is_paused (&pr));          /* one probe at a time */
  /* A stale rejection (not for the probe we sent) is ignored. */
  ck_assert (!raft_progress_decrease (&pr, 7, 5));
  ck_assert (raft_progress_decrease (&pr, 10, 6));
  ck_assert_uint_eq (pr.next, 6);
  ck_assert (!raft_progress_is_paused (&pr));
  ck_assert (raft_progress_update (&pr, 8));
  raft_progress_become_replicate (&pr);
  ck_assert_uint_eq (pr.next, 9);
  raft_progress_sent (&pr, 10, 2);
  raft_progress_sent (&pr, 12, 2);
  ck_assert (!raft_progress_is_paused (&pr));
  raft_progress_sent (&pr, 14, 2);
  ck_assert (raft_progress_is_paused (&pr));          /* window of 3 full */
  ck_assert_uint_eq (pr.next, 15);
  raft_progress_free_to (&pr, 12);
  ck_assert_uint_eq (pr.inflight_count, 1);
  ck_assert (!raft_progress_decrease (&pr, 8, 0));    /* already matched */
  ck_assert (raft_progress_decrease (&pr, 12, 0));
  ck_assert_uint_eq (pr.next, 9);
  raft_progress_become_snapshot (&pr, 20);
  ck_assert (raft_progress_is_paused (&pr));
  raft_progress_become_probe (&pr);
  ck_assert_uint_eq (pr.next, 21);
  ck_assert_str_eq (raft_progress_state_name (pr.state), "probe");
}
END_TEST

/* ---- messages --------------------------------------------------------- */

static RaftMessage
sample_message (RaftMessageType type)
{
  RaftMessage m = { 0 };
  m.type = type;
  m.from = 3;
  m.to = 0x0102030405060708ULL;
  m.term = 42;
  m.log_term = 41;
  m.index = 100;
  m.commit = 99;
  m.reject = TRUE;
  m.transfer = TRUE;
  m.hint_index = 77;
  m.hint_term = 40;
  m.context = G_MAXUINT64;
  if (type == RAFT_MSG_APPEND)
    {
      m.n_entries = 3;
      m.entries = g_new0 (RaftEntry, 3);
      m.entries[0] = entry (101, 41, "hello");
      m.entries[1] = entry (102, 42, NULL);
      m.entries[1].type = RAFT_ENTRY_NOOP;
      m.entries[2] = entry (103, 42, "c");
      m.entries[2].type = RAFT_ENTRY_CONFIG;
    }
  if (type == RAFT_MSG_SNAPSHOT)
    {
      m.snapshot.index = 500;
      m.snapshot.term = 9;
      m.snapshot.config.n_nodes = 2;
      m.snapshot.config.ids = g_new0 (RaftNodeId, 2);
      m.snapshot.config.ids[0] = 1;
      m.snapshot.config.ids[1] = 7;
      m.snapshot.config.addresses = g_new0 (char *, 3);
      m.snapshot.config.addresses[0] = g_strdup ("a:1");
      m.snapshot.config.addresses[1] = g_strdup ("");
    }
  return m;
}

static void
assert_messages_equal (const RaftMessage *a, const RaftMessage *b)
{
  ck_assert_int_eq (a->type, b->type);
  ck_assert_uint_eq (a->from, b->from);
  ck_assert_uint_eq (a->to, b->to);
  ck_assert_uint_eq (a->term, b->term);
  ck_assert_uint_eq (a->log_term, b->log_term);
  ck_assert_uint_eq (a->index, b->index);
  ck_assert_uint_eq (a->commit, b->commit);
  ck_assert_int_eq (a->reject, b->reject);
  ck_assert_int_eq (a->transfer, b->transfer);
  ck_assert_uint_eq (a->hint_index, b->hint_index);
  ck_assert_uint_eq (a->hint_term, b->hint_term);
  ck_assert_uint_eq (a->context, b->context);
  ck_assert_uint_eq (a->n_entries, b->n_entries);
  for (guint i = 0; i < a->n_entries; i++)
    {
      ck_assert_uint_eq (a->entries[i].index, b->entries[i].index);
      ck_assert_uint_eq (a->entries[i].term, b->entries[i].term);
      ck_assert_int_eq (a->entries[i].type, b->entries[i].type);
      if (a->entries[i].data || b->entries[i].data)
        ck_assert (g_bytes_equal (a->entries[i].data, b->entries[i].data));
    }
  ck_assert_uint_eq (a->snapshot.index, b->snapshot.index);
  ck_assert_uint_eq (a->snapshot.term, b->snapshot.term);
  ck_assert_uint_eq (a->snapshot.config.n_nodes, b->snapshot.config.n_nodes);
  for (guint i = 0; i < a->snapshot.config.n_nodes; i++)
    {
      ck_assert_uint_eq (a->snapshot.config.ids[i], b->snapshot.config.ids[i]);
      ck_assert_str_eq (a->snapshot.config.addresses[i], b->snapshot.config.addresses[i]);
    }
}

START_TEST (test_message_round_trip)
{
  for (int t = RAFT_MSG_APPEND; t <= RAFT_MSG_TYPE_MAX; t++)
    {
      RaftMessage m = sample_message ((RaftMessageType) t), out, copy;
      GBytes *b = raft_message_encode (&m);
      GError *error = NULL;
      ck_assert_msg (raft_message_decode (b, &out, &error), "type %d: %s", t,
                     error ? error->message : "");
      assert_messages_equal (&m, &out);
      raft_message_copy (&copy, &out);
      assert_messages_equal (&m, &copy);
      ck_assert_str_ne (raft_message_type_name ((RaftMessageType) t), "?");
      raft_message_clear (&copy);
      raft_message_clear (&out);
      raft_message_clear (&m);
      g_bytes_unref (b);
    }
}
END_TEST

START_TEST (test_message_truncated_and_extended)
{
  for (int t = RAFT_MSG_APPEND; t <= RAFT_MSG_TYPE_MAX; t++)
    {
      RaftMessage m = sample_message ((RaftMessageType) t), out;
      GBytes *b = raft_message_encode (&m);
      gsize size;
      const guint8 *p = g_bytes_get_data (b, &size);
      guint8 *longer = g_malloc (size + 1);
      GBytes *cut, *ext;
      for (gsize len = 0; len < size; len++)
        {
          GError *error = NULL;
          cut = g_bytes_new (p, len);
          ck_assert (!raft_message_decode (cut, &out, &error));
          ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_CORRUPT));
          g_error_free (error);
          g_bytes_unref (cut);
        }
      memcpy (longer, p, size);
      longer[size] = 0;
      ext = g_bytes_new_take (longer, size + 1);
      ck_assert (!raft_message_decode (ext, &out, NULL));     /* trailing byte */
      g_bytes_unref (ext);
      g_bytes_unref (b);
      raft_message_clear (&m);
    }
  /* No bytes at all (empty GBytes have no data pointer: found by fuzz-frame). */
  RaftMessage none;
  RaftConfig config;
  ck_assert (!raft_message_decode (NULL, &none, NULL));
  ck_assert (!raft_config_decode (NULL, &config, NULL));
}
END_TEST

START_TEST (test_message_bit_flips_and_random_bytes)
{
  RaftMessage m = sample_message (RAFT_MSG_APPEND), out;
  GBytes *b = raft_message_encode (&m);
  gsize size;
  const guint8 *p = g_bytes_get_data (b, &size);
  GRand *rand = g_rand_new_with_seed (1234);
  guint decoded = 0;
  for (gsize i = 0; i < size * 8; i++)
    {
      guint8 *copy = g_memdup2 (p, size);
      GBytes *flipped;
      copy[i / 8] ^= (guint8) (1u << (i % 8));
      flipped = g_bytes_new_take (copy, size);
      if (raft_message_decode (flipped, &out, NULL))
        {
          decoded++;                 /* a field value changed: still well-formed */
          raft_message_clear (&out);
        }
      g_bytes_unref (flipped);
    }
  ck_assert_uint_lt (decoded, size * 8);
  for (int i = 0; i < 20000; i++)
    {
      gsize len = g_rand_int_range (rand, 0, 200);
      guint8 *buf = g_malloc (len + 1);
      GBytes *junk;
      for (gsize j = 0; j < len; j++)
        buf[j] = (guint8) g_rand_int (rand);
      if (len > 2)
        {
          buf[0] = RAFT_MESSAGE_VERSION;   /* get past the first checks often */
          buf[1] = (guint8) g_rand_int_range (rand, 1, RAFT_MSG_TYPE_MAX + 1);
          buf[2] = 0;
        }
      junk = g_bytes_new_take (buf, len);
      if (raft_message_decode (junk, &out, NULL))
        raft_message_clear (&out);
      g_bytes_unref (junk);
    }
  g_rand_free (rand);
  g_bytes_unref (b);
  raft_message_clear (&m);
}
END_TEST

START_TEST (test_message_huge_counts_rejected)
{
  /* A header claiming 2^32-1 entries in a short message must be refused
   * before anything is allocated for them. */
  RaftMessage m = sample_message (RAFT_MSG_HEARTBEAT), out;
  GBytes *b = raft_message_encode (&m);
  gsize size;
  guint8 *copy = g_memdup2 (g_bytes_get_data (b, &size), g_bytes_get_size (b));
  GBytes *bad;
  /* n_entries sits right after the 3-byte header and nine u64 fields. */
  memset (copy + 3 + 9 * 8, 0xff, 4);
  bad = g_bytes_new_take (copy, size);
  ck_assert (!raft_message_decode (bad, &out, NULL));
  g_bytes_unref (bad);
  g_bytes_unref (b);
  raft_message_clear (&m);
  /* Entries on a message type that carries none are refused too. */
  m = sample_message (RAFT_MSG_APPEND);
  m.type = RAFT_MSG_VOTE;
  b = raft_message_encode (&m);
  ck_assert (!raft_message_decode (b, &out, NULL));
  g_bytes_unref (b);
  m.type = RAFT_MSG_APPEND;
  raft_message_clear (&m);
}
END_TEST

/* ---- node API --------------------------------------------------------- */

static RaftSnapshotMeta
bootstrap (guint n)
{
  RaftSnapshotMeta s = { 0 };
  s.config.n_nodes = n;
  s.config.ids = g_new0 (RaftNodeId, n);
  s.config.addresses = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      s.config.ids[i] = i + 1;
      s.config.addresses[i] = g_strdup ("");
    }
  return s;
}

START_TEST (test_node_new_rejects_bad_state)
{
  RaftOptions o;
  RaftSnapshotMeta s = bootstrap (3);
  RaftHardState hs = { 1, 0, 0 };
  RaftEntry e[2] = { entry (1, 1, "a"), entry (3, 1, "b") };
  GError *error = NULL;

  raft_options_init (&o, 0);
  ck_assert_ptr_null (raft_node_new (&o, NULL, &s, NULL, 0, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_INVALID));
  g_clear_error (&error);
  raft_options_init (&o, 1);
  ck_assert_ptr_null (raft_node_new (&o, &hs, &s, e, 2, &error));   /* gap */
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_CORRUPT));
  g_clear_error (&error);
  e[1].index = 2;
  e[1].term = 5;
  ck_assert_ptr_null (raft_node_new (&o, &hs, &s, e, 2, &error));   /* term ahead */
  g_clear_error (&error);
  hs.term = 5;
  hs.commit = 99;                    /* clamped to the log */
  {
    RaftNode *node = raft_node_new (&o, &hs, &s, e, 2, &error);
    ck_assert_ptr_nonnull (node);
    ck_assert_uint_eq (raft_node_commit_index (node), 2);
    ck_assert_uint_eq (raft_node_last_index (node), 2);
    ck_assert_uint_eq (raft_node_term (node), 5);
    ck_assert_int_eq (raft_node_role (node), RAFT_ROLE_FOLLOWER);
    raft_node_free (node);
  }
  raft_entry_clear (&e[0]);
  raft_entry_clear (&e[1]);
  raft_snapshot_meta_clear (&s);
}
END_TEST

START_TEST (test_node_ready_contract)
{
  RaftOptions o;
  RaftSnapshotMeta s = bootstrap (1);
  RaftNode *node;
  const RaftReady *rd;
  GError *error = NULL;
  GBytes *data = g_bytes_new_static ("cmd", 3);
  guint64 index = 0;

  raft_options_init (&o, 1);
  node = raft_node_new (&o, NULL, &s, NULL, 0, NULL);
  ck_assert (!raft_node_has_ready (node));
  ck_assert (!raft_node_propose (node, data, &index, &error));     /* follower */
  g_clear_error (&error);
  for (int i = 0; i < 20 && raft_node_role (node) != RAFT_ROLE_LEADER; i++)
    raft_node_tick (node);
  ck_assert_int_eq (raft_node_role (node), RAFT_ROLE_LEADER);
  ck_assert (raft_node_propose (node, data, &index, NULL));
  ck_assert_uint_eq (index, 2);
  ck_assert (raft_node_has_ready (node));
  rd = raft_node_ready (node);
  ck_assert (rd->has_hard_state);
  ck_assert_uint_eq (rd->hard_state.term, 1);
  ck_assert_uint_eq (rd->hard_state.vote, 1);
  ck_assert_uint_eq (rd->n_entries, 2);          /* NOOP + command */
  ck_assert_int_eq (rd->entries[0].type, RAFT_ENTRY_NOOP);
  ck_assert_uint_eq (rd->n_committed, 2);        /* single node: commits at once */
  ck_assert_uint_eq (rd->n_messages, 0);
  /* Nothing may change the node between ready() and advance(). */
  ck_assert (!raft_node_propose (node, data, NULL, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_INVALID));
  g_clear_error (&error);
  ck_assert (!raft_node_compact (node, 1, NULL));
  raft_node_advance (node);
  ck_assert (!raft_node_has_ready (node));
  ck_assert_uint_eq (raft_node_applied_index (node), 2);
  ck_assert (raft_node_compact (node, 2, &error));
  ck_assert_uint_eq (raft_node_snapshot_index (node), 2);
  ck_assert_uint_eq (raft_node_snapshot_meta (node)->config.n_nodes, 1);
  ck_assert (!raft_node_compact (node, 3, NULL));                  /* not applied */
  /* ReadIndex on a single node answers at once. */
  ck_assert (raft_node_read_index (node, 77, NULL));
  rd = raft_node_ready (node);
  ck_assert_uint_eq (rd->n_read_states, 1);
  ck_assert_uint_eq (rd->read_states[0].context, 77);
  ck_assert_uint_eq (rd->read_states[0].index, 2);
  raft_node_advance (node);
  g_bytes_unref (data);
  raft_node_free (node);
  raft_snapshot_meta_clear (&s);
}
END_TEST

START_TEST (test_node_step_rejects_invalid)
{
  RaftOptions o;
  RaftSnapshotMeta s = bootstrap (3);
  RaftNode *node;
  RaftMessage m = { 0 };
  GError *error = NULL;
  raft_options_init (&o, 1);
  node = raft_node_new (&o, NULL, &s, NULL, 0, NULL);
  m.type = RAFT_MSG_HEARTBEAT;
  m.from = 1;                        /* from itself */
  m.to = 1;
  ck_assert (!raft_node_step (node, &m, &error));
  ck_assert (g_error_matches (error, RAFT_ERROR, RAFT_ERROR_INVALID));
  g_clear_error (&error);
  m.from = 2;
  m.to = 3;                          /* not for us */
  ck_assert (!raft_node_step (node, &m, NULL));
  m.to = 1;
  m.type = (RaftMessageType) 99;
  ck_assert (!raft_node_step (node, &m, NULL));
  m.type = RAFT_MSG_HEARTBEAT;
  m.term = 1;
  ck_assert (raft_node_step (node, &m, NULL));
  ck_assert_uint_eq (raft_node_leader (node), 2);
  ck_assert_uint_eq (raft_node_term (node), 1);
  raft_node_free (node);
  raft_snapshot_meta_clear (&s);
}
END_TEST

START_TEST (test_node_config_change_checks)
{
  RaftOptions o;
  RaftSnapshotMeta s = bootstrap (1);
  RaftNode *node;
  GError *error = NULL;
  raft_options_init (&o, 1);
  node = raft_node_new (&o, NULL, &s, NULL, 0, NULL);
  while (raft_node_role (node) != RAFT_ROLE_LEADER)
    raft_node_tick (node);
  raft_node_ready (node);
  raft_node_advance (node);
  ck_assert (!raft_node_propose_config_change (node, RAFT_CONFIG_REMOVE, 1, NULL, NULL, &error));
  g_clear_error (&error);            /* would leave nobody */
  ck_assert (!raft_node_propose_config_change (node, RAFT_CONFIG_ADD, 1, NULL, NULL, NULL));
  ck_assert (raft_node_propose_config_change (node, RAFT_CONFIG_ADD, 2, "b:2", NULL, NULL));
  ck_assert_uint_eq (raft_node_config (node)->n_nodes, 2);          /* effective at once */
  ck_assert (!raft_node_propose_config_change (node, RAFT_CONFIG_ADD, 3, NULL, NULL, NULL));
  raft_node_free (node);
  raft_snapshot_meta_clear (&s);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("raft-core");
  TCase *tc = tcase_create ("log");
  tcase_add_test (tc, test_log_append_and_terms);
  tcase_add_test (tc, test_log_merge_truncates_conflicts);
  tcase_add_test (tc, test_log_find_conflict_by_term);
  tcase_add_test (tc, test_log_compact_and_restore);
  suite_add_tcase (s, tc);
  tc = tcase_create ("progress");
  tcase_add_test (tc, test_progress_probe_and_replicate);
  suite_add_tcase (s, tc);
  tc = tcase_create ("message");
  tcase_add_test (tc, test_message_round_trip);
  tcase_add_test (tc, test_message_truncated_and_extended);
  tcase_add_test (tc, test_message_bit_flips_and_random_bytes);
  tcase_add_test (tc, test_message_huge_counts_rejected);
  suite_add_tcase (s, tc);
  tc = tcase_create ("node");
  tcase_add_test (tc, test_node_new_rejects_bad_state);
  tcase_add_test (tc, test_node_ready_contract);
  tcase_add_test (tc, test_node_step_rejects_invalid);
  tcase_add_test (tc, test_node_config_change_checks);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (suite ());
  int failed;
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
