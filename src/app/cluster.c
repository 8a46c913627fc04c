/* cluster - whether senders share their throttles through Redis (see cluster.h). */
#include "kirim/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/redis_limit.h"
#include "kirim/redis_url.h"

const char *
cluster_redis_url(const char *opt, const struct config *cfg, const char **from)
{
	const char *env = getenv("KIRIM_REDIS");
	const char *url = opt, *src = "--redis";
	if (url == NULL && env && *env) {
		url = env;
		src = "$KIRIM_REDIS";
	}
	if (url == NULL && cfg) {
		url = cfg->redis_url;
		src = "[redis] url";
	}
	if (url == NULL || *url == '\0' || strcmp(url, "none") == 0)
		return NULL;
	if (from)
		*from = src;
	return url;
}

void
cluster_throttles(const struct config *cfg, struct cluster_throttles *out)
{
	memset(out, 0, sizeof(*out));
	const char *url = cluster_redis_url(NULL, cfg, NULL);
	if (url == NULL)
		return;
	out->shared = true;
	struct redis_url u;
	const char *why;
	if (redis_url_parse(url, &u, &why) < 0) {
		snprintf(out->where, sizeof(out->where), "%s", "?");
		snprintf(out->error, sizeof(out->error), "%s", why);
		return;
	}
	redis_url_format(&u, out->where, sizeof(out->where));
	out->reachable = redis_limit_ping(&u, cfg->redis_prefix, 1.0, &out->nodes, out->error,
	                                  sizeof(out->error)) == 0;
}
