/*
 * store_dest - destinations as senders last saw them (the destinations
 * table) and how many messages each took since a time (warm-up caps count
 * across campaigns and runs). SQL for src/store/ only; see store.h.
 */
#ifndef KIRIM_STORE_DEST_H
#define KIRIM_STORE_DEST_H

#include <stdint.h>

struct store;

/* One destination's adaptive-throttle state. */
struct store_dest_state {
	const char *name;
	const char *domain;
	double rate;     /* effective per second, 0 = unlimited */
	int connections; /* effective cap */
	int64_t suspended_until;
	int64_t slowdowns, suspensions;
	const char *change; /* "" when none yet */
	const char *note;
	int64_t updated_at;
};
typedef int (*store_dest_cb)(void *arg, const struct store_dest_state *d);
/* source: the source address the attempts went out from, NULL when none was bound */
typedef int (*store_dest_count_cb)(void *arg, const char *dest, const char *source, int64_t count);

/* store_dest_save - insert or replace a destination's state */
int store_dest_save(struct store *s, const struct store_dest_state *d);
/* store_dest_each - every destination whose name or domain contains term (NULL: all), by name */
int store_dest_each(struct store *s, const char *term, store_dest_cb cb, void *arg);
/* store_dest_counts_since - per destination and source address, attempts recorded at or
 * after since */
int store_dest_counts_since(struct store *s, int64_t since, store_dest_count_cb cb, void *arg);

#endif
