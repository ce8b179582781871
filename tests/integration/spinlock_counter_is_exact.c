/*
 * pthread spinlocks exclude: N threads x M increments of a plain counter
 * under a spinlock come out exact, and pthread_spin_trylock on a held
 * lock returns EBUSY.  (Threads outnumber CPUs and processors, so a
 * spinning waiter must not keep the holder from running forever.)
 */
/* timeout: 120 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

#define NTHREADS	6
#define INCREMENTS	20000

static pthread_spinlock_t spin;
static long counter;
static atomic_int busy_seen;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < INCREMENTS; i++) {
		CHECK_OK(pthread_spin_lock(&spin));
		counter++;
		CHECK_OK(pthread_spin_unlock(&spin));
	}
	return NULL;
}

static void *try_lock(void *arg)
{
	(void)arg;
	busy_seen = pthread_spin_trylock(&spin);
	if (busy_seen == 0)
		CHECK_OK(pthread_spin_unlock(&spin));
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS], t;

	CHECK_OK(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	CHECK_INT(counter, ==, NTHREADS * INCREMENTS);

	CHECK_OK(pthread_spin_lock(&spin));
	CHECK_OK(pthread_create(&t, NULL, try_lock, NULL));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(busy_seen, ==, EBUSY);
	CHECK_OK(pthread_spin_unlock(&spin));
	CHECK_OK(pthread_create(&t, NULL, try_lock, NULL));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(busy_seen, ==, 0);
	CHECK_OK(pthread_spin_destroy(&spin));
	return T_PASS;
}
