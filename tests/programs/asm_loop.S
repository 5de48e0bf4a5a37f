/* Copyright 2026 The profiler agent authors */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hand-written assembly without any CFI (no .cfi_* directives, so no FDE): asm_spin keeps a
 * frame pointer, as hand-written assembly that calls out or wants to be profiled does;
 * asm_leaf is a frameless leaf. Both spin for rdi iterations.
 */
	.text
	.globl asm_leaf
	.type asm_leaf, @function
asm_leaf:
	mov %rdi, %rax
	movabs $6364136223846793005, %rdx
1:	imul %rdx, %rax
	add %rdi, %rax
	dec %rdi
	jnz 1b
	ret
	.size asm_leaf, .-asm_leaf

	.globl asm_spin
	.type asm_spin, @function
asm_spin:
	push %rbp
	mov %rsp, %rbp
	mov %rdi, %rcx
	xor %eax, %eax
	movabs $2862933555777941757, %rdx
2:	imul %rdx, %rax
	add %rcx, %rax
	dec %rcx
	jnz 2b
	pop %rbp
	ret
	.size asm_spin, .-asm_spin
	.section .note.GNU-stack,"",@progbits
