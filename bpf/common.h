/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/* Helpers shared by the profiler's programs: counters, stack hashing, debug logging. */
#ifndef PROFILER_COMMON_H
#define PROFILER_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "types.h"
#include "maps.h"

/*
 * Options set by src/bpf/profiler_object.ts before load (struct agent_config in types.h). They
 * live in their own section, so the struct is the only thing in its map, at offset 0: .rodata
 * proper also holds bpf_printk's format strings.
 */
const volatile struct agent_config agent_cfg SEC(".rodata.config") = {
	.verbose = false,
	.dwarf_enabled = true,
	.mixed_mode = true,
	.interp_timing = false,
	.event_interval_ns = 500000000ULL,
};

#define debug_log(fmt, ...)                               \
	do {                                              \
		if (agent_cfg.verbose)                       \
			bpf_printk(fmt, ##__VA_ARGS__);   \
	} while (0)

/*
 * Benchmarks only (-DBENCH_TIMING): bench_stamp(i) adds the time since the previous stamp of this
 * sample to slot i of a per-CPU array that a benchmark dumps with bpftool. Not in the default build.
 */
#ifdef BENCH_TIMING
#define BENCH_SLOTS 20
struct bench_times {
	__u64 last;
	__u64 ns[BENCH_SLOTS];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_times);
} bench_times SEC(".maps");

static __always_inline void bench_stamp(__u32 i)
{
	__u32 zero = 0;
	struct bench_times *t = bpf_map_lookup_elem(&bench_times, &zero);
	__u64 now = bpf_ktime_get_ns();
	if (t && i < 16) {
		if (i > 0)
			t->ns[i] += now - t->last;
		t->last = now;
	}
}

/* Slot 15 counts the samples that reached the end. */
static __always_inline void bench_end(void)
{
	__u32 zero = 0;
	struct bench_times *t = bpf_map_lookup_elem(&bench_times, &zero);
	if (t)
		t->ns[15] += 1;
}
#else
#define bench_stamp(i) do { } while (0)
#define bench_end() do { } while (0)
#endif

static __always_inline void count(enum counter which)
{
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&counters, &zero);
	/* `which` is a constant at every (inlined) call site, so the verifier sees the bound. */
	if (c && which < COUNTER_MAX)
		c->values[which] += 1; /* per-CPU value, and a program is not preempted: no atomics */
}

/* Adds n to a counter (same rules as count()). */
static __always_inline void count_n(enum counter which, __u64 n)
{
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&counters, &zero);
	if (c && which < COUNTER_MAX)
		c->values[which] += n;
}

static __always_inline __u64 mix_frame(__u64 h, __u64 k)
{
	const __u64 m = 0xc6a4a7935bd1e995ULL;
	k *= m;
	k ^= k >> 47;
	k *= m;
	h ^= k;
	h *= m;
	return h;
}

/* State of a stack hash computed under bpf_loop(). */
struct hash_state {
	const __u64 *addrs;
	__u32 max;
	__u64 h;
};

static long hash_one_frame(__u32 i, void *arg)
{
	struct hash_state *hs = arg;
	if (i >= hs->max)
		return 1;
	hs->h = mix_frame(hs->h, hs->addrs[i]);
	return 0;
}

/*
 * 64-bit hash of a stack's frames (a MurmurHash64A-style mix per frame). It names the stack in
 * the stacks maps; 0 is reserved for "no stack", so a zero hash is mapped to 1. The loop runs
 * under bpf_loop() so the verifier checks one iteration, not 512.
 */
static __always_inline __u64 hash_stack(const __u64 *addrs, __u64 len, __u32 max_depth)
{
	const __u64 m = 0xc6a4a7935bd1e995ULL;
	struct hash_state hs = { .addrs = addrs, .max = max_depth, .h = 0x5bd1e9955bd1e995ULL ^ (len * m) };
	if (len > max_depth)
		len = max_depth;
	bpf_loop(len, hash_one_frame, &hs, 0);
	__u64 h = hs.h;
	h ^= h >> 47;
	h *= m;
	h ^= h >> 47;
	return h ? h : 1;
}

#endif /* PROFILER_COMMON_H */
