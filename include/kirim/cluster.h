/*
 * cluster - whether this installation's senders share their throttles through Redis
 * (docs/scale-out.md), for kirim status: the Redis named by $KIRIM_REDIS, else
 * kirim.conf's [redis] url, asked once (blocking, a second at most). Never logs.
 */
#ifndef KIRIM_CLUSTER_H
#define KIRIM_CLUSTER_H

#include <stdbool.h>

#include "kirim/config.h"

struct cluster_throttles {
	bool shared;     /* a Redis is configured */
	bool reachable;  /* it answered */
	unsigned nodes;  /* senders alive in it now */
	char where[600]; /* its URL without the password, "" when none */
	char error[256]; /* why it did not answer, or why the URL is wrong */
};

/* cluster_throttles - what kirim status says about shared throttles (*out always set) */
void cluster_throttles(const struct config *cfg, struct cluster_throttles *out);

#endif
