/*
 * A pipe the program did not create: stdin from a shell pipeline whose
 * shell and producer run without LD_PRELOAD. The test re-runs itself as
 *
 *   env -u LD_PRELOAD sh -c 'producer | { env LD_PRELOAD=<as the test>
 *                                   SELF reader && SELF tail; }'
 *
 * The reader (preloaded exactly when the test is) reads the first part of
 * stdin with read() from three threads (taking turns under a mutex) while
 * three other threads compute and yield; the producer writes in bursts and
 * waits, before its last burst, until the reader says (through a FIFO) that
 * its compute threads finished, so they must finish while the readers are
 * blocked in read(0). Then the reader exits and the tail, not preloaded,
 * reads the rest from the same pipe with blocking reads across a pause of
 * the producer.
 *
 * As natively: every byte arrives in order, read() never fails (EAGAIN
 * would mean O_NONBLOCK was set behind the program's back), F_GETFL on
 * stdin is O_RDONLY throughout in the reader and still in the tail (the
 * open file description is shared with the shell and the tail, so its
 * flags must never change), and the exit status of reader and tail is the
 * test's. (Integration tests do not fork as a rule; this one needs a
 * process that is not preloaded, so it forks and execs one.)
 */
#include "check.h"
#include "sock_helpers.h"

#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define LINE		11		/* "line %05d\n" */
#define HEAD_LINES	10100
#define TAIL_LINES	100

static const char script[] =
	"line() { while [ $i -lt $1 ]; do printf 'line %05d\\n' $i; "
	"i=$((i+1)); done; }\n"
	/* if the reader dies early, the producer goes on after 20 s */
	"{ i=0; line 5000; sleep 0.1; line 10000; "
	"timeout 20 head -c 3 \"$4\" >/dev/null; "
	"line 10100; sleep 0.3; line 10200; } |\n"
	"{ env LD_PRELOAD=\"$2\" GMP_T_EXPECT_PRELOADED=\"$3\" "
	"GMP_T_FIFO=\"$4\" \"$1\" reader && \"$1\" tail; }\n";

static char expected_at(long off)
{
	char line[LINE + 1];

	snprintf(line, sizeof(line), "line %05ld\n", off / LINE);
	return line[off % LINE];
}

static void verify(const char *buf, long first, long n)
{
	for (long i = 0; i < n; i++)
		if (buf[i] != expected_at(first + i))
			FAIL("byte %ld is %d, expected %d", first + i,
			     buf[i], expected_at(first + i));
}

static void check_stdin_blocking(void)
{
	struct stat st;

	CHECK_SYS(fstat(0, &st));
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_INT(t_getfl(0), ==, O_RDONLY);
}

/* --- reader: preloaded like the test --- */

#define HEAD	((long)HEAD_LINES * LINE)
#define NREADERS	3
#define NCOMPUTE	3

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char head[HEAD];
static long got;
static atomic_long reads;

static void *reader_thread(void *arg)
{
	(void)arg;
	for (;;) {
		ssize_t r;
		long want;

		pthread_mutex_lock(&mu);
		if (got == HEAD) {
			pthread_mutex_unlock(&mu);
			break;
		}
		want = HEAD - got < 4000 ? HEAD - got : 4000;
		do
			r = read(0, head + got, (size_t)want);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			FAIL("read(0) after %ld bytes: %zd (%s)", got, r,
			     r < 0 ? strerror(errno) : "EOF");
		got += r;
		reads++;
		CHECK_INT(t_getfl(0), ==, O_RDONLY);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *compute(void *arg)
{
	unsigned long x = (unsigned long)(intptr_t)arg;

	for (long i = 0; i < 2000000; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		if (i % 1000 == 0)
			sched_yield();
	}
	return (void *)(x & 1);
}

static int reader(void)
{
	const char *expect = getenv("GMP_T_EXPECT_PRELOADED");
	const char *fifo = getenv("GMP_T_FIFO");
	pthread_t rt[NREADERS], ct[NCOMPUTE];
	int fd;

	CHECK(expect != NULL && fifo != NULL);
	CHECK_INT(t_under_libgmp(), ==, expect[0] == '1');
	check_stdin_blocking();
	for (int i = 0; i < NREADERS; i++)
		CHECK_OK(pthread_create(&rt[i], NULL, reader_thread, NULL));
	for (int i = 0; i < NCOMPUTE; i++)
		CHECK_OK(pthread_create(&ct[i], NULL, compute,
					(void *)(intptr_t)(i + 1)));
	for (int i = 0; i < NCOMPUTE; i++)
		CHECK_OK(pthread_join(ct[i], NULL));
	check_stdin_blocking();
	/* the compute threads are done: the producer may finish the head */
	fd = open(fifo, O_WRONLY);
	CHECK_SYS(fd);
	t_write_all(fd, "go\n", 3);
	CHECK_SYS(close(fd));
	for (int i = 0; i < NREADERS; i++)
		CHECK_OK(pthread_join(rt[i], NULL));
	CHECK_INT(got, ==, HEAD);
	verify(head, 0, HEAD);
	CHECK_INT(reads, >=, 2);
	check_stdin_blocking();
	return T_PASS;
}

/* --- tail: not preloaded --- */

static int tail(void)
{
	char buf[TAIL_LINES * LINE + 1];
	size_t n;

	CHECK(!t_under_libgmp());
	check_stdin_blocking();
	n = t_read_full(0, buf, sizeof(buf));	/* blocks across the pause */
	CHECK_INT(n, ==, TAIL_LINES * LINE);
	verify(buf, HEAD, (long)n);
	check_stdin_blocking();
	return T_PASS;
}

/* --- the test: runs the pipeline --- */

int main(int argc, char **argv)
{
	char self[PATH_MAX], cwd[PATH_MAX], fifo[PATH_MAX + 64];
	const char *saved = getenv("LD_PRELOAD");
	ssize_t n;
	pid_t pid;
	int status;

	if (argc == 2 && strcmp(argv[1], "reader") == 0)
		return reader();
	if (argc == 2 && strcmp(argv[1], "tail") == 0)
		return tail();
	CHECK_INT(argc, ==, 1);

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK_SYS(n);
	self[n] = 0;
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/pipe-from-unpreloaded-%d.fifo", cwd,
		 (int)getpid());
	CHECK_SYS(mkfifo(fifo, 0600));

	fflush(NULL);
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		execlp("env", "env", "-u", "LD_PRELOAD", "sh", "-c", script,
		       "sh", self, saved ? saved : "",
		       t_under_libgmp() ? "1" : "0", fifo, (char *)NULL);
		_exit(127);
	}
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK_SYS(unlink(fifo));
	if (!WIFEXITED(status))
		FAIL("the pipeline died of signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		FAIL("the pipeline exited with %d", WEXITSTATUS(status));
	return T_PASS;
}
