/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * CPython frames (3.8 to 3.13). Included by interp.h.
 *
 * The thread state of the thread on CPU is its glibc TSD slot for autoTSSkey (what
 * PyGILState_GetThisThreadState reads): the GIL holder (_PyRuntime.gilstate.tstate_current)
 * need not be the sampled thread. Offsets come from user space per minor version
 * (src/interp/python/offsets.ts). Each frame costs two reads: the frame struct into per-CPU
 * scratch, and co_firstlineno of its code object (the check that the code object at that
 * address is still the one sampled when user space reads it).
 */
#ifndef PROFILER_PYTHON_H
#define PROFILER_PYTHON_H

/* Python frames one activation may push: far more than 3.11+ inlines, bounded by the stack. */
#define PY_MAX_FRAMES_PER_ACTIVATION 256

/* Reads the current frame of the sampled thread into w->cursor. */
static __always_inline void python_start(struct interp_walk *w, struct interp_info *info)
{
	w->started = 1;
	w->cursor = 0;
	__u32 key = 0;
	if (bpf_probe_read_user(&key, sizeof(key), (void *)info->tls_key_addr))
		return;
	/* glibc keeps the first 32 keys in struct pthread's specific_1stblock. */
	if (key >= 32)
		return;
	__u64 fsbase = interp_fsbase();
	__u64 tstate = 0;
	if (bpf_probe_read_user(&tstate, sizeof(tstate),
				(void *)(fsbase + info->tsd_offset + 16 * (__u64)key)) || !tstate)
		return;
	__u64 frame = 0;
	if (bpf_probe_read_user(&frame, sizeof(frame), (void *)(tstate + info->py.tstate_frame)))
		return;
	if (info->py.cframe_current != 0xffff && frame) {
		__u64 cframe = frame;
		frame = 0;
		if (bpf_probe_read_user(&frame, sizeof(frame),
					(void *)(cframe + info->py.cframe_current)))
			return;
	}
	w->cursor = frame;
}

struct python_loop {
	struct interp_walk *w;
	struct interp_info *info;
	struct user_stack *st;
};

/* bpf_loop body: handles the frame at the cursor; returns 1 when the activation is done. */
static long python_frame_step(__u32 i, void *arg)
{
	struct python_loop *pl = arg;
	struct interp_walk *w = pl->w;
	struct interp_info *info = pl->info;
	struct interp_walk *sc = w;
	__u64 frame = w->cursor;
	if (!frame)
		return 1;
	__u32 size = info->py.frame_size;
	if (size > PY_FRAME_READ_MAX)
		size = PY_FRAME_READ_MAX;
	if (bpf_probe_read_user(sc->buf, size, (void *)frame)) {
		w->cursor = 0;
		return 1;
	}
	__u64 back = scratch_u64(sc, info->py.frame_back);
	__u8 mode = info->py.mode;
	if (mode == PY_MODE_OWNER_CSTACK &&
	    scratch_u8(sc, info->py.frame_entry) == info->py.entry_owner) {
		/* The shim frame this activation pushed: its frames end here. */
		w->cursor = back;
		return 1;
	}
	__u64 code = scratch_u64(sc, info->py.frame_code);
	__u64 lasti;
	if (info->py.lasti_kind == PY_LASTI_INT)
		lasti = scratch_u32(sc, info->py.frame_lasti);
	else
		lasti = (__u32)(scratch_u64(sc, info->py.frame_lasti) - code);
	bool entry = mode == PY_MODE_FRAME_OBJECT ||
		     (mode == PY_MODE_IS_ENTRY && scratch_u8(sc, info->py.frame_entry));
	w->cursor = back;
	__u32 firstlineno = 0;
	if (code && bpf_probe_read_user(&firstlineno, sizeof(firstlineno),
					(void *)(code + info->py.code_firstlineno)) == 0) {
		if (!interp_emit(pl->st, INTERP_PYTHON, code, (__u64)firstlineno << 32 | lasti))
			return 1;
	}
	return entry ? 1 : 0;
}

/* Pushes the Python frames of one _PyEval_EvalFrameDefault activation. */
static __always_inline void python_push_activation(struct interp_walk *w, struct interp_info *info,
						   struct user_stack *st)
{
	if (!w->started)
		python_start(w, info);
	if (!w->cursor)
		return;
	struct python_loop pl = { .w = w, .info = info, .st = st };
	/* <= 3.10 runs one frame per activation: no loop to set up. */
	if (info->py.mode == PY_MODE_FRAME_OBJECT)
		python_frame_step(0, &pl);
	else
		bpf_loop(PY_MAX_FRAMES_PER_ACTIVATION, python_frame_step, &pl, 0);
}

#endif /* PROFILER_PYTHON_H */
