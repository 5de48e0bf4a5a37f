/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * Process images: which image of which process a sample belongs to. A pid alone is not enough:
 * a process can exec (same pid, new program) and a pid can be reused by a new process. Each image
 * gets an id (struct process_instance in types.h) that every sample carries, and user space keeps
 * a record per image (src/process/records.ts) until the last window holding its samples is
 * emitted. The exec and exit tracepoints below tell user space when an image ends.
 */
#ifndef PROFILER_PROCESS_H
#define PROFILER_PROCESS_H

#include "common.h"

/* Bit 2 of task_struct.flags: the task is exiting (include/linux/sched.h). */
#define PF_EXITING 0x00000004

static __always_inline void emit_event(__u32 type, __u32 pid, const struct process_instance *inst,
				       __u64 now)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_EVENTS_LOST);
		return;
	}
	e->type = type;
	e->pid = pid;
	e->ktime_ns = now;
	e->instance = inst ? inst->id : 0;
	e->exec_gen = inst ? inst->exec_gen : 0;
	e->start_ns = inst ? inst->start_ns : 0;
	bpf_ringbuf_submit(e, 0);
	count(COUNTER_EVENTS_SENT);
}

/* Sends an event about pid, at most once per event_interval_ns (per pid). */
static __always_inline void send_event(__u32 type, __u32 pid, const struct process_instance *inst)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&pid_to_last_event, &pid);
	if (last && now - *last < agent_cfg.event_interval_ns)
		return;
	bpf_map_update_elem(&pid_to_last_event, &pid, &now, BPF_ANY);
	emit_event(type, pid, inst, now);
}

static __always_inline __u32 new_instance_id(void)
{
	__u32 zero = 0;
	__u32 *next = bpf_map_lookup_elem(&next_instance_id, &zero);
	if (!next)
		return 0;
	__u32 id = __sync_fetch_and_add(next, 1) + 1;
	/* 0 means "unknown"; after 2^32 images the counter wraps past it. */
	return id ? id : __sync_fetch_and_add(next, 1) + 1;
}

/*
 * The image of the sampled process: the known one, or a new one (first sample of the process, or
 * of a new process that reuses the pid, told apart by start time), announced to user space with
 * EVENT_NEW_PROCESS. Returns 0 for an exiting process that is not known any more.
 */
static __always_inline __u32 lookup_instance(struct task_struct *task, __u32 pid);

/*
 * The image of the sampled thread's process, from the thread's task storage when it holds one.
 * Why a cached id is the one pid_to_instance would give:
 * - a task's storage dies with it, so a reused pid (a new task) never sees an older task's id;
 * - an exec changes the image of the exec'ing task only (de_thread() has killed the others), and
 *   begin_new_exec() increments that task's self_exec_id first, so an id cached before the exec
 *   no longer matches;
 * - nothing is cached while the task is in execve (in_execve, set around exec_binprm()): from the
 *   self_exec_id increment until on_exec() writes the new image, pid_to_instance still holds the
 *   old one, which must not be cached under the new self_exec_id;
 * - the storage is written only by this program, which cannot run twice at once on a CPU
 *   (bpf_overflow_handler's bpf_prog_active guard), and only for the current task, which runs on
 *   this CPU: a read never sees a half-written value.
 * One case differs: an entry pid_to_instance evicts (LRU, 32768 live images) while the process
 * lives; then threads with a cached id keep it, threads without one get a new image (before,
 * all of them did). Both ids are images of the same program: the stacks are the same.
 */
static __always_inline __u32 current_instance(struct task_struct *task, __u32 pid)
{
	struct task_instance *cached = bpf_task_storage_get(&task_instance, task, 0, 0);
	__u64 exec_id = task->self_exec_id;
	if (cached && cached->exec_id == exec_id && cached->id)
		return cached->id;
	__u32 id = lookup_instance(task, pid);
	if (id && !BPF_CORE_READ_BITFIELD_PROBED(task, in_execve)) {
		cached = bpf_task_storage_get(&task_instance, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (cached) {
			cached->exec_id = exec_id;
			cached->id = id;
		}
	}
	return id;
}

static __always_inline __u32 lookup_instance(struct task_struct *task, __u32 pid)
{
	/* Direct loads: `task` is the current task's BTF pointer (no helper call). */
	__u64 start = task->group_leader->start_boottime;
	struct process_instance *inst = bpf_map_lookup_elem(&pid_to_instance, &pid);
	if (inst && inst->start_ns == start) {
		/* The first sample of an image made at exec: tell user space it runs (it builds
		 * unwind tables only for images that are sampled). Two CPUs may both send it. */
		if (!inst->sampled) {
			inst->sampled = 1;
			emit_event(EVENT_NEW_PROCESS, pid, inst, bpf_ktime_get_ns());
		}
		return inst->id;
	}
	/* A thread still running after the exit event (do_exit's tail) must not make a new image. */
	if (task->flags & PF_EXITING)
		return 0;
	struct process_instance fresh = { .start_ns = start, .id = new_instance_id(), .sampled = 1 };
	if (!fresh.id)
		return 0;
	/* BPF_NOEXIST when there was none: two CPUs sampling the new process at once agree on one. */
	long err = bpf_map_update_elem(&pid_to_instance, &pid, &fresh, inst ? BPF_ANY : BPF_NOEXIST);
	if (err) {
		inst = bpf_map_lookup_elem(&pid_to_instance, &pid);
		return inst ? inst->id : 0;
	}
	if (inst) /* the pid was reused: the old process's mappings must not be walked */
		bpf_map_delete_elem(&pid_to_mappings, &pid);
	count(COUNTER_INSTANCES);
	emit_event(EVENT_NEW_PROCESS, pid, &fresh, bpf_ktime_get_ns());
	return fresh.id;
}

/*
 * exec: a new image. Runs after the new program's mappings are in place (exec_binprm, past the
 * point of no return), so a /proc/PID/maps read after this event is the new image's. Every exec
 * is announced, not only those of processes already sampled: user space captures the image and
 * builds its tables before its first samples, so even a program that runs for a second is
 * unwound whole from the start.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 pid = BPF_CORE_READ(p, tgid);
	struct process_instance *inst = bpf_map_lookup_elem(&pid_to_instance, &pid);
	__u64 start = BPF_CORE_READ(p, group_leader, start_boottime);
	struct process_instance next = {
		.start_ns = start,
		.id = new_instance_id(),
		/* A pid reused since its entry was written starts over. */
		.exec_gen = inst && inst->start_ns == start ? inst->exec_gen + 1 : 1,
	};
	if (!next.id)
		return 0;
	bpf_map_update_elem(&pid_to_instance, &pid, &next, BPF_ANY);
	bpf_map_delete_elem(&pid_to_mappings, &pid);
	bpf_map_delete_elem(&pid_to_last_event, &pid);
	count(COUNTER_EXECS);
	emit_event(EVENT_EXEC, pid, &next, bpf_ktime_get_ns());
	return 0;
}

/*
 * Exit of the last thread of a known process (signal->live reached 0 before this tracepoint; the
 * tracepoint's group_dead argument exists only on newer kernels). Its entries go, and user space
 * frees the image's record once the window holding its last samples is emitted.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	__u32 pid = BPF_CORE_READ(p, tgid);
	struct process_instance *found = bpf_map_lookup_elem(&pid_to_instance, &pid);
	if (!found)
		return 0;
	struct process_instance inst = *found;
	bpf_map_delete_elem(&pid_to_instance, &pid);
	bpf_map_delete_elem(&pid_to_mappings, &pid);
	bpf_map_delete_elem(&pid_to_last_event, &pid);
	count(COUNTER_EXITS);
	emit_event(EVENT_EXIT, pid, &inst, bpf_ktime_get_ns());
	return 0;
}

#endif /* PROFILER_PROCESS_H */
