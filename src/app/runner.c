/* runner - kirim run: schedules, windows, turns of the sender (see runner.h). */
#include "kirim/runner.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kirim/config.h"
#include "kirim/dns.h"
#include "kirim/lease.h"
#include "kirim/log.h"
#include "kirim/store.h"
#include "kirim/store_lifecycle.h"
#include "kirim/store_run.h"
#include "kirim/store_sender.h"
#include "kirim/store_signup.h"
#include "kirim/sts_refresh.h"
#include "kirim/tls_reports_send.h"
#include "kirim/xmalloc.h"

struct due_ctx {
	struct store *s;
	int64_t now;
	unsigned long started;
};

/*
 * start_due - a scheduled campaign whose time has come starts. Its send window is not
 * looked at here: it applies in each recipient's own zone (README), so the sender holds
 * each message until the window opens where its recipient is, and `kirim status` says how
 * many wait and until when.
 */
static int
start_due(void *arg, const struct store_due *d)
{
	struct due_ctx *cx = arg;
	struct store_lifecycle_args a = {.now = cx->now};
	char err[512];
	if (store_lifecycle_apply(cx->s, d->name, "start", &a, NULL, NULL, err, sizeof(err)) < 0) {
		log_warn("campaign=%s cannot start: %s", d->name, err);
		return 0;
	}
	log_info("campaign=%s started scheduled_at=%lld late_s=%lld", d->name,
	         (long long)d->scheduled_at, (long long)(cx->now - d->scheduled_at));
	cx->started++;
	return 0;
}

/* count_startable - a scheduled campaign that start_due would start now */
static int
count_startable(void *arg, const struct store_due *d)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

/*
 * This `kirim run` as one node of several on one database (docs/scale-out.md): its
 * process row, which every turn's sender sends as, and the leader lease. The leader
 * starts the scheduled campaigns and runs the housekeeping; every node sends.
 */
struct node {
	struct lease_node n;
	struct store_sender_row me; /* registered: me.id is its row */
	bool leader;
	bool looked; /* the lease was looked at once */
};

/* node_register - this process as a sender row for its turns (waiting while busy) */
static int
node_register(struct store *s, struct node *nd, const struct runner_opts *o)
{
	int rc;
	lease_me(&nd->me, &nd->n, "run");
	while ((rc = store_sender_register(s, &nd->me, lease_alive, &nd->n)) == STORE_E_BUSY &&
	       !*o->stop)
		;
	return rc;
}

/*
 * node_lead - take or renew the leader lease (once a second: between turns, and from
 * each turn's sender through sender_opts.start_due); whether this node leads now
 */
static bool
node_lead(struct store *s, struct node *nd)
{
	int64_t now = (int64_t)time(NULL);
	struct store_sender_row me = nd->me, holder;
	bool held = false;
	me.lease_until = now + nd->n.lease_s;
	int rc = store_sender_lead(s, "leader", &me, now, lease_alive, &nd->n, &held, &holder);
	if (rc < 0) {
		/* Busy: what it was stands until its lease says otherwise. */
		if (nd->leader && rc != STORE_E_BUSY)
			log_warn("run leader lease not renewed error=\"%s\"", store_errmsg(s));
		return nd->leader;
	}
	if (held && !nd->leader)
		log_info("run leader node=%s pid=%lld note=\"this node starts scheduled campaigns "
		         "and runs the housekeeping\"",
		         nd->n.name, (long long)nd->me.pid);
	else if (!held && nd->leader)
		log_warn("run leader lost to node=%s pid=%lld", holder.node, (long long)holder.pid);
	else if (!held && !nd->looked)
		log_info("run follower leader=%s pid=%lld", holder.node, (long long)holder.pid);
	nd->leader = held;
	nd->looked = true;
	return held;
}

/* due_now - how many scheduled campaigns this node could start now: none unless it leads
 * (sender_opts.start_due: on the sender's worker thread, with its store) */
static int
due_now(void *arg, struct store *s)
{
	int n = 0;
	if (!node_lead(s, arg) ||
	    store_campaigns_due(s, (int64_t)time(NULL), count_startable, &n) < 0)
		return 0;
	return n;
}

/* The campaigns to give a turn, and when the next thing is due. */
struct pick {
	char **names;
	int64_t *ids;
	size_t n, cap;
	int64_t now, next; /* next: earliest time something comes due (0: nothing) */
};

static void
pick_next(struct pick *p, int64_t t)
{
	if (t > 0 && (p->next == 0 || t < p->next))
		p->next = t;
}

static int
pick_sending(void *arg, const struct store_run_campaign *c)
{
	struct pick *p = arg;
	bool fresh = c->queued + c->claimed + c->delivered + c->bounced + c->failed == 0;
	/* A campaign whose messages are still being made has work whatever is queued. */
	if (c->due == 0 && c->claimed == 0 && !fresh && c->walk_upto == 0) {
		pick_next(p, c->next_due);
		return 0;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->names = xrealloc(p->names, p->cap * sizeof(*p->names));
		p->ids = xrealloc(p->ids, p->cap * sizeof(*p->ids));
	}
	p->ids[p->n] = c->id;
	p->names[p->n++] = xstrdup(c->name);
	return 0;
}

static void
pick_clear(struct pick *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
	free(p->ids);
	memset(p, 0, sizeof(*p));
}

static int
log_wait(void *arg, const struct store_run_wait *w)
{
	static const char *const what[] = {"", "to retry after a deferral", "not due yet"};
	char t[32];
	struct tm tm;
	time_t tt = (time_t)w->next;
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
	log_info("campaign=%s waiting=%lld why=%s next=%s", (const char *)arg, (long long)w->count,
	         w->kind == STORE_WAIT_HELD ? w->why : what[w->kind], t);
	return 0;
}

/* log_waiting - after a turn that held messages back: how many wait, what for, until when */
static void
log_waiting(struct store *s, int64_t id, const char *name)
{
	if (store_run_waiting(s, id, (int64_t)time(NULL), 3, log_wait, (void *)name) < 0)
		log_warn("campaign=%s waiting=? error=%s", name, store_errmsg(s));
}

/* nap - sleep up to s seconds, waking early for a stop or reload */
/*
 * purge_signups - the housekeeping of signups: unconfirmed ones older than
 * [signup] pending_days leave their lists (store_signup_purge), at the start
 * and then once a minute. A failure is logged and tried again next time.
 */
static void
purge_signups(struct store *s, const struct config *cfg, int64_t now, int64_t *last)
{
	if (*last && now - *last < 60)
		return;
	*last = now;
	int64_t purged = 0, contacts = 0;
	int64_t before = now - (int64_t)cfg->signup_pending_days * 86400;
	int rc = store_begin(s);
	if (rc == 0 && (rc = store_signup_purge(s, before, now, &purged, &contacts)) == 0)
		rc = store_commit(s);
	else if (rc == 0)
		store_rollback(s);
	if (rc < 0)
		log_warn("run signups purge error=\"%s\"", store_errmsg(s));
	else if (purged)
		log_info("run signups purged=%lld contacts_erased=%lld pending_days=%u",
		         (long long)purged, (long long)contacts, cfg->signup_pending_days);
}

static void
tlsrpt_logged(void *arg, const struct tls_reports_sent *r)
{
	(void)arg;
	if (r->before)
		return;
	if (r->error)
		log_warn("tlsrpt domain=%s uri=%s result=failed error=\"%s\"", r->domain,
		         r->uri[0] ? r->uri : "-", r->error);
	else
		log_info("tlsrpt domain=%s uri=%s result=%s sessions=%lld failures=%lld", r->domain,
		         r->uri[0] ? r->uri : "-", r->uri[0] ? "sent" : "no_record", r->sessions,
		         r->failures);
}

/*
 * send_tls_reports - yesterday's TLS-RPT reports (RFC 8460 5.3), at the start and then
 * once an hour: each domain's goes to each of its rua= URIs once (tls_reports_send.h
 * records it), so the hourly looks only retry what failed, and a new day's go out
 * within the hour after midnight UTC.
 */
static void
send_tls_reports(struct store *s, const struct config *cfg, const struct runner_opts *o,
                 int64_t now, int64_t *last)
{
	if (*last && now - *last < 3600)
		return;
	*last = now;
	struct tls_reports_send_opts so = {
	    .relay_url = o->send.relay_url,
	    .tls = o->send.tls,
	    .allow_plaintext_auth = o->send.allow_plaintext_auth,
	    .dns_servers = o->send.dns_servers,
	    .direct = o->send.direct,
	    .mx_port = o->send.mx_port,
	};
	char err[512];
	int rc = tls_reports_send_day(s, cfg, now / 86400 - 1, &so, tlsrpt_logged, NULL, err,
	                              sizeof(err));
	if (rc < 0)
		log_warn("tlsrpt error=\"%s\"", rc == -1 ? err : store_errmsg(s));
}

static void
sts_logged(void *arg, const struct sts_refreshed *r)
{
	(void)arg;
	if (r->error)
		log_warn("mta_sts domain=%s refresh failed, the cached policy kept until %lld "
		         "error=\"%s\"",
		         r->domain, (long long)r->expires_at, r->error);
	else
		log_info("mta_sts domain=%s id=%s refreshed expires_at=%lld", r->domain, r->id,
		         (long long)r->expires_at);
}

/*
 * refresh_sts - the cached MTA-STS policies close to their expiry fetched again
 * (sts_refresh.h), at the start and then every five minutes: a domain mailed now and
 * then never waits for its policy, and one that can no longer be fetched keeps it until
 * it expires.
 */
static void
refresh_sts(struct store *s, const struct config *cfg, const struct runner_opts *o, int64_t now,
            int64_t *last)
{
	if (!cfg->tls_mta_sts || (*last && now - *last < 300))
		return;
	*last = now;
	struct sts_refresh_opts ro = {.dns_servers = o->send.dns_servers, .port = o->send.sts_port};
	char err[512];
	int rc = sts_refresh_due(s, cfg, now, &ro, sts_logged, NULL, err, sizeof(err));
	if (rc < 0)
		log_warn("mta_sts refresh error=\"%s\"", rc == -1 ? err : store_errmsg(s));
}

static void
nap(const struct runner_opts *o, double s)
{
	for (double t = 0; t < s && !*o->stop && !(o->reload && *o->reload); t += 0.1)
		usleep(100 * 1000);
}

int
runner_run(struct store *s, struct config *cfg, const struct runner_opts *o,
           struct runner_stats *st, char *err, size_t errsz)
{
	memset(st, 0, sizeof(*st));
	log_info("run start turn_s=%.0f", o->turn_s > 0 ? o->turn_s : 30.0);
	/* MX answers outlive a turn: each domain is looked up once per TTL, not once a turn. */
	struct dns_cache *dns_cache = dns_cache_new();
	int ret = 0;
	int64_t purged_at = 0, tlsrpt_at = 0, sts_at = 0;
	struct node nd = {0};
	lease_node_init(&nd.n, o->send.node ? o->send.node : cfg->node_name, cfg->node_lease_s);
	if (node_register(s, &nd, o) < 0) {
		snprintf(err, errsz, "database: %s", store_errmsg(s));
		dns_cache_free(dns_cache);
		return SENDER_E_STORE;
	}
	log_info("run node=%s lease_s=%u", nd.n.name, nd.n.lease_s);
	while (!*o->stop) {
		if (o->reload && *o->reload) {
			*o->reload = 0;
			if (o->reload_cfg && o->reload_cfg(o->reload_arg, cfg) == 0)
				log_info("run configuration reloaded");
			else
				log_warn("run configuration not reloaded: keeping the old one");
		}
		int64_t now = (int64_t)time(NULL);
		int rc = store_sender_renew(s, nd.me.id, now + nd.n.lease_s);
		if (rc == STORE_E_NOTFOUND) {
			/* Judged dead by another node (its lease expired while this one could not
			 * renew it): its claims are theirs now; this process goes on as a new
			 * sender. */
			log_warn("run node=%s lease expired and taken over: registering again",
			         nd.n.name);
			rc = node_register(s, &nd, o);
		}
		if (rc < 0 && rc != STORE_E_BUSY)
			log_warn("run lease not renewed error=\"%s\"", store_errmsg(s));
		rc = 0;
		/* Scheduling and housekeeping are done once, by the leader. */
		if (node_lead(s, &nd)) {
			purge_signups(s, cfg, now, &purged_at);
			send_tls_reports(s, cfg, o, now, &tlsrpt_at);
			refresh_sts(s, cfg, o, now, &sts_at);
			struct due_ctx dx = {s, now, 0};
			rc = store_campaigns_due(s, now, start_due, &dx);
			st->started += dx.started;
		}
		struct pick p = {.now = now};
		if (rc == 0)
			rc = store_run_campaigns(s, "sending", now, pick_sending, &p);
		int64_t sched = 0;
		if (rc == 0)
			rc = store_campaigns_next_due(s, &sched);
		if (rc < 0) {
			snprintf(err, errsz, "database: %s", store_errmsg(s));
			pick_clear(&p);
			ret = SENDER_E_STORE;
			break;
		}
		pick_next(&p, sched);
		bool worked = false;
		if (p.n > 0 && !*o->stop) {
			/* Every campaign with work now sends in the same turn, through one pool:
			 * they share each destination's limits, and each batch is split evenly
			 * among those that still have messages due. */
			struct sender_opts so = o->send;
			struct sender_stats ss, *cs = xcalloc(p.n, sizeof(*cs));
			char serr[1024] = "";
			so.campaign = NULL;
			so.campaigns = (const char *const *)p.names;
			so.ncampaigns = p.n;
			so.campaign_stats = cs;
			so.turn_s = o->turn_s > 0 ? o->turn_s : 30;
			so.stop = o->stop;
			so.dns_cache = dns_cache;
			so.start_due = due_now;
			so.start_due_arg = &nd;
			so.node = nd.n.name;
			so.me = &nd.me;
			rc = sender_run(s, cfg, &so, &ss, serr, sizeof(serr));
			st->turns++;
			st->attempted += ss.attempted;
			st->delivered += ss.delivered;
			st->deferred += ss.deferred;
			st->bounced += ss.bounced;
			st->failed += ss.failed;
			if (rc == SENDER_E_LEASE) {
				/* Its claims are the other nodes' now; this node registers again
				 * at the next look and goes on (its row is gone). */
				log_warn("run turn ended: %s", serr);
				rc = 0;
			}
			if (rc == SENDER_E_STORE) {
				snprintf(err, errsz, "%s", serr);
				free(cs);
				pick_clear(&p);
				ret = rc;
				break;
			}
			if (rc < 0)
				log_warn("campaigns not sent: %s", serr);
			else
				log_info("run turn campaigns=%zu seconds=%.1f connections=%lu "
				         "destinations=%lu dns_queries=%lu",
				         p.n, ss.seconds, ss.connections, ss.destinations,
				         ss.dns_queries);
			/* A turn that could start nothing (a campaign whose template no longer
			 * compiles, say) is not worked: the next look waits a second instead of
			 * spinning. */
			worked = rc == 0 && ss.attempted + ss.handed_back > 0;
			for (size_t i = 0; rc == 0 && i < p.n; i++) {
				log_info(
				    "campaign=%s turn attempted=%llu delivered=%llu deferred=%llu "
				    "bounced=%llu failed=%llu held=%llu seconds=%.1f paused=%s",
				    p.names[i], (unsigned long long)cs[i].attempted,
				    (unsigned long long)cs[i].delivered,
				    (unsigned long long)cs[i].deferred,
				    (unsigned long long)cs[i].bounced,
				    (unsigned long long)cs[i].failed,
				    (unsigned long long)cs[i].handed_back, cs[i].seconds,
				    cs[i].why);
				if (cs[i].handed_back)
					log_waiting(s, p.ids[i], p.names[i]);
			}
			free(cs);
		}
		int64_t next = p.next;
		pick_clear(&p);
		if (worked)
			continue;
		if (o->once && next == 0)
			break;
		/* Nothing to do now: look again in a second (schedules start within one), or at
		 * the next due time if that is sooner. */
		double wait = next > now ? (double)(next - now) : 1.0;
		nap(o, wait < 1.0 ? wait : 1.0);
		if (o->once && next > now && next - now > 2)
			break;
	}
	if (nd.leader)
		store_sender_lead_drop(s, "leader", &nd.me);
	for (int i = 0; i < 12 && store_sender_release(s, nd.me.id) == STORE_E_BUSY; i++)
		;
	log_info("run stop turns=%lu started=%lu attempted=%llu delivered=%llu", st->turns,
	         st->started, (unsigned long long)st->attempted, (unsigned long long)st->delivered);
	dns_cache_free(dns_cache);
	return ret;
}
