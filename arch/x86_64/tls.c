/*
 * tls.c: the x86_64 thread pointer and the initial frame of a context.
 * Decision: wrfsbase when the kernel enabled FSGSBASE (AT_HWCAP2 bit 1,
 * Linux >= 5.9), else arch_prctl(ARCH_SET_FS) in the switch (~10x slower
 * per switch; reported under GMP_DEBUG by the caller of arch_init).
 */
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
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
