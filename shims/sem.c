/*
 * sem.c: unnamed, process-private POSIX semaphores at G level, on core's
 * wait table (core/sema.c).
 *
 * Layout: glibc's struct new_sem: a 64-bit word with the value in its low
 * half and the waiter count in its high half, then `private`, which glibc
 * sets to 128 (its LLL_SHARED) for process-shared and named semaphores
 * and to 0 for private ones. Shared and named ones keep glibc's
 * implementation (see pthread_mutex.c); sem_init marks private ones ours
 * with a value glibc never uses (0 would also match a private semaphore
 * glibc initialised before libgmp started).
 *
 * Protocol. A waiter counts itself, then parks while the value is 0; a
 * poster increments the value, then wakes one waiter if any are counted.
 * Both sides use seq_cst so at least one of them sees the other.
 */
#include <limits.h>
#include <semaphore.h>
#include "shim.h"

struct gsem {
	_Atomic uint32_t value;
	_Atomic uint32_t nwaiters;
	int private;
};

#define GMP_SEM_MARK 0x676d7000	/* "gmp" */

static struct gsem *ours(sem_t *s)
{
	struct gsem *gs = (struct gsem *)s;

	return gs->private == GMP_SEM_MARK ? gs : NULL;
}

EXPORT int sem_init(sem_t *s, int pshared, unsigned value)
{
	struct gsem *gs = (struct gsem *)s;

	if (pshared)
		return REAL(sem_init)(s, pshared, value);
	if (value > SEM_VALUE_MAX) {
		errno = EINVAL;
		return -1;
	}
	atomic_store(&gs->value, value);
	atomic_store(&gs->nwaiters, 0);
	gs->private = GMP_SEM_MARK;
	return 0;
}

EXPORT int sem_destroy(sem_t *s)
{
	return ours(s) ? 0 : REAL(sem_destroy)(s);
}

static bool try_take(struct gsem *gs)
{
	uint32_t v = atomic_load(&gs->value);

	while (v > 0)
		if (atomic_compare_exchange_weak(&gs->value, &v, v - 1))
			return true;
	return false;
}

static int wait_until(struct gsem *gs, int64_t deadline)
{
	for (;;) {
		if (try_take(gs))
			return 0;
		atomic_fetch_add(&gs->nwaiters, 1);
		g *gp = curg();
		wait_why(WAIT_SEM);
		int r = gp ? gmp__wait_full(gp, &gs->value, 0, deadline,
					    WF_POINT | WF_SIGNAL |
						    WF_RESTARTABLE)
			   : gmp__wait(&gs->value, 0, deadline);
		atomic_fetch_sub(&gs->nwaiters, 1);
		if (r == -ECANCELED)
			gmp__testcancel();
		if (r == -EINTR) {
			errno = EINTR;	/* a signal handler ran */
			return -1;
		}
		if (r == -ETIMEDOUT && !try_take(gs)) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (r == -ETIMEDOUT)
			return 0;
	}
}

EXPORT int sem_wait(sem_t *s)
{
	struct gsem *gs = ours(s);

	return gs ? wait_until(gs, -1) : GMP_AS_SYSCALL(int, REAL(sem_wait)(s));
}

EXPORT int sem_trywait(sem_t *s)
{
	preempt_point();
	struct gsem *gs = ours(s);

	if (!gs)
		return REAL(sem_trywait)(s);
	if (try_take(gs))
		return 0;
	errno = EAGAIN;
	return -1;
}

static int timed(struct gsem *gs, clockid_t clk, const struct timespec *ts)
{
	if (try_take(gs))
		return 0;
	if (!ts_valid(ts)) {
		errno = EINVAL;
		return -1;
	}
	int64_t d = gmp__deadline(clk, ts);
	if (d < 0) {
		errno = EINVAL;
		return -1;
	}
	return wait_until(gs, d);
}

EXPORT int sem_timedwait(sem_t *s, const struct timespec *ts)
{
	struct gsem *gs = ours(s);

	return gs ? timed(gs, CLOCK_REALTIME, ts) : GMP_AS_SYSCALL(int, REAL(sem_timedwait)(s, ts));
}

EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *ts)
{
	struct gsem *gs = ours(s);

	if (!gs)
		return GMP_AS_SYSCALL(int, REAL(sem_clockwait)(s, clk, ts));
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC) {
		errno = EINVAL;
		return -1;
	}
	return timed(gs, clk, ts);
}

EXPORT int sem_post(sem_t *s)
{
	preempt_point();
	struct gsem *gs = ours(s);

	if (!gs)
		return REAL(sem_post)(s);
	uint32_t v = atomic_load(&gs->value);
	do {
		if (v == SEM_VALUE_MAX) {
			errno = EOVERFLOW;
			return -1;
		}
	} while (!atomic_compare_exchange_weak(&gs->value, &v, v + 1));
	if (atomic_load(&gs->nwaiters))
		gmp__wake(&gs->value, 1);
	return 0;
}

EXPORT int sem_getvalue(sem_t *s, int *sval)
{
	struct gsem *gs = ours(s);

	if (!gs)
		return REAL(sem_getvalue)(s, sval);
	*sval = (int)atomic_load(&gs->value);
	return 0;
}
