/*
 * pthread_cond.c: condition variables at G level, a sequence-number futex
 * condvar on core's wait table (core/sema.c).
 *
 * Layout inside glibc's 48-byte pthread_cond_t: word 0 is the sequence
 * number every signal and broadcast bumps, word 1 the number of waiters
 * (so a signal with nobody waiting touches no bucket), and __wrefs (word 9)
 * keeps the flags glibc's pthread_cond_init stores there: bit 0
 * process-shared, bit 1 CLOCK_MONOTONIC. A zeroed (statically initialised)
 * condvar is private on CLOCK_REALTIME, as in glibc. Process-shared
 * condvars keep glibc's implementation (see pthread_mutex.c).
 *
 * Protocol. A waiter counts itself, reads seq, releases the mutex and
 * parks while seq is unchanged; signal bumps seq and wakes one parked
 * waiter, broadcast wakes all. A waiter that read seq before a signal and
 * parks after it sees a changed seq and returns at once: no wakeup is lost
 * and a signal never wakes a waiter that arrived after it. Spurious
 * returns are allowed by POSIX and callers loop.
 */
#include <limits.h>
#include "shim.h"

#define SEQ(c)		((_Atomic uint32_t *)&(c)->__data)
#define NWAIT(c)	((_Atomic uint32_t *)&(c)->__data + 1)
#define WREFS(c)	(((uint32_t *)&(c)->__data)[9])
#define F_SHARED	1u
#define F_MONO		2u

static bool shared(pthread_cond_t *c)
{
	return WREFS(c) & F_SHARED;
}

int gmp__cond_wait(pthread_cond_t *c, pthread_mutex_t *mx, clockid_t clk,
		   const struct timespec *abstime, bool useclk)
{
	int64_t deadline = -1;
	int err;

	if (abstime) {
		if (!ts_valid(abstime))
			return EINVAL;
		if (!useclk)
			clk = WREFS(c) & F_MONO ? CLOCK_MONOTONIC
						: CLOCK_REALTIME;
		if ((deadline = gmp__deadline(clk, abstime)) < 0)
			return EINVAL;
	}
	g *gp = curg();
	/* a cancellation point: acts now, with mx held, if cancelled */
	if (gp)
		gmp__point_begin(gp);
	/* seq_cst: count ourselves before reading seq (see the top). */
	atomic_fetch_add(NWAIT(c), 1);
	uint32_t seq = atomic_load(SEQ(c));
	unsigned count = gmp__mutex_release(mx, &err);
	if (err) {
		atomic_fetch_sub(NWAIT(c), 1);
		return err;
	}
	wait_why(WAIT_COND);
	int r = gp ? gmp__wait_full(gp, SEQ(c), seq, deadline, WF_POINT)
		   : gmp__wait(SEQ(c), seq, deadline);
	atomic_fetch_sub(NWAIT(c), 1);
	gmp__mutex_reacquire(mx, count);
	if (r == -ECANCELED)
		gmp__testcancel();	/* cleanup handlers see mx locked */
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

static int wake(pthread_cond_t *c, int n)
{
	/* seq_cst: bump seq, then look for waiters (see the top). */
	if (atomic_load(NWAIT(c)) == 0)
		return 0;
	atomic_fetch_add(SEQ(c), 1);
	gmp__wake(SEQ(c), n);
	return 0;
}

EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
	preempt_point();
	return shared(c) ? REAL(pthread_cond_signal)(c) : wake(c, 1);
}

EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	preempt_point();
	return shared(c) ? REAL(pthread_cond_broadcast)(c) : wake(c, INT_MAX);
}

EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *mx)
{
	if (shared(c) || !gmp__mutex_is_ours(mx))
		return GMP_AS_SYSCALL(int, REAL(pthread_cond_wait)(c, mx));
	return gmp__cond_wait(c, mx, 0, NULL, false);
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *mx,
				  const struct timespec *abstime)
{
	if (shared(c) || !gmp__mutex_is_ours(mx))
		return GMP_AS_SYSCALL(int, REAL(pthread_cond_timedwait)(c, mx, abstime));
	return gmp__cond_wait(c, mx, 0, abstime, false);
}

EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *mx,
				  clockid_t clk,
				  const struct timespec *abstime)
{
	if (shared(c) || !gmp__mutex_is_ours(mx))
		return GMP_AS_SYSCALL(int, REAL(pthread_cond_clockwait)(c, mx, clk, abstime));
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
		return EINVAL;
	return gmp__cond_wait(c, mx, clk, abstime, true);
}

EXPORT int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	return REAL(pthread_cond_init)(c, a);	/* zeroes it, sets __wrefs */
}

EXPORT int pthread_cond_destroy(pthread_cond_t *c)
{
	if (shared(c))
		return REAL(pthread_cond_destroy)(c);
	/* POSIX: destroying a condvar with waiters is undefined; glibc
	 * waits for woken waiters to leave. Ours leave nothing behind. */
	return 0;
}
