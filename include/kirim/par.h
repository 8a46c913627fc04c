/*
 * par - a data-parallel loop over a fixed set of threads (the caller is one of
 * them): par_for runs fn(arg, thread, i) for every i in [0, n) and returns
 * when all have run. Items are taken one at a time from a shared counter, so
 * uneven items balance themselves. thread (0 .. par_threads() - 1) names the
 * thread running the item: 0 is the caller's, so per-thread state indexed by it
 * needs no lock. One par_for at a time per pool (it is not reentrant). The
 * threads sleep on a condition variable between loops.
 */
#ifndef KIRIM_PAR_H
#define KIRIM_PAR_H

#include <stddef.h>

struct par;

typedef void (*par_fn)(void *arg, unsigned thread, size_t i);

/* par_new - a pool of nthreads threads in all, the caller included (1: no thread made);
 * NULL when a thread cannot be made (the caller then runs loops alone) */
struct par *par_new(unsigned nthreads);
/* par_threads - how many threads run a loop (1 for NULL) */
unsigned par_threads(const struct par *p);
/* par_for - fn for every i in [0, n), on the pool's threads and the caller's; p may be NULL */
void par_for(struct par *p, size_t n, par_fn fn, void *arg);
/* par_free - stop and join the threads; NULL is a no-op */
void par_free(struct par *p);
/* par_cores - the processors this process may run on (at least 1) */
unsigned par_cores(void);

#endif
