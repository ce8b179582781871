/*
 * Mutexes exclude: N threads x M increments of a plain counter come out
 * exact under normal, recursive, errorcheck and adaptive mutexes.  Each
 * type's error cases behave as documented: trylock of a mutex held by
 * another thread is EBUSY, timedlock of one times out, an errorcheck
 * relock is EDEADLK and its unlock by a non-owner or when unlocked EPERM,
 * and a recursive mutex stays held until unlocked as often as locked.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define NTHREADS	8
#define INCREMENTS	20000

static pthread_mutex_t mu;
static long counter;	/* deliberately not atomic */
static struct t_barrier barrier;

static void *incrementer(void *arg)
{
	int id = (int)(intptr_t)arg;

	t_barrier_wait(&barrier);
	for (int i = 0; i < INCREMENTS; i++) {
		CHECK_OK(pthread_mutex_lock(&mu));
		long v = counter;
		if ((i + id) % 1000 == 0)
			sched_yield();	/* hold the lock across a switch */
		counter = v + 1;
		CHECK_OK(pthread_mutex_unlock(&mu));
	}
	return NULL;
}

/* Runs fn in another thread and returns its result. */
static int other_thread(void *(*fn)(void *))
{
	pthread_t t;
	void *ret;

	CHECK_OK(pthread_create(&t, NULL, fn, NULL));
	CHECK_OK(pthread_join(t, &ret));
	return (int)(intptr_t)ret;
}

static void *do_trylock(void *arg)
{
	int r = pthread_mutex_trylock(&mu);

	(void)arg;
	if (r == 0)
		CHECK_OK(pthread_mutex_unlock(&mu));
	return (void *)(intptr_t)r;
}

static void *do_timedlock(void *arg)
{
	struct timespec deadline = t_deadline_ms(CLOCK_REALTIME, 30);
	int r = pthread_mutex_timedlock(&mu, &deadline);

	(void)arg;
	if (r == 0)
		CHECK_OK(pthread_mutex_unlock(&mu));
	else
		CHECK_INT(t_now_ns(CLOCK_REALTIME), >=, t_ts_ns(&deadline));
	return (void *)(intptr_t)r;
}

static void *do_unlock(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)pthread_mutex_unlock(&mu);
}

static void run(int type, const char *name)
{
	pthread_mutexattr_t ma;
	pthread_t tids[NTHREADS];
	int got;

	CHECK_OK(pthread_mutexattr_init(&ma));
	CHECK_OK(pthread_mutexattr_settype(&ma, type));
	CHECK_OK(pthread_mutexattr_gettype(&ma, &got));
	CHECK_INT(got, ==, type);
	CHECK_OK(pthread_mutex_init(&mu, &ma));
	CHECK_OK(pthread_mutexattr_destroy(&ma));

	counter = 0;
	t_barrier_init(&barrier, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, incrementer,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	t_barrier_destroy(&barrier);
	if (counter != (long)NTHREADS * INCREMENTS)
		FAIL("%s: counter %ld, expected %ld", name, counter,
		     (long)NTHREADS * INCREMENTS);

	/* Held by main: others can neither trylock nor timedlock it. */
	CHECK_INT(other_thread(do_trylock), ==, 0);
	CHECK_OK(pthread_mutex_lock(&mu));
	CHECK_INT(other_thread(do_trylock), ==, EBUSY);
	CHECK_INT(other_thread(do_timedlock), ==, ETIMEDOUT);

	if (type == PTHREAD_MUTEX_ERRORCHECK) {
		CHECK_RET(pthread_mutex_lock(&mu), EDEADLK);
		CHECK_INT(other_thread(do_unlock), ==, EPERM);
		CHECK_INT(other_thread(do_trylock), ==, EBUSY);
	}
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		CHECK_OK(pthread_mutex_lock(&mu));
		CHECK_OK(pthread_mutex_trylock(&mu));	/* held 3 times */
		CHECK_INT(other_thread(do_unlock), ==, EPERM);
		CHECK_OK(pthread_mutex_unlock(&mu));
		CHECK_INT(other_thread(do_trylock), ==, EBUSY);
		CHECK_OK(pthread_mutex_unlock(&mu));
		CHECK_INT(other_thread(do_trylock), ==, EBUSY);
	}
	CHECK_OK(pthread_mutex_unlock(&mu));
	CHECK_INT(other_thread(do_trylock), ==, 0);
	CHECK_INT(other_thread(do_timedlock), ==, 0);
	if (type == PTHREAD_MUTEX_ERRORCHECK ||
	    type == PTHREAD_MUTEX_RECURSIVE)
		CHECK_RET(pthread_mutex_unlock(&mu), EPERM);
	CHECK_OK(pthread_mutex_destroy(&mu));
}

int main(void)
{
	pthread_mutex_t static_mu = PTHREAD_MUTEX_INITIALIZER;

	run(PTHREAD_MUTEX_NORMAL, "normal");
	run(PTHREAD_MUTEX_RECURSIVE, "recursive");
	run(PTHREAD_MUTEX_ERRORCHECK, "errorcheck");
	run(PTHREAD_MUTEX_ADAPTIVE_NP, "adaptive");
	run(PTHREAD_MUTEX_DEFAULT, "default");

	/* A statically initialised mutex works without init. */
	CHECK_OK(pthread_mutex_trylock(&static_mu));
	CHECK_RET(pthread_mutex_trylock(&static_mu), EBUSY);
	CHECK_OK(pthread_mutex_unlock(&static_mu));
	return T_PASS;
}
