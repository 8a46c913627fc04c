/* csv_write - CSV fields as RFC 4180 writes them, with the formula guard (see csv_write.h). */
#include "kirim/csv_write.h"

#include <string.h>

#include "kirim/buf.h"

/* phone_or_number - after a leading sign: digits with blanks, '.', '-', '(', ')' between */
static bool
phone_or_number(const char *s, size_t n)
{
	bool digit = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			digit = true;
		else if (c != ' ' && c != '.' && c != '-' && c != '(' && c != ')')
			return false;
	}
	return digit;
}

bool
csv_write_risky(const char *s, size_t n)
{
	if (n == 0)
		return false;
	switch (s[0]) {
	case '=':
	case '@':
	case '\t':
	case '\r':
		return true;
	case '+':
	case '-':
		return !phone_or_number(s + 1, n - 1);
	default:
		return false;
	}
}

void
csv_write_field(struct buf *out, const char *s, size_t n, bool first, unsigned flags)
{
	if (!first)
		buf_addc(out, ',');
	bool guard = (flags & CSV_WRITE_GUARD) && csv_write_risky(s, n);
	bool quote = guard || (n > 0 && (s[0] == ' ' || s[n - 1] == ' '));
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!quote) {
		buf_add(out, s, n);
		return;
	}
	buf_addc(out, '"');
	if (guard)
		buf_addc(out, '\'');
	for (size_t i = 0; i < n; i++) {
		const char *q = memchr(s + i, '"', n - i);
		size_t k = q ? (size_t)(q - (s + i)) : n - i;
		buf_add(out, s + i, k);
		i += k;
		if (q)
			buf_add(out, "\"\"", 2);
	}
	buf_addc(out, '"');
}

void
csv_write_end(struct buf *out)
{
	buf_add(out, "\r\n", 2);
}
