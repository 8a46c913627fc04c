/*
 * sender - a campaign's due messages → the pool → outcomes in SQLite (see sender.h).
 * This file is the loop thread's part; sender_batch.c is the worker's, sender_route.c
 * the routing (sender_int.h says who owns what).
 */
#include "kirim/sender.h"

#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "kirim/bounce_class.h"
#include "kirim/clock.h"
#include "kirim/cluster.h"
#include "kirim/composer.h"
#include "kirim/config.h"
#include "kirim/dkim.h"
#include "kirim/lease.h"
#include "kirim/log.h"
#include "kirim/redis_limit.h"
#include "kirim/store_sender.h"
#include "kirim/smtp_url.h"
#include "kirim/store_lifecycle.h"
#include "kirim/store_policy.h"
#include "kirim/store_serve.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"
#include "sender_int.h"

/* What a message withdrawn between claim and wire records as its last text. */
#define WITHDRAWN_TEXT "suppressed after the message was claimed: not sent"

/* scamp_active - whether c may take new work */
static bool
scamp_active(const struct scamp *c)
{
	return !c->exhausted && !c->paused && !c->held[0];
}

void
sresult_clear(struct sresult *r)
{
	free(r->ecode);
	free(r->text);
	free(r->host);
	free(r->tls);
	free(r->dest);
	free(r->rcpt);
	free(r->domain);
	free(r->rcpt_domain);
	memset(r, 0, sizeof(*r));
}

void
sjob_free(struct sjob *j)
{
	if (j == NULL)
		return;
	sresult_clear(&j->res);
	buf_free(&j->data);
	free(j->compose_err);
	free(j->attrs);
	free(j->rcpt);
	free(j->domain);
	free(j);
}

void
sdstate_clear(struct sdstate *x)
{
	free(x->name);
	free(x->domain);
	free(x->change);
	free(x->note);
}

void
batch_facts_clear(struct batch *b)
{
	for (size_t i = 0; i < b->nres; i++)
		sresult_clear(&b->res[i]);
	b->nres = 0;
	for (size_t i = 0; i < b->ndstates; i++)
		sdstate_clear(&b->dstates[i]);
	b->ndstates = 0;
	stls_out_clear(&b->tls);
	for (size_t i = 0; i < b->ndelivered; i++)
		free(b->delivered[i]);
	b->ndelivered = 0;
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	batch_facts_clear(b);
	free(b->res);
	free(b->dstates);
	free(b->delivered);
	free(b->camps);
	for (size_t i = 0; i < b->njobs; i++)
		sjob_free(b->jobs[i]);
	free(b->jobs);
	for (size_t i = 0; i < b->ngone; i++)
		free(b->gone[i]);
	free(b->gone);
	free(b->rows);
	buf_free(&b->proofs);
	free(b);
}

static void sender_pump(struct sender *S);

/* sjob_of - whether job is one of campaign arg's (pool_hand_back) */
static bool
sjob_of(const struct smtp_job *job, void *arg)
{
	const struct sjob *j = job->user;
	return j->c == arg;
}

/* ---- batches: made here, run on the worker, taken back here ------------------------------ */

static void
sender_work(uv_work_t *w)
{
	struct sender *S = w->data;
	/* The worker's side: the batch and the worker's own state, nothing else of S. */
	sender_batch_run(&S->worker, S->batch);
}

/*
 * sender_keep_batch - the batch could not be written (a busy database): its
 * outcomes, throttle changes and delivered domains go back to wait for the
 * next try, which comes after SENDER_BUSY_RETRY_MS
 */
static void
sender_keep_batch(struct sender *S, struct batch *b)
{
	double now = clock_seconds();
	if (S->busy_since == 0) {
		S->busy_since = now;
		log_warn("database busy (another process holds its write lock past the busy "
		         "timeout): keeping %zu outcomes in memory and trying again; nothing new "
		         "is claimed meanwhile",
		         b->nres);
	} else if ((long)(now - S->busy_since) / 30 != (long)(S->retry_at - S->busy_since) / 30) {
		log_warn("database still busy after %.0f s: %zu outcomes waiting in memory",
		         now - S->busy_since, b->nres + S->npending);
	}
	S->retry_at = now + SENDER_BUSY_RETRY_MS / 1000.0;
	size_t n = b->nres + S->npending;
	if (n > S->cappending) {
		S->cappending = n;
		S->pending = xrealloc(S->pending, n * sizeof(*S->pending));
	}
	if (b->nres) {
		memmove(S->pending + b->nres, S->pending, S->npending * sizeof(*S->pending));
		memcpy(S->pending, b->res, b->nres * sizeof(*S->pending));
	}
	S->npending = n;
	b->nres = 0;
	S->dstates = xrealloc(S->dstates, (S->ndstates + b->ndstates) * sizeof(*S->dstates) + 1);
	if (b->ndstates)
		memcpy(S->dstates + S->ndstates, b->dstates, b->ndstates * sizeof(*S->dstates));
	S->ndstates += b->ndstates;
	b->ndstates = 0;
	stls_out_move(&S->tls_out, &b->tls);
	for (size_t i = 0; i < b->ndelivered; i++)
		strmap_put(&S->delivered, b->delivered[i], (void *)1);
}

/* more_due - n more messages of c are due in this run: counted in its figure *mine and the
 * run's *all (the same one when the run sends c alone) */
static void
more_due(struct sender *S, struct scamp *c, int64_t n, int64_t *mine, int64_t *all)
{
	c->due += (uint64_t)n;
	S->due += (uint64_t)n;
	*mine += n;
	if (all != mine)
		*all += n;
}

/* sender_take_camps - what the batch says of each campaign */
static void
sender_take_camps(struct sender *S, struct batch *b)
{
	for (size_t i = 0; i < b->ncamps; i++) {
		struct batch_camp *bc = &b->camps[i];
		struct scamp *c = &S->camps[i];
		if (bc->withdrawn) {
			S->st->suppressed += (uint64_t)bc->withdrawn;
			if (c->st != S->st)
				c->st->suppressed += (uint64_t)bc->withdrawn;
			log_info("campaign=%s withdrawn=%d note=\"suppressed since they were "
			         "queued: not sent\"",
			         c->camp.name, bc->withdrawn);
		}
		if (bc->paused_now) {
			c->paused = true;
			snprintf(c->pause_why, sizeof(c->pause_why), "%s", bc->pause_why);
		}
		if (bc->held[0] && !c->held[0]) {
			snprintf(c->held, sizeof(c->held), "%s", bc->held);
			snprintf(c->pause_why, sizeof(c->pause_why), "%s", bc->held_why);
		}
		if (c->held[0] && !c->stopped) {
			log_warn("campaign=%s %s by another process: finishing what is in flight "
			         "reason=\"%s\"",
			         c->camp.name, c->held, c->pause_why);
			c->st->paused = 1;
			c->paused = true;
			/* What it has claimed and not started goes back untouched, like a Ctrl-C
			 * (the other campaigns go on). */
			c->stopped = true;
			pool_hand_back(S->pool, sjob_of, c);
		}
		if (c->paused && !c->st->paused) {
			log_warn("campaign=%s paused reason=\"%s\"", c->camp.name, c->pause_why);
			c->st->paused = 1;
		}
		if (bc->recovered) {
			/* A dead sender's claims, queued again (the worker logged them): this run
			 * may take them. */
			more_due(S, c, bc->recovered, &c->st->recovered, &S->st->recovered);
			c->exhausted = false;
		}
		/* The walk made more of its messages: they are due in this run too. */
		more_due(S, c, bc->made, &c->st->created, &S->st->created);
		c->walking = bc->walking;
		if (bc->want > 0 && bc->claimed < bc->want && !bc->walking)
			c->exhausted = true; /* nothing more is due in this run */
	}
}

static void
sender_work_done(uv_work_t *w, int status)
{
	struct sender *S = w->data;
	struct batch *b = S->batch;
	(void)status;
	/*
	 * S->batch stays set until the end: pool_hand_back and pool_shutdown below
	 * hand jobs straight back, and a callback's sender_pump must not start the
	 * next batch before this one is taken apart.
	 */
	if (b->busy) {
		sender_keep_batch(S, b);
	} else if (S->busy_since) {
		log_info("database free again after %.1f s: the outcomes kept meanwhile are "
		         "written",
		         clock_seconds() - S->busy_since);
		S->busy_since = 0;
	}
	if (b->renewed)
		S->renewed = clock_seconds();
	if (b->proofs.len) {
		size_t n = strlen(S->st->tests);
		snprintf(S->st->tests + n, sizeof(S->st->tests) - n, "%s", b->proofs.data);
	}
	for (size_t i = 0; i < b->ngone; i++)
		strmap_put(&S->gone, b->gone[i], (void *)1);
	if (b->policies_changed) {
		free(S->rows);
		S->rows = b->rows;
		S->nrows = b->nrows;
		b->rows = NULL;
		log_info("domain policies changed: applying them");
		sender_apply_policies(S);
	}
	if (b->fail && !S->fail) {
		S->fail = b->fail;
		snprintf(S->err, sizeof(S->err), "%s", b->err);
	}
	if (S->fail)
		S->draining = true;
	sender_take_camps(S, b);
	bool active = false;
	for (size_t i = 0; i < S->ncamps; i++)
		active = active || scamp_active(&S->camps[i]);
	if (!active || (S->o->ntest && S->worker.tested && !b->busy))
		S->draining = true;
	if (b->yield && !S->stopping) {
		/* The turn ends early: queued jobs come back unattempted, sessions finish. */
		log_info("a scheduled campaign is due: ending the turn to start it");
		S->stopping = true;
		S->draining = true;
		pool_shutdown(S->pool);
	}
	/* After a stop the pool hands these straight back, unattempted. */
	struct sjob **jobs = b->jobs;
	size_t njobs = b->njobs, bytes = 0;
	b->jobs = NULL;
	b->njobs = 0;
	for (size_t i = 0; i < njobs; i++)
		bytes += jobs[i]->job.len;
	if (njobs)
		S->avg_bytes = bytes / njobs + 1;
	S->inflight += njobs;
	S->inflight_bytes += bytes;
	for (size_t i = 0; i < njobs; i++)
		sender_route(S, jobs[i]);
	free(jobs);
	batch_free(b);
	S->batch = NULL;
	sender_pump(S);
}

static void
sender_finish(struct sender *S)
{
	if (S->finished)
		return;
	S->finished = true;
	if (!S->stopping)
		pool_shutdown(S->pool); /* closes the idle sessions */
	redis_limit_close(S->rl);
	if (S->dns) {
		struct dns_stats ds;
		dns_stats(S->dns, &ds);
		S->st->dns_queries = ds.queries_sent;
		dns_free(S->dns); /* nothing is pending: every job came back */
		S->dns = NULL;
	}
	uv_timer_stop(&S->tick);
	uv_close((uv_handle_t *)&S->tick, NULL);
}

/* sender_pump - start a batch when there is something to write or room to claim */
static void
sender_pump(struct sender *S)
{
	if (S->batch || S->finished)
		return;
	double now = clock_seconds();
	if (S->busy_since && now < S->retry_at)
		return; /* the database was busy: the tick tries again */
	bool room = !S->draining && S->inflight + S->o->batch / 2 <= S->window &&
	            S->inflight_bytes < S->max_bytes / 2;
	bool facts = S->npending || S->ndstates || !stls_out_empty(&S->tls_out);
	bool flush = S->npending >= S->o->batch || (facts && (S->draining || room));
	/* A batch now and then even with nothing to write: to look for new suppressions
	 * while jobs wait for the wire, and to renew the lease. */
	bool ending = S->draining && S->inflight == 0 && !facts;
	bool watch = S->o->ntest == 0 && now - S->watched >= SENDER_WATCH_MS / 1000.0;
	bool renew = S->o->ntest == 0 && S->me && now - S->renewed >= S->renew_s;
	if (!room && !flush && (ending || !((watch && S->inflight > 0) || renew))) {
		if (ending)
			sender_finish(S);
		return;
	}
	struct batch *b = xcalloc(1, sizeof(*b));
	b->res = S->pending;
	b->nres = S->npending;
	S->pending = NULL;
	S->npending = S->cappending = 0;
	b->dstates = S->dstates;
	b->ndstates = S->ndstates;
	S->dstates = NULL;
	S->ndstates = 0;
	stls_out_move(&b->tls, &S->tls_out);
	if (S->delivered.len) {
		b->delivered = xcalloc(S->delivered.len, sizeof(*b->delivered));
		for (size_t i = 0; i < S->delivered.cap; i++)
			if (S->delivered.slots[i].key)
				b->delivered[b->ndelivered++] = xstrdup(S->delivered.slots[i].key);
		strmap_free(&S->delivered);
	}
	/* The periodic looks: this batch does them (on a busy database the next try does). */
	b->watch = watch;
	if (b->watch)
		S->watched = now;
	b->renew = renew;
	b->check = S->o->ntest == 0 && now - S->checked >= SENDER_STATE_CHECK_S;
	if (b->check)
		S->checked = now;
	b->policies = now - S->policy_checked >= SENDER_POLICY_CHECK_S;
	if (b->policies)
		S->policy_checked = now;
	if (room) {
		size_t free_slots = S->window - S->inflight;
		if (S->avg_bytes) {
			size_t by_bytes = (S->max_bytes - S->inflight_bytes) / S->avg_bytes;
			if (by_bytes < free_slots)
				free_slots = by_bytes ? by_bytes : 1;
		}
		b->want = (int)(free_slots < S->o->batch ? free_slots : S->o->batch);
	}
	b->turn = S->turn++;
	b->ncamps = S->ncamps;
	b->camps = xcalloc(S->ncamps, sizeof(*b->camps));
	for (size_t i = 0; i < S->ncamps; i++) {
		struct scamp *c = &S->camps[i];
		b->camps[i] = (struct batch_camp){
		    .c = c,
		    .w = &c->w,
		    .totals = c->totals,
		    .active = scamp_active(c),
		    .paused = c->paused,
		    .cancelled = strcmp(c->held, "cancelled") == 0,
		};
	}
	S->batch = b;
	S->work.data = S;
	uv_queue_work(&S->loop, &S->work, sender_work, sender_work_done);
}

void
sender_job_fact(struct sender *S, struct sjob *j, const struct smtp_result *r,
                const struct pool_conn_info *ci)
{
	(void)S;
	/* The loop's view, for its running figures and the auto-pause totals; the worker
	 * decides what becomes of the message (disposition.h) with all it knows. */
	struct disp_class dc = disposition_classify(r);
	j->res.c = j->c;
	j->res.message_id = j->message_id;
	j->res.outcome = dc.outcome;
	j->res.cls = dc.cls;
	j->res.attempted = !(r->flags & SMTP_RESULT_ABORTED);
	j->res.withdrawn = j->gone;
	if (!j->res.attempted && !j->gone && j->pd) {
		/* Handed back unsent (its destination is down or suspended): not offered again
		 * before the destination takes jobs again. */
		double in = pool_dest_retry_in(j->pd);
		j->res.not_before = in > 0 ? (int64_t)time(NULL) + (int64_t)(in + 0.999) : 0;
	}
	j->res.attempts = j->attempts;
	j->res.queued_at = j->queued_at;
	j->res.rcpt_domain = xstrdup(j->domain ? j->domain : "");
	j->res.stage = r->stage;
	j->res.code = r->code;
	j->res.flags = r->flags;
	j->res.local = r->local;
	j->res.ecode = xstrdup(r->ecode ? r->ecode : "");
	j->res.text = xstrdup(j->gone ? WITHDRAWN_TEXT : r->text ? r->text : "");
	j->res.host = xstrdup(ci->host ? ci->host : "");
	j->res.tls = xstrdup(ci->tls ? ci->tls : "");
	j->res.dest = ci->dest && *ci->dest ? xstrdup(ci->dest) : NULL;
	/* Borrowed from the pool's destination, which lives until pool_free, after the loop
	 * has run out and every result has been written (pool.h: pool_conn_info). */
	j->res.source = ci->source && *ci->source ? ci->source : NULL;
	j->res.helo = ci->helo && *ci->helo ? ci->helo : NULL;
	free(j->res.rcpt);
	j->res.rcpt = j->message_id < 0 ? xstrdup(j->rcpt) : NULL;
}

static void
on_rcpt(void *owner, struct smtp_job *job, size_t i, const struct smtp_result *r,
        const struct pool_conn_info *ci)
{
	(void)i;
	sender_job_fact(owner, job->user, r, ci);
}

/* stats_count - one job's outcome in st */
static void
stats_count(struct sender_stats *st, const struct sresult *r)
{
	if (r->withdrawn) {
		st->suppressed++;
		return;
	}
	if (!r->attempted) {
		st->handed_back++;
		return;
	}
	/* A no-such-domain answer waits for confirmation (disposition.h): a deferral here;
	 * the database says when it bounces. */
	bool dns_wait = r->domain != NULL;
	st->attempted++;
	st->delivered += r->outcome == OUTCOME_DELIVERED;
	st->deferred += r->outcome == OUTCOME_DEFERRED || dns_wait;
	st->bounced += r->outcome == OUTCOME_BOUNCED && !dns_wait;
	st->failed += r->outcome == OUTCOME_FAILED;
}

/* stats_reason - r, not delivered, counted under its reason (a destination's down time
 * left out, so that one outage is one reason) */
static void
stats_reason(struct sender_stats *st, const struct sresult *r)
{
	char text[200];
	const char *t = r->text ? r->text : "";
	const char *until = strstr(t, " down until "), *after = strstr(t, " s): ");
	if (!r->attempted && until && after && after > until)
		snprintf(text, sizeof(text), "%.*s down: %s", (int)(until - t), t, after + 5);
	else
		snprintf(text, sizeof(text), "%s", t);
	size_t i;
	for (i = 0; i < st->nreasons; i++) {
		struct sender_reason *x = &st->reasons[i];
		if (x->code == r->code && x->sent == r->attempted &&
		    strcmp(x->ecode, r->ecode ? r->ecode : "") == 0 && strcmp(x->text, text) == 0)
			break;
	}
	if (i == st->nreasons) {
		if (st->nreasons == SENDER_REASONS) {
			i = SENDER_REASONS - 1;
			snprintf(st->reasons[i].text, sizeof(st->reasons[i].text), "other reasons");
			st->reasons[i].code = 0;
			st->reasons[i].ecode[0] = '\0';
		} else {
			struct sender_reason *x = &st->reasons[st->nreasons++];
			x->code = r->code;
			x->sent = r->attempted;
			snprintf(x->ecode, sizeof(x->ecode), "%s", r->ecode ? r->ecode : "");
			snprintf(x->text, sizeof(x->text), "%s", text);
		}
	}
	st->reasons[i].count++;
	/* Most first: one step up keeps the order (counts grow by one). */
	while (i > 0 && i < SENDER_REASONS - 1 && st->reasons[i].count > st->reasons[i - 1].count) {
		struct sender_reason tmp = st->reasons[i - 1];
		st->reasons[i - 1] = st->reasons[i];
		st->reasons[i] = tmp;
		i--;
	}
}

void
sender_job_done(struct sender *S, struct sjob *j)
{
	struct scamp *c = j->c;
	struct sender_stats *st = S->st, *cst = c->st;
	S->inflight--;
	S->inflight_bytes -= j->job.len; /* data's memory may be the session's now */
	j->res.c = c;
	sender_warmup_done(S, j);
	stats_count(st, &j->res);
	if (cst != st)
		stats_count(cst, &j->res); /* the campaign's own, one of several */
	if (S->dns && j->res.attempted && j->res.outcome == OUTCOME_DELIVERED && j->domain[0])
		strmap_put(&S->delivered, j->domain, (void *)1);
	if (j->res.attempted) {
		c->totals.attempts++;
		c->totals.delivered += j->res.outcome == OUTCOME_DELIVERED;
		c->totals.hard += j->res.outcome == OUTCOME_BOUNCED && j->res.cls == BOUNCE_HARD &&
		                  j->res.domain == NULL;
		if (j->res.outcome != OUTCOME_DELIVERED)
			log_info(
			    "msg=%lld rcpt=%s result=%s stage=%s code=%d ecode=%s text=\"%.200s\"",
			    (long long)j->message_id, j->rcpt, smtp_outcome_name(j->res.outcome),
			    smtp_stage_name(j->res.stage), j->res.code, j->res.ecode, j->res.text);
		else if (!S->o->no_delivery_log)
			/* One line per delivery, as Postfix's status=sent. */
			log_info("msg=%lld rcpt=%s result=delivered dest=%s host=%s tls=%s code=%d "
			         "text=\"%.200s\"",
			         (long long)j->message_id, j->rcpt, j->res.dest ? j->res.dest : "-",
			         j->res.host && *j->res.host ? j->res.host : "-",
			         j->res.tls && *j->res.tls ? "yes" : "no", j->res.code,
			         j->res.text);
	}
	if (!j->res.withdrawn && j->message_id > 0 &&
	    (j->res.attempted ? j->res.outcome != OUTCOME_DELIVERED : j->res.not_before != 0)) {
		stats_reason(st, &j->res);
		if (cst != st)
			stats_reason(cst, &j->res);
	}
	if (S->npending == S->cappending) {
		S->cappending = S->cappending ? S->cappending * 2 : 256;
		S->pending = xrealloc(S->pending, S->cappending * sizeof(*S->pending));
	}
	S->pending[S->npending++] = j->res;
	memset(&j->res, 0, sizeof(j->res)); /* the strings now belong to pending */
	sjob_free(j);
	sender_pump(S);
}

static void
on_job_done(void *owner, struct smtp_job *job, const struct smtp_result *r,
            const struct pool_conn_info *ci)
{
	(void)r;
	(void)ci;
	sender_job_done(owner, job->user);
}

/* sender_give_back - j comes back unattempted: to the queue, due again at not_before, or
 * withdrawn (suppressed meanwhile) */
static void
sender_give_back(struct sender *S, struct sjob *j, int64_t not_before, const char *why,
                 bool withdrawn)
{
	sresult_clear(&j->res);
	j->res.c = j->c;
	j->res.message_id = j->message_id;
	j->res.attempts = j->attempts;
	j->res.queued_at = j->queued_at;
	j->res.rcpt_domain = xstrdup(j->domain ? j->domain : "");
	j->res.not_before = not_before;
	j->res.withdrawn = withdrawn;
	j->res.text = xstrdup(why);
	sender_job_done(S, j);
}

/* sender_hand_back - j goes back to the queue unattempted, due again at not_before */
void
sender_hand_back(struct sender *S, struct sjob *j, int64_t not_before, const char *why)
{
	sender_give_back(S, j, not_before, why, false);
}

void
sender_withdraw(struct sender *S, struct sjob *j)
{
	sender_give_back(S, j, 0, WITHDRAWN_TEXT, true);
}

/* on_throttle - the adaptive throttle changed a destination: save it with the next batch */
static void
on_throttle(void *owner, struct pool_dest *d, const struct pool_dest_info *info)
{
	struct sender *S = owner;
	(void)d;
	S->dstates = xrealloc(S->dstates, (S->ndstates + 1) * sizeof(*S->dstates));
	struct sdstate *x = &S->dstates[S->ndstates++];
	/* Each source address of a destination has a throttle of its own. */
	if (info->source && info->source[0]) {
		struct buf name = BUF_INIT;
		buf_printf(&name, "%s from %s", info->name, info->source);
		x->name = name.data;
	} else {
		x->name = xstrdup(info->name);
	}
	x->domain = xstrdup(sender_dest_domain(S, info->name));
	x->change = xstrdup(info->change);
	x->note = xstrdup(info->note);
	x->d = (struct store_dest_state){
	    .name = x->name,
	    .domain = x->domain,
	    .rate = info->rate_now,
	    .connections = (int)info->conns_now,
	    .suspended_until = info->suspended_s > 0
	                           ? (int64_t)time(NULL) + (int64_t)(info->suspended_s + 0.5)
	                           : 0,
	    .slowdowns = (int64_t)info->slowdowns,
	    .suspensions = (int64_t)info->suspensions,
	    .change = x->change,
	    .note = x->note,
	    .updated_at = (int64_t)time(NULL),
	};
}

/* Today's attempts per destination and source address (sender_int.h: sent_today). */
static int
sender_count_today(void *arg, const char *dest, const char *source, int64_t count)
{
	if (source == NULL) {
		strmap_put(arg, dest, (void *)(intptr_t)count);
		return 0;
	}
	struct buf key = BUF_INIT;
	buf_printf(&key, "%s %s", dest, source);
	strmap_put(arg, key.data, (void *)(intptr_t)count);
	buf_free(&key);
	return 0;
}

static void
sender_report(struct sender *S)
{
	if (S->o->progress == NULL)
		return;
	struct pool_stats ps;
	pool_stats(S->pool, &ps);
	struct sender_progress p = {
	    .attempted = S->st->attempted,
	    .delivered = S->st->delivered,
	    .deferred = S->st->deferred,
	    .bounced = S->st->bounced,
	    .failed = S->st->failed,
	    .due = S->due,
	    .connections = ps.connections,
	    .elapsed = clock_seconds() - S->t0,
	};
	for (size_t i = 0; i < S->ncamps; i++)
		p.queueing |= S->camps[i].walking;
	S->o->progress(S->o->progress_arg, &p);
}

static void
on_tick(uv_timer_t *t)
{
	struct sender *S = t->data;
	bool turn_over = S->o->turn_s > 0 && clock_seconds() - S->t0 > S->o->turn_s;
	if (((S->o->stop && *S->o->stop) || turn_over) && !S->stopping) {
		log_info("campaign=%s %s: finishing what is in flight",
		         S->ncamps == 1 ? S->camps[0].camp.name : "*",
		         turn_over ? "turn over" : "stopping");
		S->stopping = true;
		S->draining = true;
		S->st->stopped = !turn_over;
		/* Queued jobs come back unattempted; sessions finish their job and QUIT. */
		pool_shutdown(S->pool);
	}
	if (S->rl)
		sender_warmup_retry(S);
	sender_report(S);
	sender_pump(S);
}

/*
 * sender_shared_limits - with a Redis (--redis, $KIRIM_REDIS, else [redis] url; "none": none),
 * destinations' limits are shared by every node through it (docs/scale-out.md); without,
 * each sender throttles alone. The fallback's N before Redis is reached: the senders
 * registered now (this one included), unless [redis] nodes says.
 */
static int
sender_shared_limits(struct sender *S, struct store *s, const struct config *cfg, char *err,
                     size_t errsz)
{
	const char *url = cluster_redis_url(S->o->redis_url, cfg, NULL);
	if (url == NULL) {
		log_info("throttles local to this sender (no Redis configured)");
		return 0;
	}
	struct redis_limit_config rc = {.nodes = cfg->redis_nodes};
	const char *why;
	if (redis_url_parse(url, &rc.url, &why) < 0) {
		snprintf(err, errsz, "Redis URL '%.200s': %s", url, why);
		return -1;
	}
	snprintf(rc.prefix, sizeof(rc.prefix), "%s", cfg->redis_prefix);
	int64_t n = 1;
	if (S->me && store_sender_count(s, &n) < 0)
		n = 1;
	rc.start_nodes = n > 0 ? (unsigned)n : 1;
	S->rl = redis_limit_new(&S->loop, &rc);
	struct pool_shared sh;
	redis_limit_shared(S->rl, &sh);
	pool_set_shared(S->pool, &sh);
	return 0;
}

/* sender_resolve - the relay's first address (a blocking look-up, once per run) */
static int
sender_resolve(const struct smtp_url *u, struct sockaddr_storage *out, char *err, size_t errsz)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", u->port);
	int rc = getaddrinfo(u->host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, errsz, "cannot resolve the relay %s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/*
 * sender_check_helo - direct delivery needs an EHLO name that is a fully
 * qualified domain: receivers check it (and its DNS) and refuse or score down
 * "localhost", bare host names and local-only names.
 */
static int
sender_check_helo(const char *helo, char *err, size_t errsz)
{
	const char *why = NULL;
	size_t n = strlen(helo);
	const char *tld = strrchr(helo, '.');
	if (n == 0)
		why = "is not set";
	else if (helo[0] == '[')
		why = "is an address literal";
	else if (tld == NULL)
		why = "is not fully qualified (no dot)";
	else if (strspn(tld + 1, "0123456789") == strlen(tld + 1))
		why = "does not end in a top-level domain";
	else if (strcmp(tld, ".localhost") == 0 || strcmp(tld, ".local") == 0 ||
	         strcmp(tld, ".localdomain") == 0 || strcmp(tld, ".internal") == 0)
		why = "is a local-only name";
	if (why == NULL)
		return 0;
	snprintf(err, errsz,
	         "ehlo '%s' %s: direct delivery needs [sender] ehlo in kirim.conf to be this "
	         "host's fully qualified domain name (as its address's PTR record says, e.g. "
	         "mail.example.com); or send through a relay with --relay URL",
	         helo, why);
	return -1;
}

static void
sender_walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* scamp_clear - free what scamp_open made (c may be partly made) */
static void
scamp_clear(struct scamp *c)
{
	strmap_free_values(&c->zones, free);
	for (size_t t = 0; c->w.ntthreads && t + 1 < c->w.ntthreads; t++)
		composer_free(c->w.tcomposers[t]);
	free(c->w.tcomposers);
	for (size_t i = 0; c->w.ntthreads && i < (c->w.ntthreads - 1) * c->w.cc.n_signers; i++)
		dkim_signer_free(c->w.tsigners[i]);
	free(c->w.tsigners);
	campaign_composer_free(&c->w.cc);
	store_campaign_clear(&c->camp);
}

/*
 * sender_signing_threads - with a campaign that signs, and more than one worker thread
 * (sender_opts.workers; 0: one per core), the composing (rendering, signing, the wire form)
 * goes to a pool of threads, each with a composer of its own (sender_batch.c)
 */
static void
sender_signing_threads(struct sender *S)
{
	unsigned n = S->o->workers ? S->o->workers : par_cores();
	bool signs = false;
	for (size_t i = 0; i < S->ncamps; i++)
		signs |= S->camps[i].w.cc.n_signers > 0;
	if (!signs || n <= 1 || (S->worker.par = par_new(n)) == NULL)
		return;
	S->worker.scratch = xcalloc(par_threads(S->worker.par), sizeof(*S->worker.scratch));
	log_info("dkim compose_threads=%u", par_threads(S->worker.par));
}

/* scamp_open - campaign name as c, with what is due queued; a SENDER_E_ code with err */
static int
scamp_open(struct sender *S, const struct config *cfg, const char *name, struct scamp *c, char *err,
           size_t errsz)
{
	struct store *s = S->store;
	const struct sender_opts *o = S->o;
	int rc;
	if (o->ntest && o->test_campaign) {
		c->camp = *o->test_campaign;
		c->camp.headers =
		    o->test_campaign->headers ? xstrdup(o->test_campaign->headers) : NULL;
		c->camp.options =
		    o->test_campaign->options ? xstrdup(o->test_campaign->options) : NULL;
	} else if ((rc = store_campaign_get(s, name, &c->camp)) < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		return rc == STORE_E_NOTFOUND ? SENDER_E_CONFIG : SENDER_E_STORE;
	}
	if (campaign_composer_new(s, cfg, &c->camp, &c->w.cc, err, errsz) < 0) {
		memset(&c->w.cc, 0, sizeof(c->w.cc)); /* freed by campaign_composer_new */
		return SENDER_E_RENDER;
	}
	if (strcmp(c->camp.state, "cancelled") == 0) {
		snprintf(err, errsz, "campaign %s is cancelled: nothing more is sent",
		         c->camp.name);
		return SENDER_E_CONFIG;
	}
	if (strcmp(c->camp.state, "paused") == 0 && !o->resume && o->ntest == 0) {
		snprintf(err, errsz,
		         "campaign %s is paused; look at why ('kirim campaign show %s'), then send "
		         "with --resume",
		         c->camp.name, c->camp.name);
		return SENDER_E_CONFIG;
	}
	/* A send window: nothing starts outside it (in each recipient's zone, when known). */
	json_t *opt = json_loads(c->camp.options ? c->camp.options : "{}", 0, NULL);
	const char *win = json_string_value(json_object_get(opt, "window"));
	const char *ctz = json_string_value(json_object_get(opt, "tz"));
	if (win && *win) {
		char werr[256];
		if (when_window_parse(win, &c->send_window, werr, sizeof(werr)) == 0)
			c->has_window = true;
		else
			log_warn("campaign=%s window=\"%s\" unusable (%s): sending without it",
			         c->camp.name, win, werr);
	}
	snprintf(c->camp_tz, sizeof(c->camp_tz), "%s", ctz ? ctz : "");
	json_decref(opt);
	if (store_bounce_totals(s, c->camp.id, &c->totals) < 0) {
		snprintf(err, errsz, "database: %s", store_errmsg(s));
		return SENDER_E_STORE;
	}
	int64_t created = 0, recovered = 0;
	struct store_campaign_counts before;
	if (o->ntest) {
		/* Proofs touch neither the campaign's messages nor its state. */
		memset(&before, 0, sizeof(before));
		before.queued = (int64_t)o->ntest;
	} else {
		/*
		 * Any number of senders per campaign, on this node or others
		 * (docs/scale-out.md): it holds the campaign beside them and takes back
		 * the claims of senders that are gone (forgotten once per run or turn, by
		 * sender_register). A live sender's claims are never re-queued under it.
		 */
		bool waited = false, moved = false;
		char state[16], why[256];
		for (;;) {
			created = recovered = 0;
			/* kirim run gives turns to campaigns that are sending: one that another
			 * node has finished (or a person paused) since is left alone, not set
			 * sending again. */
			if ((rc = store_begin(s)) == 0 &&
			    (rc = store_campaign_state_get(s, c->camp.id, state, why,
			                                   sizeof(why))) == 0 &&
			    o->ncampaigns && strcmp(state, "sending") != 0) {
				moved = true;
				rc = STORE_E_NOTFOUND;
			}
			/* The messages are made as the run goes (store_messages_walk, by the
			 * worker's claims): here only the walk's end is set. */
			if (rc == 0 && (rc = store_messages_walk_start(s, c->camp.id)) == 0 &&
			    (rc = store_sender_hold(s, c->camp.id, S->me)) == 0 &&
			    (rc = store_messages_recover(s, c->camp.id, &recovered)) == 0 &&
			    (rc = store_campaign_set_state(s, c->camp.id, "sending")) == 0)
				rc = store_commit(s);
			if (rc < 0)
				store_rollback(s);
			if (rc != STORE_E_BUSY || (o->stop && *o->stop))
				break;
			if (!waited)
				log_warn(
				    "campaign=%s database busy (another process holds its write "
				    "lock): waiting",
				    c->camp.name);
			waited = true;
		}
		if (moved) {
			snprintf(err, errsz, "campaign %s is %s now: nothing to send", c->camp.name,
			         state);
			return SENDER_E_CONFIG;
		}
		if (rc < 0 || store_campaign_counts(s, c->camp.id, &before) < 0) {
			snprintf(err, errsz, "database: %s", store_errmsg(s));
			return SENDER_E_STORE;
		}
		c->w.walking = c->walking = before.walk_upto > before.walk_cursor;
		c->w.ahead = before.queued;
	}
	S->st->created += created;
	S->st->recovered += recovered;
	if (c->st != S->st) {
		c->st->created = created;
		c->st->recovered = recovered;
	}
	if (recovered)
		log_warn("campaign=%s recovered=%lld note=\"messages claimed by a sender that is "
		         "gone are queued again; those whose data was already sent may be sent "
		         "twice\"",
		         c->camp.name, (long long)recovered);
	c->due = (uint64_t)before.queued;
	return 0;
}

/*
 * scamp_settle - after the run: the campaign is done when nothing of it is queued, claimed
 * (by this sender or any other) or left to walk, else still sending. The counts and the
 * change are one write transaction, so that of several senders finishing together only
 * the last to see nothing left moves it (once: a state set again is no change).
 */
static void
scamp_settle(struct sender *S, struct scamp *c)
{
	struct store *s = S->store;
	struct store_campaign_counts *n = &c->st->counts;
	int rc = STORE_E_BUSY;
	char state[16], why[256];
	for (int i = 0; i < 12 && rc == STORE_E_BUSY; i++) {
		/* Paused or cancelled meanwhile (by another sender's auto-pause, or by hand): that
		 * stands. */
		if ((rc = store_begin(s)) == 0 &&
		    (rc = store_campaign_counts(s, c->camp.id, n)) == 0 &&
		    (rc = store_campaign_state_get(s, c->camp.id, state, why, sizeof(why))) == 0 &&
		    strcmp(state, "sending") == 0)
			rc = store_campaign_set_state(
			    s, c->camp.id,
			    n->queued || n->claimed || n->walk_upto ? "sending" : "done");
		if (rc == 0)
			rc = store_commit(s);
		if (rc < 0)
			store_rollback(s);
	}
	if (rc < 0)
		log_warn("campaign=%s state not settled error=\"%s\"", c->camp.name,
		         store_errmsg(s));
}

/* sender_reap - forget the senders found dead (a process of this node gone, a lease of
 * another node expired), in a transaction of its own */
static int
sender_reap(struct sender *S)
{
	int64_t dead = 0;
	int rc = store_begin(S->store);
	if (rc == 0 && (rc = store_sender_reap(S->store, lease_alive, &S->worker.node, &dead)) == 0)
		rc = store_commit(S->store);
	if (rc < 0)
		store_rollback(S->store);
	return rc;
}

/* sender_register - this process as a sender; where its look for suppressions starts */
static int
sender_register(struct sender *S)
{
	char command[128];
	if (S->o->ncampaigns)
		snprintf(command, sizeof(command), "run");
	else
		snprintf(command, sizeof(command), "send %.100s", S->o->campaign);
	int rc = 0;
	bool waited = false;
	if (S->o->me) {
		/* kirim run's process row, renewed by its turns. */
		S->me_row = *S->o->me;
		S->me_lent = true;
	} else {
		lease_me(&S->me_row, &S->worker.node, command);
	}
	/* The senders that are gone are forgotten once per run: in the registration's
	 * transaction, or, for a turn of kirim run (registered once), in one of their own
	 * here; scamp_open then takes back their claims of each campaign. */
	while ((rc = S->me_lent ? sender_reap(S)
	                        : store_sender_register(S->store, &S->me_row, lease_alive,
	                                                &S->worker.node)) == STORE_E_BUSY &&
	       !(S->o->stop && *S->o->stop)) {
		if (!waited)
			log_warn("database busy (another process holds its write lock): waiting");
		waited = true;
	}
	if (rc < 0 || (rc = store_sender_suppressions_last(S->store, &S->worker.supp_after)) < 0)
		return rc;
	S->me = S->worker.me = S->me_row.id;
	S->renewed = S->watched = clock_seconds();
	S->worker.removals_since = (int64_t)time(NULL) - 120;
	return 0;
}

/* sender_release - this sender lets go of its campaigns (tried for a minute when busy: a
 * row left behind is judged dead by the next sender, as after a crash) */
static void
sender_release(struct sender *S)
{
	if (S->me == 0)
		return;
	for (int i = 0;
	     i < 12 && (S->me_lent ? store_sender_unhold(S->store, S->me)
	                           : store_sender_release(S->store, S->me)) == STORE_E_BUSY;
	     i++)
		;
	S->me = S->worker.me = 0;
}

int
sender_run(struct store *s, const struct config *cfg, const struct sender_opts *o,
           struct sender_stats *st, char *err, size_t errsz)
{
	struct sender *S = xcalloc(1, sizeof(*S));
	struct sender_opts opts = *o;
	int rc = 0;
	memset(st, 0, sizeof(*st));
	if (opts.concurrency == 0)
		opts.concurrency = 8;
	if (opts.batch == 0)
		opts.batch = 256;
	if (opts.retry_first <= 0)
		opts.retry_first = THROTTLE_RETRY_FIRST;
	if (opts.retry_max <= 0)
		opts.retry_max = THROTTLE_RETRY_CAP;
	if (opts.max_age <= 0)
		opts.max_age = (int64_t)THROTTLE_MAX_AGE;
	if (opts.nxdomain_confirm_s <= 0)
		opts.nxdomain_confirm_s = SENDER_NXDOMAIN_CONFIRM_S;
	S->o = &opts;
	/* Tests make a walk of many ranges over a few contacts (tests/integration/queue.sh);
	 * nothing else should need it. */
	S->worker.walk_span = SENDER_WALK_SPAN;
	const char *span = getenv("KIRIM_QUEUE_CHUNK");
	if (span && atoll(span) > 0)
		S->worker.walk_span = atoll(span);
	S->st = st;
	S->store = s;
	S->window = opts.concurrency * 16 > opts.batch * 2 ? opts.concurrency * 16 : opts.batch * 2;
	/*
	 * Unsubscribes answered by a kirim serve that stopped before folding
	 * them into the database (killed): fold them now, before any claim.
	 */
	if (store_serve_fold_pending(s) < 0)
		log_warn("send could not fold the serve journal error=\"%s\"", store_errmsg(s));

	/* Where to: the relay, or each domain's MX hosts. */
	const char *url = opts.relay_url ? opts.relay_url : opts.direct ? NULL : cfg->relay_url;
	bool direct = url == NULL || *url == '\0';
	/* Direct delivery spreads the window over many destinations: keep enough in flight
	 * that each has a run of messages for its connections (the byte cap still holds). */
	S->max_bytes = direct ? SENDER_DIRECT_INFLIGHT_BYTES : SENDER_MAX_INFLIGHT_BYTES;
	if (!direct && (size_t)opts.concurrency * SENDER_INFLIGHT_PER_CONN > S->max_bytes)
		S->max_bytes = (size_t)opts.concurrency * SENDER_INFLIGHT_PER_CONN;
	if (direct && S->window < SENDER_DIRECT_WINDOW)
		S->window = SENDER_DIRECT_WINDOW;
	struct smtp_url u;
	struct sockaddr_storage addr;
	int tls;
	/* The source addresses, each bound once here: one this host lacks stops the run now. */
	char helo[256]; /* the run's EHLO name ([sender] ehlo, else the host's) */
	config_helo(cfg, helo, sizeof(helo));
	if (sender_egress(S, cfg, opts.egress, helo, err, errsz) < 0) {
		free(S);
		return SENDER_E_CONFIG;
	}
	if (direct) {
		tls = opts.tls >= 0 ? opts.tls : TLS_POLICY_OPPORTUNISTIC;
		int bad = sender_check_helo(cfg->ehlo, err, errsz);
		for (size_t i = 0; bad == 0 && i < S->nsrc; i++) {
			char why[512];
			if ((bad = sender_check_helo(S->src[i].ehlo, why, sizeof(why))) < 0)
				snprintf(err, errsz, "[egress] %s: %s", S->src[i].name, why);
		}
		if (bad < 0) {
			free(S->src);
			free(S);
			return SENDER_E_CONFIG;
		}
	} else {
		if (smtp_url_parse(url, &u, err, errsz) < 0 ||
		    sender_resolve(&u, &addr, err, errsz) < 0) {
			free(S->src);
			free(S);
			return SENDER_E_CONFIG;
		}
		tls = opts.tls >= 0         ? opts.tls
		      : cfg->relay_tls >= 0 ? cfg->relay_tls
		                            : TLS_POLICY_VERIFY;
		if (u.implicit_tls && tls == TLS_POLICY_NONE) {
			snprintf(err, errsz,
			         "smtps:// is TLS from the first byte: --tls none does not fit");
			free(S->src);
			free(S);
			return SENDER_E_CONFIG;
		}
	}

	/* Who: this process, as a sender with a lease on its node (proofs claim nothing, hold
	 * nothing). */
	lease_node_init(&S->worker.node, opts.node ? opts.node : cfg->node_name, cfg->node_lease_s);
	S->renew_s = lease_renew_s(S->worker.node.lease_s);
	if (opts.ntest == 0 && (rc = sender_register(S)) < 0) {
		snprintf(err, errsz, "database: %s", store_errmsg(s));
		rc = SENDER_E_STORE;
		goto out;
	}

	/* What: the campaigns and their composers. */
	store_durable(s, true);     /* outcomes must survive a power loss: one fsync per batch */
	store_temp_memory(s, true); /* no 16 KiB write() per event: the statement journal */
	S->worker.store = s;
	S->worker.o = &opts;
	S->worker.rules = store_bounce_rules_default();
	S->worker.policy = (struct disp_policy){
	    .max_age = opts.max_age,
	    .retry_first = opts.retry_first,
	    .retry_max = opts.retry_max,
	    .nxdomain_confirm_s = opts.nxdomain_confirm_s,
	    .nxdomain_trust_s = SENDER_NXDOMAIN_TRUST_S,
	};
	size_t nnames = opts.ncampaigns ? opts.ncampaigns : 1;
	S->camps = xcalloc(nnames, sizeof(*S->camps));
	for (size_t i = 0; i < nnames; i++) {
		struct scamp *c = &S->camps[S->ncamps];
		const char *name = opts.ncampaigns ? opts.campaigns[i] : opts.campaign;
		char cerr[512];
		c->S = S;
		c->idx = S->ncamps;
		c->st = opts.ncampaigns && opts.campaign_stats ? &opts.campaign_stats[i] : st;
		if (c->st != st)
			memset(c->st, 0, sizeof(*c->st));
		rc = scamp_open(S, cfg, name, c, cerr, sizeof(cerr));
		if (rc < 0 && (opts.ncampaigns == 0 || rc == SENDER_E_STORE)) {
			snprintf(err, errsz, "%s", cerr);
			S->ncamps++; /* cleared at out */
			goto out;
		}
		if (rc < 0) {
			/* One of several that cannot go: the others do. */
			log_warn("campaign=%s not sent: %s", name, cerr);
			snprintf(c->st->why, sizeof(c->st->why), "%.250s", cerr);
			c->st->stopped = 1;
			scamp_clear(c);
			memset(c, 0, sizeof(*c));
			continue;
		}
		S->due += c->due;
		S->ncamps++;
	}
	rc = 0;
	if (S->ncamps == 0) {
		snprintf(err, errsz, "none of the %zu campaigns can be sent", nnames);
		rc = SENDER_E_CONFIG;
		goto out;
	}
	sender_signing_threads(S);
	char names[256] = "";
	for (size_t i = 0; i < S->ncamps; i++) {
		size_t n = strlen(names);
		snprintf(names + n, sizeof(names) - n, "%s%s", i ? "," : "", S->camps[i].camp.name);
	}

	/* How: the pool, with one destination for the relay or one per MX host set. */
	uv_loop_init(&S->loop);
	struct pool_cbs cbs = {on_rcpt, on_job_done, on_throttle, sender_keep, sender_tls_result};
	S->pool = pool_new(&S->loop, opts.concurrency, &cbs, S);
	if (sender_shared_limits(S, s, cfg, err, errsz) < 0) {
		rc = SENDER_E_CONFIG;
		goto out_loop;
	}
	struct pool_dest_config dc = {.limits = {.max_conns = opts.concurrency, .adaptive = 1}};
	dc.session.helo_name = helo;
	dc.session.tls_policy = (enum tls_policy)tls;
	dc.session.max_jobs = opts.msgs_per_conn ? opts.msgs_per_conn : 100;
	if (opts.timeouts)
		dc.session.timeouts = *opts.timeouts;
	else
		smtp_session_default_timeouts(&dc.session.timeouts);
	/* Domain policies (the shipped presets the first time) and today's counts
	 * per destination for warm-up caps, read before the loop starts (a relay only
	 * takes the global rate). */
	int added = 0;
	if (store_policy_seed(s, &added) < 0 ||
	    store_policy_version(s, &S->worker.policy_version) < 0 ||
	    store_policy_load_all(s, &S->rows, &S->nrows) < 0 ||
	    store_dest_counts_since(s, (int64_t)time(NULL) / 86400 * 86400, sender_count_today,
	                            &S->sent_today) < 0) {
		snprintf(err, errsz, "database: %s", store_errmsg(s));
		rc = SENDER_E_STORE;
		goto out_loop;
	}
	S->policy_checked = clock_seconds();
	sender_apply_policies(S); /* no destination yet: the global rate */
	if (direct) {
		struct dns_opts dopts = {.servers = opts.dns_servers,
		                         .timeout_ms = opts.dns_timeout_ms,
		                         .cache = opts.dns_cache};
		if ((S->dns = dns_new(&S->loop, &dopts, err, errsz)) == NULL) {
			rc = SENDER_E_CONFIG;
			goto out_loop;
		}
		S->mx = dc;
		S->mx.limits.max_conns = opts.dest_concurrency ? opts.dest_concurrency : 10;
		if (S->mx.limits.max_conns > opts.concurrency)
			S->mx.limits.max_conns = opts.concurrency;
		S->mx_port = opts.mx_port ? opts.mx_port : 25;
		S->sts_on = cfg->tls_mta_sts;
		/* The AD bit means something only from a resolver on this host (docs/tls.md). */
		S->dane_on =
		    cfg->tls_dane == 1 || (cfg->tls_dane == -1 && dns_servers_local(S->dns));
		S->sts_port = opts.sts_port ? opts.sts_port : 443;
		if (sender_tls_init(S, s, cfg->tls_ca_file[0] ? cfg->tls_ca_file : NULL, err,
		                    errsz) < 0) {
			rc = SENDER_E_STORE;
			goto out_loop;
		}
		log_info("campaign=%s start due=%llu direct dns=%s mx_port=%u tls=%s "
		         "concurrency=%u per_destination=%u",
		         names, (unsigned long long)S->due,
		         opts.dns_servers ? opts.dns_servers : "resolv.conf", S->mx_port,
		         tls_policy_name((enum tls_policy)tls), opts.concurrency,
		         S->mx.limits.max_conns);
	} else {
		S->relay_addr =
		    (struct pool_addr){.host = u.host, .addr = (const struct sockaddr *)&addr};
		dc.name = "relay";
		dc.addrs = &S->relay_addr;
		dc.naddrs = 1;
		dc.session.implicit_tls = u.implicit_tls;
		dc.session.tls_ca_file = cfg->relay_ca_file[0] ? cfg->relay_ca_file : NULL;
		dc.session.auth_user = u.user[0] ? u.user : NULL;
		dc.session.auth_pass = u.user[0] ? cfg->relay_password : NULL;
		dc.session.allow_plaintext_auth = opts.allow_plaintext_auth;
		if (u.user[0] && cfg->relay_password[0] == '\0') {
			snprintf(
			    err, errsz,
			    "the relay URL names user %s but kirim.conf has no [relay] password",
			    u.user);
			rc = SENDER_E_CONFIG;
			goto out_loop;
		}
		if (S->nsrc) {
			/* The relay's connections spread over the egress sources too. */
			S->relay = xcalloc(1, sizeof(*S->relay));
			S->relay->key = xstrdup("relay");
			if (sender_dests_add(S, S->relay, &dc, NULL, err, errsz) < 0) {
				rc = SENDER_E_CONFIG;
				goto out_loop;
			}
		} else if ((S->dest = pool_dest_add(S->pool, &dc, err, errsz)) == NULL) {
			rc = SENDER_E_CONFIG;
			goto out_loop;
		}
		/* Domains with a policy of their own get destinations like this one
		 * (sender_relay_dest); addr and u outlive the loop. */
		S->mx = dc;
		st->destinations = 1;
		log_info("campaign=%s start due=%llu relay=%s:%u tls=%s concurrency=%u", names,
		         (unsigned long long)S->due, u.host, u.port,
		         tls_policy_name((enum tls_policy)tls), opts.concurrency);
	}

	S->t0 = clock_seconds();
	uv_timer_init(&S->loop, &S->tick);
	S->tick.data = S;
	uv_timer_start(&S->tick, on_tick, SENDER_TICK_MS, SENDER_TICK_MS);
	sender_pump(S);
	uv_run(&S->loop, UV_RUN_DEFAULT);
	st->seconds = clock_seconds() - S->t0;
	sender_report(S);
	struct pool_stats ps;
	pool_stats(S->pool, &ps);
	st->connections = ps.connects;
	if (S->rl) {
		struct redis_limit_stats rs;
		redis_limit_stats(S->rl, &rs);
		log_info(
		    "redis throttles: ops=%lu grants=%lu tokens=%lu local_tokens=%lu leases=%lu "
		    "adopted=%lu fallbacks=%lu",
		    rs.ops, rs.grants, rs.tokens, rs.local, rs.leases, rs.adopted, rs.fallbacks);
	}
	if (S->fail) {
		snprintf(err, errsz, "%s", S->err);
		rc = S->fail;
	}
	for (size_t i = 0; i < S->ncamps; i++) {
		struct scamp *c = &S->camps[i];
		if (c->paused)
			snprintf(c->st->why, sizeof(c->st->why), "%s", c->pause_why);
		if (c->st != st) {
			c->st->seconds = st->seconds;
			c->st->stopped = st->stopped;
			st->paused |= c->st->paused;
		}
	}
out_loop:
	if (!S->finished) {
		/* Set-up failed after the loop was made: close what exists. */
		redis_limit_close(S->rl);
		dns_free(S->dns);
		S->dns = NULL;
		uv_walk(&S->loop, sender_walk_close, NULL);
		uv_run(&S->loop, UV_RUN_DEFAULT);
	}
	pool_free(S->pool);
	redis_limit_free(S->rl);
	if (uv_loop_close(&S->loop) != 0)
		log_error("bug: handles left open on the sender's loop");
	for (size_t i = 0; i < S->ncamps; i++) {
		struct scamp *c = &S->camps[i];
		if (rc == 0 && !c->paused && opts.ntest == 0)
			scamp_settle(S, c);
		else
			store_campaign_counts(s, c->camp.id, &c->st->counts);
	}
out:
	sender_release(S);
	strmap_free(&S->gone);
	strmap_free(&S->delivered);

	for (size_t i = 0; i < S->npending; i++)
		sresult_clear(&S->pending[i]);
	free(S->pending);
	sender_route_free(S);
	sender_tls_free(S);
	strmap_free(&S->sent_today);
	free(S->rows);
	for (size_t i = 0; i < S->ndstates; i++)
		sdstate_clear(&S->dstates[i]);
	free(S->dstates);
	for (size_t i = 0; i < S->ncamps; i++)
		scamp_clear(&S->camps[i]);
	free(S->camps);
	buf_free(&S->worker.msg);
	for (unsigned i = 0; S->worker.scratch && i < par_threads(S->worker.par); i++)
		buf_free(&S->worker.scratch[i]);
	free(S->worker.scratch);
	par_free(S->worker.par);
	free(S);
	return rc;
}
