/* tls_reports_send - TLS-RPT reports delivered by mail and HTTPS (see tls_reports_send.h). */
#include "kirim/tls_reports_send.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "kirim/base64.h"
#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/dkim.h"
#include "kirim/dns.h"
#include "kirim/http_client.h"
#include "kirim/http_url.h"
#include "kirim/mime.h"
#include "kirim/smtp_session.h"
#include "kirim/smtp_url.h"
#include "kirim/smtp_wire.h"
#include "kirim/store.h"
#include "kirim/store_tls.h"
#include "kirim/tls.h"
#include "kirim/tls_reports.h"
#include "kirim/tlsrpt.h"
#include "kirim/xmalloc.h"

enum {
	TXT_TIMEOUT_MS = 2000,
	POST_TIMEOUT_MS = 60 * 1000,
	POST_MAX_ANSWER = 64 * 1024,
};

/* One report of the day, copied out of tls_reports_make's walk. */
struct rep {
	char *domain, *file, *id, *json;
	long long sessions, failures;
};
struct reps {
	struct rep *r;
	size_t n, cap;
};

static int
take(void *arg, const struct tls_report *t)
{
	struct reps *R = arg;
	if (R->n == R->cap) {
		R->cap = R->cap ? 2 * R->cap : 16;
		R->r = xrealloc(R->r, R->cap * sizeof(*R->r));
	}
	const char *id = json_string_value(json_object_get(t->json, "report-id"));
	R->r[R->n++] =
	    (struct rep){xstrdup(t->domain),    xstrdup(t->file),
	                 xstrdup(id ? id : ""), json_dumps(t->json, JSON_COMPACT | JSON_SORT_KEYS),
	                 t->sessions,           t->failures};
	return 0;
}

/* The loop and what its callbacks leave for the blocking code that waits on them. */
struct run {
	uv_loop_t loop;
	struct dns *dns;
	bool done;
	/* the TXT look-up */
	char rua[TLSRPT_RUA_MAX];
	char why[256];
	int status;
	/* the SMTP session and the POST */
	struct tls_ctx *https; /* the POSTs' verifying context, made on first use */
	/* the MX look-up of a mailto: address sent direct */
	struct dns_mx_host mx[DNS_MAX_HOSTS];
	size_t nmx;
	bool ok;
	int code; /* the last reply's code (5xx: no other MX host is tried) */
	char err[512];
};

static void
wait_done(struct run *R)
{
	while (!R->done)
		uv_run(&R->loop, UV_RUN_ONCE);
}

static void
on_txt(void *arg, const struct dns_txt_result *r)
{
	struct run *R = arg;
	R->done = true;
	R->status = r->status;
	R->rua[0] = '\0';
	if (r->status != DNS_OK) {
		snprintf(R->why, sizeof(R->why), "%s",
		         r->error ? r->error : dns_status_name(r->status));
		return;
	}
	const char *reason = NULL;
	if (tlsrpt_txt_select(r->records, r->n, R->rua, &reason) < 0) {
		R->rua[0] = '\0';
		snprintf(R->why, sizeof(R->why), "%s", reason);
	}
}

/* ---- mailto: ------------------------------------------------------------------------- */

static void
on_job_done(struct smtp_session *s, void *owner, struct smtp_job *job, const struct smtp_result *r)
{
	struct run *R = owner;
	(void)job;
	R->ok = r->code >= 200 && r->code < 300 && r->flags == 0;
	R->code = r->code;
	if (!R->ok)
		snprintf(R->err, sizeof(R->err), "%s: %d %s %s", smtp_stage_name(r->stage), r->code,
		         r->ecode ? r->ecode : "", r->text ? r->text : "");
	smtp_session_close(s);
}

static void
on_rcpt(struct smtp_session *s, void *owner, struct smtp_job *job, size_t i,
        const struct smtp_result *r)
{
	struct run *R = owner;
	(void)s, (void)job, (void)i;
	if (r->code < 200 || r->code >= 300)
		R->code = r->code;
	if (r->code < 200 || r->code >= 300)
		snprintf(R->err, sizeof(R->err), "rcpt: %d %s %s", r->code,
		         r->ecode ? r->ecode : "", r->text ? r->text : "");
}

static void
on_closed(struct smtp_session *s, void *owner, const struct smtp_result *why)
{
	struct run *R = owner;
	(void)s;
	if (!R->ok && R->err[0] == '\0')
		snprintf(R->err, sizeof(R->err), "%s: %s", smtp_stage_name(why->stage),
		         why->text ? why->text : "closed");
	R->done = true;
}

/*
 * The report as a mail to addr (RFC 8460 5.3): multipart/report; report-type="tlsrpt",
 * a line of text, the gzipped report as application/tlsrpt+gzip; CRLF line ends.
 */
static void
report_mail(const struct config *cfg, const char *org, const struct rep *rp, const char *addr,
            const struct buf *gz, const char *from, struct buf *m)
{
	char date[64], boundary[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(boundary, sizeof(boundary), "tlsrpt-%lld-%ld", (long long)now, (long)getpid());
	(void)cfg;
	buf_printf(m, "From: %s\r\nDate: %s\r\nTo: %s\r\n", from, date, addr);
	buf_printf(m, "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n", rp->domain,
	           org, rp->id);
	buf_printf(m, "Message-ID: <tlsrpt.%lld.%s>\r\n", (long long)now, rp->id);
	buf_printf(m, "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n", rp->domain, org);
	buf_printf(m,
	           "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=\"tlsrpt\";"
	           "\r\n\tboundary=\"%s\"\r\n\r\n",
	           boundary);
	buf_printf(m,
	           "This is a multipart message in MIME format.\r\n\r\n--%s\r\n"
	           "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	           "This is an aggregate TLS report (RFC 8460) from %s for %s:\r\n"
	           "%lld sessions, %lld of them failed.\r\n\r\n",
	           boundary, org, rp->domain, rp->sessions, rp->failures);
	buf_printf(m,
	           "--%s\r\nContent-Type: application/tlsrpt+gzip\r\n"
	           "Content-Transfer-Encoding: base64\r\n"
	           "Content-Disposition: attachment;\r\n\tfilename=\"%s\"\r\n\r\n",
	           boundary, rp->file);
	base64_encode(m, gz->data, gz->len, BASE64_WRAP);
	if (m->len < 2 || m->data[m->len - 1] != '\n')
		buf_adds(m, "\r\n");
	buf_printf(m, "--%s--\r\n", boundary);
}

/* signed_mail - the report to addr as a mail, DKIM-signed with every [dkim] key as a
 * campaign's messages are, into m; 0, or -1 with R->err */
static int
signed_mail(struct run *R, const struct config *cfg, const char *org, const struct rep *rp,
            const char *addr, const struct buf *gz, const char *from, struct buf *m)
{
	struct buf signed_msg = BUF_INIT;
	report_mail(cfg, org, rp, addr, gz, from, m);
	for (size_t i = 0; i < cfg->n_dkim; i++) {
		struct dkim_signer *sg = NULL;
		struct buf h = BUF_INIT;
		char e[256];
		if (dkim_signer_new(cfg->dkim[i].key, cfg->dkim[i].domain, cfg->dkim[i].selector,
		                    &sg, e, sizeof(e)) < 0 ||
		    dkim_sign(sg, m->data, m->len, (long)time(NULL), &h, e, sizeof(e)) < 0) {
			snprintf(R->err, sizeof(R->err), "DKIM key %s: %s", cfg->dkim[i].key_file,
			         e);
			dkim_signer_free(sg);
			buf_free(&h);
			buf_free(&signed_msg);
			return -1;
		}
		buf_reset(&signed_msg);
		buf_add(&signed_msg, h.data, h.len);
		buf_add(&signed_msg, m->data, m->len);
		buf_reset(m);
		buf_add(m, signed_msg.data, signed_msg.len);
		dkim_signer_free(sg);
		buf_free(&h);
	}
	buf_free(&signed_msg);
	return 0;
}

/* session - one SMTP session to sa (host's name) handing over m from -> addr; 0, or -1
 * with R->err and R->code */
static int
session(struct run *R, const struct smtp_session_config *sc, const struct sockaddr *sa,
        const char *host, const char *from, const char *addr, const struct buf *m)
{
	struct smtp_session_cbs cbs = {
	    .rcpt = on_rcpt, .job_done = on_job_done, .closed = on_closed};
	R->done = false;
	R->ok = false;
	R->code = 0;
	R->err[0] = '\0';
	struct smtp_session *ss = smtp_session_new(&R->loop, sc, &cbs, R, R->err, sizeof(R->err));
	if (ss == NULL)
		return -1;
	const char *rcpts[1] = {addr};
	struct smtp_job job = {.sender = from,
	                       .rcpts = rcpts,
	                       .nrcpt = 1,
	                       .data = m->data,
	                       .len = m->len,
	                       .flags = SMTP_JOB_7BIT};
	smtp_session_submit(ss, &job);
	/* A connect that fails closes the session, and closed() ends the wait. */
	smtp_session_connect(ss, sa, host);
	wait_done(R);
	return R->ok ? 0 : -1;
}

/* relayed - m through the relay at url; 0, or -1 with R->err */
static int
relayed(struct run *R, const struct config *cfg, const struct tls_reports_send_opts *o,
        const char *url, const char *from, const char *addr, const struct buf *m)
{
	struct smtp_url u;
	if (smtp_url_parse(url, &u, R->err, sizeof(R->err)) < 0)
		return -1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", u.port);
	int gai = getaddrinfo(u.host, port, &hints, &res);
	if (gai != 0 || res == NULL) {
		snprintf(R->err, sizeof(R->err), "cannot resolve the relay %s: %s", u.host,
		         gai_strerror(gai));
		return -1;
	}
	struct sockaddr_storage sa;
	memcpy(&sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	char helo[256];
	config_helo(cfg, helo, sizeof(helo));
	int tls = o->tls >= 0 ? o->tls : cfg->relay_tls >= 0 ? cfg->relay_tls : TLS_POLICY_VERIFY;
	struct smtp_session_config sc = {
	    .helo_name = helo,
	    .tls_policy = (enum tls_policy)tls,
	    .implicit_tls = u.implicit_tls,
	    .tls_ca_file = cfg->relay_ca_file[0] ? cfg->relay_ca_file : NULL,
	    .auth_user = u.user[0] ? u.user : NULL,
	    .auth_pass = u.user[0] ? cfg->relay_password : NULL,
	    .allow_plaintext_auth = o->allow_plaintext_auth,
	    .max_jobs = 1,
	};
	smtp_session_default_timeouts(&sc.timeouts);
	return session(R, &sc, (const struct sockaddr *)&sa, u.host, from, addr, m);
}

static void
on_mx(void *arg, const struct dns_mx_result *r)
{
	struct run *R = arg;
	R->done = true;
	R->status = r->status;
	R->nmx = r->status == DNS_OK ? r->nhosts : 0;
	if (R->nmx)
		memcpy(R->mx, r->hosts, R->nmx * sizeof(*R->mx));
	else
		snprintf(R->why, sizeof(R->why), "%s",
		         r->error ? r->error : dns_status_name(r->status));
}

/*
 * direct - m straight to the MX hosts of addr's domain, as kirim sends a campaign
 * without a relay: the hosts in preference order, each address in turn, TLS when
 * offered (opportunistic), until one takes it; a 5xx ends the tries. 0, or -1 with
 * R->err.
 */
static int
direct(struct run *R, const struct config *cfg, const struct tls_reports_send_opts *o,
       const char *from, const char *addr, const struct buf *m)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL || at[1] == '\0') {
		snprintf(R->err, sizeof(R->err), "not a mail address: %.200s", addr);
		return -1;
	}
	R->done = false;
	if (dns_resolve_mx(R->dns, at + 1, on_mx, R) < 0) {
		snprintf(R->err, sizeof(R->err), "cannot look up the MX hosts of %s", at + 1);
		return -1;
	}
	wait_done(R);
	if (R->nmx == 0) {
		snprintf(R->err, sizeof(R->err), "MX hosts of %s: %.200s", at + 1, R->why);
		return -1;
	}
	char helo[256];
	config_helo(cfg, helo, sizeof(helo));
	struct smtp_session_config sc = {
	    .helo_name = helo,
	    .tls_policy = TLS_POLICY_OPPORTUNISTIC,
	    .max_jobs = 1,
	};
	smtp_session_default_timeouts(&sc.timeouts);
	char last[sizeof(R->err)] = "";
	for (size_t i = 0; i < R->nmx; i++) {
		struct dns_mx_host *h = &R->mx[i];
		for (size_t k = 0; k < h->naddrs; k++) {
			struct sockaddr_storage *sa = &h->addrs[k];
			uint16_t port = htons((uint16_t)(o->mx_port ? o->mx_port : 25));
			if (sa->ss_family == AF_INET)
				((struct sockaddr_in *)sa)->sin_port = port;
			else
				((struct sockaddr_in6 *)sa)->sin6_port = port;
			if (session(R, &sc, (const struct sockaddr *)sa, h->name, from, addr, m) ==
			    0)
				return 0;
			snprintf(last, sizeof(last), "%s: %s", h->name, R->err);
			if (R->code >= 500)
				goto out;
		}
	}
out:
	snprintf(R->err, sizeof(R->err), "%s", last);
	return -1;
}

/* mail - the report to addr through the relay, or straight to addr's MX hosts when there
 * is none (or o->direct); 0, or -1 with R->err */
static int
mail(struct run *R, const struct config *cfg, const struct tls_reports_send_opts *o,
     const char *org, const struct rep *rp, const char *addr, const struct buf *gz)
{
	const char *url = o->relay_url ? o->relay_url : o->direct ? NULL : cfg->relay_url;
	char from[300];
	snprintf(from, sizeof(from), "tlsrpt-noreply@%s", org);
	struct buf m = BUF_INIT;
	int rc = signed_mail(R, cfg, org, rp, addr, gz, from, &m);
	if (rc == 0)
		rc = url && *url ? relayed(R, cfg, o, url, from, addr, &m)
		                 : direct(R, cfg, o, from, addr, &m);
	buf_free(&m);
	return rc;
}

/* ---- https: -------------------------------------------------------------------------- */

static void
on_posted(void *arg, const struct http_client_result *r)
{
	struct run *R = arg;
	R->done = true;
	R->ok = r->ok;
	if (!r->ok)
		snprintf(R->err, sizeof(R->err), "%s", r->error ? r->error : "failed");
}

/* post - the gzipped report to an https: URI; 0, or -1 with R->err */
static int
post(struct run *R, const struct config *cfg, const struct tls_reports_send_opts *o,
     const char *uri, const struct buf *gz)
{
	struct http_url u;
	const char *why;
	if (http_url_parse(uri, &u, &why) < 0) { /* https: the caller looked */
		snprintf(R->err, sizeof(R->err), "not an https: URI kirim can post to (%s)", why);
		return -1;
	}
	if (!u.port_given && o->https_port)
		u.port = o->https_port;
	/* One verifying context for the run's POSTs, freed once the loop has closed them all. */
	if (R->https == NULL &&
	    tls_ctx_new(TLS_POLICY_VERIFY, cfg->tls_ca_file[0] ? cfg->tls_ca_file : NULL, &R->https,
	                R->err, sizeof(R->err)) < 0)
		return -1;
	struct http_client_opts go = {
	    .url = &u,
	    .tls = R->https,
	    .max_body = POST_MAX_ANSWER,
	    .timeout_ms = POST_TIMEOUT_MS,
	    .user_agent = "kirim/" KIRIM_VERSION,
	    .post_type = "application/tlsrpt+gzip",
	    .post_body = gz->data,
	    .post_len = gz->len,
	};
	R->done = false;
	R->ok = false;
	R->err[0] = '\0';
	if (http_client_start(&R->loop, R->dns, &go, on_posted, R) == NULL) {
		snprintf(R->err, sizeof(R->err), "cannot post to %s", uri);
		return -1;
	}
	wait_done(R);
	return R->ok ? 0 : -1;
}

/* ---- the day ------------------------------------------------------------------------- */

static void
reps_free(struct reps *R)
{
	for (size_t i = 0; i < R->n; i++) {
		free(R->r[i].domain);
		free(R->r[i].file);
		free(R->r[i].id);
		free(R->r[i].json);
	}
	free(R->r);
}

/* one_uri - the report to one URI of rua (trimmed, n bytes); 0, 1 (failed) or a store error */
static int
one_uri(struct run *R, struct store *s, const struct config *cfg,
        const struct tls_reports_send_opts *o, const char *org, const struct rep *rp, int64_t day,
        const char *uri, const struct buf *gz, tls_reports_sent_cb cb, void *arg)
{
	struct tls_reports_sent out = {rp->domain, uri, NULL, false, rp->sessions, rp->failures};
	bool sent = false;
	int rc = store_tlsrpt_sent(s, day, rp->domain, uri, &sent);
	if (rc < 0)
		return rc;
	if (sent) {
		out.before = true;
		cb(arg, &out);
		return 0;
	}
	int r = -1;
	if (strncasecmp(uri, "mailto:", 7) == 0) {
		/* mailto:ADDR[!SIZE] (RFC 8460 3: a size limit may follow; one report is small). */
		char addr[300];
		snprintf(addr, sizeof(addr), "%s", uri + 7);
		addr[strcspn(addr, "!?")] = '\0';
		r = mail(R, cfg, o, org, rp, addr, gz);
	} else if (strncasecmp(uri, "https://", 8) == 0) {
		r = post(R, cfg, o, uri, gz);
	} else {
		snprintf(R->err, sizeof(R->err), "neither mailto: nor https:");
	}
	if (r < 0) {
		out.error = R->err;
		cb(arg, &out);
		return 1;
	}
	if ((rc = store_tlsrpt_sent_add(s, day, rp->domain, uri, rp->id, (int64_t)time(NULL))) < 0)
		return rc;
	cb(arg, &out);
	return 0;
}

int
tls_reports_send_day(struct store *s, const struct config *cfg, int64_t day,
                     const struct tls_reports_send_opts *o, tls_reports_sent_cb cb, void *arg,
                     char *err, size_t errsz)
{
	struct reps P = {0};
	int rc = tls_reports_make(s, cfg, day, o->domain, NULL, take, &P, err, errsz);
	if (rc < 0) {
		reps_free(&P);
		return rc;
	}
	if (P.n == 0)
		return 0;
	const char *org = cfg->domain[0] ? cfg->domain : cfg->ehlo[0] ? cfg->ehlo : "kirim";
	struct run *R = xcalloc(1, sizeof(*R));
	uv_loop_init(&R->loop);
	struct dns_opts dopts = {.servers = o->dns_servers, .flags = DNS_NO_CACHE};
	if ((R->dns = dns_new(&R->loop, &dopts, err, errsz)) == NULL) {
		uv_loop_close(&R->loop);
		free(R);
		reps_free(&P);
		return -1;
	}
	int failed = 0;
	rc = 0;
	for (size_t i = 0; i < P.n && rc >= 0; i++) {
		const struct rep *rp = &P.r[i];
		bool looked = false;
		if ((rc = store_tlsrpt_sent(s, day, rp->domain, "", &looked)) < 0)
			break;
		if (looked)
			continue;
		/* The record as it is now: where the domain wants its reports today. */
		char name[300];
		snprintf(name, sizeof(name), "_smtp._tls.%s", rp->domain);
		R->done = false;
		if (dns_resolve_txt(R->dns, name, on_txt, R) < 0) {
			snprintf(R->why, sizeof(R->why), "cannot look up %s", name);
			R->status = DNS_TEMPFAIL;
			R->rua[0] = '\0';
		} else {
			wait_done(R);
		}
		if (R->rua[0] == '\0') {
			struct tls_reports_sent out = {rp->domain, "",           NULL,
			                               false,      rp->sessions, rp->failures};
			char why[300];
			if (R->status == DNS_TEMPFAIL) {
				/* Not known now: the next look asks again. */
				snprintf(why, sizeof(why), "%s: %s", name, R->why);
				out.error = why;
				failed = 1;
			} else {
				rc = store_tlsrpt_sent_add(s, day, rp->domain, "", rp->id,
				                           (int64_t)time(NULL));
			}
			cb(arg, &out);
			continue;
		}
		struct buf gz = BUF_INIT;
		if (tls_reports_gzip(rp->json, &gz) < 0) {
			snprintf(err, errsz, "%s: the report could not be compressed", rp->domain);
			buf_free(&gz);
			rc = -1;
			break;
		}
		char rua[TLSRPT_RUA_MAX];
		snprintf(rua, sizeof(rua), "%s", R->rua);
		for (char *p = rua, *next; p && rc >= 0; p = next) {
			next = strchr(p, ',');
			if (next)
				*next++ = '\0';
			p += strspn(p, " \t");
			size_t n = strlen(p);
			while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				p[--n] = '\0';
			if (n == 0)
				continue;
			int r = one_uri(R, s, cfg, o, org, rp, day, p, &gz, cb, arg);
			if (r < 0)
				rc = r;
			else if (r > 0)
				failed = 1;
		}
		buf_free(&gz);
	}
	dns_free(R->dns);
	uv_run(&R->loop, UV_RUN_DEFAULT); /* every handle closed: the POSTs' context is free */
	uv_loop_close(&R->loop);
	tls_ctx_free(R->https);
	free(R);
	reps_free(&P);
	return rc < 0 ? rc : failed;
}
