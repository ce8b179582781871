/*
 * pthread_mutex.c: pthread mutexes at G level. A waiting G parks; the M
 * runs other Gs. Protocol in core/sema.c (the address-keyed wait table).
 *
 * The object keeps glibc's layout (struct __pthread_mutex_s): __lock is
 * the lock word (0 free, 1 held, 2 held with possible waiters, the same
 * encoding as glibc's lll_lock), __owner the owner's tid (unique per G),
 * __count the recursion depth, __kind the type set by glibc's own
 * pthread_mutex_init or a static initializer, __nusers the number of
 * holders (pthread_mutex_destroy returns EBUSY while it is non-zero).
 * Process-shared, robust and priority-inheritance/protect mutexes keep
 * glibc's own implementation (they are shared with other processes or the
 * kernel reads them); a G blocking on one blocks its M, reported once
 * under GMP_DEBUG (issue 4 moves them to the syscall path).
 */
#include <limits.h>
#include <stdatomic.h>
#include "shim.h"

#define KIND_MASK	3
#define KIND_GLIBC	(16 | 32 | 64 | 128)	/* robust, PI, PP, pshared */
#define SPIN		100

#define WORD(mx)	((_Atomic uint32_t *)&(mx)->__data.__lock)

bool gmp__mutex_is_ours(pthread_mutex_t *mx)
{
	return (mx->__data.__kind & KIND_GLIBC) == 0;
}

static int self_tid(void)
{
	g *gp = curg();

	if (gp)
		return gp->tid;
	return (int)arch_syscall(186 /* gettid */, 0, 0, 0, 0);
}

static void note_glibc(void)
{
	static _Atomic int said;

	if (!atomic_exchange(&said, 1))
		debugf("a process-shared, robust or priority mutex is used: "
		       "its waits block the M (glibc's implementation)");
}

static int lock_word(pthread_mutex_t *mx, int64_t deadline)
{
	_Atomic uint32_t *w = WORD(mx);
	uint32_t c = 0;

	/* acquire: the critical section starts after we own the word. */
	if (atomic_compare_exchange_strong_explicit(w, &c, 1,
						    memory_order_acquire,
						    memory_order_relaxed))
		return 0;
	if (sched.nprocs > 1) {
		for (int i = 0; i < SPIN; i++) {
			arch_pause();
			c = 0;
			if (atomic_load_explicit(w, memory_order_relaxed) == 0 &&
			    atomic_compare_exchange_weak_explicit(
				    w, &c, 1, memory_order_acquire,
				    memory_order_relaxed))
				return 0;
		}
	}
	c = atomic_exchange_explicit(w, 2, memory_order_acquire);
	while (c != 0) {
		wait_why(WAIT_MUTEX);
		if (gmp__wait(w, 2, deadline) == -ETIMEDOUT)
			return ETIMEDOUT;
		c = atomic_exchange_explicit(w, 2, memory_order_acquire);
	}
	return 0;
}

static void unlock_word(pthread_mutex_t *mx)
{
	/* release: pairs with lock_word's acquire. */
	if (atomic_exchange_explicit(WORD(mx), 0, memory_order_release) == 2)
		gmp__wake(WORD(mx), 1);
}

static void took(pthread_mutex_t *mx, int tid)
{
	mx->__data.__owner = tid;
	mx->__data.__nusers++;
}

int gmp__mutex_lock(pthread_mutex_t *mx, int64_t deadline)
{
	int kind = mx->__data.__kind & KIND_MASK;
	int tid = self_tid(), r;

	if (kind == PTHREAD_MUTEX_RECURSIVE_NP ||
	    kind == PTHREAD_MUTEX_ERRORCHECK_NP) {
		if (mx->__data.__owner == tid) {
			if (kind == PTHREAD_MUTEX_ERRORCHECK_NP)
				return EDEADLK;
			if (mx->__data.__count == UINT_MAX)
				return EAGAIN;
			mx->__data.__count++;
			return 0;
		}
	}
	if ((r = lock_word(mx, deadline)))
		return r;
	mx->__data.__count = 1;
	took(mx, tid);
	return 0;
}

int gmp__mutex_unlock(pthread_mutex_t *mx)
{
	int kind = mx->__data.__kind & KIND_MASK;

	if (kind == PTHREAD_MUTEX_RECURSIVE_NP ||
	    kind == PTHREAD_MUTEX_ERRORCHECK_NP) {
		if (mx->__data.__owner != self_tid() ||
		    atomic_load_explicit(WORD(mx), memory_order_relaxed) == 0)
			return EPERM;
		if (--mx->__data.__count != 0)
			return 0;
	}
	mx->__data.__owner = 0;
	mx->__data.__nusers--;
	unlock_word(mx);
	return 0;
}

unsigned gmp__mutex_release(pthread_mutex_t *mx, int *err)
{
	int kind = mx->__data.__kind & KIND_MASK;
	unsigned count = 1;

	*err = 0;
	if (kind == PTHREAD_MUTEX_RECURSIVE_NP ||
	    kind == PTHREAD_MUTEX_ERRORCHECK_NP) {
		if (mx->__data.__owner != self_tid()) {
			*err = EPERM;
			return 0;
		}
		count = mx->__data.__count;
		mx->__data.__count = 1;
	}
	gmp__mutex_unlock(mx);
	return count;
}

void gmp__mutex_reacquire(pthread_mutex_t *mx, unsigned count)
{
	lock_word(mx, -1);
	mx->__data.__count = count;
	took(mx, self_tid());
}

EXPORT int pthread_mutex_lock(pthread_mutex_t *mx)
{
	preempt_point();
	if (!gmp__mutex_is_ours(mx)) {
		note_glibc();
		int r = REAL(pthread_mutex_trylock)(mx);
		if (r != EBUSY)
			return r;
		return GMP_AS_SYSCALL(int, REAL(pthread_mutex_lock)(mx));
	}
	return gmp__mutex_lock(mx, -1);
}

EXPORT int pthread_mutex_trylock(pthread_mutex_t *mx)
{
	preempt_point();
	uint32_t c = 0;
	int kind = mx->__data.__kind & KIND_MASK;

	if (!gmp__mutex_is_ours(mx))
		return REAL(pthread_mutex_trylock)(mx);
	if (kind == PTHREAD_MUTEX_RECURSIVE_NP &&
	    mx->__data.__owner == self_tid()) {
		if (mx->__data.__count == UINT_MAX)
			return EAGAIN;
		mx->__data.__count++;
		return 0;
	}
	if (!atomic_compare_exchange_strong_explicit(WORD(mx), &c, 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		return EBUSY;
	mx->__data.__count = 1;
	took(mx, self_tid());
	return 0;
}

static int timedlock(pthread_mutex_t *mx, clockid_t clk,
		     const struct timespec *abstime)
{
	uint32_t c = 0;

	/* glibc checks the time only when it would have to wait */
	if (atomic_compare_exchange_strong_explicit(WORD(mx), &c, 1,
						    memory_order_acquire,
						    memory_order_relaxed)) {
		mx->__data.__count = 1;
		took(mx, self_tid());
		return 0;
	}
	if (!ts_valid(abstime))
		return EINVAL;
	int64_t d = gmp__deadline(clk, abstime);
	if (d < 0)
		return EINVAL;
	return gmp__mutex_lock(mx, d);
}

EXPORT int pthread_mutex_timedlock(pthread_mutex_t *mx,
				   const struct timespec *abstime)
{
	if (!gmp__mutex_is_ours(mx))
		return GMP_AS_SYSCALL(int, REAL(pthread_mutex_timedlock)(mx, abstime));
	int kind = mx->__data.__kind & KIND_MASK;
	if (kind != PTHREAD_MUTEX_NORMAL && mx->__data.__owner == self_tid())
		return gmp__mutex_lock(mx, -1);	/* EDEADLK or recursion */
	return timedlock(mx, CLOCK_REALTIME, abstime);
}

EXPORT int pthread_mutex_clocklock(pthread_mutex_t *mx, clockid_t clk,
				   const struct timespec *abstime)
{
	if (!gmp__mutex_is_ours(mx))
		return GMP_AS_SYSCALL(int, REAL(pthread_mutex_clocklock)(mx, clk, abstime));
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
		return EINVAL;
	int kind = mx->__data.__kind & KIND_MASK;
	if (kind != PTHREAD_MUTEX_NORMAL && mx->__data.__owner == self_tid())
		return gmp__mutex_lock(mx, -1);
	return timedlock(mx, clk, abstime);
}

EXPORT int pthread_mutex_unlock(pthread_mutex_t *mx)
{
	preempt_point();
	if (!gmp__mutex_is_ours(mx))
		return REAL(pthread_mutex_unlock)(mx);
	return gmp__mutex_unlock(mx);
}

EXPORT int pthread_mutex_init(pthread_mutex_t *mx,
			      const pthread_mutexattr_t *attr)
{
	/* glibc validates the attributes and computes __kind */
	return REAL(pthread_mutex_init)(mx, attr);
}

EXPORT int pthread_mutex_destroy(pthread_mutex_t *mx)
{
	if (!gmp__mutex_is_ours(mx))
		return REAL(pthread_mutex_destroy)(mx);
	if (mx->__data.__nusers != 0 ||
	    atomic_load_explicit(WORD(mx), memory_order_relaxed) != 0)
		return EBUSY;
	mx->__data.__kind = -1;	/* as glibc: a destroyed mutex */
	return 0;
}
