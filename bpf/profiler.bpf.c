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
 * Stores st in the given stacks map under its hash; returns the hash, or 0 if it was not stored.
 * Most stacks repeat, so a lock-free lookup comes first and only a new stack takes the bucket lock.
 */
#define STORE_STACK(map, st)                                                         \
	({                                                                           \
		__u64 __id = hash_stack(st);                                         \
		long __err = bpf_map_lookup_elem(&map, &__id) ? -17 :                \
			bpf_map_update_elem(&map, &__id, st, BPF_NOEXIST);           \
		if (__err && __err != -17 /* EEXIST: already stored */) {            \
			count(COUNTER_STACK_MAP_FULL);                               \
			debug_log("stack map full: err %ld", __err);                 \
			__id = 0;                                                    \
		}                                                                    \
		__id;                                                                \
	})

#define RECORD(counts_map, stacks_map)                                                      \
	do {                                                                                \
		if (st->len > 0) {                                                          \
			key.user_stack_id = STORE_STACK(stacks_map, st);                    \
			if (!key.user_stack_id)                                             \
				key.flags |= STACK_FLAG_USER_DROPPED;                       \
		}                                                                           \
		if (in_kernel) {                                                            \
			long n = bpf_get_stack(ctx, st->addrs, sizeof(st->addrs), 0);      \
			if (n > 0) {                                                        \
				st->len = n / sizeof(__u64);                                \
				key.kernel_stack_id = STORE_STACK(stacks_map, st);          \
				if (!key.kernel_stack_id)                                   \
					key.flags |= STACK_FLAG_KERNEL_DROPPED;             \
			} else {                                                            \
				key.flags |= STACK_FLAG_KERNEL_ERROR;                       \
				count(COUNTER_KERNEL_STACK_ERROR);                          \
			}                                                                   \
		}                                                                           \
		__u64 *val = bpf_map_lookup_elem(&counts_map, &key);                        \
		if (val) {                                                                  \
			__sync_fetch_and_add(val, 1);                                       \
		} else {                                                                    \
			__u64 one = 1;                                                      \
			long err = bpf_map_update_elem(&counts_map, &key, &one, BPF_NOEXIST); \
			if (err == -17) { /* another CPU inserted it first */               \
				val = bpf_map_lookup_elem(&counts_map, &key);               \
				if (val)                                                    \
					__sync_fetch_and_add(val, 1);                       \
			} else if (err) {                                                   \
				count(COUNTER_COUNT_MAP_FULL);                              \
				debug_log("count map full: pid %d err %ld", key.pid, err);  \
				return 0;                                                   \
			}                                                                   \
		}                                                                           \
	} while (0)

SEC("perf_event")
int profile_cpu(struct bpf_perf_event_data *ctx)
{
	count(COUNTER_SAMPLES);

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;
	if (pid == 0) {
		count(COUNTER_SKIPPED_IDLE);
		return 0;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD) {
		count(COUNTER_SKIPPED_KTHREAD);
		return 0;
	}

	__u32 zero = 0;
	struct stack_trace *st = bpf_map_lookup_elem(&stack_scratch, &zero);
	__u32 *gen = bpf_map_lookup_elem(&active_generation, &zero);
	if (!st || !gen) {
		count(COUNTER_NO_SCRATCH);
		return 0;
	}

	struct stack_count_key key = {};
	key.pid = pid;
	key.tid = (__u32)pid_tgid;
	bpf_get_current_comm(&key.thread_comm, sizeof(key.thread_comm));
	BPF_CORE_READ_STR_INTO(&key.process_comm, task, group_leader, comm);

	__u64 ip = 0, sp = 0, bp = 0;
	bool in_kernel = false;
	if (user_regs(ctx, task, &ip, &sp, &bp, &in_kernel) == 0)
		key.flags |= unwind_user_stack(ip, sp, bp, st);
	else
		st->len = 0;
	if (in_kernel)
		key.flags |= STACK_FLAG_IN_KERNEL;
	if (key.flags & STACK_FLAG_USER_TRUNCATED)
		count(COUNTER_USER_TRUNCATED);
	if (key.flags & STACK_FLAG_USER_READ_ERROR)
		count(COUNTER_USER_READ_ERROR);

	if (*gen & 1)
		RECORD(stack_counts_1, stacks_1);
	else
		RECORD(stack_counts_0, stacks_0);
	count(COUNTER_RECORDED);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
