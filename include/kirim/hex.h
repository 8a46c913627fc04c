/*
 * hex - the value of a hexadecimal digit, for the decoders that meet %XX and =XX
 * escapes (smtp_url.c, serve_route.c, dsn.c). Header only: one small inline.
 */
#ifndef KIRIM_HEX_H
#define KIRIM_HEX_H

/* hex_value - 0..15 for '0'-'9', 'a'-'f', 'A'-'F'; -1 for anything else */
static inline int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
