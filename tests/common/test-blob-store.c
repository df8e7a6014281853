/* test-blob-store.c — the content-addressed blob store: streaming writes,
 * reads in chunks, hash and size mismatches, aborts and crash leftovers,
 * concurrent writers of one blob, corruption, and names that try to escape
 * the folder; small lazy blobs in pack files: read back, rollover, reopen,
 * torn tails, bit flips, deletes, compaction (with crashes between its
 * steps) and concurrent writers, readers and deleters. */
#include <check.h>
#include <string.h>
#include <glib/gstdio.h>

#include "minka-blob-pack.h"
#include "minka-blob-store.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char *test_dir;

static void
setup (void)
{
  test_dir = g_dir_make_tmp ("minka-blobs-XXXXXX", NULL);
  ck_assert_ptr_nonnull (test_dir);
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir != NULL)
    {
      const char *entry;
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, entry, NULL);
          remove_tree (child);
        }
      g_dir_close (dir);
      g_rmdir (path);
    }
  else
    g_remove (path);
}

static void
teardown (void)
{
  remove_tree (test_dir);
  g_clear_pointer (&test_dir, g_free);
}

static GBytes *
make_bytes (gsize len, guint seed)
{
  guint8 *data = g_malloc (len > 0 ? len : 1);
  GRand *rand = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_rand_int (rand);
  g_rand_free (rand);
  return g_bytes_new_take (data, len);
}

static char *
sha_of (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

/* Entries of DIR/blobs/@folder. */
static guint
count_in_blobs (const char *folder)
{
  g_autofree char *path = g_build_filename (test_dir, "blobs", folder, NULL);
  GDir *dir = g_dir_open (path, 0, NULL);
  ck_assert_ptr_nonnull (dir);
  guint n = 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
}

static guint
count_tmp_files (void)
{
  return count_in_blobs ("tmp");
}

/* Streams @bytes in pseudo-random chunk sizes. */
static char *
stream_in (MinkaBlobStore *store, GBytes *bytes, const char *expected, gint64 size,
           guint seed, GError **error)
{
  g_autoptr (MinkaBlobWriter) writer = minka_blob_writer_new (store, expected, size, error);
  if (writer == NULL)
    return NULL;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  GRand *rand = g_rand_new_with_seed (seed);
  for (gsize pos = 0; pos < len;)
    {
      gsize step = (gsize) g_rand_int_range (rand, 1, 200000);
      gsize n = MIN (len - pos, step);
      if (!minka_blob_writer_write (writer, data + pos, n, error))
        {
          g_rand_free (rand);
          return NULL;
        }
      pos += n;
    }
  g_rand_free (rand);
  ck_assert_uint_eq (minka_blob_writer_get_size (writer), len);
  return minka_blob_writer_finish (writer, error);
}

START_TEST (test_round_trip)
{
  GError *error = NULL;
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, &error);
  ck_assert_ptr_null (error);
  gsize sizes[] = { 0, 1, 3 * 1024 * 1024 + 1 };
  guint64 total = 0;

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) bytes = make_bytes (sizes[i], 100 + i);
      g_autofree char *expected = sha_of (bytes);
      g_autofree char *name = stream_in (store, bytes, i == 1 ? expected : NULL,
                                         i == 2 ? (gint64) sizes[i] : -1, i, &error);
      ck_assert_msg (error == NULL, "%s", error ? error->message : "");
      ck_assert_str_eq (name, expected);
      ck_assert (minka_blob_store_has (store, name));
      ck_assert_int_eq (minka_blob_store_size (store, name, NULL), sizes[i]);
      ck_assert (minka_blob_store_verify (store, name, &error));
      total += sizes[i];

      /* The file sits at blobs/sha256/ab/cdef…. */
      g_autofree char *path = minka_blob_store_path (store, name, NULL);
      char shard[3] = { name[0], name[1], 0 };
      g_autofree char *want = g_build_filename (test_dir, "blobs", "sha256", shard, name + 2, NULL);
      ck_assert_str_eq (path, want);

      /* Read back in chunks, both ways. */
      GByteArray *back = g_byte_array_new ();
      for (guint64 offset = 0;; )
        {
          g_autoptr (GBytes) chunk = minka_blob_store_read_chunk (store, name, offset, 65536, &error);
          ck_assert_ptr_null (error);
          if (g_bytes_get_size (chunk) == 0)
            break;
          g_byte_array_append (back, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
          offset += g_bytes_get_size (chunk);
        }
      ck_assert_uint_eq (back->len, sizes[i]);
      ck_assert (sizes[i] == 0 || memcmp (back->data, g_bytes_get_data (bytes, NULL), sizes[i]) == 0);
      g_byte_array_unref (back);

      g_autoptr (GInputStream) in = minka_blob_store_open_read (store, name, &error);
      ck_assert_ptr_nonnull (in);
      g_autoptr (GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
      guint8 buffer[7000];
      gssize n;
      while ((n = g_input_stream_read (in, buffer, sizeof buffer, NULL, NULL)) > 0)
        g_checksum_update (sha, buffer, n);
      ck_assert_int_eq (n, 0);
      ck_assert_str_eq (g_checksum_get_string (sha), name);
    }
  ck_assert_uint_eq (minka_blob_store_total_bytes (store), total);
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, &error);
  ck_assert_uint_eq (names->len, 3);
  ck_assert (strcmp (names->pdata[0], names->pdata[1]) < 0);
  ck_assert (strcmp (names->pdata[1], names->pdata[2]) < 0);
  ck_assert_uint_eq (count_tmp_files (), 0);

  /* Delete (twice: the second is not an error). */
  ck_assert (minka_blob_store_delete (store, EMPTY_SHA, &error));
  ck_assert (!minka_blob_store_has (store, EMPTY_SHA));
  ck_assert (minka_blob_store_delete (store, EMPTY_SHA, &error));
  ck_assert_ptr_null (error);
  ck_assert_int_eq (minka_blob_store_size (store, EMPTY_SHA, &error), -1);
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_NOT_FOUND));
  g_clear_error (&error);
  ck_assert_ptr_null (minka_blob_store_read_chunk (store, EMPTY_SHA, 0, 10, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_NOT_FOUND));
  g_clear_error (&error);
  ck_assert_ptr_null (minka_blob_store_open_read (store, EMPTY_SHA, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_NOT_FOUND));
  g_clear_error (&error);
}
END_TEST

START_TEST (test_known_hash_and_put_bytes)
{
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GBytes) abc = g_bytes_new_static ("abc", 3);
  g_autofree char *name = minka_blob_store_put_bytes (store, abc, NULL);
  ck_assert_str_eq (name, ABC_SHA);
  g_autoptr (GBytes) middle = minka_blob_store_read_chunk (store, ABC_SHA, 1, 1, NULL);
  ck_assert_uint_eq (g_bytes_get_size (middle), 1);
  ck_assert_int_eq (((const char *) g_bytes_get_data (middle, NULL))[0], 'b');
  g_autoptr (GBytes) past = minka_blob_store_read_chunk (store, ABC_SHA, 99, 10, NULL);
  ck_assert_uint_eq (g_bytes_get_size (past), 0);
}
END_TEST

START_TEST (test_mismatches)
{
  GError *error = NULL;
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GBytes) bytes = make_bytes (100000, 7);

  /* Wrong expected hash: nothing stored, no temp left. */
  ck_assert_ptr_null (stream_in (store, bytes, ABC_SHA, -1, 1, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH));
  g_clear_error (&error);
  ck_assert (!minka_blob_store_has (store, ABC_SHA));
  g_autofree char *real = sha_of (bytes);
  ck_assert (!minka_blob_store_has (store, real));
  ck_assert_uint_eq (count_tmp_files (), 0);

  /* Too many bytes: refused as soon as they arrive. */
  ck_assert_ptr_null (stream_in (store, bytes, NULL, 99999, 2, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_SIZE_MISMATCH));
  g_clear_error (&error);
  /* Too few: refused at finish. */
  ck_assert_ptr_null (stream_in (store, bytes, NULL, 100001, 3, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_SIZE_MISMATCH));
  g_clear_error (&error);
  ck_assert_uint_eq (count_tmp_files (), 0);
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
  ck_assert_uint_eq (names->len, 0);
}
END_TEST

START_TEST (test_abort_and_crash_leftovers)
{
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, NULL);
  MinkaBlobWriter *writer = minka_blob_writer_new (store, NULL, -1, NULL);
  ck_assert (minka_blob_writer_write (writer, "partial", 7, NULL));
  ck_assert_uint_eq (count_tmp_files (), 1);
  minka_blob_writer_free (writer);              /* abort */
  ck_assert_uint_eq (count_tmp_files (), 0);

  /* A writer "killed" mid-way leaves a temp file: the next open removes it. */
  writer = minka_blob_writer_new (store, NULL, -1, NULL);
  ck_assert (minka_blob_writer_write (writer, "partial", 7, NULL));
  g_autofree char *stray = g_build_filename (test_dir, "blobs", "tmp", "0000.tmp", NULL);
  ck_assert (g_file_set_contents (stray, "x", 1, NULL));
  ck_assert_uint_eq (count_tmp_files (), 2);
  g_autoptr (MinkaBlobStore) reopened = minka_blob_store_open (test_dir, NULL);
  ck_assert_uint_eq (count_tmp_files (), 0);
  minka_blob_writer_free (writer);
}
END_TEST

START_TEST (test_interleaved_writers_same_blob)
{
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GBytes) bytes = make_bytes (300000, 9);
  const guint8 *data = g_bytes_get_data (bytes, NULL);
  g_autoptr (MinkaBlobWriter) w1 = minka_blob_writer_new (store, NULL, 300000, NULL);
  g_autoptr (MinkaBlobWriter) w2 = minka_blob_writer_new (store, NULL, 300000, NULL);
  for (gsize pos = 0; pos < 300000; pos += 1000)
    {
      ck_assert (minka_blob_writer_write (w1, data + pos, 1000, NULL));
      ck_assert (minka_blob_writer_write (w2, data + pos, 1000, NULL));
    }
  g_autofree char *n2 = minka_blob_writer_finish (w2, NULL);
  g_autofree char *n1 = minka_blob_writer_finish (w1, NULL);
  ck_assert_ptr_nonnull (n1);
  ck_assert_str_eq (n1, n2);
  ck_assert (minka_blob_store_verify (store, n1, NULL));
  ck_assert_uint_eq (count_tmp_files (), 0);
}
END_TEST

typedef struct {
  MinkaBlobStore *store;
  GBytes *bytes;
  guint seed;
  char *name;
  GError *error;
} ThreadJob;

static gpointer
thread_write (gpointer data)
{
  ThreadJob *job = data;
  job->name = stream_in (job->store, job->bytes, NULL, -1, job->seed, &job->error);
  return NULL;
}

START_TEST (test_threaded_writers_same_blob)
{
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GBytes) bytes = make_bytes (2 * 1024 * 1024, 11);
  g_autofree char *expected = sha_of (bytes);
  ThreadJob jobs[4];
  GThread *threads[4];
  for (guint i = 0; i < 4; i++)
    {
      jobs[i] = (ThreadJob) { store, bytes, i, NULL, NULL };
      threads[i] = g_thread_new ("writer", thread_write, &jobs[i]);
    }
  for (guint i = 0; i < 4; i++)
    {
      g_thread_join (threads[i]);
      ck_assert_msg (jobs[i].error == NULL, "%s", jobs[i].error ? jobs[i].error->message : "");
      ck_assert_str_eq (jobs[i].name, expected);
      g_free (jobs[i].name);
    }
  ck_assert (minka_blob_store_verify (store, expected, NULL));
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
  ck_assert_uint_eq (names->len, 1);
  ck_assert_uint_eq (count_tmp_files (), 0);
}
END_TEST

START_TEST (test_bad_names)
{
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, NULL);
  const char *bad[] = {
    "", "../x", "../../etc/passwd", "ab/../../../../etc/passwd",
    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",   /* uppercase */
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",    /* 63 */
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",  /* 65 */
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
    "e3/0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "..b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GError *error = NULL;
      ck_assert (!minka_blob_name_is_valid (bad[i]));
      ck_assert (!minka_blob_store_has (store, bad[i]));
      ck_assert_ptr_null (minka_blob_store_path (store, bad[i], &error));
      ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_BAD_NAME));
      g_clear_error (&error);
      ck_assert_int_eq (minka_blob_store_size (store, bad[i], &error), -1);
      ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_BAD_NAME));
      g_clear_error (&error);
      ck_assert (!minka_blob_store_delete (store, bad[i], &error));
      g_clear_error (&error);
      ck_assert (!minka_blob_store_verify (store, bad[i], &error));
      g_clear_error (&error);
      ck_assert_ptr_null (minka_blob_store_read_chunk (store, bad[i], 0, 1, &error));
      g_clear_error (&error);
      ck_assert_ptr_null (minka_blob_store_open_read (store, bad[i], &error));
      g_clear_error (&error);
      ck_assert_ptr_null (minka_blob_writer_new (store, bad[i], -1, &error));
      ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_BAD_NAME));
      g_clear_error (&error);
    }
  ck_assert (!minka_blob_name_is_valid (NULL));
  ck_assert (minka_blob_name_is_valid (EMPTY_SHA));
}
END_TEST

START_TEST (test_corruption_and_junk)
{
  GError *error = NULL;
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GBytes) bytes = make_bytes (5000, 13);
  g_autofree char *name = minka_blob_store_put_bytes (store, bytes, NULL);
  g_autofree char *path = minka_blob_store_path (store, name, NULL);
  ck_assert (g_file_set_contents (path, "tampered", 8, NULL));
  ck_assert (!minka_blob_store_verify (store, name, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH));
  g_clear_error (&error);

  /* Writing the real bytes again repairs it. */
  g_autofree char *again = minka_blob_store_put_bytes (store, bytes, NULL);
  ck_assert_str_eq (again, name);
  ck_assert (minka_blob_store_verify (store, name, NULL));

  /* Stray files are not listed as blobs. */
  char shard[3] = { name[0], name[1], 0 };
  g_autofree char *junk = g_build_filename (test_dir, "blobs", "sha256", shard, "junk", NULL);
  ck_assert (g_file_set_contents (junk, "j", 1, NULL));
  g_autofree char *junk_dir = g_build_filename (test_dir, "blobs", "sha256", "zz", NULL);
  ck_assert_int_eq (g_mkdir (junk_dir, 0700), 0);
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
  ck_assert_uint_eq (names->len, 1);
  ck_assert_uint_eq (minka_blob_store_total_bytes (store), 5000);
}
END_TEST

START_TEST (test_open_failure)
{
  /* A file where the folder should be. */
  g_autofree char *file = g_build_filename (test_dir, "plain", NULL);
  ck_assert (g_file_set_contents (file, "x", 1, NULL));
  GError *error = NULL;
  ck_assert_ptr_null (minka_blob_store_open (file, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_IO));
  g_clear_error (&error);
}
END_TEST

/* ---- pack files ------------------------------------------------------------ */

#define HDR 48                         /* a pack record's header */

static char *
lazy_put (MinkaBlobStore *store, GBytes *bytes, GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  g_autoptr (MinkaBlobWriter) writer = minka_blob_writer_new (store, NULL, (gint64) len, error);
  if (writer == NULL)
    return NULL;
  minka_blob_writer_set_lazy (writer, TRUE);
  /* Two writes: the buffer must join them. */
  if (!minka_blob_writer_write (writer, data, len / 2, error)
      || !minka_blob_writer_write (writer, data + len / 2, len - len / 2, error))
    return NULL;
  return minka_blob_writer_finish (writer, error);
}

static char *
pack_path (guint no)
{
  char leaf[32];
  g_snprintf (leaf, sizeof leaf, "pack-%08u.pack", no);
  return g_build_filename (test_dir, "blobs", "packs", leaf, NULL);
}

static gboolean
pack_exists (guint no)
{
  g_autofree char *path = pack_path (no);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static guint
count_packs (void)
{
  return count_in_blobs ("packs");
}

static guint64
pack_bytes (void)
{
  guint64 total = 0;
  for (guint no = 1; no < 1000; no++)
    {
      g_autofree char *path = pack_path (no);
      GStatBuf st;
      if (g_stat (path, &st) == 0)
        total += (guint64) st.st_size;
    }
  return total;
}

static gboolean
is_individual_file (MinkaBlobStore *store, const char *name)
{
  g_autofree char *path = minka_blob_store_path (store, name, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Every way of reading gives back @bytes. */
static void
check_blob (MinkaBlobStore *store, GBytes *bytes)
{
  GError *error = NULL;
  g_autofree char *name = sha_of (bytes);
  gsize len = g_bytes_get_size (bytes);
  ck_assert_msg (minka_blob_store_has (store, name), "missing %s", name);
  ck_assert_int_eq (minka_blob_store_size (store, name, NULL), len);
  ck_assert_msg (minka_blob_store_verify (store, name, &error), "%s",
                 error ? error->message : "");
  GByteArray *back = g_byte_array_new ();
  for (guint64 offset = 0;;)
    {
      g_autoptr (GBytes) chunk = minka_blob_store_read_chunk (store, name, offset, 1000, &error);
      ck_assert_ptr_null (error);
      if (g_bytes_get_size (chunk) == 0)
        break;
      g_byte_array_append (back, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
      offset += g_bytes_get_size (chunk);
    }
  ck_assert_uint_eq (back->len, len);
  ck_assert (len == 0 || memcmp (back->data, g_bytes_get_data (bytes, NULL), len) == 0);
  g_byte_array_unref (back);
  g_autoptr (GBytes) past = minka_blob_store_read_chunk (store, name, len + 5, 10, &error);
  ck_assert_uint_eq (g_bytes_get_size (past), 0);
  g_autoptr (GInputStream) in = minka_blob_store_open_read (store, name, &error);
  ck_assert_ptr_nonnull (in);
  g_autoptr (GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 buffer[7000];
  gssize n;
  while ((n = g_input_stream_read (in, buffer, sizeof buffer, NULL, NULL)) > 0)
    g_checksum_update (sha, buffer, n);
  ck_assert_int_eq (n, 0);
  ck_assert_str_eq (g_checksum_get_string (sha), name);
}

static void
check_gone (MinkaBlobStore *store, GBytes *bytes)
{
  g_autofree char *name = sha_of (bytes);
  GError *error = NULL;
  ck_assert_msg (!minka_blob_store_has (store, name), "still there: %s", name);
  ck_assert_int_eq (minka_blob_store_size (store, name, &error), -1);
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_NOT_FOUND));
  g_clear_error (&error);
  ck_assert_ptr_null (minka_blob_store_read_chunk (store, name, 0, 10, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_NOT_FOUND));
  g_clear_error (&error);
}

/* @n blobs of pseudo-random sizes in [@min_len, @max_len]. */
static GPtrArray *
make_many (guint n, gsize min_len, gsize max_len, guint seed)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GRand *rand = g_rand_new_with_seed (seed);
  for (guint i = 0; i < n; i++)
    {
      gsize len = (gsize) g_rand_int_range (rand, (gint32) min_len, (gint32) max_len + 1);
      g_ptr_array_add (all, make_bytes (len, seed * 1000 + i));
    }
  g_rand_free (rand);
  return all;
}

static void
put_all (MinkaBlobStore *store, GPtrArray *all)
{
  for (guint i = 0; i < all->len; i++)
    {
      GError *error = NULL;
      g_autofree char *name = lazy_put (store, all->pdata[i], &error);
      ck_assert_msg (name != NULL, "%s", error ? error->message : "");
    }
}

START_TEST (test_pack_round_trip)
{
  GError *error = NULL;
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, &error);
  gsize sizes[] = { 0, 1, 100, 4096, 65535, 65536 };
  guint64 total = 0;
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      GBytes *bytes = make_bytes (sizes[i], 200 + i);
      g_ptr_array_add (all, bytes);
      g_autofree char *name = lazy_put (store, bytes, &error);
      ck_assert_ptr_null (error);
      ck_assert (!is_individual_file (store, name));
      ck_assert (minka_blob_store_sync (store, name, &error));
      ck_assert_ptr_null (error);
      total += sizes[i];
    }
  ck_assert_uint_eq (count_packs (), 1);
  ck_assert_uint_eq (count_tmp_files (), 0);

  /* Bigger lazy blobs, and small fsynced ones, stay individual files. */
  g_autoptr (GBytes) big = make_bytes (65537, 300);
  g_autofree char *big_name = lazy_put (store, big, &error);
  ck_assert (is_individual_file (store, big_name));
  ck_assert (minka_blob_store_sync (store, big_name, &error));
  g_autoptr (GBytes) durable = make_bytes (500, 301);
  g_autofree char *durable_name = minka_blob_store_put_bytes (store, durable, &error);
  ck_assert (is_individual_file (store, durable_name));
  total += 65537 + 500;
  /* The same bytes packed too: listed and counted once. */
  g_autofree char *again = lazy_put (store, durable, &error);
  ck_assert_str_eq (again, durable_name);

  for (guint i = 0; i < all->len; i++)
    check_blob (store, all->pdata[i]);
  check_blob (store, big);
  check_blob (store, durable);
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, &error);
  ck_assert_uint_eq (names->len, all->len + 2);
  for (guint i = 1; i < names->len; i++)
    ck_assert (strcmp (names->pdata[i - 1], names->pdata[i]) < 0);
  ck_assert_uint_eq (minka_blob_store_total_bytes (store), total);
  ck_assert (minka_blob_store_sync_packs (store, &error));

  /* A wrong expected name or size stores nothing. */
  g_autoptr (GBytes) other = make_bytes (1000, 302);
  g_autoptr (MinkaBlobWriter) bad = minka_blob_writer_new (store, ABC_SHA, 1000, &error);
  minka_blob_writer_set_lazy (bad, TRUE);
  ck_assert (minka_blob_writer_write (bad, g_bytes_get_data (other, NULL), 1000, &error));
  ck_assert_ptr_null (minka_blob_writer_finish (bad, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH));
  g_clear_error (&error);
  g_autoptr (MinkaBlobWriter) shortw = minka_blob_writer_new (store, NULL, 1000, &error);
  minka_blob_writer_set_lazy (shortw, TRUE);
  ck_assert (minka_blob_writer_write (shortw, "abc", 3, &error));
  ck_assert_ptr_null (minka_blob_writer_finish (shortw, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_SIZE_MISMATCH));
  g_clear_error (&error);
  ck_assert (!minka_blob_store_has (store, ABC_SHA));
  /* Syncing a blob that is not stored fails. */
  ck_assert (!minka_blob_store_sync (store, ABC_SHA, &error));
  g_clear_error (&error);
  ck_assert_uint_eq (count_tmp_files (), 0);
}
END_TEST

/* Bytes whose hash the caller already checked: packed without a second
 * hash when small, through a (hashing) writer when large. */
START_TEST (test_put_checked_lazy)
{
  GError *error = NULL;
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, &error);
  const gsize sizes[] = { 0, 777, 65536, 65537 };
  guint64 total = 0;
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr (GBytes) bytes = make_bytes (sizes[i], 400 + i);
      g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
      g_autofree char *name = minka_blob_store_put_checked_lazy (store, sha, bytes, &error);
      ck_assert_msg (error == NULL, "%s", error ? error->message : "");
      ck_assert_str_eq (name, sha);
      ck_assert (is_individual_file (store, name) == (sizes[i] > 65536));
      check_blob (store, bytes);
      total += sizes[i];
    }
  ck_assert_uint_eq (minka_blob_store_total_bytes (store), total);
  /* A name that is no SHA-256 is refused. */
  g_autoptr (GBytes) small = make_bytes (10, 450);
  ck_assert_ptr_null (minka_blob_store_put_checked_lazy (store, "../x", small, &error));
  g_clear_error (&error);
  /* A large blob still goes through the hash check. */
  g_autoptr (GBytes) big = make_bytes (70000, 451);
  ck_assert_ptr_null (minka_blob_store_put_checked_lazy (store, ABC_SHA, big, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH));
  g_clear_error (&error);
  ck_assert (minka_blob_store_sync_packs (store, &error));
}
END_TEST

START_TEST (test_pack_rollover_and_reopen)
{
  MinkaBlobStore *store = minka_blob_store_open (test_dir, NULL);
  minka_blob_packs_set_limit (minka_blob_store_get_packs (store), 200 * 1024);
  g_autoptr (GPtrArray) all = make_many (150, 1, 20000, 400);
  put_all (store, all);
  ck_assert_uint_ge (count_packs (), 5);
  for (guint i = 0; i < all->len; i++)
    check_blob (store, all->pdata[i]);
  minka_blob_store_free (store);

  store = minka_blob_store_open (test_dir, NULL);
  for (guint i = 0; i < all->len; i++)
    check_blob (store, all->pdata[i]);
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
  ck_assert_uint_eq (names->len, all->len);
  /* Appends continue in the last pack after a reopen. */
  guint packs = count_packs ();
  g_autoptr (GBytes) more = make_bytes (10, 401);
  g_autofree char *name = lazy_put (store, more, NULL);
  ck_assert_uint_eq (count_packs (), packs);
  minka_blob_store_free (store);
}
END_TEST

/* Cutting the last record of the last pack anywhere (or following it with
 * garbage) loses that record only, and new appends follow sound bytes. */
START_TEST (test_pack_torn_tail)
{
  MinkaBlobStore *store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GPtrArray) all = make_many (5, 100, 300, 500);
  put_all (store, all);
  minka_blob_store_free (store);
  g_autofree char *path = pack_path (1);
  g_autofree char *full = NULL;
  gsize size = 0;
  ck_assert (g_file_get_contents (path, &full, &size, NULL));
  gsize last_len = g_bytes_get_size (all->pdata[4]);
  gsize last_off = size - HDR - last_len;

  for (gsize cut = last_off; cut < size + 3; cut++)
    {
      if (cut < size)
        ck_assert (g_file_set_contents (path, full, (gssize) cut, NULL));
      else
        {
          /* Whole last record, then a torn start of another one. */
          g_autofree char *longer = g_malloc (size + 60);
          memcpy (longer, full, size);
          memcpy (longer + size, full + last_off, 60);
          ck_assert (g_file_set_contents (path, longer, (gssize) (size + 20 * (cut - size + 1)), NULL));
        }
      store = minka_blob_store_open (test_dir, NULL);
      for (guint i = 0; i < 4; i++)
        check_blob (store, all->pdata[i]);
      if (cut < size)
        check_gone (store, all->pdata[4]);
      else
        check_blob (store, all->pdata[4]);
      GStatBuf st;
      ck_assert_int_eq (g_stat (path, &st), 0);
      ck_assert_uint_eq ((guint64) st.st_size, cut < size ? last_off : size);
      minka_blob_store_free (store);
    }

  /* Writing it again after the truncation, then reopening, finds all. */
  ck_assert (g_file_set_contents (path, full, (gssize) (size - 7), NULL));
  store = minka_blob_store_open (test_dir, NULL);
  g_autofree char *name = lazy_put (store, all->pdata[4], NULL);
  minka_blob_store_free (store);
  store = minka_blob_store_open (test_dir, NULL);
  for (guint i = 0; i < 5; i++)
    check_blob (store, all->pdata[i]);
  minka_blob_store_free (store);
}
END_TEST

/* Offset of the @i-th record of a pack holding only the blobs of @all. */
static gsize
record_offset (GPtrArray *all, guint i)
{
  gsize off = 0;
  for (guint k = 0; k < i; k++)
    off += HDR + g_bytes_get_size (all->pdata[k]);
  return off;
}

static void
flip_bit (const char *path, gsize offset)
{
  g_autofree char *data = NULL;
  gsize size = 0;
  ck_assert (g_file_get_contents (path, &data, &size, NULL));
  ck_assert_uint_lt (offset, size);
  data[offset] ^= 0x10;
  ck_assert (g_file_set_contents (path, data, (gssize) size, NULL));
}

START_TEST (test_pack_bit_flip)
{
  g_autofree char *path = pack_path (1);
  MinkaBlobStore *store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GPtrArray) all = make_many (6, 200, 3000, 600);
  put_all (store, all);

  /* While open: the read's CRC check refuses the damaged bytes. */
  flip_bit (path, record_offset (all, 1) + HDR + 17);
  GError *error = NULL;
  g_autofree char *name1 = sha_of (all->pdata[1]);
  ck_assert (!minka_blob_store_verify (store, name1, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_HASH_MISMATCH));
  g_clear_error (&error);
  ck_assert_ptr_null (minka_blob_store_read_chunk (store, name1, 0, 10, &error));
  g_clear_error (&error);
  minka_blob_store_free (store);

  /* Reopened: that blob is missing, the others are fine. Damage the
   * length field of another record too: the scan finds the next one. */
  flip_bit (path, record_offset (all, 3) + 9);
  store = minka_blob_store_open (test_dir, NULL);
  for (guint i = 0; i < all->len; i++)
    if (i == 1 || i == 3)
      check_gone (store, all->pdata[i]);
    else
      check_blob (store, all->pdata[i]);
  /* Fetched again (as from a peer): back. */
  g_autofree char *again = lazy_put (store, all->pdata[1], NULL);
  check_blob (store, all->pdata[1]);
  minka_blob_store_free (store);
  store = minka_blob_store_open (test_dir, NULL);
  check_blob (store, all->pdata[1]);
  check_gone (store, all->pdata[3]);
  minka_blob_store_free (store);
}
END_TEST

START_TEST (test_pack_delete)
{
  MinkaBlobStore *store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GPtrArray) all = make_many (4, 10, 5000, 700);
  put_all (store, all);
  g_autofree char *name0 = sha_of (all->pdata[0]);
  g_autofree char *name1 = sha_of (all->pdata[1]);
  ck_assert (minka_blob_store_delete (store, name0, NULL));
  ck_assert (minka_blob_store_delete (store, name0, NULL));    /* again: no error */
  ck_assert (minka_blob_store_delete (store, name1, NULL));
  check_gone (store, all->pdata[0]);
  ck_assert_uint_eq (minka_blob_store_total_bytes (store),
                     g_bytes_get_size (all->pdata[2]) + g_bytes_get_size (all->pdata[3]));
  minka_blob_store_free (store);

  store = minka_blob_store_open (test_dir, NULL);
  check_gone (store, all->pdata[0]);
  check_gone (store, all->pdata[1]);
  check_blob (store, all->pdata[2]);
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
  ck_assert_uint_eq (names->len, 2);
  /* Written again: live again, also after a reopen. */
  g_autofree char *back = lazy_put (store, all->pdata[0], NULL);
  check_blob (store, all->pdata[0]);
  minka_blob_store_free (store);
  store = minka_blob_store_open (test_dir, NULL);
  check_blob (store, all->pdata[0]);
  check_gone (store, all->pdata[1]);
  /* And deleted once more. */
  ck_assert (minka_blob_store_delete (store, name0, NULL));
  minka_blob_store_free (store);
  store = minka_blob_store_open (test_dir, NULL);
  check_gone (store, all->pdata[0]);
  /* A blob both packed and a file: delete removes both. */
  g_autofree char *f = minka_blob_store_put_bytes (store, all->pdata[2], NULL);
  ck_assert (is_individual_file (store, f));
  ck_assert (minka_blob_store_delete (store, f, NULL));
  check_gone (store, all->pdata[2]);
  minka_blob_store_free (store);
  store = minka_blob_store_open (test_dir, NULL);
  check_gone (store, all->pdata[2]);
  check_blob (store, all->pdata[3]);
  minka_blob_store_free (store);
}
END_TEST

/* 40 blobs of 4 KiB over packs of 64 KiB (~15 per pack); deletes 3 of
 * every 4 of the first 30. */
static GPtrArray *
compaction_setup (MinkaBlobStore *store, GPtrArray **deleted)
{
  minka_blob_packs_set_limit (minka_blob_store_get_packs (store), 64 * 1024);
  GPtrArray *all = make_many (40, 4096, 4096, 800);
  put_all (store, all);
  GPtrArray *live = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  *deleted = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < all->len; i++)
    {
      GBytes *bytes = all->pdata[i];
      if (i < 30 && i % 4 != 0)
        {
          g_autofree char *name = sha_of (bytes);
          ck_assert (minka_blob_store_delete (store, name, NULL));
          g_ptr_array_add (*deleted, g_bytes_ref (bytes));
        }
      else
        g_ptr_array_add (live, g_bytes_ref (bytes));
    }
  g_ptr_array_unref (all);
  return live;
}

static void
check_sets (MinkaBlobStore *store, GPtrArray *live, GPtrArray *deleted)
{
  for (guint i = 0; i < live->len; i++)
    check_blob (store, live->pdata[i]);
  for (guint i = 0; i < deleted->len; i++)
    check_gone (store, deleted->pdata[i]);
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
  ck_assert_uint_eq (names->len, live->len);
}

START_TEST (test_pack_compaction)
{
  MinkaBlobStore *store = minka_blob_store_open (test_dir, NULL);
  GPtrArray *deleted = NULL;
  g_autoptr (GPtrArray) live = compaction_setup (store, &deleted);
  guint64 before = pack_bytes ();
  g_autofree char *first = pack_path (1);
  ck_assert (g_file_test (first, G_FILE_TEST_EXISTS));
  GError *error = NULL;
  ck_assert (minka_blob_store_compact (store, &error));
  ck_assert_ptr_null (error);
  guint64 after = pack_bytes ();
  ck_assert_msg (after < before * 2 / 3, "%" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT,
                 before, after);
  ck_assert (!g_file_test (first, G_FILE_TEST_EXISTS));
  check_sets (store, live, deleted);
  minka_blob_store_free (store);
  store = minka_blob_store_open (test_dir, NULL);
  check_sets (store, live, deleted);
  /* A deleted blob written again after compaction is live. */
  g_autofree char *name = lazy_put (store, deleted->pdata[0], NULL);
  GBytes *revived = g_ptr_array_steal_index (deleted, 0);
  g_ptr_array_add (live, revived);
  minka_blob_store_free (store);
  store = minka_blob_store_open (test_dir, NULL);
  check_sets (store, live, deleted);
  minka_blob_store_free (store);
  g_ptr_array_unref (deleted);
}
END_TEST

/* A tombstone in a compacted pack whose blob lies in an older pack that
 * stays must be kept; re-writing that blob later must still win. */
START_TEST (test_pack_compaction_keeps_tombstones)
{
  MinkaBlobStore *store = minka_blob_store_open (test_dir, NULL);
  /* Exactly 14 records of 4 KiB per pack: the tombstones start pack 2. */
  minka_blob_packs_set_limit (minka_blob_store_get_packs (store), 14 * (4096 + HDR));
  g_autoptr (GPtrArray) a = make_many (14, 4096, 4096, 900);    /* pack 1, stays mostly live */
  g_autoptr (GPtrArray) b = make_many (14, 4096, 4096, 901);
  put_all (store, a);
  g_autofree char *a0 = sha_of (a->pdata[0]);
  g_autofree char *a1 = sha_of (a->pdata[1]);
  ck_assert (minka_blob_store_delete (store, a0, NULL));        /* tombstones in pack 2 */
  ck_assert (minka_blob_store_delete (store, a1, NULL));
  put_all (store, b);
  for (guint i = 0; i < b->len; i++)
    {
      g_autofree char *name = sha_of (b->pdata[i]);
      ck_assert (minka_blob_store_delete (store, name, NULL));
    }
  /* a1 comes back before the compaction copies its tombstone forward. */
  g_autofree char *back = lazy_put (store, a->pdata[1], NULL);
  ck_assert (minka_blob_store_compact (store, NULL));
  ck_assert (pack_exists (1));
  ck_assert (!pack_exists (2));
  minka_blob_store_free (store);
  store = minka_blob_store_open (test_dir, NULL);
  check_gone (store, a->pdata[0]);
  check_blob (store, a->pdata[1]);
  for (guint i = 2; i < a->len; i++)
    check_blob (store, a->pdata[i]);
  for (guint i = 0; i < b->len; i++)
    check_gone (store, b->pdata[i]);
  minka_blob_store_free (store);
}
END_TEST

/* What the store knows durable of packs 1..@n (-1: no such pack). */
static void
durable_sizes (MinkaBlobStore *store, gint64 *sizes, guint n)
{
  for (guint no = 1; no <= n; no++)
    sizes[no - 1] = minka_blob_packs_durable_size (minka_blob_store_get_packs (store), no);
}

/* A power loss in the worst case: every pack file keeps only its durable
 * bytes; a pack whose creation was not durable vanishes. */
static void
lose_unsynced (const gint64 *sizes, guint n)
{
  for (guint no = 1; no <= n; no++)
    {
      g_autofree char *path = pack_path (no);
      g_autofree char *data = NULL;
      gsize size = 0;
      if (!g_file_get_contents (path, &data, &size, NULL))
        continue;
      ck_assert_int_ge (sizes[no - 1], 0);   /* no pack file the store forgot */
      if (sizes[no - 1] == 0)
        ck_assert_int_eq (g_remove (path), 0);
      else
        ck_assert (g_file_set_contents (path, data, (gssize) MIN ((gint64) size, sizes[no - 1]),
                                        NULL));
    }
}

/* Stops compaction after each of its steps (or not at all) and "crashes":
 * the process dies (files stay as written) or the power fails (unsynced
 * bytes are lost). No live blob may be lost, no deleted one come back. */
START_TEST (test_pack_compaction_crash)
{
  for (int stop = 0; stop <= 2; stop++)
    for (int power_loss = 0; power_loss <= 1; power_loss++)
      {
        teardown ();
        setup ();
        MinkaBlobStore *store = minka_blob_store_open (test_dir, NULL);
        GPtrArray *deleted = NULL;
        g_autoptr (GPtrArray) live = compaction_setup (store, &deleted);
        ck_assert (minka_blob_store_sync_packs (store, NULL));
        minka_blob_packs_set_compact_stop (minka_blob_store_get_packs (store), stop);
        ck_assert (minka_blob_store_compact (store, NULL));
        if (stop == 0)
          ck_assert (!pack_exists (1));
        gint64 sizes[20];
        durable_sizes (store, sizes, 20);
        minka_blob_store_free (store);                 /* the crash */
        if (power_loss)
          lose_unsynced (sizes, 20);

        store = minka_blob_store_open (test_dir, NULL);
        check_sets (store, live, deleted);
        /* A blob that may now be in two packs (original and copy) stays
         * deleted through a reopen and the compaction. */
        GBytes *victim = g_ptr_array_steal_index (live, 0);
        g_autofree char *victim_name = sha_of (victim);
        g_ptr_array_add (deleted, victim);
        ck_assert (minka_blob_store_delete (store, victim_name, NULL));
        minka_blob_store_free (store);
        store = minka_blob_store_open (test_dir, NULL);
        check_sets (store, live, deleted);
        ck_assert (minka_blob_store_compact (store, NULL));
        check_sets (store, live, deleted);
        minka_blob_store_free (store);
        store = minka_blob_store_open (test_dir, NULL);
        check_sets (store, live, deleted);
        minka_blob_store_free (store);
        g_ptr_array_unref (deleted);
      }
}
END_TEST

typedef struct {
  MinkaBlobStore *store;
  GPtrArray *blobs;
  guint first, step;
  gboolean delete;
  guint rounds;
  guint errors;
} Worker;

static gpointer
stress_writer (gpointer data)
{
  Worker *w = data;
  for (guint i = w->first; i < w->blobs->len; i += w->step)
    {
      g_autofree char *name = lazy_put (w->store, w->blobs->pdata[i], NULL);
      if (name == NULL)
        w->errors++;
    }
  return NULL;
}

static gpointer
stress_deleter (gpointer data)
{
  Worker *w = data;
  for (guint i = 0; i < w->blobs->len; i++)
    {
      g_autofree char *name = sha_of (w->blobs->pdata[i]);
      if (!minka_blob_store_delete (w->store, name, NULL))
        w->errors++;
    }
  return NULL;
}

/* Reads every blob of its set over and over, checking the bytes. */
static gpointer
stress_reader (gpointer data)
{
  Worker *w = data;
  for (guint r = 0; r < w->rounds; r++)
    for (guint i = 0; i < w->blobs->len; i++)
      {
        GBytes *bytes = w->blobs->pdata[i];
        g_autofree char *name = sha_of (bytes);
        g_autoptr (GBytes) chunk = minka_blob_store_read_chunk (w->store, name, 0, 1 << 20, NULL);
        if (chunk == NULL || !g_bytes_equal (chunk, bytes))
          w->errors++;
      }
  return NULL;
}

START_TEST (test_pack_threads)
{
  MinkaBlobStore *store = minka_blob_store_open (test_dir, NULL);
  /* Small packs: rollovers and compactions happen during the run. */
  minka_blob_packs_set_limit (minka_blob_store_get_packs (store), 128 * 1024);
  g_autoptr (GPtrArray) stable = make_many (40, 1, 8000, 1000);
  g_autoptr (GPtrArray) doomed = make_many (60, 1, 8000, 1001);
  g_autoptr (GPtrArray) fresh = make_many (200, 1, 8000, 1002);
  put_all (store, stable);
  put_all (store, doomed);

  Worker workers[6] = {
    { store, fresh, 0, 3, FALSE, 0, 0 },
    { store, fresh, 1, 3, FALSE, 0, 0 },
    { store, fresh, 2, 3, FALSE, 0, 0 },
    { store, fresh, 0, 2, FALSE, 0, 0 },   /* the same bytes as two others */
    { store, doomed, 0, 1, TRUE, 0, 0 },
    { store, stable, 0, 1, FALSE, 5, 0 },
  };
  GThread *threads[G_N_ELEMENTS (workers) + 1];
  Worker reader2 = { store, stable, 0, 1, FALSE, 5, 0 };
  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    threads[i] = g_thread_new ("stress", i == 4 ? stress_deleter
                                         : i == 5 ? stress_reader : stress_writer, &workers[i]);
  threads[G_N_ELEMENTS (workers)] = g_thread_new ("stress", stress_reader, &reader2);
  for (guint i = 0; i <= G_N_ELEMENTS (workers); i++)
    g_thread_join (threads[i]);
  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    ck_assert_uint_eq (workers[i].errors, 0);
  ck_assert_uint_eq (reader2.errors, 0);

  for (int pass = 0; pass < 2; pass++)
    {
      for (guint i = 0; i < stable->len; i++)
        check_blob (store, stable->pdata[i]);
      for (guint i = 0; i < fresh->len; i++)
        check_blob (store, fresh->pdata[i]);
      for (guint i = 0; i < doomed->len; i++)
        check_gone (store, doomed->pdata[i]);
      g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
      ck_assert_uint_eq (names->len, stable->len + fresh->len);
      /* The running total (pass 0: kept through the threads' writes and
       * deletes; pass 1: summed at open) counts each live blob once. */
      guint64 expected = 0;
      for (guint i = 0; i < stable->len; i++)
        expected += g_bytes_get_size (stable->pdata[i]);
      for (guint i = 0; i < fresh->len; i++)
        expected += g_bytes_get_size (fresh->pdata[i]);
      ck_assert_uint_eq (minka_blob_store_total_bytes (store), expected);
      ck_assert (minka_blob_store_compact (store, NULL));
      minka_blob_store_free (store);
      store = minka_blob_store_open (test_dir, NULL);
    }
  minka_blob_store_free (store);
}
END_TEST

START_TEST (test_crc32c)
{
  ck_assert_uint_eq (minka_blob_crc32c (0, "123456789", 9), 0xE3069283u);
  /* Split updates agree with one. */
  guint32 part = minka_blob_crc32c (minka_blob_crc32c (0, "1234", 4), "56789", 5);
  ck_assert_uint_eq (part, 0xE3069283u);
}
END_TEST

/* The collector's guarded delete: a blob (re)installed at or after the
 * cutoff stays; an older one goes, file or packed, and reports its size. */
START_TEST (test_delete_if_older)
{
  g_autoptr (MinkaBlobStore) store = minka_blob_store_open (test_dir, NULL);
  g_autoptr (GBytes) big = make_bytes (100000, 41);
  g_autoptr (GBytes) small = make_bytes (3000, 42);
  g_autofree char *file_name = minka_blob_store_put_bytes (store, big, NULL);
  g_autofree char *packed_name = lazy_put (store, small, NULL);
  gint64 now_s = g_get_real_time () / G_USEC_PER_SEC;
  gint64 freed = 0;
  /* Installed just now: a cutoff in the past keeps it. */
  ck_assert (minka_blob_store_delete_if_older (store, file_name, now_s - 60, &freed, NULL));
  ck_assert_int_eq (freed, -1);
  ck_assert (minka_blob_store_has (store, file_name));
  /* Installed before the cutoff: deleted, with its size. */
  ck_assert (minka_blob_store_delete_if_older (store, file_name, now_s + 2, &freed, NULL));
  ck_assert_int_eq (freed, 100000);
  ck_assert (!minka_blob_store_has (store, file_name));
  /* A packed blob has no time of its own: the cutoff does not apply. */
  ck_assert (minka_blob_store_delete_if_older (store, packed_name, now_s - 60, &freed, NULL));
  ck_assert_int_eq (freed, 3000);
  ck_assert (!minka_blob_store_has (store, packed_name));
  /* Missing: not an error, nothing freed. */
  ck_assert (minka_blob_store_delete_if_older (store, packed_name, now_s + 2, &freed, NULL));
  ck_assert_int_eq (freed, 0);
  /* A bad name is an error. */
  GError *error = NULL;
  ck_assert (!minka_blob_store_delete_if_older (store, "../x", now_s, &freed, &error));
  ck_assert (g_error_matches (error, MINKA_BLOB_ERROR, MINKA_BLOB_ERROR_BAD_NAME));
  g_error_free (error);
  /* Stored again after being judged (the file was old): the rename marks
   * it new, so the cutoff taken before keeps it. */
  g_autofree char *again = minka_blob_store_put_bytes (store, big, NULL);
  ck_assert (minka_blob_store_delete_if_older (store, again, now_s - 1, &freed, NULL));
  ck_assert_int_eq (freed, -1);
  ck_assert (minka_blob_store_has (store, again));
  g_autoptr (GPtrArray) names = minka_blob_store_list (store, NULL);
  ck_assert_uint_eq (names->len, 1);
  ck_assert_str_eq (names->pdata[0], again);
}
END_TEST

static Suite *
blob_suite (void)
{
  Suite *s = suite_create ("blob-store");
  TCase *tc = tcase_create ("blob-store");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_known_hash_and_put_bytes);
  tcase_add_test (tc, test_mismatches);
  tcase_add_test (tc, test_abort_and_crash_leftovers);
  tcase_add_test (tc, test_interleaved_writers_same_blob);
  tcase_add_test (tc, test_threaded_writers_same_blob);
  tcase_add_test (tc, test_bad_names);
  tcase_add_test (tc, test_corruption_and_junk);
  tcase_add_test (tc, test_open_failure);
  suite_add_tcase (s, tc);
  TCase *packs = tcase_create ("packs");
  tcase_add_checked_fixture (packs, setup, teardown);
  tcase_add_test (packs, test_crc32c);
  tcase_add_test (packs, test_pack_round_trip);
  tcase_add_test (packs, test_put_checked_lazy);
  tcase_add_test (packs, test_pack_rollover_and_reopen);
  tcase_add_test (packs, test_pack_torn_tail);
  tcase_add_test (packs, test_pack_bit_flip);
  tcase_add_test (packs, test_pack_delete);
  tcase_add_test (packs, test_pack_compaction);
  tcase_add_test (packs, test_pack_compaction_keeps_tombstones);
  tcase_add_test (packs, test_pack_compaction_crash);
  tcase_add_test (packs, test_pack_threads);
  tcase_add_test (packs, test_delete_if_older);
  suite_add_tcase (s, packs);
  return s;
}

int
main (void)
{
  SRunner *runner = srunner_create (blob_suite ());
  srunner_run_all (runner, CK_NORMAL);
  int failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}
