/* sender - a campaign's due messages → the pool → outcomes in SQLite (see sender.h). */
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

#include "kirim/bounce.h"
#include "kirim/buf.h"
#include "kirim/clock.h"
#include "kirim/campaign.h"
#include "kirim/composer.h"
#include "kirim/config.h"
#include "kirim/dns.h"
#include "kirim/lease.h"
#include "kirim/log.h"
#include "kirim/policy.h"
#include "kirim/pool.h"
#include "kirim/route.h"
#include "kirim/smtp_outcome.h"
#include "kirim/smtp_url.h"
#include "kirim/smtp_wire.h"
#include "kirim/store_bounce.h"
#include "kirim/store_dest.h"
#include "kirim/store_lifecycle.h"
#include "kirim/store_policy.h"
#include "kirim/store_sender.h"
#include "kirim/store_serve.h"
#include "kirim/strmap.h"
#include "kirim/throttle.h"
#include "kirim/when.h"
#include "kirim/when_tz.h"
#include "kirim/xmalloc.h"

enum {
	SENDER_TICK_MS = 250,
	/* Rendered bytes in flight at most (each is copied once more into its connection's
	 * write buffer): what keeps memory flat whatever the concurrency and message size. */
	SENDER_MAX_INFLIGHT_BYTES = 16 << 20,
	/* ... direct: SENDER_DIRECT_WINDOW messages of 4 KB; see there. */
	SENDER_DIRECT_INFLIGHT_BYTES = 48 << 20,
	/* How long a domain's DNS answer is reused in a run, whatever its TTL says (the dns
	 * module caches by TTL too; this only spares a look-up per message). */
	SENDER_DNS_MIN_S = 5,
	SENDER_DNS_MAX_S = 3600,
	SENDER_DNS_TEMPFAIL_S = 30,
	/* How often a running sender looks for changed domain policies. */
	SENDER_POLICY_CHECK_S = 3,
	/* ... and for a pause or cancel from another process (the worker's batches). */
	SENDER_STATE_CHECK_S = 1,
	/* Messages in flight at least, direct: many destinations share the window, and a
	 * destination waiting for a connection slot needs a queue worth the connect (the
	 * pool gives slots to the longest queues): with 100 destinations, about 120 each. */
	SENDER_DIRECT_WINDOW = 12288,
	/* How often a running sender looks for suppressions made since it started (the
	 * database and kirim serve's journal): what is claimed and not yet on the wire is
	 * withdrawn when its address, domain or contact appears there. */
	SENDER_WATCH_MS = 500,
	/* A busy database (another writer past the busy timeout): the next try after this
	 * long; outcomes wait in memory meanwhile (bounded: nothing new is claimed). */
	SENDER_BUSY_RETRY_MS = 200,
	/* A run of NXDOMAIN answers older than this is stale: the next one starts anew. */
	SENDER_NXDOMAIN_STALE_S = 86400,
	/* A domain delivered to within this long is never bounced on a DNS answer. */
	SENDER_NXDOMAIN_TRUST_S = 30 * 86400,
};

struct scamp;

/* One outcome waiting to be written. Strings are owned. */
struct sresult {
	struct scamp *c; /* the campaign of the message */
	int64_t message_id;
	enum outcome outcome;
	int attempted; /* 0: handed back unattempted (shutdown) */
	int withdrawn; /* unattempted because its address was suppressed meanwhile */
	int attempts;  /* attempts made before this one */
	int64_t queued_at;
	int64_t not_before;         /* unattempted: the earliest next attempt (0: now) */
	const char *reason, *klass; /* the bounce classifier's, for a failure (static) */
	enum smtp_stage stage;
	int code;
	char *ecode, *text, *host, *tls, *dest;
	char *rcpt;   /* proofs only: the address */
	char *domain; /* an NXDOMAIN failure only: the recipient's domain */
};

/* One message on its way: the job the pool carries, and what it needs. */
struct sjob {
	struct smtp_job job;
	struct scamp *c;
	struct pool_dest *pd; /* where it was submitted (NULL before) */
	bool gone;            /* withdrawn by sender_keep: suppressed meanwhile */
	int64_t message_id;
	int64_t contact_id;
	int attempts;
	int64_t queued_at;
	const char *rcpts[1];
	char *rcpt;
	char *domain;              /* the recipient's, A-label */
	char tz[WHEN_TZ_NAME_MAX]; /* with a send window: the recipient's zone, "" = the campaign's
	                            */
	char sender[ADDRESS_MAX + 1];
	struct buf data; /* the message in its wire form (dot-stuffed, ending in CRLF.CRLF) */
	struct sresult res;
};

struct sender;

/* A destination of a direct send: its pool destination, what it was made for (to apply
 * policies again when they change) and its warm-up count for the day. */
struct sdest {
	char *key;
	char domain[256]; /* the first domain routed to it */
	char *hosts[DNS_MAX_HOSTS];
	size_t nhosts;
	struct pool_dest *pd;
	char warmup[POLICY_WARMUP_MAX];
	int64_t warmup_start; /* Unix day */
	int64_t day;          /* the Unix day sent counts */
	long cap;             /* today's warm-up cap, -1 when none */
	long sent;            /* attempts today, this run's and the database's */
};

/* A throttle change waiting to be saved in the destinations table. Strings owned. */
struct sdstate {
	struct store_dest_state d;
	char *name, *domain, *change, *note;
};

/* A recipient domain of a direct send: its destination once resolved, the jobs waiting
 * for its look-up meanwhile, or why it cannot be reached (until expires). */
struct sdomain {
	struct sender *S;
	char name[256];
	bool resolving;
	bool invalid;   /* not a domain name at all: no look-up was made */
	bool dns_no;    /* the last answer said no such domain, or no host for mail: to be
	                   confirmed before it bounces hard (sender_write_result) */
	double expires; /* clock_seconds() */
	struct sdest *dest;
	char ecode[8];
	char error[512];
	struct sjob **wait;
	size_t nwait, capwait;
};

/*
 * A campaign of the run: a sender sends one (kirim send) or several at once (kirim run),
 * all through one pool, so that they share each destination's limits and the global one.
 * Fields marked (worker) belong to the batch running on the worker thread.
 */
struct scamp {
	struct sender *S;
	struct store_campaign camp;
	struct campaign_composer cc;
	struct sender_stats *st; /* this campaign's figures (the run's own when only one) */
	/* Bounces: its totals (loop) and the copy a batch judges (worker). */
	struct store_bounce_totals totals, wtotals;
	bool paused; /* paused itself (auto-pause): nothing new starts */
	char pause_why[256];
	char held[16];      /* "paused" or "cancelled" by another process: nothing new starts */
	bool stopped;       /* its queued jobs were handed back (held, paused) */
	bool exhausted;     /* a claim found less than it asked: nothing more due in this run */
	int want, claimed;  /* this batch's (worker) */
	int wwithdrawn;     /* this batch's claims withdrawn as suppressed (worker) */
	size_t links_saved; /* click-tracking links written to the campaign so far */
	/* Its send window (options.window, in options.tz or each recipient's own "timezone"
	 * attribute), checked on the loop as jobs are routed. */
	bool has_window;
	struct when_window send_window;
	char camp_tz[WHEN_TZ_NAME_MAX];
	struct strmap zones; /* zone name → struct szone */
	uint64_t due;
};

struct sender {
	uv_loop_t loop;
	struct store *store;
	const struct sender_opts *o;
	struct sender_stats *st;
	struct scamp *camps;
	size_t ncamps;
	size_t turn;    /* the campaign whose share of a batch comes first (round robin) */
	struct buf msg; /* the worker's scratch: one rendered message */
	struct pool *pool;
	struct pool_dest *dest; /* the relay; NULL when direct */
	/* Direct delivery. */
	struct dns *dns;
	struct strmap domains;    /* name → struct sdomain */
	struct strmap dests;      /* MX host set → struct sdest */
	struct strmap sent_today; /* destination → attempts today before this run (intptr_t) */
	/* Domain policies: the rows in use (loop), fresh ones loaded by a batch (worker). */
	struct policy *rows, *new_rows;
	size_t nrows, nnew_rows;
	bool policies_changed;
	int64_t policy_version;
	double policy_checked;
	/* Bounces: suppression and auto-pause rules. */
	struct store_bounce_rules rules;
	bool tested; /* the proofs are rendered */
	double state_checked;
	/* Throttle changes to save: collected on the loop, written by the next batch. */
	struct sdstate *dstates, *wdstates;
	size_t ndstates, nwdstates;
	struct pool_dest_config mx; /* settings of every MX destination */
	unsigned mx_port;
	uv_timer_t tick;
	uv_work_t work;
	bool working;
	bool draining; /* no more claims: nothing due, or stopping */
	bool yield;    /* o->start_due said something else should start (worker) */
	bool stopping;
	bool finished;
	int fail;
	char err[512];
	/* Outcomes collected on the loop, written by the next batch. */
	struct sresult *pending;
	size_t npending, cappending;
	/* What the running batch writes (in) and produced (out). */
	struct sresult *wres;
	size_t nwres;
	struct sjob **wjobs;
	size_t nwjobs;
	int want_claim;
	size_t inflight;
	size_t inflight_bytes;
	size_t avg_bytes; /* of the messages rendered so far (0 before the first) */
	unsigned window;
	size_t max_bytes; /* rendered bytes in flight at most */
	uint64_t due;
	double t0;
	/* This process as a sender (store_sender.h): its row, and when its lease was renewed. */
	struct store_sender_row me;
	double lease_renewed;
	/* Suppressions since the run started (loop): "a:ADDRESS" (lower case), "d:DOMAIN",
	 * "c:CONTACT" (unsubscribed everywhere, journaled), "l:LIST:CONTACT" (from one list).
	 * The worker finds new ones (wgone), the loop adds them here. */
	struct strmap gone;
	char **wgone;
	size_t nwgone, capwgone;
	int64_t supp_after, journal_after, removals_since;
	double watched;
	/* Domains delivered to since the last batch (loop), written by the next (worker). */
	struct strmap delivered;
	char **wdelivered;
	size_t nwdelivered;
	/* The database was busy: what the batch could not write waits, the next try at. */
	bool busy;
	double busy_since, retry_at;
};

/* scamp_active - whether c may take new work */
static bool
scamp_active(const struct scamp *c)
{
	return !c->exhausted && !c->paused && !c->held[0];
}

static void
sresult_clear(struct sresult *r)
{
	free(r->ecode);
	free(r->text);
	free(r->host);
	free(r->tls);
	free(r->dest);
	free(r->rcpt);
	free(r->domain);
	memset(r, 0, sizeof(*r));
}

static void
sjob_free(struct sjob *j)
{
	if (j == NULL)
		return;
	sresult_clear(&j->res);
	buf_free(&j->data);
	free(j->rcpt);
	free(j->domain);
	free(j);
}

/* ---- worker thread: write outcomes, claim and render the next batch ---------------------- */

/* sender_proof_line - one proof's line in the run's report (proofs are recorded nowhere) */
static void
sender_proof_line(struct sender *S, const char *rcpt, const char *outcome, int code,
                  const char *ecode, const char *text)
{
	size_t n = strlen(S->st->tests);
	snprintf(S->st->tests + n, sizeof(S->st->tests) - n, "%s %s %d %s %.120s\n",
	         rcpt ? rcpt : "-", outcome, code, ecode && *ecode ? ecode : "-", text ? text : "");
}

static int
sender_write_result(struct sender *S, const struct sresult *r, int64_t now)
{
	if (r->message_id < 0) {
		sender_proof_line(S, r->rcpt,
		                  r->attempted ? smtp_outcome_name(r->outcome) : "not-sent",
		                  r->code, r->ecode, r->text);
		return 0;
	}
	struct store_result w = {
	    .message_id = r->message_id,
	    .stage = r->attempted ? smtp_session_stage_name(r->stage) : NULL,
	    .code = r->code,
	    .ecode = r->ecode,
	    .text = r->text,
	    .host = r->host,
	    .tls = r->tls,
	    .dest = r->dest,
	    .reason = r->reason,
	    .klass = r->klass,
	    .count_attempt = r->attempted,
	};
	struct store_domain_health dh;
	if (r->withdrawn) {
		/* Suppressed after it was claimed, before it went on the wire. */
		w.state = "suppressed";
		w.event = "deferred"; /* not written: no attempt */
	} else if (!r->attempted && r->not_before && now - r->queued_at >= S->o->max_age) {
		/* Never sent, its destination down past the maximum age: it expires as a
		 * deferred one does; the expiry is its one recorded event. */
		w.state = w.event = "bounced";
		w.reason = "expired";
		w.klass = "soft";
		w.count_attempt = 1;
	} else if (!r->attempted) {
		/* Handed back unattempted; a campaign cancelled meanwhile keeps nothing queued. */
		w.state = strcmp(r->c->held, "cancelled") == 0 ? "cancelled" : "queued";
		w.event = "deferred";
		w.next_attempt_at = r->not_before;
	} else if (r->domain && r->outcome == OUTCOME_BOUNCED) {
		/*
		 * NXDOMAIN: one answer is not proof (a flaky resolver can say it of any
		 * domain). It bounces hard only once the domain has answered NXDOMAIN for
		 * nxdomain_confirm seconds, and never while it had a delivery in the last
		 * 30 days; until then the message is deferred to when it would be confirmed.
		 */
		int rc = store_sender_nxdomain(S->store, r->domain, now, SENDER_NXDOMAIN_STALE_S,
		                               &dh);
		if (rc < 0)
			return rc;
		bool trusted = dh.delivered_at > now - SENDER_NXDOMAIN_TRUST_S;
		bool confirmed = now - dh.nxdomain_first >= S->o->nxdomain_confirm_s;
		if (trusted || !confirmed) {
			struct sresult d = *r;
			d.outcome = OUTCOME_DEFERRED;
			d.domain = NULL;
			char text[600];
			snprintf(text, sizeof(text), "%s (%s)", r->text ? r->text : "",
			         trusted ? "the domain had a delivery in the last 30 days: not "
			                   "bounced on a DNS answer"
			                 : "not yet confirmed: the domain must answer NXDOMAIN "
			                   "again later before its addresses bounce");
			d.text = text;
			d.klass = "soft";
			/* Not before it could be confirmed (the deferral's own delay if later). */
			d.not_before = trusted ? 0 : dh.nxdomain_first + S->o->nxdomain_confirm_s;
			return sender_write_result(S, &d, now);
		}
		w.state = w.event = "bounced";
	} else if (r->outcome == OUTCOME_DEFERRED && now - r->queued_at >= S->o->max_age) {
		/* Deferred past the maximum age: bounced as expired (RFC 3463 4.4.7), a soft
		 * bounce, like Postfix's maximal_queue_lifetime. */
		w.state = w.event = "bounced";
		w.reason = "expired";
		w.klass = "soft";
	} else if (r->outcome == OUTCOME_DEFERRED) {
		/* Exponential with jitter, so a batch deferred together does not come back
		 * together; the jitter is a hash of the message and attempt, not a clock. */
		uint64_t h =
		    (uint64_t)r->message_id * 0x9E3779B97F4A7C15ull + (uint64_t)r->attempts;
		h ^= h >> 29;
		double rnd = (double)(h % 1000003) / 1000003.0;
		double delay =
		    throttle_retry_delay(r->attempts + 1, S->o->retry_first, S->o->retry_max, rnd);
		w.state = "queued";
		w.event = "deferred";
		w.next_attempt_at = now + (int64_t)delay;
		if (r->not_before > w.next_attempt_at)
			w.next_attempt_at = r->not_before;
	} else {
		w.state = w.event = smtp_outcome_name(r->outcome);
	}
	int rc = store_message_result(S->store, &w, now);
	if (rc == 0 && strcmp(w.event, "bounced") == 0 && w.klass) {
		/* A hard bounce suppresses the address at once; soft ones when they add up. */
		char source[512];
		const char *supp;
		snprintf(source, sizeof(source), "campaign %s: %s %d %s %.300s", r->c->camp.name,
		         w.stage ? w.stage : "", w.code, w.ecode ? w.ecode : "",
		         w.text ? w.text : "");
		rc = store_bounce_suppress(S->store, r->message_id, w.klass, &S->rules, source,
		                           &supp);
		if (rc == 0 && supp)
			log_info("msg=%lld suppressed=%s", (long long)r->message_id, supp);
	}
	return rc;
}

struct claim_ctx {
	struct sender *S;
	struct scamp *c;
	int64_t now;
	int claimed; /* rows claimed, rendered or not */
};

static int
sender_render_one(void *arg, const struct store_claimed *m)
{
	struct claim_ctx *cx = arg;
	struct sender *S = cx->S;
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
		json_t *a = json_loads(m->attrs, 0, NULL);
		const char *tz = json_string_value(json_object_get(a, "timezone"));
		snprintf(j->tz, sizeof(j->tz), "%s", tz ? tz : "");
		json_decref(a);
	}
	struct composer_recipient r = {m->contact_id, m->email, m->attrs};
	buf_reset(&S->msg);
	if (composer_render(c->cc.composer, &r, cx->now, 0, &S->msg, j->sender, err, sizeof(err)) <
	    0) {
		/* This recipient's message cannot be made: failed now, with the reason. */
		struct sresult fr = {.c = c,
		                     .message_id = m->message_id,
		                     .outcome = OUTCOME_FAILED,
		                     .attempted = 1,
		                     .attempts = m->attempts,
		                     .queued_at = m->queued_at,
		                     .rcpt = m->message_id < 0 ? xstrdup(m->email) : NULL,
		                     .stage = SMTP_STAGE_CONNECT};
		buf_reset(&j->data);
		buf_printf(&j->data, "cannot render the message: %s", err);
		fr.text = xstrdup(j->data.data);
		int rc = sender_write_result(S, &fr, cx->now);
		sresult_clear(&fr);
		sjob_free(j);
		log_warn("msg=%lld result=failed reason=\"cannot render: %s\"",
		         (long long)m->message_id, err);
		return rc;
	}
	/* The wire form and the 8-bit check are made here, on the worker, not on the loop. */
	buf_reserve(&j->data, S->msg.len + S->msg.len / 32 + 16); /* one allocation, not ten */
	smtp_wire_encode(&j->data, S->msg.data, S->msg.len);
	j->job.flags =
	    SMTP_JOB_WIRE |
	    (smtp_wire_has_8bit(S->msg.data, S->msg.len) ? SMTP_JOB_8BIT : SMTP_JOB_7BIT);
	j->rcpts[0] = j->rcpt;
	j->job.sender = j->sender;
	j->job.rcpts = j->rcpts;
	j->job.nrcpt = 1;
	j->job.data = j->data.data;
	j->job.len = j->data.len;
	j->job.user = j;
	S->wjobs[S->nwjobs++] = j;
	return 0;
}

/* sender_test_one - render proof i for its address: a list member's own attributes when
 * it is one, else none (the built-in fields only) */
static int
sender_test_one(struct sender *S, struct claim_ctx *cx, size_t i)
{
	const char *to = S->o->test_rcpts[i];
	struct address a;
	const char *why = "";
	if (address_parse(to, strlen(to), 0, &a, &why) < 0) {
		sender_proof_line(S, to, "not-sent", 0, NULL, why);
		return 0;
	}
	struct store_contact k;
	bool member = store_list_member(S->store, cx->c->camp.list_id, a.key, &k) == 0;
	struct store_claimed m = {
	    .message_id = -(int64_t)(i + 1),
	    .contact_id = member ? k.id : 0,
	    .email = a.email,
	    .attrs = member && k.attrs ? k.attrs : "{}",
	    .domain = a.domain,
	    .queued_at = cx->now,
	};
	int rc = sender_render_one(cx, &m);
	if (member)
		store_contact_clear(&k);
	return rc;
}

/* o_start_due - whether the owner wants the run to end for something due (worker) */
static bool
o_start_due(struct sender *S)
{
	return S->o->start_due && S->o->start_due(S->o->start_due_arg, S->store) > 0;
}

/* sender_claim - claim and render up to want messages of c (worker) */
static int
sender_claim(struct sender *S, struct scamp *c, int64_t now, int want)
{
	struct claim_ctx cx = {S, c, now, 0};
	int withdrawn = 0;
	c->want = want;
	int rc = store_messages_claim(S->store, c->camp.id, S->me.id, now, want, sender_render_one,
	                              &cx, &withdrawn);
	/* Rows, not jobs: a message that fails to render, or was suppressed since it was
	 * queued, must not look like the end of what is due. */
	c->claimed = cx.claimed + withdrawn;
	c->wwithdrawn += withdrawn;
	if (rc == 0) {
		/* New tracked links reach the database before the messages that carry them. */
		size_t n = composer_links(c->cc.composer, NULL);
		if (n > c->links_saved) {
			struct buf links = BUF_INIT;
			composer_links(c->cc.composer, &links);
			if ((rc = store_campaign_set_links(S->store, c->camp.id, links.data)) == 0)
				c->links_saved = n;
			buf_free(&links);
		}
	}
	return rc;
}

/* sender_interleave - the batch's jobs one campaign after another in turn (claimed one
 * campaign's run after another's), so that each destination's queue serves them evenly */
static void
sender_interleave(struct sender *S)
{
	if (S->ncamps < 2 || S->nwjobs < 2)
		return;
	struct sjob **out = xcalloc(S->nwjobs, sizeof(*out));
	size_t *at =
	    xcalloc(S->nwjobs + 1, sizeof(*at)); /* where each run of one campaign starts */
	size_t k = 0, runs = 0;
	for (size_t i = 0; i < S->nwjobs; i++)
		if (i == 0 || S->wjobs[i]->c != S->wjobs[i - 1]->c)
			at[runs++] = i;
	at[runs] = S->nwjobs;
	size_t *next = xcalloc(runs, sizeof(*next));
	for (size_t r = 0; r < runs; r++)
		next[r] = at[r];
	while (k < S->nwjobs)
		for (size_t r = 0; r < runs; r++)
			if (next[r] < at[r + 1])
				out[k++] = S->wjobs[next[r]++];
	memcpy(S->wjobs, out, S->nwjobs * sizeof(*out));
	free(next);
	free(at);
	free(out);
}

/* gone_add - one more key of what may no longer be mailed, for the loop (worker) */
static void
gone_add(struct sender *S, const char *key)
{
	if (S->nwgone == S->capwgone) {
		S->capwgone = S->capwgone ? S->capwgone * 2 : 64;
		S->wgone = xrealloc(S->wgone, S->capwgone * sizeof(*S->wgone));
	}
	S->wgone[S->nwgone++] = xstrdup(key);
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
		snprintf(key, sizeof(key), "l:%lld:%lld", (long long)list_id, (long long)contact_id);
	else
		snprintf(key, sizeof(key), "c:%lld", (long long)contact_id);
	gone_add(arg, key);
	return 0;
}

/*
 * sender_watch - what became unmailable since the last look (worker, outside
 * any transaction: reads never wait for a writer in WAL mode, so this goes
 * on while another process holds the write lock): new suppressions, kirim
 * serve's journaled unsubscribes, and list-scope unsubscribes folded since.
 */
static void
sender_watch(struct sender *S)
{
	int64_t now = (int64_t)time(NULL);
	if (store_sender_suppressions(S->store, &S->supp_after, watch_suppression, S) < 0 ||
	    store_sender_journal(S->store, &S->journal_after, watch_removal, S) < 0 ||
	    store_sender_removals(S->store, S->removals_since, watch_removal, S) < 0)
		log_warn("could not look for new suppressions error=\"%s\"", store_errmsg(S->store));
	else
		S->removals_since = now - 120; /* a fold's events carry the unsubscribe's time */
}

/* What a batch changes in the campaigns before it commits: put back when it rolls back. */
struct camp_undo {
	bool paused;
	size_t links_saved;
};

static void
sender_work(uv_work_t *w)
{
	struct sender *S = w->data;
	int64_t now = (int64_t)time(NULL);
	if (S->o->ntest == 0 && clock_seconds() - S->watched >= SENDER_WATCH_MS / 1000.0) {
		S->watched = clock_seconds();
		sender_watch(S);
	}
	struct camp_undo *undo = xcalloc(S->ncamps, sizeof(*undo));
	for (size_t i = 0; i < S->ncamps; i++)
		undo[i] = (struct camp_undo){S->camps[i].paused, S->camps[i].links_saved};
	bool tested = S->tested;
	int rc = store_begin(S->store);
	for (size_t i = 0; rc == 0 && i < S->nwres; i++)
		rc = sender_write_result(S, &S->wres[i], now);
	for (size_t i = 0; rc == 0 && i < S->nwdstates; i++)
		rc = store_dest_save(S->store, &S->wdstates[i].d);
	for (size_t i = 0; rc == 0 && i < S->nwdelivered; i++)
		rc = store_sender_delivered(S->store, S->wdelivered[i], now);
	if (rc == 0 && S->me.id && clock_seconds() - S->lease_renewed >= LEASE_RENEW_S) {
		rc = store_sender_renew(S->store, S->me.id, now + LEASE_S);
		if (rc == STORE_E_NOTFOUND) {
			/* Another sender judged this one dead and took its campaigns: sending on
			 * would mail what it sends too. */
			store_rollback(S->store);
			snprintf(S->err, sizeof(S->err),
			         "another sender took this one's campaigns over (its lease had "
			         "expired): stopping");
			S->fail = SENDER_E_STORE;
			S->nwjobs = 0;
			free(undo);
			return;
		}
		if (rc == 0)
			S->lease_renewed = clock_seconds();
	}
	for (size_t i = 0; rc == 0 && i < S->ncamps && S->o->ntest == 0; i++) {
		struct scamp *c = &S->camps[i];
		c->want = c->claimed = c->wwithdrawn = 0;
		if (c->paused || !store_bounce_pause_why(&S->rules, &c->wtotals, c->pause_why,
		                                         sizeof(c->pause_why)))
			continue;
		rc = store_campaign_pause(S->store, c->camp.id, c->pause_why);
		c->paused = rc >= 0; /* nothing new starts */
		rc = rc < 0 ? rc : 0;
	}
	if (rc == 0 && S->want_claim > 0 && S->o->ntest) {
		/* Proofs: one batch of the given addresses, then nothing more. */
		S->wjobs = xcalloc(S->o->ntest, sizeof(*S->wjobs));
		struct claim_ctx cx = {S, &S->camps[0], now, 0};
		for (size_t i = 0; rc == 0 && i < S->o->ntest && !S->tested; i++)
			rc = sender_test_one(S, &cx, i);
		S->tested = true;
		S->camps[0].want = (int)S->o->ntest;
		S->camps[0].claimed = (int)S->o->ntest;
	} else if (rc == 0 && S->want_claim > 0) {
		/* The batch is shared among the campaigns that may take work, in turn: the one
		 * first this time is last but one the next. */
		size_t nactive = 0;
		for (size_t i = 0; i < S->ncamps; i++)
			nactive += scamp_active(&S->camps[i]);
		S->wjobs = xcalloc((size_t)S->want_claim, sizeof(*S->wjobs));
		int left = S->want_claim;
		for (size_t k = 0; rc == 0 && k < S->ncamps && nactive; k++) {
			struct scamp *c = &S->camps[(S->turn + k) % S->ncamps];
			if (!scamp_active(c))
				continue;
			int share = left / (int)nactive--;
			if (share > 0)
				rc = sender_claim(S, c, now, share);
			left -= c->claimed;
		}
		S->turn++;
		sender_interleave(S);
	}
	if (rc == 0)
		rc = store_commit(S->store);
	if (rc == STORE_E_BUSY) {
		/*
		 * Another writer held the database past the busy timeout (a long import):
		 * nothing of this batch was written. The outcomes are kept and written by
		 * the next try; the claims and renders are undone (the messages stay
		 * queued), so nothing new starts until the database is free again.
		 */
		store_rollback(S->store);
		S->busy = true;
		for (size_t i = 0; i < S->nwjobs; i++)
			sjob_free(S->wjobs[i]);
		S->nwjobs = 0;
		for (size_t i = 0; i < S->ncamps; i++) {
			S->camps[i].paused = undo[i].paused;
			S->camps[i].links_saved = undo[i].links_saved;
			S->camps[i].want = S->camps[i].claimed = S->camps[i].wwithdrawn = 0;
		}
		S->tested = tested;
		free(undo);
		return;
	}
	S->busy = false;
	free(undo);
	/* A pause or cancel from another process stops new work within about a second (the
	 * batch that notices claims nothing; what is claimed goes back to the queue). */
	if (rc == 0 && S->o->ntest == 0 &&
	    clock_seconds() - S->state_checked >= SENDER_STATE_CHECK_S) {
		S->state_checked = clock_seconds();
		if (o_start_due(S))
			S->yield = true;
		for (size_t i = 0; i < S->ncamps; i++) {
			struct scamp *c = &S->camps[i];
			char state[16], why[256];
			/* c->paused: this sender paused it (auto-pause), not another process. */
			if (c->held[0] || c->paused ||
			    store_campaign_state_get(S->store, c->camp.id, state, why,
			                             sizeof(why)) < 0)
				continue;
			if (strcmp(state, "paused") == 0 || strcmp(state, "cancelled") == 0) {
				snprintf(c->held, sizeof(c->held), "%s", state);
				snprintf(c->pause_why, sizeof(c->pause_why), "%s",
				         why[0] ? why : state);
			}
		}
	}
	/* A changed domain policy reaches a running send within a few seconds. */
	if (rc == 0 && clock_seconds() - S->policy_checked >= SENDER_POLICY_CHECK_S) {
		int64_t v;
		S->policy_checked = clock_seconds();
		if (store_policy_version(S->store, &v) == 0 && v != S->policy_version &&
		    store_policy_load_all(S->store, &S->new_rows, &S->nnew_rows) == 0) {
			S->policy_version = v;
			S->policies_changed = true;
		}
	}
	if (rc < 0) {
		snprintf(S->err, sizeof(S->err), "database: %s", store_errmsg(S->store));
		store_rollback(S->store);
		S->fail = SENDER_E_STORE;
		/* Nothing was recorded: the jobs rendered in this batch are not sent. */
		for (size_t i = 0; i < S->nwjobs; i++)
			sjob_free(S->wjobs[i]);
		S->nwjobs = 0;
	}
}

static void sender_pump(struct sender *S);
static void sender_route(struct sender *S, struct sjob *j);
static void sender_apply_policies(struct sender *S);

static void
sdstate_clear(struct sdstate *x)
{
	free(x->name);
	free(x->domain);
	free(x->change);
	free(x->note);
}

/* sjob_of - whether job is one of campaign arg's (pool_hand_back) */
static bool
sjob_of(const struct smtp_job *job, void *arg)
{
	const struct sjob *j = job->user;
	return j->c == arg;
}

/*
 * sender_keep_batch - the batch could not be written (a busy database): its
 * outcomes, throttle changes and delivered domains go back to wait for the
 * next try, which comes after SENDER_BUSY_RETRY_MS (loop)
 */
static void
sender_keep_batch(struct sender *S)
{
	double now = clock_seconds();
	if (S->busy_since == 0) {
		S->busy_since = now;
		log_warn("database busy (another process holds its write lock past the busy "
		         "timeout): keeping %zu outcomes in memory and trying again; nothing new "
		         "is claimed meanwhile",
		         S->nwres);
	} else if ((long)(now - S->busy_since) / 30 != (long)(S->retry_at - S->busy_since) / 30) {
		log_warn("database still busy after %.0f s: %zu outcomes waiting in memory",
		         now - S->busy_since, S->nwres + S->npending);
	}
	S->retry_at = now + SENDER_BUSY_RETRY_MS / 1000.0;
	size_t n = S->nwres + S->npending;
	if (n > S->cappending) {
		S->cappending = n;
		S->pending = xrealloc(S->pending, n * sizeof(*S->pending));
	}
	if (S->nwres) {
		memmove(S->pending + S->nwres, S->pending, S->npending * sizeof(*S->pending));
		memcpy(S->pending, S->wres, S->nwres * sizeof(*S->pending));
	}
	S->npending = n;
	free(S->wres);
	S->wres = NULL;
	S->nwres = 0;
	S->dstates = xrealloc(S->dstates, (S->ndstates + S->nwdstates) * sizeof(*S->dstates) + 1);
	if (S->nwdstates)
		memcpy(S->dstates + S->ndstates, S->wdstates, S->nwdstates * sizeof(*S->dstates));
	S->ndstates += S->nwdstates;
	free(S->wdstates);
	S->wdstates = NULL;
	S->nwdstates = 0;
	for (size_t i = 0; i < S->nwdelivered; i++)
		strmap_put(&S->delivered, S->wdelivered[i], (void *)1);
}

static void
sender_work_done(uv_work_t *w, int status)
{
	struct sender *S = w->data;
	(void)status;
	/*
	 * S->working stays set until the end: pool_hand_back and pool_shutdown
	 * below hand jobs straight back, and a callback's sender_pump would
	 * otherwise start the next batch on a worker thread while this one still
	 * reads S->camps and S->wjobs (a data race: the new batch's wjobs replaced
	 * this one's before it was detached, which leaked under ASan).
	 */
	if (S->busy)
		sender_keep_batch(S);
	else if (S->busy_since) {
		log_info("database free again after %.1f s: the outcomes kept meanwhile are "
		         "written",
		         clock_seconds() - S->busy_since);
		S->busy_since = 0;
	}
	for (size_t i = 0; i < S->nwres; i++)
		sresult_clear(&S->wres[i]);
	free(S->wres);
	S->wres = NULL;
	S->nwres = 0;
	for (size_t i = 0; i < S->nwdstates; i++)
		sdstate_clear(&S->wdstates[i]);
	free(S->wdstates);
	S->wdstates = NULL;
	S->nwdstates = 0;
	for (size_t i = 0; i < S->nwdelivered; i++)
		free(S->wdelivered[i]);
	free(S->wdelivered);
	S->wdelivered = NULL;
	S->nwdelivered = 0;
	for (size_t i = 0; i < S->nwgone; i++) {
		strmap_put(&S->gone, S->wgone[i], (void *)1);
		free(S->wgone[i]);
	}
	S->nwgone = 0;
	for (size_t i = 0; i < S->ncamps; i++) {
		struct scamp *c = &S->camps[i];
		if (c->wwithdrawn) {
			S->st->suppressed += (uint64_t)c->wwithdrawn;
			if (c->st != S->st)
				c->st->suppressed += (uint64_t)c->wwithdrawn;
			log_info("campaign=%s withdrawn=%d note=\"suppressed since they were "
			         "queued: not sent\"",
			         c->camp.name, c->wwithdrawn);
			c->wwithdrawn = 0;
		}
	}
	if (S->policies_changed) {
		free(S->rows);
		S->rows = S->new_rows;
		S->nrows = S->nnew_rows;
		S->new_rows = NULL;
		S->policies_changed = false;
		log_info("domain policies changed: applying them");
		sender_apply_policies(S);
	}
	if (S->fail)
		S->draining = true;
	bool active = false;
	for (size_t i = 0; i < S->ncamps; i++) {
		struct scamp *c = &S->camps[i];
		if (c->held[0] && !c->stopped) {
			log_warn("campaign=%s %s by another process: finishing what is in flight",
			         c->camp.name, c->held);
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
		if (c->want > 0 && c->claimed < c->want)
			c->exhausted = true; /* nothing more is due in this run */
		active = active || scamp_active(c);
	}
	if (!active || (S->o->ntest && S->tested))
		S->draining = true;
	if (S->yield && !S->stopping) {
		/* The turn ends early: queued jobs come back unattempted, sessions finish. */
		log_info("a scheduled campaign is due: ending the turn to start it");
		S->stopping = true;
		S->draining = true;
		pool_shutdown(S->pool);
	}
	/* After a stop the pool hands these straight back, unattempted. */
	struct sjob **jobs = S->wjobs;
	size_t njobs = S->nwjobs, bytes = 0;
	S->wjobs = NULL;
	S->nwjobs = 0;
	for (size_t i = 0; i < njobs; i++)
		bytes += jobs[i]->data.len;
	if (njobs)
		S->avg_bytes = bytes / njobs + 1;
	S->inflight += njobs;
	S->inflight_bytes += bytes;
	for (size_t i = 0; i < njobs; i++)
		sender_route(S, jobs[i]);
	free(jobs);
	S->working = false;
	sender_pump(S);
}

/* ---- loop thread ------------------------------------------------------------------------ */

static void
sender_finish(struct sender *S)
{
	if (S->finished)
		return;
	S->finished = true;
	if (!S->stopping)
		pool_shutdown(S->pool); /* closes the idle sessions */
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
	if (S->working || S->finished)
		return;
	double now = clock_seconds();
	if (S->busy_since && now < S->retry_at)
		return; /* the database was busy: the tick tries again */
	bool room = !S->draining && S->inflight + S->o->batch / 2 <= S->window &&
	            S->inflight_bytes < S->max_bytes / 2;
	bool flush =
	    S->npending >= S->o->batch || ((S->npending || S->ndstates) && (S->draining || room));
	/* A batch now and then even with nothing to write: to look for new suppressions
	 * while jobs wait for the wire, and to renew the lease. */
	bool ending = S->draining && S->inflight == 0 && S->npending == 0 && S->ndstates == 0;
	bool periodic =
	    !ending && S->o->ntest == 0 &&
	    ((S->inflight > 0 && now - S->watched >= SENDER_WATCH_MS / 1000.0) ||
	     now - S->lease_renewed >= LEASE_RENEW_S);
	flush = flush || periodic;
	if (!room && !flush) {
		if (S->draining && S->inflight == 0 && S->npending == 0 && S->ndstates == 0)
			sender_finish(S);
		return;
	}
	S->wres = S->pending;
	S->nwres = S->npending;
	S->pending = NULL;
	S->npending = S->cappending = 0;
	for (size_t i = 0; i < S->ncamps; i++)
		S->camps[i].wtotals = S->camps[i].totals;
	S->wdstates = S->dstates;
	S->nwdstates = S->ndstates;
	S->dstates = NULL;
	S->ndstates = 0;
	if (S->delivered.len) {
		S->wdelivered = xcalloc(S->delivered.len, sizeof(*S->wdelivered));
		for (size_t i = 0; i < S->delivered.cap; i++)
			if (S->delivered.slots[i].key)
				S->wdelivered[S->nwdelivered++] = xstrdup(S->delivered.slots[i].key);
		strmap_free(&S->delivered);
	}
	S->want_claim = 0;
	if (room) {
		size_t free_slots = S->window - S->inflight;
		if (S->avg_bytes) {
			size_t by_bytes = (S->max_bytes - S->inflight_bytes) / S->avg_bytes;
			if (by_bytes < free_slots)
				free_slots = by_bytes ? by_bytes : 1;
		}
		S->want_claim = (int)(free_slots < S->o->batch ? free_slots : S->o->batch);
	}
	S->working = true;
	S->work.data = S;
	uv_queue_work(&S->loop, &S->work, sender_work, sender_work_done);
}

static void
on_rcpt(void *owner, struct smtp_job *job, size_t i, const struct smtp_result *r,
        const struct pool_conn_info *ci)
{
	struct sjob *j = job->user;
	(void)owner;
	(void)i;
	struct smtp_outcome oc = smtp_outcome_classify(r);
	j->res.c = j->c;
	j->res.message_id = j->message_id;
	j->res.outcome = oc.outcome;
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
	j->res.stage = r->stage;
	j->res.code = r->code;
	j->res.ecode = xstrdup(r->ecode ? r->ecode : "");
	j->res.text = xstrdup(j->gone ? "suppressed after the message was claimed: not sent"
	                      : r->text ? r->text
	                                : "");
	j->res.host = xstrdup(ci->host ? ci->host : "");
	j->res.tls = xstrdup(ci->tls ? ci->tls : "");
	j->res.dest = ci->dest && *ci->dest ? xstrdup(ci->dest) : NULL;
	free(j->res.rcpt);
	j->res.rcpt = j->message_id < 0 ? xstrdup(j->rcpt) : NULL;
	j->res.reason = j->res.klass = NULL;
	if (oc.outcome != OUTCOME_DELIVERED && j->res.attempted) {
		static const enum bounce_stage stages[] = {
		    [SMTP_STAGE_CONNECT] = BOUNCE_STAGE_CONNECT,
		    [SMTP_STAGE_BANNER] = BOUNCE_STAGE_CONNECT,
		    [SMTP_STAGE_EHLO] = BOUNCE_STAGE_HELO,
		    [SMTP_STAGE_STARTTLS] = BOUNCE_STAGE_HELO,
		    [SMTP_STAGE_AUTH] = BOUNCE_STAGE_HELO,
		    [SMTP_STAGE_MAIL] = BOUNCE_STAGE_MAIL,
		    [SMTP_STAGE_RCPT] = BOUNCE_STAGE_RCPT,
		    [SMTP_STAGE_DATA] = BOUNCE_STAGE_DATA,
		    [SMTP_STAGE_DOT] = BOUNCE_STAGE_DATA,
		    [SMTP_STAGE_QUIT] = BOUNCE_STAGE_UNKNOWN,
		    [SMTP_STAGE_DNS] = BOUNCE_STAGE_UNKNOWN,
		};
		const char *text = r->text ? r->text : "";
		struct bounce_verdict v = bounce_classify_stage(
		    stages[r->stage], r->code, r->ecode ? r->ecode : "", text, strlen(text));
		j->res.reason = bounce_reason_name(v.reason);
		/* Only a bounce is hard or soft; a deferral is soft whatever it says. */
		j->res.klass =
		    oc.outcome == OUTCOME_BOUNCED && v.cls == BOUNCE_HARD ? "hard" : "soft";
	}
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
	st->attempted++;
	st->delivered += r->outcome == OUTCOME_DELIVERED;
	st->deferred += r->outcome == OUTCOME_DEFERRED;
	st->bounced += r->outcome == OUTCOME_BOUNCED;
	st->failed += r->outcome == OUTCOME_FAILED;
}

static void
on_job_done(void *owner, struct smtp_job *job, const struct smtp_result *r,
            const struct pool_conn_info *ci)
{
	struct sender *S = owner;
	struct sjob *j = job->user;
	struct scamp *c = j->c;
	struct sender_stats *st = S->st, *cst = c->st;
	(void)r;
	(void)ci;
	S->inflight--;
	S->inflight_bytes -= j->data.len;
	j->res.c = c;
	stats_count(st, &j->res);
	if (cst != st)
		stats_count(cst, &j->res); /* the campaign's own, one of several */
	if (S->dns && j->res.attempted && j->res.outcome == OUTCOME_DELIVERED && j->domain[0])
		strmap_put(&S->delivered, j->domain, (void *)1);
	if (j->res.attempted) {
		c->totals.attempts++;
		c->totals.delivered += j->res.outcome == OUTCOME_DELIVERED;
		c->totals.hard += j->res.outcome == OUTCOME_BOUNCED && j->res.klass &&
		                  strcmp(j->res.klass, "hard") == 0;
		if (j->res.outcome != OUTCOME_DELIVERED)
			log_info(
			    "msg=%lld rcpt=%s result=%s stage=%s code=%d ecode=%s text=\"%.200s\"",
			    (long long)j->message_id, j->rcpt, smtp_outcome_name(j->res.outcome),
			    smtp_session_stage_name(j->res.stage), j->res.code, j->res.ecode,
			    j->res.text);
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

/* ---- direct delivery: domains → MX host sets → destinations ---------------------------- */

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
sdomain_free(void *p)
{
	struct sdomain *dm = p;
	free(dm->wait); /* empty: every job came back */
	free(dm);
}

static void
sdest_free(void *p)
{
	struct sdest *sd = p;
	for (size_t k = 0; k < sd->nhosts; k++)
		free(sd->hosts[k]);
	free(sd->key);
	free(sd);
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
	j->res.not_before = not_before;
	j->res.withdrawn = withdrawn;
	j->res.text = xstrdup(why);
	struct smtp_result r = {SMTP_STAGE_CONNECT, 0, "", why, SMTP_RESULT_ABORTED};
	struct pool_conn_info ci = {"", "", ""};
	on_job_done(S, &j->job, &r, &ci);
}

/* sender_hand_back - j goes back to the queue unattempted, due again at not_before */
static void
sender_hand_back(struct sender *S, struct sjob *j, int64_t not_before, const char *why)
{
	sender_give_back(S, j, not_before, why, false);
}

/*
 * sender_gone - whether j's recipient was suppressed (address or domain),
 * unsubscribed, or removed from the campaign's list since the run started
 * (loop; what was suppressed before a claim never gets this far)
 */
static bool
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
static bool
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
	if (!sender_gone(S, j))
		return false;
	log_info("msg=%lld rcpt=%s result=suppressed note=\"suppressed after it was claimed: "
	         "not sent\"",
	         (long long)j->message_id, j->rcpt);
	sender_give_back(S, j, 0, "suppressed after the message was claimed: not sent", true);
	return true;
}

/* sdest_set_cap - the warm-up cap of sd's day (-1: none) */
static void
sdest_set_cap(struct sdest *sd)
{
	struct route_limits lim = {.warmup_start = sd->warmup_start};
	snprintf(lim.warmup, sizeof(lim.warmup), "%s", sd->warmup);
	sd->cap = route_warmup_cap(&lim, sd->day);
}

/* sdest_today - bring the day's count and warm-up cap up to date */
static void
sdest_today(struct sender *S, struct sdest *sd)
{
	int64_t day = (int64_t)time(NULL) / 86400;
	if (day == sd->day)
		return;
	/* The first day of the run starts from what the database counted today. */
	sd->sent = sd->day ? 0 : (long)(intptr_t)strmap_get(&S->sent_today, sd->key);
	sd->day = day;
	sdest_set_cap(sd);
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
		sdest_today(dm->S, sd);
		if (sd->cap >= 0 && sd->sent >= sd->cap) {
			/* Over today's warm-up cap: wait for tomorrow (UTC), no attempt counted. */
			char why[160];
			snprintf(why, sizeof(why), "warm-up cap of %ld for today reached at %s",
			         sd->cap, sd->key);
			if (sd->sent++ == sd->cap)
				log_info(
				    "dest=%s warmup_cap=%ld reached: the rest waits for tomorrow",
				    sd->key, sd->cap);
			sender_hand_back(dm->S, j, (sd->day + 1) * 86400, why);
			return;
		}
		sd->sent++;
		j->pd = sd->pd;
		pool_submit(sd->pd, &j->job);
		return;
	}
	struct smtp_result r = {SMTP_STAGE_DNS, 0, dm->ecode, dm->error, 0};
	struct pool_conn_info ci = {"", "", ""};
	on_rcpt(dm->S, &j->job, 0, &r, &ci);
	if (dm->dns_no && j->message_id > 0)
		j->res.domain = xstrdup(dm->name);
	on_job_done(dm->S, &j->job, &r, &ci);
}

/*
 * sender_policy - the limits of a destination made for domain with these MX
 * hosts (route.h: the fields some record sets, else the run's options; a
 * domain with its own record gets a destination of its own).
 */
static void
sender_policy(const struct sender *S, const char *domain, const char *const *hosts, size_t nhosts,
              struct route_limits *lim)
{
	struct route_limits run = {
	    .max_conns = S->mx.limits.max_conns,
	    .rate = S->mx.limits.rate,
	    .connect_rate = S->mx.limits.connect_rate,
	    .max_jobs = S->mx.session.max_jobs,
	    .tls = (int)S->mx.session.tls_policy,
	};
	route_resolve(S->rows, S->nrows, domain, hosts, nhosts, &run, lim);
}

/* pool_limits_of - the pool's limits from a destination's route limits */
static struct pool_limits
pool_limits_of(const struct sender *S, const struct route_limits *lim)
{
	return (struct pool_limits){.max_conns = lim->max_conns,
	                            .rate = lim->rate,
	                            .connect_rate = lim->connect_rate,
	                            .adaptive = S->mx.limits.adaptive};
}

/* sender_apply_policies - the policy records changed: new limits for every destination */
static void
sender_apply_policies(struct sender *S)
{
	const struct policy *g = policy_find(S->rows, S->nrows, "global");
	pool_set_rate(S->pool, g && (g->set & POLICY_HAS(POLICY_F_RATE)) ? g->rate : 0);
	for (size_t i = 0; i < S->dests.cap; i++) {
		struct sdest *sd = S->dests.slots[i].value;
		if (sd == NULL)
			continue;
		struct route_limits lim;
		sender_policy(S, sd->domain, (const char *const *)sd->hosts, sd->nhosts, &lim);
		struct pool_limits pl = pool_limits_of(S, &lim);
		pool_dest_set_limits(sd->pd, &pl);
		snprintf(sd->warmup, sizeof(sd->warmup), "%s", lim.warmup);
		sd->warmup_start = lim.warmup_start;
		if (sd->day)
			sdest_set_cap(sd);
	}
}

/*
 * sender_mx_dest - the destination for domain's MX answer: one per set of MX
 * host names (sorted, so the order DNS shuffles equal preferences in does not
 * matter) and policy, made on first use with a route per host address in
 * preference order and the limits its policy gives.
 */
static struct sdest *
sender_mx_dest(struct sender *S, const char *domain, const struct dns_mx_result *r, char *err,
               size_t errsz)
{
	const char *pref_order[DNS_MAX_HOSTS];
	struct buf key = BUF_INIT;
	for (size_t i = 0; i < r->nhosts; i++)
		pref_order[i] = r->hosts[i].name;
	struct route_limits lim;
	sender_policy(S, domain, pref_order, r->nhosts, &lim);
	route_dest_key(pref_order, r->nhosts, lim.own, &key);
	struct sdest *sd = strmap_get(&S->dests, key.data);
	if (sd == NULL) {
		struct sockaddr_storage addrs[POOL_MAX_ROUTES];
		struct pool_route routes[POOL_MAX_ROUTES];
		size_t n = 0;
		for (size_t i = 0; i < r->nhosts; i++) {
			for (size_t k = 0; k < r->hosts[i].naddrs && n < POOL_MAX_ROUTES; k++) {
				addrs[n] = r->hosts[i].addrs[k];
				if (addrs[n].ss_family == AF_INET6)
					((struct sockaddr_in6 *)&addrs[n])->sin6_port =
					    htons((uint16_t)S->mx_port);
				else
					((struct sockaddr_in *)&addrs[n])->sin_port =
					    htons((uint16_t)S->mx_port);
				routes[n].host = r->hosts[i].name;
				routes[n].pref = r->hosts[i].pref;
				routes[n].addr = (const struct sockaddr *)&addrs[n];
				n++;
			}
		}
		struct pool_dest_config dc = S->mx;
		dc.name = key.data;
		dc.routes = routes;
		dc.nroutes = n;
		dc.limits = pool_limits_of(S, &lim);
		dc.session.max_jobs = lim.max_jobs;
		dc.session.tls_policy = (enum tls_policy)lim.tls;
		struct pool_dest *pd = pool_dest_add(S->pool, &dc, err, errsz);
		if (pd != NULL) {
			sd = xcalloc(1, sizeof(*sd));
			sd->key = xstrdup(key.data);
			snprintf(sd->domain, sizeof(sd->domain), "%s", domain);
			for (size_t i = 0; i < r->nhosts; i++)
				sd->hosts[i] = xstrdup(pref_order[i]);
			sd->nhosts = r->nhosts;
			sd->pd = pd;
			snprintf(sd->warmup, sizeof(sd->warmup), "%s", lim.warmup);
			sd->warmup_start = lim.warmup_start;
			strmap_put(&S->dests, key.data, sd);
			S->st->destinations++;
			log_debug("dest=%s routes=%zu max_conns=%u rate=%.3f/s tls=%s", key.data, n,
			          lim.max_conns, lim.rate,
			          tls_policy_name((enum tls_policy)lim.tls));
		}
	}
	buf_free(&key);
	return sd;
}

static void
on_mx(void *arg, const struct dns_mx_result *r)
{
	struct sdomain *dm = arg;
	struct sender *S = dm->S;
	double ttl = r->ttl;
	dm->resolving = false;
	dm->dest = NULL;
	dm->dns_no = (r->status == DNS_NXDOMAIN || r->status == DNS_NODATA) && !dm->invalid;
	dm->ecode[0] = dm->error[0] = '\0';
	if (r->status == DNS_OK) {
		char err[256];
		if ((dm->dest = sender_mx_dest(S, dm->name, r, err, sizeof(err))) == NULL) {
			snprintf(dm->ecode, sizeof(dm->ecode), "4.4.0");
			snprintf(dm->error, sizeof(dm->error), "%s", err);
			ttl = SENDER_DNS_TEMPFAIL_S;
		}
	} else {
		/* RFC 3463: 5.1.2 bad destination system, 5.1.10 null MX (RFC 7505),
		 * 4.4.3 directory server failure. */
		snprintf(dm->ecode, sizeof(dm->ecode), "%s",
		         r->status == DNS_TEMPFAIL ? "4.4.3"
		         : r->status == DNS_NULLMX ? "5.1.10"
		                                   : "5.1.2");
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

/* sender_route - send j to the relay, or to its domain's MX hosts (looking them up first) */
static void
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
		if (dns_resolve_mx(S->dns, dm->name, on_mx, dm) < 0) {
			struct dns_mx_result bad = {.status = DNS_NXDOMAIN,
			                            .error = "not a domain name"};
			dm->invalid = true;
			on_mx(dm, &bad);
		}
	}
}

/* on_throttle - the adaptive throttle changed a destination: save it with the next batch */
static void
on_throttle(void *owner, struct pool_dest *d, const struct pool_dest_info *info)
{
	struct sender *S = owner;
	(void)d;
	S->dstates = xrealloc(S->dstates, (S->ndstates + 1) * sizeof(*S->dstates));
	struct sdstate *x = &S->dstates[S->ndstates++];
	struct sdest *sd = S->dns ? strmap_get(&S->dests, info->name) : NULL;
	x->name = xstrdup(info->name);
	x->domain = xstrdup(sd ? sd->domain : "");
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

static int
sender_count_today(void *arg, const char *dest, int64_t count)
{
	strmap_put(arg, dest, (void *)(intptr_t)count);
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
	sender_report(S);
	sender_pump(S);
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
	campaign_composer_free(&c->cc);
	store_campaign_clear(&c->camp);
}

/* scamp_open - campaign name as c, with what is due queued; a SENDER_E_ code with err */
static int
scamp_open(struct sender *S, const struct config *cfg, const char *name, struct scamp *c, char *err,
           size_t errsz)
{
	struct store *s = S->store;
	const struct sender_opts *o = S->o;
	int rc;
	if ((rc = store_campaign_get(s, name, &c->camp)) < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		return rc == STORE_E_NOTFOUND ? SENDER_E_CONFIG : SENDER_E_STORE;
	}
	if (campaign_composer_new(s, cfg, &c->camp, &c->cc, err, errsz) < 0) {
		memset(&c->cc, 0, sizeof(c->cc)); /* freed by campaign_composer_new */
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
	struct store_sender_row holder;
	if (o->ntest) {
		/* Proofs touch neither the campaign's messages nor its state. */
		memset(&before, 0, sizeof(before));
		before.queued = (int64_t)o->ntest;
	} else {
		/*
		 * One sender per campaign: it holds the campaign (a live other holder
		 * refuses this one), and only then takes back the claims of senders that
		 * are gone. Another sender's claims are never re-queued under it.
		 */
		bool waited = false;
		for (;;) {
			created = recovered = 0;
			if ((rc = store_begin(s)) == 0 &&
			    (rc = store_messages_prepare(s, c->camp.id, c->camp.list_id,
			                                 &created)) == 0 &&
			    (rc = store_sender_hold(s, c->camp.id, S->me.id, lease_alive, NULL,
			                            &holder)) == 0 &&
			    (rc = store_messages_recover(s, c->camp.id, &recovered)) == 0 &&
			    (rc = store_campaign_set_state(s, c->camp.id, "sending")) == 0)
				rc = store_commit(s);
			if (rc < 0)
				store_rollback(s);
			if (rc != STORE_E_BUSY || (o->stop && *o->stop))
				break;
			if (!waited)
				log_warn("campaign=%s database busy (another process holds its write "
				         "lock): waiting",
				         c->camp.name);
			waited = true;
		}
		if (rc == STORE_E_EXISTS) {
			char who[512];
			lease_describe(&holder, who, sizeof(who));
			snprintf(err, errsz,
			         "campaign %s is being sent by %s: one sender at a time per "
			         "campaign; wait for it to finish, or stop it (kill -TERM %lld) and "
			         "send again",
			         c->camp.name, who, (long long)holder.pid);
			return SENDER_E_BUSY;
		}
		if (rc < 0 || store_campaign_counts(s, c->camp.id, &before) < 0) {
			snprintf(err, errsz, "database: %s", store_errmsg(s));
			return SENDER_E_STORE;
		}
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

/* sender_register - this process as a sender; where its look for suppressions starts */
static int
sender_register(struct sender *S)
{
	char command[128];
	if (S->o->ncampaigns)
		snprintf(command, sizeof(command), "run");
	else
		snprintf(command, sizeof(command), "send %.100s", S->o->campaign);
	lease_me(&S->me, command);
	int rc;
	bool waited = false;
	while ((rc = store_sender_register(S->store, &S->me, lease_alive, NULL)) == STORE_E_BUSY &&
	       !(S->o->stop && *S->o->stop)) {
		if (!waited)
			log_warn("database busy (another process holds its write lock): waiting");
		waited = true;
	}
	if (rc < 0 || (rc = store_sender_suppressions_last(S->store, &S->supp_after)) < 0)
		return rc;
	S->lease_renewed = S->watched = clock_seconds();
	S->removals_since = (int64_t)time(NULL) - 120;
	return 0;
}

/* sender_release - this sender lets go of its campaigns (tried for a minute when busy: a
 * row left behind is judged dead by the next sender, as after a crash) */
static void
sender_release(struct sender *S)
{
	if (S->me.id == 0)
		return;
	for (int i = 0; i < 12 && store_sender_release(S->store, S->me.id) == STORE_E_BUSY; i++)
		;
	S->me.id = 0;
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
	if (direct && S->window < SENDER_DIRECT_WINDOW)
		S->window = SENDER_DIRECT_WINDOW;
	struct smtp_url u;
	struct sockaddr_storage addr;
	int tls;
	if (direct) {
		tls = opts.tls >= 0 ? opts.tls : TLS_POLICY_OPPORTUNISTIC;
		if (sender_check_helo(cfg->ehlo, err, errsz) < 0) {
			free(S);
			return SENDER_E_CONFIG;
		}
	} else {
		if (smtp_url_parse(url, &u, err, errsz) < 0 ||
		    sender_resolve(&u, &addr, err, errsz) < 0) {
			free(S);
			return SENDER_E_CONFIG;
		}
		tls = opts.tls >= 0         ? opts.tls
		      : cfg->relay_tls >= 0 ? cfg->relay_tls
		                            : TLS_POLICY_VERIFY;
		if (u.implicit_tls && tls == TLS_POLICY_NONE) {
			snprintf(err, errsz,
			         "smtps:// is TLS from the first byte: --tls none does not fit");
			free(S);
			return SENDER_E_CONFIG;
		}
	}

	/* Who: this process, as a sender with a lease (proofs claim nothing, hold nothing). */
	if (opts.ntest == 0 && (rc = sender_register(S)) < 0) {
		snprintf(err, errsz, "database: %s", store_errmsg(s));
		rc = SENDER_E_STORE;
		goto out;
	}

	/* What: the campaigns and their composers. */
	store_durable(s, true); /* outcomes must survive a power loss: one fsync per batch */
	S->rules = store_bounce_rules_default();
	size_t nnames = opts.ncampaigns ? opts.ncampaigns : 1;
	S->camps = xcalloc(nnames, sizeof(*S->camps));
	for (size_t i = 0; i < nnames; i++) {
		struct scamp *c = &S->camps[S->ncamps];
		const char *name = opts.ncampaigns ? opts.campaigns[i] : opts.campaign;
		char cerr[512];
		c->S = S;
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
	char names[256] = "";
	for (size_t i = 0; i < S->ncamps; i++) {
		size_t n = strlen(names);
		snprintf(names + n, sizeof(names) - n, "%s%s", i ? "," : "", S->camps[i].camp.name);
	}

	/* How: the pool, with one destination for the relay or one per MX host set. */
	uv_loop_init(&S->loop);
	struct pool_cbs cbs = {on_rcpt, on_job_done, on_throttle, sender_keep};
	S->pool = pool_new(&S->loop, opts.concurrency, &cbs, S);
	char helo[256];
	if (cfg->ehlo[0])
		snprintf(helo, sizeof(helo), "%s", cfg->ehlo);
	else if (gethostname(helo, sizeof(helo)) < 0 || helo[0] == '\0')
		snprintf(helo, sizeof(helo), "localhost");
	helo[sizeof(helo) - 1] = '\0';
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
	if (store_policy_seed(s, &added) < 0 || store_policy_version(s, &S->policy_version) < 0 ||
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
		log_info("campaign=%s start due=%llu direct dns=%s mx_port=%u tls=%s "
		         "concurrency=%u per_destination=%u",
		         names, (unsigned long long)S->due,
		         opts.dns_servers ? opts.dns_servers : "resolv.conf", S->mx_port,
		         tls_policy_name((enum tls_policy)tls), opts.concurrency,
		         S->mx.limits.max_conns);
	} else {
		struct pool_route route = {u.host, (const struct sockaddr *)&addr, 0};
		dc.name = "relay";
		dc.routes = &route;
		dc.nroutes = 1;
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
		if ((S->dest = pool_dest_add(S->pool, &dc, err, errsz)) == NULL) {
			rc = SENDER_E_CONFIG;
			goto out_loop;
		}
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
		dns_free(S->dns);
		S->dns = NULL;
		uv_walk(&S->loop, sender_walk_close, NULL);
		uv_run(&S->loop, UV_RUN_DEFAULT);
	}
	pool_free(S->pool);
	if (uv_loop_close(&S->loop) != 0)
		log_error("bug: handles left open on the sender's loop");
	for (size_t i = 0; i < S->ncamps; i++) {
		struct scamp *c = &S->camps[i];
		struct store_campaign_counts *n = &c->st->counts;
		if (store_campaign_counts(s, c->camp.id, n) == 0 && rc == 0 && !c->paused &&
		    opts.ntest == 0)
			store_campaign_set_state(s, c->camp.id,
			                         n->queued || n->claimed ? "sending" : "done");
	}
out:
	sender_release(S);
	strmap_free(&S->gone);
	strmap_free(&S->delivered);
	for (size_t i = 0; i < S->nwgone; i++)
		free(S->wgone[i]);
	free(S->wgone);
	for (size_t i = 0; i < S->npending; i++)
		sresult_clear(&S->pending[i]);
	free(S->pending);
	strmap_free_values(&S->domains, sdomain_free);
	strmap_free_values(&S->dests, sdest_free);
	strmap_free(&S->sent_today);
	free(S->rows);
	free(S->new_rows);
	for (size_t i = 0; i < S->ndstates; i++)
		sdstate_clear(&S->dstates[i]);
	free(S->dstates);
	for (size_t i = 0; i < S->ncamps; i++)
		scamp_clear(&S->camps[i]);
	free(S->camps);
	buf_free(&S->msg);
	free(S);
	return rc;
}
