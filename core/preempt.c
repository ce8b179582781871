/*
 * preempt.c: asynchronous preemption of a G that computes without calling
 * into libgmp. Go: preemptone, preemptM, doSigPreempt, isAsyncSafePoint,
 * asyncPreempt2 (preempt.go, signal_unix.go).
 *
 * Model. sysmon (sysmon.c preempt_check) sees a P that has run the same G
 * for 10 ms (forcePreemptNS) in user code, whose kernel thread is using
 * CPU, while other work waits (a queued G or a due timer). It sets
 * m.preempt_req and sends the preemption signal (GMP_PREEMPT_SIGNAL,
 * SIGURG by default, as Go) to that M's thread. The handler preempts only
 * at a safe point:
 *   - the signal is sysmon's (SI_QUEUE from this process with the address
 *     of preempt_pid as its value, which no program sends) and
 *     m.preempt_req is still set (not void by a switch since); a signal
 *     that is not sysmon's is the program's and goes to its action
 *     (hooks.sig_forward, shims/signal.c);
 *   - the thread runs a G (not g0) in user code: not in the runtime
 *     (g.rt), not inside a handler the program's signal is running
 *     (g.in_handler);
 *   - the interrupted pc is the program's own code: not libgmp, libc,
 *     ld.so or the other glibc libraries, not the vDSO, and not at a
 *     syscall instruction (a restart belongs to this kernel thread);
 *   - the G's stack has room for the trampoline's frame.
 * Then it redirects the context to arch_asyncpreempt, which saves every
 * register and the FP/vector state and calls gmp_preempt_park: the G
 * goes to the global run queue (as Go's gopreempt_m) and the M schedules.
 * Otherwise the G is marked (g.preempt_pending) and yields the next time
 * it leaves the runtime (rt_exit), which every shim call passes through
 * (Go's cooperative check); sysmon asks again next round meanwhile.
 *
 * Invariants. m.preempt_req is set by sysmon only and cleared by the
 * handler (or the next switch): at most one request in flight per M. The
 * denied ranges are fixed after preempt_init (libraries dlopened later are
 * the program's own code).
 *
 * Lock order: none; the handler takes no lock (it runs in a signal).
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include "core.h"

_Atomic uint64_t sched_preempts, sched_preempt_asks;

#define MAXDENY 32
static struct {
	uintptr_t lo, hi;
} deny[MAXDENY];
static int ndeny;
int preempt_sig;		/* 0: preemption off */
static int preempt_pid;

/* The text of these objects is never preempted: libgmp's own, and
 * glibc's, whose internal locks and state a yield in the middle could
 * leave held across other Gs. */
static bool denied_object(const char *name, uintptr_t base)
{
	static const char *const glibc[] = {
		"/libc.so.6", "/ld-linux-x86-64.so.2", "/libpthread.so.0",
		"/libdl.so.2", "/librt.so.1", "/libm.so.6",
		"/libresolv.so.2", "/libnss_", "linux-vdso.so.1",
	};
	Dl_info self;

	if (dladdr((void *)preempt_init, &self) &&
	    (uintptr_t)self.dli_fbase == base)
		return true;
	if (!name)
		return false;
	for (size_t i = 0; i < sizeof glibc / sizeof glibc[0]; i++)
		if (strstr(name, glibc[i]))
			return true;
	return false;
}

static int add_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	/* the main program has an empty name and is never denied */
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 0;
	if (!denied_object(info->dlpi_name, info->dlpi_addr))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (ndeny == MAXDENY)
			return 1;
		deny[ndeny].lo = info->dlpi_addr + ph->p_vaddr;
		deny[ndeny].hi = deny[ndeny].lo + ph->p_memsz;
		ndeny++;
	}
	return 0;
}

static bool pc_denied(uintptr_t pc)
{
	for (int i = 0; i < ndeny; i++)
		if (pc >= deny[i].lo && pc < deny[i].hi)
			return true;
	return false;
}

/* Is the interrupted G at a point where it may be preempted? */
static bool safe_point(g *gp, void *uc)
{
	int st = atomic_load_explicit(&gp->status, memory_order_relaxed);

	if (gp->is_g0 || st != G_RUNNING || gp->rt > 0 || gp->in_handler)
		return false;
	uintptr_t pc = arch_ctx_pc(uc), sp = arch_ctx_sp(uc);
	if (pc_denied(pc) || arch_ctx_at_syscall(uc))
		return false;
	/* on its own stack, with room for the frame and a yield (a program
	 * running on a stack of its own, makecontext's, is left alone) */
	if (gp->stack_lo) {
		uintptr_t lo = (uintptr_t)gp->stack_lo,
			  hi = (uintptr_t)gp->stack_hi;
		if (sp <= lo || sp > hi ||
		    sp - lo < arch_preempt_stack() + 16384)
			return false;
	}
	return true;
}

static void on_preempt(int sig, siginfo_t *si, void *uc)
{
	g *gp = getg();
	m *mp = gp ? gp->m : NULL;

	if (si->si_code != SI_QUEUE || si->si_pid != preempt_pid ||
	    si->si_value.sival_ptr != &preempt_pid) {
		hooks.sig_forward(sig, si, uc);
		return;
	}
	/* sysmon's, but perhaps for the G this M ran before */
	if (!mp || !atomic_exchange_explicit(&mp->preempt_req, false,
					     memory_order_relaxed))
		return;
	if (safe_point(gp, uc)) {
		arch_ctx_push_preempt(uc);
		return;
	}
	/* in libgmp or glibc: it yields as it leaves the runtime (rt_exit),
	 * which every shim call passes through */
	if (!gp->is_g0 && atomic_load_explicit(&gp->status,
					       memory_order_relaxed) ==
				  G_RUNNING)
		gp->preempt_pending = true;
}

void gmp_preempt_park(void)
{
	int e = errno;	/* the scheduler must not show through */

	atomic_fetch_add_explicit(&sched_preempts, 1, memory_order_relaxed);
	rt_enter();
	mcall(MCALL_PREEMPT);
	rt_exit();
	errno = e;
}

void preempt_ask(m *mp)
{
	if (!preempt_sig || mp->dead)
		return;
	atomic_store_explicit(&mp->preempt_req, true, memory_order_relaxed);
	atomic_fetch_add_explicit(&sched_preempt_asks, 1,
				  memory_order_relaxed);
	if (__builtin_expect(trace_on, 0))
		trace_ev_p(NULL, TEV_PREEMPT, mp->curg, 0, 0);
	/* marked as sysmon's: SI_QUEUE with a value no program sends */
	siginfo_t si = { .si_signo = preempt_sig, .si_code = SI_QUEUE };
	si.si_pid = preempt_pid;
	si.si_uid = (uid_t)arch_syscall(SYS_getuid, 0, 0, 0, 0);
	si.si_value.sival_ptr = &preempt_pid;
	arch_syscall(SYS_rt_tgsigqueueinfo, preempt_pid, mp->tid, preempt_sig,
		     (long)&si);
}

void preempt_afterfork(void)
{
	preempt_pid = (int)arch_syscall(SYS_getpid, 0, 0, 0, 0);
}

/* The kernel's action for the preemption signal: libgmp's handler with
 * the mask and flags of the program's own action, so that a handler the
 * program installed runs as it asked (sa_mask, SA_NODEFER, SA_RESTART,
 * SA_ONSTACK); SA_RESETHAND is applied by the shim, never by the kernel. */
static uint64_t act_mask;
static int act_flags = SA_RESTART;

void preempt_set_action(uint64_t mask, int flags)
{
	act_mask = mask;
	act_flags = flags & (SA_NODEFER | SA_RESTART | SA_ONSTACK);
	preempt_reinstall();
}

void preempt_reinstall(void)
{
	if (preempt_sig)
		arch_sigaction_mask(preempt_sig, on_preempt,
				    SA_SIGINFO | act_flags,
				    act_mask | 1ull << (__SIGRTMIN - 1));
}

void preempt_init(void)
{
	preempt_pid = (int)arch_syscall(SYS_getpid, 0, 0, 0, 0);
	if (!preempt_sig)
		return;
	arch_preempt_init();
	dl_iterate_phdr(add_object, NULL);
	/* libgmp's own signals never nest in each other's frames (3.4 KiB
	 * each with AVX-512 state, on stacks that may be 16 KiB) */
	int r = arch_sigaction_mask(preempt_sig, on_preempt,
				    SA_SIGINFO | SA_RESTART,
				    1ull << (__SIGRTMIN - 1));
	if (r < 0) {
		warnf("cannot install the preemption signal %d (%d): "
		      "threads that compute without calls are not preempted",
		      preempt_sig, r);
		preempt_sig = 0;
	}
}
