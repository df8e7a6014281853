/* minka-compat.h — the only place that talks to the operating system
 * directly (POSIX or Win32). Everything else uses GLib/GIO. Keep it small. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Make a rename or file creation inside @path durable (POSIX: fsync the
 * directory; Windows: nothing to do, NTFS metadata is journalled). */
gboolean minka_fsync_dir (const char *path, GError **error);

/* Flushes every file of the file system that holds @path (Linux: syncfs).
 * FALSE with G_IO_ERROR_NOT_SUPPORTED where there is no such call: fsync
 * the files one by one instead. */
gboolean minka_sync_filesystem (const char *path, GError **error);

/* Resident set size of this process, in bytes; 0 if unknown. */
guint64 minka_rss_bytes (void);

/* Peak resident set size of this process, in bytes; 0 if unknown. */
guint64 minka_peak_rss_bytes (void);

/* The ID of @process as the system numbers processes (what
 * g_subprocess_get_identifier prints, on every system), or 0 once it
 * has exited. */
guint64 minka_subprocess_id (GSubprocess *process);

/* Hard-kill the process with this ID (SIGKILL / TerminateProcess). Tests
 * use it to crash workers. */
gboolean minka_kill_process (guint64 process_id, GError **error);

/* Ask it to shut down cleanly (SIGTERM). Windows has no such request for
 * a console process that is not in our console group: a hard kill. */
gboolean minka_terminate_process (guint64 process_id, GError **error);

/* Turn off Nagle's algorithm: small Raft and request frames go out at once. */
void minka_socket_set_nodelay (GSocket *socket);

/* Calls @callback on the main context each time the process is asked to
 * stop (SIGINT/SIGTERM; Ctrl-C/close on Windows), for the process's life;
 * its return value is ignored. */
void minka_on_terminate (GSourceFunc callback, gpointer user_data);

/* The same until the watch is removed, which frees @user_data with
 * @notify. */
typedef struct _MinkaTerminateWatch MinkaTerminateWatch;
MinkaTerminateWatch *minka_terminate_watch_add (GSourceFunc callback, gpointer user_data,
                                                GDestroyNotify notify);
void minka_terminate_watch_remove (MinkaTerminateWatch *watch);

/* Where the message catalogues are: LOCALEDIR, or on Windows the
 * share/locale of the installation that holds the running program (an
 * MSYS2 install can live in any folder). */
const char *minka_locale_dir (void);

/* Our output is UTF-8 (GLib, translations): make a Windows console show
 * it as such (it assumes the OEM code page). Nothing to do elsewhere. */
void minka_console_use_utf8 (void);

/* Number of logical processors available to this process. */
guint minka_cpu_count (void);
/* Raises this process's soft limit on open files towards its hard limit,
 * to at most @want, and returns the limit now in force (0 where there is
 * none to read, as on Windows). A worker holds one descriptor per
 * connection, log segment and file being written. */
guint64 minka_raise_file_limit (guint64 want);

/* Unbuffered file I/O with the durability calls GLib lacks (fsync of an
 * open file, truncate, positioned writes). Errors are G_FILE_ERROR; a full
 * disk is G_FILE_ERROR_NOSPC. */
typedef struct _MinkaFile MinkaFile;

typedef enum {
  MINKA_FILE_READ     = 1 << 0,
  MINKA_FILE_WRITE    = 1 << 1,
  MINKA_FILE_CREATE   = 1 << 2,   /* create if missing */
  MINKA_FILE_EXCLUSIVE = 1 << 3,  /* with CREATE: fail if it exists */
  MINKA_FILE_TRUNCATE = 1 << 4,
  MINKA_FILE_APPEND   = 1 << 5,
} MinkaFileFlags;

MinkaFile *minka_file_open (const char *path, MinkaFileFlags flags, GError **error);
/* Reads up to @count bytes; returns bytes read (0 at end of file) or -1. */
gssize minka_file_read (MinkaFile *file, void *buffer, gsize count, GError **error);
/* Reads exactly @count bytes at @offset, or fails (short file is an error). */
gboolean minka_file_pread_all (MinkaFile *file, void *buffer, gsize count,
                               gint64 offset, GError **error);
/* Writes all @count bytes at the current position, retrying short writes. */
gboolean minka_file_write_all (MinkaFile *file, const void *buffer, gsize count,
                               GError **error);
gboolean minka_file_seek (MinkaFile *file, gint64 offset, GError **error);
gint64 minka_file_size (MinkaFile *file, GError **error);
gboolean minka_file_truncate (MinkaFile *file, gint64 size, GError **error);
/* Flush data (and the metadata needed to read it back) to stable storage. */
gboolean minka_file_sync (MinkaFile *file, GError **error);
void minka_file_close (MinkaFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MinkaFile, minka_file_close)

G_END_DECLS
