/*
 * pthread_barrier.c: barriers at G level on core's wait table
 * (core/sema.c). glibc's barrier waits on a kernel futex, which would
 * block the M (and, with fewer Ps than waiters, every M).
 *
 * Layout inside glibc's 32-byte pthread_barrier_t: arrivals in this round,
 * the round number (the futex word), the count, and glibc's `shared`
 * field, which stays where glibc keeps it: process-shared barriers keep
 * glibc's implementation.
 *
 * Protocol. A thread reads the round, then counts itself in. The last to
 * arrive resets the arrivals, bumps the round and wakes everyone; it alone
 * returns PTHREAD_BARRIER_SERIAL_THREAD. The others park while the round
 * is the one they read.
 */
#include <limits.h>
#include "shim.h"

struct gbarrier {
	_Atomic uint32_t in;
	_Atomic uint32_t round;
	uint32_t count;
	int shared;
};

EXPORT int pthread_barrier_init(pthread_barrier_t *b,
				const pthread_barrierattr_t *attr,
				unsigned count)
{
	struct gbarrier *gb = (struct gbarrier *)b;
	int pshared = PTHREAD_PROCESS_PRIVATE;

	if (attr)
		pthread_barrierattr_getpshared(attr, &pshared);
	if (pshared == PTHREAD_PROCESS_SHARED)
		return REAL(pthread_barrier_init)(b, attr, count);
	if (count == 0 || count > INT_MAX)
		return EINVAL;
	atomic_store(&gb->in, 0);
	atomic_store(&gb->round, 0);
	gb->count = count;
	gb->shared = 0;
	return 0;
}

EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	struct gbarrier *gb = (struct gbarrier *)b;

	if (gb->shared)
		return GMP_AS_SYSCALL(int, REAL(pthread_barrier_wait)(b));
	uint32_t round = atomic_load(&gb->round);
	if (atomic_fetch_add(&gb->in, 1) + 1 == gb->count) {
		atomic_store(&gb->in, 0);
		atomic_fetch_add(&gb->round, 1);
		gmp__wake(&gb->round, INT_MAX);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	while (atomic_load(&gb->round) == round) {
		wait_why(WAIT_BARRIER);
		gmp__wait(&gb->round, round, -1);
	}
	return 0;
}

EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
	struct gbarrier *gb = (struct gbarrier *)b;

	if (gb->shared)
		return REAL(pthread_barrier_destroy)(b);
	return atomic_load(&gb->in) ? EBUSY : 0;
}
