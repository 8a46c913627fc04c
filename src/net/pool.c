/* pool - per-destination job queues and connections (see pool.h). */
#include "kirim/pool.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/disposition.h"
#include "kirim/log.h"
#include "kirim/sockaddr.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"

/* A queued job: the pool's own link, so jobs need no field for it. */
struct qnode {
	struct smtp_job *job;
	struct qnode *next;
};

enum conn_state { C_STARTING, C_BUSY, C_IDLE };

struct conn {
	struct pool_dest *d;
	struct addr *addr;
	struct smtp_session *s;
	enum conn_state state;
	bool closing;             /* closed to free a global slot */
	bool yield;               /* give the slot up after the job it carries (pool_ask_yield) */
	bool leased;              /* holds a shared connection lease (pool_shared.conn_take) */
	unsigned long long lease; /* its id */
	uint64_t idle_since;      /* uv_now() when it last went idle */
	unsigned done;            /* jobs finished */
	char tls[128];
	struct conn *next;
};

/* A host address of a destination; bad_until (uv_now() ms) after a session to it failed. */
struct addr {
	char host[320]; /* "name[address]" for logs and reports */
	char *name;     /* for TLS */
	struct sockaddr_storage addr;
	unsigned pref;
	uint64_t bad_until;
	bool own_tls; /* its own TLS policy (pool_addr) */
	enum tls_policy tls_policy;
	struct tls_tlsa *tlsa; /* owned: the array, then the records' data */
	size_t ntlsa;
};

struct pool_dest {
	struct pool *p;
	char *name;
	struct addr *addrs;
	size_t naddrs;
	unsigned turn; /* spreads sessions over addrs of equal preference */
	struct pool_limits limits;
	struct throttle_bucket bucket, connect_bucket;
	struct throttle_aimd aimd;
	const char *change; /* the last AIMD change's name */
	uv_timer_t timer;   /* wakes the destination when a token or the suspension's end is due */
	unsigned busy;      /* sessions with a job */
	unsigned long sent;
	struct smtp_session_config session;
	struct tls_ctx *tls_ctx; /* shared by the destination's sessions */
	char *helo, *ca, *user, *pass;
	struct sockaddr_storage bind; /* session.bind_addr copied (it points here) */
	char source[64];              /* its address as text, "" when the kernel chooses */
	struct qnode *head, *tail;
	size_t queued;
	unsigned conns, starting, idle;
	/* When every address is bad and no session is left, the destination is down for a
	 * while (or the adaptive throttle suspends it): jobs are handed back at once,
	 * ABORTED (never sent: no attempt), with the last failure as the reason, instead of
	 * hammering it with connects. */
	uint64_t down_until;     /* uv_now() ms */
	struct smtp_result down; /* the last failure: its facts, as a session reported them */
	char down_ecode[16], down_text[256];
	/* On the pool's list of destinations waiting for a global slot, since (uv_now() ms;
	 * 0 once it has a session). */
	bool starved;
	uint64_t starved_since;
	struct pool_dest *next_starved;
	struct pool_dest *next;
	void *shared;  /* the shared limiter's state (pool_shared.attach), or NULL */
	bool adopting; /* in pool_dest_adopt: the change came from the limiter */
};

enum {
	POOL_DOWN_MS = 30 * 1000,
	/* A session idle this long may be closed to give its slot to another destination. */
	POOL_IDLE_STEAL_MS = 2,
	/* A destination opens a session beyond its first only while this many jobs wait per
	 * session it has: a session costs a connect, a greeting, EHLO (and TLS) and a global
	 * slot, worth it for a queue, not for a handful (Postfix likewise grows a
	 * destination's concurrency only while its queue keeps the sessions busy). */
	POOL_SESSION_JOBS = 8,
	/* A destination without a free global slot closes another's idle session for one
	 * when this many jobs wait, or once it has waited POOL_STARVED_MS: a queue that
	 * grows meanwhile makes the new session worth its connect. */
	POOL_STEAL_JOBS = 64,
	POOL_STARVED_MS = 500,
};

struct pool {
	uv_loop_t *loop;
	unsigned max_conns;
	unsigned conns;
	struct pool_cbs cbs;
	void *owner;
	struct pool_dest *dests;
	struct throttle_bucket bucket; /* the global message rate */
	/* Destinations with jobs waiting while every global slot is taken; when a session
	 * goes idle the slot timer gives them its slot after POOL_IDLE_STEAL_MS. */
	struct pool_dest *starved;
	uv_timer_t slot_timer;
	struct conn *all;
	unsigned yielding; /* busy sessions asked to give their slot up (conn.yield) */
	size_t busy;
	unsigned long connects;
	bool shutdown;
	bool has_shared;
	struct pool_shared sh;
	void *global_shared; /* the limiter's state of the global rate (attach_global), or NULL */
};

static void dest_kick(struct pool_dest *d);
static void pool_slot_wake(struct pool *p);
static void pool_kick_starved(struct pool *p);

/* dest_addr - an address not marked bad at now, of the lowest preference (in turn among
 * equals), or NULL */
static struct addr *
dest_addr(struct pool_dest *d, uint64_t now)
{
	struct addr *best[POOL_MAX_ADDRS];
	size_t n = 0;
	for (size_t i = 0; i < d->naddrs; i++) {
		struct addr *r = &d->addrs[i];
		if (r->bad_until > now || (n && r->pref > best[0]->pref))
			continue;
		if (n && r->pref < best[0]->pref)
			n = 0;
		best[n++] = r;
	}
	return n ? best[d->turn++ % n] : NULL;
}

/* dest_set_down - keep r (its strings copied) as the reason given with the jobs handed
 * back (ABORTED, dest_fail_down) while the destination is down or suspended */
static void
dest_set_down(struct pool_dest *d, const struct smtp_result *r)
{
	d->down = *r;
	snprintf(d->down_ecode, sizeof(d->down_ecode), "%s", r->ecode ? r->ecode : "");
	snprintf(d->down_text, sizeof(d->down_text), "%s", r->text ? r->text : "");
	d->down.ecode = d->down_ecode;
	d->down.text = d->down_text;
}

/* dest_reachable - whether some address is not marked bad at now (dest_addr without taking
 * a turn) */
static bool
dest_reachable(const struct pool_dest *d, uint64_t now)
{
	for (size_t i = 0; i < d->naddrs; i++)
		if (d->addrs[i].bad_until <= now)
			return true;
	return false;
}

static void
dest_free(struct pool_dest *d)
{
	if (d->shared)
		d->p->sh.detach(d->shared);
	tls_ctx_free(d->tls_ctx);
	for (size_t i = 0; i < d->naddrs; i++) {
		free(d->addrs[i].name);
		free(d->addrs[i].tlsa);
	}
	free(d->addrs);
	free(d->name);
	free(d->helo);
	free(d->ca);
	free(d->user);
	if (d->pass) {
		explicit_bzero(d->pass, strlen(d->pass));
		free(d->pass);
	}
	free(d);
}

struct pool *
pool_new(uv_loop_t *loop, unsigned max_conns, const struct pool_cbs *cbs, void *owner)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->max_conns = max_conns ? max_conns : 1;
	p->cbs = *cbs;
	p->owner = owner;
	throttle_bucket_init(&p->bucket, 0, 0, 0);
	uv_timer_init(loop, &p->slot_timer);
	p->slot_timer.data = p;
	return p;
}

/* pool_now - the loop's time in seconds (the clock of the throttle) */
static double
pool_now(const struct pool *p)
{
	return (double)uv_now(p->loop) / 1000.0;
}

const char *
pool_dest_name(const struct pool_dest *d)
{
	return d->name;
}

void
pool_set_shared(struct pool *p, const struct pool_shared *sh)
{
	p->sh = *sh;
	p->has_shared = true;
	if (p->global_shared == NULL && sh->attach_global)
		p->global_shared = sh->attach_global(sh->arg, p);
	for (struct pool_dest *d = p->dests; d; d = d->next)
		if (d->shared == NULL)
			d->shared = sh->attach(sh->arg, d);
}

const char *
pool_dest_source(const struct pool_dest *d)
{
	return d->source;
}

void
pool_set_rate(struct pool *p, double rate)
{
	throttle_bucket_set_rate(&p->bucket, rate, pool_burst(rate), pool_now(p));
}

/* dest_conns - the connection cap now: the configured one, or the AIMD's when lower */
static unsigned
dest_conns(const struct pool_dest *d)
{
	unsigned n = d->limits.max_conns;
	if (d->limits.adaptive && d->aimd.conns < n)
		n = d->aimd.conns;
	return n ? n : 1;
}

static void
on_dest_timer(uv_timer_t *t)
{
	struct pool_dest *d = t->data;
	if (!d->p->shutdown)
		dest_kick(d);
}

/* dest_wake - have dest_kick run in s seconds (or sooner, if already due sooner) */
static void
dest_wake(struct pool_dest *d, double s)
{
	uint64_t ms = (uint64_t)(s * 1000.0) + 1;
	uint64_t due = uv_now(d->p->loop) + ms;
	if (uv_is_active((uv_handle_t *)&d->timer) &&
	    uv_timer_get_due_in(&d->timer) + uv_now(d->p->loop) <= due)
		return;
	uv_timer_start(&d->timer, on_dest_timer, ms, 0);
}

/* global_take - the global rate's token: 0 there (taken only when take is set), > 0 seconds
 * to wait, < 0 the shared limiter wakes the pool (pool_wake) */
static double
global_take(struct pool *p, double now, bool take)
{
	if (p->global_shared && p->bucket.rate > 0)
		return p->sh.take(p->global_shared, p->bucket.rate, take);
	if (!take)
		return throttle_bucket_wait(&p->bucket, now);
	throttle_bucket_take(&p->bucket, now);
	return 0;
}

/* dest_take - 0 when d may hand out one more job now (the tokens are taken), else the
 * seconds to wait for them (< 0: the shared limiter wakes d) */
static double
dest_take(struct pool_dest *d)
{
	struct pool *p = d->p;
	double now = pool_now(p);
	/* The global token is looked at first and taken last, so that neither token is
	 * spent while the other is not there. */
	double g = global_take(p, now, false);
	if (d->shared && d->bucket.rate > 0) {
		/* The destination's rate is the cluster's: the shared limiter's token (or its
		 * wait: < 0 means it wakes d itself). */
		if (g != 0)
			return g;
		double w = p->sh.take(d->shared, d->bucket.rate, true);
		if (w != 0)
			return w;
		global_take(p, now, true);
		return 0;
	}
	double w = throttle_bucket_wait(&d->bucket, now);
	if (g < 0)
		return g;
	if (w > 0 || g > 0)
		return w > g ? w : g;
	throttle_bucket_take(&d->bucket, now);
	global_take(p, now, true);
	return 0;
}

double
pool_burst(double rate)
{
	return 1.0 + rate / 500.0;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct pool_dest *
pool_dest_add(struct pool *p, const struct pool_dest_config *c, char *err, size_t errsz)
{
	if (c->naddrs == 0) {
		snprintf(err, errsz, "destination %s has no address to connect to", c->name);
		return NULL;
	}
	struct pool_dest *d = xcalloc(1, sizeof(*d));
	d->p = p;
	d->name = xstrdup(c->name);
	d->naddrs = c->naddrs < POOL_MAX_ADDRS ? c->naddrs : POOL_MAX_ADDRS;
	d->addrs = xcalloc(d->naddrs ? d->naddrs : 1, sizeof(*d->addrs));
	for (size_t i = 0; i < d->naddrs; i++) {
		struct addr *r = &d->addrs[i];
		const struct sockaddr *sa = c->addrs[i].addr;
		char ip[SOCKADDR_IP_MAX];
		r->name = xstrdup(c->addrs[i].host);
		r->pref = c->addrs[i].pref;
		memcpy(&r->addr, sa,
		       sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                 : sizeof(struct sockaddr_in));
		sockaddr_ip(sa, ip, sizeof(ip));
		snprintf(r->host, sizeof(r->host), "%.255s[%s]", r->name, ip);
		r->own_tls = c->addrs[i].own_tls;
		r->tls_policy = c->addrs[i].tls_policy;
		if (r->own_tls && c->addrs[i].ntlsa > 0) {
			const struct tls_tlsa *t = c->addrs[i].tlsa;
			size_t n = c->addrs[i].ntlsa, bytes = n * sizeof(*r->tlsa);
			for (size_t k = 0; k < n; k++)
				bytes += t[k].len;
			r->tlsa = xmalloc(bytes);
			unsigned char *data = (unsigned char *)(r->tlsa + n);
			for (size_t k = 0; k < n; k++) {
				r->tlsa[k] = t[k];
				memcpy(data, t[k].data, t[k].len);
				r->tlsa[k].data = data;
				data += t[k].len;
			}
			r->ntlsa = n;
		}
	}
	d->limits = c->limits;
	if (d->limits.max_conns == 0)
		d->limits.max_conns = 1;
	double now = pool_now(p);
	throttle_bucket_init(&d->bucket, d->limits.rate, pool_burst(d->limits.rate), now);
	throttle_bucket_init(&d->connect_bucket, d->limits.connect_rate, 0, now);
	throttle_aimd_init(&d->aimd, NULL, d->limits.rate, d->limits.max_conns, now);
	d->change = "";
	d->session = c->session;
	d->helo = dup_or_null(c->session.helo_name);
	d->ca = dup_or_null(c->session.tls_ca_file);
	d->user = dup_or_null(c->session.auth_user);
	d->pass = dup_or_null(c->session.auth_pass);
	d->session.helo_name = d->helo;
	d->session.tls_ca_file = d->ca;
	d->session.auth_user = d->user;
	d->session.auth_pass = d->pass;
	if (c->session.bind_addr) {
		const struct sockaddr *b = c->session.bind_addr;
		memcpy(&d->bind, b,
		       b->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                : sizeof(struct sockaddr_in));
		sockaddr_ip(b, d->source, sizeof(d->source));
		d->session.bind_addr = (const struct sockaddr *)&d->bind;
	}
	if (d->session.tls_policy != TLS_POLICY_NONE && d->session.tls_ctx == NULL) {
		if (tls_ctx_new(d->session.tls_policy, d->ca, &d->tls_ctx, err, errsz) < 0) {
			dest_free(d);
			return NULL;
		}
		d->session.tls_ctx = d->tls_ctx;
	}
	uv_timer_init(p->loop, &d->timer);
	d->timer.data = d;
	d->next = p->dests;
	p->dests = d;
	if (p->has_shared)
		d->shared = p->sh.attach(p->sh.arg, d);
	return d;
}

static void
conn_info(const struct conn *c, struct pool_conn_info *ci)
{
	ci->dest = c->d->name;
	ci->host = c->addr->host;
	ci->tls = c->tls;
	ci->source = c->d->source;
	ci->helo = c->d->helo ? c->d->helo : "";
}

/* fail_job - hand a job back with r, as if a session had: every recipient, then done */
static void
fail_job(struct pool_dest *d, struct smtp_job *job, const struct smtp_result *r)
{
	struct pool *p = d->p;
	struct pool_conn_info ci = {d->name, "", "", d->source, ""};
	for (size_t i = 0; i < job->nrcpt; i++)
		if (p->cbs.rcpt)
			p->cbs.rcpt(p->owner, job, i, r, &ci);
	if (p->cbs.job_done)
		p->cbs.job_done(p->owner, job, r, &ci);
}

/* dest_fail_down - hand back a job that d cannot take now (down or suspended): ABORTED,
 * with the last failure's facts, saying until when, so the owner neither counts an
 * attempt nor offers it again before pool_dest_retry_in */
static void
dest_fail_down(struct pool_dest *d, struct smtp_job *job)
{
	double left = pool_dest_retry_in(d);
	time_t until = time(NULL) + (time_t)(left + 0.999);
	struct tm tm;
	char when[32] = "?";
	if (gmtime_r(&until, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char text[sizeof(d->down_text) + 400];
	snprintf(text, sizeof(text), "destination %.255s down until %s (%.0f s): %s", d->name, when,
	         left, d->down_text);
	struct smtp_result r = d->down;
	r.text = text;
	r.flags |= SMTP_RESULT_ABORTED;
	fail_job(d, job, &r);
}

/* dest_push_front - put a job back at the head of d's queue (a session gave it back
 * unsent: it goes first on the next one) */
static void
dest_push_front(struct pool_dest *d, struct smtp_job *job)
{
	struct qnode *q = xmalloc(sizeof(*q));
	q->job = job;
	q->next = d->head;
	d->head = q;
	if (d->tail == NULL)
		d->tail = q;
	d->queued++;
}

static struct smtp_job *
dest_pop(struct pool_dest *d)
{
	struct qnode *q = d->head;
	if (q == NULL)
		return NULL;
	d->head = q->next;
	if (d->head == NULL)
		d->tail = NULL;
	d->queued--;
	struct smtp_job *job = q->job;
	free(q);
	return job;
}

/* dest_fail_queue - hand back every queued job with r */
static void
dest_fail_queue(struct pool_dest *d, const struct smtp_result *r)
{
	struct smtp_job *job;
	while ((job = dest_pop(d)) != NULL)
		fail_job(d, job, r);
}

/* dest_down_queue - hand back every queued job while d is down or suspended */
static void
dest_down_queue(struct pool_dest *d)
{
	struct smtp_job *job;
	while ((job = dest_pop(d)) != NULL)
		dest_fail_down(d, job);
}

/* tls_report - tell the owner what came of a session's TLS (pool_cbs.tls_result) */
static void
tls_report(struct conn *c, struct smtp_session *s, int ok, int no_starttls, enum tls_check check,
           const char *text)
{
	struct pool *p = c->d->p;
	if (p->cbs.tls_result == NULL)
		return;
	char ip[SOCKADDR_IP_MAX], local[SOCKADDR_IP_MAX];
	sockaddr_ip((const struct sockaddr *)&c->addr->addr, ip, sizeof(ip));
	smtp_session_local_ip(s, local, sizeof(local));
	bool dane = c->addr->own_tls && c->addr->tls_policy == TLS_POLICY_DANE;
	struct pool_tls_result r = {.host = c->addr->name,
	                            .ip = ip,
	                            .local_ip = local,
	                            .ok = ok,
	                            .no_starttls = no_starttls,
	                            .check = check,
	                            .text = text ? text : "",
	                            .tlsa = dane ? c->addr->tlsa : NULL,
	                            .ntlsa = dane ? c->addr->ntlsa : 0};
	p->cbs.tls_result(p->owner, c->d, &r);
}

static void
on_tls(struct smtp_session *s, void *owner, const char *version, const char *cipher, int verified,
       enum tls_check check)
{
	struct conn *c = owner;
	bool dane = c->addr->own_tls && c->addr->tls_policy == TLS_POLICY_DANE;
	snprintf(c->tls, sizeof(c->tls), "%s %s%s", version, cipher,
	         verified ? (dane ? " verified dane" : " verified") : "");
	tls_report(c, s, 1, 0, check, "");
}

static void
on_tls_failed(struct smtp_session *s, void *owner, int no_starttls, enum tls_check check,
              const char *text)
{
	tls_report(owner, s, 0, no_starttls, check, text);
}

/* dest_suspended - the adaptive throttle holds d back now */
static bool
dest_suspended(struct pool_dest *d)
{
	return d->limits.adaptive && throttle_aimd_suspended(&d->aimd, pool_now(d->p)) > 0;
}

/* dest_next - the next job for a session of d, or NULL: none waiting, the connection
 * cap reached, suspended, or no token yet (then the timer wakes d when there is one) */
static struct smtp_job *
dest_next(struct pool_dest *d)
{
	if (d->p->shutdown || d->queued == 0 || d->busy >= dest_conns(d) || dest_suspended(d))
		return NULL;
	/* The last look before the wire: a job its owner no longer wants sent (pool_cbs.keep)
	 * comes back unsent, without taking a token. The owner's callbacks only record. */
	while (d->queued && d->p->cbs.keep && !d->p->cbs.keep(d->p->owner, d->head->job)) {
		struct smtp_job *job = dest_pop(d);
		fail_job(d, job,
		         &(struct smtp_result){.stage = SMTP_STAGE_CONNECT,
		                               .ecode = "",
		                               .text = "withdrawn by its owner",
		                               .flags = SMTP_RESULT_ABORTED});
	}
	if (d->queued == 0)
		return NULL;
	double w = dest_take(d);
	if (w > 0)
		dest_wake(d, w);
	if (w != 0)
		return NULL; /* < 0: the shared limiter wakes d */
	d->sent++;
	return dest_pop(d);
}

/* dest_changed - the adaptive throttle changed d: apply, log and tell the owner (and the
 * shared limiter, for a change made here) */
static void
dest_changed(struct pool_dest *d, enum throttle_change ch)
{
	struct pool *p = d->p;
	double now = pool_now(p);
	if (d->shared && ch != THROTTLE_RESUMED && !d->adopting)
		p->sh.changed(d->shared, d->aimd.rate, d->aimd.conns,
		              ch == THROTTLE_SUSPENDED ? throttle_aimd_suspended(&d->aimd, now) : 0,
		              d->aimd.last);
	d->change = throttle_change_name(ch);
	throttle_bucket_set_rate(&d->bucket, d->aimd.rate, pool_burst(d->aimd.rate), now);
	log_info("throttle dest=%s change=%s rate=%.3f/s conns=%u note=\"%s\"", d->name, d->change,
	         d->aimd.rate, d->aimd.conns, d->aimd.last);
	if (ch == THROTTLE_SUSPENDED) {
		/* Jobs waiting now, and those submitted until the suspension ends, are handed
		 * back unsent (ABORTED: no attempt; a local refusal before MAIL, never the
		 * recipient's fault). */
		double left = throttle_aimd_suspended(&d->aimd, now);
		char text[sizeof(d->down_text)];
		snprintf(text, sizeof(text), "%s: %s", disposition_local_text(SMTP_LOCAL_SUSPENDED),
		         d->aimd.last);
		dest_set_down(
		    d, &(struct smtp_result){.stage = SMTP_STAGE_CONNECT,
		                             .ecode = disposition_local_ecode(SMTP_LOCAL_SUSPENDED),
		                             .text = text,
		                             .flags = SMTP_RESULT_LOCAL,
		                             .local = SMTP_LOCAL_SUSPENDED});
		d->down_until = uv_now(p->loop) + (uint64_t)(left * 1000.0);
		dest_down_queue(d);
	} else if (!p->shutdown) {
		dest_wake(d, 0); /* more room, perhaps: look again from the loop */
	}
	if (p->cbs.throttle) {
		struct pool_dest_info info;
		pool_dest_info(d, &info);
		p->cbs.throttle(p->owner, d, &info);
	}
}

void
pool_dest_wake(struct pool_dest *d, double s)
{
	if (!d->p->shutdown)
		dest_wake(d, s > 0 ? s : 0);
}

void
pool_wake(struct pool *p, double s)
{
	if (p->shutdown)
		return;
	for (struct pool_dest *d = p->dests; d; d = d->next)
		if (d->queued)
			dest_wake(d, s > 0 ? s : 0);
}

void
pool_dest_adopt(struct pool_dest *d, double rate, unsigned conns, double suspend_s, const char *why)
{
	if (!d->limits.adaptive || d->p->shutdown)
		return;
	enum throttle_change ch =
	    throttle_aimd_adopt(&d->aimd, pool_now(d->p), rate, conns, suspend_s, why);
	if (ch == THROTTLE_SAME)
		return;
	d->adopting = true;
	dest_changed(d, ch);
	d->adopting = false;
}

/* dest_feed - one SMTP fact about d for the adaptive throttle */
static void
dest_feed(struct pool_dest *d, const struct smtp_result *r)
{
	if (!d->limits.adaptive || (r->flags & SMTP_RESULT_ABORTED))
		return;
	enum throttle_change ch = throttle_aimd_result(&d->aimd, pool_now(d->p), r);
	if (ch != THROTTLE_SAME)
		dest_changed(d, ch);
}

static struct smtp_job *
on_want_job(struct smtp_session *s, void *owner)
{
	struct conn *c = owner;
	struct pool_dest *d = c->d;
	(void)s;
	if (c->state == C_STARTING) {
		d->starting--;
	} else if (c->state == C_BUSY) {
		d->p->busy--;
		d->busy--;
	}
	if (c->yield) {
		/* Asked to give its slot to a destination that waits for one: it goes idle as
		 * the longest idle (and stays out of its own destination's reach), so the slot
		 * timer closes it for the waiting one. */
		c->state = C_IDLE;
		c->idle_since = 0;
		d->idle++;
		pool_slot_wake(d->p);
		return NULL;
	}
	struct smtp_job *job = dest_next(d);
	if (job) {
		c->state = C_BUSY;
		d->p->busy++;
		d->busy++;
	} else {
		c->state = C_IDLE;
		c->idle_since = uv_now(d->p->loop);
		d->idle++;
		pool_slot_wake(d->p);
	}
	return job;
}

/* conn_requeues - whether a job a session gives back with r goes back to the head of the
 * destination's queue instead of to the owner: the session took it but never sent it
 * (ABORTED; the pool never aborts a session in a transaction), and the pool still takes
 * work. The next session carries it, or it comes back when the destination is down. */
static bool
conn_requeues(const struct conn *c, const struct smtp_result *r)
{
	return (r->flags & SMTP_RESULT_ABORTED) && !c->d->p->shutdown;
}

static void
on_rcpt(struct smtp_session *s, void *owner, struct smtp_job *job, size_t i,
        const struct smtp_result *r)
{
	struct conn *c = owner;
	struct pool_conn_info ci;
	(void)s;
	if (conn_requeues(c, r))
		return; /* not the final fact: the job goes out again */
	conn_info(c, &ci);
	if (c->d->p->cbs.rcpt)
		c->d->p->cbs.rcpt(c->d->p->owner, job, i, r, &ci);
	dest_feed(c->d, r);
}

static void
on_job_done(struct smtp_session *s, void *owner, struct smtp_job *job, const struct smtp_result *r)
{
	struct conn *c = owner;
	struct pool_conn_info ci;
	(void)s;
	if (conn_requeues(c, r)) {
		log_debug("pool dest=%s host=%s requeued: %s", c->d->name, c->addr->host, r->text);
		dest_push_front(c->d, job);
		dest_wake(c->d, 0); /* from the loop: the session is failing under us */
		return;
	}
	conn_info(c, &ci);
	if (r->code >= 200 && r->code < 600 &&
	    !(r->flags & (SMTP_RESULT_CONN_LOST | SMTP_RESULT_TIMEOUT | SMTP_RESULT_ABORTED)))
		c->done++;
	if (c->d->p->cbs.job_done)
		c->d->p->cbs.job_done(c->d->p->owner, job, r, &ci);
}

static void
on_closed(struct smtp_session *s, void *owner, const struct smtp_result *why)
{
	struct conn *c = owner;
	struct pool_dest *d = c->d;
	struct pool *p = d->p;
	(void)s;
	if (c->state == C_STARTING) {
		d->starting--;
	} else if (c->state == C_IDLE) {
		d->idle--;
	} else {
		p->busy--;
		d->busy--;
	}
	d->conns--;
	p->conns--;
	if (c->yield)
		p->yielding--;
	for (struct conn **pp = &p->all; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->leased)
		p->sh.conn_done(d->shared, c->lease);
	bool failed = c->done == 0 && why && (why->code >= 400 || why->flags);
	struct addr *rt = c->addr;
	log_debug("pool dest=%s closed host=%s jobs=%u failed=%d stage=%s code=%d", d->name,
	          rt->host, c->done, failed, why ? smtp_stage_name(why->stage) : "-",
	          why ? why->code : 0);
	free(c);
	if (failed && !(why->flags & SMTP_RESULT_ABORTED)) {
		/* An address whose session served nothing is bad for a while; the next session
		 * tries the next address (MX failover); dest_kick takes the destination down
		 * when no address is left. */
		uint64_t now = uv_now(p->loop);
		rt->bad_until = now + POOL_DOWN_MS;
		dest_set_down(d, why);
		log_info("pool dest=%s host=%s failed: %s %d %s; %s", d->name, rt->host,
		         smtp_stage_name(why->stage), why->code, d->down_text,
		         dest_reachable(d, now) ? "trying the next host" : "no host left");
		dest_feed(d, why);
	}
	if (!p->shutdown)
		dest_kick(d);
	/* Another destination may have waited for a free global slot. */
	pool_kick_starved(p);
}

static const struct smtp_session_cbs pool_session_cbs = {
    .tls = on_tls,
    .tls_failed = on_tls_failed,
    .want_job = on_want_job,
    .rcpt = on_rcpt,
    .job_done = on_job_done,
    .closed = on_closed,
};

/* dest_start - open one more session for d (holding a shared lease when leased) */
static void
dest_start(struct pool_dest *d, struct addr *rt, bool leased, unsigned long long lease)
{
	struct pool *p = d->p;
	struct conn *c = xcalloc(1, sizeof(*c));
	char err[256];
	c->d = d;
	c->addr = rt;
	c->leased = leased;
	c->lease = lease;
	c->state = C_STARTING;
	struct smtp_session_config sc = d->session;
	if (rt->own_tls) {
		sc.tls_policy = rt->tls_policy;
		sc.tlsa = rt->tlsa;
		sc.ntlsa = rt->ntlsa;
		/* DANE sets its own verification per connection on any context; another level
		 * gets a context of its own (the destination's may verify what it must not). */
		if (sc.tls_policy != TLS_POLICY_DANE)
			sc.tls_ctx = NULL;
	}
	c->s = smtp_session_new(p->loop, &sc, &pool_session_cbs, c, err, sizeof(err));
	if (c->s == NULL) {
		/* No session can be made (the TLS settings): down for a while, like a
		 * destination whose every address failed; nothing was sent, nothing counted. */
		log_warn("pool dest=%s cannot start a session: %s", d->name, err);
		if (leased)
			p->sh.conn_done(d->shared, lease);
		free(c);
		dest_set_down(d, &(struct smtp_result){.stage = SMTP_STAGE_CONNECT,
		                                       .ecode = "",
		                                       .text = err,
		                                       .flags = SMTP_RESULT_LOCAL});
		d->down_until = uv_now(p->loop) + POOL_DOWN_MS;
		dest_down_queue(d);
		return;
	}
	c->next = p->all;
	p->all = c;
	d->starved_since = 0;
	d->conns++;
	d->starting++;
	p->conns++;
	p->connects++;
	log_debug("pool dest=%s connect host=%s conns=%u queued=%zu", d->name, rt->host, d->conns,
	          d->queued);
	/* A failure to start reports through on_closed, which does the accounting. */
	smtp_session_connect(c->s, (const struct sockaddr *)&rt->addr, rt->name);
}

/* dest_wants_session - whether d's waiting jobs call for one more session now (limits
 * aside) */
static bool
dest_wants_session(const struct pool_dest *d)
{
	return d->queued > d->starting && d->idle == 0 && d->conns < dest_conns(d) &&
	       d->queued >= (size_t)POOL_SESSION_JOBS * d->conns;
}

/*
 * pool_ask_yield - mark one busy session to give its slot up (conn.yield):
 * of the destination with the most sessions, only when it has more than d,
 * and one at a time, so that slots move toward an even share, not around
 */
static void
pool_ask_yield(struct pool *p, struct pool_dest *d)
{
	if (p->yielding > 0)
		return;
	struct conn *pick = NULL;
	for (struct conn *c = p->all; c; c = c->next)
		if (c->d != d && c->state == C_BUSY && !c->closing && !c->yield &&
		    c->d->conns > d->conns + d->starting &&
		    (pick == NULL || c->d->conns > pick->d->conns))
			pick = c;
	if (pick == NULL)
		return;
	pick->yield = true;
	p->yielding++;
	log_debug("pool dest=%s asks a session of %s to give its slot up", d->name, pick->d->name);
}

/* dest_kick - give idle sessions work, and open sessions while jobs wait and limits allow */
static void
dest_kick(struct pool_dest *d)
{
	struct pool *p = d->p;
	double now_s = pool_now(p);
	if (d->limits.adaptive && throttle_aimd_tick(&d->aimd, now_s) == THROTTLE_RESUMED)
		dest_changed(d, THROTTLE_RESUMED);
	if (dest_suspended(d))
		return;
	/* Idle sessions first, as far as the caps and the tokens allow. */
	for (struct conn *c = p->all; c && d->queued; c = c->next) {
		if (c->d != d || c->state != C_IDLE || c->closing || c->yield)
			continue;
		struct smtp_job *job = dest_next(d);
		if (job == NULL)
			break;
		c->state = C_BUSY;
		d->idle--;
		d->busy++;
		p->busy++;
		smtp_session_submit(c->s, job);
	}
	/* New sessions while jobs wait and no idle one can take them. A rate-limited
	 * destination opens one at a time, and only when a message may go now. */
	uint64_t now = uv_now(p->loop);
	struct addr *rt;
	while (dest_wants_session(d) && p->conns < p->max_conns &&
	       (rt = dest_addr(d, now)) != NULL) {
		if (d->bucket.rate > 0 && d->starting > 0)
			break;
		double t = throttle_bucket_wait(&d->bucket, now_s);
		if (d->bucket.rate > 0 && t > 0) {
			dest_wake(d, t); /* open it when a message may go */
			break;
		}
		double w = throttle_bucket_wait(&d->connect_bucket, now_s);
		if (w > 0) {
			dest_wake(d, w);
			break;
		}
		/* A cap shared across nodes: a lease first (the limiter wakes d when it may). */
		bool leased = d->shared && d->limits.shared_conns;
		unsigned long long lease = 0;
		if (leased && !p->sh.conn_take(d->shared, dest_conns(d), d->conns, &lease))
			break;
		throttle_bucket_take(&d->connect_bucket, now_s);
		dest_start(d, rt, leased, lease);
	}
	if (dest_wants_session(d) && p->conns >= p->max_conns && dest_reachable(d, now) &&
	    !dest_suspended(d)) {
		/* Every global slot is taken: close one session of another destination that
		 * has been idle a while (what Postfix's connection cache does), so that jobs
		 * waiting here are not stuck behind connections nobody uses; its on_closed
		 * kicks us again. A session idle only briefly is likely to get work from its
		 * own destination's next batch: look again a little later instead of
		 * churning connections. */
		struct conn *victim = NULL;
		uint64_t oldest = UINT64_MAX;
		for (struct conn *c = p->all; c; c = c->next)
			if (c->d != d && c->state == C_IDLE && !c->closing &&
			    c->idle_since < oldest) {
				victim = c;
				oldest = c->idle_since;
			}
		/* Either way d waits on the starved list: the close (on_closed), or the slot
		 * timer armed when a session goes idle, looks at it again. */
		if (!d->starved) {
			d->starved = true;
			d->next_starved = p->starved;
			p->starved = d;
		}
		/* A short queue takes a slot from another destination only after waiting a
		 * while: meanwhile longer queues go first and its own queue grows, so that
		 * each new session has more to carry. */
		if (d->starved_since == 0)
			d->starved_since = now;
		uint64_t waited = now - d->starved_since;
		if (d->queued < POOL_STEAL_JOBS && waited < POOL_STARVED_MS) {
			dest_wake(d, (double)(POOL_STARVED_MS - waited) / 1000.0);
		} else if (victim == NULL) {
			/* No session is idle: every slot carries another destination's queue,
			 * which may last long. Ask one busy session of the destination with the
			 * most to give its slot up after its message, so that a waiting
			 * destination gets a slot within about POOL_STARVED_MS. */
			pool_ask_yield(p, d);
		} else if (now - oldest >= POOL_IDLE_STEAL_MS) {
			victim->closing = true;
			log_debug("pool dest=%s closes an idle session of %s for a slot", d->name,
			          victim->d->name);
			smtp_session_close(victim->s);
		} else if (victim) {
			pool_slot_wake(p);
		}
	}
	if (d->queued && d->conns == 0 && !dest_reachable(d, now)) {
		/* No session and no usable address: the destination cannot take mail now. It is
		 * down until its first address may be tried again and its queue is handed back
		 * (the owner retries later), instead of reconnecting in a loop. */
		uint64_t until = UINT64_MAX;
		for (size_t i = 0; i < d->naddrs; i++)
			if (d->addrs[i].bad_until < until)
				until = d->addrs[i].bad_until;
		d->down_until = until;
		log_info("pool dest=%s down for %llu s: %s", d->name,
		         (unsigned long long)((until - now + 999) / 1000), d->down_text);
		dest_down_queue(d);
	}
}

static int
cmp_queued_desc(const void *a, const void *b)
{
	const struct pool_dest *x = *(struct pool_dest *const *)a;
	const struct pool_dest *y = *(struct pool_dest *const *)b;
	return x->queued < y->queued ? 1 : x->queued > y->queued ? -1 : 0;
}

/* pool_kick_starved - look again at every destination waiting for a global slot, the
 * longest queue first, so that the slots freed go where a session has the most to carry
 * (dest_kick puts those still waiting back on the list) */
static void
pool_kick_starved(struct pool *p)
{
	size_t n = 0;
	for (struct pool_dest *d = p->starved; d; d = d->next_starved)
		n++;
	if (n == 0)
		return;
	struct pool_dest **v = xcalloc(n, sizeof(*v));
	n = 0;
	for (struct pool_dest *d = p->starved; d; d = d->next_starved)
		v[n++] = d;
	p->starved = NULL;
	for (size_t i = 0; i < n; i++) {
		v[i]->starved = false;
		v[i]->next_starved = NULL;
	}
	qsort(v, n, sizeof(*v), cmp_queued_desc);
	for (size_t i = 0; i < n && !p->shutdown; i++)
		if (v[i]->queued)
			dest_kick(v[i]);
	free(v);
}

static void
on_slot_timer(uv_timer_t *t)
{
	struct pool *p = t->data;
	pool_kick_starved(p);
	/* A session that gave its slot up and that no waiting destination took (it found
	 * one elsewhere meanwhile) goes back to its own destination's work. */
	for (struct conn *c = p->all; c && p->yielding; c = c->next) {
		if (!c->yield || c->state != C_IDLE || c->closing)
			continue;
		c->yield = false;
		p->yielding--;
		if (!p->shutdown)
			dest_kick(c->d);
	}
}

/* pool_slot_wake - a session went idle: when destinations wait for a slot, give them one
 * once the session has been idle POOL_IDLE_STEAL_MS (its own destination may have more
 * work by then) */
static void
pool_slot_wake(struct pool *p)
{
	if ((p->starved || p->yielding) && !p->shutdown &&
	    !uv_is_active((uv_handle_t *)&p->slot_timer))
		uv_timer_start(&p->slot_timer, on_slot_timer, POOL_IDLE_STEAL_MS + 1, 0);
}

void
pool_dest_set_limits(struct pool_dest *d, const struct pool_limits *l)
{
	double now = pool_now(d->p);
	d->limits = *l;
	if (d->limits.max_conns == 0)
		d->limits.max_conns = 1;
	throttle_aimd_set_ceiling(&d->aimd, d->limits.rate, d->limits.max_conns);
	double r = d->limits.adaptive ? d->aimd.rate : d->limits.rate;
	throttle_bucket_set_rate(&d->bucket, r, pool_burst(r), now);
	throttle_bucket_set_rate(&d->connect_bucket, d->limits.connect_rate, 0, now);
	if (!d->p->shutdown)
		dest_wake(d, 0);
}

void
pool_dest_info(const struct pool_dest *d, struct pool_dest_info *out)
{
	double now = pool_now(d->p);
	memset(out, 0, sizeof(*out));
	out->name = d->name;
	out->source = d->source;
	out->conns = d->conns;
	out->busy = d->busy;
	out->queued = d->queued;
	out->limits = d->limits;
	out->rate_now = d->bucket.rate;
	out->conns_now = dest_conns(d);
	out->suspended_s = d->limits.adaptive ? throttle_aimd_suspended(&d->aimd, now) : 0;
	out->sent = d->sent;
	out->slowdowns = d->aimd.slowdowns;
	out->suspensions = d->aimd.suspensions;
	out->note = d->aimd.last;
	out->change = d->change;
}

double
pool_dest_retry_in(const struct pool_dest *d)
{
	uint64_t now = uv_now(d->p->loop);
	double down = d->down_until > now ? (double)(d->down_until - now) / 1000.0 : 0;
	double susp = d->limits.adaptive ? throttle_aimd_suspended(&d->aimd, pool_now(d->p)) : 0;
	return down > susp ? down : susp;
}

void
pool_submit(struct pool_dest *d, struct smtp_job *job)
{
	if (d->p->shutdown) {
		struct smtp_result r = {.stage = SMTP_STAGE_CONNECT,
		                        .ecode = "",
		                        .text = "shutting down",
		                        .flags = SMTP_RESULT_ABORTED};
		fail_job(d, job, &r);
		return;
	}
	if (d->down_until && uv_now(d->p->loop) < d->down_until) {
		dest_fail_down(d, job);
		return;
	}
	struct qnode *q = xmalloc(sizeof(*q));
	q->job = job;
	q->next = NULL;
	if (d->tail)
		d->tail->next = q;
	else
		d->head = q;
	d->tail = q;
	d->queued++;
	dest_kick(d);
}

void
pool_hand_back(struct pool *p, bool (*match)(const struct smtp_job *job, void *arg), void *arg)
{
	/* Unlink every match first: handing one back calls the owner, who may submit more. */
	struct back {
		struct pool_dest *d;
		struct smtp_job *job;
	} *back = NULL;
	size_t n = 0, cap = 0;
	for (struct pool_dest *d = p->dests; d; d = d->next) {
		struct qnode **pp = &d->head;
		d->tail = NULL;
		while (*pp) {
			struct qnode *q = *pp;
			if (!match(q->job, arg)) {
				d->tail = q;
				pp = &q->next;
				continue;
			}
			*pp = q->next;
			d->queued--;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				back = xrealloc(back, cap * sizeof(*back));
			}
			back[n++] = (struct back){d, q->job};
			free(q);
		}
	}
	struct smtp_result r = {.stage = SMTP_STAGE_CONNECT,
	                        .ecode = "",
	                        .text = "handed back",
	                        .flags = SMTP_RESULT_ABORTED};
	for (size_t i = 0; i < n; i++)
		fail_job(back[i].d, back[i].job, &r);
	free(back);
}

void
pool_stats(const struct pool *p, struct pool_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->connections = p->conns;
	st->busy = p->busy;
	st->connects = p->connects;
	for (const struct pool_dest *d = p->dests; d; d = d->next)
		st->queued += d->queued;
}

void
pool_shutdown(struct pool *p)
{
	struct smtp_result r = {.stage = SMTP_STAGE_CONNECT,
	                        .ecode = "",
	                        .text = "shutting down",
	                        .flags = SMTP_RESULT_ABORTED};
	p->shutdown = true;
	if (!uv_is_closing((uv_handle_t *)&p->slot_timer))
		uv_close((uv_handle_t *)&p->slot_timer, NULL);
	for (struct pool_dest *d = p->dests; d; d = d->next) {
		dest_fail_queue(d, &r);
		if (!uv_is_closing((uv_handle_t *)&d->timer))
			uv_close((uv_handle_t *)&d->timer, NULL);
	}
	/* Closing may call back into the pool and unlink c: walk a snapshot. */
	size_t n = 0;
	for (struct conn *c = p->all; c; c = c->next)
		n++;
	struct smtp_session **ss = xcalloc(n ? n : 1, sizeof(*ss));
	size_t k = 0;
	for (struct conn *c = p->all; c; c = c->next)
		ss[k++] = c->s;
	for (size_t i = 0; i < k; i++)
		smtp_session_close(ss[i]);
	free(ss);
}

void
pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	if (p->global_shared)
		p->sh.detach(p->global_shared);
	struct pool_dest *d = p->dests;
	while (d) {
		struct pool_dest *next = d->next;
		struct smtp_job *job;
		while ((job = dest_pop(d)) != NULL)
			; /* nothing should be left once the loop has run out */
		dest_free(d);
		d = next;
	}
	free(p);
}
