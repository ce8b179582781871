/*
 * cancel.c: thread cancellation and pthread_exit for Gs: pthread_cancel,
 * pthread_setcancelstate, pthread_setcanceltype, pthread_testcancel, and
 * the helpers every cancellation point uses.
 *
 * Model. A G's cancellation state is glibc's own: the cancelhandling word
 * of its struct pthread (core/g.c finds it), with glibc's bits. So glibc's
 * cancellation points that libgmp does not interpose (open, close, fgets
 * reading a pipe...) act on a cancelled G by themselves, as natively.
 * Acting means glibc's pthread_exit(PTHREAD_CANCELED): a forced unwind
 * that runs the cleanup handlers and C++ destructors and lands back in
 * core/g.c, which ends the G (pthread_join then returns PTHREAD_CANCELED).
 *
 * Where a cancelled G is found:
 *   - parked at a G-level cancellation point (condvar wait, join, sleeps,
 *     semaphore waits; with asynchronous cancellation any G-level wait,
 *     mutexes included): the wait is interruptible (g.interruptible),
 *     pthread_cancel ends it with g_interrupt, and the G acts once it has
 *     put its object back in order (a condvar waiter re-locks the mutex
 *     first, as POSIX requires);
 *   - in a blocking call bracketed with entersyscall (shims/fileio.c):
 *     during the call glibc's own check is disabled (the call must not
 *     unwind while the runtime counts the G as in a syscall), and
 *     pthread_cancel sends SIGCANCEL to the G's M. The handler makes the
 *     system call return EINTR if it is at (about to run, or restart) the
 *     syscall instruction; the shim leaves the syscall state, then acts.
 *     A signal that arrives just before the instruction is not seen
 *     there, so sysmon re-sends SIGCANCEL on every tick until the G acts;
 *   - running, with asynchronous cancellation: the handler acts at once
 *     unless the G is inside the runtime (then sysmon re-sends);
 *   - blocked in glibc's own wait on a process-shared object
 *     (GMP_AS_SYSCALL): glibc makes such waits asynchronous, so the
 *     handler acts as glibc's own would, and the unwind leaves the
 *     syscall state in GMP_AS_SYSCALL's cleanup handler.
 * A G that has cancellation disabled keeps the request pending; enabling
 * it acts at the next cancellation point (or at once if asynchronous).
 *
 * SIGCANCEL (glibc's reserved SIGRTMIN) gets libgmp's handler on the
 * first pthread_cancel of a G, installed with the raw system call since
 * glibc's sigaction refuses it. The handler does nothing for a signal not
 * sent by this process with tgkill, or for a G that is not cancelled (the
 * M may have switched Gs since; SA_RESTART then restarts what it
 * interrupted).
 *
 * Rejected. Implementing the cancellation points' system calls ourselves
 * with a cancellable syscall stub (musl's way): it closes the window that
 * sysmon's re-send covers, but means re-implementing every glibc wrapper
 * libgmp interposes.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

/* glibc's cancelhandling bits (nptl/descr.h) */
#define CS_DISABLE	0x01	/* CANCELSTATE_BIT set: disabled */
#define CT_ASYNC	0x02	/* CANCELTYPE_BIT set: asynchronous */
#define C_CANCELING	0x04
#define C_CANCELED	0x08
#define C_EXITING	0x10
#define C_TERMINATED	0x20

#define SIGCANCEL	__SIGRTMIN

static _Atomic int kicks;	/* Gs waiting for a re-sent SIGCANCEL */
static _Atomic int handler_state;	/* 0 none, 1 installing, 2 done */

/* Enabled, cancelled and not already exiting. */
static bool pending(int v)
{
	return (v & (CS_DISABLE | C_CANCELED | C_EXITING | C_TERMINATED)) ==
	       C_CANCELED;
}

static bool pending_async(int v)
{
	return pending(v) && (v & CT_ASYNC);
}

_Noreturn void gmp__do_cancel(g *gp)
{
	if (atomic_exchange(&gp->cancel_kick, false))
		atomic_fetch_sub(&kicks, 1);
	gp->interruptible = 0;
	atomic_fetch_and(&gp->intr_req, ~INTR_CANCEL);
	gp->result = PTHREAD_CANCELED;
	gp->exit_set = true;
	if (!g_unwind_ready(gp))
		g_exit(PTHREAD_CANCELED);
	/* glibc sets EXITING and unwinds to the G's bottom buffer */
	REAL(pthread_exit)(PTHREAD_CANCELED);
	__builtin_unreachable();
}

void gmp__testcancel(void)
{
	g *gp = curg();
	_Atomic int *w = gp ? g_cancelword(gp) : NULL;

	if (w && pending(atomic_load(w)))
		gmp__do_cancel(gp);
}

bool gmp__point_begin(g *gp)
{
	_Atomic int *w = g_cancelword(gp);

	if (w && pending(atomic_load(w)))
		gmp__do_cancel(gp);
	return true;
}

int gmp__wait_full(g *gp, const void *addr, uint32_t val, int64_t deadline,
		   unsigned f)
{
	_Atomic int *w = g_cancelword(gp);
	int v = w ? atomic_load(w) : CS_DISABLE;
	unsigned kinds = INTR_HANDLER;
	int r;

	if (!(v & (CS_DISABLE | C_EXITING | C_TERMINATED))) {
		if (f & WF_POINT) {
			if (v & C_CANCELED) {
				gp->why_next = 0;
				return -ECANCELED;
			}
			kinds |= INTR_CANCEL;
		} else if (v & CT_ASYNC) {
			if (v & C_CANCELED)
				gmp__do_cancel(gp);
			kinds |= INTR_CANCEL;
		}
	}
	gp->interruptible = (uint8_t)kinds;
	r = gfutex_wait(addr, val, deadline);
	gp->interruptible = 0;
	if (r != -EINTR)
		return r;
	if ((kinds & INTR_CANCEL) && pending(atomic_load(w))) {
		if (f & WF_POINT)
			return -ECANCELED;
		gmp__do_cancel(gp);
	}
	unsigned q = atomic_fetch_and(&gp->intr_req, (uint8_t)~INTR_HANDLER);
	bool intr = false;
	bool restart;
	/* the kernel restarts an untimed futex wait for an SA_RESTART
	 * handler, and never a timed one or a sleep */
	if ((q & INTR_HANDLER) && gmp__run_pending(gp, &restart) &&
	    (f & WF_SIGNAL) &&
	    !(restart && (f & WF_RESTARTABLE) && deadline < 0))
		intr = true;
	return intr ? -EINTR : 0;	/* 0: spurious, the caller re-checks */
}

int gmp__sleep(int64_t deadline)
{
	g *gp = curg();

	for (;;) {
		wait_why(WAIT_SLEEP);
		int r = gmp__wait_full(gp, &gp->sleepword, 0, deadline,
				       WF_POINT | WF_SIGNAL);
		if (r == -ETIMEDOUT)
			return 0;
		if (r == -EINTR)
			return -EINTR;
		if (r == -ECANCELED)
			gmp__testcancel();
	}
}

int gmp__syscall_begin(g *gp)
{
	_Atomic int *w = g_cancelword(gp);

	if (!w)
		return 0;
	/* seq_cst, store then read: pairs with pthread_cancel's CAS then
	 * read of in_cancel_syscall. Either it sees us in the call, or we
	 * see its request here. */
	atomic_store(&gp->in_cancel_syscall, true);
	int old = atomic_fetch_or(w, CS_DISABLE);
	if (old & CS_DISABLE) {
		atomic_store(&gp->in_cancel_syscall, false);
		return 0;	/* disabled by the program: leave it */
	}
	if (pending(old)) {
		atomic_fetch_and(w, ~CS_DISABLE);
		atomic_store(&gp->in_cancel_syscall, false);
		gmp__do_cancel(gp);
	}
	return 1;
}

void gmp__syscall_unwound(void *arg)
{
	g *gp = arg;

	gp->glibc_wait = false;
	exitsyscall();
}

void gmp__syscall_end(g *gp, int armed, bool eintr)
{
	if (!armed)
		return;
	_Atomic int *w = g_cancelword(gp);
	int v = atomic_fetch_and(w, ~CS_DISABLE) & ~CS_DISABLE;
	atomic_store(&gp->in_cancel_syscall, false);
	if (eintr && pending(v))
		gmp__do_cancel(gp);
}

/* ---- SIGCANCEL -------------------------------------------------------- */

static void send_sigcancel(g *gp);

static void on_sigcancel(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	if (si->si_code != SI_TKILL || si->si_pid != getpid())
		return;
	if (rt_mask_apply(uc))	/* a thread running no G: a mask update */
		return;
	g *gp = curg();
	if (!gp)
		return;
	gmp__kicked(gp, uc);	/* signals sent with pthread_kill */
	_Atomic int *w = g_cancelword(gp);
	if (!w)
		return;
	int v = atomic_load(w);
	if (atomic_load(&gp->in_cancel_syscall)) {
		/* enabled on entry (see gmp__syscall_begin) */
		if ((v & C_CANCELED) && !(v & (C_EXITING | C_TERMINATED)))
			arch_ctx_fail_syscall(uc, EINTR);
		return;
	}
	int st = atomic_load_explicit(&gp->status, memory_order_relaxed);
	/* running, or in glibc's own cancellable wait (GMP_AS_SYSCALL,
	 * whose frame leaves the syscall state during the unwind) */
	if (pending_async(v) && gp->rt == 0 &&
	    (st == G_RUNNING || (st == G_SYSCALL && gp->glibc_wait)))
		gmp__do_cancel(gp);	/* unwinds through the signal frame */
}

void gmp__install_sigcancel(void)
{
	int s = 0;

	if (atomic_load(&handler_state) == 2)
		return;
	if (atomic_compare_exchange_strong(&handler_state, &s, 1)) {
		/* SIGCANCEL is blocked while its handler runs: kicks that
		 * come during it (a program handler run there, on a G's
		 * stack that may be 16 KiB) wait instead of nesting frames
		 * (3.4 KiB each with AVX-512 state) until the kernel cannot
		 * push one. A G that leaves the handler without returning
		 * (cancellation, pthread_exit or longjmp from a program
		 * handler) gets SIGCANCEL unblocked by its exit's SETMASK
		 * (gmp__sig_exiting) or its next switch. */
		int r = arch_sigaction_mask(SIGCANCEL, on_sigcancel,
					    SA_SIGINFO | SA_RESTART,
					    preempt_sig ? 1ull << (preempt_sig - 1)
							: 0);
		if (r < 0)
			warnf("cannot install the SIGCANCEL handler (%d): "
			      "cancelling a thread blocked in a system call "
			      "waits for the call to return", r);
		atomic_store(&handler_state, 2);
		return;
	}
	while (atomic_load(&handler_state) != 2)
		arch_pause();
}

void gmp__kick(g *gp)
{
	gmp__install_sigcancel();
	send_sigcancel(gp);
}

static void send_sigcancel(g *gp)
{
	m *mp = gp->m;
	int st = atomic_load_explicit(&gp->status, memory_order_relaxed);

	if (mp && (st == G_RUNNING || st == G_SYSCALL))
		arch_syscall(SYS_tgkill, getpid(), mp->tid, SIGCANCEL, 0);
}

static void kick_one(g *gp, void *arg)
{
	(void)arg;
	if (!atomic_load_explicit(&gp->cancel_kick, memory_order_relaxed))
		return;
	_Atomic int *w = g_cancelword(gp);
	if (atomic_load_explicit(&gp->status, memory_order_relaxed) ==
		    G_DEAD ||
	    !(atomic_load(w) & C_CANCELED)) {
		/* it ended without acting (returned, or exited), or its
		 * memory is a new thread's now */
		if (atomic_exchange(&gp->cancel_kick, false))
			atomic_fetch_sub(&kicks, 1);
		return;
	}
	send_sigcancel(gp);
}

/* sysmon, every tick (signal.c) */
void gmp__cancel_kicks(void)
{
	if (atomic_load_explicit(&kicks, memory_order_relaxed) > 0)
		g_foreach(kick_one, NULL);
}

/* ---- the API ---------------------------------------------------------- */

EXPORT int pthread_cancel(pthread_t t)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return g_thread_ended(t) ? ESRCH : REAL(pthread_cancel)(t);
	_Atomic int *w = g_cancelword(gp);
	if (!w) {
		warnf("pthread_cancel: unknown glibc thread layout; refused");
		return ENOTSUP;
	}
	int old = atomic_load(w), nw;
	do {
		if (old & (C_EXITING | C_TERMINATED))
			return 0;
		nw = old | C_CANCELING | C_CANCELED;
		if (nw == old)
			return 0;
	} while (!atomic_compare_exchange_weak(w, &old, nw));
	if (gp == curg()) {
		if (pending_async(nw))
			gmp__do_cancel(gp);
		return 0;
	}
	bool insys = atomic_load(&gp->in_cancel_syscall);
	if ((nw & CS_DISABLE) && !insys)
		return 0;	/* acts when the G enables cancellation */
	g_interrupt(gp, INTR_CANCEL);
	if (insys || (nw & CT_ASYNC)) {
		gmp__install_sigcancel();
		gmp__sysmon_hook_on();
		if (!atomic_exchange(&gp->cancel_kick, true))
			atomic_fetch_add(&kicks, 1);
		send_sigcancel(gp);
	}
	return 0;
}

static int set_bit(int bit, bool on, int *old)
{
	g *gp = curg();
	_Atomic int *w = gp ? g_cancelword(gp) : NULL;

	if (!w)
		return -1;
	int v = atomic_load(w), nv;
	do
		nv = on ? v | bit : v & ~bit;
	while (!atomic_compare_exchange_weak(w, &v, nv));
	if (old)
		*old = v & bit;
	if (pending_async(nv))
		gmp__do_cancel(gp);
	return 0;
}

EXPORT int pthread_setcancelstate(int state, int *old)
{
	int o;

	if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
		return EINVAL;
	if (set_bit(CS_DISABLE, state == PTHREAD_CANCEL_DISABLE, &o) < 0)
		return REAL(pthread_setcancelstate)(state, old);
	if (old)
		*old = o ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
	return 0;
}

EXPORT int pthread_setcanceltype(int type, int *old)
{
	int o;

	if (type != PTHREAD_CANCEL_DEFERRED &&
	    type != PTHREAD_CANCEL_ASYNCHRONOUS)
		return EINVAL;
	if (set_bit(CT_ASYNC, type == PTHREAD_CANCEL_ASYNCHRONOUS, &o) < 0)
		return REAL(pthread_setcanceltype)(type, old);
	if (old)
		*old = o ? PTHREAD_CANCEL_ASYNCHRONOUS
			 : PTHREAD_CANCEL_DEFERRED;
	return 0;
}

EXPORT void pthread_testcancel(void)
{
	if (!curg()) {
		REAL(pthread_testcancel)();
		return;
	}
	gmp__testcancel();
}

EXPORT _Noreturn void pthread_exit(void *ret)
{
	g *gp = curg();

	if (!gp)
		REAL(pthread_exit)(ret);
	gp->result = ret;
	gp->exit_set = true;
	if (!g_unwind_ready(gp))
		g_exit(ret);	/* no unwinding: the layout is unknown */
	REAL(pthread_exit)(ret);	/* unwinds, lands in g_unwound */
	__builtin_unreachable();
}
