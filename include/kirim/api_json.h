/*
 * api_json - the pure parts of the API's answers: problem details (RFC 9457),
 * entity tags and If-Match (RFC 9110 8.8.3, 13.1.1), the opaque cursors of
 * keyset pagination, and the JSON forms of text and times.
 *
 * A cursor is "k" followed by the base64url of the last key a page ended on
 * (an address, a name, a decimal id): opaque to clients, checked on the way
 * back (a cursor that does not decode is a 400, not an empty page).
 *
 * Pure code: no I/O, no globals, no logging. Values are jansson's.
 */
#ifndef KIRIM_API_JSON_H
#define KIRIM_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum { API_ETAG_MAX = 24, API_CURSOR_MAX = 1400, API_CURSOR_KEY_MAX = 1000 };

/* api_status_text - the reason phrase of an HTTP status ("Not Found"), "Error" when unknown */
const char *api_status_text(int status);

/*
 * api_problem - a problem details object: type ("about:blank" when slug is
 * NULL, else "urn:kirim:problem:SLUG"), title (the status's phrase), status,
 * detail (NULL: none) and instance (the request's path; NULL: none)
 */
json_t *api_problem(int status, const char *slug, const char *detail, const char *instance);

/*
 * api_etag - a strong entity tag for the representation v: a quoted hash
 * of its canonical text (sorted keys, compact), into out (API_ETAG_MAX)
 */
void api_etag(const json_t *v, char out[API_ETAG_MAX]);
/*
 * api_if_match - whether an If-Match header value (NULL: absent, which
 * passes) lets a change to a resource whose tag is etag (NULL: it does not
 * exist) go ahead: "*" matches any existing resource, else one of the
 * comma-separated tags must equal etag by the strong comparison (a weak tag,
 * W/"...", never matches).
 */
bool api_if_match(const char *header, const char *etag);

/* api_cursor_encode - the cursor of key (n bytes, at most API_CURSOR_KEY_MAX) into out */
void api_cursor_encode(const char *key, size_t n, char out[API_CURSOR_MAX]);
/*
 * api_cursor_decode - the key of cursor into key (keysz bytes, NUL-terminated);
 * its length, or -1 when it is not a cursor (or the key holds a NUL)
 */
int api_cursor_decode(const char *cursor, char *key, size_t keysz);

/* api_json_text - n bytes as a JSON string (bytes that are not UTF-8 read as Latin-1) */
json_t *api_json_textn(const char *s, size_t n);
/* api_json_text - s as a JSON string; null when s is NULL */
json_t *api_json_text(const char *s);
/* api_json_opt - s as a JSON string; null when s is NULL or "" */
json_t *api_json_opt(const char *s);
/*
 * api_json_number - v as printf's fmt ("%.6g", "%.3f") writes it: an integer
 * when fmt writes neither a point nor an exponent, else a real (dump with
 * JSON_REAL_PRECISION(15) to print it as written); null when v is not finite
 */
json_t *api_json_number(double v, const char *fmt);
/* api_json_time - a Unix time as RFC 3339 UTC ("2024-05-01T12:00:00Z"); null when t is 0 */
json_t *api_json_time(int64_t t);
/* api_json_parse - stored JSON text as a value (the text as a string if it does not parse) */
json_t *api_json_parse(const char *text);

#endif
