/* chromium-run.h — runs headless Chromium (Debian's /usr/bin/chromium) for
 * the page tests: dump the rendered DOM, or save a screenshot. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TEST_CHROMIUM "/usr/bin/chromium"

gboolean test_chromium_available (void);
/* Runs Chromium with its fixed headless flags plus @extra (NULL-terminated)
 * and returns its stdout, or NULL with @error on failure or after 90 s. */
char *test_chromium_run (const char *const *extra, GError **error);

G_END_DECLS
