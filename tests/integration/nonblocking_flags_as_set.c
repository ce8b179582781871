/*
 * O_NONBLOCK is exactly what the program set, however it set it, and
 * behaves as natively:
 *
 *  - sockets and pipes made without it read back O_RDWR (sockets),
 *    O_RDONLY/O_WRONLY (pipe ends), and block;
 *  - set through fcntl(F_SETFL), ioctl(FIONBIO), SOCK_NONBLOCK in
 *    socket()/socketpair()/accept4() or pipe2(O_NONBLOCK), F_GETFL shows
 *    it and a read of an empty socket or pipe fails with EAGAIN at once;
 *    cleared again, F_GETFL drops it and a read blocks until a writer
 *    thread writes;
 *  - MSG_DONTWAIT on a blocking socket fails with EAGAIN and leaves the
 *    socket blocking;
 *  - O_NONBLOCK set by another thread while a thread is blocked in recv
 *    does not wake that recv: it returns the data written later;
 *  - a non-blocking connect to a listener returns 0 or EINPROGRESS, then
 *    poll gives POLLOUT and SO_ERROR is 0 (after EINPROGRESS connect
 *    again returns 0 once, then EISCONN); to a port with no listener it
 *    ends with SO_ERROR ECONNREFUSED (then 0); a blocking connect there
 *    fails with ECONNREFUSED;
 *  - accept on a non-blocking listener with no pending connection fails
 *    with EAGAIN; a full non-blocking pipe fails writes with EAGAIN.
 */
#include "check.h"
#include "sock_helpers.h"

#include <stdatomic.h>
#include <sys/ioctl.h>

struct late {
	int fd;
	char c;
};

static void *late_write(void *arg)
{
	struct late *l = arg;

	usleep(50000);
	CHECK_INT(write(l->fd, &l->c, 1), ==, 1);
	return NULL;
}

/*
 * rfd is set non-blocking with rfl (its exact F_GETFL); wfd writes to it.
 * Checks EAGAIN, clears O_NONBLOCK with F_SETFL, checks a read blocks
 * until a writer thread writes, then sets it again with FIONBIO.
 */
static void check_toggle(int rfd, int wfd, int rfl)
{
	struct late l = { wfd, 'z' };
	pthread_t t;
	char c;
	int on;

	CHECK_INT(t_getfl(rfd), ==, rfl | O_NONBLOCK);
	CHECK_ERRNO(read(rfd, &c, 1), EAGAIN);

	t_set_nonblock(rfd, 0);
	CHECK_INT(t_getfl(rfd), ==, rfl);
	CHECK_OK(pthread_create(&t, NULL, late_write, &l));
	CHECK_INT(read(rfd, &c, 1), ==, 1);	/* blocks until written */
	CHECK_INT(c, ==, 'z');
	CHECK_OK(pthread_join(t, NULL));

	on = 1;
	CHECK_SYS(ioctl(rfd, FIONBIO, &on));
	CHECK_INT(t_getfl(rfd), ==, rfl | O_NONBLOCK);
	CHECK_ERRNO(read(rfd, &c, 1), EAGAIN);
	on = 0;
	CHECK_SYS(ioctl(rfd, FIONBIO, &on));
	CHECK_INT(t_getfl(rfd), ==, rfl);
	l.c = 'y';
	CHECK_OK(pthread_create(&t, NULL, late_write, &l));
	CHECK_INT(read(rfd, &c, 1), ==, 1);
	CHECK_INT(c, ==, 'y');
	CHECK_OK(pthread_join(t, NULL));
	/* F_SETFL to exactly O_NONBLOCK (the access mode is ignored) */
	CHECK_SYS(fcntl(rfd, F_SETFL, O_NONBLOCK));
	CHECK_INT(t_getfl(rfd), ==, rfl | O_NONBLOCK);
	CHECK_ERRNO(read(rfd, &c, 1), EAGAIN);
	CHECK_SYS(fcntl(rfd, F_SETFL, 0));
	CHECK_INT(t_getfl(rfd), ==, rfl);
}

static void blocking_by_default(void)
{
	int s[2], p[2], fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_SYS(fd);
	CHECK_INT(t_getfl(fd), ==, O_RDWR);
	CHECK_SYS(close(fd));
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd >= 0) {
		CHECK_INT(t_getfl(fd), ==, O_RDWR);
		CHECK_SYS(close(fd));
	}
	CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, s));
	CHECK_INT(t_getfl(s[0]), ==, O_RDWR);
	CHECK_INT(t_getfl(s[1]), ==, O_RDWR);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
	t_tcp_pair(s);
	CHECK_INT(t_getfl(s[0]), ==, O_RDWR);
	CHECK_INT(t_getfl(s[1]), ==, O_RDWR);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
	CHECK_SYS(pipe(p));
	CHECK_INT(t_getfl(p[0]), ==, O_RDONLY);
	CHECK_INT(t_getfl(p[1]), ==, O_WRONLY);
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
}

static void every_way_to_set_it(void)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int s[2], p[2], lfd, c, a, on;
	char ch;

	/* fcntl on a TCP socket */
	t_tcp_pair(s);
	t_set_nonblock(s[1], 1);
	check_toggle(s[1], s[0], O_RDWR);
	CHECK_INT(t_getfl(s[0]), ==, O_RDWR);	/* the peer is untouched */
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	/* FIONBIO on a socketpair */
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	on = 1;
	CHECK_SYS(ioctl(s[0], FIONBIO, &on));
	check_toggle(s[0], s[1], O_RDWR);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	/* SOCK_NONBLOCK in socketpair(): both ends */
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s));
	CHECK_INT(t_getfl(s[1]), ==, O_RDWR | O_NONBLOCK);
	check_toggle(s[0], s[1], O_RDWR);
	CHECK_INT(t_getfl(s[1]), ==, O_RDWR | O_NONBLOCK);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	/* SOCK_NONBLOCK in socket() and accept4(); a non-blocking listener */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK_SYS(lfd);
	CHECK_INT(t_getfl(lfd), ==, O_RDWR | O_NONBLOCK);
	len = t_loopback(AF_INET, 0, &addr);
	CHECK_SYS(bind(lfd, (struct sockaddr *)&addr, len));
	CHECK_SYS(listen(lfd, 4));
	len = sizeof(addr);
	CHECK_SYS(getsockname(lfd, (struct sockaddr *)&addr, &len));
	CHECK_ERRNO(accept(lfd, NULL, NULL), EAGAIN);
	CHECK_ERRNO(accept4(lfd, NULL, NULL, SOCK_NONBLOCK), EAGAIN);
	c = t_tcp_connect(&addr, len);
	{
		struct pollfd pfd = { lfd, POLLIN, 0 };

		CHECK_INT(poll(&pfd, 1, -1), ==, 1);
		CHECK_REVENTS(pfd.revents, POLLIN);
	}
	a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	CHECK_SYS(a);
	CHECK_INT(t_getfl(lfd), ==, O_RDWR | O_NONBLOCK);
	CHECK_INT(t_getfd(a), ==, 0);
	check_toggle(a, c, O_RDWR);
	/* a plain accept on a non-blocking listener: a blocking socket */
	CHECK_SYS(close(c));
	c = t_tcp_connect(&addr, len);
	{
		struct pollfd pfd = { lfd, POLLIN, 0 };

		CHECK_INT(poll(&pfd, 1, -1), ==, 1);
	}
	CHECK_SYS(close(a));
	a = accept(lfd, NULL, NULL);
	CHECK_SYS(a);
	CHECK_INT(t_getfl(a), ==, O_RDWR);
	CHECK_ERRNO(recv(a, &ch, 1, MSG_DONTWAIT), EAGAIN);
	CHECK_INT(t_getfl(a), ==, O_RDWR);
	CHECK_SYS(close(a));
	CHECK_SYS(close(c));
	CHECK_SYS(close(lfd));

	/* pipe2(O_NONBLOCK): both ends; a full pipe refuses writes */
	CHECK_SYS(pipe2(p, O_NONBLOCK));
	CHECK_INT(t_getfl(p[1]), ==, O_WRONLY | O_NONBLOCK);
	{
		char buf[4096] = { 0 };
		long total = 0;
		ssize_t w;

		while ((w = write(p[1], buf, sizeof(buf))) > 0)
			total += w;
		CHECK_INT(w, ==, -1);
		CHECK_INT(errno, ==, EAGAIN);
		CHECK_INT(total, >=, 4096);
		while (total > 0) {
			ssize_t r = read(p[0], buf, sizeof(buf));

			CHECK_INT(r, >, 0);
			total -= r;
		}
	}
	check_toggle(p[0], p[1], O_RDONLY);
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));

	/* fcntl on a pipe made blocking */
	CHECK_SYS(pipe(p));
	t_set_nonblock(p[0], 1);
	check_toggle(p[0], p[1], O_RDONLY);
	CHECK_INT(t_getfl(p[1]), ==, O_WRONLY);
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
}

struct waiter {
	int fd;
	atomic_int entered, done;
	ssize_t ret;
	char c;
};

static void *blocked_recv(void *arg)
{
	struct waiter *w = arg;

	w->entered = 1;
	w->ret = recv(w->fd, &w->c, 1, 0);
	w->done = 1;
	return NULL;
}

/* Setting O_NONBLOCK does not wake a recv that is already blocked. */
static void set_while_blocked(void)
{
	struct waiter w = { 0 };
	pthread_t t;
	int s[2];
	char c;

	t_tcp_pair(s);
	w.fd = s[1];
	CHECK_OK(pthread_create(&t, NULL, blocked_recv, &w));
	while (!w.entered)
		usleep(1000);
	usleep(50000);	/* it is blocked in recv */
	t_set_nonblock(s[1], 1);
	usleep(50000);
	CHECK_INT(w.done, ==, 0);
	CHECK_INT(t_getfl(s[1]), ==, O_RDWR | O_NONBLOCK);
	CHECK_INT(send(s[0], "d", 1, 0), ==, 1);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(w.ret, ==, 1);
	CHECK_INT(w.c, ==, 'd');
	CHECK_ERRNO(recv(s[1], &c, 1, 0), EAGAIN);	/* a new call sees it */
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
}

static int so_error(int fd)
{
	socklen_t len = sizeof(int);
	int err = -1;

	CHECK_SYS(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len));
	return err;
}

static void nonblocking_connect(void)
{
	struct sockaddr_storage addr, closed;
	socklen_t len, clen;
	struct pollfd pfd;
	int lfd, c, a, r, holder;

	lfd = t_tcp_listener(AF_INET, 4, &addr, &len);
	CHECK(lfd >= 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK_SYS(c);
	r = connect(c, (struct sockaddr *)&addr, len);
	if (r != 0)
		CHECK_INT(errno, ==, EINPROGRESS);
	pfd = (struct pollfd){ c, POLLOUT, 0 };
	CHECK_INT(poll(&pfd, 1, -1), ==, 1);
	CHECK_REVENTS(pfd.revents, POLLOUT);
	CHECK_INT(so_error(c), ==, 0);
	/* connect again: 0 the first time after EINPROGRESS, then EISCONN */
	if (r != 0)
		CHECK_INT(connect(c, (struct sockaddr *)&addr, len), ==, 0);
	CHECK_ERRNO(connect(c, (struct sockaddr *)&addr, len), EISCONN);
	a = t_accept(lfd);
	CHECK_INT(send(c, "n", 1, 0), ==, 1);
	CHECK_INT(t_getfl(c), ==, O_RDWR | O_NONBLOCK);
	CHECK_SYS(close(a));
	CHECK_SYS(close(c));
	CHECK_SYS(close(lfd));

	/* a bound socket that does not listen: connections are refused */
	holder = t_bound_socket(AF_INET, SOCK_STREAM, &closed, &clen);
	CHECK(holder >= 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK_SYS(c);
	r = connect(c, (struct sockaddr *)&closed, clen);
	if (r != 0 && errno == EINPROGRESS) {
		pfd = (struct pollfd){ c, POLLOUT, 0 };
		CHECK_INT(poll(&pfd, 1, -1), ==, 1);
		CHECK(pfd.revents & POLLERR);
		CHECK_INT(so_error(c), ==, ECONNREFUSED);
	} else {
		CHECK_INT(r, ==, -1);
		CHECK_INT(errno, ==, ECONNREFUSED);
	}
	CHECK_INT(so_error(c), ==, 0);	/* reading SO_ERROR clears it */
	CHECK_SYS(close(c));

	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_SYS(c);
	CHECK_ERRNO(connect(c, (struct sockaddr *)&closed, clen),
		    ECONNREFUSED);
	CHECK_INT(so_error(c), ==, 0);
	CHECK_INT(t_getfl(c), ==, O_RDWR);
	CHECK_SYS(close(c));
	CHECK_SYS(close(holder));
}

int main(void)
{
	blocking_by_default();
	every_way_to_set_it();
	set_while_blocked();
	nonblocking_connect();
	return T_PASS;
}
