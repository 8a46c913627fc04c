/*
 * runner - `kirim run`: the long-running sender.
 *
 * Every second it starts the scheduled campaigns whose time has come (inside
 * their send window, if they have one), then gives each campaign that is
 * sending and has messages due a turn of at most turn_s seconds with the
 * sender, round robin, so several campaigns progress together and a big one
 * cannot starve the others; deferred messages go out when they come due.
 * Campaigns outside their window wait for its next opening. A stop request
 * ends the current turn the way Ctrl-C ends `kirim send` (what is in flight
 * finishes and is recorded) and returns; a reload request re-reads the
 * configuration before the next turn. Turns run one at a time: campaigns share
 * the per-destination limits because only one sender runs, not because
 * several share one pool (a later step).
 */
#ifndef KIRIM_RUNNER_H
#define KIRIM_RUNNER_H

#include <signal.h>

#include "kirim/sender.h"

struct store;
struct config;

struct runner_opts {
	struct sender_opts send; /* delivery options for every turn (campaign ignored) */
	double turn_s;           /* a turn's length (default 30 s) */
	int once;                /* return when nothing is due or scheduled (tests, cron) */
	volatile sig_atomic_t *stop;
	volatile sig_atomic_t *reload;
	/* reload - load the configuration again into cfg; 0 or -1 (the old one stays) */
	int (*reload_cfg)(void *arg, struct config *cfg);
	void *reload_arg;
};

struct runner_stats {
	unsigned long turns, started;
	uint64_t attempted, delivered, deferred, bounced, failed;
};

/* runner_run - run until *stop (or, with once, until idle); 0 or a SENDER_E_* code */
int runner_run(struct store *s, struct config *cfg, const struct runner_opts *o,
               struct runner_stats *st, char *err, size_t errsz);

#endif
