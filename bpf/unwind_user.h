/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * The user-stack walk. Per frame: find the mapping of the PC in the process's sorted mappings,
 * then either step with the executable's unwind table (binary search for the row, apply its
 * rule) or with frame pointers (JIT/anonymous code, the vDSO, binaries that keep them, and
 * processes whose tables are not loaded yet). The loop runs under bpf_loop(), so the verifier
 * checks one frame, not 512, and the depth costs nothing at load time.
 */
#ifndef PROFILER_UNWIND_USER_H
#define PROFILER_UNWIND_USER_H

#include "common.h"
#include "process.h"

/* Bit 21 of task_struct.flags: a kernel thread has no user space (include/linux/sched.h). */
#define PF_KTHREAD 0x00200000

/* Binary search steps: 2^9 > MAX_MAPPINGS_PER_PROCESS, 2^25 > rows of any table we load. */
#define MAPPING_SEARCH_STEPS 9
#define ROW_SEARCH_STEPS 25

/*
 * The user registers of the sampled task. A sample that landed in kernel mode carries kernel
 * registers in ctx->regs; the user ones were saved at kernel entry at the top of the task's
 * kernel stack, which bpf_task_pt_regs() returns (kernel 5.15+).
 */
static __always_inline int user_regs(struct bpf_perf_event_data *ctx, struct task_struct *task,
				     __u64 *ip, __u64 *sp, __u64 *bp, bool *in_kernel)
{
	struct pt_regs *regs;
	/*
	 * The low two bits of CS are the privilege level: 3 for user mode, 0 for the kernel. The
	 * verifier only allows 8-byte loads from the context's registers, and newer kernels declare
	 * cs as a 16-bit field, so it is loaded as the whole 8-byte slot.
	 */
	__u64 cs = *(__u64 *)((char *)&ctx->regs + __builtin_offsetof(struct pt_regs, cs));
	if ((cs & 3) == 3) {
		*in_kernel = false;
		*ip = ctx->regs.ip;
		*sp = ctx->regs.sp;
		*bp = ctx->regs.bp;
		return 0;
	}
	*in_kernel = true;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return -1;
	*ip = BPF_CORE_READ(regs, ip);
	*sp = BPF_CORE_READ(regs, sp);
	*bp = BPF_CORE_READ(regs, bp);
	return 0;
}

/* What one walk carries from frame to frame (on the program's stack, passed to bpf_loop). */
struct walk_state {
	__u64 ip;
	__u64 sp;
	__u64 bp;
	struct user_stack *st;
	struct process_mappings *proc; /* NULL: no mappings known, frame pointers only */
	__u32 error;                   /* enum unwind_error */
	__u32 flags;                   /* enum stack_flags */
	__u32 pid;
	__u32 instance;                /* the sample's process_instance id */
	__u32 last_mapping;            /* index of the previous frame's mapping, to try it first */
	bool exact_ip;                 /* ip is not a return address (leaf, after a signal frame) */
	bool bp_unknown;               /* the caller's rbp could not be recovered */
	bool done;
};

/* Reads one u64 of user memory; false on a fault. */
static __always_inline bool read_user_u64(__u64 addr, __u64 *out)
{
	return bpf_probe_read_user(out, sizeof(*out), (void *)addr) == 0;
}

/* One frame-pointer step: [rbp] = caller's rbp, [rbp + 8] = return address. */
static __always_inline void step_frame_pointer(struct walk_state *s)
{
	count(COUNTER_FP_FRAMES);
	if (s->bp == 0 || s->bp_unknown) {
		/* rbp == 0 marks the outermost frame in the x86-64 ABI. */
		s->done = true;
		return;
	}
	/* [rbp] and [rbp + 8] in one read: a helper call per frame, not two. */
	__u64 frame[2];
	if (bpf_probe_read_user(frame, sizeof(frame), (void *)s->bp)) {
		s->error = UNWIND_ERROR_READ_FAULT;
		return;
	}
	__u64 next_bp = frame[0], ret = frame[1];
	if (ret == 0) {
		s->done = true;
		return;
	}
	/* The chain must move up the stack, or it is not a frame-pointer chain at all. */
	if (next_bp != 0 && next_bp <= s->bp) {
		s->error = UNWIND_ERROR_READ_FAULT;
		return;
	}
	s->sp = s->bp + 16;
	s->bp = next_bp;
	s->ip = ret;
	s->exact_ip = false;
}

/*
 * Binary searches run under bpf_loop() too: as plain bounded loops, every path through lo/hi
 * would be a distinct verifier state (2^steps of them).
 */
struct mapping_search {
	struct process_mappings *proc;
	__u64 pc;
	__u32 lo;
	__u32 hi;
};

static long mapping_search_step(__u32 i, void *arg)
{
	struct mapping_search *ms = arg;
	if (ms->lo >= ms->hi)
		return 1;
	__u32 mid = (ms->lo + (ms->hi - ms->lo) / 2) & (MAX_MAPPINGS_PER_PROCESS - 1);
	if (ms->pc < ms->proc->mappings[mid].start)
		ms->hi = mid;
	else
		ms->lo = mid + 1;
	return 0;
}

/* Index of the mapping containing pc, or -1. */
static __always_inline int find_mapping(struct process_mappings *proc, __u64 pc)
{
	struct mapping_search ms = { .proc = proc, .pc = pc, .lo = 0, .hi = proc->len };
	if (ms.hi > MAX_MAPPINGS_PER_PROCESS)
		ms.hi = MAX_MAPPINGS_PER_PROCESS;
	bpf_loop(MAPPING_SEARCH_STEPS, mapping_search_step, &ms, 0);
	/* lo is the first mapping starting after pc; the candidate is the one before it. */
	if (ms.lo == 0 || ms.lo > MAX_MAPPINGS_PER_PROCESS)
		return -1;
	/* The mask restates the bound in a form the verifier keeps (MAX is a power of two). */
	__u32 idx = (ms.lo - 1) & (MAX_MAPPINGS_PER_PROCESS - 1);
	if (pc >= proc->mappings[idx].end)
		return -1;
	return idx;
}

struct row_search {
	__u32 first; /* the table's first row in the row space */
	__u32 target;
	__u32 lo;
	__u32 hi;
	bool fault;
};

/* Row `idx` of the row space: the chunk, then the row in it (both lookups inlined, maps.h). */
static __always_inline struct unwind_row *row_at(__u32 idx)
{
	__u32 chunk_idx = idx >> UNWIND_CHUNK_SHIFT;
	void *chunk = bpf_map_lookup_elem(&unwind_chunks, &chunk_idx);
	if (!chunk)
		return NULL;
	__u32 slot = idx & (UNWIND_CHUNK_ROWS - 1);
	return bpf_map_lookup_elem(chunk, &slot);
}

static long row_search_step(__u32 i, void *arg)
{
	struct row_search *rs = arg;
	if (rs->lo >= rs->hi)
		return 1;
	__u32 mid = rs->lo + (rs->hi - rs->lo) / 2;
	struct unwind_row *r = row_at(rs->first + mid);
	if (!r) {
		rs->fault = true;
		return 1;
	}
	if (r->pc <= rs->target)
		rs->lo = mid + 1;
	else
		rs->hi = mid;
	return 0;
}

/* One step with the executable's unwind table. */
static __always_inline void step_dwarf(struct walk_state *s, struct exec_mapping *m)
{
	__u32 exe_id = m->exe_id;
	struct unwind_table_ref *table = bpf_map_lookup_elem(&unwind_tables, &exe_id);
	if (!table || table->rows == 0) {
		s->error = UNWIND_ERROR_TABLE_MISSING;
		return;
	}
	/* A return address points after the call; the call itself belongs to the caller's row. */
	__u64 pc = (s->exact_ip ? s->ip : s->ip - 1) - m->table_bias;
	if (pc > 0xffffffffULL) {
		s->error = UNWIND_ERROR_PC_NOT_COVERED;
		return;
	}
	/* Last row whose pc <= target. */
	struct row_search rs = {
		.first = table->first_row, .target = (__u32)pc, .lo = 0, .hi = table->rows
	};
	bpf_loop(ROW_SEARCH_STEPS, row_search_step, &rs, 0);
	if (rs.fault) {
		s->error = UNWIND_ERROR_TABLE_MISSING;
		return;
	}
	if (rs.lo == 0) {
		s->error = UNWIND_ERROR_PC_NOT_COVERED;
		return;
	}
	struct unwind_row *row = row_at(rs.first + rs.lo - 1);
	if (!row) {
		s->error = UNWIND_ERROR_TABLE_MISSING;
		return;
	}
	__u32 rule_idx = row->rule;
	struct unwind_rule *rule = bpf_map_lookup_elem(&unwind_rules, &rule_idx);
	if (!rule) {
		s->error = UNWIND_ERROR_UNSUPPORTED_CFA;
		return;
	}
	count(COUNTER_DWARF_FRAMES);

	__u64 cfa = 0;
	switch (rule->cfa_kind) {
	case CFA_RA_UNDEFINED:
		s->done = true; /* the outermost frame: the walk reached the bottom */
		return;
	case CFA_END_OF_FUNCTION:
		s->error = UNWIND_ERROR_PC_NOT_COVERED;
		return;
	case CFA_RSP_OFFSET:
		cfa = s->sp + (__s64)rule->cfa_offset;
		break;
	case CFA_RBP_OFFSET:
		if (s->bp_unknown) {
			s->error = UNWIND_ERROR_RBP_UNKNOWN;
			return;
		}
		cfa = s->bp + (__s64)rule->cfa_offset;
		break;
	case CFA_PLT1:
		cfa = s->sp + 8 + (((s->ip & 15) >= 11) ? 8 : 0);
		break;
	case CFA_PLT2:
		cfa = s->sp + 8 + (((s->ip & 15) >= 10) ? 8 : 0);
		break;
	case CFA_SIGNAL_FRAME: {
		/* The kernel's rt_sigframe sits at rsp: the interrupted rsp, rbp and rip are saved in
		 * its ucontext. The recovered rip is where the signal struck, not a return address. */
		__u64 rsp, rbp, rip;
		if (!read_user_u64(s->sp + (__s64)rule->cfa_offset, &rsp) ||
		    !read_user_u64(s->sp + (__s64)rule->rbp_offset, &rbp) ||
		    !read_user_u64(s->sp + (__s64)rule->ra_offset, &rip)) {
			s->error = UNWIND_ERROR_READ_FAULT;
			return;
		}
		s->sp = rsp;
		s->bp = rbp;
		s->bp_unknown = false;
		s->ip = rip;
		s->exact_ip = true;
		if (rip == 0)
			s->done = true;
		return;
	}
	default:
		s->error = UNWIND_ERROR_UNSUPPORTED_CFA;
		return;
	}

	__u64 ret;
	/* The usual frame saves rbp right below the return address: read both at once. */
	if (rule->rbp_kind == RBP_CFA_OFFSET && rule->rbp_offset + 8 == rule->ra_offset) {
		__u64 saved[2];
		if (bpf_probe_read_user(saved, sizeof(saved), (void *)(cfa + (__s64)rule->rbp_offset))) {
			s->error = UNWIND_ERROR_READ_FAULT;
			return;
		}
		s->bp = saved[0];
		s->bp_unknown = false;
		ret = saved[1];
	} else if (!read_user_u64(cfa + (__s64)rule->ra_offset, &ret)) {
		s->error = UNWIND_ERROR_READ_FAULT;
		return;
	}
	switch (rule->rbp_kind) {
	case RBP_UNCHANGED:
		break;
	case RBP_CFA_OFFSET: {
		if (rule->rbp_offset + 8 == rule->ra_offset)
			break; /* read above */
		__u64 bp;
		if (!read_user_u64(cfa + (__s64)rule->rbp_offset, &bp)) {
			s->error = UNWIND_ERROR_READ_FAULT;
			return;
		}
		s->bp = bp;
		s->bp_unknown = false;
		break;
	}
	default:
		/* Only a later rbp-based CFA needs it; fail then, not now. */
		s->bp_unknown = true;
		break;
	}
	s->sp = cfa;
	s->ip = ret;
	s->exact_ip = false;
	if (ret == 0)
		s->done = true;
}

/* bpf_loop body: records the current frame, then steps to its caller. */
static long walk_one_frame(__u32 i, void *arg)
{
	struct walk_state *s = arg;
	struct user_stack *st = s->st;
	if (i >= MAX_USER_STACK_DEPTH)
		return 1;
	st->addrs[i] = s->ip;
	st->len = i + 1;

	struct process_mappings *proc = s->proc;
	if (!proc) {
		step_frame_pointer(s);
	} else {
		__u64 pc = s->exact_ip ? s->ip : s->ip - 1;
		/* Callers are usually in the same executable as their callee: try it before searching. */
		__u32 last = s->last_mapping & (MAX_MAPPINGS_PER_PROCESS - 1);
		int idx = s->last_mapping < proc->len && pc >= proc->mappings[last].start &&
				  pc < proc->mappings[last].end
			  ? (int)last
			  : find_mapping(proc, pc);
		if (idx >= 0)
			s->last_mapping = idx;
		if (idx < 0 || idx >= MAX_MAPPINGS_PER_PROCESS) {
			/* A mapping that appeared since user space read the maps (dlopen, a new JIT
			 * region): ask for a re-read, and meanwhile try frame pointers. */
			send_event(EVENT_MAPPINGS_CHANGED, s->pid, NULL);
			if (agent_cfg.mixed_mode)
				step_frame_pointer(s);
			else
				s->error = UNWIND_ERROR_NO_MAPPING;
		} else {
			struct exec_mapping *m = &proc->mappings[idx & (MAX_MAPPINGS_PER_PROCESS - 1)];
			if (m->kind == MAPPING_KIND_DWARF)
				step_dwarf(s, m);
			else if (m->kind == MAPPING_KIND_JIT && !agent_cfg.mixed_mode)
				s->error = UNWIND_ERROR_JIT_MIXED_DISABLED;
			else {
				if (m->kind == MAPPING_KIND_PENDING)
					s->flags |= STACK_FLAG_TABLES_PENDING;
				step_frame_pointer(s);
			}
		}
	}
	if (s->error || s->done || s->ip == 0)
		return 1;
	if (i + 1 >= MAX_USER_STACK_DEPTH) {
		s->error = UNWIND_ERROR_TRUNCATED;
		return 1;
	}
	return 0;
}

/*
 * Walks the user stack of pid into st (leaf first); returns stack_flags bits and sets *error.
 */
static __always_inline __u32 unwind_user_stack(__u32 pid, __u32 instance, __u64 ip, __u64 sp,
					       __u64 bp, struct user_stack *st, __u32 *error)
{
	struct walk_state s = {
		.ip = ip,
		.sp = sp,
		.bp = bp,
		.st = st,
		.pid = pid,
		.instance = instance,
		.last_mapping = MAX_MAPPINGS_PER_PROCESS,
		.exact_ip = true,
	};
	st->len = 0;
	if (ip == 0)
		return 0;
	if (agent_cfg.dwarf_enabled) {
		s.proc = bpf_map_lookup_elem(&pid_to_mappings, &pid);
		/* Mappings written for another image of this pid (before an exec) do not apply. */
		if (s.proc && s.proc->instance != instance)
			s.proc = NULL;
		if (!s.proc) {
			s.flags |= STACK_FLAG_TABLES_PENDING;
			/* Again and again (rate-limited) until user space loads them: events can be lost. */
			send_event(EVENT_NEW_PROCESS, pid, bpf_map_lookup_elem(&pid_to_instance, &pid));
		}
	}
	bpf_loop(MAX_USER_STACK_DEPTH, walk_one_frame, &s, 0);
	if (s.error == UNWIND_ERROR_TRUNCATED) {
		s.flags |= STACK_FLAG_USER_TRUNCATED;
		count(COUNTER_USER_TRUNCATED);
	} else if (s.error) {
		s.flags |= STACK_FLAG_USER_ERROR;
		count(COUNTER_USER_ERROR);
		if (s.error == UNWIND_ERROR_TABLE_MISSING)
			send_event(EVENT_MAPPINGS_CHANGED, pid, NULL);
	}
	*error = s.error;
	return s.flags;
}

#endif /* PROFILER_UNWIND_USER_H */
