/*
 * pthread_cond_timedwait returns ETIMEDOUT once its deadline has passed
 * (a deadline in the past and one 50 ms ahead), on the default
 * CLOCK_REALTIME and on CLOCK_MONOTONIC set with pthread_condattr_setclock
 * (and through pthread_cond_clockwait), always with the mutex held again:
 * another thread's trylock gets EBUSY and the errorcheck owner's relock
 * EDEADLK.  A wait that is signalled in time returns 0, and an invalid
 * tv_nsec gives EINVAL.  Only lower bounds on time are checked.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t mu;
static atomic_int try_result;

static void *try_lock(void *arg)
{
	(void)arg;
	try_result = pthread_mutex_trylock(&mu);
	if (try_result == 0)
		pthread_mutex_unlock(&mu);
	return NULL;
}

static void check_mutex_held_by_me(void)
{
	pthread_t t;

	try_result = -1;
	CHECK_OK(pthread_create(&t, NULL, try_lock, NULL));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(try_result, ==, EBUSY);
	CHECK_RET(pthread_mutex_lock(&mu), EDEADLK);
}

static void timed_out(pthread_cond_t *cv, clockid_t clk, long ms,
		      int use_clockwait)
{
	struct timespec deadline = t_deadline_ms(clk, ms);
	int r;

	CHECK_OK(pthread_mutex_lock(&mu));
	do {
		if (use_clockwait)
			r = pthread_cond_clockwait(cv, &mu, clk, &deadline);
		else
			r = pthread_cond_timedwait(cv, &mu, &deadline);
		/* A spurious wakeup may return 0 early: wait again. */
	} while (r == 0 && t_now_ns(clk) < t_ts_ns(&deadline));
	CHECK_RET(r, ETIMEDOUT);
	CHECK_INT(t_now_ns(clk), >=, t_ts_ns(&deadline));
	check_mutex_held_by_me();
	CHECK_OK(pthread_mutex_unlock(&mu));
}

static pthread_cond_t signal_cv;
static int ready;

static void *signaller(void *arg)
{
	(void)arg;
	usleep(20000);
	CHECK_OK(pthread_mutex_lock(&mu));
	ready = 1;
	CHECK_OK(pthread_cond_signal(&signal_cv));
	CHECK_OK(pthread_mutex_unlock(&mu));
	return NULL;
}

static void signalled(clockid_t clk)
{
	pthread_condattr_t ca;
	struct timespec deadline;
	pthread_t t;
	int r = 0;

	CHECK_OK(pthread_condattr_init(&ca));
	CHECK_OK(pthread_condattr_setclock(&ca, clk));
	CHECK_OK(pthread_cond_init(&signal_cv, &ca));
	CHECK_OK(pthread_condattr_destroy(&ca));
	ready = 0;
	CHECK_OK(pthread_mutex_lock(&mu));
	CHECK_OK(pthread_create(&t, NULL, signaller, NULL));
	deadline = t_deadline_ms(clk, 20000);
	while (!ready && r == 0)
		r = pthread_cond_timedwait(&signal_cv, &mu, &deadline);
	CHECK_OK(r);
	CHECK_INT(ready, ==, 1);
	check_mutex_held_by_me();
	CHECK_OK(pthread_mutex_unlock(&mu));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(pthread_cond_destroy(&signal_cv));
}

int main(void)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_cond_t rt_cv = PTHREAD_COND_INITIALIZER;
	pthread_cond_t mono_cv;
	struct timespec bad;
	clockid_t clk;

	CHECK_OK(pthread_mutexattr_init(&ma));
	CHECK_OK(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK));
	CHECK_OK(pthread_mutex_init(&mu, &ma));
	CHECK_OK(pthread_mutexattr_destroy(&ma));

	CHECK_OK(pthread_condattr_init(&ca));
	CHECK_OK(pthread_condattr_getclock(&ca, &clk));
	CHECK_INT(clk, ==, CLOCK_REALTIME);
	CHECK_OK(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	CHECK_OK(pthread_condattr_getclock(&ca, &clk));
	CHECK_INT(clk, ==, CLOCK_MONOTONIC);
	CHECK_OK(pthread_cond_init(&mono_cv, &ca));
	CHECK_OK(pthread_condattr_destroy(&ca));

	timed_out(&rt_cv, CLOCK_REALTIME, -1000, 0);
	timed_out(&rt_cv, CLOCK_REALTIME, 50, 0);
	timed_out(&mono_cv, CLOCK_MONOTONIC, -1000, 0);
	timed_out(&mono_cv, CLOCK_MONOTONIC, 50, 0);
	timed_out(&rt_cv, CLOCK_MONOTONIC, 50, 1);
	timed_out(&rt_cv, CLOCK_REALTIME, 50, 1);

	signalled(CLOCK_REALTIME);
	signalled(CLOCK_MONOTONIC);

	bad = t_deadline_ms(CLOCK_REALTIME, 50);
	bad.tv_nsec = 1000000000;
	CHECK_OK(pthread_mutex_lock(&mu));
	CHECK_RET(pthread_cond_timedwait(&rt_cv, &mu, &bad), EINVAL);
	check_mutex_held_by_me();
	CHECK_OK(pthread_mutex_unlock(&mu));
	return T_PASS;
}
