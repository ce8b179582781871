/*
 * Helpers for the socket and fd tests: loopback TCP listeners and
 * connected pairs on ephemeral ports, whole-buffer reads and writes that
 * retry only on EINTR, a byte pattern to verify, fd flag readers and a
 * check of exact poll revents that prints both masks by name.
 *
 * Include after check.h.
 */
#ifndef GMP_TEST_SOCK_HELPERS_H
#define GMP_TEST_SOCK_HELPERS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Fills *ss with the loopback address of `family` (AF_INET or AF_INET6). */
static inline socklen_t t_loopback(int family, int port,
				   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons((uint16_t)port);
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons((uint16_t)port);
		return sizeof(*a);
	}
}

static inline int t_port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/*
 * A socket of `type` bound to the loopback address of `family` on an
 * ephemeral port; addr and len get the bound address. Returns -1 (errno
 * set) if the family or its loopback address is unavailable; fails the
 * test on any other error.
 */
static inline int t_bound_socket(int family, int type,
				 struct sockaddr_storage *addr, socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t sl = t_loopback(family, 0, &ss);
	int fd = socket(family, type, 0);

	if (fd < 0) {
		if (errno == EAFNOSUPPORT)
			return -1;
		FAIL("socket(%d, %d): %s", family, type, strerror(errno));
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		if (e == EADDRNOTAVAIL || e == EAFNOSUPPORT)
			return -1;
		FAIL("bind to loopback (family %d): %s", family, strerror(e));
	}
	*len = sizeof(*addr);
	CHECK_SYS(getsockname(fd, (struct sockaddr *)addr, len));
	CHECK(t_port_of(addr) != 0);
	return fd;
}

/* A listening TCP socket on loopback, port 0; -1 if `family` is missing. */
static inline int t_tcp_listener(int family, int backlog,
				 struct sockaddr_storage *addr, socklen_t *len)
{
	int fd = t_bound_socket(family, SOCK_STREAM, addr, len);

	if (fd >= 0)
		CHECK_SYS(listen(fd, backlog));
	return fd;
}

/* A blocking TCP socket connected to addr. */
static inline int t_tcp_connect(const struct sockaddr_storage *addr,
				socklen_t len)
{
	int fd = socket(addr->ss_family, SOCK_STREAM, 0);

	CHECK_SYS(fd);
	while (connect(fd, (const struct sockaddr *)addr, len) != 0) {
		if (errno != EINTR)
			FAIL("connect: %s", strerror(errno));
	}
	return fd;
}

static inline int t_accept(int lfd)
{
	int fd;

	do
		fd = accept(lfd, NULL, NULL);
	while (fd < 0 && errno == EINTR);
	CHECK_SYS(fd);
	return fd;
}

/* A connected pair of blocking TCP sockets on 127.0.0.1: fds[0] is the
 * client, fds[1] the accepted end. */
static inline void t_tcp_pair(int fds[2])
{
	struct sockaddr_storage addr;
	socklen_t len;
	int lfd = t_tcp_listener(AF_INET, 1, &addr, &len);

	CHECK(lfd >= 0);
	fds[0] = t_tcp_connect(&addr, len);
	fds[1] = t_accept(lfd);
	CHECK_SYS(close(lfd));
}

/* Writes all n bytes with write(); fails the test on error. */
static inline void t_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			FAIL("write(%d, %zu): %zd (%s)", fd, n, w,
			     w < 0 ? strerror(errno) : "0");
		p += w;
		n -= (size_t)w;
	}
}

/* Reads until n bytes or EOF with read(); returns the count read. */
static inline size_t t_read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			FAIL("read(%d, %zu): %s", fd, n - got,
			     strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static inline unsigned char t_pattern(unsigned seed, size_t i)
{
	return (unsigned char)(i * 131 + seed * 7 + (i >> 9) + (i >> 17));
}

static inline void t_fill(unsigned seed, unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = t_pattern(seed, i);
}

/* Fails, naming the first wrong byte, unless buf holds the pattern. */
static inline void t_verify(unsigned seed, const unsigned char *buf,
			    size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != t_pattern(seed, i))
			FAIL("byte %zu of %zu (seed %u) is %d, expected %d", i,
			     n, seed, buf[i], t_pattern(seed, i));
}

static inline int t_getfl(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		FAIL("fcntl(%d, F_GETFL): %s", fd, strerror(errno));
	return fl;
}

static inline int t_getfd(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		FAIL("fcntl(%d, F_GETFD): %s", fd, strerror(errno));
	return fl;
}

static inline void t_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	CHECK_SYS(fl);
	CHECK_SYS(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK));
}

/* Names the bits of a poll mask, e.g. "POLLIN|POLLHUP (0x11)". */
static inline const char *t_pollbits(short ev, char *buf, size_t size)
{
	static const struct { short bit; const char *name; } names[] = {
		{ POLLIN, "POLLIN" }, { POLLPRI, "POLLPRI" },
		{ POLLOUT, "POLLOUT" }, { POLLERR, "POLLERR" },
		{ POLLHUP, "POLLHUP" }, { POLLNVAL, "POLLNVAL" },
		{ POLLRDNORM, "POLLRDNORM" }, { POLLRDBAND, "POLLRDBAND" },
		{ POLLWRNORM, "POLLWRNORM" }, { POLLWRBAND, "POLLWRBAND" },
		{ POLLMSG, "POLLMSG" }, { POLLRDHUP, "POLLRDHUP" },
	};
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ev & names[i].bit)
			off += (size_t)snprintf(buf + off, size - off, "%s%s",
						off ? "|" : "", names[i].name);
	snprintf(buf + off, size - off, "%s(0x%x)", off ? " " : "",
		 (unsigned)(unsigned short)ev);
	return buf;
}

/* Exact revents, both masks printed by name on failure. */
#define CHECK_REVENTS(got, want)					\
	do {								\
		short _g = (short)(got), _w = (short)(want);		\
		char _gb[160], _wb[160];				\
		if (_g != _w)						\
			FAIL("%s is %s, expected %s", #got,		\
			     t_pollbits(_g, _gb, sizeof(_gb)),		\
			     t_pollbits(_w, _wb, sizeof(_wb)));		\
	} while (0)

#endif
