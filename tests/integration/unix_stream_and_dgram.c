/*
 * AF_UNIX sockets between threads, as natively:
 *
 *  - SOCK_STREAM socketpair: 2 MiB through it with the writer blocked on a
 *    full buffer and the reader blocked on an empty one; FIONREAD counts
 *    queued bytes; MSG_PEEK leaves them queued;
 *  - SOCK_DGRAM socketpair: boundaries kept, a sender blocked on a full
 *    queue is released as the reader drains it; a short buffer truncates
 *    (MSG_TRUNC in msg_flags);
 *  - a named SOCK_DGRAM socket (abstract namespace) with three sender
 *    threads that outrun its receive queue: every datagram arrives, in
 *    order per sender, with the sender's address;
 *  - SOCK_SEQPACKET socketpair: boundaries and MSG_TRUNC;
 *  - a listening SOCK_STREAM socket in the abstract namespace: a thread
 *    blocked in accept, getsockname/getpeername give the name back, and
 *    SCM_RIGHTS passes fds between threads with sendmsg/recvmsg (the
 *    receiver blocked in recvmsg first): the fds arrive with new numbers,
 *    FD_CLOEXEC only with MSG_CMSG_CLOEXEC, the flags of the shared open
 *    file descriptions (a change of O_NONBLOCK through one number shows
 *    through the other), and they work: a blocking read on a received pipe
 *    waits for the writer, a received socket talks to its peer, also after
 *    the sender closed its copies.
 */
#include "check.h"
#include "sock_helpers.h"

#include <stdatomic.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/un.h>

static socklen_t abstract_addr(struct sockaddr_un *sa, const char *what)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		     "gmp-test-%d-%s", (int)getpid(), what);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			   (size_t)n);
}

/* --- stream socketpair --- */

#define STREAM_TOTAL	(2 * 1024 * 1024)

static void *stream_writer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char *buf = malloc(STREAM_TOTAL);

	CHECK(buf != NULL);
	t_fill(1, buf, STREAM_TOTAL);
	usleep(20000);	/* the reader is blocked */
	/* a blocking stream write completes in one call */
	CHECK_INT(write(fd, buf, STREAM_TOTAL), ==, STREAM_TOTAL);
	free(buf);
	return NULL;
}

static void stream_pair(void)
{
	unsigned char *buf = malloc(STREAM_TOTAL);
	pthread_t t;
	int s[2], n;
	char c[4];

	CHECK(buf != NULL);
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
	CHECK_OK(pthread_create(&t, NULL, stream_writer,
				(void *)(intptr_t)s[0]));
	CHECK_INT(t_read_full(s[1], buf, STREAM_TOTAL), ==, STREAM_TOTAL);
	t_verify(1, buf, STREAM_TOTAL);
	CHECK_OK(pthread_join(t, NULL));

	CHECK_INT(send(s[0], "abc", 3, 0), ==, 3);
	CHECK_SYS(ioctl(s[1], FIONREAD, &n));
	CHECK_INT(n, ==, 3);
	CHECK_INT(recv(s[1], c, 2, MSG_PEEK), ==, 2);
	CHECK_INT(recv(s[1], c, sizeof(c), 0), ==, 3);
	CHECK(memcmp(c, "abc", 3) == 0);
	CHECK_SYS(ioctl(s[1], FIONREAD, &n));
	CHECK_INT(n, ==, 0);
	CHECK_SYS(close(s[0]));
	CHECK_INT(read(s[1], c, 1), ==, 0);
	CHECK_SYS(close(s[1]));
	free(buf);
}

/* --- datagram socketpair --- */

#define NDGRAM	300

static size_t dgram_len(int i)
{
	return (size_t)(1 + (i * 37) % 3000);
}

static void *dgram_sender(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[3000];

	for (int i = 0; i < NDGRAM; i++) {
		t_fill((unsigned)i, buf, dgram_len(i));
		CHECK_INT(send(fd, buf, dgram_len(i), 0), ==, dgram_len(i));
	}
	return NULL;
}

static void dgram_pair(void)
{
	unsigned char buf[4000], small[8];
	struct iovec iov = { small, sizeof(small) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	pthread_t t;
	int s[2];

	CHECK_SYS(socketpair(AF_UNIX, SOCK_DGRAM, 0, s));
	CHECK_OK(pthread_create(&t, NULL, dgram_sender,
				(void *)(intptr_t)s[0]));
	usleep(50000);	/* the sender fills the queue and blocks */
	for (int i = 0; i < NDGRAM; i++) {
		ssize_t r = recv(s[1], buf, sizeof(buf), 0);

		CHECK_INT(r, ==, dgram_len(i));
		t_verify((unsigned)i, buf, (size_t)r);
		if (i % 50 == 0)
			usleep(2000);
	}
	CHECK_OK(pthread_join(t, NULL));

	t_fill(9, buf, 20);
	CHECK_INT(send(s[0], buf, 20, 0), ==, 20);
	CHECK_INT(send(s[0], buf, 0, 0), ==, 0);
	CHECK_INT(recvmsg(s[1], &mh, 0), ==, sizeof(small));
	CHECK_INT(mh.msg_flags, ==, MSG_TRUNC);
	t_verify(9, small, sizeof(small));
	CHECK_INT(recv(s[1], buf, sizeof(buf), 0), ==, 0);	/* empty one */
	CHECK_ERRNO(recv(s[1], buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	CHECK_SYS(close(s[0]));
	CHECK_SYS(close(s[1]));
}

/* --- named datagram socket, several senders --- */

#define NSENDERS	3
#define PER_SENDER	200

static struct sockaddr_un dg_addr;
static socklen_t dg_len;

static void *named_sender(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct sockaddr_un me;
	socklen_t mlen = abstract_addr(&me, id == 0 ? "s0" :
					    id == 1 ? "s1" : "s2");
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	CHECK_SYS(fd);
	CHECK_SYS(bind(fd, (struct sockaddr *)&me, mlen));
	for (int i = 0; i < PER_SENDER; i++) {
		int msg[2] = { id, i };

		CHECK_INT(sendto(fd, msg, sizeof(msg), 0,
				 (struct sockaddr *)&dg_addr, dg_len),
			  ==, sizeof(msg));
	}
	CHECK_SYS(close(fd));
	return NULL;
}

static void named_dgram(void)
{
	pthread_t t[NSENDERS];
	int next[NSENDERS] = { 0 };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	CHECK_SYS(fd);
	dg_len = abstract_addr(&dg_addr, "dgram");
	CHECK_SYS(bind(fd, (struct sockaddr *)&dg_addr, dg_len));
	for (int i = 0; i < NSENDERS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, named_sender,
					(void *)(intptr_t)i));
	usleep(50000);	/* the queue is full, the senders blocked */
	for (int n = 0; n < NSENDERS * PER_SENDER; n++) {
		struct sockaddr_un from, want;
		socklen_t flen = sizeof(from), wlen;
		int msg[2];

		CHECK_INT(recvfrom(fd, msg, sizeof(msg), 0,
				   (struct sockaddr *)&from, &flen),
			  ==, sizeof(msg));
		CHECK(msg[0] >= 0 && msg[0] < NSENDERS);
		CHECK_INT(msg[1], ==, next[msg[0]]);
		next[msg[0]]++;
		wlen = abstract_addr(&want, msg[0] == 0 ? "s0" :
					    msg[0] == 1 ? "s1" : "s2");
		CHECK_INT(flen, ==, wlen);
		CHECK(memcmp(&from, &want, wlen) == 0);
	}
	for (int i = 0; i < NSENDERS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_SYS(close(fd));
}

/* --- seqpacket --- */

static void seqpacket_pair(void)
{
	char small[4], buf[64];
	struct iovec iov = { small, sizeof(small) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s[2];

	CHECK_SYS(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s));
	CHECK_INT(send(s[0], "first", 5, 0), ==, 5);
	CHECK_INT(send(s[0], "second", 6, 0), ==, 6);
	CHECK_INT(send(s[0], "third!!", 7, 0), ==, 7);
	CHECK_INT(recv(s[1], buf, sizeof(buf), 0), ==, 5);
	CHECK(memcmp(buf, "first", 5) == 0);
	CHECK_INT(recvmsg(s[1], &mh, 0), ==, sizeof(small));
	CHECK_INT(mh.msg_flags, ==, MSG_TRUNC);
	CHECK(memcmp(small, "seco", 4) == 0);
	CHECK_INT(recv(s[1], buf, 2, MSG_TRUNC), ==, 7);
	CHECK(memcmp(buf, "th", 2) == 0);
	CHECK_SYS(close(s[0]));
	CHECK_INT(recv(s[1], buf, sizeof(buf), 0), ==, 0);
	CHECK_SYS(close(s[1]));
}

/* --- abstract listener and SCM_RIGHTS --- */

static struct sockaddr_un st_addr;
static socklen_t st_len;
static int lfd;

struct passer {
	int conn;		/* connected stream socket */
	int pipe_w;		/* write end of the pipe whose read end goes */
	int sp_keep;		/* peer of the socketpair end that goes */
	int nb_orig;		/* a non-blocking fd that goes */
	atomic_int received;
	atomic_int flipped;
};

static void send_fds(int conn, const int *fds, int n)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { "F", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(u.buf, 0, sizeof(u.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	CHECK_INT(sendmsg(conn, &mh, 0), ==, 1);
}

/* Receives n fds (blocking); returns them in fds. */
static void recv_fds(int conn, int *fds, int n, int flags)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char c = 0;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;

	CHECK_INT(recvmsg(conn, &mh, flags), ==, 1);
	CHECK_INT(c, ==, 'F');
	/* Linux reports MSG_CMSG_CLOEXEC back in msg_flags */
	CHECK_INT(mh.msg_flags, ==, flags & MSG_CMSG_CLOEXEC);
	cm = CMSG_FIRSTHDR(&mh);
	CHECK(cm != NULL);
	CHECK_INT(cm->cmsg_level, ==, SOL_SOCKET);
	CHECK_INT(cm->cmsg_type, ==, SCM_RIGHTS);
	CHECK_INT(cm->cmsg_len, ==, CMSG_LEN(n * sizeof(int)));
	memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
	CHECK(CMSG_NXTHDR(&mh, cm) == NULL);
}

static void *fd_receiver(void *arg)
{
	struct passer *p = arg;
	int fds[3], conn;
	char buf[16];

	conn = t_accept(lfd);
	{
		struct sockaddr_un peer;
		socklen_t plen = sizeof(peer);

		/* the client is unnamed: the address is just the family */
		CHECK_SYS(getpeername(conn, (struct sockaddr *)&peer, &plen));
		CHECK_INT(plen, ==, sizeof(sa_family_t));
	}

	/* first batch without MSG_CMSG_CLOEXEC (blocked before it comes) */
	recv_fds(conn, fds, 3, 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(t_getfd(fds[i]), ==, 0);
	CHECK_INT(t_getfl(fds[0]), ==, O_RDONLY);		/* pipe */
	CHECK_INT(t_getfl(fds[1]), ==, O_RDWR);			/* socket */
	CHECK_INT(t_getfl(fds[2]), ==, O_RDWR | O_NONBLOCK);	/* nb */
	p->received = 1;

	/* the received pipe blocks until the sender writes */
	CHECK_INT(read(fds[0], buf, 4), ==, 4);
	CHECK(memcmp(buf, "pipe", 4) == 0);
	/* the received socket talks to its peer, both ways */
	CHECK_INT(send(fds[1], "ping", 4, 0), ==, 4);
	CHECK_INT(recv(fds[1], buf, 4, MSG_WAITALL), ==, 4);
	CHECK(memcmp(buf, "pong", 4) == 0);
	/* O_NONBLOCK is on the shared description: clear it here */
	CHECK_ERRNO(recv(fds[2], buf, 1, 0), EAGAIN);
	t_set_nonblock(fds[2], 0);
	p->flipped = 1;
	for (int i = 0; i < 3; i++)
		CHECK_SYS(close(fds[i]));

	/* second batch with MSG_CMSG_CLOEXEC */
	recv_fds(conn, fds, 1, MSG_CMSG_CLOEXEC);
	CHECK_INT(t_getfd(fds[0]), ==, FD_CLOEXEC);
	CHECK_INT(t_getfl(fds[0]), ==, O_RDONLY);
	CHECK_INT(read(fds[0], buf, 3), ==, 3);	/* blocks for the data */
	CHECK(memcmp(buf, "two", 3) == 0);
	CHECK_INT(read(fds[0], buf, 1), ==, 0);	/* writer gone: EOF */
	CHECK_SYS(close(fds[0]));
	CHECK_INT(recv(conn, buf, 1, 0), ==, 0);
	CHECK_SYS(close(conn));
	return NULL;
}

static void pass_fds(void)
{
	struct passer p = { 0 };
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	int pipefd[2], sp[2], nb[2], fds[3];
	pthread_t t;
	char buf[8];

	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_SYS(lfd);
	st_len = abstract_addr(&st_addr, "stream");
	CHECK_SYS(bind(lfd, (struct sockaddr *)&st_addr, st_len));
	CHECK_SYS(getsockname(lfd, (struct sockaddr *)&got, &glen));
	CHECK_INT(glen, ==, st_len);
	CHECK(memcmp(&got, &st_addr, st_len) == 0);
	CHECK_SYS(listen(lfd, 4));
	CHECK_OK(pthread_create(&t, NULL, fd_receiver, &p));
	usleep(20000);	/* blocked in accept */

	p.conn = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_SYS(p.conn);
	CHECK_SYS(connect(p.conn, (struct sockaddr *)&st_addr, st_len));
	glen = sizeof(got);
	CHECK_SYS(getpeername(p.conn, (struct sockaddr *)&got, &glen));
	CHECK_INT(glen, ==, st_len);
	CHECK(memcmp(&got, &st_addr, st_len) == 0);

	CHECK_SYS(pipe(pipefd));
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, nb));
	t_set_nonblock(nb[0], 1);
	usleep(20000);	/* blocked in recvmsg */
	fds[0] = pipefd[0];
	fds[1] = sp[0];
	fds[2] = nb[0];
	send_fds(p.conn, fds, 3);
	/* our copies go; the received ones stay open */
	CHECK_SYS(close(pipefd[0]));
	CHECK_SYS(close(sp[0]));
	while (!p.received)
		usleep(1000);
	usleep(20000);	/* blocked in read on the received pipe */
	CHECK_INT(write(pipefd[1], "pipe", 4), ==, 4);
	CHECK_INT(recv(sp[1], buf, 4, MSG_WAITALL), ==, 4);
	CHECK(memcmp(buf, "ping", 4) == 0);
	CHECK_INT(send(sp[1], "pong", 4, 0), ==, 4);
	while (!p.flipped)
		usleep(1000);
	CHECK_INT(t_getfl(nb[0]), ==, O_RDWR);	/* cleared over there */
	CHECK_INT(send(nb[1], "b", 1, 0), ==, 1);
	CHECK_INT(recv(nb[0], buf, 1, 0), ==, 1);
	CHECK_SYS(close(pipefd[1]));
	CHECK_SYS(close(sp[1]));
	CHECK_SYS(close(nb[0]));
	CHECK_SYS(close(nb[1]));

	CHECK_SYS(pipe(pipefd));
	send_fds(p.conn, pipefd, 1);
	CHECK_SYS(close(pipefd[0]));
	usleep(20000);
	CHECK_INT(write(pipefd[1], "two", 3), ==, 3);
	CHECK_SYS(close(pipefd[1]));
	CHECK_SYS(shutdown(p.conn, SHUT_WR));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_SYS(close(p.conn));
	CHECK_SYS(close(lfd));
}

int main(void)
{
	stream_pair();
	dgram_pair();
	named_dgram();
	seqpacket_pair();
	pass_fds();
	return T_PASS;
}
