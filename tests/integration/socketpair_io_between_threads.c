/*
 * Blocking sockets between threads behave as natively: request/response
 * over a socketpair for many rounds (the server thread blocks in recv),
 * poll() waits for readability with and without a timeout, a socket the
 * program made non-blocking returns EAGAIN, a blocking socket's flags
 * read back without O_NONBLOCK, SO_RCVTIMEO makes recv fail with EAGAIN
 * after at least the timeout, and shutdown gives the peer EOF.
 */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

#define ROUNDS		2000

static int sv[2];

static void *server(void *arg)
{
	char buf[64];

	(void)arg;
	for (;;) {
		ssize_t n = recv(sv[1], buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		CHECK_INT(n, >=, 0);
		if (n == 0)
			break;	/* client shut down */
		for (ssize_t i = 0; i < n; i++)
			buf[i] = (char)(buf[i] + 1);
		CHECK_INT(send(sv[1], buf, (size_t)n, 0), ==, n);
	}
	CHECK_SYS(close(sv[1]));
	return NULL;
}

static void round_trip(int i)
{
	char msg[32], want[32], got[32];
	int len = snprintf(msg, sizeof(msg), "req %d", i);
	ssize_t n;

	for (int k = 0; k < len; k++)
		want[k] = (char)(msg[k] + 1);
	CHECK_INT(send(sv[0], msg, (size_t)len, 0), ==, len);
	do
		n = recv(sv[0], got, sizeof(got), 0);
	while (n < 0 && errno == EINTR);
	CHECK_INT(n, ==, len);
	CHECK(memcmp(got, want, (size_t)len) == 0);
}

static void *late_writer(void *arg)
{
	int fd = (int)(intptr_t)arg;

	usleep(20000);
	CHECK_INT(write(fd, "p", 1), ==, 1);
	return NULL;
}

static void polling(void)
{
	int p[2];
	struct pollfd pfd;
	pthread_t t;
	char c;
	int64_t start;

	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, p));
	pfd.fd = p[0];
	pfd.events = POLLIN;
	start = t_now_ns(CLOCK_MONOTONIC);
	CHECK_INT(poll(&pfd, 1, 30), ==, 0);
	CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - start, >=, 30 * 1000000LL);

	CHECK_OK(pthread_create(&t, NULL, late_writer, (void *)(intptr_t)p[1]));
	pfd.revents = 0;
	CHECK_INT(poll(&pfd, 1, -1), ==, 1);
	CHECK(pfd.revents & POLLIN);
	CHECK_INT(read(p[0], &c, 1), ==, 1);
	CHECK_INT(c, ==, 'p');
	CHECK_OK(pthread_join(t, NULL));

	/* The program's own non-blocking mode is honoured. */
	CHECK_INT(fcntl(p[0], F_GETFL) & O_NONBLOCK, ==, 0);
	CHECK_SYS(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK));
	CHECK_INT(fcntl(p[0], F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
	CHECK_ERRNO(recv(p[0], &c, 1, 0), EAGAIN);
	CHECK_ERRNO(read(p[0], &c, 1), EAGAIN);
	CHECK_SYS(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) & ~O_NONBLOCK));
	CHECK_INT(fcntl(p[0], F_GETFL) & O_NONBLOCK, ==, 0);
	CHECK_ERRNO(recv(p[0], &c, 1, MSG_DONTWAIT), EAGAIN);

	/* A receive timeout fails with EAGAIN after at least the timeout. */
	{
		struct timeval tv = { 0, 30000 };

		CHECK_SYS(setsockopt(p[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
				     sizeof(tv)));
		start = t_now_ns(CLOCK_MONOTONIC);
		CHECK_ERRNO(recv(p[0], &c, 1, 0), EAGAIN);
		CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - start, >=,
			  30 * 1000000LL);
	}
	CHECK_SYS(close(p[0]));
	CHECK_SYS(close(p[1]));
}

int main(void)
{
	pthread_t t;
	char c;

	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK_INT(fcntl(sv[0], F_GETFL) & O_NONBLOCK, ==, 0);
	CHECK_OK(pthread_create(&t, NULL, server, NULL));
	for (int i = 0; i < ROUNDS; i++)
		round_trip(i);
	CHECK_SYS(shutdown(sv[0], SHUT_WR));
	CHECK_INT(recv(sv[0], &c, 1, 0), ==, 0);	/* server closed */
	CHECK_OK(pthread_join(t, NULL));
	CHECK_SYS(close(sv[0]));
	polling();
	return T_PASS;
}
