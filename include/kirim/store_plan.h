/*
 * store_plan - what `kirim campaign plan` reads and writes: how many messages
 * a send of a campaign would still attempt per recipient domain, and the
 * suppression of domains that cannot receive mail. SQL for src/store/ only;
 * see store.h. Does not log.
 */
#ifndef KIRIM_STORE_PLAN_H
#define KIRIM_STORE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

struct store;

/* One recipient domain (A-label) and how many messages go to it; a non-zero return stops. */
typedef int (*store_plan_domain_cb)(void *arg, const char *domain, int64_t count);

/*
 * store_plan_domains - per recipient domain, by domain: the campaign's
 * queued and claimed messages when it has any messages at all
 * (*from_audience false; while they are still being made, with the audience's
 * contacts the walk has not reached: store_messages_walk), else the contacts
 * of its audience whose address
 * and domain are not suppressed (what the first send would queue;
 * *from_audience true). A non-zero return from cb stops and is returned.
 */
int store_plan_domains(struct store *s, int64_t campaign_id, store_plan_domain_cb cb, void *arg,
                       bool *from_audience);

/*
 * store_plan_suppress_domain - suppress domain (kind 'domain', reason
 * 'hard_bounce', source as given) unless it already is (*added false), and
 * mark the campaign's queued messages to it suppressed (*marked: how many),
 * so a send never tries them. Two statements: call between store_begin and
 * store_commit.
 */
int store_plan_suppress_domain(struct store *s, int64_t campaign_id, const char *domain,
                               const char *source, bool *added, int64_t *marked);

#endif
