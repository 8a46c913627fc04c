/*
 * store_signup - signups with double opt-in, the SQL (tables list_members'
 * status, campaigns' kind, consents; schema 009).
 *
 * A signup makes the contact when the address is new (an existing contact's
 * attributes are never changed by a form anyone can post), adds it to the
 * list as 'unconfirmed', records the consent (what was agreed to, where,
 * from which address, when) and queues a message in the list's confirmation
 * campaign, made with the list's first signup (kind 'confirm', named
 * "confirm:LIST", its template given by the caller, list-scope unsubscribes,
 * always 'sending': kirim run sends its messages as they come). Confirming
 * makes the member 'confirmed' and dates the consent. Campaigns mail
 * confirmed members only, a confirmation campaign unconfirmed ones only
 * (store_messages_walk, store_messages_claim).
 *
 * store_signup_add and store_signup_confirm run inside the caller's
 * transaction (kirim serve's writer batch); the reads may run anywhere.
 * Uses the store's connection (store_int.h), one thread at a time. Does not log.
 */
#ifndef KIRIM_STORE_SIGNUP_H
#define KIRIM_STORE_SIGNUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/address.h"

struct store;

enum store_signup_outcome {
	STORE_SIGNUP_SENT,   /* a confirmation request is queued */
	STORE_SIGNUP_RECENT, /* one is queued, or was within resend_after: not again */
	STORE_SIGNUP_MEMBER, /* a confirmed member already: nothing sent, nothing recorded */
};

struct store_signup {
	/* In; borrowed for the call. */
	const char *list;         /* the list's name (made when missing) */
	const char *email;        /* a checked address (address.h's email) */
	const char *domain;       /* its domain, A-labels */
	const char *attrs;        /* a new contact's attributes, a JSON object */
	const char *form;         /* the source form's name */
	const char *ip;           /* the client's address, as text */
	const char *user_agent;   /* may be NULL */
	const char *language;     /* the language of the form and of what was agreed to */
	const char *consent_text; /* the text agreed to */
	/* The confirmation campaign's template and sender, for the list's first signup. */
	const char *subject, *text, *html;
	const char *from_name; /* may be NULL */
	const char *from_addr;
	int64_t resend_after; /* seconds: no second request to an address sooner */
	/* Out. */
	enum store_signup_outcome outcome;
	int64_t campaign_id, contact_id;
};

/*
 * store_signup_add - record su (at now) in the caller's transaction and set
 * its outcome and ids. 0, or a store error: STORE_E_EXISTS (nothing written)
 * when a campaign of another kind has the confirmation campaign's name.
 */
int store_signup_add(struct store *s, struct store_signup *su, int64_t now);

enum store_confirm_outcome {
	STORE_CONFIRM_DONE,    /* confirmed now */
	STORE_CONFIRM_ALREADY, /* confirmed before: nothing changed */
	STORE_CONFIRM_GONE,    /* not on the list: the signup expired (purged) or was taken back */
};
/*
 * store_signup_confirm - confirm contact_id on the list of confirmation
 * campaign campaign_id, from ip at now, in the caller's transaction: the
 * member becomes 'confirmed' and the latest unconfirmed consent gets the time
 * and address. A confirmation is consent again: the address's suppression by
 * its own unsubscribe (reason 'unsubscribe', source "campaign:NAME") made
 * before that signup is lifted, and the audit log (store_api.h) records it;
 * no other suppression is touched. STORE_CONFIRM_GONE when the contact is
 * not on the list (any more); STORE_E_NOTFOUND when campaign_id is not a
 * confirmation campaign.
 */
int store_signup_confirm(struct store *s, int64_t campaign_id, int64_t contact_id, const char *ip,
                         int64_t now, enum store_confirm_outcome *out);

/*
 * store_signup_purge - remove, in the caller's transaction, the unconfirmed
 * memberships whose latest signup was made before `before` ([signup]
 * pending_days): the member, its unconfirmed consents (no consent was given),
 * its queued confirmation request (cancelled, done at now), and the contact
 * itself when the signup was all there was of it (no other list, consent, tag
 * or regular campaign's message). *purged: memberships, *contacts: contacts
 * erased. At most 10,000 a call.
 */
int store_signup_purge(struct store *s, int64_t before, int64_t now, int64_t *purged,
                       int64_t *contacts);

/* store_signup_confirm_list - the list of confirmation campaign campaign_id; STORE_E_NOTFOUND
 * for a campaign of another kind */
int store_signup_confirm_list(struct store *s, int64_t campaign_id, int64_t *list_id, char *list,
                              size_t listsz);

enum store_member { STORE_MEMBER_NONE, STORE_MEMBER_CONFIRMED, STORE_MEMBER_UNCONFIRMED };

/* What a subscriber's page shows about a (campaign, contact) pair. */
struct store_page_info {
	char email[ADDRESS_MAX + 1];
	char language[40]; /* the contact's "language" attribute, "" when none */
	char list[256];    /* the campaign's list */
	int64_t list_id;
	bool confirm;             /* a confirmation campaign's */
	bool list_scope;          /* the campaign's one-click unsubscribes are list-scoped */
	enum store_member member; /* the contact on the list */
	char suppressed[32];      /* the address's or domain's suppression reason, "" */
};
/* store_page_info - read it; STORE_E_NOTFOUND when the campaign or contact is gone */
int store_page_info(struct store *s, int64_t campaign_id, int64_t contact_id,
                    struct store_page_info *out);

/* One consent record; strings borrowed for the callback. */
struct store_consent {
	const char *list, *form, *ip, *user_agent, *language, *text, *confirm_ip;
	int64_t created_at, confirmed_at; /* confirmed_at 0: not confirmed */
};
typedef int (*store_consent_cb)(void *arg, const struct store_consent *c);
/* store_consent_each - the contact's consent records, oldest first; a callback's non-zero
 * return stops the walk and is returned */
int store_consent_each(struct store *s, int64_t contact_id, store_consent_cb cb, void *arg);

#endif
