/*
 * bounces_listen - `kirim bounces listen`: an inbound SMTP server (smtpd.h)
 * that takes mail for the bounce domain only and hands each message to
 * bounces_ingest, until SIGINT or SIGTERM.
 *
 * Runs its own libuv loop on the calling thread; the server, its sessions
 * and the signal handles are closed and the loop is closed before
 * bounces_listen_run returns. A recipient that is not a valid b-TOKEN or
 * u-TOKEN address at the bounce domain is refused (550 5.7.1: no relaying);
 * a message the store cannot take now gets 451 4.3.0, so the sending MTA
 * tries again. Each message is ingested on the loop (one at a time, in the
 * order they arrive). Logs one line per message and the stop; prints
 * nothing.
 */
#ifndef KIRIM_BOUNCES_LISTEN_H
#define KIRIM_BOUNCES_LISTEN_H

#include <stddef.h>

struct bounces_stats;
struct config;
struct store;

#define BOUNCES_LISTEN_DEFAULT "127.0.0.1:2525"

struct bounces_listen_opts {
	const char *listen;   /* "HOST:PORT" or "[V6]:PORT"; port 0 picks one */
	const char *hostname; /* the name in the greeting; NULL: the bounce domain */
	size_t max_message;   /* bytes of one message; 0: smtpd's default */
	/* ready - called once listening, with the bound port; may be NULL */
	void (*ready)(void *arg, int port);
	void *ready_arg;
};

/* Error codes (negative), with a sentence in err. */
#define BOUNCES_LISTEN_E_CONFIG (-1) /* no [bounce] domain, no token secret */
#define BOUNCES_LISTEN_E_LISTEN (-2) /* cannot listen on o->listen */

/*
 * bounces_listen_check - whether cfg lets a listener run (it needs a
 * [bounce] domain: the only mail it takes). 0, or BOUNCES_LISTEN_E_CONFIG.
 */
int bounces_listen_check(const struct config *cfg, char *err, size_t errsz);
/*
 * bounces_listen_run - listen, ingest into s with cfg's token secret and
 * bounce domain until SIGINT or SIGTERM, then fill *st. Returns 0 after the
 * signal, or a BOUNCES_LISTEN_E_* code.
 */
int bounces_listen_run(struct store *s, const struct config *cfg,
                       const struct bounces_listen_opts *o, struct bounces_stats *st, char *err,
                       size_t errsz);

#endif
