/*
 * real.h: the real libc functions behind every shim, looked up once by
 * resolve.c. Only shims/ and preload/ include this. A shim calls the real
 * function when the caller is not a G (a thread libgmp did not create, or
 * code running before the runtime started) and for the objects libgmp
 * leaves to glibc (process-shared, robust and priority mutexes).
 */
#ifndef GMP_REAL_H
#define GMP_REAL_H

#include <pthread.h>
#include <signal.h>
#include <semaphore.h>
#include <threads.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#pragma GCC visibility push(hidden)

struct real {
	int (*pthread_create)(pthread_t *, const pthread_attr_t *,
			      void *(*)(void *), void *);
	int (*pthread_join)(pthread_t, void **);
	int (*pthread_tryjoin_np)(pthread_t, void **);
	int (*pthread_timedjoin_np)(pthread_t, void **,
				    const struct timespec *);
	int (*pthread_clockjoin_np)(pthread_t, void **, clockid_t,
				    const struct timespec *);
	int (*pthread_detach)(pthread_t);
	void (*pthread_exit)(void *);
	int (*pthread_cancel)(pthread_t);
	int (*pthread_setcancelstate)(int, int *);
	int (*pthread_setcanceltype)(int, int *);
	void (*pthread_testcancel)(void);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	int (*pthread_sigmask)(int, const sigset_t *, sigset_t *);
	int (*sigprocmask)(int, const sigset_t *, sigset_t *);
	int (*pthread_kill)(pthread_t, int);
	int (*pthread_spin_lock)(pthread_spinlock_t *);
	int (*pthread_getattr_np)(pthread_t, pthread_attr_t *);
	int (*pthread_setname_np)(pthread_t, const char *);
	int (*pthread_getname_np)(pthread_t, char *, size_t);
	int (*pthread_getschedparam)(pthread_t, int *, struct sched_param *);
	int (*pthread_setschedparam)(pthread_t, int,
				     const struct sched_param *);
	int (*pthread_setschedprio)(pthread_t, int);
	int (*pthread_setaffinity_np)(pthread_t, size_t, const cpu_set_t *);
	int (*pthread_getaffinity_np)(pthread_t, size_t, cpu_set_t *);
	int (*unshare)(int);
	int (*clock_gettime)(clockid_t, struct timespec *);
	int (*clock_getres)(clockid_t, struct timespec *);
	int (*pthread_getcpuclockid)(pthread_t, clockid_t *);
	int (*getrusage)(int, struct rusage *);
	int (*setns)(int, int);
	int (*timer_create)(clockid_t, struct sigevent *, timer_t *);
	int (*timer_delete)(timer_t);
	int (*pthread_mutex_lock)(pthread_mutex_t *);
	int (*pthread_mutex_trylock)(pthread_mutex_t *);
	int (*pthread_mutex_timedlock)(pthread_mutex_t *,
				       const struct timespec *);
	int (*pthread_mutex_clocklock)(pthread_mutex_t *, clockid_t,
				       const struct timespec *);
	int (*pthread_mutex_unlock)(pthread_mutex_t *);
	int (*pthread_mutex_init)(pthread_mutex_t *,
				  const pthread_mutexattr_t *);
	int (*pthread_mutex_destroy)(pthread_mutex_t *);
	int (*pthread_cond_init)(pthread_cond_t *, const pthread_condattr_t *);
	int (*pthread_cond_destroy)(pthread_cond_t *);
	int (*pthread_cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*pthread_cond_timedwait)(pthread_cond_t *, pthread_mutex_t *,
				      const struct timespec *);
	int (*pthread_cond_clockwait)(pthread_cond_t *, pthread_mutex_t *,
				      clockid_t, const struct timespec *);
	int (*pthread_cond_signal)(pthread_cond_t *);
	int (*pthread_cond_broadcast)(pthread_cond_t *);
	int (*sem_init)(sem_t *, int, unsigned);
	int (*sem_destroy)(sem_t *);
	int (*sem_wait)(sem_t *);
	int (*sem_trywait)(sem_t *);
	int (*sem_timedwait)(sem_t *, const struct timespec *);
	int (*sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
	int (*sem_post)(sem_t *);
	int (*sem_getvalue)(sem_t *, int *);
	int (*nanosleep)(const struct timespec *, struct timespec *);
	int (*clock_nanosleep)(clockid_t, int, const struct timespec *,
			       struct timespec *);
	int (*usleep)(useconds_t);
	unsigned (*sleep)(unsigned);
	int (*sched_yield)(void);
	int (*pthread_once)(pthread_once_t *, void (*)(void));
	int (*pthread_key_create)(pthread_key_t *, void (*)(void *));
	int (*pthread_key_delete)(pthread_key_t);
	void *(*pthread_getspecific)(pthread_key_t);
	int (*pthread_setspecific)(pthread_key_t, const void *);
	int (*pthread_getattr_default_np)(pthread_attr_t *);
	int (*pthread_barrier_init)(pthread_barrier_t *,
				    const pthread_barrierattr_t *, unsigned);
	int (*pthread_barrier_wait)(pthread_barrier_t *);
	int (*pthread_barrier_destroy)(pthread_barrier_t *);
	int (*pthread_rwlock_init)(pthread_rwlock_t *,
				   const pthread_rwlockattr_t *);
	int (*pthread_rwlock_destroy)(pthread_rwlock_t *);
	int (*pthread_rwlock_rdlock)(pthread_rwlock_t *);
	int (*pthread_rwlock_tryrdlock)(pthread_rwlock_t *);
	int (*pthread_rwlock_wrlock)(pthread_rwlock_t *);
	int (*pthread_rwlock_trywrlock)(pthread_rwlock_t *);
	int (*pthread_rwlock_clockrdlock)(pthread_rwlock_t *, clockid_t,
					  const struct timespec *);
	int (*pthread_rwlock_clockwrlock)(pthread_rwlock_t *, clockid_t,
					  const struct timespec *);
	int (*pthread_rwlock_unlock)(pthread_rwlock_t *);
};

extern struct real real;

/* The real function, looked up now if a shim is called before libgmp's
 * constructor (another library's constructor, an allocator's start-up). */
#define REAL(name) (real.name ? real.name : (gmp__resolve(), real.name))

/* Look up every real function; idempotent. Context: any thread, before
 * the runtime exists (dlsym may calloc: nothing on that path is ours). */
void gmp__resolve(void);
/* shims/fileio.c's own table of real functions */
void gmp__resolve_fileio(void);
/* Start the runtime if the constructor has not run yet (another
 * library's constructor called a shim first). */
void gmp__ensure_init(void);
/* shims/cancel.c: install libgmp's SIGCANCEL handler. */
void gmp__install_sigcancel(void);
void gmp__threadstate_init(void);
void gmp__preempt_inherit(void);
/* True when the runtime is up. */
extern int gmp__active;

#pragma GCC visibility pop

#endif
