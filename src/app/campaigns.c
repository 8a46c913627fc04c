/*
 * campaigns - a draft campaign made from checked values (see campaigns.h).
 */
#include "kirim/campaigns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kirim/audience.h"
#include "kirim/buf.h"
#include "kirim/campaign.h"
#include "kirim/config.h"
#include "kirim/store.h"
#include "kirim/store_audience.h"
#include "kirim/xmalloc.h"

int
campaigns_create(struct store *s, const struct config *cfg, const struct campaigns_new *n,
                 int64_t *id, char *err, size_t errsz)
{
	struct store_campaign sc;
	char why[600];
	memset(&sc, 0, sizeof(sc));
	if (n->name == NULL || *n->name == '\0' || strlen(n->name) >= sizeof(sc.name)) {
		snprintf(err, errsz, "a campaign name is 1 to %zu characters", sizeof(sc.name) - 1);
		return CAMPAIGNS_E_INVALID;
	}
	if ((n->list == NULL && n->nparts == 0) || n->tpl == NULL || n->from == NULL) {
		snprintf(err, errsz,
		         "a campaign needs an audience (a list or a segment), a template "
		         "and a From address");
		return CAMPAIGNS_E_INVALID;
	}
	const char *scope = n->unsubscribe_scope ? n->unsubscribe_scope : "all";
	if (strcmp(scope, "all") != 0 && strcmp(scope, "list") != 0) {
		snprintf(err, errsz, "the unsubscribe scope is all or list, not '%s'", scope);
		return CAMPAIGNS_E_INVALID;
	}
	snprintf(sc.name, sizeof(sc.name), "%s", n->name);
	if (campaign_parse_from(n->from, sc.from_name, sizeof(sc.from_name), sc.from_addr, why,
	                        sizeof(why)) < 0) {
		snprintf(err, errsz, "from: %s", why);
		return CAMPAIGNS_E_INVALID;
	}
	if (n->reply_to) {
		char rn[256];
		if (campaign_parse_from(n->reply_to, rn, sizeof(rn), sc.reply_to, why,
		                        sizeof(why)) < 0) {
			snprintf(err, errsz, "reply-to: %s", why);
			return CAMPAIGNS_E_INVALID;
		}
	}
	if (n->track_opens || n->track_clicks) {
		char base[512];
		if (cfg == NULL ||
		    campaign_track_base(cfg, base, sizeof(base), why, sizeof(why)) < 0) {
			snprintf(err, errsz, "tracking opens or clicks needs 'kirim serve': %s",
			         cfg ? why : "no kirim.conf");
			return CAMPAIGNS_E_CONFIG;
		}
	}
	struct buf hdrs = BUF_INIT;
	buf_addc(&hdrs, '[');
	for (size_t i = 0; i < n->nheaders; i++)
		if (campaign_header_add(&hdrs, n->headers[i], why, sizeof(why)) < 0) {
			snprintf(err, errsz, "header %s", why);
			buf_free(&hdrs);
			return CAMPAIGNS_E_INVALID;
		}
	buf_addc(&hdrs, ']');
	json_t *o = json_pack("{s:b,s:b,s:s}", "track_opens", n->track_opens, "track_clicks",
	                      n->track_clicks, "unsubscribe_scope", scope);
	char *options = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	sc.headers = hdrs.data;
	sc.options = options;
	struct store_template t;
	char tname[128];
	int version = 0;
	const char *colon = strrchr(n->tpl, ':');
	snprintf(tname, sizeof(tname), "%.*s", colon ? (int)(colon - n->tpl) : (int)strlen(n->tpl),
	         n->tpl);
	if (colon) {
		char *end;
		long v = strtol(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end || v < 1) {
			snprintf(err, errsz, "template '%s': a version is a number (NAME:VERSION)",
			         n->tpl);
			free(options);
			buf_free(&hdrs);
			return CAMPAIGNS_E_INVALID;
		}
		version = (int)v;
	}
	/* The audience: the list first, then the other parts in their order. */
	struct segment_part *parts = xcalloc(n->nparts + 1, sizeof(*parts));
	size_t k = 0;
	if (n->list)
		parts[k++] = (struct segment_part){.kind = SEGMENT_PART_LIST, .name = n->list};
	for (size_t i = 0; i < n->nparts; i++)
		parts[k++] = n->parts[i];
	int rc = store_template_get(s, tname, version, &t);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
	} else {
		sc.template_id = t.id;
		store_template_clear(&t);
		/* Made as the CLI makes it, in one transaction (a savepoint in the caller's). */
		rc = audience_campaign_create(s, &sc, parts, k, strcmp(scope, "list") == 0, err,
		                              errsz);
		if (rc == AUDIENCE_E_USAGE || rc == AUDIENCE_E_DATA)
			rc = CAMPAIGNS_E_INVALID;
	}
	if (rc == 0)
		*id = sc.id;
	free(parts);
	free(options);
	buf_free(&hdrs);
	return rc;
}
