/*
 * strdist - how far apart two names are, for "did you mean ...?" suggestions:
 * the optimal string alignment distance (Damerau-Levenshtein without
 * overlapping edits: an insertion, a deletion, a change or two neighbours
 * swapped each cost one). Pure, no allocation; names longer than
 * STRDIST_MAX bytes are not compared.
 */
#ifndef KIRIM_STRDIST_H
#define KIRIM_STRDIST_H

#include <stdbool.h>
#include <stddef.h>

enum { STRDIST_MAX = 256 };

/* strdist - the distance of a[0..an) and b[0..bn), ASCII case apart when fold;
 * SIZE_MAX when either is longer than STRDIST_MAX */
size_t strdist(const char *a, size_t an, const char *b, size_t bn, bool fold);

#endif
