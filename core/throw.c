/*
 * throw.c: fatal errors and diagnostic lines. Go: throw, print.
 * Everything here formats into a stack buffer and writes with a raw
 * write(2): it works on g0, in signal handlers and with locks held.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core.h"

static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n = strlen(prefix);

	memcpy(buf, prefix, n);
	int k = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	if (k < 0)
		k = 0;
	n += (size_t)k < sizeof buf - n - 1 ? (size_t)k : sizeof buf - n - 2;
	buf[n++] = '\n';
	arch_syscall(SYS_write, 2, buf, n, 0);
}

void debugf(const char *fmt, ...)
{
	va_list ap;

	if (!cfg.debug)
		return;
	va_start(ap, fmt);
	emit("libgmp: ", fmt, ap);
	va_end(ap);
}

void warnf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("libgmp: ", fmt, ap);
	va_end(ap);
}

_Noreturn void throw(const char *msg)
{
	static const char pre[] = "libgmp: fatal: ";

	arch_syscall(SYS_write, 2, pre, sizeof pre - 1, 0);
	arch_syscall(SYS_write, 2, msg, strlen(msg), 0);
	arch_syscall(SYS_write, 2, "\n", 1, 0);
	/* raw kill of the process with SIGABRT, default action restored */
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigaction(SIGABRT, &sa, NULL);
	arch_syscall(SYS_kill, arch_syscall(SYS_getpid, 0, 0, 0, 0), SIGABRT,
		     0, 0);
	arch_syscall(SYS_exit_group, 134, 0, 0, 0);
	__builtin_unreachable();
}
