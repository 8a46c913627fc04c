/* sts_refresh - MTA-STS policies refreshed before they expire (see sts_refresh.h). */
#include "kirim/sts_refresh.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/dns.h"
#include "kirim/http_client.h"
#include "kirim/http_url.h"
#include "kirim/mta_sts.h"
#include "kirim/store.h"
#include "kirim/store_tls.h"
#include "kirim/tls.h"
#include "kirim/xmalloc.h"

/* One domain due, and what its refresh found. */
struct due {
	struct refresh *R;
	char *domain;
	char id[MTA_STS_ID_MAX];
	char error[300];
	int64_t expires_at;     /* the cached policy's */
	struct store_sts saved; /* the new policy, when one came (saved.policy set) */
	bool done;
};

struct refresh {
	uv_loop_t loop;
	struct dns *dns;
	struct tls_ctx *tls;
	unsigned port;
	int64_t now;
	struct due *d;
	size_t n, cap;
	size_t next, running;
};

/* collect - a cached policy, kept when it is valid and its refresh time has come */
static int
collect(void *arg, const struct store_sts *p)
{
	struct refresh *R = arg;
	if (p->expires_at <= R->now || mta_sts_refresh_at(p->fetched_at, p->max_age) > R->now)
		return 0;
	if (R->n == R->cap) {
		R->cap = R->cap ? 2 * R->cap : 16;
		R->d = xrealloc(R->d, R->cap * sizeof(*R->d));
	}
	struct due *d = &R->d[R->n++];
	memset(d, 0, sizeof(*d));
	d->domain = xstrdup(p->domain);
	snprintf(d->id, sizeof(d->id), "%s", p->id);
	d->expires_at = p->expires_at;
	return 0;
}

struct http_client *
sts_refresh_fetch(uv_loop_t *loop, struct dns *dns, const char *domain, unsigned port,
                  struct tls_ctx *tls, http_client_cb cb, void *arg)
{
	struct http_url u = {.tls = true, .port = port ? port : 443};
	/* A name of 248 bytes or more has no policy host (253 at most). */
	if (snprintf(u.host, sizeof(u.host), "mta-sts.%s", domain) >= (int)sizeof(u.host))
		return NULL;
	snprintf(u.path, sizeof(u.path), "/.well-known/mta-sts.txt");
	struct http_client_opts o = {.url = &u,
	                             .tls = tls,
	                             .max_body = MTA_STS_BODY_MAX,
	                             .timeout_ms = STS_FETCH_MS,
	                             .want_type = "text/plain",
	                             .user_agent = "kirim/" KIRIM_VERSION};
	return http_client_start(loop, dns, &o, cb, arg);
}

int
sts_fetch_read(const struct http_client_result *r, struct mta_sts_policy *p, struct buf *text,
               char *err, size_t errsz, const char **result)
{
	const char *why = NULL;
	if (!r->ok) {
		snprintf(err, errsz, "policy fetch failed: %s", r->error);
		*result = r->tls_failed ? "sts-webpki-invalid"
		          : r->refused  ? "sts-policy-invalid"
		                        : "sts-policy-fetch-error";
		return -1;
	}
	if (mta_sts_policy_parse(r->body, r->len, p, &why) < 0) {
		snprintf(err, errsz, "policy invalid: %s", why);
		*result = "sts-policy-invalid";
		return -1;
	}
	mta_sts_policy_format(p, text);
	return 0;
}

static void start_next(struct refresh *R);

static void
finish(struct due *d)
{
	d->done = true;
	d->R->running--;
	start_next(d->R);
}

static void
on_fetch(void *arg, const struct http_client_result *r)
{
	struct due *d = arg;
	struct mta_sts_policy p;
	struct buf text = BUF_INIT;
	const char *result;
	if (sts_fetch_read(r, &p, &text, d->error, sizeof(d->error), &result) == 0) {
		int64_t now = (int64_t)time(NULL);
		d->saved = (struct store_sts){
		    .domain = d->domain,
		    .id = d->id,
		    .mode = mta_sts_mode_name(p.mode),
		    .policy = text.data,
		    .max_age = p.max_age,
		    .fetched_at = now,
		    .expires_at = now + p.max_age,
		};
	}
	finish(d);
}

static void
on_txt(void *arg, const struct dns_txt_result *r)
{
	struct due *d = arg;
	struct refresh *R = d->R;
	char id[MTA_STS_ID_MAX];
	const char *why = NULL;
	if (r->status == DNS_TEMPFAIL) {
		snprintf(d->error, sizeof(d->error), "_mta-sts TXT: %.250s",
		         r->error ? r->error : "look-up failed");
		finish(d);
		return;
	}
	/* A new id goes with the policy fetched now; no record (or none usable) keeps the
	 * cached id: removing the record alone does not withdraw a policy (RFC 8461 10.2). */
	if (r->status == DNS_OK && mta_sts_txt_select(r->records, r->n, id, &why) == 0)
		snprintf(d->id, sizeof(d->id), "%s", id);
	if (sts_refresh_fetch(&R->loop, R->dns, d->domain, R->port, R->tls, on_fetch, d) == NULL) {
		snprintf(d->error, sizeof(d->error), "policy not fetched: %s",
		         "the policy host's name cannot be looked up");
		finish(d);
	}
}

/* start_next - start refreshes until STS_REFRESH_PARALLEL run or none is left */
static void
start_next(struct refresh *R)
{
	while (R->running < STS_REFRESH_PARALLEL && R->next < R->n) {
		struct due *d = &R->d[R->next++];
		char name[300];
		d->R = R;
		snprintf(name, sizeof(name), "_mta-sts.%s", d->domain);
		R->running++;
		if (dns_resolve_txt(R->dns, name, on_txt, d) < 0) {
			snprintf(d->error, sizeof(d->error), "cannot look up %s", name);
			d->done = true;
			R->running--;
		}
	}
}

int
sts_refresh_due(struct store *s, const struct config *cfg, int64_t now,
                const struct sts_refresh_opts *o, sts_refresh_cb cb, void *arg, char *err,
                size_t errsz)
{
	struct refresh *R = xcalloc(1, sizeof(*R));
	R->now = now;
	R->port = o->port;
	int rc = store_sts_each(s, collect, R);
	if (rc == 0 && R->n > 0) {
		uv_loop_init(&R->loop);
		struct dns_opts dopts = {.servers = o->dns_servers};
		if (tls_ctx_new(TLS_POLICY_VERIFY, cfg->tls_ca_file[0] ? cfg->tls_ca_file : NULL,
		                &R->tls, err, errsz) < 0)
			rc = -1;
		else if ((R->dns = dns_new(&R->loop, &dopts, err, errsz)) == NULL)
			rc = -1;
		if (rc == 0) {
			start_next(R);
			while (R->running > 0)
				uv_run(&R->loop, UV_RUN_ONCE);
		}
		dns_free(R->dns);
		uv_run(&R->loop, UV_RUN_DEFAULT); /* every handle closed */
		uv_loop_close(&R->loop);
		tls_ctx_free(R->tls);
	}
	int refreshed = 0;
	for (size_t i = 0; i < R->n; i++) {
		struct due *d = &R->d[i];
		if (rc == 0 && d->saved.policy && (rc = store_sts_save(s, &d->saved)) == 0)
			refreshed++;
		if (rc == 0 && d->done)
			cb(arg, &(struct sts_refreshed){
			            d->domain, d->id, d->saved.policy ? NULL : d->error,
			            d->saved.policy ? d->saved.expires_at : d->expires_at});
		free((char *)d->saved.policy);
		free(d->domain);
	}
	free(R->d);
	free(R);
	return rc < 0 ? rc : refreshed;
}
