/*
 * fileio.c: calls that may block in the kernel, bracketed with
 * entersyscall/exitsyscall (core/syscall.c, DESIGN.md §4 class 2): file
 * I/O at an offset, opening files, waiting for children, signal waits,
 * file locks, System V IPC, sendfile and splice, terminal drains, the
 * resolver, system(). While one of them blocks, sysmon hands the caller's
 * P to another M, so the other Gs keep running. read, write and the
 * socket calls are in net.c (sockets and pipes go to the netpoller, other
 * files come back here as system calls); fcntl and ioctl too.
 *
 * The exec family, posix_spawn, system and popen first give listening
 * sockets the flags the program believes they have (net.c).
 *
 * glibc calls its internal read/write directly from stdio (fgets, fwrite)
 * and other functions, not through these names: those block their M
 * without a handoff until sysmon notices (class 3, core/sysmon.c).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <resolv.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "shim.h"

/* X(ret, name, (params), (args)) for every bracketed call */
#define SYSCALLS(X)                                                           \
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
	X(int, pause, (void), ())                                            \
	X(int, lockf, (int fd, int cmd, off_t len), (fd, cmd, len))         \
	X(int, lockf64, (int fd, int cmd, off_t len), (fd, cmd, len))       \
	X(ssize_t, sendfile, (int o, int i, off_t *off, size_t n),          \
	  (o, i, off, n))                                                    \
	X(ssize_t, sendfile64, (int o, int i, off_t *off, size_t n),        \
	  (o, i, off, n))                                                    \
	X(ssize_t, splice, (int fi, loff_t *oi, int fo, loff_t *oo, size_t n, \
			    unsigned f), (fi, oi, fo, oo, n, f))             \
	X(ssize_t, tee, (int fi, int fo, size_t n, unsigned f),             \
	  (fi, fo, n, f))                                                    \
	X(ssize_t, copy_file_range, (int fi, loff_t *oi, int fo, loff_t *oo, \
				     size_t n, unsigned f),                  \
	  (fi, oi, fo, oo, n, f))                                            \
	X(ssize_t, msgrcv, (int q, void *msg, size_t n, long t, int f),      \
	  (q, msg, n, t, f))                                                   \
	X(int, msgsnd, (int q, const void *msg, size_t n, int f),           \
	  (q, msg, n, f))                                                    \
	X(int, semop, (int s, struct sembuf *o, size_t n), (s, o, n))        \
	X(int, semtimedop, (int s, struct sembuf *o, size_t n,              \
			    const struct timespec *t), (s, o, n, t))         \
	X(int, tcdrain, (int fd), (fd))

/* Bracketed, not cancellation points: flock and the resolver (glibc's
 * resolver makes many calls of its own; cancellation inside them is
 * glibc's business, acted on at the program's next cancellation point) */
#define NOCANCEL(X)                                                          \
	X(int, flock, (int fd, int op), (fd, op))                            \
	X(int, getaddrinfo, (const char *n, const char *s,                   \
			     const struct addrinfo *h, struct addrinfo **r), \
	  (n, s, h, r))                                                      \
	X(int, getnameinfo, (const struct sockaddr *a, socklen_t l, char *h, \
			     socklen_t hl, char *s, socklen_t sl, int f),    \
	  (a, l, h, hl, s, sl, f))                                           \
	X(struct hostent *, gethostbyname, (const char *n), (n))             \
	X(struct hostent *, gethostbyname2, (const char *n, int af), (n, af)) \
	X(struct hostent *, gethostbyaddr, (const void *a, socklen_t l,      \
					    int t), (a, l, t))               \
	X(int, gethostbyname_r, (const char *n, struct hostent *h, char *b,  \
				 size_t bl, struct hostent **r, int *e),     \
	  (n, h, b, bl, r, e))                                               \
	X(int, gethostbyname2_r, (const char *n, int af, struct hostent *h,  \
				  char *b, size_t bl, struct hostent **r,    \
				  int *e), (n, af, h, b, bl, r, e))          \
	X(int, gethostbyaddr_r, (const void *a, socklen_t l, int t,          \
				 struct hostent *h, char *b, size_t bl,      \
				 struct hostent **r, int *e),                \
	  (a, l, t, h, b, bl, r, e))                                         \
	X(int, res_query, (const char *d, int c, int t, unsigned char *a,    \
			   int l), (d, c, t, a, l))                          \
	X(int, res_search, (const char *d, int c, int t, unsigned char *a,   \
			    int l), (d, c, t, a, l))

#define DECLARE(ret, name, params, args) ret (*name) params;
static struct {
	SYSCALLS(DECLARE)
	NOCANCEL(DECLARE)
	int (*system)(const char *);
	FILE *(*popen)(const char *, const char *);
	int (*posix_spawn)(pid_t *, const char *,
			   const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[],
			   char *const[]);
	int (*posix_spawnp)(pid_t *, const char *,
			    const posix_spawn_file_actions_t *,
			    const posix_spawnattr_t *, char *const[],
			    char *const[]);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
} rf;

#define RESOLVE(ret, name, params, args)                                      \
	if (!(rf.name = dlsym(RTLD_NEXT, #name)))                             \
		throw("cannot find the real " #name);
#define RESOLVE_OPT(ret, name, params, args)                                  \
	rf.name = dlsym(RTLD_NEXT, #name);
#define RR(name) RESOLVE(, name, , )
void gmp__resolve_fileio(void)
{
	SYSCALLS(RESOLVE)
	NOCANCEL(RESOLVE_OPT)	/* res_* may live in libresolv only */
	RR(system) RR(popen) RR(posix_spawn) RR(posix_spawnp) RR(execve)
	RR(fexecve) RR(execvpe)
	gmp__net_init();
}

/* A cancellation point: see shims/cancel.c */
#define SHIM(ret, name, params, args)                                         \
	EXPORT ret name params                                                \
	{                                                                     \
		g *gp_ = curg();                                              \
		if (!rf.name)	/* called before libgmp's constructor */      \
			gmp__resolve_fileio();                                \
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

#define SHIM_NOCANCEL(ret, name, params, args)                                \
	EXPORT ret name params                                                \
	{                                                                     \
		if (!rf.system)	/* called before libgmp's constructor */      \
			gmp__resolve_fileio();                                \
		if (!rf.name) {                                               \
			errno = ENOSYS;                                       \
			return (ret)-1;                                       \
		}                                                             \
		if (!curg() || !entersyscall())                               \
			return rf.name args;                                  \
		ret ret_ = rf.name args;                                      \
		int err_ = errno;                                             \
		exitsyscall();                                                \
		errno = err_;                                                 \
		return ret_;                                                  \
	}
NOCANCEL(SHIM_NOCANCEL)

/* ---- opening files: bracketed (a FIFO's open waits for its peer, NFS
 * may take long), and the new fd's number is forgotten by the poller ---- */

static bool has_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define OPEN_BODY(call)                                                       \
	g *gp = curg();                                                       \
	int cp = gp ? gmp__syscall_begin(gp) : 0;                             \
	bool in = gp && entersyscall();                                       \
	int r = call;                                                         \
	int e = errno;                                                        \
	if (in)                                                               \
		exitsyscall();                                                \
	if (gp)                                                               \
		gmp__syscall_end(gp, cp, r == -1 && e == EINTR);              \
	if (r >= 0)                                                           \
		gmp__fd_new(r);                                               \
	errno = e;                                                            \
	return r

#define MODE_ARG(flags)                                                       \
	mode_t mode = 0;                                                      \
	if (has_mode(flags)) {                                                \
		va_list ap;                                                   \
		va_start(ap, flags);                                          \
		mode = va_arg(ap, mode_t);                                    \
		va_end(ap);                                                   \
	}

/* Raw system calls: allocators (jemalloc) open files from their first
 * malloc, which can come before libgmp has looked up a single symbol. */
static int sys_openat(int dir, const char *path, int flags, mode_t mode)
{
	long r = arch_syscall(SYS_openat, dir, (long)path, flags, mode);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

EXPORT int open(const char *path, int flags, ...)
{
	MODE_ARG(flags)
	OPEN_BODY(sys_openat(AT_FDCWD, path, flags, mode));
}

EXPORT int open64(const char *path, int flags, ...)
{
	MODE_ARG(flags)
	OPEN_BODY(sys_openat(AT_FDCWD, path, flags, mode));
}

EXPORT int openat(int dir, const char *path, int flags, ...)
{
	MODE_ARG(flags)
	OPEN_BODY(sys_openat(dir, path, flags, mode));
}

EXPORT int openat64(int dir, const char *path, int flags, ...)
{
	MODE_ARG(flags)
	OPEN_BODY(sys_openat(dir, path, flags, mode));
}

EXPORT int creat(const char *path, mode_t mode)
{
	OPEN_BODY(sys_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC,
			     mode));
}

EXPORT int creat64(const char *path, mode_t mode)
{
	OPEN_BODY(sys_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC,
			     mode));
}

/* ---- running programs: the flags sockets had before libgmp (net.c) ---- */

/* Any of these may come before libgmp's constructor. */
static void resolved(void)
{
	if (!rf.execve)
		gmp__resolve_fileio();
}

EXPORT int system(const char *cmd)
{
	resolved();
	g *gp = curg();

	if (!gp || !cmd)
		return rf.system(cmd);
	gmp__before_exec();
	int cp = gmp__syscall_begin(gp);
	bool in = entersyscall();
	int r = rf.system(cmd);
	int e = errno;
	if (in)
		exitsyscall();
	gmp__syscall_end(gp, cp, false);
	gmp__after_exec();
	errno = e;
	return r;
}

EXPORT FILE *popen(const char *cmd, const char *mode)
{
	resolved();
	gmp__before_exec();
	FILE *f = rf.popen(cmd, mode);
	int e = errno;
	gmp__after_exec();
	if (f)
		gmp__fd_new(fileno(f));
	errno = e;
	return f;
}

EXPORT int posix_spawn(pid_t *pid, const char *path,
		       const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *at, char *const argv[],
		       char *const envp[])
{
	resolved();
	gmp__before_exec();
	int r = rf.posix_spawn(pid, path, fa, at, argv, envp);
	gmp__after_exec();
	return r;
}

EXPORT int posix_spawnp(pid_t *pid, const char *file,
			const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *at, char *const argv[],
			char *const envp[])
{
	resolved();
	gmp__before_exec();
	int r = rf.posix_spawnp(pid, file, fa, at, argv, envp);
	gmp__after_exec();
	return r;
}

/* vfork is carried out as fork: a vfork child shares its parent's memory
 * and would run libgmp's shims on the parent's runtime (its fd table, its
 * signal actions, its Ms) while the parent's other threads use it, and a
 * program that only calls exec or _exit after vfork cannot tell a copy
 * from a share. What it can tell is the order, which is kept: the calling
 * thread goes on only once the child has exec'd or exited, seen as EOF on
 * a close-on-exec pipe (a child that closes every fd, as Python's
 * close_fds does, lets it go on a little earlier). pthread_atfork handlers
 * run, as for fork. The wait is a system call for the scheduler: the
 * thread's P goes on running the others. */
static pid_t fork_waiting_for_exec(void)
{
	int pfd[2];
	bool wait = arch_syscall(SYS_pipe2, (long)pfd, O_CLOEXEC, 0, 0) == 0;
	pid_t pid = fork();
	int e = errno;

	if (pid == 0) {
		if (wait)
			arch_syscall(SYS_close, pfd[0], 0, 0, 0);
		return 0;
	}
	if (!wait)
		return pid;
	arch_syscall(SYS_close, pfd[1], 0, 0, 0);
	if (pid > 0) {
		bool in = curg() && entersyscall();
		char c;
		while (arch_syscall(SYS_read, pfd[0], (long)&c, 1, 0) == -EINTR)
			;
		if (in)
			exitsyscall();
	}
	arch_syscall(SYS_close, pfd[0], 0, 0, 0);
	errno = e;
	return pid;
}

EXPORT pid_t vfork(void)
{
	return fork_waiting_for_exec();
}

pid_t __vfork(void);
EXPORT pid_t __vfork(void)
{
	return fork_waiting_for_exec();
}

/* exec also keeps an ignored preemption signal ignored (gmp__signals_exec;
 * not around a spawn, where the parent goes on and must stay preemptible:
 * a spawned child gets the default action, which for SIGURG is also to
 * ignore it) */
#define EXEC_BODY(call)                                                       \
	resolved();                                                           \
	gmp__before_exec();                                                   \
	gmp__signals_exec(true);                                              \
	int r = call;                                                         \
	int e = errno;                                                        \
	gmp__signals_exec(false);                                             \
	gmp__after_exec();                                                    \
	errno = e;                                                            \
	return r

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	EXEC_BODY(rf.execve(path, argv, envp));
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	EXEC_BODY(rf.fexecve(fd, argv, envp));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	EXEC_BODY(rf.execvpe(file, argv, envp));
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* execl, execle, execlp: glibc's own call its internal execve, so each
 * is rebuilt here on the interposed one */
#define ARGV_FROM_LIST(first, ap, argv, extra)                                \
	size_t n_ = 1;                                                        \
	va_start(ap, first);                                                  \
	while (va_arg(ap, char *))                                            \
		n_++;                                                         \
	va_end(ap);                                                           \
	char *argv[n_ + 1];                                                   \
	va_start(ap, first);                                                  \
	argv[0] = (char *)first;                                              \
	for (size_t i_ = 1; i_ <= n_; i_++)                                   \
		argv[i_] = va_arg(ap, char *);                                \
	extra;                                                                \
	va_end(ap)

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;

	ARGV_FROM_LIST(arg, ap, argv, (void)0);
	return execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;

	ARGV_FROM_LIST(arg, ap, argv, (void)0);
	return execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char *const *envp;

	ARGV_FROM_LIST(arg, ap, argv, envp = va_arg(ap, char *const *));
	return execve(path, argv, envp);
}
