/*
 * proofs - a template's raw message and test sends, through a campaign record
 * never stored (see proofs.h).
 */
#include "kirim/proofs.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kirim/buf.h"
#include "kirim/campaign.h"
#include "kirim/composer.h"
#include "kirim/config.h"
#include "kirim/sender.h"
#include "kirim/store.h"

/* proof_campaign - the record of a campaign that would send r; 0 or an error code with err */
static int
proof_campaign(struct store *s, const struct proofs_req *r, struct store_campaign *c, char *err,
               size_t errsz)
{
	memset(c, 0, sizeof(*c));
	if (r->from == NULL || *r->from == '\0') {
		snprintf(err, errsz, "a proof needs a sender: \"Name <news@example.com>\"");
		return PROOFS_E_INVALID;
	}
	char e[256];
	if (campaign_parse_from(r->from, c->from_name, sizeof(c->from_name), c->from_addr, e,
	                        sizeof(e)) < 0) {
		snprintf(err, errsz, "the sender '%.200s': %s", r->from, e);
		return PROOFS_E_INVALID;
	}
	struct store_template t;
	int rc = store_template_get(s, r->template, r->version, &t);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		return rc;
	}
	snprintf(c->name, sizeof(c->name), "proof:%.100s", t.name);
	c->template_id = t.id;
	snprintf(c->template_name, sizeof(c->template_name), "%s", t.name);
	c->template_version = t.version;
	snprintf(c->state, sizeof(c->state), "draft");
	c->created_at = (int64_t)time(NULL);
	store_template_clear(&t);
	return 0;
}

int
proofs_message(struct store *s, const struct config *cfg, const struct proofs_req *r,
               const char *to, struct buf *msg, char env[ADDRESS_MAX + 1], char *err, size_t errsz)
{
	struct address a;
	const char *why = "";
	if (to == NULL || address_parse(to, strlen(to), 0, &a, &why) < 0) {
		snprintf(err, errsz, "'%.200s' is not an address: %s", to ? to : "", why);
		return PROOFS_E_INVALID;
	}
	struct store_campaign c;
	int rc = proof_campaign(s, r, &c, err, errsz);
	if (rc < 0)
		return rc;
	struct store_contact k;
	bool known = store_contact_get(s, a.key, &k) == 0;
	struct campaign_composer cc;
	if (campaign_composer_new(s, cfg, &c, &cc, err, errsz) < 0) {
		rc = PROOFS_E_INVALID;
	} else {
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		struct composer_recipient rc_ = {.contact_id = known ? k.id : 0,
		                                 .email = known ? k.email : a.email,
		                                 .attrs = known && k.attrs ? k.attrs : "{}"};
		if (composer_render(cc.composer, &rc_, (long long)now, (int)(tm.tm_gmtoff / 60),
		                    msg, env, err, errsz) < 0)
			rc = PROOFS_E_INVALID;
	}
	campaign_composer_free(&cc);
	if (known)
		store_contact_clear(&k);
	store_campaign_clear(&c);
	return rc;
}

int
proofs_send(struct store *s, const struct config *cfg, const struct proofs_req *r,
            const char *const *to, size_t nto, struct sender_stats *st, char *err, size_t errsz)
{
	memset(st, 0, sizeof(*st));
	if (nto == 0 || nto > PROOFS_MAX) {
		snprintf(err, errsz, "a test goes to 1 to %d seed addresses", PROOFS_MAX);
		return PROOFS_E_INVALID;
	}
	for (size_t i = 0; i < nto; i++) {
		struct address a;
		const char *why = "";
		if (address_parse(to[i], strlen(to[i]), 0, &a, &why) < 0) {
			snprintf(err, errsz, "'%.200s' is not an address: %s", to[i], why);
			return PROOFS_E_INVALID;
		}
	}
	if (cfg->relay_url[0] == '\0') {
		snprintf(err, errsz,
		         "no relay to send proofs through: set [relay] url in kirim.conf (proofs "
		         "are not delivered directly to the seeds' mail hosts)");
		return PROOFS_E_SEND;
	}
	struct store_campaign c;
	int rc = proof_campaign(s, r, &c, err, errsz);
	if (rc < 0)
		return rc;
	struct sender_opts o = {
	    .campaign = c.name, .tls = -1, .test_rcpts = to, .ntest = nto, .test_campaign = &c};
	rc = sender_run(s, cfg, &o, st, err, errsz);
	store_campaign_clear(&c);
	if (rc == SENDER_E_RENDER || rc == SENDER_E_CONFIG)
		return rc == SENDER_E_RENDER ? PROOFS_E_INVALID : PROOFS_E_SEND;
	return rc < 0 ? PROOFS_E_SEND : 0;
}
