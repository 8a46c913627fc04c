/* par - a data-parallel loop over a fixed set of threads (see par.h). */
#define _GNU_SOURCE
#include "kirim/par.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "kirim/xmalloc.h"

struct par {
	unsigned n; /* threads in all, the caller's included */
	pthread_t *tids;
	pthread_mutex_t lock;
	pthread_cond_t start, done;
	/* The loop being run; written under lock before gen moves. */
	unsigned long gen; /* loops started */
	bool stop;
	par_fn fn;
	void *arg;
	size_t count;
	atomic_size_t next; /* the next item to take */
	unsigned busy;      /* pool threads still in the current loop */
};

struct par_thread {
	struct par *p;
	unsigned index;
};

/* run - take items until none is left */
static void
run(struct par *p, unsigned thread, par_fn fn, void *arg, size_t count)
{
	for (;;) {
		size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
		if (i >= count)
			return;
		fn(arg, thread, i);
	}
}

static void *
par_main(void *v)
{
	struct par_thread *t = v;
	struct par *p = t->p;
	unsigned index = t->index;
	free(t);
	unsigned long seen = 0;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->gen == seen)
			pthread_cond_wait(&p->start, &p->lock);
		if (p->stop)
			break;
		seen = p->gen;
		par_fn fn = p->fn;
		void *arg = p->arg;
		size_t count = p->count;
		pthread_mutex_unlock(&p->lock);
		run(p, index, fn, arg, count);
		pthread_mutex_lock(&p->lock);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct par *
par_new(unsigned nthreads)
{
	if (nthreads <= 1)
		return NULL;
	struct par *p = xcalloc(1, sizeof(*p));
	p->tids = xcalloc(nthreads, sizeof(*p->tids));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->start, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->next, 0);
	p->n = 1;
	for (unsigned i = 1; i < nthreads; i++) {
		struct par_thread *t = xmalloc(sizeof(*t));
		t->p = p;
		t->index = i;
		if (pthread_create(&p->tids[i], NULL, par_main, t) != 0) {
			free(t);
			break;
		}
		p->n++;
	}
	if (p->n == 1) {
		par_free(p);
		return NULL;
	}
	return p;
}

unsigned
par_threads(const struct par *p)
{
	return p ? p->n : 1;
}

void
par_for(struct par *p, size_t n, par_fn fn, void *arg)
{
	if (n == 0)
		return;
	if (p == NULL || n == 1) {
		for (size_t i = 0; i < n; i++)
			fn(arg, 0, i);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->fn = fn;
	p->arg = arg;
	p->count = n;
	atomic_store_explicit(&p->next, 0, memory_order_relaxed);
	p->busy = p->n - 1;
	p->gen++;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
	run(p, 0, fn, arg, n);
	/* Every item is taken; wait for the pool's threads to finish theirs. */
	pthread_mutex_lock(&p->lock);
	while (p->busy > 0)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void
par_free(struct par *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 1; i < p->n; i++)
		pthread_join(p->tids[i], NULL);
	pthread_cond_destroy(&p->start);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p->tids);
	free(p);
}

unsigned
par_cores(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}
