/*
 * Pipes and sockets a threaded program created and used with blocking
 * calls, handed to a child that execs a program without LD_PRELOAD (the
 * test itself, via env -u LD_PRELOAD), as stdin, stdout, fd 3 (AF_UNIX
 * stream socket) and fd 4 (TCP socket). At the fork one of the parent's
 * threads is blocked in recv on the very socket that becomes the child's
 * fd 3. (Integration tests do not fork as a rule; this one is about what a
 * child inherits, so it does.)
 *
 * As natively: the child sees F_GETFL O_RDONLY, O_WRONLY, O_RDWR, O_RDWR
 * (no O_NONBLOCK: the open file descriptions are shared, so a flag set
 * behind the parent program's back would reach the child), its blocking
 * read on stdin and recv on fds 3 and 4 wait for the parent's data
 * (EAGAIN would fail it), the parent's blocked thread still gets its data,
 * the parent's flags are unchanged afterwards and the child exits 0.
 */
#include "check.h"
#include "sock_helpers.h"

#include <limits.h>
#include <stdatomic.h>
#include <sys/wait.h>

/* --- the child: not preloaded --- */

static int child(void)
{
	char buf[8];

	CHECK(!t_under_libgmp());
	CHECK_INT(t_getfl(0), ==, O_RDONLY);
	CHECK_INT(t_getfl(1), ==, O_WRONLY);
	CHECK_INT(t_getfl(3), ==, O_RDWR);
	CHECK_INT(t_getfl(4), ==, O_RDWR);
	t_write_all(1, "flags", 5);
	/* each of these blocks until the parent writes */
	CHECK_INT(t_read_full(0, buf, 2), ==, 2);
	CHECK(memcmp(buf, "go", 2) == 0);
	CHECK_INT(recv(3, buf, 4, MSG_WAITALL), ==, 4);
	CHECK(memcmp(buf, "unix", 4) == 0);
	CHECK_INT(send(3, "UNIX", 4, 0), ==, 4);
	CHECK_INT(recv(4, buf, 3, MSG_WAITALL), ==, 3);
	CHECK(memcmp(buf, "tcp", 3) == 0);
	CHECK_INT(send(4, "TCP", 3, 0), ==, 3);
	CHECK_INT(t_getfl(0), ==, O_RDONLY);
	CHECK_INT(t_getfl(3), ==, O_RDWR);
	CHECK_INT(t_getfl(4), ==, O_RDWR);
	t_write_all(1, "done", 4);
	return T_PASS;
}

/* --- the parent --- */

static int us[2], tp[2], in[2], out[2];
static atomic_int entered;

static void *recv_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;

	entered = 1;
	CHECK_INT(recv(fd, &c, 1, 0), ==, 1);
	CHECK_INT(c, ==, '!');
	return NULL;
}

/* Blocking round trips from threads on every fd the child will get. */
static void *use(void *arg)
{
	char c;

	(void)arg;
	for (int i = 0; i < 3; i++) {
		CHECK_INT(recv(us[1], &c, 1, 0), ==, 1);
		CHECK_INT(recv(tp[1], &c, 1, 0), ==, 1);
		CHECK_INT(read(in[0], &c, 1), ==, 1);
		CHECK_INT(write(out[1], "u", 1), ==, 1);
	}
	return NULL;
}

static void warm_up(void)
{
	pthread_t t;
	char c;

	CHECK_OK(pthread_create(&t, NULL, use, NULL));
	for (int i = 0; i < 3; i++) {
		usleep(10000);
		CHECK_INT(send(us[0], "w", 1, 0), ==, 1);
		CHECK_INT(send(tp[0], "w", 1, 0), ==, 1);
		CHECK_INT(write(in[1], "w", 1), ==, 1);
		CHECK_INT(read(out[0], &c, 1), ==, 1);
	}
	CHECK_OK(pthread_join(t, NULL));
}

/* Puts fd at number `to` in a child about to exec. */
static void place(int fd, int to)
{
	if (dup2(fd, to) != to)
		_exit(126);
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], buf[8];
	pthread_t t;
	pid_t pid;
	ssize_t n;
	int status;

	if (argc == 2 && strcmp(argv[1], "child") == 0)
		return child();
	CHECK_INT(argc, ==, 1);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK_SYS(n);
	self[n] = 0;

	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, us));
	t_tcp_pair(tp);
	CHECK_SYS(pipe(in));
	CHECK_SYS(pipe(out));
	warm_up();
	CHECK_OK(pthread_create(&t, NULL, recv_one, (void *)(intptr_t)us[1]));
	while (!entered)
		usleep(1000);
	usleep(30000);	/* blocked in recv on us[1] */

	fflush(NULL);
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		/* high numbers first, so that no dup2 clobbers a source */
		int a = fcntl(in[0], F_DUPFD, 100);
		int b = fcntl(out[1], F_DUPFD, 100);
		int c = fcntl(us[1], F_DUPFD, 100);
		int d = fcntl(tp[1], F_DUPFD, 100);

		if (a < 0 || b < 0 || c < 0 || d < 0)
			_exit(126);
		place(a, 0);
		place(b, 1);
		place(c, 3);
		place(d, 4);
		execlp("env", "env", "-u", "LD_PRELOAD", self, "child",
		       (char *)NULL);
		_exit(127);
	}

	/* ours goes, so that a child that dies is seen as EOF */
	CHECK_INT(t_getfl(out[1]), ==, O_WRONLY);
	CHECK_SYS(close(out[1]));
	/* the child checked its flags while our thread is in recv */
	CHECK_INT(t_read_full(out[0], buf, 5), ==, 5);
	CHECK(memcmp(buf, "flags", 5) == 0);
	CHECK_INT(send(us[0], "!", 1, 0), ==, 1);
	CHECK_OK(pthread_join(t, NULL));
	usleep(30000);	/* the child is blocked reading stdin */
	CHECK_INT(write(in[1], "go", 2), ==, 2);
	usleep(30000);
	CHECK_INT(send(us[0], "unix", 4, 0), ==, 4);
	CHECK_INT(recv(us[0], buf, 4, MSG_WAITALL), ==, 4);
	CHECK(memcmp(buf, "UNIX", 4) == 0);
	usleep(30000);
	CHECK_INT(send(tp[0], "tcp", 3, 0), ==, 3);
	CHECK_INT(recv(tp[0], buf, 3, MSG_WAITALL), ==, 3);
	CHECK(memcmp(buf, "TCP", 3) == 0);
	CHECK_INT(t_read_full(out[0], buf, 4), ==, 4);
	CHECK(memcmp(buf, "done", 4) == 0);

	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("child status 0x%x", status);
	CHECK_INT(t_getfl(in[0]), ==, O_RDONLY);
	CHECK_INT(t_getfl(in[1]), ==, O_WRONLY);
	CHECK_INT(t_getfl(us[1]), ==, O_RDWR);
	CHECK_INT(t_getfl(tp[1]), ==, O_RDWR);
	return T_PASS;
}
