/*
 * store_import - what an import reads besides store_import_row (store.h): a
 * known contact's attributes, so that the importer can count the values a row
 * would add or change that are not stored without --update. One indexed read
 * (contacts.email) per call, on the importer's hot path for known contacts.
 * SQL for src/store/ only; see store.h. Does not log.
 */
#ifndef KIRIM_STORE_IMPORT_H
#define KIRIM_STORE_IMPORT_H

struct buf;
struct store;

/*
 * store_import_known_attrs - the attributes (a JSON object) of the contact whose
 * lower-cased address is key, into out (emptied first); STORE_E_NOTFOUND if none.
 */
int store_import_known_attrs(struct store *s, const char *key, struct buf *out);

#endif
