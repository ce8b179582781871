/*
 * SO_RCVTIMEO and SO_SNDTIMEO on blocking sockets, each case in its own
 * thread and all at once, as natively on Linux:
 *
 *  - recv/read on TCP, recv on AF_UNIX, recvfrom on UDP and accept fail
 *    with EAGAIN (== EWOULDBLOCK) after at least the timeout;
 *  - recv(MSG_WAITALL) with part of the data there returns that part when
 *    the timeout expires;
 *  - data arriving before the timeout is returned; a timeout of {0, 0}
 *    means no timeout;
 *  - a send of 4 MiB into a full connection (small buffers, nobody
 *    reading) returns a partial count after the timeout, and a later send
 *    fails with EAGAIN after at least the timeout;
 *  - connect to a listener whose accept queue is full fails with
 *    EINPROGRESS once SO_SNDTIMEO expires;
 *  - a signal whose handler has SA_RESTART interrupts a recv that has a
 *    timeout (EINTR) but restarts one that has none (see signal(7));
 *  - getsockopt returns the timeval that was set (values the kernel's tick
 *    represents exactly), and {0, 0} by default.
 */
#include "check.h"
#include "sock_helpers.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>

/* 100 ms: a whole number of ticks at HZ 100, 250 and 1000 */
#define TMO_MS		100
#define TMO_NS		(TMO_MS * 1000000LL)

static const struct timeval tmo = { 0, TMO_MS * 1000 };
static atomic_int nsig;

static void set_tmo(int fd, int opt, struct timeval tv)
{
	CHECK_SYS(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)));
}

static void check_tmo(int fd, int opt, long sec, long usec)
{
	struct timeval tv = { 99, 99 };
	socklen_t len = sizeof(tv);

	CHECK_SYS(getsockopt(fd, SOL_SOCKET, opt, &tv, &len));
	CHECK_INT(len, ==, sizeof(tv));
	CHECK_INT(tv.tv_sec, ==, sec);
	CHECK_INT(tv.tv_usec, ==, usec);
}

/* Runs call, which must fail with EAGAIN after at least the timeout. */
#define CHECK_TIMES_OUT(call)						\
	do {								\
		int64_t _t0 = t_now_ns(CLOCK_MONOTONIC);		\
		CHECK_ERRNO(call, EAGAIN);				\
		CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - _t0, >=, TMO_NS);	\
	} while (0)

static void *tcp_recv_times_out(void *arg)
{
	int s[2];
	char buf[16];

	(void)arg;
	t_tcp_pair(s);
	check_tmo(s[1], SO_RCVTIMEO, 0, 0);
	check_tmo(s[1], SO_SNDTIMEO, 0, 0);
	set_tmo(s[1], SO_RCVTIMEO, tmo);
	check_tmo(s[1], SO_RCVTIMEO, 0, TMO_MS * 1000);
	check_tmo(s[1], SO_SNDTIMEO, 0, 0);
	CHECK_TIMES_OUT(recv(s[1], buf, sizeof(buf), 0));
	CHECK(EAGAIN == EWOULDBLOCK);
	CHECK_TIMES_OUT(read(s[1], buf, sizeof(buf)));

	/* MSG_WAITALL returns what came when the time is up */
	CHECK_INT(send(s[0], "abc", 3, 0), ==, 3);
	{
		int64_t t0 = t_now_ns(CLOCK_MONOTONIC);

		CHECK_INT(recv(s[1], buf, 10, MSG_WAITALL), ==, 3);
		CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - t0, >=, TMO_NS);
		CHECK(memcmp(buf, "abc", 3) == 0);
	}
	/* still a blocking socket */
	CHECK_INT(t_getfl(s[1]), ==, O_RDWR);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
	return NULL;
}

static void *unix_and_udp_time_out(void *arg)
{
	struct sockaddr_storage addr, from;
	socklen_t len, flen = sizeof(from);
	char buf[16];
	int s[2], u;

	(void)arg;
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	set_tmo(s[0], SO_RCVTIMEO, tmo);
	CHECK_TIMES_OUT(recv(s[0], buf, sizeof(buf), 0));
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));

	u = t_bound_socket(AF_INET, SOCK_DGRAM, &addr, &len);
	CHECK(u >= 0);
	set_tmo(u, SO_RCVTIMEO, tmo);
	CHECK_TIMES_OUT(recvfrom(u, buf, sizeof(buf), 0,
				 (struct sockaddr *)&from, &flen));
	CHECK_SYS(close(u));
	return NULL;
}

static void *accept_times_out(void *arg)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int lfd = t_tcp_listener(AF_INET, 4, &addr, &len);

	(void)arg;
	CHECK(lfd >= 0);
	set_tmo(lfd, SO_RCVTIMEO, tmo);
	CHECK_TIMES_OUT(accept(lfd, NULL, NULL));
	CHECK_TIMES_OUT(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
	CHECK_SYS(close(lfd));
	return NULL;
}

static void *delayed_send(void *arg)
{
	int fd = (int)(intptr_t)arg;

	usleep(150000);
	CHECK_INT(send(fd, "late", 4, 0), ==, 4);
	return NULL;
}

static void *data_before_timeout(void *arg)
{
	struct timeval five = { 5, 0 }, zero = { 0, 0 };
	pthread_t t;
	char buf[16];
	int s[2];

	(void)arg;
	t_tcp_pair(s);
	set_tmo(s[1], SO_RCVTIMEO, five);
	check_tmo(s[1], SO_RCVTIMEO, 5, 0);
	CHECK_OK(pthread_create(&t, NULL, delayed_send,
				(void *)(intptr_t)s[0]));
	CHECK_INT(recv(s[1], buf, sizeof(buf), 0), ==, 4);
	CHECK(memcmp(buf, "late", 4) == 0);
	CHECK_OK(pthread_join(t, NULL));

	/* {0, 0} switches the timeout off: 150 ms later the data comes */
	set_tmo(s[1], SO_RCVTIMEO, tmo);
	set_tmo(s[1], SO_RCVTIMEO, zero);
	check_tmo(s[1], SO_RCVTIMEO, 0, 0);
	CHECK_OK(pthread_create(&t, NULL, delayed_send,
				(void *)(intptr_t)s[0]));
	CHECK_INT(recv(s[1], buf, sizeof(buf), 0), ==, 4);
	CHECK(memcmp(buf, "late", 4) == 0);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
	return NULL;
}

static void *send_times_out(void *arg)
{
	const size_t big = 4 * 1024 * 1024;
	struct sockaddr_storage addr;
	socklen_t len;
	int bufsz = 32 * 1024, lfd, c, a, n;
	char *buf = calloc(1, big);
	int64_t t0;
	ssize_t w;

	(void)arg;
	CHECK(buf != NULL);
	lfd = t_tcp_listener(AF_INET, 1, &addr, &len);
	CHECK(lfd >= 0);
	/* small buffers: the accepted socket inherits the listener's */
	CHECK_SYS(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &bufsz,
			     sizeof(bufsz)));
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_SYS(c);
	CHECK_SYS(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz)));
	CHECK_SYS(connect(c, (struct sockaddr *)&addr, len));
	a = t_accept(lfd);
	set_tmo(c, SO_SNDTIMEO, tmo);
	check_tmo(c, SO_SNDTIMEO, 0, TMO_MS * 1000);

	t0 = t_now_ns(CLOCK_MONOTONIC);
	w = send(c, buf, big, 0);
	CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - t0, >=, TMO_NS);
	CHECK_INT(w, >, 0);
	CHECK_INT(w, <, (ssize_t)big);
	/* the connection is full: soon a send moves nothing */
	for (n = 0;; n++) {
		CHECK_INT(n, <, 50);
		t0 = t_now_ns(CLOCK_MONOTONIC);
		w = write(c, buf, big);
		CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - t0, >=, TMO_NS);
		if (w < 0)
			break;
		CHECK_INT(w, >, 0);
		CHECK_INT(w, <, (ssize_t)big);
	}
	CHECK_INT(errno, ==, EAGAIN);
	CHECK_INT(t_getfl(c), ==, O_RDWR);
	CHECK_SYS(close(c));
	CHECK_SYS(close(a));
	CHECK_SYS(close(lfd));
	free(buf);
	return NULL;
}

static void *connect_times_out(void *arg)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int lfd, first, c;
	int64_t t0;

	(void)arg;
	/* backlog 0: one connection fills the accept queue */
	lfd = t_tcp_listener(AF_INET, 0, &addr, &len);
	CHECK(lfd >= 0);
	first = t_tcp_connect(&addr, len);
	{
		/* it is in the accept queue: the queue is full */
		struct pollfd pfd = { lfd, POLLIN, 0 };

		CHECK_INT(poll(&pfd, 1, -1), ==, 1);
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_SYS(c);
	set_tmo(c, SO_SNDTIMEO, tmo);
	t0 = t_now_ns(CLOCK_MONOTONIC);
	CHECK_ERRNO(connect(c, (struct sockaddr *)&addr, len), EINPROGRESS);
	CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - t0, >=, TMO_NS);
	CHECK_INT(t_getfl(c), ==, O_RDWR);
	CHECK_SYS(close(c));
	CHECK_SYS(close(first));
	CHECK_SYS(close(lfd));
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	nsig++;
}

struct sigcase {
	int fd;
	atomic_int entered, done;
	ssize_t ret;
	int err;
};

static void *sig_reader(void *arg)
{
	struct sigcase *sc = arg;
	char buf[8];

	sc->entered = 1;
	sc->ret = recv(sc->fd, buf, sizeof(buf), 0);
	sc->err = sc->ret < 0 ? errno : 0;
	sc->done = 1;
	return NULL;
}

static void *signal_vs_timeout(void *arg)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct timeval five = { 5, 0 };
	struct sigcase sc = { 0 };
	pthread_t t;
	int s[2];

	(void)arg;
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	t_tcp_pair(s);

	/* with a timeout: EINTR despite SA_RESTART */
	set_tmo(s[1], SO_RCVTIMEO, five);
	sc.fd = s[1];
	CHECK_OK(pthread_create(&t, NULL, sig_reader, &sc));
	while (!sc.entered)
		usleep(1000);
	usleep(50000);
	CHECK_OK(pthread_kill(t, SIGUSR1));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(nsig, ==, 1);
	CHECK_INT(sc.ret, ==, -1);
	CHECK_INT(sc.err, ==, EINTR);

	/* without: restarted, and still waiting for the data */
	set_tmo(s[1], SO_RCVTIMEO, (struct timeval){ 0, 0 });
	memset(&sc, 0, sizeof(sc));
	sc.fd = s[1];
	CHECK_OK(pthread_create(&t, NULL, sig_reader, &sc));
	while (!sc.entered)
		usleep(1000);
	usleep(50000);
	CHECK_OK(pthread_kill(t, SIGUSR1));
	while (nsig < 2)
		usleep(1000);
	usleep(50000);
	CHECK_INT(sc.done, ==, 0);
	CHECK_INT(send(s[0], "ok", 2, 0), ==, 2);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(sc.ret, ==, 2);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
	return NULL;
}

int main(void)
{
	static void *(*const cases[])(void *) = {
		tcp_recv_times_out, unix_and_udp_time_out, accept_times_out,
		data_before_timeout, send_times_out, connect_times_out,
		signal_vs_timeout,
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct timeval two = { 2, 0 };
	pthread_t t[N];
	int fd;

	/* getsockopt gives back what was set */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_SYS(fd);
	set_tmo(fd, SO_SNDTIMEO, two);
	set_tmo(fd, SO_RCVTIMEO, tmo);
	check_tmo(fd, SO_SNDTIMEO, 2, 0);
	check_tmo(fd, SO_RCVTIMEO, 0, TMO_MS * 1000);
	CHECK_SYS(close(fd));

	for (int i = 0; i < N; i++)
		CHECK_OK(pthread_create(&t[i], NULL, cases[i], NULL));
	for (int i = 0; i < N; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	return T_PASS;
}
