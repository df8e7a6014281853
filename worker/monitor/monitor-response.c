/* monitor-response.c — status line, headers and body of one response; the
 * chunked transfer coding lives here. */
#include "monitor-response.h"

#include <string.h>

#define CHUNK_SIZE 4096

MonitorResponse *
monitor_response_new (guint status)
{
  MonitorResponse *response = g_new0 (MonitorResponse, 1);
  response->status = status;
  response->headers = g_string_new (NULL);
  return response;
}

MonitorResponse *
monitor_response_new_error (guint status)
{
  MonitorResponse *response = monitor_response_new (status);
  char *text = g_strdup_printf ("%u %s\n", status, monitor_status_reason (status));
  g_autoptr (GBytes) body = g_bytes_new_take (text, strlen (text));
  monitor_response_set_body (response, body, "text/plain; charset=utf-8");
  return response;
}

void
monitor_response_free (MonitorResponse *response)
{
  if (response == NULL)
    return;
  g_string_free (response->headers, TRUE);
  if (response->body)
    g_bytes_unref (response->body);
  g_free (response);
}

void
monitor_response_add_header (MonitorResponse *response, const char *name, const char *value)
{
  g_string_append_printf (response->headers, "%s: %s\r\n", name, value);
}

void
monitor_response_set_body (MonitorResponse *response, GBytes *body, const char *content_type)
{
  if (response->body)
    g_bytes_unref (response->body);
  response->body = body ? g_bytes_ref (body) : NULL;
  if (content_type)
    monitor_response_add_header (response, "Content-Type", content_type);
}

const char *
monitor_status_reason (guint status)
{
  switch (status)
    {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default:  return "Unknown";
    }
}

static void
append_str (GByteArray *out, const char *s)
{
  g_byte_array_append (out, (const guint8 *) s, strlen (s));
}

static void
body_write_chunked (const guint8 *data, gsize size, GByteArray *out)
{
  char line[32];
  for (gsize off = 0; off < size; off += CHUNK_SIZE)
    {
      gsize n = MIN (CHUNK_SIZE, size - off);
      g_snprintf (line, sizeof line, "%" G_GSIZE_MODIFIER "x\r\n", n);
      append_str (out, line);
      g_byte_array_append (out, data + off, n);
      append_str (out, "\r\n");
    }
  append_str (out, "0\r\n\r\n");
}

void
monitor_response_write (const MonitorResponse *response, GByteArray *out,
                        gboolean head_only, guint version_minor, const char *date)
{
  gsize size = 0;
  const guint8 *data = response->body ? g_bytes_get_data (response->body, &size) : NULL;
  gboolean chunked = response->chunked && version_minor >= 1;
  gboolean bodiless = response->status == 304 || response->status == 204
                      || response->status < 200;
  char line[128];
  g_snprintf (line, sizeof line, "HTTP/1.1 %u %s\r\nDate: %s\r\nServer: minka-monitor\r\n",
              response->status, monitor_status_reason (response->status), date);
  append_str (out, line);
  g_byte_array_append (out, (const guint8 *) response->headers->str, response->headers->len);
  if (!bodiless)
    {
      if (chunked)
        append_str (out, "Transfer-Encoding: chunked\r\n");
      else
        {
          g_snprintf (line, sizeof line, "Content-Length: %" G_GSIZE_FORMAT "\r\n", size);
          append_str (out, line);
        }
    }
  if (response->close)
    append_str (out, "Connection: close\r\n");
  else if (version_minor == 0)
    append_str (out, "Connection: keep-alive\r\n");
  append_str (out, "\r\n");
  if (head_only || bodiless)
    return;
  if (chunked)
    body_write_chunked (data, size, out);
  else if (size > 0)
    g_byte_array_append (out, data, size);
}
