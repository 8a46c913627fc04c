/*
 * sender_route - where each job of a send goes (the loop's; see sender_int.h):
 * the relay, or its recipient domain's MX hosts (looked up once per TTL, jobs
 * waiting meanwhile), grouped into destinations by MX host set with the
 * limits their domain policies give, warm-up caps per destination and day,
 * the campaign's send window in each recipient's zone, and the last look
 * for suppressions before a job joins a queue or goes on the wire.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "kirim/clock.h"
#include "kirim/log.h"
#include "kirim/destination.h"
#include "kirim/redis_limit.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"
#include "sender_int.h"

static void
sdomain_wait(struct sdomain *dm, struct sjob *j)
{
	if (dm->nwait == dm->capwait) {
		dm->capwait = dm->capwait ? dm->capwait * 2 : 16;
		dm->wait = xrealloc(dm->wait, dm->capwait * sizeof(*dm->wait));
	}
	dm->wait[dm->nwait++] = j;
}

static void
smx_free(struct smx *mx)
{
	if (mx == NULL)
		return;
	free(mx->hosts);
	free(mx->dane);
	free(mx);
}

static void
sdomain_free(void *p)
{
	struct sdomain *dm = p;
	sender_tls_cancel(dm);
	smx_free(dm->mx);
	free(dm->wait); /* empty: every job came back */
	free(dm);
}

static void
sdest_free(void *p)
{
	struct sdest *sd = p;
	if (sd == NULL)
		return;
	for (size_t k = 0; k < sd->nhosts; k++)
		free(sd->hosts[k]);
	free(sd->key);
	free(sd->pd);
	free(sd->src);
	free(sd->sent);
	free(sd->warm);
	free(sd->wrr);
	free(sd);
}

/* ssource_in - whether x is in pool */
static bool
ssource_in(const struct ssource *x, const char *pool)
{
	for (size_t k = 0; k < x->npools; k++)
		if (strcmp(x->pools[k], pool) == 0)
			return true;
	return false;
}

int
sender_egress(struct sender *S, const struct config *cfg, const char *pool,
              const char *fallback_ehlo, char *err, size_t errsz)
{
	const struct config_egress *in[CONFIG_MAX_EGRESS];
	S->egress = pool ? pool : "default";
	if (pool && config_egress_pool_check(cfg, pool, err, errsz) < 0)
		return -1;
	size_t n = cfg->n_egress;
	for (size_t i = 0; i < n; i++)
		in[i] = &cfg->egress[i];
	S->src = n ? xcalloc(n, sizeof(*S->src)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct ssource *x = &S->src[i];
		snprintf(x->name, sizeof(x->name), "%s", in[i]->name);
		for (size_t k = 0; k < in[i]->npools; k++)
			snprintf(x->pools[k], sizeof(x->pools[k]), "%s", in[i]->pools[k]);
		x->npools = in[i]->npools;
		snprintf(x->address, sizeof(x->address), "%s", in[i]->address);
		snprintf(x->ehlo, sizeof(x->ehlo), "%s",
		         in[i]->ehlo[0] ? in[i]->ehlo : fallback_ehlo);
		x->weight = in[i]->weight;
		if (in[i]->family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&x->addr;
			a->sin6_family = AF_INET6;
			memcpy(&a->sin6_addr, in[i]->addr, 16);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&x->addr;
			a->sin_family = AF_INET;
			memcpy(&a->sin_addr, in[i]->addr, 4);
		}
		/* Refused now rather than on every connection: the address must be here. */
		char why[256];
		if (smtp_session_source_check((const struct sockaddr *)&x->addr, why, sizeof(why)) <
		    0) {
			snprintf(err, errsz, "[egress] %s: source address %s", x->name, why);
			free(S->src);
			S->src = NULL;
			return -1;
		}
		S->nsrc++;
		struct buf pools = BUF_INIT;
		for (size_t k = 0; k < x->npools; k++)
			buf_printf(&pools, "%s%s", k ? "," : "", x->pools[k]);
		log_info("egress source=%s address=%s ehlo=%s weight=%u pool=%s", x->name,
		         x->address, x->ehlo, x->weight, pools.data);
		buf_free(&pools);
	}
	return 0;
}

int
sender_dests_add(struct sender *S, struct sdest *sd, const struct pool_dest_config *dc,
                 const char *pool, char *err, size_t errsz)
{
	const char *name = pool && pool[0] ? pool : S->egress;
	size_t n = 0;
	sd->src = xcalloc(S->nsrc ? S->nsrc : 1, sizeof(*sd->src));
	for (size_t i = 0; i < S->nsrc; i++)
		if (ssource_in(&S->src[i], name))
			sd->src[n++] = &S->src[i];
	if (n == 0 && strcmp(name, S->egress) != 0) {
		snprintf(err, errsz,
		         "the domain policy names egress pool %s, and no [egress] section of "
		         "kirim.conf is in it",
		         name);
		return -1;
	}
	if (n == 0)
		n = 1; /* the run's pool has no source: the kernel chooses, as without [egress] */
	sd->pd = xcalloc(n, sizeof(*sd->pd));
	sd->sent = xcalloc(n, sizeof(*sd->sent));
	sd->warm = xcalloc(n, sizeof(*sd->warm));
	sd->wrr = xcalloc(n, sizeof(*sd->wrr));
	for (size_t k = 0; k < n; k++) {
		struct pool_dest_config c = *dc;
		if (sd->src[k]) {
			c.session.bind_addr = (const struct sockaddr *)&sd->src[k]->addr;
			c.session.helo_name = sd->src[k]->ehlo;
		}
		/* A destination made already stays the pool's (it frees them all at the end). */
		if ((sd->pd[k] = pool_dest_add(S->pool, &c, err, errsz)) == NULL)
			return -1;
		sd->wrr[k].weight = sd->src[k] ? sd->src[k]->weight : 1;
		sd->npd++;
	}
	return 0;
}

/*
 * source_key - sd's name, with sep and source k's address when bound: the key of its count
 * of today's attempts in sent_today (sep ' '), or of the cluster's count in Redis (sep '|',
 * as the source's rate key)
 */
static void
source_key(const struct sdest *sd, size_t k, char sep, struct buf *out)
{
	buf_adds(out, sd->key);
	if (sd->src[k])
		buf_printf(out, "%c%s", sep, sd->src[k]->address);
}

/*
 * sender_gone - whether j's recipient was suppressed (address or domain),
 * unsubscribed, or removed from the campaign's list since the run started
 * (loop; what was suppressed before a claim never gets this far)
 */
bool
sender_gone(const struct sender *S, const struct sjob *j)
{
	if (S->gone.len == 0 || j->message_id <= 0)
		return false;
	char key[ADDRESS_MAX + 8];
	/* Suppressions hold SQLite's lower(): ASCII letters only. */
	size_t n = (size_t)snprintf(key, sizeof(key), "a:%s", j->rcpt);
	for (size_t i = 2; i < n && i < sizeof(key); i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] = (char)(key[i] - 'A' + 'a');
	if (strmap_get(&S->gone, key))
		return true;
	snprintf(key, sizeof(key), "d:%s", j->domain);
	if (strmap_get(&S->gone, key))
		return true;
	snprintf(key, sizeof(key), "c:%lld", (long long)j->contact_id);
	if (strmap_get(&S->gone, key))
		return true;
	snprintf(key, sizeof(key), "l:%lld:%lld", (long long)j->c->camp.list_id,
	         (long long)j->contact_id);
	return strmap_get(&S->gone, key) != NULL;
}

/* sender_keep - pool_cbs.keep: whether job may still go on the wire */
bool
sender_keep(void *owner, struct smtp_job *job)
{
	struct sjob *j = job->user;
	if (!sender_gone(owner, j))
		return true;
	log_info("msg=%lld rcpt=%s result=suppressed note=\"suppressed after it was claimed: "
	         "not sent\"",
	         (long long)j->message_id, j->rcpt);
	j->gone = true;
	return false;
}

/* sender_withdraw_gone - withdraw j when its recipient is gone; whether it was */
static bool
sender_withdraw_gone(struct sender *S, struct sjob *j)
{
	if (sender_keep(S, &j->job))
		return false;
	sender_withdraw(S, j);
	return true;
}

/* sdest_set_cap - the warm-up cap of sd's day (-1: none) */
static void
sdest_set_cap(struct sdest *sd)
{
	struct dest_limits lim = {.warmup_start = sd->warmup_start};
	snprintf(lim.warmup, sizeof(lim.warmup), "%s", sd->warmup);
	sd->cap = dest_warmup_cap(&lim, sd->day);
}

/* sdest_today - bring the day's count and warm-up cap up to date */
static void
sdest_today(struct sender *S, struct sdest *sd)
{
	int64_t day = (int64_t)time(NULL) / 86400;
	if (day == sd->day)
		return;
	/* The first day of the run starts from what the database counted today. */
	for (size_t k = 0; k < sd->npd; k++) {
		struct buf key = BUF_INIT;
		source_key(sd, k, ' ', &key);
		sd->sent[k] = sd->day ? 0 : (long)(intptr_t)strmap_get(&S->sent_today, key.data);
		sd->warm[k] = (struct swarm){.known = sd->sent[k]};
		buf_free(&key);
	}
	sd->day = day;
	sd->capped = false;
	sdest_set_cap(sd);
}

/*
 * sdest_full - whether source k of sd has reached today's warm-up cap, as this node knows:
 * its own count without a Redis; with one, what Redis said, or while Redis is away this
 * node's share of what was left, (cap - the last count known) / N
 */
static bool
sdest_full(const struct sender *S, const struct sdest *sd, size_t k)
{
	if (sd->cap < 0)
		return false;
	if (S->rl == NULL)
		return sd->sent[k] >= sd->cap;
	const struct swarm *w = &sd->warm[k];
	if (w->full)
		return true;
	if (redis_limit_mode(S->rl) != REDIS_LIMIT_FALLBACK)
		return false;
	long left = sd->cap - w->known;
	return left <= 0 || w->local >= left / (long)redis_limit_nodes(S->rl);
}

static void sdest_submit(struct sender *S, struct sdest *sd, struct sjob *j);

/* warm_answer - Redis answered j's warm-up reservation (redis_limit_reserve) */
static void
warm_answer(void *arg, enum redis_limit_count got, long count)
{
	struct sjob *j = arg;
	struct sender *S = j->c->S;
	struct sdest *sd = j->wsd;
	size_t k = j->wk;
	struct swarm *w = &sd->warm[k];
	bool today = j->wday == sd->day;
	if (got == REDIS_LIMIT_COUNTED) {
		j->wstate = WARM_REDIS;
		if (today) {
			w->known = count;
			sd->sent[k]++;
		}
		if (j->c->stopped) {
			sender_hand_back(S, j, 0, "campaign stopped"); /* gives it back */
			return;
		}
		j->pd = sd->pd[k];
		pool_submit(sd->pd[k], &j->job);
		return;
	}
	if (today && got == REDIS_LIMIT_FULL) {
		w->known = count;
		w->full = true;
	} else if (today) {
		w->local += j->wextra; /* lost with the ask: told with the next */
	}
	j->wstate = WARM_NONE;
	j->wsd = NULL;
	/* Another source, the local share (Redis lost), or tomorrow. */
	sdest_submit(S, sd, j);
}

void
sender_warmup_done(struct sender *S, struct sjob *j)
{
	if (j->wstate != WARM_REDIS && j->wstate != WARM_LOCAL)
		return;
	/* What the database counts against the cap (store_dest_counts_since): an attempt the
	 * server answered; a message that never got that far is not one. */
	bool used = j->res.attempted && !j->res.withdrawn && j->res.outcome != OUTCOME_FAILED;
	struct sdest *sd = j->wsd;
	if (!used && j->wstate == WARM_REDIS) {
		struct buf name = BUF_INIT;
		source_key(sd, j->wk, '|', &name);
		redis_limit_unreserve(S->rl, name.data, j->wday, 1);
		buf_free(&name);
	} else if (!used && j->wday == sd->day && sd->warm[j->wk].local > 0) {
		sd->warm[j->wk].local--;
	}
	j->wstate = WARM_NONE;
	j->wsd = NULL;
}

void
sender_warmup_retry(struct sender *S)
{
	if (S->nwarm_wait == 0 || redis_limit_mode(S->rl) == REDIS_LIMIT_STARTING)
		return;
	struct sjob **wait = S->warm_wait;
	size_t n = S->nwarm_wait;
	S->warm_wait = NULL;
	S->nwarm_wait = S->capwarm_wait = 0;
	for (size_t i = 0; i < n; i++) {
		struct sjob *j = wait[i];
		struct sdest *sd = j->wsd;
		j->wsd = NULL;
		if (j->c->stopped)
			sender_hand_back(S, j, 0, "campaign stopped");
		else
			sdest_submit(S, sd, j);
	}
	free(wait);
}

/*
 * sdest_submit - j to the queue of one of sd's sources, chosen by weight (smooth weighted
 * round-robin) among those under today's warm-up cap; when every source has reached it,
 * j waits for tomorrow. With a Redis, a capped destination's message is first reserved
 * there (the cluster's count, docs/scale-out.md): j is queued when Redis answers.
 */
static void
sdest_submit(struct sender *S, struct sdest *sd, struct sjob *j)
{
	sdest_today(S, sd);
	for (size_t k = 0; k < sd->npd; k++) {
		unsigned w = sd->src[k] ? sd->src[k]->weight : 1;
		sd->wrr[k].weight = sdest_full(S, sd, k) ? 0 : w;
	}
	int k = wrr_next(sd->wrr, sd->npd);
	if (k < 0) {
		/* Over today's warm-up cap: wait for tomorrow (UTC), no attempt counted. */
		char why[200];
		snprintf(why, sizeof(why), "warm-up cap of %ld for today reached at %s%s", sd->cap,
		         sd->key, sd->npd > 1 ? " from every source address" : "");
		if (!sd->capped)
			log_info("dest=%s warmup_cap=%ld reached%s: the rest waits for tomorrow",
			         sd->key, sd->cap, S->rl ? " across nodes" : "");
		sd->capped = true;
		sender_hand_back(S, j, (sd->day + 1) * 86400, why);
		return;
	}
	if (S->rl && sd->cap >= 0 && redis_limit_mode(S->rl) == REDIS_LIMIT_STARTING) {
		/* Whether to count in Redis or take a local share is known within 2 s. */
		if (S->nwarm_wait == S->capwarm_wait) {
			S->capwarm_wait = S->capwarm_wait ? 2 * S->capwarm_wait : 64;
			S->warm_wait =
			    xrealloc(S->warm_wait, S->capwarm_wait * sizeof(*S->warm_wait));
		}
		j->wsd = sd;
		S->warm_wait[S->nwarm_wait++] = j;
		return;
	}
	if (S->rl && sd->cap >= 0) {
		struct swarm *w = &sd->warm[k];
		struct buf name = BUF_INIT;
		source_key(sd, (size_t)k, '|', &name);
		j->wsd = sd;
		j->wk = (size_t)k;
		j->wday = sd->day;
		j->wextra = w->local;
		bool asked = redis_limit_reserve(S->rl, name.data, sd->day, sd->cap, sd->sent[k],
		                                 w->local, warm_answer, j);
		buf_free(&name);
		if (asked) {
			j->wstate = WARM_ASKING;
			w->local = 0;
			return;
		}
		/* Redis away: one of this node's local share. */
		j->wstate = WARM_LOCAL;
		w->local++;
	}
	sd->sent[k]++;
	j->pd = sd->pd[k];
	pool_submit(sd->pd[k], &j->job);
}

/* sdomain_deliver - hand j to the domain's destination, or fail it with the DNS verdict */
static void
sdomain_deliver(struct sdomain *dm, struct sjob *j)
{
	struct sdest *sd = dm->dest;
	if (j->c->stopped) {
		sender_hand_back(dm->S, j, 0, "campaign stopped");
		return;
	}
	if (sd) {
		sdest_submit(dm->S, sd, j);
		return;
	}
	struct smtp_result r = {.stage = SMTP_STAGE_DNS, .ecode = dm->ecode, .text = dm->error};
	struct pool_conn_info ci = {"", "", "", "", ""};
	sender_job_fact(dm->S, j, &r, &ci);
	if (dm->dns_no && j->message_id > 0)
		j->res.domain = xstrdup(dm->name);
	sender_job_done(dm->S, j);
}

/*
 * sender_policy - the limits of a destination made for domain with these MX
 * hosts (destination.h: the fields some record sets, else the run's options; a
 * domain with its own record gets a destination of its own).
 */
static void
sender_policy(const struct sender *S, const char *domain, const char *const *hosts, size_t nhosts,
              struct dest_limits *lim)
{
	struct dest_limits run = {
	    .max_conns = S->mx.limits.max_conns,
	    .rate = S->mx.limits.rate,
	    .connect_rate = S->mx.limits.connect_rate,
	    .max_jobs = S->mx.session.max_jobs,
	    .tls = (int)S->mx.session.tls_policy,
	};
	dest_resolve(S->rows, S->nrows, domain, hosts, nhosts, &run, lim);
}

/* pool_limits_of - the pool's limits from a destination's limits */
static struct pool_limits
pool_limits_of(const struct sender *S, const struct dest_limits *lim)
{
	/* A policy's connection cap is the destination's, shared by every node with a Redis;
	 * the run's --dest-concurrency stays this process's own. */
	return (struct pool_limits){.max_conns = lim->max_conns,
	                            .rate = lim->rate,
	                            .connect_rate = lim->connect_rate,
	                            .adaptive = S->mx.limits.adaptive,
	                            .shared_conns = lim->conns_set};
}

/* sender_apply_policies - the policy records changed: new limits for every destination */
void
sender_apply_policies(struct sender *S)
{
	const struct policy *g = policy_find(S->rows, S->nrows, "global");
	pool_set_rate(S->pool, g && (g->set & POLICY_HAS(POLICY_F_RATE)) ? g->rate : 0);
	for (size_t i = 0; i < S->dests.cap; i++) {
		struct sdest *sd = S->dests.slots[i].value;
		if (sd == NULL)
			continue;
		struct dest_limits lim;
		sender_policy(S, sd->domain, (const char *const *)sd->hosts, sd->nhosts, &lim);
		struct pool_limits pl = pool_limits_of(S, &lim);
		for (size_t k = 0; k < sd->npd; k++)
			pool_dest_set_limits(sd->pd[k], &pl);
		snprintf(sd->warmup, sizeof(sd->warmup), "%s", lim.warmup);
		sd->warmup_start = lim.warmup_start;
		if (sd->day)
			sdest_set_cap(sd);
	}
}

/*
 * sender_mx_dest - the destination for domain's MX answer: one per set of MX
 * host names (sorted, so the order DNS shuffles equal preferences in does not
 * matter) and policy, made on first use with an address per host address in
 * preference order and the limits its policy gives.
 */
static struct sdest *
sender_mx_dest(struct sender *S, const struct sdomain *dm, const struct dns_mx_result *r,
               const struct sdane *dane, bool *policy, char *err, size_t errsz)
{
	const char *domain = dm->name;
	const char *pref_order[DNS_MAX_HOSTS];
	struct buf key = BUF_INIT;
	for (size_t i = 0; i < r->nhosts; i++)
		pref_order[i] = r->hosts[i].name;
	struct dest_limits lim;
	sender_policy(S, domain, pref_order, r->nhosts, &lim);
	*policy = false;

	/*
	 * Which hosts, with which TLS. A domain policy of the user's naming TLS for the domain
	 * wins (dane: only hosts with usable TLSA records). Else what the domain publishes:
	 * DANE for a host with validated TLSA records, before MTA-STS (RFC 8461 2: a policy
	 * never overrides DANE); under MTA-STS enforce, the other hosts only when the policy
	 * names them, verified for their names (RFC 8461 4.1, 5); else the run's TLS.
	 */
	const struct dns_mx_host *use[DNS_MAX_HOSTS];
	struct pool_addr how[DNS_MAX_HOSTS]; /* own_tls, tls_policy, tlsa of each used host */
	struct tls_tlsa tlsa[DNS_MAX_HOSTS][DNS_TLSA_MAX];
	size_t nuse = 0;
	const struct ssts *sts = lim.tls_chosen ? NULL : dm->sts;
	bool enforce = sts && sts->p.mode == MTA_STS_ENFORCE;
	bool any_dane = false, want_dane = lim.tls_chosen && lim.tls == POLICY_TLS_DANE;
	const char *skipped = "";
	for (size_t i = 0; i < r->nhosts; i++) {
		const struct sdane *d = dane ? &dane[i] : NULL;
		enum sdane_state st = d ? d->state : SDANE_NONE;
		struct pool_addr h = {0};
		if (lim.tls_chosen && !want_dane) {
			/* the user's TLS for every host */
		} else if (st == SDANE_FAILED) {
			skipped = d->error;
			continue;
		} else if (st == SDANE_USABLE) {
			h.own_tls = true;
			h.tls_policy = TLS_POLICY_DANE;
			for (size_t k = 0; k < d->n; k++)
				tlsa[nuse][k] = (struct tls_tlsa){
				    d->recs[k].usage, d->recs[k].selector, d->recs[k].mtype,
				    d->recs[k].data, d->recs[k].len};
			h.tlsa = tlsa[nuse];
			h.ntlsa = d->n;
			any_dane = true;
		} else if (want_dane) {
			/* DANE required: only hosts with usable TLSA records (RFC 8460 4.3.2.1's
			 * dane-required for the others). */
			sender_tls_count(S, domain, "tlsa", "", r->hosts[i].name, NULL, NULL,
			                 "dane-required",
			                 st == SDANE_UNUSABLE ? "no usable TLSA record"
			                                      : "no DNSSEC-validated TLSA records");
			continue;
		} else if (st == SDANE_UNUSABLE) {
			/* RFC 7672 2.2: TLS is a must, authentication impossible. */
			h.own_tls = true;
			h.tls_policy = TLS_POLICY_REQUIRED;
			any_dane = true;
		} else if (enforce && !mta_sts_mx_match(&sts->p, r->hosts[i].name)) {
			continue;
		}
		how[nuse] = h;
		use[nuse++] = &r->hosts[i];
	}
	if (nuse == 0) {
		struct buf names = BUF_INIT;
		for (size_t i = 0; i < r->nhosts; i++)
			buf_printf(&names, "%s%s", i ? ", " : "", r->hosts[i].name);
		if (want_dane)
			snprintf(err, errsz,
			         "the domain policy for %s requires DANE and none of its MX hosts "
			         "(%.200s) has usable DNSSEC-validated TLSA records%s: not sent",
			         domain, names.data,
			         S->dane_on ? "" : " (DANE is off: [tls] dane, docs/tls.md)");
		else if (skipped[0])
			snprintf(err, errsz, "no MX host of %s (%.200s) can be used: %s: not sent",
			         domain, names.data, skipped);
		else
			snprintf(err, errsz,
			         "the MTA-STS policy of %s (enforce, id %s) names none of its MX "
			         "hosts (%.200s): not sent",
			         domain, sts->id, names.data);
		buf_free(&names);
		*policy = true;
		return NULL;
	}
	/* The hosts without DANE of an enforce domain must verify: is it possible here? */
	bool verify = false;
	for (size_t i = 0; i < nuse; i++)
		verify |= enforce && !how[i].own_tls;
	if (verify && S->verify_ctx == NULL) {
		snprintf(err, errsz,
		         "the MTA-STS policy of %s (enforce) needs certificates verified, and the "
		         "CA certificates are unusable (%s): not sent",
		         domain, S->verify_err);
		*policy = true;
		return NULL;
	}
	/*
	 * A domain that publishes a TLS-RPT record has a destination of its own: its sessions'
	 * TLS results are its own (sender_tls_result). Without one nothing is reported, and its
	 * sessions need only meet its policy, which depends on the hosts used, not on the
	 * domain: domains with the same hosts and the same policy share a destination and its
	 * connections (as Postfix shares a next hop's per TLS policy). MTA-STS testing mode is
	 * then the run's TLS, as without a policy.
	 */
	if (dm->tlsrpt[0]) {
		dest_key(pref_order, r->nhosts, lim.own, &key);
		if (any_dane)
			buf_printf(&key, "|dane:%s", domain);
		else if (sts)
			buf_printf(&key, "|sts:%s", domain);
		else
			buf_printf(&key, "|tlsrpt:%s", domain);
	} else {
		const char *names[DNS_MAX_HOSTS];
		for (size_t i = 0; i < nuse; i++)
			names[i] = use[i]->name;
		dest_key(names, nuse, lim.own, &key);
		if (any_dane)
			buf_adds(&key, "|dane");
		else if (enforce)
			buf_adds(&key, "|sts");
	}
	struct sdest *sd = strmap_get(&S->dests, key.data);
	if (sd == NULL) {
		struct sockaddr_storage addrs[POOL_MAX_ADDRS];
		struct pool_addr paddrs[POOL_MAX_ADDRS];
		size_t n = 0;
		for (size_t i = 0; i < nuse; i++) {
			for (size_t k = 0; k < use[i]->naddrs && n < POOL_MAX_ADDRS; k++) {
				addrs[n] = use[i]->addrs[k];
				if (addrs[n].ss_family == AF_INET6)
					((struct sockaddr_in6 *)&addrs[n])->sin6_port =
					    htons((uint16_t)S->mx_port);
				else
					((struct sockaddr_in *)&addrs[n])->sin_port =
					    htons((uint16_t)S->mx_port);
				paddrs[n] = how[i];
				paddrs[n].host = use[i]->name;
				paddrs[n].pref = use[i]->pref;
				paddrs[n].addr = (const struct sockaddr *)&addrs[n];
				n++;
			}
		}
		struct pool_dest_config dc = S->mx;
		dc.name = key.data;
		dc.addrs = paddrs;
		dc.naddrs = n;
		dc.limits = pool_limits_of(S, &lim);
		dc.session.max_jobs = lim.max_jobs;
		dc.session.tls_policy = (enum tls_policy)lim.tls;
		if (enforce) {
			dc.session.tls_policy = TLS_POLICY_VERIFY;
			dc.session.tls_ctx = S->verify_ctx;
		} else if (want_dane) {
			dc.session.tls_policy = TLS_POLICY_REQUIRED; /* every address has DANE */
		} else if (dc.session.tls_policy == TLS_POLICY_VERIFY && S->verify_ctx) {
			dc.session.tls_ctx = S->verify_ctx; /* the CAs of [tls], loaded once */
		}
		sd = xcalloc(1, sizeof(*sd));
		sd->key = xstrdup(key.data);
		if (sender_dests_add(S, sd, &dc, lim.egress, err, errsz) < 0) {
			sdest_free(sd);
			sd = NULL;
		} else {
			snprintf(sd->domain, sizeof(sd->domain), "%s", domain);
			for (size_t i = 0; i < r->nhosts; i++)
				sd->hosts[i] = xstrdup(pref_order[i]);
			sd->nhosts = r->nhosts;
			snprintf(sd->warmup, sizeof(sd->warmup), "%s", lim.warmup);
			sd->warmup_start = lim.warmup_start;
			strmap_put(&S->dests, key.data, sd);
			S->st->destinations++;
			log_debug("dest=%s addrs=%zu max_conns=%u rate=%.3f/s tls=%s%s", key.data,
			          n, lim.max_conns, lim.rate,
			          tls_policy_name(dc.session.tls_policy), any_dane ? " dane" : "");
		}
	}
	buf_free(&key);
	return sd;
}

/* sdomain_apply - every look-up of dm is done: its destination (or why it has none) from
 * its MX answer r and its policies, then its waiting jobs go on */
static void
sdomain_apply(struct sdomain *dm, const struct dns_mx_result *r, const struct sdane *dane)
{
	struct sender *S = dm->S;
	double ttl = r->ttl;
	dm->resolving = false;
	dm->dest = NULL;
	/* The dns module's statuses, in the disposition's terms (disposition.h). */
	enum disp_dns v = r->status == DNS_NXDOMAIN   ? DISP_DNS_NXDOMAIN
	                  : r->status == DNS_NULLMX   ? DISP_DNS_NULLMX
	                  : r->status == DNS_NODATA   ? DISP_DNS_NODATA
	                  : r->status == DNS_TEMPFAIL ? DISP_DNS_TEMPFAIL
	                                              : DISP_DNS_UNROUTABLE;
	dm->dns_no = r->status != DNS_OK && disposition_dns_unconfirmed(v) && !dm->invalid;
	dm->ecode[0] = dm->error[0] = '\0';
	if (r->status == DNS_OK) {
		char err[512];
		bool policy;
		if ((dm->dest = sender_mx_dest(S, dm, r, dane, &policy, err, sizeof(err))) ==
		    NULL) {
			snprintf(
			    dm->ecode, sizeof(dm->ecode), "%s",
			    disposition_dns_ecode(policy ? DISP_DNS_POLICY : DISP_DNS_UNROUTABLE));
			snprintf(dm->error, sizeof(dm->error), "%s", err);
			ttl = SENDER_DNS_TEMPFAIL_S;
			if (policy)
				log_warn("domain=%s error=\"%s\"", dm->name, err);
		}
	} else {
		snprintf(dm->ecode, sizeof(dm->ecode), "%s", disposition_dns_ecode(v));
		snprintf(dm->error, sizeof(dm->error), "%s: %.200s", dm->name,
		         r->error ? r->error : dns_status_name(r->status));
		if (r->status == DNS_TEMPFAIL)
			ttl = SENDER_DNS_TEMPFAIL_S;
		log_info("domain=%s dns=%s error=\"%s\"", dm->name, dns_status_name(r->status),
		         r->error ? r->error : "");
	}
	if (ttl < SENDER_DNS_MIN_S)
		ttl = SENDER_DNS_MIN_S;
	if (ttl > SENDER_DNS_MAX_S)
		ttl = SENDER_DNS_MAX_S;
	dm->expires = clock_seconds() + ttl;
	/* Detach the waiting jobs first: delivering one may run callbacks. */
	struct sjob **wait = dm->wait;
	size_t n = dm->nwait;
	dm->wait = NULL;
	dm->nwait = dm->capwait = 0;
	for (size_t i = 0; i < n; i++)
		sdomain_deliver(dm, wait[i]);
	free(wait);
}

static void
on_mx(void *arg, const struct dns_mx_result *r)
{
	struct sdomain *dm = arg;
	/* Kept until the domain's other look-ups are done (sdomain_step). */
	struct smx *mx = xcalloc(1, sizeof(*mx));
	mx->status = r->status;
	snprintf(mx->error, sizeof(mx->error), "%s", r->error ? r->error : "");
	mx->nhosts = r->nhosts;
	if (r->nhosts) {
		mx->hosts = xmalloc(r->nhosts * sizeof(*mx->hosts));
		memcpy(mx->hosts, r->hosts, r->nhosts * sizeof(*mx->hosts));
	}
	mx->from_a = r->from_a_fallback;
	mx->secure = r->secure;
	mx->ttl = r->ttl;
	smx_free(dm->mx);
	dm->mx = mx;
	sender_dane_lookup(dm, mx);
	sdomain_step(dm);
}

void
sdomain_step(struct sdomain *dm)
{
	if (--dm->pending > 0)
		return;
	struct smx *mx = dm->mx;
	dm->mx = NULL;
	struct dns_mx_result r = {.status = mx->status,
	                          .error = mx->error[0] ? mx->error : NULL,
	                          .hosts = mx->hosts,
	                          .nhosts = mx->nhosts,
	                          .from_a_fallback = mx->from_a,
	                          .secure = mx->secure,
	                          .ttl = mx->ttl};
	sdomain_apply(dm, &r, mx->dane);
	if (!dm->invalid)
		sender_tls_note(dm, mx);
	smx_free(mx);
}

/* A zone's window state, valid until `until`. */
struct szone {
	bool usable, inside;
	int64_t open_at, until;
};

/* sender_outside - 0 when j may go now; else the time its window opens next */
static int64_t
sender_outside(struct sender *S, struct sjob *j)
{
	int64_t now = (int64_t)time(NULL);
	struct scamp *c = j->c;
	const char *name = j->tz[0] ? j->tz : c->camp_tz;
	struct szone *z = strmap_get(&c->zones, name);
	if (z == NULL) {
		z = xcalloc(1, sizeof(*z));
		strmap_put(&c->zones, name, z);
	}
	if (z->until <= now) {
		struct when_tz tz;
		char err[256];
		int64_t close_at = 0;
		z->usable = when_tz_open(&tz, name, err, sizeof(err)) == 0 &&
		            when_window_next(&c->send_window, &tz.zone, now, &z->inside,
		                             &z->open_at, &close_at) == 0;
		if (!z->usable && j->tz[0]) {
			log_warn(
			    "campaign=%s timezone=\"%s\" unusable (%s): the campaign's zone counts",
			    c->camp.name, j->tz, err);
			j->tz[0] = '\0';
			return sender_outside(S, j);
		}
		/* Good until the window opens or closes, and looked at again each minute. */
		z->until = now + 60;
		if (z->inside && close_at > now && close_at < z->until)
			z->until = close_at;
		if (!z->inside && z->open_at > now && z->open_at < z->until)
			z->until = z->open_at;
	}
	return z->usable && !z->inside ? (z->open_at > now ? z->open_at : now + 60) : 0;
}

/*
 * sender_relay_dest - through a relay, the destination of a domain whose own
 * policy (exact or wildcard pattern: an MX-set pattern cannot be known
 * without MX look-ups) sets a field: "relay|PATTERN", on the relay's address
 * and session settings (its TLS and AUTH, whatever the policy's TLS says),
 * with the policy's rate, connections and warm-up; NULL for the others,
 * which share the relay's own destination
 */
static struct sdest *
sender_relay_dest(struct sender *S, const char *domain)
{
	if (S->nrows == 0 || domain == NULL || *domain == '\0')
		return NULL;
	struct dest_limits lim;
	sender_policy(S, domain, NULL, 0, &lim);
	if (lim.own[0] == '\0')
		return NULL;
	char key[POLICY_PATTERN_MAX + 8];
	snprintf(key, sizeof(key), "relay|%s", lim.own);
	struct sdest *sd = strmap_get(&S->dests, key);
	if (sd)
		return sd;
	struct pool_dest_config dc = S->mx;
	char err[256];
	dc.name = key;
	dc.limits = pool_limits_of(S, &lim);
	sd = xcalloc(1, sizeof(*sd));
	sd->key = xstrdup(key);
	if (sender_dests_add(S, sd, &dc, lim.egress, err, sizeof(err)) < 0) {
		log_warn("dest=%s not made (%s): the relay's own queue takes it", key, err);
		sdest_free(sd);
		return NULL;
	}
	snprintf(sd->domain, sizeof(sd->domain), "%s", domain);
	snprintf(sd->warmup, sizeof(sd->warmup), "%s", lim.warmup);
	sd->warmup_start = lim.warmup_start;
	strmap_put(&S->dests, key, sd);
	S->st->destinations++;
	log_info("dest=%s through the relay: rate=%.3f/s max_conns=%u%s%s", key, lim.rate,
	         lim.max_conns, lim.warmup[0] ? " warmup=" : "", lim.warmup);
	return sd;
}

/* sender_route - send j to the relay, or to its domain's MX hosts (looking them up first) */
void
sender_route(struct sender *S, struct sjob *j)
{
	if (j->c->stopped) {
		sender_hand_back(S, j, 0, "campaign stopped");
		return;
	}
	if (sender_withdraw_gone(S, j))
		return;
	if (j->c->has_window && j->message_id > 0) {
		int64_t open_at = sender_outside(S, j);
		if (open_at) {
			sender_hand_back(S, j, open_at, "outside the campaign's send window");
			return;
		}
	}
	if (S->dns == NULL) {
		/* Through the relay: a domain with a policy of its own has its own queue (and
		 * rate, connection cap and warm-up) on the relay's connections. */
		struct sdest *sd = sender_relay_dest(S, j->domain);
		if (sd) {
			sdest_submit(S, sd, j);
			return;
		}
		if (S->relay) {
			sdest_submit(S, S->relay, j); /* over the egress sources */
			return;
		}
		j->pd = S->dest;
		pool_submit(S->dest, &j->job);
		return;
	}
	struct sdomain *dm = strmap_get(&S->domains, j->domain);
	if (dm == NULL) {
		dm = xcalloc(1, sizeof(*dm));
		dm->S = S;
		snprintf(dm->name, sizeof(dm->name), "%s", j->domain);
		strmap_put(&S->domains, j->domain, dm);
		S->st->domains++;
	}
	if (dm->resolving) {
		sdomain_wait(dm, j);
	} else if (clock_seconds() < dm->expires) {
		sdomain_deliver(dm, j);
	} else {
		dm->resolving = true;
		sdomain_wait(dm, j);
		/* The MX look-up, and beside it what the domain publishes about TLS; the jobs
		 * wait for all of them (sdomain_step). */
		dm->pending = 1;
		if (S->sts_on)
			sender_sts_lookup(dm);
		sender_tlsrpt_lookup(dm);
		if (dns_resolve_mx(S->dns, dm->name, on_mx, dm) < 0) {
			struct dns_mx_result bad = {.status = DNS_NXDOMAIN,
			                            .error = "not a domain name"};
			dm->invalid = true;
			on_mx(dm, &bad);
		}
	}
}

void
sender_route_free(struct sender *S)
{
	strmap_free_values(&S->domains, sdomain_free);
	strmap_free_values(&S->dests, sdest_free);
	sdest_free(S->relay);
	S->relay = NULL;
	free(S->src);
	S->src = NULL;
	S->nsrc = 0;
	free(S->warm_wait);
	S->warm_wait = NULL;
}

const char *
sender_dest_domain(const struct sender *S, const char *name)
{
	const struct sdest *sd = strmap_get(&S->dests, name);
	return sd ? sd->domain : "";
}
