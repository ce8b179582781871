/*
 * pthread_barrier_wait releases all N threads only when the N-th arrives,
 * and in each round exactly one of them gets
 * PTHREAD_BARRIER_SERIAL_THREAD, the others 0; rounds never overlap.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define NTHREADS	12
#define ROUNDS		500

static pthread_barrier_t barrier;
static atomic_int arrived[ROUNDS];
static atomic_int serials[ROUNDS];

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int r = 0; r < ROUNDS; r++) {
		atomic_fetch_add(&arrived[r], 1);
		if ((r + id) % 50 == 0)
			usleep(200);	/* a late arrival */
		int ret = pthread_barrier_wait(&barrier);
		/* Nobody left this round before everyone had arrived. */
		CHECK_INT(arrived[r], ==, NTHREADS);
		if (r + 1 < ROUNDS)
			CHECK_INT(arrived[r + 1], <=, NTHREADS);
		if (ret == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serials[r], 1);
		else
			CHECK_INT(ret, ==, 0);
		if (id % 3 == 0)
			sched_yield();
	}
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];

	CHECK_RET(pthread_barrier_init(&barrier, NULL, 0), EINVAL);
	CHECK_OK(pthread_barrier_init(&barrier, NULL, NTHREADS));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	for (int r = 0; r < ROUNDS; r++) {
		CHECK_INT(arrived[r], ==, NTHREADS);
		CHECK_INT(serials[r], ==, 1);
	}
	CHECK_OK(pthread_barrier_destroy(&barrier));
	return T_PASS;
}
