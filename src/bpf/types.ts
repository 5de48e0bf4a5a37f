// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Mirrors of bpf/types.h: sizes, offsets, flag bits, enums and counter names. The layout test
 * (types_test.ts) compiles a probe against the C header and compares every number here.
 *
 * @module
 */

/** MAX_USER_STACK_DEPTH: frames kept per user stack. */
export const MAX_USER_STACK_DEPTH = 512;
/** MAX_KERNEL_STACK_DEPTH: frames kept per kernel stack. */
export const MAX_KERNEL_STACK_DEPTH = 127;
/** MAX_MAPPINGS_PER_PROCESS. */
export const MAX_MAPPINGS_PER_PROCESS = 256;
/** TASK_COMM_LEN. */
export const TASK_COMM_LEN = 16;

/** sizeof(struct user_stack) and its field offsets. */
export const USER_STACK = { size: 4104, len: 0, addrs: 8 } as const;
/** USER_STACK_SHORT_DEPTH: frames at most of a stack in the short user stacks maps. */
export const USER_STACK_SHORT_DEPTH = 64;
/** sizeof(struct user_stack_short) and its field offsets. */
export const USER_STACK_SHORT = { size: 520, len: 0, addrs: 8 } as const;
/** sizeof(struct kernel_stack) and its field offsets. */
export const KERNEL_STACK = { size: 1024, len: 0, addrs: 8 } as const;

/** sizeof(struct stack_count_key) and its field offsets. */
export const STACK_COUNT_KEY = {
  size: 72,
  pid: 0,
  tid: 4,
  userStackId: 8,
  kernelStackId: 16,
  threadComm: 24,
  processComm: 40,
  flags: 56,
  unwindError: 60,
  instance: 64,
} as const;

/** Slots per CPU and generation of the count_slots map (COUNT_SLOTS in bpf/types.h). */
export const COUNT_SLOTS = 64;
/** struct count_slot: a stack_count_key, its count, the window it was counted in. */
export const COUNT_SLOT = { size: 88, key: 0, count: 72, window: 80 } as const;

/** struct exec_mapping. */
export const EXEC_MAPPING = {
  size: 40,
  start: 0,
  end: 8,
  tableBias: 16,
  exeId: 24,
  rows: 28,
  kind: 32,
} as const;

/** struct process_mappings. */
export const PROCESS_MAPPINGS = { size: 8 + 256 * 40, len: 0, instance: 4, mappings: 8 } as const;

/** struct process_instance (the value of pid_to_instance). */
export const PROCESS_INSTANCE = { size: 24, startNs: 0, id: 8, execGen: 12, sampled: 16 } as const;

/** struct unwind_row. */
export const UNWIND_ROW = { size: 8, pc: 0, rule: 4 } as const;
/** UNWIND_CHUNK_ROWS: rows per chunk of the unwind row space (bpf/maps.h unwind_chunks). */
export const UNWIND_CHUNK_ROWS = 4096;
/** UNWIND_CHUNKS: chunks of the row space at most. */
export const UNWIND_CHUNKS = 4096;
/** MAX_UNWIND_TABLES: entries of unwind_tables (exe ids 1..MAX_UNWIND_TABLES-1). */
export const MAX_UNWIND_TABLES = 4096;
/** struct unwind_table_ref. */
export const UNWIND_TABLE_REF = { size: 8, firstRow: 0, rows: 4 } as const;

/** struct unwind_rule. */
export const UNWIND_RULE = {
  size: 12,
  cfaKind: 0,
  rbpKind: 1,
  raOffset: 2,
  cfaOffset: 4,
  rbpOffset: 8,
} as const;

/** struct event. */
export const EVENT = {
  size: 32,
  type: 0,
  pid: 4,
  ktimeNs: 8,
  instance: 16,
  execGen: 20,
  startNs: 24,
} as const;

/** struct agent_config (the .rodata.config section). */
export const AGENT_CONFIG = {
  size: 16,
  verbose: 0,
  dwarfEnabled: 1,
  mixedMode: 2,
  interpTiming: 3,
  eventIntervalNs: 8,
} as const;

/** enum stack_flags. */
export const StackFlags = {
  USER_TRUNCATED: 1 << 0,
  USER_ERROR: 1 << 1,
  USER_DROPPED: 1 << 2,
  KERNEL_DROPPED: 1 << 3,
  KERNEL_ERROR: 1 << 4,
  IN_KERNEL: 1 << 5,
  TABLES_PENDING: 1 << 6,
  INTERP_FRAMES: 1 << 7,
  FP_FALLBACK: 1 << 8,
} as const;

/** enum mapping_kind. */
export const MappingKind = { FP: 0, DWARF: 1, VDSO: 2, JIT: 3, PENDING: 4 } as const;

/** enum event_type. */
export const EventType = { NEW_PROCESS: 1, MAPPINGS_CHANGED: 2, EXEC: 3, EXIT: 4 } as const;

/** enum unwind_error, in value order: the `reason` label of unwind error metrics. */
export const UNWIND_ERROR_NAMES = [
  "ok",
  "truncated",
  "pc_not_covered",
  "unsupported_cfa",
  "read_fault",
  "rbp_unknown",
  "no_mapping",
  "jit_mixed_mode_disabled",
  "table_missing",
  "jit_no_frame_pointer",
  "not_a_return_address",
] as const;

/** enum counter, in index order: the `outcome` label of parca_agent_bpf_samples_total. */
export const COUNTER_NAMES = [
  "samples",
  "skipped_idle",
  "skipped_kernel_thread",
  "recorded",
  "count_map_full",
  "stack_map_full",
  "user_stack_truncated",
  "user_stack_error",
  "kernel_stack_error",
  "no_scratch",
  "events_sent",
  "events_lost",
  "dwarf_frames",
  "fp_frames",
  "process_images",
  "process_execs",
  "process_exits",
  "fp_fallback_frames",
  "fp_stopped",
  "interp_activations",
  "interp_frames",
  "interp_ns",
] as const;

/** A counter name. */
export type CounterName = typeof COUNTER_NAMES[number];

/** sizeof(struct counters). */
export const COUNTERS_SIZE = COUNTER_NAMES.length * 8;
