/* raft-snapshot-file.c — streaming snapshot writer and reader. */
#include "config.h"
#include "raft-snapshot-file.h"
#include "raft-crc32c.h"
#include "raft-endian.h"
#include "minka-compat.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>

#define SNAP_MAGIC "MKSNAP01"
#define SNAP_END_MAGIC 0x45534B4Du

struct _RaftSnapshotWriter
{
  char *dir;
  char *tmp_path;
  char *final_path;
  MinkaFile *file;
  guint32 crc;
  guint64 data_len;
  guint64 index;
};

struct _RaftSnapshotReader
{
  char *path;
  MinkaFile *file;
  guint32 crc;
  guint64 data_len;
  guint64 data_read;
  gboolean finished;
};

static gboolean
set_io_error (GError **error, GError *local)
{
  gint code = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOSPC)
              ? RAFT_ERROR_NO_SPACE : RAFT_ERROR_IO;
  g_set_error (error, RAFT_ERROR, code, "%s", local->message);
  g_error_free (local);
  return FALSE;
}

char *
raft_snapshot_file_name (guint64 index)
{
  return g_strdup_printf ("snapshot-%020" G_GUINT64_FORMAT ".snap", index);
}

gboolean
raft_snapshot_file_name_parse (const char *name, guint64 *index)
{
  if (strlen (name) != 9 + 20 + 5 || !g_str_has_prefix (name, "snapshot-")
      || !g_str_has_suffix (name, ".snap"))
    return FALSE;
  char digits[21];
  memcpy (digits, name + 9, 20);
  digits[20] = '\0';
  for (int i = 0; i < 20; i++)
    if (!g_ascii_isdigit (digits[i]))
      return FALSE;
  return g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64, index, NULL);
}

static gboolean
writer_put (RaftSnapshotWriter *w, const void *data, gsize len, GError **error)
{
  GError *local = NULL;
  if (!minka_file_write_all (w->file, data, len, &local))
    return set_io_error (error, local);
  w->crc = raft_crc32c_update (w->crc, data, len);
  return TRUE;
}

static void
writer_free (RaftSnapshotWriter *w, gboolean remove_tmp)
{
  minka_file_close (w->file);
  if (remove_tmp)
    g_unlink (w->tmp_path);
  g_free (w->dir);
  g_free (w->tmp_path);
  g_free (w->final_path);
  g_free (w);
}

RaftSnapshotWriter *
raft_snapshot_writer_new (const char *dir, const RaftSnapshotMeta *meta, GError **error)
{
  GError *local = NULL;
  g_autoptr (GBytes) config = raft_config_encode (&meta->config);
  gsize clen = 0;
  const guint8 *cdata = g_bytes_get_data (config, &clen);
  guint8 header[RAFT_SNAPSHOT_HEADER_SIZE];

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_IO, _("Cannot create directory %s"), dir);
      return NULL;
    }
  RaftSnapshotWriter *w = g_new0 (RaftSnapshotWriter, 1);
  g_autofree char *final_name = raft_snapshot_file_name (meta->index);
  g_autofree char *tmp_name = g_strdup_printf ("snapshot-%020" G_GUINT64_FORMAT ".%08x.tmp",
                                               meta->index, g_random_int ());
  w->dir = g_strdup (dir);
  w->index = meta->index;
  w->final_path = g_build_filename (dir, final_name, NULL);
  w->tmp_path = g_build_filename (dir, tmp_name, NULL);
  w->file = minka_file_open (w->tmp_path, MINKA_FILE_WRITE | MINKA_FILE_CREATE
                             | MINKA_FILE_EXCLUSIVE, &local);
  if (!w->file)
    {
      set_io_error (error, local);
      writer_free (w, FALSE);
      return NULL;
    }
  memset (header, 0, sizeof header);
  memcpy (header, SNAP_MAGIC, 8);
  raft_put_u32 (header + 8, 1);
  raft_put_u32 (header + 12, (guint32) clen);
  raft_put_u64 (header + 16, meta->index);
  raft_put_u64 (header + 24, meta->term);
  raft_put_u32 (header + 32, raft_crc32c (header, 32));
  if (!writer_put (w, header, sizeof header, error) || !writer_put (w, cdata, clen, error))
    {
      writer_free (w, TRUE);
      return NULL;
    }
  return w;
}

gboolean
raft_snapshot_writer_write (RaftSnapshotWriter *writer, const void *data, gsize len,
                            GError **error)
{
  if (!writer_put (writer, data, len, error))
    return FALSE;
  writer->data_len += len;
  return TRUE;
}

gboolean
raft_snapshot_writer_commit (RaftSnapshotWriter *w, char **path_out, GError **error)
{
  GError *local = NULL;
  guint8 trailer[RAFT_SNAPSHOT_TRAILER_SIZE];

  raft_put_u64 (trailer, w->data_len);
  raft_put_u32 (trailer + 8, SNAP_END_MAGIC);
  w->crc = raft_crc32c_update (w->crc, trailer, 12);
  raft_put_u32 (trailer + 12, w->crc);
  if (!minka_file_write_all (w->file, trailer, sizeof trailer, &local)
      || !minka_file_sync (w->file, &local))
    {
      writer_free (w, TRUE);
      return set_io_error (error, local);
    }
  minka_file_close (w->file);
  w->file = NULL;
  if (g_rename (w->tmp_path, w->final_path) != 0)
    {
      g_set_error (error, RAFT_ERROR, RAFT_ERROR_IO, "rename %s to %s failed",
                   w->tmp_path, w->final_path);
      writer_free (w, TRUE);
      return FALSE;
    }
  if (!minka_fsync_dir (w->dir, &local))
    {
      writer_free (w, FALSE);
      return set_io_error (error, local);
    }
  raft_snapshot_files_remove_older (w->dir, w->index);
  if (path_out)
    *path_out = g_strdup (w->final_path);
  writer_free (w, FALSE);
  return TRUE;
}

void
raft_snapshot_writer_abort (RaftSnapshotWriter *writer)
{
  if (writer)
    writer_free (writer, TRUE);
}

void
raft_snapshot_files_remove_older (const char *dir, guint64 index)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  if (!d)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      guint64 other;
      if (raft_snapshot_file_name_parse (name, &other) && other < index)
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_unlink (path);
        }
    }
  g_dir_close (d);
}

static gboolean
corrupt (GError **error, const char *path, gint64 offset, const char *why)
{
  g_set_error (error, RAFT_ERROR, RAFT_ERROR_CORRUPT,
               _("snapshot file %s is corrupt at offset %lld: %s"),
               path, (long long) offset, why);
  return FALSE;
}

/* Reads the header and config; fills @meta. */
static gboolean
reader_start (RaftSnapshotReader *r, RaftSnapshotMeta *meta, GError **error)
{
  GError *local = NULL;
  guint8 header[RAFT_SNAPSHOT_HEADER_SIZE];
  gint64 size = minka_file_size (r->file, &local);

  if (size < 0)
    return set_io_error (error, local);
  if (size < RAFT_SNAPSHOT_HEADER_SIZE + RAFT_SNAPSHOT_TRAILER_SIZE)
    return corrupt (error, r->path, 0, "file too short");
  if (!minka_file_pread_all (r->file, header, sizeof header, 0, &local))
    return set_io_error (error, local);
  if (memcmp (header, SNAP_MAGIC, 8) != 0 || raft_get_u32 (header + 8) != 1)
    return corrupt (error, r->path, 0, "bad magic or version");
  if (raft_get_u32 (header + 32) != raft_crc32c (header, 32))
    return corrupt (error, r->path, 32, "bad header CRC");
  guint32 clen = raft_get_u32 (header + 12);
  if ((guint64) size < (guint64) RAFT_SNAPSHOT_HEADER_SIZE + clen + RAFT_SNAPSHOT_TRAILER_SIZE)
    return corrupt (error, r->path, 12, "configuration length past the end of the file");
  g_autofree guint8 *cbuf = g_malloc (clen + 1);
  if (!minka_file_pread_all (r->file, cbuf, clen, RAFT_SNAPSHOT_HEADER_SIZE, &local))
    return set_io_error (error, local);
  g_autoptr (GBytes) cbytes = g_bytes_new (cbuf, clen);
  if (!raft_config_decode (cbytes, &meta->config, NULL))
    return corrupt (error, r->path, RAFT_SNAPSHOT_HEADER_SIZE, "bad configuration");
  meta->index = raft_get_u64 (header + 16);
  meta->term = raft_get_u64 (header + 24);
  r->crc = raft_crc32c_update (raft_crc32c (header, sizeof header), cbuf, clen);
  r->data_len = (guint64) size - RAFT_SNAPSHOT_HEADER_SIZE - clen - RAFT_SNAPSHOT_TRAILER_SIZE;
  return TRUE;
}

RaftSnapshotReader *
raft_snapshot_reader_open (const char *path, RaftSnapshotMeta *meta, GError **error)
{
  GError *local = NULL;
  RaftSnapshotReader *r = g_new0 (RaftSnapshotReader, 1);

  memset (meta, 0, sizeof *meta);
  r->path = g_strdup (path);
  r->file = minka_file_open (path, MINKA_FILE_READ, &local);
  if (!r->file)
    {
      set_io_error (error, local);
      raft_snapshot_reader_close (r);
      return NULL;
    }
  if (!reader_start (r, meta, error))
    {
      raft_snapshot_meta_clear (meta);
      raft_snapshot_reader_close (r);
      return NULL;
    }
  return r;
}

guint64
raft_snapshot_reader_data_size (RaftSnapshotReader *reader)
{
  return reader->data_len;
}

static gboolean
reader_finish (RaftSnapshotReader *r, GError **error)
{
  GError *local = NULL;
  guint8 trailer[RAFT_SNAPSHOT_TRAILER_SIZE];
  gssize n = minka_file_read (r->file, trailer, sizeof trailer, &local);
  if (n < 0)
    return set_io_error (error, local);
  gint64 at = (gint64) (RAFT_SNAPSHOT_HEADER_SIZE + r->data_len);
  if (n != RAFT_SNAPSHOT_TRAILER_SIZE)
    return corrupt (error, r->path, at, "short trailer");
  if (raft_get_u64 (trailer) != r->data_len || raft_get_u32 (trailer + 8) != SNAP_END_MAGIC)
    return corrupt (error, r->path, at, "bad trailer (truncated or extended file)");
  guint32 crc = raft_crc32c_update (r->crc, trailer, 12);
  if (crc != raft_get_u32 (trailer + 12))
    return corrupt (error, r->path, at + 12, "bad file CRC");
  r->finished = TRUE;
  return TRUE;
}

gssize
raft_snapshot_reader_read (RaftSnapshotReader *r, void *buffer, gsize max, GError **error)
{
  GError *local = NULL;
  if (r->finished)
    return 0;
  if (r->data_read == r->data_len)
    return reader_finish (r, error) ? 0 : -1;
  gsize want = (gsize) MIN ((guint64) max, r->data_len - r->data_read);
  gssize n = minka_file_read (r->file, buffer, want, &local);
  if (n < 0)
    {
      set_io_error (error, local);
      return -1;
    }
  if (n == 0)
    {
      corrupt (error, r->path, (gint64) r->data_read, "file shrank while reading");
      return -1;
    }
  r->crc = raft_crc32c_update (r->crc, buffer, (gsize) n);
  r->data_read += (guint64) n;
  return n;
}

void
raft_snapshot_reader_close (RaftSnapshotReader *reader)
{
  if (!reader)
    return;
  minka_file_close (reader->file);
  g_free (reader->path);
  g_free (reader);
}

gboolean
raft_snapshot_file_verify (const char *path, RaftSnapshotMeta *meta, GError **error)
{
  RaftSnapshotMeta local_meta;
  RaftSnapshotMeta *m = meta ? meta : &local_meta;
  RaftSnapshotReader *r = raft_snapshot_reader_open (path, m, error);
  if (!r)
    return FALSE;
  guint8 *buf = g_malloc (64 * 1024);
  gssize n;
  while ((n = raft_snapshot_reader_read (r, buf, 64 * 1024, error)) > 0)
    ;
  g_free (buf);
  raft_snapshot_reader_close (r);
  if (n < 0 || !meta)
    raft_snapshot_meta_clear (m);
  return n == 0;
}
