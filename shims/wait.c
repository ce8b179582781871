/*
 * wait.c: the shims' wait/wake pair and time conversions. A G parks on
 * core's address-keyed table (core/sema.c). A caller that is not a G
 * polls with short real sleeps: such callers are rare (threads glibc makes
 * for itself, code before the runtime starts), and polling keeps one
 * protocol on every object, so a G never has to wake a kernel futex.
 */
#include <limits.h>
#include "shim.h"

int64_t gmp__after(int64_t rel)
{
	int64_t now = nanotime();

	return rel > INT64_MAX - now ? INT64_MAX : now + rel;
}

int64_t gmp__deadline(clockid_t clk, const struct timespec *abstime)
{
	struct timespec now;
	int64_t delta;

	switch (clk) {
	case CLOCK_MONOTONIC:
		return ts_ns(abstime);
	case CLOCK_REALTIME:
	case CLOCK_BOOTTIME:
		clock_gettime(clk, &now);
		delta = ts_ns(abstime) - ts_ns(&now);
		if (delta < 0)
			delta = 0;
		return gmp__after(delta);
	default:
		return -1;
	}
}

int gmp__wait(const void *addr, uint32_t val, int64_t deadline)
{
	g *gp = curg();

	if (gp)
		return gmp__wait_full(gp, addr, val, deadline, 0);
	if (atomic_load((_Atomic uint32_t *)addr) != val)
		return -EAGAIN;
	if (deadline >= 0 && nanotime() >= deadline)
		return -ETIMEDOUT;
	struct timespec ts = { 0, 50000 };
	REAL(nanosleep)(&ts, NULL);
	return 0;	/* a spurious wakeup: every caller re-checks */
}

int gmp__wake(const void *addr, int n)
{
	if (!gmp__active)
		return 0;
	return gfutex_wake(addr, n);
}
