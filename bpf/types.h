/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * Types shared between the BPF programs and user space. src/bpf/types.ts mirrors every struct
 * and constant here; its layout test (src/bpf/types_test.ts) compiles a C probe against this
 * header and fails when the two drift.
 */
#ifndef PROFILER_TYPES_H
#define PROFILER_TYPES_H

/*
 * Frames kept per stack. 127 is also the kernel's default kernel.perf_event_max_stack, which
 * bounds bpf_get_stack() for kernel stacks. Deeper user stacks are kept, cut at this depth, and
 * flagged STACK_FLAG_USER_TRUNCATED so user space can mark them.
 */
#define MAX_STACK_DEPTH 127

#define TASK_COMM_LEN 16

/* A stack: `len` addresses, leaf first. 8 + 127 * 8 = 1024 bytes. */
struct stack_trace {
	__u64 len;
	__u64 addrs[MAX_STACK_DEPTH];
};

/* Bits of stack_count_key.flags: what happened while the stacks of a sample were collected. */
enum stack_flags {
	/* The user stack had more frames than MAX_STACK_DEPTH; the outermost ones are missing. */
	STACK_FLAG_USER_TRUNCATED = 1 << 0,
	/* The frame-pointer walk stopped at an unreadable frame before reaching the bottom. */
	STACK_FLAG_USER_READ_ERROR = 1 << 1,
	/* The user stack could not be stored (stack map full); user_stack_id is 0. */
	STACK_FLAG_USER_DROPPED = 1 << 2,
	/* The kernel stack could not be stored (stack map full); kernel_stack_id is 0. */
	STACK_FLAG_KERNEL_DROPPED = 1 << 3,
	/* bpf_get_stack() failed for the kernel stack of a sample taken in kernel mode. */
	STACK_FLAG_KERNEL_ERROR = 1 << 4,
	/* Sampled in user mode, or in kernel mode: tells an empty kernel stack from a lost one. */
	STACK_FLAG_IN_KERNEL = 1 << 5,
};

/*
 * Key of the stack_counts maps: one entry per distinct (pid, tid, user stack, kernel stack).
 * 64 bytes, no implicit padding.
 */
struct stack_count_key {
	__u32 pid;                           /* tgid */
	__u32 tid;                           /* thread id */
	__u64 user_stack_id;                 /* key in the stacks map, 0 when there is none */
	__u64 kernel_stack_id;               /* key in the stacks map, 0 when there is none */
	char thread_comm[TASK_COMM_LEN];     /* comm of the sampled thread */
	char process_comm[TASK_COMM_LEN];    /* comm of the thread group leader */
	__u32 flags;                         /* enum stack_flags */
	__u32 reserved;
};

/*
 * Indices of the per-CPU counters array. The names user space reports are in
 * src/bpf/types.ts (COUNTER_NAMES), in this order; indices are never reused.
 */
enum counter {
	COUNTER_SAMPLES = 0,          /* perf events handled */
	COUNTER_SKIPPED_IDLE,         /* pid 0: the CPU was idle */
	COUNTER_SKIPPED_KTHREAD,      /* kernel thread: no user space to profile */
	COUNTER_RECORDED,             /* counted in stack_counts */
	COUNTER_COUNT_MAP_FULL,       /* lost: stack_counts had no room for a new key */
	COUNTER_STACK_MAP_FULL,       /* a stack was not stored (sample kept without it) */
	COUNTER_USER_TRUNCATED,       /* user stack cut at MAX_STACK_DEPTH */
	COUNTER_USER_READ_ERROR,      /* frame-pointer walk hit an unreadable frame */
	COUNTER_KERNEL_STACK_ERROR,   /* bpf_get_stack() failed */
	COUNTER_NO_SCRATCH,           /* per-CPU scratch lookup failed (should never happen) */
	COUNTER_MAX,
};

struct counters {
	__u64 values[COUNTER_MAX];
};

#endif /* PROFILER_TYPES_H */
