/*
 * preempt.c (arch): what asynchronous preemption needs from x86_64: the
 * size of the FP/vector state (CPUID leaf 0xD), reading and redirecting a
 * signal's interrupted context, and telling whether it stopped at a
 * system call. The trampoline is asyncpreempt.S; the policy is core/preempt.c.
 */
#include <cpuid.h>
#include <stdint.h>
#include <ucontext.h>
#include "arch.h"

#define RED_ZONE 128

__attribute__((visibility("hidden"))) unsigned char arch_have_xsave;
/* bytes the trampoline reserves for the FP/vector state (+ 64 to align) */
__attribute__((visibility("hidden"))) uint64_t arch_xsave_size = 512 + 64;

void arch_asyncpreempt(void);

void arch_preempt_init(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return;
	/* XSAVE supported and enabled by the kernel (OSXSAVE) */
	if (!(c & bit_XSAVE) || !(c & bit_OSXSAVE))
		return;
	__cpuid_count(0xd, 0, a, b, c, d);
	if (b < 576)
		return;
	/* ebx: the size for the features enabled in XCR0 now */
	arch_xsave_size = ((uint64_t)b + 63) / 64 * 64 + 64;
	arch_have_xsave = 1;
}

size_t arch_preempt_stack(void)
{
	/* red zone, return address, 16 registers + flags, the state */
	return RED_ZONE + 8 + 17 * 8 + arch_xsave_size;
}

uintptr_t arch_ctx_pc(const void *ucontext)
{
	const ucontext_t *uc = ucontext;

	return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
}

uintptr_t arch_ctx_sp(const void *ucontext)
{
	const ucontext_t *uc = ucontext;

	return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
}

bool arch_ctx_at_syscall(const void *ucontext)
{
	const unsigned char *ip = (const unsigned char *)arch_ctx_pc(ucontext);

	/* about to (re)start one: the kernel backs pc up for SA_RESTART,
	 * and its restart state (restart_syscall) belongs to this thread */
	return ip[0] == 0x0f && ip[1] == 0x05;
}

void arch_ctx_push_preempt(void *ucontext)
{
	ucontext_t *uc = ucontext;
	greg_t *r = uc->uc_mcontext.gregs;
	uint64_t *sp = (uint64_t *)(r[REG_RSP] - RED_ZONE - 8);

	*sp = (uint64_t)r[REG_RIP];
	r[REG_RSP] = (greg_t)sp;
	r[REG_RIP] = (greg_t)arch_asyncpreempt;
}
