/*
 * serve_route - the pure request logic of `kirim serve`: which route a
 * method and path name, whether a POST body is an RFC 8058 one-click
 * unsubscribe, whether a user agent is a known mail prefetcher (a machine
 * open), and the click-link rewriting the composer applies to HTML parts.
 *
 * Routes (TOKEN is [A-Za-z0-9_-]{1,63}; the HMAC check is the caller's):
 *   GET|HEAD /healthz                  health
 *   GET|HEAD /u/TOKEN                  the unsubscribe page (never unsubscribes)
 *   POST     /u/TOKEN                  unsubscribe (RFC 8058 one-click)
 *   POST     /u/TOKEN/unsubscribe      the preferences page's form (scope, reason)
 *   POST     /u/TOKEN/resubscribe      undo an unsubscribe
 *   GET|HEAD /o/TOKEN.gif              open pixel
 *   GET|HEAD /c/TOKEN/N                click N (decimal, no leading zeros, < SERVE_LINKS_MAX)
 *   GET|HEAD /v/TOKEN                  the browser view of the recipient's message
 *   GET|HEAD /s/LIST                   the signup page of a list (LIST as a token)
 *   POST     /s/LIST                   a signup (form fields or a JSON object)
 *   GET|HEAD /k/TOKEN                  a signup's confirmation page (never confirms)
 *   POST     /k/TOKEN                  confirm the signup
 *   POST     /hooks/PROVIDER           a provider's webhook (ses, sendgrid, postmark: the token)
 * A known path with another method is SERVE_ROUTE_METHOD (405); anything
 * else is SERVE_ROUTE_NOT_FOUND. A query string is ignored by the routing
 * (serve_form_field reads its fields).
 *
 * Pure code: no I/O, no globals, no logging. Returned pointers point into
 * the caller's input and live as long as it does.
 */
#ifndef KIRIM_SERVE_ROUTE_H
#define KIRIM_SERVE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct buf;

enum serve_route_kind {
	SERVE_ROUTE_NOT_FOUND,
	SERVE_ROUTE_METHOD, /* a known path, a method it does not take */
	SERVE_ROUTE_HEALTH,
	SERVE_ROUTE_UNSUB_PAGE,
	SERVE_ROUTE_UNSUB_POST,
	SERVE_ROUTE_RESUB_POST,
	SERVE_ROUTE_OPEN,
	SERVE_ROUTE_CLICK,
	SERVE_ROUTE_VIEW,
	SERVE_ROUTE_REPORT, /* /r/CAMPAIGN: the live HTML report (token = the campaign's name) */
	SERVE_ROUTE_UNSUB_FORM,       /* POST /u/TOKEN/unsubscribe: the preferences page's form */
	SERVE_ROUTE_SIGNUP_PAGE,      /* GET /s/LIST (token = the list's name) */
	SERVE_ROUTE_SIGNUP_POST,      /* POST /s/LIST */
	SERVE_ROUTE_CONFIRM_PAGE,     /* GET /k/TOKEN */
	SERVE_ROUTE_CONFIRM_POST,     /* POST /k/TOKEN */
	SERVE_ROUTE_HOOK,             /* POST /hooks/PROVIDER (esp_hooks.h) */
	SERVE_ROUTE_SIGNUP_PREFLIGHT, /* OPTIONS /s/LIST: CORS, for a form on another site */
};

enum { SERVE_LINKS_MAX = 1000, SERVE_TOKEN_MAX = 63, SERVE_URL_MAX = 2048 };

struct serve_route {
	enum serve_route_kind kind;
	bool head;         /* HEAD: answer as GET, record nothing */
	const char *token; /* into the path, token_len bytes; NULL when the route has none */
	size_t token_len;
	unsigned link; /* SERVE_ROUTE_CLICK: the link number */
};

/* serve_route_name - a short name for logs ("unsubscribe", "open", ...) */
const char *serve_route_name(enum serve_route_kind kind);

/*
 * serve_route_match - route method (NUL-terminated) and the n bytes of path
 * (the request target, query string allowed) into *out. Always fills *out.
 */
void serve_route_match(const char *method, const char *path, size_t n, struct serve_route *out);

/*
 * serve_route_one_click - whether the POST body (n bytes, content type ctype,
 * NULL when absent) carries List-Unsubscribe=One-Click (RFC 8058 section 3.2):
 * application/x-www-form-urlencoded (other fields allowed) or
 * multipart/form-data. Sets *page when the form also has page=1 (the
 * unsubscribe page's own form, which wants a page back).
 */
bool serve_route_one_click(const char *ctype, const char *body, size_t n, bool *page);

/*
 * serve_form_field - the value of field name in the n bytes at s, an
 * application/x-www-form-urlencoded body or a query string (what follows the
 * '?' of a request target is found here: a target may be passed whole),
 * decoded ('+' a space, %XX a byte) into out (cap bytes, NUL-terminated).
 * The first field of that name counts. Returns 1 when found, 0 when absent,
 * -1 when present but too long for out, broken (a bad % escape) or holding
 * a NUL or another control character other than TAB, CR and LF.
 */
int serve_form_field(const char *s, size_t n, const char *name, char *out, size_t cap);

/*
 * serve_route_machine_ua - the name of the prefetcher ua belongs to
 * ("apple-mpp", "gmail-proxy", ...), or NULL for a person's mail client. An
 * absent or empty user agent counts as a machine ("empty").
 */
const char *serve_route_machine_ua(const char *ua);

/*
 * The click-link table of a campaign: url[n] is link n. fixed: no URL is
 * added, so a link the table does not hold is left as it is (the browser
 * view: a number given there must already mean that URL to kirim serve).
 */
struct serve_links {
	char **url;
	size_t n, cap;
	bool fixed;
};

/*
 * serve_links_rewrite - copy the n bytes of html to out with the href of
 * every <a> (and <area>) whose URL is http(s) rewritten to
 * BASE/c/TOKEN/N (BASE without its trailing '/'), where N is the URL's
 * number in links: a URL already there keeps its number, a new one is
 * appended (so one table serves every recipient of a campaign). Skips
 * mailto: and other schemes, URLs starting with skip_prefix (kirim's own
 * unsubscribe and view links; NULL: none), URLs longer than SERVE_URL_MAX,
 * and every link past SERVE_LINKS_MAX (or not in a fixed table). The table stores URLs with &amp;
 * and the other character references of an attribute decoded, as a browser
 * would follow them. Returns the number of links rewritten.
 */
size_t serve_links_rewrite(const char *html, size_t n, const char *base_url, const char *token,
                           const char *skip_prefix, struct buf *out, struct serve_links *links);
/*
 * serve_links_add - append url as the next link, whatever it is (a table read
 * back from campaigns.options "links" keeps its numbers)
 */
void serve_links_add(struct serve_links *links, const char *url);
/* serve_links_json - append the table as a JSON array of strings (campaigns.options "links") */
void serve_links_json(const struct serve_links *links, struct buf *out);
/* serve_links_free - release the table's strings; the struct can be reused */
void serve_links_free(struct serve_links *links);

/*
 * serve_route_redirect_ok - whether url (from a campaign's link table) is
 * safe for a Location header: http or https, a host, no control
 * characters, at most SERVE_URL_MAX bytes.
 */
bool serve_route_redirect_ok(const char *url);

struct sockaddr;
/*
 * serve_route_client - the client of a request from peer sa: its address as
 * 16 bytes (IPv4 mapped) into addr and, when text is not NULL, as text
 * (textsz bytes, "-" when unknown). With trust_proxy and a loopback peer (the
 * proxy), the client is the one the proxy names: real (the last X-Real-IP
 * line), else the rightmost entry of fwd (the last X-Forwarded-For line),
 * since a proxy appends to the header or adds a line after the client's own;
 * NULL when absent. Returns whether the client is on this machine
 * (127.0.0.0/8, ::1): one header that cannot be read, or names another
 * machine, makes it not.
 */
bool serve_route_client(const struct sockaddr *sa, bool trust_proxy, const char *fwd,
                        const char *real, unsigned char addr[16], char *text, size_t textsz);

struct sockaddr_storage;
/*
 * serve_route_listen - "HOST:PORT" or "[IPV6]:PORT" (a numeric address; port
 * 0 to 65535) into *sa and its length; 0, or -1 when it is not one
 */
int serve_route_listen(const char *s, struct sockaddr_storage *sa, socklen_t *len);

#endif
