/*
 * net.c: sockets and pipes on the netpoller (core/netpoll.c, DESIGN.md
 * §5). A G whose call on a socket or pipe would block parks on the fd's
 * poll descriptor instead of blocking its M; poll, select and epoll_wait
 * park the G the same way. Everything else that may block goes to the
 * kernel bracketed with entersyscall/exitsyscall (shims/fileio.c).
 *
 * Decisions.
 * - The file flags of sockets and pipes are never changed behind the
 *   program's back, with one exception below: each attempt is made
 *   non-blocking per call (MSG_DONTWAIT for sockets, RWF_NOWAIT for
 *   pipes and FIFOs), so a file description shared with another process,
 *   or read by glibc's own code (stdio on a socket), behaves exactly as
 *   it does natively. When an attempt says EAGAIN the call looks at the
 *   file's real O_NONBLOCK: set, the program gets EAGAIN; clear, the G
 *   parks until the fd is ready and tries again.
 * - The exception: accept has no per-call flag, so listen() on a socket
 *   makes it O_NONBLOCK underneath ("owned"); fcntl(F_GETFL/F_SETFL) and
 *   ioctl(FIONBIO) show and change the program's view of it, and before
 *   exec (execve and friends, posix_spawn, system, popen) such sockets
 *   that survive the exec get back the flags the program believes they
 *   have. A blocking connect() sets O_NONBLOCK for the duration of the
 *   call only.
 * - How an fd is used is learned on its first use (fstat: socket, FIFO,
 *   or anything else, which goes to the kernel as a system call) and
 *   forgotten when libgmp sees it closed. A close libgmp does not see
 *   (glibc's own) can leave a stale guess: every path checks the result
 *   (ENOTSOCK, a file epoll cannot poll) and learns again.
 * - Blocking semantics kept: SO_RCVTIMEO/SO_SNDTIMEO become park
 *   deadlines (EAGAIN when they pass, or the bytes moved so far); a
 *   stream send moves every byte before returning, MSG_WAITALL fills the
 *   buffer; a signal handler ends a wait with EINTR unless SA_RESTART and
 *   no timeout (signal(7)); poll, select and epoll_wait are never
 *   restarted. Results come from the real call made with a zero timeout,
 *   so revents and errors are the kernel's own.
 * - close() wakes the Gs parked on that fd: their calls fail with EBADF
 *   (natively they would go on waiting on the closed file). shutdown()
 *   wakes them to see the new state.
 * - ppoll, pselect and epoll_pwait with a signal mask go to the kernel
 *   (the mask must be swapped atomically with the wait), as do poll and
 *   select on more than 64 fds, and recvmmsg with a timeout.
 *
 * Lock order: none here; pd state is atomics (core/netpoll.c).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "shim.h"

enum { K_UNKNOWN, K_SOCK, K_PIPE, K_OTHER };

#define R_BLOCK (-5000L)	/* cannot be polled: make the blocking call */
#define MAXPOLL 64		/* poll/select sets parked at G level */

_Atomic uint64_t gmp__net_syscalls;	/* calls made blocking in the kernel */

static bool pipe_nowait;	/* RWF_NOWAIT works on pipes (probed) */

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	return arch_syscall6(nr, a, b, c, d, e, f);
}

static long ret(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* ---- what an fd is ----------------------------------------------------- */

static int64_t timeo_ns(int fd, int opt)
{
	struct timeval tv;
	socklen_t l = sizeof tv;

	if (arch_syscall6(SYS_getsockopt, fd, SOL_SOCKET, opt, (long)&tv,
			  (long)&l, 0) < 0)
		return 0;
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static void set_sock(struct pd *pd, bool owned, bool nonblock)
{
	atomic_store(&pd->armed, 0);	/* a new file for this number */
	atomic_store(&pd->owned, owned);
	atomic_store(&pd->nonblock, nonblock);
	atomic_store(&pd->rcvtimeo, 0);
	atomic_store(&pd->sndtimeo, 0);
	atomic_store(&pd->kind, K_SOCK);
}

static int learn(int fd, struct pd *pd)
{
	struct stat st;
	int k = K_OTHER;

	if (arch_syscall(SYS_fstat, fd, (long)&st, 0, 0) < 0)
		return K_UNKNOWN;	/* EBADF: the call fails as natively */
	if (S_ISSOCK(st.st_mode)) {
		set_sock(pd, false, false);
		atomic_store(&pd->rcvtimeo, timeo_ns(fd, SO_RCVTIMEO));
		atomic_store(&pd->sndtimeo, timeo_ns(fd, SO_SNDTIMEO));
		return K_SOCK;
	}
	if (S_ISFIFO(st.st_mode) && pipe_nowait)
		k = K_PIPE;
	atomic_store(&pd->owned, 0);
	atomic_store(&pd->kind, k);
	return k;
}

/* fd's pd if calls on it go through the poller (as *kind), else NULL. */
static struct pd *classify(int fd, int *kind)
{
	struct pd *pd = pd_get(fd, true);

	if (!pd)
		return NULL;
	int k = atomic_load_explicit(&pd->kind, memory_order_relaxed);
	if (k == K_UNKNOWN)
		k = learn(fd, pd);
	*kind = k;
	return k == K_SOCK || k == K_PIPE ? pd : NULL;
}

void gmp__fd_new(int fd)
{
	struct pd *pd = pd_get(fd, false);

	if (pd) {
		atomic_store(&pd->armed, 0);
		atomic_store(&pd->kind, K_UNKNOWN);
		atomic_store(&pd->owned, 0);
	}
}

/* newfd is a dup of oldfd: the same file, the same view of it. */
static void copy_view(int oldfd, int newfd)
{
	struct pd *from = pd_get(oldfd, false);
	struct pd *to = pd_get(newfd, true);

	if (!to)
		return;
	atomic_store(&to->armed, 0);	/* a new number for the file */
	if (!from || atomic_load(&from->kind) == K_UNKNOWN) {
		atomic_store(&to->kind, K_UNKNOWN);
		atomic_store(&to->owned, 0);
		return;
	}
	atomic_store(&to->owned, atomic_load(&from->owned));
	atomic_store(&to->nonblock, atomic_load(&from->nonblock));
	atomic_store(&to->rcvtimeo, atomic_load(&from->rcvtimeo));
	atomic_store(&to->sndtimeo, atomic_load(&from->sndtimeo));
	atomic_store(&to->kind, atomic_load(&from->kind));
}

/* Does the program want EAGAIN rather than a wait on fd? */
static bool nonblocking(int fd, struct pd *pd)
{
	if (atomic_load_explicit(&pd->owned, memory_order_relaxed))
		return atomic_load_explicit(&pd->nonblock,
					    memory_order_relaxed);
	long fl = arch_syscall(SYS_fcntl, fd, F_GETFL, 0, 0);
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* ---- waiting ----------------------------------------------------------- */

/* A wait point: act on a cancellation; WF_POINT waits return here. */
static void cancel_now(void)
{
	gmp__testcancel();
}

/* Park on *w (pd's rseq or wseq) until it moves from seq. Returns 0 to
 * try again, or what the call fails with: -EAGAIN (the deadline),
 * -EINTR, -EBADF (closed meanwhile), R_BLOCK (fd cannot be polled), or
 * -ECANCELED (a cancellation is pending: put things in order, then
 * cancel_now). */
static long wait_ready(g *gp, int fd, struct pd *pd, _Atomic uint32_t *w,
		       uint32_t seq, uint32_t gen, int64_t deadline,
		       unsigned wf)
{
	int a = netpoll_arm(fd, pd);

	if (a < 0) {
		if (a == -EBADF)
			return -EBADF;
		atomic_store(&pd->kind, K_UNKNOWN);
		return R_BLOCK;
	}
	_Atomic int32_t *nw = &pd->nwait[w == &pd->wseq];
	atomic_fetch_add(&netpoll_waiters, 1);
	atomic_fetch_add(nw, 1);	/* before the word is read again */
	atomic_fetch_add_explicit(&netpoll_parks, 1, memory_order_relaxed);
	wait_why(WAIT_IO);
	int r = gmp__wait_full(gp, w, seq, deadline, wf);
	atomic_fetch_sub(nw, 1);
	atomic_fetch_sub(&netpoll_waiters, 1);
	if (atomic_load(&pd->gen) != gen)
		return -EBADF;
	switch (r) {
	case -ETIMEDOUT:
		return -EAGAIN;
	case -EINTR:
	case -ECANCELED:
		return r;
	default:
		return 0;
	}
}

static int64_t deadline_of(struct pd *pd, int dir)
{
	int64_t t = atomic_load_explicit(dir ? &pd->sndtimeo : &pd->rcvtimeo,
					 memory_order_relaxed);
	return t > 0 ? gmp__after(t) : -1;
}

struct call {
	long nr, a[6];
	int flags_at;	/* a[flags_at] holds a send's MSG_ flags; 0: none */
};

/* A send that waited, then found the connection broken: natively the
 * waiting call fails with the socket's error (ECONNRESET when the peer
 * closed with data unread), and a new call with EPIPE and SIGPIPE. */
static long broken_after_wait(int fd, struct call *c, long user_flags)
{
	int err = 0;
	socklen_t l = sizeof err;

	if (arch_syscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&err,
			  (long)&l, 0) == 0 && err)
		return -err;
	if (user_flags & MSG_NOSIGNAL)
		return -EPIPE;
	c->a[c->flags_at] = user_flags | MSG_DONTWAIT;	/* raise SIGPIPE */
	return sys6(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4],
		    c->a[5]);
}

/* Make the non-blocking attempt c on fd until it does not say EAGAIN,
 * waiting for readiness (dir 0: readable, 1: writable) in between
 * unless the program asked for non-blocking I/O (nb, or the file's
 * flag). Returns the attempt's result, or a wait's error. */
static long io(g *gp, int fd, struct pd *pd, int dir, const struct call *c0,
	       bool nb, unsigned wf)
{
	uint32_t gen = atomic_load(&pd->gen);
	_Atomic uint32_t *w = dir ? &pd->wseq : &pd->rseq;
	int64_t deadline = -2;
	struct call c = *c0;
	long user_flags = c.flags_at ? c.a[c.flags_at] & ~MSG_DONTWAIT : 0;
	bool waited = false;

	for (;;) {
		uint32_t seq = atomic_load_explicit(w, memory_order_acquire);
		long r = sys6(c.nr, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4],
			      c.a[5]);
		if (r == -EPIPE && waited && c.flags_at)
			return broken_after_wait(fd, &c, user_flags);
		if (r != -EAGAIN || nb)
			return r;
		/* blocking or not is decided once per call, as the kernel
		 * does: setting O_NONBLOCK does not end a wait */
		if (deadline == -2) {
			if (nonblocking(fd, pd))
				return r;
			deadline = deadline_of(pd, dir);
		}
		r = wait_ready(gp, fd, pd, w, seq, gen, deadline, wf);
		if (r == -ECANCELED)
			cancel_now();
		else if (r)
			return r;
		waited = true;
		if (c.flags_at)	/* see broken_after_wait */
			c.a[c.flags_at] |= MSG_NOSIGNAL;
	}
}

/* A call the kernel makes wait: bracketed, a cancellation point. */
static long blocking(g *gp, long nr, long a, long b, long c, long d, long e,
		     long f)
{
	int cp = gp ? gmp__syscall_begin(gp) : 0;
	bool in = gp && entersyscall();

	atomic_fetch_add_explicit(&gmp__net_syscalls, 1, memory_order_relaxed);
	long r = sys6(nr, a, b, c, d, e, f);
	if (in)
		exitsyscall();
	if (gp)
		gmp__syscall_end(gp, cp, r == -EINTR);
	return r;
}

#define WF_IO (WF_POINT | WF_SIGNAL | WF_RESTARTABLE)

/* ---- the iovec helpers ------------------------------------------------- */

static size_t iov_len(const struct iovec *v, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += v[i].iov_len;
	return t;
}

/* Copy v[0..n) into out (room for n) without its first skip bytes;
 * returns the new count. */
static int iov_skip(const struct iovec *v, int n, size_t skip,
		    struct iovec *out)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		if (skip >= v[i].iov_len) {
			skip -= v[i].iov_len;
			continue;
		}
		out[k].iov_base = (char *)v[i].iov_base + skip;
		out[k].iov_len = v[i].iov_len - skip;
		skip = 0;
		k++;
	}
	return k;
}

/* ---- socket and pipe I/O ------------------------------------------------ */

/* recvmsg/sendmsg on a socket, or preadv2/pwritev2 on a pipe, with the
 * whole-buffer rule of a blocking stream send (all) and of MSG_WAITALL.
 * mh's iov is not modified. */
static long vio(g *gp, int fd, struct pd *pd, int kind, int dir,
		struct msghdr *mh, int flags)
{
	bool nb = flags & (MSG_DONTWAIT | MSG_ERRQUEUE); /* never waits */
	bool all = dir ? kind == K_PIPE || !nb : (flags & MSG_WAITALL) && !nb;
	struct call c;
	struct iovec small[8], *rest = NULL;
	struct msghdr cur = *mh;
	size_t total = iov_len(mh->msg_iov, (int)mh->msg_iovlen), done = 0;
	long r;

	for (;;) {
		if (kind == K_SOCK) {
			/* after some bytes went, a broken connection ends
			 * the call with that count and no SIGPIPE */
			int xf = dir && done ? MSG_NOSIGNAL : 0;
			c = (struct call){ dir ? SYS_sendmsg : SYS_recvmsg,
					   { fd, (long)&cur,
					     (flags & ~MSG_WAITALL) |
						     MSG_DONTWAIT | xf },
					   dir ? 2 : 0 };
		} else {
			c = (struct call){ dir ? SYS_pwritev2 : SYS_preadv2,
					   { fd, (long)cur.msg_iov,
					     (long)cur.msg_iovlen, -1, -1,
					     RWF_NOWAIT }, 0 };
		}
		r = io(gp, fd, pd, dir, &c, nb, WF_IO);
		if (r == R_BLOCK || r == -EOPNOTSUPP) {
			if (done)
				break;
			atomic_store(&pd->kind, K_UNKNOWN);
			r = R_BLOCK;
			break;
		}
		if (r < 0) {
			if (done)
				r = 0;	/* report the bytes moved */
			break;
		}
		if (!done) {	/* what the kernel wrote into the header */
			mh->msg_namelen = cur.msg_namelen;
			mh->msg_controllen = cur.msg_controllen;
		}
		done += (size_t)r;
		if (!all || done >= total || (r == 0 && !dir))
			break;
		if (kind == K_SOCK && !rest) {
			/* only a stream moves the rest (a send, MSG_WAITALL) */
			int type = 0;
			socklen_t l = sizeof type;
			getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l);
			if (type != SOCK_STREAM)
				break;
		}
		/* continue with what is left (ancillary data went first) */
		int n = (int)mh->msg_iovlen;
		if (!rest)
			rest = n <= 8 ? small : malloc(sizeof *rest * n);
		if (!rest)
			break;
		cur.msg_iov = rest;
		cur.msg_iovlen = iov_skip(mh->msg_iov, n, done, rest);
		cur.msg_control = NULL;
		cur.msg_controllen = 0;
	}
	if (rest && rest != small)
		free(rest);
	if (r == R_BLOCK)
		return R_BLOCK;
	if (r >= 0 || done)
		mh->msg_flags = cur.msg_flags;
	return r < 0 ? r : (long)done;
}

static long vio_simple(g *gp, int fd, struct pd *pd, int kind, int dir,
		       void *buf, size_t n, int flags, struct sockaddr *a,
		       socklen_t *alen, socklen_t asz)
{
	struct iovec v = { buf, n };
	struct msghdr mh = { 0 };

	mh.msg_iov = &v;
	mh.msg_iovlen = 1;
	if (dir && a) {
		mh.msg_name = a;
		mh.msg_namelen = asz;
	} else if (!dir && a && alen) {
		mh.msg_name = a;
		mh.msg_namelen = *alen;
	}
	long r = vio(gp, fd, pd, kind, dir, &mh, flags);
	if (r >= 0 && !dir && a && alen)
		*alen = mh.msg_namelen;
	return r;
}

/* Entry of every fd shim: NULL means "make the plain system call". */
static struct pd *netfd(g *gp, int fd, int *kind, bool socket_only)
{
	if (!gp)
		return NULL;
	gmp__point_begin(gp);
	struct pd *pd = classify(fd, kind);
	if (pd && socket_only && *kind != K_SOCK)
		return NULL;
	return pd;
}

EXPORT ssize_t read(int fd, void *b, size_t n)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, false);

	if (pd) {
		long r = vio_simple(gp, fd, pd, k, 0, b, n, 0, NULL, NULL, 0);
		if (r != R_BLOCK)
			return ret(r);
	}
	return ret(blocking(gp, SYS_read, fd, (long)b, (long)n, 0, 0, 0));
}

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, false);

	if (pd) {
		long r = vio_simple(gp, fd, pd, k, 1, (void *)b, n, 0, NULL,
				    NULL, 0);
		if (r != R_BLOCK)
			return ret(r);
	}
	return ret(blocking(gp, SYS_write, fd, (long)b, (long)n, 0, 0, 0));
}

static ssize_t rwv(int fd, const struct iovec *v, int n, int dir)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, false);

	if (pd && n >= 0 && n <= IOV_MAX) {
		struct msghdr mh = { 0 };
		mh.msg_iov = (struct iovec *)v;
		mh.msg_iovlen = (size_t)n;
		long r = vio(gp, fd, pd, k, dir, &mh, 0);
		if (r != R_BLOCK)
			return ret(r);
	}
	return ret(blocking(gp, dir ? SYS_writev : SYS_readv, fd, (long)v, n,
			    0, 0, 0));
}

EXPORT ssize_t readv(int fd, const struct iovec *v, int n)
{
	return rwv(fd, v, n, 0);
}

EXPORT ssize_t writev(int fd, const struct iovec *v, int n)
{
	return rwv(fd, v, n, 1);
}

EXPORT ssize_t recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a,
			socklen_t *l)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, true);

	if (pd) {
		long r = vio_simple(gp, fd, pd, k, 0, b, n, f, a, l, 0);
		if (r != R_BLOCK)
			return ret(r);
	}
	return ret(blocking(gp, SYS_recvfrom, fd, (long)b, (long)n, f, (long)a,
			    (long)l));
}

EXPORT ssize_t recv(int fd, void *b, size_t n, int f)
{
	return recvfrom(fd, b, n, f, NULL, NULL);
}

EXPORT ssize_t sendto(int fd, const void *b, size_t n, int f,
		      const struct sockaddr *a, socklen_t l)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, true);

	if (pd) {
		long r = vio_simple(gp, fd, pd, k, 1, (void *)b, n, f,
				    (struct sockaddr *)a, NULL, l);
		if (r != R_BLOCK)
			return ret(r);
	}
	return ret(blocking(gp, SYS_sendto, fd, (long)b, (long)n, f, (long)a,
			    l));
}

EXPORT ssize_t send(int fd, const void *b, size_t n, int f)
{
	return sendto(fd, b, n, f, NULL, 0);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *mh, int f)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, true);

	if (pd) {
		long r = vio(gp, fd, pd, k, 0, mh, f);
		if (r != R_BLOCK)
			return ret(r);
	}
	return ret(blocking(gp, SYS_recvmsg, fd, (long)mh, f, 0, 0, 0));
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *mh, int f)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, true);

	if (pd) {
		struct msghdr cur = *mh;
		long r = vio(gp, fd, pd, k, 1, &cur, f);
		if (r != R_BLOCK)
			return ret(r);
	}
	return ret(blocking(gp, SYS_sendmsg, fd, (long)mh, f, 0, 0, 0));
}

/* recvmmsg/sendmmsg: the kernel's blocking rules, one message at a time
 * beyond the first batch: a blocking receive fills all vlen entries
 * (MSG_WAITFORONE: stops after the first), a send sends them all; an
 * error after some progress reports the progress. */
static int mmsg(int fd, struct mmsghdr *v, unsigned n, int f, int dir)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, true);
	long nr = dir ? SYS_sendmmsg : SYS_recvmmsg;

	if (!pd)
		return (int)ret(blocking(gp, nr, fd, (long)v, n, f, 0, 0));
	bool nb = f & MSG_DONTWAIT;
	unsigned got = 0;
	long r = 0;
	while (got < n) {
		int ff = (f & ~MSG_WAITFORONE) | MSG_DONTWAIT;
		if (dir && got)
			ff |= MSG_NOSIGNAL;
		struct call c = { nr, { fd, (long)(v + got), n - got, ff, 0 },
				  dir ? 3 : 0 };
		r = io(gp, fd, pd, dir, &c,
		       nb || (got > 0 && !dir && (f & MSG_WAITFORONE)), WF_IO);
		if (r == R_BLOCK && !got)
			return (int)ret(blocking(gp, nr, fd, (long)v, n, f, 0,
						 0));
		if (r <= 0)
			break;
		got += (unsigned)r;
		if (nb || (!dir && (f & MSG_WAITFORONE)))
			break;
	}
	if (got)
		return (int)got;
	return (int)ret(r == R_BLOCK ? -EAGAIN : r);
}

EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int f,
		    struct timespec *t)
{
	if (t)	/* rare: the kernel's own timeout rules */
		return (int)ret(blocking(curg(), SYS_recvmmsg, fd, (long)v, n,
					 f, (long)t, 0));
	return mmsg(fd, v, n, f, 0);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int f)
{
	return mmsg(fd, v, n, f, 1);
}

/* ---- creating, accepting, connecting ------------------------------------ */

EXPORT int socket(int domain, int type, int proto)
{
	long r = arch_syscall(SYS_socket, domain, type, proto, 0);

	if (r >= 0) {
		struct pd *pd = pd_get((int)r, true);
		if (pd)
			set_sock(pd, false, type & SOCK_NONBLOCK);
	}
	return (int)ret(r);
}

EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
	long r = arch_syscall(SYS_socketpair, domain, type, proto, (long)sv);

	if (r == 0) {
		for (int i = 0; i < 2; i++) {
			struct pd *pd = pd_get(sv[i], true);
			if (pd)
				set_sock(pd, false, type & SOCK_NONBLOCK);
		}
	}
	return (int)ret(r);
}

static void new_pipe(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		struct pd *pd = pd_get(fds[i], true);
		if (!pd)
			continue;
		atomic_store(&pd->armed, 0);
		atomic_store(&pd->owned, 0);
		atomic_store(&pd->kind, pipe_nowait ? K_PIPE : K_OTHER);
	}
}

EXPORT int pipe2(int fds[2], int flags)
{
	long r = arch_syscall(SYS_pipe2, (long)fds, flags, 0, 0);

	if (r == 0)
		new_pipe(fds);
	return (int)ret(r);
}

EXPORT int pipe(int fds[2])
{
	return pipe2(fds, 0);
}

EXPORT int listen(int fd, int backlog)
{
	long r = arch_syscall(SYS_listen, fd, backlog, 0, 0);
	int k;
	struct pd *pd;

	if (r < 0 || !gmp__active || !(pd = classify(fd, &k)) || k != K_SOCK ||
	    atomic_load(&pd->owned))
		return (int)ret(r);
	/* accept has no per-call flag: owned from now on (see the top) */
	long fl = arch_syscall(SYS_fcntl, fd, F_GETFL, 0, 0);
	if (fl >= 0 && !(fl & O_NONBLOCK) &&
	    arch_syscall(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK, 0) == 0) {
		atomic_store(&pd->nonblock, 0);
		atomic_store(&pd->owned, 1);
	}
	return (int)ret(r);
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *l, int flags)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, true);
	long r;

	if (pd && atomic_load(&pd->owned)) {
		struct call c = { SYS_accept4, { fd, (long)a, (long)l, flags }, 0 };
		r = io(gp, fd, pd, 0, &c, false, WF_IO);
	} else {
		r = blocking(gp, SYS_accept4, fd, (long)a, (long)l, flags, 0,
			     0);
	}
	if (r >= 0) {
		struct pd *npd = pd_get((int)r, true);
		if (npd) {
			set_sock(npd, false, flags & SOCK_NONBLOCK);
			/* the kernel copies the listener's timeouts */
			if (pd) {
				atomic_store(&npd->rcvtimeo,
					     atomic_load(&pd->rcvtimeo));
				atomic_store(&npd->sndtimeo,
					     atomic_load(&pd->sndtimeo));
			}
		}
	}
	return (int)ret(r);
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *l)
{
	return accept4(fd, a, l, 0);
}

EXPORT int connect(int fd, const struct sockaddr *a, socklen_t l)
{
	g *gp = curg();
	int k;
	struct pd *pd = netfd(gp, fd, &k, true);

	if (!pd)
		return (int)ret(blocking(gp, SYS_connect, fd, (long)a, l, 0, 0,
					 0));
	long fl = arch_syscall(SYS_fcntl, fd, F_GETFL, 0, 0);
	if (fl < 0)
		return (int)ret(fl);
	if ((fl & O_NONBLOCK) && !atomic_load(&pd->owned))
		return (int)ret(arch_syscall(SYS_connect, fd, (long)a, l, 0));
	if (atomic_load(&pd->owned) && atomic_load(&pd->nonblock))
		return (int)ret(arch_syscall(SYS_connect, fd, (long)a, l, 0));
	/* a blocking connect: non-blocking for the duration of the call */
	bool set = !(fl & O_NONBLOCK);
	if (set && arch_syscall(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK, 0) < 0)
		return (int)ret(blocking(gp, SYS_connect, fd, (long)a, l, 0, 0,
					 0));
	uint32_t gen = atomic_load(&pd->gen);
	int64_t deadline = deadline_of(pd, 1);
	bool started = false;
	long r;
	for (;;) {
		uint32_t seq = atomic_load(&pd->wseq);
		r = arch_syscall(SYS_connect, fd, (long)a, l, 0);
		/* after the first call, the next one reports the outcome:
		 * 0 or EISCONN (done), EALREADY (still going) or the error */
		if (started && (r == 0 || r == -EISCONN)) {
			r = 0;
			break;
		}
		if (r != -EINPROGRESS && r != -EALREADY && r != -EAGAIN)
			break;
		long w;
		if (r == -EAGAIN) {
			/* a Unix listener's backlog is full: nothing to poll,
			 * try again every millisecond */
			int64_t d = gmp__after(1000000);
			if (deadline >= 0 && deadline < d)
				d = deadline;
			wait_why(WAIT_POLL);
			w = gmp__wait_full(gp, &gp->sleepword, 0, d, WF_IO);
			if (w == -ETIMEDOUT) {
				if (deadline >= 0 && nanotime() >= deadline)
					break;	/* EAGAIN, as natively */
				w = 0;
			}
		} else {
			started = true;
			w = wait_ready(gp, fd, pd, &pd->wseq, seq, gen,
				       deadline, WF_IO);
			if (w == -EAGAIN) {	/* SO_SNDTIMEO passed */
				r = -EINPROGRESS;
				break;
			}
		}
		if (w == -ECANCELED) {
			if (set)
				arch_syscall(SYS_fcntl, fd, F_SETFL, fl, 0);
			cancel_now();
			w = 0;
		}
		if (w == R_BLOCK) {
			if (set)
				arch_syscall(SYS_fcntl, fd, F_SETFL, fl, 0);
			set = false;
			r = blocking(gp, SYS_connect, fd, (long)a, l, 0, 0, 0);
			if (r == -EISCONN)
				r = 0;
			break;
		}
		if (w < 0) {
			r = w;
			break;
		}
	}
	if (set)
		arch_syscall(SYS_fcntl, fd, F_SETFL, fl, 0);
	return (int)ret(r);
}

EXPORT int shutdown(int fd, int how)
{
	long r = arch_syscall(SYS_shutdown, fd, how, 0, 0);

	if (r == 0)
		netpoll_kick(fd);
	return (int)ret(r);
}

EXPORT int setsockopt(int fd, int level, int opt, const void *v,
		      socklen_t l)
{
	long r = arch_syscall6(SYS_setsockopt, fd, level, opt, (long)v, l, 0);

	if (r == 0 && level == SOL_SOCKET &&
	    (opt == SO_RCVTIMEO || opt == SO_SNDTIMEO ||
	     opt == SO_RCVTIMEO_NEW || opt == SO_SNDTIMEO_NEW)) {
		struct pd *pd = pd_get(fd, true);
		bool rcv = opt == SO_RCVTIMEO || opt == SO_RCVTIMEO_NEW;
		if (pd) {
			if (atomic_load(&pd->kind) != K_SOCK)
				learn(fd, pd);
			atomic_store(rcv ? &pd->rcvtimeo : &pd->sndtimeo,
				     timeo_ns(fd, rcv ? SO_RCVTIMEO
						     : SO_SNDTIMEO));
		}
	}
	return (int)ret(r);
}

/* ---- closing and duplicating ---------------------------------------------- */

EXPORT int close(int fd)
{
	g *gp = curg();

	if (!netpoll_fd_taken(fd))
		netpoll_close(fd);
	long r = blocking(gp, SYS_close, fd, 0, 0, 0, 0, 0);
	gmp__fd_new(fd);
	return (int)ret(r);
}

static int (*real_fclose)(FILE *);

EXPORT int fclose(FILE *f)
{
	int fd = f ? fileno(f) : -1;

	if (!real_fclose)
		real_fclose = dlsym(RTLD_NEXT, "fclose");
	if (fd >= 0 && !netpoll_fd_taken(fd))
		netpoll_close(fd);
	int r = real_fclose(f);
	if (fd >= 0)
		gmp__fd_new(fd);
	return r;
}

EXPORT int dup(int fd)
{
	long r = arch_syscall(SYS_dup, fd, 0, 0, 0);

	if (r >= 0)
		copy_view(fd, (int)r);
	return (int)ret(r);
}

EXPORT int dup3(int fd, int nfd, int flags)
{
	if (fd != nfd && !netpoll_fd_taken(nfd))
		netpoll_close(nfd);
	long r = arch_syscall(SYS_dup3, fd, nfd, flags, 0);
	if (r >= 0)
		copy_view(fd, nfd);
	return (int)ret(r);
}

EXPORT int dup2(int fd, int nfd)
{
	if (fd == nfd) {	/* dup3 refuses it; dup2 checks fd */
		long r = arch_syscall(SYS_fcntl, fd, F_GETFD, 0, 0);
		return (int)ret(r < 0 ? r : fd);
	}
	return dup3(fd, nfd, 0);
}

EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		unsigned top = (unsigned)pd_maxfd();
		for (unsigned fd = lo; fd <= hi && fd <= top; fd++)
			if (!netpoll_fd_taken((int)fd))
				netpoll_close((int)fd);
	}
	long r = arch_syscall(SYS_close_range, lo, hi, flags, 0);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC)) {
		unsigned top = (unsigned)pd_maxfd();
		for (unsigned fd = lo; fd <= hi && fd <= top; fd++)
			gmp__fd_new((int)fd);
	}
	return (int)ret(r);
}

EXPORT void closefrom(int lo)
{
	if (lo < 0)
		lo = 0;
	if (close_range((unsigned)lo, ~0u, 0) == 0)
		return;
	for (int fd = lo; fd < sysconf(_SC_OPEN_MAX); fd++)
		close(fd);
}

/* ---- flags --------------------------------------------------------------- */

static bool blocks_fcntl(int cmd)
{
	return cmd == F_SETLKW || cmd == F_OFD_SETLKW;
}

static int do_fcntl(int fd, int cmd, long arg)
{
	struct pd *pd = pd_get(fd, false);
	bool owned = pd && atomic_load(&pd->owned) &&
		     atomic_load(&pd->kind) == K_SOCK;
	long r;

	switch (cmd) {
	case F_GETFL:
		r = arch_syscall(SYS_fcntl, fd, cmd, 0, 0);
		if (r >= 0 && owned)
			r = (r & ~O_NONBLOCK) |
			    (atomic_load(&pd->nonblock) ? O_NONBLOCK : 0);
		return (int)ret(r);
	case F_SETFL:
		if (owned) {
			r = arch_syscall(SYS_fcntl, fd, cmd, arg | O_NONBLOCK,
					 0);
			if (r == 0)
				atomic_store(&pd->nonblock,
					     (arg & O_NONBLOCK) != 0);
			return (int)ret(r);
		}
		return (int)ret(arch_syscall(SYS_fcntl, fd, cmd, arg, 0));
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = arch_syscall(SYS_fcntl, fd, cmd, arg, 0);
		if (r >= 0)
			copy_view(fd, (int)r);
		return (int)ret(r);
	default:
		if (blocks_fcntl(cmd))
			return (int)ret(blocking(curg(), SYS_fcntl, fd, cmd, arg,
						 0, 0, 0));
		return (int)ret(arch_syscall(SYS_fcntl, fd, cmd, arg, 0));
	}
}

/* Every fcntl argument is an int or a pointer: passing the register on
 * as a long is what glibc's own wrapper does. */
EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return do_fcntl(fd, cmd, arg);
}

/* ioctls that wait for a terminal's output to drain */
static bool blocks_ioctl(unsigned long req)
{
	return req == TCSBRK || req == TCSBRKP || req == TIOCSBRK ||
	       req == TCSETSW || req == TCSETSF || req == TCSETAW ||
	       req == TCSETAF;
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;

	va_start(ap, req);
	long arg = va_arg(ap, long);
	va_end(ap);
	if (req == FIONBIO) {
		struct pd *pd = pd_get(fd, false);
		if (pd && atomic_load(&pd->owned) &&
		    atomic_load(&pd->kind) == K_SOCK) {
			int on = 1;
			long r = arch_syscall(SYS_ioctl, fd, req, (long)&on, 0);
			if (r == 0 && arg)
				atomic_store(&pd->nonblock,
					     *(const int *)arg != 0);
			return (int)ret(r);
		}
	}
	if (blocks_ioctl(req))
		return (int)ret(blocking(curg(), SYS_ioctl, fd, (long)req, arg,
					 0, 0, 0));
	return (int)ret(arch_syscall(SYS_ioctl, fd, (long)req, arg, 0));
}

/* ---- before exec: the flags the program believes in ---------------------- */

/* Owned sockets that survive an exec get their real O_NONBLOCK back to
 * the program's view (on = false), and lose it again after a spawn or a
 * failed exec (on = true). */
struct flags_arg {
	bool on;
};

static void owned_flags1(int fd, struct pd *pd, void *arg)
{
	bool on = ((struct flags_arg *)arg)->on;

	if (!atomic_load(&pd->owned) || atomic_load(&pd->nonblock) ||
	    atomic_load(&pd->kind) != K_SOCK)
		return;
	long fd_fl = arch_syscall(SYS_fcntl, fd, F_GETFD, 0, 0);
	if (fd_fl < 0 || (fd_fl & FD_CLOEXEC))
		return;
	long fl = arch_syscall(SYS_fcntl, fd, F_GETFL, 0, 0);
	if (fl >= 0)
		arch_syscall(SYS_fcntl, fd, F_SETFL,
			     on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK, 0);
}

/* Owned sockets that survive an exec get their real O_NONBLOCK back to
 * the program's view (on = false), and lose it again after a spawn or a
 * failed exec (on = true). */
static void owned_flags(bool on)
{
	struct flags_arg a = { on };

	pd_foreach(owned_flags1, &a);
}

void gmp__before_exec(void)
{
	sched_afterfork_parent();	/* spawn: this M is a parent now */
	owned_flags(false);
}

void gmp__after_exec(void)
{
	owned_flags(true);
}

/* ---- poll, select, epoll_wait ------------------------------------------- */

struct multi {
	struct pollwaiter w;
	struct pd *pd[MAXPOLL];
	int fd[MAXPOLL];
	int n;
};

static void multi_done(struct multi *mw)
{
	for (int i = 0; i < mw->n; i++)
		pd_delpoller(mw->pd[i], &mw->w);
	mw->n = 0;
}

/* Hang mw on fd. False: fd cannot be waited for here. */
static bool multi_add(struct multi *mw, int fd)
{
	if (mw->n == MAXPOLL)
		return false;
	for (int i = 0; i < mw->n; i++)
		if (mw->fd[i] == fd)
			return true;
	struct pd *pd = pd_get(fd, true);
	if (!pd)
		return false;
	pd_addpoller(pd, &mw->w);
	mw->pd[mw->n] = pd;
	mw->fd[mw->n++] = fd;
	int a = netpoll_arm(fd, pd);
	return a == 0 || a == -EBADF;	/* EBADF: the check reports it */
}

/* Repeat check() (a zero-timeout poll of the set, 0: nothing ready)
 * until it reports something, the deadline passes (0) or a signal
 * handler runs (-EINTR). */
static long multi_wait(g *gp, struct multi *mw, long (*check)(void *),
		       void *arg, int64_t deadline)
{
	long r;

	atomic_fetch_add(&netpoll_waiters, 1);
	for (;;) {
		uint32_t seq = atomic_load(&mw->w.word);
		r = check(arg);
		if (r != 0)
			break;
		atomic_fetch_add_explicit(&netpoll_parks, 1,
					  memory_order_relaxed);
		wait_why(WAIT_POLL);
		int w = gmp__wait_full(gp, &mw->w.word, seq, deadline,
				       WF_POINT | WF_SIGNAL);
		if (w == -ETIMEDOUT) {
			r = check(arg);
			break;
		}
		if (w == -EINTR) {
			r = -EINTR;
			break;
		}
		if (w == -ECANCELED) {
			atomic_fetch_sub(&netpoll_waiters, 1);
			multi_done(mw);
			cancel_now();
			atomic_fetch_add(&netpoll_waiters, 1);
			return -EINTR;	/* not reached: cancellation unwinds */
		}
	}
	atomic_fetch_sub(&netpoll_waiters, 1);
	multi_done(mw);
	return r;
}

struct pollarg {
	struct pollfd *f;
	nfds_t n;
};

static long poll_check(void *arg)
{
	struct pollarg *pa = arg;
	struct timespec zero = { 0, 0 };

	return arch_syscall6(SYS_ppoll, (long)pa->f, (long)pa->n, (long)&zero,
			     0, 8, 0);
}

static long do_poll(g *gp, struct pollfd *f, nfds_t n, int64_t deadline,
		    const struct timespec *ts, const sigset_t *mask)
{
	struct pollarg pa = { f, n };
	struct timespec copy = ts ? *ts : (struct timespec){ 0, 0 };
	long r;

	ts = ts ? &copy : NULL;	/* glibc does not write the time back */
	if (gmp__pending_for_mask(mask))
		return -EINTR;
	if (!gp || mask)
		return blocking(gp, SYS_ppoll, (long)f, (long)n, (long)ts,
				(long)mask, 8, 0);
	gmp__point_begin(gp);
	r = poll_check(&pa);
	if (r != 0 || deadline == 0)
		return r;
	struct multi mw = { 0 };
	for (nfds_t i = 0; i < n; i++) {
		if (f[i].fd >= 0 && !multi_add(&mw, f[i].fd)) {
			multi_done(&mw);
			return blocking(gp, SYS_ppoll, (long)f, (long)n,
					(long)ts, 0, 8, 0);
		}
	}
	return multi_wait(gp, &mw, poll_check, &pa, deadline);
}

EXPORT int poll(struct pollfd *f, nfds_t n, int timeout)
{
	g *gp = curg();
	struct timespec ts = { timeout / 1000, (timeout % 1000) * 1000000L };
	int64_t d = timeout < 0 ? -1
		    : timeout == 0 ? 0
				   : gmp__after((int64_t)timeout * 1000000);

	return (int)ret(do_poll(gp, f, n, d, timeout < 0 ? NULL : &ts, NULL));
}

EXPORT int ppoll(struct pollfd *f, nfds_t n, const struct timespec *t,
		 const sigset_t *mask)
{
	g *gp = curg();
	int64_t d = -1;

	if (t) {
		if (!ts_valid(t) || t->tv_sec < 0) {
			errno = EINVAL;
			return -1;
		}
		d = t->tv_sec == 0 && t->tv_nsec == 0 ? 0 : gmp__after(ts_ns(t));
	}
	return (int)ret(do_poll(gp, f, n, d, t, mask));
}

struct selarg {
	int n;
	fd_set *set[3], save[3];
};

static long select_check(void *arg)
{
	struct selarg *s = arg;
	struct timespec zero = { 0, 0 };

	for (int i = 0; i < 3; i++)
		if (s->set[i])
			*s->set[i] = s->save[i];
	return arch_syscall6(SYS_pselect6, s->n, (long)s->set[0],
			     (long)s->set[1], (long)s->set[2], (long)&zero, 0);
}

static long do_select(g *gp, int n, fd_set *r, fd_set *w, fd_set *e,
		      int64_t deadline, const struct timespec *ts,
		      const sigset_t *mask)
{
	struct { const sigset_t *m; size_t sz; } sm = { mask, 8 };
	struct selarg s = { .n = n, .set = { r, w, e } };

	if (gmp__pending_for_mask(mask))
		return -EINTR;
	if (!gp || mask || n < 0 || n > FD_SETSIZE)
		return blocking(gp, SYS_pselect6, n, (long)r, (long)w, (long)e,
				(long)ts, mask ? (long)&sm : 0);
	gmp__point_begin(gp);
	for (int i = 0; i < 3; i++)
		if (s.set[i])
			s.save[i] = *s.set[i];
	long res = select_check(&s);
	if (res != 0 || deadline == 0)
		return res;
	struct multi mw = { 0 };
	for (int fd = 0; fd < n; fd++) {
		bool in = false;
		for (int i = 0; i < 3; i++)
			in |= s.set[i] && FD_ISSET(fd, &s.save[i]);
		if (in && !multi_add(&mw, fd)) {
			multi_done(&mw);
			for (int i = 0; i < 3; i++)
				if (s.set[i])
					*s.set[i] = s.save[i];
			return blocking(gp, SYS_pselect6, n, (long)r, (long)w,
					(long)e, (long)ts, 0);
		}
	}
	res = multi_wait(gp, &mw, select_check, &s, deadline);
	if (res < 0)	/* EINTR: the sets are left as the program gave them */
		for (int i = 0; i < 3; i++)
			if (s.set[i])
				*s.set[i] = s.save[i];
	return res;
}

EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	g *gp = curg();
	int64_t d = -1;
	struct timespec ts;

	if (t) {
		if (t->tv_sec < 0 || t->tv_usec < 0 || t->tv_usec >= 1000000) {
			errno = EINVAL;
			return -1;
		}
		ts.tv_sec = t->tv_sec;
		ts.tv_nsec = t->tv_usec * 1000;
		d = ts.tv_sec == 0 && ts.tv_nsec == 0 ? 0 : gmp__after(ts_ns(&ts));
	}
	long res = do_select(gp, n, r, w, e, d, t ? &ts : NULL, NULL);
	if (t && gp) {	/* Linux writes back the time left */
		int64_t left = d <= 0 ? 0 : d - nanotime();
		if (left < 0 || res == 0)
			left = 0;
		t->tv_sec = left / 1000000000;
		t->tv_usec = left % 1000000000 / 1000;
	} else if (t) {
		t->tv_sec = ts.tv_sec;
		t->tv_usec = ts.tv_nsec / 1000;
	}
	return (int)ret(res);
}

EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e,
		   const struct timespec *t, const sigset_t *mask)
{
	int64_t d = -1;

	if (t) {
		if (!ts_valid(t) || t->tv_sec < 0) {
			errno = EINVAL;
			return -1;
		}
		d = t->tv_sec == 0 && t->tv_nsec == 0 ? 0 : gmp__after(ts_ns(t));
	}
	struct timespec copy = t ? *t : (struct timespec){ 0, 0 };
	return (int)ret(do_select(curg(), n, r, w, e, d, t ? &copy : NULL,
				  mask));
}

struct eparg {
	int ep;
	struct epoll_event *ev;
	int n;
};

static long epoll_check(void *arg)
{
	struct eparg *e = arg;

	return arch_syscall6(SYS_epoll_pwait, e->ep, (long)e->ev, e->n, 0, 0,
			     8);
}

EXPORT int epoll_pwait(int ep, struct epoll_event *ev, int n, int timeout,
		       const sigset_t *mask)
{
	g *gp = curg();
	struct eparg ea = { ep, ev, n };

	if (gmp__pending_for_mask(mask))
		return (int)ret(-EINTR);
	if (!gp || mask)
		return (int)ret(blocking(gp, SYS_epoll_pwait, ep, (long)ev, n,
					 timeout, (long)mask, 8));
	gmp__point_begin(gp);
	long r = epoll_check(&ea);
	if (r != 0 || timeout == 0)
		return (int)ret(r);
	int64_t d = timeout < 0 ? -1 : gmp__after((int64_t)timeout * 1000000);
	struct multi mw = { 0 };
	if (!multi_add(&mw, ep)) {
		multi_done(&mw);
		return (int)ret(blocking(gp, SYS_epoll_pwait, ep, (long)ev, n,
					 timeout, 0, 8));
	}
	return (int)ret(multi_wait(gp, &mw, epoll_check, &ea, d));
}

EXPORT int epoll_wait(int ep, struct epoll_event *ev, int n, int timeout)
{
	return epoll_pwait(ep, ev, n, timeout, NULL);
}

/* ---- start-up -------------------------------------------------------------- */

void gmp__net_init(void)
{
	int fds[2];
	char c = 0;
	struct iovec v = { &c, 1 };

	/* RWF_NOWAIT on an empty pipe must say EAGAIN, and a write must
	 * go through: then pipes can be polled without touching flags */
	if (arch_syscall(SYS_pipe2, (long)fds, O_CLOEXEC, 0, 0) != 0)
		return;
	long r = arch_syscall6(SYS_preadv2, fds[0], (long)&v, 1, -1, -1,
			       RWF_NOWAIT);
	long w = arch_syscall6(SYS_pwritev2, fds[1], (long)&v, 1, -1, -1,
			       RWF_NOWAIT);
	pipe_nowait = r == -EAGAIN && w == 1;
	arch_syscall(SYS_close, fds[0], 0, 0, 0);
	arch_syscall(SYS_close, fds[1], 0, 0, 0);
	debugf("pipes %s polled", pipe_nowait ? "are" : "cannot be");
}
