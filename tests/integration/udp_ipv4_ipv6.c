/*
 * UDP over 127.0.0.1 and ::1 with threads blocked in the receive calls,
 * as natively (the IPv6 half is skipped, not the test, if ::1 is
 * unavailable):
 *
 *  - a thread blocked in recvfrom gets each datagram whole, sizes 0 to
 *    60000 bytes, boundaries kept, with the sender's address;
 *  - recv with a short buffer returns the buffer's worth and drops the
 *    rest; with MSG_TRUNC it returns the datagram's real length; recvmsg
 *    sets MSG_TRUNC in msg_flags; MSG_PEEK leaves the datagram queued;
 *  - sendmmsg sends a batch (returns the count); a thread blocked in
 *    recvmmsg without flags waits for all vlen datagrams (sent in two
 *    batches, the second later), with msg_len and MSG_TRUNC per message;
 *    with MSG_WAITFORONE it returns once one has come;
 *  - a connected UDP socket sending to a port with no socket: a thread
 *    blocked in recv is woken by the ICMP error with ECONNREFUSED.
 */
#include "check.h"
#include "sock_helpers.h"

#include <stdatomic.h>

static const size_t dsizes[] = { 0, 1, 100, 1472, 9000, 60000, 3 };
#define NDS	(sizeof(dsizes) / sizeof(dsizes[0]))

struct peer {
	int fd;
	struct sockaddr_storage from_want;
	socklen_t from_len;
	atomic_int entered;
};

static void *receiver(void *arg)
{
	struct peer *p = arg;
	unsigned char *buf = malloc(65536);

	CHECK(buf != NULL);
	p->entered = 1;
	for (unsigned k = 0; k < NDS; k++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t r = recvfrom(p->fd, buf, 65536, 0,
				     (struct sockaddr *)&from, &flen);

		CHECK_INT(r, ==, dsizes[k]);
		t_verify(k, buf, (size_t)r);
		CHECK_INT(flen, ==, p->from_len);
		CHECK(memcmp(&from, &p->from_want, flen) == 0);
	}
	free(buf);
	return NULL;
}

static void boundaries(int family, int srv, int cli,
		       const struct sockaddr_storage *saddr, socklen_t slen,
		       const struct sockaddr_storage *caddr, socklen_t clen)
{
	unsigned char *buf = malloc(65536);
	struct peer p = { .fd = srv };
	pthread_t t;

	CHECK(buf != NULL);
	p.from_want = *caddr;
	p.from_len = clen;
	CHECK_OK(pthread_create(&t, NULL, receiver, &p));
	while (!p.entered)
		usleep(1000);
	usleep(30000);	/* blocked in recvfrom */
	for (unsigned k = 0; k < NDS; k++) {
		t_fill(k, buf, dsizes[k]);
		CHECK_INT(sendto(cli, buf, dsizes[k], 0,
				 (const struct sockaddr *)saddr, slen),
			  ==, dsizes[k]);
		if (k == 2)
			usleep(20000);
	}
	CHECK_OK(pthread_join(t, NULL));
	(void)family;
	free(buf);
}

static void truncation(int srv, int cli, const struct sockaddr_storage *saddr,
		       socklen_t slen)
{
	unsigned char big[100], small[10];
	struct iovec iov = { small, sizeof(small) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	t_fill(7, big, sizeof(big));
	for (int i = 0; i < 5; i++)
		CHECK_INT(sendto(cli, big, sizeof(big), 0,
				 (const struct sockaddr *)saddr, slen),
			  ==, sizeof(big));
	/* peek: the whole length with MSG_TRUNC, and it stays queued */
	CHECK_INT(recv(srv, small, sizeof(small), MSG_PEEK | MSG_TRUNC), ==,
		  sizeof(big));
	t_verify(7, small, sizeof(small));
	/* plain: the buffer's worth; the rest of the datagram is gone */
	memset(small, 0, sizeof(small));
	CHECK_INT(recv(srv, small, sizeof(small), 0), ==, sizeof(small));
	t_verify(7, small, sizeof(small));
	/* MSG_TRUNC: the real length */
	memset(small, 0, sizeof(small));
	CHECK_INT(recv(srv, small, sizeof(small), MSG_TRUNC), ==, sizeof(big));
	t_verify(7, small, sizeof(small));
	/* recvmsg reports the truncation in msg_flags */
	CHECK_INT(recvmsg(srv, &mh, 0), ==, sizeof(small));
	CHECK_INT(mh.msg_flags & MSG_TRUNC, ==, MSG_TRUNC);
	mh.msg_flags = 0;
	CHECK_INT(recvmsg(srv, &mh, MSG_TRUNC), ==, sizeof(big));
	CHECK_INT(mh.msg_flags & MSG_TRUNC, ==, MSG_TRUNC);
	/* a full-size buffer: no MSG_TRUNC */
	iov = (struct iovec){ big, sizeof(big) };
	mh.msg_flags = 0;
	CHECK_INT(recvmsg(srv, &mh, 0), ==, sizeof(big));
	CHECK_INT(mh.msg_flags, ==, 0);
	CHECK_ERRNO(recv(srv, small, sizeof(small), MSG_DONTWAIT), EAGAIN);
}

#define VLEN	5

struct mm {
	int fd, flags;
	atomic_int entered;
	int ret;
	struct mmsghdr msgs[VLEN];
	struct iovec iov[VLEN];
	unsigned char bufs[VLEN][64];
};

static void *mm_receiver(void *arg)
{
	struct mm *m = arg;

	for (int i = 0; i < VLEN; i++) {
		m->iov[i] = (struct iovec){ m->bufs[i], sizeof(m->bufs[i]) };
		memset(&m->msgs[i], 0, sizeof(m->msgs[i]));
		m->msgs[i].msg_hdr.msg_iov = &m->iov[i];
		m->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	m->entered = 1;
	m->ret = recvmmsg(m->fd, m->msgs, VLEN, m->flags, NULL);
	return NULL;
}

static void batches(int srv, int cli, const struct sockaddr_storage *saddr,
		    socklen_t slen)
{
	static struct mm m;
	struct mmsghdr out[VLEN];
	struct iovec oiov[VLEN];
	unsigned char obuf[VLEN][100];
	pthread_t t;

	for (int i = 0; i < VLEN; i++) {
		size_t len = i == 3 ? 100 : (size_t)(10 + i);	/* #3 > 64 */

		t_fill((unsigned)(40 + i), obuf[i], len);
		oiov[i] = (struct iovec){ obuf[i], len };
		memset(&out[i], 0, sizeof(out[i]));
		out[i].msg_hdr.msg_name = (void *)saddr;
		out[i].msg_hdr.msg_namelen = slen;
		out[i].msg_hdr.msg_iov = &oiov[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}

	/* without flags: waits for all VLEN */
	memset(&m, 0, sizeof(m));
	m.fd = srv;
	CHECK_OK(pthread_create(&t, NULL, mm_receiver, &m));
	while (!m.entered)
		usleep(1000);
	usleep(30000);
	CHECK_INT(sendmmsg(cli, out, 2, 0), ==, 2);
	CHECK_INT(out[0].msg_len, ==, 10);
	CHECK_INT(out[1].msg_len, ==, 11);
	usleep(50000);
	CHECK_INT(sendmmsg(cli, out + 2, VLEN - 2, 0), ==, VLEN - 2);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(m.ret, ==, VLEN);
	for (int i = 0; i < VLEN; i++) {
		unsigned want = i == 3 ? 64 : (unsigned)(10 + i);

		CHECK_INT(m.msgs[i].msg_len, ==, want);
		CHECK_INT(m.msgs[i].msg_hdr.msg_flags & MSG_TRUNC, ==,
			  i == 3 ? MSG_TRUNC : 0);
		t_verify((unsigned)(40 + i), m.bufs[i], want);
	}

	/* MSG_WAITFORONE: back with the one datagram sent */
	memset(&m, 0, sizeof(m));
	m.fd = srv;
	m.flags = MSG_WAITFORONE;
	CHECK_OK(pthread_create(&t, NULL, mm_receiver, &m));
	while (!m.entered)
		usleep(1000);
	usleep(30000);
	CHECK_INT(sendmmsg(cli, out, 1, 0), ==, 1);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(m.ret, ==, 1);
	CHECK_INT(m.msgs[0].msg_len, ==, 10);
	t_verify(40, m.bufs[0], 10);
}

struct refused {
	int fd;
	atomic_int entered;
	ssize_t ret;
	int err;
};

static void *recv_refused(void *arg)
{
	struct refused *r = arg;
	char c;

	r->entered = 1;
	r->ret = recv(r->fd, &c, 1, 0);
	r->err = errno;
	return NULL;
}

static void icmp_refused(int family)
{
	struct sockaddr_storage gone, me;
	socklen_t glen, mlen;
	struct refused r = { 0 };
	pthread_t t;
	int g, c;

	/* a port that had a socket and has none now */
	g = t_bound_socket(family, SOCK_DGRAM, &gone, &glen);
	CHECK(g >= 0);
	CHECK_SYS(close(g));
	c = t_bound_socket(family, SOCK_DGRAM, &me, &mlen);
	CHECK(c >= 0);
	CHECK_SYS(connect(c, (struct sockaddr *)&gone, glen));
	r.fd = c;
	CHECK_OK(pthread_create(&t, NULL, recv_refused, &r));
	while (!r.entered)
		usleep(1000);
	usleep(30000);
	CHECK_INT(send(c, "?", 1, 0), ==, 1);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(r.ret, ==, -1);
	CHECK_INT(r.err, ==, ECONNREFUSED);
	CHECK_SYS(close(c));
}

static int run_family(int family)
{
	struct sockaddr_storage saddr, caddr;
	socklen_t slen, clen;
	int srv, cli;

	srv = t_bound_socket(family, SOCK_DGRAM, &saddr, &slen);
	if (srv < 0)
		return 0;
	cli = t_bound_socket(family, SOCK_DGRAM, &caddr, &clen);
	CHECK(cli >= 0);
	CHECK_INT(t_getfl(srv), ==, O_RDWR);
	boundaries(family, srv, cli, &saddr, slen, &caddr, clen);
	truncation(srv, cli, &saddr, slen);
	batches(srv, cli, &saddr, slen);
	icmp_refused(family);
	CHECK_INT(t_getfl(srv), ==, O_RDWR);
	CHECK_SYS(close(srv));
	CHECK_SYS(close(cli));
	return 1;
}

int main(void)
{
	CHECK(run_family(AF_INET));
	if (!run_family(AF_INET6))
		fprintf(stderr, "note: no ::1 (%s), IPv6 part skipped\n",
			strerror(errno));
	return T_PASS;
}
