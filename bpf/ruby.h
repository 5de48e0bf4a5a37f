/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * CRuby frames (3.1). Included by interp.h.
 *
 * The execution context of the thread on CPU is the thread-local ruby_current_ec. Debian's
 * libruby reaches it through the DTV (DTPMOD64/DTPOFF64 relocations, no static offset), so the
 * walker does what __tls_get_addr does: fsbase -> tcb.dtv -> dtv[module].val + offset. Its
 * control frames sit at the top of the VM stack and grow down; cfp walks towards the end.
 * An activation of rb_vm_exec runs the frames up to the one flagged FINISH (pushed when C
 * entered the VM). C-function frames are skipped: the native frames show them.
 */
#ifndef PROFILER_RUBY_H
#define PROFILER_RUBY_H

#define RUBY_MAX_FRAMES_PER_ACTIVATION 256

static __always_inline void ruby_start(struct interp_walk *w, struct interp_info *info)
{
	w->started = 1;
	w->cursor = 0;
	__u64 fsbase = interp_fsbase();
	__u64 dtv = 0, block = 0, ec = 0;
	/* tcbhead_t.dtv, then the module's dtv_t (16 bytes: val, to_free). */
	if (bpf_probe_read_user(&dtv, sizeof(dtv), (void *)(fsbase + 8)) || !dtv)
		return;
	if (bpf_probe_read_user(&block, sizeof(block), (void *)(dtv + 16 * info->tls_module)))
		return;
	if (!block || block == (__u64)-1) /* TLS_DTV_UNALLOCATED */
		return;
	if (bpf_probe_read_user(&ec, sizeof(ec), (void *)(block + info->tls_offset)) || !ec)
		return;
	__u64 cfp = 0, stack = 0, size = 0;
	if (bpf_probe_read_user(&cfp, sizeof(cfp), (void *)(ec + info->rb.ec_cfp)) ||
	    bpf_probe_read_user(&stack, sizeof(stack), (void *)(ec + info->rb.ec_vm_stack)) ||
	    bpf_probe_read_user(&size, sizeof(size), (void *)(ec + info->rb.ec_vm_stack_size)))
		return;
	w->cursor = cfp;
	w->end = stack + size * 8;
}

struct ruby_loop {
	struct interp_walk *w;
	struct interp_info *info;
	struct user_stack *st;
};

static long ruby_frame_step(__u32 i, void *arg)
{
	struct ruby_loop *rl = arg;
	struct interp_walk *w = rl->w;
	struct interp_info *info = rl->info;
	struct interp_walk *sc = w;
	__u64 cfp = w->cursor;
	if (!cfp || cfp >= w->end)
		return 1;
	__u32 size = info->rb.cfp_size;
	if (size > RUBY_CFP_READ_MAX)
		size = RUBY_CFP_READ_MAX;
	if (bpf_probe_read_user(sc->buf, size, (void *)cfp)) {
		w->cursor = 0;
		return 1;
	}
	w->cursor = cfp + size;
	__u64 pc = scratch_u64(sc, info->rb.cfp_pc);
	__u64 iseq = scratch_u64(sc, info->rb.cfp_iseq);
	__u64 ep = scratch_u64(sc, info->rb.cfp_ep);
	__u64 flags = 0;
	if (!ep || bpf_probe_read_user(&flags, sizeof(flags), (void *)ep))
		return 0;
	if ((flags & RUBY_FRAME_MAGIC_MASK) != RUBY_FRAME_MAGIC_CFUNC && iseq && pc) {
		if (!interp_emit(rl->st, INTERP_RUBY, iseq, pc))
			return 1;
	}
	return (flags & RUBY_FRAME_FLAG_FINISH) ? 1 : 0;
}

/* Pushes the Ruby frames of one rb_vm_exec activation. */
static __always_inline void ruby_push_activation(struct interp_walk *w, struct interp_info *info,
						   struct user_stack *st)
{
	if (!w->started)
		ruby_start(w, info);
	if (!w->cursor)
		return;
	struct ruby_loop rl = { .w = w, .info = info, .st = st };
	bpf_loop(RUBY_MAX_FRAMES_PER_ACTIVATION, ruby_frame_step, &rl, 0);
}

#endif /* PROFILER_RUBY_H */
