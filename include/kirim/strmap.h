/*
 * strmap - a hash map from strings to pointers (open addressing, FNV-1a).
 *
 * The map copies its keys and owns those copies; values are the caller's.
 * Used where a name must be found fast among many (domains and destinations
 * of a send). Not thread-safe.
 */
#ifndef KIRIM_STRMAP_H
#define KIRIM_STRMAP_H

#include <stddef.h>

struct strmap_slot {
	char *key;
	void *value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t len;
};

/* strmap_get - the value stored under key, or NULL */
void *strmap_get(const struct strmap *m, const char *key);
/* strmap_put - store value under key (replacing any) */
void strmap_put(struct strmap *m, const char *key, void *value);
/* strmap_free - free the keys and the table (not the values); the map is empty after */
void strmap_free(struct strmap *m);
/* strmap_free_values - strmap_free, after calling free_value on every value */
void strmap_free_values(struct strmap *m, void (*free_value)(void *value));

#endif
