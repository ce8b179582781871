/*
 * barrier_rounds: T threads pass one pthread_barrier_t R times. Every round
 * is T arrivals and one release of T-1 waiters, so the cost is mostly
 * wakeups.
 *
 *	barrier_rounds [T [R]]		(T threads, default 4; R rounds,
 *					 default 20k)
 *
 * Prints RESULT barrier_rounds in ns per round, or barrier_rounds_<T> when
 * T is not 4. An untimed round first lines the threads up. Self-check: in
 * each round exactly one thread gets PTHREAD_BARRIER_SERIAL_THREAD (and
 * every other 0), else the program exits 1.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"

static pthread_barrier_t bar;
static long rounds;
static atomic_int *serial;	/* serial returns per round, [0] untimed */
static uint64_t t0, t_end;	/* written by a round's serial thread */

static void *worker(void *arg)
{
	for (long r = 0; r <= rounds; r++) {
		int err = pthread_barrier_wait(&bar);

		if (err == PTHREAD_BARRIER_SERIAL_THREAD) {
			if (r == 0)
				t0 = bench_now_ns();
			else if (r == rounds)
				t_end = bench_now_ns();
			/* relaxed: main reads after joining everyone. */
			atomic_fetch_add_explicit(&serial[r], 1,
						  memory_order_relaxed);
		} else {
			bench_check(err, "pthread_barrier_wait");
		}
	}
	return arg;
}

int main(int argc, char **argv)
{
	long nthreads = 4, *counts[] = { &nthreads, &rounds };
	unsigned int ncounts = 0;
	char name[64];
	pthread_t *t;
	long bad = 0;

	rounds = 20000;
	for (int i = 1; i < argc; i++)
		if (ncounts >= 2 ||
		    !bench_parse_count(argv[i], counts[ncounts++]))
			bench_usage(argv[0], "[T [R]]");
	/* keep calloc and the barrier count sane */
	if (nthreads > 1000000)
		bench_usage(argv[0], "[T [R]]");
	t = calloc(nthreads, sizeof(*t));
	serial = calloc(rounds + 1, sizeof(*serial));
	if (!t || !serial)
		bench_check(ENOMEM, "calloc");
	bench_check(pthread_barrier_init(&bar, NULL, (unsigned int)nthreads),
		    "pthread_barrier_init");

	for (long i = 0; i < nthreads; i++)
		bench_check(pthread_create(&t[i], NULL, worker, NULL),
			    "pthread_create");
	for (long i = 0; i < nthreads; i++)
		bench_check(pthread_join(t[i], NULL), "pthread_join");
	bench_check(pthread_barrier_destroy(&bar), "pthread_barrier_destroy");

	for (long r = 0; r <= rounds; r++) {
		if (serial[r] == 1)
			continue;
		if (bad++ < 5)
			fprintf(stderr, "barrier_rounds: round %ld had %d "
				"serial threads, want 1\n", r,
				(int)serial[r]);
	}
	if (bad) {
		fprintf(stderr, "barrier_rounds: %ld of %ld rounds wrong\n",
			bad, rounds + 1);
		return 1;
	}
	fprintf(stderr, "barrier_rounds: %ld threads, %ld rounds in %.3f s\n",
		nthreads, rounds, (t_end - t0) / 1e9);
	if (nthreads == 4)
		snprintf(name, sizeof(name), "barrier_rounds");
	else
		snprintf(name, sizeof(name), "barrier_rounds_%ld", nthreads);
	bench_result(name, (double)(t_end - t0) / rounds, "ns/round");
	return 0;
}
