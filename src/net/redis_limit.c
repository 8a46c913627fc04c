/* redis_limit - destinations' limits shared through Redis (see redis_limit.h). */
#include "kirim/redis_limit.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "kirim/log.h"
#include "kirim/sockaddr.h"
#include "kirim/throttle.h"
#include "kirim/xmalloc.h"

enum {
	RL_TICK_MS = 250,          /* the timer: reconnects, heartbeats, stale requests */
	RL_HEARTBEAT_MS = 2000,    /* node and lease renewals */
	RL_NODE_TTL_MS = 6000,     /* a node not heard of for this long is gone */
	RL_LEASE_TTL_MS = 30000,   /* a dead node's connection lease frees itself after this */
	RL_AIMD_TTL_MS = 600000,   /* a shared AIMD level nobody changed for 10 min is forgotten */
	RL_STALE_MS = 2000,        /* a request unanswered this long: Redis counts as lost */
	RL_LEASE_RETRY_MS = 100,   /* a cap reached: ask again this much later */
	RL_SPARE_MS = 1000,        /* a lease taken but not used this long is given back */
	RL_BACKOFF_FIRST_MS = 250, /* reconnects: first wait, doubling ... */
	RL_BACKOFF_MAX_MS = 4000,  /* ... up to this */
	RL_GRANT_MAX = 500,        /* tokens in one grant at most */
	RL_SPARE_MAX = 8,          /* leases granted and not used yet, at most */
	RL_COUNT_TTL_MS = 2 * 86400 * 1000, /* a day's warm-up count outlives its day by one */
};

/* A grant is a tenth of a second's worth of tokens (at least one): at 10/s every message
 * costs one round trip, at 1,000/s one in a hundred; what a node reserves and does not
 * use (its queue ran dry) is at most that tenth of a second of the destination's rate. */
#define RL_GRANT_S 0.1

/*
 * The scripts. Times are Redis's (TIME, in ms), so nodes' clocks do not matter. GRANT
 * reserves n tokens of a GCRA at rate per second: the first is due at the theoretical
 * arrival time (or now, after a pause), the rest step ms apart; it answers the delay, the
 * step and the shared AIMD levels. LEASE takes one connection of cap, dropping expired
 * leases first. AIMD writes a node's new levels. BEAT says the node is alive, renews its
 * leases and answers how many nodes are.
 */
static const char script_grant[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local step = 1000 / tonumber(ARGV[1])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1])) or now\n"
    "if tat < now then tat = now end\n"
    "local nt = tat + tonumber(ARGV[2]) * step\n"
    "redis.call('SET', KEYS[1], string.format('%.3f', nt), 'PX', math.ceil(nt - now) + 60000)\n"
    "local a = redis.call('HMGET', KEYS[2], 'seq', 'rate', 'conns', 'note', 'until')\n"
    "return {string.format('%.3f', tat - now), string.format('%.3f', step),\n"
    "        a[1] or '0', a[2] or '0', a[3] or '0', a[4] or '',\n"
    "        tostring(math.max(0, (tonumber(a[5]) or 0) - now))}\n";
static const char script_lease[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "local ok = 0\n"
    "if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then\n"
    "  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])\n"
    "  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)\n"
    "  ok = 1\n"
    "end\n"
    "local a = redis.call('HMGET', KEYS[2], 'seq', 'rate', 'conns', 'note', 'until')\n"
    "return {tostring(ok), a[1] or '0', a[2] or '0', a[3] or '0', a[4] or '',\n"
    "        tostring(math.max(0, (tonumber(a[5]) or 0) - now))}\n";
static const char script_aimd[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)\n"
    "redis.call('HSET', KEYS[1], 'rate', ARGV[1], 'conns', ARGV[2], 'note', ARGV[3])\n"
    "local ttl = tonumber(ARGV[4])\n"
    "local s = tonumber(ARGV[5])\n"
    "if s > 0 then\n"
    "  local u = now + s\n"
    "  if u > (tonumber(redis.call('HGET', KEYS[1], 'until')) or 0) then\n"
    "    redis.call('HSET', KEYS[1], 'until', string.format('%d', u))\n"
    "  end\n"
    "  if s + 60000 > ttl then ttl = s + 60000 end\n"
    "end\n"
    "redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "return seq\n";
static const char script_beat[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
    "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)\n"
    "for i = 2, #KEYS do\n"
    "  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[3]), ARGV[i + 2])\n"
    "  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3]) * 2)\n"
    "end\n"
    "return redis.call('ZCARD', KEYS[1])\n";

/* COUNT reserves one of a day's cap (a warm-up count): a key not there yet starts at the
 * seed (what the database counted), the sends made while Redis was away (extra) are added
 * whatever the cap, then one more only if the count stays within it. It answers whether,
 * and the count. UNCOUNT gives reservations back (never below 0). */
static const char script_count[] =
    "local c = tonumber(redis.call('GET', KEYS[1]))\n"
    "if c == nil then\n"
    "  c = tonumber(ARGV[2])\n"
    "  redis.call('SET', KEYS[1], c, 'PX', tonumber(ARGV[4]))\n"
    "end\n"
    "if tonumber(ARGV[3]) > 0 then c = redis.call('INCRBY', KEYS[1], ARGV[3]) end\n"
    "if c + 1 > tonumber(ARGV[1]) then return {0, c} end\n"
    "return {1, redis.call('INCRBY', KEYS[1], 1)}\n";
static const char script_uncount[] = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                                     "local c = redis.call('DECRBY', KEYS[1], ARGV[1])\n"
                                     "if c < 0 then c = redis.call('INCRBY', KEYS[1], -c) end\n"
                                     "return c\n";

/* One destination's shared state (pool_shared.attach), or the pool's global rate's
 * (pool_shared.attach_global: d NULL, pool set). */
struct rl_dest {
	struct redis_limit *rl;
	struct pool_dest *d; /* valid until detach; NULL for the global rate */
	struct pool *pool;   /* the global rate's pool, valid until detach */
	char *key;           /* "DEST" or "DEST|SOURCE", "global" for the global rate */
	char *k_tat, *k_aimd, *k_conns;
	/* The grant being used: left tokens, the next due at next (loop seconds), step apart. */
	unsigned left;
	double due, step;
	bool asking; /* a GRANT is in flight */
	/* The fallback's local share of the rate. */
	struct throttle_bucket local;
	double local_rate;
	/* Connection leases: held (in use, spare or asked for) by id, for the renewals; the
	 * spare ones granted for a session not opened yet; a LEASE in flight; a cap reached. */
	unsigned long long *held;
	size_t nheld, capheld;
	unsigned long long spare_id[RL_SPARE_MAX];
	unsigned spare;
	double spare_since;
	bool leasing;
	double lease_retry_at;
	unsigned long long aimd_seq; /* the last shared AIMD change seen or made */
	bool detached;               /* pool_free took d: replies only free memory */
	unsigned refs;               /* requests in flight, plus one while attached */
	struct rl_dest *next;
};

struct redis_limit {
	uv_loop_t *loop;
	struct redis_limit_config c;
	char where[600]; /* the URL without its password */
	char node[300];  /* "HOST:PID:MS", this node's name in Redis */
	char *k_nodes;
	redisAsyncContext *ac;         /* NULL while disconnected */
	redisAsyncContext *closing_ac; /* the connection redis_limit_close lets finish */
	bool up;                       /* connected: shared limits in force */
	bool known;                    /* Redis was reached, or found unreachable, at least once */
	bool logged_down;              /* the fallback has been logged since the last change */
	bool closing;
	bool broken; /* Redis answered an error: dropped at the next tick */
	char broken_why[200];
	uv_timer_t tick;
	uv_getaddrinfo_t gai;
	bool resolving;
	double reconnect_at;    /* loop seconds */
	double connect_started; /* when the connect now pending started */
	double up_since;        /* when Redis last came up */
	unsigned backoff_ms;
	double beat_at;
	unsigned inflight;
	double waiting_since; /* the oldest unanswered request's time, roughly */
	unsigned last_nodes;  /* live nodes in Redis at the last heartbeat */
	unsigned long long lease_seq;
	struct rl_dest *dests;
	struct redis_limit_stats st;
};

/* A request in flight: what to do with its reply. */
enum rl_kind { RQ_SETUP, RQ_PING, RQ_GRANT, RQ_LEASE, RQ_RELEASE, RQ_AIMD, RQ_BEAT, RQ_COUNT };
struct rl_req {
	struct redis_limit *rl;
	enum rl_kind kind;
	struct rl_dest *dd;
	unsigned long long lease;
	unsigned n;                 /* GRANT: tokens asked */
	redis_limit_count_cb count; /* COUNT: its answer goes there, with count_arg */
	void *count_arg;
};

static double
rl_now(const struct redis_limit *rl)
{
	return (double)uv_now(rl->loop) / 1000.0;
}

/* rl_nodes - the N of the fallback's share */
static unsigned
rl_nodes(const struct redis_limit *rl)
{
	if (rl->c.nodes)
		return rl->c.nodes;
	if (rl->last_nodes)
		return rl->last_nodes;
	return rl->c.start_nodes ? rl->c.start_nodes : 1;
}

static void
dd_unref(struct rl_dest *dd)
{
	if (--dd->refs > 0)
		return;
	free(dd->key);
	free(dd->k_tat);
	free(dd->k_aimd);
	free(dd->k_conns);
	free(dd->held);
	free(dd);
}

static void
dd_wake(struct rl_dest *dd, double s)
{
	if (dd->detached || dd->rl->closing)
		return;
	if (dd->d)
		pool_dest_wake(dd->d, s);
	else
		pool_wake(dd->pool, s);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* rl_send - one command (argv of argc strings, any number: a heartbeat names every lease
 * held): its request, or NULL when Redis is not up (nothing sent) */
static struct rl_req *
rl_send(struct redis_limit *rl, enum rl_kind kind, struct rl_dest *dd, unsigned long long lease,
        unsigned n, size_t argc, const char **argv)
{
	bool setup = kind == RQ_SETUP || kind == RQ_PING;
	if (rl->ac == NULL || (!setup && (!rl->up || rl->broken)))
		return NULL;
	size_t lens[16], *len = argc <= 16 ? lens : xcalloc(argc, sizeof(*len));
	for (size_t i = 0; i < argc; i++)
		len[i] = strlen(argv[i]);
	struct rl_req *q = xcalloc(1, sizeof(*q));
	q->rl = rl;
	q->kind = kind;
	q->dd = dd;
	q->lease = lease;
	q->n = n;
	int rc = redisAsyncCommandArgv(rl->ac, on_reply, q, (int)argc, argv, len);
	if (len != lens)
		free(len);
	if (rc != REDIS_OK) {
		free(q);
		return NULL;
	}
	if (dd)
		dd->refs++;
	if (rl->inflight++ == 0)
		rl->waiting_since = rl_now(rl);
	rl->st.ops++;
	return q; /* its reply comes later, never from inside this call */
}

/* rl_down - Redis is lost (or was never reached): fall back, say so once, reconnect later */
static void
rl_down(struct redis_limit *rl, const char *why)
{
	bool was = rl->up;
	rl->up = false;
	rl->known = true;
	rl->ac = NULL;
	if (rl->closing)
		return;
	if (was || !rl->logged_down) {
		unsigned n = rl_nodes(rl);
		log_warn("redis %s unreachable (%s): throttles fall back to a local share, 1/%u of "
		         "each shared rate and connection cap",
		         rl->where, why, n);
		rl->logged_down = true;
		if (was)
			rl->st.fallbacks++;
		/* A connection that breaks soon after it came up (a script Redis refuses)
		 * keeps backing off instead of flapping. */
		if (rl_now(rl) - rl->up_since < 10)
			rl->backoff_ms = rl->backoff_ms * 2 > RL_BACKOFF_MAX_MS
			                     ? RL_BACKOFF_MAX_MS
			                     : rl->backoff_ms * 2;
		else
			rl->backoff_ms = RL_BACKOFF_FIRST_MS;
	} else {
		log_debug("redis %s still unreachable (%s)", rl->where, why);
		rl->backoff_ms =
		    rl->backoff_ms * 2 > RL_BACKOFF_MAX_MS ? RL_BACKOFF_MAX_MS : rl->backoff_ms * 2;
	}
	rl->reconnect_at = rl_now(rl) + rl->backoff_ms / 1000.0;
	/* Destinations waiting for a grant or a lease go on with the local share now. */
	for (struct rl_dest *dd = rl->dests; dd; dd = dd->next) {
		dd->left = 0;
		dd_wake(dd, 0);
	}
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_limit *rl = ac->data;
	if (rl == NULL || rl->ac != ac)
		return;
	if (status != REDIS_OK) {
		rl_down(rl, ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	/* Connected; shared once AUTH and SELECT went through and a PING came back. */
	char db[16];
	if (rl->c.url.password[0]) {
		const char *a[3] = {"AUTH", rl->c.url.user[0] ? rl->c.url.user : rl->c.url.password,
		                    rl->c.url.password};
		rl_send(rl, RQ_SETUP, NULL, 0, 0, rl->c.url.user[0] ? 3 : 2, a);
	}
	if (rl->c.url.db) {
		snprintf(db, sizeof(db), "%u", rl->c.url.db);
		const char *a[2] = {"SELECT", db};
		rl_send(rl, RQ_SETUP, NULL, 0, 0, 2, a);
	}
	const char *a[1] = {"PING"};
	rl_send(rl, RQ_PING, NULL, 0, 0, 1, a);
}

/* rl_up - Redis answered: the limits are shared from now on */
static void
rl_up(struct redis_limit *rl)
{
	rl->up = true;
	rl->known = true;
	rl->logged_down = false;
	rl->up_since = rl_now(rl);
	rl->beat_at = 0; /* a heartbeat at the next tick: N and the leases at once */
	log_info("redis %s reachable: throttles shared across nodes (prefix %s)", rl->where,
	         rl->c.prefix);
	for (struct rl_dest *dd = rl->dests; dd; dd = dd->next)
		dd_wake(dd, 0);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_limit *rl = ac->data;
	if (rl && rl->closing_ac == ac) {
		rl->closing_ac = NULL;
		if (!uv_is_closing((uv_handle_t *)&rl->tick))
			uv_close((uv_handle_t *)&rl->tick, NULL);
		return;
	}
	if (rl == NULL || rl->ac != ac)
		return;
	rl_down(rl, status == REDIS_OK ? "disconnected"
	                               : (ac->errstr[0] ? ac->errstr : "connection lost"));
}

/* rl_connect_addr - start connecting to ip (numeric) or the Unix socket */
static void
rl_connect_addr(struct redis_limit *rl, const char *ip)
{
	redisAsyncContext *ac = rl->c.url.unix_socket ? redisAsyncConnectUnix(rl->c.url.path)
	                                              : redisAsyncConnect(ip, (int)rl->c.url.port);
	if (ac == NULL) {
		rl_down(rl, "out of memory");
		return;
	}
	if (ac->err) {
		char why[128];
		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		rl_down(rl, why);
		return;
	}
	ac->data = rl;
	rl->ac = ac;
	rl->connect_started = rl_now(rl);
	redisLibuvAttach(ac, rl->loop);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct redis_limit *rl = req->data;
	rl->resolving = false;
	if (rl->closing) {
		uv_freeaddrinfo(res);
		return;
	}
	if (status < 0 || res == NULL) {
		char why[300];
		snprintf(why, sizeof(why), "%s: %s", rl->c.url.host, uv_strerror(status));
		uv_freeaddrinfo(res);
		rl_down(rl, why);
		return;
	}
	char ip[SOCKADDR_IP_MAX];
	sockaddr_ip(res->ai_addr, ip, sizeof(ip));
	uv_freeaddrinfo(res);
	rl_connect_addr(rl, ip);
}

/* rl_connect - connect (a host name looked up off the loop first) */
static void
rl_connect(struct redis_limit *rl)
{
	unsigned char buf[16];
	if (rl->c.url.unix_socket || inet_pton(AF_INET, rl->c.url.host, buf) == 1 ||
	    inet_pton(AF_INET6, rl->c.url.host, buf) == 1) {
		rl_connect_addr(rl, rl->c.url.host);
		return;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	rl->gai.data = rl;
	if (uv_getaddrinfo(rl->loop, &rl->gai, on_resolved, rl->c.url.host, NULL, &hints) == 0)
		rl->resolving = true;
	else
		rl_down(rl, "cannot look the host up");
}

/* rl_drop - give up the connection from outside hiredis's callbacks (stale requests, close) */
static void
rl_drop(struct redis_limit *rl, const char *why)
{
	redisAsyncContext *ac = rl->ac;
	if (ac == NULL)
		return;
	rl_down(rl, why);
	ac->data = NULL; /* its callbacks are no news any more */
	redisAsyncFree(ac);
}

/* reply_str - element i of an array reply as text ("" when missing) */
static const char *
reply_str(const redisReply *r, size_t i)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
		return "";
	const redisReply *e = r->element[i];
	return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS ? e->str : "";
}

/* adopt - a reply's shared AIMD levels (seq, rate, conns, note, a suspension's ms left from
 * element i on): another node's change not seen yet is adopted */
static void
adopt(struct rl_dest *dd, const redisReply *r, size_t i)
{
	unsigned long long seq = strtoull(reply_str(r, i), NULL, 10);
	if (seq <= dd->aimd_seq || dd->detached || dd->d == NULL)
		return;
	dd->aimd_seq = seq;
	double rate = strtod(reply_str(r, i + 1), NULL);
	unsigned conns = (unsigned)strtoul(reply_str(r, i + 2), NULL, 10);
	double left = strtod(reply_str(r, i + 4), NULL) / 1000.0;
	dd->rl->st.adopted++;
	pool_dest_adopt(dd->d, rate, conns, left, reply_str(r, i + 3));
}

/* held_drop - forget lease id (given back, or lost) */
static void
held_drop(struct rl_dest *dd, unsigned long long id)
{
	for (size_t i = 0; i < dd->nheld; i++)
		if (dd->held[i] == id) {
			dd->held[i] = dd->held[--dd->nheld];
			return;
		}
}

static void
lease_member(const struct redis_limit *rl, unsigned long long id, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s#%llu", rl->node, id);
}

/* release - give lease id back to Redis (when up; else it expires there) */
static void
release(struct rl_dest *dd, unsigned long long id)
{
	char m[340];
	held_drop(dd, id);
	lease_member(dd->rl, id, m, sizeof(m));
	const char *a[3] = {"ZREM", dd->k_conns, m};
	rl_send(dd->rl, RQ_RELEASE, NULL, 0, 0, 3, a);
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rl_req *q = priv;
	struct redis_limit *rl = q->rl;
	struct rl_dest *dd = q->dd;
	redisReply *r = reply;
	if (rl->inflight > 0 && --rl->inflight > 0)
		rl->waiting_since = rl_now(rl);
	if (r && r->type == REDIS_REPLY_ERROR && !rl->broken) {
		/* A refused AUTH or SELECT, or a script Redis will not run: no shared limit
		 * can be had from this connection. The tick drops it (not here, inside
		 * hiredis) and the fallback holds meanwhile; reconnects back off. */
		snprintf(rl->broken_why, sizeof(rl->broken_why), "%s", r->str);
		rl->broken = true;
	}
	bool ok = r && r->type != REDIS_REPLY_ERROR;
	switch (q->kind) {
	case RQ_GRANT:
		dd->asking = false;
		if (ok && r->type == REDIS_REPLY_ARRAY && r->elements >= 7 && !dd->detached) {
			double delay = strtod(reply_str(r, 0), NULL) / 1000.0;
			double step = strtod(reply_str(r, 1), NULL) / 1000.0;
			rl->st.grants++;
			dd->left = q->n;
			dd->step = step;
			dd->due = rl_now(rl) + delay;
			adopt(dd, r, 2);
			dd_wake(dd, delay);
		} else {
			dd_wake(dd, 0); /* the fallback, or asked again */
		}
		break;
	case RQ_LEASE:
		dd->leasing = false;
		if (ok && r->type == REDIS_REPLY_ARRAY && r->elements >= 6 && !dd->detached) {
			if (strcmp(reply_str(r, 0), "1") == 0 && dd->spare < RL_SPARE_MAX) {
				if (dd->spare == 0)
					dd->spare_since = rl_now(rl);
				dd->spare_id[dd->spare++] = q->lease;
				dd_wake(dd, 0);
			} else if (strcmp(reply_str(r, 0), "1") == 0) {
				release(dd, q->lease);
			} else {
				held_drop(dd, q->lease);
				dd->lease_retry_at = rl_now(rl) + RL_LEASE_RETRY_MS / 1000.0;
				dd_wake(dd, RL_LEASE_RETRY_MS / 1000.0);
			}
			adopt(dd, r, 1);
		} else {
			held_drop(dd, q->lease);
			dd_wake(dd, 0);
		}
		break;
	case RQ_AIMD:
		if (ok && r->type == REDIS_REPLY_INTEGER && !dd->detached &&
		    (unsigned long long)r->integer > dd->aimd_seq)
			dd->aimd_seq = (unsigned long long)r->integer;
		break;
	case RQ_BEAT:
		if (ok && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
			unsigned n = (unsigned)r->integer;
			if (n != rl->last_nodes)
				log_info("redis %s: %u node%s the throttles", rl->where, n,
				         n == 1 ? " uses" : "s share");
			rl->last_nodes = n;
		}
		break;
	case RQ_PING:
		if (ok && !rl->broken && !rl->closing && rl->ac == ac)
			rl_up(rl);
		break;
	case RQ_COUNT:
		if (ok && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_INTEGER &&
		    r->element[1]->type == REDIS_REPLY_INTEGER)
			q->count(q->count_arg,
			         r->element[0]->integer ? REDIS_LIMIT_COUNTED : REDIS_LIMIT_FULL,
			         (long)r->element[1]->integer);
		else
			q->count(q->count_arg, REDIS_LIMIT_LOST, 0);
		break;
	case RQ_SETUP:
	case RQ_RELEASE:
		break;
	}
	if (dd)
		dd_unref(dd);
	free(q);
}

/* --- the pool's callbacks --------------------------------------------------------------- */

/* dd_new - the shared state of key (d: its destination, or NULL for the global rate) */
static struct rl_dest *
dd_new(struct redis_limit *rl, struct pool_dest *d, const char *name, const char *src)
{
	struct rl_dest *dd = xcalloc(1, sizeof(*dd));
	size_t n = strlen(name) + strlen(src) + 2;
	dd->rl = rl;
	dd->d = d;
	dd->key = xmalloc(n);
	snprintf(dd->key, n, "%s%s%s", name, src[0] ? "|" : "", src);
	size_t kn = n + strlen(rl->c.prefix) + 16;
	dd->k_tat = xmalloc(kn);
	dd->k_aimd = xmalloc(kn);
	dd->k_conns = xmalloc(kn);
	snprintf(dd->k_tat, kn, "%s:tat:%s", rl->c.prefix, dd->key);
	snprintf(dd->k_aimd, kn, "%s:aimd:%s", rl->c.prefix, dd->key);
	snprintf(dd->k_conns, kn, "%s:conns:%s", rl->c.prefix, dd->key);
	dd->refs = 1;
	dd->next = rl->dests;
	rl->dests = dd;
	return dd;
}

static void *
rl_attach(void *arg, struct pool_dest *d)
{
	return dd_new(arg, d, pool_dest_name(d), pool_dest_source(d));
}

/* rl_attach_global - the pool's global rate: one GCRA for the cluster, PREFIX:tat:global
 * (no destination's name: those are "relay..." or "mx:...") */
static void *
rl_attach_global(void *arg, struct pool *p)
{
	struct rl_dest *dd = dd_new(arg, NULL, "global", "");
	dd->pool = p;
	return dd;
}

static void
rl_detach(void *state)
{
	struct rl_dest *dd = state;
	struct redis_limit *rl = dd->rl;
	for (struct rl_dest **pp = &rl->dests; *pp; pp = &(*pp)->next)
		if (*pp == dd) {
			*pp = dd->next;
			break;
		}
	dd->detached = true;
	dd_unref(dd);
}

static double
rl_take(void *state, double rate, bool take)
{
	struct rl_dest *dd = state;
	struct redis_limit *rl = dd->rl;
	double now = rl_now(rl);
	if (!rl->up || rl->broken) {
		/* The fallback: this node's share of the rate, from a bucket of its own. */
		double share = rate / rl_nodes(rl);
		if (share != dd->local_rate) {
			if (dd->local_rate == 0)
				throttle_bucket_init(&dd->local, share, pool_burst(share), now);
			else
				throttle_bucket_set_rate(&dd->local, share, pool_burst(share), now);
			dd->local_rate = share;
		}
		if (!take)
			return throttle_bucket_wait(&dd->local, now);
		double w = throttle_bucket_take(&dd->local, now);
		if (w == 0)
			rl->st.local++;
		return w;
	}
	dd->local_rate = 0;
	if (dd->left > 0) {
		/* Half a loop tick early is on time: the timer's grain is a millisecond. */
		if (now + 0.0005 < dd->due)
			return dd->due - now;
		if (!take)
			return 0;
		dd->left--;
		dd->due += dd->step;
		rl->st.tokens++;
		return 0;
	}
	if (!dd->asking) {
		unsigned n = (unsigned)(rate * RL_GRANT_S);
		n = n < 1 ? 1 : n > RL_GRANT_MAX ? RL_GRANT_MAX : n;
		char r[32], k[16];
		snprintf(r, sizeof(r), "%.6f", rate);
		snprintf(k, sizeof(k), "%u", n);
		const char *a[7] = {"EVAL", script_grant, "2", dd->k_tat, dd->k_aimd, r, k};
		if (!rl_send(rl, RQ_GRANT, dd, 0, n, 7, a))
			return RL_TICK_MS / 1000.0; /* cannot ask now: look again soon */
		dd->asking = true;
	}
	return -1;
}

static bool
rl_conn_take(void *state, unsigned cap, unsigned conns, unsigned long long *lease)
{
	struct rl_dest *dd = state;
	struct redis_limit *rl = dd->rl;
	if (!rl->up || rl->broken) {
		unsigned share = cap / rl_nodes(rl);
		*lease = 0;
		return conns < (share ? share : 1);
	}
	if (dd->spare > 0) {
		*lease = dd->spare_id[--dd->spare];
		rl->st.leases++;
		return true;
	}
	if (dd->leasing || rl_now(rl) < dd->lease_retry_at)
		return false;
	unsigned long long id = ++rl->lease_seq;
	char c[16], m[340], ttl[16];
	snprintf(c, sizeof(c), "%u", cap);
	lease_member(rl, id, m, sizeof(m));
	snprintf(ttl, sizeof(ttl), "%d", RL_LEASE_TTL_MS);
	const char *a[8] = {"EVAL", script_lease, "2", dd->k_conns, dd->k_aimd, c, m, ttl};
	if (dd->nheld == dd->capheld) {
		dd->capheld = dd->capheld ? 2 * dd->capheld : 8;
		dd->held = xrealloc(dd->held, dd->capheld * sizeof(*dd->held));
	}
	/* Held from the ask on, so that a renewal covers it; a refusal drops it. */
	dd->held[dd->nheld++] = id;
	if (!rl_send(rl, RQ_LEASE, dd, id, 0, 8, a)) {
		held_drop(dd, id);
		return false;
	}
	dd->leasing = true;
	return false;
}

static void
rl_conn_done(void *state, unsigned long long lease)
{
	struct rl_dest *dd = state;
	if (lease)
		release(dd, lease);
}

static void
rl_changed(void *state, double rate, unsigned conns, double suspended_s, const char *note)
{
	struct rl_dest *dd = state;
	struct redis_limit *rl = dd->rl;
	char r[32], c[16], ttl[16], text[400], susp[32];
	snprintf(r, sizeof(r), "%.6f", rate);
	snprintf(c, sizeof(c), "%u", conns);
	snprintf(ttl, sizeof(ttl), "%d", RL_AIMD_TTL_MS);
	snprintf(text, sizeof(text), "node %s: %s", rl->node, note);
	/* A suspension goes as its length; Redis's clock makes it an end time for everyone. */
	snprintf(susp, sizeof(susp), "%.0f", suspended_s > 0 ? suspended_s * 1000.0 : 0);
	const char *a[9] = {"EVAL", script_aimd, "1", dd->k_aimd, r, c, text, ttl, susp};
	rl_send(rl, RQ_AIMD, dd, 0, 0, 9, a);
}

/* --- the timer ----------------------------------------------------------------------------- */

/* beat - the node is alive; its leases are renewed; the answer is N */
static void
beat(struct redis_limit *rl)
{
	size_t n = 0;
	for (struct rl_dest *dd = rl->dests; dd; dd = dd->next)
		n += dd->nheld;
	size_t argc = 7 + 2 * n;
	const char **a = xcalloc(argc, sizeof(*a));
	char **own = xcalloc(n + 1, sizeof(*own));
	char nk[16], ttl[16], lttl[16];
	snprintf(nk, sizeof(nk), "%zu", 1 + n);
	snprintf(ttl, sizeof(ttl), "%d", RL_NODE_TTL_MS);
	snprintf(lttl, sizeof(lttl), "%d", RL_LEASE_TTL_MS);
	size_t k = 0, m = 0;
	a[k++] = "EVAL";
	a[k++] = script_beat;
	a[k++] = nk;
	a[k++] = rl->k_nodes;
	for (struct rl_dest *dd = rl->dests; dd; dd = dd->next)
		for (size_t i = 0; i < dd->nheld; i++)
			a[k++] = dd->k_conns;
	a[k++] = rl->node;
	a[k++] = ttl;
	a[k++] = lttl;
	for (struct rl_dest *dd = rl->dests; dd; dd = dd->next)
		for (size_t i = 0; i < dd->nheld; i++) {
			own[m] = xmalloc(340);
			lease_member(rl, dd->held[i], own[m], 340);
			a[k++] = own[m++];
		}
	rl_send(rl, RQ_BEAT, NULL, 0, 0, k, a);
	for (size_t i = 0; i < m; i++)
		free(own[i]);
	free(own);
	free(a);
}

static void
on_tick(uv_timer_t *t)
{
	struct redis_limit *rl = t->data;
	double now = rl_now(rl);
	if (rl->closing) {
		/* Closing, and Redis does not answer what was in flight: give up on it. */
		redisAsyncContext *ac = rl->closing_ac;
		if (ac && rl->inflight > 0 && (now - rl->waiting_since) * 1000.0 >= RL_STALE_MS) {
			rl->closing_ac = NULL;
			ac->data = NULL;
			redisAsyncFree(ac);
			uv_close((uv_handle_t *)&rl->tick, NULL);
		}
		return;
	}
	if (rl->ac == NULL && !rl->resolving && now >= rl->reconnect_at) {
		rl_connect(rl);
		return;
	}
	if (rl->broken) {
		rl->broken = false;
		if (rl->ac)
			rl_drop(rl, rl->broken_why);
		return;
	}
	if (rl->ac && !rl->up) {
		/* hiredis's libuv adapter drops a poll error (a refused connect) on the floor:
		 * the socket's own error says, and a connect still pending after the stale time
		 * is given up. */
		int e = 0;
		socklen_t len = sizeof(e);
		if (getsockopt(rl->ac->c.fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e != 0)
			rl_drop(rl, strerror(e));
		else if ((now - rl->connect_started) * 1000.0 >= RL_STALE_MS)
			rl_drop(rl, "connect timed out");
		return;
	}
	if (!rl->up)
		return;
	if (rl->inflight > 0 && (now - rl->waiting_since) * 1000.0 >= RL_STALE_MS) {
		rl_drop(rl, "no answer for 2 s");
		return;
	}
	if (now >= rl->beat_at) {
		rl->beat_at = now + RL_HEARTBEAT_MS / 1000.0;
		beat(rl);
	}
	/* Leases taken for sessions the pool did not open after all go back. */
	for (struct rl_dest *dd = rl->dests; dd; dd = dd->next)
		while (dd->spare > 0 && (now - dd->spare_since) * 1000.0 >= RL_SPARE_MS)
			release(dd, dd->spare_id[--dd->spare]);
}

/* --- life ---------------------------------------------------------------------------------- */

struct redis_limit *
redis_limit_new(uv_loop_t *loop, const struct redis_limit_config *c)
{
	struct redis_limit *rl = xcalloc(1, sizeof(*rl));
	rl->loop = loop;
	rl->c = *c;
	if (rl->c.prefix[0] == '\0')
		snprintf(rl->c.prefix, sizeof(rl->c.prefix), "%s", REDIS_LIMIT_PREFIX);
	redis_url_format(&rl->c.url, rl->where, sizeof(rl->where));
	char host[256] = "?";
	gethostname(host, sizeof(host) - 1);
	/* A turn of kirim run is a new limiter in the same process: the time tells them
	 * apart, so that a lease of the last turn not given back is not taken for this one's. */
	snprintf(rl->node, sizeof(rl->node), "%s:%ld:%llx", host, (long)getpid(),
	         (unsigned long long)(uv_hrtime() / 1000000) & 0xffffffULL);
	size_t kn = strlen(rl->c.prefix) + 8;
	rl->k_nodes = xmalloc(kn);
	snprintf(rl->k_nodes, kn, "%s:nodes", rl->c.prefix);
	rl->backoff_ms = RL_BACKOFF_FIRST_MS;
	uv_timer_init(loop, &rl->tick);
	rl->tick.data = rl;
	uv_timer_start(&rl->tick, on_tick, RL_TICK_MS, RL_TICK_MS);
	rl_connect(rl);
	return rl;
}

void
redis_limit_shared(struct redis_limit *rl, struct pool_shared *out)
{
	*out = (struct pool_shared){.attach = rl_attach,
	                            .attach_global = rl_attach_global,
	                            .detach = rl_detach,
	                            .take = rl_take,
	                            .conn_take = rl_conn_take,
	                            .conn_done = rl_conn_done,
	                            .changed = rl_changed,
	                            .arg = rl};
}

/* count_key - PREFIX:warmup:DAY:NAME */
static char *
count_key(const struct redis_limit *rl, const char *name, int64_t day)
{
	size_t n = strlen(rl->c.prefix) + strlen(name) + 40;
	char *k = xmalloc(n);
	snprintf(k, n, "%s:warmup:%lld:%s", rl->c.prefix, (long long)day, name);
	return k;
}

bool
redis_limit_reserve(struct redis_limit *rl, const char *name, int64_t day, long cap, long seed,
                    long extra, redis_limit_count_cb cb, void *arg)
{
	if (redis_limit_mode(rl) != REDIS_LIMIT_SHARED)
		return false;
	char *k = count_key(rl, name, day);
	char c[24], sd[24], ex[24], ttl[24];
	snprintf(c, sizeof(c), "%ld", cap);
	snprintf(sd, sizeof(sd), "%ld", seed > 0 ? seed : 0);
	snprintf(ex, sizeof(ex), "%ld", extra > 0 ? extra : 0);
	snprintf(ttl, sizeof(ttl), "%d", RL_COUNT_TTL_MS);
	const char *a[8] = {"EVAL", script_count, "1", k, c, sd, ex, ttl};
	struct rl_req *q = rl_send(rl, RQ_COUNT, NULL, 0, 0, 8, a);
	free(k);
	if (q == NULL)
		return false;
	q->count = cb;
	q->count_arg = arg;
	return true;
}

void
redis_limit_unreserve(struct redis_limit *rl, const char *name, int64_t day, long n)
{
	char *k = count_key(rl, name, day);
	char nb[24];
	snprintf(nb, sizeof(nb), "%ld", n);
	const char *a[5] = {"EVAL", script_uncount, "1", k, nb};
	rl_send(rl, RQ_RELEASE, NULL, 0, 0, 5, a);
	free(k);
}

enum redis_limit_mode
redis_limit_mode(const struct redis_limit *rl)
{
	if (rl->up && !rl->broken && !rl->closing)
		return REDIS_LIMIT_SHARED;
	return rl->known || rl->closing ? REDIS_LIMIT_FALLBACK : REDIS_LIMIT_STARTING;
}

unsigned
redis_limit_nodes(const struct redis_limit *rl)
{
	return rl_nodes(rl);
}

void
redis_limit_stats(const struct redis_limit *rl, struct redis_limit_stats *st)
{
	*st = rl->st;
	st->up = rl->up;
	st->nodes = rl_nodes(rl);
}

void
redis_limit_close(struct redis_limit *rl)
{
	if (rl == NULL || rl->closing)
		return;
	/* The sessions left only QUIT now: their leases go back at once, so that other
	 * nodes need not wait for them to expire, and the node leaves the live set so that
	 * N drops at once. */
	if (rl->up) {
		for (struct rl_dest *dd = rl->dests; dd; dd = dd->next) {
			dd->spare = 0;
			while (dd->nheld > 0)
				release(dd, dd->held[dd->nheld - 1]);
		}
		const char *a[3] = {"ZREM", rl->k_nodes, rl->node};
		rl_send(rl, RQ_SETUP, NULL, 0, 0, 3, a);
	}
	rl->closing = true;
	if (rl->resolving)
		uv_cancel((uv_req_t *)&rl->gai);
	if (rl->ac) {
		/* Connected: what was written goes out and is answered, then the connection
		 * closes. Still connecting: given up at once (the callbacks get no reply). */
		redisAsyncContext *ac = rl->ac;
		bool up = rl->up;
		rl->ac = NULL;
		rl->up = false;
		if (up) {
			/* The tick stays until the connection is gone, to give up on a Redis
			 * that does not answer (on_tick); on_disconnect closes it. */
			rl->closing_ac = ac;
			redisAsyncDisconnect(ac);
			return;
		}
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	if (!uv_is_closing((uv_handle_t *)&rl->tick))
		uv_close((uv_handle_t *)&rl->tick, NULL);
}

void
redis_limit_free(struct redis_limit *rl)
{
	if (rl == NULL)
		return;
	free(rl->k_nodes);
	free(rl);
}

int
redis_limit_ping(const struct redis_url *u, const char *prefix, double timeout_s, unsigned *nodes,
                 char *err, size_t errsz)
{
	struct timeval tv = {.tv_sec = (time_t)timeout_s,
	                     .tv_usec =
	                         (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
	redisContext *c = u->unix_socket ? redisConnectUnixWithTimeout(u->path, tv)
	                                 : redisConnectWithTimeout(u->host, (int)u->port, tv);
	if (c == NULL || c->err) {
		snprintf(err, errsz, "%s", c ? c->errstr : "out of memory");
		redisFree(c);
		return -1;
	}
	redisSetTimeout(c, tv);
	int rc = -1;
	redisReply *r = NULL;
	if (u->password[0]) {
		r = u->user[0] ? redisCommand(c, "AUTH %s %s", u->user, u->password)
		               : redisCommand(c, "AUTH %s", u->password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			goto out;
		freeReplyObject(r);
	}
	if (u->db) {
		r = redisCommand(c, "SELECT %u", u->db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			goto out;
		freeReplyObject(r);
	}
	/* Live nodes: those whose heartbeat's expiry (Redis's time, ms) is still ahead. */
	r = redisCommand(c, "EVAL %s 1 %s:nodes",
	                 "local t = redis.call('TIME')\n"
	                 "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
	                 "return redis.call('ZCOUNT', KEYS[1], now, '+inf')",
	                 prefix && *prefix ? prefix : REDIS_LIMIT_PREFIX);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		goto out;
	*nodes = (unsigned)r->integer;
	rc = 0;
out:
	if (rc < 0)
		snprintf(err, errsz, "%s",
		         r && r->type == REDIS_REPLY_ERROR
		             ? r->str
		             : (c->errstr[0] ? c->errstr : "no answer"));
	freeReplyObject(r);
	redisFree(c);
	return rc;
}
