/* minka-blob-store.c — content-addressed blobs under DIR/blobs/sha256/ab/…,
 * written through a hashing, fsyncing temp-file writer. A writer announcing
 * at most MINKA_BLOB_PACK_MAX bytes keeps them in memory; at finish, a lazy
 * one appends them to a pack file (minka-blob-pack.c: no inode, no rename,
 * no fsync per blob), any other one writes its temp file then. Every read
 * looks in the packs first, then for an individual file. */
#include "config.h"

#include "minka-blob-store.h"

#include <errno.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "minka-blob-pack.h"
#include "minka-compat.h"
#include "minka-sha256.h"

G_DEFINE_QUARK (minka-blob-error-quark, minka_blob_error)

#define HASH_CHUNK (1024 * 1024)

struct _MinkaBlobStore {
  char *blobs_dir;    /* DIR/blobs/sha256 */
  char *tmp_dir;      /* DIR/blobs/tmp */
  MinkaBlobPacks *packs;   /* DIR/blobs/packs */
  gboolean no_packs;       /* tests/benchmarks: small lazy blobs as files */
  GMutex install_lock;     /* installs and deletes, and the running total */
  guint64 total;           /* bytes of the blobs held (each name once) */
};

struct _MinkaBlobWriter {
  MinkaBlobStore *store;
  MinkaFile *file;
  char *tmp_path;
  GByteArray *buffer;            /* small blob: bytes kept until finish */
  MinkaSha256 sha;
  guint64 size;
  char *expected_name;
  gint64 expected_size;
  gboolean finished;
  gboolean lazy;                 /* skip the fsyncs (minka_blob_writer_set_lazy) */
};

/* ---- helpers ------------------------------------------------------------ */

gboolean
minka_blob_name_is_valid (const char *name)
{
  if (name == NULL)
    return FALSE;
  gsize i = 0;
  for (; name[i] != '\0' && i <= MINKA_BLOB_NAME_LEN; i++)
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
      return FALSE;
  return i == MINKA_BLOB_NAME_LEN;
}

static gboolean
check_name (const char *name, GError **error)
{
  if (minka_blob_name_is_valid (name))
    return TRUE;
  g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_BAD_NAME,
               _("“%s” is not a blob name (64 lowercase hex digits of SHA-256)"),
               name != NULL ? name : "");
  return FALSE;
}

static void
set_errno_error (GError **error, int saved_errno, const char *what, const char *path)
{
  g_set_error (error, MINKA_BLOB_ERROR,
               saved_errno == ENOSPC ? MINKA_BLOB_ERROR_NO_SPACE : MINKA_BLOB_ERROR_IO,
               "%s %s: %s", what, path, g_strerror (saved_errno));
}

/* Re-labels a G_FILE_ERROR from MinkaFile in the blob domain. */
static void
propagate_file_error (GError **error, GError *local, const char *path)
{
  int code = g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOSPC)
               ? MINKA_BLOB_ERROR_NO_SPACE
               : g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                   ? MINKA_BLOB_ERROR_NOT_FOUND : MINKA_BLOB_ERROR_IO;
  g_set_error (error, MINKA_BLOB_ERROR, code, "%s: %s", path, local->message);
  g_error_free (local);
}

static char *
shard_dir (MinkaBlobStore *store, const char *name)
{
  char shard[3] = { name[0], name[1], '\0' };
  return g_build_filename (store->blobs_dir, shard, NULL);
}

/* ---- store -------------------------------------------------------------- */

static guint64 store_sum_sizes (MinkaBlobStore *store);

static gboolean
make_dir (const char *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0700) == 0)
    return TRUE;
  set_errno_error (error, errno, _("Cannot create folder"), path);
  return FALSE;
}

/* Temp files belong to writers that died with the process. */
static void
store_clean_tmp (MinkaBlobStore *store)
{
  GDir *dir = g_dir_open (store->tmp_dir, 0, NULL);
  if (dir == NULL)
    return;
  const char *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (entry, ".tmp"))
      {
        g_autofree char *path = g_build_filename (store->tmp_dir, entry, NULL);
        g_remove (path);
      }
  g_dir_close (dir);
}

MinkaBlobStore *
minka_blob_store_open (const char *dir, GError **error)
{
  MinkaBlobStore *store = g_new0 (MinkaBlobStore, 1);
  g_mutex_init (&store->install_lock);
  store->blobs_dir = g_build_filename (dir, "blobs", "sha256", NULL);
  store->tmp_dir = g_build_filename (dir, "blobs", "tmp", NULL);
  g_autofree char *packs_dir = g_build_filename (dir, "blobs", "packs", NULL);
  if (!make_dir (store->blobs_dir, error) || !make_dir (store->tmp_dir, error)
      || !(store->packs = minka_blob_packs_open (packs_dir, error)))
    {
      minka_blob_store_free (store);
      return NULL;
    }
  store_clean_tmp (store);
  store->total = store_sum_sizes (store);
  return store;
}

void
minka_blob_store_free (MinkaBlobStore *store)
{
  if (store == NULL)
    return;
  g_clear_pointer (&store->packs, minka_blob_packs_free);
  g_free (store->blobs_dir);
  g_free (store->tmp_dir);
  g_mutex_clear (&store->install_lock);
  g_free (store);
}

char *
minka_blob_store_path (MinkaBlobStore *store, const char *name, GError **error)
{
  if (!check_name (name, error))
    return NULL;
  char shard[3] = { name[0], name[1], '\0' };
  return g_build_filename (store->blobs_dir, shard, name + 2, NULL);
}

/* Size of a held blob, -1 if absent; the name must be valid. */
static gint64
held_size (MinkaBlobStore *store, const char *name, const char *path)
{
  GStatBuf st;
  gint64 packed = minka_blob_packs_size (store->packs, name);
  if (packed >= 0)
    return packed;
  return g_stat (path, &st) == 0 ? (gint64) st.st_size : -1;
}

/* Under install_lock: a blob appeared (@before is -1) or went away
 * (@after is -1); re-storing a held blob changes nothing (same bytes by
 * construction). Files changed behind the store's back could skew the
 * total: it never goes below 0. */
static void
total_update (MinkaBlobStore *store, gint64 before, gint64 after)
{
  if (before < 0 && after > 0)
    store->total += (guint64) after;
  else if (before > 0 && after < 0)
    store->total -= MIN (store->total, (guint64) before);
}

gboolean
minka_blob_store_has (MinkaBlobStore *store, const char *name)
{
  g_autofree char *path = minka_blob_store_path (store, name, NULL);
  return path != NULL && (minka_blob_packs_size (store->packs, name) >= 0
                          || g_file_test (path, G_FILE_TEST_IS_REGULAR));
}

gint64
minka_blob_store_size (MinkaBlobStore *store, const char *name, GError **error)
{
  g_autofree char *path = minka_blob_store_path (store, name, error);
  GStatBuf st;
  if (path == NULL)
    return -1;
  gint64 packed = minka_blob_packs_size (store->packs, name);
  if (packed >= 0)
    return packed;
  if (g_stat (path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, MINKA_BLOB_ERROR,
                   saved == ENOENT ? MINKA_BLOB_ERROR_NOT_FOUND : MINKA_BLOB_ERROR_IO,
                   _("Blob %s: %s"), name, g_strerror (saved));
      return -1;
    }
  return (gint64) st.st_size;
}

GInputStream *
minka_blob_store_open_read (MinkaBlobStore *store, const char *name, GError **error)
{
  g_autofree char *path = minka_blob_store_path (store, name, error);
  if (path == NULL)
    return NULL;
  if (minka_blob_packs_size (store->packs, name) >= 0)
    {
      g_autoptr (GBytes) bytes = minka_blob_packs_read (store->packs, name, error);
      return bytes != NULL ? g_memory_input_stream_new_from_bytes (bytes) : NULL;
    }
  g_autoptr (GFile) file = g_file_new_for_path (path);
  GError *local = NULL;
  GFileInputStream *in = g_file_read (file, NULL, &local);
  if (in == NULL)
    {
      g_set_error (error, MINKA_BLOB_ERROR,
                   g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
                     ? MINKA_BLOB_ERROR_NOT_FOUND : MINKA_BLOB_ERROR_IO,
                   _("Blob %s: %s"), name, local->message);
      g_error_free (local);
      return NULL;
    }
  return G_INPUT_STREAM (in);
}

static MinkaFile *
blob_open_file (MinkaBlobStore *store, const char *name, char **path_out, GError **error)
{
  char *path = minka_blob_store_path (store, name, error);
  if (path == NULL)
    return NULL;
  GError *local = NULL;
  MinkaFile *file = minka_file_open (path, MINKA_FILE_READ, &local);
  if (file == NULL)
    propagate_file_error (error, local, path);
  *path_out = path;
  return file;
}

static GBytes *
packed_chunk (GBytes *bytes, guint64 offset, gsize max_len)
{
  gsize size = g_bytes_get_size (bytes);
  if (offset >= size || max_len == 0)
    return g_bytes_new (NULL, 0);
  return g_bytes_new_from_bytes (bytes, (gsize) offset, MIN (max_len, size - (gsize) offset));
}

GBytes *
minka_blob_store_read_chunk (MinkaBlobStore *store, const char *name, guint64 offset,
                             gsize max_len, GError **error)
{
  if (minka_blob_name_is_valid (name) && minka_blob_packs_size (store->packs, name) >= 0)
    {
      g_autoptr (GBytes) bytes = minka_blob_packs_read (store->packs, name, error);
      return bytes != NULL ? packed_chunk (bytes, offset, max_len) : NULL;
    }
  g_autofree char *path = NULL;
  g_autoptr (MinkaFile) file = blob_open_file (store, name, &path, error);
  GError *local = NULL;
  if (file == NULL)
    return NULL;
  gint64 size = minka_file_size (file, &local);
  if (size < 0)
    {
      propagate_file_error (error, local, path);
      return NULL;
    }
  if (offset >= (guint64) size || max_len == 0)
    return g_bytes_new (NULL, 0);
  gsize len = (gsize) MIN ((guint64) max_len, (guint64) size - offset);
  guint8 *data = g_malloc (len);
  if (!minka_file_pread_all (file, data, len, (gint64) offset, &local))
    {
      g_free (data);
      propagate_file_error (error, local, path);
      return NULL;
    }
  return g_bytes_new_take (data, len);
}

static gboolean
verify_packed (MinkaBlobStore *store, const char *name, GError **error)
{
  g_autoptr (GBytes) bytes = minka_blob_packs_read (store->packs, name, error);
  if (bytes == NULL)
    return FALSE;
  gsize len = 0;
  const void *data = g_bytes_get_data (bytes, &len);
  g_autofree char *hex = minka_sha256_hex (data, len);
  if (strcmp (hex, name) == 0)
    return TRUE;
  g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH,
               _("Blob %s is corrupt: its bytes hash to %s"), name, hex);
  return FALSE;
}

gboolean
minka_blob_store_verify (MinkaBlobStore *store, const char *name, GError **error)
{
  if (minka_blob_name_is_valid (name) && minka_blob_packs_size (store->packs, name) >= 0)
    return verify_packed (store, name, error);
  g_autofree char *path = NULL;
  g_autoptr (MinkaFile) file = blob_open_file (store, name, &path, error);
  if (file == NULL)
    return FALSE;
  MinkaSha256 sha;
  char hex[MINKA_SHA256_HEX_LEN + 1];
  g_autofree guint8 *buffer = g_malloc (HASH_CHUNK);
  GError *local = NULL;
  gssize n;
  minka_sha256_init (&sha);
  while ((n = minka_file_read (file, buffer, HASH_CHUNK, &local)) > 0)
    minka_sha256_update (&sha, buffer, (gsize) n);
  if (n < 0)
    {
      propagate_file_error (error, local, path);
      return FALSE;
    }
  minka_sha256_finish_hex (&sha, hex);
  if (strcmp (hex, name) != 0)
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH,
                   _("Blob %s is corrupt: its bytes hash to %s"), name, hex);
      return FALSE;
    }
  return TRUE;
}

/* Under install_lock. */
static gboolean
store_delete_locked (MinkaBlobStore *store, const char *name, const char *path, GError **error)
{
  gboolean packed = FALSE;
  gint64 before = held_size (store, name, path);
  gboolean ok = minka_blob_packs_delete (store->packs, name, &packed, error);
  /* A blob may be both packed and a file (lazy and fsynced writes). */
  if (ok && g_remove (path) != 0 && errno != ENOENT)
    {
      set_errno_error (error, errno, _("Cannot delete blob"), path);
      ok = FALSE;
    }
  total_update (store, before, held_size (store, name, path));
  return ok;
}

gboolean
minka_blob_store_delete (MinkaBlobStore *store, const char *name, GError **error)
{
  g_autofree char *path = minka_blob_store_path (store, name, error);
  if (path == NULL)
    return FALSE;
  g_mutex_lock (&store->install_lock);
  gboolean ok = store_delete_locked (store, name, path, error);
  g_mutex_unlock (&store->install_lock);
  return ok;
}

gboolean
minka_blob_store_delete_if_older (MinkaBlobStore *store, const char *name,
                                  gint64 written_before_s, gint64 *freed, GError **error)
{
  g_autofree char *path = minka_blob_store_path (store, name, error);
  GStatBuf st;
  if (freed)
    *freed = -1;
  if (path == NULL)
    return FALSE;
  g_mutex_lock (&store->install_lock);
  gboolean is_file = g_stat (path, &st) == 0;
  if (is_file && (gint64) st.st_mtime >= written_before_s)
    {
      g_mutex_unlock (&store->install_lock);
      return TRUE;                /* just (re)written: someone wants it */
    }
  gint64 size = is_file ? (gint64) st.st_size : minka_blob_packs_size (store->packs, name);
  gboolean ok = store_delete_locked (store, name, path, error);
  g_mutex_unlock (&store->install_lock);
  if (ok && freed)
    *freed = MAX (size, 0);
  return ok;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
list_shard (MinkaBlobStore *store, const char *shard, GPtrArray *names)
{
  g_autofree char *path = g_build_filename (store->blobs_dir, shard, NULL);
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    return;
  const char *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      char *name = g_strconcat (shard, entry, NULL);
      if (minka_blob_name_is_valid (name))
        g_ptr_array_add (names, name);
      else
        g_free (name);
    }
  g_dir_close (dir);
}

GPtrArray *
minka_blob_store_list (MinkaBlobStore *store, GError **error)
{
  GError *local = NULL;
  GDir *dir = g_dir_open (store->blobs_dir, 0, &local);
  if (dir == NULL)
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_IO, "%s", local->message);
      g_error_free (local);
      return NULL;
    }
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *shard;
  while ((shard = g_dir_read_name (dir)) != NULL)
    if (strlen (shard) == 2 && g_ascii_isxdigit (shard[0]) && g_ascii_isxdigit (shard[1]))
      list_shard (store, shard, names);
  g_dir_close (dir);
  minka_blob_packs_list (store->packs, names);
  g_ptr_array_sort (names, compare_names);
  /* A blob may be both packed and a file: list it once. */
  GPtrArray *unique = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    if (i == 0 || strcmp (names->pdata[i], names->pdata[i - 1]) != 0)
      g_ptr_array_add (unique, g_strdup (names->pdata[i]));
  g_ptr_array_unref (names);
  return unique;
}

/* Walks the store: once, at open. */
static guint64
store_sum_sizes (MinkaBlobStore *store)
{
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
  guint64 total = 0;
  for (guint i = 0; names != NULL && i < names->len; i++)
    {
      gint64 size = minka_blob_store_size (store, names->pdata[i], NULL);
      if (size > 0)
        total += (guint64) size;
    }
  return total;
}

guint64
minka_blob_store_total_bytes (MinkaBlobStore *store)
{
  g_mutex_lock (&store->install_lock);
  guint64 total = store->total;
  g_mutex_unlock (&store->install_lock);
  return total;
}

/* ---- writer ------------------------------------------------------------- */

/* Creates the writer's temp file. */
static gboolean
writer_open_tmp (MinkaBlobWriter *writer, GError **error)
{
  GError *local = NULL;
  for (int attempt = 0; writer->file == NULL; attempt++)
    {
      char leaf[40];
      g_snprintf (leaf, sizeof leaf, "%08x%08x.tmp", g_random_int (), g_random_int ());
      g_free (writer->tmp_path);
      writer->tmp_path = g_build_filename (writer->store->tmp_dir, leaf, NULL);
      g_clear_error (&local);
      writer->file = minka_file_open (writer->tmp_path, MINKA_FILE_WRITE | MINKA_FILE_CREATE
                                                        | MINKA_FILE_EXCLUSIVE, &local);
      if (writer->file == NULL
          && (attempt >= 8 || !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_EXIST)))
        {
          propagate_file_error (error, local, writer->tmp_path);
          g_clear_pointer (&writer->tmp_path, g_free);   /* not ours to remove */
          return FALSE;
        }
    }
  return TRUE;
}

MinkaBlobWriter *
minka_blob_writer_new (MinkaBlobStore *store, const char *expected_name, gint64 expected_size,
                       GError **error)
{
  if (expected_name != NULL && !check_name (expected_name, error))
    return NULL;
  MinkaBlobWriter *writer = g_new0 (MinkaBlobWriter, 1);
  writer->store = store;
  writer->expected_name = g_strdup (expected_name);
  writer->expected_size = expected_size;
  minka_sha256_init (&writer->sha);
  /* Small: kept in memory until finish tells whether it goes to a pack. */
  if (!store->no_packs && expected_size >= 0 && expected_size <= MINKA_BLOB_PACK_MAX)
    writer->buffer = g_byte_array_sized_new ((guint) expected_size);
  else if (!writer_open_tmp (writer, error))
    {
      minka_blob_writer_free (writer);
      return NULL;
    }
  return writer;
}

gboolean
minka_blob_writer_write (MinkaBlobWriter *writer, const void *data, gsize len, GError **error)
{
  g_return_val_if_fail (!writer->finished, FALSE);
  if (writer->expected_size >= 0 && writer->size + len > (guint64) writer->expected_size)
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_SIZE_MISMATCH,
                   _("More than the announced %lld bytes were sent"),
                   (long long) writer->expected_size);
      return FALSE;
    }
  GError *local = NULL;
  if (writer->buffer != NULL)
    g_byte_array_append (writer->buffer, data, (guint) len);
  else if (!minka_file_write_all (writer->file, data, len, &local))
    {
      propagate_file_error (error, local, writer->tmp_path);
      return FALSE;
    }
  minka_sha256_update (&writer->sha, data, len);
  writer->size += len;
  return TRUE;
}

guint64
minka_blob_writer_get_size (MinkaBlobWriter *writer)
{
  return writer->size;
}

static gboolean
writer_check (MinkaBlobWriter *writer, const char *name, GError **error)
{
  if (writer->expected_size >= 0 && writer->size != (guint64) writer->expected_size)
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_SIZE_MISMATCH,
                   _("Received %llu bytes, but %lld were announced"),
                   (unsigned long long) writer->size, (long long) writer->expected_size);
      return FALSE;
    }
  if (writer->expected_name != NULL && strcmp (writer->expected_name, name) != 0)
    {
      g_set_error (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH,
                   _("Received bytes hash to %s, not the expected %s"), name,
                   writer->expected_name);
      return FALSE;
    }
  return TRUE;
}

/* A rename keeps the temp file's times; a guarded delete
 * (minka_blob_store_delete_if_older) needs the time it was installed. */
static void
touch_file (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_file_set_attribute_uint64 (file, G_FILE_ATTRIBUTE_TIME_MODIFIED,
                               (guint64) (g_get_real_time () / G_USEC_PER_SEC),
                               G_FILE_QUERY_INFO_NONE, NULL, NULL);
}

/* Moves the synced temp file to its final name and makes that durable. */
static gboolean
writer_install (MinkaBlobWriter *writer, const char *name, GError **error)
{
  MinkaBlobStore *store = writer->store;
  g_autofree char *dir = shard_dir (store, name);
  g_autofree char *path = minka_blob_store_path (store, name, NULL);
  gboolean new_dir = !g_file_test (dir, G_FILE_TEST_IS_DIR);

  if (new_dir && g_mkdir (dir, 0700) != 0 && errno != EEXIST)
    {
      set_errno_error (error, errno, _("Cannot create folder"), dir);
      return FALSE;
    }
  if (new_dir && !writer->lazy && !minka_fsync_dir (store->blobs_dir, error))
    return FALSE;
  /* POSIX rename replaces atomically (same bytes by construction); where
   * it refuses to replace (Windows), the blob is already there. The lock
   * keeps a guarded delete from removing the file just installed. */
  g_mutex_lock (&store->install_lock);
  gint64 before = held_size (store, name, path);
  if (g_rename (writer->tmp_path, path) != 0)
    {
      int saved = errno;
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          g_mutex_unlock (&store->install_lock);
          set_errno_error (error, saved, _("Cannot store blob"), path);
          return FALSE;
        }
      g_remove (writer->tmp_path);
    }
  else
    touch_file (path);
  total_update (store, before, held_size (store, name, path));
  g_mutex_unlock (&store->install_lock);
  return writer->lazy || minka_fsync_dir (dir, error);
}

/* A small blob that does not go to a pack: write its temp file now. */
static gboolean
writer_spill (MinkaBlobWriter *writer, GError **error)
{
  GError *local = NULL;
  if (!writer_open_tmp (writer, error))
    return FALSE;
  if (!minka_file_write_all (writer->file, writer->buffer->data, writer->buffer->len, &local))
    {
      propagate_file_error (error, local, writer->tmp_path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
writer_store_file (MinkaBlobWriter *writer, const char *name, GError **error)
{
  GError *local = NULL;
  if (writer->buffer != NULL && !writer_spill (writer, error))
    return FALSE;
  if (!writer->lazy && !minka_file_sync (writer->file, &local))
    {
      propagate_file_error (error, local, writer->tmp_path);
      return FALSE;
    }
  g_clear_pointer (&writer->file, minka_file_close);
  return writer_install (writer, name, error);
}

static gboolean
store_packed (MinkaBlobStore *store, const char *name, const guint8 *data, gsize len,
              GError **error)
{
  g_autofree char *path = minka_blob_store_path (store, name, NULL);
  g_mutex_lock (&store->install_lock);
  gint64 before = held_size (store, name, path);
  gboolean ok = minka_blob_packs_append (store->packs, name, data, len, error);
  total_update (store, before, held_size (store, name, path));
  g_mutex_unlock (&store->install_lock);
  if (!ok)
    return FALSE;
  /* Reclaim deleted space a pack at a time, on the thread that writes. */
  GError *local = NULL;
  if (!minka_blob_packs_compact (store->packs, FALSE, &local))
    {
      g_warning ("compacting blob packs: %s", local->message);
      g_error_free (local);
    }
  return TRUE;
}

char *
minka_blob_store_put_checked_lazy (MinkaBlobStore *store, const char *sha256, GBytes *content,
                                   GError **error)
{
  if (!check_name (sha256, error))
    return NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (content, &len);
  if (store->no_packs || len > MINKA_BLOB_PACK_MAX)
    {
      /* Its own file: through a writer (which hashes it again). */
      g_autoptr (MinkaBlobWriter) writer = minka_blob_writer_new (store, sha256, (gint64) len,
                                                                  error);
      if (writer == NULL)
        return NULL;
      minka_blob_writer_set_lazy (writer, TRUE);
      if (!minka_blob_writer_write (writer, data, len, error))
        return NULL;
      return minka_blob_writer_finish (writer, error);
    }
  return store_packed (store, sha256, data, len, error) ? g_strdup (sha256) : NULL;
}

char *
minka_blob_writer_finish (MinkaBlobWriter *writer, GError **error)
{
  g_return_val_if_fail (!writer->finished, NULL);
  char *name = g_malloc (MINKA_SHA256_HEX_LEN + 1);
  minka_sha256_finish_hex (&writer->sha, name);
  gboolean ok = writer_check (writer, name, error);
  if (ok && writer->buffer != NULL && writer->lazy)
    ok = store_packed (writer->store, name, writer->buffer->data, writer->buffer->len, error);
  else if (ok)
    ok = writer_store_file (writer, name, error);
  g_clear_pointer (&writer->file, minka_file_close);
  if (!ok)
    {
      if (writer->tmp_path != NULL)
        g_remove (writer->tmp_path);
      g_clear_pointer (&name, g_free);
    }
  writer->finished = TRUE;
  return name;
}

void
minka_blob_writer_free (MinkaBlobWriter *writer)
{
  if (writer == NULL)
    return;
  g_clear_pointer (&writer->file, minka_file_close);
  if (!writer->finished && writer->tmp_path != NULL)
    g_remove (writer->tmp_path);
  if (writer->buffer != NULL)
    g_byte_array_unref (writer->buffer);
  g_free (writer->tmp_path);
  g_free (writer->expected_name);
  g_free (writer);
}

void
minka_blob_writer_set_lazy (MinkaBlobWriter *writer, gboolean lazy)
{
  writer->lazy = lazy;
}

gboolean
minka_blob_store_sync (MinkaBlobStore *store, const char *name, GError **error)
{
  g_autofree char *path = minka_blob_store_path (store, name, error);
  gboolean packed = FALSE;
  if (!path || !minka_blob_packs_sync (store->packs, name, &packed, error))
    return FALSE;
  if (packed)
    return TRUE;
  g_autoptr (MinkaFile) file = minka_file_open (path, MINKA_FILE_READ, error);
  if (!file || !minka_file_sync (file, error))
    return FALSE;
  g_autofree char *dir = shard_dir (store, name);
  return minka_fsync_dir (dir, error) && minka_fsync_dir (store->blobs_dir, error);
}

gboolean
minka_blob_store_sync_packs (MinkaBlobStore *store, GError **error)
{
  return minka_blob_packs_sync_all (store->packs, error);
}

gboolean
minka_blob_store_compact (MinkaBlobStore *store, GError **error)
{
  return minka_blob_packs_compact (store->packs, TRUE, error);
}

void
minka_blob_store_set_packing (MinkaBlobStore *store, gboolean pack_small)
{
  store->no_packs = !pack_small;
}

MinkaBlobPacks *
minka_blob_store_get_packs (MinkaBlobStore *store)
{
  return store->packs;
}

char *
minka_blob_store_put_bytes (MinkaBlobStore *store, GBytes *bytes, GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  g_autoptr (MinkaBlobWriter) writer = minka_blob_writer_new (store, NULL, (gint64) len, error);
  if (writer == NULL || !minka_blob_writer_write (writer, data, len, error))
    return NULL;
  return minka_blob_writer_finish (writer, error);
}
