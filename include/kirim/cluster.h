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

/*
 * cluster_redis_url - the shared throttles' Redis, the one rule of kirim send, run and
 * status: opt (--redis), else $KIRIM_REDIS, else cfg's [redis] url (cfg may be NULL: not
 * read yet); NULL when none is set or the one that wins is "none". *from (when from is
 * not NULL) names where the URL came from, for an error message. The URL is not checked.
 */
const char *cluster_redis_url(const char *opt, const struct config *cfg, const char **from);

/* cluster_throttles - what kirim status says about shared throttles (*out always set) */
void cluster_throttles(const struct config *cfg, struct cluster_throttles *out);

#endif
