/*
 * dns - MX resolution on a libuv loop with c-ares 1.18 (no event thread).
 *
 * Three layers: the driver (sock_state_cb opens/closes a uv_poll_t per
 * c-ares socket, one uv_timer_t follows ares_timeout), the query layer (one
 * question: cache, then the in-flight cap, then c-ares) and the request
 * layer (one dns_resolve_mx: the MX query, then A/AAAA per host; or one
 * TXT, TLSA or host address look-up). The cache keeps raw answers, so a hit
 * goes through the same parser as a fresh one, AD bit included. Queries are
 * built here and sent with ares_send, with the AD bit set (RFC 6840 5.7):
 * c-ares 1.18 has no other way to ask a validating resolver to say whether
 * an answer was validated. This is the only file that includes <ares.h>.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "kirim/dns.h"
#include "kirim/xmalloc.h"

#define CACHE_BUCKETS 1024
#define CACHE_MAX 20000
#define TTL_MAX 86400

struct dns_poll {
	uv_poll_t h;
	struct dns *d;
	ares_socket_t fd;
	struct dns_poll *next;
};

struct cache_ent {
	struct cache_ent *next;
	int type;
	int status;
	uint64_t expires; /* uv_now ms */
	unsigned char *abuf;
	int alen;
	char name[]; /* lower case */
};

/* Answers by (type, name), until they expire (ms on the monotonic clock every libuv loop
 * of the process shares): one resolver's, or several in turn (dns_cache_new). */
struct dns_cache {
	struct cache_ent *b[CACHE_BUCKETS];
	size_t entries;
};

struct dns_req;

/* One question; owned by its request, freed after q_done. */
struct dns_q {
	struct dns *d;
	struct dns_req *r;
	struct dns_q *next; /* wait FIFO */
	int type;
	unsigned short qid; /* the query's id while it is on the wire */
	size_t host;        /* index in r->hosts for A/AAAA */
	char name[256];
};

enum req_phase { R_MX, R_HOSTS, R_ONE };
enum req_kind { K_MX, K_HOST, K_TXT, K_TLSA };

struct dns_req {
	struct dns *d;
	struct dns_req *next, *prev; /* live list */
	struct dns_req *next_start;  /* deferred-start list */
	enum req_kind kind;
	dns_mx_cb cb; /* K_MX, K_HOST */
	dns_txt_cb txt_cb;
	dns_tlsa_cb tlsa_cb;
	void *arg;
	enum req_phase phase;
	int pending;  /* questions not yet answered */
	int tempfail; /* a host lookup failed temporarily */
	int cancelled;
	int from_a;
	int secure; /* K_MX: the MX (or A fallback) answer carried AD */
	unsigned ttl;
	struct dns_mx_host *hosts;
	size_t nhosts;
	char domain[256];
	char err[400];
};

struct dns {
	uv_loop_t *loop;
	ares_channel ch;
	int have_ch;
	unsigned flags;
	uv_timer_t timer;
	uv_idle_t idle; /* starts deferred requests from the loop */
	int open_handles;
	int closing;
	struct dns_poll *polls;
	struct dns_q *wait_head, *wait_tail;
	struct dns_req *live;
	struct dns_req *start_head, *start_tail;
	struct dns_cache *cache; /* its own, or the one dns_opts lent */
	int own_cache;
	uint64_t rng;
	unsigned char qid_used[65536 / 8]; /* ids of the queries on the wire */
	struct dns_stats st;
};

static void pump(struct dns *d);
static void on_timer(uv_timer_t *t);
static void q_done(struct dns_q *q, int status, const unsigned char *abuf, int alen, unsigned ttl);

/* ---- small helpers ---- */

static uint32_t
rng_next(struct dns *d)
{
	/* xorshift64*: shuffling equal MX preferences needs no crypto. */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return (uint32_t)((d->rng * 2685821657736338717ULL) >> 32);
}

static void
lower_copy(char *dst, const char *src, size_t n)
{
	size_t i;
	for (i = 0; i + 1 < n && src[i]; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static const char *
ares_reason(int status)
{
	switch (status) {
	case ARES_ESERVFAIL:
		return "SERVFAIL";
	case ARES_EREFUSED:
		return "REFUSED";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ECONNREFUSED:
		return "connection refused";
	case ARES_EFORMERR:
		return "FORMERR";
	case ARES_ENOTIMP:
		return "NOTIMP";
	case ARES_EBADRESP:
		return "bad response";
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return "resolver shut down";
	case ARES_ENOTFOUND:
		return "NXDOMAIN";
	case ARES_ENODATA:
		return "no data";
	default:
		return ares_strerror(status);
	}
}

/*
 * msg_min_ttl - smallest TTL over the answer and authority records of a raw
 * DNS message; -1 if it has none (or is malformed). Names are skipped, not
 * expanded: a label run ends at a zero byte or a compression pointer.
 */
static long
msg_min_ttl(const unsigned char *m, int len)
{
	if (m == NULL || len < 12)
		return -1;
	unsigned qd = (unsigned)(m[4] << 8 | m[5]);
	unsigned rr = (unsigned)(m[6] << 8 | m[7]) + (unsigned)(m[8] << 8 | m[9]);
	int p = 12;
	long min = -1;
	for (unsigned i = 0; i < qd + rr; i++) {
		for (;;) {
			if (p >= len)
				return -1;
			unsigned c = m[p];
			if (c == 0) {
				p++;
				break;
			}
			if ((c & 0xc0) == 0xc0) {
				p += 2;
				break;
			}
			p += 1 + (int)c;
		}
		if (i < qd) {
			p += 4;
			continue;
		}
		if (p + 10 > len)
			return -1;
		long ttl = (long)((uint32_t)m[p + 4] << 24 | (uint32_t)m[p + 5] << 16 |
		                  (uint32_t)m[p + 6] << 8 | m[p + 7]);
		if (ttl > 0x7fffffff)
			ttl = 0;
		if (min < 0 || ttl < min)
			min = ttl;
		p += 10 + (m[p + 8] << 8 | m[p + 9]);
	}
	return min;
}

/* ---- cache ---- */

static unsigned
cache_hash(int type, const char *name)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % CACHE_BUCKETS;
}

static void
cache_sweep(struct dns *d)
{
	uint64_t now = uv_now(d->loop);
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		struct cache_ent **pp = &d->cache->b[b];
		while (*pp) {
			struct cache_ent *e = *pp;
			if (e->expires <= now) {
				*pp = e->next;
				free(e->abuf);
				free(e);
				d->cache->entries--;
			} else {
				pp = &e->next;
			}
		}
	}
}

static struct cache_ent *
cache_get(struct dns *d, int type, const char *name)
{
	if (d->cache == NULL)
		return NULL; /* closing */
	struct cache_ent **pp = &d->cache->b[cache_hash(type, name)];
	uint64_t now = uv_now(d->loop);
	while (*pp) {
		struct cache_ent *e = *pp;
		if (e->expires <= now) {
			*pp = e->next;
			free(e->abuf);
			free(e);
			d->cache->entries--;
			continue;
		}
		if (e->type == type && strcmp(e->name, name) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

static void
cache_put(struct dns *d, int type, const char *name, int status, const unsigned char *abuf,
          int alen, unsigned ttl)
{
	if ((d->flags & DNS_NO_CACHE) || d->cache == NULL || ttl == 0 || abuf == NULL || alen <= 0)
		return;
	if (d->cache->entries >= CACHE_MAX)
		cache_sweep(d);
	if (d->cache->entries >= CACHE_MAX || cache_get(d, type, name) != NULL)
		return;
	size_t nl = strlen(name);
	struct cache_ent *e = xmalloc(sizeof(*e) + nl + 1);
	memcpy(e->name, name, nl + 1);
	e->type = type;
	e->status = status;
	e->expires = uv_now(d->loop) + (uint64_t)ttl * 1000;
	e->abuf = xmalloc((size_t)alen);
	memcpy(e->abuf, abuf, (size_t)alen);
	e->alen = alen;
	unsigned b = cache_hash(type, name);
	e->next = d->cache->b[b];
	d->cache->b[b] = e;
	d->cache->entries++;
}

struct dns_cache *
dns_cache_new(void)
{
	return xcalloc(1, sizeof(struct dns_cache));
}

void
dns_cache_free(struct dns_cache *c)
{
	if (c == NULL)
		return;
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		while (c->b[b]) {
			struct cache_ent *e = c->b[b];
			c->b[b] = e->next;
			free(e->abuf);
			free(e);
		}
	}
	free(c);
}

/* ---- the c-ares driver ---- */

static void
timer_rearm(struct dns *d)
{
	if (d->closing || !d->have_ch)
		return;
	struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);
	if (tvp == NULL) {
		uv_timer_stop(&d->timer);
		return;
	}
	uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)(tvp->tv_usec + 999) / 1000;
	uv_timer_start(&d->timer, on_timer, ms, 0);
}

static void
on_timer(uv_timer_t *t)
{
	struct dns *d = t->data;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	pump(d);
	timer_rearm(d);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct dns_poll *p = h->data;
	struct dns *d = p->d;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;
	if (status < 0 || (events & UV_READABLE))
		rfd = p->fd;
	if (status < 0 || (events & UV_WRITABLE))
		wfd = p->fd;
	/* p may be closed (and queued for freeing) inside ares_process_fd. */
	ares_process_fd(d->ch, rfd, wfd);
	pump(d);
	timer_rearm(d);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct dns *d = h->data;
	if (h->type == UV_POLL) {
		struct dns_poll *p = (struct dns_poll *)h;
		d = p->d;
		free(p);
	}
	if (--d->open_handles == 0)
		free(d);
}

static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_poll **pp = &d->polls, *p;
	while ((p = *pp) != NULL && p->fd != fd)
		pp = &p->next;
	if (!readable && !writable) {
		if (p != NULL) {
			*pp = p->next;
			uv_poll_stop(&p->h);
			uv_close((uv_handle_t *)&p->h, on_handle_closed);
		}
		return;
	}
	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->d = d;
		p->fd = fd;
		if (uv_poll_init_socket(d->loop, &p->h, fd) != 0) {
			/* c-ares will time the query out; nothing better to do. */
			free(p);
			return;
		}
		p->h.data = p;
		d->open_handles++;
		p->next = d->polls;
		d->polls = p;
	}
	uv_poll_start(&p->h, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0), on_poll);
}

/* ---- the query layer ---- */

/* answer_status - what ares_query would make of a raw answer: its rcode and answer count
 * as an ARES_ status (c-ares 1.18's qcallback, which ares_send does not run) */
static int
answer_status(const unsigned char *abuf, int alen)
{
	if (abuf == NULL || alen < 12)
		return ARES_EBADRESP;
	unsigned ancount = (unsigned)(abuf[6] << 8 | abuf[7]);
	switch (abuf[3] & 0x0f) {
	case 0:
		return ancount > 0 ? ARES_SUCCESS : ARES_ENODATA;
	case 1:
		return ARES_EFORMERR;
	case 2:
		return ARES_ESERVFAIL;
	case 3:
		return ARES_ENOTFOUND;
	case 4:
		return ARES_ENOTIMP;
	case 5:
		return ARES_EREFUSED;
	default:
		return ARES_EBADRESP;
	}
}

static void
on_ares_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct dns_q *q = arg;
	struct dns *d = q->d;
	d->st.in_flight--;
	d->qid_used[q->qid >> 3] &= (unsigned char)~(1u << (q->qid & 7));
	if (status == ARES_SUCCESS)
		status = answer_status(abuf, alen);
	unsigned ttl = 0;
	if (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND) {
		long t = msg_min_ttl(abuf, alen);
		ttl = t < 0 ? 0 : t > TTL_MAX ? TTL_MAX : (unsigned)t;
		if (t >= 0)
			cache_put(d, q->type, q->name, status, abuf, alen, ttl);
	}
	q_done(q, status, abuf, alen, ttl);
}

/* new_qid - an id no query on the wire has, unpredictable from outside (the kernel's
 * random bytes; the loop's own generator should getrandom fail) */
static unsigned short
new_qid(struct dns *d)
{
	for (;;) {
		unsigned short id;
		if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
			id = (unsigned short)rng_next(d);
		if (!(d->qid_used[id >> 3] & (1u << (id & 7)))) {
			d->qid_used[id >> 3] |= (unsigned char)(1u << (id & 7));
			return id;
		}
	}
}

static void
q_send(struct dns_q *q)
{
	struct dns *d = q->d;
	d->st.in_flight++;
	if (d->st.in_flight > d->st.max_in_flight)
		d->st.max_in_flight = d->st.in_flight;
	d->st.queries_sent++;
	unsigned char *qbuf = NULL;
	int qlen = 0;
	q->qid = new_qid(d);
	int rc = ares_create_query(q->name, C_IN, q->type, q->qid, 1, &qbuf, &qlen, 0);
	if (rc != ARES_SUCCESS) {
		if (qbuf)
			ares_free_string(qbuf);
		on_ares_answer(q, rc, 0, NULL, 0);
		return;
	}
	/* AD: "tell me whether you validated this" (RFC 6840 5.7); a validating resolver
	 * answers with AD set for secure data, any other leaves it clear. */
	qbuf[3] |= 0x20;
	ares_send(d->ch, qbuf, qlen, on_ares_answer, q);
	ares_free_string(qbuf);
}

/* Start waiting questions while there is room on the wire. */
static void
pump(struct dns *d)
{
	while (!d->closing && d->wait_head && d->st.in_flight < DNS_MAX_INFLIGHT) {
		struct dns_q *q = d->wait_head;
		d->wait_head = q->next;
		if (d->wait_head == NULL)
			d->wait_tail = NULL;
		d->st.queued--;
		q->next = NULL;
		/* The same question may have been answered while this one waited (the MX
		 * hosts many domains share): take that answer instead of asking again. */
		struct cache_ent *e =
		    d->flags & DNS_NO_CACHE ? NULL : cache_get(d, q->type, q->name);
		if (e != NULL) {
			d->st.cache_hits++;
			uint64_t left = (e->expires - uv_now(d->loop) + 999) / 1000;
			q_done(q, e->status, e->abuf, e->alen, (unsigned)left);
			continue;
		}
		q_send(q);
	}
	timer_rearm(d);
}

/* Ask one question: from the cache at once, else on the wire or in the FIFO. */
static void
q_submit(struct dns_req *r, int type, const char *name, size_t host)
{
	struct dns *d = r->d;
	struct dns_q *q = xcalloc(1, sizeof(*q));
	q->d = d;
	q->r = r;
	q->type = type;
	q->host = host;
	lower_copy(q->name, name, sizeof(q->name));
	r->pending++;
	if (!(d->flags & DNS_NO_CACHE)) {
		struct cache_ent *e = cache_get(d, type, q->name);
		if (e != NULL) {
			d->st.cache_hits++;
			uint64_t left = (e->expires - uv_now(d->loop) + 999) / 1000;
			q_done(q, e->status, e->abuf, e->alen, (unsigned)left);
			return;
		}
	}
	if (d->wait_head != NULL || d->st.in_flight >= DNS_MAX_INFLIGHT) {
		if (d->wait_tail)
			d->wait_tail->next = q;
		else
			d->wait_head = q;
		d->wait_tail = q;
		d->st.queued++;
		return;
	}
	q_send(q);
}

/* ---- the request layer ---- */

/* req_unlink - take r off the live list (before its callback runs) */
static void
req_unlink(struct dns_req *r)
{
	struct dns *d = r->d;
	if (r->prev)
		r->prev->next = r->next;
	else
		d->live = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

/* req_fail_one - a TXT or TLSA request ends without records */
static void
req_fail_one(struct dns_req *r, int status)
{
	req_unlink(r);
	if (r->kind == K_TXT) {
		struct dns_txt_result res = {
		    .status = status, .error = r->err, .secure = r->secure, .ttl = r->ttl};
		r->txt_cb(r->arg, &res);
	} else {
		struct dns_tlsa_result res = {
		    .status = status, .error = r->err, .secure = r->secure, .ttl = r->ttl};
		r->tlsa_cb(r->arg, &res);
	}
	free(r);
}

static void
req_finish(struct dns_req *r, int status, const char *fmt_reason)
{
	if (status != DNS_OK && fmt_reason != r->err)
		snprintf(r->err, sizeof(r->err), "%s", fmt_reason);
	if (r->kind == K_TXT || r->kind == K_TLSA) {
		req_fail_one(r, status); /* only failures end a one-question request here */
		return;
	}
	struct dns_mx_result res = {
	    .status = status, .ttl = r->ttl, .from_a_fallback = r->from_a, .secure = r->secure};
	if (status != DNS_OK) {
		res.error = r->err;
	} else {
		res.hosts = r->hosts;
		res.nhosts = r->nhosts;
	}
	req_unlink(r);
	r->cb(r->arg, &res);
	free(r->hosts);
	free(r);
}

/* ad_bit - whether a raw answer says its data was validated (RFC 4035 3.2.3) */
static int
ad_bit(const unsigned char *abuf, int alen)
{
	return abuf != NULL && alen >= 12 && (abuf[3] & 0x20) != 0;
}

static void
req_ttl(struct dns_req *r, unsigned ttl)
{
	if (ttl < r->ttl)
		r->ttl = ttl;
}

static void
host_lookups(struct dns_req *r)
{
	r->phase = R_HOSTS;
	/* A host is secure until one of its address answers is not. */
	for (size_t i = 0; i < r->nhosts; i++)
		r->hosts[i].secure = 1;
	for (size_t i = 0; i < r->nhosts; i++) {
		q_submit(r, T_A, r->hosts[i].name, i);
		if (!(r->d->flags & DNS_NO_IPV6))
			q_submit(r, T_AAAA, r->hosts[i].name, i);
	}
}

static int
cmp_pref(const void *a, const void *b)
{
	const struct dns_mx_host *x = a, *y = b;
	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* The MX answer: returns a final status, or -1 to go on with host lookups. */
static int
mx_answer(struct dns_req *r, int status, const unsigned char *abuf, int alen)
{
	struct dns *d = r->d;
	if (status == ARES_ENOTFOUND) {
		snprintf(r->err, sizeof(r->err), "%s: NXDOMAIN", r->domain);
		return DNS_NXDOMAIN;
	}
	if (status == ARES_ENODATA) {
		/* RFC 5321 5.1: no MX, the domain itself is the mail host. */
		r->from_a = 1;
		r->hosts = xcalloc(1, sizeof(*r->hosts));
		r->nhosts = 1;
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", r->domain);
		return -1;
	}
	if (status != ARES_SUCCESS) {
		snprintf(r->err, sizeof(r->err), "MX %s: %s", r->domain, ares_reason(status));
		return DNS_TEMPFAIL;
	}
	struct ares_mx_reply *mx = NULL;
	int rc = ares_parse_mx_reply(abuf, alen, &mx);
	if (rc == ARES_ENODATA) {
		/* Only CNAMEs or other types: treat as no MX. */
		return mx_answer(r, ARES_ENODATA, abuf, alen);
	}
	if (rc != ARES_SUCCESS) {
		snprintf(r->err, sizeof(r->err), "MX %s: %s", r->domain, ares_reason(rc));
		return DNS_TEMPFAIL;
	}
	size_t n = 0, nnull = 0;
	for (struct ares_mx_reply *m = mx; m; m = m->next) {
		if (m->host[0] == '\0' || strcmp(m->host, ".") == 0)
			nnull++;
		else
			n++;
	}
	if (n == 0) {
		ares_free_data(mx);
		snprintf(r->err, sizeof(r->err), "%s: null MX, the domain accepts no mail",
		         r->domain);
		return nnull ? DNS_NULLMX : DNS_NODATA;
	}
	r->hosts = xcalloc(n, sizeof(*r->hosts));
	for (struct ares_mx_reply *m = mx; m; m = m->next) {
		if (m->host[0] == '\0' || strcmp(m->host, ".") == 0)
			continue;
		struct dns_mx_host *h = &r->hosts[r->nhosts++];
		lower_copy(h->name, m->host, sizeof(h->name));
		size_t hl = strlen(h->name);
		if (hl > 0 && h->name[hl - 1] == '.')
			h->name[hl - 1] = '\0';
		h->pref = m->priority;
	}
	ares_free_data(mx);
	/* Shuffle, then a stable-enough sort: qsort is not stable, so sort
	 * first and shuffle each run of equal preferences. */
	qsort(r->hosts, r->nhosts, sizeof(*r->hosts), cmp_pref);
	for (size_t i = 0; i < r->nhosts;) {
		size_t j = i + 1; /* hosts[i] starts the run */
		while (j < r->nhosts && r->hosts[j].pref == r->hosts[i].pref)
			j++;
		for (size_t k = j - 1; k > i; k--) {
			size_t s = i + rng_next(d) % (k - i + 1);
			struct dns_mx_host t = r->hosts[k];
			r->hosts[k] = r->hosts[s];
			r->hosts[s] = t;
		}
		i = j;
	}
	if (r->nhosts > DNS_MAX_HOSTS)
		r->nhosts = DNS_MAX_HOSTS;
	return -1;
}

static void
addr_answer(struct dns_req *r, struct dns_q *q, int status, const unsigned char *abuf, int alen)
{
	struct dns_mx_host *h = &r->hosts[q->host];
	if (!ad_bit(abuf, alen))
		h->secure = 0;
	if (status == ARES_ENODATA || status == ARES_ENOTFOUND)
		return;
	if (status != ARES_SUCCESS) {
		h->secure = 0;
		r->tempfail = 1;
		snprintf(r->err, sizeof(r->err), "%s %s: %s", q->type == T_A ? "A" : "AAAA",
		         q->name, ares_reason(status));
		return;
	}
	if (q->type == T_A) {
		struct ares_addrttl at[DNS_MAX_ADDRS];
		int na = DNS_MAX_ADDRS;
		if (ares_parse_a_reply(abuf, alen, NULL, at, &na) != ARES_SUCCESS)
			return;
		/* IPv4 goes first: keep earlier AAAA results after the A ones. */
		size_t keep = (size_t)na;
		if (keep > DNS_MAX_ADDRS)
			keep = DNS_MAX_ADDRS;
		size_t old = h->naddrs;
		if (old + keep > DNS_MAX_ADDRS)
			old = DNS_MAX_ADDRS - keep;
		memmove(&h->addrs[keep], &h->addrs[0], old * sizeof(h->addrs[0]));
		for (size_t i = 0; i < keep; i++) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&h->addrs[i];
			memset(&h->addrs[i], 0, sizeof(h->addrs[i]));
			sin->sin_family = AF_INET;
			sin->sin_addr = at[i].ipaddr;
		}
		h->naddrs = old + keep;
	} else {
		struct ares_addr6ttl at[DNS_MAX_ADDRS];
		int na = DNS_MAX_ADDRS;
		if (ares_parse_aaaa_reply(abuf, alen, NULL, at, &na) != ARES_SUCCESS)
			return;
		for (int i = 0; i < na && h->naddrs < DNS_MAX_ADDRS; i++) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->addrs[h->naddrs++];
			memset(s6, 0, sizeof(struct sockaddr_storage));
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, &at[i].ip6addr, sizeof(s6->sin6_addr));
		}
	}
}

static void
hosts_done(struct dns_req *r)
{
	size_t w = 0;
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].naddrs > 0)
			r->hosts[w++] = r->hosts[i];
	r->nhosts = w;
	if (w > 0) {
		req_finish(r, DNS_OK, NULL);
	} else if (r->tempfail) {
		req_finish(r, DNS_TEMPFAIL, r->err);
	} else {
		snprintf(r->err, sizeof(r->err),
		         r->kind == K_HOST ? "%s: no address"
		         : r->from_a       ? "%s: no MX and no address"
		                           : "%s: no MX host has an address",
		         r->domain);
		req_finish(r, DNS_NODATA, r->err);
	}
}

/* skip_name - the offset after the (possibly compressed) name at p in m, or -1 */
static int
skip_name(const unsigned char *m, int len, int p)
{
	for (int labels = 0; labels < 128; labels++) {
		if (p >= len)
			return -1;
		unsigned c = m[p];
		if (c == 0)
			return p + 1;
		if ((c & 0xc0) == 0xc0)
			return p + 2 <= len ? p + 2 : -1;
		if (c & 0xc0)
			return -1;
		p += 1 + (int)c;
	}
	return -1;
}

/* tlsa_parse - the TLSA records of the answer section of m (a CNAME before them is
 * skipped) into res; -1 when the message is malformed */
static int
tlsa_parse(const unsigned char *m, int len, struct dns_tlsa *recs, struct dns_tlsa_result *res)
{
	if (len < 12)
		return -1;
	unsigned qd = (unsigned)(m[4] << 8 | m[5]), an = (unsigned)(m[6] << 8 | m[7]);
	int p = 12;
	for (unsigned i = 0; i < qd; i++) {
		if ((p = skip_name(m, len, p)) < 0 || p + 4 > len)
			return -1;
		p += 4;
	}
	for (unsigned i = 0; i < an; i++) {
		if ((p = skip_name(m, len, p)) < 0 || p + 10 > len)
			return -1;
		unsigned type = (unsigned)(m[p] << 8 | m[p + 1]);
		unsigned rdlen = (unsigned)(m[p + 8] << 8 | m[p + 9]);
		p += 10;
		if (p + (int)rdlen > len)
			return -1;
		if (type == 52) {
			if (rdlen < 3)
				return -1;
			size_t dl = rdlen - 3;
			if (res->n == DNS_TLSA_MAX || dl > DNS_TLSA_DATA_MAX) {
				res->skipped++;
			} else {
				struct dns_tlsa *t = &recs[res->n++];
				t->usage = m[p];
				t->selector = m[p + 1];
				t->mtype = m[p + 2];
				t->len = dl;
				memcpy(t->data, m + p + 3, dl);
			}
		}
		p += (int)rdlen;
	}
	return 0;
}

/* one_answer - the answer to a TXT or TLSA request: parse it and call back */
static void
one_answer(struct dns_req *r, int status, const unsigned char *abuf, int alen)
{
	/* A validated denial (NXDOMAIN, NODATA) is as secure as validated records. */
	r->secure = ad_bit(abuf, alen);
	const char *what = r->kind == K_TXT ? "TXT" : "TLSA";
	if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
		snprintf(r->err, sizeof(r->err), "%s %s: %s", what, r->domain,
		         status == ARES_ENOTFOUND ? "NXDOMAIN" : "no record");
		req_fail_one(r, status == ARES_ENOTFOUND ? DNS_NXDOMAIN : DNS_NODATA);
		return;
	}
	if (status != ARES_SUCCESS) {
		r->secure = 0;
		snprintf(r->err, sizeof(r->err), "%s %s: %s", what, r->domain, ares_reason(status));
		req_fail_one(r, DNS_TEMPFAIL);
		return;
	}
	if (r->kind == K_TLSA) {
		struct dns_tlsa recs[DNS_TLSA_MAX];
		struct dns_tlsa_result res = {.status = DNS_OK, .secure = r->secure, .ttl = r->ttl};
		if (tlsa_parse(abuf, alen, recs, &res) < 0) {
			r->secure = 0;
			snprintf(r->err, sizeof(r->err), "TLSA %s: malformed answer", r->domain);
			req_fail_one(r, DNS_TEMPFAIL);
			return;
		}
		if (res.n == 0 && res.skipped == 0) {
			snprintf(r->err, sizeof(r->err), "TLSA %s: no record", r->domain);
			req_fail_one(r, DNS_NODATA);
			return;
		}
		res.recs = recs;
		req_unlink(r);
		r->tlsa_cb(r->arg, &res);
		free(r);
		return;
	}
	struct ares_txt_ext *txt = NULL;
	int rc = ares_parse_txt_reply_ext(abuf, alen, &txt);
	if (rc != ARES_SUCCESS) {
		if (rc == ARES_ENODATA) {
			snprintf(r->err, sizeof(r->err), "TXT %s: no record", r->domain);
			req_fail_one(r, DNS_NODATA);
			return;
		}
		r->secure = 0;
		snprintf(r->err, sizeof(r->err), "TXT %s: %s", r->domain, ares_reason(rc));
		req_fail_one(r, DNS_TEMPFAIL);
		return;
	}
	/* A record's strings are joined (RFC 7208 3.3 and RFC 8461 3.1 read them so). */
	char *bufs[DNS_TXT_MAX];
	size_t lens[DNS_TXT_MAX], n = 0;
	for (struct ares_txt_ext *t = txt; t; t = t->next) {
		if (t->record_start) {
			if (n == DNS_TXT_MAX)
				break;
			bufs[n] = xmalloc(DNS_TXT_LEN_MAX + 1);
			lens[n] = 0;
			bufs[n][0] = '\0';
			n++;
		}
		if (n == 0)
			continue;
		size_t room = DNS_TXT_LEN_MAX - lens[n - 1];
		size_t k = t->length < room ? t->length : room;
		memcpy(bufs[n - 1] + lens[n - 1], t->txt, k);
		lens[n - 1] += k;
		bufs[n - 1][lens[n - 1]] = '\0';
	}
	ares_free_data(txt);
	struct dns_txt_result res = {.status = n ? DNS_OK : DNS_NODATA,
	                             .records = (const char *const *)bufs,
	                             .n = n,
	                             .secure = r->secure,
	                             .ttl = r->ttl};
	if (n == 0) {
		snprintf(r->err, sizeof(r->err), "TXT %s: no record", r->domain);
		res.error = r->err;
	}
	req_unlink(r);
	r->txt_cb(r->arg, &res);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	free(r);
}

static void
q_done(struct dns_q *q, int status, const unsigned char *abuf, int alen, unsigned ttl)
{
	struct dns_req *r = q->r;
	struct dns *d = r->d;
	r->pending--;
	if (status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND)
		req_ttl(r, ttl);
	if (r->phase == R_MX) {
		free(q);
		if (d->closing) {
			req_finish(r, DNS_TEMPFAIL, "resolver shut down");
			return;
		}
		r->secure =
		    (status == ARES_SUCCESS || status == ARES_ENODATA) && ad_bit(abuf, alen);
		int st = mx_answer(r, status, abuf, alen);
		if (st >= 0) {
			req_finish(r, st, r->err);
			return;
		}
		/* pending goes up before any answer can come back from the cache. */
		r->pending++;
		host_lookups(r);
		if (--r->pending == 0)
			hosts_done(r);
		return;
	}
	if (r->phase == R_ONE) {
		free(q);
		if (d->closing)
			req_finish(r, DNS_TEMPFAIL, "resolver shut down");
		else
			one_answer(r, status, abuf, alen);
		return;
	}
	addr_answer(r, q, status, abuf, alen);
	free(q);
	if (r->pending == 0)
		hosts_done(r);
}

static void
req_start(struct dns_req *r)
{
	switch (r->kind) {
	case K_MX:
		r->phase = R_MX;
		q_submit(r, T_MX, r->domain, 0);
		break;
	case K_HOST:
		r->from_a = 1;
		r->hosts = xcalloc(1, sizeof(*r->hosts));
		r->nhosts = 1;
		snprintf(r->hosts[0].name, sizeof(r->hosts[0].name), "%s", r->domain);
		/* pending goes up before any answer can come back from the cache. */
		r->pending++;
		host_lookups(r);
		if (--r->pending == 0)
			hosts_done(r);
		break;
	case K_TXT:
	case K_TLSA:
		r->phase = R_ONE;
		q_submit(r, r->kind == K_TXT ? T_TXT : 52 /* T_TLSA */, r->domain, 0);
		break;
	}
}

static void
on_idle(uv_idle_t *h)
{
	struct dns *d = h->data;
	struct dns_req *list = d->start_head;
	d->start_head = d->start_tail = NULL;
	uv_idle_stop(&d->idle);
	while (list) {
		struct dns_req *r = list;
		list = r->next_start;
		req_start(r);
	}
	timer_rearm(d);
}

/* ---- the API ---- */

/* dns_status_name - "ok", "nxdomain", "nullmx", "nodata", "tempfail" */
const char *
dns_status_name(int status)
{
	static const char *const names[] = {"ok", "nxdomain", "nullmx", "nodata", "tempfail"};
	return status >= 0 && status <= DNS_TEMPFAIL ? names[status] : "unknown";
}

/* dns_new - a resolver on loop; NULL with a message in err on failure */
struct dns *
dns_new(uv_loop_t *loop, const struct dns_opts *opts, char *err, size_t errsz)
{
	static int lib_ready;
	struct dns_opts def = {0};
	if (opts == NULL)
		opts = &def;
	if (!lib_ready) {
		int rc = ares_library_init(ARES_LIB_INIT_ALL);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errsz, "c-ares init: %s", ares_strerror(rc));
			return NULL;
		}
		lib_ready = 1;
	}
	struct dns *d = xcalloc(1, sizeof(*d));
	d->loop = loop;
	d->flags = opts->flags;
	d->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)d;
	if (d->rng == 0)
		d->rng = 0x9e3779b97f4a7c15ULL;

	struct ares_options ao;
	memset(&ao, 0, sizeof(ao));
	ao.timeout = (int)(opts->timeout_ms ? opts->timeout_ms : 2000);
	ao.tries = (int)(opts->tries ? opts->tries : 3);
	/* Without NOCHECKRESP, c-ares 1.18 turns SERVFAIL and REFUSED into
	 * ECONNREFUSED after its retries; with it, the answer comes back and
	 * answer_status maps the rcode. */
	ao.flags = ARES_FLAG_NOCHECKRESP;
	ao.sock_state_cb = sock_state_cb;
	ao.sock_state_cb_data = d;
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
	int rc = ares_init_options(&d->ch, &ao, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errsz, "c-ares: %s", ares_strerror(rc));
		free(d);
		return NULL;
	}
	d->have_ch = 1;
	if (opts->servers != NULL) {
		rc = ares_set_servers_ports_csv(d->ch, opts->servers);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errsz, "DNS servers \"%s\": %s", opts->servers,
			         ares_strerror(rc));
			ares_destroy(d->ch);
			free(d);
			return NULL;
		}
	}
	d->own_cache = opts->cache == NULL;
	d->cache = d->own_cache ? dns_cache_new() : opts->cache;
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	uv_idle_init(loop, &d->idle);
	d->idle.data = d;
	d->open_handles = 2;
	return d;
}

/* req_new - a request of kind for name, queued to start from the loop; NULL when name
 * cannot be asked for or the resolver is closing */
static struct dns_req *
req_new(struct dns *d, enum req_kind kind, const char *name, void *arg)
{
	size_t n = strlen(name);
	if (d->closing || n == 0 || n > 253)
		return NULL;
	struct dns_req *r = xcalloc(1, sizeof(*r));
	r->d = d;
	r->kind = kind;
	r->arg = arg;
	r->ttl = TTL_MAX;
	lower_copy(r->domain, name, sizeof(r->domain));
	if (n > 1 && r->domain[n - 1] == '.')
		r->domain[n - 1] = '\0';
	r->next = d->live;
	if (d->live)
		d->live->prev = r;
	d->live = r;
	if (d->start_tail)
		d->start_tail->next_start = r;
	else
		d->start_head = r;
	d->start_tail = r;
	uv_idle_start(&d->idle, on_idle);
	d->st.requests++;
	return r;
}

/* dns_resolve_mx - look up domain's mail hosts; cb(arg, result) once, later */
int
dns_resolve_mx(struct dns *d, const char *domain, dns_mx_cb cb, void *arg)
{
	struct dns_req *r = cb ? req_new(d, K_MX, domain, arg) : NULL;
	if (r == NULL)
		return -1;
	r->cb = cb;
	return 0;
}

/* dns_resolve_host - host's own addresses as a one-host MX result; cb once, later */
int
dns_resolve_host(struct dns *d, const char *host, dns_mx_cb cb, void *arg)
{
	struct dns_req *r = cb ? req_new(d, K_HOST, host, arg) : NULL;
	if (r == NULL)
		return -1;
	r->cb = cb;
	return 0;
}

/* dns_resolve_txt - the TXT records of name; cb(arg, result) once, later */
int
dns_resolve_txt(struct dns *d, const char *name, dns_txt_cb cb, void *arg)
{
	struct dns_req *r = cb ? req_new(d, K_TXT, name, arg) : NULL;
	if (r == NULL)
		return -1;
	r->txt_cb = cb;
	return 0;
}

/* dns_resolve_tlsa - the TLSA records of name; cb(arg, result) once, later */
int
dns_resolve_tlsa(struct dns *d, const char *name, dns_tlsa_cb cb, void *arg)
{
	struct dns_req *r = cb ? req_new(d, K_TLSA, name, arg) : NULL;
	if (r == NULL)
		return -1;
	r->tlsa_cb = cb;
	return 0;
}

/* dns_servers_local - whether every server the resolver asks is on this host */
int
dns_servers_local(const struct dns *d)
{
	struct ares_addr_port_node *list = NULL;
	if (!d->have_ch || ares_get_servers_ports(d->ch, &list) != ARES_SUCCESS)
		return 0;
	int local = list != NULL;
	for (struct ares_addr_port_node *n = list; n; n = n->next) {
		if (n->family == AF_INET)
			local &= (ntohl(n->addr.addr4.s_addr) >> 24) == 127;
		else
			local &= n->family == AF_INET6 &&
			         memcmp(&n->addr.addr6, &in6addr_loopback, 16) == 0;
	}
	ares_free_data(list);
	return local;
}

/* dns_stats - copy the counters */
void
dns_stats(const struct dns *d, struct dns_stats *st)
{
	*st = d->st;
	st->cache_entries = d->cache ? d->cache->entries : 0;
}

/* dns_free - cancel pending requests, close the handles; the loop finishes it */
void
dns_free(struct dns *d)
{
	if (d == NULL || d->closing)
		return;
	d->closing = 1;
	/* Requests not yet started, then questions waiting for a slot. */
	while (d->start_head) {
		struct dns_req *r = d->start_head;
		d->start_head = r->next_start;
		req_finish(r, DNS_TEMPFAIL, "resolver shut down");
	}
	d->start_tail = NULL;
	while (d->wait_head) {
		struct dns_q *q = d->wait_head;
		d->wait_head = q->next;
		d->st.queued--;
		q_done(q, ARES_EDESTRUCTION, NULL, 0, 0);
	}
	d->wait_tail = NULL;
	/* c-ares answers every query in flight with ARES_EDESTRUCTION and
	 * reports each socket closed through sock_state_cb. */
	ares_destroy(d->ch);
	d->have_ch = 0;
	if (d->own_cache)
		dns_cache_free(d->cache);
	d->cache = NULL; /* a lent one lives on for the next resolver */
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, on_handle_closed);
	uv_idle_stop(&d->idle);
	uv_close((uv_handle_t *)&d->idle, on_handle_closed);
}
