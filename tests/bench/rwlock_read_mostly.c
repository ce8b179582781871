/*
 * rwlock_read_mostly: T threads share one pthread_rwlock_t guarding a small
 * array. Each does N operations: 95% are reads (rdlock, read a few entries,
 * unlock), 5% writes (wrlock, bump every entry, unlock), chosen by a
 * per-thread xorshift generator so every run does the same mix.
 *
 *	rwlock_read_mostly [T [N]]	(T threads, default 8; N operations
 *					 each, default 2m)
 *
 * Prints RESULT rwlock_read_mostly in ns per operation: the wall time from
 * the start signal to the last join over T * N. Self-check: a writer bumps
 * all entries at once, so a reader must see them equal, and at the end each
 * entry must equal the number of writes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"

#define NENT 16		/* entries in the shared array */
#define NREAD 4		/* entries a read looks at */
#define WRITE_PCT 5

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long table[NENT];	/* under rw */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static long ready;		/* under lock */
static int go;			/* under lock */

static long nops;
static atomic_long writes, torn;

static void *worker(void *arg)
{
	uint32_t x = 2463534242u + 2654435761u * (uint32_t)(intptr_t)arg;
	long w = 0, bad = 0;

	pthread_mutex_lock(&lock);
	ready++;
	pthread_cond_signal(&ready_cv);
	while (!go)
		pthread_cond_wait(&go_cv, &lock);
	pthread_mutex_unlock(&lock);

	for (long i = 0; i < nops; i++) {
		unsigned int first;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		first = (x >> 8) % NENT;
		if (x % 100 < WRITE_PCT) {
			bench_check(pthread_rwlock_wrlock(&rw),
				    "pthread_rwlock_wrlock");
			for (int j = 0; j < NENT; j++)
				table[j]++;
			bench_check(pthread_rwlock_unlock(&rw),
				    "pthread_rwlock_unlock");
			w++;
		} else {
			long v0;
			int same = 1;

			bench_check(pthread_rwlock_rdlock(&rw),
				    "pthread_rwlock_rdlock");
			v0 = table[first];
			for (int j = 1; j < NREAD; j++)
				same &= table[(first + j) % NENT] == v0;
			bench_check(pthread_rwlock_unlock(&rw),
				    "pthread_rwlock_unlock");
			bad += !same;
		}
	}
	atomic_fetch_add(&writes, w);
	atomic_fetch_add(&torn, bad);
	return NULL;
}

int main(int argc, char **argv)
{
	long nthreads = 8, n = 2000000, *counts[] = { &nthreads, &n };
	unsigned int ncounts = 0;
	pthread_t *t;
	uint64_t t0, t1;
	double total;

	for (int i = 1; i < argc; i++)
		if (ncounts >= 2 ||
		    !bench_parse_count(argv[i], counts[ncounts++]))
			bench_usage(argv[0], "[T [N]]");
	nops = n;
	t = calloc(nthreads, sizeof(*t));
	if (!t)
		bench_check(ENOMEM, "calloc");

	for (long i = 0; i < nthreads; i++)
		bench_check(pthread_create(&t[i], NULL, worker,
					   (void *)(intptr_t)i),
			    "pthread_create");
	pthread_mutex_lock(&lock);
	while (ready < nthreads)
		pthread_cond_wait(&ready_cv, &lock);
	t0 = bench_now_ns();
	go = 1;
	pthread_cond_broadcast(&go_cv);
	pthread_mutex_unlock(&lock);
	for (long i = 0; i < nthreads; i++)
		bench_check(pthread_join(t[i], NULL), "pthread_join");
	t1 = bench_now_ns();

	total = (double)nthreads * n;
	for (int j = 0; j < NENT; j++) {
		if (torn == 0 && table[j] == writes)
			continue;
		fprintf(stderr, "rwlock_read_mostly: %ld torn reads, "
			"entry %d is %ld, want %ld\n", (long)torn, j,
			table[j], (long)writes);
		return 1;
	}
	fprintf(stderr, "rwlock_read_mostly: %ld threads, %.0f ops "
		"(%ld writes) in %.3f s\n", nthreads, total, (long)writes,
		(t1 - t0) / 1e9);
	bench_result("rwlock_read_mostly", (t1 - t0) / total, "ns/op");
	return 0;
}
