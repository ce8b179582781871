/*
 * pthread_join and its variants report errors as glibc documents: joining
 * oneself is EDEADLK, pthread_tryjoin_np on a running thread is EBUSY,
 * pthread_timedjoin_np and pthread_clockjoin_np with a short timeout on a
 * running thread are ETIMEDOUT (after the deadline), and afterwards a
 * plain join still succeeds and returns the thread's value.  A too small
 * stack size is refused with EINVAL.
 */
#include "check.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

static atomic_int release;
static atomic_int self_join;

static void *worker(void *arg)
{
	self_join = pthread_join(pthread_self(), NULL);
	while (!release)
		usleep(1000);
	return arg;
}

static void *quick(void *arg)
{
	return arg;
}

int main(void)
{
	pthread_t t;
	pthread_attr_t attr;
	struct timespec deadline;
	void *ret = NULL;
	int r;

	CHECK_RET(pthread_join(pthread_self(), NULL), EDEADLK);

	CHECK_OK(pthread_create(&t, NULL, worker, (void *)0x5a5a));
	CHECK_RET(pthread_tryjoin_np(t, &ret), EBUSY);
	deadline = t_deadline_ms(CLOCK_REALTIME, 30);
	CHECK_RET(pthread_timedjoin_np(t, &ret, &deadline), ETIMEDOUT);
	CHECK_INT(t_now_ns(CLOCK_REALTIME), >=, t_ts_ns(&deadline));
	deadline = t_deadline_ms(CLOCK_MONOTONIC, 30);
	CHECK_RET(pthread_clockjoin_np(t, &ret, CLOCK_MONOTONIC, &deadline),
		  ETIMEDOUT);
	CHECK_INT(t_now_ns(CLOCK_MONOTONIC), >=, t_ts_ns(&deadline));
	deadline = t_deadline_ms(CLOCK_REALTIME, -1000);
	CHECK_RET(pthread_timedjoin_np(t, &ret, &deadline), ETIMEDOUT);
	CHECK(ret == NULL);
	release = 1;
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == (void *)0x5a5a);
	CHECK_INT(self_join, ==, EDEADLK);

	/* tryjoin of a finished thread succeeds. */
	CHECK_OK(pthread_create(&t, NULL, quick, (void *)0x77));
	ret = NULL;
	while ((r = pthread_tryjoin_np(t, &ret)) == EBUSY)
		usleep(1000);
	CHECK_OK(r);
	CHECK(ret == (void *)0x77);

	/* timedjoin of a thread that finishes in time succeeds. */
	CHECK_OK(pthread_create(&t, NULL, quick, (void *)0x78));
	deadline = t_deadline_ms(CLOCK_REALTIME, 20000);
	CHECK_OK(pthread_timedjoin_np(t, &ret, &deadline));
	CHECK(ret == (void *)0x78);

	CHECK_OK(pthread_attr_init(&attr));
	CHECK_RET(pthread_attr_setstacksize(&attr, 1), EINVAL);
	CHECK_RET(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN - 1),
		  EINVAL);
	CHECK_OK(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN));
	CHECK_OK(pthread_create(&t, &attr, quick, (void *)0x79));
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == (void *)0x79);
	CHECK_OK(pthread_attr_destroy(&attr));
	return T_PASS;
}
