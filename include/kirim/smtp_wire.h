/*
 * smtp_wire - turn message bytes into the bytes sent after DATA (RFC 5321 4.5.2).
 *
 * Every line end becomes CRLF (a bare CR or a bare LF counts as a line end, so
 * the wire never holds a bare CR or LF), every line starting with '.' gets a
 * second '.', and the body ends with "\r\n.\r\n" (a CRLF is added first when
 * the message does not end with a line end). The result therefore holds
 * exactly one end-of-data sequence, at its very end: no SMTP smuggling.
 * Output is appended to a struct buf. Pure code: no I/O, no globals, no logging.
 */
#ifndef KIRIM_SMTP_WIRE_H
#define KIRIM_SMTP_WIRE_H

#include <stddef.h>

#include "kirim/buf.h"

/* smtp_wire_encode - append the DATA wire form of msg (len bytes) to out; 1 if msg holds a
 * byte above 127 (the copy is the check: no second pass), else 0 */
int smtp_wire_encode(struct buf *out, const char *msg, size_t len);
/* smtp_wire_has_8bit - 1 if msg (len bytes) holds a byte above 127 (needs BODY=8BITMIME) */
int smtp_wire_has_8bit(const char *msg, size_t len);

#endif
