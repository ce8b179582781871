/*
 * c11.c: C11 <threads.h>. glibc implements thrd_*, mtx_*, cnd_*,
 * call_once and tss_* with direct internal calls to its pthread code (not
 * through the PLT), so interposing the pthread names is not enough: each
 * C11 function is interposed here and mapped onto libgmp's pthread shims,
 * with glibc's error mapping (thrd_nomem for ENOMEM, thrd_timedout,
 * thrd_busy, thrd_error for the rest). thrd_yield is a raw syscall in
 * glibc, here a G-level yield.
 */
#include <stdint.h>
#include <threads.h>
#include "shim.h"

int pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *),
		   void *);
int pthread_join(pthread_t, void **);
int pthread_detach(pthread_t);
int pthread_mutex_trylock(pthread_mutex_t *);
int pthread_mutex_timedlock(pthread_mutex_t *, const struct timespec *);
int pthread_mutex_unlock(pthread_mutex_t *);
int pthread_cond_signal(pthread_cond_t *);
int pthread_cond_broadcast(pthread_cond_t *);
int pthread_cond_wait(pthread_cond_t *, pthread_mutex_t *);
int pthread_cond_timedwait(pthread_cond_t *, pthread_mutex_t *,
			   const struct timespec *);
int pthread_once(pthread_once_t *, void (*)(void));
int nanosleep(const struct timespec *, struct timespec *);
int sched_yield(void);

static int map(int err)
{
	switch (err) {
	case 0:
		return thrd_success;
	case ENOMEM:
		return thrd_nomem;
	case ETIMEDOUT:
		return thrd_timedout;
	case EBUSY:
		return thrd_busy;
	default:
		return thrd_error;
	}
}

EXPORT int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
	/* glibc does the same cast: the int result comes back through the
	 * void * of pthread_join. */
	return map(pthread_create((pthread_t *)thr, NULL,
				  (void *(*)(void *))(void (*)(void))fn, arg));
}

EXPORT int thrd_join(thrd_t thr, int *res)
{
	void *r;
	int e = pthread_join((pthread_t)thr, &r);

	if (e == 0 && res)
		*res = (int)(intptr_t)r;
	return map(e);
}

EXPORT int thrd_detach(thrd_t thr)
{
	return map(pthread_detach((pthread_t)thr));
}

EXPORT _Noreturn void thrd_exit(int res)
{
	pthread_exit((void *)(intptr_t)res);
}

EXPORT int thrd_sleep(const struct timespec *dur, struct timespec *rem)
{
	int r = nanosleep(dur, rem);

	return r == 0 ? 0 : errno == EINTR ? -1 : -2;
}

EXPORT void thrd_yield(void)
{
	sched_yield();
}

EXPORT int mtx_init(mtx_t *mx, int type)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	if (type & mtx_recursive)
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	int r = REAL(pthread_mutex_init)((pthread_mutex_t *)mx, &a);
	pthread_mutexattr_destroy(&a);
	return map(r);
}

EXPORT int mtx_lock(mtx_t *mx)
{
	return map(pthread_mutex_lock((pthread_mutex_t *)mx));
}

EXPORT int mtx_trylock(mtx_t *mx)
{
	return map(pthread_mutex_trylock((pthread_mutex_t *)mx));
}

EXPORT int mtx_timedlock(mtx_t *restrict mx,
			 const struct timespec *restrict ts)
{
	return map(pthread_mutex_timedlock((pthread_mutex_t *)mx, ts));
}

EXPORT int mtx_unlock(mtx_t *mx)
{
	return map(pthread_mutex_unlock((pthread_mutex_t *)mx));
}

EXPORT void mtx_destroy(mtx_t *mx)
{
	(void)mx;	/* glibc's mtx_destroy does nothing either */
}

EXPORT int cnd_init(cnd_t *c)
{
	return map(REAL(pthread_cond_init)((pthread_cond_t *)c, NULL));
}

EXPORT int cnd_signal(cnd_t *c)
{
	return map(pthread_cond_signal((pthread_cond_t *)c));
}

EXPORT int cnd_broadcast(cnd_t *c)
{
	return map(pthread_cond_broadcast((pthread_cond_t *)c));
}

EXPORT int cnd_wait(cnd_t *c, mtx_t *mx)
{
	return map(pthread_cond_wait((pthread_cond_t *)c,
				     (pthread_mutex_t *)mx));
}

EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict mx,
			 const struct timespec *restrict ts)
{
	return map(pthread_cond_timedwait((pthread_cond_t *)c,
					  (pthread_mutex_t *)mx, ts));
}

EXPORT void cnd_destroy(cnd_t *c)
{
	(void)c;
}

EXPORT void call_once(once_flag *flag, void (*fn)(void))
{
	pthread_once((pthread_once_t *)flag, fn);
}

EXPORT int tss_create(tss_t *key, tss_dtor_t dtor)
{
	return map(keys_create(key, dtor));
}

EXPORT void *tss_get(tss_t key)
{
	return keys_get(key);
}

EXPORT int tss_set(tss_t key, void *val)
{
	return map(pthread_setspecific(key, val));
}

EXPORT void tss_delete(tss_t key)
{
	keys_delete(key);
}
