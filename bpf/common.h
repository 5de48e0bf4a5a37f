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
 * Set by src/bpf/profiler_object.ts from --bpf-verbose-logging: bpf_printk each decision. It lives
 * in its own section so it is the only variable of its map (at offset 0): .rodata proper also
 * holds the format strings of bpf_printk.
 */
const volatile bool verbose SEC(".rodata.config") = false;

#define debug_log(fmt, ...)                               \
	do {                                              \
		if (verbose)                              \
			bpf_printk(fmt, ##__VA_ARGS__);   \
	} while (0)

static __always_inline void count(enum counter which)
{
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&counters, &zero);
	/* `which` is a constant at every (inlined) call site, so the verifier sees the bound. */
	if (c && which < COUNTER_MAX)
		c->values[which] += 1; /* per-CPU value, and a program is not preempted: no atomics */
}

/*
 * 64-bit hash of a stack's frames (a MurmurHash64A-style mix per frame). It names the stack in the
 * stacks map; 0 is reserved for "no stack", so a zero hash is mapped to 1.
 */
static __always_inline __u64 hash_stack(const struct stack_trace *st)
{
	const __u64 m = 0xc6a4a7935bd1e995ULL;
	__u64 h = 0x5bd1e9955bd1e995ULL ^ (st->len * m);
	for (int i = 0; i < MAX_STACK_DEPTH; i++) {
		if (i >= st->len)
			break;
		__u64 k = st->addrs[i];
		k *= m;
		k ^= k >> 47;
		k *= m;
		h ^= k;
		h *= m;
	}
	h ^= h >> 47;
	h *= m;
	h ^= h >> 47;
	return h ? h : 1;
}

#endif /* PROFILER_COMMON_H */
