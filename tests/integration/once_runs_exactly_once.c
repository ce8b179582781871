/*
 * pthread_once called by 64 threads at the same moment runs the init
 * function exactly once; every caller returns only after it finished
 * (the init sleeps and yields to make the others wait).  Separate once
 * objects are independent.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define NTHREADS	64
#define NONCES		4

static pthread_once_t once[NONCES] = {
	PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
	PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT
};
static atomic_int calls[NONCES];
static atomic_int done[NONCES];
static struct t_barrier barrier;

static void init_common(int i)
{
	CHECK_INT(atomic_fetch_add(&calls[i], 1), ==, 0);
	usleep(20000);
	sched_yield();
	usleep(10000);
	done[i] = 1;
}

static void init0(void)
{
	init_common(0);
}

static void init1(void)
{
	init_common(1);
}

static void init2(void)
{
	init_common(2);
}

static void init3(void)
{
	init_common(3);
}

static void (*const inits[NONCES])(void) = { init0, init1, init2, init3 };

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	t_barrier_wait(&barrier);
	for (int k = 0; k < NONCES; k++) {
		int i = (id + k) % NONCES;

		CHECK_OK(pthread_once(&once[i], inits[i]));
		CHECK_INT(done[i], ==, 1);
		CHECK_INT(calls[i], ==, 1);
	}
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];

	t_barrier_init(&barrier, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	for (int i = 0; i < NONCES; i++) {
		CHECK_INT(calls[i], ==, 1);
		CHECK_OK(pthread_once(&once[i], inits[i]));
		CHECK_INT(calls[i], ==, 1);
	}
	return T_PASS;
}
