/*
 * config - kirim.conf, the machine's identity (INI, read with libinih).
 *
 * Campaign data lives in the database; what belongs to the machine lives
 * here: the sending domain, EHLO name, unsubscribe and bounce addresses,
 * DKIM keys, the token secret, (later) relay and TLS settings. Every setting
 * has a default, so kirim works with no file at all. The secret is given in
 * [secret] as exactly one of value = TEXT, file = PATH (the file's bytes less
 * a final newline) or env = VARIABLE (its value's bytes), 16 to 64 bytes, and
 * is never logged or printed. Relative paths (secret file, DKIM key_file) are
 * relative to the config file's folder; the secret file and key files must
 * not be readable by other users. [database] group_readable = yes makes the
 * database's files 0640 instead of 0600 (store_file.h). [brand], [signup] and
 * [pages] are what kirim serve's public pages show and take (docs/pages.md). [egress]
 * sections are the source addresses to send from, grouped into pools (docs/egress.md).
 * docs/kirim.conf.example documents every key. Loads key files (I/O) but does
 * not log.
 */
#ifndef KIRIM_CONFIG_H
#define KIRIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "kirim/address.h"

struct dkim_key;

enum {
	CONFIG_MAX_DKIM = 4,
	CONFIG_MAX_SIGNUP_LISTS = 16,
	CONFIG_MAX_SIGNUP_CORS = 8,
	CONFIG_CORS_ORIGIN_MAX = 255,
	CONFIG_MAX_EGRESS = 32,      /* [egress] sections: source addresses */
	CONFIG_EGRESS_POOLS_MAX = 8, /* pools one source belongs to */
	CONFIG_EGRESS_NAME_MAX = 64, /* a source's or a pool's name, with the NUL */
};

/* One [egress] section: a source address to send from (docs/egress.md). */
struct config_egress {
	char name[CONFIG_EGRESS_NAME_MAX]; /* name: how logs and errors call it */
	char address[64];                  /* address: IPv4 or IPv6, as inet_ntop writes it */
	int family;                        /* AF_INET or AF_INET6 */
	unsigned char addr[16];            /* the address's bytes (4 or 16) */
	char ehlo[256];                    /* ehlo: its EHLO name; "" = [sender] ehlo */
	unsigned weight;                   /* weight: its share in its pools (1) */
	char pools[CONFIG_EGRESS_POOLS_MAX][CONFIG_EGRESS_NAME_MAX]; /* pool: "default" */
	size_t npools;
};

struct config_dkim {
	char domain[256];   /* d= */
	char selector[64];  /* s= */
	char key_file[512]; /* the PEM file read (resolved path), for messages */
	struct dkim_key *key;
};

struct config {
	char path[512];           /* the file read, "" when none */
	char domain[256];         /* [sender] domain: Message-ID domain; "" = From's domain */
	char ehlo[256];           /* [sender] ehlo: EHLO name; "" = system host name */
	char unsub_url[512];      /* [unsubscribe] url: base https URL, token appended */
	char unsub_mailto[256];   /* [unsubscribe] mailto: address; "" = u-TOKEN@bounce domain */
	char view_url[512];       /* [unsubscribe] view_url: base URL of the browser view */
	char bounce_domain[256];  /* [bounce] domain: VERP envelope b-TOKEN@domain */
	char feedback_id[128];    /* [sender] feedback_id: prefix for Feedback-ID */
	unsigned char secret[64]; /* [secret] value, file or env: the token key */
	size_t secret_len;        /* 0 = use the database's generated secret */
	bool secret_named;        /* [secret] names a source (config_peek reads none) */
	char relay_url[512];      /* [relay] url: smtp://[user@]host[:port] or smtps://... */
	char relay_password[256]; /* [relay] password | password_file | password_env */
	int relay_tls;            /* [relay] tls: an enum tls_policy, or -1 when not set */
	char relay_ca_file[512];  /* [relay] ca_file: CAs trusted for the verify policy */
	struct config_dkim dkim[CONFIG_MAX_DKIM]; /* [dkim] sections, in file order */
	size_t n_dkim;
	bool db_group_readable; /* [database] group_readable: files 0640, the group may read */
	/* [tls]: transport security of direct delivery (docs/tls.md). */
	char tls_ca_file[512]; /* ca_file: CAs for MTA-STS (policy hosts and MX hosts); "" =
	                          the system's */
	bool tls_mta_sts;      /* mta_sts: look up and apply MTA-STS policies (default yes) */
	int tls_dane;          /* dane: 1 yes, 0 no, -1 auto (when the resolver is local) */
	/* [brand]: who the subscriber pages and confirmation requests speak for */
	char brand_name[128];        /* name: "" = the [sender] domain, else none */
	char brand_logo_url[512];    /* logo_url: an image URL (https) */
	char brand_colour[8];        /* colour: "#rrggbb" (normalised), "" = kirim's */
	char brand_url[512];         /* url: the brand's site */
	char brand_privacy_url[512]; /* privacy_url: its privacy notice */
	char brand_address[256];     /* address: the postal address a footer shows */
	/* [signup]: kirim serve's signup forms with double opt-in */
	char signup_lists[CONFIG_MAX_SIGNUP_LISTS][64]; /* lists: the lists that take signups */
	size_t n_signup_lists;
	char signup_from_name[128];             /* from: the confirmation requests' sender */
	char signup_from_addr[ADDRESS_MAX + 1]; /* (required with lists) */
	unsigned signup_expiry_hours;           /* expiry_hours: the link works (48) */
	unsigned signup_per_ip;                 /* per_ip_per_hour: signups per client (20) */
	unsigned signup_resend_minutes;         /* resend_minutes: no second request (10) */
	unsigned signup_pending_days;           /* pending_days: unconfirmed signups kept (7) */
	char signup_cors[CONFIG_MAX_SIGNUP_CORS]
	                [CONFIG_CORS_ORIGIN_MAX + 1]; /* cors_origins: may post with fetch */
	size_t n_signup_cors;
	/* [pages] */
	char pages_dir[512];     /* dir: templates and translations that replace kirim's */
	char pages_language[40]; /* language: when nothing else says ("en") */
	/* [hooks]: providers' webhooks on kirim serve's public listener (docs/esp-webhooks.md) */
	char hooks_ses_topics[1024];     /* ses_topics: SNS topic ARNs taken; "" = /hooks/ses off */
	char hooks_sns_cert_hosts[256];  /* sns_cert_hosts: SigningCertURL host patterns */
	char hooks_sns_ca_file[512];     /* sns_ca_file: CAs for that fetch; "" = the system's */
	char hooks_sns_dns[256];         /* sns_dns: resolvers for it; "" = resolv.conf */
	char hooks_sendgrid_key[512];    /* sendgrid_key: base64 public key; "" = off */
	unsigned hooks_sendgrid_max_age; /* sendgrid_max_age: seconds a timestamp is good (600) */
	char hooks_postmark_user[128];   /* postmark_user: HTTP Basic user; "" = off */
	char hooks_postmark_password[256]; /* postmark_password */
	/* [egress] sections, in file order: the source addresses of direct delivery (and the
	 * relay's connections), grouped into pools; none = the kernel chooses (docs/egress.md) */
	struct config_egress egress[CONFIG_MAX_EGRESS];
	size_t n_egress;
	/* [node]: this process as one of several senders on one database (docs/scale-out.md) */
	char node_name[64];    /* name: the node it runs as; "" = the host's name */
	unsigned node_lease_s; /* lease: seconds a sender's lease holds without renewal (60) */
	/* [redis]: destinations' limits shared by every node (docs/scale-out.md) */
	char redis_url[512];   /* url: redis://..., unix:///..., a socket's path; "" = none */
	char redis_prefix[64]; /* prefix: keys start "PREFIX:" ("kirim") */
	unsigned redis_nodes;  /* nodes: the fallback's N (0: the nodes last seen alive) */
};

/* The hosts an SNS signing certificate may come from, unless [hooks] sns_cert_hosts says. */
#define CONFIG_SNS_CERT_HOSTS "sns.*.amazonaws.com, sns.*.amazonaws.com.cn"

/*
 * config_load - read path (NULL: $KIRIM_CONFIG, else ./kirim.conf; a missing
 * default file is not an error, a missing named file is). Fills *c with
 * defaults first. Returns 0, or -1 with "FILE:LINE: what is wrong" (or
 * "FILE: what" for the file as a whole) in err; after -1, *c holds no keys
 * and no secret, and config_free on it is harmless.
 */
int config_load(const char *path, struct config *c, char *err, size_t errsz);
/*
 * config_peek - config_load without reading the files and variables the file
 * names: the secret, the DKIM keys and the relay password are neither read nor
 * checked (secret_named tells whether [secret] gives one), every other key is
 * checked as config_load checks it. For what every command needs before it
 * opens the database ([database], whether [secret] is set), where a key file
 * or variable that only sending reads must not be in the way.
 */
int config_peek(const char *path, struct config *c, char *err, size_t errsz);
/* config_free - release the DKIM keys and wipe the secret; the struct may be reloaded afterwards */
void config_free(struct config *c);
/* config_egress_pool - the sources of pool name (its members, in file order) into out (at
 * most CONFIG_MAX_EGRESS pointers into c): how many; 0 when no source is in it */
size_t config_egress_pool(const struct config *c, const char *name,
                          const struct config_egress **out);
/* config_name_ok - whether v may name a node ([node] name, --node) or an egress source: 1 to
 * 63 of letters, digits, . - _ (what a log line and a CLI option carry) */
bool config_name_ok(const char *v);
/* config_egress_pool_check - 0 when pool name has a source, else -1 and err says so (the
 * words kirim send and campaign plan give for --egress POOL) */
int config_egress_pool_check(const struct config *c, const char *name, char *err, size_t errsz);
/* config_helo - the EHLO name: [sender] ehlo, else this system's host name, else
 * "localhost", into out (size bytes) */
void config_helo(const struct config *c, char *out, size_t size);

#endif
