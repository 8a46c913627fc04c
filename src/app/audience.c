/* audience - segments, tags and campaign audiences: the use cases (see audience.h). */
#include "kirim/audience.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kirim/address.h"
#include "kirim/buf.h"
#include "kirim/store.h"
#include "kirim/store_audience.h"
#include "kirim/utf8.h"
#include "kirim/xmalloc.h"

/* store_error - a store failure as the use case's error, its sentence in err */
static int
store_error(struct store *s, int rc, char *err, size_t errsz)
{
	snprintf(err, errsz, "%s", store_errmsg(s));
	return rc == STORE_E_INVALID ? AUDIENCE_E_DATA : rc;
}

/* ---- names the expression refers to ----------------------------------------------------- */

struct refs {
	struct store *s;
	char *err;
	size_t errsz;
};

static int
ref_exists(void *arg, const struct segment_node *n)
{
	struct refs *r = arg;
	int rc = 0;
	if (n->type == SEGMENT_LIST) {
		int64_t id;
		rc = store_list_id(r->s, n->name, &id);
	} else if (n->type == SEGMENT_SEGMENT) {
		struct store_segment seg;
		if ((rc = store_segment_get(r->s, n->name, &seg)) == 0)
			store_segment_clear(&seg);
	} else if (n->type == SEGMENT_EVENT) {
		struct store_campaign c;
		if ((rc = store_campaign_get(r->s, n->name, &c)) == 0)
			store_campaign_clear(&c);
	}
	if (rc == STORE_E_NOTFOUND) {
		/* Where it is written, when it came from text. */
		if (n->line)
			snprintf(r->err, r->errsz, "%d:%d: %s", n->line, n->col,
			         store_errmsg(r->s));
		else
			snprintf(r->err, r->errsz, "%s", store_errmsg(r->s));
		return AUDIENCE_E_DATA;
	}
	return rc < 0 ? store_error(r->s, rc, r->err, r->errsz) : 0;
}

int
audience_check(struct store *s, const struct segment_node *tree, char *err, size_t errsz)
{
	struct refs r = {s, err, errsz};
	int rc = segment_each_ref(tree, ref_exists, &r);
	if (rc == 0 && (rc = store_segment_check(s, tree)) < 0)
		return store_error(s, rc, err, errsz);
	return rc;
}

int
audience_parse(struct store *s, const char *expr, struct segment_node **out, char *err,
               size_t errsz)
{
	struct segment_node *t;
	if (segment_parse(expr, strlen(expr), &t, err, errsz) < 0)
		return AUDIENCE_E_USAGE;
	int rc = audience_check(s, t, err, errsz);
	if (rc < 0) {
		segment_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* ---- segments --------------------------------------------------------------------------- */

/* name_ok - a segment's name: 1 to 255 bytes of UTF-8, no control characters, no '-' first */
static int
name_ok(const char *name, char *err, size_t errsz)
{
	size_t n = strlen(name);
	bool ctl = false;
	for (size_t i = 0; i < n; i++)
		ctl |= (unsigned char)name[i] < 0x20 || name[i] == 0x7f;
	if (n == 0 || n > SEGMENT_NAME_MAX || ctl || name[0] == '-' || !utf8_valid(name, n)) {
		snprintf(err, errsz,
		         "a segment name is 1 to %d bytes of UTF-8, without control characters, "
		         "not starting with '-'",
		         SEGMENT_NAME_MAX);
		return AUDIENCE_E_USAGE;
	}
	return 0;
}

int
audience_segment_add(struct store *s, const char *name, const char *expr, bool replace,
                     bool *created, char **canon, char *err, size_t errsz)
{
	struct segment_node *t = NULL;
	int rc = name_ok(name, err, errsz);
	if (rc < 0)
		return rc;
	if (segment_parse(expr, strlen(expr), &t, err, errsz) < 0)
		return AUDIENCE_E_USAGE;
	struct refs r = {s, err, errsz};
	struct buf text = BUF_INIT;
	segment_print(t, &text);
	/*
	 * Stored first, then compiled as segment("name") in the same transaction: a loop
	 * through other segments (a -> b -> a) shows only with the new definition in place.
	 */
	if ((rc = segment_each_ref(t, ref_exists, &r)) < 0)
		goto out;
	if ((rc = store_begin(s)) < 0) {
		rc = store_error(s, rc, err, errsz);
		goto out;
	}
	struct segment_node *self = segment_new(SEGMENT_SEGMENT);
	self->name = xstrdup(name);
	if ((rc = store_segment_put(s, name, text.data, replace, created)) < 0 ||
	    (rc = store_segment_check(s, self)) < 0 || (rc = store_commit(s)) < 0) {
		store_rollback(s);
		if (rc == STORE_E_EXISTS)
			snprintf(err, errsz, "%s (kirim segment add --replace changes it)",
			         store_errmsg(s));
		else
			store_error(s, rc, err, errsz);
		rc = rc == STORE_E_INVALID ? AUDIENCE_E_DATA : rc;
	}
	segment_free(self);
	if (rc == 0 && canon) {
		*canon = text.data;
		text.data = NULL;
	}
out:
	buf_free(&text);
	segment_free(t);
	return rc;
}

struct users {
	struct buf names;
	int n;
};

static int
user(void *arg, const char *campaign, const char *state, const char *kind)
{
	struct users *u = arg;
	(void)kind;
	if (strcmp(state, "done") == 0 || strcmp(state, "cancelled") == 0)
		return 0;
	if (u->n++ < 5)
		buf_printf(&u->names, "%s'%s' (%s)", u->n > 1 ? ", " : "", campaign, state);
	return 0;
}

/* The segments whose expression names a list or segment (other than itself). */
struct naming {
	enum segment_type type; /* SEGMENT_LIST or SEGMENT_SEGMENT */
	const char *name;
	struct buf names; /* the first five, quoted, for a message */
	int n;
};

static int
names_it(void *arg, const struct segment_node *n)
{
	const struct naming *r = arg;
	return n->type == r->type && strcmp(n->name, r->name) == 0;
}

static int
naming_row(void *arg, const struct store_segment *seg)
{
	struct naming *r = arg;
	struct segment_node *t;
	char err[256];
	if ((r->type == SEGMENT_SEGMENT && strcmp(seg->name, r->name) == 0) ||
	    segment_parse(seg->expr, strlen(seg->expr), &t, err, sizeof(err)) < 0)
		return 0;
	if (segment_each_ref(t, names_it, r) && r->n++ < 5)
		buf_printf(&r->names, "%s'%s'", r->n > 1 ? ", " : "", seg->name);
	segment_free(t);
	return 0;
}

/* naming_error - "THING 'name' is used by segments 'a', 'b': change them first" */
static int
naming_error(const struct naming *r, char *err, size_t errsz)
{
	snprintf(err, errsz, "%s '%s' is used by segment%s %s%s: change %s first",
	         r->type == SEGMENT_LIST ? "list" : "segment", r->name, r->n == 1 ? "" : "s",
	         r->names.data, r->n > 5 ? ", ..." : "", r->n == 1 ? "it" : "them");
	return AUDIENCE_E_BUSY;
}

int
audience_segment_remove(struct store *s, const char *name, char *err, size_t errsz)
{
	struct store_segment seg;
	struct users u = {BUF_INIT, 0};
	struct naming r = {SEGMENT_SEGMENT, name, BUF_INIT, 0};
	int rc = store_begin(s);
	if (rc < 0)
		return store_error(s, rc, err, errsz);
	if ((rc = store_segment_get(s, name, &seg)) < 0) {
		store_rollback(s);
		return store_error(s, rc, err, errsz);
	}
	if ((rc = store_segment_users(s, seg.id, user, &u)) < 0 ||
	    (rc = store_segment_each(s, naming_row, &r)) < 0) {
		rc = store_error(s, rc, err, errsz);
	} else if (u.n) {
		snprintf(err, errsz,
		         "segment '%s' is in the audience of %d campaign%s not done yet: %s%s "
		         "(cancel %s, or remove the segment once %s done)",
		         name, u.n, u.n == 1 ? "" : "s", u.names.data, u.n > 5 ? ", ..." : "",
		         u.n == 1 ? "it" : "them", u.n == 1 ? "it is" : "they are");
		rc = AUDIENCE_E_BUSY;
	} else if (r.n) {
		rc = naming_error(&r, err, errsz);
	} else if ((rc = store_segment_delete(s, name)) < 0 || (rc = store_commit(s)) < 0) {
		rc = store_error(s, rc, err, errsz);
	}
	if (rc < 0)
		store_rollback(s);
	store_segment_clear(&seg);
	buf_free(&u.names);
	buf_free(&r.names);
	return rc;
}

int
audience_list_delete(struct store *s, const char *name, char *err, size_t errsz)
{
	struct naming u = {SEGMENT_LIST, name, BUF_INIT, 0};
	int rc = store_begin(s);
	if (rc == 0 && (rc = store_segment_each(s, naming_row, &u)) == 0 && u.n) {
		rc = naming_error(&u, err, errsz);
	} else if (rc < 0 || (rc = store_list_delete(s, name)) < 0 || (rc = store_commit(s)) < 0) {
		rc = store_error(s, rc, err, errsz);
	}
	if (rc < 0)
		store_rollback(s);
	buf_free(&u.names);
	return rc;
}

/* ---- tags ------------------------------------------------------------------------------- */

int
audience_tag_ok(const char *tag, char *out, char *err, size_t errsz)
{
	while (*tag == ' ' || *tag == '\t')
		tag++;
	size_t n = strlen(tag);
	while (n > 0 && (tag[n - 1] == ' ' || tag[n - 1] == '\t'))
		n--;
	bool bad = n == 0 || n > AUDIENCE_TAG_MAX || !utf8_valid(tag, n);
	for (size_t i = 0; i < n && !bad; i++)
		bad = (unsigned char)tag[i] < 0x20 || tag[i] == 0x7f || tag[i] == ',';
	if (bad) {
		snprintf(err, errsz,
		         "'%.80s': a tag is 1 to %d bytes of UTF-8, without control characters or "
		         "commas",
		         tag, AUDIENCE_TAG_MAX);
		return AUDIENCE_E_USAGE;
	}
	memcpy(out, tag, n);
	out[n] = '\0';
	return 0;
}

/* tags_ok - every tag of add and remove checked, and none in both */
static int
tags_ok(const char *const *add, size_t nadd, const char *const *remove, size_t nremove, char *err,
        size_t errsz)
{
	char t[AUDIENCE_TAG_MAX + 1], u[AUDIENCE_TAG_MAX + 1];
	if (nadd + nremove == 0) {
		snprintf(err, errsz, "no tag to add or remove");
		return AUDIENCE_E_USAGE;
	}
	for (size_t i = 0; i < nadd + nremove; i++) {
		const char *x = i < nadd ? add[i] : remove[i - nadd];
		if (audience_tag_ok(x, t, err, errsz) < 0)
			return AUDIENCE_E_USAGE;
		for (size_t k = 0; i < nadd && k < nremove; k++)
			if (audience_tag_ok(remove[k], u, err, errsz) == 0 &&
			    strcasecmp(t, u) == 0) {
				snprintf(err, errsz, "tag '%s' is both added and removed", t);
				return AUDIENCE_E_USAGE;
			}
	}
	return 0;
}

int
audience_tag_addresses(struct store *s, const char *const *addresses, size_t n,
                       const char *const *add, size_t nadd, const char *const *remove,
                       size_t nremove, struct audience_tagged *out, char *err, size_t errsz)
{
	int rc = tags_ok(add, nadd, remove, nremove, err, errsz);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	if ((rc = store_begin(s)) < 0)
		return store_error(s, rc, err, errsz);
	struct buf unknown = BUF_INIT;
	int nunknown = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct address a;
		struct store_contact c;
		const char *why;
		if (address_parse(addresses[i], strlen(addresses[i]), ADDRESS_ALLOW_IP_LITERAL, &a,
		                  &why) < 0 ||
		    (rc = store_contact_get(s, a.key, &c)) == STORE_E_NOTFOUND) {
			if (nunknown++ < 5)
				buf_printf(&unknown, "%s%s", nunknown > 1 ? ", " : "",
				           addresses[i]);
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		int64_t id = c.id;
		store_contact_clear(&c);
		out->contacts++;
		char t[AUDIENCE_TAG_MAX + 1];
		for (size_t k = 0; k < nadd + nremove && rc == 0; k++) {
			bool on = k < nadd, changed = false;
			audience_tag_ok(on ? add[k] : remove[k - nadd], t, err, errsz);
			if ((rc = store_contact_tag(s, id, t, on, &changed)) == 0 && changed)
				++*(on ? &out->added : &out->removed);
		}
	}
	if (rc == 0 && nunknown) {
		snprintf(err, errsz, "%d of the addresses %s no contact: %s%s; nothing changed",
		         nunknown, nunknown == 1 ? "is" : "are", unknown.data,
		         nunknown > 5 ? ", ..." : "");
		rc = AUDIENCE_E_DATA;
	} else if (rc < 0 || (rc = store_commit(s)) < 0) {
		rc = store_error(s, rc, err, errsz);
	}
	if (rc < 0)
		store_rollback(s);
	buf_free(&unknown);
	return rc;
}

int
audience_tag_segment(struct store *s, const char *name, int64_t now, const char *const *add,
                     size_t nadd, const char *const *remove, size_t nremove,
                     struct audience_tagged *out, char *err, size_t errsz)
{
	int rc = tags_ok(add, nadd, remove, nremove, err, errsz);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	struct segment_node *self = segment_new(SEGMENT_SEGMENT);
	self->name = xstrdup(name);
	struct store_segment seg;
	char t[AUDIENCE_TAG_MAX + 1];
	if ((rc = store_begin(s)) < 0 || (rc = store_segment_get(s, name, &seg)) < 0) {
		rc = store_error(s, rc, err, errsz);
		store_rollback(s);
		segment_free(self);
		return rc;
	}
	store_segment_clear(&seg);
	rc = store_segment_count(s, self, now, &out->contacts, NULL);
	for (size_t k = 0; k < nadd + nremove && rc == 0; k++) {
		bool on = k < nadd;
		int64_t changed = 0;
		audience_tag_ok(on ? add[k] : remove[k - nadd], t, err, errsz);
		if ((rc = store_segment_tag(s, self, now, t, on, &changed)) == 0)
			*(on ? &out->added : &out->removed) += changed;
	}
	if (rc < 0 || (rc = store_commit(s)) < 0) {
		rc = store_error(s, rc, err, errsz);
		store_rollback(s);
	}
	segment_free(self);
	return rc;
}

/* ---- campaign audiences ----------------------------------------------------------------- */

/* add_part - append part unless the same one is there already */
static void
add_part(struct store_audience_part **v, size_t *n, const struct store_audience_part *p)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].kind == p->kind && (*v)[i].ref_id == p->ref_id)
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = *p;
}

/* lookup - the id of the list, segment or campaign a part names */
static int
lookup(struct store *s, const struct segment_part *p, int64_t *id, int64_t *campaign_list,
       char *err, size_t errsz)
{
	int rc;
	switch (p->kind) {
	case SEGMENT_PART_LIST:
	case SEGMENT_PART_EXCLUDE_LIST: {
		rc = store_list_id(s, p->name, id);
		break;
	}
	case SEGMENT_PART_SEGMENT:
	case SEGMENT_PART_EXCLUDE_SEGMENT: {
		struct store_segment seg;
		if ((rc = store_segment_get(s, p->name, &seg)) == 0) {
			*id = seg.id;
			store_segment_clear(&seg);
		}
		break;
	}
	default: {
		struct store_campaign c;
		if ((rc = store_campaign_get(s, p->name, &c)) == 0) {
			*id = c.id;
			*campaign_list = c.list_id;
			store_campaign_clear(&c);
		}
		break;
	}
	}
	if (rc == STORE_E_NOTFOUND) {
		snprintf(err, errsz, "--%s: %s", segment_part_name(p->kind), store_errmsg(s));
		return AUDIENCE_E_DATA;
	}
	return rc < 0 ? store_error(s, rc, err, errsz) : 0;
}

/* resolve_parts - the parts with their ids, the shortcuts' campaigns' audiences added
 * when nothing is included */
static int
resolve_parts(struct store *s, const struct segment_part *parts, size_t n,
              struct store_audience_part **out, size_t *nout, char *err, size_t errsz)
{
	struct store_audience_part *v = NULL, *theirs = NULL;
	size_t k = 0, ntheirs = 0;
	bool includes = false;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		includes |= SEGMENT_PART_INCLUDES(parts[i].kind);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct store_audience_part p = {.kind = parts[i].kind};
		int64_t unused;
		if (strlen(parts[i].name) >= sizeof(p.name)) {
			snprintf(err, errsz, "--%s: a name of more than %zu bytes",
			         segment_part_name(p.kind), sizeof(p.name) - 1);
			rc = AUDIENCE_E_USAGE;
			break;
		}
		snprintf(p.name, sizeof(p.name), "%s", parts[i].name);
		if ((rc = lookup(s, &parts[i], &p.ref_id, &unused, err, errsz)) < 0)
			break;
		if (SEGMENT_PART_INCLUDES(p.kind) || includes ||
		    p.kind == SEGMENT_PART_EXCLUDE_LIST || p.kind == SEGMENT_PART_EXCLUDE_SEGMENT) {
			add_part(&v, &k, &p);
			continue;
		}
		/* A shortcut and nothing included: start from the earlier campaign's audience. */
		struct store_audience_part *cp;
		size_t ncp;
		if ((rc = store_audience_get(s, p.ref_id, &cp, &ncp)) < 0) {
			rc = store_error(s, rc, err, errsz);
			break;
		}
		for (size_t j = 0; j < ncp; j++)
			if (cp[j].kind <= SEGMENT_PART_EXCLUDE_SEGMENT && cp[j].ref_id)
				add_part(&theirs, &ntheirs, &cp[j]);
		free(cp);
		add_part(&v, &k, &p);
	}
	if (rc == 0) {
		/* Theirs first: what to start from, then what to take away. */
		for (size_t j = 0; j < k; j++)
			add_part(&theirs, &ntheirs, &v[j]);
		free(v);
		*out = theirs;
		*nout = ntheirs;
		return 0;
	}
	free(v);
	free(theirs);
	return rc;
}

int
audience_campaign_create(struct store *s, struct store_campaign *c,
                         const struct segment_part *parts, size_t n, bool list_scope, char *err,
                         size_t errsz)
{
	struct store_audience_part *v = NULL;
	size_t k = 0, lists = 0;
	int rc = resolve_parts(s, parts, n, &v, &k, err, errsz);
	if (rc < 0)
		return rc;
	bool includes = false;
	for (size_t i = 0; i < k; i++) {
		includes |= SEGMENT_PART_INCLUDES(v[i].kind);
		lists += v[i].kind == SEGMENT_PART_LIST;
		if (v[i].kind >= SEGMENT_PART_NOT_SENT_BY && strcmp(v[i].name, c->name) == 0) {
			snprintf(err, errsz, "--%s names the campaign being created",
			         segment_part_name(v[i].kind));
			rc = AUDIENCE_E_USAGE;
		}
	}
	if (rc == 0 && !includes) {
		snprintf(err, errsz,
		         "a campaign needs an audience: --list or --segment (or a "
		         "follow-up of a campaign that has one: --not-sent-by, "
		         "--not-opened, --not-clicked)");
		rc = AUDIENCE_E_USAGE;
	}
	if (rc == 0 && list_scope && lists != 1) {
		snprintf(err, errsz,
		         "--unsubscribe-scope list needs exactly one list in the audience (it has "
		         "%zu): an unsubscribe leaves that list",
		         lists);
		rc = AUDIENCE_E_USAGE;
	}
	if (rc < 0) {
		free(v);
		return rc;
	}
	c->list_id = 0;
	for (size_t i = 0; i < k && c->list_id == 0; i++)
		if (v[i].kind == SEGMENT_PART_LIST)
			c->list_id = v[i].ref_id;
	struct segment_node *t = NULL;
	if ((rc = store_begin(s)) < 0 || (rc = store_campaign_create(s, c)) < 0 ||
	    (rc = store_audience_set(s, c->id, v, k)) < 0 ||
	    (rc = store_audience_tree(s, c->id, &t)) < 0 || (rc = store_segment_check(s, t)) < 0 ||
	    (rc = store_commit(s)) < 0) {
		rc = store_error(s, rc, err, errsz);
		store_rollback(s);
	}
	segment_free(t);
	free(v);
	return rc;
}

/*
 * count_upto - the contacts of the audience made of the includes and the other parts
 * before upto (leaving out segments removed since); with suppressed, how many of them
 * are suppressed
 */
static int
count_upto(struct store *s, const struct segment_part *sp, const struct audience_step *steps,
           size_t n, size_t upto, int64_t now, int64_t *count, int64_t *suppressed)
{
	struct segment_part *use = xcalloc(n ? n : 1, sizeof(*use));
	size_t m = 0;
	for (size_t j = 0; j < n; j++)
		if (!steps[j].gone && (steps[j].include || j < upto))
			use[m++] = sp[j];
	struct segment_node *t = segment_audience(use, m);
	free(use);
	*count = 0;
	if (suppressed)
		*suppressed = 0;
	int rc = t ? store_segment_count(s, t, now, count, suppressed) : 0;
	segment_free(t);
	return rc;
}

int
audience_makeup(struct store *s, int64_t campaign_id, int64_t now, struct audience_makeup *out,
                char *err, size_t errsz)
{
	struct store_audience_part *parts;
	size_t n;
	memset(out, 0, sizeof(*out));
	int rc = store_audience_get(s, campaign_id, &parts, &n);
	if (rc < 0)
		return store_error(s, rc, err, errsz);
	struct segment_part *sp = xcalloc(n ? n : 1, sizeof(*sp));
	out->steps = xcalloc(n ? n : 1, sizeof(*out->steps));
	out->nsteps = n;
	for (size_t i = 0; i < n; i++) {
		struct audience_step *st = &out->steps[i];
		st->kind = parts[i].kind;
		snprintf(st->name, sizeof(st->name), "%s", parts[i].name);
		st->include = SEGMENT_PART_INCLUDES(parts[i].kind);
		st->gone = (parts[i].kind == SEGMENT_PART_SEGMENT ||
		            parts[i].kind == SEGMENT_PART_EXCLUDE_SEGMENT) &&
		           parts[i].ref_id == 0;
		sp[i] = (struct segment_part){parts[i].kind, out->steps[i].name};
	}
	struct segment_node *all = segment_audience(sp, n);
	if (all == NULL) {
		snprintf(err, errsz, "the campaign's audience has no list or segment");
		rc = AUDIENCE_E_DATA;
		goto out;
	}
	struct buf text = BUF_INIT;
	segment_print(all, &text);
	out->expr = text.data;
	segment_free(all);
	/* Each include alone; the includes together; then the audience after each other
	 * part, in order; the last of those is the audience. */
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!out->steps[i].include || out->steps[i].gone)
			continue;
		struct segment_node *t = segment_audience(&sp[i], 1);
		rc = store_segment_count(s, t, now, &out->steps[i].count, NULL);
		segment_free(t);
	}
	if (rc == 0)
		rc = count_upto(s, sp, out->steps, n, 0, now, &out->together, NULL);
	int64_t prev = out->together;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct audience_step *st = &out->steps[i];
		if (st->include || st->gone)
			continue;
		rc = count_upto(s, sp, out->steps, n, i + 1, now, &st->remain, NULL);
		st->count = prev - st->remain;
		prev = st->remain;
	}
	if (rc == 0)
		rc = count_upto(s, sp, out->steps, n, n, now, &out->contacts, &out->suppressed);
	if (rc < 0)
		rc = store_error(s, rc, err, errsz);
out:
	free(sp);
	free(parts);
	if (rc < 0)
		audience_makeup_free(out);
	return rc;
}

void
audience_makeup_free(struct audience_makeup *m)
{
	free(m->steps);
	free(m->expr);
	memset(m, 0, sizeof(*m));
}
