/*
 * sleep_lateness: how late sleeping threads wake. T threads each loop K
 * times: read CLOCK_MONOTONIC, nanosleep 1 ms, read it again; the lateness
 * of that sleep is the time that passed minus the 1 ms asked for. With more
 * threads than CPUs, wakeups also queue behind each other.
 *
 *	sleep_lateness [T [K]]		(T threads, default 8; K sleeps
 *					 each, default 1000)
 *
 * Prints, over all T * K sleeps, in microseconds (lower is better; the unit
 * has a '/' so that run.sh computes the ratio as native/preload):
 *	RESULT sleep_lateness_p50 <v> us/sleep
 *	RESULT sleep_lateness_p99 <v> us/sleep
 * Self-check: no sleep may end before its 1 ms is up (exit 1 if one does).
 */
#include <pthread.h>
#include <stdint.h>

#include "bench.h"

#define SLEEP_NS 1000000L

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static long ready;		/* under lock */
static int go;			/* under lock */

static long nsleeps;
static int64_t *late;		/* thread i's lateness at [i * nsleeps] */

static void *sleeper(void *arg)
{
	int64_t *mine = arg;

	pthread_mutex_lock(&lock);
	ready++;
	pthread_cond_signal(&ready_cv);
	while (!go)
		pthread_cond_wait(&go_cv, &lock);
	pthread_mutex_unlock(&lock);

	for (long i = 0; i < nsleeps; i++) {
		struct timespec req = { 0, SLEEP_NS }, rem;
		uint64_t t0 = bench_now_ns();

		while (nanosleep(&req, &rem) != 0) {
			if (errno != EINTR)
				bench_check(errno, "nanosleep");
			req = rem;
		}
		mine[i] = (int64_t)(bench_now_ns() - t0) - SLEEP_NS;
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank p-th percentile of the n sorted values in v. */
static int64_t percentile(const int64_t *v, long n, int p)
{
	long rank = (n * p + 99) / 100;

	return v[rank > 0 ? rank - 1 : 0];
}

int main(int argc, char **argv)
{
	long nthreads = 8, *counts[] = { &nthreads, &nsleeps };
	unsigned int ncounts = 0;
	long n, early = 0;
	pthread_t *t;
	uint64_t t0, t1;

	nsleeps = 1000;
	for (int i = 1; i < argc; i++)
		if (ncounts >= 2 ||
		    !bench_parse_count(argv[i], counts[ncounts++]))
			bench_usage(argv[0], "[T [K]]");
	n = nthreads * nsleeps;
	t = calloc(nthreads, sizeof(*t));
	late = calloc(n, sizeof(*late));
	if (!t || !late)
		bench_check(ENOMEM, "calloc");

	for (long i = 0; i < nthreads; i++)
		bench_check(pthread_create(&t[i], NULL, sleeper,
					   late + i * nsleeps),
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

	qsort(late, n, sizeof(*late), cmp_i64);
	while (early < n && late[early] < 0)
		early++;
	if (early) {
		fprintf(stderr, "sleep_lateness: %ld of %ld sleeps ended "
			"early, the earliest %.1f us before its time\n",
			early, n, -late[0] / 1e3);
		return 1;
	}
	fprintf(stderr, "sleep_lateness: %ld threads, %ld sleeps in %.3f s; "
		"lateness min %.1f, p50 %.1f, p90 %.1f, p99 %.1f, "
		"max %.1f us\n", nthreads, n, (t1 - t0) / 1e9, late[0] / 1e3,
		percentile(late, n, 50) / 1e3, percentile(late, n, 90) / 1e3,
		percentile(late, n, 99) / 1e3, late[n - 1] / 1e3);
	bench_result("sleep_lateness_p50", percentile(late, n, 50) / 1e3,
		     "us/sleep");
	bench_result("sleep_lateness_p99", percentile(late, n, 99) / 1e3,
		     "us/sleep");
	return 0;
}
