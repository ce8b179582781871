/*
 * blocking_read: N threads block in read on pipes while 2 * ncpu threads
 * compute. Does a thread blocked in a system call hold up the ones that
 * could run?
 *
 *	blocking_read [shim|stdio|inline] [N [D]]
 *			(mode default shim; N readers, default 64;
 *			 D ms of computing, default 2000)
 *
 * Each reader has its own pipe and loops reading one byte at a time until it
 * reads 'q'. A writer thread sleeps 1 ms, writes a byte to a random reader's
 * pipe, and again, so readers keep blocking anew. The mode says how readers
 * read: "shim" calls libc's read(2) (which libgmp interposes), "stdio" calls
 * fgetc on an unbuffered FILE from fdopen (glibc's internal read, which
 * cannot be interposed), "inline" issues the syscall instruction itself.
 *
 * Meanwhile 2 * ncpu threads run a pure CPU loop for D ms, reading
 * CLOCK_MONOTONIC (vDSO) every 1000 iterations and marking the 50 us bucket
 * it falls in in a per-thread bitmap. No monitor thread (it could itself be
 * starved): after the run the bitmaps are ORed and the longest run of empty
 * buckets is the longest time in which no computing thread made progress.
 * Prints, in ms (lower is better; the unit has a '/' so that run.sh
 * computes the ratio as native/preload):
 *	RESULT blocking_read_<mode>_gap <v> ms/gap	  (the headline)
 *	RESULT blocking_read_<mode>_thread_gap <v> ms/gap (worst one thread)
 *	RESULT blocking_read_<mode>_wakeups <n> reads	  (bytes readers got)
 * A scheduler without preemption lets the first threads compute to the end
 * while the others wait: thread_gap is then about D, and wakeups can be
 * near 0 as the writer waits too. Self-check: the readers got every byte
 * written. A watchdog ends the program (exit 1) after D + 20 s.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define BUCKET_NS	50000ull	/* progress bitmap resolution */
#define SPINS		1000		/* iterations per clock read */
#define START_NS	2000000ull	/* window start after setup */

enum mode { SHIM, STDIO, INLINE };
static const char *const mode_names[] = { "shim", "stdio", "inline" };

static const char usage[] = "[shim|stdio|inline] [N [D]]";
static enum mode mode = SHIM;
static uint64_t t_begin, t_end;	/* the measured window */
static long nbuckets, nwords;	/* per bitmap */

struct reader {
	pthread_t tid;
	int rfd, wfd;
	long got;		/* bytes other than 'q' */
	int err;		/* errno of a failed read, or -1 for EOF */
};

struct computer {
	pthread_t tid;
	uint64_t *bits;		/* nwords */
	uint64_t max_gap;	/* ns without progress, this thread */
	uint64_t sink;
};

static struct reader *readers;
static long nreaders;
static atomic_int stop;
static atomic_long entered;	/* readers about to make their first read */
static long written;		/* by the writer thread */

static long inline_read(int fd, void *buf, size_t len)
{
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "0"((long)SYS_read), "D"((long)fd), "S"(buf),
		       "d"(len)
		     : "rcx", "r11", "memory");
	return ret;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	FILE *f = NULL;
	unsigned char c;

	if (mode == STDIO) {
		f = fdopen(r->rfd, "r");
		if (!f) {
			r->err = errno;
			return NULL;
		}
		setvbuf(f, NULL, _IONBF, 0);
	}
	atomic_fetch_add(&entered, 1);
	for (;;) {
		long n;

		if (mode == SHIM) {
			n = read(r->rfd, &c, 1);
			if (n < 0)
				n = -errno;
		} else if (mode == STDIO) {
			int ch = fgetc(f);

			if (ch == EOF) {
				n = ferror(f) ? -errno : 0;
				clearerr(f);
			} else {
				c = (unsigned char)ch;
				n = 1;
			}
		} else {
			n = inline_read(r->rfd, &c, 1);
		}
		if (n == -EINTR)
			continue;
		if (n <= 0) {
			r->err = n == 0 ? -1 : (int)-n;
			break;
		}
		if (c == 'q')
			break;
		r->got++;
	}
	if (f) {
		fclose(f);
		r->rfd = -1;
	}
	return NULL;
}

static void *writer_main(void *arg)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (uintptr_t)&arg;
	struct timespec ms = { 0, 1000000 };

	while (!atomic_load_explicit(&stop, memory_order_relaxed) &&
	       bench_now_ns() < t_end) {
		nanosleep(&ms, NULL);
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (write(readers[x % nreaders].wfd, "w", 1) == 1)
			written++;
	}
	return arg;
}

static void *computer_main(void *arg)
{
	struct computer *c = arg;
	uint64_t x = (uintptr_t)c, prev = t_begin, t;

	do {
		for (int i = 0; i < SPINS; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			asm volatile("" : "+r"(x));
		}
		t = bench_now_ns();
		if (t < t_begin)
			continue;
		uint64_t tt = t < t_end ? t : t_end;
		uint64_t b = (tt - t_begin) / BUCKET_NS;

		if (tt - prev > c->max_gap)
			c->max_gap = tt - prev;
		prev = tt;
		if ((long)b < nbuckets)
			c->bits[b / 64] |= 1ull << (b % 64);
	} while (t < t_end);
	c->sink = x;
	return NULL;
}

int main(int argc, char **argv)
{
	long duration_ms = 2000, ncpu, ncomp, nargs = 0;
	pthread_attr_t attr;
	pthread_t writer;
	struct computer *comp;
	static char wdmsg[128];

	nreaders = 64;
	for (int i = 1; i < argc; i++) {
		long v;

		if (bench_parse_count(argv[i], &v)) {
			if (nargs == 0)
				nreaders = v;
			else if (nargs == 1)
				duration_ms = v;
			else
				bench_usage(argv[0], usage);
			nargs++;
			continue;
		}
		int m;

		for (m = 0; m < 3; m++)
			if (strcmp(argv[i], mode_names[m]) == 0)
				break;
		if (m == 3)
			bench_usage(argv[0], usage);
		mode = m;
	}
	snprintf(wdmsg, sizeof(wdmsg),
		 "blocking_read: watchdog: not done after %ld s\n",
		 duration_ms / 1000 + 20);
	bench_watchdog(duration_ms / 1000 + 20, wdmsg);
	bench_raise_nofile(2 * nreaders + 64);

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	ncomp = 2 * ncpu;
	nbuckets = (duration_ms * 1000000 + BUCKET_NS - 1) / BUCKET_NS;
	nwords = (nbuckets + 63) / 64;
	readers = calloc(nreaders, sizeof(*readers));
	comp = calloc(ncomp, sizeof(*comp));
	if (!readers || !comp)
		bench_check(ENOMEM, "calloc");
	for (long i = 0; i < ncomp; i++) {
		comp[i].bits = calloc(nwords, sizeof(uint64_t));
		if (!comp[i].bits)
			bench_check(ENOMEM, "calloc");
	}

	bench_check(pthread_attr_init(&attr), "pthread_attr_init");
	bench_check(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN * 4),
		    "pthread_attr_setstacksize");
	for (long i = 0; i < nreaders; i++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) != 0)
			bench_check(errno, "pipe2");
		readers[i].rfd = p[0];
		readers[i].wfd = p[1];
		/* Only the write end (its own open file description): the
		 * writer must never block, the readers must. */
		fcntl(p[1], F_SETFL, O_NONBLOCK);
		bench_check(pthread_create(&readers[i].tid, &attr, reader_main,
					   &readers[i]), "pthread_create");
	}

	/* Every reader is blocked in its read before anything computes:
	 * the blocked calls hold their kernel threads from the start. */
	while (atomic_load(&entered) < nreaders)
		usleep(1000);
	usleep(50000);

	/* The window starts a little after setup, so that all threads
	 * exist (they compute already but do not count yet). */
	uint64_t t0 = bench_now_ns();

	t_begin = t0 + START_NS;
	t_end = t_begin + duration_ms * 1000000ull;
	bench_check(pthread_create(&writer, NULL, writer_main, NULL),
		    "pthread_create");
	for (long i = 0; i < ncomp; i++)
		bench_check(pthread_create(&comp[i].tid, &attr, computer_main,
					   &comp[i]), "pthread_create");
	uint64_t t1 = bench_now_ns();

	for (long i = 0; i < ncomp; i++)
		bench_check(pthread_join(comp[i].tid, NULL), "pthread_join");
	atomic_store(&stop, 1);
	bench_check(pthread_join(writer, NULL), "pthread_join");
	uint64_t t2 = bench_now_ns();

	for (long i = 0; i < nreaders; i++)
		if (write(readers[i].wfd, "q", 1) != 1)
			bench_check(errno, "write");
	long got = 0, bad = 0;

	for (long i = 0; i < nreaders; i++) {
		bench_check(pthread_join(readers[i].tid, NULL), "pthread_join");
		got += readers[i].got;
		if (readers[i].err) {
			if (bad++ == 0)
				fprintf(stderr, "blocking_read: reader %ld: "
					"%s\n", i, readers[i].err < 0 ? "EOF" :
					strerror(readers[i].err));
		}
		if (readers[i].rfd >= 0)
			close(readers[i].rfd);
		close(readers[i].wfd);
	}
	uint64_t t3 = bench_now_ns();

	/* Longest run of buckets in which no thread made progress. */
	long run = 0, worst = 0, worst_end = 0;
	uint64_t thread_gap = 0;

	for (long b = 0; b < nbuckets; b++) {
		uint64_t any = 0;

		for (long i = 0; i < ncomp; i++)
			any |= comp[i].bits[b / 64] >> (b % 64) & 1;
		run = any ? 0 : run + 1;
		if (run > worst)
			worst = run, worst_end = b + 1;
	}
	for (long i = 0; i < ncomp; i++)
		if (comp[i].max_gap > thread_gap)
			thread_gap = comp[i].max_gap;

	fprintf(stderr, "blocking_read: %s, %ld readers, %ld computing "
		"threads for %ld ms; setup %.1f ms (window starts at %.1f), "
		"compute + writer done %.1f ms after the window, release "
		"%.1f ms; %ld bytes written, %ld read\n", mode_names[mode],
		nreaders, ncomp, duration_ms, (t1 - t0) / 1e6,
		START_NS / 1e6, ((double)t2 - (double)t_end) / 1e6,
		(t3 - t2) / 1e6, written, got);
	if (worst)
		fprintf(stderr, "blocking_read: worst gap %.2f ms, from "
			"%.2f ms into the window\n", worst * BUCKET_NS / 1e6,
			(worst_end - worst) * BUCKET_NS / 1e6);
	if (t1 > t_begin)
		fprintf(stderr, "blocking_read: warning: setup took longer "
			"than %.0f ms; the gap includes it\n", START_NS / 1e6);
	if (bad || got != written) {
		fprintf(stderr, "blocking_read: FAIL: %ld readers failed, "
			"%ld bytes written but %ld read\n", bad, written, got);
		return 1;
	}

	char name[64];
	const char *mn = mode_names[mode];

	snprintf(name, sizeof(name), "blocking_read_%s_gap", mn);
	printf("RESULT %s %.2f ms/gap\n", name, worst * BUCKET_NS / 1e6);
	snprintf(name, sizeof(name), "blocking_read_%s_thread_gap", mn);
	printf("RESULT %s %.2f ms/gap\n", name, thread_gap / 1e6);
	snprintf(name, sizeof(name), "blocking_read_%s_wakeups", mn);
	bench_result(name, got, "reads");
	return 0;
}
