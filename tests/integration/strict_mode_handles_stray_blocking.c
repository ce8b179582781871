/*
 * Threads that block where no shim can see them must not stop the other
 * threads; under GMP_STRICT=1 libgmp's seccomp filter shows it each such
 * call. Three kinds, all running at once:
 *   - a chain of threads passing a token through pipes with read and
 *     write made by an inline `syscall` instruction in this program, so
 *     that every link but the running one is blocked in the kernel;
 *   - a thread reading lines with fgets from a pipe (glibc's internal
 *     read), fed line by line by another thread;
 *   - threads writing to one FILE while a thread holds its lock
 *     (flockfile) across a sleep: they wait on glibc's internal lock, a
 *     futex libgmp never sees.
 * With GMP_MAXPROCS=1 every blocked call must give its P away, or the
 * thread that would release it never runs and the test hangs: progress is
 * proven by completion, not by timing. Each result is exact: the token
 * went through every link, every line arrived in order, every line
 * written to the FILE is there.
 */
/* env: GMP_STRICT=1 */
/* timeout: 120 */
#include "check.h"

#include <stdatomic.h>
#include <sys/syscall.h>

#define LINKS	8	/* threads in the token chain */
#define PASSES	50	/* tokens sent through it */
#define LINES	200	/* lines through the fgets pipe */
#define WRITERS	4	/* threads writing to the locked FILE */
#define EACH	300	/* lines each of them writes */
#define HOLDS	20	/* times the holder keeps the lock while asleep */

#if !defined(__x86_64__)
int main(void)
{
	SKIP("the inline system call is x86_64 code");
}
#else
/* A system call this program makes itself: no libc function, no shim. */
static long inline_syscall3(long nr, long a, long b, long c)
{
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static int chain[LINKS + 1][2];

/* Read or write exactly n bytes with the inline system call. */
static void inline_io(int nr, int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		long r = inline_syscall3(nr, fd, (long)p, (long)n);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			FAIL("inline %s on fd %d: %ld",
			     nr == SYS_read ? "read" : "write", fd, r);
		p += r;
		n -= (size_t)r;
	}
}

static void *link_main(void *arg)
{
	int i = (int)(intptr_t)arg;

	for (int k = 0; k < PASSES; k++) {
		long token;
		inline_io(SYS_read, chain[i][0], &token, sizeof token);
		token += i + 1;
		inline_io(SYS_write, chain[i + 1][1], &token, sizeof token);
	}
	return NULL;
}

static int lines[2];
static pthread_mutex_t line_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t line_cv = PTHREAD_COND_INITIALIZER;
static int lines_read;

static void *line_reader(void *arg)
{
	FILE *f = fdopen(lines[0], "r");
	char buf[64], want[64];

	(void)arg;
	CHECK(f != NULL);
	for (int k = 0; k < LINES; k++) {
		snprintf(want, sizeof want, "line %d\n", k);
		CHECK(fgets(buf, sizeof buf, f) != NULL);
		if (strcmp(buf, want) != 0)
			FAIL("line %d: got \"%s\"", k, buf);
		CHECK_OK(pthread_mutex_lock(&line_mu));
		lines_read = k + 1;
		CHECK_OK(pthread_cond_signal(&line_cv));
		CHECK_OK(pthread_mutex_unlock(&line_mu));
	}
	CHECK(fgets(buf, sizeof buf, f) == NULL);	/* EOF */
	CHECK_SYS(fclose(f));
	return NULL;
}

/* One line at a time, each only once the reader has the one before, so
 * the reader blocks in glibc's read for every line. */
static void *line_writer(void *arg)
{
	char buf[64];

	(void)arg;
	for (int k = 0; k < LINES; k++) {
		int n = snprintf(buf, sizeof buf, "line %d\n", k);
		CHECK_INT(write(lines[1], buf, (size_t)n), ==, n);
		CHECK_OK(pthread_mutex_lock(&line_mu));
		while (lines_read <= k)
			CHECK_OK(pthread_cond_wait(&line_cv, &line_mu));
		CHECK_OK(pthread_mutex_unlock(&line_mu));
	}
	CHECK_SYS(close(lines[1]));
	return NULL;
}

static FILE *shared;
static atomic_int writers_done;

static void *file_writer(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int k = 0; k < EACH; k++)
		CHECK(fprintf(shared, "w%d %d\n", id, k) > 0);
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

/* Holds the FILE's lock while it sleeps, so that the writers block on
 * glibc's internal lock. */
static void *file_holder(void *arg)
{
	(void)arg;
	for (int k = 0; k < HOLDS && atomic_load(&writers_done) < WRITERS;
	     k++) {
		flockfile(shared);
		usleep(2000);
		CHECK(fprintf(shared, "holder %d\n", k) > 0);
		funlockfile(shared);
		usleep(500);
	}
	return NULL;
}

int main(void)
{
	pthread_t links[LINKS], lr, lw, fw[WRITERS], fh;
	char path[] = "/tmp/gmp-strict-XXXXXX";

	for (int i = 0; i <= LINKS; i++)
		CHECK_SYS(pipe(chain[i]));
	CHECK_SYS(pipe(lines));
	int fd = mkstemp(path);
	CHECK_SYS(fd);
	CHECK_SYS(unlink(path));
	shared = fdopen(fd, "w+");
	CHECK(shared != NULL);
	CHECK_OK(setvbuf(shared, NULL, _IOLBF, 0));

	for (int i = 0; i < LINKS; i++)
		CHECK_OK(pthread_create(&links[i], NULL, link_main,
					(void *)(intptr_t)i));
	CHECK_OK(pthread_create(&lr, NULL, line_reader, NULL));
	CHECK_OK(pthread_create(&lw, NULL, line_writer, NULL));
	CHECK_OK(pthread_create(&fh, NULL, file_holder, NULL));
	for (int i = 0; i < WRITERS; i++)
		CHECK_OK(pthread_create(&fw[i], NULL, file_writer,
					(void *)(intptr_t)i));

	/* the chain: each token comes back with 1 + 2 + ... + LINKS added */
	for (long k = 0; k < PASSES; k++) {
		long token = k * 1000, back;
		inline_io(SYS_write, chain[0][1], &token, sizeof token);
		inline_io(SYS_read, chain[LINKS][0], &back, sizeof back);
		CHECK_INT(back, ==, token + LINKS * (LINKS + 1) / 2);
	}
	for (int i = 0; i < LINKS; i++)
		CHECK_OK(pthread_join(links[i], NULL));
	CHECK_OK(pthread_join(lr, NULL));
	CHECK_OK(pthread_join(lw, NULL));
	for (int i = 0; i < WRITERS; i++)
		CHECK_OK(pthread_join(fw[i], NULL));
	CHECK_OK(pthread_join(fh, NULL));

	/* every writer's lines, each complete and in its own order */
	int next[WRITERS] = { 0 }, holder = 0, id, k;
	char buf[64];
	rewind(shared);
	while (fgets(buf, sizeof buf, shared)) {
		if (sscanf(buf, "w%d %d\n", &id, &k) == 2) {
			CHECK(id >= 0 && id < WRITERS);
			CHECK_INT(k, ==, next[id]);
			next[id]++;
		} else if (sscanf(buf, "holder %d\n", &k) == 1) {
			CHECK_INT(k, ==, holder);
			holder++;
		} else {
			FAIL("unexpected line \"%s\"", buf);
		}
	}
	for (int i = 0; i < WRITERS; i++)
		CHECK_INT(next[i], ==, EACH);
	CHECK(holder >= 1);
	CHECK_SYS(fclose(shared));
	for (int i = 0; i <= LINKS; i++) {
		CHECK_SYS(close(chain[i][0]));
		CHECK_SYS(close(chain[i][1]));
	}
	return T_PASS;
}
#endif
