/*
 * futex.c: syscall(2), for programs that call the kernel directly: Rust's
 * standard library and libstdc++'s atomic waits use syscall(SYS_futex).
 * Process-private FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAKE,
 * FUTEX_WAKE_BITSET, FUTEX_REQUEUE and FUTEX_CMP_REQUEUE park and wake Gs
 * on core's wait table (core/sema.c), with the kernel's results and
 * errors. Shared futexes (they may be shared with another process), the
 * PI and other operations, and the system calls that may block go to the
 * kernel bracketed with entersyscall/exitsyscall; every other number goes
 * straight to the kernel.
 */
#include <dlfcn.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include "shim.h"

static long (*real_syscall)(long, ...);

static long fail(long r)
{
	errno = (int)-r;
	return -1;
}

/* A futex timeout as a CLOCK_MONOTONIC deadline: relative for
 * FUTEX_WAIT, absolute (on the clock the op names) for WAIT_BITSET. */
static int futex_deadline(int cmd, int op, const struct timespec *ts,
			  int64_t *d)
{
	*d = -1;
	if (!ts)
		return 0;
	if (!ts_valid(ts) || ts->tv_sec < 0)
		return -EINVAL;
	if (cmd == FUTEX_WAIT)
		*d = gmp__after(ts_ns(ts));
	else
		*d = gmp__deadline(op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME
							     : CLOCK_MONOTONIC,
				   ts);
	return 0;
}

/* The G-level futex, or 1 when the kernel must do it. */
static long gfutex(long a1, long a2, long a3, long a4, long a5, long a6,
		   bool *handled)
{
	uint32_t *uaddr = (uint32_t *)a1;
	int op = (int)a2, cmd = op & FUTEX_CMD_MASK;
	uint32_t val = (uint32_t)a3;
	int64_t d;
	long r;
	int moved;

	*handled = (op & FUTEX_PRIVATE_FLAG) != 0;
	if (!*handled)
		return 0;
	if ((uintptr_t)uaddr % 4)
		return -EINVAL;
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if (cmd == FUTEX_WAIT_BITSET && (uint32_t)a6 == 0)
			return -EINVAL;
		if ((op & FUTEX_CLOCK_REALTIME) && cmd == FUTEX_WAIT)
			return -ENOSYS;	/* as the kernel */
		if ((r = futex_deadline(cmd, op, (void *)a4, &d)))
			return r;
		r = gfutex_wait_bitset(uaddr, val, d,
				       cmd == FUTEX_WAIT ? ~0u : (uint32_t)a6);
		return r == -EAGAIN ? -EAGAIN : r;
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		if (cmd == FUTEX_WAKE_BITSET && (uint32_t)a6 == 0)
			return -EINVAL;
		return gfutex_wake_bitset(uaddr, (int)val > 0 ? (int)val : 0,
					  cmd == FUTEX_WAKE ? ~0u
							    : (uint32_t)a6);
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE:
		if ((int)val < 0 || (int)a4 < 0)
			return -EINVAL;
		r = gfutex_requeue(uaddr, (void *)a5, (int)val, (int)a4,
				   cmd == FUTEX_CMP_REQUEUE, (uint32_t)a6,
				   &moved);
		if (r < 0)
			return r;
		return cmd == FUTEX_CMP_REQUEUE ? r + moved : r;
	default:
		*handled = false;
		return 0;
	}
}

static bool blocking(long nr)
{
	switch (nr) {
	case SYS_read: case SYS_write: case SYS_readv: case SYS_writev:
	case SYS_pread64: case SYS_pwrite64: case SYS_preadv:
	case SYS_pwritev: case SYS_accept: case SYS_accept4:
	case SYS_connect: case SYS_recvfrom: case SYS_sendto:
	case SYS_recvmsg: case SYS_sendmsg: case SYS_recvmmsg:
	case SYS_sendmmsg: case SYS_wait4: case SYS_waitid: case SYS_poll:
	case SYS_ppoll: case SYS_select: case SYS_pselect6:
	case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_futex:
	case SYS_flock: case SYS_fsync: case SYS_fdatasync: case SYS_pause:
	case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait: case SYS_msgrcv:
	case SYS_msgsnd: case SYS_semop: case SYS_semtimedop:
	case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_openat:
	case SYS_open:
		return true;
	default:
		return false;
	}
}

EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a1, a2, a3, a4, a5, a6, r;
	bool handled = false;

	va_start(ap, nr);
	a1 = va_arg(ap, long);
	a2 = va_arg(ap, long);
	a3 = va_arg(ap, long);
	a4 = va_arg(ap, long);
	a5 = va_arg(ap, long);
	a6 = va_arg(ap, long);
	va_end(ap);
	if (!real_syscall)
		real_syscall = dlsym(RTLD_NEXT, "syscall");
	if (!curg())
		return real_syscall(nr, a1, a2, a3, a4, a5, a6);
	if (nr == SYS_futex) {
		r = gfutex(a1, a2, a3, a4, a5, a6, &handled);
		if (handled)
			return r < 0 ? fail(r) : r;
	}
	if (!blocking(nr) || !entersyscall())
		return real_syscall(nr, a1, a2, a3, a4, a5, a6);
	r = real_syscall(nr, a1, a2, a3, a4, a5, a6);
	int e = errno;
	exitsyscall();
	errno = e;
	return r;
}
