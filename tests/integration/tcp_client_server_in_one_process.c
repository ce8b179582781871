/*
 * A TCP server and its clients in one process, over 127.0.0.1 on an
 * ephemeral port. A listener thread blocks in accept() before any client
 * exists; NCLIENTS client threads connect and each sends messages of 1 byte
 * to 4 MiB (more than the socket buffers hold, so the sender blocks partway
 * until the server reads) with one call family per side (send/recv,
 * write/read, writev/readv, sendmsg/recvmsg); a server thread per
 * connection checks every byte and answers with the bytes transformed.
 *
 * As natively: one blocking send-family call of 4 MiB on a TCP socket
 * returns 4 MiB; recv(MSG_WAITALL) returns the full count; the address
 * accept() reports is the client's getsockname(); accept4(SOCK_CLOEXEC |
 * SOCK_NONBLOCK) gives an fd whose F_GETFL is exactly O_RDWR|O_NONBLOCK
 * and F_GETFD FD_CLOEXEC, a plain accept() one with O_RDWR and no
 * FD_CLOEXEC, and the listener itself reads back as O_RDWR.
 */
#include "check.h"
#include "sock_helpers.h"

#include <stdatomic.h>

#define NCLIENTS	8
#define MAXMSG		(4 * 1024 * 1024)

enum style { S_SENDRECV, S_READWRITE, S_VEC, S_MSG, NSTYLES };

static const size_t sizes[] = {
	1, 100, 4096, 65536 + 7, 1024 * 1024 + 3, MAXMSG, 17,
};
#define NSIZES	(sizeof(sizes) / sizeof(sizes[0]))

struct hdr {
	uint32_t size, seq, port, style;
};

static struct sockaddr_storage laddr;
static socklen_t laddr_len;
static int lfd;
static atomic_int accept4_done, nplain;

/* Splits [buf, buf+n) into three unequal iovecs. */
static int split(struct iovec iov[3], void *buf, size_t n)
{
	char *p = buf;
	size_t a = n / 3, b = n / 5;

	iov[0] = (struct iovec){ p, a };
	iov[1] = (struct iovec){ p + a, b };
	iov[2] = (struct iovec){ p + a + b, n - a - b };
	return 3;
}

/* One call of the style's send family; never 0 for n > 0. */
static ssize_t send_once(int fd, enum style st, const void *buf, size_t n)
{
	struct iovec iov[3];
	struct msghdr mh = { 0 };

	switch (st) {
	case S_SENDRECV:
		return send(fd, buf, n, 0);
	case S_READWRITE:
		return write(fd, buf, n);
	case S_VEC:
		return writev(fd, iov, split(iov, (void *)buf, n));
	default:
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)split(iov, (void *)buf, n);
		return sendmsg(fd, &mh, 0);
	}
}

static ssize_t recv_once(int fd, enum style st, void *buf, size_t n)
{
	struct iovec iov[3];
	struct msghdr mh = { 0 };
	ssize_t r;

	switch (st) {
	case S_SENDRECV:
		return recv(fd, buf, n, 0);
	case S_READWRITE:
		return read(fd, buf, n);
	case S_VEC:
		return readv(fd, iov, split(iov, buf, n));
	default:
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)split(iov, buf, n);
		r = recvmsg(fd, &mh, 0);
		if (r >= 0)
			CHECK_INT(mh.msg_flags, ==, 0);
		return r;
	}
}

/* A blocking send of any size completes in one call, as on Linux. */
static void send_msg(int fd, enum style st, const void *buf, size_t n)
{
	ssize_t w = send_once(fd, st, buf, n);

	if (w != (ssize_t)n)
		FAIL("send style %d of %zu bytes returned %zd (%s)", st, n, w,
		     w < 0 ? strerror(errno) : "short");
}

/* Receives exactly n bytes; returns 0 on EOF at a message boundary. */
static int recv_msg(int fd, enum style st, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv_once(fd, st, (char *)buf + got, n - got);

		if (r < 0)
			FAIL("recv style %d: %s", st, strerror(errno));
		if (r == 0) {
			if (got == 0)
				return 0;
			FAIL("EOF after %zu of %zu bytes", got, n);
		}
		got += (size_t)r;
	}
	return 1;
}

struct conn {
	int fd;
	struct sockaddr_storage peer;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct conn *c = arg;
	unsigned char *buf = malloc(MAXMSG);
	struct hdr h;
	int nmsg = 0;

	CHECK(buf != NULL);
	while (recv_msg(c->fd, S_SENDRECV, &h, sizeof(h))) {
		/* answer with the style after the client's */
		enum style st = (enum style)((h.style + 1) % NSTYLES);

		CHECK_INT(h.port, ==, t_port_of(&c->peer));
		CHECK_INT(h.size, <=, MAXMSG);
		if (h.size > 1024 * 1024)
			usleep(20000);	/* the client is blocked in send */
		if (st == S_SENDRECV) {
			/* MSG_WAITALL: all of it in one call */
			ssize_t r = recv(c->fd, buf, h.size, MSG_WAITALL);

			CHECK_INT(r, ==, h.size);
		} else {
			CHECK(recv_msg(c->fd, st, buf, h.size));
		}
		t_verify(h.seq, buf, h.size);
		for (size_t i = 0; i < h.size; i++)
			buf[i] ^= 0xa5;
		send_msg(c->fd, st, buf, h.size);
		nmsg++;
	}
	CHECK_INT(nmsg, ==, NSIZES);
	CHECK_SYS(close(c->fd));
	free(buf);
	return NULL;
}

static void *listener(void *arg)
{
	struct conn *conns = arg;

	for (int i = 0; i < NCLIENTS; i++) {
		struct conn *c = &conns[i];
		socklen_t len = sizeof(c->peer);
		int fd;

		if (i == 0) {
			fd = accept4(lfd, (struct sockaddr *)&c->peer, &len,
				     SOCK_CLOEXEC | SOCK_NONBLOCK);
			CHECK_SYS(fd);
			CHECK_INT(t_getfl(fd), ==, O_RDWR | O_NONBLOCK);
			CHECK_INT(t_getfd(fd), ==, FD_CLOEXEC);
			/* serve it blocking, as the program now asks */
			t_set_nonblock(fd, 0);
			CHECK_INT(t_getfl(fd), ==, O_RDWR);
			CHECK_INT(t_getfd(fd), ==, FD_CLOEXEC);
			accept4_done = 1;
		} else {
			fd = accept(lfd, (struct sockaddr *)&c->peer, &len);
			CHECK_SYS(fd);
			CHECK_INT(t_getfl(fd), ==, O_RDWR);
			CHECK_INT(t_getfd(fd), ==, 0);
			nplain++;
		}
		CHECK_INT(len, ==, laddr_len);
		CHECK_INT(c->peer.ss_family, ==, AF_INET);
		c->fd = fd;
		CHECK_OK(pthread_create(&c->thread, NULL, serve, c));
	}
	return NULL;
}

static void *client(void *arg)
{
	int id = (int)(intptr_t)arg;
	enum style st = (enum style)(id % NSTYLES);
	unsigned char *buf = malloc(MAXMSG), *back = malloc(MAXMSG);
	struct sockaddr_storage me, peer;
	socklen_t len = sizeof(me);
	int fd = t_tcp_connect(&laddr, laddr_len);

	CHECK(buf != NULL && back != NULL);
	CHECK_INT(t_getfl(fd), ==, O_RDWR);
	CHECK_SYS(getsockname(fd, (struct sockaddr *)&me, &len));
	len = sizeof(peer);
	CHECK_SYS(getpeername(fd, (struct sockaddr *)&peer, &len));
	CHECK_INT(t_port_of(&peer), ==, t_port_of(&laddr));
	for (unsigned k = 0; k < NSIZES; k++) {
		unsigned seq = (unsigned)id * 100 + k;
		struct hdr h = { (uint32_t)sizes[k], seq,
				 (uint32_t)t_port_of(&me), st };

		t_fill(seq, buf, sizes[k]);
		send_msg(fd, S_SENDRECV, &h, sizeof(h));
		send_msg(fd, st, buf, sizes[k]);
		CHECK(recv_msg(fd, st, back, sizes[k]));
		for (size_t i = 0; i < sizes[k]; i++)
			back[i] ^= 0xa5;
		t_verify(seq, back, sizes[k]);
	}
	/* end of requests: the server sees EOF, closes, we see EOF */
	CHECK_SYS(shutdown(fd, SHUT_WR));
	CHECK_INT(recv(fd, buf, 1, 0), ==, 0);
	CHECK_SYS(close(fd));
	free(buf);
	free(back);
	return NULL;
}

int main(void)
{
	static struct conn conns[NCLIENTS];
	pthread_t lt, ct[NCLIENTS];

	lfd = t_tcp_listener(AF_INET, NCLIENTS, &laddr, &laddr_len);
	CHECK(lfd >= 0);
	CHECK_INT(t_getfl(lfd), ==, O_RDWR);
	CHECK_OK(pthread_create(&lt, NULL, listener, conns));
	usleep(20000);	/* the listener is blocked in accept() */
	for (int i = 0; i < NCLIENTS; i++)
		CHECK_OK(pthread_create(&ct[i], NULL, client,
					(void *)(intptr_t)i));
	for (int i = 0; i < NCLIENTS; i++)
		CHECK_OK(pthread_join(ct[i], NULL));
	CHECK_OK(pthread_join(lt, NULL));
	for (int i = 0; i < NCLIENTS; i++)
		CHECK_OK(pthread_join(conns[i].thread, NULL));
	CHECK_INT(accept4_done, ==, 1);
	CHECK_INT(nplain, ==, NCLIENTS - 1);
	CHECK_SYS(close(lfd));
	return T_PASS;
}
