/*
 * stats.c: the GMP_STATS summary printed at exit: text (GMP_STATS=1), one
 * JSON object (GMP_STATS=json) or either into a file (GMP_STATS=/path;
 * JSON if the name ends in ".json"; "%p" in it becomes the pid). Owns the
 * start time and where the summary goes; it reads the per-P counters
 * racily (they are statistics) and the global atomics. Go: the closest is
 * GODEBUG=schedtrace's last line.
 * The summary goes to a duplicate of the stderr the program started with,
 * made at start-up: programs such as coreutils close fd 2 in an atexit
 * handler, before libgmp's destructor runs. A file is opened at exit,
 * without following a symbolic link, and only replaced if it is a
 * regular file of ours (never another user's).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "core.h"
#include "gmpsched.h"

int64_t stats_start_ns;
int stats_fd = 2;

struct counters {
	uint64_t nswitch, nsteal, npark, nyield, nsys, mapped, chunks;
	struct rusage ru;
	double run;
};

static void gather(struct counters *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < sched.nprocs; i++) {
		p *pp = sched.allp[i];
		c->nswitch += pp->nswitch;
		c->nsteal += pp->nsteal;
		c->npark += pp->npark;
		c->nyield += pp->nyield;
		c->nsys += pp->nsyscall;
	}
	stack_stats(&c->mapped, &c->chunks);
	getrusage(RUSAGE_SELF, &c->ru);
	c->run = (double)(nanotime() - stats_start_ns) / 1e9;
}

#define ULL(x) ((unsigned long long)(x))

static int text(char *buf, size_t size, const struct counters *c)
{
	int n = snprintf(buf, size,
		"libgmp stats\n"
		"  procs (P)          %d\n"
		"  threads (M)        %d created, %d exited idle\n"
		"  Gs created         %llu\n"
		"  peak live Gs       %llu\n"
		"  context switches   %llu\n"
		"  steals             %llu\n"
		"  parks              %llu\n"
		"  yields             %llu\n"
		"  preemptions        %llu (%llu asked)\n"
		"  syscalls entered   %llu\n"
		"  P handoffs         %llu\n"
		"  sysmon retakes     %llu in syscalls, %llu blocked elsewhere\n"
		"  netpoll            %llu parks, %llu wakeups, %llu polls\n"
		"  stack reserved     %llu MiB in %llu chunks\n"
		"  max RSS            %ld KiB\n"
		"  run time           %.3f s\n",
		sched.nprocs, sched.mcount, sched.nmdead, ULL(g_created),
		ULL(g_peak_live), ULL(c->nswitch), ULL(c->nsteal),
		ULL(c->npark), ULL(c->nyield), ULL(sched_preempts),
		ULL(sched_preempt_asks), ULL(c->nsys), ULL(sched_handoffs),
		ULL(sysmon_retakes), ULL(sysmon_stray), ULL(netpoll_parks),
		ULL(netpoll_wakeups), ULL(netpoll_polls), ULL(c->mapped >> 20),
		ULL(c->chunks), c->ru.ru_maxrss, c->run);
	if (strict_mode && n >= 0 && n < (int)size)
		n += snprintf(buf + n, size - n,
			      "  strict traps       %llu (%llu call sites)\n",
			      ULL(strict_traps), ULL(strict_sites));
	return n;
}

static int json(char *buf, size_t size, const struct counters *c)
{
	int n = snprintf(buf, size,
		"{\"libgmp\":\"%s\",\"pid\":%d,\"procs\":%d,"
		"\"threads_created\":%d,\"threads_exited_idle\":%d,"
		"\"gs_created\":%llu,\"peak_live_gs\":%llu,"
		"\"context_switches\":%llu,\"steals\":%llu,\"parks\":%llu,"
		"\"yields\":%llu,\"preemptions\":%llu,"
		"\"preemptions_asked\":%llu,\"syscalls\":%llu,"
		"\"handoffs\":%llu,\"sysmon_retakes_syscall\":%llu,"
		"\"sysmon_retakes_blocked\":%llu,\"netpoll_parks\":%llu,"
		"\"netpoll_wakeups\":%llu,\"netpoll_polls\":%llu,"
		"\"stack_reserved_bytes\":%llu,\"stack_chunks\":%llu,"
		"\"max_rss_kib\":%ld,\"run_time_s\":%.6f",
		GMPSCHED_VERSION, (int)getpid(), sched.nprocs,
		sched.mcount, sched.nmdead, ULL(g_created), ULL(g_peak_live),
		ULL(c->nswitch), ULL(c->nsteal), ULL(c->npark), ULL(c->nyield),
		ULL(sched_preempts), ULL(sched_preempt_asks), ULL(c->nsys),
		ULL(sched_handoffs), ULL(sysmon_retakes), ULL(sysmon_stray),
		ULL(netpoll_parks), ULL(netpoll_wakeups), ULL(netpoll_polls),
		ULL(c->mapped), ULL(c->chunks), c->ru.ru_maxrss, c->run);
	if (strict_mode && n >= 0 && n < (int)size)
		n += snprintf(buf + n, size - n,
			      ",\"strict_traps\":%llu,\"strict_sites\":%llu",
			      ULL(strict_traps), ULL(strict_sites));
	if (n >= 0 && n < (int)size)
		n += snprintf(buf + n, size - n, "}\n");
	return n;
}

/* The file for GMP_STATS=/path: "%p" is the pid. Not a link, not another
 * user's; created 0600 if absent. -1 with a warning otherwise. */
static int open_file(const char *pat)
{
	char path[4096];
	size_t n = 0;

	for (const char *c = pat; *c && n < sizeof path - 16; c++) {
		if (c[0] == '%' && c[1] == 'p') {
			n += (size_t)snprintf(path + n, sizeof path - n, "%d",
					      (int)getpid());
			c++;
		} else {
			path[n++] = *c;
		}
	}
	path[n] = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
				    O_NOCTTY | O_NONBLOCK, 0600);
	struct stat st;
	if (fd < 0) {
		warnf("GMP_STATS=%s: cannot open %s (%s)%s", pat, path,
		      strerror(errno),
		      errno == ELOOP ? ": a symbolic link is not followed" : "");
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		warnf("GMP_STATS=%s: %s is not a regular file of this user: "
		      "not written", pat, path);
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void stats_print(void)
{
	struct counters c;
	char buf[2048];
	bool as_json = cfg.stats == STATS_JSON;
	int fd = stats_fd;

	gather(&c);
	if (cfg.stats == STATS_FILE) {
		size_t len = strlen(cfg.stats_path);
		as_json = len > 5 && strcmp(cfg.stats_path + len - 5,
					    ".json") == 0;
		fd = open_file(cfg.stats_path);
		if (fd < 0)
			return;
	}
	int n = as_json ? json(buf, sizeof buf, &c) : text(buf, sizeof buf, &c);
	if (n > (int)sizeof buf)
		n = sizeof buf;
	if (n > 0)
		arch_syscall(SYS_write, fd, buf, n, 0);
	if (fd != stats_fd)
		close(fd);
}
