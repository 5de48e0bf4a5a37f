// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Mirrors of bpf/types.h: sizes, offsets, flag bits and counter names. The layout test
 * (types_test.ts) compiles a probe against the C header and compares every number here.
 *
 * @module
 */

/** MAX_STACK_DEPTH: frames kept per stack. */
export const MAX_STACK_DEPTH = 127;
/** TASK_COMM_LEN. */
export const TASK_COMM_LEN = 16;

/** sizeof(struct stack_trace) and its field offsets. */
export const STACK_TRACE = { size: 1024, len: 0, addrs: 8 } as const;

/** sizeof(struct stack_count_key) and its field offsets. */
export const STACK_COUNT_KEY = {
  size: 64,
  pid: 0,
  tid: 4,
  userStackId: 8,
  kernelStackId: 16,
  threadComm: 24,
  processComm: 40,
  flags: 56,
} as const;

/** enum stack_flags. */
export const StackFlags = {
  USER_TRUNCATED: 1 << 0,
  USER_READ_ERROR: 1 << 1,
  USER_DROPPED: 1 << 2,
  KERNEL_DROPPED: 1 << 3,
  KERNEL_ERROR: 1 << 4,
  IN_KERNEL: 1 << 5,
} as const;

/** enum counter, in index order: the `outcome` label of parca_agent_bpf_samples_total. */
export const COUNTER_NAMES = [
  "samples",
  "skipped_idle",
  "skipped_kernel_thread",
  "recorded",
  "count_map_full",
  "stack_map_full",
  "user_stack_truncated",
  "user_stack_read_error",
  "kernel_stack_error",
  "no_scratch",
] as const;

/** A counter name. */
export type CounterName = typeof COUNTER_NAMES[number];

/** sizeof(struct counters). */
export const COUNTERS_SIZE = COUNTER_NAMES.length * 8;
