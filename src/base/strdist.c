/* strdist - optimal string alignment distance of two names (see strdist.h). */
#include "kirim/strdist.h"

#include <stdint.h>

static unsigned char
fold_ascii(char c, bool fold)
{
	return fold && c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : (unsigned char)c;
}

size_t
strdist(const char *a, size_t an, const char *b, size_t bn, bool fold)
{
	if (an > STRDIST_MAX || bn > STRDIST_MAX)
		return SIZE_MAX;
	size_t rows[3][STRDIST_MAX + 1]; /* rows i-2, i-1 and i of the table, in turn */
	for (size_t j = 0; j <= bn; j++)
		rows[0][j] = j;
	for (size_t i = 1; i <= an; i++) {
		size_t *cur = rows[i % 3], *up = rows[(i - 1) % 3], *up2 = rows[(i + 1) % 3];
		unsigned char ai = fold_ascii(a[i - 1], fold);
		cur[0] = i;
		for (size_t j = 1; j <= bn; j++) {
			unsigned char bj = fold_ascii(b[j - 1], fold);
			size_t d = up[j - 1] + (ai != bj);
			if (up[j] + 1 < d)
				d = up[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && ai == fold_ascii(b[j - 2], fold) &&
			    fold_ascii(a[i - 2], fold) == bj && up2[j - 2] + 1 < d)
				d = up2[j - 2] + 1;
			cur[j] = d;
		}
	}
	return rows[an % 3][bn];
}
