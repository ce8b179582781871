/*
 * obs.c: seeing inside the scheduler while it runs. Owns GMP_DEBUG's
 * schedtrace and scheddetail lines, the G dump (SIGQUIT when the program
 * has no handler for it, GMP_DEBUG=dump at exit, a deadlock report) and
 * the deadlock check (GMP_DEADLOCK). Go: schedtrace() and checkdead() in
 * proc.go, the goroutine traceback printed on SIGQUIT.
 *
 * Invariants: nothing here allocates or takes a lock a G can hold; the
 * scheduler's state is read racily (a dump is a snapshot, not a
 * consistent cut). The G table is walked without its lock: Gs are only
 * ever pushed at its head, so a reader sees a well-formed list. Output
 * is formatted into a stack buffer and written with write(2) to
 * stats_fd, from sysmon, the exit path or a signal handler; start
 * functions are named with dladdr except in a signal handler.
 *
 * The deadlock check (sysmon, every OBS_DEAD_NS while every P is idle):
 * every program G is parked on a mutex, condvar, semaphore, rwlock,
 * barrier, join or once, with no timer armed, no G on a descriptor, in
 * a system call or runnable, no thread libgmp did not start (a glibc AIO
 * thread could post a semaphore) and no signal handler of the program's
 * (a signal from outside could wake one); twice in a row with no context
 * switch in between. Futex-level waits (FUTEX_WAIT on memory another
 * process may share) never count as deadlocked.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include "core.h"

struct obs_config obs_cfg = { .deadlock = DEADLOCK_EXIT };

static const char *const reasons[WAIT_NREASONS] = {
	[WAIT_NONE] = "none",	   [WAIT_MUTEX] = "mutex",
	[WAIT_COND] = "cond",	   [WAIT_SEM] = "semaphore",
	[WAIT_JOIN] = "join",	   [WAIT_ONCE] = "once",
	[WAIT_SLEEP] = "sleep",	   [WAIT_FUTEX] = "futex",
	[WAIT_YIELD] = "yield",	   [WAIT_RWLOCK] = "rwlock",
	[WAIT_BARRIER] = "barrier", [WAIT_IO] = "io",
	[WAIT_POLL] = "poll",	   [WAIT_SYSTEM] = "runtime",
};

const char *waitreason_name(int why)
{
	return why >= 0 && why < WAIT_NREASONS && reasons[why] ? reasons[why]
								 : "?";
}

static const char *status_name(int st)
{
	switch (st) {
	case G_IDLE:
		return "idle";
	case G_RUNNABLE:
		return "runnable";
	case G_RUNNING:
		return "running";
	case G_SYSCALL:
		return "syscall";
	case G_WAITING:
		return "waiting";
	case G_DEAD:
		return "dead";
	}
	return "?";
}

/* ---- output ----------------------------------------------------------- */

struct out {
	char buf[4096];
	size_t n;
};

static void out_flush(struct out *o)
{
	size_t done = 0;

	while (done < o->n) {
		long r = arch_syscall(SYS_write, stats_fd, o->buf + done,
				      o->n - done, 0);
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	o->n = 0;
}

static void __attribute__((format(printf, 2, 3)))
outf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->n > sizeof o->buf - 512)
		out_flush(o);
	va_start(ap, fmt);
	int r = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n += (size_t)r < sizeof o->buf - o->n ? (size_t)r
							 : sizeof o->buf - o->n - 1;
}

/* ---- the G dump ------------------------------------------------------- */

static void dump_one(struct out *o, g *gp, int64_t now, bool symbols)
{
	int st = atomic_load_explicit(&gp->status, memory_order_relaxed);

	outf(o, "G%llu", (unsigned long long)gp->goid);
	if (gp->name[0])
		outf(o, " \"%.15s\"", gp->name);
	if (gp->is_main)
		outf(o, " (main)");
	if (gp->is_system)
		outf(o, " (libgmp)");
	outf(o, ": %s", status_name(st));
	if (st == G_WAITING) {
		outf(o, " (%s", waitreason_name(gp->waitreason));
		if (gp->waitreason != WAIT_SLEEP &&
		    gp->waitreason != WAIT_YIELD && gp->w.addr)
			outf(o, " on %p", gp->w.addr);
		outf(o, ")");
		if (gp->parked_at > 0 && now > gp->parked_at)
			outf(o, ", %lld ms", (long long)((now - gp->parked_at) /
							 1000000));
	}
	m *mp = gp->m;
	if ((st == G_RUNNING || st == G_SYSCALL) && mp)
		outf(o, ", on M%lld (tid %d)", (long long)mp->id, mp->tid);
	if (gp->start) {
		Dl_info di;
		if (symbols && dladdr((void *)gp->start, &di) && di.dli_sname)
			outf(o, ", started at %s+%#lx", di.dli_sname,
			     (unsigned long)((char *)gp->start -
					     (char *)di.dli_saddr));
		else if (symbols && dladdr((void *)gp->start, &di) &&
			 di.dli_fname) {
			/* a static function: the object and offset, for
			 * addr2line -f -e OBJECT OFFSET */
			const char *b = strrchr(di.dli_fname, '/');
			outf(o, ", started at %s+%#lx", b ? b + 1 : di.dli_fname,
			     (unsigned long)((char *)gp->start -
					     (char *)di.dli_fbase));
		} else
			outf(o, ", started at %p", (void *)gp->start);
	} else if (gp->is_main) {
		outf(o, ", started at main");
	}
	outf(o, "\n");
}

void obs_dump(const char *title, bool symbols)
{
	struct out o = { .n = 0 };
	int64_t now = coarsetime();
	int n = 0;

	/* from a signal handler (no symbols) the table is read unlocked:
	 * the handler may have interrupted its lock's holder */
	if (symbols)
		g_table_lock();
	for (g *gp = g_allg(); gp; gp = gp->alllink) {
		int st = atomic_load_explicit(&gp->status,
					      memory_order_relaxed);
		if (st != G_DEAD && st != G_IDLE && !gp->is_g0)
			n++;
	}
	outf(&o, "libgmp: %s: %d threads\n", title, n);
	for (g *gp = g_allg(); gp; gp = gp->alllink) {
		int st = atomic_load_explicit(&gp->status,
					      memory_order_relaxed);
		if (st == G_DEAD || st == G_IDLE || gp->is_g0)
			continue;
		dump_one(&o, gp, now, symbols);
	}
	if (symbols)
		g_table_unlock();
	out_flush(&o);
}

/* ---- schedtrace ------------------------------------------------------- */

static int64_t trace_next;

static void schedtrace(int64_t now)
{
	struct out o = { .n = 0 };
	int idle = atomic_load_explicit(&sched.npidle, memory_order_relaxed);
	int nm = sched.mcount - sched.nmdead, nidle = sched.nmidle;
	int ng[G_DEAD + 1] = { 0 };

	for (g *gp = g_allg(); gp; gp = gp->alllink) {
		int st = atomic_load_explicit(&gp->status,
					      memory_order_relaxed);
		if (!gp->is_g0 && st >= 0 && st <= G_DEAD)
			ng[st]++;
	}
	outf(&o,
	     "gmp-sched %lldms: procs=%d idleprocs=%d threads=%d "
	     "spinningthreads=%d idlethreads=%d runqueue=%d [",
	     (long long)((now - stats_start_ns) / 1000000), sched.nprocs,
	     idle, nm,
	     (int)atomic_load_explicit(&sched.nmspinning,
				       memory_order_relaxed),
	     nidle,
	     (int)atomic_load_explicit(&sched.runqsize,
				       memory_order_relaxed));
	for (int i = 0; i < sched.nprocs; i++)
		outf(&o, "%s%u", i ? " " : "", runqlen(sched.allp[i]));
	outf(&o, "] gs: running=%d runnable=%d waiting=%d syscall=%d\n",
	     ng[G_RUNNING], ng[G_RUNNABLE], ng[G_WAITING], ng[G_SYSCALL]);
	if (obs_cfg.scheddetail) {
		for (int i = 0; i < sched.nprocs; i++) {
			p *pp = sched.allp[i];
			m *mp = pp->m;
			int ps = (int)atomic_load(&pp->status);
			outf(&o,
			     "  P%d: status=%s schedtick=%u switches=%llu "
			     "m=%lld runqsize=%u\n",
			     i,
			     ps == P_IDLE      ? "idle"
			     : ps == P_RUNNING ? "running"
					       : "syscall",
			     (unsigned)pp->schedtick,
			     (unsigned long long)pp->nswitch,
			     mp ? (long long)mp->id : -1LL, runqlen(pp));
		}
		for (m *mp = sched.allm; mp; mp = mp->alllink) {
			if (mp->dead)
				continue;
			g *cg = mp->curg;
			outf(&o,
			     "  M%lld: tid=%d p=%d curg=%lld spinning=%d "
			     "idle=%d lockedg=%lld\n",
			     (long long)mp->id, mp->tid,
			     mp->p ? mp->p->id : -1,
			     cg ? (long long)cg->goid : -1LL,
			     (int)mp->spinning, (int)mp->idle,
			     mp->lockedg ? (long long)mp->lockedg->goid
					 : -1LL);
		}
		for (g *gp = g_allg(); gp; gp = gp->alllink) {
			int st = atomic_load_explicit(&gp->status,
						      memory_order_relaxed);
			if (gp->is_g0 || st == G_DEAD || st == G_IDLE)
				continue;
			outf(&o, "  G%llu: status=%s(%s) m=%lld lockedm=%lld\n",
			     (unsigned long long)gp->goid, status_name(st),
			     st == G_WAITING ? waitreason_name(gp->waitreason)
					     : "",
			     st == G_RUNNING && gp->m ? (long long)gp->m->id
						       : -1LL,
			     gp->lockedm ? (long long)gp->lockedm->id : -1LL);
		}
	}
	out_flush(&o);
}

/* ---- the deadlock check ------------------------------------------------ */

#define OBS_DEAD_NS 50000000	/* between the two looks */

static int64_t dead_next;
static uint64_t dead_switches;	/* context switches at the first look */
static bool dead_armed, dead_reported;

static bool deadlockable(int why)
{
	switch (why) {
	case WAIT_MUTEX:
	case WAIT_COND:
	case WAIT_SEM:
	case WAIT_JOIN:
	case WAIT_ONCE:
	case WAIT_RWLOCK:
	case WAIT_BARRIER:
		return true;
	}
	return false;
}

static uint64_t switches(void)
{
	uint64_t n = 0;

	for (int i = 0; i < sched.nprocs; i++)
		n += sched.allp[i]->nswitch + sched.allp[i]->npark;
	return n;
}

/* A thread of the process that is neither an M nor a runtime helper. */
static bool foreign_thread(void)
{
	char buf[4096];
	long fd = arch_syscall(SYS_open, (long)"/proc/self/task",
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0);
	bool found = false;

	if (fd < 0)
		return true;	/* cannot tell: assume one */
	for (;;) {
		long n = arch_syscall(SYS_getdents64, fd, (long)buf, sizeof buf,
				      0);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			off += d->reclen;
			if (d->name[0] < '0' || d->name[0] > '9')
				continue;
			int tid = 0;
			for (const char *c = d->name; *c; c++)
				tid = tid * 10 + (*c - '0');
			bool known = rt_is_runtime_tid(tid);
			for (m *mp = sched.allm; mp && !known; mp = mp->alllink)
				if (mp->tid == tid)
					known = true;
			if (!known)
				found = true;
		}
	}
	arch_syscall(SYS_close, fd, 0, 0, 0);
	return found;
}

/* A kernel timer that can still fire: alarm/setitimer, or a POSIX timer
 * (a SIGEV_THREAD one of libgmp's included; /proc/self/timers lists
 * them). Its signal may wake a G, or end the process as natively. */
static bool kernel_timer_pending(void)
{
	struct itimerval it;
	char buf[64];

	for (int w = ITIMER_REAL; w <= ITIMER_PROF; w++)
		if (arch_syscall(SYS_getitimer, w, (long)&it, 0, 0) == 0 &&
		    (it.it_value.tv_sec || it.it_value.tv_usec))
			return true;
	long fd = arch_syscall(SYS_open, (long)"/proc/self/timers",
			       O_RDONLY | O_CLOEXEC, 0, 0);
	if (fd < 0)
		return false;	/* no such file: no POSIX timers to see */
	long n = arch_syscall(SYS_read, fd, (long)buf, sizeof buf, 0);
	arch_syscall(SYS_close, fd, 0, 0, 0);
	return n != 0;
}

/* Every program G parked on something only another G can end. */
static bool all_asleep(int *nwait)
{
	int n = 0;

	if (atomic_load_explicit(&sched.npidle, memory_order_relaxed) !=
		    sched.nprocs ||
	    timers_next() >= 0 ||
	    atomic_load_explicit(&netpoll_waiters, memory_order_relaxed) > 0)
		return false;
	bool asleep = true;
	g_table_lock();
	for (g *gp = g_allg(); gp; gp = gp->alllink) {
		int st = atomic_load_explicit(&gp->status,
					      memory_order_relaxed);
		if (gp->is_g0 || st == G_DEAD || st == G_IDLE)
			continue;
		if (gp->is_system && st == G_WAITING)
			continue;
		if (st != G_WAITING || !deadlockable(gp->waitreason)) {
			asleep = false;
			break;
		}
		n++;
	}
	g_table_unlock();
	*nwait = n;
	return asleep && n > 0;
}

static int64_t scan_after;	/* no look before this */
static uint64_t scan_sw;	/* switches when a look said no */
static bool scan_sw_set;

static void deadlock_check(int64_t now)
{
	uint64_t sw = switches();
	/* what a look depends on: switches and parks, and idle Ps (the last
	 * M to go idle after the last park changes only that) */
	uint64_t fp = sw ^ (uint64_t)atomic_load_explicit(
				   &sched.npidle, memory_order_relaxed) << 48;
	int n;

	/* a look walks every G (about 1 us each, with gfree.lock held):
	 * none while nothing has changed since one that said no, and at
	 * most 1% of a CPU */
	if (now < scan_after || (!dead_armed && scan_sw_set && fp == scan_sw))
		return;
	int64_t t0 = nanotime();
	bool asleep = all_asleep(&n);
	int64_t gap = (nanotime() - t0) * 100;
	scan_after = now + (gap > 10000000 ? gap : 10000000);
	if (!asleep) {
		dead_armed = false;
		dead_reported = false;
		scan_sw = fp;
		scan_sw_set = true;
		return;
	}
	if (!dead_armed || sw != dead_switches) {
		dead_armed = true;	/* look again once more has passed */
		dead_switches = sw;
		dead_next = now + OBS_DEAD_NS;
		if (scan_after < dead_next)
			scan_after = dead_next;
		return;
	}
	if (dead_reported || gmp__program_has_handlers() || foreign_thread() ||
	    kernel_timer_pending()) {
		/* something outside may still wake one: look again once a
		 * thread has switched */
		dead_armed = false;
		scan_sw = fp;
		scan_sw_set = true;
		return;
	}
	dead_reported = true;
	obs_dump("all threads are asleep - deadlock!", true);
	if (obs_cfg.deadlock == DEADLOCK_EXIT) {
		static const char msg[] =
			"libgmp: exiting with status 86 (GMP_DEADLOCK=report "
			"or 0 to keep waiting)\n";
		arch_syscall(SYS_write, stats_fd, msg, sizeof msg - 1, 0);
		arch_syscall(SYS_exit_group, OBS_DEADLOCK_STATUS, 0, 0, 0);
	}
}

/* ---- sysmon's calls ---------------------------------------------------- */

int64_t obs_next(void)
{
	int64_t next = -1;

	if (obs_cfg.schedtrace_ms > 0)
		next = trace_next;
	if (obs_cfg.deadlock != DEADLOCK_OFF && dead_armed &&
	    (next < 0 || dead_next < next))
		next = dead_next;
	return next;
}

void obs_tick(int64_t now)
{
	if (obs_cfg.schedtrace_ms > 0) {
		if (trace_next == 0)
			trace_next = stats_start_ns +
				     obs_cfg.schedtrace_ms * 1000000;
		if (now >= trace_next) {
			g_table_lock();
			schedtrace(now);
			g_table_unlock();
			trace_next += obs_cfg.schedtrace_ms * 1000000;
			if (trace_next <= now)
				trace_next = now + obs_cfg.schedtrace_ms *
							   1000000;
		}
	}
	if (obs_cfg.deadlock != DEADLOCK_OFF && (!dead_armed || now >= dead_next))
		deadlock_check(now);
	statshm_tick(now);	/* gmp-stat's segment (statshm.c) */
}

void obs_afterfork(void)
{
	trace_next = 0;
	dead_armed = dead_reported = false;
	scan_after = 0;
	scan_sw_set = false;
	statshm_afterfork();
}
