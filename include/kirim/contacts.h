/*
 * contacts - a contact's life outside imports: made or changed one at a time
 * (the HTTP API's contacts, one or a batch per request), its attributes
 * patched, and its erasure. Each call is one transaction of its own (or a
 * savepoint inside a batch: store_batch_begin). Does not log.
 *
 * Attributes are a JSON object, as an import's columns are; a change merges
 * (RFC 7396: a key set to null goes) unless it replaces them. At most
 * CONTACTS_ATTRS_MAX bytes of JSON text.
 */
#ifndef KIRIM_CONTACTS_H
#define KIRIM_CONTACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum { CONTACTS_ATTRS_MAX = 64 * 1024, CONTACTS_LISTS_MAX = 64, CONTACTS_KEY_MAX = 255 };

/* Errors (negative), besides the store's. */
#define CONTACTS_E_ADDRESS (-50) /* not an address (err says why) */
#define CONTACTS_E_ATTRS (-51)   /* attributes not a JSON object, or too large */
#define CONTACTS_E_LIST (-52)    /* a list name that cannot be one */
#define CONTACTS_E_KEY (-53)     /* an attribute name that cannot be one */
#define CONTACTS_E_WRITE (-54)   /* an export's write callback failed (the caller knows why) */
#define CONTACTS_E_ERASED (-55)  /* an address erased at its owner's request (never added again) */

struct contacts_result {
	int64_t id;
	char email[256]; /* as stored */
	bool created, changed;
	unsigned lists_added; /* memberships made */
};

/*
 * contacts_upsert - add or change the contact at address email: attrs (JSON
 * object text; NULL: none) merged, or put in place with replace; made a
 * member of each of lists (created when missing). Errors: CONTACTS_E_*,
 * the store's; err says why.
 */
int contacts_upsert(struct store *s, const char *email, const char *attrs, bool replace,
                    const char *const *lists, size_t nlists, struct contacts_result *out, char *err,
                    size_t errsz);
struct contacts_deleted {
	int64_t contacts;  /* contacts deleted */
	int64_t messages;  /* their messages, kept for reports (anonymised with erase) */
	int64_t cancelled; /* of those, queued ones cancelled */
};
/*
 * contacts_delete - the contacts at addresses[0..n) leave (store_contact_delete,
 * docs/contacts.md): all of them or none. With erase, the right to erasure:
 * nothing about the person stays but anonymous message rows, and the address
 * is kept as a hash that import and send refuse. Errors: CONTACTS_E_ADDRESS,
 * STORE_E_NOTFOUND (one is not a contact), STORE_E_INUSE (a message in
 * flight), the store's; err says why.
 */
int contacts_delete(struct store *s, const char *const *addresses, size_t n, bool erase,
                    struct contacts_deleted *out, char *err, size_t errsz);
/*
 * contacts_set - set attributes of the existing contact at address email:
 * each of pairs is "key=value" (a value of "" removes the key). Keys are 1
 * to CONTACTS_KEY_MAX bytes of UTF-8 without control characters or '"'
 * (segments cannot name those); all are checked before anything changes.
 * *changed: whether the attributes differ from before. Errors:
 * CONTACTS_E_ADDRESS, CONTACTS_E_KEY, STORE_E_NOTFOUND (no such contact),
 * the store's; err says why.
 */
int contacts_set(struct store *s, const char *email, const char *const *pairs, size_t npairs,
                 bool *changed, char *err, size_t errsz);
/*
 * Export: the contacts of a list, a segment or an expression (any two of
 * them together: both hold; none: every contact), as RFC 4180 CSV text
 * (csv_write.h) handed to write one row at a time: a header row, then one row
 * per contact by id. Columns: "email" is the address, any other name an
 * attribute (a missing one is ""); with none given, "email" and every
 * attribute the contacts have, in the order they first appear. Values that a
 * spreadsheet would run as formulas are guarded unless raw.
 */
struct contacts_export_opts {
	const char *list;    /* NULL: any */
	const char *segment; /* NULL: none */
	const char *where;   /* an expression (docs/segments.md); NULL: none */
	const char *const *columns;
	size_t ncolumns; /* 0: email and every attribute */
	bool raw;        /* no formula guard: values exactly as stored */
	/* write - the next bytes of the file (whole rows); CONTACTS_E_WRITE stops the export */
	int (*write)(void *arg, const char *data, size_t n);
	/* progress - rows written of total (NULL: not called); about every 1,000 rows */
	void (*progress)(void *arg, int64_t rows, int64_t total);
	void *arg;
};
/*
 * contacts_export - the export o describes at now; *rows: contacts written.
 * Errors: AUDIENCE_E_USAGE (an expression that does not parse, a bad column
 * name), AUDIENCE_E_DATA (no such list or segment), CONTACTS_E_WRITE (from
 * write; err is empty), the store's; err says why.
 */
int contacts_export(struct store *s, const struct contacts_export_opts *o, int64_t now,
                    int64_t *rows, char *err, size_t errsz);
/* contacts_key_ok - an attribute name contacts_set and the API take (see contacts_set) */
bool contacts_key_ok(const char *key, size_t n);
/* contacts_list_name_ok - a list name the API and contacts_upsert take: 1 to 255 bytes, no
 * control characters */
bool contacts_list_name_ok(const char *name);
/* contacts_key - the stored form of address text (256 bytes) for look-ups; CONTACTS_E_ADDRESS */
int contacts_key(const char *email, char key[256], char *err, size_t errsz);

#endif
