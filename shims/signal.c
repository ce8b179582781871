/*
 * signal.c: sigaction and signal, so that a signal handler interrupts a
 * G's sleep or semaphore wait (EINTR, and the time left) as it interrupts
 * a thread natively, and sysmon's per-tick work for signals and
 * cancellation.
 *
 * Model. The kernel delivers a signal to one of the process's kernel
 * threads that does not block it: an M running a G (its mask is the G's),
 * an idle M, sysmon or a g0 (runtime threads block only what every G
 * blocks, core/syscall.c). Every handler the program installs runs
 * through tramp(). On a G that takes the signal, the handler runs there,
 * as natively: a bracketed system call gets EINTR or restarts as
 * SA_RESTART says. Anywhere else the handler does not run; sysmon passes
 * the signal, with its siginfo, to a G that does not block it (one in
 * sigwait for it first, then the main G, then a running one, then any),
 * exactly as pthread_kill does: a parked G wakes and runs the handler at
 * G level, and its wait ends with EINTR if the wait is one POSIX makes
 * interruptible (nanosleep and the other sleeps, sem_wait and its timed
 * forms, not condvars or mutexes, which glibc restarts), subject to
 * SA_RESTART; a running G or one in a system call is kicked (SIGCANCEL)
 * and runs it there. If every G blocks it by then, it goes back to the
 * kernel as pending for the process (rt_sigqueueinfo, siginfo kept, or
 * kill() for a kill() or tgkill one, which the kernel lets only the main
 * thread requeue: si_pid is then ours).
 * sigaction returns the program's own action, never tramp.
 *
 * Limits (README): a standard or real-time signal that arrives again
 * before sysmon passed the first on merges with it; a handler run at G
 * level runs with the G's mask plus its signal and sa_mask (restored
 * after it, or by the kick's own frame when it ran inside one: a signal
 * held back must not land on top of that frame). The kernel action of a
 * handler blocks SIGCANCEL and the preemption signal: libgmp's signals
 * never nest in a program handler's frame. signal,
 * bsd_signal, sysv_signal, sigset and siginterrupt are re-implemented on
 * our sigaction (glibc's would report tramp as the old handler); glibc's
 * sigignore/sighold-style changes are noticed by checking the kernel's
 * action before running a handler ourselves.
 *
 * Lock order: the action table's spinlock is taken alone (never from
 * tramp). sysmon picks targets under gfree's lock (g_foreach), then
 * interrupts them with no lock held.
 */
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include "shim.h"

static struct {
	struct sigaction act;	/* the program's action, while ours */
	bool ours;		/* tramp is installed for it */
} acts[NSIG];
static atomic_flag actlock = ATOMIC_FLAG_INIT;

#define BIT(sig) (1ull << ((sig) - 1))

/* Signals the kernel gave a thread running no G that takes them (an idle
 * M, sysmon, a g0, or a G that blocks it after a mask change), waiting
 * for sysmon to pass them to a G: slot state 0 free, 1 being written by
 * tramp, 2 ready, 3 being taken. One per signal: a second one arriving before sysmon
 * routed the first merges with it, as a standard signal does. */
static struct {
	_Atomic int state;
	siginfo_t si;
} routed[NSIG];
static _Atomic int routed_any;

static void call_handler(const struct sigaction *a, int sig, siginfo_t *si,
			 void *uc)
{
	g *gp = curg();

	/* a G is not preempted inside a handler (core/preempt.c) */
	if (gp)
		gp->in_handler++;
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else if (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN)
		a->sa_handler(sig);
	if (gp)
		gp->in_handler--;
}

/* A handler run at G level (not on a frame the kernel made) with
 * SA_ONSTACK goes to the G's alternate stack, as the kernel would take
 * it there, unless it already runs on it. */
struct handler_call {
	const struct sigaction *a;
	int sig;
	siginfo_t *si;
	void *uc;
};

static void handler_call_fn(void *arg)
{
	struct handler_call *c = arg;

	call_handler(c->a, c->sig, c->si, c->uc);
}

static void call_handler_at_g_level(g *gp, const struct sigaction *a,
				    int sig, siginfo_t *si, void *uc)
{
	char *sp = __builtin_frame_address(0);
	char *lo = gp->alt.ss_sp;

	if (!(a->sa_flags & SA_ONSTACK) || !gp->alt_on ||
	    (sp >= lo && sp < lo + gp->alt.ss_size)) {
		call_handler(a, sig, si, uc);
		return;
	}
	struct handler_call c = { a, sig, si, uc };
	arch_call_on_stack(lo + gp->alt.ss_size, handler_call_fn, &c);
}

static void route_signals(void);
static void quit_dump(int sig, siginfo_t *si, void *uc);
static void quit_install(void);

/* SA_RESETHAND: the action becomes SIG_DFL as the handler is entered.
 * Called from handlers, so without actlock: a sigaction racing with it
 * may see either action. */
static void reset_to_default(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	acts[sig].ours = false;
	acts[sig].act = dfl;
	if (sig == preempt_sig)
		preempt_set_action(0, SA_RESTART);
	else
		REAL(sigaction)(sig, &dfl, NULL);
}
/* this thread is in route_signals from a handler (tramp) */
static __thread bool routing __attribute__((tls_model("initial-exec")));
static void pending_info(g *gp, int sig, siginfo_t *si);

/* Queue sig for route_signals (merging with one already queued). Any
 * context, a signal handler included. */
static void to_route(int sig, const siginfo_t *si)
{
	int zero = 0;

	if (atomic_compare_exchange_strong(&routed[sig].state, &zero, 1)) {
		routed[sig].si = *si;
		atomic_store(&routed[sig].state, 2);
	}
	atomic_store(&routed_any, 1);
	gmp__sysmon_hook_on();
}

/* Every handler the program installs runs through tramp. On a G it calls
 * the handler there: the G was interrupted, as a thread natively is. Anywhere else the handler must not run (it may
 * call pthread_exit, longjmp, or look at thread-specific state): the
 * signal goes to sysmon, which hands it to a G (route_signals). */
static void tramp(int sig, siginfo_t *si, void *uc)
{
	struct sigaction a = acts[sig].act;
	g *self = getg();

	/* the runtime's code is not reentrant: run it when the thread is
	 * out of it (a handler calling sem_post would deadlock). Only a
	 * signal sent to this very thread (tgkill: raise, pthread_kill) is
	 * kept for it; one sent to the process is passed on by sysmon. */
	if (m_in_runtime()) {
		if (si->si_code == SI_TKILL) {
			m_defer_signal(sig, si, uc);
			return;
		}
		to_route(sig, si);
		sysmon_wake();
		return;
	}
	if (self && self->is_g0)
		self = NULL;
	int st = self ? atomic_load_explicit(&self->status,
					     memory_order_relaxed)
		      : G_IDLE;
	/* a G's mask is its M's while it runs, so the kernel chose a G that
	 * takes sig (its recorded mask may lag behind the kernel's in
	 * pthread_sigmask: the kernel's is the truth) */
	if (!self || (st != G_RUNNING && st != G_SYSCALL)) {
		to_route(sig, si);
		/* an idle M or an idle runtime helper holds no lock: pass it
		 * on from here, at once (unless this handler interrupted the
		 * same work, which holds locks); elsewhere sysmon does */
		if (rt_thread_holds_nothing() && !routing) {
			/* first take the mask every G now has: a signal that
			 * no G takes goes back to the process, and must not
			 * come straight back to this thread (a mask update
			 * this handler interrupted waits for it too) */
			rt_mask_apply(uc);
			routing = true;
			route_signals();
			routing = false;
		} else {
			sysmon_wake();
		}
		return;
	}
	if (a.sa_flags & SA_RESETHAND)
		reset_to_default(sig);
	call_handler(&a, sig, si, uc);
}

/* The preemption signal (core/preempt.c) is libgmp's in the kernel; one
 * that is not sysmon's request gets the program's action here. */
static bool default_ignored(int sig)
{
	return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH ||
	       sig == SIGCONT;
}

void gmp__sig_forward(int sig, siginfo_t *si, void *uc)
{
	if (acts[sig].ours) {
		tramp(sig, si, uc);
		return;
	}
	if (acts[sig].act.sa_handler == SIG_IGN || default_ignored(sig))
		return;
	/* the default action kills the process: let the kernel apply it
	 * (the signal is blocked until this handler returns) */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	REAL(sigaction)(sig, &dfl, NULL);
	arch_syscall(SYS_tgkill, getpid(), arch_syscall(SYS_gettid, 0, 0, 0, 0),
		     sig, 0);
}

/* Start-up, before libgmp takes the preemption signal: an action
 * inherited across exec (SIG_IGN from a parent that ignored it) is the
 * program's, kept and reported as such. */
void gmp__preempt_inherit(void)
{
	struct sigaction cur;

	if (preempt_sig && REAL(sigaction)(preempt_sig, NULL, &cur) == 0 &&
	    cur.sa_handler == SIG_IGN) {
		acts[preempt_sig].act = cur;
		acts[preempt_sig].ours = false;
	}
}

/* Around exec: a preemption signal the program ignores must stay ignored
 * in the new program (the kernel resets a handler to the default, but
 * keeps SIG_IGN). Not around a spawn: the process-wide SIG_IGN would stop
 * preemption while the spawning thread waits. */
void gmp__signals_exec(bool before)
{
	if (!preempt_sig || acts[preempt_sig].ours ||
	    acts[preempt_sig].act.sa_handler != SIG_IGN)
		return;
	if (before) {
		struct sigaction ign = { .sa_handler = SIG_IGN };
		REAL(sigaction)(preempt_sig, &ign, NULL);
	} else {
		preempt_reinstall();
	}
}

/* gp ended with process-directed signals it had not acted on (posted by
 * route_signals): they go to another thread, as the kernel would have
 * delivered them to one that was still there. Context: g0, after the G
 * exited. */
void gmp__sig_orphans(g *gp)
{
	uint64_t left = atomic_exchange(&gp->sigproc, 0) &
			atomic_exchange(&gp->sigpend, 0);

	while (left) {
		int sig = __builtin_ctzll(left) + 1;
		siginfo_t si;
		left &= ~BIT(sig);
		pending_info(gp, sig, &si);
		debugf("signal %d: its thread ended first: passed on", sig);
		to_route(sig, &si);
	}
	sysmon_wake();
}

void gmp__sig_exiting(void)
{
	g *gp = curg();
	bool restart;

	if (!gp || gp->rt > 0)
		return;
	/* one the kernel has chosen another thread for but not handed over
	 * yet is still the process's: setting the mask makes the kernel
	 * look again, and hand it to this thread on the way back */
	uint64_t cur = gp->sigmask;
	arch_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&cur, 0, 8);
	route_signals();
	if (atomic_load(&gp->sigpend) & ~gp->sigmask)
		gmp__run_pending(gp, &restart);
}

/* ---- sysmon ------------------------------------------------------------ */

#define NCAND 16

struct cands {
	g *gp[NCAND];
	int n;
	int sig;
};

/* Gs with a directed signal they do not block: parked ones are woken to
 * run the handler, running ones get the signal (again) on their M. */
static _Atomic int directed_any;

static void post(g *gp, int sig, const siginfo_t *si);

/* Which G takes a signal the kernel gave a thread running none: one in
 * sigwait for it, else the main G, else a running G, else any, among the
 * Gs that do not block it (the kernel's preference, roughly: the thread
 * the signal was sent to, then one that can take it now). */
struct target {
	int sig;
	int best;
	g *gp;
};

static void pick(g *gp, void *arg)
{
	struct target *t = arg;
	uint64_t bit = BIT(t->sig);
	int st = atomic_load_explicit(&gp->status, memory_order_relaxed);
	int score;

	if (st == G_DEAD || st == G_IDLE)
		return;
	if (atomic_load(&gp->sigwaiting) & bit)
		score = 4;
	else if (gp->sigmask & bit)
		return;
	else if (gp->is_main)
		score = 3;
	else if (st == G_RUNNING || st == G_SYSCALL)
		score = 2;
	else
		score = 1;
	if (score > t->best) {
		t->best = score;
		t->gp = gp;
	}
}

static void route_signals(void)
{
	if (!atomic_exchange(&routed_any, 0))
		return;
	for (int sig = 1; sig < NSIG; sig++) {
		int two = 2;
		/* claim it: sysmon and a thread the signal landed on may
		 * both be here */
		if (!atomic_compare_exchange_strong(&routed[sig].state, &two,
						    3))
			continue;
		siginfo_t si = routed[sig].si;
		atomic_store(&routed[sig].state, 0);
		struct target t = { .sig = sig, .best = 0, .gp = NULL };
		g_foreach(pick, &t);
		if (t.gp) {
			/* the process's signal: if gp ends before it ran the
			 * handler, it comes back here (gmp__sig_orphans) */
			atomic_fetch_or(&t.gp->sigproc, BIT(sig));
			post(t.gp, sig, &si);
			continue;
		}
		debugf("signal %d: no thread takes it: pending for the process",
		       sig);
		/* every G blocks it now: pending for the process, in the
		 * kernel, where sigpending and sigwait see it and the first
		 * G to unblock it takes it (runtime threads block what
		 * every G blocks) */
		if (arch_syscall(SYS_rt_sigqueueinfo, getpid(), sig, (long)&si,
				 0) == -EPERM)
			/* the kernel lets only the main thread queue a
			 * SI_USER or SI_TKILL one: as kill() would send it */
			arch_syscall(SYS_kill, getpid(), sig, 0, 0);
	}
}

static void collect_directed(g *gp, void *arg)
{
	struct cands *c = arg;

	if (!(atomic_load_explicit(&gp->sigpend, memory_order_relaxed) &
	      ~gp->sigmask))
		return;
	int st = atomic_load_explicit(&gp->status, memory_order_relaxed);
	if (st == G_DEAD)
		return;
	if (st == G_RUNNING || st == G_SYSCALL) {
		gmp__kick(gp);
		c->sig = 1;	/* still pending: look again next tick */
		return;
	}
	if (c->n < NCAND)
		c->gp[c->n++] = gp;
	c->sig = 1;
}

static void deliver_directed(void)
{
	struct cands c = { .n = 0, .sig = 0 };

	if (!atomic_load(&directed_any))
		return;
	atomic_store(&directed_any, 0);
	g_foreach(collect_directed, &c);
	for (int i = 0; i < c.n; i++)
		g_interrupt(c.gp[i], INTR_HANDLER);
	if (c.sig)
		atomic_store(&directed_any, 1);
}

static void sysmon_tick(void)
{
	route_signals();
	deliver_directed();
	gmp__cancel_kicks();
}

void gmp__sysmon_hook_on(void)
{
	atomic_store_explicit(&sysmon_hook, sysmon_tick, memory_order_release);
}

/* ---- the API ----------------------------------------------------------- */

/* tramp is what the kernel has for sig: glibc's sigignore/sighold and
 * the like change actions behind our back */
static bool installed(int sig)
{
	struct sigaction cur;

	if (sig == preempt_sig)
		return acts[sig].ours;
	return acts[sig].ours && REAL(sigaction)(sig, NULL, &cur) == 0 &&
	       cur.sa_sigaction == tramp;
}

static bool is_handler(const struct sigaction *act)
{
	return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

/* sigaction for the preemption signal: the kernel keeps libgmp's
 * handler, the program's action is only recorded (actlock held). */
static int preempt_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *oact)
{
	struct sigaction prev = acts[sig].act;

	if (act) {
		uint64_t mask;
		acts[sig].act = *act;
		acts[sig].ours = is_handler(act);
		memcpy(&mask, &act->sa_mask, sizeof mask);
		preempt_set_action(acts[sig].ours ? mask : 0,
				   acts[sig].ours ? act->sa_flags : SA_RESTART);
	}
	if (oact)
		*oact = prev;
	return 0;
}

EXPORT int sigaction(int sig, const struct sigaction *act,
		     struct sigaction *oact)
{
	gmp__ensure_init();
	if (!gmp__active || sig < 1 || sig >= NSIG || sig == SIGKILL ||
	    sig == SIGSTOP)
		return REAL(sigaction)(sig, act, oact);
	while (atomic_flag_test_and_set_explicit(&actlock,
						 memory_order_acquire))
		arch_pause();
	struct sigaction prev = acts[sig].act;
	bool prev_ours = acts[sig].ours;
	int r;
	if (sig == preempt_sig) {
		r = preempt_sigaction(sig, act, oact);
		if (acts[sig].ours)
			gmp__sysmon_hook_on();
	} else if (act && is_handler(act)) {
		struct sigaction k = *act;
		k.sa_sigaction = tramp;
		k.sa_flags |= SA_SIGINFO;
		/* one-shot handlers are reset where they run (tramp, or the
		 * G a signal is passed to): the kernel would reset before
		 * libgmp decided where to run it */
		k.sa_flags &= ~SA_RESETHAND;
		/* libgmp's kicks and preemption requests wait until the
		 * handler returns instead of nesting their frames in its
		 * (a 16 KiB thread's stack has room for about two) */
		uint64_t *km = (uint64_t *)&k.sa_mask;
		*km |= BIT(__SIGRTMIN) | (preempt_sig ? BIT(preempt_sig) : 0);
		acts[sig].act = *act;	/* before a signal can reach tramp */
		acts[sig].ours = true;
		r = REAL(sigaction)(sig, &k, oact);
		if (r < 0) {
			acts[sig].act = prev;
			acts[sig].ours = prev_ours;
		}
		gmp__sysmon_hook_on();
	} else if (sig == SIGQUIT && act && act->sa_handler == SIG_DFL) {
		r = REAL(sigaction)(sig, NULL, oact);
		if (r == 0) {
			acts[sig].ours = false;
			quit_install();
		}
	} else {
		r = REAL(sigaction)(sig, act, oact);
		if (r == 0 && act)
			acts[sig].ours = false;
	}
	if (r == 0 && oact && oact->sa_sigaction == tramp)
		*oact = prev;
	if (r == 0 && oact && oact->sa_sigaction == quit_dump) {
		memset(oact, 0, sizeof *oact);
		oact->sa_handler = SIG_DFL;
	}
	atomic_flag_clear_explicit(&actlock, memory_order_release);
	return r;
}

/* SIGQUIT with the default action dumps every G first (Go prints its
 * goroutines): libgmp's handler is in the kernel while the program's
 * action is SIG_DFL, and sigaction reports SIG_DFL. After the dump the
 * default action is applied: the process ends with SIGQUIT (and a core
 * dump if enabled), as natively. */
static void quit_dump(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	(void)si;
	(void)uc;
	obs_dump("SIGQUIT", false);
	REAL(sigaction)(sig, &dfl, NULL);
	/* blocked while this handler runs: delivered, with the default
	 * action, when it returns */
	arch_syscall(SYS_tgkill, getpid(), arch_syscall(SYS_gettid, 0, 0, 0, 0),
		     sig, 0);
}

static void quit_install(void)
{
	arch_sigaction(SIGQUIT, quit_dump, SA_SIGINFO | SA_RESTART);
}

void gmp__quit_init(void)
{
	struct sigaction cur;

	if (REAL(sigaction)(SIGQUIT, NULL, &cur) == 0 &&
	    cur.sa_handler == SIG_DFL)
		quit_install();
}

bool gmp__program_has_handlers(void)
{
	for (int sig = 1; sig < NSIG; sig++)
		if (acts[sig].ours)
			return true;
	return false;
}

/* The siginfo of gp's pending sig: kept if it was taken from an M
 * (core/syscall.c m_take_pending), else pthread_kill's. */
static void pending_info(g *gp, int sig, siginfo_t *si)
{
	for (int i = 0; i < 2; i++) {
		if (gp->sipend[i].sig == sig) {
			*si = gp->sipend[i].si;
			gp->sipend[i].sig = 0;
			return;
		}
	}
	memset(si, 0, sizeof *si);
	si->si_signo = sig;
	si->si_code = SI_TKILL;
	si->si_pid = getpid();
	si->si_uid = getuid();
}

/* For the length of a handler run at G level: gp's mask is mk, in the G
 * and on the thread (not counted in the runtime threads' mask: it is
 * brief; inside a kick's handler SIGCANCEL stays blocked). Returns the
 * thread's mask before, for handler_mask_end. */
static uint64_t handler_mask_begin(g *gp, uint64_t mk)
{
	uint64_t k = mk | (gp->kick_uc ? BIT(__SIGRTMIN) : 0), old = 0;

	gp->sigmask = mk;
	arch_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&k, (long)&old,
		     8);
	getg()->m->kmask = k;
	return old;
}

/* The masks as they were: the G's was, the thread's kold. Inside a
 * kick's SIGCANCEL frame the thread's comes back when that frame is left
 * (its saved mask is the interrupted code's), so a signal the handler
 * held back is not delivered on top of this frame. */
static void handler_mask_end(g *gp, uint64_t was, uint64_t kold)
{
	gp->sigmask = was;
	if (gp->kick_uc) {
		memcpy(&getg()->m->kmask,
		       &((ucontext_t *)gp->kick_uc)->uc_sigmask,
		       sizeof(uint64_t));
		return;
	}
	arch_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&kold, 0, 8);
	getg()->m->kmask = kold;
}

bool gmp__run_pending(g *gp, bool *restart)
{
	bool ran = false;
	uint64_t pend;

	*restart = true;
	while ((pend = atomic_load(&gp->sigpend) & ~gp->sigmask)) {
		int sig = __builtin_ctzll(pend) + 1;
		if (!(atomic_fetch_and(&gp->sigpend, ~BIT(sig)) & BIT(sig)))
			continue;
		atomic_fetch_and(&gp->sigproc, ~BIT(sig));
		struct sigaction a = acts[sig].act;
		if (!installed(sig)) {
			/* the action changed to SIG_DFL/SIG_IGN since: let
			 * the kernel apply it */
			arch_syscall(SYS_tgkill, getpid(),
				     arch_syscall(SYS_gettid, 0, 0, 0, 0), sig,
				     0);
			continue;
		}
		siginfo_t si;
		ucontext_t uc;
		pending_info(gp, sig, &si);
		getcontext(&uc);
		if (a.sa_flags & SA_RESETHAND)
			reset_to_default(sig);
		if (!(a.sa_flags & SA_RESTART))
			*restart = false;
		/* as the kernel does: the signal (unless SA_NODEFER) and
		 * sa_mask are blocked while the handler runs, and the mask is
		 * back as it was when it returns (a handler re-entered by its
		 * own signal nests frames on a possibly small stack) */
		uint64_t was = gp->sigmask, hm, sam;
		memcpy(&sam, &a.sa_mask, sizeof sam);
		hm = was | sam | (a.sa_flags & SA_NODEFER ? 0 : BIT(sig));
		hm &= ~(BIT(SIGKILL) | BIT(SIGSTOP) | BIT(__SIGRTMIN) |
			BIT(__SIGRTMIN + 1));
		uint64_t kold = 0;
		if (hm != was)
			kold = handler_mask_begin(gp, hm);
		call_handler_at_g_level(gp, &a, sig, &si, &uc);
		if (hm != was)
			handler_mask_end(gp, was, kold);
		ran = true;
	}
	return ran;
}

/* pthread_kill to a G: the handler runs on that G. Signals without a
 * handler of the program's (default action, ignored) act on the process
 * and go to the kernel as they are. */
EXPORT int pthread_kill(pthread_t t, int sig)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return g_thread_ended(t) ? ESRCH : REAL(pthread_kill)(t, sig);
	if (sig < 0 || sig >= NSIG || sig == __SIGRTMIN || sig == __SIGRTMIN + 1)
		return EINVAL;	/* glibc's own signals, as glibc says */
	if (sig == 0)
		return 0;
	if (!installed(sig)) {
		struct sigaction cur;
		REAL(sigaction)(sig, NULL, &cur);
		if (cur.sa_handler == SIG_IGN)
			return 0;
		if (!(gp->sigmask & BIT(sig)))
			return REAL(pthread_kill)(pthread_self(), sig) == 0 ? 0
									  : EINVAL;
		/* blocked by the target: pending until it unblocks it */
	}
	post(gp, sig, NULL);
	return 0;
}

/* Make sig pending on gp, with the siginfo si (NULL: pthread_kill's), and
 * see that gp acts on it: the handler runs on gp, or its sigwait ends. */
static void post(g *gp, int sig, const siginfo_t *si)
{
	if (atomic_load(&gp->sigpend) & BIT(sig))
		return;	/* already pending: not queued twice */
	if (si) {
		for (int i = 0; i < 2; i++) {
			if (!gp->sipend[i].sig) {
				gp->sipend[i].si = *si;
				gp->sipend[i].sig = sig;
				break;
			}
		}
	}
	if (atomic_fetch_or(&gp->sigpend, BIT(sig)) & BIT(sig))
		return;
	if (gp->sigmask & BIT(sig)) {
		/* blocked: pending, unless the G waits for it in sigwait */
		if (atomic_load(&gp->sigwaiting) & BIT(sig)) {
			gmp__sysmon_hook_on();
			atomic_store(&directed_any, 1);
			gmp__kick(gp);
		}
		return;
	}
	g *self = curg();
	if (gp == self) {
		bool restart;
		gmp__run_pending(gp, &restart);
		return;
	}
	gmp__sysmon_hook_on();
	atomic_store(&directed_any, 1);
	if (g_interrupt(gp, INTR_HANDLER))
		return;	/* parked: it runs the handler when it wakes */
	/* running or in a system call: the kick's handler runs it there
	 * (shims/cancel.c); runnable, or in a wait nothing interrupts:
	 * sysmon retries every tick */
	gmp__kick(gp);
}

void gmp__kicked(g *gp, void *uc)
{
	/* a G in sigwait for a signal pthread_kill left it: end the wait */
	if (atomic_load(&gp->sigwaiting) & atomic_load(&gp->sigpend) &&
	    atomic_load_explicit(&gp->status, memory_order_relaxed) ==
		    G_SYSCALL) {
		arch_ctx_fail_syscall(uc, EINTR);
		return;
	}
	int st = atomic_load_explicit(&gp->status, memory_order_relaxed);
	bool restart;

	if (!(atomic_load(&gp->sigpend) & ~gp->sigmask) || gp->rt > 0 ||
	    (st != G_RUNNING && st != G_SYSCALL))
		return;	/* nothing to run, or not safe here: sysmon retries */
	gp->kick_uc = uc;
	bool ran = gmp__run_pending(gp, &restart);
	gp->kick_uc = NULL;
	if (ran && !restart && st == G_SYSCALL)
		arch_ctx_fail_syscall(uc, EINTR);	/* as natively */
}

/* The mask is set on the M's thread and recorded in the G; the scheduler
 * puts it back on whatever thread runs the G (core/sched.c execute). It
 * also decides which G a handler that ran elsewhere interrupts. */
static int setmask(int how, const sigset_t *set, sigset_t *old,
		   int (*f)(int, const sigset_t *, sigset_t *))
{
	g *gp = curg();
	sigset_t cur;
	int r = f(how, set, old);

	if (gp && r == 0 && set && f(SIG_BLOCK, NULL, &cur) == 0) {
		uint64_t was = gp->sigmask;
		memcpy(&gp->sigmask, &cur, sizeof gp->sigmask);
		gp->m->kmask = gp->sigmask;
		if (was != gp->sigmask) {
			rt_enter();
			sigmask_account(gp->sigmask, 1);
			sigmask_account(was, -1);
			rt_exit();
		}
		bool restart;
		if (atomic_load(&gp->sigpend) & ~gp->sigmask)
			gmp__run_pending(gp, &restart);	/* unblocked */
	}
	return r;
}

/* sigaltstack is per thread: a G's alternate stack is installed on the M
 * it runs on while it runs (core/sched.c altstack_switch), so a handler
 * with SA_ONSTACK lands on the right G's stack whichever M took it. The
 * kernel checks and applies the call on this M, which runs the G now. */
EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
	g *gp = curg();
	long r = arch_syscall(SYS_sigaltstack, (long)ss, (long)old, 0, 0);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	if (gp && ss) {
		m *mp = gp->m;
		bool on = !(ss->ss_flags & SS_DISABLE);
		gp->alt_on = mp->kalt_on = on;
		if (on) {
			gp->alt = *ss;
			gp->alt.ss_flags &= ~SS_ONSTACK;
			mp->kalt = gp->alt;
		}
	}
	return 0;
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	gmp__ensure_init();
	return setmask(how, set, old, real.pthread_sigmask);
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	gmp__ensure_init();
	return setmask(how, set, old, real.sigprocmask);
}

/* signal() and its variants: install handler with flags through our
 * sigaction (glibc's use its internal one, which would report tramp as
 * the old handler); block_self keeps sig blocked while it runs. */
static __sighandler_t set_handler(int sig, __sighandler_t handler, int flags,
				  bool block_self)
{
	struct sigaction act, oact;

	if (handler == SIG_ERR || sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	if (block_self)
		sigaddset(&act.sa_mask, sig);
	act.sa_flags = flags;
	if (sigaction(sig, &act, &oact) < 0)
		return SIG_ERR;
	return oact.sa_handler;
}

/* glibc's signal(): BSD semantics (SA_RESTART, the signal blocked while
 * its handler runs). */
EXPORT __sighandler_t signal(int sig, __sighandler_t handler)
{
	return set_handler(sig, handler, SA_RESTART, true);
}

__sighandler_t bsd_signal(int sig, __sighandler_t handler);
EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t handler)
{
	return signal(sig, handler);
}

/* System V semantics: one shot, not blocked while it runs. */
EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t handler)
{
	return set_handler(sig, handler, SA_RESETHAND | SA_NODEFER, false);
}

/* what signal() is under strict X/Open feature macros (glibc's header
 * redirects it) */
EXPORT __sighandler_t __sysv_signal(int sig, __sighandler_t handler)
{
	return sysv_signal(sig, handler);
}

EXPORT __sighandler_t sigset(int sig, __sighandler_t disp)
{
	struct sigaction act, oact;
	sigset_t set, oset;

	if (disp == SIG_ERR || sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (disp == SIG_HOLD) {
		if (sigprocmask(SIG_BLOCK, &set, &oset) < 0)
			return SIG_ERR;
		if (sigismember(&oset, sig))
			return SIG_HOLD;
		if (sigaction(sig, NULL, &oact) < 0)
			return SIG_ERR;
		return oact.sa_handler;
	}
	act.sa_handler = disp;
	sigemptyset(&act.sa_mask);
	act.sa_flags = 0;
	if (sigaction(sig, &act, &oact) < 0)
		return SIG_ERR;
	if (sigprocmask(SIG_UNBLOCK, &set, &oset) < 0)
		return SIG_ERR;
	return sigismember(&oset, sig) ? SIG_HOLD : oact.sa_handler;
}

EXPORT int siginterrupt(int sig, int flag)
{
	struct sigaction act;

	if (sigaction(sig, NULL, &act) < 0)
		return -1;
	if (flag)
		act.sa_flags &= ~SA_RESTART;
	else
		act.sa_flags |= SA_RESTART;
	return sigaction(sig, &act, NULL);
}

/* ---- waiting for signals ------------------------------------------------ */

/* Take one signal of want from gp's pthread_kill-pending set: 0 if none. */
static int take_pending(g *gp, uint64_t want, siginfo_t *info)
{
	uint64_t pend;

	while ((pend = atomic_load(&gp->sigpend) & want)) {
		int sig = __builtin_ctzll(pend) + 1;
		if (!(atomic_fetch_and(&gp->sigpend, ~BIT(sig)) & BIT(sig)))
			continue;
		atomic_fetch_and(&gp->sigproc, ~BIT(sig));
		siginfo_t si;
		pending_info(gp, sig, &si);
		if (info)
			*info = si;
		return sig;
	}
	return 0;
}

/* sigwait, sigwaitinfo, sigtimedwait: the kernel's wait, bracketed as
 * a system call, after the signals pthread_kill left pending at G level
 * (shims' pthread_kill); pthread_kill ends a wait for its signal with a
 * kick. Returns the signal or -errno. */
static int sigwait_common(const sigset_t *set, siginfo_t *info,
			  const struct timespec *ts)
{
	g *gp = curg();
	uint64_t want;
	int64_t deadline = -1;
	struct timespec left;
	long r;

	memcpy(&want, set, sizeof want);
	if (!gp)
		return (int)arch_syscall(SYS_rt_sigtimedwait, (long)set,
					 (long)info, (long)ts, 8);
	if (ts) {
		if (!ts_valid(ts) || ts->tv_sec < 0)
			return -EINVAL;
		deadline = gmp__after(ts_ns(ts));
	}
	gmp__point_begin(gp);
	for (;;) {
		int sig = take_pending(gp, want, info);
		if (sig)
			return sig;
		atomic_store(&gp->sigwaiting, want);
		if ((sig = take_pending(gp, want, info))) {
			atomic_store(&gp->sigwaiting, 0);
			return sig;
		}
		if (ts) {
			int64_t d = deadline - nanotime();
			if (d < 0)
				d = 0;
			left.tv_sec = d / 1000000000;
			left.tv_nsec = d % 1000000000;
		}
		int cp = gmp__syscall_begin(gp);
		bool in = entersyscall();
		r = arch_syscall(SYS_rt_sigtimedwait, (long)set, (long)info,
				 ts ? (long)&left : 0, 8);
		if (in)
			exitsyscall();
		atomic_store(&gp->sigwaiting, 0);
		gmp__syscall_end(gp, cp, r == -EINTR);
		if (r == -EINTR && (atomic_load(&gp->sigpend) & want))
			continue;	/* pthread_kill's kick */
		return (int)r;
	}
}

EXPORT int sigwait(const sigset_t *set, int *sig)
{
	int r;

	do
		r = sigwait_common(set, NULL, NULL);
	while (r == -EINTR);	/* sigwait does not fail with EINTR */
	if (r < 0)
		return -r;
	*sig = r;
	return 0;
}

/* glibc's sigwaitinfo and sigtimedwait report a signal sent with tgkill
 * (raise, pthread_kill) as SI_USER, as POSIX requires for those. */
static int waitinfo_result(int r, siginfo_t *info)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	if (info && info->si_code == SI_TKILL)
		info->si_code = SI_USER;
	return r;
}

EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	return waitinfo_result(sigwait_common(set, info, NULL), info);
}

EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info,
			const struct timespec *ts)
{
	return waitinfo_result(sigwait_common(set, info, ts), info);
}

EXPORT int sigpending(sigset_t *set)
{
	g *gp = curg();
	int r = (int)arch_syscall(SYS_rt_sigpending, (long)set, 8, 0, 0);

	if (r < 0) {
		errno = -r;
		return -1;
	}
	if (gp) {
		uint64_t v;
		memcpy(&v, set, sizeof v);
		v |= atomic_load(&gp->sigpend) & gp->sigmask;
		memcpy(set, &v, sizeof v);
	}
	return 0;
}

bool gmp__pending_for_mask(const sigset_t *mask)
{
	g *gp = curg();
	uint64_t m64;

	if (!gp || !mask)
		return false;
	memcpy(&m64, mask, sizeof m64);
	if (!(atomic_load(&gp->sigpend) & ~m64))
		return false;
	/* the call's mask lets a pthread_kill-pending signal through: its
	 * handler runs now, and the call fails with EINTR */
	uint64_t was = gp->sigmask;
	bool restart;
	gp->sigmask = m64;
	bool ran = gmp__run_pending(gp, &restart);
	gp->sigmask = was;
	return ran;
}

EXPORT int sigsuspend(const sigset_t *mask)
{
	g *gp = curg();

	if (gmp__pending_for_mask(mask)) {
		errno = EINTR;
		return -1;
	}
	if (!gp)
		return (int)arch_syscall(SYS_rt_sigsuspend, (long)mask, 8, 0,
					 0);
	int cp = gmp__syscall_begin(gp);
	/* while it waits, its mask is the call's: pthread_kill of a signal
	 * it lets through kicks it (its SIGCANCEL handler runs the handler
	 * and the wait ends with EINTR) */
	uint64_t was = gp->sigmask;
	memcpy(&gp->sigmask, mask, sizeof gp->sigmask);
	bool in = entersyscall();
	long r = arch_syscall(SYS_rt_sigsuspend, (long)mask, 8, 0, 0);
	gp->sigmask = was;	/* before a switch may apply it elsewhere */
	if (in)
		exitsyscall();
	gmp__syscall_end(gp, cp, r == -EINTR);
	errno = (int)-r;
	return -1;
}

/* The System V and BSD mask calls: glibc's change the mask with its
 * internal sigprocmask, which libgmp would not see. */
static int one_sig(int how, int sig)
{
	sigset_t set;

	sigemptyset(&set);
	if (sigaddset(&set, sig) < 0)
		return -1;
	return sigprocmask(how, &set, NULL);
}

EXPORT int sighold(int sig)
{
	return one_sig(SIG_BLOCK, sig);
}

EXPORT int sigrelse(int sig)
{
	return one_sig(SIG_UNBLOCK, sig);
}

/* XSI sigpause: wait with sig removed from the mask. (glibc's BSD
 * sigpause, with a mask argument, is left alone: <signal.h> binds
 * sigpause to this one under every feature set but the oldest.) */
int __xpg_sigpause(int sig);
EXPORT int __xpg_sigpause(int sig)
{
	sigset_t set;

	if (sigprocmask(SIG_BLOCK, NULL, &set) < 0 || sigdelset(&set, sig) < 0)
		return -1;
	return sigsuspend(&set);
}

