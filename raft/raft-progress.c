/* raft-progress.c — per-follower replication progress and in-flight window
 * (the flow control of a Raft leader, after etcd's Progress/Inflights). */
#include "config.h"
#include "raft-progress.h"

#include <string.h>

void
raft_progress_init (RaftProgress *pr, RaftNodeId id, guint64 next, guint window)
{
  memset (pr, 0, sizeof *pr);
  pr->id = id;
  pr->next = next > 0 ? next : 1;
  pr->state = RAFT_PROGRESS_PROBE;
  pr->inflight_max = CLAMP (window, 1, RAFT_PROGRESS_MAX_WINDOW);
}

static void
progress_reset_window (RaftProgress *pr)
{
  pr->inflight_start = 0;
  pr->inflight_count = 0;
}

void
raft_progress_become_probe (RaftProgress *pr)
{
  /* After a snapshot, resume just past it; otherwise just past the match. */
  if (pr->state == RAFT_PROGRESS_SNAPSHOT)
    pr->next = MAX (pr->match + 1, pr->pending_snapshot + 1);
  else
    pr->next = pr->match + 1;
  pr->state = RAFT_PROGRESS_PROBE;
  pr->probe_sent = FALSE;
  pr->pending_snapshot = 0;
  progress_reset_window (pr);
}

void
raft_progress_become_replicate (RaftProgress *pr)
{
  pr->state = RAFT_PROGRESS_REPLICATE;
  pr->next = pr->match + 1;
  pr->probe_sent = FALSE;
  pr->pending_snapshot = 0;
  progress_reset_window (pr);
}

void
raft_progress_become_snapshot (RaftProgress *pr, guint64 snapshot_index)
{
  pr->state = RAFT_PROGRESS_SNAPSHOT;
  pr->pending_snapshot = snapshot_index;
  pr->probe_sent = FALSE;
  progress_reset_window (pr);
}

gboolean
raft_progress_update (RaftProgress *pr, guint64 index)
{
  gboolean updated = FALSE;
  if (index > pr->match)
    {
      pr->match = index;
      updated = TRUE;
      pr->probe_sent = FALSE;
    }
  if (pr->next < index + 1)
    pr->next = index + 1;
  return updated;
}

gboolean
raft_progress_decrease (RaftProgress *pr, guint64 rejected, guint64 next_hint)
{
  if (pr->state == RAFT_PROGRESS_REPLICATE)
    {
      if (rejected <= pr->match)
        return FALSE;                /* stale: that index already matched */
      pr->next = pr->match + 1;
      return TRUE;
    }
  /* PROBE (or SNAPSHOT): only the answer to the probe we sent counts. */
  if (pr->next - 1 != rejected)
    return FALSE;
  pr->next = MAX (MIN (rejected, next_hint), pr->match + 1);
  if (pr->next < 1)
    pr->next = 1;
  pr->probe_sent = FALSE;
  return TRUE;
}

void
raft_progress_sent (RaftProgress *pr, guint64 last, guint n_entries)
{
  if (pr->state == RAFT_PROGRESS_REPLICATE)
    {
      if (n_entries > 0)
        {
          guint slot;
          pr->next = last + 1;
          g_assert (pr->inflight_count < pr->inflight_max);
          slot = (pr->inflight_start + pr->inflight_count) % pr->inflight_max;
          pr->inflight[slot] = last;
          pr->inflight_count++;
        }
    }
  else if (pr->state == RAFT_PROGRESS_PROBE)
    pr->probe_sent = TRUE;
}

gboolean
raft_progress_window_full (const RaftProgress *pr)
{
  return pr->inflight_count >= pr->inflight_max;
}

gboolean
raft_progress_is_paused (const RaftProgress *pr)
{
  switch (pr->state)
    {
    case RAFT_PROGRESS_PROBE:
      return pr->probe_sent;
    case RAFT_PROGRESS_REPLICATE:
      return raft_progress_window_full (pr);
    case RAFT_PROGRESS_SNAPSHOT:
    default:
      return TRUE;
    }
}

void
raft_progress_free_to (RaftProgress *pr, guint64 index)
{
  while (pr->inflight_count > 0 && pr->inflight[pr->inflight_start] <= index)
    {
      pr->inflight_start = (pr->inflight_start + 1) % pr->inflight_max;
      pr->inflight_count--;
    }
}

const char *
raft_progress_state_name (RaftProgressState state)
{
  switch (state)
    {
    case RAFT_PROGRESS_PROBE: return "probe";
    case RAFT_PROGRESS_REPLICATE: return "replicate";
    case RAFT_PROGRESS_SNAPSHOT: return "snapshot";
    default: return "?";
    }
}

void
raft_progress_free_first (RaftProgress *pr)
{
  if (pr->inflight_count == 0)
    return;
  pr->inflight_start = (pr->inflight_start + 1) % pr->inflight_max;
  pr->inflight_count--;
}
