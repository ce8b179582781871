/*
 * spinlock.c: pthread_spin_lock for Gs. glibc's spins until the lock is
 * free; without preemption, a G spinning on a lock whose holder is
 * runnable but not running (it parked, or waits in a run queue for this
 * very P) would spin for ever with GMP_MAXPROCS=1, and burn a P
 * otherwise. Ours spins a while, then yields its P (gosched) and tries
 * again. The lock word and protocol are glibc's for x86_64 (its assembly
 * version: 1 is free; lock decrements and owns the lock if that gave 0;
 * unlock stores 1), so glibc's pthread_spin_trylock, pthread_spin_unlock
 * and pthread_spin_init work on it unchanged and are not interposed.
 */
#include "shim.h"

#define SPINS 100	/* tries between yields: ~1 us of pause */

EXPORT int pthread_spin_lock(pthread_spinlock_t *lock)
{
	preempt_point();
	_Atomic int *w = (_Atomic int *)lock;

	if (!curg())
		return REAL(pthread_spin_lock)(lock);
	for (;;) {
		for (int i = 0; i < SPINS; i++) {
			/* acquire: pairs with the holder's release store */
			if (atomic_load_explicit(w, memory_order_relaxed) > 0 &&
			    atomic_fetch_sub_explicit(w, 1,
						      memory_order_acquire) == 1)
				return 0;
			arch_pause();
		}
		gosched();
	}
}
