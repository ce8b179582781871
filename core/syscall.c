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
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
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
		/* its slice on the old P ended at the handoff */
		if (__builtin_expect(trace_on, 0))
			trace_ev_p(pp, TEV_RUN, gp, (uint16_t)pp->id,
				   (uint8_t)mp->id);
		return;
	}
	(void)gp;
	mcall(MCALL_EXITSYSCALL);	/* resumes on an M with a P */
}

void rt_enter(void)
{
	g *gp = getg();

	if (!gp || gp->is_g0 || !gp->m || gp->rt++ > 0)
		return;	/* !gp->m: the runtime is starting */
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

	if (!gp || gp->is_g0 || !gp->m || --gp->rt > 0)
		return;
	/* release: runtime work is done before sysmon may take the P. */
	atomic_store_explicit(&gp->m->pstate, PS_USER, memory_order_release);
	if (atomic_load_explicit(&gp->m->sigdefer, memory_order_relaxed))
		m_undefer(gp->m);
	/* a preemption that found it in the runtime (Go's cooperative
	 * check at a function's prologue) */
	if (__builtin_expect(gp->preempt_pending, 0)) {
		gp->preempt_pending = false;
		gmp_preempt_park();
	}
}

__thread bool rt_thread_busy __attribute__((tls_model("initial-exec")));
/* 1 + this thread's slot in rm.helper_tid (sysmon, template), or 0 */
static __thread int helper_slot __attribute__((tls_model("initial-exec")));

bool rt_thread_holds_nothing(void)
{
	g *gp = getg();

	if (!gp)	/* sysmon or the template, asleep */
		return helper_slot > 0 && !rt_thread_busy;
	return gp->is_g0 && gp->m->idle;
}

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
	if (__builtin_expect(trace_on, 0)) {
		pp->tr_sysg = gp;	/* before the P can be taken */
		trace_ev_p(pp, TEV_SYSCALL, gp, 0, 0);
	}
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
		if (__builtin_expect(trace_on, 0))
			trace_ev_p(pp, TEV_SYSRET, gp, 0, 0);
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

_Atomic uint64_t sched_handoffs;

void handoffp(p *pp)
{
	atomic_fetch_add_explicit(&sched_handoffs, 1, memory_order_relaxed);
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

/*
 * The signal mask of threads that run no G (DESIGN.md §6). The kernel
 * gives a process-directed signal to any thread that does not block it;
 * natively those are the program's threads that do not block it. An M
 * running a G has that G's mask (sched.c execute). sysmon, the template
 * thread and idle Ms block exactly the signals every G blocks (rt_mask),
 * so a signal all Gs block stays pending for sigwait, as natively, and a
 * fatal default still kills the process when some G does not block it.
 *
 * rt_mask is the AND of the live Gs' masks: Gs with an empty mask (the
 * usual case) are only counted; the few distinct non-empty masks are
 * kept with their counts. When rt_mask changes, the runtime threads that
 * run no G are told with SIGCANCEL (the handler rewrites the mask it
 * returns to, rt_mask_apply) and, when rt_mask grows, waited for.
 * Signals the runtime threads never block: glibc's SIGCANCEL and SIGSETXID
 * and the synchronous faults.
 */
#define NMASKS 32
#define NEVER_BLOCK ((1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1)) |     \
		     (1ull << (SIGFPE - 1)) | (1ull << (SIGILL - 1)) |        \
		     (1ull << (SIGTRAP - 1)) | (1ull << (SIGKILL - 1)) |      \
		     (1ull << (SIGSTOP - 1)) | (1ull << 31) | (1ull << 32))

static struct {
	atomic_flag lock;
	int32_t nzero;			/* Gs with an empty mask */
	uint64_t mask[NMASKS];
	int32_t n[NMASKS];
	_Atomic uint64_t gen;		/* bumped when rt_mask changes */
	_Atomic int helper_tid[4];	/* sysmon, template */
	_Atomic uint64_t helper_gen[4];
} rm = { .lock = ATOMIC_FLAG_INIT };

_Atomic uint64_t rt_mask;

static uint64_t compute(void)
{
	uint64_t and = ~0ull;
	bool any = false;

	if (rm.nzero > 0)
		return 0;
	for (int i = 0; i < NMASKS; i++) {
		if (rm.n[i] > 0) {
			and &= rm.mask[i];
			any = true;
		}
	}
	return any ? and & ~NEVER_BLOCK : 0;
}

static void publish(uint64_t old, uint64_t now)
{
	uint64_t gen = atomic_fetch_add(&rm.gen, 1) + 1;
	int self = (int)arch_syscall(SYS_gettid, 0, 0, 0, 0);
	long pid = arch_syscall(SYS_getpid, 0, 0, 0, 0);

	(void)old;
	for (int i = 0; i < 4; i++) {
		int tid = atomic_load(&rm.helper_tid[i]);
		if (tid > 0 && tid != self)
			arch_syscall(SYS_tgkill, pid, tid, 32 /* SIGCANCEL */,
				     0);
	}
	for (m *mp = sched.allm; mp; mp = mp->alllink)
		if (!mp->dead && mp->idle && mp->tid != self)
			arch_syscall(SYS_tgkill, pid, mp->tid, 32, 0);
	if (!(now & ~old))
		return;		/* fewer blocked: no hurry */
	/* more blocked: wait until each has it, or a signal the caller now
	 * blocks could still kill the process through one of them (kill
	 * right after sigprocmask). A loaded machine can leave a thread
	 * unscheduled for tens of ms; 2 s is only against a thread that
	 * never runs again. */
	int64_t until = nanotime() + 2000000000;
	for (int round = 1;; round++) {
		bool all = true;
		/* one that became idle after the SIGCANCELs went out, or took
		 * one while it was still busy, is asked again every ~1 ms */
		bool again = round % 50 == 0;
		for (int i = 0; i < 4; i++) {
			int tid = atomic_load(&rm.helper_tid[i]);
			if (tid > 0 && tid != self &&
			    atomic_load(&rm.helper_gen[i]) < gen) {
				all = false;
				if (again)
					arch_syscall(SYS_tgkill, pid, tid, 32, 0);
			}
		}
		for (m *mp = sched.allm; mp; mp = mp->alllink)
			if (!mp->dead && mp->idle && mp->tid != self &&
			    atomic_load(&mp->maskgen) < gen) {
				all = false;
				if (again)
					arch_syscall(SYS_tgkill, pid, mp->tid,
						     32, 0);
			}
		if (all || nanotime() > until)
			return;
		struct timespec ts = { 0, 20000 };
		arch_syscall(SYS_nanosleep, (long)&ts, 0, 0, 0);
	}
}

void sigmask_account(uint64_t mask, int delta)
{
	uint64_t old, now;

	while (atomic_flag_test_and_set_explicit(&rm.lock,
						 memory_order_acquire))
		arch_pause();
	old = atomic_load(&rt_mask);
	if (!mask) {
		rm.nzero += delta;
	} else {
		int free = -1, i;
		for (i = 0; i < NMASKS; i++) {
			if (rm.n[i] > 0 && rm.mask[i] == mask)
				break;
			if (rm.n[i] <= 0 && free < 0)
				free = i;
		}
		if (i < NMASKS)
			rm.n[i] += delta;
		else if (delta > 0 && free >= 0) {
			rm.mask[free] = mask;
			rm.n[free] = delta;
		}
		/* more distinct masks than NMASKS: those Gs are not
		 * counted, and rt_mask may block a signal one of them does
		 * not; it is delivered when that G next runs */
	}
	now = compute();
	atomic_store(&rt_mask, now);
	atomic_flag_clear_explicit(&rm.lock, memory_order_release);
	if (now != old)
		publish(old, now);
}

void sigmask_afterfork(uint64_t mask)
{
	rm.nzero = 0;
	memset(rm.n, 0, sizeof rm.n);
	atomic_flag_clear(&rm.lock);
	for (int i = 0; i < 4; i++)
		atomic_store(&rm.helper_tid[i], 0);
	sigmask_account(mask, 1);
}

bool rt_is_runtime_tid(int tid)
{
	for (int i = 0; i < 4; i++)
		if (atomic_load(&rm.helper_tid[i]) == tid)
			return true;
	return tid == gmp__timer_thread_tid();
}

void rt_mask_helper(void)
{
	int tid = (int)arch_syscall(SYS_gettid, 0, 0, 0, 0);

	for (int i = 0; i < 4; i++) {
		int zero = 0;
		if (atomic_compare_exchange_strong(&rm.helper_tid[i], &zero,
						   tid)) {
			helper_slot = i + 1;
			/* the generation before the mask (sigmask_account
			 * stores the mask, then counts the generation): a
			 * publish that missed this slot when it sent its
			 * SIGCANCELs has its mask here, and is acked */
			uint64_t gen = atomic_load(&rm.gen);
			uint64_t mk = atomic_load(&rt_mask);
			arch_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mk,
				     0, 8);
			/* acked once the kernel has it; a SIGCANCEL taken
			 * meanwhile may have acked a later one */
			uint64_t cur = atomic_load(&rm.helper_gen[i]);
			while (cur < gen &&
			       !atomic_compare_exchange_weak(&rm.helper_gen[i],
							     &cur, gen))
				;
			return;
		}
	}
}

void rt_mask_idle(m *mp)
{
	uint64_t gen = atomic_load(&rm.gen);	/* before the mask */
	uint64_t mk = atomic_load(&rt_mask);

	if (mp->kmask != mk) {
		arch_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mk, 0, 8);
		mp->kmask = mk;
	}
	atomic_store(&mp->maskgen, gen);	/* the kernel has it */
}

bool rt_mask_apply(void *ucontext)
{
	g *gp = getg();
	ucontext_t *uc = ucontext;
	uint64_t gen = atomic_load(&rm.gen);
	uint64_t mk = atomic_load(&rt_mask), *um;

	um = (uint64_t *)&uc->uc_sigmask;
	if (gp) {
		if (!gp->is_g0 || !gp->m->idle)
			return false;	/* it runs a G, or will set it */
		mk |= atomic_load(&gp->m->sigdefer);
		*um = mk;
		gp->m->kmask = mk;
		atomic_store(&gp->m->maskgen, gen);
		return true;
	}
	if (!helper_slot)
		return false;
	*um = mk | atomic_load(&rt_thread_defer);
	atomic_store(&rm.helper_gen[helper_slot - 1], gen);
	return true;
}

/* The signals pending on this thread only (not the process's), from
 * /proc: rt_sigpending reports both. 0 if it cannot tell. */
static uint64_t thread_pending(void)
{
	char buf[2048];
	long fd = arch_syscall(SYS_open, (long)"/proc/thread-self/status",
			       O_RDONLY | O_CLOEXEC, 0, 0);
	uint64_t v = 0;

	if (fd < 0)
		return 0;
	long n = arch_syscall(SYS_read, fd, (long)buf, sizeof buf - 1, 0);
	arch_syscall(SYS_close, fd, 0, 0, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *c = strstr(buf, "\nSigPnd:");
	if (!c)
		return 0;
	for (c += 9; *c == ' ' || *c == '\t'; c++)
		;
	for (; *c; c++) {
		int d = *c >= '0' && *c <= '9'   ? *c - '0'
			: *c >= 'a' && *c <= 'f' ? *c - 'a' + 10
						 : -1;
		if (d < 0)
			break;
		v = v << 4 | (uint64_t)d;
	}
	return v;
}

void m_take_pending(g *gp, uint64_t set)
{
	uint64_t pend;

	if (arch_syscall(SYS_rt_sigpending, (long)&pend, 8, 0, 0) < 0)
		return;
	pend &= set;
	if (pend)	/* a process-directed one is not this G's to keep */
		pend &= thread_pending();
	while (pend) {
		int sig = __builtin_ctzll(pend) + 1;
		uint64_t one = 1ull << (sig - 1);
		struct timespec zero = { 0, 0 };
		siginfo_t si;
		if (arch_syscall(SYS_rt_sigtimedwait, (long)&one, (long)&si,
				 (long)&zero, 8) == sig &&
		    !(atomic_fetch_or(&gp->sigpend, one) & one)) {
			for (int i = 0; i < 2; i++) {
				if (!gp->sipend[i].sig) {
					gp->sipend[i].sig = sig;
					gp->sipend[i].si = si;
					break;
				}
			}
		}
		pend &= ~one;
	}
}
