/* test-crc32.h — a plain bitwise CRC-32 (IEEE 802.3, reflected, as zlib),
 * independent of nn-model-file.c's table-driven one, for tests that forge
 * .minka files with a valid checksum. */
#pragma once

#include <glib.h>

static inline guint32
test_crc32 (const guint8 *data, gsize len)
{
  guint32 crc = 0xffffffffu;
  for (gsize i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
  return ~crc;
}
