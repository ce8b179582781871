/*
 * resolve.c: finds the real libc functions behind the shims with
 * dlsym(RTLD_NEXT), once. A missing symbol is fatal: libgmp cannot keep a
 * promise it cannot forward.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include "real.h"
#include "core.h"

void gmp__sig_forward(int sig, siginfo_t *si, void *uc);
void gmp__sig_orphans(g *gp);
void gmp__sig_exiting(void);

struct real real;
struct hooks hooks;

static void *need(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		warnf("cannot find the real %s: %s", name, dlerror());
		throw("libc symbol missing");
	}
	return f;
}

#define R(name) real.name = need(#name)

void gmp__resolve(void)
{
	static _Atomic int done;

	if (atomic_load_explicit(&done, memory_order_acquire))
		return;
	R(pthread_create);
	R(pthread_join);
	R(pthread_tryjoin_np);
	R(pthread_timedjoin_np);
	R(pthread_clockjoin_np);
	R(pthread_detach);
	R(pthread_exit);
	R(pthread_cancel);
	R(pthread_setcancelstate);
	R(pthread_setcanceltype);
	R(pthread_testcancel);
	R(sigaction);
	R(pthread_sigmask);
	R(sigprocmask);
	R(pthread_kill);
	R(pthread_spin_lock);
	R(pthread_getattr_np);
	R(pthread_setname_np);
	R(pthread_getname_np);
	R(pthread_getschedparam);
	R(pthread_setschedparam);
	R(pthread_setschedprio);
	R(pthread_setaffinity_np);
	R(pthread_getaffinity_np);
	R(unshare);
	R(clock_gettime);
	R(clock_getres);
	R(pthread_getcpuclockid);
	R(getrusage);
	R(setns);
	R(timer_create);
	R(timer_delete);
	R(pthread_mutex_lock);
	R(pthread_mutex_trylock);
	R(pthread_mutex_timedlock);
	R(pthread_mutex_clocklock);
	R(pthread_mutex_unlock);
	R(pthread_mutex_init);
	R(pthread_mutex_destroy);
	R(pthread_cond_init);
	R(pthread_cond_destroy);
	R(pthread_cond_wait);
	R(pthread_cond_timedwait);
	R(pthread_cond_clockwait);
	R(pthread_cond_signal);
	R(pthread_cond_broadcast);
	R(sem_init);
	R(sem_destroy);
	R(sem_wait);
	R(sem_trywait);
	R(sem_timedwait);
	R(sem_clockwait);
	R(sem_post);
	R(sem_getvalue);
	R(nanosleep);
	R(clock_nanosleep);
	R(usleep);
	R(sleep);
	R(sched_yield);
	R(pthread_once);
	R(pthread_key_create);
	R(pthread_key_delete);
	R(pthread_getspecific);
	R(pthread_setspecific);
	R(pthread_getattr_default_np);
	R(pthread_barrier_init);
	R(pthread_barrier_wait);
	R(pthread_barrier_destroy);
	R(pthread_rwlock_init);
	R(pthread_rwlock_destroy);
	R(pthread_rwlock_rdlock);
	R(pthread_rwlock_tryrdlock);
	R(pthread_rwlock_wrlock);
	R(pthread_rwlock_trywrlock);
	R(pthread_rwlock_clockrdlock);
	R(pthread_rwlock_clockwrlock);
	R(pthread_rwlock_unlock);
	gmp__resolve_fileio();
	hooks.pthread_create = real.pthread_create;
	hooks.pthread_detach = real.pthread_detach;
	hooks.thread_key_create = real.pthread_key_create;
	hooks.thread_setspecific = real.pthread_setspecific;
	hooks.sig_forward = gmp__sig_forward;
	hooks.sig_orphans = gmp__sig_orphans;
	hooks.sig_exiting = gmp__sig_exiting;
	hooks.clock_gettime = real.clock_gettime;
	atomic_store_explicit(&done, 1, memory_order_release);
}
