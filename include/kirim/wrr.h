/*
 * wrr - smooth weighted round-robin (nginx's upstream choice): which of n
 * items comes next, each chosen in proportion to its weight and spread
 * evenly (weights 3 and 1 give a a b a, a a b a, ..., never a a a b), and
 * deterministic, so a run's choices can be predicted and tested. Used to
 * spread a destination's messages over the source addresses of an egress
 * pool (docs/egress.md).
 *
 * Pure code: no I/O, no globals, no logging. The caller owns the items.
 */
#ifndef KIRIM_WRR_H
#define KIRIM_WRR_H

#include <stddef.h>

struct wrr_item {
	unsigned weight; /* the item's share; 0 = not chosen now (skipped, its turn kept) */
	long current;    /* the running score: start at 0, written by wrr_next only */
};

/*
 * wrr_next - the index of the next item, or -1 when every weight is 0. Each
 * call adds every item's weight to its score, picks the highest score
 * (the first of equals) and takes the total weight off it.
 */
int wrr_next(struct wrr_item *items, size_t n);

#endif
