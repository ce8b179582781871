/*
 * asyncpreempt.S: the asynchronous preemption trampoline for x86_64 (Go:
 * asyncPreempt in preempt_amd64.s).
 *
 * The preemption signal's handler (core/preempt.c) makes the interrupted
 * code "call" arch_asyncpreempt: it moves the stack pointer 128 bytes
 * down past the System V red zone (leaf functions keep live data there),
 * pushes the interrupted pc as a return address and points pc here. So,
 * on entry:
 *	(%rsp)	= the interrupted pc
 *	%rsp + 8 + 128 = the interrupted stack pointer
 * and every register holds the interrupted code's value. This saves all
 * general registers and the flags, then the whole FP/vector state with
 * xsave (size from CPUID, arch_xsave_size) or fxsave, calls
 * gmp_preempt_park() (which yields the G: it may come back on another
 * kernel thread, whose %fs the switch has set to this G's), restores
 * everything, and returns with `ret $128`, which pops the pc and skips
 * the red zone back: the interrupted code goes on as if nothing happened.
 */
	.text
	.globl	arch_asyncpreempt
	.hidden	arch_asyncpreempt
	.type	arch_asyncpreempt, @function
arch_asyncpreempt:
	.cfi_startproc
	pushfq
	cld			/* the ABI wants DF clear in C code */
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	subq	arch_xsave_size(%rip), %rsp
	andq	$-64, %rsp
	cmpb	$0, arch_have_xsave(%rip)
	je	1f
	/* the xsave header must start zeroed (xrstor checks its reserved
	 * bytes); xsave writes the component bitmap itself */
	xorl	%eax, %eax
	movq	%rax, 512(%rsp)
	movq	%rax, 520(%rsp)
	movq	%rax, 528(%rsp)
	movq	%rax, 536(%rsp)
	movq	%rax, 544(%rsp)
	movq	%rax, 552(%rsp)
	movq	%rax, 560(%rsp)
	movq	%rax, 568(%rsp)
	movl	$-1, %eax
	movl	$-1, %edx
	xsave64	(%rsp)
	call	gmp_preempt_park
	movl	$-1, %eax
	movl	$-1, %edx
	xrstor64 (%rsp)
	jmp	2f
1:
	fxsave64 (%rsp)
	call	gmp_preempt_park
	fxrstor64 (%rsp)
2:
	movq	%rbp, %rsp
	.cfi_def_cfa_register %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	popfq
	ret	$128
	.cfi_endproc
	.size	arch_asyncpreempt, .-arch_asyncpreempt

	.section .note.GNU-stack,"",@progbits
