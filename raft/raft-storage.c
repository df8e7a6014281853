/* raft-storage.c — segmented log files, hard state and snapshots of one
 * Raft node in one directory: appends with group commit (over zeros
 * preallocated in the open segment, or over a compacted segment's old
 * bytes), suffix truncation, prefix compaction, and recovery at open. */
#include "config.h"
#include "raft-storage.h"
#include "raft-segment.h"
#include "raft-hard-state.h"
#include "raft-snapshot-file.h"
#include "minka-compat.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>

#define DEFAULT_SEGMENT_SIZE (8u * 1024 * 1024)
#define DEFAULT_PREALLOC_STEP (1u * 1024 * 1024)
#define ZERO_CHUNK (256u * 1024)   /* zeros are written in writes of this size */
#define CAP_SLACK (64u * 1024)     /* preallocation may pass segment_size by this */
/* raft_storage_prepare fills at most this much per call (then fsyncs), so
 * an append arriving meanwhile waits for little. */
#define PREPARE_CHUNK (256u * 1024)
/* Compacted segments kept to become the next open ones: at most this
 * many (a compaction behind a 16 MiB snapshot frees two 8 MiB segments),
 * named "spare-<n>.tmp" (recovery deletes them, like any other leftover). */
#define MAX_SPARES 4
/* Translatable messages print indexes with %llu (xgettext cannot see
 * through G_GUINT64_FORMAT). */
#define U64(x) ((unsigned long long) (x))

typedef struct {
  guint no;                  /* "spare-<no>.tmp" */
  gint64 len;
} Spare;

typedef struct {
  char *name;
  guint64 first;
  guint64 last;              /* first - 1 while empty */
  gboolean open;
  gint64 size;               /* end of the last record: where the next one goes */
  gint64 alloc;              /* file length (>= size; bytes past size are zeros,
                                or an old segment's bytes if recycled) */
  guint32 salt;              /* non-zero: recycled (see raft-segment.h); every
                                append ends with an end marker (a zero header) */
  GArray *offsets;           /* gint64 per entry */
  GArray *terms;             /* guint64 per entry */
} Segment;

struct _RaftStorage
{
  char *dir;
  RaftStorageOptions opts;
  GPtrArray *segments;       /* Segment*, by index; only the last may be open */
  MinkaFile *open_file;      /* the open segment's file, if any */
  RaftHardState hard;
  guint64 hard_seq;
  RaftSnapshotMeta snapshot;
  guint64 last_index;
  guint64 log_bytes;         /* sum of segment file lengths (zero tails included) */
  GArray *spares;            /* Spare, oldest first */
  guint spare_seq;           /* numbers the spares' names */
  guint8 *zeros;             /* ZERO_CHUNK zero bytes, allocated on first use */
  gint64 prealloc_hold;      /* after a full disk: no zero fill before the open
                                segment's write position passes this */
  GError *broken;            /* set once the on-disk state is uncertain */
  gboolean dir_dirty;        /* a file was created or renamed since the last dir fsync */
  gboolean fail_sync;        /* test hook: segment fsyncs fail */
  RaftStorageStats stats;
  GByteArray *buf;
};

/* ---- segments in memory ---- */

static void
segment_free (gpointer p)
{
  Segment *seg = p;
  g_free (seg->name);
  g_clear_pointer (&seg->offsets, g_array_unref);
  g_clear_pointer (&seg->terms, g_array_unref);
  g_free (seg);
}

static Segment *
segment_new (const char *name, guint64 first, gboolean open)
{
  Segment *seg = g_new0 (Segment, 1);
  seg->name = g_strdup (name);
  seg->first = first;
  seg->last = first - 1;
  seg->open = open;
  seg->offsets = g_array_new (FALSE, FALSE, sizeof (gint64));
  seg->terms = g_array_new (FALSE, FALSE, sizeof (guint64));
  return seg;
}

static Segment *
segment_last (RaftStorage *s)
{
  return s->segments->len ? g_ptr_array_index (s->segments, s->segments->len - 1) : NULL;
}

static Segment *
segment_find (RaftStorage *s, guint64 index)
{
  for (guint i = s->segments->len; i > 0; i--)
    {
      Segment *seg = g_ptr_array_index (s->segments, i - 1);
      if (index >= seg->first && index <= seg->last)
        return seg;
    }
  return NULL;
}

static char *
storage_path (RaftStorage *s, const char *name)
{
  return g_build_filename (s->dir, name, NULL);
}

/* ---- errors ---- */

static gboolean
set_from_file_error (GError **error, GError *local)
{
  gint code = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOSPC)
              ? RAFT_ERROR_NO_SPACE : RAFT_ERROR_IO;
  g_set_error (error, RAFT_ERROR, code, "%s", local->message);
  g_error_free (local);
  return FALSE;
}

/* The state on disk is no longer known: refuse writes until reopened. */
static gboolean
storage_break (RaftStorage *s, GError **error, GError *local, const char *what)
{
  if (!s->broken)
    s->broken = g_error_new (RAFT_ERROR, RAFT_ERROR_IO,
                             _("The Raft log in %s cannot be written until it is reopened (%s: %s)"),
                             s->dir, what, local ? local->message : "failed");
  g_clear_error (&local);
  g_propagate_error (error, g_error_copy (s->broken));
  return FALSE;
}

static gboolean
storage_check_usable (RaftStorage *s, GError **error)
{
  if (!s->broken)
    return TRUE;
  g_propagate_error (error, g_error_copy (s->broken));
  return FALSE;
}

static gboolean
storage_sync_dir (RaftStorage *s, GError **error)
{
  GError *local = NULL;
  if (s->opts.no_sync || !s->dir_dirty)
    return TRUE;
  if (!minka_fsync_dir (s->dir, &local))
    return storage_break (s, error, local, "directory fsync");
  s->stats.dir_fsyncs++;
  s->dir_dirty = FALSE;
  return TRUE;
}

/* ---- recovery ---- */

typedef enum { ACT_DELETE, ACT_ASIDE, ACT_TRUNCATE, ACT_CLOSE } ActionKind;

typedef struct {
  ActionKind kind;
  char *name;
  char *new_name;            /* ACT_CLOSE */
  gint64 offset;             /* ACT_TRUNCATE */
} Action;

typedef struct {
  char *name;
  guint64 first;
  guint64 last;              /* from a closed segment's name */
  gboolean open;
  guint32 salt;              /* from the name; 0: none */
} SegmentFile;

typedef struct {
  RaftStorage *s;
  GArray *actions;           /* Action */
  GPtrArray *problems;       /* char*: what is wrong, with file, offset, indexes */
  GPtrArray *fixes;          /* const char*: the repair planned for each problem */
  GPtrArray *seg_files;      /* SegmentFile* */
  GArray *snap_indexes;      /* guint64 */
  GPtrArray *tmp_files;      /* char* */
  GArray *entries;           /* RaftEntry */
} Recovery;

static void
action_clear (gpointer p)
{
  Action *a = p;
  g_free (a->name);
  g_free (a->new_name);
}

static void
segment_file_free (gpointer p)
{
  SegmentFile *f = p;
  g_free (f->name);
  g_free (f);
}

static void
recovery_plan (Recovery *r, ActionKind kind, const char *name, gint64 offset,
               const char *new_name)
{
  Action a = { kind, g_strdup (name), g_strdup (new_name), offset };
  g_array_append_val (r->actions, a);
}

/* Records a problem (taking @problem) and the repair planned for it. */
static void
recovery_report (Recovery *r, const char *fix, char *problem)
{
  g_ptr_array_add (r->problems, problem);
  g_ptr_array_add (r->fixes, (gpointer) fix);
}

static gint
segment_file_cmp (gconstpointer a, gconstpointer b)
{
  const SegmentFile *x = *(SegmentFile * const *) a, *y = *(SegmentFile * const *) b;
  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  return (x->open ? 1 : 0) - (y->open ? 1 : 0);
}

static gint
u64_cmp_desc (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? 1 : x > y ? -1 : 0;
}

static gboolean
recovery_list_dir (Recovery *r, GError **error)
{
  GError *local = NULL;
  GDir *d = g_dir_open (r->s->dir, 0, &local);
  const char *name;
  if (!d)
    return set_from_file_error (error, local);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      guint64 first, last, index;
      gboolean open;
      guint32 salt;
      if (raft_segment_name_parse (name, &first, &last, &open, &salt))
        {
          SegmentFile *f = g_new0 (SegmentFile, 1);
          f->name = g_strdup (name);
          f->first = first;
          f->last = last;
          f->open = open;
          f->salt = salt;
          g_ptr_array_add (r->seg_files, f);
        }
      else if (raft_snapshot_file_name_parse (name, &index))
        g_array_append_val (r->snap_indexes, index);
      else if (g_str_has_suffix (name, ".tmp"))
        g_ptr_array_add (r->tmp_files, g_strdup (name));
    }
  g_dir_close (d);
  g_ptr_array_sort (r->seg_files, segment_file_cmp);
  g_array_sort (r->snap_indexes, u64_cmp_desc);
  return TRUE;
}

/* Picks the newest snapshot that verifies; newer broken ones are moved
 * aside, older ones deleted. */
static void
recovery_snapshot (Recovery *r, char **chosen_path)
{
  RaftStorage *s = r->s;
  gboolean found = FALSE;
  for (guint i = 0; i < r->snap_indexes->len; i++)
    {
      guint64 index = g_array_index (r->snap_indexes, guint64, i);
      g_autofree char *name = raft_snapshot_file_name (index);
      g_autofree char *path = storage_path (s, name);
      GError *local = NULL;
      if (found)
        {
          recovery_plan (r, ACT_DELETE, name, 0, NULL);
          continue;
        }
      if (raft_snapshot_file_verify (path, &s->snapshot, &local) && s->snapshot.index == index)
        {
          found = TRUE;
          *chosen_path = g_strdup (path);
          continue;
        }
      recovery_report (r, _("moved aside"), g_strdup_printf (
        _("snapshot %s (index %llu) is corrupt (%s)"),
        path, U64 (index), local ? local->message : _("its index does not match its name")));
      g_clear_error (&local);
      raft_snapshot_meta_clear (&s->snapshot);
      recovery_plan (r, ACT_ASIDE, name, 0, NULL);
    }
}

/* Moves aside segment files [from, end) that come after lost entries. */
static void
recovery_drop_rest (Recovery *r, guint from)
{
  guint n = r->seg_files->len - from;
  if (n == 0)
    return;
  for (guint j = from; j < r->seg_files->len; j++)
    {
      SegmentFile *f = g_ptr_array_index (r->seg_files, j);
      recovery_plan (r, ACT_ASIDE, f->name, 0, NULL);
    }
  SegmentFile *a = g_ptr_array_index (r->seg_files, from);
  SegmentFile *b = g_ptr_array_index (r->seg_files, r->seg_files->len - 1);
  recovery_report (r, g_dngettext (GETTEXT_PACKAGE, "moved aside", "all moved aside", n),
                   g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                 "%u segment file follows the missing entries (%s)",
                                                 "%u segment files follow the missing entries (%s to %s)",
                                                 n), n, a->name, b->name));
}

/* @alloc: the file length once the planned actions are applied. */
static void
recovery_keep (Recovery *r, SegmentFile *f, RaftSegmentScan *scan, gboolean open, gsize alloc)
{
  Segment *seg = segment_new (f->name, f->first, open);
  g_array_append_vals (seg->offsets, scan->offsets->data, scan->offsets->len);
  g_array_append_vals (seg->terms, scan->terms->data, scan->terms->len);
  seg->last = f->first + scan->n_records - 1;
  seg->size = (gint64) scan->valid_end;
  seg->alloc = (gint64) alloc;
  seg->salt = f->salt;
  g_ptr_array_add (r->s->segments, seg);
  r->s->log_bytes += alloc;
}

/* Handles one segment file; returns FALSE when it and the rest are lost. */
static gboolean
recovery_segment (Recovery *r, guint i, GError **error)
{
  RaftStorage *s = r->s;
  SegmentFile *f = g_ptr_array_index (r->seg_files, i);
  gboolean is_last = i + 1 == r->seg_files->len;
  g_autofree char *path = storage_path (s, f->name);
  g_autofree char *contents = NULL;
  gsize len = 0;
  GError *local = NULL;
  Segment *prev = segment_last (s);
  guint64 expect = prev ? prev->last + 1 : s->snapshot.index + 1;

  if (!f->open && f->last <= s->snapshot.index)
    {
      recovery_plan (r, ACT_DELETE, f->name, 0, NULL);   /* compacted away */
      return TRUE;
    }
  if (!g_file_get_contents (path, &contents, &len, &local))
    return set_from_file_error (error, local);

  GArray *entries = g_array_new (FALSE, FALSE, sizeof (RaftEntry));
  g_array_set_clear_func (entries, (GDestroyNotify) raft_entry_clear);
  RaftSegmentScan scan;
  raft_segment_scan ((const guint8 *) contents, len, f->first, f->salt, s->snapshot.index,
                     entries, &scan);
  guint64 scan_last = f->first + scan.n_records - 1;
  gboolean keep = TRUE;
  /* A recycled segment ends at an end marker, its old bytes after it. */
  gboolean marker_end = f->salt != 0 && scan.end_marker;

  if (f->open && (scan.n_records == 0 || scan_last <= s->snapshot.index))
    {
      if (scan.damaged && !marker_end)
        recovery_report (r, _("removed"), g_strdup_printf (
          _("open segment %s holds no usable entry (%s at offset %llu)"),
          path, scan.why, U64 (scan.valid_end)));
      recovery_plan (r, ACT_DELETE, f->name, 0, NULL);
      goto out;
    }
  if (prev && f->first < expect)
    {
      /* Not produced by this code (renames are atomic); keep the first copy. */
      recovery_report (r, _("moved aside"), g_strdup_printf (
        _("segment %s overlaps the previous one (starts at %llu, expected %llu)"),
        path, U64 (f->first), U64 (expect)));
      recovery_plan (r, ACT_ASIDE, f->name, 0, NULL);
      goto out;
    }
  if (f->first > expect)
    {
      recovery_report (r, _("the log ends before them"), g_strdup_printf (
        _("entries %llu..%llu are missing before segment %s"),
        U64 (expect), U64 (f->first - 1), path));
      recovery_drop_rest (r, i);
      keep = FALSE;
      goto out;
    }
  if (f->open && scan.damaged && is_last)
    {
      /* After an end marker come the old bytes of a recycled segment: cut
       * them too, without a report (it is how such a segment ends). */
      if (!marker_end)
        recovery_report (r, _("truncated there"), g_strdup_printf (
          _("open segment %s: torn tail at offset %llu (%s) after index %llu"),
          path, U64 (scan.valid_end), scan.why, U64 (scan_last)));
      recovery_plan (r, ACT_TRUNCATE, f->name, (gint64) scan.valid_end, NULL);
    }
  else if ((scan.damaged && !marker_end) || (!f->open && scan_last != f->last))
    {
      recovery_report (r, _("moved aside"), g_strdup_printf (
        _("segment %s is corrupt at offset %llu (record for index %llu: %s); "
          "it held entries %llu..%llu"),
        path, U64 (scan.valid_end), U64 (scan_last + 1),
        scan.damaged ? scan.why : _("fewer entries than its name says"),
        U64 (f->first), U64 (f->open ? scan_last : f->last)));
      recovery_plan (r, ACT_ASIDE, f->name, 0, NULL);
      recovery_drop_rest (r, i + 1);
      keep = FALSE;
      goto out;
    }
  gsize alloc = scan.valid_end;
  if (f->open && is_last && scan.zero_tail)
    alloc = len;   /* preallocated space: the next append overwrites it */
  else if (!f->open && (scan.zero_tail || marker_end))
    {
      /* Closes cut the file before renaming it, so this is unexpected,
       * but every record checked: only the zeros go. */
      recovery_report (r, _("truncated there"), g_strdup_printf (
        _("closed segment %s has %llu zero bytes after its last record (offset %llu)"),
        path, U64 (len - scan.valid_end), U64 (scan.valid_end)));
      recovery_plan (r, ACT_TRUNCATE, f->name, (gint64) scan.valid_end, NULL);
    }
  else if (scan.zero_tail || marker_end)   /* an open segment about to be closed */
    recovery_plan (r, ACT_TRUNCATE, f->name, (gint64) scan.valid_end, NULL);
  if (f->open && !is_last)
    {
      char *closed = raft_segment_name_closed (f->first, scan_last, f->salt);
      recovery_plan (r, ACT_CLOSE, f->name, 0, closed);
      g_free (f->name);
      f->name = closed;
    }
  recovery_keep (r, f, &scan, f->open && is_last, alloc);
  g_array_append_vals (r->entries, entries->data, entries->len);
  g_array_set_clear_func (entries, NULL);   /* ownership moved to r->entries */
  g_array_set_size (entries, 0);

out:
  g_array_unref (entries);
  raft_segment_scan_clear (&scan);
  return keep;
}

/* Entries that disagree with the snapshot at its index are a stale
 * history (a crash during a snapshot install): drop them. */
static void
recovery_check_snapshot_term (Recovery *r)
{
  RaftStorage *s = r->s;
  Segment *seg = segment_find (s, s->snapshot.index);
  if (!seg || s->snapshot.index == 0)
    return;
  guint64 term = g_array_index (seg->terms, guint64, s->snapshot.index - seg->first);
  if (term == s->snapshot.term)
    return;
  recovery_report (r, _("the log was discarded"), g_strdup_printf (
    _("log entry %llu has term %llu but the snapshot says %llu"),
    U64 (s->snapshot.index), U64 (term), U64 (s->snapshot.term)));
  for (guint i = 0; i < s->segments->len; i++)
    {
      Segment *x = g_ptr_array_index (s->segments, i);
      recovery_plan (r, ACT_DELETE, x->name, 0, NULL);
    }
  g_ptr_array_set_size (s->segments, 0);
  g_array_set_size (r->entries, 0);
  s->log_bytes = 0;
}

static gboolean
recovery_apply_one (Recovery *r, Action *a, GError **error)
{
  g_autofree char *path = storage_path (r->s, a->name);
  GError *local = NULL;
  switch (a->kind)
    {
    case ACT_DELETE:
      if (g_unlink (path) != 0)
        g_warning ("cannot remove %s", path);
      return TRUE;
    case ACT_ASIDE:
      {
        g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
        if (g_rename (path, aside) != 0)
          {
            g_set_error (error, RAFT_ERROR, RAFT_ERROR_IO, "cannot rename %s to %s", path, aside);
            return FALSE;
          }
        return TRUE;
      }
    case ACT_CLOSE:
      {
        g_autofree char *closed = storage_path (r->s, a->new_name);
        if (g_rename (path, closed) != 0)
          {
            g_set_error (error, RAFT_ERROR, RAFT_ERROR_IO, "cannot rename %s to %s", path, closed);
            return FALSE;
          }
        return TRUE;
      }
    case ACT_TRUNCATE:
      {
        MinkaFile *f = minka_file_open (path, MINKA_FILE_WRITE, &local);
        gboolean ok = f && minka_file_truncate (f, a->offset, &local)
                      && (r->s->opts.no_sync || minka_file_sync (f, &local));
        minka_file_close (f);
        return ok ? TRUE : set_from_file_error (error, local);
      }
    }
  return TRUE;
}

static gboolean
recovery_apply (Recovery *r, GError **error)
{
  GError *local = NULL;
  gboolean changed = r->tmp_files->len > 0 || r->actions->len > 0;
  for (guint i = 0; i < r->tmp_files->len; i++)
    {
      g_autofree char *path = storage_path (r->s, g_ptr_array_index (r->tmp_files, i));
      g_unlink (path);
    }
  for (guint i = 0; i < r->actions->len; i++)
    if (!recovery_apply_one (r, &g_array_index (r->actions, Action, i), error))
      return FALSE;
  if (changed && !r->s->opts.no_sync && !minka_fsync_dir (r->s->dir, &local))
    return set_from_file_error (error, local);
  return TRUE;
}

/* Refuses to start if entries at or below the commit index are gone. */
static gboolean
recovery_check_loss (Recovery *r, GError **error)
{
  RaftStorage *s = r->s;
  Segment *last = segment_last (s);
  guint64 durable = MAX (s->snapshot.index, last ? last->last : 0);
  if (s->hard.commit <= durable)
    return TRUE;
  g_autofree char *details = NULL;
  g_ptr_array_add (r->problems, NULL);
  details = g_strjoinv ("; ", (char **) r->problems->pdata);
  g_ptr_array_remove_index (r->problems, r->problems->len - 1);
  g_set_error (error, RAFT_ERROR, RAFT_ERROR_DATA_LOSS,
               _("Refusing to start: the Raft storage in %s would lose committed entries "
                 "%llu..%llu (commit index %llu, the intact log and snapshot end at %llu): "
                 "%s. Nothing was changed on disk."),
               s->dir, U64 (durable + 1), U64 (s->hard.commit), U64 (s->hard.commit),
               U64 (durable), details && *details ? details : _("no damaged file found"));
  return FALSE;
}

static gboolean
recovery_open_tail (RaftStorage *s, GError **error)
{
  GError *local = NULL;
  Segment *last = segment_last (s);
  s->last_index = last ? MAX (last->last, s->snapshot.index) : s->snapshot.index;
  if (!last || !last->open)
    return TRUE;
  g_autofree char *path = storage_path (s, last->name);
  s->open_file = minka_file_open (path, MINKA_FILE_READ | MINKA_FILE_WRITE, &local);
  return s->open_file ? TRUE : set_from_file_error (error, local);
}

static gboolean
storage_recover (RaftStorage *s, char **snapshot_path, Recovery *r, GError **error)
{
  if (!recovery_list_dir (r, error))
    return FALSE;
  if (!raft_hard_state_load (s->dir, &s->hard, &s->hard_seq, error))
    return FALSE;
  recovery_snapshot (r, snapshot_path);
  for (guint i = 0; i < r->seg_files->len; i++)
    {
      GError *local = NULL;
      if (!recovery_segment (r, i, &local))
        {
          if (local)
            {
              g_propagate_error (error, local);
              return FALSE;
            }
          break;
        }
    }
  recovery_check_snapshot_term (r);
  return recovery_check_loss (r, error) && recovery_apply (r, error)
         && recovery_open_tail (s, error);
}

void
raft_storage_recovery_clear (RaftStorageRecovery *recovery)
{
  raft_snapshot_meta_clear (&recovery->snapshot);
  g_clear_pointer (&recovery->snapshot_path, g_free);
  g_clear_pointer (&recovery->entries, g_array_unref);
  g_clear_pointer (&recovery->repairs, g_ptr_array_unref);
  memset (recovery, 0, sizeof *recovery);
}

RaftStorage *
raft_storage_open (const char *dir, const RaftStorageOptions *options,
                   RaftStorageRecovery *recovery, GError **error)
{
  RaftStorage *s = g_new0 (RaftStorage, 1);
  Recovery r = { 0 };
  char *snap_path = NULL;

  s->dir = g_strdup (dir);
  if (options)
    s->opts = *options;
  if (s->opts.segment_size == 0)
    s->opts.segment_size = DEFAULT_SEGMENT_SIZE;
  if (s->opts.prealloc_step == 0)
    s->opts.prealloc_step = DEFAULT_PREALLOC_STEP;
  s->opts.prealloc_step = MIN (s->opts.prealloc_step, s->opts.segment_size);
  s->segments = g_ptr_array_new_with_free_func (segment_free);
  s->spares = g_array_new (FALSE, FALSE, sizeof (Spare));
  s->buf = g_byte_array_new ();
  r.s = s;
  r.actions = g_array_new (FALSE, FALSE, sizeof (Action));
  g_array_set_clear_func (r.actions, action_clear);
  r.problems = g_ptr_array_new_with_free_func (g_free);
  r.fixes = g_ptr_array_new ();
  r.seg_files = g_ptr_array_new_with_free_func (segment_file_free);
  r.snap_indexes = g_array_new (FALSE, FALSE, sizeof (guint64));
  r.tmp_files = g_ptr_array_new_with_free_func (g_free);
  r.entries = g_array_new (FALSE, FALSE, sizeof (RaftEntry));
  g_array_set_clear_func (r.entries, (GDestroyNotify) raft_entry_clear);

  gboolean ok = TRUE;
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_IO, _("Cannot create directory %s"), dir);
      ok = FALSE;
    }
  ok = ok && storage_recover (s, &snap_path, &r, error);
  GPtrArray *repairs = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; ok && i < r.problems->len; i++)
    {
      char *line = g_strdup_printf ("%s: %s", (char *) g_ptr_array_index (r.problems, i),
                                    (char *) g_ptr_array_index (r.fixes, i));
      g_message ("Raft storage recovery: %s", line);
      g_ptr_array_add (repairs, line);
    }
  if (ok && recovery)
    {
      memset (recovery, 0, sizeof *recovery);
      recovery->hard_state = s->hard;
      recovery->snapshot = s->snapshot;
      recovery->snapshot.config = raft_config_copy (&s->snapshot.config);
      recovery->snapshot_path = g_steal_pointer (&snap_path);
      recovery->entries = g_steal_pointer (&r.entries);
      recovery->repairs = g_steal_pointer (&repairs);
    }
  g_free (snap_path);
  g_clear_pointer (&r.entries, g_array_unref);
  g_clear_pointer (&repairs, g_ptr_array_unref);
  g_ptr_array_unref (r.problems);
  g_ptr_array_unref (r.fixes);
  g_array_unref (r.actions);
  g_ptr_array_unref (r.seg_files);
  g_array_unref (r.snap_indexes);
  g_ptr_array_unref (r.tmp_files);
  if (!ok)
    {
      raft_storage_close (s);
      return NULL;
    }
  return s;
}

void
raft_storage_close (RaftStorage *s)
{
  if (!s)
    return;
  minka_file_close (s->open_file);
  g_ptr_array_unref (s->segments);
  raft_snapshot_meta_clear (&s->snapshot);
  g_clear_error (&s->broken);
  g_byte_array_unref (s->buf);
  g_array_unref (s->spares);
  g_free (s->zeros);
  g_free (s->dir);
  g_free (s);
}

/* ---- appending ---- */

static const guint8 end_marker[RAFT_SEGMENT_HEADER_SIZE];   /* all zero */

static char *
spare_path (RaftStorage *s, guint no)
{
  g_autofree char *name = g_strdup_printf ("spare-%u.tmp", no);
  return storage_path (s, name);
}

/* Makes the oldest spare the open segment at @path: its first bytes become
 * an end marker, fsynced at once (once per segment), so that a crash while
 * the writer idles does not leave an open segment of old records to
 * report. Returns the file and its length, or NULL (no spare, or it could
 * not be used; then it is gone). */
static MinkaFile *
storage_take_spare (RaftStorage *s, const char *path, gint64 *len)
{
  if (s->spares->len == 0)
    return NULL;
  Spare spare = g_array_index (s->spares, Spare, 0);
  g_array_remove_index (s->spares, 0);
  g_autofree char *from = spare_path (s, spare.no);
  if (g_rename (from, path) != 0)
    {
      g_unlink (from);
      return NULL;
    }
  MinkaFile *file = minka_file_open (path, MINKA_FILE_READ | MINKA_FILE_WRITE, NULL);
  if (file && minka_file_write_all (file, end_marker, sizeof end_marker, NULL)
      && (s->opts.no_sync || minka_file_sync (file, NULL)))
    {
      *len = spare.len;
      return file;
    }
  minka_file_close (file);
  g_unlink (path);
  return NULL;
}

/* Gives the spares' space back (a full disk, or a simulated size set). */
static void
storage_drop_spares (RaftStorage *s)
{
  for (guint i = 0; i < s->spares->len; i++)
    {
      g_autofree char *path = spare_path (s, g_array_index (s->spares, Spare, i).no);
      g_unlink (path);
    }
  g_array_set_size (s->spares, 0);
}

static gboolean
storage_open_segment (RaftStorage *s, GError **error)
{
  GError *local = NULL;
  Segment *last = segment_last (s);
  if (last && last->open)
    return TRUE;
  guint64 first = s->last_index + 1;
  gint64 spare_len = 0;
  guint32 salt = s->spares->len > 0 ? (g_random_int () | 1) : 0;
  g_autofree char *name = raft_segment_name_open (first, salt);
  g_autofree char *path = storage_path (s, name);
  s->open_file = storage_take_spare (s, path, &spare_len);
  if (!s->open_file)
    {
      salt = 0;
      spare_len = 0;
      g_free (name);
      g_free (path);
      name = raft_segment_name_open (first, 0);
      path = storage_path (s, name);
      s->open_file = minka_file_open (path, MINKA_FILE_READ | MINKA_FILE_WRITE
                                      | MINKA_FILE_CREATE | MINKA_FILE_TRUNCATE, &local);
      if (!s->open_file)
        return set_from_file_error (error, local);
    }
  Segment *seg = segment_new (name, first, TRUE);
  seg->salt = salt;
  seg->alloc = spare_len;
  s->log_bytes += (guint64) spare_len;
  if (salt != 0)
    s->stats.recycled++;
  g_ptr_array_add (s->segments, seg);
  s->dir_dirty = TRUE;
  s->prealloc_hold = 0;
  return TRUE;
}

/* Renames the open segment (already cut to its last record) to its
 * closed name. */
static void
storage_close_segment (RaftStorage *s)
{
  Segment *seg = segment_last (s);
  g_autofree char *closed = raft_segment_name_closed (seg->first, seg->last, seg->salt);
  g_autofree char *from = storage_path (s, seg->name);
  g_autofree char *to = storage_path (s, closed);
  /* Closed before the rename: Windows cannot rename an open file. */
  minka_file_close (s->open_file);
  s->open_file = NULL;
  if (g_rename (from, to) != 0)
    {
      GError *local = NULL;
      g_warning ("cannot rename %s to %s; it stays open", from, to);
      s->open_file = minka_file_open (from, MINKA_FILE_READ | MINKA_FILE_WRITE, &local);
      if (!s->open_file)
        storage_break (s, NULL, local, "reopen");
      return;
    }
  g_free (seg->name);
  seg->name = g_steal_pointer (&closed);
  seg->open = FALSE;
  s->dir_dirty = TRUE;
}

/* Writes @len bytes at @offset of the open segment @seg, honouring the
 * simulated disk size (only bytes past the file's end take space), and
 * keeps the file length and log_bytes up to date. */
static gboolean
storage_write (RaftStorage *s, Segment *seg, gint64 offset, const guint8 *data, gsize len,
               GError **error)
{
  gint64 end = offset + (gint64) len;
  guint64 grow = end > seg->alloc ? (guint64) (end - seg->alloc) : 0;
  gsize allowed = len;
  gboolean full = FALSE;
  if (s->opts.byte_limit && s->log_bytes + grow > s->opts.byte_limit)
    {
      guint64 room = s->log_bytes < s->opts.byte_limit ? s->opts.byte_limit - s->log_bytes : 0;
      guint64 inside = seg->alloc > offset ? (guint64) (seg->alloc - offset) : 0;
      allowed = (gsize) (inside + room);
      full = TRUE;
    }
  if (!minka_file_seek (s->open_file, offset, error)
      || !minka_file_write_all (s->open_file, data, allowed, error))
    return FALSE;
  if (offset + (gint64) allowed > seg->alloc)
    {
      s->log_bytes += (guint64) (offset + (gint64) allowed - seg->alloc);
      seg->alloc = offset + (gint64) allowed;
    }
  if (full)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC,
                   "write %s: No space left on device (simulated)", s->dir);
      return FALSE;
    }
  return TRUE;
}

/* Truncates the open segment @seg to @length (not below its last record
 * unless the caller adjusts the records too). */
static gboolean
storage_cut (RaftStorage *s, Segment *seg, gint64 length, GError **error)
{
  if (!minka_file_truncate (s->open_file, length, error))
    return FALSE;
  s->log_bytes = s->log_bytes + (guint64) length - (guint64) seg->alloc;
  seg->alloc = length;
  return TRUE;
}

/* Writes zeros from the end of the open segment @seg up to @target, with
 * no fsync. On failure the file is cut back to its old length and later
 * fills wait until another step has been written (a full disk must not
 * cost a failed fill on every append). */
static gboolean
storage_zero_fill (RaftStorage *s, Segment *seg, gint64 target, GError **error)
{
  gint64 old = seg->alloc;
  GError *local = NULL;
  if (!s->zeros)
    s->zeros = g_malloc0 (ZERO_CHUNK);
  while (seg->alloc < target)
    {
      gsize n = (gsize) MIN ((gint64) ZERO_CHUNK, target - seg->alloc);
      if (!storage_write (s, seg, seg->alloc, s->zeros, n, &local))
        {
          GError *undo = NULL;
          s->prealloc_hold = seg->size + (gint64) s->opts.prealloc_step;
          if (!storage_cut (s, seg, old, &undo))
            {
              g_clear_error (&local);
              return storage_break (s, error, undo, "truncate");
            }
          return set_from_file_error (error, local);
        }
    }
  s->stats.prealloc_bytes += (guint64) (target - old);
  return TRUE;
}

static gint64
storage_prealloc_cap (RaftStorage *s)
{
  return (gint64) (s->opts.segment_size + MIN (CAP_SLACK, s->opts.segment_size / 8));
}

/* How far the open segment is zero-filled: a step beyond @from, but not
 * much past segment_size (the segment is closed there). */
static gint64
storage_prealloc_target (RaftStorage *s, gint64 from)
{
  return MIN (from + (gint64) s->opts.prealloc_step, storage_prealloc_cap (s));
}

/* Bytes raft_storage_prepare should zero-fill now in @seg: a whole chunk
 * once that much is missing from a step ahead (no fsync for a few bytes),
 * the rest at the segment's end. */
static gint64
storage_fill_wanted (RaftStorage *s, Segment *seg)
{
  gint64 target = storage_prealloc_target (s, seg->size);
  gint64 chunk = MIN ((gint64) PREPARE_CHUNK, MAX ((gint64) s->opts.prealloc_step / 2, 1));
  gint64 missing = target - seg->alloc;
  if (seg->size < s->prealloc_hold || missing <= 0
      || (missing < chunk && target < storage_prealloc_cap (s)))
    return 0;
  return MIN (missing, chunk);
}

/* fsync of the open segment that is not an append's (fills, closes). */
static gboolean
storage_sync_extra (RaftStorage *s, GError **error)
{
  GError *local = NULL;
  if (s->opts.no_sync && !s->fail_sync)
    return TRUE;
  if (s->fail_sync)
    local = g_error_new (G_FILE_ERROR, G_FILE_ERROR_IO, "fsync %s: simulated failure", s->dir);
  if (local || !minka_file_sync (s->open_file, &local))
    return storage_break (s, error, local, "fsync");
  s->stats.prealloc_fsyncs++;
  return TRUE;
}

/* Closes the open segment once it has reached segment_size: cuts the zero
 * tail, makes the length durable (a closed segment must never come back
 * with zeros after its records), then renames it. */
static gboolean
storage_roll (RaftStorage *s, GError **error)
{
  GError *local = NULL;
  Segment *seg = segment_last (s);
  if (!seg || !seg->open || (guint64) seg->size < s->opts.segment_size)
    return TRUE;
  if (seg->alloc > seg->size)
    {
      if (!storage_cut (s, seg, seg->size, &local))
        return storage_break (s, error, local, "truncate");
      if (!storage_sync_extra (s, error))
        return FALSE;
    }
  storage_close_segment (s);
  return storage_check_usable (s, error);
}

static gboolean
storage_check_batch (RaftStorage *s, const RaftEntry *entries, guint n, GError **error)
{
  guint64 prev_term = 0;
  raft_storage_term (s, s->last_index, &prev_term);
  for (guint i = 0; i < n; i++)
    {
      if (entries[i].index != s->last_index + 1 + i || entries[i].term < prev_term
          || (entries[i].data && g_bytes_get_size (entries[i].data) > RAFT_SEGMENT_MAX_DATA))
        {
          g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                       "append: entry %" G_GUINT64_FORMAT " (term %" G_GUINT64_FORMAT
                       ") does not follow index %" G_GUINT64_FORMAT " term %" G_GUINT64_FORMAT
                       " or is too large", entries[i].index, entries[i].term,
                       s->last_index + i, prev_term);
          return FALSE;
        }
      prev_term = entries[i].term;
    }
  return TRUE;
}

static gboolean
storage_sync_segment (RaftStorage *s, GError **error)
{
  GError *local = NULL;
  if (s->opts.no_sync && !s->fail_sync)
    return TRUE;
  gint64 t0 = g_get_monotonic_time ();
  if (s->fail_sync)
    local = g_error_new (G_FILE_ERROR, G_FILE_ERROR_IO, "fsync %s: simulated failure", s->dir);
  if (local || !minka_file_sync (s->open_file, &local))
    return storage_break (s, error, local, "fsync");
  s->stats.fsync_usec += (guint64) (g_get_monotonic_time () - t0);
  s->stats.fsyncs++;
  return TRUE;
}

/* An append that grows the file pays for a journal commit anyway: zeros
 * written behind it ride on the same fsync, so the next appends overwrite.
 * A failure only loses the zeros. */
static gboolean
storage_fill_behind (RaftStorage *s, Segment *seg, gint64 end, GError **error)
{
  GError *local = NULL;
  if (s->opts.no_prealloc || (guint64) end >= s->opts.segment_size || end < s->prealloc_hold)
    return TRUE;
  if (storage_zero_fill (s, seg, storage_prealloc_target (s, end), &local))
    return TRUE;
  g_clear_error (&local);
  return storage_check_usable (s, error);
}

gboolean
raft_storage_append (RaftStorage *s, const RaftEntry *entries, guint n, GError **error)
{
  GError *local = NULL;
  if (!storage_check_usable (s, error) || !storage_check_batch (s, entries, n, error))
    return FALSE;
  if (n == 0)
    return TRUE;
  if (!storage_roll (s, error) || !storage_open_segment (s, error))
    return FALSE;
  Segment *seg = segment_last (s);
  gint64 base = seg->size;
  GArray *offsets = g_array_sized_new (FALSE, FALSE, sizeof (gint64), n);
  g_byte_array_set_size (s->buf, 0);
  for (guint i = 0; i < n; i++)
    {
      gint64 off = base + s->buf->len;
      g_array_append_val (offsets, off);
      raft_segment_record_append (s->buf, &entries[i], seg->salt);
    }
  gsize records_len = s->buf->len;
  gint64 end = base + (gint64) records_len;
  gboolean grows = end > seg->alloc;
  if (seg->salt != 0 && end < seg->alloc)
    g_byte_array_append (s->buf, end_marker,
                         (guint) MIN ((gint64) sizeof end_marker, seg->alloc - end));
  if (!storage_write (s, seg, base, s->buf->data, s->buf->len, &local))
    {
      g_array_unref (offsets);
      /* Roll back to the last durable point so the log stays valid (the
       * zero tail goes too; a later append fills again). */
      GError *undo = NULL;
      if (!storage_cut (s, seg, base, &undo))
        {
          g_clear_error (&undo);
          return storage_break (s, error, local, "write");
        }
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOSPC))
        storage_drop_spares (s);      /* their space lets the retry succeed */
      return set_from_file_error (error, local);
    }
  if ((grows && !storage_fill_behind (s, seg, end, error))
      || !storage_sync_segment (s, error) || !storage_sync_dir (s, error))
    {
      g_array_unref (offsets);
      return FALSE;
    }
  g_array_append_vals (seg->offsets, offsets->data, n);
  for (guint i = 0; i < n; i++)
    g_array_append_val (seg->terms, entries[i].term);
  g_array_unref (offsets);
  seg->last += n;
  seg->size = end;
  s->last_index += n;
  s->stats.appends++;
  s->stats.entries += n;
  s->stats.bytes += records_len;
  /* The full segment is closed by the next append or raft_storage_prepare;
   * without preallocation right away, as it always was. */
  if (s->opts.no_prealloc)
    storage_roll (s, NULL);
  return TRUE;
}

gboolean
raft_storage_prepare (RaftStorage *s, GError **error)
{
  if (!storage_check_usable (s, error))
    return FALSE;
  if (s->opts.no_prealloc)
    return TRUE;
  if (!storage_roll (s, error) || !storage_open_segment (s, error))
    return FALSE;
  Segment *seg = segment_last (s);
  gint64 fill = storage_fill_wanted (s, seg);
  if (fill > 0 && (!storage_zero_fill (s, seg, seg->alloc + fill, error)
                   || !storage_sync_extra (s, error)))
    return FALSE;
  return storage_sync_dir (s, error);
}

gboolean
raft_storage_prepared (RaftStorage *s)
{
  Segment *seg = segment_last (s);
  if (s->broken || s->opts.no_prealloc)
    return TRUE;
  if (!seg || !seg->open || (guint64) seg->size >= s->opts.segment_size)
    return FALSE;
  return storage_fill_wanted (s, seg) == 0 && (s->opts.no_sync || !s->dir_dirty);
}

/* ---- truncation and compaction ---- */

static gboolean
storage_remove_last_segment (RaftStorage *s, GError **error)
{
  Segment *seg = segment_last (s);
  g_autofree char *path = storage_path (s, seg->name);
  if (seg->open)
    {
      minka_file_close (s->open_file);
      s->open_file = NULL;
    }
  if (g_unlink (path) != 0)
    return storage_break (s, error, NULL, "cannot remove a segment");
  s->log_bytes -= (guint64) seg->alloc;
  g_ptr_array_set_size (s->segments, s->segments->len - 1);
  s->dir_dirty = TRUE;
  return TRUE;
}

/* Makes the last (closed) segment the open one again. */
static gboolean
storage_reopen_segment (RaftStorage *s, Segment *seg, GError **error)
{
  GError *local = NULL;
  g_autofree char *name = raft_segment_name_open (seg->first, seg->salt);
  g_autofree char *from = storage_path (s, seg->name);
  g_autofree char *to = storage_path (s, name);
  if (g_rename (from, to) != 0)
    return storage_break (s, error, NULL, "cannot rename a segment");
  g_free (seg->name);
  seg->name = g_steal_pointer (&name);
  seg->open = TRUE;
  s->dir_dirty = TRUE;
  s->open_file = minka_file_open (to, MINKA_FILE_READ | MINKA_FILE_WRITE, &local);
  return s->open_file ? TRUE : storage_break (s, error, local, "open");
}

gboolean
raft_storage_truncate_suffix (RaftStorage *s, guint64 from, GError **error)
{
  GError *local = NULL;
  if (!storage_check_usable (s, error))
    return FALSE;
  if (from > s->last_index)
    return TRUE;
  if (from <= s->snapshot.index || from <= s->hard.commit)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "cannot remove entries from %" G_GUINT64_FORMAT ": snapshot index %"
                   G_GUINT64_FORMAT ", commit index %" G_GUINT64_FORMAT,
                   from, s->snapshot.index, s->hard.commit);
      return FALSE;
    }
  /* Newest files first, so a crash leaves a valid prefix. */
  while (s->segments->len && segment_last (s)->first >= from)
    if (!storage_remove_last_segment (s, error))
      return FALSE;
  Segment *seg = segment_last (s);
  if (seg && seg->last >= from)
    {
      guint keep = (guint) (from - seg->first);
      gint64 off = g_array_index (seg->offsets, gint64, keep);
      if (!seg->open && !storage_reopen_segment (s, seg, error))
        return FALSE;
      /* The zero tail goes too; the next append or prepare fills again. */
      if (!storage_cut (s, seg, off, &local)
          || (!s->opts.no_sync && !minka_file_sync (s->open_file, &local)))
        return storage_break (s, error, local, "truncate");
      g_array_set_size (seg->offsets, keep);
      g_array_set_size (seg->terms, keep);
      seg->size = off;
      seg->last = from - 1;
    }
  s->last_index = from - 1;
  s->prealloc_hold = 0;
  return storage_sync_dir (s, error);
}

/* Keeps compacted segment @seg (at @path) as a spare instead of deleting
 * it: a later open segment is made from it, so appends overwrite
 * allocated, durable bytes (fdatasync then skips the journal) without the
 * zeros that preallocation writes first — a third of the bytes a small
 * write costs the disk. At most MAX_SPARES; none with preallocation off or
 * a simulated disk size. */
static gboolean
storage_keep_spare (RaftStorage *s, Segment *seg, const char *path)
{
  if (s->spares->len >= MAX_SPARES || s->opts.no_prealloc || s->opts.byte_limit
      || (guint64) seg->alloc < s->opts.segment_size)
    return FALSE;
  Spare spare = { s->spare_seq++, seg->alloc };
  g_autofree char *to = spare_path (s, spare.no);
  if (g_rename (path, to) != 0)
    return FALSE;
  g_array_append_val (s->spares, spare);
  return TRUE;
}

gboolean
raft_storage_compact (RaftStorage *s, const RaftSnapshotMeta *snapshot, GError **error)
{
  guint64 term = 0;
  if (!storage_check_usable (s, error))
    return FALSE;
  if (snapshot->index < s->snapshot.index)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                   "compact: snapshot %" G_GUINT64_FORMAT " is older than %" G_GUINT64_FORMAT,
                   snapshot->index, s->snapshot.index);
      return FALSE;
    }
  gboolean matches = raft_storage_term (s, snapshot->index, &term) && term == snapshot->term;
  raft_snapshot_meta_clear (&s->snapshot);
  s->snapshot.index = snapshot->index;
  s->snapshot.term = snapshot->term;
  s->snapshot.config = raft_config_copy (&snapshot->config);
  if (matches)
    {
      /* Oldest first, so a crash leaves a valid suffix. */
      while (s->segments->len)
        {
          Segment *first = g_ptr_array_index (s->segments, 0);
          if (first->open || first->last > snapshot->index)
            break;
          g_autofree char *path = storage_path (s, first->name);
          if (!storage_keep_spare (s, first, path) && g_unlink (path) != 0)
            return storage_break (s, error, NULL, "cannot remove a segment");
          s->log_bytes -= (guint64) first->alloc;
          g_ptr_array_remove_index (s->segments, 0);
          s->dir_dirty = TRUE;
        }
    }
  else
    {
      while (s->segments->len)
        if (!storage_remove_last_segment (s, error))
          return FALSE;
      s->last_index = snapshot->index;
    }
  s->prealloc_hold = 0;
  return storage_sync_dir (s, error);
}

gboolean
raft_storage_save_hard_state (RaftStorage *s, const RaftHardState *state, GError **error)
{
  if (!storage_check_usable (s, error))
    return FALSE;
  if (!raft_hard_state_save (s->dir, &s->hard_seq, state, !s->opts.no_sync, error))
    return FALSE;
  s->hard = *state;
  s->stats.hard_state_saves++;
  return TRUE;
}

/* ---- reading ---- */

static gboolean
storage_read_segment (RaftStorage *s, Segment *seg, guint64 lo, guint64 hi, GArray *out,
                      GError **error)
{
  GError *local = NULL;
  gint64 start = g_array_index (seg->offsets, gint64, lo - seg->first);
  gint64 end = hi < seg->last ? g_array_index (seg->offsets, gint64, hi + 1 - seg->first)
                              : seg->size;
  g_autofree char *path = storage_path (s, seg->name);
  g_autofree guint8 *buf = g_malloc ((gsize) (end - start));
  MinkaFile *file = seg->open ? s->open_file : minka_file_open (path, MINKA_FILE_READ, &local);
  gboolean ok = file && minka_file_pread_all (file, buf, (gsize) (end - start), start, &local);
  if (!seg->open)
    minka_file_close (file);
  if (!ok)
    return set_from_file_error (error, local);
  gsize pos = 0;
  for (guint64 i = lo; i <= hi; i++)
    {
      RaftEntry e = { 0 };
      gsize size = 0;
      if (!raft_segment_record_decode (buf + pos, (gsize) (end - start) - pos, seg->salt, &e,
                                       &size)
          || e.index != i)
        {
          raft_entry_clear (&e);
          g_set_error (error, RAFT_ERROR, RAFT_ERROR_CORRUPT,
                       "segment %s: record for index %" G_GUINT64_FORMAT " at offset %"
                       G_GINT64_FORMAT " is corrupt", path, i, start + (gint64) pos);
          return FALSE;
        }
      g_array_append_val (out, e);
      pos += size;
    }
  return TRUE;
}

gboolean
raft_storage_read (RaftStorage *s, guint64 lo, guint64 hi, GArray *out, GError **error)
{
  guint64 i = lo;
  while (i <= hi)
    {
      Segment *seg = segment_find (s, i);
      if (!seg)
        {
          g_set_error (error, RAFT_ERROR, RAFT_ERROR_INVALID,
                       "entry %" G_GUINT64_FORMAT " is not in the log", i);
          return FALSE;
        }
      guint64 upto = MIN (hi, seg->last);
      if (!storage_read_segment (s, seg, i, upto, out, error))
        return FALSE;
      i = upto + 1;
    }
  return TRUE;
}

/* ---- accessors ---- */

guint64
raft_storage_last_index (RaftStorage *s)
{
  return s->last_index;
}

guint64
raft_storage_first_index (RaftStorage *s)
{
  return s->snapshot.index + 1;
}

gboolean
raft_storage_term (RaftStorage *s, guint64 index, guint64 *term)
{
  if (index == s->snapshot.index)
    {
      *term = s->snapshot.term;
      return TRUE;
    }
  Segment *seg = segment_find (s, index);
  if (!seg)
    return FALSE;
  *term = g_array_index (seg->terms, guint64, index - seg->first);
  return TRUE;
}

const RaftHardState *
raft_storage_hard_state (RaftStorage *s)
{
  return &s->hard;
}

const RaftSnapshotMeta *
raft_storage_snapshot (RaftStorage *s)
{
  return &s->snapshot;
}

const char *
raft_storage_dir (RaftStorage *s)
{
  return s->dir;
}

guint
raft_storage_n_segments (RaftStorage *s)
{
  return s->segments->len;
}

RaftStorageStats
raft_storage_get_stats (RaftStorage *s)
{
  RaftStorageStats stats = s->stats;
  stats.log_bytes = s->log_bytes;
  stats.spare_bytes = 0;
  for (guint i = 0; i < s->spares->len; i++)
    stats.spare_bytes += (guint64) g_array_index (s->spares, Spare, i).len;
  return stats;
}

void
raft_storage_set_byte_limit (RaftStorage *s, guint64 limit)
{
  s->opts.byte_limit = limit;
  s->prealloc_hold = 0;
  storage_drop_spares (s);
}

void
raft_storage_set_fail_sync (RaftStorage *s, gboolean fail)
{
  s->fail_sync = fail;
}
