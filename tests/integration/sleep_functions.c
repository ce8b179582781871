/*
 * The sleep functions sleep at least as long as asked, from several
 * threads at once: nanosleep, usleep, clock_nanosleep relative and with
 * TIMER_ABSTIME on CLOCK_MONOTONIC and CLOCK_REALTIME, and sleep(0).
 * Bad arguments fail as documented: an out-of-range tv_nsec or a negative
 * tv_sec is EINVAL (errno for nanosleep, the return value for
 * clock_nanosleep), as is an unsupported clock.  Lower bounds only.
 */
#include "check.h"

#include <pthread.h>

#define NTHREADS	6
#define MS		15

static void check_slept(int64_t start, clockid_t clk, long ms)
{
	CHECK_INT(t_now_ns(clk) - start, >=, (int64_t)ms * 1000000);
}

static void sleeps(void)
{
	struct timespec req = { 0, MS * 1000000L }, rem = { 7, 7 };
	struct timespec abs;
	int64_t start;

	start = t_now_ns(CLOCK_MONOTONIC);
	CHECK_SYS(nanosleep(&req, &rem));
	check_slept(start, CLOCK_MONOTONIC, MS);

	start = t_now_ns(CLOCK_MONOTONIC);
	CHECK_SYS(usleep(MS * 1000));
	check_slept(start, CLOCK_MONOTONIC, MS);

	start = t_now_ns(CLOCK_MONOTONIC);
	CHECK_OK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL));
	check_slept(start, CLOCK_MONOTONIC, MS);

	start = t_now_ns(CLOCK_REALTIME);
	CHECK_OK(clock_nanosleep(CLOCK_REALTIME, 0, &req, NULL));
	check_slept(start, CLOCK_REALTIME, MS);

	abs = t_deadline_ms(CLOCK_MONOTONIC, MS);
	CHECK_OK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL));
	CHECK_INT(t_now_ns(CLOCK_MONOTONIC), >=, t_ts_ns(&abs));

	abs = t_deadline_ms(CLOCK_REALTIME, MS);
	CHECK_OK(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL));
	CHECK_INT(t_now_ns(CLOCK_REALTIME), >=, t_ts_ns(&abs));

	/* A deadline in the past returns at once, successfully. */
	abs = t_deadline_ms(CLOCK_MONOTONIC, -50);
	CHECK_OK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL));

	CHECK_INT(sleep(0), ==, 0);
	req.tv_nsec = 0;
	CHECK_SYS(nanosleep(&req, NULL));
}

static void bad_arguments(void)
{
	struct timespec bad = { 0, 1000000000 };
	struct timespec neg = { -1, 0 };
	struct timespec ok = { 0, 1000 };

	CHECK_ERRNO(nanosleep(&bad, NULL), EINVAL);
	bad.tv_nsec = -1;
	CHECK_ERRNO(nanosleep(&bad, NULL), EINVAL);
	CHECK_ERRNO(nanosleep(&neg, NULL), EINVAL);
	CHECK_RET(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
	CHECK_RET(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &bad, NULL),
		  EINVAL);
	CHECK_RET(clock_nanosleep(CLOCK_MONOTONIC, 0, &neg, NULL), EINVAL);
	CHECK_RET(clock_nanosleep((clockid_t)12345, 0, &ok, NULL), EINVAL);
	/* clock_nanosleep reports errors by value and leaves errno alone. */
	errno = 0;
	CHECK_RET(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
	CHECK_INT(errno, ==, 0);
}

static void *worker(void *arg)
{
	(void)arg;
	sleeps();
	bad_arguments();
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];

	sleeps();
	bad_arguments();
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	return T_PASS;
}
