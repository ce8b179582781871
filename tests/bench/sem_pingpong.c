/*
 * sem_pingpong: two threads hand a token back and forth through two
 * semaphores: each waits on its own and posts the other's.
 *
 *	sem_pingpong [N]		(N handoffs, default 80k, made even)
 *
 * Prints RESULT sem_pingpong in ns per handoff (one post and the wait it
 * wakes).
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>

#include "bench.h"

static sem_t sem[2];
static long rounds;
static uint64_t t_end;

static void sem_wait_noeintr(sem_t *s)
{
	while (sem_wait(s) != 0)
		if (errno != EINTR)
			bench_check(errno, "sem_wait");
}

static void *player(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (long i = 0; i < rounds; i++) {
		sem_wait_noeintr(&sem[me]);
		if (sem_post(&sem[!me]) != 0)
			bench_check(errno, "sem_post");
	}
	/* Player 1 takes the last token, so it sees the end. */
	if (me == 1)
		t_end = bench_now_ns();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	long n = 80000;
	uint64_t t0;
	int v;

	for (int i = 1; i < argc; i++)
		if (!bench_parse_count(argv[i], &n))
			bench_usage(argv[0], "[N]");
	rounds = (n + 1) / 2;
	n = rounds * 2;

	for (int i = 0; i < 2; i++) {
		if (sem_init(&sem[i], 0, 0) != 0)
			bench_check(errno, "sem_init");
		bench_check(pthread_create(&t[i], NULL, player,
					   (void *)(intptr_t)i),
			    "pthread_create");
	}
	t0 = bench_now_ns();
	if (sem_post(&sem[0]) != 0)
		bench_check(errno, "sem_post");
	for (int i = 0; i < 2; i++)
		bench_check(pthread_join(t[i], NULL), "pthread_join");

	/* The last post, to player 0, is never taken. */
	sem_getvalue(&sem[0], &v);
	if (v != 1) {
		fprintf(stderr, "sem_pingpong: final value %d, want 1\n", v);
		return 1;
	}
	fprintf(stderr, "sem_pingpong: %ld handoffs in %.3f s\n", n,
		(t_end - t0) / 1e9);
	bench_result("sem_pingpong", (double)(t_end - t0) / n, "ns/handoff");
	return 0;
}
