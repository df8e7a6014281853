/* storage-test-util.h — helpers shared by the Raft storage tests: scratch
 * directories, deterministic entries, raw file edits. Header-only. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <check.h>
#include <string.h>

#include "raft-types.h"
#include "raft-storage.h"
#include "raft-segment.h"
#include "minka-compat.h"

/* Removes @path and everything under it. */
static inline void
util_rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d)
    {
      const char *name;
      while ((name = g_dir_read_name (d)) != NULL)
        {
          char *child = g_build_filename (path, name, NULL);
          util_rm_rf (child);
          g_free (child);
        }
      g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static inline char *
util_tmpdir (void)
{
  char *dir = g_dir_make_tmp ("raft-storage-test-XXXXXX", NULL);
  ck_assert_ptr_nonnull (dir);
  return dir;
}

/* Deterministic payload of entry @index: 0..@max_len bytes. */
static inline GBytes *
util_payload (guint64 index, guint max_len)
{
  guint len = max_len ? (guint) ((index * 2654435761u) % (max_len + 1)) : 0;
  guint8 *buf = g_malloc (len + 1);
  for (guint i = 0; i < len; i++)
    buf[i] = (guint8) (index * 31 + i * 7);
  return len ? g_bytes_new_take (buf, len) : (g_free (buf), NULL);
}

static inline RaftEntry
util_entry (guint64 index, guint64 term, guint max_len)
{
  RaftEntry e = { term, index, RAFT_ENTRY_NORMAL, util_payload (index, max_len) };
  if (!e.data)
    e.type = RAFT_ENTRY_NOOP;
  return e;
}

/* Appends entries [lo, hi] with @term in batches of @batch. */
static inline void
util_append_range (RaftStorage *s, guint64 lo, guint64 hi, guint64 term, guint batch,
                   guint max_len)
{
  GArray *es = g_array_new (FALSE, FALSE, sizeof (RaftEntry));
  g_array_set_clear_func (es, (GDestroyNotify) raft_entry_clear);
  for (guint64 i = lo; i <= hi; i++)
    {
      RaftEntry e = util_entry (i, term, max_len);
      g_array_append_val (es, e);
      if (es->len == batch || i == hi)
        {
          GError *error = NULL;
          gboolean ok = raft_storage_append (s, (RaftEntry *) es->data, es->len, &error);
          ck_assert_msg (ok, "append failed: %s", error ? error->message : "?");
          g_array_set_size (es, 0);
        }
    }
  g_array_unref (es);
}

/* Checks @e is entry @index with @term and the payload util_entry makes. */
static inline void
util_check_entry (const RaftEntry *e, guint64 index, guint64 term, guint max_len)
{
  ck_assert_uint_eq (e->index, index);
  ck_assert_uint_eq (e->term, term);
  GBytes *want = util_payload (index, max_len);
  if (!want)
    ck_assert (e->data == NULL || g_bytes_get_size (e->data) == 0);
  else
    ck_assert (e->data && g_bytes_equal (want, e->data));
  if (want)
    g_bytes_unref (want);
}

static inline RaftStorage *
util_open (const char *dir, const RaftStorageOptions *opts, RaftStorageRecovery *rec)
{
  GError *error = NULL;
  RaftStorage *s = raft_storage_open (dir, opts, rec, &error);
  ck_assert_msg (s != NULL, "open failed: %s", error ? error->message : "?");
  return s;
}

/* Name of the one file in @dir starting with @prefix (NULL if none). */
static inline char *
util_find_file (const char *dir, const char *prefix, const char *suffix)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  char *found = NULL;
  while (d && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, prefix) && g_str_has_suffix (name, suffix)
        && (!found || strcmp (name, found) > 0))
      {
        g_free (found);
        found = g_strdup (name);
      }
  if (d)
    g_dir_close (d);
  return found;
}

static inline guint
util_count_files (const char *dir, const char *suffix)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;
  while (d && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, suffix))
      n++;
  if (d)
    g_dir_close (d);
  return n;
}

static inline void
util_write_file (const char *dir, const char *name, const void *data, gsize len)
{
  /* No fsync (unlike g_file_set_contents): these are simulated crashes. */
  char *path = g_build_filename (dir, name, NULL);
  MinkaFile *f = minka_file_open (path, MINKA_FILE_WRITE | MINKA_FILE_CREATE
                                  | MINKA_FILE_TRUNCATE, NULL);
  ck_assert_ptr_nonnull (f);
  ck_assert (minka_file_write_all (f, data, len, NULL));
  minka_file_close (f);
  g_free (path);
}

static inline guint8 *
util_read_file (const char *dir, const char *name, gsize *len)
{
  char *path = g_build_filename (dir, name, NULL);
  char *data = NULL;
  ck_assert_msg (g_file_get_contents (path, &data, len, NULL), "cannot read %s", path);
  g_free (path);
  return (guint8 *) data;
}

static inline gboolean
util_exists (const char *dir, const char *name)
{
  char *path = g_build_filename (dir, name, NULL);
  gboolean ok = g_file_test (path, G_FILE_TEST_EXISTS);
  g_free (path);
  return ok;
}

static inline gsize
util_file_size (const char *dir, const char *name)
{
  char *path = g_build_filename (dir, name, NULL);
  GStatBuf st;
  ck_assert_msg (g_stat (path, &st) == 0, "cannot stat %s", path);
  g_free (path);
  return (gsize) st.st_size;
}

/* Every closed segment in @dir holds exactly the records its name says
 * and nothing after them (no zero tail). Returns how many there are. */
static inline guint
util_check_closed_segments (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;
  ck_assert_ptr_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      guint64 first, last;
      gboolean is_open;
      guint32 salt;
      if (!raft_segment_name_parse (name, &first, &last, &is_open, &salt) || is_open)
        continue;
      gsize len = 0;
      guint8 *data = util_read_file (dir, name, &len);
      RaftSegmentScan scan;
      raft_segment_scan (data, len, first, salt, 0, NULL, &scan);
      ck_assert_msg (!scan.damaged && !scan.zero_tail && scan.valid_end == len,
                     "%s: %" G_GSIZE_FORMAT " bytes, records end at %" G_GSIZE_FORMAT,
                     name, len, scan.valid_end);
      ck_assert_uint_eq (scan.n_records, last - first + 1);
      raft_segment_scan_clear (&scan);
      g_free (data);
      n++;
    }
  g_dir_close (d);
  return n;
}
