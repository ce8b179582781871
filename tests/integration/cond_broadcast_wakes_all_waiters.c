/*
 * pthread_cond_broadcast wakes every thread waiting on the condition, and
 * repeated pthread_cond_signal calls (one per waiter) wake them all too,
 * round after round, with each waiter holding the mutex when it returns.
 */
#include "check.h"

#include <pthread.h>

#define NTHREADS	32
#define ROUNDS		50

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t main_cv = PTHREAD_COND_INITIALIZER;
static int generation;
static int waiting, woken;
static int holder_count;	/* threads inside the critical section */

static void *worker(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		CHECK_OK(pthread_mutex_lock(&mu));
		int gen = generation;
		waiting++;
		CHECK_OK(pthread_cond_signal(&main_cv));
		while (generation == gen)
			CHECK_OK(pthread_cond_wait(&cv, &mu));
		CHECK_INT(++holder_count, ==, 1);
		woken++;
		CHECK_OK(pthread_cond_signal(&main_cv));
		CHECK_INT(--holder_count, ==, 0);
		CHECK_OK(pthread_mutex_unlock(&mu));
	}
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];

	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker, NULL));
	for (int r = 0; r < ROUNDS; r++) {
		CHECK_OK(pthread_mutex_lock(&mu));
		while (waiting < NTHREADS)
			CHECK_OK(pthread_cond_wait(&main_cv, &mu));
		waiting = 0;
		woken = 0;
		generation++;
		if (r % 2 == 0) {
			CHECK_OK(pthread_cond_broadcast(&cv));
		} else {
			for (int i = 0; i < NTHREADS; i++)
				CHECK_OK(pthread_cond_signal(&cv));
		}
		while (woken < NTHREADS)
			CHECK_OK(pthread_cond_wait(&main_cv, &mu));
		CHECK_OK(pthread_mutex_unlock(&mu));
	}
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	CHECK_INT(woken, ==, NTHREADS);
	return T_PASS;
}
