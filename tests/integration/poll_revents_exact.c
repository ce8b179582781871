/*
 * The exact readiness that poll, ppoll, epoll_wait and select report for
 * pipes, sockets, eventfds and epoll fds, as natively on Linux. For each
 * case a thread first blocks in poll() on the events that are not yet
 * there; another thread makes the change (a peer closes, data comes, ...)
 * and the blocked poll returns with the exact revents. Then, once the
 * state is settled, poll/ppoll (timeout 0) with POLLIN|POLLOUT|POLLRDHUP|
 * POLLPRI must give exactly the native revents, epoll_wait the same bits,
 * and select the sets the kernel derives from them (read: IN|HUP|ERR,
 * write: OUT|ERR, except: PRI). Among them:
 *
 *  - POLLHUP on a pipe whose writer closed (POLLIN|POLLHUP with data);
 *  - POLLERR on a pipe write end whose reader closed (plus POLLOUT if
 *    the pipe has room);
 *  - POLLNVAL for a closed fd number, EBADF from select and epoll_ctl;
 *  - POLLIN|POLLOUT|POLLHUP|POLLRDHUP on an AF_UNIX socket after its peer
 *    closed (a blocked poll for POLLIN gets POLLIN|POLLHUP);
 *  - POLLIN|POLLOUT|POLLRDHUP on TCP after the peer's FIN, plus
 *    POLLERR|POLLHUP after a reset; POLLPRI for urgent data;
 *  - an fd of -1 is ignored (revents 0).
 *
 * Failures print both masks by name.
 */
#include "check.h"
#include "sock_helpers.h"

#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>

#define ALL	(POLLIN | POLLOUT | POLLRDHUP | POLLPRI)

struct waiter {
	int fd;
	short events;
	atomic_int entered;
	int ret;
	short revents;
	pthread_t t;
};

static void *poller(void *arg)
{
	struct waiter *w = arg;
	struct pollfd pfd = { w->fd, w->events, 0 };

	w->entered = 1;
	do
		w->ret = poll(&pfd, 1, -1);
	while (w->ret < 0 && errno == EINTR);
	w->revents = pfd.revents;
	return NULL;
}

/* A thread blocked in poll(fd, events, -1). */
#define wait_start(w, fd, events)	wait_start_at(__LINE__, w, fd, events)

static void wait_start_at(int line, struct waiter *w, int fd, short events)
{
	struct pollfd pfd = { fd, events, 0 };
	char b[160];

	/* not ready yet, or the case is wrong */
	if (poll(&pfd, 1, 0) != 0)
		FAIL("case at line %d: already ready: %s", line,
		     t_pollbits(pfd.revents, b, sizeof(b)));
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->events = events;
	CHECK_OK(pthread_create(&w->t, NULL, poller, w));
	while (!w->entered)
		usleep(1000);
	usleep(30000);	/* blocked in poll */
}

static short wait_end(struct waiter *w)
{
	CHECK_OK(pthread_join(w->t, NULL));
	CHECK_INT(w->ret, ==, 1);
	return w->revents;
}

/*
 * Every interface reports `want` (the revents for ALL) right now. Failures
 * name the line of the CHECK_SETTLED.
 */
#define CHECK_SETTLED(fd, want)	check_settled(__LINE__, fd, want)

#define S_INT(line, what, got, want)					\
	do {								\
		long long _g = (got), _w = (want);			\
		if (_g != _w)						\
			FAIL("case at line %d: %s is %lld, expected %lld", \
			     line, what, _g, _w);			\
	} while (0)

#define S_REVENTS(line, what, got, want)				\
	do {								\
		char _gb[160], _wb[160];				\
		if ((short)(got) != (short)(want))			\
			FAIL("case at line %d: %s is %s, expected %s",	\
			     line, what,				\
			     t_pollbits((short)(got), _gb, sizeof(_gb)), \
			     t_pollbits((short)(want), _wb, sizeof(_wb))); \
	} while (0)

static void check_settled(int line, int fd, short want)
{
	struct pollfd pfd = { fd, ALL, 0 };
	struct timespec zero = { 0, 0 };
	struct epoll_event ev = { 0 }, out = { 0 };
	struct timeval tv = { 0, 0 };
	fd_set r, w, e;
	int ep, rd, wr, ex, n;

	S_INT(line, "poll", poll(&pfd, 1, 0), want ? 1 : 0);
	S_REVENTS(line, "poll revents", pfd.revents, want);
	pfd.revents = 0;
	S_INT(line, "ppoll", ppoll(&pfd, 1, &zero, NULL), want ? 1 : 0);
	S_REVENTS(line, "ppoll revents", pfd.revents, want);

	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK_SYS(ep);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI;
	ev.data.u64 = 0x1234567890ULL;
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	S_INT(line, "epoll_wait", epoll_wait(ep, &out, 1, 0), want ? 1 : 0);
	if (want) {
		S_REVENTS(line, "epoll events", out.events, want);
		S_INT(line, "epoll data", out.data.u64 == 0x1234567890ULL, 1);
	}
	CHECK_SYS(close(ep));

	rd = !!(want & (POLLIN | POLLHUP | POLLERR));
	wr = !!(want & (POLLOUT | POLLERR));
	ex = !!(want & POLLPRI);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&e);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	FD_SET(fd, &e);
	n = select(fd + 1, &r, &w, &e, &tv);
	S_INT(line, "select", n, rd + wr + ex);
	S_INT(line, "select readable", !!FD_ISSET(fd, &r), rd);
	S_INT(line, "select writable", !!FD_ISSET(fd, &w), wr);
	S_INT(line, "select exception", !!FD_ISSET(fd, &e), ex);
}

static void pipes(void)
{
	struct waiter w;
	char buf[4096] = { 0 };
	int p[2];

	/* the writer closes: POLLHUP alone */
	CHECK_SYS(pipe(p));
	wait_start(&w, p[0], POLLIN);
	CHECK_SYS(close(p[1]));
	CHECK_REVENTS(wait_end(&w), POLLHUP);
	CHECK_SETTLED(p[0], POLLHUP);
	CHECK_SYS(close(p[0]));

	/* data comes, then the writer closes: POLLIN|POLLHUP */
	CHECK_SYS(pipe(p));
	CHECK_SETTLED(p[0], 0);
	CHECK_SETTLED(p[1], POLLOUT);
	wait_start(&w, p[0], POLLIN);
	CHECK_INT(write(p[1], "x", 1), ==, 1);
	CHECK_REVENTS(wait_end(&w), POLLIN);
	CHECK_SETTLED(p[0], POLLIN);
	CHECK_SYS(close(p[1]));
	CHECK_SETTLED(p[0], POLLIN | POLLHUP);
	CHECK_SYS(close(p[0]));

	/* a full pipe's reader closes: POLLERR (no room: no POLLOUT) */
	CHECK_SYS(pipe(p));
	t_set_nonblock(p[1], 1);
	while (write(p[1], buf, sizeof(buf)) > 0)
		;
	CHECK_INT(errno, ==, EAGAIN);
	t_set_nonblock(p[1], 0);
	CHECK_SETTLED(p[1], 0);
	wait_start(&w, p[1], POLLOUT);
	CHECK_SYS(close(p[0]));
	CHECK_REVENTS(wait_end(&w), POLLERR);
	CHECK_SETTLED(p[1], POLLERR);
	CHECK_SYS(close(p[1]));

	/* an empty pipe's reader closes: POLLOUT|POLLERR */
	CHECK_SYS(pipe(p));
	CHECK_SYS(close(p[0]));
	CHECK_SETTLED(p[1], POLLOUT | POLLERR);
	CHECK_SYS(close(p[1]));
}

static void closed_fd(void)
{
	struct pollfd pfd[3];
	struct epoll_event ev = { EPOLLIN, { 0 } };
	struct timeval tv = { 0, 0 };
	fd_set r;
	int p[2], dead, ep;

	ep = epoll_create1(0);	/* first: it would take dead's number */
	CHECK_SYS(ep);
	CHECK_SYS(pipe(p));
	dead = p[1];
	CHECK_SYS(close(dead));
	pfd[0] = (struct pollfd){ p[0], POLLIN, 0 };
	pfd[1] = (struct pollfd){ -1, POLLIN, 0x7f };
	pfd[2] = (struct pollfd){ dead, POLLIN, 0 };
	/* the writer is gone too (dead was it): POLLHUP on p[0] */
	CHECK_INT(poll(pfd, 3, 0), ==, 2);
	CHECK_REVENTS(pfd[0].revents, POLLHUP);
	CHECK_REVENTS(pfd[1].revents, 0);
	CHECK_REVENTS(pfd[2].revents, POLLNVAL);

	FD_ZERO(&r);
	FD_SET(dead, &r);
	CHECK_ERRNO(select(dead + 1, &r, NULL, NULL, &tv), EBADF);
	CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, dead, &ev), EBADF);
	CHECK_SYS(close(ep));
	CHECK_SYS(close(p[0]));
}

static void unix_sockets(void)
{
	struct waiter w;
	int s[2];

	/* the peer closes */
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	CHECK_SETTLED(s[0], POLLOUT);
	wait_start(&w, s[0], POLLIN);
	CHECK_SYS(close(s[1]));
	CHECK_REVENTS(wait_end(&w), POLLIN | POLLHUP);
	CHECK_SETTLED(s[0], POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
	CHECK_SYS(close(s[0]));

	/* the peer shuts down its writing side */
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	wait_start(&w, s[0], POLLIN | POLLRDHUP);
	CHECK_SYS(shutdown(s[1], SHUT_WR));
	CHECK_REVENTS(wait_end(&w), POLLIN | POLLRDHUP);
	CHECK_SETTLED(s[0], POLLIN | POLLOUT | POLLRDHUP);
	CHECK_SETTLED(s[1], POLLOUT);
	/* own SHUT_RD from another thread than the poller's: with the
	 * earlier SHUT_WR both directions are shut, so POLLHUP too */
	wait_start(&w, s[1], POLLIN | POLLRDHUP);
	CHECK_SYS(shutdown(s[1], SHUT_RD));
	CHECK_REVENTS(wait_end(&w), POLLIN | POLLHUP | POLLRDHUP);
	CHECK_SETTLED(s[1], POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	/* datagram: readable once something comes */
	CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, s));
	CHECK_SETTLED(s[0], POLLOUT);
	wait_start(&w, s[0], POLLIN);
	CHECK_INT(send(s[1], "d", 1, 0), ==, 1);
	CHECK_REVENTS(wait_end(&w), POLLIN);
	CHECK_SETTLED(s[0], POLLIN | POLLOUT);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
}

static void tcp(void)
{
	struct sockaddr_storage a;
	struct linger lg = { 1, 0 };
	struct waiter w;
	socklen_t l;
	int s[2], lfd, c;
	char ch;

	/* FIN from the peer */
	t_tcp_pair(s);
	CHECK_SETTLED(s[0], POLLOUT);
	wait_start(&w, s[0], POLLIN | POLLRDHUP);
	CHECK_SYS(close(s[1]));
	CHECK_REVENTS(wait_end(&w), POLLIN | POLLRDHUP);
	CHECK_SETTLED(s[0], POLLIN | POLLOUT | POLLRDHUP);
	CHECK_SYS(close(s[0]));

	/* both sides shut down their writing */
	t_tcp_pair(s);
	wait_start(&w, s[1], POLLIN);
	CHECK_SYS(shutdown(s[0], SHUT_WR));
	CHECK_REVENTS(wait_end(&w), POLLIN);
	CHECK_SETTLED(s[0], POLLOUT);
	CHECK_SETTLED(s[1], POLLIN | POLLOUT | POLLRDHUP);
	wait_start(&w, s[0], POLLIN);
	CHECK_SYS(shutdown(s[1], SHUT_WR));
	CHECK_REVENTS(wait_end(&w), POLLIN | POLLHUP);
	CHECK_SETTLED(s[0], POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
	CHECK_SETTLED(s[1], POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	/* a reset; events 0 wait for POLLERR/POLLHUP only */
	t_tcp_pair(s);
	wait_start(&w, s[0], 0);
	CHECK_SYS(setsockopt(s[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	CHECK_SYS(close(s[1]));
	CHECK(wait_end(&w) & POLLERR);
	CHECK_SETTLED(s[0], POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
	CHECK_ERRNO(recv(s[0], &ch, 1, 0), ECONNRESET);
	CHECK_SETTLED(s[0], POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
	CHECK_SYS(close(s[0]));

	/* urgent data */
	t_tcp_pair(s);
	wait_start(&w, s[0], POLLPRI);
	CHECK_INT(send(s[1], "!", 1, MSG_OOB), ==, 1);
	CHECK_REVENTS(wait_end(&w), POLLPRI);
	CHECK_SETTLED(s[0], POLLPRI | POLLOUT);
	CHECK_INT(recv(s[0], &ch, 1, MSG_OOB), ==, 1);
	CHECK_INT(ch, ==, '!');
	CHECK_SETTLED(s[0], POLLOUT);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	/* a listener with a pending connection */
	lfd = t_tcp_listener(AF_INET, 4, &a, &l);
	CHECK(lfd >= 0);
	CHECK_SETTLED(lfd, 0);
	wait_start(&w, lfd, POLLIN);
	c = t_tcp_connect(&a, l);
	CHECK_REVENTS(wait_end(&w), POLLIN);
	CHECK_SETTLED(lfd, POLLIN);
	CHECK_SYS(close(c));
	CHECK_SYS(close(lfd));

	/* a TCP socket never connected */
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_SYS(c);
	CHECK_SETTLED(c, POLLOUT | POLLHUP);
	CHECK_SYS(close(c));

	/* UDP */
	c = t_bound_socket(AF_INET, SOCK_DGRAM, &a, &l);
	CHECK(c >= 0);
	CHECK_SETTLED(c, POLLOUT);
	wait_start(&w, c, POLLIN);
	CHECK_INT(sendto(c, "u", 1, 0, (struct sockaddr *)&a, l), ==, 1);
	CHECK_REVENTS(wait_end(&w), POLLIN);
	CHECK_SETTLED(c, POLLIN | POLLOUT);
	CHECK_SYS(close(c));
}

static void eventfd_and_epoll(void)
{
	struct epoll_event ev = { EPOLLIN, { 0 } };
	struct waiter w;
	uint64_t one = 1;
	int e, ep, p[2];

	e = eventfd(0, EFD_CLOEXEC);
	CHECK_SYS(e);
	CHECK_SETTLED(e, POLLOUT);
	wait_start(&w, e, POLLIN);
	CHECK_INT(write(e, &one, sizeof(one)), ==, sizeof(one));
	CHECK_REVENTS(wait_end(&w), POLLIN);
	CHECK_SETTLED(e, POLLIN | POLLOUT);
	CHECK_SYS(close(e));

	/* a program's own epoll fd is pollable */
	ep = epoll_create1(0);
	CHECK_SYS(ep);
	CHECK_SYS(pipe(p));
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK_SETTLED(ep, 0);
	wait_start(&w, ep, POLLIN);
	CHECK_INT(write(p[1], "e", 1), ==, 1);
	CHECK_REVENTS(wait_end(&w), POLLIN);
	CHECK_SETTLED(ep, POLLIN);
	CHECK_SYS(close(ep));
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
}

int main(void)
{
	pipes();
	closed_fd();
	unix_sockets();
	tcp();
	eventfd_and_epoll();
	return T_PASS;
}
