/* fuzz-frame.c — libFuzzer entry point for what a worker decodes from the
 * network before anything else looks at it: the frame parser (fed in two
 * pieces, split where the input's first byte says, so every split point of
 * a header or body gets tried), a header line on its own, and the decoders
 * of Raft messages and memberships that frame bodies carry between peers.
 * Whatever the bytes, nothing may crash, leak, read out of bounds or loop. */
#include <stdint.h>
#include <string.h>

#include "minka-frame.h"
#include "raft-message.h"
#include "raft-types.h"

/* Small limits, so that the fuzzer reaches "too large" quickly. */
#define FUZZ_MAX_HEADER 2048
#define FUZZ_MAX_BODY 8192

/* Feeds @len bytes; FALSE once the parser failed (it stays failed). */
static gboolean
fuzz_feed (MinkaFrameParser *parser, const guint8 *data, gsize len)
{
  while (len > 0)
    {
      gsize consumed = 0;
      GError *error = NULL;
      MinkaFrame *frame = minka_frame_parser_feed (parser, data, len, &consumed, &error);
      if (error != NULL)
        {
          g_error_free (error);
          return FALSE;
        }
      if (frame != NULL)
        {
          (void) minka_frame_get_frame_type (frame);
          (void) minka_frame_get_id (frame);
          minka_frame_free (frame);
        }
      else if (consumed == 0)
        return TRUE;              /* needs more bytes than there are */
      g_assert (consumed <= len);
      data += consumed;
      len -= consumed;
    }
  return TRUE;
}

static void
fuzz_frames (const guint8 *data, gsize size)
{
  MinkaFrameParser *parser = minka_frame_parser_new ();
  minka_frame_parser_set_limits (parser, FUZZ_MAX_HEADER, FUZZ_MAX_BODY);
  gsize split = size > 0 ? data[0] % (size + 1) : 0;
  if (fuzz_feed (parser, data, split))
    fuzz_feed (parser, data + split, size - split);
  (void) minka_frame_parser_in_frame (parser);
  minka_frame_parser_free (parser);
}

static void
fuzz_header_line (const guint8 *data, gsize size)
{
  const guint8 *nl = memchr (data, '\n', size);
  gsize len = nl ? (gsize) (nl - data) : size;
  gsize body_len = 0;
  GError *error = NULL;
  JsonObject *header = minka_frame_parse_header ((const char *) data, len, FUZZ_MAX_BODY,
                                                 &body_len, &error);
  if (header != NULL)
    {
      g_assert (body_len <= FUZZ_MAX_BODY);
      json_object_unref (header);
    }
  g_clear_error (&error);
}

static void
fuzz_raft (const guint8 *data, gsize size)
{
  GBytes *bytes = g_bytes_new (data, size);
  RaftMessage msg;
  GError *error = NULL;
  if (raft_message_decode (bytes, &msg, &error))
    {
      /* What decodes must encode again. */
      GBytes *again = raft_message_encode (&msg);
      g_assert (again != NULL);
      g_bytes_unref (again);
      raft_message_clear (&msg);
    }
  g_clear_error (&error);
  RaftConfig config;
  if (raft_config_decode (bytes, &config, &error))
    raft_config_clear (&config);
  g_clear_error (&error);
  g_bytes_unref (bytes);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_frames (data, size);
  fuzz_header_line (data, size);
  fuzz_raft (data, size);
  return 0;
}
