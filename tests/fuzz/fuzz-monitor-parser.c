/* fuzz-monitor-parser.c — libFuzzer entry point for the monitor's HTTP
 * request parser. The first byte picks how the rest is split into feeds,
 * so incremental parsing is exercised too. Checks the parser's promises:
 * it never over-consumes, requests have a normalised path without dot
 * segments, errors are 400/431/505. Also built into fuzz-replay for CI. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor-http-parser.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check (int ok)
{
  if (!ok)
    abort ();
}

static void
request_check (const MonitorRequest *r)
{
  check (r->method != NULL && r->method[0] != '\0');
  check (r->version_minor <= 1);
  check (r->path != NULL);
  if (strcmp (r->path, "*") == 0)
    return;
  check (r->path[0] == '/');
  check (strstr (r->path, "/../") == NULL && !g_str_has_suffix (r->path, "/.."));
  check (strstr (r->path, "/./") == NULL && !g_str_has_suffix (r->path, "/."));
  check (strstr (r->path, "//") == NULL);
  check (strchr (r->path, '\\') == NULL);
  check (!(r->content_length > 0 && r->chunked));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  gsize step = 1 + data[0] % 97;
  data++;
  size--;
  g_autoptr (MonitorParser) parser = monitor_parser_new (MONITOR_MAX_HEAD);
  gsize off = 0;
  while (off < size)
    {
      gsize end = MIN (size, off + step);
      while (off < end)
        {
          gsize consumed = 0;
          guint status = 0;
          g_autoptr (MonitorRequest) request = NULL;
          MonitorParseResult r = monitor_parser_feed (parser, data + off, end - off, &consumed, &request, &status);
          check (consumed <= end - off);
          off += consumed;
          if (r == MONITOR_PARSE_ERROR)
            {
              check (status == 400 || status == 431 || status == 505);
              check (request == NULL);
              return 0;
            }
          if (r == MONITOR_PARSE_REQUEST)
            request_check (request);
          else
            check (consumed == end - (off - consumed) && request == NULL);
        }
    }
  /* The path normaliser on its own. */
  g_autofree char *path = monitor_path_normalise ((const char *) data, MIN (size, 4096));
  if (path)
    check (path[0] == '/' && strstr (path, "/../") == NULL && !g_str_has_suffix (path, "/.."));
  return 0;
}
