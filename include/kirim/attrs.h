/*
 * attrs - a contact's attributes, the JSON object the contacts table stores,
 * read into a jansson object.
 *
 * attrs_parse reads exactly what json_loads(s, JSON_REJECT_DUPLICATES) reads
 * and refuses what it refuses (and anything but an object). It is on the
 * composer's path once per message, where jansson's reader cost 1.4 us for a
 * 100-byte object, most of an unsigned message's budget; so the shape the
 * importer writes, a flat object of strings without escapes, is read
 * directly, and anything else (escapes, numbers, nesting, a duplicate name,
 * bad bytes) is handed to jansson as it is, for the same result or refusal.
 * Pure code: no I/O, no logging.
 */
#ifndef KIRIM_ATTRS_H
#define KIRIM_ATTRS_H

struct json_t;

/* attrs_parse - the object in the NUL-terminated JSON text s into *out (a new reference): 0,
 * or -1 when s is not a JSON object */
int attrs_parse(const char *s, struct json_t **out);

#endif
