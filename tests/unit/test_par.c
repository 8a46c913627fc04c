/* test_par - the data-parallel loop: every item once, thread numbers in range, loops again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/par.h"

#define N 10000

struct ctx {
	unsigned char hits[N];
	unsigned thread_of[N];
	unsigned long sum[8]; /* per thread: no lock needed */
};

static void
item(void *arg, unsigned thread, size_t i)
{
	struct ctx *x = arg;
	x->hits[i]++;
	x->thread_of[i] = thread;
	x->sum[thread] += i;
}

static void
check(struct par *p, size_t n)
{
	struct ctx *x = calloc(1, sizeof(*x));
	par_for(p, n, item, x);
	unsigned long sum = 0;
	for (unsigned t = 0; t < 8; t++)
		sum += x->sum[t];
	assert_int_equal(sum, n ? (unsigned long)n * (n - 1) / 2 : 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(x->hits[i], 1);
		assert_true(x->thread_of[i] < par_threads(p));
	}
	free(x);
}

static void
test_pool(void **state)
{
	(void)state;
	struct par *p = par_new(4);
	assert_non_null(p);
	assert_int_equal(par_threads(p), 4);
	/* Many loops on the same threads, of every size, the empty one and one item included. */
	for (size_t n = 0; n < 40; n++)
		check(p, n);
	for (int k = 0; k < 50; k++)
		check(p, N);
	par_free(p);
}

static void
test_alone(void **state)
{
	(void)state;
	assert_null(par_new(1)); /* one thread in all: the caller's */
	assert_int_equal(par_threads(NULL), 1);
	check(NULL, N);
	par_free(NULL);
	assert_true(par_cores() >= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool),
	    cmocka_unit_test(test_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
