/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * The user-stack walk. Per frame: find the mapping of the PC in the process's sorted mappings,
 * then either step with the executable's unwind table (binary search for the row, apply its
 * rule) or with frame pointers (JIT/anonymous code, the vDSO, files without unwind information,
 * and, in mixed mode, code a table does not cover: hand-written assembly, V8's embedded
 * builtins). Every frame dispatches on its own mapping, so a walk goes from tables to frame
 * pointers and back as often as the code does. A frame-pointer step whose return address lies
 * outside every known mapping, or does not follow a call instruction, is garbage (code without
 * frame pointers): the walk stops there instead of recording it. Before a process's mappings
 * are known only the second check applies, and its samples are marked pending. The loop runs
 * under bpf_loop(), so the verifier checks one frame,
 * not 512, and the depth costs nothing at load time.
 *
 * walk_one_frame() is the per-frame dispatch: an unwinder for another kind of code (an
 * interpreter's frames) adds a mapping kind and a case there.
 */
#ifndef PROFILER_UNWIND_USER_H
#define PROFILER_UNWIND_USER_H

#include "common.h"
#include "process.h"
#include "interp.h"

/* Bit 21 of task_struct.flags: a kernel thread has no user space (include/linux/sched.h). */
#define PF_KTHREAD 0x00200000

/*
 * Words of user stack a DWARF walk copies at once (walk_regs.win): 128 bytes, about four frames
 * of a small function, filled by one helper call. Small on purpose: a 2 KiB per-CPU window (a
 * cold buffer at 19 Hz) made frame-pointer walks slower (docs/benchmarks.md, branch bpf-maps).
 */
#define STACK_WINDOW_WORDS 16

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

/*
 * The registers and outcome of a walk: all the steps read and write. Scalars only, so a step
 * can be a global function (verified once, whatever its callers' state) that takes a pointer
 * to it.
 */
struct walk_regs {
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u64 fsbase;     /* the thread's fs base (TLS: Go's current g) */
	__u32 error;      /* enum unwind_error */
	__u32 flags;      /* enum stack_flags */
	bool exact_ip;    /* ip is not a return address (leaf, after a signal frame) */
	bool bp_unknown;  /* the caller's rbp could not be recovered */
	bool via_fp;      /* ip came from a frame-pointer step: check it is code */
	bool done;
	/* The last row found, for the next frame at the same pc (recursion): the rule index of
	 * the row of table pc (row_key & 0xffffffff) in table row_key >> 32; 0 until a row is. */
	__u32 row_rule;
	__u64 row_key;
	/* A copy of [win_base, win_base + win_len) of this walk's user stack (read_stack): the
	 * next DWARF frames' saved rbp and return address, a few dozen bytes above the last ones.
	 * win_len == 0: empty. On the program's stack, so it lives for one walk only. */
	__u64 win_base;
	__u32 win_len;
	__u64 win[STACK_WINDOW_WORDS];
};

/* What one walk carries from frame to frame (on the program's stack, passed to bpf_loop). */
struct walk_state {
	struct walk_regs r;
	struct user_stack *st;
	struct process_mappings *proc; /* NULL: no mappings known, frame pointers only */
	__u32 pid;
	__u32 instance;                /* the sample's process_instance id */
	__u32 last_mapping;            /* index of the previous frame's mapping, to try it first */
	bool from_jit;                 /* ip came from a step in JIT code (anonymous memory) */
};

/* Reads one u64 of user memory; false on a fault. */
static __always_inline bool read_user_u64(__u64 addr, __u64 *out)
{
	return bpf_probe_read_user(out, sizeof(*out), (void *)addr) == 0;
}

/*
 * Reads `size` (8 or 16) bytes of the sampled thread's stack at addr into out; false on a fault.
 * DWARF steps only. Consecutive frames read a few dozen bytes above each other: a read the
 * window does not hold fills it with one bpf_probe_read_user() from addr up to
 * STACK_WINDOW_WORDS words, never past addr's page end, and the reads after it that fall in the
 * window are plain loads instead of a helper call each. Why the bytes and faults are those of
 * the direct read: a read within one page faults exactly when its first byte's page is not
 * readable, so the fill (one page, from addr) faults when the direct read at addr would, and a
 * read the window holds is a copy of the same user bytes taken in the same program run (the
 * sampled thread is not running meanwhile). A read across a page end, or not 8-byte aligned
 * (the window's words are read from an aligned base), goes direct.
 */
static __always_inline bool read_stack(struct walk_regs *s, __u64 addr, __u64 *out, __u32 size)
{
	/* The window holds whole words from an aligned base: an unaligned read is not one of them. */
	if (addr & 7)
		return bpf_probe_read_user(out, size, (void *)addr) == 0;
	__u64 off = addr - s->win_base;
	if (s->win_len == 0 || addr < s->win_base || off + size > s->win_len) {
		__u64 len = 4096 - (addr & 4095);
		if (len > STACK_WINDOW_WORDS * 8)
			len = STACK_WINDOW_WORDS * 8;
		if (len < size)
			return bpf_probe_read_user(out, size, (void *)addr) == 0;
		s->win_len = 0;
		if (bpf_probe_read_user(s->win, len, (void *)addr))
			return false;
		s->win_base = addr;
		s->win_len = len;
		off = 0;
	}
	__u32 idx = (off >> 3) & (STACK_WINDOW_WORDS - 1);
	out[0] = s->win[idx];
	if (size == 16)
		out[1] = s->win[(idx + 1) & (STACK_WINDOW_WORDS - 1)];
	return true;
}

/*
 * Length of the x86-64 ModRM-addressed operand (ModRM byte, SIB, displacement) that starts with
 * `modrm` followed by `sib`.
 */
static __always_inline __u32 modrm_operand_len(__u8 modrm, __u8 sib)
{
	__u8 mod = modrm >> 6, rm = modrm & 7;
	if (mod == 3)
		return 1;
	__u32 len = 1 + (rm == 4); /* SIB */
	if (mod == 1)
		return len + 1;
	if (mod == 2 || (mod == 0 && rm == 5) || (mod == 0 && rm == 4 && (sib & 7) == 5))
		return len + 4;
	return len;
}

/*
 * Whether `ret` follows a call instruction, as every return address does: `call rel32` (e8)
 * or `call r/m64` (ff /2, any addressing form, with or without a REX prefix) ending right
 * before it. A frame-pointer step through code without frame pointers reads data instead
 * (a pointer into a data segment, a function pointer): such a value follows a call only by
 * chance (about 1 in 200 for random bytes), so the walk stops there instead of recording it.
 * A global function: the verifier checks it once, not at every inlined frame-pointer step.
 */
__noinline int follows_call(__u64 ret)
{
	__u8 b[8];
	if (ret < 4096 + 8 || bpf_probe_read_user(b, sizeof(b), (void *)(ret - 8)))
		return 0;
	if (b[3] == 0xe8)
		return 1;
	/* ff /2 of length 2..7 ending at ret: opcode at b[8 - len], ModRM after it. */
	int found = 0;
#pragma unroll
	for (int len = 2; len <= 7; len++) {
		__u8 modrm = b[9 - len];
		__u8 sib = len >= 3 ? b[10 - len] : 0;
		found |= b[8 - len] == 0xff && ((modrm >> 3) & 7) == 2 &&
			 1 + modrm_operand_len(modrm, sib) == (__u32)len;
	}
	return found;
}

/*
 * One frame-pointer step: [rbp] = caller's rbp, [rbp + 8] = return address. `switched`: the
 * step leaves a stack for another (Go's g0 back to a goroutine), so rbp need not lie above sp.
 */
static __always_inline void step_frame_pointer_on(struct walk_regs *s, bool switched)
{
	count(COUNTER_FP_FRAMES);
	s->via_fp = true;
	if (s->bp_unknown) {
		s->error = UNWIND_ERROR_RBP_UNKNOWN;
		return;
	}
	if (s->bp == 0) {
		/* rbp == 0 marks the outermost frame in the x86-64 ABI. */
		s->done = true;
		return;
	}
	/* A frame pointer lies on the stack above the stack pointer, or it is not one at all
	 * (code without frame pointers uses rbp for data). Each step then moves sp up: no cycles. */
	if (s->bp < s->sp && !switched) {
		s->error = UNWIND_ERROR_READ_FAULT;
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
	/* next_bp is the caller's rbp whatever it holds: a table-driven caller may use it for
	 * data, and only a later frame-pointer step checks it is a frame pointer. */
	s->sp = s->bp + 16;
	s->bp = next_bp;
	s->ip = ret;
	s->exact_ip = false;
}

static __always_inline void step_frame_pointer(struct walk_regs *s)
{
	step_frame_pointer_on(s, false);
}

/*
 * Go's runtime.systemstack on g0, at its call of the target function: the goroutine it came
 * from is m.curg of the thread's current g (g0), and its SP at the switch is curg.sched.sp,
 * where Go's own traceback goes on (see CFA_GO_SYSTEMSTACK in types.h for the offsets).
 */
static __always_inline void step_go_systemstack(struct walk_regs *s, struct unwind_rule *rule)
{
	__u32 packed = (__u32)rule->rbp_offset;
	__s64 tls = (__s8)(packed & 0xff);
	__u64 g_m = ((packed >> 8) & 0xff) * 8;
	__u64 sched_sp = ((packed >> 16) & 0xff) * 8;
	__u64 g, m, curg, sp, ret, bp;
	if (!s->fsbase || !read_user_u64(s->fsbase + tls, &g) || !read_user_u64(g + g_m, &m) ||
	    !read_user_u64(m + (__u16)rule->ra_offset, &curg) ||
	    !read_user_u64(curg + sched_sp, &sp) || !sp) {
		s->error = UNWIND_ERROR_READ_FAULT;
		return;
	}
	__u64 cfa = sp + (__s64)rule->cfa_offset;
	if (!read_user_u64(cfa - 8, &ret)) {
		s->error = UNWIND_ERROR_READ_FAULT;
		return;
	}
	if (rule->rbp_kind == RBP_CFA_OFFSET) {
		if (!read_user_u64(cfa - 16, &bp)) {
			s->error = UNWIND_ERROR_READ_FAULT;
			return;
		}
		s->bp = bp;
		s->bp_unknown = false;
	}
	s->sp = cfa;
	s->ip = ret;
	s->exact_ip = false;
	s->via_fp = false;
	if (ret == 0)
		s->done = true;
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

/*
 * A PC that the file's table does not cover (hand-written assembly without CFI, V8's embedded
 * builtins, trampolines): frame pointers in mixed mode, an error otherwise.
 */
static __always_inline void step_uncovered(struct walk_regs *s)
{
	if (!agent_cfg.mixed_mode) {
		s->error = UNWIND_ERROR_PC_NOT_COVERED;
		return;
	}
	s->flags |= STACK_FLAG_FP_FALLBACK;
	count(COUNTER_FP_FALLBACK_FRAMES);
	step_frame_pointer(s);
}

/*
 * The rows a search for table pc `pc` must look at, narrowed with the table's page index: [*lo,
 * *hi) of the table's rows. False when the index is inconsistent (being rewritten).
 */
static __always_inline bool page_rows(struct unwind_table_index *table, __u32 pc, __u32 *lo,
				      __u32 *hi)
{
	__u32 rows = table->rows;
	*lo = 0;
	*hi = rows;
	if (!table->pages)
		return true;
	__u32 page = pc >> (table->page_shift & 31);
	if (page < table->page_base) {
		*hi = 0; /* before the first row */
		return true;
	}
	page -= table->page_base;
	if (page >= table->pages) {
		*lo = rows; /* past the last page: the last row */
		return true;
	}
	struct unwind_row *e = row_at(table->first_row + rows + page);
	if (!e || e->pc > e->rule || e->rule > rows)
		return false;
	*lo = e->pc;
	*hi = e->rule;
	return true;
}

#ifdef BENCH_TIMING
/*
 * Benchmarks only: slot 0 of bench_times (which the stamps leave unused) adds up the time of
 * every step_dwarf, slot 14 the part of it that finds the rule (table, cache, search, rule
 * look-up), slot 16 the mapping searches of mapping_of(); all within the user walk's slot 7.
 */
static __always_inline void bench_add(__u32 slot, __u64 since)
{
	__u32 zero = 0;
	struct bench_times *t = bpf_map_lookup_elem(&bench_times, &zero);
	if (t && slot < BENCH_SLOTS)
		t->ns[slot] += bpf_ktime_get_ns() - since;
}
#define BENCH_NOW() bpf_ktime_get_ns()
#else
#define bench_add(slot, since) do { } while (0)
#define BENCH_NOW() 0
#endif

static __always_inline int step_dwarf_body(struct walk_regs *s, __u32 exe_id, __u32 rows,
					   __u64 bias, __u64 t0);

/*
 * One step with the executable's unwind table (`rows` rows, table pc = address - `bias`). A
 * global function: its many branches are verified once, not in every state of the walk.
 */
__noinline int step_dwarf(struct walk_regs *s, __u32 exe_id, __u32 rows, __u64 bias)
{
	if (!s)
		return 0;
	__u64 t0 = BENCH_NOW();
	step_dwarf_body(s, exe_id, rows, bias, t0);
	bench_add(0, t0);
	return 0;
}

static __always_inline int step_dwarf_body(struct walk_regs *s, __u32 exe_id, __u32 rows,
					   __u64 bias, __u64 t0)
{
	/* A return address points after the call; the call itself belongs to the caller's row. */
	__u64 pc = (s->exact_ip ? s->ip : s->ip - 1) - bias;
	__u64 key = ((__u64)exe_id << 32) | (__u32)pc;
	struct unwind_rule *rule;
	if (pc <= 0xffffffffULL && key == s->row_key) {
		/* The previous frame's pc in the same table (recursion): the same rule. */
		rule = bpf_map_lookup_elem(&unwind_rules, &s->row_rule);
	} else {
		struct unwind_table_index *table = bpf_map_lookup_elem(&unwind_table_index, &exe_id);
		/* `rows` is what the mapping was written with; the table's own count is what is
		 * loaded. */
		if (!table || table->rows == 0 || table->rows != rows) {
			s->error = UNWIND_ERROR_TABLE_MISSING;
			return 0;
		}
		if (pc > 0xffffffffULL) {
			step_uncovered(s);
			return 0;
		}
		/* A rule an earlier walk found for this pc of this load of the table (maps.h). */
		__u32 load_id = *(volatile __u32 *)&table->load_id;
		__u32 zero = 0;
		struct rule_cache *cache = bpf_map_lookup_elem(&rule_cache, &zero);
		struct rule_cache_entry *ce = NULL;
		if (cache && load_id) {
			ce = &cache->e[((key * 0x9e3779b97f4a7c15ULL) >> 54) & (RULE_CACHE_SLOTS - 1)];
			if (ce->key == key && ce->load_id == load_id) {
				rule = &ce->rule;
				goto found;
			}
		}
		/* Last row whose pc <= target, among the rows of its page. */
		struct row_search rs = { .first = table->first_row, .target = (__u32)pc };
		if (!page_rows(table, (__u32)pc, &rs.lo, &rs.hi)) {
			s->error = UNWIND_ERROR_TABLE_MISSING;
			return 0;
		}
		bpf_loop(ROW_SEARCH_STEPS, row_search_step, &rs, 0);
		if (rs.fault) {
			s->error = UNWIND_ERROR_TABLE_MISSING;
			return 0;
		}
		if (rs.lo == 0) {
			/* Before the first row: not covered, remembered as such. */
			if (ce && *(volatile __u32 *)&table->load_id == load_id) {
				ce->key = key;
				ce->load_id = load_id;
				ce->rule = (struct unwind_rule){ .cfa_kind = CFA_END_OF_FUNCTION };
			}
			step_uncovered(s);
			return 0;
		}
		struct unwind_row *row = row_at(rs.first + rs.lo - 1);
		if (!row) {
			s->error = UNWIND_ERROR_TABLE_MISSING;
			return 0;
		}
		__u32 rule_idx = row->rule;
		s->row_key = key;
		s->row_rule = rule_idx;
		rule = bpf_map_lookup_elem(&unwind_rules, &rule_idx);
		/* Only a rule found while the same load was published all along (maps.h). */
		if (rule && ce && *(volatile __u32 *)&table->load_id == load_id) {
			ce->key = key;
			ce->load_id = load_id;
			ce->rule = *rule;
		}
	}
found:
	bench_add(14, t0);
	if (!rule) {
		s->error = UNWIND_ERROR_UNSUPPORTED_CFA;
		return 0;
	}
	count(COUNTER_DWARF_FRAMES);

	__u64 cfa = 0;
	switch (rule->cfa_kind) {
	case CFA_RA_UNDEFINED:
		s->done = true; /* the outermost frame: the walk reached the bottom */
		return 0;
	case CFA_END_OF_FUNCTION:
		step_uncovered(s);
		return 0;
	case CFA_FRAME_POINTER:
		/* Go code that switched stacks (systemstack when its offsets were not found, other
		 * SP-writing runtime functions): rbp links to the frames of the stack it came from. */
		step_frame_pointer_on(s, true);
		return 0;
	case CFA_GO_SYSTEMSTACK:
		step_go_systemstack(s, rule);
		return 0;
	case CFA_GO_ASMCGOCALL: {
		/* Go's asmcgocall on g0, returned to by C: [rsp] is the goroutine's stack depth below
		 * g->stack.hi (offset 8 of g), [rsp + 8] is g; without g (already on g0) [rsp] is the
		 * original rsp. The CFA is that rsp plus what asmcgocall's prologue pushed. */
		__u64 depth, g, hi, sp0;
		if (!read_user_u64(s->sp, &depth) || !read_user_u64(s->sp + 8, &g)) {
			s->error = UNWIND_ERROR_READ_FAULT;
			return 0;
		}
		sp0 = depth;
		if (g) {
			if (!read_user_u64(g + 8, &hi)) {
				s->error = UNWIND_ERROR_READ_FAULT;
				return 0;
			}
			sp0 = hi - depth;
		}
		cfa = sp0 + (__s64)rule->cfa_offset;
		break;
	}
	case CFA_RSP_OFFSET:
		cfa = s->sp + (__s64)rule->cfa_offset;
		break;
	case CFA_RBP_OFFSET:
		if (s->bp_unknown) {
			s->error = UNWIND_ERROR_RBP_UNKNOWN;
			return 0;
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
			return 0;
		}
		s->sp = rsp;
		s->bp = rbp;
		s->bp_unknown = false;
		s->ip = rip;
		s->exact_ip = true;
		if (rip == 0)
			s->done = true;
		return 0;
	}
	default:
		s->error = UNWIND_ERROR_UNSUPPORTED_CFA;
		return 0;
	}

	__u64 ret;
	/* The usual frame saves rbp right below the return address: read both at once. */
	if (rule->rbp_kind == RBP_CFA_OFFSET && rule->rbp_offset + 8 == rule->ra_offset) {
		__u64 saved[2];
		if (!read_stack(s, cfa + (__s64)rule->rbp_offset, saved, sizeof(saved))) {
			s->error = UNWIND_ERROR_READ_FAULT;
			return 0;
		}
		s->bp = saved[0];
		s->bp_unknown = false;
		ret = saved[1];
	} else if (!read_stack(s, cfa + (__s64)rule->ra_offset, &ret, sizeof(ret))) {
		s->error = UNWIND_ERROR_READ_FAULT;
		return 0;
	}
	switch (rule->rbp_kind) {
	case RBP_UNCHANGED:
		break;
	case RBP_CFA_OFFSET: {
		if (rule->rbp_offset + 8 == rule->ra_offset)
			break; /* read above */
		__u64 bp;
		if (!read_stack(s, cfa + (__s64)rule->rbp_offset, &bp, sizeof(bp))) {
			s->error = UNWIND_ERROR_READ_FAULT;
			return 0;
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
	s->via_fp = false;
	if (ret == 0)
		s->done = true;
	return 0;
}

/*
 * Records the current frame at the end of the stack: not at the loop's index, since an
 * interpreter-loop frame becomes several words (interp.h). The walk stops before the stack is
 * full; the mask restates the bound for the verifier.
 */
static __always_inline void record_frame(struct walk_state *s)
{
	__u32 idx = s->st->len;
	/* Hidden from clang, which would otherwise drop the mask it can prove redundant. */
	asm volatile("" : "+r"(idx));
	s->st->addrs[idx & (MAX_USER_STACK_DEPTH - 1)] = s->r.ip;
	s->st->len = idx + 1;
}

/*
 * Index of the mapping containing pc, or -1: the one an earlier walk of this image found for
 * pc's page (maps.h mapping_hints) when it still contains pc, else a search. A hint is checked
 * against the mappings it is used with, and the executable mappings of a process do not
 * overlap, so a hint that is out of date (the mappings were rewritten, another image's hint
 * whose tag collides) costs the search, never a wrong mapping.
 */
static __always_inline int mapping_of(struct process_mappings *proc, __u32 instance, __u64 pc)
{
	__u64 t0 __attribute__((unused)) = BENCH_NOW();
	__u32 zero = 0;
	__u64 h = ((pc >> 12) ^ ((__u64)instance << 40)) * 0x9e3779b97f4a7c15ULL;
	__u32 tag = (__u32)(h >> 16) | 1; /* never 0: an empty hint matches nothing */
	struct mapping_hints *hints = bpf_map_lookup_elem(&mapping_hints, &zero);
	struct mapping_hint *hint = hints ? &hints->e[(h >> 55) & (MAPPING_HINTS - 1)] : NULL;
	if (hint && hint->tag == tag) {
		__u32 idx = hint->idx & (MAX_MAPPINGS_PER_PROCESS - 1);
		if (idx < proc->len && pc >= proc->mappings[idx].start &&
		    pc < proc->mappings[idx].end) {
			bench_add(16, t0);
			return idx;
		}
	}
	int found = find_mapping(proc, pc);
	if (hint && found >= 0) {
		hint->tag = tag;
		hint->idx = found;
	}
	bench_add(16, t0);
	return found;
}

/* Bit 2 of vm_area_struct.vm_flags (include/linux/mm.h). */
#define VM_EXEC 0x00000004

static long vma_anonymous_exec(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(bool *)data = !vma->vm_file && (vma->vm_flags & VM_EXEC);
	return 0;
}

/*
 * Whether pc lies in anonymous executable memory (JIT code), asked of the kernel for code
 * outside every mapping user space knows. bpf_find_vma() takes the mm's lock with a trylock
 * and, with interrupts off, releases it through an irq_work, so it succeeds at most once per
 * sample (later calls find the irq_work busy and say no). A global function, verified once.
 */
__noinline int anonymous_code(__u64 pc)
{
	bool anon = false;
	bpf_find_vma(bpf_get_current_task_btf(), pc, vma_anonymous_exec, &anon, 0);
	return anon;
}

/* A step out of JIT code: frame pointers in mixed mode, else an error. */
static __always_inline void step_jit(struct walk_regs *r)
{
	if (!agent_cfg.mixed_mode) {
		r->error = UNWIND_ERROR_JIT_MIXED_DISABLED;
		return;
	}
	step_frame_pointer(r);
	/* JIT code without frame pointers breaks the chain: say so, not "read fault". */
	if (r->error == UNWIND_ERROR_READ_FAULT)
		r->error = UNWIND_ERROR_JIT_NO_FRAME_POINTER;
}

/* bpf_loop body: records the current frame, then steps to its caller. */
static long walk_one_frame(__u32 i, void *arg)
{
	struct walk_state *s = arg;
	if (i >= MAX_USER_STACK_DEPTH)
		return 1;

	struct process_mappings *proc = s->proc;
	if (!proc) {
		/* Mappings not known yet (the sample is marked pending): frame pointers, each
		 * return address checked to follow a call, since no mapping can be checked. */
		if (i > 0 && s->r.via_fp && !follows_call(s->r.ip)) {
			count(COUNTER_FP_STOPPED);
			s->r.error = UNWIND_ERROR_NOT_A_RETURN_ADDRESS;
			return 1;
		}
		record_frame(s);
		step_frame_pointer(&s->r);
	} else {
		__u64 pc = s->r.exact_ip ? s->r.ip : s->r.ip - 1;
		/* Callers are usually in the same executable as their callee: try it before searching. */
		__u32 last = s->last_mapping & (MAX_MAPPINGS_PER_PROCESS - 1);
		int idx = s->last_mapping < proc->len && pc >= proc->mappings[last].start &&
				  pc < proc->mappings[last].end
			  ? (int)last
			  : mapping_of(proc, s->instance, pc);
		if (idx >= 0)
			s->last_mapping = idx;
		if (idx < 0 || idx >= MAX_MAPPINGS_PER_PROCESS) {
			/* A mapping that appeared since user space read the maps (dlopen, a new JIT
			 * region), or garbage from a frame-pointer chain through code that has none. */
			send_event(EVENT_MAPPINGS_CHANGED, s->pid, NULL);
			if (anonymous_code(pc)) {
				/* New JIT code (PostgreSQL compiles each query into fresh pages): walked
				 * as JIT code, since the kernel says it is some. */
				record_frame(s);
				s->from_jit = true;
				step_jit(&s->r);
			} else if (i > 0) {
				/* Above the leaf every ip is a return address into code: outside every
				 * mapping it is garbage (a frame-pointer chain through code without one,
				 * or a wrong table row); a new library is seen once the maps are reread. */
				if (s->r.via_fp)
					count(COUNTER_FP_STOPPED);
				s->r.error = s->from_jit ? UNWIND_ERROR_JIT_NO_FRAME_POINTER
							 : UNWIND_ERROR_NO_MAPPING;
				return 1;
			} else {
				record_frame(s);
				s->from_jit = false;
				if (agent_cfg.mixed_mode)
					step_frame_pointer(&s->r);
				else
					s->r.error = UNWIND_ERROR_NO_MAPPING;
			}
		} else {
			struct exec_mapping *m = &proc->mappings[idx & (MAX_MAPPINGS_PER_PROCESS - 1)];
			/* Compiled code returns after a call; JIT runtimes' code need not (HotSpot's
			 * interpreter pushes its return entries), so only file code is checked. */
			if (i > 0 && s->r.via_fp && m->kind != MAPPING_KIND_JIT && !follows_call(s->r.ip)) {
				count(COUNTER_FP_STOPPED);
				s->r.error = s->from_jit ? UNWIND_ERROR_JIT_NO_FRAME_POINTER
						       : UNWIND_ERROR_NOT_A_RETURN_ADDRESS;
				return 1;
			}
			/* The interpreter loop's frame becomes the interpreter frames it runs. */
			if (!interp_push_frames(s->st, pc))
				record_frame(s);
			s->from_jit = m->kind == MAPPING_KIND_JIT;
			switch (m->kind) {
			case MAPPING_KIND_DWARF:
				step_dwarf(&s->r, m->exe_id, m->rows, m->table_bias);
				break;
			case MAPPING_KIND_JIT:
				step_jit(&s->r);
				break;
			case MAPPING_KIND_PENDING:
				/* Its table is being built: frame pointers meanwhile, marked; a step that
				 * lands outside every mapping stops the walk above. */
				s->r.flags |= STACK_FLAG_TABLES_PENDING;
				step_frame_pointer(&s->r);
				break;
			default: /* MAPPING_KIND_FP, MAPPING_KIND_VDSO */
				step_frame_pointer(&s->r);
				break;
			}
		}
	}
	if (s->r.error || s->r.done || s->r.ip == 0)
		return 1;
	/* Interpreter frames take two words each: the stack may fill before the loop ends. */
	if (i + 1 >= MAX_USER_STACK_DEPTH || s->st->len >= MAX_USER_STACK_DEPTH) {
		s->r.error = UNWIND_ERROR_TRUNCATED;
		return 1;
	}
	return 0;
}

/*
 * Walks the user stack of pid into st (leaf first); returns stack_flags bits and sets *error.
 */
static __always_inline __u32 unwind_user_stack(__u32 pid, __u32 instance, __u64 ip, __u64 sp,
					       __u64 bp, __u64 fsbase, struct user_stack *st,
					       __u32 *error)
{
	struct walk_state s = {
		.r = { .ip = ip, .sp = sp, .bp = bp, .fsbase = fsbase, .exact_ip = true },
		.st = st,
		.pid = pid,
		.instance = instance,
		.last_mapping = MAX_MAPPINGS_PER_PROCESS,
	};
	st->len = 0;
	interp_begin(pid, instance);
	bench_stamp(5);
	if (ip == 0)
		return 0;
	if (agent_cfg.dwarf_enabled) {
		s.proc = bpf_map_lookup_elem(&pid_to_mappings, &pid);
		/* Mappings written for another image of this pid (before an exec) do not apply. */
		if (s.proc && s.proc->instance != instance)
			s.proc = NULL;
		if (!s.proc) {
			s.r.flags |= STACK_FLAG_TABLES_PENDING;
			/* Again and again (rate-limited) until user space loads them: events can be lost. */
			send_event(EVENT_NEW_PROCESS, pid, bpf_map_lookup_elem(&pid_to_instance, &pid));
		}
	}
	/* The leaf's ip comes from the registers, not from a frame-pointer step. */
	s.r.via_fp = false;
	bench_stamp(6);
#ifdef BENCH_STAGE
	if (BENCH_STAGE == 2) /* profiler.bpf.c: the cost up to the walk */
		return s.r.flags;
#endif
	bpf_loop(MAX_USER_STACK_DEPTH, walk_one_frame, &s, 0);
	s.r.flags |= interp_end();
	if (s.r.error == UNWIND_ERROR_TRUNCATED) {
		s.r.flags |= STACK_FLAG_USER_TRUNCATED;
		count(COUNTER_USER_TRUNCATED);
	} else if (s.r.error) {
		s.r.flags |= STACK_FLAG_USER_ERROR;
		count(COUNTER_USER_ERROR);
		if (s.r.error == UNWIND_ERROR_TABLE_MISSING)
			send_event(EVENT_MAPPINGS_CHANGED, pid, NULL);
	}
	*error = s.r.error;
	return s.r.flags;
}

#endif /* PROFILER_UNWIND_USER_H */
