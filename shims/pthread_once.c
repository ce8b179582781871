/*
 * pthread_once.c: pthread_once and thread-specific data keys at G level.
 * Once: the control word goes 0 -> 1 (running) -> 2 (done), glibc's own
 * values, and waiters park on it (core/sema.c). Keys: core/keys.c, for
 * Gs and for threads that are not Gs alike.
 */
#include <limits.h>
#include "shim.h"

#define ONCE_RUNNING 1
#define ONCE_DONE 2

/* fn was cancelled (or called pthread_exit): as if never called, so the
 * next caller runs it (POSIX; glibc does the same). */
static void once_abandoned(void *arg)
{
	_Atomic uint32_t *w = arg;

	atomic_store(w, 0);
	gmp__wake(w, INT_MAX);
}

EXPORT int pthread_once(pthread_once_t *once, void (*fn)(void))
{
	_Atomic uint32_t *w = (_Atomic uint32_t *)once;

	for (;;) {
		/* acquire: pairs with the release of ONCE_DONE, so fn's
		 * effects are visible. */
		uint32_t v = atomic_load_explicit(w, memory_order_acquire);
		if (v == ONCE_DONE)
			return 0;
		if (v == 0) {
			if (!atomic_compare_exchange_strong(w, &v,
							    ONCE_RUNNING))
				continue;
			pthread_cleanup_push(once_abandoned, (void *)w);
			fn();
			pthread_cleanup_pop(0);
			atomic_store_explicit(w, ONCE_DONE,
					      memory_order_release);
			gmp__wake(w, INT_MAX);
			return 0;
		}
		wait_why(WAIT_ONCE);
		gmp__wait(w, v, -1);
	}
}

EXPORT int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
	return keys_create(key, dtor);
}

EXPORT int pthread_key_delete(pthread_key_t key)
{
	return keys_delete(key);
}

EXPORT void *pthread_getspecific(pthread_key_t key)
{
	return keys_get(key);
}

EXPORT int pthread_setspecific(pthread_key_t key, const void *val)
{
	gmp__ensure_init();
	return keys_set(key, val);
}
