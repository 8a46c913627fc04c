/*
 * http_client - one blocking HTTP/1.1 POST, for the webhook delivery thread:
 * resolve, connect, send, read the status line, close. Every step is bounded
 * by one deadline. http:// only. Does not log; the caller reports.
 */
#ifndef KIRIM_HTTP_CLIENT_H
#define KIRIM_HTTP_CLIENT_H

#include <stddef.h>

/*
 * http_client_post - POST the n bytes of body to url (http://HOST[:PORT][/PATH])
 * with the extra header lines headers ("Name: value\r\n" each, or NULL),
 * within timeout seconds. 0 with the answer's status in *status, or -1 with
 * a sentence in err (the URL, the name, the connection, the deadline).
 */
int http_client_post(const char *url, const char *headers, const void *body, size_t n,
                     unsigned timeout, int *status, char *err, size_t errsz);

#endif
