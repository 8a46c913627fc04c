/*
 * audience - the use cases of segments, tags and campaign audiences, for
 * every face (`kirim segment`, `kirim contacts tag`, `kirim campaign create`
 * and `show`, and the HTTP API to come): what a name or tag may be, that the
 * lists, campaigns and segments an expression names exist, that segments do
 * not refer to themselves, who still uses a segment, and what a campaign's
 * audience is made of. Each change is one transaction.
 *
 * Errors: AUDIENCE_E_* below, or a store error (STORE_E_*, negative), each
 * with a sentence in err. Nothing here prints or logs.
 */
#ifndef KIRIM_AUDIENCE_H
#define KIRIM_AUDIENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/segment.h"
#include "kirim/store_audience.h"

struct store;
struct store_campaign;

#define AUDIENCE_E_USAGE (-30) /* an expression that does not parse, a bad name or tag */
#define AUDIENCE_E_DATA (-31)  /* it names a list, campaign or segment that is not there */
#define AUDIENCE_E_BUSY (-32)  /* a segment still in use (by a campaign or a segment) */

#define AUDIENCE_TAG_MAX 64 /* bytes of a tag */

/*
 * audience_parse - expr as a tree (*out; segment_free it) whose lists,
 * campaigns and segments exist, and that compiles (no segment loop);
 * AUDIENCE_E_USAGE ("LINE:COL: ..."), AUDIENCE_E_DATA or a store error
 */
int audience_parse(struct store *s, const char *expr, struct segment_node **out, char *err,
                   size_t errsz);
/* audience_check - the same checks on a tree (from the JSON form) */
int audience_check(struct store *s, const struct segment_node *tree, char *err, size_t errsz);

/*
 * audience_segment_add - store segment name as expr's canonical form (*canon: free it,
 * unless NULL): a new one, or with replace a new definition; a definition that would
 * make a loop through other segments is refused and nothing is stored
 */
int audience_segment_add(struct store *s, const char *name, const char *expr, bool replace,
                         bool *created, char **canon, char *err, size_t errsz);
/*
 * audience_segment_remove - remove segment name unless a campaign that is not done
 * or cancelled uses it, or another segment refers to it (AUDIENCE_E_BUSY, naming them)
 */
int audience_segment_remove(struct store *s, const char *name, char *err, size_t errsz);

/*
 * audience_list_delete - delete the list called name (its contacts stay) unless a
 * segment names it (AUDIENCE_E_BUSY) or a campaign's audience does (STORE_E_INUSE)
 */
int audience_list_delete(struct store *s, const char *name, char *err, size_t errsz);

/* audience_tag_ok - tag (blanks around it trimmed, into out, AUDIENCE_TAG_MAX + 1 bytes):
 * 1 to 64 bytes of UTF-8 without control characters or commas */
int audience_tag_ok(const char *tag, char *out, char *err, size_t errsz);

/* What a tag change did. */
struct audience_tagged {
	int64_t contacts; /* contacts named or matched */
	int64_t added;    /* (contact, tag) pairs added */
	int64_t removed;  /* and removed */
};

/*
 * audience_tag_addresses - add and remove tags on the contacts with these addresses, in
 * one transaction; an address that is not a contact (or not an address) changes nothing
 * (AUDIENCE_E_DATA naming the first ones)
 */
int audience_tag_addresses(struct store *s, const char *const *addresses, size_t n,
                           const char *const *add, size_t nadd, const char *const *remove,
                           size_t nremove, struct audience_tagged *out, char *err, size_t errsz);
/* audience_tag_segment - the same for every contact the segment called name matches now */
int audience_tag_segment(struct store *s, const char *name, int64_t now, const char *const *add,
                         size_t nadd, const char *const *remove, size_t nremove,
                         struct audience_tagged *out, char *err, size_t errsz);

/*
 * audience_campaign_create - create campaign c (a draft: its template, sender, options
 * filled in by the caller) with the audience parts[0..n) in the order given, in one
 * transaction. Names are looked up; a part repeated is kept once. The follow-up
 * shortcuts (not-sent-by, not-opened, not-clicked) name earlier campaigns, and with
 * no list or segment given the audience starts from theirs (their lists, segments and
 * exclusions). list_scope: the options' unsubscribe scope is "list", which needs
 * exactly one list in the audience. Sets c->id and c->list_id.
 */
int audience_campaign_create(struct store *s, struct store_campaign *c,
                             const struct segment_part *parts, size_t n, bool list_scope, char *err,
                             size_t errsz);

/* One line of an audience's make-up. */
struct audience_step {
	enum segment_part_kind kind;
	char name[256];
	bool include;   /* a list or segment counted alone; else an exclusion or a shortcut */
	bool gone;      /* a segment removed since (its count is 0) */
	int64_t count;  /* include: its contacts; else how many the step takes away */
	int64_t remain; /* else: the audience after this step */
};

/* A campaign's audience, as it would be queued now. */
struct audience_makeup {
	struct audience_step *steps; /* one per part, in order */
	size_t nsteps;
	int64_t together;   /* the includes' union (each contact once) */
	int64_t contacts;   /* the audience: together less the exclusions and shortcuts */
	int64_t suppressed; /* of those, suppressed: queued as 'suppressed', never mailed */
	char *expr;         /* the audience as an expression (canonical form) */
};

/* audience_makeup - what campaign_id's audience is made of at now (free with
 * audience_makeup_free) */
int audience_makeup(struct store *s, int64_t campaign_id, int64_t now, struct audience_makeup *out,
                    char *err, size_t errsz);
/* audience_makeup_free - release what audience_makeup filled in */
void audience_makeup_free(struct audience_makeup *m);

#endif
