/*
 * create_join: the cost of a thread's whole life. Main creates a thread that
 * returns at once and joins it, N times; with "batch" it creates 64, then
 * joins the 64, so creation overlaps with running and exiting.
 *
 *	create_join [batch] [N]		(N default 30k, rounded up to 64)
 *
 * Prints RESULT create_join (or create_join_batch) in ns per create+join.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define BATCH 64

static atomic_long ran;

static void *nop(void *arg)
{
	/* relaxed: main reads the count only after joining every thread. */
	atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
	return arg;
}

static void run_single(long n)
{
	pthread_t t;
	void *ret;

	for (long i = 0; i < n; i++) {
		bench_check(pthread_create(&t, NULL, nop, &ran),
			    "pthread_create");
		bench_check(pthread_join(t, &ret), "pthread_join");
		if (ret != &ran)
			bench_check(EINVAL, "pthread_join: wrong value");
	}
}

static void run_batch(long n)
{
	pthread_t t[BATCH];

	for (long i = 0; i < n; i += BATCH) {
		for (int j = 0; j < BATCH; j++)
			bench_check(pthread_create(&t[j], NULL, nop, NULL),
				    "pthread_create");
		for (int j = 0; j < BATCH; j++)
			bench_check(pthread_join(t[j], NULL), "pthread_join");
	}
}

int main(int argc, char **argv)
{
	long n = 30000, warm;
	int batch = 0;
	uint64_t t0, t1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "batch") == 0)
			batch = 1;
		else if (!bench_parse_count(argv[i], &n))
			bench_usage(argv[0], "[batch] [N]");
	}
	if (batch)
		n = (n + BATCH - 1) / BATCH * BATCH;
	warm = batch ? BATCH * 16 : 1000;

	void (*run)(long) = batch ? run_batch : run_single;
	run(warm);
	t0 = bench_now_ns();
	run(n);
	t1 = bench_now_ns();

	if (atomic_load_explicit(&ran, memory_order_relaxed) != warm + n) {
		fprintf(stderr, "create_join: %ld threads ran, want %ld\n",
			atomic_load_explicit(&ran, memory_order_relaxed),
			warm + n);
		return 1;
	}
	fprintf(stderr, "create_join: %s, %ld threads in %.3f s\n",
		batch ? "batch of 64" : "one at a time", n, (t1 - t0) / 1e9);
	bench_result(batch ? "create_join_batch" : "create_join",
		     (double)(t1 - t0) / n, "ns/op");
	return 0;
}
