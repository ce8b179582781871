/*
 * arch.h: what core/ needs from the machine: the context switch, the thread
 * pointer (%fs base on x86_64), raw system calls and the CPU pause hint.
 * Only arch/<machine>/ implements these; nothing else uses inline asm.
 *
 * A context is the stack pointer of a suspended execution plus its thread
 * pointer. Everything else (callee-saved registers, MXCSR, x87 control word,
 * return address) lives on that execution's own stack, pushed by
 * arch_switch. The TLS base is part of the switch so that no code ever runs
 * on one G's stack with another G's TLS.
 */
#ifndef GMP_ARCH_H
#define GMP_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>

#pragma GCC visibility push(hidden)

struct arch_ctx {
	void *sp;		/* saved stack pointer; NULL while running */
	void *tp;		/* thread pointer (TCB) to install on resume */
};

/* Save the running context into from, resume to. Returns when someone
 * switches back to from. Context: any stack. Blocks: no. Allocates: no. */
void arch_switch(struct arch_ctx *from, struct arch_ctx *to);

/* Prepare ctx so that switching to it calls entry(arg) on a fresh stack
 * whose highest usable byte is below stack_top. entry must never return. */
void arch_ctx_init(struct arch_ctx *ctx, void *stack_top, void *tp,
		   void (*entry)(void *), void *arg);

/* Detect wrfsbase support (AT_HWCAP2 bit 1); false means every switch
 * changes %fs with arch_prctl, about 10x slower. Call once, early. */
bool arch_init(void);

/* Make a glibc jmp_buf (__jmp_buf) resume at pc, keeping its stack
 * pointer: the saved pc is mangled with the thread's pointer guard as
 * glibc's setjmp does. pc is entered with the saved sp, not as a call:
 * use arch_unwind_landing. */
void arch_jmpbuf_set_pc(long *jmpbuf, void (*pc)(void));
/* Aligns the stack and calls g_unwound(). */
void arch_unwind_landing(void);

/* A signal interrupted a thread at a syscall instruction (about to run
 * it, or about to restart it): make it return -err without running. */
bool arch_ctx_fail_syscall(void *ucontext, long err);

/* Install h for sig with the raw system call (glibc refuses its own
 * reserved signals): SA_SIGINFO is implied by h's type only if flags
 * has it. Returns 0 or -errno. */
int arch_sigaction(int sig, void (*h)(int, siginfo_t *, void *), int flags);
/* The same with sa_mask (bit sig-1 per signal). */
int arch_sigaction_mask(int sig, void (*h)(int, siginfo_t *, void *),
			int flags, uint64_t mask);

/* fn(arg) run with the stack pointer at top (a signal's alternate
 * stack for a handler run at G level). */
void arch_call_on_stack(void *top, void (*fn)(void *), void *arg);

/* Asynchronous preemption (preempt.c, asyncpreempt.S). arch_preempt_init
 * sizes the FP/vector state (once, early). A signal handler that decides
 * to preempt calls arch_ctx_push_preempt(uc): when the handler returns,
 * the interrupted code calls arch_asyncpreempt, which saves every
 * register and the FP/vector state, calls gmp_preempt_park() and resumes
 * the code exactly where it was. It needs arch_preempt_stack() bytes
 * below the interrupted stack pointer. */
void arch_preempt_init(void);
size_t arch_preempt_stack(void);
uintptr_t arch_ctx_pc(const void *ucontext);
uintptr_t arch_ctx_sp(const void *ucontext);
/* The context stopped at a syscall instruction: it may be a restart
 * (restart_syscall state is per thread), so it must not move to another
 * thread there. */
bool arch_ctx_at_syscall(const void *ucontext);
void arch_ctx_push_preempt(void *ucontext);
/* Provided by core/: yield a preempted G. */
void gmp_preempt_park(void);

/* The thread pointer of the running code (%fs:0). */
static inline void *arch_tp(void)
{
	void *tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	return tp;
}

/* Install tp as the thread pointer of the calling kernel thread. */
void arch_set_tp(void *tp);

static inline void arch_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Raw system calls: return -errno on failure, never touch errno. */
static inline long arch_syscall6(long n, long a, long b, long c, long d,
				 long e, long f)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

#define arch_syscall(n, a, b, c, d) \
	arch_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

#pragma GCC visibility pop

#endif
