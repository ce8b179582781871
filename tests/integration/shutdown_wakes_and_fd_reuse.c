/*
 * Blocked threads and fd numbers, as natively:
 *
 *  - shutdown() from another thread wakes a thread blocked on the socket:
 *    recv returns 0 (AF_UNIX and TCP, SHUT_RDWR), accept on a listener
 *    shut down with SHUT_RD fails with EINVAL, and a send blocked on a
 *    full TCP connection fails with EPIPE after SHUT_WR;
 *  - fd numbers are reused: a socket (or pipe, listener) with pending
 *    readiness is closed and the next pipe/socket/eventfd/regular file
 *    gets the same number (checked); a thread blocked on the new file is
 *    not woken by the old one's readiness and gets only the new data; the
 *    program's own epoll set has forgotten the old file and takes the new
 *    one;
 *  - dup/dup2/dup3/F_DUPFD(_CLOEXEC): data goes through the copy, which
 *    keeps working (a thread blocked in recv on it) after the original is
 *    closed; O_NONBLOCK is shared by the copies (one open file
 *    description) while FD_CLOEXEC is per number; dup3(O_CLOEXEC) sets it;
 *    dup2 over a socket's number makes that number the pipe (fstat, flags,
 *    a blocked read gets pipe data) and closes the socket (its peer reads
 *    EOF); dup2(fd, fd) returns fd, dup3(fd, fd) fails with EINVAL.
 *
 * (What close() does to a thread blocked on the same fd is not checked:
 * Linux lets the blocked call go on, which programs must not rely on.)
 */
#include "check.h"
#include "sock_helpers.h"

#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

struct waiter {
	int fd;
	int op;		/* 0 recv, 1 read, 2 poll, 3 accept, 4 send */
	size_t len;
	atomic_int entered, done;
	ssize_t ret;
	int err;
	char buf[64];
	pthread_t t;
};

static void *blocked(void *arg)
{
	struct waiter *w = arg;
	struct pollfd pfd = { w->fd, POLLIN, 0 };

	w->entered = 1;
	switch (w->op) {
	case 0:
		w->ret = recv(w->fd, w->buf, w->len, 0);
		break;
	case 1:
		w->ret = read(w->fd, w->buf, w->len);
		break;
	case 2:
		w->ret = poll(&pfd, 1, -1);
		w->buf[0] = (char)pfd.revents;
		break;
	case 3:
		w->ret = accept(w->fd, NULL, NULL);
		break;
	default:
		w->ret = send(w->fd, w->buf, w->len, MSG_NOSIGNAL);
		break;
	}
	w->err = w->ret < 0 ? errno : 0;
	w->done = 1;
	return NULL;
}

static void start(struct waiter *w, int fd, int op, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->op = op;
	w->len = len;
	CHECK_OK(pthread_create(&w->t, NULL, blocked, w));
	while (!w->entered)
		usleep(1000);
	usleep(50000);	/* blocked in the call */
	CHECK_INT(w->done, ==, 0);
}

static void finish(struct waiter *w)
{
	CHECK_OK(pthread_join(w->t, NULL));
}

/* --- shutdown wakes --- */

static void shutdown_wakes(void)
{
	struct sockaddr_storage a;
	struct waiter w;
	socklen_t l;
	int s[2], lfd;
	char c;

	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	start(&w, s[0], 0, 1);
	CHECK_SYS(shutdown(s[0], SHUT_RDWR));
	finish(&w);
	CHECK_INT(w.ret, ==, 0);
	CHECK_INT(recv(s[1], &c, 1, 0), ==, 0);	/* the peer: EOF */
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	t_tcp_pair(s);
	start(&w, s[1], 0, 1);
	CHECK_SYS(shutdown(s[1], SHUT_RDWR));
	finish(&w);
	CHECK_INT(w.ret, ==, 0);
	CHECK_INT(recv(s[0], &c, 1, 0), ==, 0);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	/* accept on a listener shut down: EINVAL */
	lfd = t_tcp_listener(AF_INET, 4, &a, &l);
	CHECK(lfd >= 0);
	start(&w, lfd, 3, 0);
	CHECK_SYS(shutdown(lfd, SHUT_RD));
	finish(&w);
	CHECK_INT(w.ret, ==, -1);
	CHECK_INT(w.err, ==, EINVAL);
	CHECK_SYS(close(lfd));

	/* a send blocked on a full connection: EPIPE after SHUT_WR */
	t_tcp_pair(s);
	{
		char buf[65536] = { 0 };

		t_set_nonblock(s[0], 1);
		while (send(s[0], buf, sizeof(buf), 0) > 0)
			;
		CHECK_INT(errno, ==, EAGAIN);
		t_set_nonblock(s[0], 0);
	}
	start(&w, s[0], 4, 1);
	CHECK_SYS(shutdown(s[0], SHUT_WR));
	finish(&w);
	CHECK_INT(w.ret, ==, -1);
	CHECK_INT(w.err, ==, EPIPE);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
}

/* --- fd number reuse --- */

/* The new file at `fd` is what the thread waits on, not the old one. */
static void wait_new(int fd, int wfd, int op)
{
	struct waiter w;

	start(&w, fd, op, 3);
	usleep(50000);
	CHECK_INT(w.done, ==, 0);	/* not woken by the old file's data */
	CHECK_INT(write(wfd, "new", 3), ==, 3);
	finish(&w);
	if (op == 2) {
		CHECK_INT(w.ret, ==, 1);
		CHECK_REVENTS(w.buf[0], POLLIN);
		CHECK_INT(read(fd, w.buf, 3), ==, 3);
	} else {
		CHECK_INT(w.ret, ==, 3);
	}
	CHECK(memcmp(w.buf, "new", 3) == 0);
}

static void reuse(void)
{
	struct sockaddr_storage a;
	struct epoll_event ev = { EPOLLIN, { .u64 = 1 } }, out;
	struct waiter w;
	socklen_t l;
	int s[2], p[2], t[2], old, ep, lfd, c, e;
	char tmpl[] = "reuse-XXXXXX";
	uint64_t v;

	ep = epoll_create1(0);
	CHECK_SYS(ep);

	/* an AF_UNIX socket that a thread waited on, left readable */
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	start(&w, s[0], 0, 1);
	CHECK_INT(send(s[1], "o", 1, 0), ==, 1);
	finish(&w);
	CHECK_INT(w.ret, ==, 1);
	CHECK_INT(send(s[1], "old", 3, 0), ==, 3);
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, s[0], &ev));
	CHECK_INT(epoll_wait(ep, &out, 1, 0), ==, 1);
	old = s[0];
	CHECK_SYS(close(old));
	CHECK_SYS(pipe(p));
	CHECK_INT(p[0], ==, old);
	/* the epoll set dropped the closed file: the new one goes in */
	CHECK_INT(epoll_wait(ep, &out, 1, 0), ==, 0);
	ev.data.u64 = 2;
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK_INT(epoll_wait(ep, &out, 1, 0), ==, 0);
	wait_new(p[0], p[1], 1);
	CHECK_INT(write(p[1], "x", 1), ==, 1);
	CHECK_INT(epoll_wait(ep, &out, 1, 0), ==, 1);
	CHECK(out.data.u64 == 2);
	CHECK_INT(read(p[0], w.buf, 1), ==, 1);
	CHECK_SYS(close(s[1]));

	/* the pipe, readable, makes way for a TCP socket; poll on it */
	lfd = t_tcp_listener(AF_INET, 4, &a, &l);
	CHECK(lfd >= 0);
	CHECK_INT(write(p[1], "old", 3), ==, 3);
	old = p[0];
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
	t[0] = t_tcp_connect(&a, l);
	CHECK_INT(t[0], ==, old);
	t[1] = t_accept(lfd);
	CHECK_SYS(close(lfd));
	CHECK_INT(send(t[1], "x", 1, 0), ==, 1);
	CHECK_INT(recv(t[0], w.buf, 1, 0), ==, 1);
	wait_new(t[0], t[1], 2);
	wait_new(t[0], t[1], 0);

	/* the TCP socket, readable, makes way for an eventfd */
	CHECK_INT(send(t[1], "old", 3, 0), ==, 3);
	old = t[0];
	CHECK_SYS(close(t[0]));
	e = eventfd(0, 0);
	CHECK_INT(e, ==, old);
	start(&w, e, 1, 8);
	usleep(50000);
	CHECK_INT(w.done, ==, 0);
	v = 5;
	CHECK_INT(write(e, &v, 8), ==, 8);
	finish(&w);
	CHECK_INT(w.ret, ==, 8);
	memcpy(&v, w.buf, 8);
	CHECK_INT(v, ==, 5);

	/* a listener with a pending connection makes way for a file */
	CHECK_SYS(close(e));
	CHECK_SYS(close(t[1]));
	lfd = t_tcp_listener(AF_INET, 4, &a, &l);
	CHECK_INT(lfd, ==, old);
	c = t_tcp_connect(&a, l);
	CHECK_SYS(close(lfd));
	{
		int f = mkstemp(tmpl);

		CHECK_INT(f, ==, old);
		t_write_all(f, "file!", 5);
		CHECK_SYS(lseek(f, 0, SEEK_SET));
		CHECK_INT(read(f, w.buf, sizeof(w.buf)), ==, 5);
		CHECK(memcmp(w.buf, "file!", 5) == 0);
		CHECK_INT(read(f, w.buf, sizeof(w.buf)), ==, 0);
		CHECK_SYS(unlink(tmpl));
		CHECK_SYS(close(f));
	}
	CHECK_SYS(close(c));
	CHECK_SYS(close(ep));
}

/* --- dup family --- */

static void dups(void)
{
	struct waiter w;
	struct stat st;
	int s[2], p[2], d, d2, d3;
	char c;

	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	d = dup(s[0]);
	CHECK_SYS(d);
	CHECK_INT(send(s[1], "a", 1, 0), ==, 1);
	CHECK_INT(recv(d, &c, 1, 0), ==, 1);
	CHECK_INT(send(d, "b", 1, 0), ==, 1);
	CHECK_INT(recv(s[1], &c, 1, 0), ==, 1);
	CHECK_INT(c, ==, 'b');

	/* O_NONBLOCK lives in the shared description; FD_CLOEXEC does not */
	t_set_nonblock(d, 1);
	CHECK_INT(t_getfl(s[0]), ==, O_RDWR | O_NONBLOCK);
	CHECK_ERRNO(recv(s[0], &c, 1, 0), EAGAIN);
	t_set_nonblock(s[0], 0);
	CHECK_INT(t_getfl(d), ==, O_RDWR);
	CHECK_SYS(fcntl(d, F_SETFD, FD_CLOEXEC));
	CHECK_INT(t_getfd(s[0]), ==, 0);
	d2 = dup3(s[0], 100, O_CLOEXEC);
	CHECK_INT(d2, ==, 100);
	CHECK_INT(t_getfd(d2), ==, FD_CLOEXEC);
	CHECK_INT(t_getfd(s[0]), ==, 0);
	d3 = fcntl(s[0], F_DUPFD_CLOEXEC, 200);
	CHECK_INT(d3, ==, 200);
	CHECK_INT(t_getfd(d3), ==, FD_CLOEXEC);
	CHECK_SYS(close(d3));
	d3 = fcntl(s[0], F_DUPFD, 200);
	CHECK_INT(d3, ==, 200);
	CHECK_INT(t_getfd(d3), ==, 0);
	CHECK_SYS(close(d3));
	CHECK_INT(dup2(d2, d2), ==, d2);
	CHECK_ERRNO(dup3(d2, d2, 0), EINVAL);

	/* the original goes; a thread blocked on the copy gets the data */
	CHECK_SYS(close(s[0]));
	start(&w, d, 0, 4);
	CHECK_INT(send(s[1], "dup!", 4, 0), ==, 4);
	finish(&w);
	CHECK_INT(w.ret, ==, 4);
	CHECK(memcmp(w.buf, "dup!", 4) == 0);
	CHECK_SYS(close(d));
	start(&w, d2, 0, 4);
	CHECK_INT(send(s[1], "dp3!", 4, 0), ==, 4);
	finish(&w);
	CHECK_INT(w.ret, ==, 4);
	CHECK(memcmp(w.buf, "dp3!", 4) == 0);

	/* dup2 a pipe over the last copy: the socket closes, the number is
	 * the pipe now */
	CHECK_SYS(pipe(p));
	CHECK_INT(dup2(p[0], d2), ==, d2);
	CHECK_INT(recv(s[1], &c, 1, 0), ==, 0);	/* socket gone: EOF */
	CHECK_SYS(fstat(d2, &st));
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_INT(t_getfl(d2), ==, O_RDONLY);
	CHECK_INT(t_getfd(d2), ==, 0);	/* dup2 clears FD_CLOEXEC */
	start(&w, d2, 1, 4);
	CHECK_INT(write(p[1], "pipe", 4), ==, 4);
	finish(&w);
	CHECK_INT(w.ret, ==, 4);
	CHECK(memcmp(w.buf, "pipe", 4) == 0);
	CHECK_SYS(close(d2));
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
	CHECK_SYS(close(s[1]));
}

int main(void)
{
	shutdown_wakes();
	reuse();
	dups();
	return T_PASS;
}
