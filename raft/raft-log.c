/* raft-log.c — the Raft core's in-memory log after the snapshot. */
#include "config.h"
#include "raft-log.h"

static void
entry_array_clear (gpointer p)
{
  raft_entry_clear (p);
}

void
raft_log_init (RaftLog *log, guint64 snap_index, guint64 snap_term)
{
  log->snap_index = snap_index;
  log->snap_term = snap_term;
  log->entries = g_array_new (FALSE, TRUE, sizeof (RaftEntry));
  g_array_set_clear_func (log->entries, entry_array_clear);
  log->committed = snap_index;
  log->applied = snap_index;
  log->unstable = snap_index + 1;
}

void
raft_log_clear (RaftLog *log)
{
  g_clear_pointer (&log->entries, g_array_unref);
}

guint64
raft_log_first_index (const RaftLog *log)
{
  return log->snap_index + 1;
}

guint64
raft_log_last_index (const RaftLog *log)
{
  return log->snap_index + log->entries->len;
}

guint64
raft_log_last_term (const RaftLog *log)
{
  if (log->entries->len == 0)
    return log->snap_term;
  return g_array_index (log->entries, RaftEntry, log->entries->len - 1).term;
}

const RaftEntry *
raft_log_get (const RaftLog *log, guint64 index)
{
  if (index <= log->snap_index || index > raft_log_last_index (log))
    return NULL;
  return &g_array_index (log->entries, RaftEntry, index - log->snap_index - 1);
}

gboolean
raft_log_term (const RaftLog *log, guint64 index, guint64 *term)
{
  const RaftEntry *e;
  if (index == log->snap_index)
    {
      *term = log->snap_term;
      return TRUE;
    }
  e = raft_log_get (log, index);
  if (!e)
    return FALSE;
  *term = e->term;
  return TRUE;
}

guint64
raft_log_term_or_zero (const RaftLog *log, guint64 index)
{
  guint64 t = 0;
  return raft_log_term (log, index, &t) ? t : 0;
}

gboolean
raft_log_matches (const RaftLog *log, guint64 index, guint64 term)
{
  guint64 t;
  return raft_log_term (log, index, &t) && t == term;
}

/* Raft §5.4.1: a candidate's log is at least as up to date as ours. */
gboolean
raft_log_is_up_to_date (const RaftLog *log, guint64 last_index, guint64 last_term)
{
  guint64 my_term = raft_log_last_term (log);
  return last_term > my_term
         || (last_term == my_term && last_index >= raft_log_last_index (log));
}

void
raft_log_append (RaftLog *log, const RaftEntry *entry)
{
  RaftEntry copy = raft_entry_copy (entry);
  g_assert (entry->index == raft_log_last_index (log) + 1);
  g_array_append_val (log->entries, copy);
}

void
raft_log_truncate_after (RaftLog *log, guint64 index)
{
  g_assert (index >= log->snap_index);
  if (index >= raft_log_last_index (log))
    return;
  /* Committed entries are never rewritten (Log Matching + Leader Completeness). */
  g_assert (index >= log->committed);
  g_array_set_size (log->entries, (guint) (index - log->snap_index));
  if (log->unstable > index + 1)
    log->unstable = index + 1;
}

guint64
raft_log_merge (RaftLog *log, const RaftEntry *entries, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      const RaftEntry *e = &entries[i];
      guint64 t;
      if (e->index <= log->snap_index)
        continue;                    /* covered by our snapshot */
      if (raft_log_term (log, e->index, &t))
        {
          if (t == e->term)
            continue;
          raft_log_truncate_after (log, e->index - 1);
        }
      for (guint j = i; j < n; j++)
        raft_log_append (log, &entries[j]);
      return e->index;
    }
  return 0;
}

guint64
raft_log_find_conflict_by_term (const RaftLog *log, guint64 index, guint64 term)
{
  guint64 last = raft_log_last_index (log);
  if (index > last)
    index = last;
  while (index > log->snap_index)
    {
      const RaftEntry *e = raft_log_get (log, index);
      if (e->term <= term)
        return index;
      index--;
    }
  return index;
}

void
raft_log_compact (RaftLog *log, guint64 index, guint64 term)
{
  guint64 drop;
  if (index <= log->snap_index)
    return;
  g_assert (index <= raft_log_last_index (log));
  drop = index - log->snap_index;
  g_array_remove_range (log->entries, 0, (guint) drop);
  log->snap_index = index;
  log->snap_term = term;
  if (log->unstable < index + 1)
    log->unstable = index + 1;
}

void
raft_log_restore (RaftLog *log, guint64 snap_index, guint64 snap_term)
{
  g_array_set_size (log->entries, 0);
  log->snap_index = snap_index;
  log->snap_term = snap_term;
  log->committed = snap_index;
  log->applied = snap_index;
  log->unstable = snap_index + 1;
}

gboolean
raft_log_commit_to (RaftLog *log, guint64 index)
{
  guint64 last = raft_log_last_index (log);
  if (index > last)
    index = last;
  if (index <= log->committed)
    return FALSE;
  log->committed = index;
  return TRUE;
}
