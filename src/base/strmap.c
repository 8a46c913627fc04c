/* strmap - string → pointer hash map (see strmap.h). */
#include "kirim/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/xmalloc.h"

static uint64_t
strmap_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct strmap_slot *
strmap_find(const struct strmap *m, const char *key)
{
	size_t mask = m->cap - 1;
	for (size_t i = strmap_hash(key) & mask;; i = (i + 1) & mask)
		if (m->slots[i].key == NULL || strcmp(m->slots[i].key, key) == 0)
			return &m->slots[i];
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	if (m->cap == 0)
		return NULL;
	struct strmap_slot *sl = strmap_find(m, key);
	return sl->key ? sl->value : NULL;
}

static void
strmap_grow(struct strmap *m)
{
	struct strmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 64;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			*strmap_find(m, old.slots[i].key) = old.slots[i];
	free(old.slots);
}

void
strmap_put(struct strmap *m, const char *key, void *value)
{
	if ((m->len + 1) * 4 > m->cap * 3)
		strmap_grow(m);
	struct strmap_slot *sl = strmap_find(m, key);
	if (sl->key == NULL) {
		sl->key = xstrdup(key);
		m->len++;
	}
	sl->value = value;
}

void
strmap_free_values(struct strmap *m, void (*free_value)(void *value))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			free_value(m->slots[i].value);
	strmap_free(m);
}

void
strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
