/*
 * sleep.c: nanosleep, clock_nanosleep, usleep, sleep and sched_yield at G
 * level: a sleeping G parks on a timer (core/timer.c), a yielding G goes
 * to the back of its P's queue (core/sched.c gosched). glibc implements
 * sleep and usleep with internal calls to nanosleep, so each is
 * interposed. Sleeps on CPU-time clocks are left to the kernel (the M
 * blocks; reported under GMP_DEBUG). The sleeps are cancellation points
 * (shims/cancel.c). A signal cannot interrupt a G's sleep yet (EINTR and
 * the remaining time come with per-G signals, issue 6).
 */
#include <unistd.h>
#include "shim.h"

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!curg())
		return real.nanosleep(req, rem);
	if (!ts_valid(req) || req->tv_sec < 0) {
		errno = EINVAL;
		return -1;
	}
	gmp__sleep(gmp__after(ts_ns(req)));
	return 0;
}

EXPORT int clock_nanosleep(clockid_t clk, int flags,
			   const struct timespec *req, struct timespec *rem)
{
	int64_t d;

	if (!curg())
		return real.clock_nanosleep(clk, flags, req, rem);
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC &&
	    clk != CLOCK_BOOTTIME) {
		debugf("clock_nanosleep on clock %d blocks the M", (int)clk);
		return real.clock_nanosleep(clk, flags, req, rem);
	}
	if (!ts_valid(req) || (!(flags & TIMER_ABSTIME) && req->tv_sec < 0))
		return EINVAL;
	if (flags & TIMER_ABSTIME)
		d = gmp__deadline(clk, req);
	else
		d = gmp__after(ts_ns(req));
	gmp__sleep(d);
	return 0;
}

EXPORT int usleep(useconds_t us)
{
	if (!curg())
		return real.usleep(us);
	gmp__sleep(gmp__after((int64_t)us * 1000));
	return 0;
}

EXPORT unsigned sleep(unsigned secs)
{
	if (!curg())
		return real.sleep(secs);
	gmp__sleep(gmp__after((int64_t)secs * 1000000000));
	return 0;
}

EXPORT int sched_yield(void)
{
	if (!curg())
		return real.sched_yield();
	gosched();
	return 0;
}
