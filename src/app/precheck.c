/* precheck - may this campaign start? (see precheck.h) */
#include "kirim/precheck.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kirim/campaign.h"
#include "kirim/composer.h"
#include "kirim/config.h"
#include "kirim/store.h"
#include "kirim/store_lifecycle.h"

struct render_ctx {
	struct composer *composer;
	struct precheck *p;
};

static int
render_one(void *arg, const struct store_recipient *r)
{
	struct render_ctx *x = arg;
	struct precheck *p = x->p;
	char err[256];
	struct composer_recipient cr = {r->contact_id, r->email, r->attrs};
	p->checked++;
	/* The verdict of a render, without encoding the bodies (any bytes encode). */
	if (composer_check(x->composer, &cr, err, sizeof(err)) == 0)
		return 0;
	if (p->nshow < PRECHECK_SHOW) {
		struct precheck_bad *b = &p->show[p->nshow++];
		b->contact_id = r->contact_id;
		snprintf(b->email, sizeof(b->email), "%s", r->email);
		snprintf(b->why, sizeof(b->why), "%s", err);
	}
	if (p->bad < PRECHECK_SKIP_MAX)
		buf_printf(&p->skip, "%s%lld", p->bad ? "," : "", (long long)r->contact_id);
	p->bad++;
	return 0;
}

/* dkim_warning - a sentence when no configured DKIM key signs the From domain */
static void
dkim_warning(const struct config *cfg, const char *from, char *out, size_t outsz)
{
	const char *at = strrchr(from, '@');
	const char *dom = at ? at + 1 : "";
	if (cfg->n_dkim == 0) {
		snprintf(
		    out, outsz,
		    "messages will not be DKIM-signed (no [dkim] key in the config; 'kirim dkim "
		    "keygen' makes one)");
		return;
	}
	for (size_t i = 0; i < cfg->n_dkim; i++) {
		size_t dl = strlen(cfg->dkim[i].domain), fl = strlen(dom);
		/* Aligned when d= is the From domain or a parent of it (relaxed alignment). */
		if (strcasecmp(cfg->dkim[i].domain, dom) == 0 ||
		    (fl > dl && dom[fl - dl - 1] == '.' &&
		     strcasecmp(dom + fl - dl, cfg->dkim[i].domain) == 0))
			return;
	}
	snprintf(out, outsz, "no DKIM key signs the From domain %s: DMARC will not align", dom);
}

/* precheck_run - check campaign c with config cfg */
int
precheck_run(struct store *s, const struct config *cfg, const struct store_campaign *c,
             struct precheck *out, char *err, size_t errsz)
{
	memset(out, 0, sizeof(*out));
	buf_addc(&out->skip, '[');
	int rc = 0;

	/* 1. The sender identity. */
	char name[256], addr[ADDRESS_MAX + 1], why[300];
	if (campaign_parse_from(c->from_addr, name, sizeof(name), addr, why, sizeof(why)) < 0) {
		snprintf(err, errsz, "the campaign's From address '%s' is not usable: %s",
		         c->from_addr, why);
		rc = PRECHECK_E_IDENTITY;
		goto out;
	}
	/* Render without signing: a copy of the config with its DKIM keys hidden. */
	struct config nodkim = *cfg;
	nodkim.n_dkim = 0;
	struct campaign_composer cc;
	if (campaign_composer_new(s, &nodkim, c, &cc, why, sizeof(why)) < 0) {
		snprintf(err, errsz, "the campaign cannot compose messages: %s", why);
		rc = PRECHECK_E_IDENTITY;
		goto out;
	}
	dkim_warning(cfg, addr, out->warning, sizeof(out->warning));

	/* 2. Someone to mail. */
	if (store_lifecycle_mailable(s, c->id, &out->mailable, &out->pending) < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		rc = PRECHECK_E_STORE;
		campaign_composer_free(&cc);
		goto out;
	}

	/* 3. Every recipient still to be mailed renders. */
	struct render_ctx x = {.composer = cc.composer, .p = out};
	if (store_lifecycle_recipients(s, c->id, render_one, &x) < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		rc = PRECHECK_E_STORE;
	}
	campaign_composer_free(&cc);
out:
	buf_addc(&out->skip, ']');
	return rc;
}

/* precheck_free - release what precheck_run gathered */
void
precheck_free(struct precheck *p)
{
	buf_free(&p->skip);
}

int
precheck_judge(const struct precheck *p, const char *name, const char *list, bool skip_bad,
               char *err, size_t errsz)
{
	if (p->mailable - (skip_bad ? p->bad : 0) <= 0 && p->pending == 0) {
		snprintf(err, errsz,
		         "campaign '%s' cannot start: its list '%s' has no one to mail (%lld not "
		         "suppressed%s)",
		         name, list, (long long)p->mailable,
		         skip_bad && p->bad ? ", all of them skipped as unrenderable" : "");
		return PRECHECK_E_EMPTY;
	}
	if (p->bad > 0 && !skip_bad) {
		snprintf(
		    err, errsz,
		    "campaign '%s' cannot start: its template does not render for %lld of %lld "
		    "recipients",
		    name, (long long)p->bad, (long long)p->checked);
		return PRECHECK_E_RENDER;
	}
	if (p->bad > PRECHECK_SKIP_MAX) {
		snprintf(err, errsz,
		         "campaign '%s': %lld recipients cannot be rendered, more than --skip-bad "
		         "skips (%d): fix the template",
		         name, (long long)p->bad, PRECHECK_SKIP_MAX);
		return PRECHECK_E_TOO_BAD;
	}
	return 0;
}
