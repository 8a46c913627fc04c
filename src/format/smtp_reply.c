/* smtp_reply - SMTP reply and EHLO extension parser (see smtp_reply.h). */
#include "kirim/smtp_reply.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
smtp_reply_parser_init(struct smtp_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void
smtp_reply_parser_free(struct smtp_reply_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->text);
	smtp_reply_parser_init(p);
}

void
smtp_reply_parser_reset(struct smtp_reply_parser *p)
{
	buf_reset(&p->line);
	buf_reset(&p->text);
	p->code = 0;
	p->nlines = 0;
	p->reply_bytes = 0;
	p->ecode[0] = '\0';
	p->failed = 0;
	p->error = NULL;
}

int
smtp_reply_parser_pending(const struct smtp_reply_parser *p)
{
	return p->line.len > 0 || p->code != 0;
}

static int
fail(struct smtp_reply_parser *p, const char *why)
{
	p->failed = 1;
	p->error = why;
	return -1;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of an RFC 3463 status code "class.subject.detail" at the start of s
 * (n bytes) whose class matches the reply code's first digit, followed by a
 * space or the end of the line; 0 when there is none.
 */
static size_t
ecode_len(const char *s, size_t n, char class)
{
	size_t i = 0;
	if (n < 5 || s[0] != class || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < n && i - start < 4 && is_digit(s[i]))
			i++;
		if (i == start || i - start > 3)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

/* Take one complete line (without its line end); 1 when it ended a reply. */
static int
take_line(struct smtp_reply_parser *p, const char *l, size_t n, struct smtp_reply *out)
{
	if (n < 3)
		return fail(p, "reply line too short");
	if (l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' || !is_digit(l[2]))
		return fail(p, "bad reply code");
	if (n > 3 && l[3] != ' ' && l[3] != '-')
		return fail(p, "bad separator after reply code");
	if (memchr(l, '\0', n) != NULL)
		return fail(p, "NUL byte in reply");
	int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (p->code == 0) {
		/* First line of a new reply: the previous reply's text is no longer lent out. */
		buf_reset(&p->text);
		p->nlines = 0;
		p->ecode[0] = '\0';
		p->code = code;
	} else if (code != p->code) {
		return fail(p, "mixed reply codes in multi-line reply");
	}
	int last = n == 3 || l[3] == ' ';
	const char *t = n > 4 ? l + 4 : l + n;
	size_t tn = n > 4 ? n - 4 : 0;
	if (p->nlines == 0) {
		size_t el = ecode_len(t, tn, l[0]);
		if (el > 0) {
			memcpy(p->ecode, t, el);
			p->ecode[el] = '\0';
		}
	}
	size_t el = strlen(p->ecode);
	if (el > 0 && tn >= el && memcmp(t, p->ecode, el) == 0 && (tn == el || t[el] == ' ')) {
		t += el;
		tn -= el;
		if (tn > 0) {
			t++;
			tn--;
		}
	}
	if (p->nlines > 0)
		buf_addc(&p->text, '\n');
	buf_add(&p->text, t, tn);
	if (p->text.data == NULL)
		buf_reserve(&p->text, 0);
	p->nlines++;
	if (!last)
		return 0;
	out->code = p->code;
	memcpy(out->ecode, p->ecode, sizeof(out->ecode));
	out->text = p->text.data;
	out->text_len = p->text.len;
	out->nlines = p->nlines;
	p->code = 0;
	p->reply_bytes = 0;
	return 1;
}

int
smtp_reply_feed(struct smtp_reply_parser *p, const char *data, size_t len, size_t *consumed,
                struct smtp_reply *out)
{
	size_t off = 0;
	*consumed = 0;
	if (p->failed)
		return -1;
	while (off < len) {
		const char *nl = memchr(data + off, '\n', len - off);
		size_t take = nl ? (size_t)(nl - (data + off)) + 1 : len - off;
		if (p->line.len + take > SMTP_REPLY_LINE_MAX) {
			*consumed = off;
			return fail(p, "reply line too long");
		}
		if (p->reply_bytes + take > SMTP_REPLY_MAX) {
			*consumed = off;
			return fail(p, "reply too long");
		}
		p->reply_bytes += take;
		off += take;
		if (nl == NULL) {
			buf_add(&p->line, data + off - take, take);
			break;
		}
		const char *l;
		size_t n;
		if (p->line.len > 0) {
			buf_add(&p->line, data + off - take, take);
			l = p->line.data;
			n = p->line.len;
		} else {
			l = data + off - take;
			n = take;
		}
		n--; /* the LF */
		if (n > 0 && l[n - 1] == '\r')
			n--;
		struct smtp_reply r;
		int rc = take_line(p, l, n, &r);
		buf_reset(&p->line);
		if (rc < 0) {
			*consumed = off;
			return -1;
		}
		if (rc == 1) {
			*consumed = off;
			*out = r;
			return 1;
		}
	}
	*consumed = off;
	return 0;
}

/* Does the word at s (n bytes) equal kw, ignoring case? */
static int
word_is(const char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(s, kw, n) == 0;
}

static unsigned
auth_mech(const char *s, size_t n)
{
	if (word_is(s, n, "PLAIN"))
		return SMTP_AUTH_PLAIN;
	if (word_is(s, n, "LOGIN"))
		return SMTP_AUTH_LOGIN;
	if (word_is(s, n, "CRAM-MD5"))
		return SMTP_AUTH_CRAM_MD5;
	if (word_is(s, n, "XOAUTH2"))
		return SMTP_AUTH_XOAUTH2;
	return SMTP_AUTH_OTHER;
}

/* Read one extension line (n bytes at l) into *e. */
static void
ehlo_line(const char *l, size_t n, struct smtp_ehlo *e)
{
	size_t i = 0;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	size_t ks = i;
	while (i < n && l[i] != ' ' && l[i] != '\t' && l[i] != '=')
		i++;
	const char *kw = l + ks;
	size_t kn = i - ks;
	int old_auth = i < n && l[i] == '=';
	if (i < n)
		i++;
	const char *args = l + i;
	size_t an = n - i;

	if (word_is(kw, kn, "PIPELINING"))
		e->flags |= SMTP_EXT_PIPELINING;
	else if (word_is(kw, kn, "8BITMIME"))
		e->flags |= SMTP_EXT_8BITMIME;
	else if (word_is(kw, kn, "SMTPUTF8"))
		e->flags |= SMTP_EXT_SMTPUTF8;
	else if (word_is(kw, kn, "ENHANCEDSTATUSCODES"))
		e->flags |= SMTP_EXT_ENHANCEDSTATUSCODES;
	else if (word_is(kw, kn, "STARTTLS"))
		e->flags |= SMTP_EXT_STARTTLS;
	else if (word_is(kw, kn, "CHUNKING"))
		e->flags |= SMTP_EXT_CHUNKING;
	else if (word_is(kw, kn, "DSN"))
		e->flags |= SMTP_EXT_DSN;
	else if (word_is(kw, kn, "SIZE") && !old_auth) {
		e->flags |= SMTP_EXT_SIZE;
		uint64_t v = 0;
		size_t j = 0;
		for (; j < an && args[j] >= '0' && args[j] <= '9'; j++) {
			uint64_t d = (uint64_t)(args[j] - '0');
			/* An absurd limit saturates rather than wraps. */
			v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
		}
		e->size_max = v;
	} else if (word_is(kw, kn, "AUTH")) {
		e->flags |= SMTP_EXT_AUTH;
		size_t j = 0;
		while (j < an) {
			while (j < an && (args[j] == ' ' || args[j] == '\t'))
				j++;
			size_t ws = j;
			while (j < an && args[j] != ' ' && args[j] != '\t')
				j++;
			if (j > ws)
				e->auth |= auth_mech(args + ws, j - ws);
		}
	}
}

int
smtp_reply_parse_ehlo(const struct smtp_reply *r, struct smtp_ehlo *out)
{
	if (r->code < 200 || r->code > 299)
		return -1;
	struct smtp_ehlo e = {0};
	const char *s = r->text;
	const char *end = r->text + r->text_len;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	/* The first line names the server; extensions follow one per line. */
	s = nl ? nl + 1 : end;
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end;
		ehlo_line(s, (size_t)(le - s), &e);
		s = nl ? nl + 1 : end;
	}
	*out = e;
	return 0;
}

const char *
smtp_stage_name(enum smtp_stage st)
{
	static const char *const names[] = {
	    [SMTP_STAGE_CONNECT] = "connect", [SMTP_STAGE_BANNER] = "banner",
	    [SMTP_STAGE_EHLO] = "ehlo",       [SMTP_STAGE_STARTTLS] = "starttls",
	    [SMTP_STAGE_AUTH] = "auth",       [SMTP_STAGE_MAIL] = "mail",
	    [SMTP_STAGE_RCPT] = "rcpt",       [SMTP_STAGE_DATA] = "data",
	    [SMTP_STAGE_DOT] = "dot",         [SMTP_STAGE_QUIT] = "quit",
	    [SMTP_STAGE_DNS] = "dns",
	};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}
