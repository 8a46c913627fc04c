/*
 * campaign - what the commands that act on a campaign share: turning its
 * stored record, template and the machine's config into a composer, and
 * checking the parts of a campaign a marketer types (sender, headers).
 * Reads the store; does not print or log.
 */
#ifndef KIRIM_CAMPAIGN_H
#define KIRIM_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/address.h"

struct buf;
struct composer;
struct config;
struct store;
struct store_campaign;

/* A campaign's composer and everything it borrows; free with campaign_composer_free. */
struct campaign_composer {
	struct composer *composer;
	struct dkim_signer **signers;
	size_t n_signers;
	unsigned char secret[64];
	size_t secret_len;
	struct mime_header *headers;
	size_t n_headers;
	char **header_strings;
	char track_base[512];       /* 'kirim serve' base URL when the campaign tracks, else "" */
	struct signup_mail *signup; /* a confirmation campaign's link and texts (signup.h) */
};

/*
 * campaign_secret - the key that signs kirim's tokens: kirim.conf's [secret], else the
 * database's generated one, into out (64 bytes); *len set. 0, or -1 with err.
 */
int campaign_secret(struct store *s, const struct config *cfg, unsigned char out[64], size_t *len,
                    char *err, size_t errsz);

/*
 * campaign_track_base - the base URL open and click links use (BASE/o/, BASE/c/):
 * cfg's [unsubscribe] url less its final "/u/", into base (basesz bytes). Returns 0,
 * or -1 with what kirim.conf lacks, and what to write there, in err.
 */
int campaign_track_base(const struct config *cfg, char *base, size_t basesz, char *err,
                        size_t errsz);

/*
 * campaign_composer_new - load the campaign's template version and build its
 * composer with cfg's identity and DKIM keys (the database's secret when cfg
 * has none). Opens and clicks are tracked as the campaign's options say
 * (track_opens, track_clicks), through the 'kirim serve' base that
 * [unsubscribe] url names (BASE/u/). A list's confirmation campaign (kind
 * 'confirm', store_signup.h) also gets its confirmation link and texts
 * (signup.h). Returns 0 or -1 with the reason in err.
 */
int campaign_composer_new(struct store *s, const struct config *cfg, const struct store_campaign *c,
                          struct campaign_composer *out, char *err, size_t errsz);
/* campaign_composer_free - release it */
void campaign_composer_free(struct campaign_composer *cc);

#define CAMPAIGN_E_NOTFOUND (-2) /* campaign_view: no such campaign or contact */

/*
 * campaign_view - the browser view of the message campaign_id's composer
 * makes for contact_id, now (composer_view: the HTML part, or the text part
 * when the template has none, *html saying which), into out. The composer is
 * built each time from the stored campaign, its template, its link table and
 * cfg, so the page follows the campaign and the contact as they are. Returns
 * 0, CAMPAIGN_E_NOTFOUND when the campaign or the contact is not there (any
 * more), or -1 (a store error, a template that fails) with err.
 */
int campaign_view(struct store *s, const struct config *cfg, int64_t campaign_id,
                  int64_t contact_id, struct buf *out, bool *html, char *err, size_t errsz);

/*
 * campaign_parse_from - split "Display Name <addr@example.com>" or a bare
 * address into name and a checked address. The name is plain UTF-8 text, as
 * mime_display_name_decode reads it (the name in "Sh\"op" <a@example.com> is
 * Sh"op); it may come out empty. A name that cannot be read is refused, with
 * the reason in err.
 */
int campaign_parse_from(const char *s, char *name, size_t namesz, char addr[ADDRESS_MAX + 1],
                        char *err, size_t errsz);
/*
 * campaign_header_add - check "Name: value" and append it to a JSON array of
 * [name, value] pairs in out (which holds "[" ... without the closing "]").
 */
int campaign_header_add(struct buf *out, const char *line, char *err, size_t errsz);

#endif
