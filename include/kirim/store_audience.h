/*
 * store_audience - segments, tags and campaign audiences in the store (tables
 * segments, contact_tags, campaign_audience; see store.h). A segment is kept
 * as its canonical text; evaluating one takes its tree (segment.h), which the
 * store compiles to SQL on its own connection, so a second backend implements
 * these functions with its own compiler and no SQL crosses this interface.
 * Evaluating statements are built per call (a tree's SQL is not a static
 * string) and finalized at once. Does not log.
 */
#ifndef KIRIM_STORE_AUDIENCE_H
#define KIRIM_STORE_AUDIENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/segment.h"

struct store;
struct store_contact;

/* Error code (negative) beside store.h's: a tree the store cannot evaluate. */

/* Segments. */
struct store_segment {
	int64_t id;
	char name[256];
	char *expr; /* canonical text; owned (store_segment_clear) */
	int64_t created_at;
	int64_t updated_at;
};
typedef int (*store_segment_cb)(void *arg, const struct store_segment *seg);

/* store_segment_put - store name's expression (canonical text): a new segment, or with
 * replace a new definition of an existing one (*created says which); STORE_E_EXISTS when
 * it exists and replace is false */
int store_segment_put(struct store *s, const char *name, const char *expr, bool replace,
                      bool *created);
/* store_segment_get - the segment called name (STORE_E_NOTFOUND if none) */
int store_segment_get(struct store *s, const char *name, struct store_segment *out);
/* store_segment_each - every segment, by name */
int store_segment_each(struct store *s, store_segment_cb cb, void *arg);
/* store_segment_delete - remove the segment called name; campaigns that used it keep its
 * name (STORE_E_NOTFOUND if none) */
int store_segment_delete(struct store *s, const char *name);
/* store_segment_clear - free what a get allocated */
void store_segment_clear(struct store_segment *seg);

/* A campaign that uses a segment, a list or another campaign in its audience. */
typedef int (*store_audience_user_cb)(void *arg, const char *campaign, const char *state,
                                      const char *kind);
/* store_segment_users - the campaigns whose audience names segment_id, by name */
int store_segment_users(struct store *s, int64_t segment_id, store_audience_user_cb cb, void *arg);

/*
 * Evaluation, at now (Unix seconds, for "within the last N days"); segment("x")
 * inside a tree is the segment x as stored now. A loop or a missing segment is
 * STORE_E_INVALID with the reason in store_errmsg.
 */
/* store_segment_check - tree would evaluate: its segments exist and make no loop */
int store_segment_check(struct store *s, const struct segment_node *tree);
/* store_segment_count - how many contacts match; *suppressed (unless NULL): how many of
 * them are suppressed (address or domain) */
int store_segment_count(struct store *s, const struct segment_node *tree, int64_t now,
                        int64_t *count, int64_t *suppressed);
/* store_segment_contacts - the matching contacts by address, at most limit (0: all) */
int store_segment_contacts(struct store *s, const struct segment_node *tree, int64_t now, int limit,
                           void (*cb)(void *arg, int64_t id, const char *email), void *arg);
/* store_segment_export - each matching contact (tree NULL: every contact) by id, with its
 * attributes' JSON text, to cb (a non-zero return stops the walk and is returned); rows are
 * read one at a time from the database, never all held */
int store_segment_export(struct store *s, const struct segment_node *tree, int64_t now,
                         int (*cb)(void *arg, const char *email, const char *attrs), void *arg);
/* store_segment_keys - every attribute name the matching contacts have (tree NULL: all),
 * in the order they first appear (by contact id, then within the contact's attributes) */
int store_segment_keys(struct store *s, const struct segment_node *tree, int64_t now,
                       int (*cb)(void *arg, const char *key), void *arg);
/* store_segment_plan - cb for each line of the count's query plan (EXPLAIN QUERY PLAN:
 * the detail, indented by depth) */
int store_segment_plan(struct store *s, const struct segment_node *tree, int64_t now,
                       void (*cb)(void *arg, int depth, const char *detail), void *arg);
/*
 * store_segment_index - make (on) or drop an index on attribute name's text (contacts:
 * segment_index_expr, then the contact's domain), which a segment's text = and in on it
 * use where they stand under ANDs only; *changed whether it did (an index made before it
 * held the domain is made again). STORE_E_INVALID for a name no segment can hold
 * (empty, over 255 bytes, with '"' or a control character).
 */
int store_segment_index(struct store *s, const char *name, bool on, bool *changed);
/* store_segment_indexes - each indexed attribute's name, by name */
int store_segment_indexes(struct store *s, int (*cb)(void *arg, const char *name), void *arg);

/* Tags (1 to 64 bytes each; the app checks them). */
/* store_contact_tag - add (on) or remove tag on a contact; *changed whether it did */
int store_contact_tag(struct store *s, int64_t contact_id, const char *tag, bool on, bool *changed);
/* store_contact_tags_set - the contact's tags become exactly tags[0..n) (for imports
 * that carry a tags column); inside the caller's transaction or alone */
int store_contact_tags_set(struct store *s, int64_t contact_id, const char *const *tags, size_t n);
/* store_contact_tags - the contact's tags, by tag, comma-separated into out (cap bytes,
 * truncated) */
int store_contact_tags(struct store *s, int64_t contact_id, char *out, size_t cap);
/* store_segment_tag - add (on) or remove tag on every contact that matches tree; *changed
 * gets how many contacts changed */
int store_segment_tag(struct store *s, const struct segment_node *tree, int64_t now,
                      const char *tag, bool on, int64_t *changed);
/* store_tag_each - every tag with how many contacts have it, by tag */
int store_tag_each(struct store *s, int (*cb)(void *arg, const char *tag, int64_t contacts),
                   void *arg);

/* Campaign audiences. */
struct store_audience_part {
	enum segment_part_kind kind;
	int64_t ref_id; /* the list's, segment's or campaign's id; 0 once a segment is removed */
	char name[256]; /* its name */
};

/* store_audience_set - the campaign's audience (replacing any), in the caller's
 * transaction; the parts' ref_ids must exist */
int store_audience_set(struct store *s, int64_t campaign_id,
                       const struct store_audience_part *parts, size_t n);
/* store_audience_get - the campaign's audience parts in order (*parts: free it) */
int store_audience_get(struct store *s, int64_t campaign_id, struct store_audience_part **parts,
                       size_t *n);
/* store_audience_tree - the campaign's audience as a tree (segment_audience); STORE_E_INVALID
 * when it includes no one */
int store_audience_tree(struct store *s, int64_t campaign_id, struct segment_node **out);
/* store_audience_contact - the contact with this address if the campaign's audience (as it
 * is now) holds it; STORE_E_NOTFOUND if not */
int store_audience_contact(struct store *s, int64_t campaign_id, int64_t now, const char *key,
                           struct store_contact *out);
/* store_audience_domains - per recipient domain, by domain: how many contacts of the
 * audience are not suppressed (what a first send would queue) */
int store_audience_domains(struct store *s, int64_t campaign_id, int64_t now,
                           int (*cb)(void *arg, const char *domain, int64_t count), void *arg);

#endif
