/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * Maps of the profiler. Sizes here are defaults: src/bpf/profiler_object.ts sets max_entries
 * before load from the number of CPUs, the sampling frequency and the profiling duration.
 *
 * Samples are double-buffered: BPF writes into generation 0 or 1 (active_generation[0]), and
 * at the end of a window user space flips the generation, waits for in-flight programs, and
 * drains the other generation's counts and stacks with batch operations. Nothing written
 * during a drain is lost or read half-way.
 */
#ifndef PROFILER_MAPS_H
#define PROFILER_MAPS_H

#include "types.h"

#define DEFAULT_COUNT_ENTRIES 4096
#define DEFAULT_STACK_ENTRIES 8192

#define STACK_COUNTS_MAP(name)                            \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_HASH);          \
		__uint(max_entries, DEFAULT_COUNT_ENTRIES); \
		__type(key, struct stack_count_key);      \
		__type(value, __u64);                     \
	} name SEC(".maps")

#define STACKS_MAP(name)                                  \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_HASH);          \
		__uint(max_entries, DEFAULT_STACK_ENTRIES); \
		__type(key, __u64);                       \
		__type(value, struct stack_trace);        \
	} name SEC(".maps")

/* (pid, tid, stacks, comms, flags) -> samples, one map per generation. Set by BPF, drained by src/profiler. */
STACK_COUNTS_MAP(stack_counts_0);
STACK_COUNTS_MAP(stack_counts_1);

/* stack hash -> stack (user and kernel stacks share a map), one per generation. */
STACKS_MAP(stacks_0);
STACKS_MAP(stacks_1);

/* [0] = generation (0 or 1) that BPF writes into. Flipped by src/bpf/profiler_object.ts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} active_generation SEC(".maps");

/* Outcome counters, per CPU. Read (one syscall for all CPUs) by src/profiler every window. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/* Per-CPU scratch space for building a stack: 1 KiB does not fit the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} stack_scratch SEC(".maps");

#endif /* PROFILER_MAPS_H */
