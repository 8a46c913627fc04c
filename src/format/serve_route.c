/*
 * serve_route - routes, the RFC 8058 body check, the prefetcher table and
 * click-link rewriting for `kirim serve` (see serve_route.h). Pure code.
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include "kirim/serve_route.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "kirim/buf.h"
#include "kirim/hex.h"
#include "kirim/sockaddr.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

static const char *const route_names[] = {
    [SERVE_ROUTE_NOT_FOUND] = "not_found",
    [SERVE_ROUTE_METHOD] = "bad_method",
    [SERVE_ROUTE_HEALTH] = "health",
    [SERVE_ROUTE_UNSUB_PAGE] = "unsubscribe_page",
    [SERVE_ROUTE_UNSUB_POST] = "unsubscribe",
    [SERVE_ROUTE_RESUB_POST] = "resubscribe",
    [SERVE_ROUTE_OPEN] = "open",
    [SERVE_ROUTE_CLICK] = "click",
    [SERVE_ROUTE_VIEW] = "view",
    [SERVE_ROUTE_REPORT] = "report",
    [SERVE_ROUTE_UNSUB_FORM] = "unsubscribe_form",
    [SERVE_ROUTE_SIGNUP_PAGE] = "signup_page",
    [SERVE_ROUTE_SIGNUP_POST] = "signup",
    [SERVE_ROUTE_CONFIRM_PAGE] = "confirm_page",
    [SERVE_ROUTE_CONFIRM_POST] = "confirm",
    [SERVE_ROUTE_HOOK] = "hook",
    [SERVE_ROUTE_SIGNUP_PREFLIGHT] = "signup_preflight",
};

/* serve_route_name - the route's name for logs */
const char *
serve_route_name(enum serve_route_kind kind)
{
	if ((size_t)kind >= sizeof(route_names) / sizeof(route_names[0]))
		return "unknown";
	return route_names[kind];
}

static bool
token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* The length of the token at p (at most n bytes), or 0 when it is empty or too long. */
static size_t
token_span(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && token_char((unsigned char)p[i]))
		i++;
	return i > SERVE_TOKEN_MAX ? 0 : i;
}

static bool
equals(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* The route of a path, method not yet considered; sets token and link. */
static enum serve_route_kind
route_path(const char *p, size_t n, struct serve_route *out)
{
	if (equals(p, n, "/healthz"))
		return SERVE_ROUTE_HEALTH;
	static const char *const hooks[] = {"/hooks/ses", "/hooks/sendgrid", "/hooks/postmark"};
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (equals(p, n, hooks[i])) {
			out->token = p + 7;
			out->token_len = n - 7;
			return SERVE_ROUTE_HOOK;
		}
	if (n < 4 || p[0] != '/' || p[2] != '/')
		return SERVE_ROUTE_NOT_FOUND;
	char kind = p[1];
	const char *t = p + 3;
	size_t rest = n - 3;
	size_t tl = token_span(t, rest);
	if (tl == 0)
		return SERVE_ROUTE_NOT_FOUND;
	const char *after = t + tl;
	size_t an = rest - tl;
	out->token = t;
	out->token_len = tl;
	switch (kind) {
	case 'u':
		if (an == 0)
			return SERVE_ROUTE_UNSUB_PAGE;
		if (equals(after, an, "/resubscribe"))
			return SERVE_ROUTE_RESUB_POST;
		if (equals(after, an, "/unsubscribe"))
			return SERVE_ROUTE_UNSUB_FORM;
		break;
	case 's':
		if (an == 0)
			return SERVE_ROUTE_SIGNUP_PAGE;
		break;
	case 'k':
		if (an == 0)
			return SERVE_ROUTE_CONFIRM_PAGE;
		break;
	case 'o':
		if (equals(after, an, ".gif"))
			return SERVE_ROUTE_OPEN;
		break;
	case 'v':
		if (an == 0)
			return SERVE_ROUTE_VIEW;
		break;
	case 'r':
		if (an == 0)
			return SERVE_ROUTE_REPORT;
		break;
	case 'c': {
		if (an < 2 || after[0] != '/')
			break;
		const char *d = after + 1;
		size_t dn = an - 1;
		if (dn > 4 || (dn > 1 && d[0] == '0'))
			break;
		unsigned v = 0;
		for (size_t i = 0; i < dn; i++) {
			if (d[i] < '0' || d[i] > '9')
				goto none;
			v = v * 10 + (unsigned)(d[i] - '0');
		}
		if (v >= SERVE_LINKS_MAX)
			break;
		out->link = v;
		return SERVE_ROUTE_CLICK;
	}
	default:
		break;
	}
none:
	out->token = NULL;
	out->token_len = 0;
	return SERVE_ROUTE_NOT_FOUND;
}

/* serve_route_match - route a request */
void
serve_route_match(const char *method, const char *path, size_t n, struct serve_route *out)
{
	memset(out, 0, sizeof(*out));
	const char *q = memchr(path, '?', n);
	if (q)
		n = (size_t)(q - path);
	const char *h = memchr(path, '#', n);
	if (h)
		n = (size_t)(h - path);
	enum serve_route_kind k = route_path(path, n, out);
	bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
	bool post = strcmp(method, "POST") == 0;
	bool ok;
	switch (k) {
	case SERVE_ROUTE_NOT_FOUND:
		ok = true;
		break;
	case SERVE_ROUTE_UNSUB_PAGE:
		if (post)
			k = SERVE_ROUTE_UNSUB_POST;
		ok = get || head || post;
		break;
	case SERVE_ROUTE_SIGNUP_PAGE:
		/* A page on another site asks whether it may post a signup with fetch (CORS). */
		if (strcmp(method, "OPTIONS") == 0) {
			k = SERVE_ROUTE_SIGNUP_PREFLIGHT;
			ok = true;
			break;
		}
		/* fall through */
	case SERVE_ROUTE_CONFIRM_PAGE:
		/* The page, or its form's POST. */
		if (post)
			k = k == SERVE_ROUTE_SIGNUP_PAGE ? SERVE_ROUTE_SIGNUP_POST
			                                 : SERVE_ROUTE_CONFIRM_POST;
		ok = get || head || post;
		break;
	case SERVE_ROUTE_RESUB_POST:
	case SERVE_ROUTE_UNSUB_FORM:
	case SERVE_ROUTE_HOOK:
		ok = post;
		break;
	default:
		ok = get || head;
		break;
	}
	if (!ok) {
		k = SERVE_ROUTE_METHOD;
		out->token = NULL;
		out->token_len = 0;
	}
	out->kind = k;
	out->head = head && k != SERVE_ROUTE_NOT_FOUND && k != SERVE_ROUTE_METHOD;
}

/*
 * Form-decode the n bytes at p ('+' is a space, %XX a byte) into out (cap
 * bytes, NUL-terminated). Returns the decoded length (a %00 counts, so a
 * length other than strlen(out) means a NUL inside), or -1 when it does not
 * fit or a % escape is broken; such a field is then simply not the one we
 * look for.
 */
static long
form_decode(const char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)p[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hex_value((unsigned char)p[i + 1]),
			    lo = hex_value((unsigned char)p[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

/* serve_form_field - a field of a urlencoded body or query string, decoded */
int
serve_form_field(const char *s, size_t n, const char *name, char *out, size_t cap)
{
	const char *q = memchr(s, '?', n);
	if (q) {
		n -= (size_t)(q + 1 - s);
		s = q + 1;
	}
	const char *h = memchr(s, '#', n);
	if (h)
		n = (size_t)(h - s);
	size_t nl = strlen(name);
	size_t i = 0;
	while (i < n) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - s) : n;
		const char *f = s + i;
		size_t fl = end - i;
		const char *eq = memchr(f, '=', fl);
		size_t kl = eq ? (size_t)(eq - f) : fl;
		char key[64];
		if (kl < sizeof(key) && form_decode(f, kl, key, sizeof(key)) == (long)nl &&
		    memcmp(key, name, nl) == 0) {
			if (cap == 0)
				return -1;
			if (!eq) {
				out[0] = '\0';
				return 1;
			}
			long vl = form_decode(eq + 1, fl - kl - 1, out, cap);
			/* Refused: too long, broken, or a NUL (%00) or other control byte inside.
			 */
			if (vl < 0 || (size_t)vl != strlen(out))
				return -1;
			for (const char *c = out; *c; c++)
				if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\r' &&
				    *c != '\n')
					return -1;
			return 1;
		}
		i = end + 1;
	}
	return 0;
}

static bool
one_click_urlencoded(const char *body, size_t n, bool *page)
{
	bool found = false;
	size_t i = 0;
	while (i < n) {
		const char *amp = memchr(body + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - body) : n;
		const char *f = body + i;
		size_t fl = end - i;
		const char *eq = memchr(f, '=', fl);
		char key[32], val[32];
		if (eq && form_decode(f, (size_t)(eq - f), key, sizeof(key)) >= 0 &&
		    form_decode(eq + 1, fl - (size_t)(eq - f) - 1, val, sizeof(val)) >= 0) {
			if (strcmp(key, "List-Unsubscribe") == 0 && strcmp(val, "One-Click") == 0)
				found = true;
			else if (strcmp(key, "page") == 0 && strcmp(val, "1") == 0)
				*page = true;
		}
		i = end + 1;
	}
	return found;
}

/* The value of parameter name in a header value such as a Content-Type, into out. */
static bool
header_param(const char *h, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = strchr(h, ';');
	while (p) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == '=') {
			p += nl + 1;
			size_t o = 0;
			if (*p == '"') {
				p++;
				while (*p && *p != '"' && o + 1 < cap)
					out[o++] = *p++;
				if (*p != '"')
					return false;
			} else {
				while (*p && *p != ';' && *p != ' ' && *p != '\t' && o + 1 < cap)
					out[o++] = *p++;
			}
			out[o] = '\0';
			return o > 0;
		}
		p = strchr(p, ';');
	}
	return false;
}

/*
 * multipart/form-data (RFC 7578): find the part whose Content-Disposition
 * names List-Unsubscribe and check that its body is One-Click.
 */
static bool
one_click_multipart(const char *ctype, const char *body, size_t n)
{
	char bnd[80], delim[84];
	if (!header_param(ctype, "boundary", bnd, sizeof(bnd)))
		return false;
	int dl = snprintf(delim, sizeof(delim), "--%s", bnd);
	const char *end = body + n;
	const char *p = memmem(body, n, delim, (size_t)dl);
	while (p) {
		p += dl;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return false; /* the closing delimiter */
		const char *hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		size_t skip = 4;
		const char *lf = memmem(p, (size_t)(end - p), "\n\n", 2);
		if (!hdr_end || (lf && lf < hdr_end))
			hdr_end = lf, skip = 2;
		if (!hdr_end)
			return false;
		const char *next = memmem(hdr_end, (size_t)(end - hdr_end), delim, (size_t)dl);
		if (!next)
			return false;
		/* Headers of this part: one of them must name the field. */
		bool named = false;
		const char *q = p;
		while (q < hdr_end) {
			const char *eol = memchr(q, '\n', (size_t)(hdr_end - q));
			size_t ll = eol ? (size_t)(eol - q) : (size_t)(hdr_end - q);
			if (ll >= 20 && strncasecmp(q, "Content-Disposition:", 20) == 0) {
				char line[256], name[64];
				if (ll < sizeof(line)) {
					memcpy(line, q, ll);
					line[ll] = '\0';
					if (header_param(line, "name", name, sizeof(name)) &&
					    strcmp(name, "List-Unsubscribe") == 0)
						named = true;
				}
			}
			q += ll + 1;
		}
		if (named) {
			const char *v = hdr_end + skip, *ve = next;
			while (ve > v && (ve[-1] == '\n' || ve[-1] == '\r'))
				ve--;
			return equals(v, (size_t)(ve - v), "One-Click");
		}
		p = next;
	}
	return false;
}

/* serve_route_one_click - the RFC 8058 body check */
bool
serve_route_one_click(const char *ctype, const char *body, size_t n, bool *page)
{
	*page = false;
	if (body == NULL)
		return false;
	if (ctype && strncasecmp(ctype, "multipart/form-data", 19) == 0)
		return one_click_multipart(ctype, body, n);
	if (ctype && *ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0)
		return false;
	return one_click_urlencoded(body, n, page);
}

/*
 * Mail prefetchers, which fetch images (and sometimes follow links) for a
 * whole mailbox whether or not a person reads the message. Their opens are
 * recorded as machine opens. Apple Mail Privacy Protection's proxy sends the
 * bare "Mozilla/5.0", which no real browser does.
 */
static const struct {
	bool exact;
	const char *text;
	const char *name;
} machine_uas[] = {
    {true, "Mozilla/5.0", "apple-mpp"},
    {false, "GoogleImageProxy", "gmail-proxy"},
    {false, "via ggpht.com", "gmail-proxy"},
    {false, "YahooMailProxy", "yahoo-proxy"},
    {false, "Yahoo! Slurp", "yahoo-proxy"},
    {false, "BingPreview", "microsoft-scanner"},
    {false, "Microsoft Office Existence Discovery", "microsoft-scanner"},
    {false, "ms-office; MSOffice 16; Microsoft Outlook Safelinks", "microsoft-scanner"},
    {false, "OutlookSafeLinks", "microsoft-scanner"},
    {false, "Barracuda Sentinel", "scanner"},
    {false, "Mimecast", "scanner"},
    {false, "Proofpoint", "scanner"},
};

/* serve_route_machine_ua - the prefetcher a user agent belongs to, or NULL */
const char *
serve_route_machine_ua(const char *ua)
{
	if (ua == NULL || *ua == '\0')
		return "empty";
	for (size_t i = 0; i < sizeof(machine_uas) / sizeof(machine_uas[0]); i++) {
		if (machine_uas[i].exact ? strcmp(ua, machine_uas[i].text) == 0
		                         : strcasestr(ua, machine_uas[i].text) != NULL)
			return machine_uas[i].name;
	}
	return NULL;
}

/* serve_route_redirect_ok - whether url may go into a Location header */
bool
serve_route_redirect_ok(const char *url)
{
	size_t skip;
	if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	char c = url[skip];
	if (c == '\0' || c == '/' || c == '?' || c == '#' || c == '\\')
		return false;
	size_t i = 0;
	for (; url[i]; i++) {
		unsigned char u = (unsigned char)url[i];
		if (u <= 0x20 || u >= 0x7f || u == '\\')
			return false;
	}
	return i <= SERVE_URL_MAX;
}

static bool
name_is(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && strncasecmp(p, s, n) == 0;
}

static bool
html_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/*
 * Decode an attribute value's character references into b (the named ones
 * a URL needs, and numeric ones), trimming surrounding white space as a
 * browser does for href.
 */
static void
attr_decode(const char *p, size_t n, struct buf *b)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}, {"lt;", '<'}, {"gt;", '>'}};
	while (n && html_space(*p))
		p++, n--;
	while (n && html_space(p[n - 1]))
		n--;
	buf_reset(b);
	buf_addc(b, 0); /* make data non-NULL */
	b->len = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '&') {
			buf_addc(b, p[i]);
			continue;
		}
		const char *r = p + i + 1;
		size_t rn = n - i - 1;
		bool done = false;
		for (size_t k = 0; k < sizeof(named) / sizeof(named[0]) && !done; k++) {
			size_t kl = strlen(named[k].name);
			if (rn >= kl && memcmp(r, named[k].name, kl) == 0) {
				buf_addc(b, named[k].c);
				i += kl;
				done = true;
			}
		}
		if (!done && rn >= 3 && r[0] == '#') {
			bool hex = r[1] == 'x' || r[1] == 'X';
			size_t j = hex ? 2 : 1;
			uint32_t cp = 0;
			size_t digits = 0;
			while (j < rn && digits < 7) {
				int v = hex ? hex_value((unsigned char)r[j])
				            : (r[j] >= '0' && r[j] <= '9' ? r[j] - '0' : -1);
				if (v < 0)
					break;
				cp = cp * (hex ? 16 : 10) + (uint32_t)v;
				j++, digits++;
			}
			if (digits && j < rn && r[j] == ';' && cp > 0 && cp <= 0x10ffff &&
			    (cp < 0xd800 || cp > 0xdfff)) {
				utf8_put(b, cp);
				i += j + 1;
				done = true;
			}
		}
		if (!done)
			buf_addc(b, '&');
	}
}

/* serve_links_add - append url as the next link */
void
serve_links_add(struct serve_links *links, const char *url)
{
	if (links->n == links->cap) {
		links->cap = links->cap ? links->cap * 2 : 16;
		links->url = xrealloc(links->url, links->cap * sizeof(*links->url));
	}
	links->url[links->n++] = xstrdup(url);
}

/* The number of url in links, appending it when new; -1 when it cannot be added. */
static long
links_index(struct serve_links *links, const char *url)
{
	for (size_t i = 0; i < links->n; i++)
		if (strcmp(links->url[i], url) == 0)
			return (long)i;
	if (links->fixed || links->n >= SERVE_LINKS_MAX)
		return -1;
	serve_links_add(links, url);
	return (long)links->n - 1;
}

struct rewrite {
	const char *base;
	size_t base_len;
	const char *token;
	const char *skip;
	struct serve_links *links;
	struct buf url;
	size_t count;
};

/*
 * Parse the attributes of a tag starting at p (just after its name) up to
 * its '>', copying to out and rewriting href when rw is not NULL. Returns
 * the position after the tag, or NULL when the tag does not close (the
 * caller then copies the rest unchanged).
 */
static const char *
tag_attrs(const char *p, const char *end, struct rewrite *rw, struct buf *out)
{
	const char *copied = p;
	while (p < end) {
		while (p < end && (html_space(*p) || *p == '/'))
			p++;
		if (p >= end)
			return NULL;
		if (*p == '>') {
			buf_add(out, copied, (size_t)(p + 1 - copied));
			return p + 1;
		}
		const char *name = p;
		while (p < end && !html_space(*p) && *p != '/' && *p != '>' && *p != '=')
			p++;
		size_t nl = (size_t)(p - name);
		if (nl == 0)
			p++; /* a stray '=': skip it as the tokenizer would */
		while (p < end && html_space(*p))
			p++;
		if (p >= end || *p != '=')
			continue;
		p++;
		while (p < end && html_space(*p))
			p++;
		if (p >= end)
			return NULL;
		const char *v, *ve;
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			v = p;
			ve = memchr(p, q, (size_t)(end - p));
			if (ve == NULL)
				return NULL;
			p = ve + 1;
		} else {
			v = p;
			while (p < end && !html_space(*p) && *p != '>')
				p++;
			ve = p;
		}
		if (rw == NULL || !name_is(name, nl, "href"))
			continue;
		attr_decode(v, (size_t)(ve - v), &rw->url);
		const char *url = rw->url.data;
		if (rw->url.len != strlen(url) || !serve_route_redirect_ok(url) ||
		    (rw->skip && *rw->skip && strncmp(url, rw->skip, strlen(rw->skip)) == 0))
			continue;
		long idx = links_index(rw->links, url);
		if (idx < 0)
			continue;
		buf_add(out, copied, (size_t)(v - copied));
		buf_add(out, rw->base, rw->base_len);
		buf_printf(out, "/c/%s/%ld", rw->token, idx);
		copied = ve;
		rw->count++;
		rw = NULL; /* one href per tag: a second one is ignored by browsers */
	}
	return NULL;
}

/* serve_links_rewrite - rewrite the http(s) links of an HTML part to click URLs */
size_t
serve_links_rewrite(const char *html, size_t n, const char *base_url, const char *token,
                    const char *skip_prefix, struct buf *out, struct serve_links *links)
{
	struct rewrite rw = {
	    .base = base_url,
	    .base_len = strlen(base_url),
	    .token = token,
	    .skip = skip_prefix,
	    .links = links,
	    .url = BUF_INIT,
	};
	while (rw.base_len && base_url[rw.base_len - 1] == '/')
		rw.base_len--;
	const char *p = html, *end = html + n;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL)
			break;
		buf_add(out, p, (size_t)(lt - p));
		p = lt;
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			const char *ce = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
			const char *stop = ce ? ce + 3 : end;
			buf_add(out, p, (size_t)(stop - p));
			p = stop;
			continue;
		}
		const char *name = p + 1;
		const char *q = name;
		while (q < end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
			q++;
		size_t nl = (size_t)(q - name);
		if (nl == 0 || q >= end || !(html_space(*q) || *q == '>' || *q == '/')) {
			buf_addc(out, '<');
			p++;
			continue;
		}
		bool link = name_is(name, nl, "a") || name_is(name, nl, "area");
		size_t mark = out->len;
		buf_add(out, p, (size_t)(q - p));
		const char *after = tag_attrs(q, end, link ? &rw : NULL, out);
		if (after == NULL) {
			/* An unclosed tag: the rest is copied as it was, nothing rewritten. */
			out->len = mark;
			buf_add(out, p, (size_t)(end - p));
			p = end;
			break;
		}
		p = after;
	}
	if (p < end)
		buf_add(out, p, (size_t)(end - p));
	buf_free(&rw.url);
	return rw.count;
}

/* serve_links_json - the table as a JSON array */
void
serve_links_json(const struct serve_links *links, struct buf *out)
{
	buf_addc(out, '[');
	for (size_t i = 0; i < links->n; i++) {
		if (i)
			buf_addc(out, ',');
		buf_json_string(out, links->url[i], strlen(links->url[i]));
	}
	buf_addc(out, ']');
}

/* serve_links_free - release the table */
void
serve_links_free(struct serve_links *links)
{
	for (size_t i = 0; i < links->n; i++)
		free(links->url[i]);
	free(links->url);
	memset(links, 0, sizeof(*links));
}

/* addr (16 bytes, IPv4 mapped) is on this machine: 127.0.0.0/8 or ::1 */
static bool
addr_loopback(const unsigned char addr[16])
{
	static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
	static const unsigned char one[16] = {[15] = 1};
	return (memcmp(addr, mapped, 12) == 0 && addr[12] == 127) || memcmp(addr, one, 16) == 0;
}

/* An address in a proxy's header (blanks around it allowed) into addr and text; false if none. */
static bool
addr_parse(const char *v, unsigned char addr[16], char *text, size_t textsz)
{
	char one[INET6_ADDRSTRLEN];
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(one))
		return false;
	memcpy(one, v, n);
	one[n] = '\0';
	unsigned char tmp[16];
	if (inet_pton(AF_INET, one, tmp) == 1) {
		memset(addr, 0, 16);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, tmp, 4);
	} else if (inet_pton(AF_INET6, one, tmp) == 1) {
		memcpy(addr, tmp, 16);
	} else {
		return false;
	}
	if (text)
		snprintf(text, textsz, "%s", one);
	return true;
}

/* serve_route_client - the client's address, text and whether it is on this machine */
bool
serve_route_client(const struct sockaddr *sa, bool trust_proxy, const char *fwd, const char *real,
                   unsigned char addr[16], char *text, size_t textsz)
{
	bool local = false;
	memset(addr, 0, 16);
	if (text)
		snprintf(text, textsz, "-");
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &in->sin_addr, 4);
		if (text)
			sockaddr_ip(sa, text, textsz);
		local = addr[12] == 127;
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		memcpy(addr, &in6->sin6_addr, 16);
		if (text)
			sockaddr_ip(sa, text, textsz);
		local = addr_loopback(addr); /* ::1, or ::ffff:127.x on a dual-stack socket */
	}
	if (!trust_proxy || !local)
		return local;
	if (fwd && strrchr(fwd, ','))
		fwd = strrchr(fwd, ',') + 1;
	/*
	 * A proxy sets one of the two and may pass the client's own copy of the
	 * other on: the client is local only if each one present names this
	 * machine, and one that cannot be read names somewhere else. X-Real-IP is
	 * looked at last, so that it is the address when both are there.
	 */
	const char *given[2] = {fwd, real};
	for (int i = 0; i < 2; i++) {
		unsigned char a[16];
		if (given[i] == NULL)
			continue;
		if (!addr_parse(given[i], a, text, textsz)) {
			local = false;
			continue;
		}
		memcpy(addr, a, 16);
		local = local && addr_loopback(a);
	}
	return local;
}

/* serve_route_listen - "HOST:PORT" or "[V6]:PORT" as a socket address */
int
serve_route_listen(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	const char *h = s;
	size_t hl;
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	struct sockaddr_in *in = (void *)sa;
	struct sockaddr_in6 *in6 = (void *)sa;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}
