/*
 * smtp_outcome - what an SMTP fact means for a recipient: delivered,
 * deferred (try again later), bounced (permanent) or failed (refused here),
 * and which scope it hits: the recipient, the whole message, or the whole
 * destination (every message waiting for it). The one place that decides
 * (Postfix smtp_trouble.c); the rules are the table in smtp_outcome.c. The
 * bounce issue refines bounces with reasons; the classes stay. Pure code.
 */
#ifndef KIRIM_SMTP_OUTCOME_H
#define KIRIM_SMTP_OUTCOME_H

#include "kirim/smtp_reply.h"

enum outcome { OUTCOME_DELIVERED, OUTCOME_DEFERRED, OUTCOME_BOUNCED, OUTCOME_FAILED };
enum outcome_scope { OUTCOME_RECIPIENT, OUTCOME_MESSAGE, OUTCOME_DESTINATION };

struct smtp_outcome {
	enum outcome outcome;
	enum outcome_scope scope;
};

/* smtp_outcome_classify - the outcome of the final fact about one recipient */
struct smtp_outcome smtp_outcome_classify(const struct smtp_result *r);
/* smtp_outcome_name - "delivered", "deferred", "bounced", "failed" */
const char *smtp_outcome_name(enum outcome o);
/* smtp_outcome_scope_name - "recipient", "message", "destination" */
const char *smtp_outcome_scope_name(enum outcome_scope s);

#endif
