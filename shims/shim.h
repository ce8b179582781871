/*
 * shim.h: helpers every shim shares: who is calling (a G or not), time
 * conversions, and the wait/wake pair that parks a G or, for a caller that
 * is not a G, polls.
 */
#ifndef GMP_SHIM_H
#define GMP_SHIM_H

#include <errno.h>
#include <time.h>
#include "../preload/real.h"
#include "core.h"

#pragma GCC visibility push(hidden)

#define EXPORT __attribute__((visibility("default")))

/* The calling G, or NULL when the caller is not a G (the runtime is not up,
 * a thread glibc started for itself, a g0). */
static inline g *curg(void)
{
	g *gp = getg();

	return gp && !gp->is_g0 ? gp : NULL;
}

/* A preemption point (core/preempt.c): a G that sysmon asked to yield
 * while it was inside libgmp or glibc yields here, in the shims a tight
 * loop of lock and unlock calls never leaves otherwise (Go's check at a
 * function's prologue). One load on the fast path. */
static inline void preempt_point(void)
{
	g *gp = getg();

	if (__builtin_expect(gp && gp->preempt_pending, 0) && !gp->is_g0 &&
	    gp->rt == 0) {
		gp->preempt_pending = false;
		gmp_preempt_park();
	}
}

/* Name the reason of the caller's next wait (G dumps, traces, the
 * deadlock check). Slow paths only: right before a wait. */
static inline void wait_why(enum waitreason why)
{
	g *gp = getg();

	if (gp)
		gp->why_next = (uint8_t)why;
}

/* Validate a timespec as POSIX does for absolute and relative times. */
static inline bool ts_valid(const struct timespec *ts)
{
	return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

static inline int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* An absolute time on clk as a CLOCK_MONOTONIC deadline. A CLOCK_REALTIME
 * deadline is converted when the wait starts: a later clock step does not
 * move it (documented in the README). Returns -1 for a bad clock. */
int64_t gmp__deadline(clockid_t clk, const struct timespec *abstime);
/* now + rel, saturating. */
int64_t gmp__after(int64_t rel_ns);

/* Wait while *addr == val (G: park; other callers: poll). Returns 0,
 * -EAGAIN or -ETIMEDOUT like gfutex_wait. */
int gmp__wait(const void *addr, uint32_t val, int64_t deadline);
int gmp__wake(const void *addr, int n);

/* Waiting at G level (cancel.c). gmp__wait_full parks while *addr == val
 * and returns 0 (woken, or spuriously: re-check), -EAGAIN, -ETIMEDOUT,
 * -EINTR (WF_SIGNAL: a signal handler ran, the call fails with EINTR) or
 * -ECANCELED (WF_POINT: a cancellation is pending: put the object in
 * order, then call gmp__testcancel). Handlers of signals sent to the G
 * with pthread_kill run inside it, at G level. With asynchronous
 * cancellation any wait acts on a request at once. */
#define WF_POINT	1u	/* a cancellation point */
#define WF_SIGNAL	2u	/* a signal handler makes it fail with EINTR */
#define WF_RESTARTABLE	4u	/* ... unless SA_RESTART and no deadline */
int gmp__wait_full(g *gp, const void *addr, uint32_t val, int64_t deadline,
		   unsigned flags);
/* Entering a cancellation point: act on a pending request now. */
bool gmp__point_begin(g *gp);
_Noreturn void gmp__do_cancel(g *gp);
void gmp__testcancel(void);
/* Run the handlers of the signals pending for gp that it does not block
 * (signal.c). True if one ran; *restart is false if one of them lacked
 * SA_RESTART. Context: gp, at G level. */
bool gmp__run_pending(g *gp, bool *restart);
/* Send SIGCANCEL to the M running gp (if any): its handler acts on a
 * cancellation and runs gp's pending pthread_kill handlers there. */
void gmp__kick(g *gp);
/* A call that waits with its own signal mask (ppoll, pselect,
 * epoll_pwait, sigsuspend): run the handlers of pthread_kill-pending
 * signals that mask lets through; true if one ran (the call fails with
 * EINTR). signal.c. */
bool gmp__pending_for_mask(const sigset_t *mask);
/* Install the SIGCANCEL handler (also used by core/syscall.c to update
 * the masks of threads that run no G). Idempotent. */
void gmp__install_sigcancel(void);
/* From the SIGCANCEL handler, on gp: run its pending handlers if safe. */
void gmp__kicked(g *gp, void *uc);
/* The program's action for a signal libgmp's own handler received
 * (the preemption signal, core/preempt.c). Context: a signal handler. */
void gmp__sig_forward(int sig, siginfo_t *si, void *uc);
/* A G ended with process-directed signals it had not acted on: they go
 * to another thread. Context: g0. */
void gmp__sig_orphans(g *gp);
/* The calling G is about to end: route the signals queued for a G now,
 * while it can still take them. Context: the exiting G. */
void gmp__sig_exiting(void);
/* Before (true) and after an exec or spawn: signal dispositions the new
 * program must inherit. */
void gmp__signals_exec(bool before);
/* Start-up: keep an inherited SIG_IGN of the preemption signal as the
 * program's action (before preempt_init installs libgmp's handler). */
void gmp__preempt_inherit(void);
/* threadstate.c: scheduling policy of a G (pthread_setschedparam and
 * friends; 0 or an errno value); a new G's inherited kernel state; the
 * start-up. */
int gmp__set_sched(g *gp, int policy, int prio);
void gmp__threadstate_new(g *gp, const pthread_attr_t *attr);
void gmp__threadstate_init(void);
int gmp__syscall_begin(g *gp);
void gmp__syscall_end(g *gp, int armed, bool eintr);
/* G-level sleep until deadline, a cancellation point: 0, or -EINTR when
 * a signal handler ran (shims/signal.c). */
int gmp__sleep(int64_t deadline);

/* Cleanup for GMP_AS_SYSCALL: glibc acted on a cancellation inside the
 * call; leave the syscall state before the program's handlers run. */
void gmp__syscall_unwound(void *gp);

/* A blocking call into glibc's own implementation (process-shared,
 * robust and PI objects, whose waits are kernel futexes shared with
 * other processes): run it as a system call, so the G's P is handed off
 * while it blocks. glibc's cancellation stays on: its cancellable waits
 * turn asynchronous, pthread_cancel signals the M (shims/cancel.c), and
 * the unwind leaves the syscall state as it passes this frame. */
#define GMP_AS_SYSCALL(type, call)                                           \
	({                                                                    \
		g *gp_ = curg();                                              \
		type r_;                                                      \
		if (!gp_ || !entersyscall()) {                                \
			r_ = (call);                                          \
		} else {                                                      \
			int e_;                                               \
			gp_->glibc_wait = true;                               \
			pthread_cleanup_push(gmp__syscall_unwound, gp_);      \
			r_ = (call);                                          \
			e_ = errno;                                           \
			pthread_cleanup_pop(0);                               \
			gp_->glibc_wait = false;                              \
			exitsyscall();                                        \
			errno = e_;                                           \
		}                                                             \
		r_;                                                           \
	})

/* net.c: fd is new (opened, or a number reused): forget what the poller
 * knew of its number. Exec: listening sockets get the flags the program
 * believes they have (before) and O_NONBLOCK again (after a spawn or a
 * failed exec). */
void gmp__fd_new(int fd);
void gmp__before_exec(void);
void gmp__after_exec(void);
void gmp__net_init(void);
extern _Atomic uint64_t gmp__net_syscalls;

/* sysmon's per-tick work (signal.c): install it once needed. */
void gmp__sysmon_hook_on(void);
void gmp__cancel_kicks(void);

/* mutex internals shared with the condvar and C11 shims */
int gmp__mutex_lock(pthread_mutex_t *m, int64_t deadline);
int gmp__mutex_unlock(pthread_mutex_t *m);
/* Release m completely for a condvar wait, returning the recursion count
 * to restore; 0 and *err set when the caller does not own it. */
unsigned gmp__mutex_release(pthread_mutex_t *m, int *err);
void gmp__mutex_reacquire(pthread_mutex_t *m, unsigned count);
bool gmp__mutex_is_ours(pthread_mutex_t *m);

int gmp__cond_wait(pthread_cond_t *c, pthread_mutex_t *m,
		   clockid_t clk, const struct timespec *abstime, bool useclk);

#pragma GCC visibility pop

#endif
