/*
 * lock.c: runtime locks, notes and the raw futex. Go: lock_futex.go.
 * Owns struct mutex and struct note.
 *
 * Model. A mutex word is 0 (free), 1 (held) or 2 (held, maybe sleepers).
 * lock spins briefly, then marks the word 2 and sleeps in the kernel; the
 * M really blocks, which is acceptable only because every holder keeps the
 * lock for a few dozen instructions and never parks or enters a syscall
 * with it. A note is a one-shot event an M sleeps on (idle Ms, the template
 * thread): wakeup sets it and wakes the one sleeper.
 *
 * Rejected. pthread_mutex_t: it is interposed by libgmp itself and would
 * re-enter the G-level mutex. A ticket lock: fair, but every waiter spins
 * on one line and cannot sleep.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include "core.h"

long futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t until_ns)
{
	struct timespec ts, *tsp = NULL;

	if (until_ns >= 0) {
		ts.tv_sec = until_ns / 1000000000;
		ts.tv_nsec = until_ns % 1000000000;
		tsp = &ts;
	}
	/* BITSET takes an absolute CLOCK_MONOTONIC time. */
	return arch_syscall6(SYS_futex, (long)addr,
			     FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val,
			     (long)tsp, 0, FUTEX_BITSET_MATCH_ANY);
}

long futex_wake(_Atomic uint32_t *addr, int n)
{
	return arch_syscall(SYS_futex, addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
			    n, 0);
}

int64_t nanotime(void)
{
	struct timespec ts;

	/* glibc's (the vDSO), not libgmp's interposed clock_gettime */
	(hooks.clock_gettime ? hooks.clock_gettime : clock_gettime)(
		CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void lock(struct mutex *l)
{
	uint32_t v = 0;

	if (atomic_compare_exchange_strong_explicit(&l->key, &v, 1,
						    memory_order_acquire,
						    memory_order_relaxed))
		return;
	for (int i = 0; i < 100; i++) {
		arch_pause();
		v = 0;
		/* relaxed first read: avoid bouncing the line while held. */
		if (atomic_load_explicit(&l->key, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(
			    &l->key, &v, 1, memory_order_acquire,
			    memory_order_relaxed))
			return;
	}
	/* acquire: pairs with unlock's release exchange. */
	while (atomic_exchange_explicit(&l->key, 2, memory_order_acquire) != 0)
		futex_wait(&l->key, 2, -1);
}

void unlock(struct mutex *l)
{
	/* release: the critical section happens before the next holder. */
	if (atomic_exchange_explicit(&l->key, 0, memory_order_release) == 2)
		futex_wake(&l->key, 1);
}

void noteclear(struct note *n)
{
	atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void notewakeup(struct note *n)
{
	/* release: what the waker wrote (mp->nextp) is seen by the sleeper. */
	if (atomic_exchange_explicit(&n->key, 1, memory_order_release) != 0)
		throw("notewakeup: double wakeup");
	futex_wake(&n->key, 1);
}

bool notetsleep(struct note *n, int64_t until_ns)
{
	/* acquire: pairs with notewakeup's release. */
	while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) {
		long r = futex_wait(&n->key, 0, until_ns);

		if (r == -ETIMEDOUT)
			return atomic_load_explicit(&n->key,
						    memory_order_acquire) != 0;
	}
	return true;
}
