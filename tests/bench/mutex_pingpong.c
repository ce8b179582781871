/*
 * mutex_pingpong: two threads hand a token back and forth through one mutex
 * and two condvars. A player waits on its own condvar until it holds the
 * token, passes it over and signals the other's condvar; every handoff is a
 * signal, a wakeup and a mutex handover.
 *
 *	mutex_pingpong [N]		(N handoffs, default 50k)
 *
 * Prints RESULT mutex_pingpong in ns per handoff.
 */
#include <pthread.h>
#include <stdint.h>

#include "bench.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = { PTHREAD_COND_INITIALIZER,
				PTHREAD_COND_INITIALIZER };
static int turn = -1;		/* who holds the token; -1 before the start */
static long handoffs, total;	/* all under lock, like turn */
static long moves[2];
static uint64_t t_end;

static void *player(void *arg)
{
	int me = (int)(intptr_t)arg;

	pthread_mutex_lock(&lock);
	for (;;) {
		while (turn != me && handoffs < total)
			pthread_cond_wait(&cv[me], &lock);
		if (handoffs >= total)
			break;
		moves[me]++;
		turn = !me;
		if (++handoffs == total)
			t_end = bench_now_ns();
		pthread_cond_signal(&cv[!me]);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	uint64_t t0;

	total = 50000;
	for (int i = 1; i < argc; i++)
		if (!bench_parse_count(argv[i], &total))
			bench_usage(argv[0], "[N]");

	for (int i = 0; i < 2; i++)
		bench_check(pthread_create(&t[i], NULL, player,
					   (void *)(intptr_t)i),
			    "pthread_create");
	pthread_mutex_lock(&lock);
	t0 = bench_now_ns();
	turn = 0;
	pthread_cond_signal(&cv[0]);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 2; i++)
		bench_check(pthread_join(t[i], NULL), "pthread_join");

	if (moves[0] + moves[1] != total || moves[0] - moves[1] > 1 ||
	    moves[1] > moves[0]) {
		fprintf(stderr, "mutex_pingpong: moves %ld+%ld, want %ld\n",
			moves[0], moves[1], total);
		return 1;
	}
	fprintf(stderr, "mutex_pingpong: %ld handoffs in %.3f s\n", total,
		(t_end - t0) / 1e9);
	bench_result("mutex_pingpong", (double)(t_end - t0) / total,
		     "ns/handoff");
	return 0;
}
