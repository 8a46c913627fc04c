/* bounces_listen - the bounce domain's SMTP listener, feeding bounces.c (see bounces_listen.h). */
#include "kirim/bounces_listen.h"

#include <signal.h>
#include <stdio.h>

#include <uv.h>

#include "kirim/bounces.h"
#include "kirim/config.h"
#include "kirim/log.h"
#include "kirim/smtpd.h"

/* The server's callbacks ingest on the loop, one message at a time. */
struct listen {
	struct bounces *b;
	struct smtpd *d;
	uv_signal_t sigint, sigterm;
	char reply[600];
};

static const char *
listen_rcpt(void *arg, const char *addr)
{
	struct listen *L = arg;
	const char *why;
	if (bounces_accept_rcpt(L->b, addr, &why) == 0)
		return NULL;
	snprintf(L->reply, sizeof(L->reply), "550 5.7.1 <%.300s>: relaying denied: %s", addr, why);
	return L->reply;
}

static const char *
listen_message(void *arg, const char *from, const char *const *rcpts, size_t nrcpt,
               const char *data, size_t len)
{
	struct listen *L = arg;
	enum bounces_outcome oc;
	char why[512];
	if (bounces_ingest(L->b, data, len, rcpts, nrcpt, &oc, why, sizeof(why)) < 0) {
		log_error("bounces listen from=<%s>: database failed: try again later", from);
		return "451 4.3.0 Cannot record it now, try again later";
	}
	log_info("bounces listen from=<%s> rcpt=<%s> %s %s", from, nrcpt ? rcpts[0] : "",
	         bounces_outcome_name(oc), why);
	return NULL;
}

static void
listen_closed(void *arg)
{
	struct listen *L = arg;
	uv_close((uv_handle_t *)&L->sigint, NULL);
	uv_close((uv_handle_t *)&L->sigterm, NULL);
}

static void
listen_on_signal(uv_signal_t *h, int sig)
{
	struct listen *L = h->data;
	log_info("bounces listen: signal %d: stopping", sig);
	uv_signal_stop(&L->sigint);
	uv_signal_stop(&L->sigterm);
	smtpd_close(L->d, listen_closed, L);
}

int
bounces_listen_check(const struct config *cfg, char *err, size_t errsz)
{
	if (cfg->bounce_domain[0] != '\0')
		return 0;
	snprintf(err, errsz, "listen takes mail for [bounce] domain only: set it in kirim.conf");
	return BOUNCES_LISTEN_E_CONFIG;
}

int
bounces_listen_run(struct store *s, const struct config *cfg, const struct bounces_listen_opts *o,
                   struct bounces_stats *st, char *err, size_t errsz)
{
	int rc = bounces_listen_check(cfg, err, errsz);
	if (rc < 0)
		return rc;
	struct listen L = {0};
	if (bounces_new(s, cfg, &L.b, err, errsz) < 0)
		return BOUNCES_LISTEN_E_CONFIG;
	struct smtpd_limits lim;
	smtpd_default_limits(&lim);
	if (o->max_message)
		lim.max_message = o->max_message;
	char why[512];
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct smtpd_cbs cbs = {listen_rcpt, listen_message};
	if (smtpd_new(&loop, o->listen, o->hostname ? o->hostname : cfg->bounce_domain, &lim, &cbs,
	              &L, &L.d, why, sizeof(why)) < 0) {
		snprintf(err, errsz, "cannot listen on %s: %s", o->listen, why);
		rc = BOUNCES_LISTEN_E_LISTEN;
		uv_run(&loop, UV_RUN_DEFAULT); /* closes what smtpd_new opened */
		goto out;
	}
	uv_signal_init(&loop, &L.sigint);
	uv_signal_init(&loop, &L.sigterm);
	L.sigint.data = L.sigterm.data = &L;
	uv_signal_start(&L.sigint, listen_on_signal, SIGINT);
	uv_signal_start(&L.sigterm, listen_on_signal, SIGTERM);
	if (o->ready)
		o->ready(o->ready_arg, smtpd_port(L.d));
	uv_run(&loop, UV_RUN_DEFAULT);
	bounces_stats(L.b, st);
out:
	uv_loop_close(&loop);
	bounces_free(L.b);
	return rc;
}
