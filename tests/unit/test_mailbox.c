/*
 * test_mailbox - mbox splitting as a table; a Maildir walked with each
 * verdict (seen, failed, stop) and a plain directory left as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/mailbox.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_mbox_next(void **state)
{
	(void)state;
	static const struct {
		const char *label, *in;
		const char *want; /* the messages, each followed by "|" */
	} cases[] = {
	    {"one", "From a\nSubject: x\n\nbody\n", "Subject: x\n\nbody\n|"},
	    {"two", "From a\nA: 1\n\nx\nFrom b\nB: 2\n\ny\n", "A: 1\n\nx\n|B: 2\n\ny\n|"},
	    {"no final newline", "From a\nA: 1\n\nx", "A: 1\n\nx|"},
	    {"unquoted", "From a\n\n>From here\n>>From there\n>Fromage\n",
	     "\nFrom here\n>From there\n>Fromage\n|"},
	    {"From inside a line", "From a\n\nsee From b\n", "\nsee From b\n|"},
	    {"empty message", "From a\nFrom b\nX: 1\n", "|X: 1\n|"},
	    {"separator only", "From a", "|"},
	    {"CRLF", "From a\r\nA: 1\r\n\r\nx\r\n", "A: 1\r\n\r\nx\r\n|"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct buf msg = BUF_INIT, got = BUF_INIT;
		size_t pos = 0, len = strlen(cases[i].in), n = 0;
		while (mailbox_mbox_next(cases[i].in, len, &pos, &msg) && n++ < 10) {
			buf_add(&got, msg.data ? msg.data : "", msg.len);
			buf_addc(&got, '|');
		}
		if (got.len == 0 || strcmp(got.data, cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].label,
			         got.data ? got.data : "", cases[i].want);
		assert_int_equal(pos, len);
		buf_free(&msg);
		buf_free(&got);
	}
	size_t pos = 0;
	struct buf msg = BUF_INIT;
	assert_int_equal(mailbox_mbox_next("", 0, &pos, &msg), 0);
	buf_free(&msg);
}

/* What the walk saw: each message's where and first byte, and each problem. */
struct seen {
	struct buf log;
	int stop_at; /* the message (1-based) to answer MAILBOX_STOP, 0: none */
	int n;
};

static int
on_message(void *arg, const char *where, const char *msg, size_t len, const char *err)
{
	struct seen *s = arg;
	const char *base = strrchr(where, '/');
	buf_printf(&s->log, "%s:%s;", base ? base + 1 : where, msg ? (len ? msg : "-") : "?");
	if (++s->n == s->stop_at)
		return MAILBOX_STOP;
	return msg && msg[0] == 'X' ? MAILBOX_FAILED : MAILBOX_SEEN;
}

static void
on_problem(void *arg, const char *what)
{
	struct seen *s = arg;
	buf_printf(&s->log, "problem;");
	(void)what;
}

static const struct mailbox_cbs cbs = {on_message, on_problem};

static void
put(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
exists(const char *dir, const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static void
test_maildir(void **state)
{
	(void)state;
	char dir[64] = "/tmp/kirim-test-mailbox-XXXXXX", sub[128];
	assert_non_null(mkdtemp(dir));
	for (const char *const *d = (const char *const[]){"new", "cur", "tmp", NULL}; *d; d++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, *d);
		assert_int_equal(mkdir(sub, 0700), 0);
	}
	snprintf(sub, sizeof(sub), "%s/new", dir);
	put(sub, "1", "A");
	put(sub, "2", "X");
	put(sub, "3", "B");
	put(sub, "4", "C");
	put(sub, ".hidden", "H");

	/* Stop at the third: 1 seen, 2 failed, 3 stays, 4 not read. */
	struct seen s = {BUF_INIT, 3, 0};
	assert_int_equal(mailbox_read(dir, &cbs, &s), -1);
	assert_string_equal(s.log.data, "1:A;2:X;3:B;");
	assert_true(exists(dir, "cur/1:2,S"));
	assert_true(exists(dir, "kirim-failed/2"));
	assert_true(exists(dir, "new/3") && exists(dir, "new/4") && exists(dir, "new/.hidden"));

	/* The next run takes the rest. */
	buf_reset(&s.log);
	s.stop_at = 0;
	assert_int_equal(mailbox_read(dir, &cbs, &s), 0);
	assert_string_equal(s.log.data, "3:B;4:C;");
	assert_true(exists(dir, "cur/3:2,S") && exists(dir, "cur/4:2,S"));

	/* A plain directory: read, left in place; a missing path is a problem. */
	buf_reset(&s.log);
	assert_int_equal(mailbox_read(sub, &cbs, &s), 0);
	assert_string_equal(s.log.data, "");
	snprintf(sub, sizeof(sub), "%s/cur", dir);
	assert_int_equal(mailbox_read(sub, &cbs, &s), 0);
	assert_string_equal(s.log.data, "1:2,S:A;3:2,S:B;4:2,S:C;");
	assert_true(exists(dir, "cur/1:2,S"));
	buf_reset(&s.log);
	snprintf(sub, sizeof(sub), "%s/nothing-here", dir);
	assert_int_equal(mailbox_read(sub, &cbs, &s), 0);
	assert_string_equal(s.log.data, "problem;");

	/* An mbox file: its messages by number. */
	put(dir, "mbox", "From a\nA\nFrom b\nX\n");
	buf_reset(&s.log);
	snprintf(sub, sizeof(sub), "%s/mbox", dir);
	assert_int_equal(mailbox_read(sub, &cbs, &s), 0);
	assert_string_equal(s.log.data, "mbox#1:A\n;mbox#2:X\n;");

	buf_free(&s.log);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mbox_next),
	    cmocka_unit_test(test_maildir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
