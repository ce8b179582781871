/*
 * sched.c: the scheduler. Go: schedule, findrunnable, execute, park_m,
 * goschedImpl, gopreempt_m, goexit0, ready, wakep, startm, stopm,
 * resetspinning, acquirep/releasep, pidleput/pidleget, mput/mget,
 * lockOSThread/startlockedm/stoplockedm (proc.go).
 * Owns struct sched (but the queues' insides are runq.c's), the P and M
 * idle lists, spinning state and every G status transition except
 * G_IDLE -> G_RUNNABLE (newproc) which it also performs.
 *
 * Model. An M runs Gs only while it holds a P. Its g0 loops: pick a G
 * (runnext, local ring, global queue every 61st tick and when the ring is
 * empty, timers, then steal from random victims as a spinning M), switch
 * to it, and when the G switches back (gopark, gosched, goexit: the mcall
 * request in m.mcallop), finish that request on g0 and pick again. An M
 * that finds nothing puts its P on the idle list and sleeps on its note;
 * the first idle M sleeps only until the earliest timer.
 *
 * Wired Gs (per-thread kernel state, shims/threadstate.c): g.lockedm and
 * m.lockedg pair a G with its M for good. That M runs only that G; while
 * the G waits, the M gives its P away and sleeps on its note; whichever M
 * takes the G from a queue hands it its P (startlockedm) and looks for
 * another. Per-G CPU time (g_cputime) is one clock read per switch once a
 * program asked for a thread CPU clock.
 *
 * Invariants. A P is either on sched.pidle (P_IDLE, m == NULL) or held by
 * exactly one M (P_RUNNING). nmspinning counts Ms with m.spinning set, and
 * at most half the busy Ps spin. A G is G_RUNNING on exactly one M
 * (m.curg). A parked G's context is saved before its unlockf runs.
 *
 * Protocol (Go's spinning dance, proc.go "Worker thread parking/unparking").
 * A producer publishes work (runqput), then reads npidle and nmspinning
 * (seq_cst): wakep starts one spinning M if there is an idle P and nobody
 * spins. A spinning M that gives up first puts its P idle and drops
 * nmspinning (seq_cst), then re-checks every P's queue: either the
 * producer sees the idle P or the spinner sees the work. The last spinner
 * to find work wakes another (resetspinning), so bursts fan out.
 * Lock order: sched.lock is taken alone or after a sema bucket; never
 * while holding timers.lock.
 *
 * Rejected. Waking an M per readied G: a futex wake per handoff is the
 * native cost libgmp exists to avoid; runnext keeps a lock handoff on one
 * P and one spinning M at a time finds the rest. Parking idle Ms on a
 * condition variable: it is interposed, and a futex word is all we need.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include "core.h"

struct sched sched = { .lock = MUTEX_INIT(LOCKRANK_SCHED) };
static _Atomic int32_t nlive = 1;	/* the main G */

int32_t live_g_add(int32_t d)
{
	int32_t n = atomic_fetch_add_explicit(&nlive, d, memory_order_acq_rel)
		    + d;
	if (d > 0) {
		uint64_t peak = atomic_load_explicit(&g_peak_live,
						     memory_order_relaxed);
		while ((uint64_t)n > peak &&
		       !atomic_compare_exchange_weak_explicit(
			       &g_peak_live, &peak, (uint64_t)n,
			       memory_order_relaxed, memory_order_relaxed))
			;
	}
	return n;
}

static uint32_t fastrand(m *mp)
{
	uint32_t x = mp->fastrand;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return mp->fastrand = x;
}

void acquirep(m *mp, p *pp)
{
	if (pp->m || pp->status != P_IDLE)
		throw("acquirep: P in use");
	mp->p = pp;
	pp->m = mp;
	pp->status = P_RUNNING;
}

p *releasep(m *mp)
{
	p *pp = mp->p;

	if (!pp || pp->m != mp)
		throw("releasep: invalid P");
	pp->m = NULL;
	pp->status = P_IDLE;
	mp->p = NULL;
	return pp;
}

/* sched.lock held */
void pidleput(p *pp)
{
	if (!runqempty(pp))
		throw("pidleput: P has a non-empty run queue");
	pp->link = sched.pidle;
	sched.pidle = pp;
	/* seq_cst: the spinning protocol's store half (see top). */
	atomic_fetch_add(&sched.npidle, 1);
}

p *pidleget(void)
{
	p *pp = sched.pidle;

	if (pp) {
		sched.pidle = pp->link;
		atomic_fetch_sub(&sched.npidle, 1);
	}
	return pp;
}

static void mput(m *mp)
{
	mp->schedlink = sched.midle;
	sched.midle = mp;
	sched.nmidle++;
}

static m *mget(void)
{
	m *mp = sched.midle;

	if (mp) {
		sched.midle = mp->schedlink;
		sched.nmidle--;
		if (sched.timer_sleeper == mp)
			sched.timer_sleeper = NULL;
	}
	return mp;
}

/* Remove mp from the idle list if it is there. sched.lock held. */
static bool mremove(m *mp)
{
	for (m **pp = &sched.midle; *pp; pp = &(*pp)->schedlink) {
		if (*pp == mp) {
			*pp = mp->schedlink;
			sched.nmidle--;
			if (sched.timer_sleeper == mp)
				sched.timer_sleeper = NULL;
			return true;
		}
	}
	return false;
}

bool wake_timer_sleeper(int64_t when)
{
	lock(&sched.lock);
	m *mp = sched.timer_sleeper;
	if (!mp) {
		unlock(&sched.lock);
		return false;
	}
	if (sched.sleep_until <= when) {
		unlock(&sched.lock);
		return true;	/* it wakes in time anyway */
	}
	/* off the idle list first: only one party may wake an idle M */
	mremove(mp);
	unlock(&sched.lock);
	notewakeup(&mp->park);
	return true;
}

/* Run some M on pp (an idle P if NULL). Go: startm. */
void startm(p *pp, bool spinning)
{
	lock(&sched.lock);
	if (!pp) {
		pp = pidleget();
		if (!pp) {
			unlock(&sched.lock);
			if (spinning)
				atomic_fetch_sub(&sched.nmspinning, 1);
			return;
		}
	}
	m *mp = mget();
	unlock(&sched.lock);
	if (!mp) {
		newm(pp, spinning);
		return;
	}
	mp->spinning = spinning;
	mp->nextp = pp;
	notewakeup(&mp->park);
}

void wakep(void)
{
	/* seq_cst: the load half of the spinning protocol. */
	if (atomic_load(&sched.npidle) == 0)
		return;
	int32_t zero = 0;
	if (atomic_load(&sched.nmspinning) != 0 ||
	    !atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1))
		return;
	startm(NULL, true);
}

static void resetspinning(m *mp)
{
	mp->spinning = false;
	if (atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
		throw("resetspinning: negative nmspinning");
	wakep();
}

_Noreturn static void m_exit(m *mp);
#define M_IDLE_EXIT_NS (5 * 1000000000ll)

/* Sleep until handed a P (returned, acquired) or until the timer
 * deadline passes or moves (NULL). Go: stopm. Context: g0 without P. */
p *stopm(m *mp, int64_t until)
{
	bool sleeper = false;

	noteclear(&mp->park);
	lock(&sched.lock);
	mput(mp);
	if (until >= 0 && sched.timer_sleeper == NULL) {
		sched.timer_sleeper = mp;
		sched.sleep_until = until;
		sleeper = true;
	}
	unlock(&sched.lock);
	/* asleep, holding nothing: handlers may run here (m_in_runtime) */
	mp->idle = true;
	atomic_thread_fence(memory_order_seq_cst);	/* idle, then rt_mask */
	rt_mask_idle(mp);
	if (atomic_load_explicit(&mp->sigdefer, memory_order_relaxed))
		m_undefer(mp);
	/* an M idle for M_IDLE_EXIT_NS ends its kernel thread, unless it is
	 * the process's own or only nprocs + 1 Ms are left */
	int64_t limit = sleeper ? until
			: mp->is_m0 ? -1 : nanotime() + M_IDLE_EXIT_NS;
	bool woken = notetsleep(&mp->park, limit);
	mp->idle = false;
	if (!woken) {
		lock(&sched.lock);
		bool was_idle = mremove(mp);
		bool reap = was_idle && !sleeper && !mp->is_m0 && !mp->forked &&
			    sched.mcount - sched.nmdead > sched.nprocs + 1;
		if (reap)
			sched.nmdead++;
		unlock(&sched.lock);
		if (reap)
			m_exit(mp);
		if (was_idle)
			return NULL;
		/* someone took us off the list and is about to wake us; a
		 * mask update may come meanwhile (publish waits for every
		 * idle M to take it) */
		mp->idle = true;
		atomic_thread_fence(memory_order_seq_cst);
		rt_mask_idle(mp);
		notetsleep(&mp->park, -1);
		mp->idle = false;
	}
	p *pp = mp->nextp;
	mp->nextp = NULL;
	if (pp)
		acquirep(mp, pp);
	return pp;
}

static g *steal_work(m *mp)
{
	p *pp = mp->p;
	int n = sched.nprocs;

	for (int round = 0; round < 4; round++) {
		bool stealnext = round == 3;
		uint32_t start = fastrand(mp) % (uint32_t)n;
		for (int i = 0; i < n; i++) {
			p *victim = sched.allp[(start + (uint32_t)i) % n];
			if (victim == pp)
				continue;
			g *gp = runqsteal(pp, victim, stealnext);
			if (gp) {
				pp->nsteal++;
				TRACE(TEV_STEAL, gp, (uint16_t)victim->id, 0);
				return gp;
			}
		}
	}
	return NULL;
}

static void run_timers(void)
{
	int64_t next = timers_next();

	if (next >= 0 && next <= nanotime())
		timers_run(nanotime());
}

/* This M, without a P, is the one that blocks in the poller until the
 * next timer (netpoll_lastpoll is 0 while it does). Returns a P if it got
 * one; the Gs it readied are on it, or on the global queue. */
static p *block_in_netpoll(m *mp, int64_t until)
{
	struct epoll_event ev[128];
	p *pp;

	mp->idle = true;	/* holds nothing: handlers may run */
	atomic_thread_fence(memory_order_seq_cst);	/* idle, then rt_mask */
	rt_mask_idle(mp);
	if (atomic_load_explicit(&mp->sigdefer, memory_order_relaxed))
		m_undefer(mp);
	int n = netpoll_wait(ev, 128, until);
	mp->idle = false;
	atomic_store(&netpoll_lastpoll, nanotime());
	lock(&sched.lock);
	pp = pidleget();
	unlock(&sched.lock);
	if (pp)
		acquirep(mp, pp);
	if (n)
		netpoll_dispatch(ev, n);
	return pp;
}

/* Find a G to run; sleeps the M when there is none. Go: findrunnable. */
static g *findrunnable(m *mp, bool *inherit)
{
	g *gp;
	p *pp;

top:
	pp = mp->p;
	*inherit = false;
	run_timers();
	if ((gp = runqget(pp, inherit)))
		return gp;
	if (atomic_load_explicit(&sched.runqsize, memory_order_relaxed)) {
		lock(&sched.lock);
		gp = globrunqget(pp, 0);
		unlock(&sched.lock);
		if (gp)
			return gp;
	}
	/* fds became ready: their Gs go to this P (Go: the non-blocking
	 * netpoll before stealing) */
	if (netpoll_active() && netpoll_poll_now() &&
	    (gp = runqget(pp, inherit)))
		return gp;
	/* spin only while fewer than half the busy Ps spin */
	if (mp->spinning ||
	    2 * atomic_load(&sched.nmspinning) <
		    sched.nprocs - atomic_load(&sched.npidle)) {
		if (!mp->spinning) {
			mp->spinning = true;
			atomic_fetch_add(&sched.nmspinning, 1);
		}
		if ((gp = steal_work(mp)))
			return gp;
	}

	lock(&sched.lock);
	if (atomic_load_explicit(&sched.runqsize, memory_order_relaxed)) {
		gp = globrunqget(pp, 0);
		unlock(&sched.lock);
		return gp;
	}
	pidleput(releasep(mp));
	unlock(&sched.lock);

	if (mp->spinning) {
		mp->spinning = false;
		/* seq_cst: drop spinning, then re-check all queues. */
		if (atomic_fetch_sub(&sched.nmspinning, 1) <= 0)
			throw("findrunnable: negative nmspinning");
		for (int i = 0; i < sched.nprocs; i++) {
			if (runqempty(sched.allp[i]))
				continue;
			lock(&sched.lock);
			pp = pidleget();
			unlock(&sched.lock);
			if (pp) {
				acquirep(mp, pp);
				mp->spinning = true;
				atomic_fetch_add(&sched.nmspinning, 1);
				goto top;
			}
			break;
		}
	}
	for (;;) {
		int64_t next = timers_next();
		bool due = next >= 0 && next <= nanotime();

		if (!due && netpoll_active() &&
		    atomic_exchange(&netpoll_lastpoll, 0) != 0) {
			if ((pp = block_in_netpoll(mp, next)))
				goto top;
			continue;
		}
		if (!due && (pp = stopm(mp, next)))
			goto top;
		/* a timer is due or our sleep timed out: take an idle P */
		lock(&sched.lock);
		pp = pidleget();
		unlock(&sched.lock);
		if (pp) {
			acquirep(mp, pp);
			goto top;
		}
		/* every P is busy and will run due timers itself */
		if ((pp = stopm(mp, -1)))
			goto top;
	}
}

/* ---- wired Gs (Go: lockOSThread, startlockedm, stoplockedm) ----------- */

void (*wire_apply_hook)(g *gp);

/* ---- CPU time per G -------------------------------------------------------- */

_Atomic bool cpu_acct;

/* The calling kernel thread's CPU time, ns. */
static int64_t thread_cpu_now(void)
{
	struct timespec ts;

	arch_syscall(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts, 0, 0);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t g_cputime(g *gp)
{
	g *self = getg();

	if (!atomic_load_explicit(&cpu_acct, memory_order_relaxed)) {
		atomic_store(&cpu_acct, true);
		if (self && !self->is_g0 && !self->cpu_in)
			self->cpu_in = thread_cpu_now();
	}
	int64_t t = gp->cpu_ns, in = gp->cpu_in;
	if (gp == self)
		return t + (in ? thread_cpu_now() - in : 0);
	m *mp = gp->m;
	if (in && mp && atomic_load_explicit(&gp->status,
					     memory_order_relaxed) == G_RUNNING) {
		/* the kernel's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) */
		clockid_t clk = (clockid_t)((~(unsigned)mp->tid << 3) | 6);
		struct timespec ts;
		if (arch_syscall(SYS_clock_gettime, clk, &ts, 0, 0) == 0) {
			int64_t now = (int64_t)ts.tv_sec * 1000000000 +
				      ts.tv_nsec;
			if (now > in)
				t += now - in;
		}
	}
	return t;
}

static void wire_here(m *mp, g *gp)
{
	if (!gp->lockedm) {
		gp->lockedm = mp;
		mp->lockedg = gp;
	}
	atomic_store_explicit(&gp->wire_req, false, memory_order_relaxed);
	if (wire_apply_hook)
		wire_apply_hook(gp);
}

void g_wire(void)
{
	g *gp = getg();

	/* the M cannot change under us: no P handoff moves a running G */
	if (gp->lockedm)
		return;
	rt_enter();
	gp->lockedm = gp->m;
	gp->m->lockedg = gp;
	rt_exit();
}

/* A wired M whose G is not running: give the P away and sleep until
 * someone hands it back with the G (startlockedm). m.park was cleared
 * when the G left (finish_mcall), so a wakeup in between is kept.
 * Returns the G, the P held. Go: stoplockedm. */
static g *stoplockedm(m *mp)
{
	if (mp->p)
		handoffp(releasep(mp));
	/* asleep holding nothing, like an idle M: signals go elsewhere */
	mp->idle = true;
	atomic_thread_fence(memory_order_seq_cst);	/* idle, then rt_mask */
	rt_mask_idle(mp);
	if (atomic_load_explicit(&mp->sigdefer, memory_order_relaxed))
		m_undefer(mp);
	notetsleep(&mp->park, -1);
	mp->idle = false;
	p *pp = mp->nextp;
	mp->nextp = NULL;
	acquirep(mp, pp);
	return mp->lockedg;
}

/* gp, taken from a queue by mp, is wired to another M: hand it our P and
 * wake it; mp goes looking for a P again. Go: startlockedm. */
static void startlockedm(m *mp, g *gp)
{
	m *lm = gp->lockedm;

	if (mp->spinning)
		resetspinning(mp);
	lm->nextp = releasep(mp);
	notewakeup(&lm->park);
}

/* The wired G of mp has exited: the kernel thread carries its state, so
 * it ends too (the process's main thread cannot: it goes on, unwired). */
static void lockedm_exit(m *mp)
{
	handoffp(releasep(mp));
	if (mp->is_m0) {
		/* back to the defaults the other Gs run with */
		if (wire_apply_hook)
			wire_apply_hook(NULL);
		return;
	}
	lock(&sched.lock);
	sched.nmdead++;
	unlock(&sched.lock);
	m_exit(mp);
}

/* The M's kernel thread takes gp's sigaltstack (NULL: none). Only
 * programs that use sigaltstack pay for it: a system call as such a G
 * switches in and one as it switches out. */
static void altstack_switch(m *mp, g *gp)
{
	bool on = gp && gp->alt_on;

	if (on == mp->kalt_on &&
	    (!on || (gp->alt.ss_sp == mp->kalt.ss_sp &&
		     gp->alt.ss_size == mp->kalt.ss_size &&
		     gp->alt.ss_flags == mp->kalt.ss_flags)))
		return;
	stack_t off = { .ss_flags = SS_DISABLE };
	if (arch_syscall(SYS_sigaltstack, (long)(on ? &gp->alt : &off), 0, 0,
			 0) == 0) {
		mp->kalt_on = on;
		if (on)
			mp->kalt = gp->alt;
	}
}

static void execute(m *mp, g *gp, bool inherit)
{
	p *pp = mp->p;

	if (!inherit)
		pp->schedtick++;
	pp->nswitch++;
	atomic_store_explicit(&gp->status, G_RUNNING, memory_order_relaxed);
	gp->m = mp;
	mp->curg = gp;
	if (__builtin_expect(trace_on, 0))
		trace_ev_p(pp, TEV_RUN, gp, (uint16_t)pp->id, (uint8_t)mp->id);
	/* another thread asked to wire gp (pthread_setaffinity_np on it):
	 * this M is its M from now on */
	if (__builtin_expect(atomic_load_explicit(&gp->wire_req,
						  memory_order_acquire), 0))
		wire_here(mp, gp);
	if (__builtin_expect(atomic_load_explicit(&cpu_acct,
						  memory_order_relaxed), 0))
		gp->cpu_in = thread_cpu_now();
	gp->preempt_pending = false;	/* it switched: done */
	/* a request for the previous G is void */
	if (atomic_load_explicit(&mp->preempt_req, memory_order_relaxed))
		atomic_store_explicit(&mp->preempt_req, false,
				      memory_order_relaxed);
	/* the kernel thread takes the G's signal mask (pthread_sigmask) */
	if (gp->sigmask != mp->kmask) {
		arch_syscall(SYS_rt_sigprocmask, SIG_SETMASK,
			     (long)&gp->sigmask, 0, 8);
		mp->kmask = gp->sigmask;
	}
	if (__builtin_expect(gp->alt_on | mp->kalt_on, 0))
		altstack_switch(mp, gp);
	arch_switch(&mp->g0->ctx, &gp->ctx);
	/* a G that stopped inside a signal handler left the thread with the
	 * handler's mask (its signal, sa_mask, libgmp's SIGCANCEL and
	 * preemption signal blocked), which kmask does not show: set the
	 * next mask whatever it is */
	if (__builtin_expect(gp->in_handler != 0, 0))
		mp->kmask = ~0ull;
	/* no G's alternate stack stays on an M that runs none: a signal
	 * taken here would land on memory that G may be using on another
	 * M, or has freed */
	if (__builtin_expect(mp->kalt_on, 0))
		altstack_switch(mp, NULL);
}

static g *schedule(m *mp, bool *inherit)
{
	p *pp = mp->p;
	g *gp = NULL;

	*inherit = false;
	if (pp->schedtick % 61 == 0 &&
	    atomic_load_explicit(&sched.runqsize, memory_order_relaxed) > 0) {
		lock(&sched.lock);
		gp = globrunqget(pp, 1);
		unlock(&sched.lock);
	}
	if (!gp)
		gp = findrunnable(mp, inherit);
	if (mp->spinning)
		resetspinning(mp);
	if (__builtin_expect(gp->lockedm != NULL, 0) && gp->lockedm != mp) {
		startlockedm(mp, gp);
		return NULL;
	}
	return gp;
}

/* gp is runnable again, at the back of the global queue. */
static void to_global(g *gp)
{
	atomic_store_explicit(&gp->status, G_RUNNABLE, memory_order_relaxed);
	lock(&sched.lock);
	globrunqput(gp);
	unlock(&sched.lock);
}

/* The G that just switched to g0 is done running; finish its request.
 * Returns a G to run at once (a park whose unlockf declined) or NULL. */
static g *finish_mcall(m *mp)
{
	g *gp = mp->curg;
	bool (*f)(g *, void *);

	if (__builtin_expect(trace_on, 0) && mp->p &&
	    mp->mcallop != MCALL_EXITSYSCALL) {
		/* (one leaving a syscall without a P: its slice ended at the
		 * handoff) */
		int why = mp->mcallop == MCALL_PARK
				  ? TSTOP_PARK << 5 | (gp->waitreason & 31)
			  : mp->mcallop == MCALL_YIELD	 ? TSTOP_YIELD << 5
			  : mp->mcallop == MCALL_PREEMPT ? TSTOP_PREEMPT << 5
							 : TSTOP_EXIT << 5;
		trace_ev_p(mp->p, TEV_STOP, gp, (uint16_t)mp->p->id,
			   (uint8_t)why);
	}
	mp->curg = NULL;
	gp->m = NULL;
	if (gp->cpu_in) {
		gp->cpu_ns += thread_cpu_now() - gp->cpu_in;
		gp->cpu_in = 0;
	}
	/* a wired M sleeps on its note until its G is handed back: clear it
	 * before the G can be seen by anyone who would hand it back */
	if (mp->lockedg)
		noteclear(&mp->park);
	uint64_t own = gp->sigmask & ~atomic_load_explicit(&rt_mask,
							   memory_order_relaxed);
	if (own && mp->mcallop != MCALL_EXIT)
		m_take_pending(gp, own);
	switch (mp->mcallop) {
	case MCALL_PARK:
		f = mp->waitunlockf;
		mp->waitunlockf = NULL;
		atomic_store_explicit(&gp->status, G_WAITING,
				      memory_order_release);
		mp->p->npark++;
		if (f && !f(gp, mp->waitarg)) {
			atomic_store_explicit(&gp->status, G_RUNNABLE,
					      memory_order_relaxed);
			return gp;
		}
		return NULL;
	case MCALL_YIELD:
		atomic_store_explicit(&gp->status, G_RUNNABLE,
				      memory_order_relaxed);
		mp->p->nyield++;
		if (mp->lockedg) {
			/* others run first; one of them hands gp back */
			to_global(gp);
			return NULL;
		}
		runqput(mp->p, gp, false);
		return NULL;
	case MCALL_PREEMPT:
		/* Go's gopreempt_m: behind everything queued anywhere */
		to_global(gp);
		return NULL;
	case MCALL_EXITSYSCALL:
		/* no P was free: queue gp globally, this M waits for a P */
		to_global(gp);
		wakep();	/* an idle P may be waiting for it */
		return NULL;
	case MCALL_EXIT:
		atomic_store_explicit(&gp->status, G_DEAD,
				      memory_order_relaxed);
		sigmask_account(gp->sigmask, -1);
		if (atomic_load_explicit(&gp->sigproc, memory_order_relaxed) &&
		    hooks.sig_orphans)
			hooks.sig_orphans(gp);
		/* acq_rel: result is visible to the joiner. */
		uint32_t old = atomic_fetch_or_explicit(&gp->joinword,
							JOIN_EXITED,
							memory_order_acq_rel);
		if (mp->lockedg == gp) {
			mp->lockedg = NULL;
			gp->lockedm = NULL;
			mp->lockexit = true;
		}
		if (old & JOIN_DETACHED)
			g_release(gp, true);
		else
			gfutex_wake((void *)&gp->joinword, INT_MAX);
		return NULL;
	}
	throw("finish_mcall: bad request");
}

_Noreturn void mstart(m *mp)
{
	for (;;) {
		g *gp = mp->curg ? finish_mcall(mp) : NULL;
		bool inherit = true;

		if (mp->lockexit) {
			mp->lockexit = false;
			lockedm_exit(mp);	/* returns only on m0 */
		}
		if (!gp && mp->lockedg) {
			gp = stoplockedm(mp);
			inherit = false;
		}
		while (!gp) {
			while (!mp->p)
				stopm(mp, -1);	/* lost its P in a syscall */
			gp = schedule(mp, &inherit);
		}
		execute(mp, gp, inherit);
	}
}

void mcall(int op)
{
	g *gp = getg();
	m *mp = gp->m;

	mp->mcallop = op;
	arch_switch(&gp->ctx, &mp->g0->ctx);
}

void gopark(bool (*unlockf)(g *, void *), void *arg, enum waitreason why)
{
	g *gp = getg();
	m *mp = gp->m;

	if (gp->is_g0 || atomic_load_explicit(&gp->status,
					      memory_order_relaxed) != G_RUNNING)
		throw("gopark: not on a running G");
	gp->waitreason = why;
	gp->parked_at = coarsetime();
	mp->waitunlockf = unlockf;
	mp->waitarg = arg;
	mcall(MCALL_PARK);
}

void goready(g *gp)
{
	int s = G_WAITING;

	if (!atomic_compare_exchange_strong_explicit(
		    &gp->status, &s, G_RUNNABLE, memory_order_acq_rel,
		    memory_order_relaxed))
		throw("goready: G is not waiting");
	gp->waitreason = WAIT_NONE;
	TRACE(TEV_READY, gp, 0, 0);
	g *self = getg();
	if (self && self->m && self->m->p) {
		runqput(self->m->p, gp, true);
	} else {
		/* a thread that is not an M (glibc's own helpers): no P */
		lock(&sched.lock);
		globrunqput(gp);
		unlock(&sched.lock);
	}
	wakep();
}

void gosched(void)
{
	rt_enter();
	mcall(MCALL_YIELD);
	rt_exit();
}

void newproc(g *gp)
{
	rt_enter();
	TRACE(TEV_CREATE, gp, 0, 0);
	live_g_add(1);
	sigmask_account(gp->sigmask, 1);
	atomic_store_explicit(&gp->status, G_RUNNABLE, memory_order_relaxed);
	runqput(getg()->m->p, gp, true);
	wakep();
	rt_exit();
}

_Noreturn void goexit(void)
{
	mcall(MCALL_EXIT);
	throw("goexit: a dead G was resumed");
}

static void m0_entry(void *arg)
{
	mstart(arg);
}

void sched_init(g *main_g)
{
	int n = cfg.maxprocs;

	if (n < 1 || n > MAXPROCS_LIMIT)
		throw("sched_init: bad maxprocs");
	sched.nprocs = n;
	for (int i = 0; i < n; i++) {
		/* mmap, not malloc: an allocator may call back into shims
		 * (jemalloc's pthread_key_create) while we start */
		long r = arch_syscall6(SYS_mmap, 0, sizeof(p),
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r < 0 && r > -4096)
			throw("sched_init: out of memory");
		p *pp = (p *)r;
		pp->id = i;
		pp->status = P_IDLE;
		sched.allp[i] = pp;
	}
	m *m0 = m_alloc();
	m0->is_m0 = true;
	m0->tid = (int)arch_syscall(SYS_gettid, 0, 0, 0, 0);
	arch_syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&m0->kmask, 8);
	m0->g0 = g_new_g0(m0);
	arch_ctx_init(&m0->g0->ctx, m0->g0->stack_hi, m0->g0->tp, m0_entry, m0);
	acquirep(m0, sched.allp[0]);
	lock(&sched.lock);
	for (int i = n - 1; i >= 1; i--)
		pidleput(sched.allp[i]);
	unlock(&sched.lock);
	main_g->m = m0;
	m0->curg = main_g;
	m0->kmask = main_g->sigmask;
	sigmask_account(main_g->sigmask, 1);
	/* one the program set before libgmp started is main's */
	stack_t ss;
	if (arch_syscall(SYS_sigaltstack, 0, (long)&ss, 0, 0) == 0 &&
	    !(ss.ss_flags & SS_DISABLE)) {
		ss.ss_flags &= ~SS_ONSTACK;
		main_g->alt = m0->kalt = ss;
		main_g->alt_on = m0->kalt_on = true;
	}
	atomic_store(&m0->pstate, PS_USER);	/* main runs user code */
	m_init();
	sysmon_init();
}

/* The idle M mp (off every list, holding nothing) ends its kernel
 * thread: back to mstart_thread, which returns to glibc. */
_Noreturn static void m_exit(m *mp)
{
	debugf("M%lld idle too long: its thread exits", (long long)mp->id);
	mp->dead = true;
	mp->idle = true;
	if (atomic_load(&mp->sigdefer))
		m_undefer(mp);
	__builtin_longjmp(mp->exitbuf, 1);
}

void *mstart_thread(void *arg)
{
	m *mp = arg;
	g *g0 = &mp->g0store;
	void (*volatile start)(m *) = (void (*)(m *))mstart;

	if (__builtin_setjmp(mp->exitbuf)) {
		/* the TCB goes back to glibc's cache: not a g0 any more */
		uint64_t *w = (uint64_t *)((char *)arch_tp() + TCB_GSLOT);
		w[0] = w[1] = 0;
		return NULL;
	}

	g0->is_g0 = true;
	g0->m = mp;
	g0->timer.idx = -1;
	g_bind_tcb(g0, arch_tp());
	mp->g0 = g0;
	mp->tid = (int)arch_syscall(SYS_gettid, 0, 0, 0, 0);
	arch_syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&mp->kmask, 8);
	p *pp = mp->nextp;
	mp->nextp = NULL;
	acquirep(mp, pp);
	start(mp);
	return NULL;
}

/*
 * fork. POSIX keeps only the calling thread in the child, and so does
 * libgmp: the calling G goes on alone, on a fresh runtime (Go has no
 * fork; this follows NPTL). Every runtime lock is reset (its holder may
 * be gone), every queue of other Gs forgotten (their memory leaks), the
 * kernel thread becomes the only M with P0, with a new g0 (its old g0
 * stack, if it was an NPTL thread's, is in glibc's stack cache now), and
 * the template and sysmon threads are started again. Runs as the first
 * pthread_atfork child handler, on the forking G.
 */
void sched_afterfork_parent(void)
{
	g *gp = getg();

	/* the child's parent thread is this M's: its PR_SET_PDEATHSIG fires
	 * when this thread ends, so it must not end while the G lives */
	if (gp && gp->m)
		gp->m->forked = true;
}

void sched_afterfork_child(void)
{
	g *gp = getg();

	if (!gp || gp->is_g0)
		return;
	m *mp = gp->m;
	sched.lock.key = 0;
	timers_afterfork();
	sema_afterfork();
	netpoll_afterfork();
	stack_afterfork();
	g_afterfork();
	keys_afterfork();
	preempt_afterfork();
	trace_afterfork();
	for (int i = 0; i < sched.nprocs; i++) {
		p *pp = sched.allp[i];
		atomic_store(&pp->runqhead, 0);
		atomic_store(&pp->runqtail, 0);
		atomic_store(&pp->runnext, NULL);
		atomic_store(&pp->status, P_IDLE);
		pp->m = NULL;
		pp->link = NULL;
	}
	sched.runqhead = sched.runqtail = NULL;
	atomic_store(&sched.runqsize, 0);
	sched.pidle = NULL;
	atomic_store(&sched.npidle, 0);
	sched.midle = NULL;
	sched.nmidle = 0;
	atomic_store(&sched.nmspinning, 0);
	sched.timer_sleeper = NULL;
	sched.allm = mp;
	mp->alllink = NULL;
	sched.mcount = 1;
	sched.nmdead = 0;
	mp->p = mp->nextp = mp->oldp = NULL;
	mp->spinning = false;
	mp->curg = gp;
	mp->is_m0 = true;
	mp->tid = (int)arch_syscall(SYS_gettid, 0, 0, 0, 0);
	mp->g0 = g_new_g0(mp);
	arch_ctx_init(&mp->g0->ctx, mp->g0->stack_hi, mp->g0->tp, m0_entry,
		      mp);
	acquirep(mp, sched.allp[0]);
	for (int i = sched.nprocs - 1; i >= 1; i--)
		pidleput(sched.allp[i]);
	atomic_store(&nlive, 1);
	sigmask_afterfork(gp->sigmask);
	gp->rt = 0;
	atomic_store(&mp->pstate, PS_USER);
	m_afterfork();
	sysmon_afterfork();
}
