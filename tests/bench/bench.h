/*
 * bench.h: helpers shared by the programs in tests/bench/.
 *
 * Each benchmark is a plain pthread program: it does a fixed amount of work,
 * times the hot loop with CLOCK_MONOTONIC and prints one line per metric,
 * "RESULT <name> <value> <unit>", on stdout. Everything else goes to stderr.
 * run.sh runs each one natively and under LD_PRELOAD and compares medians.
 * Arguments are words (a mode such as "batch") and counts; a count takes an
 * optional k or m suffix ("200k"). Exit 0 on success, 1 on a failed call or
 * a broken self-check, 2 on a bad argument.
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A pthread-style error code: 0 is success, anything else is fatal. */
static inline void bench_check(int err, const char *what)
{
	if (err == 0)
		return;
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static inline void bench_usage(const char *prog, const char *usage)
{
	fprintf(stderr, "usage: %s %s\n", prog, usage);
	exit(2);
}

/* Parse "123", "200k" or "2m" into *n and return 1, or return 0 if s is
 * not a count (it is then a mode word). */
static inline int bench_parse_count(const char *s, long *n)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end == 'k' || *end == 'K')
		v *= 1000, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1000000, end++;
	if (errno != 0 || *end != '\0' || v <= 0)
		return 0;
	*n = v;
	return 1;
}

static inline void bench_result(const char *name, double value,
				const char *unit)
{
	/* Counts print as integers, times with one decimal. */
	if (value == (double)(long)value)
		printf("RESULT %s %.0f %s\n", name, value, unit);
	else
		printf("RESULT %s %.1f %s\n", name, value, unit);
	fflush(stdout);
}

/*
 * Raise RLIMIT_NOFILE: the soft limit to the hard one, both to want if the
 * hard limit is lower and we may raise it (root; capped by fs.nr_open).
 * Returns the soft limit now in force.
 */
static inline long bench_raise_nofile(long want)
{
	struct rlimit rl, nr;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur == RLIM_INFINITY)
		return (long)(~0ul >> 1);
	nr = rl;
	if (nr.rlim_max != RLIM_INFINITY && (long)nr.rlim_max < want)
		nr.rlim_max = want;
	nr.rlim_cur = nr.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &nr) != 0) {
		nr = rl;
		nr.rlim_cur = nr.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nr);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur == RLIM_INFINITY ? (long)(~0ul >> 1) :
					      (long)rl.rlim_cur;
}

/*
 * A watchdog for programs that must end by themselves even when the
 * scheduler under them stalls: after secs seconds SIGALRM prints msg on
 * stderr, SIGKILLs bench_watchdog_pid if set (a child process) and exits 1.
 * No thread is needed, so it fires even when every thread is stuck.
 */
static const char *bench_watchdog_msg __attribute__((unused));
static volatile pid_t bench_watchdog_pid __attribute__((unused));

static inline void bench_watchdog_fire(int sig)
{
	const char *m = bench_watchdog_msg;

	(void)sig;
	if (bench_watchdog_pid > 0)
		kill(bench_watchdog_pid, SIGKILL);
	if (m && write(2, m, strlen(m)) < 0)
		_exit(1);
	_exit(1);
}

static inline void bench_watchdog(unsigned secs, const char *msg)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bench_watchdog_fire;
	sigemptyset(&sa.sa_mask);
	bench_watchdog_msg = msg;
	if (sigaction(SIGALRM, &sa, NULL) != 0) {
		perror("bench: sigaction");
		exit(1);
	}
	alarm(secs);
}

#endif
