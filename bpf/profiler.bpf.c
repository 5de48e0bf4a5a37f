// SPDX-License-Identifier: GPL-2.0
/* Copyright 2026 The profiler agent authors */
/*
 * The CPU sampler: runs on every cpu-clock perf event (19 Hz per CPU by default), collects the
 * sampled thread's kernel and user stacks, stores each distinct stack once in a stacks map, and
 * counts samples per (pid, tid, user stack, kernel stack) in the active generation's counts map.
 * User space reads nothing per sample: it drains the maps in batches once per window.
 */
#include "common.h"
#include "unwind_user.h"

/*
 * Benchmarks only (bench/bpf_stages.ts): -DBENCH_STAGE=N returns after stage N of a
 * sample, so the cost of each stage is the difference between two builds on the same load.
 * 0 = at entry, 1 = after the idle/kthread checks, scratch, image and comm reads, 2 = also the
 * interpreter and mappings look-ups, 3 = also the user walk, 4 = also both stack hashes and the
 * kernel stack; the default build (no BENCH_STAGE) runs everything (5: storing and counting).
 */
#ifndef BENCH_STAGE
#define BENCH_STAGE 5
#endif

/*
 * Stores a stack under its id unless it is there; returns the id, or 0 if it was not stored.
 * Most stacks repeat: one this CPU already stored in this window (`slot` says so) costs no map
 * operation, then a lock-free lookup comes first and only a new stack takes the bucket lock.
 */
static __always_inline __u64 store_stack(void *map, __u64 id, void *st, struct stored_slot *slot,
					 __u32 window)
{
	if (slot && slot->id == id && slot->window == window)
		return id;
	if (!bpf_map_lookup_elem(map, &id)) {
		long err = bpf_map_update_elem(map, &id, st, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: another CPU stored it first */) {
			count(COUNTER_STACK_MAP_FULL);
			debug_log("stack map full: err %ld", err);
			return 0;
		}
	}
	if (slot) {
		slot->id = id;
		slot->window = window;
	}
	return id;
}

/*
 * Adds n samples for key to the counts map; false when it had no room for a new key (the caller
 * counts what that loses).
 */
static __always_inline bool count_add(void *counts, struct stack_count_key *key, __u64 n)
{
	__u64 *val = bpf_map_lookup_elem(counts, key);
	if (val) {
		__sync_fetch_and_add(val, n);
		return true;
	}
	long err = bpf_map_update_elem(counts, key, &n, BPF_NOEXIST);
	if (err == -17) { /* another CPU inserted it first */
		val = bpf_map_lookup_elem(counts, key);
		if (val)
			__sync_fetch_and_add(val, n);
		return true;
	}
	if (err) {
		debug_log("count map full: pid %d err %ld", key->pid, err);
		return false;
	}
	return true;
}

static __always_inline bool same_key(const struct stack_count_key *a,
				     const struct stack_count_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 diff = 0;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(*a) / 8); i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/*
 * Counts one sample of key in window `window`: in this CPU's slot for the key (maps.h,
 * count_slots) when the slot is empty or holds the same key; a slot holding another key of this
 * window is first added to the counts map. False when the sample could not be counted (the
 * counts map had no room for it).
 */
static __always_inline bool count_sample(void *counts, struct count_slots *cs,
					 struct stack_count_key *key, __u32 window)
{
	if (!cs) {
		if (count_add(counts, key, 1))
			return true;
		count(COUNTER_COUNT_MAP_FULL);
		return false;
	}
	__u64 h = (key->user_stack_id ^ (key->kernel_stack_id << 1) ^ key->tid) *
		  0x9e3779b97f4a7c15ULL;
	struct count_slot *slot = &cs->slots[(h >> 58) & (COUNT_SLOTS - 1)];
	if (slot->window == window && slot->count) {
		if (same_key(&slot->key, key)) {
			slot->count += 1;
			return true;
		}
		/* Another key of this window: its samples go to the map, this one takes the slot.
		 * If the map has no room for them they stay, and this sample goes to the map. */
		if (!count_add(counts, &slot->key, slot->count)) {
			if (count_add(counts, key, 1))
				return true;
			count(COUNTER_COUNT_MAP_FULL);
			return false;
		}
	}
	__builtin_memcpy(&slot->key, key, sizeof(*key));
	slot->count = 1;
	slot->window = window;
	return true;
}

SEC("perf_event")
int profile_cpu(struct bpf_perf_event_data *ctx)
{
	if (BENCH_STAGE == 0)
		return 0;
	bench_stamp(0);
	count(COUNTER_SAMPLES);

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	if (pid == 0) {
		count(COUNTER_SKIPPED_IDLE);
		return 0;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	/* Direct loads through the BTF pointer (the verifier makes them fault-safe), not
	 * bpf_probe_read_kernel calls: a helper call each, here and below. */
	if (task->flags & PF_KTHREAD) {
		count(COUNTER_SKIPPED_KTHREAD);
		return 0;
	}

	bench_stamp(1);
	__u32 zero = 0;
	struct user_stack *ust = bpf_map_lookup_elem(&user_stack_scratch, &zero);
	struct kernel_stack *kst = bpf_map_lookup_elem(&kernel_stack_scratch, &zero);
	__u32 *gen = bpf_map_lookup_elem(&active_generation, &zero);
	if (!ust || !kst || !gen) {
		count(COUNTER_NO_SCRATCH);
		return 0;
	}

	bench_stamp(2);
	struct stack_count_key key = {};
	key.pid = pid;
	key.instance = current_instance(task, pid);
	bench_stamp(3);
	key.tid = (__u32)pid_tgid;
	bpf_get_current_comm(&key.thread_comm, sizeof(key.thread_comm));
	struct task_struct *leader = task->group_leader;
	/* The group leader itself (every single-threaded process): its comm is the one just read. */
	if (leader == task)
		__builtin_memcpy(&key.process_comm, &key.thread_comm, sizeof(key.process_comm));
	else
		bpf_probe_read_kernel_str(&key.process_comm, sizeof(key.process_comm), leader->comm);
	bench_stamp(4);
	if (BENCH_STAGE == 1)
		return 0;

	__u64 ip = 0, sp = 0, bp = 0;
	bool in_kernel = false;
	ust->len = 0;
	if (user_regs(ctx, task, &ip, &sp, &bp, &in_kernel) == 0)
		key.flags |= unwind_user_stack(pid, key.instance, ip, sp, bp, task->thread.fsbase, ust,
					       &key.unwind_error);
	if (in_kernel)
		key.flags |= STACK_FLAG_IN_KERNEL;
	bench_stamp(7);
	if (BENCH_STAGE <= 3)
		return 0;

	__u64 user_id = 0, kernel_id = 0;
	if (ust->len > 0)
		user_id = hash_stack(ust->addrs, ust->len, MAX_USER_STACK_DEPTH);
	bench_stamp(8);
	if (in_kernel) {
		long n = bpf_get_stack(ctx, kst->addrs, sizeof(kst->addrs), 0);
		if (n > 0) {
			kst->len = n / sizeof(__u64);
			kernel_id = hash_stack(kst->addrs, kst->len, MAX_KERNEL_STACK_DEPTH);
		} else {
			key.flags |= STACK_FLAG_KERNEL_ERROR;
			count(COUNTER_KERNEL_STACK_ERROR);
		}
	}

	bench_stamp(9);
	if (BENCH_STAGE == 4)
		return 0;

	/* The maps of the active generation (see maps.h). */
	__u32 window = *gen;
	bool odd = window & 1;
	struct stored_stacks *stored = bpf_map_lookup_elem(&stored_stacks, &zero);
	void *user_map;
	if (ust->len <= USER_STACK_SHORT_DEPTH)
		user_map = odd ? (void *)&user_stacks_short_1 : (void *)&user_stacks_short_0;
	else
		user_map = odd ? (void *)&user_stacks_1 : (void *)&user_stacks_0;
	void *kernel_map = odd ? (void *)&kernel_stacks_1 : (void *)&kernel_stacks_0;
	void *counts_map = odd ? (void *)&stack_counts_1 : (void *)&stack_counts_0;
	__u32 parity = odd;
	struct count_slots *slots = bpf_map_lookup_elem(&count_slots, &parity);
	if (user_id) {
		struct stored_slot *slot =
			stored ? &stored->user[user_id & (STORED_USER_SLOTS - 1)] : NULL;
		key.user_stack_id = store_stack(user_map, user_id, ust, slot, window);
		if (!key.user_stack_id)
			key.flags |= STACK_FLAG_USER_DROPPED;
	}
	bench_stamp(10);
	if (kernel_id) {
		struct stored_slot *slot =
			stored ? &stored->kernel[kernel_id & (STORED_KERNEL_SLOTS - 1)] : NULL;
		key.kernel_stack_id = store_stack(kernel_map, kernel_id, kst, slot, window);
		if (!key.kernel_stack_id)
			key.flags |= STACK_FLAG_KERNEL_DROPPED;
	}
	bench_stamp(11);
	if (count_sample(counts_map, slots, &key, window))
		count(COUNTER_RECORDED);
	bench_stamp(12);
	bench_stamp(13); /* the cost of a stamp itself */
	bench_end();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
