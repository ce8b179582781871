/*
 * fileio.c: calls that may block in the kernel, bracketed with
 * entersyscall/exitsyscall (core/syscall.c): file, pipe and socket I/O,
 * waiting for children, polling, signal waits and file locks. While one
 * of them blocks, sysmon hands the caller's P to another M, so the other
 * Gs keep running. No fd is made non-blocking here: sockets move to the
 * netpoller with issue 5.
 *
 * glibc calls its internal read/write directly from stdio (fgets, fwrite)
 * and other functions, not through these names: those block their M
 * without a handoff (DESIGN.md §4 class 3, issue 5's sysmon detection).
 */
#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "shim.h"

/* X(ret, name, (params), (args)) for every bracketed call */
#define SYSCALLS(X)                                                           \
	X(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n))            \
	X(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))     \
	X(ssize_t, readv, (int fd, const struct iovec *v, int n), (fd, v, n)) \
	X(ssize_t, writev, (int fd, const struct iovec *v, int n),           \
	  (fd, v, n))                                                        \
	X(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o)) \
	X(ssize_t, pread64, (int fd, void *b, size_t n, off_t o),            \
	  (fd, b, n, o))                                                     \
	X(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o),       \
	  (fd, b, n, o))                                                     \
	X(ssize_t, pwrite64, (int fd, const void *b, size_t n, off_t o),     \
	  (fd, b, n, o))                                                     \
	X(ssize_t, preadv, (int fd, const struct iovec *v, int n, off_t o),  \
	  (fd, v, n, o))                                                     \
	X(ssize_t, pwritev, (int fd, const struct iovec *v, int n, off_t o), \
	  (fd, v, n, o))                                                     \
	X(int, fsync, (int fd), (fd))                                        \
	X(int, fdatasync, (int fd), (fd))                                    \
	X(pid_t, wait, (int *st), (st))                                      \
	X(pid_t, waitpid, (pid_t pid, int *st, int o), (pid, st, o))         \
	X(pid_t, wait3, (int *st, int o, struct rusage *ru), (st, o, ru))    \
	X(pid_t, wait4, (pid_t pid, int *st, int o, struct rusage *ru),      \
	  (pid, st, o, ru))                                                  \
	X(int, waitid, (idtype_t t, id_t id, siginfo_t *si, int o),          \
	  (t, id, si, o))                                                    \
	X(int, poll, (struct pollfd *f, nfds_t n, int t), (f, n, t))         \
	X(int, ppoll, (struct pollfd *f, nfds_t n, const struct timespec *t, \
		       const sigset_t *s), (f, n, t, s))                     \
	X(int, select, (int n, fd_set *r, fd_set *w, fd_set *e,              \
			struct timeval *t), (n, r, w, e, t))                 \
	X(int, pselect, (int n, fd_set *r, fd_set *w, fd_set *e,             \
			 const struct timespec *t, const sigset_t *s),       \
	  (n, r, w, e, t, s))                                                \
	X(int, epoll_wait, (int e, struct epoll_event *v, int n, int t),     \
	  (e, v, n, t))                                                      \
	X(int, epoll_pwait, (int e, struct epoll_event *v, int n, int t,     \
			     const sigset_t *s), (e, v, n, t, s))            \
	X(int, accept, (int fd, struct sockaddr *a, socklen_t *l), (fd, a, l)) \
	X(int, accept4, (int fd, struct sockaddr *a, socklen_t *l, int f),   \
	  (fd, a, l, f))                                                     \
	X(int, connect, (int fd, const struct sockaddr *a, socklen_t l),     \
	  (fd, a, l))                                                        \
	X(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f))  \
	X(ssize_t, recvfrom, (int fd, void *b, size_t n, int f,              \
			      struct sockaddr *a, socklen_t *l),             \
	  (fd, b, n, f, a, l))                                               \
	X(ssize_t, recvmsg, (int fd, struct msghdr *mh, int f), (fd, mh, f))   \
	X(ssize_t, send, (int fd, const void *b, size_t n, int f),           \
	  (fd, b, n, f))                                                     \
	X(ssize_t, sendto, (int fd, const void *b, size_t n, int f,          \
			    const struct sockaddr *a, socklen_t l),          \
	  (fd, b, n, f, a, l))                                               \
	X(ssize_t, sendmsg, (int fd, const struct msghdr *mh, int f),         \
	  (fd, mh, f))                                                       \
	X(int, pause, (void), ())                                            \
	X(int, sigwait, (const sigset_t *s, int *sig), (s, sig))             \
	X(int, sigwaitinfo, (const sigset_t *s, siginfo_t *i), (s, i))       \
	X(int, sigtimedwait, (const sigset_t *s, siginfo_t *i,               \
			      const struct timespec *t), (s, i, t))          \
	X(int, sigsuspend, (const sigset_t *s), (s))                         \
	X(int, lockf, (int fd, int cmd, off_t len), (fd, cmd, len))

#define DECLARE(ret, name, params, args) ret (*name) params;
static struct {
	SYSCALLS(DECLARE)
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*flock)(int, int);
} rf;

#define RESOLVE(ret, name, params, args)                                      \
	if (!(rf.name = dlsym(RTLD_NEXT, #name)))                             \
		throw("cannot find the real " #name);
void gmp__resolve_fileio(void)
{
	SYSCALLS(RESOLVE)
	if (!(rf.flock = dlsym(RTLD_NEXT, "flock")))
		throw("cannot find the real flock");
	rf.fcntl = dlsym(RTLD_NEXT, "fcntl");
	rf.fcntl64 = dlsym(RTLD_NEXT, "fcntl64");
	if (!rf.fcntl || !rf.fcntl64)
		throw("cannot find the real fcntl");
}

/* A cancellation point (all but flock): see shims/cancel.c */
#define SHIM(ret, name, params, args)                                         \
	EXPORT ret name params                                                \
	{                                                                     \
		g *gp_ = curg();                                              \
		if (!gp_)                                                     \
			return rf.name args;                                  \
		int cp_ = gmp__syscall_begin(gp_);                            \
		bool in_ = entersyscall();                                    \
		ret ret_ = rf.name args;                                      \
		int err_ = errno;                                             \
		if (in_)                                                      \
			exitsyscall();                                        \
		gmp__syscall_end(gp_, cp_, ret_ == (ret)-1 && err_ == EINTR); \
		errno = err_;                                                 \
		return ret_;                                                  \
	}
SYSCALLS(SHIM)

EXPORT int flock(int fd, int op)
{
	if (!curg() || !entersyscall())
		return rf.flock(fd, op);
	int r = rf.flock(fd, op);
	int e = errno;
	exitsyscall();
	errno = e;
	return r;
}

static bool fcntl_blocks(int cmd)
{
	return cmd == F_SETLKW || cmd == F_OFD_SETLKW;
}

static int do_fcntl(int (*f)(int, int, ...), int fd, int cmd, void *arg)
{
	g *gp = curg();

	if (!gp || !fcntl_blocks(cmd))
		return f(fd, cmd, arg);
	int cp = gmp__syscall_begin(gp);
	bool in = entersyscall();
	int r = f(fd, cmd, arg);
	int e = errno;
	if (in)
		exitsyscall();
	gmp__syscall_end(gp, cp, r == -1 && e == EINTR);
	errno = e;
	return r;
}

/* Every fcntl argument is an int or a pointer: passing the register on
 * as a pointer-sized value is what glibc's own wrapper does. */
EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(rf.fcntl, fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;

	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(rf.fcntl64, fd, cmd, arg);
}
