/* minka-compat.c — operating-system calls that GLib does not wrap. This is
 * the one file allowed to include POSIX or Win32 headers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* O_DIRECTORY, kill() under -std=c11 */
#endif
#include "config.h"
#include "minka-compat.h"

#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <glib/gstdio.h>

#ifdef G_OS_WIN32
#include <winsock2.h>
#include <windows.h>
#include <psapi.h>
#include <io.h>
#include <fcntl.h>
#include <sys/stat.h>
#else
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <glib-unix.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>
#endif

gboolean
minka_fsync_dir (const char *path, GError **error)
{
#ifdef G_OS_WIN32
  (void) path;
  (void) error;
  return TRUE;
#else
  int fd = open (path, O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "open %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  gboolean ok = fsync (fd) == 0;
  int saved = errno;
  close (fd);
  if (!ok)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                 "fsync %s: %s", path, g_strerror (saved));
  return ok;
#endif
}

gboolean
minka_sync_filesystem (const char *path, GError **error)
{
#ifdef __linux__
  int fd = open (path, O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "open %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  gboolean ok = syncfs (fd) == 0;
  int saved = errno;
  close (fd);
  if (!ok)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                 "syncfs %s: %s", path, g_strerror (saved));
  return ok;
#else
  (void) path;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "no file-system sync on this platform");
  return FALSE;
#endif
}

guint64
minka_rss_bytes (void)
{
#ifdef G_OS_WIN32
  PROCESS_MEMORY_COUNTERS pmc;
  if (GetProcessMemoryInfo (GetCurrentProcess (), &pmc, sizeof pmc))
    return pmc.WorkingSetSize;
  return 0;
#else
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    return 0;
  unsigned long pages_total = 0, pages_resident = 0;
  if (sscanf (text, "%lu %lu", &pages_total, &pages_resident) != 2)
    return 0;
  return (guint64) pages_resident * (guint64) sysconf (_SC_PAGESIZE);
#endif
}

guint64
minka_peak_rss_bytes (void)
{
#ifdef G_OS_WIN32
  PROCESS_MEMORY_COUNTERS pmc;
  if (GetProcessMemoryInfo (GetCurrentProcess (), &pmc, sizeof pmc))
    return pmc.PeakWorkingSetSize;
  return 0;
#else
  struct rusage usage;
  if (getrusage (RUSAGE_SELF, &usage) != 0)
    return 0;
  /* Linux reports KiB, and updates the high-water mark lazily: it can lag
   * behind the current RSS, which is a peak too. */
  return MAX ((guint64) usage.ru_maxrss * 1024, minka_rss_bytes ());
#endif
}

guint64
minka_subprocess_id (GSubprocess *process)
{
  const char *id = g_subprocess_get_identifier (process);
  return id != NULL ? g_ascii_strtoull (id, NULL, 10) : 0;
}

static gboolean
send_signal (guint64 process_id, int sig, GError **error)
{
#ifdef G_OS_WIN32
  (void) sig;
  HANDLE process = OpenProcess (PROCESS_TERMINATE, FALSE, (DWORD) process_id);
  gboolean ok = process != NULL && TerminateProcess (process, 137);
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot stop process %" G_GUINT64_FORMAT
                 ": Windows error %lu", process_id, (unsigned long) GetLastError ());
  if (process != NULL)
    CloseHandle (process);
  return ok;
#else
  if (process_id == 0 || process_id > G_MAXINT || kill ((pid_t) process_id, sig) != 0)
    {
      int saved = process_id == 0 || process_id > G_MAXINT ? ESRCH : errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "kill %" G_GUINT64_FORMAT ": %s", process_id, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
#endif
}

gboolean
minka_kill_process (guint64 process_id, GError **error)
{
#ifdef G_OS_WIN32
  return send_signal (process_id, 9, error);
#else
  return send_signal (process_id, SIGKILL, error);
#endif
}

gboolean
minka_terminate_process (guint64 process_id, GError **error)
{
#ifdef G_OS_WIN32
  return send_signal (process_id, 15, error);
#else
  return send_signal (process_id, SIGTERM, error);
#endif
}

void
minka_socket_set_nodelay (GSocket *socket)
{
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

struct _MinkaTerminateWatch
{
  GSourceFunc callback;
  gpointer user_data;
  GDestroyNotify notify;
#ifndef G_OS_WIN32
  guint sources[2];
#endif
};

#ifdef G_OS_WIN32
static GMutex watches_lock;
static GList *watches;              /* MinkaTerminateWatch*, newest first */

static gboolean
call_watches (gpointer unused)
{
  g_mutex_lock (&watches_lock);
  GList *copy = g_list_copy (watches);
  g_mutex_unlock (&watches_lock);
  for (GList *l = copy; l != NULL; l = l->next)
    {
      MinkaTerminateWatch *watch = l->data;
      watch->callback (watch->user_data);
    }
  g_list_free (copy);
  return G_SOURCE_REMOVE;
}

static BOOL WINAPI
on_console_ctrl_watches (DWORD type)
{
  g_idle_add (call_watches, NULL);
  /* For these Windows ends the process as soon as the handler returns:
   * wait here while the main loop shuts down cleanly (the process exits
   * under us when it is done; Windows gives up after about 5 s). */
  if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
    Sleep (10000);
  return TRUE;
}
#else
static gboolean
call_watch (gpointer data)
{
  MinkaTerminateWatch *watch = data;
  watch->callback (watch->user_data);
  return G_SOURCE_CONTINUE;
}
#endif

MinkaTerminateWatch *
minka_terminate_watch_add (GSourceFunc callback, gpointer user_data, GDestroyNotify notify)
{
  MinkaTerminateWatch *watch = g_new0 (MinkaTerminateWatch, 1);
  watch->callback = callback;
  watch->user_data = user_data;
  watch->notify = notify;
#ifdef G_OS_WIN32
  g_mutex_lock (&watches_lock);
  if (watches == NULL)
    SetConsoleCtrlHandler (on_console_ctrl_watches, TRUE);
  watches = g_list_prepend (watches, watch);
  g_mutex_unlock (&watches_lock);
#else
  watch->sources[0] = g_unix_signal_add_full (G_PRIORITY_HIGH, SIGINT, call_watch, watch, NULL);
  watch->sources[1] = g_unix_signal_add_full (G_PRIORITY_HIGH, SIGTERM, call_watch, watch, NULL);
#endif
  return watch;
}

void
minka_terminate_watch_remove (MinkaTerminateWatch *watch)
{
  if (watch == NULL)
    return;
#ifdef G_OS_WIN32
  g_mutex_lock (&watches_lock);
  watches = g_list_remove (watches, watch);
  if (watches == NULL)
    SetConsoleCtrlHandler (on_console_ctrl_watches, FALSE);
  g_mutex_unlock (&watches_lock);
#else
  for (guint i = 0; i < 2; i++)
    g_source_remove (watch->sources[i]);
#endif
  if (watch->notify)
    watch->notify (watch->user_data);
  g_free (watch);
}

void
minka_on_terminate (GSourceFunc callback, gpointer user_data)
{
  minka_terminate_watch_add (callback, user_data, NULL);   /* for the process's life */
}

void
minka_console_use_utf8 (void)
{
#ifdef G_OS_WIN32
  SetConsoleOutputCP (CP_UTF8);
#endif
}

const char *
minka_locale_dir (void)
{
#ifdef G_OS_WIN32
  static gsize dir = 0;
  if (g_once_init_enter (&dir))
    {
      g_autofree char *base = g_win32_get_package_installation_directory_of_module (NULL);
      char *path = base ? g_build_filename (base, "share", "locale", NULL) : g_strdup (LOCALEDIR);
      g_once_init_leave (&dir, (gsize) path);
    }
  return (const char *) dir;
#else
  return LOCALEDIR;
#endif
}

guint
minka_cpu_count (void)
{
  return MAX (1u, g_get_num_processors ());
}

guint64
minka_raise_file_limit (guint64 want)
{
#ifdef G_OS_WIN32
  (void) want;
  return 0;
#else
  struct rlimit limit;
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return 0;
  rlim_t target = (rlim_t) want;
  if (limit.rlim_max != RLIM_INFINITY && target > limit.rlim_max)
    target = limit.rlim_max;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < target)
    {
      struct rlimit raised = { target, limit.rlim_max };
      if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
        limit.rlim_cur = target;
    }
  return limit.rlim_cur == RLIM_INFINITY ? G_MAXUINT64 : (guint64) limit.rlim_cur;
#endif
}

/* ---- unbuffered files ---------------------------------------------------- */

struct _MinkaFile
{
  int fd;
  char *path;
  gboolean writable;
};

#ifdef G_OS_WIN32
#define minka_lseek _lseeki64
#define minka_write _write
#define minka_read _read
#define minka_close _close
#else
#define minka_lseek lseek
#define minka_write write
#define minka_read read
#define minka_close close
#endif

static gboolean
set_errno_error (GError **error, const char *what, const char *path, int saved)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
               "%s %s: %s", what, path, g_strerror (saved));
  return FALSE;
}

#ifdef G_OS_WIN32
static int
errno_from_win32 (DWORD code)
{
  switch (code)
    {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return ENOENT;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return EEXIST;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
      return EACCES;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return ENOSPC;
    default:
      return EIO;
    }
}

/* Like open(), but shared for deletion too: on Windows a file open anywhere
 * cannot be deleted or renamed over otherwise, and a blob being downloaded
 * or a segment being read must not block a delete (POSIX semantics). */
static int
win32_open (const char *path, MinkaFileFlags flags)
{
  DWORD access = ((flags & MINKA_FILE_READ) || !(flags & MINKA_FILE_WRITE) ? GENERIC_READ : 0)
                 | ((flags & MINKA_FILE_WRITE) ? GENERIC_WRITE : 0);
  DWORD disposition;
  if (flags & MINKA_FILE_CREATE)
    disposition = (flags & MINKA_FILE_EXCLUSIVE) ? CREATE_NEW
                  : (flags & MINKA_FILE_TRUNCATE) ? CREATE_ALWAYS : OPEN_ALWAYS;
  else
    disposition = (flags & MINKA_FILE_TRUNCATE) ? TRUNCATE_EXISTING : OPEN_EXISTING;
  gunichar2 *wpath = g_utf8_to_utf16 (path, -1, NULL, NULL, NULL);
  if (wpath == NULL)
    {
      errno = EINVAL;
      return -1;
    }
  HANDLE h = CreateFileW (wpath, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                          NULL, disposition, FILE_ATTRIBUTE_NORMAL, NULL);
  g_free (wpath);
  if (h == INVALID_HANDLE_VALUE)
    {
      errno = errno_from_win32 (GetLastError ());
      return -1;
    }
  int oflags = _O_BINARY | ((flags & MINKA_FILE_APPEND) ? _O_APPEND : 0)
               | ((flags & MINKA_FILE_WRITE) ? 0 : _O_RDONLY);
  int fd = _open_osfhandle ((intptr_t) h, oflags);
  if (fd < 0)
    {
      CloseHandle (h);
      errno = EIO;
    }
  return fd;
}
#endif

MinkaFile *
minka_file_open (const char *path, MinkaFileFlags flags, GError **error)
{
#ifdef G_OS_WIN32
  int fd = win32_open (path, flags);
#else
  int oflags = 0;
  if ((flags & MINKA_FILE_READ) && (flags & MINKA_FILE_WRITE))
    oflags = O_RDWR;
  else if (flags & MINKA_FILE_WRITE)
    oflags = O_WRONLY;
  else
    oflags = O_RDONLY;
  if (flags & MINKA_FILE_CREATE)
    oflags |= O_CREAT;
  if (flags & MINKA_FILE_EXCLUSIVE)
    oflags |= O_EXCL;
  if (flags & MINKA_FILE_TRUNCATE)
    oflags |= O_TRUNC;
  if (flags & MINKA_FILE_APPEND)
    oflags |= O_APPEND;
  int fd = g_open (path, oflags | O_CLOEXEC, 0644);
#endif
  if (fd < 0)
    {
      set_errno_error (error, "open", path, errno);
      return NULL;
    }
  MinkaFile *file = g_new0 (MinkaFile, 1);
  file->fd = fd;
  file->path = g_strdup (path);
  file->writable = (flags & MINKA_FILE_WRITE) != 0;
  return file;
}

gssize
minka_file_read (MinkaFile *file, void *buffer, gsize count, GError **error)
{
  for (;;)
    {
      gssize n = minka_read (file->fd, buffer, (unsigned) MIN (count, (gsize) G_MAXINT32));
      if (n >= 0)
        return n;
      if (errno == EINTR)
        continue;
      set_errno_error (error, "read", file->path, errno);
      return -1;
    }
}

gboolean
minka_file_pread_all (MinkaFile *file, void *buffer, gsize count, gint64 offset,
                      GError **error)
{
  if (!minka_file_seek (file, offset, error))
    return FALSE;
  guint8 *p = buffer;
  while (count > 0)
    {
      gssize n = minka_file_read (file, p, count, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO,
                       "read %s: unexpected end of file", file->path);
          return FALSE;
        }
      p += n;
      count -= (gsize) n;
    }
  return TRUE;
}

gboolean
minka_file_write_all (MinkaFile *file, const void *buffer, gsize count, GError **error)
{
  const guint8 *p = buffer;
  while (count > 0)
    {
      gssize n = minka_write (file->fd, p, (unsigned) MIN (count, (gsize) G_MAXINT32));
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return set_errno_error (error, "write", file->path, errno);
        }
      if (n == 0)
        return set_errno_error (error, "write", file->path, ENOSPC);
      p += n;
      count -= (gsize) n;
    }
  return TRUE;
}

gboolean
minka_file_seek (MinkaFile *file, gint64 offset, GError **error)
{
  if (minka_lseek (file->fd, offset, SEEK_SET) < 0)
    return set_errno_error (error, "seek", file->path, errno);
  return TRUE;
}

gint64
minka_file_size (MinkaFile *file, GError **error)
{
#ifdef G_OS_WIN32
  struct _stati64 st;
  if (_fstati64 (file->fd, &st) != 0)
#else
  struct stat st;
  if (fstat (file->fd, &st) != 0)
#endif
    {
      set_errno_error (error, "stat", file->path, errno);
      return -1;
    }
  return (gint64) st.st_size;
}

gboolean
minka_file_truncate (MinkaFile *file, gint64 size, GError **error)
{
#ifdef G_OS_WIN32
  if (_chsize_s (file->fd, size) != 0)
#else
  if (ftruncate (file->fd, (off_t) size) != 0)
#endif
    return set_errno_error (error, "truncate", file->path, errno);
  return TRUE;
}

gboolean
minka_file_sync (MinkaFile *file, GError **error)
{
#ifdef G_OS_WIN32
  /* FlushFileBuffers needs a handle open for writing: flush the file
   * through one when ours is read-only (syncing a blob already written). */
  if (!file->writable)
    {
      MinkaFile *w = minka_file_open (file->path, MINKA_FILE_WRITE, error);
      gboolean ok = w != NULL && minka_file_sync (w, error);
      minka_file_close (w);
      return ok;
    }
  if (_commit (file->fd) != 0)
#else
  if (fdatasync (file->fd) != 0)
#endif
    return set_errno_error (error, "fsync", file->path, errno);
  return TRUE;
}

void
minka_file_close (MinkaFile *file)
{
  if (!file)
    return;
  minka_close (file->fd);
  g_free (file->path);
  g_free (file);
}
