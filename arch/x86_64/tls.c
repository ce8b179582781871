/*
 * tls.c: the x86_64 thread pointer and the initial frame of a context.
 * Decision: wrfsbase when the kernel enabled FSGSBASE (AT_HWCAP2 bit 1,
 * Linux >= 5.9), else arch_prctl(ARCH_SET_FS) in the switch (~10x slower
 * per switch; reported under GMP_DEBUG by the caller of arch_init).
 */
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <signal.h>
#include <ucontext.h>
#include <sys/syscall.h>
#include "arch.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
#define ARCH_SET_FS 0x1002

__attribute__((visibility("hidden"))) unsigned char arch_have_fsgsbase;

void arch_trampoline(void);

bool arch_init(void)
{
	arch_have_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
	return arch_have_fsgsbase;
}

void arch_set_tp(void *tp)
{
	if (arch_have_fsgsbase)
		__asm__ volatile("wrfsbase %0" ::"r"(tp) : "memory");
	else
		arch_syscall(SYS_arch_prctl, ARCH_SET_FS, tp, 0, 0);
}

void arch_ctx_init(struct arch_ctx *ctx, void *stack_top, void *tp,
		   void (*entry)(void *), void *arg)
{
	uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)top;
	uint32_t mxcsr;
	uint16_t fpucw;

	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));
	/* after ret, rsp == top: 16-aligned before the trampoline's call */
	*--sp = (uint64_t)arch_trampoline;
	*--sp = 0;				/* rbp */
	*--sp = 0;				/* rbx */
	*--sp = (uint64_t)arg;			/* r12 */
	*--sp = (uint64_t)entry;		/* r13 */
	*--sp = 0;				/* r14 */
	*--sp = 0;				/* r15 */
	*--sp = (uint64_t)mxcsr | (uint64_t)fpucw << 32;
	ctx->sp = sp;
	ctx->tp = tp;
}

/* glibc's x86_64 __jmp_buf: rbx, rbp, r12-r15, rsp, pc; rbp, rsp and pc
 * are mangled: xor with the pointer guard (tcbhead at %fs:0x30), then
 * rotate left by 17. */
#define JB_PC 7

void arch_jmpbuf_set_pc(long *jmpbuf, void (*pc)(void))
{
	uintptr_t guard, v = (uintptr_t)pc;

	__asm__("mov %%fs:0x30, %0" : "=r"(guard));
	v ^= guard;
	v = v << 17 | v >> 47;
	jmpbuf[JB_PC] = (long)v;
}

bool arch_ctx_fail_syscall(void *ucontext, long err)
{
	ucontext_t *uc = ucontext;
	greg_t *r = uc->uc_mcontext.gregs;
	const unsigned char *ip = (const unsigned char *)r[REG_RIP];

	if (ip[0] != 0x0f || ip[1] != 0x05)
		return false;
	r[REG_RAX] = -err;
	r[REG_RIP] += 2;
	return true;
}

void arch_sigreturn(void);

int arch_sigaction_mask(int sig, void (*h)(int, siginfo_t *, void *),
			int flags, uint64_t mask)
{
	struct {
		void *handler;
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} ksa = { (void *)h, (unsigned long)flags | 0x04000000 /* SA_RESTORER */,
		  arch_sigreturn, mask };

	return (int)arch_syscall(SYS_rt_sigaction, sig, &ksa, 0, 8);
}

int arch_sigaction(int sig, void (*h)(int, siginfo_t *, void *), int flags)
{
	return arch_sigaction_mask(sig, h, flags, 0);
}
