/*
 * syscall.c: system calls that may block. Go: entersyscall, exitsyscall,
 * exitsyscallfast, handoffp (proc.go). Owns m.oldp and the P_SYSCALL
 * state of a P.
 *
 * Model (DESIGN.md §4, class 2). A G about to make a blocking call
 * detaches its P: the P stays P_SYSCALL, owned by nobody, remembered in
 * m.oldp. If the call returns quickly, exitsyscall takes the same P back
 * with one CAS and nothing else happened. If it lasts, sysmon (sysmon.c)
 * wins that CAS instead and hands the P to another M (handoffp), so the
 * other Gs keep running; the returning M then takes any idle P, or queues
 * its G on the global queue and sleeps until an M is needed.
 *
 * Invariants. A P in P_SYSCALL has m == NULL and exactly one M with
 * m.oldp pointing at it. Whoever moves it out of P_SYSCALL by CAS (the
 * returning M or sysmon) owns it.
 *
 * Rejected. A thread per blocking call (as libraries without a scheduler
 * do): costs the kernel thread the G was meant to save. Handing the P off
 * at every call: a futex wake per read(2); the fast path is one CAS.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include "core.h"

/* The M has no P (exitsyscall's CAS lost, or sysmon took it while the G
 * ran user code): take any idle P, or queue the G globally and let this
 * M sleep until a P needs it. */
static void reacquire(g *gp, m *mp)
{
	lock(&sched.lock);
	p *pp = pidleget();
	unlock(&sched.lock);
	if (pp) {
		acquirep(mp, pp);
		return;
	}
	(void)gp;
	mcall(MCALL_EXITSYSCALL);	/* resumes on an M with a P */
}

void rt_enter(void)
{
	g *gp = getg();

	if (!gp || gp->is_g0 || gp->rt++ > 0)
		return;
	m *mp = gp->m;
	for (;;) {
		int s = PS_USER;
		/* acquire: pairs with sysmon's release of PS_STOLEN. */
		if (atomic_compare_exchange_strong_explicit(
			    &mp->pstate, &s, PS_RUNTIME, memory_order_acquire,
			    memory_order_acquire))
			return;
		if (s == PS_STOLEN) {
			atomic_store_explicit(&mp->pstate, PS_RUNTIME,
					      memory_order_relaxed);
			sysmon_kick();
			reacquire(gp, mp);
			return;
		}
		if (s == PS_RUNTIME)
			return;	/* a signal handler inside the runtime */
		arch_pause();	/* PS_STEALING: sysmon is mid-way */
	}
}

void rt_exit(void)
{
	g *gp = getg();

	if (!gp || gp->is_g0 || --gp->rt > 0)
		return;
	/* release: runtime work is done before sysmon may take the P. */
	atomic_store_explicit(&gp->m->pstate, PS_USER, memory_order_release);
	if (atomic_load_explicit(&gp->m->sigdefer, memory_order_relaxed))
		m_undefer(gp->m);
}

__thread bool rt_thread_busy __attribute__((tls_model("initial-exec")));

bool m_in_runtime(void)
{
	g *gp = getg();

	if (!gp)	/* not an M: sysmon, the template, glibc's threads */
		return rt_thread_busy;
	if (gp->is_g0)
		return !gp->m->idle;
	return gp->rt > 0;
}

/* deferred signals of a runtime thread that is not an M */
static __thread _Atomic uint64_t rt_thread_defer
	__attribute__((tls_model("initial-exec")));

void m_defer_signal(int sig, siginfo_t *si, void *ucontext)
{
	g *gp = getg();
	_Atomic uint64_t *defer = gp ? &gp->m->sigdefer : &rt_thread_defer;
	ucontext_t *uc = ucontext;

	atomic_fetch_or(defer, 1ull << (sig - 1));
	sigaddset(&uc->uc_sigmask, sig);	/* still blocked on return */
	arch_syscall(SYS_rt_tgsigqueueinfo, arch_syscall(SYS_getpid, 0, 0, 0, 0),
		     arch_syscall(SYS_gettid, 0, 0, 0, 0), sig, si);
}

static void undefer(_Atomic uint64_t *defer)
{
	uint64_t bits = atomic_exchange(defer, 0);

	if (bits)	/* delivered here and now, out of the runtime */
		arch_syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &bits, NULL, 8);
}

void m_undefer(m *mp)
{
	undefer(&mp->sigdefer);
}

void rt_thread_idle(bool idle)
{
	rt_thread_busy = !idle;
	if (idle && atomic_load_explicit(&rt_thread_defer,
					 memory_order_relaxed))
		undefer(&rt_thread_defer);
}

void rt_start(void)
{
	g *gp = getg();

	gp->rt = 0;
	atomic_store_explicit(&gp->m->pstate, PS_USER, memory_order_release);
	if (atomic_load_explicit(&gp->m->sigdefer, memory_order_relaxed))
		m_undefer(gp->m);
}

bool entersyscall(void)
{
	g *gp = getg();

	/* A signal handler that interrupted a syscall (or the runtime) and
	 * makes a call of its own: the M has no P to detach, or must keep
	 * the one it has; the call simply runs. */
	if (atomic_load_explicit(&gp->status, memory_order_relaxed) !=
		    G_RUNNING ||
	    gp->rt > 0 || !gp->m->p)
		return false;
	rt_enter();
	gp->rt--;	/* the M holds no P until exitsyscall */
	m *mp = gp->m;
	p *pp = mp->p;

	pp->syscalltick++;
	pp->nsyscall++;
	atomic_store_explicit(&gp->status, G_SYSCALL, memory_order_relaxed);
	mp->oldp = pp;
	mp->p = NULL;
	pp->m = NULL;
	/* release: the fields above are visible to sysmon's CAS. */
	atomic_store_explicit(&pp->status, P_SYSCALL, memory_order_release);
	sysmon_kick();
	return true;
}

void exitsyscall(void)
{
	g *gp = getg();
	m *mp = gp->m;
	p *pp = mp->oldp;
	int s = P_SYSCALL;

	mp->oldp = NULL;
	/* acquire: pairs with entersyscall's release (same M) and makes the
	 * P ours again if sysmon did not take it. */
	if (atomic_compare_exchange_strong_explicit(&pp->status, &s, P_RUNNING,
						    memory_order_acquire,
						    memory_order_relaxed)) {
		mp->p = pp;
		pp->m = mp;
	} else {
		atomic_store_explicit(&gp->status, G_RUNNING,
				      memory_order_relaxed);
		reacquire(gp, mp);
	}
	atomic_store_explicit(&gp->status, G_RUNNING, memory_order_relaxed);
	/* release: back to user code on whatever M runs us now */
	atomic_store_explicit(&getg()->m->pstate, PS_USER,
			      memory_order_release);
}

void handoffp(p *pp)
{
	/* work queued on it, or globally: it needs an M now */
	if (!runqempty(pp) ||
	    atomic_load_explicit(&sched.runqsize, memory_order_relaxed)) {
		startm(pp, false);
		return;
	}
	/* nobody is looking for work: let this P's M be the one */
	int32_t zero = 0;
	if (atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) == 0 &&
	    atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1)) {
		startm(pp, true);
		return;
	}
	lock(&sched.lock);
	if (atomic_load_explicit(&sched.runqsize, memory_order_relaxed)) {
		unlock(&sched.lock);
		startm(pp, false);
		return;
	}
	pidleput(pp);
	unlock(&sched.lock);
	/* a due timer needs someone awake */
	int64_t next = timers_next();
	if (next >= 0 && next <= nanotime() + 1000000)
		wakep();
}
