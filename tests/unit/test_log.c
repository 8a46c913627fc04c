/*
 * test_log - every log line is logfmt, whatever its arguments hold. Tables of values
 * written as key=%s, key="%s", inside a longer value (from=<%s>) and in free text, each
 * with the line it must give; every line is also read back by the small logfmt reader
 * below (written here, not the logger's code: an oracle), which must give the value
 * back. Then every byte value, other conversions, and a line longer than the cap.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kirim/log.h"

/* --- what log_msg writes: stderr caught in a file ---------------------------------------- */

static char got[65536];
static int saved_fd = -1;
static FILE *tmp;

static void
catch_begin(void)
{
	fflush(stderr);
	tmp = tmpfile();
	assert_non_null(tmp);
	saved_fd = dup(2);
	assert_true(saved_fd >= 0);
	assert_true(dup2(fileno(tmp), 2) >= 0);
}

/* catch_end - the line written since catch_begin, without "ts=... level=warn " and the
 * newline (which must be its only one) */
static const char *
catch_end(void)
{
	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
	rewind(tmp);
	size_t n = fread(got, 1, sizeof(got) - 1, tmp);
	fclose(tmp);
	got[n] = '\0';
	const char *nl = memchr(got, '\n', n);
	if (nl == NULL || nl != got + n - 1)
		fail_msg("not one line: [%s]", got);
	got[n - 1] = '\0';
	static const char lvl[] = "level=warn ";
	const char *p = strstr(got, lvl);
	if (strncmp(got, "ts=", 3) != 0 || p == NULL)
		fail_msg("no ts= and level= in [%s]", got);
	return p + strlen(lvl);
}

#define LOGGED(...) (catch_begin(), log_msg(LOG_WARN, __VA_ARGS__), catch_end())

/* --- a logfmt reader (go-logfmt's grammar; quoted values also take \xNN) ----------------- */

/*
 * lf_get - read the whole line as logfmt and decode the value of key's first pair into
 * val (NUL-terminated, *vlen bytes: it may hold NULs... not here, but \x00 would): 1 found,
 * 0 not there, -1 the line is not logfmt (*why says where).
 */
static int
lf_get(const char *line, const char *key, char *val, size_t vsz, size_t *vlen, const char **why)
{
	int found = 0;
	const char *p = line;
	while (*p) {
		if (*p == ' ') {
			p++;
			continue;
		}
		const char *k = p;
		while ((unsigned char)*p > ' ' && *p != '=' && *p != '"' && *p != 0x7f)
			p++;
		if (p == k) {
			*why = p;
			return -1; /* '=', '"' or a control character where a key starts */
		}
		size_t klen = (size_t)(p - k);
		bool mine = !found && strlen(key) == klen && memcmp(k, key, klen) == 0;
		size_t n = 0;
		if (*p == '"' || (*p && *p != ' ' && *p != '=')) {
			*why = p;
			return -1; /* a quote or control character inside a key */
		}
		if (*p == '=') {
			p++;
			if (*p == '"') {
				for (p++;; p++) {
					unsigned char c = (unsigned char)*p;
					char out;
					if (c == '\0') {
						*why = p;
						return -1; /* no closing quote */
					}
					if (c == '"')
						break;
					if (c < 0x20 || c == 0x7f) {
						*why = p;
						return -1; /* a raw control character */
					}
					if (c == '\\') {
						char e = *++p;
						if (e == '"' || e == '\\')
							out = e;
						else if (e == 'n')
							out = '\n';
						else if (e == 't')
							out = '\t';
						else if (e == 'r')
							out = '\r';
						else if (e == 'x' && p[1] && p[2]) {
							char hex[3] = {p[1], p[2], 0}, *end;
							out = (char)strtoul(hex, &end, 16);
							if (*end) {
								*why = p;
								return -1;
							}
							p += 2;
						} else {
							*why = p;
							return -1; /* an unknown escape */
						}
					} else {
						out = (char)c;
					}
					if (mine && n + 1 < vsz)
						val[n++] = out;
				}
				p++;
				if (*p && *p != ' ') {
					*why = p;
					return -1; /* text glued to a closing quote */
				}
			} else {
				for (; *p && *p != ' '; p++) {
					unsigned char c = (unsigned char)*p;
					if (c == '=' || c == '"' || c < 0x20 || c == 0x7f) {
						*why = p;
						return -1;
					}
					if (mine && n + 1 < vsz)
						val[n++] = (char)c;
				}
			}
		}
		if (mine) {
			val[n] = '\0';
			*vlen = n;
			found = 1;
		}
	}
	return found;
}

/* show - bytes as printable text for failure messages */
static const char *
show(const char *p, size_t n)
{
	static char out[4][1024];
	static int k;
	char *o = out[k++ % 4];
	size_t j = 0;
	for (size_t i = 0; i < n && j + 5 < sizeof(out[0]); i++) {
		unsigned c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f)
			o[j++] = (char)c;
		else
			j += (size_t)snprintf(o + j, 5, "<%02x>", c);
	}
	o[j] = '\0';
	return o;
}

/* check - line is want, and reading key back gives value (NULL: only that it parses) */
static int
check(const char *label, const char *line, const char *want, const char *key, const char *value)
{
	int bad = 0;
	if (want && strcmp(line, want) != 0) {
		print_error("%s: got [%s] want [%s]\n", label, line, want);
		bad = 1;
	}
	char val[8192];
	size_t vlen = 0;
	const char *why = line;
	int r = lf_get(line, key ? key : "", val, sizeof(val), &vlen, &why);
	if (r < 0) {
		print_error("%s: not logfmt at column %td: [%s]\n", label, why - line,
		            show(line, strlen(line)));
		return 1;
	}
	if (key && value && (r != 1 || vlen != strlen(value) || memcmp(val, value, vlen) != 0)) {
		print_error("%s: read back [%s] want [%s]\n", label, r ? show(val, vlen) : "(none)",
		            show(value, strlen(value)));
		bad = 1;
	}
	return bad;
}

/* --- tables ------------------------------------------------------------------------------ */

struct row {
	const char *label;
	const char *value;
	const char *want;
};

/* k=%s: quoted when the value holds a space, '=', '"' or a control character. */
static const struct row bare[] = {
    {"plain", "plain", "k=plain"},
    {"empty", "", "k="},
    {"spaces (#18: paused=typo in subject?)", "typo in subject?", "k=\"typo in subject?\""},
    {"equals", "a=b", "k=\"a=b\""},
    {"quotes", "say \"hi\"", "k=\"say \\\"hi\\\"\""},
    {"a lone quote", "\"", "k=\"\\\"\""},
    {"backslash alone stays bare", "C:\\dir", "k=C:\\dir"},
    {"backslash in a quoted value", "C:\\my dir", "k=\"C:\\\\my dir\""},
    {"newline", "line\nbreak", "k=\"line\\nbreak\""},
    {"CR LF", "a\r\n", "k=\"a\\r\\n\""},
    {"tab", "tab\there", "k=\"tab\\there\""},
    {"other control", "\x01\x1b[0m", "k=\"\\x01\\x1b[0m\""},
    {"DEL", "\x7f", "k=\"\\x7f\""},
    {"UTF-8 stays bare", "caf\xc3\xa9", "k=caf\xc3\xa9"},
    {"UTF-8 with a space", "caf\xc3\xa9 au lait", "k=\"caf\xc3\xa9 au lait\""},
    {"an address", "<a@b.example>", "k=<a@b.example>"},
};

/* k="%s": the format already quotes; the value is escaped inside. */
static const struct row quoted[] = {
    {"plain", "plain", "k=\"plain\""},
    {"empty", "", "k=\"\""},
    {"spaces", "typo in subject?", "k=\"typo in subject?\""},
    {"quotes", "say \"hi\"", "k=\"say \\\"hi\\\"\""},
    {"backslash", "a\\b", "k=\"a\\\\b\""},
    {"newline and tab", "1\n\t2", "k=\"1\\n\\t2\""},
    {"a closing quote then a pair", "x\" evil=1", "k=\"x\\\" evil=1\""},
};

/* from=<%s> n=1: the whole value <...> is quoted when the argument needs it. */
static const struct row inside[] = {
    {"plain", "a@b.example", "from=<a@b.example> n=1"},
    {"a quoted local part", "\"john doe\"@b.example", "from=\"<\\\"john doe\\\"@b.example>\" n=1"},
    {"empty", "", "from=<> n=1"},
};

/* Free text (not a value): kept readable, with what would break a pair escaped. */
static const struct row freetext[] = {
    {"words", "connection refused", "pool failed: connection refused; retry"},
    {"equals and quotes", "rate=5 \"slow\"", "pool failed: rate\\x3d5 \\x22slow\\x22; retry"},
    {"newline", "451 a\n451 b", "pool failed: 451 a\\n451 b; retry"},
    {"backslash", "a\\b", "pool failed: a\\\\b; retry"},
};

static void
test_tables(void **state)
{
	(void)state;
	int bad = 0;
	char label[256];
	for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		snprintf(label, sizeof(label), "k=%%s %s", bare[i].label);
		bad +=
		    check(label, LOGGED("k=%s", bare[i].value), bare[i].want, "k", bare[i].value);
	}
	for (size_t i = 0; i < sizeof(quoted) / sizeof(quoted[0]); i++) {
		snprintf(label, sizeof(label), "k=\"%%s\" %s", quoted[i].label);
		bad += check(label, LOGGED("k=\"%s\"", quoted[i].value), quoted[i].want, "k",
		             quoted[i].value);
	}
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		char v[256];
		snprintf(v, sizeof(v), "<%s>", inside[i].value);
		snprintf(label, sizeof(label), "from=<%%s> %s", inside[i].label);
		bad += check(label, LOGGED("from=<%s> n=%d", inside[i].value, 1), inside[i].want,
		             "from", v);
	}
	for (size_t i = 0; i < sizeof(freetext) / sizeof(freetext[0]); i++) {
		snprintf(label, sizeof(label), "free text %s", freetext[i].label);
		bad += check(label, LOGGED("pool failed: %s; retry", freetext[i].value),
		             freetext[i].want, NULL, NULL);
	}
	if (bad)
		fail_msg("%d wrong lines", bad);
}

/* Every byte value, between letters, in every position a %s can take. */
static void
test_every_byte(void **state)
{
	(void)state;
	int bad = 0;
	for (int c = 1; c < 256; c++) {
		char v[4] = {'a', (char)c, 'b', 0};
		char label[64];
		snprintf(label, sizeof(label), "byte 0x%02x", c);
		bad += check(label, LOGGED("x=1 k=%s y=2", v), NULL, "k", v);
		bad += check(label, LOGGED("x=1 k=\"%s\" y=2", v), NULL, "k", v);
		bad += check(label, LOGGED("note: %s x=1", v), NULL, "x", "1");
	}
	if (bad)
		fail_msg("%d wrong lines", bad);
}

/* The other conversions still print as printf does; a padded number is a value with spaces. */
static void
test_conversions(void **state)
{
	(void)state;
	int bad = 0;
	const char *volatile none =
	    NULL; /* opaque: the logger must print (null), and GCC must not refuse it */
	long long big = -1234567890123LL;
	bad +=
	    check("numbers",
	          LOGGED("n=%d u=%u z=%zu ll=%lld x=%#x rate=%.3f/s g=%g", -3, 7u, (size_t)42, big,
	                 255u, 1.5, 0.25),
	          "n=-3 u=7 z=42 ll=-1234567890123 x=0xff rate=1.500/s g=0.25", "rate", "1.500/s");
	bad += check("padded", LOGGED("w=%5d left=%-4s|", 42, "ab"), "w=\"   42\" left=\"ab  |\"",
	             "w", "   42");
	bad += check("star width and precision", LOGGED("k=%*.*s end", 4, 2, "abcdef"),
	             "k=\"  ab\" end", "k", "  ab");
	bad += check("precision on a string", LOGGED("k=%.3s", "abcdef"), "k=abc", "k", "abc");
	bad += check("percent", LOGGED("share=%d%% of=%s", 50, "all"), "share=50% of=all", "share",
	             "50%");
	bad += check("char", LOGGED("c=%c d=%c", ' ', 'x'), "c=\" \" d=x", "c", " ");
	bad += check("NULL string", LOGGED("k=%s", none), "k=(null)", "k", "(null)");
	bad += check("relay host:port", LOGGED("relay=%s:%u tls=%s", "mx.example", 25u, "none"),
	             "relay=mx.example:25 tls=none", "relay", "mx.example:25");
	bad +=
	    check("a quoted literal in the format", LOGGED("note=\"a literal, %s\" n=%d", "ok", 2),
	          "note=\"a literal, ok\" n=2", "note", "a literal, ok");
	errno = EAGAIN;
	(void)LOGGED("k=%s", "v");
	if (errno != EAGAIN) {
		print_error("errno changed by logging: %d\n", errno);
		bad++;
	}
	if (bad)
		fail_msg("%d wrong lines", bad);
}

/* A line past the cap is cut, and still parses: a quoted value keeps its closing quote. */
static void
test_long_line(void **state)
{
	(void)state;
	static char v[40000];
	for (size_t i = 0; i + 1 < sizeof(v); i++)
		v[i] = "a \"\n"[i % 4];
	v[sizeof(v) - 1] = '\0';
	int bad = 0;
	const char *line = LOGGED("before=1 k=%s after=2", v);
	bad += check("long bare", line, NULL, "before", "1");
	if (strlen(got) > 16384) {
		print_error("long bare: %zu bytes\n", strlen(got));
		bad++;
	}
	line = LOGGED("before=1 k=\"%s\" after=2", v);
	bad += check("long quoted", line, NULL, "before", "1");
	line = LOGGED("before=1 text %s after=2", v);
	bad += check("long free text", line, NULL, "before", "1");
	if (bad)
		fail_msg("%d wrong lines", bad);
}

int
main(void)
{
	log_set_level(LOG_DEBUG);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tables),
	    cmocka_unit_test(test_every_byte),
	    cmocka_unit_test(test_conversions),
	    cmocka_unit_test(test_long_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
