/*
 * posix_timer.c: timer_create with SIGEV_THREAD, at G level.
 *
 * glibc starts a helper thread of its own for SIGEV_THREAD timers and,
 * for each expiration, a new thread (with its own internal pthread_create,
 * which libgmp does not see) that calls the program's function: those
 * would be kernel threads outside the scheduler. Here the kernel timer is
 * the same (timer_settime, timer_gettime and timer_getoverrun are glibc's,
 * on the kernel timer id this returns), but its signal goes to a small
 * runtime thread (SIGEV_THREAD_ID, glibc's SIGTIMER, blocked everywhere
 * else), which counts the expiration on the timer's slot and wakes a
 * dispatcher G; the dispatcher starts one detached thread (a G) per
 * expiration with the attributes given to timer_create, as glibc does.
 * As with glibc, the function runs with every signal blocked (a signal
 * mask or cpuset in the attributes is not used), and an
 * expiration that arrives while the previous signal is still queued is
 * an overrun (timer_getoverrun), not a second call.
 *
 * Invariants: a slot's cookie (index | generation << 16) is the
 * sigev_value the kernel passes back; an expiration whose cookie no longer
 * matches (the timer was deleted) is dropped. Slots live in blocks that
 * are never freed, so the runtime thread reads them without a lock.
 * Lock order: tlock (a pthread mutex, G level) alone; the runtime thread
 * takes no lock.
 * After fork: timers are not inherited (POSIX); the table is emptied and
 * the runtime thread and dispatcher are started again on first use.
 * Go has no counterpart (its timers are G-level already, core/timer.c).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include "shim.h"

#define SIGTIMER __SIGRTMIN	/* glibc's: no program can use it */
#define BLOCK 64
#define NBLOCKS 1024		/* 65536 SIGEV_THREAD timers at once */
#define IDX_BITS 16

struct ptimer {
	_Atomic uint64_t cookie;	/* 0: free */
	_Atomic uint32_t pending;	/* expirations not dispatched yet */
	int ktimer;			/* the kernel's id */
	void (*fn)(union sigval);
	union sigval val;
	bool has_attr;
	pthread_attr_t attr;		/* a copy, detached */
};

static struct ptimer *_Atomic blocks[NBLOCKS];
/* a G-level mutex: held across pthread_create, which may park */
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t hiwater;		/* slots ever used */
static uint64_t nextgen = 1;
static int free_head = -1;		/* free slots, linked through ktimer */
static _Atomic int helper_tid;		/* 0: not started */
static _Atomic uint32_t dispatch_word;	/* bumped per expiration */
static bool started, atfork_set;

int gmp__timer_thread_tid(void)
{
	return atomic_load(&helper_tid);
}

static struct ptimer *slot(uint32_t i)
{
	struct ptimer *b = atomic_load_explicit(&blocks[i / BLOCK],
						memory_order_acquire);
	return b ? &b[i % BLOCK] : NULL;
}

/* The runtime thread: every signal blocked, it waits for SIGTIMER. */
static void *timer_thread(void *arg)
{
	uint64_t set = 1ull << (SIGTIMER - 1);
	siginfo_t si;

	(void)arg;
	/* glibc's sigfillset leaves SIGTIMER out of the start-up mask */
	arch_syscall(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, 8);
	atomic_store(&helper_tid, (int)arch_syscall(SYS_gettid, 0, 0, 0, 0));
	gmp__wake(&helper_tid, 1);
	for (;;) {
		long r = arch_syscall(SYS_rt_sigtimedwait, (long)&set,
				      (long)&si, 0, 8);
		if (r != SIGTIMER || si.si_code != SI_TIMER)
			continue;
		uint64_t c = (uint64_t)(uintptr_t)si.si_ptr;
		struct ptimer *t = slot((uint32_t)(c & ((1u << IDX_BITS) - 1)));
		if (!t || atomic_load(&t->cookie) != c)
			continue;	/* deleted since */
		atomic_fetch_add(&t->pending, 1);
		atomic_fetch_add(&dispatch_word, 1);
		gfutex_wake((const void *)&dispatch_word, 1);
	}
	return NULL;
}

struct call {
	void (*fn)(union sigval);
	union sigval val;
};

static void *call_main(void *arg)
{
	struct call c = *(struct call *)arg;

	free(arg);
	c.fn(c.val);
	return NULL;
}

/* One thread per expiration, made by the program's own pthread_create
 * path (so it is a G like any other). tlock is held: timer_delete waits,
 * and the attributes stay valid. */
static void dispatch(struct ptimer *t, uint32_t n)
{
	pthread_mutex_lock(&tlock);
	for (uint32_t i = 0; i < n && atomic_load(&t->cookie); i++) {
		struct call *c = malloc(sizeof *c);
		if (!c)
			break;	/* as glibc: nothing to be done */
		c->fn = t->fn;
		c->val = t->val;
		pthread_t th;
		pthread_attr_t def;
		if (!t->has_attr) {
			pthread_attr_init(&def);
			pthread_attr_setdetachstate(&def,
						    PTHREAD_CREATE_DETACHED);
		}
		if (pthread_create(&th, t->has_attr ? &t->attr : &def,
				   call_main, c) != 0)
			free(c);
		if (!t->has_attr)
			pthread_attr_destroy(&def);
	}
	pthread_mutex_unlock(&tlock);
}

static void *dispatcher_main(void *arg)
{
	(void)arg;
	curg()->is_system = true;	/* not the program's: dumps, deadlock */
	for (;;) {
		uint32_t v = atomic_load(&dispatch_word);
		uint32_t hw = __atomic_load_n(&hiwater, __ATOMIC_ACQUIRE);
		for (uint32_t i = 0; i < hw; i++) {
			struct ptimer *t = slot(i);
			uint32_t n;
			if (t && atomic_load(&t->pending) &&
			    (n = atomic_exchange(&t->pending, 0)))
				dispatch(t, n);
		}
		wait_why(WAIT_SYSTEM);
		gfutex_wait((const void *)&dispatch_word, v, -1);
	}
	return NULL;
}

static void timers_afterfork_child(void)
{
	pthread_mutex_init(&tlock, NULL);
	for (uint32_t i = 0; i < hiwater; i++) {
		struct ptimer *t = slot(i);
		if (t)
			atomic_store(&t->cookie, 0);
	}
	hiwater = 0;
	free_head = -1;
	started = false;
	atomic_store(&helper_tid, 0);
}

/* The runtime thread and the dispatcher G, once. tlock held (a G-level
 * mutex: the wait for the thread parks only this G). */
static int start_locked(void)
{
	if (started)
		return 0;
	if (!atfork_set) {
		pthread_atfork(NULL, NULL, timers_afterfork_child);
		atfork_set = true;
	}
	int r = m_start_helper_try(timer_thread, 256 << 10);
	if (r)
		return r;
	while (atomic_load(&helper_tid) == 0)
		gmp__wait(&helper_tid, 0, -1);
	/* the dispatcher blocks every signal (a process signal never picks
	 * it), and the threads it starts inherit that, as glibc's do; it
	 * does not count as a thread of the program's for exit */
	pthread_attr_t a;
	sigset_t all;
	pthread_t th;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 << 10);
	sigfillset(&all);
	pthread_attr_setsigmask_np(&a, &all);
	r = pthread_create(&th, &a, dispatcher_main, NULL);
	pthread_attr_destroy(&a);
	if (r)
		return r;	/* the runtime thread waits for nothing */
	live_g_add(-1);
	started = true;
	return 0;
}

/* A free slot, or -1 (EAGAIN). tlock held. */
static int slot_alloc(void)
{
	if (free_head >= 0) {
		int i = free_head;
		free_head = slot((uint32_t)i)->ktimer;
		return i;
	}
	if (hiwater >= BLOCK * NBLOCKS)
		return -1;
	if (!slot(hiwater)) {
		struct ptimer *b = calloc(BLOCK, sizeof *b);
		if (!b)
			return -1;
		atomic_store_explicit(&blocks[hiwater / BLOCK], b,
				      memory_order_release);
	}
	__atomic_store_n(&hiwater, hiwater + 1, __ATOMIC_RELEASE);
	return (int)hiwater - 1;
}

static void slot_free(int i)
{
	struct ptimer *t = slot((uint32_t)i);

	atomic_store(&t->cookie, 0);
	atomic_store(&t->pending, 0);
	if (t->has_attr)
		pthread_attr_destroy(&t->attr);
	t->has_attr = false;
	t->ktimer = free_head;
	free_head = i;
}

EXPORT int timer_create(clockid_t clk, struct sigevent *sev, timer_t *id)
{
	gmp__ensure_init();
	if (!sev || sev->sigev_notify != SIGEV_THREAD || !curg())
		return REAL(timer_create)(clk, sev, id);
	pthread_mutex_lock(&tlock);
	int r = start_locked();
	if (r) {
		pthread_mutex_unlock(&tlock);
		errno = EAGAIN;
		return -1;
	}
	int i = slot_alloc();
	if (i < 0) {
		pthread_mutex_unlock(&tlock);
		errno = EAGAIN;
		return -1;
	}
	struct ptimer *t = slot((uint32_t)i);
	uint64_t cookie = (uint64_t)i | nextgen++ << IDX_BITS;
	t->fn = sev->sigev_notify_function;
	t->val = sev->sigev_value;
	t->has_attr = false;
	if (sev->sigev_notify_attributes) {
		/* glibc copies the scheduling, scope, guard and stack
		 * settings (not the cpuset or signal mask) and makes the
		 * threads detached */
		pthread_attr_t *src = sev->sigev_notify_attributes;
		size_t sz;
		void *lo;
		int v;
		struct sched_param sp;
		pthread_attr_init(&t->attr);
		pthread_attr_getstack(src, &lo, &sz);
		if ((uintptr_t)lo + sz != 0)
			pthread_attr_setstack(&t->attr, lo, sz);
		else if (pthread_attr_getstacksize(src, &sz) == 0)
			pthread_attr_setstacksize(&t->attr, sz);
		if (pthread_attr_getguardsize(src, &sz) == 0)
			pthread_attr_setguardsize(&t->attr, sz);
		if (pthread_attr_getinheritsched(src, &v) == 0)
			pthread_attr_setinheritsched(&t->attr, v);
		if (pthread_attr_getschedpolicy(src, &v) == 0)
			pthread_attr_setschedpolicy(&t->attr, v);
		if (pthread_attr_getschedparam(src, &sp) == 0)
			pthread_attr_setschedparam(&t->attr, &sp);
		if (pthread_attr_getscope(src, &v) == 0)
			pthread_attr_setscope(&t->attr, v);
		pthread_attr_setdetachstate(&t->attr, PTHREAD_CREATE_DETACHED);
		t->has_attr = true;
	}
	atomic_store(&t->pending, 0);
	atomic_store(&t->cookie, cookie);
	struct sigevent k;
	memset(&k, 0, sizeof k);
	k.sigev_notify = SIGEV_SIGNAL | SIGEV_THREAD_ID;
	k.sigev_signo = SIGTIMER;
	k.sigev_value.sival_ptr = (void *)(uintptr_t)cookie;
	k._sigev_un._tid = atomic_load(&helper_tid);
	int kid;
	long kr = arch_syscall(SYS_timer_create, clk, (long)&k, (long)&kid, 0);
	if (kr < 0) {
		slot_free(i);
		pthread_mutex_unlock(&tlock);
		errno = (int)-kr;
		return -1;
	}
	t->ktimer = kid;
	pthread_mutex_unlock(&tlock);
	*id = (timer_t)(intptr_t)kid;
	return 0;
}

EXPORT int timer_delete(timer_t id)
{
	intptr_t kid = (intptr_t)id;

	gmp__ensure_init();
	if (kid >= 0 && kid <= INT32_MAX) {
		pthread_mutex_lock(&tlock);
		for (uint32_t i = 0; i < hiwater; i++) {
			struct ptimer *t = slot(i);
			if (atomic_load(&t->cookie) && t->ktimer == (int)kid) {
				long r = arch_syscall(SYS_timer_delete, kid, 0,
						      0, 0);
				if (r == 0)
					slot_free((int)i);
				pthread_mutex_unlock(&tlock);
				if (r < 0) {
					errno = (int)-r;
					return -1;
				}
				return 0;
			}
		}
		pthread_mutex_unlock(&tlock);
	}
	return REAL(timer_delete)(id);
}
