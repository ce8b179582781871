/*
 * fork() in a process that has a listening TCP socket, connected
 * socketpairs (one of them made non-blocking before the fork) and a thread
 * blocked in recv; before the fork, threads of the parent also blocked in
 * (and were woken from) recv and accept on the very fds the child then
 * blocks on. (Integration tests do not fork as a rule; this one is about
 * fork, so it does.)
 *
 * As natively: the child, single-threaded, sees the same F_GETFL for every
 * inherited fd as the parent (O_RDWR, O_RDWR|O_NONBLOCK), gets EAGAIN from
 * the non-blocking one, creates threads that block in recv and accept on
 * the inherited sockets and are woken by the parent (an echo over the
 * socketpair, a connection to the inherited listener), sees EOF when the
 * parent shuts the socketpair down and exits 0. The parent meanwhile also
 * gets EAGAIN from the non-blocking fd, its thread blocked in recv since
 * before the fork still gets the data sent to it later, and waitpid()
 * reports the child's exit status 0.
 */
#include "check.h"
#include "sock_helpers.h"

#include <stdatomic.h>
#include <sys/wait.h>

#define ROUNDS	50

static int lfd, sp[2], nb[2], bp[2];
static struct sockaddr_storage laddr;
static socklen_t laddr_len;
static atomic_int blocked_entered;

static void *blocked_reader(void *arg)
{
	char buf[8];

	(void)arg;
	blocked_entered = 1;
	CHECK_INT(recv(bp[0], buf, sizeof(buf), 0), ==, 5);
	CHECK(memcmp(buf, "later", 5) == 0);
	return NULL;
}

/* sp_end: this process's end of the socketpair */
static void check_flags(int sp_end)
{
	char c;

	CHECK_INT(t_getfl(lfd), ==, O_RDWR);
	CHECK_INT(t_getfl(sp_end), ==, O_RDWR);
	CHECK_INT(t_getfl(nb[0]), ==, O_RDWR | O_NONBLOCK);
	CHECK_INT(t_getfl(nb[1]), ==, O_RDWR);
	CHECK_ERRNO(recv(nb[0], &c, 1, 0), EAGAIN);
	CHECK_ERRNO(read(nb[0], &c, 1), EAGAIN);
}

/* --- the child --- */

static void *echo(void *arg)
{
	char buf[256];

	(void)arg;
	for (;;) {
		ssize_t n = recv(sp[1], buf, sizeof(buf), 0);

		CHECK_INT(n, >=, 0);
		if (n == 0)
			break;
		t_write_all(sp[1], buf, (size_t)n);
	}
	return NULL;
}

static void *acceptor(void *arg)
{
	char buf[5];
	int c;

	(void)arg;
	c = t_accept(lfd);
	CHECK_INT(t_getfl(c), ==, O_RDWR);
	CHECK_INT(t_read_full(c, buf, 5), ==, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	t_write_all(c, "child", 5);
	CHECK_SYS(close(c));
	return NULL;
}

static int child(void)
{
	pthread_t e, a;

	/* only the forking thread is here; the blocked reader is not */
	CHECK_SYS(close(bp[0]));
	CHECK_SYS(close(bp[1]));
	CHECK_SYS(close(sp[0]));
	check_flags(sp[1]);
	CHECK_OK(pthread_create(&e, NULL, echo, NULL));
	CHECK_OK(pthread_create(&a, NULL, acceptor, NULL));
	CHECK_OK(pthread_join(a, NULL));
	CHECK_OK(pthread_join(e, NULL));
	check_flags(sp[1]);
	return 0;
}

/* --- the parent --- */

static void *warm_recv(void *arg)
{
	char c;

	(void)arg;
	CHECK_INT(recv(sp[1], &c, 1, 0), ==, 1);
	CHECK_INT(c, ==, 'w');
	return NULL;
}

static void *warm_accept(void *arg)
{
	(void)arg;
	CHECK_SYS(close(t_accept(lfd)));
	return NULL;
}

/*
 * Before the fork, threads of the parent block (and are woken) in recv on
 * the socketpair end and in accept on the listener that the child will
 * block on.
 */
static void warm_up(void)
{
	pthread_t r, a;

	CHECK_OK(pthread_create(&r, NULL, warm_recv, NULL));
	CHECK_OK(pthread_create(&a, NULL, warm_accept, NULL));
	usleep(30000);
	CHECK_INT(send(sp[0], "w", 1, 0), ==, 1);
	CHECK_SYS(close(t_tcp_connect(&laddr, laddr_len)));
	CHECK_OK(pthread_join(r, NULL));
	CHECK_OK(pthread_join(a, NULL));
}

int main(void)
{
	pthread_t br;
	pid_t pid;
	int status, c;
	char buf[64];

	lfd = t_tcp_listener(AF_INET, 4, &laddr, &laddr_len);
	CHECK(lfd >= 0);
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, nb));
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, bp));
	t_set_nonblock(nb[0], 1);
	check_flags(sp[0]);
	check_flags(sp[1]);
	warm_up();
	CHECK_OK(pthread_create(&br, NULL, blocked_reader, NULL));
	while (!blocked_entered)
		usleep(1000);
	usleep(30000);	/* blocked in recv across the fork */

	fflush(NULL);
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0)
		_exit(child());

	CHECK_SYS(close(sp[1]));
	check_flags(sp[0]);
	usleep(30000);	/* the child's echo thread is blocked in recv */
	for (int i = 0; i < ROUNDS; i++) {
		int n = snprintf(buf, sizeof(buf), "round %d", i);

		t_write_all(sp[0], buf, (size_t)n);
		memset(buf, 0, sizeof(buf));
		CHECK_INT(t_read_full(sp[0], buf, (size_t)n), ==, n);
		CHECK_INT(atoi(buf + 6), ==, i);
	}

	/* the child's acceptor takes this connection */
	c = t_tcp_connect(&laddr, laddr_len);
	t_write_all(c, "hello", 5);
	CHECK_INT(t_read_full(c, buf, 5), ==, 5);
	CHECK(memcmp(buf, "child", 5) == 0);
	CHECK_INT(read(c, buf, 1), ==, 0);
	CHECK_SYS(close(c));

	/* the reader blocked since before the fork */
	CHECK_INT(send(bp[1], "later", 5, 0), ==, 5);
	CHECK_OK(pthread_join(br, NULL));

	CHECK_SYS(shutdown(sp[0], SHUT_WR));
	CHECK_INT(read(sp[0], buf, 1), ==, 0);	/* the child is done */
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), ==, 0);
	check_flags(sp[0]);
	return T_PASS;
}
