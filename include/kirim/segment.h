/*
 * segment - the segment language: a named filter over contacts (docs/segments.md).
 *
 *   city = "Jakarta" and plan in ("gold", "platinum") and clicked(any, 30d)
 *
 * parse text into a condition tree (errors carry "LINE:COL: what"), print a
 * tree in its canonical form, convert it to and from the JSON form the HTTP
 * API takes, and compile it to a WHERE fragment over `contacts c` with its
 * values in a parameter list (never pasted into the SQL text: attribute names
 * become bound JSON paths too).
 *
 * The SQL is SQLite's, with kirim's tables and two functions the store
 * registers on its connection: kirim_number(x) (x as a number when it reads
 * as one, segment_number's rule, else NULL) and kirim_time(x) (x as Unix
 * seconds when it reads as a date, segment_time's rule, else NULL). The store
 * runs it (store_audience.h); a PostgreSQL store would compile the same trees
 * its own way, which is why the store's interface takes trees, not SQL.
 *
 * Every condition compiles to 0 or 1, never NULL, so that NOT is exactly the
 * complement: `not city = "Jakarta"` holds for a contact with no city.
 *
 * Pure code: no I/O, no globals, no logging. A tree owns everything it points
 * to (segment_free); the parser copies what it keeps from the text.
 */
#ifndef KIRIM_SEGMENT_H
#define KIRIM_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kirim/buf.h"

struct json_t;

/* Limits: what the parser and the JSON reader refuse beyond. */
#define SEGMENT_TEXT_MAX 65536  /* bytes of expression text */
#define SEGMENT_DEPTH_MAX 64    /* nesting of parentheses, not, and/or */
#define SEGMENT_NODES_MAX 4096  /* conditions and operators in one tree */
#define SEGMENT_VALUES_MAX 1000 /* values in one `in (...)` */
#define SEGMENT_NAME_MAX 255    /* bytes of an attribute, list, tag, segment or campaign name */
#define SEGMENT_STRING_MAX 4096 /* bytes of a string value */
#define SEGMENT_DAYS_MAX 36500  /* "within the last N days": a hundred years */
#define SEGMENT_REF_DEPTH 16    /* segment("a") inside segment("b") inside ... */

enum segment_type {
	SEGMENT_AND,     /* kids: two or more, all hold */
	SEGMENT_OR,      /* kids: two or more, one holds */
	SEGMENT_NOT,     /* kids[0] does not hold */
	SEGMENT_CMP,     /* attribute op vals[0] */
	SEGMENT_IN,      /* attribute in (vals...); negated: not in */
	SEGMENT_EMPTY,   /* attribute is empty (absent, null or ""); negated: is not empty */
	SEGMENT_LIST,    /* member of the list called name */
	SEGMENT_TAG,     /* has the tag name (tags compare case-insensitively) */
	SEGMENT_SEGMENT, /* matches the segment called name */
	SEGMENT_EVENT,   /* engagement: event in campaign name (NULL: any), within days */
};

enum segment_op {
	SEGMENT_EQ,
	SEGMENT_NE,
	SEGMENT_LT,
	SEGMENT_LE,
	SEGMENT_GT,
	SEGMENT_GE,
	SEGMENT_CONTAINS,
	SEGMENT_STARTS_WITH,
};

/* A literal's type is its form: "quoted" is a string, 42 a number, 2024-01-31 a date. */
enum segment_vtype {
	SEGMENT_STRING,
	SEGMENT_NUMBER,
	SEGMENT_DATE,
};

struct segment_value {
	enum segment_vtype type;
	char *text;   /* the string; a number's or date's canonical text ("1.5", "2024-01-31",
	                 "2024-01-31T10:00:00Z") */
	double num;   /* SEGMENT_NUMBER */
	int64_t time; /* SEGMENT_DATE: Unix seconds (UTC) of the instant, or of the day's start */
	bool day;     /* SEGMENT_DATE written without a time: it stands for the whole day */
};

enum segment_event {
	SEGMENT_SENT,         /* an attempt was made (delivered, deferred, bounced or failed) */
	SEGMENT_DELIVERED,    /* the receiving server took it */
	SEGMENT_BOUNCED,      /* it bounced (at once or by a DSN later); class may narrow it */
	SEGMENT_OPENED,       /* opened (prefetchers' machine opens do not count) */
	SEGMENT_CLICKED,      /* a tracked link was followed */
	SEGMENT_UNSUBSCRIBED, /* unsubscribed through it */
	SEGMENT_COMPLAINED,   /* reported as spam (a feedback report) */
};

enum segment_class {
	SEGMENT_CLASS_ANY,
	SEGMENT_CLASS_HARD,
	SEGMENT_CLASS_SOFT,
};

struct segment_node {
	enum segment_type type;
	int line, col; /* where it starts in the text (1-based, characters); 0 from JSON */
	struct segment_node **kids;
	size_t nkids;
	char *name; /* attribute (CMP, IN, EMPTY); list, tag or segment name; campaign (EVENT,
	               NULL: any campaign) */
	enum segment_op op;         /* CMP */
	bool negated;               /* IN: not in; EMPTY: is not empty */
	struct segment_value *vals; /* CMP: one; IN: one or more */
	size_t nvals;
	enum segment_event event; /* EVENT */
	int days;                 /* EVENT: within the last days (0: ever) */
	enum segment_class klass; /* EVENT, SEGMENT_BOUNCED only */
};

/* segment_parse - text (n bytes) into a tree (*out, free it); -1 and "LINE:COL: what" in err */
int segment_parse(const char *text, size_t n, struct segment_node **out, char *err, size_t errsz);
/* segment_free - a tree and everything in it; NULL is a no-op */
void segment_free(struct segment_node *n);
/* segment_print - append the canonical text of n to out (segment_parse reads it back equal) */
void segment_print(const struct segment_node *n, struct buf *out);
/* segment_equal - do two trees say the same thing, node for node (positions aside)? */
bool segment_equal(const struct segment_node *a, const struct segment_node *b);
/* segment_to_json - n as its JSON form (a new reference) */
struct json_t *segment_to_json(const struct segment_node *n);
/* segment_from_json - a tree from its JSON form; -1 and "PATH: what" in err */
int segment_from_json(const struct json_t *j, struct segment_node **out, char *err, size_t errsz);

/* segment_new - an empty node of type (fields zero), for callers that build trees */
struct segment_node *segment_new(enum segment_type type);
/* segment_add_kid - append kid (now owned by parent) to an AND, OR or NOT */
void segment_add_kid(struct segment_node *parent, struct segment_node *kid);

/* What a tree refers to by name, for a caller that checks the names exist. */
typedef int (*segment_ref_cb)(void *arg, const struct segment_node *n);
/* segment_each_ref - cb for every LIST, TAG, SEGMENT and EVENT (with a campaign) node;
 * stops at and returns the first non-zero */
int segment_each_ref(const struct segment_node *n, segment_ref_cb cb, void *arg);

/* segment_number - s (n bytes) as a number: optional blanks around [+-]digits[.digits][e[+-]
 * digits] (or .digits), finite; false when it is not one */
bool segment_number(const char *s, size_t n, double *out);
/* segment_time - s (n bytes) as a date: blanks around YYYY-MM-DD, optionally followed by T or
 * a space and HH:MM[:SS[.fraction]] and Z or an offset (+07:00, +0700, +07; none is UTC);
 * *t its Unix seconds, *day whether no time was given; false when it is not one */
bool segment_time(const char *s, size_t n, int64_t *t, bool *day);

/* A bound parameter of the compiled SQL: text, integer or real. */
struct segment_param {
	enum { SEGMENT_P_TEXT, SEGMENT_P_INT, SEGMENT_P_REAL } type;
	char *text;
	int64_t i;
	double r;
};

/*
 * The compiled SQL: sql is a boolean expression over `contacts c` (a WHERE
 * fragment); params[k] binds to ?(base + k + 1), so that several fragments and
 * the caller's own parameters can share one statement. Free with
 * segment_sql_free.
 */
struct segment_sql {
	struct buf sql;
	struct segment_param *params;
	size_t nparams;
	int base; /* set by the caller before segment_compile: parameters start at ?(base+1) */
	/* Set by the caller before segment_compile: lists, tags and one campaign's
	 * engagement as a look-up per contact (EXISTS ... = c.id), for a query over a few
	 * contacts (a range of ids: store_messages_walk), instead of a set of contact ids
	 * made once per query, which costs the whole list however few contacts are read. */
	bool probe;
	/* Set by the caller before segment_compile: the expression is the query's WHERE
	 * (or one of its ANDed terms), so that a condition under ANDs only may be NULL for
	 * false; a text = or in on an attribute is then written as segment_index_expr, and
	 * an index on that expression serves it. Elsewhere (under NOT or OR, or inside an
	 * expression the caller negates) every condition is 0 or 1. */
	bool where;
	/* Set by the caller before segment_compile: PostgreSQL's dialect (jsonb operators,
	 * strpos, false for 0, pg_temp.kirim_number/kirim_time; no attribute index used) */
	bool pg;
};

/*
 * segment_index_expr - the SQL of attribute name's text, lower-cased, in the JSON of
 * column (contacts.attrs), as the compiler writes it where an index may serve it: an
 * index on contacts(<this over attrs>) (kirim segment index) is used for = and in.
 */
void segment_index_expr(struct buf *out, const char *column, const char *name);

/*
 * The tree of the segment called name, for segment("name") (a new tree the
 * compiler frees); 1 when there is none, negative on failure, with a
 * sentence in err either way.
 */
typedef int (*segment_resolve_cb)(void *arg, const char *name, struct segment_node **out, char *err,
                                  size_t errsz);

/*
 * segment_compile - n as SQL into out (whose base is set), with `now` (Unix
 * seconds) for "within the last N days"; segment("name") nodes are resolved
 * through resolve (NULL: refused) and compiled in place, a loop
 * (a -> b -> a) or more than SEGMENT_REF_DEPTH levels refused. -1 with a
 * sentence in err (the resolver's negative code passes through).
 */
int segment_compile(const struct segment_node *n, int64_t now, segment_resolve_cb resolve,
                    void *arg, struct segment_sql *out, char *err, size_t errsz);
/* segment_sql_free - release what segment_compile put in s (s itself is the caller's) */
void segment_sql_free(struct segment_sql *s);

/*
 * A campaign's audience is parts: lists and segments to include (their union, each
 * contact once), lists and segments to exclude, and the follow-up shortcuts, each
 * naming an earlier campaign: not_sent_by C (not delivered(C): resume a send in a new
 * campaign), not_opened C and not_clicked C (delivered(C) and not opened/clicked(C)).
 */
enum segment_part_kind {
	SEGMENT_PART_LIST,
	SEGMENT_PART_SEGMENT,
	SEGMENT_PART_EXCLUDE_LIST,
	SEGMENT_PART_EXCLUDE_SEGMENT,
	SEGMENT_PART_NOT_SENT_BY,
	SEGMENT_PART_NOT_OPENED,
	SEGMENT_PART_NOT_CLICKED,
};
#define SEGMENT_PART_INCLUDES(k) ((k) == SEGMENT_PART_LIST || (k) == SEGMENT_PART_SEGMENT)

struct segment_part {
	enum segment_part_kind kind;
	const char *name; /* the list's, segment's or campaign's name (borrowed) */
};

/*
 * segment_audience - the condition of parts[0..n): (include or include ...) and not
 * exclude ... and each shortcut's condition, in the parts' order; NULL when no part
 * includes anyone (an audience starts from lists or segments)
 */
struct segment_node *segment_audience(const struct segment_part *parts, size_t n);
/* segment_part_name - "list", "segment", "exclude-list", ..., "not-clicked" (the options') */
const char *segment_part_name(enum segment_part_kind k);

/* segment_event_name - "sent", "delivered", ... as the language writes them */
const char *segment_event_name(enum segment_event e);

#endif
