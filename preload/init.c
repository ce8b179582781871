/*
 * init.c: libgmp's constructor. Parses GMP_*, resolves the real libc,
 * probes glibc's TCB layout, adopts the main thread as the first G and
 * starts the scheduler; prints GMP_STATS at exit. Also the public
 * gmpsched_* API (include/gmpsched.h).
 *
 * Decisions. A bad GMP_* value is reported once on stderr and the default
 * used. If the TCB probe fails (an unsupported glibc), libgmp stays
 * inactive and says so: every shim then forwards to glibc, so the program
 * still runs, natively. The default number of Ps is the number of CPUs in
 * the affinity mask, lowered to the cgroup v2 CPU quota (cpu.max, rounded
 * up) of the process's cgroup and its ancestors.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/syscall.h>
#include "gmpsched.h"
#include "real.h"
#include "core.h"

struct config cfg;
int gmp__active;

static long read_file(const char *path, char *buf, size_t n)
{
	long fd = arch_syscall(SYS_open, path, O_RDONLY | O_CLOEXEC, 0, 0);

	if (fd < 0)
		return -1;
	long r = arch_syscall(SYS_read, fd, buf, n - 1, 0);
	arch_syscall(SYS_close, fd, 0, 0, 0);
	if (r < 0)
		return -1;
	buf[r] = 0;
	return r;
}

/* ceil(quota / period) of cgroup dir and its ancestors, or 0. */
static int cgroup_cpus(void)
{
	char cg[512], path[700], buf[64];
	int best = 0;

	if (read_file("/proc/self/cgroup", cg, sizeof cg) <= 0)
		return 0;
	char *rel = strstr(cg, "0::");
	if (!rel)
		return 0;
	rel += 3;
	rel[strcspn(rel, "\n")] = 0;
	for (;;) {
		snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max",
			 strcmp(rel, "/") ? rel : "");
		if (read_file(path, buf, sizeof buf) > 0 &&
		    strncmp(buf, "max", 3) != 0) {
			long quota = strtol(buf, NULL, 10);
			long period = strtol(strchr(buf, ' ') ?: "100000",
					     NULL, 10);
			if (quota > 0 && period > 0) {
				int n = (int)((quota + period - 1) / period);
				if (!best || n < best)
					best = n;
			}
		}
		char *slash = strrchr(rel, '/');
		if (!slash || slash == rel)
			break;
		*slash = 0;
	}
	return best;
}

static int default_procs(void)
{
	cpu_set_t set;
	int n = 1;

	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	int q = cgroup_cpus();
	if (q > 0 && q < n)
		n = q;
	if (n < 1)
		n = 1;
	return n > MAXPROCS_LIMIT ? MAXPROCS_LIMIT : n;
}

/* GMP_PREEMPT_SIGNAL: a signal name (with or without SIG), a number, or
 * 0 for no preemption. Only signals a program rarely relies on and
 * whose default action is to be ignored or to end the process: libgmp
 * emulates those when the program did not install a handler. -1 if v is
 * none of these. */
static int parse_preempt_signal(const char *v)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{ "URG", SIGURG }, { "WINCH", SIGWINCH }, { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 }, { "PWR", SIGPWR },
	};
	char *end;

	if (strncmp(v, "SIG", 3) == 0)
		v += 3;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(v, names[i].name) == 0)
			return names[i].sig;
	if (strncmp(v, "RTMIN+", 6) == 0) {
		errno = 0;
		long n = strtol(v + 6, &end, 10);
		if (errno || *end || v[6] == 0 || n < 0 ||
		    n > SIGRTMAX - SIGRTMIN)
			return -1;
		return SIGRTMIN + (int)n;
	}
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end)
		return -1;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (n == names[i].sig)
			return (int)n;
	return n >= SIGRTMIN && n <= SIGRTMAX ? (int)n : -1;
}

/* GMP_DEBUG: a comma-separated list. "1" (or any word not below, for
 * compatibility: the fallback diagnostics), "schedtrace=MS",
 * "scheddetail=1", "dump"; "0" alone is off. */
static void parse_debug(const char *v)
{
	char buf[256];
	bool bad = false;

	if (strcmp(v, "0") == 0)
		return;
	snprintf(buf, sizeof buf, "%s", v);
	for (char *save = NULL, *w = strtok_r(buf, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		if (strncmp(w, "schedtrace=", 11) == 0) {
			char *end;
			long ms = strtol(w + 11, &end, 10);
			if (*end || ms < 1 || ms > 3600000)
				bad = true;
			else
				obs_cfg.schedtrace_ms = (int)ms;
		} else if (strcmp(w, "scheddetail=1") == 0) {
			obs_cfg.scheddetail = true;
		} else if (strcmp(w, "scheddetail=0") == 0) {
			obs_cfg.scheddetail = false;
		} else if (strcmp(w, "dump") == 0) {
			obs_cfg.dump_at_exit = true;
		} else if (strcmp(w, "1") == 0) {
			cfg.debug = 1;
		} else if (strcmp(w, "0") != 0) {
			bad = true;
		}
	}
	if (bad)
		warnf("GMP_DEBUG=%s: expected a comma-separated list of 1, "
		      "schedtrace=MS, scheddetail=1 and dump; ignoring what "
		      "is not", v);
	if (obs_cfg.scheddetail && !obs_cfg.schedtrace_ms)
		obs_cfg.schedtrace_ms = 1000;
}

static void parse_env(void)
{
	const char *v;

	v = getenv("GMP_DEBUG");
	if (v && *v)
		parse_debug(v);
	v = getenv("GMP_DEADLOCK");
	if (v && *v) {
		if (strcmp(v, "exit") == 0 || strcmp(v, "1") == 0)
			obs_cfg.deadlock = DEADLOCK_EXIT;
		else if (strcmp(v, "report") == 0)
			obs_cfg.deadlock = DEADLOCK_REPORT;
		else if (strcmp(v, "0") == 0)
			obs_cfg.deadlock = DEADLOCK_OFF;
		else
			warnf("GMP_DEADLOCK=%s: expected exit, report or 0; "
			      "using exit", v);
	}

	cfg.maxprocs = default_procs();
	v = getenv("GMP_MAXPROCS");
	if (v && *v) {
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (errno || *end || n < 1 || n > MAXPROCS_LIMIT)
			warnf("GMP_MAXPROCS=%s: not an integer from 1 to %d; "
			      "using %d", v, MAXPROCS_LIMIT, cfg.maxprocs);
		else
			cfg.maxprocs = (int)n;
	}

	preempt_sig = SIGURG;
	v = getenv("GMP_PREEMPT_SIGNAL");
	if (v && *v) {
		int sig = parse_preempt_signal(v);
		if (sig < 0)
			warnf("GMP_PREEMPT_SIGNAL=%s: expected 0 (off), URG, "
			      "WINCH, USR1, USR2, PWR, RTMIN+N or a number "
			      "from 34 to %d; using URG", v, SIGRTMAX);
		else
			preempt_sig = sig;
	}

	v = getenv("GMP_STATS");
	if (v && *v) {
		if (strcmp(v, "1") == 0) {
			cfg.stats = STATS_TEXT;
		} else if (strcmp(v, "json") == 0) {
			cfg.stats = STATS_JSON;
		} else if (strchr(v, '/')) {
			cfg.stats = STATS_FILE;
			cfg.stats_path = v;	/* the environment's: stays */
		} else if (strcmp(v, "0") != 0) {
			warnf("GMP_STATS=%s: expected 1, json, a path (with a "
			      "'/') or 0; statistics off", v);
		}
	}

	v = getenv("GMP_STRICT");
	if (v && *v && strcmp(v, "0") != 0) {
		if (strcmp(v, "1") == 0)
			strict_mode = STRICT_ON;
		else if (strcmp(v, "report") == 0)
			strict_mode = STRICT_REPORT;
		else
			warnf("GMP_STRICT=%s: expected 1, report or 0; strict "
			      "mode off", v);
	}

	v = getenv("GMP_STAT");
	if (v && *v) {
		if (strcmp(v, "0") == 0)
			statshm_enabled = false;
		else if (strcmp(v, "1") != 0)
			warnf("GMP_STAT=%s: expected 1 or 0; using 1 (gmp-stat "
			      "can read this process)", v);
	}
}

static void start(void)
{
	static _Atomic int once;
	int zero = 0;

	if (!atomic_compare_exchange_strong(&once, &zero, 1))
		return;
	gmp__resolve();
	parse_env();
	if (keys_init() != 0)
		throw("cannot create the glibc key for threads' destructors");
	if (!arch_init())
		debugf("wrfsbase unavailable: switching %%fs with arch_prctl "
		       "(slower context switches)");
	if (g_tls_init() < 0) {
		warnf("inactive: threads run natively");
		return;
	}
	stats_start_ns = nanotime();
	if (cfg.stats || obs_cfg.schedtrace_ms || obs_cfg.dump_at_exit) {
		long fd = arch_syscall(SYS_fcntl, 2, F_DUPFD_CLOEXEC, 100, 0);
		if (fd >= 0)
			stats_fd = (int)fd;
	}
	gmp__install_sigcancel();
	gmp__threadstate_init();
	gmp__preempt_inherit();
	gmp__quit_init();
	preempt_init();
	strict_init();	/* before the runtime's threads: all get the filter */
	sched_init(g_adopt_main());
	statshm_init();	/* GMP_STAT: the segment gmp-stat reads */
	trace_init(getenv("GMP_TRACE"));
	pthread_atfork(NULL, sched_afterfork_parent, sched_afterfork_child);
	gmp__active = 1;
	debugf("started: %d procs", cfg.maxprocs);
}

void gmp__ensure_init(void)
{
	if (!gmp__active)
		start();
}

__attribute__((constructor(101))) static void gmp_ctor(void)
{
	start();
}

__attribute__((destructor)) static void gmp_dtor(void)
{
	trace_finish();
	/* a process that never started a thread has nothing to report (and
	 * shells running a program's helpers would print one each) */
	if (gmp__active && cfg.stats && g_created > 1)
		stats_print();
	if (gmp__active && obs_cfg.dump_at_exit)
		obs_dump("threads at exit (GMP_DEBUG=dump)", true);
}

__attribute__((visibility("default"))) const char *gmpsched_version(void)
{
	return GMPSCHED_VERSION;
}

__attribute__((visibility("default"))) int gmpsched_maxprocs(void)
{
	return gmp__active ? sched.nprocs : 0;
}

__attribute__((visibility("default"))) void gmpsched_yield(void)
{
	g *gp = getg();

	if (gp && !gp->is_g0)
		gosched();
	else
		real.sched_yield();
}
