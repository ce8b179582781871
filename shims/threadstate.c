/*
 * threadstate.c: per-thread kernel state a G cannot share with others:
 * CPU affinity, scheduling policy and priority, namespaces (unshare,
 * setns) and the per-thread prctl options. Such a call wires the G to a
 * kernel thread of its own (core/sched.c g_wire, Go's LockOSThread) and
 * is then made there, so the state stays the G's and no other G runs
 * under it.
 *
 * Model. A thread that changes its own state is wired at once and the
 * call goes to the kernel with the kernel's result. A thread that changes
 * another G's state (pthread_setaffinity_np(t), pthread_setschedparam(t))
 * either reaches that G's M at once, when the G is wired already, or
 * leaves the request in g.wire: the next M to run the G wires itself to
 * it and applies it first (wire_apply, on g0 before the switch). Such a
 * request is validated here (the CPUs exist and are allowed, the policy
 * and priority are valid and permitted), so the caller gets the errors
 * the kernel would give; a G that is running when asked gets its new
 * state when it next switches in (within one preemption slice when other
 * threads wait). SCHED_OTHER at priority 0, the default, needs no wiring
 * and is only recorded. A new thread created by a wired one, or with an
 * explicit policy or affinity in its attributes, starts wired with that
 * state, as a native thread inherits its creator's.
 *
 * Decisions: sched_setaffinity/sched_setscheduler and friends with pid 0
 * or the calling kernel thread's tid mean the calling G; the process's
 * pid means the main thread's G, as natively; other pids go to the kernel
 * as they are. prctl(PR_SET_NAME)/PR_GET_NAME are the G's name
 * (pthread_setname_np), without wiring.
 *
 * Lock order: none (g.wire is written by one requester at a time, under
 * wirelock, and read by the M that takes wire_req).
 */
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

static atomic_flag wirelock = ATOMIC_FLAG_INIT;
static cpu_set_t default_aff;	/* the Ms' mask, from start-up */
static size_t default_affsize;

static int kerr(long r)
{
	return r < 0 ? (int)-r : 0;
}

static int sys_setaffinity(int tid, size_t size, const cpu_set_t *set)
{
	return kerr(arch_syscall(SYS_sched_setaffinity, tid, size, set, 0));
}

static int sys_setscheduler(int tid, int policy, int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	return kerr(arch_syscall(SYS_sched_setscheduler, tid, policy, &sp, 0));
}

/* On g0 of the M about to run gp, now wired to it (core/sched.c); gp
 * NULL: the main thread's M lost its wired G and goes back to the
 * defaults (namespaces it entered stay: documented). */
static void wire_apply(g *gp)
{
	int r = 0;

	if (!gp) {
		sys_setaffinity(0, default_affsize, &default_aff);
		sys_setscheduler(0, SCHED_OTHER, 0);
		return;
	}

	if (gp->wire.has_aff)
		r = sys_setaffinity(0, gp->wire.affsize, &gp->wire.aff);
	if (r)
		debugf("affinity for a thread could not be set: %d", r);
	if (gp->wire.has_sched)
		r = sys_setscheduler(0, gp->wire.policy, gp->wire.prio);
	if (r)
		debugf("policy for a thread could not be set: %d", r);
	gp->wire.has_aff = gp->wire.has_sched = false;
}

void gmp__threadstate_init(void)
{
	long n = arch_syscall(SYS_sched_getaffinity, 0, sizeof default_aff,
			      &default_aff, 0);

	default_affsize = n > 0 ? (size_t)n : 0;
	wire_apply_hook = wire_apply;
}

static void wire_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&wirelock,
						 memory_order_acquire))
		arch_pause();
}

static void wire_unlock(void)
{
	atomic_flag_clear_explicit(&wirelock, memory_order_release);
}

/* Leave a request in gp for the next M that runs it. wirelock held. */
static void wire_later(g *gp)
{
	/* release: g.wire is complete before the M sees the request */
	atomic_store_explicit(&gp->wire_req, true, memory_order_release);
}

/* ---- affinity ------------------------------------------------------------ */

/* Does set name at least one CPU the process may use? (The kernel's
 * EINVAL for sched_setaffinity.) */
static bool aff_usable(size_t size, const cpu_set_t *set)
{
	size_t n = size < default_affsize ? size : default_affsize;
	const unsigned char *a = (const void *)set,
			    *b = (const void *)&default_aff;

	for (size_t i = 0; i < n; i++)
		if (a[i] & b[i])
			return true;
	return false;
}

static int set_affinity(g *gp, size_t size, const cpu_set_t *set)
{
	if (!set)
		return EFAULT;
	if (gp == curg()) {
		g_wire();
		return sys_setaffinity(0, size, set);
	}
	m *lm = __atomic_load_n(&gp->lockedm, __ATOMIC_ACQUIRE);
	if (lm)
		return sys_setaffinity(lm->tid, size, set);
	if (!aff_usable(size, set))
		return EINVAL;
	wire_lock();
	memset(&gp->wire.aff, 0, sizeof gp->wire.aff);
	gp->wire.affsize = size < sizeof gp->wire.aff ? size
						      : sizeof gp->wire.aff;
	memcpy(&gp->wire.aff, set, gp->wire.affsize);
	gp->wire.has_aff = true;
	wire_later(gp);
	wire_unlock();
	return 0;
}

static int get_affinity(g *gp, size_t size, cpu_set_t *set)
{
	m *lm = __atomic_load_n(&gp->lockedm, __ATOMIC_ACQUIRE);
	long n;

	if (gp == curg() || lm) {
		n = arch_syscall(SYS_sched_getaffinity, lm ? lm->tid : 0, size,
				 set, 0);
		if (n < 0)
			return (int)-n;
		memset((char *)set + n, 0, size - (size_t)n);
		return 0;
	}
	if (size < default_affsize)
		return EINVAL;
	memset(set, 0, size);
	wire_lock();
	if (atomic_load(&gp->wire_req) && gp->wire.has_aff)
		memcpy(set, &gp->wire.aff, gp->wire.affsize);
	else
		memcpy(set, &default_aff, default_affsize);
	wire_unlock();
	return 0;
}

EXPORT int pthread_setaffinity_np(pthread_t t, size_t size,
				  const cpu_set_t *set)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return g_thread_ended(t) ? ESRCH
					 : REAL(pthread_setaffinity_np)(t, size,
									set);
	return set_affinity(gp, size, set);
}

EXPORT int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return g_thread_ended(t) ? ESRCH
					 : REAL(pthread_getaffinity_np)(t, size,
									set);
	return get_affinity(gp, size, set);
}

/* The G a pid names: 0 or the calling kernel thread = the caller, the
 * process = the main thread; NULL: not ours, the kernel decides. */
static g *pid_g(pid_t pid)
{
	g *self = curg();

	if (!self)
		return NULL;
	if (pid == 0 || pid == (pid_t)arch_syscall(SYS_gettid, 0, 0, 0, 0))
		return self;
	if (pid == getpid())
		return g_maing;
	return NULL;
}

static int errno_ret(int r)
{
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

EXPORT int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
	gmp__ensure_init();
	g *gp = pid_g(pid);

	if (!gp)
		return errno_ret(sys_setaffinity(pid, size, set));
	return errno_ret(set_affinity(gp, size, set));
}

EXPORT int sched_getaffinity(pid_t pid, size_t size, cpu_set_t *set)
{
	gmp__ensure_init();
	g *gp = pid_g(pid);

	if (!gp) {
		long n = arch_syscall(SYS_sched_getaffinity, pid, size, set,
				      0);
		if (n < 0)
			return errno_ret((int)-n);
		memset((char *)set + n, 0, size - (size_t)n);
		return 0;
	}
	return errno_ret(get_affinity(gp, size, set));
}

/* ---- policy and priority --------------------------------------------------- */

static int check_sched(int policy, int prio)
{
	switch (policy & ~SCHED_RESET_ON_FORK) {
	case SCHED_OTHER:
	case SCHED_BATCH:
	case SCHED_IDLE:
	case SCHED_FIFO:
	case SCHED_RR:
		break;
	default:
		return EINVAL;
	}
	policy &= ~SCHED_RESET_ON_FORK;
	if (prio < sched_get_priority_min(policy) ||
	    prio > sched_get_priority_max(policy))
		return EINVAL;
	/* a real-time policy needs the privilege or RLIMIT_RTPRIO */
	if ((policy == SCHED_FIFO || policy == SCHED_RR) && geteuid() != 0) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_RTPRIO, &rl) != 0 ||
		    (rlim_t)prio > rl.rlim_cur)
			return EPERM;
	}
	return 0;
}

int gmp__set_sched(g *gp, int policy, int prio)
{
	int r = check_sched(policy, prio);

	if (r)
		return r;
	m *lm = __atomic_load_n(&gp->lockedm, __ATOMIC_ACQUIRE);
	bool dflt = (policy & ~SCHED_RESET_ON_FORK) == SCHED_OTHER &&
		    prio == 0;
	if (gp == curg() && (lm || !dflt)) {
		g_wire();
		r = sys_setscheduler(0, policy, prio);
	} else if (lm) {
		r = sys_setscheduler(lm->tid, policy, prio);
	} else if (!dflt) {
		wire_lock();
		gp->wire.policy = policy;
		gp->wire.prio = prio;
		gp->wire.has_sched = true;
		wire_later(gp);
		wire_unlock();
	} else if (atomic_load(&gp->wire_req)) {
		wire_lock();	/* back to the default before it applied */
		gp->wire.has_sched = false;
		wire_unlock();
	}
	if (r)
		return r;
	gp->sched_policy = policy & ~SCHED_RESET_ON_FORK;
	gp->sched_prio = prio;
	return 0;
}

/* Does set leave out a CPU the Ms may use (so a thread with it needs a
 * kernel thread of its own)? */
static bool restricts(const cpu_set_t *set)
{
	cpu_set_t both;

	CPU_AND(&both, set, &default_aff);
	return !CPU_EQUAL(&both, &default_aff);
}

/* A new G inherits the wired creator's affinity (when it is not the
 * default) and gets its policy from read_attr; both wire it from its
 * first run. Called by pthread_create before newproc. */
void gmp__threadstate_new(g *gp, const pthread_attr_t *attr)
{
	cpu_set_t set;
	bool aff = false;

	/* glibc reports every CPU for attributes without an affinity */
	if (attr && pthread_attr_getaffinity_np(attr, sizeof set, &set) == 0 &&
	    restricts(&set)) {
		aff = true;
	} else {
		g *self = curg();
		if (self && self->lockedm &&
		    arch_syscall(SYS_sched_getaffinity, 0, sizeof set, &set,
				 0) > 0 &&
		    restricts(&set))
			aff = true;
	}
	if (aff) {
		gp->wire.aff = set;
		gp->wire.affsize = sizeof set;
		gp->wire.has_aff = true;
	}
	if (gp->sched_policy != SCHED_OTHER || gp->sched_prio != 0) {
		gp->wire.policy = gp->sched_policy;
		gp->wire.prio = gp->sched_prio;
		gp->wire.has_sched = true;
	}
	if (gp->wire.has_aff || gp->wire.has_sched)
		atomic_store_explicit(&gp->wire_req, true,
				      memory_order_release);
}

EXPORT int sched_setscheduler(pid_t pid, int policy,
			      const struct sched_param *sp)
{
	gmp__ensure_init();
	g *gp = pid_g(pid);

	if (!gp)
		return errno_ret(kerr(arch_syscall(SYS_sched_setscheduler, pid,
						   policy, sp, 0)));
	if (!sp)
		return errno_ret(EINVAL);
	return errno_ret(gmp__set_sched(gp, policy, sp->sched_priority));
}

EXPORT int sched_setparam(pid_t pid, const struct sched_param *sp)
{
	gmp__ensure_init();
	g *gp = pid_g(pid);

	if (!gp)
		return errno_ret(kerr(arch_syscall(SYS_sched_setparam, pid, sp,
						   0, 0)));
	if (!sp)
		return errno_ret(EINVAL);
	return errno_ret(gmp__set_sched(gp, gp->sched_policy,
					sp->sched_priority));
}

EXPORT int sched_getscheduler(pid_t pid)
{
	gmp__ensure_init();
	g *gp = pid_g(pid);

	if (!gp) {
		long r = arch_syscall(SYS_sched_getscheduler, pid, 0, 0, 0);
		return r < 0 ? errno_ret((int)-r) : (int)r;
	}
	return gp->sched_policy;
}

EXPORT int sched_getparam(pid_t pid, struct sched_param *sp)
{
	gmp__ensure_init();
	g *gp = pid_g(pid);

	if (!gp)
		return errno_ret(kerr(arch_syscall(SYS_sched_getparam, pid, sp,
						   0, 0)));
	if (!sp)
		return errno_ret(EINVAL);
	memset(sp, 0, sizeof *sp);
	sp->sched_priority = gp->sched_prio;
	return 0;
}

/* ---- namespaces and prctl ------------------------------------------------- */

EXPORT int unshare(int flags)
{
	gmp__ensure_init();
	if (curg())
		g_wire();
	return REAL(unshare)(flags);
}

EXPORT int setns(int fd, int nstype)
{
	gmp__ensure_init();
	if (curg())
		g_wire();
	return REAL(setns)(fd, nstype);
}

/* prctl options that act on the calling thread only */
static bool per_thread(int option)
{
	switch (option) {
	case PR_SET_PDEATHSIG:
	case PR_SET_TIMERSLACK:
	case PR_SET_NO_NEW_PRIVS:
	case PR_SET_SECCOMP:
	case PR_SET_KEEPCAPS:
	case PR_CAPBSET_DROP:
	case PR_SET_SECUREBITS:
	case PR_SET_IO_FLUSHER:
	case PR_SET_SPECULATION_CTRL:
	case PR_SET_FP_MODE:
	case PR_SET_TAGGED_ADDR_CTRL:
	case PR_CAP_AMBIENT:
	case PR_SET_SYSCALL_USER_DISPATCH:
		return true;
	default:
		return false;
	}
}

EXPORT int prctl(int option, ...)
{
	va_list ap;
	unsigned long a2, a3, a4, a5;

	va_start(ap, option);
	a2 = va_arg(ap, unsigned long);
	a3 = va_arg(ap, unsigned long);
	a4 = va_arg(ap, unsigned long);
	a5 = va_arg(ap, unsigned long);
	va_end(ap);
	gmp__ensure_init();
	g *gp = curg();
	if (gp && option == PR_SET_NAME) {
		/* the kernel truncates to 15 bytes, silently */
		char name[16];
		strncpy(name, (const char *)a2, sizeof name - 1);
		name[sizeof name - 1] = 0;
		return errno_ret(pthread_setname_np(pthread_self(), name));
	}
	if (gp && option == PR_GET_NAME)
		return errno_ret(pthread_getname_np(pthread_self(), (char *)a2,
						    16));
	if (gp && per_thread(option))
		g_wire();
	long r = arch_syscall6(SYS_prctl, option, (long)a2, (long)a3, (long)a4,
			       (long)a5, 0);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

/* ---- CPU time of a thread ---------------------------------------------------- */

/* A G's CPU clock id: the kernel's encoding of a thread CPU clock
 * (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)) with the G's tid, which is
 * above the kernel's pid range (the main G keeps its real one), so glibc's
 * pthread_getcpuclockid already returns it; clock_gettime finds the G. */
#define CPUCLOCK_SCHED_THREAD(tid) ((clockid_t)((~(unsigned)(tid) << 3) | 6))

struct tidfind {
	int tid;
	g *gp;
};

static void find_tid(g *gp, void *arg)
{
	struct tidfind *f = arg;
	int st = atomic_load_explicit(&gp->status, memory_order_relaxed);

	if (gp->tid == f->tid && st != G_DEAD && st != G_IDLE)
		f->gp = gp;
}

/* The G whose CPU clock clk is, or NULL (not a thread clock of ours). */
static g *clock_g(clockid_t clk)
{
	if (clk == CLOCK_THREAD_CPUTIME_ID)
		return curg();
	/* per-thread (bit 2), scheduler clock (bits 0-1 = 2) */
	if (clk >= 0 || (clk & 7) != 6)
		return NULL;
	int tid = (int)~((unsigned)clk >> 3 | 0xe0000000u);
	if (g_maing && tid == g_maing->tid)
		return g_maing;
	struct tidfind f = { tid, NULL };
	g_foreach(find_tid, &f);
	return f.gp;
}

EXPORT int clock_gettime(clockid_t clk, struct timespec *ts)
{
	if (__builtin_expect(clk == CLOCK_THREAD_CPUTIME_ID || clk < 0, 0) &&
	    gmp__active) {
		g *gp = clock_g(clk);
		if (gp) {
			int64_t ns = g_cputime(gp);
			ts->tv_sec = ns / 1000000000;
			ts->tv_nsec = ns % 1000000000;
			return 0;
		}
	}
	return REAL(clock_gettime)(clk, ts);
}

EXPORT int clock_getres(clockid_t clk, struct timespec *ts)
{
	if ((clk == CLOCK_THREAD_CPUTIME_ID || clk < 0) && gmp__active &&
	    clock_g(clk)) {
		if (ts) {
			ts->tv_sec = 0;
			ts->tv_nsec = 1;
		}
		return 0;
	}
	return REAL(clock_getres)(clk, ts);
}

EXPORT int pthread_getcpuclockid(pthread_t t, clockid_t *clk)
{
	g *gp = g_from_thread(t);

	if (!gp)
		return g_thread_ended(t) ? ESRCH
					 : REAL(pthread_getcpuclockid)(t, clk);
	*clk = CPUCLOCK_SCHED_THREAD(gp->tid);
	return 0;
}

/* RUSAGE_THREAD: the G's CPU time, split into user and system time in
 * the proportion of its kernel thread's; the other fields are the
 * kernel thread's. */
EXPORT int getrusage(int who, struct rusage *ru)
{
	g *gp = who == RUSAGE_THREAD && gmp__active ? curg() : NULL;
	int r = REAL(getrusage)(who, ru);

	if (r || !gp)
		return r;
	int64_t total = g_cputime(gp);
	int64_t u = ru->ru_utime.tv_sec * 1000000000ll +
		    ru->ru_utime.tv_usec * 1000ll;
	int64_t sy = ru->ru_stime.tv_sec * 1000000000ll +
		     ru->ru_stime.tv_usec * 1000ll;
	int64_t gu = u + sy > 0 ? (int64_t)((double)total * u / (u + sy))
				: total;
	int64_t gs = total - gu;
	ru->ru_utime.tv_sec = gu / 1000000000;
	ru->ru_utime.tv_usec = (gu % 1000000000) / 1000;
	ru->ru_stime.tv_sec = gs / 1000000000;
	ru->ru_stime.tv_usec = (gs % 1000000000) / 1000;
	return 0;
}
