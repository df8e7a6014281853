/* test-raft-paper.c — the Raft paper's scenarios and the interplay of the
 * core's features, as named cases run in the simulator: elections,
 * Figure 7 (followers' logs repaired by a new leader), Figure 8 (a leader
 * only commits entries of its own term by counting), PreVote/CheckQuorum,
 * leadership transfer, membership changes (also during partitions),
 * snapshots to lagging and empty nodes, ReadIndex and restarts. */
#include "raft-sim.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static Sim *
sim_make (guint n, guint64 seed)
{
  SimOptions opt;
  sim_options_init (&opt, n, seed);
  return sim_new (&opt);
}

static void
sim_assert_ok (Sim *sim)
{
  if (!sim_ok (sim))
    ck_abort_msg ("%s", sim_error (sim));
}

static guint64
propose_and_wait (Sim *sim, const char *cmd)
{
  RaftNodeId leader = sim_wait_leader (sim, 200);
  guint64 index;
  ck_assert_uint_ne (leader, 0);
  index = sim_propose (sim, leader, cmd);
  ck_assert_uint_ne (index, 0);
  ck_assert (sim_wait_applied (sim, leader, index, 100));
  return index;
}

/* Every live node in ids applied at least index and agrees on the state. */
static void
assert_converged (Sim *sim, const RaftNodeId *ids, guint n, guint64 index)
{
  for (guint i = 0; i < n; i++)
    ck_assert_msg (sim_wait_applied (sim, ids[i], index, 200),
                   "node %" G_GUINT64_FORMAT " stuck at %" G_GUINT64_FORMAT, ids[i],
                   sim_applied (sim, ids[i]));
  sim_run (sim, 5);
  for (guint i = 1; i < n; i++)
    if (sim_applied (sim, ids[i]) == sim_applied (sim, ids[0]))
      ck_assert_uint_eq (sim_digest (sim, ids[i]), sim_digest (sim, ids[0]));
  sim_assert_ok (sim);
}

/* A follower whose data folder was wiped comes back empty. Heartbeats alone
 * (no new writes) must reveal it, so the leader re-sends the log — or, once
 * compacted, a snapshot. */
static void
check_wiped_follower (gboolean compact)
{
  Sim *sim = sim_make (3, compact ? 12 : 11);
  RaftNodeId ids[] = { 1, 2, 3 };
  guint64 index = 0;
  for (int i = 0; i < 10; i++)
    index = propose_and_wait (sim, "before-wipe");
  assert_converged (sim, ids, 3, index);
  RaftNodeId leader = sim_leader (sim);
  if (compact)
    sim_compact (sim, leader);
  RaftNodeId follower = leader % 3 + 1;
  sim_wipe (sim, follower);
  ck_assert_uint_eq (sim_applied (sim, follower), 0);
  ck_assert_msg (sim_wait_applied (sim, follower, index, 100),
                 "wiped node stuck at %" G_GUINT64_FORMAT, sim_applied (sim, follower));
  ck_assert_uint_eq (sim_digest (sim, follower), sim_digest (sim, leader));
  sim_assert_ok (sim);
  sim_free (sim);
}

START_TEST (test_wiped_follower_catches_up)
{
  check_wiped_follower (FALSE);
  check_wiped_follower (TRUE);
}
END_TEST

START_TEST (test_single_node_elects_itself)
{
  Sim *sim = sim_make (1, 1);
  guint64 index;
  ck_assert_uint_eq (sim_wait_leader (sim, 40), 1);
  index = propose_and_wait (sim, "x");
  ck_assert_uint_eq (index, 2);      /* after the leader's NOOP */
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_election_one_leader)
{
  for (guint n = 2; n <= SIM_MAX_NODES; n++)
    {
      Sim *sim = sim_make (n, 100 + n);
      RaftNodeId leader = sim_wait_leader (sim, 100);
      guint leaders = 0;
      ck_assert_uint_ne (leader, 0);
      sim_run (sim, 30);
      for (RaftNodeId id = 1; id <= n; id++)
        if (raft_node_role (sim_node (sim, id)) == RAFT_ROLE_LEADER)
          leaders++;
      ck_assert_uint_eq (leaders, 1);
      /* A stable leader: nobody's term moved after the election. */
      for (RaftNodeId id = 1; id <= n; id++)
        ck_assert_uint_eq (raft_node_term (sim_node (sim, id)),
                           raft_node_term (sim_node (sim, sim_leader (sim))));
      sim_assert_ok (sim);
      sim_free (sim);
    }
}
END_TEST

/* Raft paper Figure 7: the leader of term 8 and followers (a)-(f). */
START_TEST (test_figure7_follower_logs_repaired)
{
  static const guint64 leader[] = { 1, 1, 1, 4, 4, 5, 5, 6, 6, 6 };
  static const guint64 fa[] = { 1, 1, 1, 4, 4, 5, 5, 6, 6 };
  static const guint64 fb[] = { 1, 1, 1, 4 };
  static const guint64 fc[] = { 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6 };
  static const guint64 fd[] = { 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7 };
  static const guint64 fe[] = { 1, 1, 1, 4, 4, 4, 4 };
  static const guint64 ff[] = { 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3 };
  static const guint64 *logs[] = { leader, fa, fb, fc, fd, fe, ff };
  static const guint lens[] = { 10, 9, 4, 11, 12, 7, 11 };
  RaftNodeId all[] = { 1, 2, 3, 4, 5, 6, 7 };
  Sim *sim = sim_make (7, 7);
  RaftNode *l;
  guint64 index;

  for (RaftNodeId id = 1; id <= 7; id++)
    sim_set_log (sim, id, logs[id - 1], lens[id - 1], 7);
  sim_campaign (sim, 1);
  ck_assert_uint_eq (sim_wait_leader (sim, 20), 1);
  l = sim_node (sim, 1);
  ck_assert_uint_eq (raft_node_term (l), 8);
  index = sim_propose (sim, 1, "after-figure-7");
  ck_assert_uint_eq (index, 12);     /* 10 old entries, the NOOP, this one */
  assert_converged (sim, all, 7, index);
  /* Every follower's log is now exactly the leader's. */
  for (RaftNodeId id = 2; id <= 7; id++)
    {
      RaftNode *f = sim_node (sim, id);
      ck_assert_uint_eq (raft_node_last_index (f), raft_node_last_index (l));
      for (guint64 i = 1; i <= raft_node_last_index (l); i++)
        ck_assert_uint_eq (raft_node_log_term (f, i), raft_node_log_term (l, i));
    }
  ck_assert_uint_eq (raft_node_log_term (l, 10), 6);
  sim_free (sim);
}
END_TEST

/* Lets S1's appends carry entries only up to its term-2 entry. */
static gboolean
trim_term4_entries_from_1 (RaftMessage *m, gpointer data)
{
  guint keep = 0;
  if (m->from != 1 || m->type != RAFT_MSG_APPEND)
    return TRUE;
  while (keep < m->n_entries && m->entries[keep].term < 4)
    keep++;
  for (guint i = keep; i < m->n_entries; i++)
    raft_entry_clear (&m->entries[i]);
  m->n_entries = keep;
  return TRUE;
}

/* Raft paper Figure 8: S1 (term 4) gets its term-2 entry at index 2 onto a
 * majority, but must not commit it by counting; S5 (holding a term-3 entry
 * at index 2) may later win and overwrite it. */
START_TEST (test_figure8_commit_only_current_term)
{
  static const guint64 s1[] = { 1, 2 };
  static const guint64 s2[] = { 1 };
  static const guint64 s5[] = { 1, 3 };
  Sim *sim = sim_make (5, 8);

  sim_set_log (sim, 1, s1, 2, 3);
  sim_set_log (sim, 2, s2, 1, 3);
  sim_set_log (sim, 3, s2, 1, 3);
  sim_set_log (sim, 4, s2, 1, 3);
  sim_set_log (sim, 5, s5, 2, 3);
  sim_set_filter (sim, trim_term4_entries_from_1, NULL);
  sim_cut (sim, 1, 5);               /* S5 is away while S1 leads (paper: crashed) */
  sim_campaign (sim, 1);
  ck_assert_uint_eq (sim_wait_leader (sim, 20), 1);
  ck_assert_uint_eq (raft_node_term (sim_node (sim, 1)), 4);
  sim_run (sim, 8);
  /* Index 2 (term 2) is on S1, S2, S3 (a majority) ... */
  ck_assert_uint_ge (raft_node_peer_match (sim_node (sim, 1), 2), 2);
  ck_assert_uint_ge (raft_node_peer_match (sim_node (sim, 1), 3), 2);
  ck_assert_uint_eq (raft_node_log_term (sim_node (sim, 2), 2), 2);
  /* ... yet it is not committed: it is not from the leader's term. */
  ck_assert_uint_lt (raft_node_commit_index (sim_node (sim, 1)), 2);
  ck_assert_uint_lt (sim_applied (sim, 1), 2);

  /* S1 crashes; S5 is elected (its log is more up to date) and overwrites. */
  sim_crash (sim, 1);
  sim_set_filter (sim, NULL, NULL);
  sim_heal (sim);
  /* S2-S4 cannot reach each other, so only S5 can gather a majority. */
  sim_cut (sim, 2, 3);
  sim_cut (sim, 2, 4);
  sim_cut (sim, 3, 4);
  ck_assert_uint_eq (sim_wait_leader (sim, 100), 5);
  sim_heal (sim);
  {
    RaftNodeId rest[] = { 2, 3, 4, 5 };
    guint64 index = sim_propose (sim, 5, "s5");
    ck_assert_uint_ne (index, 0);
    assert_converged (sim, rest, 4, index);
    ck_assert_uint_eq (raft_node_log_term (sim_node (sim, 2), 2), 3);
  }
  /* S1 comes back and its uncommitted entry is replaced too. */
  sim_restart (sim, 1);
  sim_run (sim, 30);
  ck_assert_uint_eq (raft_node_log_term (sim_node (sim, 1), 2), 3);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_prevote_rejoining_node_does_not_disrupt)
{
  Sim *sim = sim_make (3, 3);
  RaftNodeId leader = sim_wait_leader (sim, 100), other;
  guint64 term;
  ck_assert_uint_ne (leader, 0);
  propose_and_wait (sim, "a");
  term = raft_node_term (sim_node (sim, leader));
  other = leader % 3 + 1;
  sim_isolate (sim, other);
  sim_run (sim, 100);                /* it times out again and again */
  ck_assert_uint_eq (raft_node_term (sim_node (sim, other)), term);   /* PreVote */
  ck_assert_int_ne (raft_node_role (sim_node (sim, other)), RAFT_ROLE_LEADER);
  sim_heal (sim);
  sim_run (sim, 50);
  ck_assert_uint_eq (sim_leader (sim), leader);
  ck_assert_uint_eq (raft_node_term (sim_node (sim, leader)), term);
  ck_assert_uint_eq (raft_node_leader (sim_node (sim, other)), leader);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_checkquorum_isolated_leader_steps_down)
{
  Sim *sim = sim_make (5, 5);
  RaftNodeId leader = sim_wait_leader (sim, 100), next;
  ck_assert_uint_ne (leader, 0);
  propose_and_wait (sim, "a");
  sim_isolate (sim, leader);
  sim_run (sim, 2 * 10 + 2);         /* two election timeouts at most */
  ck_assert_int_ne (raft_node_role (sim_node (sim, leader)), RAFT_ROLE_LEADER);
  next = sim_wait_leader (sim, 100);
  ck_assert_uint_ne (next, 0);
  ck_assert_uint_ne (next, leader);
  sim_heal (sim);
  propose_and_wait (sim, "b");
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_checkquorum_follower_lease_ignores_votes)
{
  /* A follower that heard from its leader recently ignores a vote request
   * of a higher term (leader lease), so the leader keeps leading. */
  Sim *sim = sim_make (3, 11);
  RaftNodeId leader = sim_wait_leader (sim, 100), f;
  RaftMessage m = { 0 };
  guint64 term;
  ck_assert_uint_ne (leader, 0);
  propose_and_wait (sim, "a");
  f = leader % 3 + 1;
  term = raft_node_term (sim_node (sim, f));
  m.type = RAFT_MSG_VOTE;
  m.from = f % 3 + 1 == leader ? leader % 3 + 1 : f % 3 + 1;
  m.to = f;
  m.term = term + 5;
  m.index = 100;
  m.log_term = term + 5;
  ck_assert (raft_node_step (sim_node (sim, f), &m, NULL));
  ck_assert_uint_eq (raft_node_term (sim_node (sim, f)), term);
  sim_run (sim, 20);
  ck_assert_uint_eq (sim_leader (sim), leader);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_leadership_transfer)
{
  Sim *sim = sim_make (3, 13);
  RaftNodeId leader = sim_wait_leader (sim, 100), target;
  guint64 term;
  GError *error = NULL;
  ck_assert_uint_ne (leader, 0);
  propose_and_wait (sim, "a");
  term = raft_node_term (sim_node (sim, leader));
  target = leader % 3 + 1;
  ck_assert (raft_node_transfer_leadership (sim_node (sim, leader), target, &error));
  /* Proposals are refused while the transfer runs. */
  ck_assert (!raft_node_propose (sim_node (sim, leader), NULL, NULL, NULL));
  sim_run (sim, 6);                  /* well under an election timeout */
  ck_assert_uint_eq (sim_leader (sim), target);
  ck_assert_uint_eq (raft_node_term (sim_node (sim, target)), term + 1);
  propose_and_wait (sim, "b");
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_leadership_transfer_to_lagging_node)
{
  Sim *sim = sim_make (3, 17);
  RaftNodeId leader = sim_wait_leader (sim, 100), target;
  ck_assert_uint_ne (leader, 0);
  target = leader % 3 + 1;
  sim_crash (sim, target);
  for (int i = 0; i < 20; i++)
    sim_propose (sim, leader, "lag");
  sim_run (sim, 3);
  sim_restart (sim, target);
  ck_assert (raft_node_transfer_leadership (sim_node (sim, leader), target, NULL));
  sim_run (sim, 9);
  ck_assert_uint_eq (sim_leader (sim), target);
  ck_assert_uint_ge (raft_node_commit_index (sim_node (sim, target)), 21);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_membership_add_then_remove_leader)
{
  Sim *sim = sim_make (3, 19);
  RaftNodeId leader = sim_wait_leader (sim, 100), next;
  GError *error = NULL;
  guint64 index;
  RaftNodeId rest[3];
  guint n = 0;

  propose_and_wait (sim, "a");
  sim_add_node (sim, 4);
  ck_assert (raft_node_propose_config_change (sim_node (sim, leader), RAFT_CONFIG_ADD, 4,
                                              "sim-4", &index, &error));
  /* Only one change at a time. */
  ck_assert (!raft_node_propose_config_change (sim_node (sim, leader), RAFT_CONFIG_ADD, 5,
                                               "sim-5", NULL, NULL));
  sim_run (sim, 1);
  ck_assert (sim_wait_applied (sim, 4, index, 100));
  ck_assert_uint_eq (raft_node_config (sim_node (sim, 4))->n_nodes, 4);

  /* Remove the leader itself: it steps down once the removal commits. */
  ck_assert (raft_node_propose_config_change (sim_node (sim, leader), RAFT_CONFIG_REMOVE,
                                              leader, NULL, &index, &error));
  sim_run (sim, 5);
  ck_assert_int_ne (raft_node_role (sim_node (sim, leader)), RAFT_ROLE_LEADER);
  next = sim_wait_leader (sim, 100);
  ck_assert_uint_ne (next, 0);
  ck_assert_uint_ne (next, leader);
  for (RaftNodeId id = 1; id <= 4; id++)
    if (id != leader)
      rest[n++] = id;
  index = propose_and_wait (sim, "b");
  assert_converged (sim, rest, 3, index);
  for (guint i = 0; i < 3; i++)
    ck_assert (!raft_config_contains (raft_node_config (sim_node (sim, rest[i])), leader));
  /* The removed node stays quiet: no elections from it. */
  sim_run (sim, 100);
  ck_assert_uint_eq (sim_leader (sim), next);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_membership_change_during_partition)
{
  Sim *sim = sim_make (5, 23);
  RaftNodeId leader = sim_wait_leader (sim, 100), minority[2], next;
  RaftNodeId all[] = { 1, 2, 3, 4, 5 };
  guint64 index;
  propose_and_wait (sim, "a");
  minority[0] = leader;
  minority[1] = leader % 5 + 1;
  sim_partition (sim, minority, 2);
  /* The cut-off leader's change cannot commit... */
  ck_assert (raft_node_propose_config_change (sim_node (sim, leader), RAFT_CONFIG_REMOVE,
                                              minority[1] % 5 + 1, NULL, NULL, NULL));
  ck_assert_uint_eq (raft_node_config (sim_node (sim, leader))->n_nodes, 4);
  sim_run (sim, 40);
  ck_assert_int_ne (raft_node_role (sim_node (sim, leader)), RAFT_ROLE_LEADER);
  /* ... while the majority elects a leader that makes its own change. */
  next = sim_leader (sim);
  ck_assert_uint_ne (next, 0);
  ck_assert (next != minority[0] && next != minority[1]);
  index = propose_and_wait (sim, "b");
  ck_assert (raft_node_propose_config_change (sim_node (sim, next), RAFT_CONFIG_ADD, 6,
                                              "sim-6", &index, NULL));
  sim_add_node (sim, 6);
  sim_run (sim, 30);
  sim_heal (sim);
  index = propose_and_wait (sim, "c");
  {
    RaftNodeId six[] = { 1, 2, 3, 4, 5, 6 };
    assert_converged (sim, six, 6, index);
  }
  /* The old leader's uncommitted removal was rolled back everywhere. */
  for (guint i = 0; i < 5; i++)
    ck_assert_uint_eq (raft_node_config (sim_node (sim, all[i]))->n_nodes, 6);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_snapshot_to_lagging_follower)
{
  SimOptions opt;
  Sim *sim;
  RaftNodeId leader, lag, all[] = { 1, 2, 3 };
  guint64 index = 0;
  sim_options_init (&opt, 3, 29);
  opt.compact_every = 5;
  sim = sim_new (&opt);
  leader = sim_wait_leader (sim, 100);
  lag = leader % 3 + 1;
  sim_crash (sim, lag);
  for (int i = 0; i < 40; i++)
    {
      sim_propose (sim, leader, "x");
      sim_tick (sim);
    }
  ck_assert_uint_gt (raft_node_snapshot_index (sim_node (sim, leader)), 20);
  sim_restart (sim, lag);
  index = propose_and_wait (sim, "y");
  assert_converged (sim, all, 3, index);
  ck_assert_uint_gt (raft_node_snapshot_index (sim_node (sim, lag)), 20);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_snapshot_to_empty_node)
{
  Sim *sim = sim_make (3, 31);
  RaftNodeId leader = sim_wait_leader (sim, 100), four[] = { 1, 2, 3, 4 };
  guint64 index;
  for (int i = 0; i < 30; i++)
    sim_propose (sim, leader, "x");
  index = propose_and_wait (sim, "y");
  sim_run (sim, 5);
  for (RaftNodeId id = 1; id <= 3; id++)
    sim_compact (sim, id);
  ck_assert_uint_ge (raft_node_snapshot_index (sim_node (sim, leader)), index);
  sim_add_node (sim, 4);
  ck_assert (raft_node_propose_config_change (sim_node (sim, leader), RAFT_CONFIG_ADD, 4,
                                              "sim-4", &index, NULL));
  sim_run (sim, 1);
  assert_converged (sim, four, 4, index);
  ck_assert_uint_gt (raft_node_snapshot_index (sim_node (sim, 4)), 30);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_read_index)
{
  Sim *sim = sim_make (3, 37);
  RaftNodeId leader = sim_wait_leader (sim, 100), f;
  guint64 ctx = 0, index = 0, committed;
  /* A brand-new leader has not committed in its term: no reads yet. */
  ck_assert (!sim_read (sim, leader, 1));
  committed = propose_and_wait (sim, "a");
  ck_assert (sim_read (sim, leader, 2));
  sim_run (sim, 3);
  ck_assert (sim_last_read (sim, leader, &ctx, &index));
  ck_assert_uint_eq (ctx, 2);
  ck_assert_uint_ge (index, committed);
  /* A follower's read is forwarded to the leader. */
  f = leader % 3 + 1;
  ck_assert (sim_read (sim, f, 3));
  sim_run (sim, 5);
  ck_assert (sim_last_read (sim, f, &ctx, &index));
  ck_assert_uint_eq (ctx, 3);
  ck_assert_uint_ge (index, committed);
  /* A leader cut off from the majority cannot confirm a read. */
  sim_isolate (sim, leader);
  ck_assert (sim_read (sim, leader, 4));
  sim_run (sim, 25);
  ck_assert (sim_last_read (sim, leader, &ctx, &index));
  ck_assert_uint_eq (ctx, 2);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

START_TEST (test_restart_all_from_persisted_state)
{
  Sim *sim = sim_make (5, 41);
  RaftNodeId all[] = { 1, 2, 3, 4, 5 };
  guint64 index;
  for (int i = 0; i < 10; i++)
    propose_and_wait (sim, "before");
  for (RaftNodeId id = 1; id <= 5; id++)
    sim_crash (sim, id);
  for (RaftNodeId id = 1; id <= 5; id++)
    sim_restart (sim, id);
  for (RaftNodeId id = 1; id <= 5; id++)
    ck_assert_uint_ge (raft_node_last_index (sim_node (sim, id)), 10);
  index = propose_and_wait (sim, "after");
  assert_converged (sim, all, 5, index);
  sim_assert_ok (sim);
  sim_free (sim);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("raft-paper");
  TCase *tc = tcase_create ("scenarios");
  tcase_add_test (tc, test_single_node_elects_itself);
  tcase_add_test (tc, test_election_one_leader);
  tcase_add_test (tc, test_figure7_follower_logs_repaired);
  tcase_add_test (tc, test_figure8_commit_only_current_term);
  tcase_add_test (tc, test_prevote_rejoining_node_does_not_disrupt);
  tcase_add_test (tc, test_checkquorum_isolated_leader_steps_down);
  tcase_add_test (tc, test_checkquorum_follower_lease_ignores_votes);
  tcase_add_test (tc, test_leadership_transfer);
  tcase_add_test (tc, test_leadership_transfer_to_lagging_node);
  tcase_add_test (tc, test_membership_add_then_remove_leader);
  tcase_add_test (tc, test_membership_change_during_partition);
  tcase_add_test (tc, test_snapshot_to_lagging_follower);
  tcase_add_test (tc, test_snapshot_to_empty_node);
  tcase_add_test (tc, test_read_index);
  tcase_add_test (tc, test_restart_all_from_persisted_state);
  tcase_add_test (tc, test_wiped_follower_catches_up);
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
