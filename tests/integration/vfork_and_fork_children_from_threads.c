/*
 * vfork from several threads at once, as Python's subprocess and many
 * shells use it, and forked children that change their signal mask and
 * fork again, as a shell's command substitution does.
 *
 * vfork: the child closes and dup2s descriptors, blocks signals and execs
 * (echo, whose output must reach the thread that started it and nobody
 * else), or execs a path that does not exist and reports errno through a
 * close-on-exec pipe, or _exits with a status; when vfork returns in the
 * parent the child has already exec'd or exited (a byte it wrote just
 * before is there to read without waiting). Meanwhile two threads keep a
 * mutex busy.
 *
 * fork: each child blocks and unblocks SIGCHLD a few times, forks a
 * grandchild that does the same, and waits for it (each sigprocmask that
 * blocks more used to wait 2 s for a runtime thread of the child that
 * had never been asked to take the new mask).
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

/* timeout: 120 */
/* expect-stdout: 100 rounds */

#define NTHREADS 4
#define ROUNDS 25

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stop;
static long shared_count;
static atomic_int rounds_done;
static pid_t main_pid;

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		pthread_mutex_lock(&mu);
		shared_count++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static int wait_status(pid_t pid)
{
	int st;

	CHECK_INT(waitpid(pid, &st, 0), ==, pid);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* echo "t<id>r<round>" through a pipe on the child's stdout */
static void vfork_echo(int id, int round)
{
	char word[32], out[64];
	int p[2], mark[2];

	snprintf(word, sizeof word, "t%dr%d", id, round);
	CHECK_SYS(pipe(p));
	CHECK_SYS(pipe(mark));
	pid_t pid = vfork();
	CHECK(pid >= 0);
	if (pid == 0) {
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		if (dup2(p[1], 1) < 0)
			_exit(126);
		close(p[0]);
		close(p[1]);
		if (write(mark[1], "x", 1) != 1)
			_exit(125);
		close(mark[0]);
		close(mark[1]);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		execl("/bin/echo", "echo", word, (char *)NULL);
		_exit(127);
	}
	CHECK_SYS(close(p[1]));
	CHECK_SYS(close(mark[1]));
	/* the child has run up to its exec: its byte is already there */
	CHECK_SYS(fcntl(mark[0], F_SETFL, O_NONBLOCK));
	char c;
	CHECK_INT(read(mark[0], &c, 1), ==, 1);
	CHECK_SYS(close(mark[0]));
	size_t got = 0;
	ssize_t n;
	while ((n = read(p[0], out + got, sizeof out - 1 - got)) > 0)
		got += (size_t)n;
	CHECK(n == 0);
	out[got] = 0;
	CHECK_SYS(close(p[0]));
	CHECK_INT(wait_status(pid), ==, 0);
	char want[40];
	snprintf(want, sizeof want, "%s\n", word);
	if (strcmp(out, want) != 0)
		FAIL("thread %d round %d: child printed \"%s\"", id, round,
		     out);
}

/* Python's way: exec fails, errno comes back on a close-on-exec pipe */
static void vfork_exec_fails(void)
{
	int ep[2];

	CHECK_SYS(pipe2(ep, O_CLOEXEC));
	pid_t pid = vfork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl("/nonexistent/program", "x", (char *)NULL);
		int e = errno;
		if (write(ep[1], &e, sizeof e) != sizeof e)
			_exit(126);
		_exit(127);
	}
	CHECK_SYS(close(ep[1]));
	int e = 0;
	CHECK_INT(read(ep[0], &e, sizeof e), ==, (int)sizeof e);
	CHECK_INT(e, ==, ENOENT);
	CHECK_SYS(close(ep[0]));
	CHECK_INT(wait_status(pid), ==, 127);
}

static void vfork_exit(int code)
{
	pid_t pid = vfork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(code);
	CHECK_INT(wait_status(pid), ==, code);
}

static void *vforker(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int r = 0; r < ROUNDS; r++) {
		vfork_echo(id, r);
		vfork_exec_fails();
		vfork_exit(3 + id);
		atomic_fetch_add(&rounds_done, 1);
	}
	return NULL;
}

static void toggle_sigchld(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	for (int i = 0; i < 5; i++) {
		if (sigprocmask(SIG_BLOCK, &s, NULL) != 0 ||
		    sigprocmask(SIG_UNBLOCK, &s, NULL) != 0)
			_exit(120);
	}
}

static void on_chld(int sig)
{
	(void)sig;
}

/* a shell's command substitution: fork, mask, fork again, wait */
static void fork_nested(int depth)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		toggle_sigchld();
		if (depth > 1) {
			pid_t g = fork();
			if (g < 0)
				_exit(121);
			if (g == 0) {
				toggle_sigchld();
				_exit(9);
			}
			int st;
			if (waitpid(g, &st, 0) != g || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 9)
				_exit(122);
		}
		_exit(0);
	}
	CHECK_INT(wait_status(pid), ==, 0);
}

int main(void)
{
	pthread_t b[2], t[NTHREADS];

	main_pid = getpid();
	CHECK(signal(SIGCHLD, on_chld) != SIG_ERR);
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_create(&b[i], NULL, busy, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, vforker,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	for (int i = 0; i < 40; i++)
		fork_nested(2);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_join(b[i], NULL));
	CHECK(shared_count > 0);
	/* every round ran here, in this process (a vfork child that ran
	 * on as one of the parent's threads would end up here too) */
	CHECK_INT(getpid(), ==, main_pid);
	CHECK_INT(atomic_load(&rounds_done), ==, NTHREADS * ROUNDS);
	printf("%d rounds\n", atomic_load(&rounds_done));
	return T_PASS;
}
