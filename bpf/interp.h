/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * Interpreter frames inside the native walk. The native walker (unwind_user.h) calls
 * interp_push_frames() for every native frame; when its pc lies in the interpreter loop of the
 * process (pid_to_interp), the interpreter frames that loop activation runs are pushed in its
 * place, so Python and Ruby frames appear interleaved with the native ones at the right depth.
 * The interpreter's own stack (frame chain, control frames) is followed by a cursor that each
 * activation advances: <= 3.10 one Python frame per activation, 3.11+ frames up to the entry
 * frame, Ruby frames up to the one flagged FINISH.
 */
#ifndef PROFILER_INTERP_H
#define PROFILER_INTERP_H

#include "common.h"
#include "interp_types.h"

/* pid -> its interpreter. Written by src/interp/mod.ts (InterpreterTracker). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct interp_info);
} pid_to_interp SEC(".maps");

/*
 * What the interpreter walk carries from one native frame to the next, and room for one
 * interpreter struct (a frame, a control frame). Per CPU, in a map rather than on the program's
 * stack: besides the 512-byte limit, the verifier tracks constants written to the stack (a flag
 * set on one path and not on another) and would explore every later branch once per variant,
 * while map memory is just memory. For the same reason the process's interp_info is copied here
 * rather than kept as a pointer in the native walk's state: a pointer that is NULL for some
 * processes and not for others made the verifier check the whole native walk twice.
 */
struct interp_walk {
	__u64 cursor;  /* next interpreter frame (PyFrameObject, _PyInterpreterFrame, cfp) */
	__u64 end;     /* Ruby: end of the control-frame area */
	__u32 started; /* cursor was read from the thread in this sample */
	__u32 pushed;  /* interpreter frames were pushed in this sample */
	struct interp_info info; /* the sampled process's; info.kind INTERP_NONE when it has none */
	__u8 buf[PY_FRAME_READ_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct interp_walk);
} interp_walk_scratch SEC(".maps");

static __always_inline struct interp_walk *interp_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&interp_walk_scratch, &zero);
}

/*
 * Starts the interpreter walk of a sample: copies the process's interp_info, if any and if it was
 * read from this image of the process (or written without knowing the image: 0), to scratch.
 * Skips the pid_to_interp look-up (a hash look-up, ~1 us on cold memory) while user space says
 * the map is empty.
 */
static __always_inline void interp_begin(__u32 pid, __u32 instance)
{
	struct interp_walk *w = interp_scratch();
	if (!w)
		return;
	w->info.kind = INTERP_NONE;
	w->started = 0;
	w->pushed = 0;
	w->cursor = 0;
	/* No process has an interpreter registered (maps.h, active_generation[1]): no look-up. */
	__u32 slot = GENERATION_INTERP;
	__u32 *registered = bpf_map_lookup_elem(&active_generation, &slot);
	if (registered && !*registered)
		return;
	struct interp_info *info = bpf_map_lookup_elem(&pid_to_interp, &pid);
	if (info && (info->instance == 0 || info->instance == instance))
		w->info = *info;
}

/* Fields of a struct read into scratch; `off` comes from user space, so it is bounded here. */
static __always_inline __u64 scratch_u64(struct interp_walk *sc, __u32 off)
{
	if (off > PY_FRAME_READ_MAX - 8)
		return 0;
	return *(__u64 *)&sc->buf[off & (PY_FRAME_READ_MAX - 1)];
}

static __always_inline __u32 scratch_u32(struct interp_walk *sc, __u32 off)
{
	if (off > PY_FRAME_READ_MAX - 4)
		return 0;
	return *(__u32 *)&sc->buf[off & (PY_FRAME_READ_MAX - 1)];
}

static __always_inline __u8 scratch_u8(struct interp_walk *sc, __u32 off)
{
	if (off > PY_FRAME_READ_MAX - 1)
		return 0;
	return sc->buf[off & (PY_FRAME_READ_MAX - 1)];
}

/* Appends one interpreter frame (two words); false when the stack is full. */
static __always_inline bool interp_emit(struct user_stack *st, __u64 kind, __u64 addr, __u64 data)
{
	__u64 n = st->len;
	if (n + 2 > MAX_USER_STACK_DEPTH)
		return false;
	st->addrs[n & (MAX_USER_STACK_DEPTH - 1)] =
		INTERP_FRAME_TAG | (kind << INTERP_KIND_SHIFT) | (addr & INTERP_ADDR_MASK);
	st->addrs[(n + 1) & (MAX_USER_STACK_DEPTH - 1)] = data;
	st->len = n + 2;
	return true;
}

/* The sampled thread's fs base: where glibc keeps its thread control block (TSD, DTV). */
static __always_inline __u64 interp_fsbase(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	return BPF_CORE_READ(task, thread.fsbase);
}

#include "python.h"
#include "ruby.h"

/*
 * Pushes the interpreter frames of one activation of the interpreter loop of the sampled
 * process. A global function: the verifier checks it once, on its own, rather than once per
 * state of the native walk that calls it (inlined, it multiplied those states past the
 * 1M-instruction limit). Returns the number of words pushed.
 */
__noinline int interp_activation(struct user_stack *st)
{
	if (!st)
		return 0;
	struct interp_walk *w = interp_scratch();
	if (!w)
		return 0;
	__u64 t0 = agent_cfg.interp_timing ? bpf_ktime_get_ns() : 0;
	__u64 before = st->len;
	if (w->info.kind == INTERP_PYTHON)
		python_push_activation(w, &w->info, st);
	else if (w->info.kind == INTERP_RUBY)
		ruby_push_activation(w, &w->info, st);
	__u64 words = st->len - before;
	if (words)
		w->pushed = 1;
	count(COUNTER_INTERP_ACTIVATIONS);
	count_n(COUNTER_INTERP_FRAMES, words / 2);
	if (agent_cfg.interp_timing)
		count_n(COUNTER_INTERP_NS, bpf_ktime_get_ns() - t0);
	return words;
}

/* STACK_FLAG_INTERP_FRAMES when this sample's walk pushed interpreter frames, else 0. */
static __always_inline __u32 interp_end(void)
{
	struct interp_walk *w = interp_scratch();
	return w && w->info.kind != INTERP_NONE && w->pushed ? STACK_FLAG_INTERP_FRAMES : 0;
}

/*
 * Called by the native walker for the frame at pc. Returns true when interpreter frames were
 * pushed in place of the native frame, false when the caller records the native frame itself.
 */
static __always_inline bool interp_push_frames(struct user_stack *st, __u64 pc)
{
	struct interp_walk *w = interp_scratch();
	if (!w || w->info.kind == INTERP_NONE)
		return false;
	bool in_loop = (pc >= w->info.loop_start && pc < w->info.loop_end) ||
		       (pc >= w->info.cold_start && pc < w->info.cold_end);
	return in_loop && interp_activation(st) > 0;
}

#endif /* PROFILER_INTERP_H */
