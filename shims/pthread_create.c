/*
 * pthread_create.c: the thread lifecycle at G level: create, join (plain,
 * try, timed, clock), detach, exit, getattr_np, names and scheduling
 * attributes. Every thread the program creates is a G (core/g.c makes it,
 * core/sched.c runs it). pthread_t is the G's TCB address, as in glibc, so
 * pthread_self and pthread_equal need no shim.
 *
 * Decisions. Scheduling attributes (policy, priority, inheritsched, scope)
 * are validated, recorded and reported back; a policy other than
 * SCHED_OTHER at 0 wires the G to a kernel thread of its own, which gets
 * that policy (shims/threadstate.c). Thread names are kept per G; the kernel's comm of the M is
 * not changed. A pthread_t that is not a G (a thread glibc started for
 * itself) goes to glibc.
 */
#include <limits.h>
#include <string.h>
#include "shim.h"

static int read_attr(const pthread_attr_t *attr, struct gattr *a)
{
	pthread_attr_t def;
	struct sched_param sp;
	size_t size;
	void *lo;
	int ds;

	if (!attr) {
		REAL(pthread_getattr_default_np)(&def);
		attr = &def;
	}
	pthread_attr_getstacksize(attr, &a->stacksize);
	pthread_attr_getguardsize(attr, &a->guardsize);
	/* glibc keeps the stack's top, NULL unless set: lo + size == 0 */
	pthread_attr_getstack(attr, &lo, &size);
	if ((uintptr_t)lo + size != 0) {
		a->stackaddr = lo;
		a->stacksize = size;
		a->guardsize = 0;
	}
	pthread_attr_getdetachstate(attr, &ds);
	a->detached = ds == PTHREAD_CREATE_DETACHED;
	pthread_attr_getinheritsched(attr, &a->inheritsched);
	pthread_attr_getscope(attr, &a->scope);
	if (a->inheritsched == PTHREAD_INHERIT_SCHED && curg()) {
		a->policy = curg()->sched_policy;
		a->prio = curg()->sched_prio;
	} else {
		pthread_attr_getschedpolicy(attr, &a->policy);
		pthread_attr_getschedparam(attr, &sp);
		a->prio = sp.sched_priority;
	}
	if (attr == &def)
		pthread_attr_destroy(&def);
	return 0;
}

EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg)
{
	struct gattr a = { 0 };
	g *gp;

	gmp__ensure_init();
	if (!curg())
		return REAL(pthread_create)(t, attr, fn, arg);
	read_attr(attr, &a);
	int r = g_create(&a, fn, arg, &gp);
	if (r < 0)
		return -r;
	*t = (pthread_t)gp->tp;
	gmp__threadstate_new(gp, attr);
	sigset_t ss;	/* pthread_attr_setsigmask_np: the new thread's mask */
	if (attr && pthread_attr_getsigmask_np(attr, &ss) == 0) {
		uint64_t mk;
		memcpy(&mk, &ss, sizeof mk);
		/* what the kernel and glibc never let a thread block */
		mk &= ~(1ull << (SIGKILL - 1) | 1ull << (SIGSTOP - 1) |
			1ull << (__SIGRTMIN - 1) | 1ull << __SIGRTMIN);
		gp->sigmask = mk;
	}
	newproc(gp);
	return 0;
}

/* Claim the right to join gp; 0 or an errno value. */
static int join_begin(g *gp)
{
	uint32_t w = atomic_load(&gp->joinword);

	do {
		if (w & (JOIN_DETACHED | JOIN_JOINING))
			return EINVAL;
	} while (!atomic_compare_exchange_weak(&gp->joinword, &w,
					       w | JOIN_JOINING));
	return 0;
}

static int join_wait(g *gp, void **ret, int64_t deadline, bool try)
{
	int r;

	if (gp == curg())
		return EDEADLK;
	if ((r = join_begin(gp)))
		return r;
	for (;;) {
		uint32_t w = atomic_load(&gp->joinword);
		if (w & JOIN_EXITED)
			break;
		if (try) {
			atomic_fetch_and(&gp->joinword, ~JOIN_JOINING);
			return EBUSY;
		}
		g *self = curg();
		wait_why(WAIT_JOIN);
		r = self ? gmp__wait_full(self, &gp->joinword, w, deadline,
					  WF_POINT)
			 : gmp__wait(&gp->joinword, w, deadline);
		if (r == -ECANCELED) {
			/* cancelled: the target stays joinable */
			atomic_fetch_and(&gp->joinword, ~JOIN_JOINING);
			gmp__testcancel();
		}
		if (r == -ETIMEDOUT &&
		    !(atomic_load(&gp->joinword) & JOIN_EXITED)) {
			atomic_fetch_and(&gp->joinword, ~JOIN_JOINING);
			return ETIMEDOUT;
		}
	}
	if (ret)
		*ret = gp->result;
	g_release(gp, false);
	return 0;
}

/* Not a live G: an ended one is ESRCH, anything else is glibc's. */
#define NOT_OURS(t, call) (g_thread_ended(t) ? ESRCH : (call))

EXPORT int pthread_join(pthread_t t, void **ret)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return NOT_OURS(t, REAL(pthread_join)(t, ret));
	return join_wait(gp, ret, -1, false);
}

EXPORT int pthread_tryjoin_np(pthread_t t, void **ret)
{
	g *gp = g_from_thread(t);

	return gp ? join_wait(gp, ret, -1, true)
		  : NOT_OURS(t, REAL(pthread_tryjoin_np)(t, ret));
}

static int clockjoin(g *gp, void **ret, clockid_t clk,
		     const struct timespec *abstime)
{
	if (atomic_load(&gp->joinword) & JOIN_EXITED)
		return join_wait(gp, ret, -1, false);
	if (!abstime)
		return join_wait(gp, ret, -1, false);
	if (!ts_valid(abstime))
		return EINVAL;
	int64_t d = gmp__deadline(clk, abstime);
	if (d < 0)
		return EINVAL;
	return join_wait(gp, ret, d, false);
}

EXPORT int pthread_timedjoin_np(pthread_t t, void **ret,
				const struct timespec *abstime)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return NOT_OURS(t, REAL(pthread_timedjoin_np)(t, ret, abstime));
	return clockjoin(gp, ret, CLOCK_REALTIME, abstime);
}

EXPORT int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clk,
				const struct timespec *abstime)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return NOT_OURS(t, REAL(pthread_clockjoin_np)(t, ret, clk,
							    abstime));
	if (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC)
		return EINVAL;
	return clockjoin(gp, ret, clk, abstime);
}

EXPORT int pthread_detach(pthread_t t)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return NOT_OURS(t, REAL(pthread_detach)(t));
	uint32_t w = atomic_load(&gp->joinword);
	do {
		if (w & (JOIN_DETACHED | JOIN_JOINING))
			return EINVAL;
	} while (!atomic_compare_exchange_weak(&gp->joinword, &w,
					       w | JOIN_DETACHED));
	if (w & JOIN_EXITED)
		g_release(gp, false);
	return 0;
}

EXPORT int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
	g *gp = g_from_thread(t);
	struct sched_param sp;

	if (!gp || gp->is_main)
		return REAL(pthread_getattr_np)(t, attr);
	pthread_attr_init(attr);
	pthread_attr_setstack(attr, (char *)gp->map_base + gp->guard,
			      gp->map_size - gp->guard);
	pthread_attr_setguardsize(attr, gp->guard - gp->guard_hidden);
	pthread_attr_setdetachstate(attr,
				    atomic_load(&gp->joinword) & JOIN_DETACHED
					    ? PTHREAD_CREATE_DETACHED
					    : PTHREAD_CREATE_JOINABLE);
	pthread_attr_setinheritsched(attr, gp->inheritsched);
	pthread_attr_setscope(attr, gp->scope);
	pthread_attr_setschedpolicy(attr, gp->sched_policy);
	sp.sched_priority = gp->sched_prio;
	pthread_attr_setschedparam(attr, &sp);
	return 0;
}

EXPORT int pthread_setname_np(pthread_t t, const char *name)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return REAL(pthread_setname_np)(t, name);
	size_t n = strlen(name);
	if (n >= sizeof gp->name)
		return ERANGE;
	memcpy(gp->name, name, n + 1);
	return 0;
}

EXPORT int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return REAL(pthread_getname_np)(t, buf, len);
	if (len < sizeof gp->name)	/* glibc asks for TASK_COMM_LEN */
		return ERANGE;
	memcpy(buf, gp->name, sizeof gp->name);
	buf[sizeof gp->name - 1] = 0;
	return 0;
}

EXPORT int pthread_getschedparam(pthread_t t, int *policy,
				 struct sched_param *sp)
{
	g *gp = g_from_thread(t);

	if (!gp || gp->is_main)
		return REAL(pthread_getschedparam)(t, policy, sp);
	*policy = gp->sched_policy;
	memset(sp, 0, sizeof *sp);
	sp->sched_priority = gp->sched_prio;
	return 0;
}

EXPORT int pthread_setschedparam(pthread_t t, int policy,
				 const struct sched_param *sp)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return g_thread_ended(t) ? ESRCH
					 : REAL(pthread_setschedparam)(t, policy,
								       sp);
	return gmp__set_sched(gp, policy, sp->sched_priority);
}

EXPORT int pthread_setschedprio(pthread_t t, int prio)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return g_thread_ended(t) ? ESRCH
					 : REAL(pthread_setschedprio)(t, prio);
	return gmp__set_sched(gp, gp->sched_policy, prio);
}
