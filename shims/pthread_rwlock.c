/*
 * pthread_rwlock.c: read-write locks at G level on core's wait table
 * (core/sema.c). glibc's rwlock waits on kernel futexes, which would block
 * the M.
 *
 * Layout inside glibc's 56-byte pthread_rwlock_t: word 0 is the state
 * (readers count, WRITER bit); word 1 the number of parked readers, word 2
 * the number of writers waiting, word 3 the writers' wake sequence and
 * word 4 the readers'; __cur_writer (offset 24) the writer's tid,
 * __shared (28) and __flags (48) as glibc's init leaves them. A zeroed
 * rwlock prefers readers, as in glibc; PTHREAD_RWLOCK_PREFER_WRITER_-
 * NONRECURSIVE_NP makes new readers wait while a writer waits. Process-
 * shared rwlocks keep glibc's implementation.
 *
 * Protocol. Readers and writers park on separate sequence words, never on
 * the state itself (which readers change all the time: a writer parked on
 * it would spin). A waiter counts itself, reads its sequence word,
 * re-checks the state and parks on the sequence it read; whoever frees
 * the lock for it bumps that sequence, then wakes: the last reader out
 * wakes one writer, a writer's unlock wakes every parked reader and one
 * writer, a writer that gives up while new readers wait for it (writer
 * preference) wakes the readers. All seq_cst: a waiter's count and a
 * releaser's state change cannot both miss each other.
 *
 * Handoff (as glibc's read and write phases). The last reader out, when a
 * writer waits, does not free the lock: it sets WRITER|HANDOFF, which
 * keeps new readers out, and any writer claims it (HANDOFF -> WRITER).
 * Without it a woken writer would mostly find readers back in (readers
 * are preferred) and park again, over and over. If the writers all left
 * (timed out) meanwhile, the reader sees no writer after setting it and
 * frees the lock again; a writer that times out claims a handoff it finds
 * rather than leave it unowned.
 */
#include <limits.h>
#include "shim.h"

#define WRITER		0x80000000u
#define HANDOFF		0x40000000u	/* with WRITER: for a waiting writer */
#define STATE(l)	((_Atomic uint32_t *)&(l)->__data.__readers)
#define NRPARK(l)	((_Atomic uint32_t *)&(l)->__data.__writers)
#define NWRW(l)		((_Atomic uint32_t *)&(l)->__data.__wrphase_futex)
#define WSEQ(l)		((_Atomic uint32_t *)&(l)->__data.__writers_futex)
#define RSEQ(l)		((_Atomic uint32_t *)&(l)->__data.__pad3)

static int self_tid(void)
{
	g *gp = curg();

	return gp ? gp->tid : (int)arch_syscall(186, 0, 0, 0, 0);
}

static bool prefer_writer(pthread_rwlock_t *l)
{
	return l->__data.__flags != PTHREAD_RWLOCK_PREFER_READER_NP;
}

static bool reader_blocked(pthread_rwlock_t *l, uint32_t s)
{
	return (s & WRITER) || (prefer_writer(l) && atomic_load(NWRW(l)));
}

static void wake_readers(pthread_rwlock_t *l)
{
	if (atomic_load(NRPARK(l))) {
		atomic_fetch_add(RSEQ(l), 1);
		gmp__wake(RSEQ(l), INT_MAX);
	}
}

static void wake_writer(pthread_rwlock_t *l)
{
	if (atomic_load(NWRW(l))) {
		atomic_fetch_add(WSEQ(l), 1);
		gmp__wake(WSEQ(l), 1);
	}
}

/* The writers left before claiming a handoff: free the lock. */
static bool claim_back(pthread_rwlock_t *l)
{
	uint32_t s = WRITER | HANDOFF;

	return atomic_compare_exchange_strong(STATE(l), &s, 0);
}

static bool claim_handoff(pthread_rwlock_t *l)
{
	uint32_t s = WRITER | HANDOFF;

	return atomic_compare_exchange_strong(STATE(l), &s, WRITER);
}

static int rdlock(pthread_rwlock_t *l, int64_t deadline, bool try)
{
	if (l->__data.__cur_writer == self_tid() &&
	    (atomic_load(STATE(l)) & WRITER))
		return try ? EBUSY : EDEADLK;
	for (;;) {
		uint32_t s = atomic_load(STATE(l));
		if (!reader_blocked(l, s)) {
			if (s + 1 == WRITER)
				return EAGAIN;	/* too many readers */
			if (atomic_compare_exchange_weak(STATE(l), &s, s + 1))
				return 0;
			continue;
		}
		if (try)
			return EBUSY;
		atomic_fetch_add(NRPARK(l), 1);
		uint32_t seq = atomic_load(RSEQ(l));
		int r = 0;
		if (reader_blocked(l, atomic_load(STATE(l)))) {
			wait_why(WAIT_RWLOCK);
			r = gmp__wait(RSEQ(l), seq, deadline);
		}
		atomic_fetch_sub(NRPARK(l), 1);
		if (r == -ETIMEDOUT)
			return ETIMEDOUT;
	}
}

static int wrlock(pthread_rwlock_t *l, int64_t deadline, bool try)
{
	int tid = self_tid();

	if (l->__data.__cur_writer == tid && (atomic_load(STATE(l)) & WRITER))
		return try ? EBUSY : EDEADLK;
	for (;;) {
		uint32_t s = 0;
		if (atomic_compare_exchange_strong(STATE(l), &s, WRITER))
			break;
		if (claim_handoff(l))
			break;
		if (try)
			return EBUSY;
		atomic_fetch_add(NWRW(l), 1);
		uint32_t seq = atomic_load(WSEQ(l));
		int r = 0;
		s = atomic_load(STATE(l));
		if (s != 0 && s != (WRITER | HANDOFF)) {
			wait_why(WAIT_RWLOCK);
			r = gmp__wait(WSEQ(l), seq, deadline);
		}
		atomic_fetch_sub(NWRW(l), 1);
		if (r == -ETIMEDOUT) {
			if (claim_handoff(l))
				break;
			if (prefer_writer(l))	/* readers held back */
				wake_readers(l);
			return ETIMEDOUT;
		}
	}
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
	return REAL(pthread_rwlock_init)(l, a);
}

EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
	return SHARED(l) ? REAL(pthread_rwlock_destroy)(l) : 0;
}

EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	preempt_point();
	return SHARED(l) ? GMP_AS_SYSCALL(int, REAL(pthread_rwlock_rdlock)(l))
			 : rdlock(l, -1, false);
}

EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	return SHARED(l) ? REAL(pthread_rwlock_tryrdlock)(l)
			 : rdlock(l, -1, true);
}

EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	preempt_point();
	return SHARED(l) ? GMP_AS_SYSCALL(int, REAL(pthread_rwlock_wrlock)(l))
			 : wrlock(l, -1, false);
}

EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	return SHARED(l) ? REAL(pthread_rwlock_trywrlock)(l)
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
	return SHARED(l) ? GMP_AS_SYSCALL(int,
					  REAL(pthread_rwlock_clockrdlock)(l, clk,
									  ts))
			 : timed(l, clk, ts, rdlock);
}

EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clk,
				      const struct timespec *ts)
{
	return SHARED(l) ? GMP_AS_SYSCALL(int,
					  REAL(pthread_rwlock_clockwrlock)(l, clk,
									  ts))
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

static void reader_unlock(pthread_rwlock_t *l, uint32_t s)
{
	for (;;) {
		if (s == 1 && atomic_load(NWRW(l))) {
			/* the last reader out hands the lock to a writer */
			if (!atomic_compare_exchange_weak(STATE(l), &s,
							  WRITER | HANDOFF))
				continue;
			if (atomic_load(NWRW(l))) {
				atomic_fetch_add(WSEQ(l), 1);
				gmp__wake(WSEQ(l), 1);
			} else if (claim_back(l)) {
				wake_readers(l);	/* they saw WRITER */
			}
			return;
		}
		if (atomic_compare_exchange_weak(STATE(l), &s, s - 1))
			return;
	}
}

EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	preempt_point();
	if (SHARED(l))
		return REAL(pthread_rwlock_unlock)(l);
	uint32_t s = atomic_load(STATE(l));
	if (s & WRITER) {
		l->__data.__cur_writer = 0;
		atomic_store(STATE(l), 0);
		wake_readers(l);
		wake_writer(l);
	} else if (s == 0) {
		return EPERM;
	} else {
		reader_unlock(l, s);
	}
	return 0;
}
