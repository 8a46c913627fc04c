/*
 * signup - signups with double opt-in, what kirim serve and the sender share:
 * reading a signup from a form or a JSON body (checked, the bot trap
 * noticed), the new contact's attributes, and the fields a confirmation
 * campaign's messages add to the composer: the signed link that expires
 * (BASE/k/TOKEN, TOKEN_CONFIRM of the campaign, the contact and the expiry
 * time) and the texts in the contact's language (pages.h). The store's side
 * is store_signup.h; docs/pages.md tells the whole story.
 *
 * No I/O but signup_mail_new's (it loads the pages); does not log.
 */
#ifndef KIRIM_SIGNUP_H
#define KIRIM_SIGNUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/address.h"
#include "kirim/i18n.h"

struct buf;
struct config;
struct json_t;

enum {
	SIGNUP_NAME_MAX = 100,  /* bytes of a name typed into the form */
	SIGNUP_FORM_MAX = 64,   /* bytes of a form's own name (its "form" field) */
	SIGNUP_REASON_MAX = 64, /* bytes of an unsubscribe's reason code */
};

enum signup_problem {
	SIGNUP_OK,
	SIGNUP_BAD_EMAIL,   /* missing, or not an address kirim can mail */
	SIGNUP_NO_CONSENT,  /* the consent box not ticked (JSON: "consent" not true) */
	SIGNUP_BAD_REQUEST, /* not a form or a JSON object, a field too long or not text */
};

/* A signup as the form or JSON body gave it. */
struct signup_form {
	bool json;     /* the body was JSON (the answer is JSON too) */
	bool honeypot; /* the hidden field was filled in: a bot, answered as if all was well */
	bool consent;
	char email[ADDRESS_MAX + 1]; /* as typed, blanks trimmed (for the form shown again) */
	struct address addr;         /* the checked address, when the problem is not BAD_EMAIL */
	char name[SIGNUP_NAME_MAX + 1];
	char lang[I18N_TAG_MAX + 1];    /* the form's language ("" when none given) */
	char form[SIGNUP_FORM_MAX + 1]; /* the form's name ("" when none given) */
};

/*
 * signup_form_parse - read a signup POST: ctype (its Content-Type, or NULL)
 * names application/json (an object: email, name, language, form, consent
 * true, website) or a form (application/x-www-form-urlencoded, the default:
 * the same fields, consent any non-empty value). Fills *out as far as it got
 * and returns the first problem (SIGNUP_OK: a signup to make). Pure code.
 */
enum signup_problem signup_form_parse(const char *ctype, const char *body, size_t n,
                                      struct signup_form *out);

/*
 * signup_form_html - the signup form of list (one of [signup] lists) as HTML
 * to paste into another site, in lang (a tag; NULL: [pages] language),
 * posting to kirim serve's BASE/s/LIST, into out. 0, or -1 with what
 * kirim.conf lacks in err.
 */
int signup_form_html(const struct config *cfg, const char *list, const char *lang, struct buf *out,
                     char *err, size_t errsz);

/* signup_attrs - a new contact's attributes as a JSON object: name (when given) and language */
void signup_attrs(const struct signup_form *f, const char *lang, struct buf *out);

/*
 * The fields of a confirmation campaign's messages (composer_identity.fields):
 * confirm_url, lang, brand, t (the texts, in the contact's language attribute
 * or the default) and list; hours is how long the link works.
 */
struct signup_mail;
/*
 * signup_mail_new - for confirmation campaign campaign_id of list, signing
 * with secret, its links under [unsubscribe] url's base. 0, or -1 with err
 * (no base, pages that do not load).
 */
int signup_mail_new(const struct config *cfg, const void *secret, size_t secret_len,
                    int64_t campaign_id, const char *list, struct signup_mail **out, char *err,
                    size_t errsz);
/* signup_mail_free - NULL is a no-op */
void signup_mail_free(struct signup_mail *m);
/* signup_mail_fields - composer_identity.fields with arg a struct signup_mail */
void signup_mail_fields(void *arg, struct json_t *ctx, int64_t contact_id, long long now);

#endif
