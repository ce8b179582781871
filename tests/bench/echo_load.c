/*
 * echo_load: the load generator of echo_server, not a benchmark by itself
 * (run.sh has no case for it). echo_server starts it without LD_PRELOAD, so
 * it always runs natively: one thread, one epoll instance, non-blocking
 * sockets.
 *
 *	echo_load PORT C WARMUP_MS MEASURE_MS
 *
 * Opens C connections to 127.0.0.1:PORT, at most MAX_PENDING of them not
 * yet proven (connecting, or first round trip not back yet) at a time, so
 * that the server's accept queue never overflows and no SYN waits for a
 * retransmission; a refused or failed connect is retried after 10 ms. Each
 * connection does one round trip (send MSG bytes, wait for the same MSG
 * bytes back) and then waits until all C have done theirs. Then every
 * connection does round trips back to back, one outstanding each, for
 * WARMUP_MS and then MEASURE_MS; round trips completed in the measured
 * window are counted per connection. Every echo is checked byte for byte.
 *
 * Prints one line on stdout for echo_server to parse:
 *	LOAD conns=<C> total=<n> min=<n> max=<n> starved=<n> ns=<window>
 *	     setup_ms=<v>
 * and exits 0, or 1 (with a message on stderr) if a connection could not
 * be made within SETUP_S seconds, an echo was wrong, a connection broke, or
 * some connection completed no round trip in the window (starved).
 * Exit 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench.h"

#define MSG		64
#define MAX_PENDING	256
#define SETUP_S		12
#define RETRY_NS	10000000ull

enum { IDLE, CONNECTING, FIRST, READY, RUN };

struct conn {
	int fd;
	int state;
	unsigned sent, got;	/* bytes of the current request / echo */
	uint64_t seq;
	uint64_t retry_at;	/* IDLE: when to (re)connect */
	long count;		/* round trips done in the window */
	unsigned char rbuf[MSG];
};

static struct conn *conns;
static long nconns;
static int ep;
static struct sockaddr_in addr;
static long broken, wrong, retries;
static long *retry_q, retry_head, retry_len;	/* FIFO of IDLE conns */

static void fill(unsigned char *buf, long idx, uint64_t seq)
{
	for (int j = 0; j < MSG / 8; j++) {
		uint64_t v = (uint64_t)idx * 0x9e3779b97f4a7c15ull + seq * 31 +
			     j;

		memcpy(buf + 8 * j, &v, 8);
	}
}

static void watch(struct conn *c, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(ep, op, c->fd, &ev) != 0)
		bench_check(errno, "epoll_ctl");
}

/* Drop a connection that is still being set up and retry it later. */
static void requeue(struct conn *c, uint64_t now)
{
	close(c->fd);
	c->fd = -1;
	c->state = IDLE;
	c->retry_at = now + RETRY_NS;
	retries++;
	retry_q[(retry_head + retry_len++) % nconns] = c - conns;
}

static void start_connect(struct conn *c, uint64_t now)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0), one = 1;

	if (fd < 0) {
		fprintf(stderr, "echo_load: socket: %s (connection %ld)\n",
			strerror(errno), (long)(c - conns));
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->sent = c->got = 0;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 ||
	    errno == EINPROGRESS) {
		c->state = CONNECTING;
		watch(c, EPOLL_CTL_ADD, EPOLLOUT);
		return;
	}
	if (errno == EAGAIN || errno == ECONNREFUSED || errno == EADDRNOTAVAIL
	    || errno == ETIMEDOUT || errno == ECONNRESET || errno == EINTR) {
		requeue(c, now);
		return;
	}
	fprintf(stderr, "echo_load: connect: %s\n", strerror(errno));
	exit(1);
}

/* Send (the rest of) the current request; 0 when all of it is out. */
static int send_req(struct conn *c)
{
	unsigned char msg[MSG];

	fill(msg, c - conns, c->seq);
	while (c->sent < MSG) {
		ssize_t n = send(c->fd, msg + c->sent, MSG - c->sent,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			return -1;
		}
		c->sent += n;
	}
	return 0;
}

/* Start a round trip: send, and watch for the echo (or for room). */
static int begin_rt(struct conn *c)
{
	int r;

	c->sent = c->got = 0;
	r = send_req(c);
	if (r < 0)
		return -1;
	watch(c, EPOLL_CTL_MOD, r ? EPOLLOUT : EPOLLIN);
	return 0;
}

/* Read what there is of the echo: 1 when it is complete and right, 0 when
 * more is to come, -1 on a broken connection, -2 on a wrong echo. */
static int recv_echo(struct conn *c)
{
	unsigned char want[MSG];

	while (c->got < MSG) {
		ssize_t n = recv(c->fd, c->rbuf + c->got, MSG - c->got, 0);

		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->got += n;
	}
	fill(want, c - conns, c->seq);
	if (memcmp(want, c->rbuf, MSG) != 0)
		return -2;
	c->seq++;
	return 1;
}

static void read_port_range(long need)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	long lo, hi;

	if (!f)
		return;
	if (fscanf(f, "%ld %ld", &lo, &hi) == 2 && hi - lo + 1 < need)
		fprintf(stderr, "echo_load: warning: only %ld local ports "
			"(net.ipv4.ip_local_port_range) for %ld connections\n",
			hi - lo + 1, need);
	fclose(f);
}

int main(int argc, char **argv)
{
	long port, warmup_ms, measure_ms, ready = 0, pending = 0, next = 0;
	struct epoll_event evs[1024];
	static char wdmsg[128];

	if (argc != 5 || !bench_parse_count(argv[1], &port) ||
	    !bench_parse_count(argv[2], &nconns) ||
	    !bench_parse_count(argv[3], &warmup_ms) ||
	    !bench_parse_count(argv[4], &measure_ms) || port > 65535)
		bench_usage(argv[0], "PORT C WARMUP_MS MEASURE_MS");
	long wd = SETUP_S + 5 + (warmup_ms + measure_ms) / 1000;

	snprintf(wdmsg, sizeof(wdmsg), "echo_load: watchdog: not done "
		 "after %ld s\n", wd);
	bench_watchdog(wd, wdmsg);
	if (bench_raise_nofile(nconns + 64) < nconns + 16) {
		fprintf(stderr, "echo_load: RLIMIT_NOFILE too low for %ld "
			"connections\n", nconns);
		return 1;
	}
	read_port_range(nconns);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	conns = calloc(nconns, sizeof(*conns));
	retry_q = calloc(nconns, sizeof(*retry_q));
	if (!conns || !retry_q)
		bench_check(ENOMEM, "calloc");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		bench_check(errno, "epoll_create1");

	/* Setup: connect everything, one proven round trip each. */
	uint64_t t0 = bench_now_ns(), now = t0;

	for (long i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].state = IDLE;
	}
	while (ready < nconns) {
		if (now - t0 > SETUP_S * 1000000000ull) {
			fprintf(stderr, "echo_load: FAIL: only %ld of %ld "
				"connections made and answered in %d s (%ld "
				"pending, %ld retries)\n", ready, nconns,
				SETUP_S, pending, retries);
			return 1;
		}
		/* Open new ones, then any due for a retry. */
		while (pending < MAX_PENDING && next < nconns) {
			start_connect(&conns[next++], now);
			pending++;
		}
		for (long k = retry_len; k > 0; k--) {
			struct conn *c = &conns[retry_q[retry_head]];

			if (c->retry_at > now)
				break;
			retry_head = (retry_head + 1) % nconns;
			retry_len--;
			start_connect(c, now);
		}
		int n = epoll_wait(ep, evs, 1024, 5);

		if (n < 0 && errno != EINTR)
			bench_check(errno, "epoll_wait");
		now = bench_now_ns();
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			int err = 0, r;
			socklen_t len = sizeof(err);

			switch (c->state) {
			case CONNECTING:
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
					   &len);
				if (err) {
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd,
						  NULL);
					requeue(c, now);
					break;
				}
				c->state = FIRST;
				if (begin_rt(c) < 0) {
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd,
						  NULL);
					requeue(c, now);
				}
				break;
			case FIRST:
				if (evs[k].events & EPOLLOUT &&
				    c->sent < MSG) {
					r = send_req(c);
					if (r == 0)
						watch(c, EPOLL_CTL_MOD,
						      EPOLLIN);
					if (r >= 0)
						break;
					r = -1;
				} else {
					r = recv_echo(c);
				}
				if (r == -2) {
					fprintf(stderr, "echo_load: FAIL: "
						"wrong echo\n");
					return 1;
				}
				if (r < 0) {
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd,
						  NULL);
					requeue(c, now);
				} else if (r == 1) {
					c->state = READY;
					watch(c, EPOLL_CTL_MOD, 0);
					pending--;
					ready++;
				}
				break;
			}
		}
	}
	uint64_t t_go = bench_now_ns();
	uint64_t t_meas = t_go + warmup_ms * 1000000ull;
	uint64_t t_end = t_meas + measure_ms * 1000000ull;

	fprintf(stderr, "echo_load: %ld connections in %.1f ms (%ld "
		"retries)\n", nconns, (t_go - t0) / 1e6, retries);

	/* Round trips, back to back, until t_end. */
	for (long i = 0; i < nconns; i++) {
		conns[i].state = RUN;
		if (begin_rt(&conns[i]) < 0) {
			broken++;
			watch(&conns[i], EPOLL_CTL_DEL, 0);
		}
	}
	now = bench_now_ns();
	while (now < t_end) {
		int tmo = (int)((t_end - now) / 1000000) + 1;
		int n = epoll_wait(ep, evs, 1024, tmo);

		if (n < 0 && errno != EINTR)
			bench_check(errno, "epoll_wait");
		now = bench_now_ns();
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			int r;

			if (c->sent < MSG) {
				r = send_req(c);
				if (r == 0)
					watch(c, EPOLL_CTL_MOD, EPOLLIN);
				if (r >= 0)
					continue;
			} else {
				r = recv_echo(c);
			}
			if (r == -2) {
				wrong++;
			} else if (r == 1) {
				if (now >= t_meas && now < t_end)
					c->count++;
				if (now >= t_end) {
					watch(c, EPOLL_CTL_MOD, 0);
					continue;
				}
				if (begin_rt(c) == 0)
					continue;
			} else if (r == 0) {
				continue;
			}
			if (r != -2)
				broken++;
			watch(c, EPOLL_CTL_DEL, 0);
		}
	}

	long total = 0, min = -1, max = 0, starved = 0;

	for (long i = 0; i < nconns; i++) {
		long v = conns[i].count;

		total += v;
		if (min < 0 || v < min)
			min = v;
		if (v > max)
			max = v;
		if (v == 0)
			starved++;
	}
	printf("LOAD conns=%ld total=%ld min=%ld max=%ld starved=%ld ns=%llu "
	       "setup_ms=%.1f\n", nconns, total, min, max, starved,
	       (unsigned long long)(t_end - t_meas), (t_go - t0) / 1e6);
	fflush(stdout);
	if (wrong || broken || starved) {
		fprintf(stderr, "echo_load: FAIL: %ld wrong echoes, %ld broken "
			"connections, %ld of %ld connections starved (no round "
			"trip in %ld ms)\n", wrong, broken, starved, nconns,
			measure_ms);
		return 1;
	}
	return 0;
}
