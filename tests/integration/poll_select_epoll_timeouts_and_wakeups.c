/*
 * poll, ppoll, select, pselect, epoll_wait, epoll_pwait (and epoll_pwait2
 * where the kernel has it) between threads, as natively:
 *
 *  - with nothing ready, each returns 0 after at least its timeout, all of
 *    them at once in separate threads; select writes the time left
 *    ({0, 0}) back into its timeval, pselect leaves its timespec alone;
 *    poll and select with no fds sleep for the timeout;
 *  - a thread blocked in poll on several fds (pipe, socket, eventfd) is
 *    woken when another thread writes one; only that one has revents;
 *    select woken early leaves the time not slept in its timeval;
 *  - two threads polling the same fd are both woken by one write;
 *  - epoll_wait on an epoll fd that holds another epoll fd (nested) wakes
 *    when the inner one's pipe gets data; EPOLLET reports an edge once,
 *    EPOLLONESHOT once until EPOLL_CTL_MOD re-arms it;
 *  - a signal whose handler has SA_RESTART still makes a blocked poll,
 *    select or epoll_wait fail with EINTR (they are never restarted);
 *  - ppoll, pselect and epoll_pwait install their signal mask atomically:
 *    a signal blocked in the thread and already pending makes them fail
 *    with EINTR at once, the handler runs in that thread, and the old
 *    mask is back afterwards.
 */
#include "check.h"
#include "sock_helpers.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/syscall.h>

#define TMO_MS	100
#define TMO_NS	(TMO_MS * 1000000LL)

/* --- timeouts, all at once --- */

static int idle_pipe[2];

enum tcase { T_POLL, T_POLL0, T_PPOLL, T_SELECT, T_SELECT0, T_PSELECT,
	     T_EPOLL, T_EPOLL_P, T_EPOLL_P2, NT };

static void *times_out(void *arg)
{
	enum tcase tc = (enum tcase)(intptr_t)arg;
	struct pollfd pfd = { idle_pipe[0], POLLIN, 0 };
	struct timespec ts = { 0, TMO_NS };
	struct timeval tv = { 0, TMO_MS * 1000 };
	struct epoll_event ev = { EPOLLIN, { 0 } }, out;
	sigset_t mask;
	fd_set r;
	int64_t t0;
	int ep = -1, ret = -1;

	FD_ZERO(&r);
	FD_SET(idle_pipe[0], &r);
	sigemptyset(&mask);
	if (tc >= T_EPOLL) {
		ep = epoll_create1(0);
		CHECK_SYS(ep);
		CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, idle_pipe[0], &ev));
	}
	t0 = t_now_ns(CLOCK_MONOTONIC);
	switch (tc) {
	case T_POLL:
		ret = poll(&pfd, 1, TMO_MS);
		break;
	case T_POLL0:
		ret = poll(NULL, 0, TMO_MS);
		break;
	case T_PPOLL:
		ret = ppoll(&pfd, 1, &ts, &mask);
		CHECK_INT(ts.tv_sec, ==, 0);	/* glibc: not written back */
		CHECK_INT(ts.tv_nsec, ==, TMO_NS);
		break;
	case T_SELECT:
		ret = select(idle_pipe[0] + 1, &r, NULL, NULL, &tv);
		/* Linux writes the time left back */
		CHECK_INT(tv.tv_sec, ==, 0);
		CHECK_INT(tv.tv_usec, ==, 0);
		CHECK(!FD_ISSET(idle_pipe[0], &r));
		break;
	case T_SELECT0:
		ret = select(0, NULL, NULL, NULL, &tv);
		CHECK_INT(tv.tv_sec, ==, 0);
		CHECK_INT(tv.tv_usec, ==, 0);
		break;
	case T_PSELECT:
		ret = pselect(idle_pipe[0] + 1, &r, NULL, NULL, &ts, &mask);
		CHECK_INT(ts.tv_sec, ==, 0);	/* pselect leaves it */
		CHECK_INT(ts.tv_nsec, ==, TMO_NS);
		CHECK(!FD_ISSET(idle_pipe[0], &r));
		break;
	case T_EPOLL:
		ret = epoll_wait(ep, &out, 1, TMO_MS);
		break;
	case T_EPOLL_P:
		ret = epoll_pwait(ep, &out, 1, TMO_MS, &mask);
		break;
	default:
		ret = (int)syscall(SYS_epoll_pwait2, ep, &out, 1, &ts, NULL,
				   (size_t)8);
		if (ret < 0 && errno == ENOSYS) {
			CHECK_SYS(close(ep));
			return NULL;	/* kernel before 5.11 */
		}
		break;
	}
	if (ret != 0)
		FAIL("case %d returned %d (%s), expected 0", tc, ret,
		     ret < 0 ? strerror(errno) : "ready");
	CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - t0, >=, TMO_NS);
	if (ep >= 0)
		CHECK_SYS(close(ep));
	return NULL;
}

static void timeouts(void)
{
	pthread_t t[NT];

	CHECK_SYS(pipe(idle_pipe));
	for (int i = 0; i < NT; i++)
		CHECK_OK(pthread_create(&t[i], NULL, times_out,
					(void *)(intptr_t)i));
	for (int i = 0; i < NT; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	/* and one after the other from main */
	for (int i = 0; i < NT; i++)
		times_out((void *)(intptr_t)i);
	CHECK_SYS(close(idle_pipe[0]));
	CHECK_SYS(close(idle_pipe[1]));
}

/* --- woken by another thread --- */

struct later {
	int fd;
	const void *buf;
	size_t len;
};

static void *write_later(void *arg)
{
	struct later *l = arg;

	usleep(50000);
	CHECK_INT(write(l->fd, l->buf, l->len), ==, l->len);
	return NULL;
}

static void start_later(pthread_t *t, struct later *l, int fd,
			const void *buf, size_t len)
{
	*l = (struct later){ fd, buf, len };
	CHECK_OK(pthread_create(t, NULL, write_later, l));
}

struct same_fd {
	int fd;
	int ret;
	short revents;
};

static void *poll_same(void *arg)
{
	struct same_fd *s = arg;
	struct pollfd pfd = { s->fd, POLLIN, 0 };

	s->ret = poll(&pfd, 1, 60000);
	s->revents = pfd.revents;
	return NULL;
}

static void wakeups(void)
{
	struct pollfd pfd[3];
	struct later l;
	pthread_t t, w[2];
	struct same_fd sf[2];
	uint64_t one = 1;
	int p[2], s[2], e;

	CHECK_SYS(pipe(p));
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	e = eventfd(0, 0);
	CHECK_SYS(e);

	/* the socket becomes readable */
	pfd[0] = (struct pollfd){ p[0], POLLIN, 0 };
	pfd[1] = (struct pollfd){ s[0], POLLIN, 0 };
	pfd[2] = (struct pollfd){ e, POLLIN, 0 };
	start_later(&t, &l, s[1], "s", 1);
	CHECK_INT(poll(pfd, 3, -1), ==, 1);
	CHECK_REVENTS(pfd[0].revents, 0);
	CHECK_REVENTS(pfd[1].revents, POLLIN);
	CHECK_REVENTS(pfd[2].revents, 0);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(read(s[0], &one, 1), ==, 1);

	/* the eventfd, with ppoll and a timeout that does not expire */
	{
		struct timespec ts = { 60, 0 };

		one = 1;
		start_later(&t, &l, e, &one, sizeof(one));
		pfd[1].revents = 0;
		CHECK_INT(ppoll(pfd, 3, &ts, NULL), ==, 1);
		CHECK_REVENTS(pfd[0].revents, 0);
		CHECK_REVENTS(pfd[1].revents, 0);
		CHECK_REVENTS(pfd[2].revents, POLLIN);
		CHECK_OK(pthread_join(t, NULL));
		CHECK_INT(read(e, &one, sizeof(one)), ==, sizeof(one));
		CHECK_INT(one, ==, 1);
	}

	/* select on all three, woken by the pipe: the time left stays */
	{
		struct timeval tv = { 5, 0 };
		int nfds = (p[0] > s[0] ? p[0] : s[0]);
		fd_set r;

		nfds = (nfds > e ? nfds : e) + 1;
		FD_ZERO(&r);
		FD_SET(p[0], &r);
		FD_SET(s[0], &r);
		FD_SET(e, &r);
		start_later(&t, &l, p[1], "p", 1);
		CHECK_INT(select(nfds, &r, NULL, NULL, &tv), ==, 1);
		CHECK(FD_ISSET(p[0], &r));
		CHECK(!FD_ISSET(s[0], &r));
		CHECK(!FD_ISSET(e, &r));
		CHECK(tv.tv_sec < 5 && (tv.tv_sec > 0 || tv.tv_usec > 0));
		CHECK_OK(pthread_join(t, NULL));
		CHECK_INT(read(p[0], &one, 1), ==, 1);
	}

	/* two pollers, one write: both see POLLIN */
	for (int i = 0; i < 2; i++) {
		sf[i] = (struct same_fd){ p[0], -1, 0 };
		CHECK_OK(pthread_create(&w[i], NULL, poll_same, &sf[i]));
	}
	usleep(50000);
	CHECK_INT(write(p[1], "2", 1), ==, 1);
	for (int i = 0; i < 2; i++) {
		CHECK_OK(pthread_join(w[i], NULL));
		CHECK_INT(sf[i].ret, ==, 1);
		CHECK_REVENTS(sf[i].revents, POLLIN);
	}
	CHECK_INT(read(p[0], &one, 1), ==, 1);

	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
	CHECK_SYS(close(e));
}

/* --- epoll: nested, edge-triggered, one-shot --- */

static void epolls(void)
{
	struct epoll_event ev, out[4];
	struct later l;
	pthread_t t;
	int inner, outer, p[2], q[2];
	char c;

	CHECK_SYS(pipe(p));
	CHECK_SYS(pipe(q));
	inner = epoll_create1(EPOLL_CLOEXEC);
	outer = epoll_create1(EPOLL_CLOEXEC);
	CHECK_SYS(inner);
	CHECK_SYS(outer);
	ev = (struct epoll_event){ EPOLLIN, { .u64 = 11 } };
	CHECK_SYS(epoll_ctl(inner, EPOLL_CTL_ADD, p[0], &ev));
	ev = (struct epoll_event){ EPOLLIN, { .u64 = 22 } };
	CHECK_SYS(epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev));

	/* nested: a thread's write to p reaches the outer epoll */
	start_later(&t, &l, p[1], "n", 1);
	CHECK_INT(epoll_wait(outer, out, 4, -1), ==, 1);
	CHECK_INT(out[0].events, ==, EPOLLIN);
	CHECK(out[0].data.u64 == 22);
	CHECK_INT(epoll_wait(inner, out, 4, 0), ==, 1);
	CHECK_INT(out[0].events, ==, EPOLLIN);
	CHECK(out[0].data.u64 == 11);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(read(p[0], &c, 1), ==, 1);
	CHECK_INT(epoll_wait(outer, out, 4, 0), ==, 0);

	/* edge-triggered: one report per edge */
	ev = (struct epoll_event){ EPOLLIN | EPOLLET, { .u64 = 33 } };
	CHECK_SYS(epoll_ctl(inner, EPOLL_CTL_ADD, q[0], &ev));
	start_later(&t, &l, q[1], "e", 1);
	CHECK_INT(epoll_wait(inner, out, 4, -1), ==, 1);
	CHECK(out[0].data.u64 == 33);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(epoll_wait(inner, out, 4, 0), ==, 0);	/* no new edge */
	CHECK_INT(write(q[1], "f", 1), ==, 1);
	CHECK_INT(epoll_wait(inner, out, 4, 0), ==, 1);
	CHECK(out[0].data.u64 == 33);
	CHECK_INT(epoll_wait(inner, out, 4, 0), ==, 0);
	CHECK_INT(read(q[0], out, 2), ==, 2);

	/* one-shot: once, until re-armed */
	ev = (struct epoll_event){ EPOLLIN | EPOLLONESHOT, { .u64 = 44 } };
	CHECK_SYS(epoll_ctl(inner, EPOLL_CTL_MOD, q[0], &ev));
	start_later(&t, &l, q[1], "o", 1);
	CHECK_INT(epoll_wait(inner, out, 4, -1), ==, 1);
	CHECK(out[0].data.u64 == 44);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(write(q[1], "p", 1), ==, 1);
	CHECK_INT(epoll_wait(inner, out, 4, 0), ==, 0);
	CHECK_SYS(epoll_ctl(inner, EPOLL_CTL_MOD, q[0], &ev));
	CHECK_INT(epoll_wait(inner, out, 4, 0), ==, 1);
	CHECK(out[0].data.u64 == 44);
	CHECK_INT(epoll_wait(inner, out, 4, 0), ==, 0);

	CHECK_SYS(close(outer));
	CHECK_SYS(close(inner));
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
	CHECK_SYS(close(q[0]));
	CHECK_SYS(close(q[1]));
}

/* --- signals --- */

static atomic_int nusr1, nusr2;
static pthread_t usr2_thread;

static void on_usr1(int sig)
{
	(void)sig;
	nusr1++;
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2_thread = pthread_self();
	nusr2++;
}

enum scase { S_POLL, S_SELECT, S_EPOLL, NS };

struct sigwaiter {
	enum scase sc;
	int fd;
	atomic_int entered;
	int ret, err;
};

static void *blocked_forever(void *arg)
{
	struct sigwaiter *w = arg;
	struct pollfd pfd = { w->fd, POLLIN, 0 };
	struct epoll_event ev = { EPOLLIN, { 0 } }, out;
	fd_set r;
	int ep = -1;

	FD_ZERO(&r);
	FD_SET(w->fd, &r);
	if (w->sc == S_EPOLL) {
		ep = epoll_create1(0);
		CHECK_SYS(ep);
		CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev));
	}
	w->entered = 1;
	switch (w->sc) {
	case S_POLL:
		w->ret = poll(&pfd, 1, -1);
		break;
	case S_SELECT:
		w->ret = select(w->fd + 1, &r, NULL, NULL, NULL);
		break;
	default:
		w->ret = epoll_wait(ep, &out, 1, -1);
		break;
	}
	w->err = errno;
	if (ep >= 0)
		CHECK_SYS(close(ep));
	return NULL;
}

/* SA_RESTART does not restart poll, select or epoll_wait. */
static void eintr_despite_sa_restart(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct sigwaiter w;
	pthread_t t;
	int p[2];

	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	CHECK_SYS(pipe(p));
	for (int sc = 0; sc < NS; sc++) {
		int before = nusr1;

		memset(&w, 0, sizeof(w));
		w.sc = (enum scase)sc;
		w.fd = p[0];
		CHECK_OK(pthread_create(&t, NULL, blocked_forever, &w));
		while (!w.entered)
			usleep(1000);
		usleep(50000);
		CHECK_OK(pthread_kill(t, SIGUSR1));
		CHECK_OK(pthread_join(t, NULL));
		if (w.ret != -1 || w.err != EINTR)
			FAIL("case %d returned %d errno %d, expected EINTR", sc,
			     w.ret, w.err);
		CHECK_INT(nusr1, ==, before + 1);
	}
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
}

enum mcase { M_PPOLL, M_PSELECT, M_EPOLL_PWAIT, NM };

/* A pending, blocked SIGUSR2 is delivered by the call's own mask. */
static void *mask_swapper(void *arg)
{
	int fd = (int)(intptr_t)arg;
	sigset_t block, open_mask, now;
	struct epoll_event ev = { EPOLLIN, { 0 } }, out;
	int ep = epoll_create1(0);

	CHECK_SYS(ep);
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &block, NULL));
	CHECK_OK(pthread_sigmask(SIG_BLOCK, NULL, &open_mask));
	sigdelset(&open_mask, SIGUSR2);
	for (int mc = 0; mc < NM; mc++) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		struct timespec ts = { 60, 0 };
		fd_set r;
		int ret, before = nusr2;

		CHECK_OK(pthread_kill(pthread_self(), SIGUSR2));
		CHECK_INT(nusr2, ==, before);	/* pending, not handled */
		FD_ZERO(&r);
		FD_SET(fd, &r);
		switch (mc) {
		case M_PPOLL:
			ret = ppoll(&pfd, 1, &ts, &open_mask);
			break;
		case M_PSELECT:
			ret = pselect(fd + 1, &r, NULL, NULL, &ts, &open_mask);
			break;
		default:
			ret = epoll_pwait(ep, &out, 1, 60000, &open_mask);
			break;
		}
		if (ret != -1 || errno != EINTR)
			FAIL("case %d returned %d (%s), expected EINTR", mc,
			     ret, strerror(errno));
		CHECK_INT(nusr2, ==, before + 1);
		CHECK(pthread_equal(usr2_thread, pthread_self()));
		CHECK_OK(pthread_sigmask(SIG_BLOCK, NULL, &now));
		CHECK(sigismember(&now, SIGUSR2));	/* mask restored */
	}
	CHECK_SYS(close(ep));
	return NULL;
}

static void atomic_masks(void)
{
	struct sigaction sa = { .sa_handler = on_usr2 };
	pthread_t t;
	int p[2];

	CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
	CHECK_SYS(pipe(p));
	CHECK_OK(pthread_create(&t, NULL, mask_swapper,
				(void *)(intptr_t)p[0]));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
}

int main(void)
{
	timeouts();
	wakeups();
	epolls();
	eintr_despite_sa_restart();
	atomic_masks();
	return T_PASS;
}
