/*
 * fuzz_smtpd - libFuzzer target for the pure parts of src/net/smtpd.c.
 *
 * 1. smtpd_parse_command on every line of the input: it must not crash, a
 *    failure carries a reply starting with a 5xx code, and a parsed path fits.
 * 2. smtpd_data_feed on the input, whole and split in two at a point the
 *    input chooses: the same end, the same message, the same counts.
 * 3. The smuggling property, with the client's encoder (smtp_wire.c): the
 *    wire form of any input ends exactly at its own <CRLF>.<CRLF>, unstuffs
 *    back to the input with CRLF line ends, and holds no bare CR or LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/smtp_wire.h"
#include "kirim/smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void
check_parse(const char *p, size_t n)
{
	size_t off = 0;
	while (off <= n) {
		const char *nl = memchr(p + off, '\n', n - off);
		size_t e = nl ? (size_t)(nl - p) : n;
		size_t len = e - off;
		if (len > 0 && p[off + len - 1] == '\r')
			len--;
		struct smtpd_cmd cmd;
		int rc = smtpd_parse_command(p + off, len, &cmd);
		if (rc < 0) {
			CHECK(rc >= SMTPD_EPARAM);
			CHECK(cmd.reply && cmd.reply[0] == '5' && strlen(cmd.reply) > 4);
		} else {
			CHECK(rc == 0 && cmd.verb != SMTPD_UNKNOWN);
			CHECK(strlen(cmd.addr) <= SMTPD_ADDR_MAX);
			CHECK(strlen(cmd.arg) < len + 1);
		}
		if (nl == NULL)
			break;
		off = e + 1;
	}
}

/* Feed p in one or two pieces; returns the end (bytes used) or -1. */
static long
feed(const char *p, size_t n, size_t split, size_t max, struct buf *out, struct smtpd_data *st)
{
	size_t used = 0;
	smtpd_data_init(st);
	if (split > n)
		split = n;
	if (smtpd_data_feed(st, p, split, out, max, &used))
		return (long)used;
	CHECK(used == split);
	size_t used2 = 0;
	if (smtpd_data_feed(st, p + split, n - split, out, max, &used2))
		return (long)(split + used2);
	CHECK(used2 == n - split);
	return -1;
}

static void
check_data(const char *p, size_t n, size_t split, size_t max)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct smtpd_data sa, sb;
	long ea = feed(p, n, n, max, &a, &sa);
	long eb = feed(p, n, split, max, &b, &sb);
	CHECK(ea == eb);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	CHECK(sa.size == sb.size && sa.overflow == sb.overflow);
	CHECK(sa.bare_cr == sb.bare_cr && sa.bare_lf == sb.bare_lf);
	CHECK(a.len <= max && (sa.overflow || a.len == sa.size));
	if (ea >= 0) {
		/* The end is a "." line after a CRLF (or at the very start). */
		CHECK(ea >= 3 && memcmp(p + ea - 3, ".\r\n", 3) == 0);
		CHECK(ea == 3 || (ea >= 5 && memcmp(p + ea - 5, "\r\n", 2) == 0));
	}
	buf_free(&a);
	buf_free(&b);
}

static void
check_roundtrip(const char *msg, size_t size)
{
	struct buf w = BUF_INIT, norm = BUF_INIT, out = BUF_INIT;
	smtp_wire_encode(&w, msg, size);
	for (size_t i = 0; i < size; i++) {
		if (msg[i] == '\r') {
			buf_add(&norm, "\r\n", 2);
			if (i + 1 < size && msg[i + 1] == '\n')
				i++;
		} else if (msg[i] == '\n') {
			buf_add(&norm, "\r\n", 2);
		} else {
			buf_addc(&norm, msg[i]);
		}
	}
	if (norm.len > 0 && (norm.len < 2 || memcmp(norm.data + norm.len - 2, "\r\n", 2) != 0))
		buf_add(&norm, "\r\n", 2);
	struct smtpd_data st;
	size_t used = 0;
	smtpd_data_init(&st);
	CHECK(smtpd_data_feed(&st, w.data, w.len, &out, (size_t)-1, &used) == 1);
	CHECK(used == w.len);
	CHECK(st.bare_cr == 0 && st.bare_lf == 0 && !st.overflow);
	CHECK(out.len == norm.len && (out.len == 0 || memcmp(out.data, norm.data, out.len) == 0));
	buf_free(&w);
	buf_free(&norm);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	check_parse(p, size);
	size_t split = size ? data[0] % (size + 1) : 0;
	size_t max = size > 1 ? (size_t)data[size - 1] * 4 : 16;
	check_data(p, size, split, max);
	check_data(p, size, split, (size_t)-1);
	check_roundtrip(p, size);
	return 0;
}
