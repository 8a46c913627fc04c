/*
 * campaigns - a campaign made from what a tool sends: the API's POST
 * /api/campaigns. The checks are `kirim campaign create`'s (a name, the
 * list, the template NAME[:VERSION], the From and Reply-To, extra headers,
 * tracking only with a 'kirim serve' base in kirim.conf) and the campaign is
 * stored as a draft, with its audience, by audience_campaign_create (the
 * call `kirim campaign create` makes), so the audience's checks are the
 * CLI's: parts resolved, a loop or a missing segment refused, the
 * unsubscribe scope 'list' only with one list. Does not log.
 */
#ifndef KIRIM_CAMPAIGNS_H
#define KIRIM_CAMPAIGNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct segment_part;
struct store;

#define CAMPAIGNS_E_INVALID (-80) /* a value that cannot be (err says which) */
#define CAMPAIGNS_E_CONFIG (-81)  /* tracking asked for, but kirim.conf names no serve base */

struct campaigns_new {
	const char *name;
	const char *list; /* NULL: the audience is parts alone */
	/* More of the audience, after list, in the order given (--segment, --exclude-list, ...) */
	const struct segment_part *parts;
	size_t nparts;
	const char *tpl; /* NAME or NAME:VERSION */
	const char *from;
	const char *reply_to;       /* NULL: none */
	const char *const *headers; /* "Name: value" */
	size_t nheaders;
	bool track_opens, track_clicks;
	const char *unsubscribe_scope; /* "all" (NULL) or "list" */
};

/*
 * campaigns_create - check n and store it as a draft; *id set. Errors:
 * CAMPAIGNS_E_INVALID (also a bad audience), CAMPAIGNS_E_CONFIG,
 * STORE_E_NOTFOUND (no such list, segment or template), STORE_E_EXISTS (the name is taken), the
 * store's; err says.
 */
int campaigns_create(struct store *s, const struct config *cfg, const struct campaigns_new *n,
                     int64_t *id, char *err, size_t errsz);

#endif
