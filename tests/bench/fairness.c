/*
 * fairness: can threads that compute without calls starve a thread that
 * sleeps? 2 * ncpu threads spin in pure computation (no calls, so no
 * scheduling point of libgmp's) while one thread sleeps 1 ms in a loop.
 *
 *	fairness [D]	(D ms of running, default 2000)
 *
 * The sleeper measures each sleep's lateness (time passed minus the 1 ms
 * asked for). The spinners count iterations of a fixed arithmetic step
 * until a volatile flag says stop. Prints:
 *	RESULT fairness_sleep_p50 <v> us/sleep	(lower is better)
 *	RESULT fairness_sleep_p99 <v> us/sleep
 *	RESULT fairness_spin_throughput <v> Msteps	(all spinners, per s;
 *						 higher is better)
 * Natively the kernel's scheduler preempts the spinners whenever the
 * sleeper wakes; under libgmp, sysmon must preempt them (core/preempt.c),
 * or the sleeper never runs with GMP_MAXPROCS slots all spinning.
 * Self-check: at least one sleep completed, no sleep ended early. A
 * watchdog ends the program (exit 1) after D + 20 s.
 */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "bench.h"

#define SLEEP_NS 1000000L
#define MAXSLEEPS 100000

static volatile int stop;
static int64_t late[MAXSLEEPS];
static long nlate;

struct spin {
	pthread_t t;
	uint64_t steps;
	uint64_t h;
};

static void *spinner(void *arg)
{
	struct spin *s = arg;
	uint64_t h = (uint64_t)(uintptr_t)arg, n = 0;

	while (!stop) {
		h = (h ^ (h >> 29)) * 0x9e3779b97f4a7c15ull + 1;
		n++;
	}
	s->steps = n;
	s->h = h;
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	while (!stop && nlate < MAXSLEEPS) {
		struct timespec req = { 0, SLEEP_NS }, rem;
		uint64_t t0 = bench_now_ns();

		while (nanosleep(&req, &rem) != 0) {
			if (errno != EINTR)
				bench_check(errno, "nanosleep");
			req = rem;
		}
		late[nlate++] = (int64_t)(bench_now_ns() - t0) - SLEEP_NS;
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	sleep((unsigned)(uintptr_t)arg);
	fprintf(stderr, "fairness: watchdog: still running\n");
	_exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long d = 2000;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nspin = ncpu < 1 ? 2 : (int)(2 * ncpu);
	pthread_t sl, wd;

	if (argc > 2 || (argc == 2 && !bench_parse_count(argv[1], &d)))
		bench_usage(argv[0], "[D]");
	struct spin *s = calloc((size_t)nspin, sizeof *s);
	if (!s)
		bench_check(ENOMEM, "calloc");
	bench_check(pthread_create(&wd, NULL, watchdog,
				   (void *)(uintptr_t)(d / 1000 + 20)),
		    "pthread_create");
	uint64_t t0 = bench_now_ns();
	for (int i = 0; i < nspin; i++)
		bench_check(pthread_create(&s[i].t, NULL, spinner, &s[i]),
			    "pthread_create");
	bench_check(pthread_create(&sl, NULL, sleeper, NULL),
		    "pthread_create");
	struct timespec run = { d / 1000, (d % 1000) * 1000000 };
	while (nanosleep(&run, &run) != 0)
		;
	stop = 1;
	bench_check(pthread_join(sl, NULL), "pthread_join");
	uint64_t steps = 0;
	for (int i = 0; i < nspin; i++) {
		bench_check(pthread_join(s[i].t, NULL), "pthread_join");
		steps += s[i].steps;
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	if (nlate == 0) {
		fprintf(stderr, "fairness: the sleeper never woke\n");
		return 1;
	}
	qsort(late, (size_t)nlate, sizeof late[0], cmp_i64);
	if (late[0] < 0) {
		fprintf(stderr, "fairness: a sleep ended early\n");
		return 1;
	}
	bench_result("fairness_sleep_p50", (double)late[nlate / 2] / 1000.0,
		     "us/sleep");
	bench_result("fairness_sleep_p99",
		     (double)late[(nlate * 99) / 100] / 1000.0, "us/sleep");
	bench_result("fairness_spin_throughput", (double)steps / secs / 1e6,
		     "Msteps");
	free(s);
	return 0;
}
