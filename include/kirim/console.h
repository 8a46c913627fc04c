/*
 * console - the web console's assets (the files under console/: HTML, CSS, JS), embedded in
 * the binary at build time by tools/embed-files.py, and the headers they are
 * served with on the admin listener at /console/ (api.c). No CDN, nothing
 * fetched: the console works offline. Pure lookups; any thread.
 */
#ifndef KIRIM_CONSOLE_H
#define KIRIM_CONSOLE_H

#include <stddef.h>

struct console_file {
	const char *name; /* "console.js": the path below console/ */
	const char *data;
	size_t len;
};

/* The embedded files (console_embed.c, generated). */
extern const struct console_file console_files[];
extern const size_t console_files_count;

/*
 * The headers every console answer carries: a Content-Security-Policy that
 * allows the console's own scripts, styles and API calls and nothing else (no
 * inline script or style, no frames), and the usual hardening.
 */
extern const char console_headers[];

/*
 * console_asset - the file for a request path below /console/ ("" is the
 * shell, index.html) and its Content-Type; NULL when there is none
 */
const struct console_file *console_asset(const char *path, const char **type);

#endif
