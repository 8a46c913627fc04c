/*
 * wrr - smooth weighted round-robin, as nginx chooses upstream servers
 * (ngx_http_upstream_get_peer): see include/kirim/wrr.h.
 */
#include "kirim/wrr.h"

/* wrr_next - the index of the next item by weight, or -1 when every weight is 0 */
int
wrr_next(struct wrr_item *items, size_t n)
{
	long total = 0;
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		if (items[i].weight == 0)
			continue;
		items[i].current += items[i].weight;
		total += items[i].weight;
		if (best < 0 || items[i].current > items[best].current)
			best = (int)i;
	}
	if (best >= 0)
		items[best].current -= total;
	return best;
}
