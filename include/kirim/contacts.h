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

enum { CONTACTS_ATTRS_MAX = 64 * 1024, CONTACTS_LISTS_MAX = 64 };

/* Errors (negative), besides the store's. */
#define CONTACTS_E_ADDRESS (-50) /* not an address (err says why) */
#define CONTACTS_E_ATTRS (-51)   /* attributes not a JSON object, or too large */
#define CONTACTS_E_LIST (-52)    /* a list name that cannot be one */

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
/*
 * contacts_erase - erase the contact at address email (store_contact_erase):
 * STORE_E_NOTFOUND, STORE_E_INUSE (a message in flight), CONTACTS_E_ADDRESS
 */
int contacts_erase(struct store *s, const char *email, int64_t *messages, char *err, size_t errsz);
/* contacts_list_name_ok - a list name the API and contacts_upsert take: 1 to 255 bytes, no
 * control characters */
bool contacts_list_name_ok(const char *name);
/* contacts_key - the stored form of address text (256 bytes) for look-ups; CONTACTS_E_ADDRESS */
int contacts_key(const char *email, char key[256], char *err, size_t errsz);

#endif
