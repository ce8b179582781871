/*
 * O_NONBLOCK belongs to the open file description, which a forked child
 * shares with its parent. (Integration tests do not fork as a rule; this
 * one is about fork, so it does.)
 *
 * As natively: for an AF_UNIX socket, a TCP socket and a pipe created
 * before fork(), O_NONBLOCK set by the child (fcntl, FIONBIO) shows in the
 * parent's F_GETFL and makes the parent's reads fail with EAGAIN; cleared
 * by the parent, it is gone in the child, whose reads then block (in a
 * thread) until the parent writes.
 */
#include "check.h"
#include "sock_helpers.h"

#include <sys/ioctl.h>
#include <sys/wait.h>

enum { SOCK, TCP, PIPE_R, NFD };

static int fds[NFD];		/* the ends both processes read */
static int peers[NFD];		/* the ends that write to them */
static const int base_fl[NFD] = { O_RDWR, O_RDWR, O_RDONLY };
static int to_child[2], to_parent[2];

static void tell(int fd, char c)
{
	CHECK_INT(write(fd, &c, 1), ==, 1);
}

static void await(int fd, char want)
{
	char c = 0;

	CHECK_INT(read(fd, &c, 1), ==, 1);
	CHECK_INT(c, ==, want);
}

static void *blocking_reads(void *arg)
{
	(void)arg;
	for (int i = 0; i < NFD; i++) {
		char c = 0;

		CHECK_INT(read(fds[i], &c, 1), ==, 1);	/* waits for it */
		CHECK_INT(c, ==, 'a' + i);
	}
	return NULL;
}

static int child(void)
{
	pthread_t t;
	int on = 1;

	for (int i = 0; i < NFD; i++)
		CHECK_INT(t_getfl(fds[i]), ==, base_fl[i]);
	/* set it three ways */
	t_set_nonblock(fds[SOCK], 1);
	CHECK_SYS(ioctl(fds[TCP], FIONBIO, &on));
	CHECK_SYS(fcntl(fds[PIPE_R], F_SETFL, O_NONBLOCK));
	tell(to_parent[1], 's');

	await(to_child[0], 'c');	/* the parent cleared them */
	for (int i = 0; i < NFD; i++)
		CHECK_INT(t_getfl(fds[i]), ==, base_fl[i]);
	CHECK_OK(pthread_create(&t, NULL, blocking_reads, NULL));
	usleep(30000);
	tell(to_parent[1], 'r');	/* reading: the parent writes */
	CHECK_OK(pthread_join(t, NULL));
	return 0;
}

int main(void)
{
	int s[2], tp[2], p[2], status;
	pid_t pid;
	char c;

	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	t_tcp_pair(tp);
	CHECK_SYS(pipe(p));
	fds[SOCK] = s[0];
	peers[SOCK] = s[1];
	fds[TCP] = tp[0];
	peers[TCP] = tp[1];
	fds[PIPE_R] = p[0];
	peers[PIPE_R] = p[1];
	CHECK_SYS(pipe(to_child));
	CHECK_SYS(pipe(to_parent));

	fflush(NULL);
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0)
		_exit(child());

	await(to_parent[0], 's');
	for (int i = 0; i < NFD; i++) {
		CHECK_INT(t_getfl(fds[i]), ==, base_fl[i] | O_NONBLOCK);
		CHECK_ERRNO(read(fds[i], &c, 1), EAGAIN);
		t_set_nonblock(fds[i], 0);
		CHECK_INT(t_getfl(fds[i]), ==, base_fl[i]);
	}
	tell(to_child[1], 'c');
	await(to_parent[0], 'r');
	usleep(30000);
	for (int i = 0; i < NFD; i++) {
		char w = (char)('a' + i);

		CHECK_INT(write(peers[i], &w, 1), ==, 1);
		usleep(10000);
	}
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), ==, 0);
	for (int i = 0; i < NFD; i++)
		CHECK_INT(t_getfl(fds[i]), ==, base_fl[i]);
	return T_PASS;
}
