/*
 * sender_tls - transport security of direct delivery, on the loop (see
 * sender_int.h): each recipient domain's MTA-STS policy (RFC 8461) found
 * beside its MX look-up, fetched when its id is new or the cached one has
 * expired, and kept in the database; the facts the worker writes.
 *
 * A domain's jobs wait for its policy as they wait for its MX hosts, never
 * longer than the fetch's limit (STS_FETCH_MS), and a fetch holds up
 * no other domain. What decides (RFC 8461 sections 3 and 5): a live policy
 * (the TXT record's id matches a cached, unexpired policy, or a fetch brings
 * one) is used; when none can be had, a cached policy that has not expired
 * still is; else the domain has no policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kirim/http_url.h"
#include "kirim/log.h"
#include "kirim/sts_refresh.h"
#include "kirim/tls.h"
#include "kirim/xmalloc.h"
#include "sender_int.h"

static void
ssts_free(void *p)
{
	struct ssts *t = p;
	if (t == NULL)
		return;
	free(t->text);
	free(t);
}

/* sts_load - one cached policy read at the start (store_sts_each) */
static int
sts_load(void *arg, const struct store_sts *row)
{
	struct sender *S = arg;
	struct ssts *t = xcalloc(1, sizeof(*t));
	const char *why;
	if (mta_sts_policy_parse(row->policy, strlen(row->policy), &t->p, &why) < 0) {
		log_warn("domain=%s mta_sts cached policy unreadable (%s): ignored", row->domain,
		         why);
		free(t);
		return 0;
	}
	snprintf(t->id, sizeof(t->id), "%s", row->id);
	t->text = xstrdup(row->policy);
	t->fetched_at = row->fetched_at;
	t->expires_at = row->expires_at;
	strmap_put(&S->sts, row->domain, t);
	return 0;
}

int
sender_tls_init(struct sender *S, struct store *s, const char *ca_file, char *err, size_t errsz)
{
	if (S->sts_on && store_sts_each(s, sts_load, S) < 0) {
		snprintf(err, errsz, "database: %s", store_errmsg(s));
		return -1;
	}
	/* One verifying context for every fetch and every destination that must verify: the
	 * CAs are loaded once per run, not once per destination. */
	if (tls_ctx_new(TLS_POLICY_VERIFY, ca_file, &S->verify_ctx, S->verify_err,
	                sizeof(S->verify_err)) < 0) {
		log_warn("tls ca_file=%s unusable (%s): MTA-STS policies cannot be fetched and "
		         "mail that must verify certificates waits",
		         ca_file ? ca_file : "(system)", S->verify_err);
		S->verify_ctx = NULL;
	}
	return 0;
}

void
sender_tls_free(struct sender *S)
{
	strmap_free_values(&S->sts, ssts_free);
	tls_ctx_free(S->verify_ctx);
	S->verify_ctx = NULL;
	stls_out_clear(&S->tls_out);
}

/* ---- facts for the worker ---- */

bool
stls_out_empty(const struct stls_out *o)
{
	return o->nsts == 0 && o->ndom == 0 && o->nres == 0;
}

void
stls_out_move(struct stls_out *to, struct stls_out *from)
{
	if (from->nsts) {
		to->sts = xrealloc(to->sts, (to->nsts + from->nsts) * sizeof(*to->sts));
		memcpy(to->sts + to->nsts, from->sts, from->nsts * sizeof(*to->sts));
		to->nsts += from->nsts;
	}
	if (from->ndom) {
		to->dom = xrealloc(to->dom, (to->ndom + from->ndom) * sizeof(*to->dom));
		memcpy(to->dom + to->ndom, from->dom, from->ndom * sizeof(*to->dom));
		to->ndom += from->ndom;
	}
	if (from->nres) {
		to->res = xrealloc(to->res, (to->nres + from->nres) * sizeof(*to->res));
		memcpy(to->res + to->nres, from->res, from->nres * sizeof(*to->res));
		to->nres += from->nres;
	}
	free(from->sts);
	free(from->dom);
	free(from->res);
	memset(from, 0, sizeof(*from));
}

void
stls_out_clear(struct stls_out *o)
{
	for (size_t i = 0; i < o->nsts; i++) {
		free((char *)o->sts[i].domain);
		free((char *)o->sts[i].id);
		free((char *)o->sts[i].policy);
	}
	for (size_t i = 0; i < o->ndom; i++) {
		free((char *)o->dom[i].domain);
		free((char *)o->dom[i].sts_id);
		free((char *)o->dom[i].sts_error);
		free((char *)o->dom[i].dane);
		free((char *)o->dom[i].tlsrpt);
	}
	for (size_t i = 0; i < o->nres; i++) {
		free((char *)o->res[i].domain);
		free((char *)o->res[i].policy);
		free((char *)o->res[i].mx_host);
		free((char *)o->res[i].receiving_ip);
		free((char *)o->res[i].sending_ip);
		free((char *)o->res[i].detail);
	}
	free(o->sts);
	free(o->dom);
	free(o->res);
	memset(o, 0, sizeof(*o));
}

int
stls_out_write(struct store *s, const struct stls_out *o)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < o->nsts; i++)
		rc = store_sts_save(s, &o->sts[i]);
	for (size_t i = 0; rc == 0 && i < o->ndom; i++)
		rc = store_domain_tls_save(s, &o->dom[i]);
	for (size_t i = 0; rc == 0 && i < o->nres; i++)
		rc = store_tls_result_add(s, &o->res[i]);
	return rc;
}

static char *
dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

void
sender_tls_note(struct sdomain *dm, const struct smx *mx)
{
	struct sender *S = dm->S;
	struct buf dane = BUF_INIT;
	if (!S->dane_on)
		buf_adds(&dane, "off ([tls] dane)");
	else if (mx->status != DNS_OK)
		buf_adds(&dane, "");
	else if (!mx->secure)
		buf_adds(&dane, "no: the MX answer is not DNSSEC-validated");
	else
		for (size_t i = 0; i < mx->nhosts; i++) {
			const struct sdane *d = mx->dane ? &mx->dane[i] : NULL;
			buf_printf(&dane, "%s%s: ", i ? "; " : "", mx->hosts[i].name);
			if (!mx->hosts[i].secure)
				buf_adds(&dane, "no (addresses not validated)");
			else if (d == NULL || d->state == SDANE_NONE)
				buf_adds(&dane, "no TLSA records");
			else if (d->state == SDANE_USABLE)
				buf_printf(&dane, "dane (%zu usable TLSA record%s)", d->n,
				           d->n == 1 ? "" : "s");
			else if (d->state == SDANE_UNUSABLE)
				buf_adds(&dane, "TLSA records, none usable: TLS unauthenticated");
			else
				buf_printf(&dane, "not used: %s", d->error);
		}
	struct stls_out *o = &S->tls_out;
	o->dom = xrealloc(o->dom, (o->ndom + 1) * sizeof(*o->dom));
	o->dom[o->ndom++] = (struct store_domain_tls){
	    .domain = xstrdup(dm->name),
	    .sts_id = dup_or_null(dm->sts_id),
	    .sts_error = dup_or_null(dm->sts_error),
	    .dane = dup_or_null(dane.data),
	    .tlsrpt = dup_or_null(dm->tlsrpt),
	    .checked_at = (int64_t)time(NULL),
	};
	buf_free(&dane);
}

/* ---- TLS-RPT ---- */

/* sts_text - t's policy as a TLS-RPT policy-string (its lines, no last LF) into out */
static void
sts_text(const struct ssts *t, struct buf *out)
{
	buf_adds(out, t ? t->text : "");
	if (out->len && out->data[out->len - 1] == '\n')
		out->data[--out->len] = '\0';
}

/* check_type - RFC 8460 4.3's result-type for what checking a certificate found */
static const char *
check_type(enum tls_check c)
{
	switch (c) {
	case TLS_CHECK_OK:
	case TLS_CHECK_UNCHECKED:
		return "success";
	case TLS_CHECK_EXPIRED:
		return "certificate-expired";
	case TLS_CHECK_HOST_MISMATCH:
		return "certificate-host-mismatch";
	case TLS_CHECK_NOT_TRUSTED:
		return "certificate-not-trusted";
	case TLS_CHECK_TLSA:
		return "tlsa-invalid";
	case TLS_CHECK_OTHER:
		break;
	}
	return "validation-failure";
}

void
sender_tls_count(struct sender *S, const char *domain, const char *policy_type, const char *policy,
                 const char *mx_host, const char *receiving_ip, const char *sending_ip,
                 const char *result, const char *detail)
{
	struct stls_out *o = &S->tls_out;
	o->res = xrealloc(o->res, (o->nres + 1) * sizeof(*o->res));
	o->res[o->nres++] = (struct store_tls_result){
	    .day = (int64_t)time(NULL) / 86400,
	    .domain = xstrdup(domain),
	    .policy_type = policy_type, /* static */
	    .policy = xstrdup(policy ? policy : ""),
	    .mx_host = xstrdup(mx_host ? mx_host : ""),
	    .receiving_ip = xstrdup(receiving_ip ? receiving_ip : ""),
	    .sending_ip = xstrdup(sending_ip ? sending_ip : ""),
	    .result = result, /* static */
	    .detail = xstrdup(strcmp(result, "success") == 0 || detail == NULL ? "" : detail),
	    .sessions = 1,
	};
}

void
sender_tls_result(void *owner, struct pool_dest *d, const struct pool_tls_result *r)
{
	struct sender *S = owner;
	const char *name = pool_dest_name(d);
	const struct sdest *sd = strmap_get(&S->dests, name);
	/* Only a destination of one domain's own says whose session it was. */
	const char *type = strstr(name, "|dane:")     ? "tlsa"
	                   : strstr(name, "|sts:")    ? "sts"
	                   : strstr(name, "|tlsrpt:") ? "no-policy-found"
	                                              : NULL;
	if (sd == NULL || type == NULL)
		return;
	struct buf policy = BUF_INIT;
	const char *result;
	if (strcmp(type, "tlsa") == 0 && r->tlsa == NULL)
		type = "no-policy-found"; /* a host of a DANE domain without TLSA records */
	if (strcmp(type, "sts") == 0) {
		sts_text(strmap_get(&S->sts, sd->domain), &policy);
	} else if (strcmp(type, "tlsa") == 0) {
		for (size_t i = 0; i < r->ntlsa; i++) {
			buf_printf(&policy, "%s%u %u %u ", i ? "\n" : "", r->tlsa[i].usage,
			           r->tlsa[i].selector, r->tlsa[i].mtype);
			for (size_t k = 0; k < r->tlsa[i].len; k++)
				buf_printf(&policy, "%02x", r->tlsa[i].data[k]);
		}
	}
	if (r->no_starttls)
		result = "starttls-not-supported";
	else if (strcmp(type, "no-policy-found") == 0)
		result = r->ok ? "success" : "validation-failure";
	else
		result = check_type(r->check);
	sender_tls_count(S, sd->domain, type, policy.data, r->host, r->ip, r->local_ip, result,
	                 r->text);
	buf_free(&policy);
}

static void
on_tlsrpt_txt(void *arg, const struct dns_txt_result *r)
{
	struct sdomain *dm = arg;
	const char *why;
	if (r->status != DNS_OK || tlsrpt_txt_select(r->records, r->n, dm->tlsrpt, &why) < 0)
		dm->tlsrpt[0] = '\0';
	sdomain_step(dm);
}

void
sender_tlsrpt_lookup(struct sdomain *dm)
{
	char name[300];
	dm->tlsrpt[0] = '\0';
	snprintf(name, sizeof(name), "_smtp._tls.%s", dm->name);
	if (dns_resolve_txt(dm->S->dns, name, on_tlsrpt_txt, dm) == 0)
		dm->pending++;
}

/* ---- MTA-STS ---- */

/* cached_valid - domain's cached policy when it has not expired, else NULL */
static const struct ssts *
cached_valid(const struct sender *S, const char *domain)
{
	const struct ssts *t = strmap_get(&S->sts, domain);
	return t && t->expires_at > (int64_t)time(NULL) ? t : NULL;
}

/* in_force - the policy dm delivers under: t, unless its mode is none */
static const struct ssts *
in_force(const struct ssts *t)
{
	return t && t->p.mode != MTA_STS_NONE ? t : NULL;
}

/* fall_back - no live policy: the cached one while it is valid (RFC 8461 5.1) */
static void
fall_back(struct sdomain *dm)
{
	const struct ssts *t = cached_valid(dm->S, dm->name);
	dm->sts = in_force(t);
	if (t)
		log_info("domain=%s mta_sts=%s id=%s from the cache (%s)", dm->name,
		         mta_sts_mode_name(t->p.mode), t->id, dm->sts_error);
}

/* count_fetch - a policy that could not be had, counted for TLS-RPT (one failed attempt,
 * under the cached policy that still applies, if any); result static */
static void
count_fetch(struct sdomain *dm, const char *result)
{
	struct buf policy = BUF_INIT;
	sts_text(cached_valid(dm->S, dm->name), &policy);
	sender_tls_count(dm->S, dm->name, "sts", policy.data, NULL, NULL, NULL, result,
	                 dm->sts_error);
	buf_free(&policy);
}

static void
on_fetch(void *arg, const struct http_client_result *r)
{
	struct sdomain *dm = arg;
	struct sender *S = dm->S;
	dm->fetch = NULL;
	struct mta_sts_policy p;
	struct buf text = BUF_INIT;
	const char *result;
	if (sts_fetch_read(r, &p, &text, dm->sts_error, sizeof(dm->sts_error), &result) < 0) {
		log_warn("domain=%s mta_sts id=%s error=\"%s\"", dm->name, dm->sts_id,
		         dm->sts_error);
		fall_back(dm);
		count_fetch(dm, result);
	} else {
		struct ssts *t = xcalloc(1, sizeof(*t));
		snprintf(t->id, sizeof(t->id), "%s", dm->sts_id);
		t->p = p;
		t->text = text.data;
		t->fetched_at = (int64_t)time(NULL);
		t->expires_at = t->fetched_at + p.max_age;
		struct ssts *old = strmap_get(&S->sts, dm->name);
		strmap_put(&S->sts, dm->name, t);
		ssts_free(old); /* only dm pointed at it (the map is keyed by domain) */
		dm->sts = in_force(t);
		struct stls_out *o = &S->tls_out;
		o->sts = xrealloc(o->sts, (o->nsts + 1) * sizeof(*o->sts));
		o->sts[o->nsts++] = (struct store_sts){
		    .domain = xstrdup(dm->name),
		    .id = xstrdup(t->id),
		    .mode = mta_sts_mode_name(p.mode), /* static */
		    .policy = xstrdup(t->text),
		    .max_age = p.max_age,
		    .fetched_at = t->fetched_at,
		    .expires_at = t->expires_at,
		};
		log_info("domain=%s mta_sts=%s id=%s max_age=%ld mx=%zu fetched", dm->name,
		         mta_sts_mode_name(p.mode), t->id, p.max_age, p.nmx);
	}
	sdomain_step(dm);
}

static void
on_sts_txt(void *arg, const struct dns_txt_result *r)
{
	struct sdomain *dm = arg;
	struct sender *S = dm->S;
	const char *why = NULL;
	if (r->status == DNS_OK && mta_sts_txt_select(r->records, r->n, dm->sts_id, &why) == 0) {
		struct ssts *t = strmap_get(&S->sts, dm->name);
		if (t && strcmp(t->id, dm->sts_id) == 0 && t->expires_at > (int64_t)time(NULL)) {
			dm->sts = in_force(t); /* the id has not changed: the cached policy holds */
			sdomain_step(dm);
			return;
		}
		if (S->verify_ctx == NULL) {
			snprintf(dm->sts_error, sizeof(dm->sts_error),
			         "policy not fetched: no CA certificates (%.200s)", S->verify_err);
		} else {
			log_debug("domain=%s mta_sts id=%s fetch (cached id %s)", dm->name,
			          dm->sts_id, t ? t->id : "none");
			dm->fetch = sts_refresh_fetch(&S->loop, S->dns, dm->name, S->sts_port,
			                              S->verify_ctx, on_fetch, dm);
			if (dm->fetch)
				return; /* on_fetch steps */
			snprintf(dm->sts_error, sizeof(dm->sts_error), "policy not fetched: %s",
			         "the policy host's name cannot be looked up");
		}
		fall_back(dm);
		count_fetch(dm, "sts-policy-fetch-error");
		sdomain_step(dm);
		return;
	} else if (r->status == DNS_OK) {
		/* TXT records, none of them a usable STS one: as if there were none. */
		dm->sts_id[0] = '\0';
		snprintf(dm->sts_error, sizeof(dm->sts_error), "_mta-sts TXT: %s", why);
	} else if (r->status == DNS_TEMPFAIL) {
		snprintf(dm->sts_error, sizeof(dm->sts_error), "%s", r->error ? r->error : "");
	}
	fall_back(dm);
	sdomain_step(dm);
}

void
sender_sts_lookup(struct sdomain *dm)
{
	struct sender *S = dm->S;
	char name[300];
	dm->sts = NULL;
	dm->sts_id[0] = dm->sts_error[0] = '\0';
	snprintf(name, sizeof(name), "_mta-sts.%s", dm->name);
	if (dns_resolve_txt(S->dns, name, on_sts_txt, dm) == 0)
		dm->pending++;
	else
		fall_back(dm);
}

void
sender_tls_cancel(struct sdomain *dm)
{
	if (dm->fetch) {
		http_client_cancel(dm->fetch);
		dm->fetch = NULL;
	}
}

/* ---- DANE ---- */

struct dane_q {
	struct sdomain *dm;
	struct smx *mx; /* dm->mx, which stays until dm's last look-up (sdomain_step) */
	size_t host;
};

/* tlsa_usable - a record kirim can match (RFC 7672 3.1: DANE-TA or DANE-EE, a full
 * certificate or its key, by SHA-256 or SHA-512) */
static bool
tlsa_usable(const struct dns_tlsa *t)
{
	return (t->usage == 2 || t->usage == 3) && t->selector <= 1 &&
	       ((t->mtype == 1 && t->len == 32) || (t->mtype == 2 && t->len == 64));
}

static void
on_tlsa(void *arg, const struct dns_tlsa_result *r)
{
	struct dane_q *q = arg;
	struct sdomain *dm = q->dm;
	struct sdane *h = &q->mx->dane[q->host];
	const char *name = q->mx->hosts[q->host].name;
	free(q);
	if (r->status == DNS_TEMPFAIL) {
		h->state = SDANE_FAILED;
		snprintf(h->error, sizeof(h->error), "TLSA look-up failed: %.150s",
		         r->error ? r->error : "");
		/* RFC 7672 2.1.1: a validating resolver answers SERVFAIL when the records do not
		 * validate, which is RFC 8460's dnssec-invalid. */
		sender_tls_count(dm->S, dm->name, "tlsa", "", name, NULL, NULL, "dnssec-invalid",
		                 h->error);
	} else if (r->status != DNS_OK || !r->secure) {
		h->state = SDANE_NONE; /* no records, or records nobody vouched for */
	} else {
		h->n = 0;
		for (size_t i = 0; i < r->n; i++)
			if (tlsa_usable(&r->recs[i]))
				h->recs[h->n++] = r->recs[i];
		h->state = h->n ? SDANE_USABLE : SDANE_UNUSABLE;
	}
	log_debug("domain=%s mx=%s dane=%d tlsa=%zu usable=%zu", dm->name, name, (int)h->state,
	          r->n, h->n);
	sdomain_step(dm);
}

void
sender_dane_lookup(struct sdomain *dm, struct smx *mx)
{
	struct sender *S = dm->S;
	/* RFC 7672 2.2: only hosts reached through a validated MX answer (or the domain's own
	 * validated address), whose addresses are validated too. */
	if (!S->dane_on || mx->status != DNS_OK || !mx->secure || mx->nhosts == 0)
		return;
	mx->dane = xcalloc(mx->nhosts, sizeof(*mx->dane));
	for (size_t i = 0; i < mx->nhosts; i++) {
		if (!mx->hosts[i].secure)
			continue;
		char name[300];
		snprintf(name, sizeof(name), "_25._tcp.%s", mx->hosts[i].name);
		struct dane_q *q = xcalloc(1, sizeof(*q));
		q->dm = dm;
		q->mx = mx;
		q->host = i;
		if (dns_resolve_tlsa(S->dns, name, on_tlsa, q) == 0)
			dm->pending++;
		else
			free(q);
	}
}
