/*
 * sleep.c: nanosleep, clock_nanosleep, usleep, sleep and sched_yield at G
 * level: a sleeping G parks on a timer (core/timer.c), a yielding G goes
 * to the back of its P's queue (core/sched.c gosched). glibc implements
 * sleep and usleep with internal calls to nanosleep, so each is
 * interposed. Sleeps on CPU-time clocks are left to the kernel (the M
 * blocks; reported under GMP_DEBUG). The sleeps are cancellation points
 * (shims/cancel.c), and a signal handler interrupts them (EINTR and the
 * time left, shims/signal.c).
 */
#include <unistd.h>
#include "shim.h"

/* The time left until deadline, for an interrupted relative sleep. */
static void remaining(int64_t deadline, struct timespec *rem)
{
	int64_t left = deadline - nanotime();

	if (left < 0)
		left = 0;
	rem->tv_sec = left / 1000000000;
	rem->tv_nsec = left % 1000000000;
}

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!curg())
		return REAL(nanosleep)(req, rem);
	if (!ts_valid(req) || req->tv_sec < 0) {
		errno = EINVAL;
		return -1;
	}
	int64_t d = gmp__after(ts_ns(req));
	if (gmp__sleep(d) == -EINTR) {
		if (rem)
			remaining(d, rem);
		errno = EINTR;
		return -1;
	}
	return 0;
}

EXPORT int clock_nanosleep(clockid_t clk, int flags,
			   const struct timespec *req, struct timespec *rem)
{
	int64_t d;

	if (!curg())
		return REAL(clock_nanosleep)(clk, flags, req, rem);
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC &&
	    clk != CLOCK_BOOTTIME) {
		debugf("clock_nanosleep on clock %d blocks the M", (int)clk);
		return REAL(clock_nanosleep)(clk, flags, req, rem);
	}
	if (!ts_valid(req) || (!(flags & TIMER_ABSTIME) && req->tv_sec < 0))
		return EINVAL;
	if (flags & TIMER_ABSTIME)
		d = gmp__deadline(clk, req);
	else
		d = gmp__after(ts_ns(req));
	if (gmp__sleep(d) == -EINTR) {
		if (rem && !(flags & TIMER_ABSTIME))
			remaining(d, rem);
		return EINTR;
	}
	return 0;
}

EXPORT int usleep(useconds_t us)
{
	if (!curg())
		return REAL(usleep)(us);
	if (gmp__sleep(gmp__after((int64_t)us * 1000)) == -EINTR) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

EXPORT unsigned sleep(unsigned secs)
{
	if (!curg())
		return REAL(sleep)(secs);
	int64_t d = gmp__after((int64_t)secs * 1000000000);
	if (gmp__sleep(d) == -EINTR) {
		struct timespec rem;
		remaining(d, &rem);
		errno = EINTR;	/* whole seconds not slept, as glibc */
		return (unsigned)rem.tv_sec;
	}
	return 0;
}

EXPORT int sched_yield(void)
{
	if (!curg())
		return REAL(sched_yield)();
	gosched();
	return 0;
}
