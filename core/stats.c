/*
 * stats.c: the GMP_STATS=1 summary printed at exit. Owns nothing but the
 * start time; it reads the per-P counters racily (they are statistics) and
 * the global atomics. Go: the closest is GODEBUG=schedtrace's last line.
 * The summary goes to a duplicate of the stderr the program started with,
 * made at start-up: programs such as coreutils close fd 2 in an atexit
 * handler, before libgmp's destructor runs.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "core.h"

int64_t stats_start_ns;
int stats_fd = 2;

void stats_print(void)
{
	uint64_t nswitch = 0, nsteal = 0, npark = 0, nyield = 0, nsys = 0;
	uint64_t mapped, chunks;
	char buf[1024];
	struct rusage ru;

	for (int i = 0; i < sched.nprocs; i++) {
		p *pp = sched.allp[i];
		nswitch += pp->nswitch;
		nsteal += pp->nsteal;
		npark += pp->npark;
		nyield += pp->nyield;
		nsys += pp->nsyscall;
	}
	stack_stats(&mapped, &chunks);
	getrusage(RUSAGE_SELF, &ru);
	double run = (double)(nanotime() - stats_start_ns) / 1e9;
	int n = snprintf(buf, sizeof buf,
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
		sched.nprocs, sched.mcount, sched.nmdead,
		(unsigned long long)g_created,
		(unsigned long long)g_peak_live,
		(unsigned long long)nswitch, (unsigned long long)nsteal,
		(unsigned long long)npark, (unsigned long long)nyield,
		(unsigned long long)sched_preempts,
		(unsigned long long)sched_preempt_asks,
		(unsigned long long)nsys,
		(unsigned long long)sched_handoffs,
		(unsigned long long)sysmon_retakes,
		(unsigned long long)sysmon_stray,
		(unsigned long long)netpoll_parks,
		(unsigned long long)netpoll_wakeups,
		(unsigned long long)netpoll_polls,
		(unsigned long long)(mapped >> 20),
		(unsigned long long)chunks, ru.ru_maxrss, run);
	if (strict_mode && n >= 0 && n < (int)sizeof buf)
		n += snprintf(buf + n, sizeof buf - n,
			      "  strict traps       %llu (%llu call sites)\n",
			      (unsigned long long)strict_traps,
			      (unsigned long long)strict_sites);
	if (n > (int)sizeof buf)
		n = sizeof buf;
	arch_syscall(SYS_write, stats_fd, buf, n, 0);
}
