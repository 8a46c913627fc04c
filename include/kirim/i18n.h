/*
 * i18n - which of the languages kirim has texts for a person reads: the
 * negotiation of an HTTP Accept-Language value (RFC 9110 12.5.4) against the
 * available language tags by RFC 4647 lookup, and the check of a tag a
 * translation file may be named by. Pure code: no I/O, no globals, no logging.
 */
#ifndef KIRIM_I18N_H
#define KIRIM_I18N_H

#include <stdbool.h>
#include <stddef.h>

enum { I18N_TAG_MAX = 35 }; /* the longest language tag taken (BCP 47's practical limit) */

/*
 * i18n_pick - the index in avail (n tags, compared case-insensitively) of the
 * language the value accept asks for most, or -1 when it names none of them
 * (or is NULL or empty). accept is an Accept-Language value ("id-ID,id;q=0.9,
 * en;q=0.8"), or a single tag such as a contact's language attribute. Each
 * range is looked up as RFC 4647 3.4 says: "id-ID" matches "id-ID", else
 * "id"; a range never matches a longer tag ("id" does not take "id-ID").
 * The highest q wins, the earlier range among equals; q=0 refuses a
 * language; "*" takes avail[0]. A malformed range is skipped. At most 32
 * ranges are read (a header is capped by the HTTP server anyway).
 */
int i18n_pick(const char *accept, const char *const *avail, size_t n);

/*
 * i18n_tag_ok - whether s is a language tag a translation file may be named
 * by: a primary subtag of 2 or 3 ASCII letters, then subtags of 1 to 8 ASCII
 * letters or digits after '-', I18N_TAG_MAX bytes at most ("en", "id",
 * "pt-BR", "zh-Hant")
 */
bool i18n_tag_ok(const char *s);

#endif
