/*
 * lease - this process as a sender (store_sender.h), and whether another
 * sender is alive: one of this node (the same node name on the same host),
 * while its process runs (its pid with the same start time, so a reused pid
 * is not taken for it); one of another node, while its lease has not
 * expired. A node is a name ([node] name in kirim.conf, --node; the host
 * name when none), so that several nodes may share one host (tests, a lab).
 * A sender renews its lease every lease_renew_s(lease_s) while it runs.
 * Reads /proc; does not log.
 */
#ifndef KIRIM_LEASE_H
#define KIRIM_LEASE_H

#include <stdbool.h>
#include <stddef.h>

#include "kirim/store_sender.h"

enum {
	LEASE_S = 60,    /* how long a lease holds without renewal, by default */
	LEASE_MIN_S = 2, /* ... at least ([node] lease) */
	LEASE_MAX_S = 3600,
};

/* The node this process runs as. */
struct lease_node {
	char name[64]; /* "" before lease_node_init: the host name */
	unsigned lease_s;
};

/* lease_node_init - node name (NULL or "": this host's name), its lease (0: LEASE_S) */
void lease_node_init(struct lease_node *n, const char *name, unsigned lease_s);
/* lease_renew_s - how often a lease of lease_s seconds is renewed (a sixth of it, >= 1) */
unsigned lease_renew_s(unsigned lease_s);
/* lease_me - this process's row (id 0) on node n, its lease from now, its command in words */
void lease_me(struct store_sender_row *me, const struct lease_node *n, const char *command);
/* lease_alive - store_sender_alive_cb (arg: this process's struct lease_node): whether r runs */
bool lease_alive(void *arg, const struct store_sender_row *r);

#endif
