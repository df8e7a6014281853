/* fuzz-replay.c — runs a libFuzzer entry point without libFuzzer, so CI
 * exercises it with any compiler: every file of a seed corpus, then a
 * number of seeded random mutations of them (byte flips, insertions of
 * HTTP-ish tokens, deletions, splices, truncations).
 * Usage: fuzz-replay CORPUS_DIR [ITERATIONS] [SEED] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char *const tokens[] = {
  "\r\n", "\n", "\r", "\r\n\r\n", " ", "\t", "%", "%2e", "%2E%2e", "%00", "%2f", "/..", "/.",
  "..", ":", "Content-Length: ", "Transfer-Encoding: chunked", "Host: a", "HTTP/1.1",
  "HTTP/1.0", "GET ", "Connection: close", "\0", "\x7f", "\xff", "?", "#", "*",
};

static void
mutate (GRand *rand, GByteArray *buf, GPtrArray *seeds)
{
  guint n = g_rand_int_range (rand, 1, 6);
  for (guint k = 0; k < n; k++)
    {
      guint pos = buf->len ? g_rand_int_range (rand, 0, buf->len + 1) : 0;
      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0:
          if (pos < buf->len)
            buf->data[pos] ^= (guint8) (1u << g_rand_int_range (rand, 0, 8));
          break;
        case 1:
          {
            const char *t = tokens[g_rand_int_range (rand, 0, G_N_ELEMENTS (tokens))];
            gsize len = t[0] ? strlen (t) : 1;
            guint old = buf->len;
            g_byte_array_set_size (buf, old + len);
            memmove (buf->data + pos + len, buf->data + pos, old - pos);
            memcpy (buf->data + pos, t, len);
          }
          break;
        case 2:
          if (pos < buf->len)
            {
              guint cut = (guint) g_rand_int_range (rand, 1, 16);   /* MIN evaluates twice */
              g_byte_array_remove_range (buf, pos, MIN (cut, buf->len - pos));
            }
          break;
        case 3:
          {
            GBytes *other = g_ptr_array_index (seeds, g_rand_int_range (rand, 0, seeds->len));
            gsize olen = 0;
            const guint8 *odata = g_bytes_get_data (other, &olen);
            guint from = olen ? g_rand_int_range (rand, 0, olen) : 0;
            g_byte_array_set_size (buf, pos);
            g_byte_array_append (buf, odata + from, olen - from);
          }
          break;
        case 4:
          g_byte_array_set_size (buf, pos);
          break;
        default:
          if (pos < buf->len)
            buf->data[pos] = (guint8) g_rand_int_range (rand, 0, 256);
          break;
        }
    }
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s CORPUS_DIR [ITERATIONS] [SEED]\n", argv[0]);
      return 2;
    }
  guint iterations = argc > 2 ? (guint) atoi (argv[2]) : 20000;
  guint32 seed = argc > 3 ? (guint32) atoi (argv[3]) : 20261122;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (argv[1], 0, &error);
  if (dir == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  g_autoptr (GPtrArray) seeds = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (const char *name; (name = g_dir_read_name (dir)) != NULL;)
    {
      g_autofree char *path = g_build_filename (argv[1], name, NULL);
      char *data = NULL;
      gsize len = 0;
      if (!g_file_get_contents (path, &data, &len, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      /* Replay with every leading split byte class. */
      for (guint split = 0; split < 4; split++)
        {
          g_autoptr (GByteArray) in = g_byte_array_new ();
          guint8 first = (guint8) (split * 31);
          g_byte_array_append (in, &first, 1);
          g_byte_array_append (in, (const guint8 *) data, len);
          LLVMFuzzerTestOneInput (in->data, in->len);
        }
      g_ptr_array_add (seeds, g_bytes_new_take (data, len));
    }
  if (seeds->len == 0)
    {
      fprintf (stderr, "empty corpus %s\n", argv[1]);
      return 1;
    }
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  for (guint i = 0; i < iterations; i++)
    {
      GBytes *base = g_ptr_array_index (seeds, g_rand_int_range (rand, 0, seeds->len));
      gsize len = 0;
      const guint8 *data = g_bytes_get_data (base, &len);
      g_autoptr (GByteArray) buf = g_byte_array_new ();
      guint8 first = (guint8) g_rand_int_range (rand, 0, 256);
      g_byte_array_append (buf, &first, 1);
      g_byte_array_append (buf, data, len);
      mutate (rand, buf, seeds);
      LLVMFuzzerTestOneInput (buf->data, buf->len);
    }
  printf ("fuzz_replay: seeds=%u random=%u seed=%u\n", seeds->len, iterations, seed);
  return 0;
}
