/*
 * pthread_rwlock.c: read-write locks at G level on core's wait table
 * (core/sema.c). glibc's rwlock waits on kernel futexes, which would block
 * the M.
 *
 * Layout inside glibc's 56-byte pthread_rwlock_t: word 0 is the state
 * (readers count, WRITER bit), word 1 the number of parked threads, word 2
 * the number of writers waiting; __cur_writer (offset 24) the writer's
 * tid, __shared (28) and __flags (48) as glibc's init leaves them. A zeroed
 * rwlock prefers readers, as in glibc; PTHREAD_RWLOCK_PREFER_WRITER_-
 * NONRECURSIVE_NP makes new readers wait while a writer waits. Process-
 * shared rwlocks keep glibc's implementation.
 *
 * Protocol. Everyone parks on the state word with the value they saw and
 * every release that leaves waiters wakes them all to retry: simple and
 * correct; fairness beyond glibc's preferences is issue 4's.
 */
#include <limits.h>
#include "shim.h"

#define WRITER		0x80000000u
#define STATE(l)	((_Atomic uint32_t *)&(l)->__data.__readers)
#define NPARK(l)	((_Atomic uint32_t *)&(l)->__data.__writers)
#define NWRW(l)		((_Atomic uint32_t *)&(l)->__data.__wrphase_futex)

static int self_tid(void)
{
	g *gp = curg();

	return gp ? gp->tid : (int)arch_syscall(186, 0, 0, 0, 0);
}

static bool prefer_writer(pthread_rwlock_t *l)
{
	return l->__data.__flags != PTHREAD_RWLOCK_PREFER_READER_NP;
}

static int park(pthread_rwlock_t *l, uint32_t seen, int64_t deadline)
{
	atomic_fetch_add(NPARK(l), 1);
	int r = gmp__wait(STATE(l), seen, deadline);
	atomic_fetch_sub(NPARK(l), 1);
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

static int rdlock(pthread_rwlock_t *l, int64_t deadline, bool try)
{
	if (l->__data.__cur_writer == self_tid() &&
	    (atomic_load(STATE(l)) & WRITER))
		return try ? EBUSY : EDEADLK;
	for (;;) {
		uint32_t s = atomic_load(STATE(l));
		bool blocked = (s & WRITER) ||
			       (prefer_writer(l) && atomic_load(NWRW(l)));
		if (!blocked) {
			if (s + 1 == WRITER)
				return EAGAIN;	/* too many readers */
			if (atomic_compare_exchange_weak(STATE(l), &s, s + 1))
				return 0;
			continue;
		}
		if (try)
			return EBUSY;
		if (park(l, s, deadline) == ETIMEDOUT)
			return ETIMEDOUT;
	}
}

static int wrlock(pthread_rwlock_t *l, int64_t deadline, bool try)
{
	int tid = self_tid();

	if (l->__data.__cur_writer == tid && (atomic_load(STATE(l)) & WRITER))
		return try ? EBUSY : EDEADLK;
	atomic_fetch_add(NWRW(l), 1);
	for (;;) {
		uint32_t s = 0;
		if (atomic_compare_exchange_strong(STATE(l), &s, WRITER))
			break;
		if (try || park(l, s, deadline) == ETIMEDOUT) {
			atomic_fetch_sub(NWRW(l), 1);
			if (atomic_load(NPARK(l)))	/* readers held back */
				gmp__wake(STATE(l), INT_MAX);
			return try ? EBUSY : ETIMEDOUT;
		}
	}
	atomic_fetch_sub(NWRW(l), 1);
	l->__data.__cur_writer = tid;
	return 0;
}

static int deadline_of(clockid_t clk, const struct timespec *ts, int64_t *d)
{
	if (!ts_valid(ts))
		return EINVAL;
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
		return EINVAL;
	*d = gmp__deadline(clk, ts);
	return 0;
}

#define SHARED(l) ((l)->__data.__shared != 0)

EXPORT int pthread_rwlock_init(pthread_rwlock_t *l,
			       const pthread_rwlockattr_t *a)
{
	return real.pthread_rwlock_init(l, a);
}

EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	return SHARED(l) ? real.pthread_rwlock_destroy(l) : 0;
}

EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	return SHARED(l) ? GMP_AS_SYSCALL(int, real.pthread_rwlock_rdlock(l)) : rdlock(l, -1, false);
}

EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	return SHARED(l) ? real.pthread_rwlock_tryrdlock(l)
			 : rdlock(l, -1, true);
}

EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	return SHARED(l) ? GMP_AS_SYSCALL(int, real.pthread_rwlock_wrlock(l)) : wrlock(l, -1, false);
}

EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	return SHARED(l) ? real.pthread_rwlock_trywrlock(l)
			 : wrlock(l, -1, true);
}

/* Try first (POSIX: a lock that is free is taken whatever the time),
 * then wait until the deadline. */
static int timed(pthread_rwlock_t *l, clockid_t clk, const struct timespec *ts,
		 int (*take)(pthread_rwlock_t *, int64_t, bool))
{
	int64_t d;
	int r;

	if ((r = take(l, -1, true)) != EBUSY)
		return r;
	if ((r = deadline_of(clk, ts, &d)))
		return r;
	return take(l, d, false);
}

EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clk,
				      const struct timespec *ts)
{
	return SHARED(l) ? GMP_AS_SYSCALL(int, real.pthread_rwlock_clockrdlock(l, clk, ts))
			 : timed(l, clk, ts, rdlock);
}

EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clk,
				      const struct timespec *ts)
{
	return SHARED(l) ? GMP_AS_SYSCALL(int, real.pthread_rwlock_clockwrlock(l, clk, ts))
			 : timed(l, clk, ts, wrlock);
}

EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l,
				      const struct timespec *ts)
{
	return pthread_rwlock_clockrdlock(l, CLOCK_REALTIME, ts);
}

EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l,
				      const struct timespec *ts)
{
	return pthread_rwlock_clockwrlock(l, CLOCK_REALTIME, ts);
}

EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	if (SHARED(l))
		return real.pthread_rwlock_unlock(l);
	uint32_t s = atomic_load(STATE(l));
	if (s & WRITER) {
		l->__data.__cur_writer = 0;
		atomic_store(STATE(l), 0);
	} else if (s == 0) {
		return EPERM;
	} else {
		s = atomic_fetch_sub(STATE(l), 1) - 1;
		if (s != 0)
			return 0;
	}
	if (atomic_load(NPARK(l)))
		gmp__wake(STATE(l), INT_MAX);
	return 0;
}
