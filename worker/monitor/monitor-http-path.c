/* monitor-http-path.c — percent-decoding and dot-segment removal of request
 * paths, so that no request can name anything above "/" (assets come from a
 * GResource bundle anyway; this is defence in depth). */
#include "monitor-http-parser.h"

#include <string.h>

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes %XX escapes of one segment; FALSE on a bad escape or a byte we
 * never accept in a path (NUL, '/', '\\' once decoded). */
static gboolean
segment_decode (const char *raw, gsize len, GString *out)
{
  for (gsize i = 0; i < len; i++)
    {
      char c = raw[i];
      if (c == '%')
        {
          if (i + 2 >= len)
            return FALSE;
          int hi = hex_value (raw[i + 1]);
          int lo = hex_value (raw[i + 2]);
          if (hi < 0 || lo < 0)
            return FALSE;
          c = (char) (hi * 16 + lo);
          i += 2;
          if (c == '\0' || c == '/')
            return FALSE;
        }
      if (c == '\\')
        return FALSE;
      g_string_append_c (out, c);
    }
  return TRUE;
}

char *
monitor_path_normalise (const char *raw, gsize len)
{
  if (len == 0 || raw[0] != '/')
    return NULL;
  g_autoptr (GPtrArray) segments = g_ptr_array_new_with_free_func (g_free);
  gboolean trailing_slash = FALSE;
  gsize start = 1;
  while (start <= len)
    {
      const char *slash = memchr (raw + start, '/', len - start);
      gsize end = slash ? (gsize) (slash - raw) : len;
      g_autoptr (GString) seg = g_string_new (NULL);
      if (!segment_decode (raw + start, end - start, seg))
        return NULL;
      trailing_slash = FALSE;
      if (strcmp (seg->str, "..") == 0)
        {
          if (segments->len == 0)
            return NULL;              /* would climb above the root */
          g_ptr_array_remove_index (segments, segments->len - 1);
          trailing_slash = TRUE;
        }
      else if (seg->len == 0 || strcmp (seg->str, ".") == 0)
        trailing_slash = TRUE;
      else
        g_ptr_array_add (segments, g_string_free (g_steal_pointer (&seg), FALSE));
      start = end + 1;
    }
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < segments->len; i++)
    {
      g_string_append_c (out, '/');
      g_string_append (out, g_ptr_array_index (segments, i));
    }
  if (out->len == 0 || trailing_slash)
    g_string_append_c (out, '/');
  return g_string_free (out, FALSE);
}
