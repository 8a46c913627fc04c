/*
 * base64 - the one base64 codec (see base64.h).
 *
 * The encoder turns each 3 input bytes into 4 characters with one table
 * look-up per character; BASE64_WRAP cuts the input into 57-byte lines, a
 * multiple of 3, so that padding can only come at the very end. The two
 * decoders share value(), which also knows the URL alphabet's '-' and '_'
 * (only the lenient decoder reads them) and '='.
 */
#include "kirim/base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

enum { DV_URL = 64, DV_PAD = 128, DV_BAD = -1 };

/* value - 0..63 for the alphabet, DV_URL + 62 and + 63 for '-' and '_', DV_PAD, or DV_BAD */
static inline int
value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	switch (c) {
	case '+':
		return 62;
	case '/':
		return 63;
	case '-':
		return DV_URL + 62;
	case '_':
		return DV_URL + 63;
	case '=':
		return DV_PAD;
	}
	return DV_BAD;
}

/* base64_encoded_len - 4 characters per 3 bytes, plus CRLF per line when wrapping */
size_t
base64_encoded_len(size_t n, unsigned flags)
{
	size_t len = (n + 2) / 3 * 4;
	if (flags & BASE64_WRAP)
		len += (n + BASE64_LINE_RAW - 1) / BASE64_LINE_RAW * 2;
	return len;
}

/* encode_run - the characters for n bytes, padded; returns the end of the output */
static char *
encode_run(char *o, const unsigned char *p, size_t n)
{
	for (; n >= 3; n -= 3, p += 3) {
		uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		o[0] = alphabet[v >> 18];
		o[1] = alphabet[(v >> 12) & 63];
		o[2] = alphabet[(v >> 6) & 63];
		o[3] = alphabet[v & 63];
		o += 4;
	}
	if (n) {
		uint32_t v = (uint32_t)p[0] << 16 | (n > 1 ? (uint32_t)p[1] << 8 : 0);
		o[0] = alphabet[v >> 18];
		o[1] = alphabet[(v >> 12) & 63];
		o[2] = n > 1 ? alphabet[(v >> 6) & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	return o;
}

/* base64_encode_to - write the encoding of n bytes at p; returns the end */
char *
base64_encode_to(char *out, const void *p, size_t n, unsigned flags)
{
	const unsigned char *b = p;
	if (!(flags & BASE64_WRAP))
		return encode_run(out, b, n);
	while (n) {
		size_t k = n < BASE64_LINE_RAW ? n : BASE64_LINE_RAW;
		out = encode_run(out, b, k);
		*out++ = '\r';
		*out++ = '\n';
		b += k;
		n -= k;
	}
	return out;
}

/* base64_encode - append the encoding of n bytes at p to out */
void
base64_encode(struct buf *out, const void *p, size_t n, unsigned flags)
{
	size_t len = base64_encoded_len(n, flags);
	buf_reserve(out, len);
	base64_encode_to(out->data + out->len, p, n, flags);
	out->len += len;
	out->data[out->len] = '\0';
}

/*
 * base64_decode - strict: the alphabet only, '=' only at the end and only
 * to fill the last group. Everything is checked before anything is written,
 * so a refusal leaves out as it was.
 */
int
base64_decode(struct buf *out, const char *s, size_t n, unsigned flags)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t data = n; /* characters before the padding */
	while (data > 0 && u[data - 1] == '=')
		data--;
	size_t pad = n - data;
	if (data % 4 == 1 || pad > 2)
		return -1;
	if (pad ? (data + pad) % 4 != 0 : data % 4 != 0 && !(flags & BASE64_PAD_OPTIONAL))
		return -1;
	for (size_t i = 0; i < data; i++) {
		int v = value(u[i]);
		if (v < 0 || v >= DV_URL) /* not in the alphabet, or '=' before the end */
			return -1;
	}

	buf_reserve(out, data / 4 * 3 + 2);
	unsigned char *o = (unsigned char *)out->data + out->len;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < data; i++) {
		acc = (acc << 6) | (uint32_t)value(u[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out->len = (size_t)((char *)o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/* base64_decode_lenient - RFC 2045 6.8: skip what is not base64, stop at '=' */
void
base64_decode_lenient(struct buf *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	buf_reserve(out, n / 4 * 3 + 2);
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = value(u[i]);
		if (v == DV_PAD)
			break;
		if (v == DV_BAD)
			continue;
		acc = (acc << 6) | (uint32_t)(v & 63);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->data[out->len++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out->data[out->len] = '\0';
}
