/*
 * contacts - contacts made, changed and erased one at a time (see contacts.h).
 */
#include "kirim/contacts.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "kirim/address.h"
#include "kirim/store.h"

int
contacts_key(const char *email, char key[256], char *err, size_t errsz)
{
	struct address a;
	const char *why;
	if (address_parse(email, strlen(email), 0, &a, &why) < 0) {
		snprintf(err, errsz, "'%.300s' is not an address: %s", email, why);
		return CONTACTS_E_ADDRESS;
	}
	snprintf(key, 256, "%s", a.email);
	return 0;
}

bool
contacts_list_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

int
contacts_upsert(struct store *s, const char *email, const char *attrs, bool replace,
                const char *const *lists, size_t nlists, struct contacts_result *out, char *err,
                size_t errsz)
{
	struct address a;
	const char *why;
	memset(out, 0, sizeof(*out));
	if (address_parse(email, strlen(email), 0, &a, &why) < 0) {
		snprintf(err, errsz, "'%.300s' is not an address: %s", email, why);
		return CONTACTS_E_ADDRESS;
	}
	if (attrs) {
		json_error_t je;
		json_t *v = strlen(attrs) > CONTACTS_ATTRS_MAX ? NULL : json_loads(attrs, 0, &je);
		bool obj = json_is_object(v);
		json_decref(v);
		if (!obj) {
			snprintf(err, errsz,
			         "the attributes of %s must be a JSON object of at most %d bytes",
			         a.email, CONTACTS_ATTRS_MAX);
			return CONTACTS_E_ATTRS;
		}
	}
	if (nlists > CONTACTS_LISTS_MAX) {
		snprintf(err, errsz, "at most %d lists at once", CONTACTS_LISTS_MAX);
		return CONTACTS_E_LIST;
	}
	for (size_t i = 0; i < nlists; i++)
		if (!contacts_list_name_ok(lists[i])) {
			snprintf(err, errsz, "'%.100s' cannot be a list name", lists[i]);
			return CONTACTS_E_LIST;
		}
	int rc = store_begin(s);
	if (rc == 0)
		rc = store_contact_upsert(s, &a, attrs, replace, &out->id, &out->created,
		                          &out->changed);
	for (size_t i = 0; rc == 0 && i < nlists; i++) {
		int64_t lid;
		bool made, added = false;
		rc = store_list_ensure(s, lists[i], &lid, &made);
		if (rc == 0)
			rc = store_list_add_member(s, lid, out->id, &added);
		out->lists_added += added;
	}
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_rollback(s);
		return rc;
	}
	snprintf(out->email, sizeof(out->email), "%s", a.email);
	return 0;
}

int
contacts_erase(struct store *s, const char *email, int64_t *messages, char *err, size_t errsz)
{
	char key[256];
	int rc = contacts_key(email, key, err, errsz);
	if (rc < 0)
		return rc;
	struct store_contact c;
	if ((rc = store_begin(s)) == 0 && (rc = store_contact_get(s, key, &c)) == 0) {
		rc = store_contact_erase(s, c.id, messages);
		store_contact_clear(&c);
	}
	if (rc == 0)
		rc = store_commit(s);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		store_rollback(s);
	}
	return rc;
}
