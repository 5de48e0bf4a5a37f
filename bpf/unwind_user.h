/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * The user-stack walk: the seam between "where did the sample land" and "which frames called it".
 * This version follows frame pointers (rbp chains, x86-64). DWARF unwinding (unwind tables per
 * executable, walked in BPF) replaces unwind_user_stack() behind the same signature.
 */
#ifndef PROFILER_UNWIND_USER_H
#define PROFILER_UNWIND_USER_H

#include "common.h"

/* Bit 21 of task_struct.flags: a kernel thread has no user space (include/linux/sched.h). */
#define PF_KTHREAD 0x00200000

/*
 * The user registers of the sampled task. A sample that landed in kernel mode carries kernel
 * registers in ctx->regs; the user ones were saved at kernel entry at the top of the task's
 * kernel stack, which bpf_task_pt_regs() returns (kernel 5.15+).
 */
static __always_inline int user_regs(struct bpf_perf_event_data *ctx, struct task_struct *task,
				     __u64 *ip, __u64 *sp, __u64 *bp, bool *in_kernel)
{
	struct pt_regs *regs = (struct pt_regs *)&ctx->regs;
	/*
	 * The low two bits of CS are the privilege level: 3 for user mode, 0 for the kernel. The
	 * verifier only allows 8-byte loads from the context's registers, and newer kernels declare
	 * cs as a 16-bit field, so it is loaded as the whole 8-byte slot.
	 */
	__u64 cs = *(__u64 *)((char *)&ctx->regs + __builtin_offsetof(struct pt_regs, cs));
	if ((cs & 3) == 3) {
		*in_kernel = false;
		*ip = ctx->regs.ip;
		*sp = ctx->regs.sp;
		*bp = ctx->regs.bp;
		return 0;
	}
	*in_kernel = true;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return -1;
	*ip = BPF_CORE_READ(regs, ip);
	*sp = BPF_CORE_READ(regs, sp);
	*bp = BPF_CORE_READ(regs, bp);
	return 0;
}

/*
 * Walks the user stack into st (leaf first) and returns stack_flags bits. A frame-pointer frame
 * is [rbp] = caller's rbp, [rbp + 8] = return address; the walk ends at rbp == 0 (the x86-64 ABI
 * marks the outermost frame that way), at a return address of 0, or when the chain does not move
 * up the stack (a corrupt or absent frame pointer).
 */
static __always_inline __u32 unwind_user_stack(__u64 ip, __u64 sp, __u64 bp, struct stack_trace *st)
{
	__u32 flags = 0;
	st->len = 0;
	if (ip == 0)
		return flags;
	st->addrs[0] = ip;
	__u64 len = 1;
	for (int i = 1; i < MAX_STACK_DEPTH; i++) {
		if (bp == 0)
			goto done;
		__u64 frame[2];
		if (bpf_probe_read_user(frame, sizeof(frame), (void *)bp)) {
			flags |= STACK_FLAG_USER_READ_ERROR;
			goto done;
		}
		if (frame[1] == 0)
			goto done;
		st->addrs[i] = frame[1];
		len = i + 1;
		if (frame[0] <= bp)
			goto done;
		bp = frame[0];
	}
	/* The loop ran out of room with a frame pointer still to follow. */
	if (bp != 0)
		flags |= STACK_FLAG_USER_TRUNCATED;
done:
	st->len = len;
	return flags;
}

#endif /* PROFILER_UNWIND_USER_H */
