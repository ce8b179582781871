/*
 * switch.S: arch_switch and the first-entry trampoline for x86_64.
 *
 * Frame pushed by arch_switch, from the saved sp upwards:
 *   0: MXCSR (4 bytes), x87 control word (2 bytes), padding
 *   8: r15  16: r14  24: r13  32: r12  40: rbx  48: rbp  56: return address
 * The System V ABI makes exactly these registers and the two control words
 * callee-saved; the caller of arch_switch treats everything else as
 * clobbered, as for any call. The %fs base is loaded after the stack switch
 * and before any code of the resumed context runs.
 */
	.text
	.globl	arch_switch
	.hidden	arch_switch
	.type	arch_switch, @function
arch_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)		/* from->sp */
	movq	(%rsi), %rsp		/* to->sp */
	movq	$0, (%rsi)		/* to is running now */
	movq	8(%rsi), %rdi		/* to->tp */
	cmpb	$0, arch_have_fsgsbase(%rip)
	je	1f
	wrfsbase %rdi
2:
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
1:
	/* arch_prctl(ARCH_SET_FS, tp); rdi holds tp, the syscall keeps the
	 * callee-saved values still on the new stack untouched. */
	movq	%rdi, %rsi
	movl	$0x1002, %edi
	movl	$158, %eax
	syscall
	jmp	2b
	.cfi_endproc
	.size	arch_switch, .-arch_switch

/* First instruction of a new context: r12 = arg, r13 = entry. rsp is
 * 16-byte aligned here, so the call leaves the callee properly aligned. */
	.globl	arch_trampoline
	.hidden	arch_trampoline
	.type	arch_trampoline, @function
arch_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	arch_trampoline, .-arch_trampoline

/* Where a G's unwind ends when glibc's own bottom buffer was redirected
 * (the main G, see core/g.c): rsp is what setjmp saved, so realign it
 * before calling C. */
	.globl	arch_unwind_landing
	.hidden	arch_unwind_landing
	.type	arch_unwind_landing, @function
arch_unwind_landing:
	.cfi_startproc
	.cfi_undefined rip
	andq	$-16, %rsp
	callq	g_unwound
	ud2
	.cfi_endproc
	.size	arch_unwind_landing, .-arch_unwind_landing

/* arch_call_on_stack(top, fn, arg): fn(arg) with rsp at top (aligned
 * down to 16), back on the caller's stack after. rbp is the CFA, so an
 * unwind (cancellation, a C++ exception) goes through it. */
	.globl	arch_call_on_stack
	.hidden	arch_call_on_stack
	.type	arch_call_on_stack, @function
arch_call_on_stack:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	andq	$-16, %rdi
	movq	%rdi, %rsp
	movq	%rsi, %rax
	movq	%rdx, %rdi
	callq	*%rax
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size	arch_call_on_stack, .-arch_call_on_stack

/* Return from a signal handler installed by arch_sigaction. Exactly the
 * bytes libgcc's unwinder recognises as the kernel's sigreturn
 * trampoline (48 c7 c0 0f 00 00 00 0f 05), and no FDE, so a cancellation
 * can unwind from a handler through the signal frame. */
	.globl	arch_sigreturn
	.hidden	arch_sigreturn
	.type	arch_sigreturn, @function
	nop
arch_sigreturn:
	movq	$15, %rax
	syscall
	.size	arch_sigreturn, .-arch_sigreturn

	.section .note.GNU-stack,"",@progbits
