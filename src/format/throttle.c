/* throttle - buckets, rates, slow-down replies, AIMD, retries, warm-up (see throttle.h). */
#include "kirim/throttle.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* --- small helpers (no libm: the format layer links nothing) -------------------------------- */

static double
dmin(double a, double b)
{
	return a < b ? a : b;
}

static double
dmax(double a, double b)
{
	return a > b ? a : b;
}

static int
is_finite(double x)
{
	return x == x && x - x == 0; /* false for NaN and for +-inf (inf - inf is NaN) */
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int
blank(int c)
{
	return c == ' ' || c == '\t';
}

/* ci_contains - 1 when needle occurs in hay, ASCII case ignored */
static int
ci_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] &&
		       lower((unsigned char)hay[i]) == lower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return 1;
	}
	return n == 0;
}

/* ci_eq - the n bytes at s equal word (ASCII case ignored) */
static int
ci_eq(const char *s, size_t n, const char *word)
{
	if (strlen(word) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != word[i])
			return 0;
	return 1;
}

/* --- token bucket -------------------------------------------------------------------------- */

static double
bucket_burst(double rate, double burst)
{
	if (burst > 0 && is_finite(burst))
		return dmax(burst, 1.0);
	return dmax(rate, 1.0); /* one second of tokens, at least one */
}

/* bucket_refill - bring tokens up to now; a clock that goes back earns nothing */
static void
bucket_refill(struct throttle_bucket *b, double now)
{
	if (!(now > b->last))
		return;
	if (b->rate > 0)
		b->tokens = dmin(b->burst, b->tokens + (now - b->last) * b->rate);
	b->last = now;
}

/* throttle_bucket_init - a bucket of rate/s holding burst (<= 0: the default), one token in */
void
throttle_bucket_init(struct throttle_bucket *b, double rate, double burst, double now)
{
	b->rate = rate > 0 && is_finite(rate) ? rate : 0;
	b->burst = bucket_burst(b->rate, burst);
	b->tokens = 1.0;
	b->last = now;
}

/* throttle_bucket_wait - seconds until a token is there (0 = now), taking none */
double
throttle_bucket_wait(struct throttle_bucket *b, double now)
{
	if (b->rate <= 0)
		return 0;
	bucket_refill(b, now);
	/* The epsilon absorbs rounding when the caller comes back exactly when told. */
	if (b->tokens >= 1.0 - 1e-9)
		return 0;
	return (1.0 - b->tokens) / b->rate;
}

/* throttle_bucket_take - take a token: 0 when allowed now, else seconds until one is there */
double
throttle_bucket_take(struct throttle_bucket *b, double now)
{
	double wait = throttle_bucket_wait(b, now);
	if (wait > 0 || b->rate <= 0)
		return wait;
	b->tokens = dmax(0.0, b->tokens - 1.0);
	return 0;
}

/* throttle_bucket_set_rate - change rate and burst, keeping what was earned, clamped */
void
throttle_bucket_set_rate(struct throttle_bucket *b, double rate, double burst, double now)
{
	bucket_refill(b, now);
	b->rate = rate > 0 && is_finite(rate) ? rate : 0;
	b->burst = bucket_burst(b->rate, burst);
	b->tokens = dmin(b->tokens, b->burst);
	if (now > b->last)
		b->last = now;
}

/*
 * throttle_keyed_bucket - key's bucket in a table of n slots. Buckets are
 * found by open addressing, KEYED_PROBE slots deep from the key's FNV-1a
 * hash; a key not found takes a free slot or the one used longest ago and
 * starts full (burst tokens), so a new client gets its burst at once and
 * rate per second after that.
 */
enum { KEYED_PROBE = 8 };

struct throttle_bucket *
throttle_keyed_bucket(struct throttle_keyed *slots, size_t n, const unsigned char key[16],
                      double rate, double burst, double now)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	struct throttle_keyed *b = NULL, *oldest = NULL;
	for (unsigned i = 0; i < KEYED_PROBE && i < n; i++) {
		struct throttle_keyed *c = &slots[(h + i) % n];
		if (c->used && memcmp(c->key, key, 16) == 0) {
			b = c;
			break;
		}
		if (oldest == NULL || !c->used || (oldest->used && c->tb.last < oldest->tb.last))
			oldest = c;
	}
	if (b == NULL) {
		b = oldest;
		memcpy(b->key, key, 16);
		b->used = true;
		throttle_bucket_init(&b->tb, rate, burst, now);
		b->tb.tokens = b->tb.burst;
	}
	return &b->tb;
}

/* --- rates as people write them --------------------------------------------------------------- */

static const struct {
	const char *word;
	double seconds;
} rate_units[] = {
    {"s", 1},     {"sec", 1},     {"secs", 1},     {"second", 1},  {"seconds", 1},
    {"m", 60},    {"min", 60},    {"mins", 60},    {"minute", 60}, {"minutes", 60},
    {"h", 3600},  {"hr", 3600},   {"hrs", 3600},   {"hour", 3600}, {"hours", 3600},
    {"d", 86400}, {"day", 86400}, {"days", 86400},
};

/* throttle_rate_parse - "10/s", "600/min", "3600/h", "100/d", "0"/"none" into per-second */
int
throttle_rate_parse(const char *s, double *per_second, const char **reason)
{
	const char *why = "give a number and a unit: 10/s, 600/min, 3600/h or 100/d";
	if (s == NULL)
		goto bad;
	while (blank(*s))
		s++;
	size_t n = strlen(s);
	while (n && blank(s[n - 1]))
		n--;
	if (ci_eq(s, n, "none") || ci_eq(s, n, "unlimited")) {
		*per_second = 0;
		return 0;
	}
	double v = 0, scale = 1;
	size_t i = 0, digits = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		if (++digits > 9) {
			why = "rate too high";
			goto bad;
		}
		v = v * 10 + (s[i++] - '0');
	}
	if (i < n && s[i] == '.') {
		size_t frac = 0;
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, frac++)
			if (frac < 6)
				v += (s[i] - '0') * (scale /= 10);
		if (frac == 0)
			goto bad;
	}
	if (digits == 0 && scale == 1)
		goto bad;
	while (i < n && blank(s[i]))
		i++;
	if (i == n) {
		if (v == 0) {
			*per_second = 0;
			return 0;
		}
		why = "a rate needs a unit: 10/s, 600/min, 3600/h or 100/d";
		goto bad;
	}
	if (s[i++] != '/')
		goto bad;
	while (i < n && blank(s[i]))
		i++;
	size_t w = i;
	while (w < n && !blank(s[w]))
		w++;
	double unit = 0;
	for (size_t u = 0; u < sizeof(rate_units) / sizeof(rate_units[0]); u++)
		if (ci_eq(s + i, w - i, rate_units[u].word))
			unit = rate_units[u].seconds;
	while (w < n && blank(s[w]))
		w++;
	if (unit == 0 || w != n) {
		why = "unknown unit: use /s, /min, /h or /d";
		goto bad;
	}
	if (v == 0) {
		why = "a rate of 0 would stop sending; write 'none' for no limit";
		goto bad;
	}
	if (v / unit > THROTTLE_RATE_MAX) {
		why = "rate too high";
		goto bad;
	}
	if (v / unit < THROTTLE_RATE_MIN) {
		why = "rate too low: at least 1/d";
		goto bad;
	}
	*per_second = v / unit;
	return 0;
bad:
	if (reason)
		*reason = why;
	return -1;
}

/* throttle_rate_format - a per-second rate as people read it ("10/s", "90/h", "unlimited") */
char *
throttle_rate_format(double r, char *out, size_t outsz)
{
	static const struct {
		double mul;
		const char *unit;
	} units[] = {{1, "s"}, {60, "min"}, {3600, "h"}, {86400, "d"}};
	if (outsz == 0)
		return out;
	if (!(r > 0) || !is_finite(r)) {
		snprintf(out, outsz, "unlimited");
		return out;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		double v = r * units[i].mul;
		if (v < 1 || v > 1e12)
			continue;
		double whole = (double)(long long)(v + 0.5);
		if (whole - v <= 1e-6 * v && v - whole <= 1e-6 * v) {
			snprintf(out, outsz, "%.0f/%s", whole, units[i].unit);
			return out;
		}
	}
	/* Not whole in any unit: three or more significant digits, never an exponent (the
	 * parser reads no exponents), per hour or, below one an hour, per day. */
	const char *unit = "h";
	double v = r * 3600;
	if (v < 1) {
		unit = "d";
		v = r * 86400;
	}
	int decimals = v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 6;
	snprintf(out, outsz, "%.*f/%s", decimals, v, unit);
	return out;
}

/* --- replies that mean "slow down" ----------------------------------------------------------- */

/*
 * The table. First match wins, so the exceptions (replies that look like a
 * complaint but are about one mailbox or one envelope) come before the rules
 * they escape. A row matches a 4xx reply when its code is 0 or equal, its
 * ecode is NULL or a prefix of the reply's, and its text is NULL or occurs in
 * the reply's text (case ignored). Sources: RFC 5321/3463, Gmail's SMTP error
 * reference, Outlook.com's and Yahoo's sender pages, and what the large
 * regional providers send (docs/throttling.md).
 */
static const struct slow_rule {
	int code;
	const char *ecode;
	const char *text;
	int slowdown;
	const char *why;
} slow_rules[] = {
    /* Greylisting wants the same message again later; the retry schedule does that, and
     * slowing every other message down would not help. */
    {0, NULL, "greylist", 0, "greylisting: retry later, no need to slow down"},
    /* Gmail's 450 4.2.1: one mailbox receives too fast ("try again later" in the text);
     * the recipient waits, the destination is fine. */
    {0, "4.2.1", "receiving mail at a rate", 0, "one mailbox receives too fast (Gmail 4.2.1)"},
    /* A full mailbox is about one recipient. */
    {0, "4.2.2", NULL, 0, "mailbox full (4.2.2): one recipient"},
    /* Too many recipients in one message: the envelope, not the sending rate. */
    {0, "4.5.3", NULL, 0, "too many recipients (4.5.3): the envelope, not the rate"},
    {0, NULL, "too many recipients", 0, "too many recipients: the envelope, not the rate"},
    /* 421 closes the channel (RFC 5321 3.8, 4.2.3): the server sheds load or refuses us now. */
    {421, NULL, NULL, 1, "421: the server is closing the channel"},
    /* Provider codes (also sent with codes other than 421). */
    {0, "4.7.28", NULL, 1, "Gmail 4.7.28: unusual rate of unsolicited mail"},
    {0, "4.7.650", NULL, 1, "Outlook 4.7.650: rate limited due to IP reputation"},
    {0, "4.7.500", NULL, 1, "Outlook 4.7.500: server busy, try again later"},
    /* 451 4.7.x: deferred by local policy (Yandex, Mail.ru, Outlook, most filters). */
    {451, "4.7.", NULL, 1, "451 4.7.x: deferred by policy"},
    /* 452 "too many connections / messages / sessions" (recipients are excepted above). */
    {452, NULL, "too many", 1, "452 too many"},
    /* Words that mean "slower", whatever the code. */
    {0, NULL, "rate limit", 1, "rate limited"},
    {0, NULL, "ratelimit", 1, "rate limited"},
    {0, NULL, "rate-limit", 1, "rate limited"},
    {0, NULL, "unusual rate", 1, "unusual rate"},
    {0, NULL, "sending rate", 1, "sending rate"},
    {0, NULL, "throttl", 1, "throttled"},
    {0, NULL, "too many connections", 1, "too many connections"},
    {0, NULL, "too many concurrent", 1, "too many concurrent connections"},
    {0, NULL, "maximum number of connections", 1, "too many connections"},
    {0, NULL, "too many messages", 1, "too many messages"},
    {0, NULL, "too frequent", 1, "sending too frequently (QQ and others)"},
    {0, NULL, "frequency limit", 1, "frequency limited (QQ and others)"},
    {0, NULL, "try again later", 1, "try again later"},
    {0, NULL, "try later", 1, "try later"},
    {0, NULL, "come back later", 1, "come back later (Yandex)"},
    {0, NULL, "temporarily deferred", 1, "temporarily deferred (Yahoo, AOL)"},
    {0, NULL, "deferred due to", 1, "deferred due to volume or complaints (Yahoo)"},
    {0, NULL, "TSS04", 1, "Yahoo TSS04: deferred for volume or complaints"},
    {0, NULL, "TS04", 1, "Yahoo TS04: deferred for volume or complaints"},
    {0, NULL, "server busy", 1, "server busy (Outlook and others)"},
    {0, NULL, "server is busy", 1, "server busy"},
    {0, NULL, "too busy", 1, "server too busy"},
    {0, NULL, "RP:", 1, "NetEase (163.com, 126.com) rate policy code RP:xxx"},
};

static const struct slow_rule *
slow_match(int code, const char *ecode, const char *text)
{
	if (code < 400 || code > 499)
		return NULL;
	if (ecode == NULL)
		ecode = "";
	if (text == NULL)
		text = "";
	for (size_t i = 0; i < sizeof(slow_rules) / sizeof(slow_rules[0]); i++) {
		const struct slow_rule *r = &slow_rules[i];
		if (r->code && r->code != code)
			continue;
		if (r->ecode && strncmp(ecode, r->ecode, strlen(r->ecode)) != 0)
			continue;
		if (r->text && !ci_contains(text, r->text))
			continue;
		return r;
	}
	return NULL;
}

/* throttle_is_slowdown - 1 when a reply asks the sender to slow down */
int
throttle_is_slowdown(int code, const char *ecode, const char *text)
{
	const struct slow_rule *r = slow_match(code, ecode, text);
	return r && r->slowdown;
}

/* throttle_slowdown_why - the table row that decided (for logs), or NULL */
const char *
throttle_slowdown_why(int code, const char *ecode, const char *text)
{
	const struct slow_rule *r = slow_match(code, ecode, text);
	return r ? r->why : NULL;
}

/* throttle_result_is_slowdown - a slow-down reply, a refused connection, or a timeout */
int
throttle_result_is_slowdown(const struct smtp_result *r)
{
	if (r->flags & (SMTP_RESULT_LOCAL | SMTP_RESULT_ABORTED))
		return 0;
	if (r->code && throttle_is_slowdown(r->code, r->ecode, r->text))
		return 1;
	if (r->flags & SMTP_RESULT_TIMEOUT)
		return 1;
	return (r->flags & SMTP_RESULT_CONN_LOST) && r->stage <= SMTP_STAGE_BANNER;
}

/* --- additive increase, multiplicative decrease ---------------------------------------------- */

/* throttle_aimd_defaults - the documented knobs (docs/throttling.md) */
struct throttle_aimd_params
throttle_aimd_defaults(void)
{
	return (struct throttle_aimd_params){
	    .min_rate = 1.0 / 60, /* one a minute */
	    .hold_s = 5,          /* replies to connections opened before a decrease */
	    .suspend_after = 3,
	    .window_s = 600,
	    .suspend_first_s = 60,
	    .suspend_max_s = 1800,
	    .increase_every = 50,
	    .increase_after_s = 30,
	    .increase_fraction = 0.1, /* ten steps from the floor back to the ceiling */
	};
}

/* throttle_aimd_init - a controller at its ceilings; p NULL means the defaults */
void
throttle_aimd_init(struct throttle_aimd *a, const struct throttle_aimd_params *p, double rate_max,
                   unsigned conns_max, double now)
{
	memset(a, 0, sizeof(*a));
	a->p = p ? *p : throttle_aimd_defaults();
	if (a->p.suspend_after < 1)
		a->p.suspend_after = 1;
	if (a->p.increase_every < 1)
		a->p.increase_every = 1;
	a->rate_max = rate_max > 0 && is_finite(rate_max) ? rate_max : 0;
	a->conns_max = conns_max ? conns_max : 1;
	a->rate = a->rate_max;
	a->conns = a->conns_max;
	a->suspend_next = a->p.suspend_first_s;
	a->last_decrease = -1e300;
	a->last_change = now;
	a->window_start = now;
}

/* throttle_aimd_set_ceiling - new ceilings; effective values clamped to them, never raised */
void
throttle_aimd_set_ceiling(struct throttle_aimd *a, double rate_max, unsigned conns_max)
{
	a->rate_max = rate_max > 0 && is_finite(rate_max) ? rate_max : 0;
	a->conns_max = conns_max ? conns_max : 1;
	if (a->conns > a->conns_max)
		a->conns = a->conns_max;
	/* Unlimited is no number to climb toward: a person lifted the limit, so it goes now. */
	if (a->rate_max == 0 || a->rate == 0 || a->rate > a->rate_max)
		a->rate = a->rate_max;
}

/* note - write a change into a->last, with control characters from a reply made blanks */
static void __attribute__((format(printf, 2, 3)))
note(struct throttle_aimd *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->last, sizeof(a->last), fmt, ap);
	va_end(ap);
	for (char *p = a->last; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* levels - "rate 10/s -> 5/s, connections 8 -> 4" for a change from (r0, c0) */
static void
levels(const struct throttle_aimd *a, double r0, unsigned c0, char *out, size_t outsz)
{
	char f[THROTTLE_RATE_STR], t[THROTTLE_RATE_STR], c[48];
	throttle_rate_format(r0, f, sizeof(f));
	throttle_rate_format(a->rate, t, sizeof(t));
	if (c0 != a->conns)
		snprintf(c, sizeof(c), "connections %u -> %u", c0, a->conns);
	else
		snprintf(c, sizeof(c), "%u connection%s", a->conns, a->conns == 1 ? "" : "s");
	if (r0 != a->rate)
		snprintf(out, outsz, "rate %s -> %s, %s", f, t, c);
	else
		snprintf(out, outsz, "rate %s, %s", t, c);
}

/* throttle_aimd_slowdown - halve, or suspend after repeated complaints */
enum throttle_change
throttle_aimd_slowdown(struct throttle_aimd *a, double now, const char *why)
{
	char lv[160];
	if (why == NULL || *why == '\0')
		why = "a complaint";
	a->slowdowns++;
	a->successes = 0;
	if (a->suspended_until > now)
		return THROTTLE_SAME; /* replies to what was in flight: the suspension covers them
		                       */
	if (now - a->last_decrease < a->p.hold_s)
		return THROTTLE_SAME; /* the same episode, seen on another connection */
	if (now - a->window_start > a->p.window_s) {
		a->window_start = now;
		a->strikes = 0;
	}
	a->strikes++;
	a->last_decrease = now;
	a->last_change = now;
	double r0 = a->rate;
	unsigned c0 = a->conns;
	double floor = a->rate_max > 0 ? dmin(a->p.min_rate, a->rate_max) : 0;
	if (a->rate > 0)
		a->rate = dmax(floor, a->rate / 2);
	a->conns = a->conns > 1 ? a->conns / 2 : 1;
	if (a->strikes >= a->p.suspend_after) {
		double d = a->suspend_next;
		a->strikes = 0;
		a->window_start = now;
		a->suspended_until = now + d;
		a->suspend_next = dmin(2 * d, a->p.suspend_max_s);
		a->suspensions++;
		a->conns = 1;
		levels(a, r0, c0, lv, sizeof(lv));
		note(a, "suspended for %.0f s (%u complaints in %.0f s; then %s) after %s", d,
		     a->p.suspend_after, a->p.window_s, lv, why);
		return THROTTLE_SUSPENDED;
	}
	if (a->rate == r0 && a->conns == c0)
		return THROTTLE_SAME; /* at the floor already; the strike still counts */
	levels(a, r0, c0, lv, sizeof(lv));
	note(a, "%s after %s", lv, why);
	return THROTTLE_DECREASED;
}

/* throttle_aimd_success - a message was accepted; may step back up */
enum throttle_change
throttle_aimd_success(struct throttle_aimd *a, double now)
{
	if (a->suspended_until > now)
		return THROTTLE_SAME;
	if (a->rate == a->rate_max && a->conns == a->conns_max) {
		a->successes = 0;
		return THROTTLE_SAME;
	}
	a->successes++;
	int by_count = a->successes >= a->p.increase_every;
	if (!by_count && now - a->last_change < a->p.increase_after_s)
		return THROTTLE_SAME;
	double r0 = a->rate;
	unsigned c0 = a->conns;
	if (a->conns < a->conns_max)
		a->conns++;
	if (a->rate_max > 0)
		a->rate = dmin(a->rate_max,
		               a->rate + dmax(a->rate_max * a->p.increase_fraction, a->p.min_rate));
	char lv[160];
	levels(a, r0, c0, lv, sizeof(lv));
	if (by_count)
		note(a, "%s after %u messages accepted", lv, a->successes);
	else
		note(a, "%s after %.0f s without a complaint", lv, now - a->last_change);
	a->successes = 0;
	a->last_change = now;
	/* Back at the ceiling: the next suspension starts short again. */
	if (a->rate == a->rate_max && a->conns == a->conns_max)
		a->suspend_next = a->p.suspend_first_s;
	return THROTTLE_INCREASED;
}

/* throttle_aimd_adopt - take the levels (and a suspension) another node's controller chose */
enum throttle_change
throttle_aimd_adopt(struct throttle_aimd *a, double now, double rate, unsigned conns,
                    double suspend_s, const char *why)
{
	double r0 = a->rate;
	unsigned c0 = a->conns;
	if (a->rate_max > 0 && rate > 0 && is_finite(rate))
		a->rate = dmin(rate, a->rate_max);
	if (conns > 0)
		a->conns = conns < a->conns_max ? conns : a->conns_max;
	char lv[160];
	if (suspend_s > 0 && is_finite(suspend_s) && now + suspend_s > a->suspended_until + 0.5) {
		/* Another node suspended the destination: held back here too, until the same
		 * end (its time, told as seconds left). A suspension already running that ends
		 * later is kept. The strikes start again, as after a suspension of our own. */
		a->suspended_until = now + suspend_s;
		a->strikes = 0;
		a->window_start = now;
		a->successes = 0;
		a->last_change = now;
		a->last_decrease = now;
		a->suspensions++;
		a->conns = 1;
		levels(a, r0, c0, lv, sizeof(lv));
		note(a, "suspended for %.0f s (then %s), shared: %s", suspend_s, lv,
		     why && *why ? why : "another node's throttle");
		return THROTTLE_SUSPENDED;
	}
	if (a->rate == r0 && a->conns == c0)
		return THROTTLE_SAME;
	bool down = a->rate < r0 || a->conns < c0;
	a->successes = 0;
	a->last_change = now;
	/* A decrease elsewhere is the episode this node's own complaints would be part of:
	 * the hold keeps them from halving again at once. */
	if (down)
		a->last_decrease = now;
	levels(a, r0, c0, lv, sizeof(lv));
	note(a, "%s, shared: %s", lv, why && *why ? why : "another node's throttle");
	return down ? THROTTLE_DECREASED : THROTTLE_INCREASED;
}

static const char *const stage_names[] = {
    [SMTP_STAGE_CONNECT] = "connect", [SMTP_STAGE_BANNER] = "greeting",
    [SMTP_STAGE_EHLO] = "EHLO",       [SMTP_STAGE_STARTTLS] = "STARTTLS",
    [SMTP_STAGE_AUTH] = "AUTH",       [SMTP_STAGE_MAIL] = "MAIL",
    [SMTP_STAGE_RCPT] = "RCPT",       [SMTP_STAGE_DATA] = "DATA",
    [SMTP_STAGE_DOT] = "end of data", [SMTP_STAGE_QUIT] = "QUIT",
};

/* throttle_aimd_result - feed one SMTP fact */
enum throttle_change
throttle_aimd_result(struct throttle_aimd *a, double now, const struct smtp_result *r)
{
	if (throttle_result_is_slowdown(r)) {
		char why[160];
		unsigned st = (unsigned)r->stage;
		const char *stage =
		    st < sizeof(stage_names) / sizeof(stage_names[0]) && stage_names[st]
		        ? stage_names[st]
		        : "?";
		if (r->code)
			snprintf(why, sizeof(why), "%d%s%s %s", r->code,
			         r->ecode && *r->ecode ? " " : "", r->ecode ? r->ecode : "",
			         r->text ? r->text : "");
		else if (r->flags & SMTP_RESULT_TIMEOUT)
			snprintf(why, sizeof(why), "timeout at %s", stage);
		else
			snprintf(why, sizeof(why), "connection %s at %s",
			         r->stage == SMTP_STAGE_CONNECT ? "refused" : "dropped", stage);
		return throttle_aimd_slowdown(a, now, why);
	}
	if (r->stage == SMTP_STAGE_DOT && r->code >= 200 && r->code < 300 &&
	    !(r->flags & SMTP_RESULT_CONN_LOST))
		return throttle_aimd_success(a, now);
	return THROTTLE_SAME;
}

/* throttle_aimd_tick - end a suspension that is over */
enum throttle_change
throttle_aimd_tick(struct throttle_aimd *a, double now)
{
	if (a->suspended_until == 0 || now < a->suspended_until)
		return THROTTLE_SAME;
	char r[THROTTLE_RATE_STR];
	a->suspended_until = 0;
	a->last_change = now;
	a->successes = 0;
	note(a, "resumed at rate %s, %u connection%s", throttle_rate_format(a->rate, r, sizeof(r)),
	     a->conns, a->conns == 1 ? "" : "s");
	return THROTTLE_RESUMED;
}

/* throttle_aimd_suspended - seconds left of a suspension, 0 when none */
double
throttle_aimd_suspended(const struct throttle_aimd *a, double now)
{
	return a->suspended_until > now ? a->suspended_until - now : 0;
}

/* throttle_change_name - "same", "decreased", "suspended", "increased", "resumed" */
const char *
throttle_change_name(enum throttle_change c)
{
	static const char *const names[] = {"same", "decreased", "suspended", "increased",
	                                    "resumed"};
	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

/* --- retry schedule ----------------------------------------------------------------------------
 */

/* throttle_retry_delay - exponential from first_s, capped at cap_s, +-10% jitter from rnd */
double
throttle_retry_delay(int attempts, double first_s, double cap_s, double rnd)
{
	if (attempts < 1)
		return 0;
	double first = first_s > 0 && is_finite(first_s) ? first_s : THROTTLE_RETRY_FIRST;
	double cap = cap_s > 0 && is_finite(cap_s) ? cap_s : THROTTLE_RETRY_CAP;
	double d = dmin(first, cap);
	for (int i = 1; i < attempts && d < cap; i++)
		d = dmin(2 * d, cap);
	if (!(rnd >= 0)) /* also NaN */
		rnd = 0;
	if (rnd > 1)
		rnd = 1;
	return d * (1 + THROTTLE_RETRY_JITTER * (2 * rnd - 1));
}

/* throttle_expired - 1 when a message first tried at first_ts is max_age old */
int
throttle_expired(double first_ts, double now, double max_age)
{
	if (!(max_age > 0))
		max_age = THROTTLE_MAX_AGE;
	return now - first_ts >= max_age;
}

/* --- warm-up --------------------------------------------------------------------------------- */

#define WARMUP_CAP_MAX 1000000000L

/* warmup_number - digits at *p (blanks around allowed) into *v, 1..WARMUP_CAP_MAX */
static int
warmup_number(const char **p, long *v)
{
	const char *s = *p;
	long n = 0;
	int digits = 0;
	while (blank(*s))
		s++;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		n = n * 10 + (*s - '0');
		if (n > WARMUP_CAP_MAX)
			return -1;
	}
	while (blank(*s))
		s++;
	if (digits == 0 || n < 1)
		return -1;
	*p = s;
	*v = n;
	return 0;
}

/* throttle_warmup_expand - the plan's caps, one a day */
int
throttle_warmup_expand(const char *plan, long *caps, size_t max, const char **reason)
{
	const char *why = "a warm-up plan is a list of daily caps (50,100,200) or "
	                  "standard[:TARGET] or slow[:TARGET]";
	const char *p = plan;
	size_t n = 0;
	if (p == NULL)
		goto bad;
	while (blank(*p))
		p++;
	if ((*p | 32) >= 'a' && (*p | 32) <= 'z') {
		const char *w = p;
		while ((*p | 32) >= 'a' && (*p | 32) <= 'z')
			p++;
		int slow;
		if (ci_eq(w, (size_t)(p - w), "standard"))
			slow = 0;
		else if (ci_eq(w, (size_t)(p - w), "slow"))
			slow = 1;
		else {
			why = "unknown warm-up preset (standard, slow)";
			goto bad;
		}
		long target = THROTTLE_WARMUP_TARGET;
		if (*p == ':') {
			p++;
			if (warmup_number(&p, &target) < 0) {
				why = "a warm-up target is a number from 1 to 1000000000";
				goto bad;
			}
		}
		while (blank(*p))
			p++;
		if (*p)
			goto bad;
		/* 50 on the first day, then x2 (standard) or x1.5 (slow) a day, the last day at
		 * the target itself. */
		for (long c = 50; n < max; c = slow ? c + (c + 1) / 2 : 2 * c) {
			if (c >= target) {
				caps[n++] = target;
				break;
			}
			caps[n++] = c;
		}
		return (int)n;
	}
	for (;;) {
		long v;
		if (warmup_number(&p, &v) < 0) {
			why = "each day's cap is a number from 1 to 1000000000";
			goto bad;
		}
		if (n >= max || n >= THROTTLE_WARMUP_DAYS) {
			why = "a warm-up plan has at most 366 days";
			goto bad;
		}
		caps[n++] = v;
		if (*p == '\0')
			return (int)n;
		if (*p++ != ',')
			goto bad;
	}
bad:
	if (reason)
		*reason = why;
	return -1;
}

/* throttle_warmup_cap - the day's cap, -1 when the plan is over, -2 when it is not valid */
long
throttle_warmup_cap(const char *plan, long day_index)
{
	long caps[THROTTLE_WARMUP_DAYS];
	int n = throttle_warmup_expand(plan, caps, THROTTLE_WARMUP_DAYS, NULL);
	if (n < 0)
		return -2;
	if (day_index < 0)
		day_index = 0;
	return day_index < n ? caps[day_index] : -1;
}
