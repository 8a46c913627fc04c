/*
 * lease - this process as a sender (store_sender.h), and whether another
 * sender is alive: on this host, while its process runs (its pid with the
 * same start time, so a reused pid is not taken for it); on another host,
 * while its lease has not expired. A sender renews its lease every
 * LEASE_RENEW_S while it runs. Reads /proc; does not log.
 */
#ifndef KIRIM_LEASE_H
#define KIRIM_LEASE_H

#include <stdbool.h>
#include <stddef.h>

#include "kirim/store_sender.h"

enum {
	LEASE_S = 60,       /* how long a lease holds without renewal */
	LEASE_RENEW_S = 10, /* how often a running sender renews it */
};

/* lease_me - this process's row (id 0), its lease from now, its command in words */
void lease_me(struct store_sender_row *me, const char *command);
/* lease_alive - store_sender_alive_cb: whether r's sender runs (arg unused) */
bool lease_alive(void *arg, const struct store_sender_row *r);
/* lease_describe - "kirim send spring (pid 1234 on host h, since 2026-12-07 10:00:00 UTC)" */
void lease_describe(const struct store_sender_row *r, char *out, size_t size);

#endif
