/*
 * errno belongs to the thread: a value set in one thread survives many
 * yields and sleeps (during which a user-level scheduler moves the thread
 * between kernel threads) and is never seen or changed by another thread.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>

#define NTHREADS	32
#define ROUNDS		2000

static struct t_barrier barrier;
static int *errno_addr[NTHREADS];

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	int mine = 1000 + id;

	errno = mine;
	errno_addr[id] = &errno;
	t_barrier_wait(&barrier);

	for (int i = 0; i < ROUNDS; i++) {
		CHECK_INT(errno, ==, mine);
		CHECK(&errno == errno_addr[id]);
		sched_yield();
		if (i % 100 == 0)
			usleep(200);
		if (i % 250 == 0) {
			/* A failing call sets this thread's errno only. */
			CHECK_INT(close(-1), ==, -1);
			CHECK_INT(errno, ==, EBADF);
			sched_yield();
			usleep(100);
			CHECK_INT(errno, ==, EBADF);
			errno = mine;
		}
	}
	CHECK_INT(errno, ==, mine);
	t_barrier_wait(&barrier);
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];

	t_barrier_init(&barrier, NTHREADS + 1);
	errno = 7;
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker,
					(void *)(intptr_t)i));
	t_barrier_wait(&barrier);
	/* All threads are alive: their errno locations must all differ. */
	for (int i = 0; i < NTHREADS; i++) {
		CHECK(errno_addr[i] != &errno);
		for (int j = i + 1; j < NTHREADS; j++)
			CHECK(errno_addr[i] != errno_addr[j]);
	}
	t_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	CHECK_INT(errno, ==, 7);
	return T_PASS;
}
