/* console - the web console's embedded assets and their headers (console.h). */
#include "kirim/console.h"

#include <string.h>

const char console_headers[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri "
    "'none';"
    " frame-ancestors 'none'\r\n"
    "X-Frame-Options: DENY\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cache-Control: no-cache\r\n";

static const struct {
	const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
};

const struct console_file *
console_asset(const char *path, const char **type)
{
	if (*path == '\0')
		path = "index.html";
	for (size_t i = 0; i < console_files_count; i++) {
		if (strcmp(console_files[i].name, path) != 0)
			continue;
		size_t n = strlen(path);
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			size_t e = strlen(types[t].ext);
			if (n > e && strcmp(path + n - e, types[t].ext) == 0) {
				*type = types[t].type;
				return &console_files[i];
			}
		}
		return NULL; /* an embedded file of a kind not served */
	}
	return NULL;
}
