/* test-blob-store.c — the content-addressed blob store: streaming writes,
 * reads in chunks, hash and size mismatches, aborts and crash leftovers,
 * concurrent writers of one blob, corruption, and names that try to escape
 * the folder. */
#include <check.h>
#include <string.h>
#include <glib/gstdio.h>

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

static guint
count_tmp_files (void)
{
  g_autofree char *tmp = g_build_filename (test_dir, "blobs", "tmp", NULL);
  GDir *dir = g_dir_open (tmp, 0, NULL);
  ck_assert_ptr_nonnull (dir);
  guint n = 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
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
