/*
 * TCP half-close and reset between threads, as natively on Linux:
 *
 *  - after shutdown(SHUT_WR) the peer reads the data then EOF (0), and
 *    can still send back, which the half-closed side reads; a send on the
 *    shut side fails with EPIPE (MSG_NOSIGNAL);
 *  - a thread blocked in recv is woken with 0 by the peer's
 *    shutdown(SHUT_WR), and by its own socket's shutdown(SHUT_RD) made by
 *    another thread (Linux returns 0 there too);
 *  - close() with SO_LINGER {1, 0} resets the connection: a thread blocked
 *    in recv on the peer gets ECONNRESET, then send fails with EPIPE
 *    (MSG_NOSIGNAL) and recv returns 0; a reset that arrives while nobody
 *    waits is reported by the next recv as ECONNRESET; a plain close() with
 *    received data unread resets the connection too.
 */
#include "check.h"
#include "sock_helpers.h"

#include <stdatomic.h>

struct waiter {
	int fd;
	atomic_int entered, done;
	ssize_t ret;
	int err;
	char buf[16];
	pthread_t t;
};

static void *blocked_recv(void *arg)
{
	struct waiter *w = arg;

	w->entered = 1;
	do
		w->ret = recv(w->fd, w->buf, sizeof(w->buf), 0);
	while (w->ret < 0 && errno == EINTR);
	w->err = w->ret < 0 ? errno : 0;
	w->done = 1;
	return NULL;
}

static void start_waiter(struct waiter *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	CHECK_OK(pthread_create(&w->t, NULL, blocked_recv, w));
	while (!w->entered)
		usleep(1000);
	usleep(50000);	/* let it block in recv */
}

static void half_close(void)
{
	int s[2];
	char buf[16];

	t_tcp_pair(s);
	CHECK_INT(send(s[0], "hello", 5, 0), ==, 5);
	CHECK_SYS(shutdown(s[0], SHUT_WR));
	CHECK_INT(recv(s[1], buf, 5, MSG_WAITALL), ==, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK_INT(recv(s[1], buf, sizeof(buf), 0), ==, 0);
	CHECK_INT(recv(s[1], buf, sizeof(buf), 0), ==, 0);	/* stays EOF */
	/* the other direction still works */
	CHECK_INT(send(s[1], "back", 4, 0), ==, 4);
	CHECK_INT(recv(s[0], buf, 4, MSG_WAITALL), ==, 4);
	CHECK(memcmp(buf, "back", 4) == 0);
	CHECK_ERRNO(send(s[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
}

static void shutdown_wakes_recv(void)
{
	struct waiter w;
	int s[2];

	/* the peer's SHUT_WR */
	t_tcp_pair(s);
	start_waiter(&w, s[1]);
	CHECK_INT(w.done, ==, 0);	/* still blocked */
	CHECK_SYS(shutdown(s[0], SHUT_WR));
	CHECK_OK(pthread_join(w.t, NULL));
	CHECK_INT(w.ret, ==, 0);
	CHECK_INT(w.err, ==, 0);

	/* own SHUT_RD from another thread: Linux wakes the reader with 0 */
	start_waiter(&w, s[0]);
	CHECK_SYS(shutdown(s[0], SHUT_RD));
	CHECK_OK(pthread_join(w.t, NULL));
	CHECK_INT(w.ret, ==, 0);
	CHECK_INT(w.err, ==, 0);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
}

static void abortive_close(int fd)
{
	struct linger lg = { 1, 0 };

	CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	CHECK_SYS(close(fd));
}

static void reset(void)
{
	struct waiter w;
	struct linger lg;
	socklen_t len = sizeof(lg);
	struct pollfd pfd;
	int s[2], err;
	char c;

	/* a thread blocked in recv sees the reset */
	t_tcp_pair(s);
	lg = (struct linger){ 1, 0 };
	CHECK_SYS(setsockopt(s[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	lg = (struct linger){ 7, 7 };
	CHECK_SYS(getsockopt(s[0], SOL_SOCKET, SO_LINGER, &lg, &len));
	CHECK_INT(len, ==, sizeof(lg));
	CHECK_INT(lg.l_onoff, ==, 1);
	CHECK_INT(lg.l_linger, ==, 0);
	start_waiter(&w, s[1]);
	CHECK_SYS(close(s[0]));
	CHECK_OK(pthread_join(w.t, NULL));
	CHECK_INT(w.ret, ==, -1);
	CHECK_INT(w.err, ==, ECONNRESET);
	CHECK_ERRNO(send(s[1], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK_INT(recv(s[1], &c, 1, 0), ==, 0);
	len = sizeof(err);
	CHECK_SYS(getsockopt(s[1], SOL_SOCKET, SO_ERROR, &err, &len));
	CHECK_INT(err, ==, 0);
	CHECK_SYS(close(s[1]));

	/* a reset nobody waits for is reported by the next recv */
	t_tcp_pair(s);
	abortive_close(s[0]);
	pfd = (struct pollfd){ .fd = s[1], .events = 0 };
	CHECK_INT(poll(&pfd, 1, -1), ==, 1);	/* POLLERR|POLLHUP only */
	CHECK(pfd.revents & POLLERR);
	CHECK_ERRNO(recv(s[1], &c, 1, 0), ECONNRESET);
	CHECK_INT(recv(s[1], &c, 1, 0), ==, 0);
	CHECK_ERRNO(send(s[1], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK_SYS(close(s[1]));

	/* a reset with unread data on the way: the data is lost */
	t_tcp_pair(s);
	CHECK_INT(send(s[1], "data", 4, 0), ==, 4);
	CHECK_INT(recv(s[0], &c, 1, 0), ==, 1);
	CHECK_INT(c, ==, 'd');
	/* s[0] has 3 unread bytes: a plain close() sends a reset too */
	CHECK_SYS(close(s[0]));
	pfd = (struct pollfd){ .fd = s[1], .events = 0 };
	CHECK_INT(poll(&pfd, 1, -1), ==, 1);
	CHECK(pfd.revents & POLLERR);
	CHECK_ERRNO(recv(s[1], &c, 1, 0), ECONNRESET);
	CHECK_SYS(close(s[1]));
}

int main(void)
{
	half_close();
	shutdown_wakes_recv();
	reset();
	return T_PASS;
}
