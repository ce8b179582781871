/*
 * Many threads sleep for a few microseconds, over and over, and scribble
 * on their stacks between sleeps. Every sleep returns 0 and lasts at
 * least as long as asked. Under libgmp a sleep this short may expire on
 * another M while the sleeping G is still being parked: this guards the
 * park path against touching the G's stack after the timer is armed
 * (it crashed in park_commit once). The race needs the kernel to preempt
 * an M inside a few instructions, so the preloaded run uses more Ps than
 * CPUs; even so it catches the old bug in only some runs (about one in
 * thirty when several copies run at once): a stress test, not a proof.
 */
/* env: GMP_MAXPROCS=16 */
#include "check.h"

#include <pthread.h>

#define NTHREADS	32
#define ROUNDS		2000

static volatile unsigned sink;

static void scribble(unsigned seed)
{
	volatile unsigned char buf[512];

	for (unsigned i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(seed + i);
	sink += buf[seed % sizeof buf];
}

static void *sleeper(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;

	for (unsigned i = 0; i < ROUNDS; i++) {
		struct timespec req = { 0, 1000 + (long)((i * 7 + id) % 20) * 1000 };
		int64_t start = t_now_ns(CLOCK_MONOTONIC);

		CHECK_SYS(nanosleep(&req, NULL));
		CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - start, >=, req.tv_nsec);
		scribble(i ^ id);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[NTHREADS];

	for (unsigned i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, sleeper, (void *)(uintptr_t)i));
	sleeper((void *)(uintptr_t)NTHREADS);
	for (unsigned i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	puts("ok");
	return 0;
}
