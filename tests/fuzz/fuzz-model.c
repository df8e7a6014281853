/* fuzz-model.c — libFuzzer entry point for the .minka model reader, which
 * takes files users upload. Half the inputs (odd first byte) are read as
 * they are, so the frame checks (magic, version, sizes, CRC) see anything;
 * the other half are a JSON header and weights that this file wraps in a
 * valid frame with a correct CRC, so the fuzzer gets past the checksum to
 * the header's validation. A model that loads must predict a row, and
 * write itself out and read back to the same bytes. Nothing may crash,
 * leak or read out of bounds. */
#include <stdint.h>
#include <string.h>

#include "nn-model.h"
#include "test-crc32.h"

#define MODEL_MAGIC "\x89MINKA\r\n"
#define MODEL_VERSION 1

static void
put_le (GByteArray *out, guint64 v, guint bytes)
{
  for (guint i = 0; i < bytes; i++)
    {
      guint8 b = (guint8) (v >> (8 * i));
      g_byte_array_append (out, &b, 1);
    }
}

/* Input: u16 header length, header, weights (the whole 4-byte floats). */
static GBytes *
fuzz_wrap (const guint8 *data, gsize size)
{
  if (size < 2)
    return NULL;
  gsize hlen = MIN ((gsize) (data[0] | (data[1] << 8)), size - 2);
  const guint8 *header = data + 2, *weights = header + hlen;
  gsize n_params = (size - 2 - hlen) / 4;
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, (const guint8 *) MODEL_MAGIC, 8);
  put_le (out, MODEL_VERSION, 4);
  put_le (out, hlen, 4);
  put_le (out, n_params, 8);
  g_byte_array_append (out, header, (guint) hlen);
  g_byte_array_append (out, weights, (guint) (4 * n_params));
  put_le (out, test_crc32 (out->data, out->len), 4);
  return g_byte_array_free_to_bytes (out);
}

static void
fuzz_use_model (NnModel *model)
{
  guint n_in = nn_model_n_inputs (model), n_out = nn_model_n_outputs (model);
  float *row = g_new0 (float, n_in);
  float *out = g_new0 (float, n_out);
  nn_model_predict (model, row, 1, out);
  g_free (row);
  g_free (out);

  GBytes *saved = nn_model_serialize (model);
  GError *error = NULL;
  NnModel *again = nn_model_deserialize (saved, &error);
  g_assert_no_error (error);
  GBytes *saved_again = nn_model_serialize (again);
  g_assert_true (g_bytes_equal (saved, saved_again));
  g_bytes_unref (saved_again);
  nn_model_free (again);
  g_bytes_unref (saved);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  GBytes *bytes = (data[0] & 1) ? g_bytes_new (data + 1, size - 1)
                                : fuzz_wrap (data + 1, size - 1);
  if (bytes == NULL)
    return 0;
  GError *error = NULL;
  NnModel *model = nn_model_deserialize (bytes, &error);
  if (model != NULL)
    {
      fuzz_use_model (model);
      nn_model_free (model);
    }
  else
    {
      g_assert (error != NULL && error->message[0] != '\0');
      g_error_free (error);
    }
  g_bytes_unref (bytes);
  return 0;
}
