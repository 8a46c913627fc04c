/*
 * proofs - a template's message as a campaign would send it, before there is
 * a campaign: the exact raw message for one address, and proofs sent to seed
 * addresses through the configured relay (the console's template editor).
 *
 * Both make a campaign record that is never stored (id 0, no list) from the
 * template version and a sender, and go through what a campaign goes
 * through: campaign_composer_new (cfg's identity and DKIM keys), then
 * composer_render, or sender_run's proofs (kirim campaign test's path), which
 * record nothing. A seed address that is a contact gets its attributes in the
 * raw message; proofs get the built-in fields only, as kirim campaign test
 * gives an address outside the campaign's list. Reads the store; does not log.
 * proofs_send blocks for as long as the relay takes (SMTP timeouts bound it).
 */
#ifndef KIRIM_PROOFS_H
#define KIRIM_PROOFS_H

#include <stddef.h>

#include "kirim/address.h"

struct buf;
struct config;
struct store;
struct sender_stats;

enum { PROOFS_MAX = 20 }; /* seed addresses at once, as kirim campaign test */

struct proofs_req {
	const char *template; /* its name */
	int version;          /* 0: the latest */
	const char *from;     /* "Name <addr@example.com>" or an address */
};

/* Error codes (negative), beside the store's. */
#define PROOFS_E_INVALID (-100) /* a bad sender, address or template: err says */
#define PROOFS_E_SEND (-101)    /* the relay could not be used: err says */

/*
 * proofs_message - r's message to address to as composer_render makes it (the
 * contact's attributes when to is one) into msg, the envelope sender into env.
 * 0, STORE_E_NOTFOUND (no such template), PROOFS_E_INVALID, or a store error;
 * err says.
 */
int proofs_message(struct store *s, const struct config *cfg, const struct proofs_req *r,
                   const char *to, struct buf *msg, char env[ADDRESS_MAX + 1], char *err,
                   size_t errsz);

/*
 * proofs_send - r's message to each of the nto addresses (1..PROOFS_MAX) through
 * cfg's relay (none: refused); *st as sender_run fills it, st->tests one line
 * per address ("ADDRESS OUTCOME CODE ECODE TEXT"). 0 when the run was made
 * (each proof's own outcome is in st), else an error code with err.
 */
int proofs_send(struct store *s, const struct config *cfg, const struct proofs_req *r,
                const char *const *to, size_t nto, struct sender_stats *st, char *err,
                size_t errsz);

#endif
