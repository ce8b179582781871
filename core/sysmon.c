/*
 * sysmon.c: the monitor thread. Go: sysmon, retake (proc.go).
 * Owns the sysmon thread and its per-P observations.
 *
 * Model. A kernel thread without a P wakes every 20 µs while it finds
 * something to do, doubling its sleep up to 10 ms after 50 idle rounds
 * (Go's policy). Each round it looks at every P in P_SYSCALL: a P whose
 * syscalltick has not moved since the previous round has been in the same
 * call for at least one round, and is handed to another M if it has work
 * queued, or if no M is spinning and no P is idle, or if the call has
 * lasted 10 ms. A syscall start kicks a long-sleeping sysmon, so a retake
 * is never more than ~20 µs + one round late.
 *
 * It also finds Ms blocked where no shim saw it (class 3, retake_stray:
 * the same G for STRAY_NS and the kernel thread asleep, from /proc; while
 * any P runs user code sysmon sleeps at most STRAY_CAP_NS so such a block
 * costs about a millisecond), polls the network when no M did for 10 ms
 * (netpoll.c), asks a G that has run for 10 ms while other work waits
 * to yield, or the longest-running one when a timer is due and no P is
 * free (preempt_check; the mechanism is preempt.c), and passes on
 * signals the kernel gave a runtime thread (sysmon_hook, shims/signal.c;
 * sysmon_wake ends its sleep for those).
 *
 * Rejected. A timer per syscall: costs every fast syscall; polling a few
 * words per P per round costs nothing.
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include "core.h"

_Atomic uint64_t sysmon_retakes, sysmon_stray;
void (*_Atomic sysmon_hook)(void);

#define STRAY_NS 250000	/* asleep in the kernel this long: stray */
#define STRAY_CAP_NS 1000000	/* sysmon's longest sleep while Ps run */

static struct {
	uint32_t tick[MAXPROCS_LIMIT];
	int64_t since[MAXPROCS_LIMIT];
	/* stray-block detection: last nswitch seen, its M, since when */
	uint64_t nsw[MAXPROCS_LIMIT];
	m *who[MAXPROCS_LIMIT];
	int64_t nsw_since[MAXPROCS_LIMIT];
	/* preemption: last schedtick seen, since when, the M's CPU time
	 * at the last request */
	uint32_t ptick[MAXPROCS_LIMIT];
	int64_t psince[MAXPROCS_LIMIT];
	int64_t pcpu[MAXPROCS_LIMIT];
	_Atomic uint32_t longsleep;	/* 1 while sleeping > 1 ms */
	_Atomic uint32_t asleep;	/* futex: 1 while sleeping */
	_Atomic uint32_t wakereq;	/* sysmon_wake came: one round now */
} sm;

void sysmon_kick(void)
{
	uint32_t one = 1;

	/* relaxed: a stale read only delays the retake by one sleep. */
	if (atomic_load_explicit(&sm.longsleep, memory_order_relaxed) &&
	    atomic_compare_exchange_strong(&sm.longsleep, &one, 0) &&
	    atomic_exchange(&sm.asleep, 0))
		futex_wake(&sm.asleep, 1);
}

void sysmon_wake(void)
{
	uint32_t one = 1;

	atomic_store(&sm.wakereq, 1);	/* awake: do not sleep next */
	if (atomic_compare_exchange_strong(&sm.asleep, &one, 0))
		futex_wake(&sm.asleep, 1);
}

static int64_t thread_cputime(int tid)
{
	/* the kernel's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) */
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);
	struct timespec ts;

	if (arch_syscall(SYS_clock_gettime, clk, &ts, 0, 0) < 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Is kernel thread tid asleep (state S or D), rather than runnable but
 * waiting for a CPU? A thread the kernel merely preempted uses no CPU
 * either, and taking its P would only add a thread to a busy machine. */
static bool thread_asleep(int tid)
{
	char path[64], buf[256];
	int n = 0;

	memcpy(path, "/proc/self/task/", 16);
	n = 16;
	char digits[12];
	int nd = 0;
	for (unsigned v = (unsigned)tid; v || !nd; v /= 10)
		digits[nd++] = (char)('0' + v % 10);
	while (nd)
		path[n++] = digits[--nd];
	memcpy(path + n, "/stat", 6);
	long fd = arch_syscall(SYS_open, path, O_RDONLY | O_CLOEXEC, 0, 0);
	if (fd < 0)
		return true;	/* cannot tell: as before */
	long r = arch_syscall(SYS_read, fd, buf, sizeof buf - 1, 0);
	arch_syscall(SYS_close, fd, 0, 0, 0);
	if (r <= 0)
		return true;
	buf[r] = 0;
	char *c = strrchr(buf, ')');	/* the name may hold spaces, ')' */
	if (!c || c[1] != ' ')
		return true;
	return c[2] == 'S' || c[2] == 'D';
}

/* P i has run the same G for STRAY_NS on M mp in user code: if mp's
 * thread is asleep in the kernel now, it sleeps where no shim saw it.
 * Take the P (the M notices in rt_enter) and hand it off. */
static bool retake_stray(int i, p *pp, int64_t now)
{
	m *mp = pp->m;
	uint64_t nsw = pp->nswitch;

	if (!mp || sm.who[i] != mp || sm.nsw[i] != nsw) {
		sm.who[i] = mp;
		sm.nsw[i] = nsw;
		sm.nsw_since[i] = now;
		return false;
	}
	if (now - sm.nsw_since[i] < STRAY_NS ||
	    atomic_load_explicit(&mp->pstate, memory_order_relaxed) != PS_USER ||
	    !thread_asleep(mp->tid))
		return false;
	/* nothing else to run, no timer due: leave it */
	int64_t next = timers_next();
	if (runqempty(pp) &&
	    !atomic_load_explicit(&sched.runqsize, memory_order_relaxed) &&
	    (next < 0 || next > now))
		return false;
	int s = PS_USER;
	if (!atomic_compare_exchange_strong(&mp->pstate, &s, PS_STEALING))
		return false;
	/* PS_STEALING freezes mp's P ownership: is pp still its P? */
	if (pp->m != mp || mp->p != pp) {
		atomic_store(&mp->pstate, PS_USER);
		return false;
	}
	if (__builtin_expect(trace_on, 0) && mp->curg) {
		trace_ev_p(NULL, TEV_STOP, mp->curg, (uint16_t)i,
			   TSTOP_HANDOFF << 5);
		trace_ev_p(NULL, TEV_HANDOFF, NULL, (uint16_t)i, 0);
	}
	pp->m = NULL;
	mp->p = NULL;
	atomic_store(&pp->status, P_IDLE);
	/* release: the M sees p == NULL once it sees PS_STOLEN. */
	atomic_store_explicit(&mp->pstate, PS_STOLEN, memory_order_release);
	atomic_fetch_add_explicit(&sysmon_stray, 1, memory_order_relaxed);
	debugf("M%lld blocked outside libgmp's view: its P goes to another M",
	       (long long)mp->id);
	handoffp(pp);
	sm.who[i] = NULL;
	return true;
}

#define PREEMPT_NS 10000000	/* Go's forcePreemptNS */
#define PREEMPT_MIN_NS 50000	/* the shortest slice a due timer ends */

static bool thread_asleep(int tid);

/* Ask P i's M to preempt its G if its thread is computing: its CPU time
 * moved since the last look and it is not asleep in the kernel now. A
 * thread blocked in a system call no shim saw must not get the signal:
 * the call would fail with EINTR. */
static void preempt_cpu(int i, m *mp)
{
	int64_t cpu = thread_cputime(mp->tid), was = sm.pcpu[i];

	sm.pcpu[i] = cpu;
	if (cpu == was || thread_asleep(mp->tid))
		return;
	preempt_ask(mp);
}

/* P i has run the same time slice (schedtick: a G and those it handed
 * runnext to) for 10 ms while other Gs wait: if its thread is computing
 * (its CPU time moved: a thread asleep in the kernel is retake_stray's),
 * ask its G to yield; again every round until it does. Returns the age
 * of the slice when P i could be asked to make way for a due timer, else
 * -1. */
static int64_t preempt_check(int i, p *pp, int64_t now)
{
	uint32_t t = pp->schedtick;
	m *mp = pp->m;

	if (sm.ptick[i] != t) {
		sm.ptick[i] = t;
		sm.psince[i] = now;
		sm.pcpu[i] = -1;
		return -1;
	}
	int64_t age = now - sm.psince[i];
	if (!preempt_sig || !mp || age < PREEMPT_MIN_NS ||
	    atomic_load_explicit(&mp->pstate, memory_order_relaxed) != PS_USER)
		return -1;
	if (age < PREEMPT_NS ||
	    (runqempty(pp) &&
	     !atomic_load_explicit(&sched.runqsize, memory_order_relaxed)))
		return age;
	preempt_cpu(i, mp);
	return -1;
}

/* Is some P running a G in user code (which could block unseen)? */
static bool any_user_p(void)
{
	for (int i = 0; i < sched.nprocs; i++) {
		p *pp = sched.allp[i];
		m *mp = pp->m;
		if (atomic_load_explicit(&pp->status, memory_order_relaxed) ==
			    P_RUNNING &&
		    mp && atomic_load_explicit(&mp->pstate,
					       memory_order_relaxed) ==
				  PS_USER)
			return true;
	}
	return false;
}

static int retake(int64_t now)
{
	int n = 0, oldest = -1;
	int64_t oldest_age = -1;

	for (int i = 0; i < sched.nprocs; i++) {
		p *pp = sched.allp[i];
		int st = atomic_load_explicit(&pp->status, memory_order_acquire);
		if (st == P_RUNNING) {
			if (retake_stray(i, pp, now)) {
				n++;
				continue;
			}
			int64_t age = preempt_check(i, pp, now);
			if (age > oldest_age) {
				oldest_age = age;
				oldest = i;
			}
			continue;
		}
		if (st != P_SYSCALL)
			continue;
		uint32_t t = pp->syscalltick;
		if (sm.tick[i] != t) {
			sm.tick[i] = t;
			sm.since[i] = now;
			continue;
		}
		if (runqempty(pp) &&
		    atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) >
			    0 &&
		    now - sm.since[i] < 10000000)
			continue;
		int s = P_SYSCALL;
		if (!atomic_compare_exchange_strong(&pp->status, &s, P_IDLE))
			continue;
		atomic_fetch_add_explicit(&sysmon_retakes, 1,
					  memory_order_relaxed);
		if (__builtin_expect(trace_on, 0) && pp->tr_sysg) {
			trace_ev_p(NULL, TEV_STOP, pp->tr_sysg, (uint16_t)i,
				   TSTOP_HANDOFF << 5);
			trace_ev_p(NULL, TEV_HANDOFF, NULL, (uint16_t)i, 0);
		}
		handoffp(pp);
		n++;
	}
	/* a timer is due and no P is free to run it: the longest-running
	 * slice makes way (the M that schedules runs every due timer). A
	 * sleeping thread natively wakes at once; this keeps it within
	 * about a millisecond. */
	if (oldest >= 0 && !atomic_load_explicit(&sched.npidle,
						 memory_order_relaxed)) {
		int64_t next = timers_next();
		p *pp = sched.allp[oldest];
		if (next >= 0 && next <= now && pp->m)
			preempt_cpu(oldest, pp->m);
	}
	return n;
}

static void *sysmon_main(void *arg)
{
	int64_t delay = 20000;
	int idle = 0;

	(void)arg;
	rt_mask_helper();
	for (;;) {
		if (idle == 0)
			delay = 20000;
		else if (idle > 50 && delay < 10000000)
			delay *= 2;
		if (delay > 10000000)
			delay = 10000000;
		int64_t sleep = delay;
		/* a P running user code may block where no shim sees it at
		 * any time: look at least every STRAY_CAP_NS then */
		if (sleep > STRAY_CAP_NS && any_user_p())
			sleep = STRAY_CAP_NS;
		/* every P busy and a timer pending: be up when it is due,
		 * to preempt for it (one already due was asked for in this
		 * round: look again in 100 us, not at once) */
		int64_t next = timers_next();
		if (next >= 0 &&
		    !atomic_load_explicit(&sched.npidle, memory_order_relaxed)) {
			int64_t until = next - nanotime();
			if (until <= 0)	/* asked for, but not run yet */
				until = 100000;
			if (until < sleep)
				sleep = until < 20000 ? 20000 : until;
		}
		int64_t on = obs_next();	/* schedtrace, deadlock check */
		if (on >= 0) {
			int64_t until = on - nanotime();
			if (until < sleep)
				sleep = until < 20000 ? 20000 : until;
		}
		rt_thread_idle(true);
		/* longsleep says whether a syscall's kick should wake us;
		 * asleep whether sysmon_wake may */
		if (sleep > 1000000)
			atomic_store(&sm.longsleep, 1);
		atomic_store(&sm.asleep, 1);
		if (!atomic_exchange(&sm.wakereq, 0))
			futex_wait(&sm.asleep, 1, nanotime() + sleep);
		atomic_store(&sm.asleep, 0);
		atomic_store(&sm.longsleep, 0);
		rt_thread_idle(false);
		void (*hook)(void) = atomic_load_explicit(&sysmon_hook,
							  memory_order_acquire);
		if (hook)
			hook();
		int64_t now = nanotime();
		atomic_store_explicit(&coarse_now, now, memory_order_relaxed);
		int64_t lp = atomic_load(&netpoll_lastpoll);
		bool polled = false;
		/* nobody polled for 10 ms: the Ps are all busy */
		if (lp != 0 && now - lp > 10000000 && netpoll_active())
			polled = netpoll_poll_now() > 0;
		obs_tick(now);
		if (retake(now) || polled)
			idle = 0;
		else
			idle++;
	}
	return NULL;
}

_Atomic int64_t coarse_now;

void sysmon_init(void)
{
	atomic_store_explicit(&coarse_now, nanotime(), memory_order_relaxed);
	m_start_helper(sysmon_main, 128 << 10, "cannot create the sysmon thread");
}

void sysmon_afterfork(void)
{
	memset(&sm, 0, sizeof sm);
	obs_afterfork();
	sysmon_init();
}
