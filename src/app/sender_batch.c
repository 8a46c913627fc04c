/*
 * sender_batch - the sender's worker thread (see sender_int.h): one batch at a
 * time, it writes the outcomes the loop collected, saves throttle changes,
 * looks for new suppressions, renews the lease, judges auto-pause, claims and
 * renders the next messages, all in one transaction (a busy database rolls
 * it all back and says so in the batch). It sees only the batch and the
 * worker's own state, never the loop's `struct sender`.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kirim/attrs.h"
#include "kirim/clock.h"
#include "kirim/composer.h"
#include "kirim/disposition.h"
#include "kirim/dkim.h"
#include "kirim/lease.h"
#include "kirim/log.h"
#include "kirim/smtp_session.h"
#include "kirim/smtp_wire.h"
#include "kirim/store_lifecycle.h"
#include "kirim/store_policy.h"
#include "kirim/xmalloc.h"
#include "sender_int.h"

/* proof_line - one proof's line for the run's report (proofs are recorded nowhere) */
static void
proof_line(struct batch *b, const char *rcpt, const char *outcome, int code, const char *ecode,
           const char *text)
{
	buf_printf(&b->proofs, "%s %s %d %s %.120s\n", rcpt ? rcpt : "-", outcome, code,
	           ecode && *ecode ? ecode : "-", text ? text : "");
}

/* disp_kind_of - what kind of fact r is */
static enum disp_kind
disp_kind_of(const struct sresult *r)
{
	if (r->withdrawn)
		return DISP_WITHDRAWN;
	if (r->render)
		return DISP_RENDER;
	if (!r->attempted)
		return DISP_UNSENT;
	return r->stage == SMTP_STAGE_DNS ? DISP_DNS : DISP_ATTEMPT;
}

/* fact_of - r as a fact for the disposition (sr holds its reply); a no-such-domain answer
 * is counted in its domain's DNS health first, which the fact carries */
static int
fact_of(struct sender_worker *W, struct batch *b, const struct sresult *r,
        const struct smtp_result *sr, int64_t now, struct disp_fact *f)
{
	*f = (struct disp_fact){
	    .kind = disp_kind_of(r),
	    .r = sr,
	    .dns_no_domain = r->domain != NULL,
	    .message_id = r->message_id,
	    .attempts = r->attempts,
	    .queued_at = r->queued_at,
	    .now = now,
	    .not_before = r->not_before,
	    .cancelled = b->camps[r->c->idx].cancelled,
	};
	if (f->kind != DISP_DNS || !f->dns_no_domain)
		return 0;
	struct store_domain_health dh;
	int rc = store_sender_nxdomain(W->store, r->domain, now, SENDER_NXDOMAIN_STALE_S, &dh);
	if (rc < 0)
		return rc;
	f->delivered_at = dh.delivered_at;
	f->nxdomain_first = dh.nxdomain_first;
	return 0;
}

/* apply - disposition d of fact f (r's) to the database: the message's outcome, then what
 * it does to the address */
static int
apply(struct sender_worker *W, const struct sresult *r, const struct disp_fact *f,
      const struct disposition *d, int64_t now)
{
	char text[700], source[512];
	if (d->note)
		snprintf(text, sizeof(text), "%s (%s)", r->text ? r->text : "", d->note);
	struct store_result w = {
	    .message_id = r->message_id,
	    .owner = W->me,
	    .campaign_id = r->c->camp.id,
	    .domain = r->rcpt_domain,
	    .attempts = r->attempts,
	    .queued_at = r->queued_at,
	    .state = d->state,
	    .event = d->event,
	    .count_attempt = d->count_attempt,
	    .next_attempt_at = d->next_attempt_at,
	    .has_stage = f->kind == DISP_ATTEMPT || f->kind == DISP_DNS,
	    .stage = r->stage,
	    .code = r->code,
	    .ecode = r->ecode,
	    .text = d->note ? text : r->text,
	    .host = r->host,
	    .tls = r->tls,
	    .dest = r->dest,
	    .source = r->source,
	    .helo = r->helo,
	    .reason = d->reason,
	    .cls = d->cls,
	};
	int rc = store_message_result(W->store, &w, now);
	if (rc == STORE_RESULT_NOT_OURS) {
		/* This sender stalled past its lease and another took the message back: its
		 * outcome is the other's to write (docs/scale-out.md). */
		log_warn("msg=%lld taken back from this sender (its lease ran out): this "
		         "attempt's outcome (%s) is not recorded",
		         (long long)r->message_id, disposition_state_name(d->state));
		return 0;
	}
	if (rc < 0 || d->suppress == DISP_SUPPRESS_NONE)
		return rc;
	/* A hard bounce suppresses the address at once; soft ones when they add up. */
	const char *supp;
	snprintf(source, sizeof(source), "campaign %s: %s %d %s %.300s", r->c->camp.name,
	         w.has_stage ? smtp_stage_name(w.stage) : "", w.code, w.ecode ? w.ecode : "",
	         w.text ? w.text : "");
	rc = store_bounce_suppress(W->store, r->message_id, d->suppress, &W->rules, source, &supp);
	if (rc == 0 && supp)
		log_info("msg=%lld suppressed=%s", (long long)r->message_id, supp);
	return rc;
}

/* write_result - r as a fact, its disposition decided (disposition.h) and applied */
static int
write_result(struct sender_worker *W, struct batch *b, const struct sresult *r, int64_t now)
{
	if (r->message_id < 0) {
		proof_line(b, r->rcpt, r->attempted ? smtp_outcome_name(r->outcome) : "not-sent",
		           r->code, r->ecode, r->text);
		return 0;
	}
	struct smtp_result sr = {r->stage, r->code, r->ecode, r->text, r->flags, r->local};
	struct disp_fact f;
	struct disposition d;
	int rc = fact_of(W, b, r, &sr, now, &f);
	if (rc < 0)
		return rc;
	disposition_decide(&f, &W->policy, &d);
	return apply(W, r, &f, &d, now);
}

struct claim_ctx {
	struct sender_worker *W;
	struct batch *b;
	struct scamp *c;      /* its immutable fields only */
	struct scamp_work *w; /* its composer */
	int64_t now;
	int claimed; /* rows claimed, rendered or not */
};

/* render_failed - j's message cannot be made (or signed): failed now, with the reason */
static int
render_failed(struct sender_worker *W, struct batch *b, const struct sjob *j, const char *why,
              int64_t now)
{
	struct sresult fr = {.c = j->c,
	                     .message_id = j->message_id,
	                     .outcome = OUTCOME_FAILED,
	                     .attempted = 1,
	                     .render = 1,
	                     .attempts = j->attempts,
	                     .queued_at = j->queued_at,
	                     .rcpt_domain = xstrdup(j->domain ? j->domain : ""),
	                     .rcpt = j->message_id < 0 ? xstrdup(j->rcpt) : NULL,
	                     .stage = SMTP_STAGE_CONNECT};
	char text[700];
	snprintf(text, sizeof(text), "cannot render the message: %s", why);
	fr.text = xstrdup(text);
	int rc = write_result(W, b, &fr, now);
	sresult_clear(&fr);
	log_warn("msg=%lld result=failed reason=\"cannot render: %s\"", (long long)j->message_id,
	         why);
	return rc;
}

static void job_wire(struct sjob *j, const char *msg, size_t len);

static int
render_one(void *arg, const struct store_claimed *m)
{
	struct claim_ctx *cx = arg;
	struct sender_worker *W = cx->W;
	struct batch *b = cx->b;
	struct scamp *c = cx->c;
	struct sjob *j = xcalloc(1, sizeof(*j));
	cx->claimed++;
	char err[512];
	j->c = c;
	j->message_id = m->message_id;
	j->contact_id = m->contact_id;
	j->attempts = m->attempts;
	j->queued_at = m->queued_at;
	j->rcpt = xstrdup(m->email);
	j->domain = xstrdup(m->domain ? m->domain : "");
	if (c->has_window && m->attrs) {
		/* The recipient's own zone, if the list has one for them. */
		json_t *a = NULL;
		attrs_parse(m->attrs, &a);
		const char *tz = json_string_value(json_object_get(a, "timezone"));
		snprintf(j->tz, sizeof(j->tz), "%s", tz ? tz : "");
		json_decref(a);
	}
	/* With composing threads the message is made later, on every thread, by the batch's
	 * composing step (compose_batch): here it is only claimed. */
	if (W->par != NULL && c->w.cc.n_signers > 0) {
		j->compose = true;
		j->attrs = xstrdup(m->attrs ? m->attrs : "{}");
		b->jobs[b->njobs++] = j;
		return 0;
	}
	struct composer_recipient r = {m->contact_id, m->email, m->attrs};
	buf_reset(&W->msg);
	if (composer_render(cx->w->cc.composer, &r, cx->now, 0, &W->msg, j->sender, err,
	                    sizeof(err)) < 0) {
		int rc = render_failed(W, b, j, err, cx->now);
		sjob_free(j);
		return rc;
	}
	job_wire(j, W->msg.data, W->msg.len);
	b->jobs[b->njobs++] = j;
	return 0;
}

/* job_wire - j's message (len bytes of msg) in its wire form, and j's job to send it */
static void
job_wire(struct sjob *j, const char *msg, size_t len)
{
	/* The wire form and the 8-bit check are made here, on the worker, not on the loop. */
	buf_reset(&j->data);
	buf_reserve(&j->data, len + len / 32 + 16); /* one allocation, not ten */
	j->job.flags =
	    SMTP_JOB_WIRE | (smtp_wire_encode(&j->data, msg, len) ? SMTP_JOB_8BIT : SMTP_JOB_7BIT);
	j->rcpts[0] = j->rcpt;
	j->job.sender = j->sender;
	j->job.rcpts = j->rcpts;
	j->job.nrcpt = 1;
	j->job.data = j->data.data;
	j->job.len = j->data.len;
	j->job.give = &j->data; /* written from here, not copied (smtp_session.h) */
	j->job.user = j;
}

/* compose_threads - campaign work w's composers and signers for threads 1..n-1, made once
 * (on the worker) */
static int
compose_threads(struct scamp_work *w, unsigned n, char *err, size_t errsz)
{
	if (w->ntthreads >= n)
		return 0;
	size_t k = w->cc.n_signers;
	w->tcomposers = xcalloc(n - 1, sizeof(*w->tcomposers));
	w->tsigners = xcalloc((size_t)(n - 1) * k + 1, sizeof(*w->tsigners));
	w->ntthreads = n;
	for (size_t t = 0; t + 1 < n; t++) {
		for (size_t i = 0; i < k; i++)
			if (dkim_signer_dup(w->cc.signers[i], &w->tsigners[t * k + i], err, errsz) <
			    0)
				return -1;
		composer_dup(w->cc.composer, w->tsigners + t * k, &w->tcomposers[t]);
	}
	return 0;
}

struct compose_ctx {
	struct sjob **jobs;  /* those to compose */
	struct buf *scratch; /* one per thread */
	int64_t now;
};

/* compose_one - job i rendered, signed and put in wire form, on thread t with that thread's
 * composer and signers */
static void
compose_one(void *arg, unsigned t, size_t i)
{
	struct compose_ctx *x = arg;
	struct sjob *j = x->jobs[i];
	struct scamp_work *w = &j->c->w;
	struct composer *k = t == 0 ? w->cc.composer : w->tcomposers[t - 1];
	struct composer_recipient r = {j->contact_id, j->rcpt, j->attrs};
	struct buf *out = &x->scratch[t];
	char err[512];
	buf_reset(out);
	if (composer_render(k, &r, x->now, 0, out, j->sender, err, sizeof(err)) < 0) {
		j->compose_err = xstrdup(err);
		return;
	}
	job_wire(j, out->data, out->len);
}

/*
 * compose_batch - the batch's claimed messages rendered, signed and put in wire form on
 * every thread of the pool; one that cannot be made is failed now, as when it is rendered
 * at its claim
 */
static int
compose_batch(struct sender_worker *W, struct batch *b, int64_t now)
{
	struct compose_ctx x = {xcalloc(b->njobs + 1, sizeof(struct sjob *)), W->scratch, now};
	size_t n = 0;
	unsigned nt = par_threads(W->par);
	char err[256];
	int rc = 0;
	for (size_t i = 0; i < b->njobs; i++) {
		struct sjob *j = b->jobs[i];
		if (!j->compose)
			continue;
		if (compose_threads(&j->c->w, nt, err, sizeof(err)) < 0) {
			j->compose_err = xstrdup(err);
			continue;
		}
		x.jobs[n++] = j;
	}
	par_for(W->par, n, compose_one, &x);
	free(x.jobs);
	size_t kept = 0;
	for (size_t i = 0; i < b->njobs; i++) {
		struct sjob *j = b->jobs[i];
		free(j->attrs);
		j->attrs = NULL;
		if (j->compose_err == NULL) {
			j->compose = false;
			b->jobs[kept++] = j;
			continue;
		}
		if (rc == 0)
			rc = render_failed(W, b, j, j->compose_err, now);
		sjob_free(j);
	}
	b->njobs = kept;
	return rc;
}

/* sender_test_one - render proof i for its address: a list member's own attributes when
 * it is one, else none (the built-in fields only) */
static int
test_one(struct sender_worker *W, struct claim_ctx *cx, size_t i)
{
	const char *to = W->o->test_rcpts[i];
	struct address a;
	const char *why = "";
	if (address_parse(to, strlen(to), 0, &a, &why) < 0) {
		proof_line(cx->b, to, "not-sent", 0, NULL, why);
		return 0;
	}
	struct store_contact k;
	bool member = store_list_member(W->store, cx->c->camp.list_id, a.key, &k) == 0;
	struct store_claimed m = {
	    .message_id = -(int64_t)(i + 1),
	    .contact_id = member ? k.id : 0,
	    .email = a.email,
	    .attrs = member && k.attrs ? k.attrs : "{}",
	    .domain = a.domain,
	    .queued_at = cx->now,
	};
	int rc = render_one(cx, &m);
	if (member)
		store_contact_clear(&k);
	return rc;
}

/* walk - one range more of campaign k's walk: its messages, in the batch's transaction */
static int
walk(struct sender_worker *W, struct batch_camp *bc)
{
	int64_t made = 0;
	int rc =
	    store_messages_walk(W->store, bc->c->camp.id, W->walk_span, &made, &bc->w->walking);
	if (rc == 0) {
		bc->made += made;
		bc->w->ahead += made;
	}
	return rc;
}

/*
 * claim - claim and render up to want messages of campaign k. While its walk has ids
 * left, a claim that comes up short walks a range and claims again (for about
 * SENDER_WALK_BATCH_MS at most), and a range more is walked while few of the messages
 * made are left unclaimed: the walk keeps ahead of the claims.
 */
static int
claim(struct sender_worker *W, struct batch *b, size_t k, int64_t now, int want)
{
	struct batch_camp *bc = &b->camps[k];
	struct claim_ctx cx = {W, b, bc->c, bc->w, now, 0};
	int withdrawn = 0, rc = 0;
	double t0 = clock_seconds();
	bc->want = want;
	for (bool first = true;; first = false) {
		int n = 0;
		rc = store_messages_claim(W->store, bc->c->camp.id, W->me, now, want - bc->claimed,
		                          render_one, &cx, &n);
		withdrawn += n;
		/* Rows, not jobs: a message that fails to render, or was suppressed since it
		 * was queued, must not look like the end of what is due. */
		bc->claimed = cx.claimed + withdrawn;
		if (rc < 0 || bc->claimed >= want || !bc->w->walking ||
		    (!first && clock_seconds() - t0 >= SENDER_WALK_BATCH_MS / 1000.0))
			break;
		if ((rc = walk(W, bc)) < 0)
			break;
	}
	bc->w->ahead -= bc->claimed;
	if (rc == 0 && bc->w->walking &&
	    bc->w->ahead < (int64_t)SENDER_WALK_AHEAD_BATCHES * W->o->batch)
		rc = walk(W, bc);
	bc->walking = bc->w->walking;
	bc->withdrawn += withdrawn;
	return rc;
}

/* save_links - campaign k's new tracked links, written in the batch's transaction: they
 * reach the database before the messages that carry them */
static int
save_links(struct sender_worker *W, struct batch_camp *bc)
{
	size_t n = composer_links(bc->w->cc.composer, NULL);
	if (n <= bc->w->links_saved)
		return 0;
	struct buf links = BUF_INIT;
	composer_links(bc->w->cc.composer, &links);
	int rc = store_campaign_set_links(W->store, bc->c->camp.id, links.data);
	if (rc == 0)
		bc->w->links_saved = n;
	buf_free(&links);
	return rc;
}

/* interleave - the batch's jobs one campaign after another in turn (claimed one
 * campaign's run after another's), so that each destination's queue serves them evenly */
static void
interleave(struct batch *b)
{
	if (b->ncamps < 2 || b->njobs < 2)
		return;
	struct sjob **out = xcalloc(b->njobs, sizeof(*out));
	size_t *at = xcalloc(b->njobs + 1, sizeof(*at)); /* where each run of one campaign starts */
	size_t k = 0, runs = 0;
	for (size_t i = 0; i < b->njobs; i++)
		if (i == 0 || b->jobs[i]->c != b->jobs[i - 1]->c)
			at[runs++] = i;
	at[runs] = b->njobs;
	size_t *next = xcalloc(runs, sizeof(*next));
	for (size_t r = 0; r < runs; r++)
		next[r] = at[r];
	while (k < b->njobs)
		for (size_t r = 0; r < runs; r++)
			if (next[r] < at[r + 1])
				out[k++] = b->jobs[next[r]++];
	memcpy(b->jobs, out, b->njobs * sizeof(*out));
	free(next);
	free(at);
	free(out);
}

/* gone_add - one more key of what may no longer be mailed, for the loop (worker) */
static void
gone_add(struct batch *b, const char *key)
{
	if (b->ngone == b->capgone) {
		b->capgone = b->capgone ? b->capgone * 2 : 64;
		b->gone = xrealloc(b->gone, b->capgone * sizeof(*b->gone));
	}
	b->gone[b->ngone++] = xstrdup(key);
}

static int
watch_suppression(void *arg, bool domain, const char *value)
{
	char key[300];
	snprintf(key, sizeof(key), "%c:%s", domain ? 'd' : 'a', value);
	gone_add(arg, key);
	return 0;
}

static int
watch_removal(void *arg, int64_t list_id, int64_t contact_id)
{
	char key[64];
	if (list_id)
		snprintf(key, sizeof(key), "l:%lld:%lld", (long long)list_id,
		         (long long)contact_id);
	else
		snprintf(key, sizeof(key), "c:%lld", (long long)contact_id);
	gone_add(arg, key);
	return 0;
}

/*
 * watch - what became unmailable since the last look (worker, outside
 * any transaction: reads never wait for a writer in WAL mode, so this goes
 * on while another process holds the write lock): new suppressions, kirim
 * serve's journaled unsubscribes, and list-scope unsubscribes folded since.
 */
static void
watch(struct sender_worker *W, struct batch *b)
{
	int64_t now = (int64_t)time(NULL);
	if (store_sender_suppressions(W->store, &W->supp_after, watch_suppression, b) < 0 ||
	    store_sender_journal(W->store, &W->journal_after, watch_removal, b) < 0 ||
	    store_sender_removals(W->store, W->removals_since, watch_removal, b) < 0)
		log_warn("could not look for new suppressions error=\"%s\"",
		         store_errmsg(W->store));
	else
		W->removals_since = now - 120; /* a fold's events carry the unsubscribe's time */
}

/* start_due - whether the owner wants the run to end for something due */
static bool
start_due(struct sender_worker *W)
{
	return W->o->start_due && W->o->start_due(W->o->start_due_arg, W->store) > 0;
}

/*
 * sweep - with the lease renewed: the senders found dead (a process of this node gone, a
 * lease of another node expired) are forgotten, and their claims of this run's campaigns
 * queued again, to be claimed by the live senders: a node that dies loses its claims while
 * the others send, not only at the next start. What it had on the wire may be sent twice.
 */
static int
sweep(struct sender_worker *W, struct batch *b)
{
	int64_t dead = 0;
	int rc = store_sender_reap(W->store, lease_alive, &W->node, &dead);
	if (rc == 0 && dead)
		log_warn("senders_dead=%lld note=\"their leases expired or their processes are "
		         "gone\"",
		         (long long)dead);
	for (size_t i = 0; rc == 0 && i < b->ncamps && W->o->ntest == 0; i++) {
		struct batch_camp *bc = &b->camps[i];
		rc = store_messages_recover(W->store, bc->c->camp.id, &bc->recovered);
		if (rc == 0 && bc->recovered)
			log_warn(
			    "campaign=%s recovered=%lld note=\"claims of a sender that is gone "
			    "are queued again; those whose data was already sent may be sent "
			    "twice\"",
			    bc->c->camp.name, (long long)bc->recovered);
	}
	return rc;
}

/*
 * write - the batch's facts, then its claims; 0 or a store error. With both to do, the
 * facts commit first, in a transaction of their own (one fsync more a batch).
 */
static int
write_and_claim(struct sender_worker *W, struct batch *b, int64_t now)
{
	int rc = store_begin(W->store);
	for (size_t i = 0; rc == 0 && i < b->nres; i++)
		rc = write_result(W, b, &b->res[i], now);
	for (size_t i = 0; rc == 0 && i < b->ndstates; i++)
		rc = store_dest_save(W->store, &b->dstates[i].d);
	if (rc == 0)
		rc = stls_out_write(W->store, &b->tls);
	for (size_t i = 0; rc == 0 && i < b->ndelivered; i++)
		rc = store_sender_delivered(W->store, b->delivered[i], now);
	if (rc == 0 && b->renew && W->me) {
		rc = store_sender_renew(W->store, W->me, now + W->node.lease_s);
		if (rc == STORE_E_NOTFOUND) {
			/* Another sender judged this one dead and took its campaigns: sending on
			 * would mail what it sends too. */
			snprintf(b->err, sizeof(b->err),
			         "another sender took this one's campaigns over (its lease had "
			         "expired): stopping");
			b->fail = SENDER_E_LEASE;
			return rc;
		}
		b->renewed = rc == 0;
		if (rc == 0)
			rc = sweep(W, b);
	}
	for (size_t i = 0; rc == 0 && i < b->ncamps && W->o->ntest == 0; i++) {
		struct batch_camp *bc = &b->camps[i];
		if (bc->paused || !store_bounce_pause_why(&W->rules, &bc->totals, bc->pause_why,
		                                          sizeof(bc->pause_why)))
			continue;
		if ((rc = store_campaign_pause(W->store, bc->c->camp.id, bc->pause_why)) >= 0) {
			bc->paused_now = true; /* nothing new starts */
			rc = 0;
		}
	}
	if (rc == 0 && b->want > 0 && b->nres > 0) {
		/* The outcomes reach the disk before this batch claims, walks, renders and
		 * signs: a crash meanwhile loses none of them, so fewer messages that were on
		 * a server's disk are sent again (crash test: run.sh). */
		if ((rc = store_commit(W->store)) == 0) {
			/* Committed: a retry of the claims (a busy database) must not write them
			 * again, nor the loop keep them for the next batch. */
			batch_facts_clear(b);
			rc = store_begin(W->store);
		}
	}
	if (rc == 0 && b->want > 0 && W->o->ntest) {
		/* Proofs: one batch of the given addresses, then nothing more. */
		b->jobs = xcalloc(W->o->ntest, sizeof(*b->jobs));
		struct claim_ctx cx = {W, b, b->camps[0].c, b->camps[0].w, now, 0};
		for (size_t i = 0; rc == 0 && i < W->o->ntest && !W->tested; i++)
			rc = test_one(W, &cx, i);
		W->tested = true;
		b->camps[0].want = (int)W->o->ntest;
		b->camps[0].claimed = (int)W->o->ntest;
	} else if (rc == 0 && b->want > 0) {
		/* The batch is shared among the campaigns that may take work, in turn: the one
		 * first this time is last but one the next. */
		size_t nactive = 0;
		for (size_t i = 0; i < b->ncamps; i++)
			nactive += b->camps[i].active && !b->camps[i].paused_now;
		b->jobs = xcalloc((size_t)b->want, sizeof(*b->jobs));
		int left = b->want;
		for (size_t k = 0; rc == 0 && k < b->ncamps && nactive; k++) {
			size_t i = (b->turn + k) % b->ncamps;
			struct batch_camp *bc = &b->camps[i];
			if (!bc->active || bc->paused_now)
				continue;
			int share = left / (int)nactive--;
			if (share > 0)
				rc = claim(W, b, i, now, share);
			left -= bc->claimed;
		}
		interleave(b);
	}
	/* Signed messages are composed here, on every thread, before the claims commit: a
	 * message that cannot be made is failed in the same transaction. */
	if (rc == 0 && W->par)
		rc = compose_batch(W, b, now);
	for (size_t i = 0; rc == 0 && i < b->ncamps && W->o->ntest == 0; i++)
		if (b->camps[i].want > 0)
			rc = save_links(W, &b->camps[i]);
	return rc == 0 ? store_commit(W->store) : rc;
}

/* What a batch's transaction changes of each campaign's worker state, kept to undo it. */
struct worker_saved {
	size_t links;
	bool walking;
	int64_t ahead;
};

/* undo - the transaction rolled back: what the batch made is not so */
static void
undo(struct sender_worker *W, struct batch *b, const struct worker_saved *links_saved, bool tested)
{
	store_rollback(W->store);
	/* Nothing was recorded: the jobs rendered in this batch are not sent (their messages
	 * are still queued). */
	for (size_t i = 0; i < b->njobs; i++)
		sjob_free(b->jobs[i]);
	b->njobs = 0;
	for (size_t i = 0; i < b->ncamps; i++) {
		struct batch_camp *bc = &b->camps[i];
		bc->w->links_saved = links_saved[i].links;
		bc->w->walking = links_saved[i].walking;
		bc->w->ahead = links_saved[i].ahead;
		bc->want = bc->claimed = bc->withdrawn = 0;
		bc->made = 0;
		bc->recovered = 0;
		bc->walking = bc->w->walking;
		bc->paused_now = false;
	}
	W->tested = tested;
	buf_reset(&b->proofs);
}

void
sender_batch_run(struct sender_worker *W, struct batch *b)
{
	int64_t now = (int64_t)time(NULL);
	/* Reads first, outside the transaction: in WAL mode they never wait for a writer, so
	 * the look for suppressions goes on while another process holds the write lock. */
	if (b->watch)
		watch(W, b);
	struct worker_saved *links_saved = xcalloc(b->ncamps + 1, sizeof(*links_saved));
	for (size_t i = 0; i < b->ncamps; i++) {
		links_saved[i].links = b->camps[i].w->links_saved;
		links_saved[i].walking = b->camps[i].w->walking;
		links_saved[i].ahead = b->camps[i].w->ahead;
	}
	bool tested = W->tested;
	int rc = write_and_claim(W, b, now);
	if (rc < 0) {
		undo(W, b, links_saved, tested);
		free(links_saved);
		if (rc == STORE_E_BUSY && !b->fail) {
			/* Another writer held the database past the busy timeout (a long import):
			 * the outcomes are kept and written by the next try; nothing new starts
			 * until the database is free again. */
			b->busy = true;
			return;
		}
		if (!b->fail) {
			snprintf(b->err, sizeof(b->err), "database: %s", store_errmsg(W->store));
			b->fail = SENDER_E_STORE;
		}
		return;
	}
	free(links_saved);
	/* A pause or cancel from another process stops new work within about a second (the
	 * batch that notices claims nothing; what is claimed goes back to the queue). */
	if (b->check && W->o->ntest == 0) {
		b->yield = start_due(W);
		for (size_t i = 0; i < b->ncamps; i++) {
			struct batch_camp *bc = &b->camps[i];
			char state[16], why[256];
			/* Paused by this sender (auto-pause) is not another process's hold. */
			if (bc->cancelled || bc->paused || bc->paused_now ||
			    store_campaign_state_get(W->store, bc->c->camp.id, state, why,
			                             sizeof(why)) < 0)
				continue;
			if (strcmp(state, "paused") == 0 || strcmp(state, "cancelled") == 0) {
				snprintf(bc->held, sizeof(bc->held), "%s", state);
				snprintf(bc->held_why, sizeof(bc->held_why), "%s",
				         why[0] ? why : state);
			}
		}
	}
	/* A changed domain policy reaches a running send within a few seconds. */
	int64_t v;
	if (b->policies && store_policy_version(W->store, &v) == 0 && v != W->policy_version &&
	    store_policy_load_all(W->store, &b->rows, &b->nrows) == 0) {
		W->policy_version = v;
		b->policies_changed = true;
	}
}
