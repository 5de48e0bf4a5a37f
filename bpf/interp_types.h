/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * Types of the interpreter walkers (bpf/python.h, bpf/ruby.h), shared with user space.
 * src/interp/bpf_types.ts mirrors every struct and constant here; its layout test compiles a C
 * probe against this header and fails when the two drift.
 *
 * An interpreter frame takes two words of a user_stack, in place of the native frame of the
 * interpreter loop it runs in:
 *   word 0: INTERP_FRAME_TAG | kind << INTERP_KIND_SHIFT | object address (below 2^47)
 *   word 1: Python: (u64)co_firstlineno << 32 | raw instruction offset (see PY_LASTI_*)
 *           Ruby:   the frame's pc
 * User space reads the object (code object, iseq) and names the frame; the first line number
 * tells a code object that was freed and replaced at the same address.
 */
#ifndef PROFILER_INTERP_TYPES_H
#define PROFILER_INTERP_TYPES_H

#define INTERP_FRAME_TAG 0x8000000000000000ULL
#define INTERP_KIND_SHIFT 56
#define INTERP_ADDR_MASK 0x00007fffffffffffULL

enum interp_kind {
	INTERP_NONE = 0,
	INTERP_PYTHON = 1,
	INTERP_RUBY = 2,
};

/* How Python frames map onto activations of _PyEval_EvalFrameDefault. */
enum python_frame_mode {
	/* <= 3.10: PyFrameObject chain (f_back); one Python frame per activation. */
	PY_MODE_FRAME_OBJECT = 0,
	/* 3.11: _PyInterpreterFrame chain; an activation runs frames up to one with is_entry set. */
	PY_MODE_IS_ENTRY = 1,
	/* 3.12, 3.13: an activation's frames end at its C-stack shim frame (owner == 3). */
	PY_MODE_OWNER_CSTACK = 2,
};

/* What word 1's low half holds, per version (user space turns it into a bytecode offset). */
enum python_lasti_kind {
	PY_LASTI_INT = 0, /* f_lasti (int): bytes <= 3.9, code units in 3.10 */
	PY_LASTI_PTR = 1, /* prev_instr / instr_ptr minus the code object's address */
};

/* Where a Python version keeps what the walker reads (bytes; all below PY_FRAME_READ_MAX). */
struct python_offsets {
	__u8 mode;               /* enum python_frame_mode */
	__u8 lasti_kind;         /* enum python_lasti_kind */
	__u8 entry_owner;        /* PY_MODE_OWNER_CSTACK: the owner value of shim frames (3) */
	__u8 reserved;
	__u16 tstate_frame;      /* PyThreadState: frame (<= 3.10), cframe (3.11, 3.12), current_frame */
	__u16 cframe_current;    /* _PyCFrame.current_frame; 0xffff: tstate_frame is the frame itself */
	__u16 frame_back;        /* f_back / previous */
	__u16 frame_code;        /* f_code / f_executable */
	__u16 frame_lasti;       /* f_lasti / prev_instr / instr_ptr */
	__u16 frame_entry;       /* is_entry (3.11) / owner (3.12+) */
	__u16 frame_size;        /* bytes read per frame */
	__u16 code_firstlineno;  /* PyCodeObject.co_firstlineno (int) */
};

/* Where CRuby keeps what the walker reads. */
struct ruby_offsets {
	__u16 ec_vm_stack;       /* rb_execution_context_t.vm_stack */
	__u16 ec_vm_stack_size;  /* .vm_stack_size (in VALUEs) */
	__u16 ec_cfp;            /* .cfp */
	__u16 cfp_size;          /* sizeof(rb_control_frame_t) */
	__u16 cfp_pc;
	__u16 cfp_iseq;
	__u16 cfp_ep;
	__u16 reserved;
};

#define PY_FRAME_READ_MAX 128
#define RUBY_CFP_READ_MAX 64

/* Bits of ep[0] (VM_ENV_DATA_INDEX_FLAGS) of a Ruby control frame (vm_core.h). */
#define RUBY_FRAME_MAGIC_MASK 0x7fff0001ULL
#define RUBY_FRAME_MAGIC_CFUNC 0x55550001ULL
#define RUBY_FRAME_FLAG_FINISH 0x0020ULL

/*
 * What the walker knows about the interpreter of one process (pid_to_interp). Written by
 * src/interp when it recognises libpython / libruby (or an executable that links them in).
 */
struct interp_info {
	__u32 kind;              /* enum interp_kind */
	__u32 version;           /* major << 16 | minor << 8 | micro */
	/* The interpreter loop: a native frame whose pc lies here is replaced by interpreter frames. */
	__u64 loop_start;        /* _PyEval_EvalFrameDefault / rb_vm_exec */
	__u64 loop_end;
	__u64 cold_start;        /* its .cold part (0 when unknown) */
	__u64 cold_end;
	/*
	 * Python: the thread's PyThreadState is glibc TSD slot `key` (a u32 at tls_key_addr):
	 * *(fsbase + tsd_offset + 16 * key) for key < 32.
	 * Ruby: ruby_current_ec through the DTV: *(*(*(fsbase + 8) + 16 * tls_module) + tls_offset).
	 */
	__u64 tls_key_addr;
	__u64 tls_module;
	__u64 tls_offset;
	__u32 tsd_offset;
	/* The image (process_instance id) these facts were read from: after an exec the pid's
	 * entry may still describe the old program until user space replaces or deletes it.
	 * 0: written without knowing the image; applies to any. */
	__u32 instance;
	struct python_offsets py;
	struct ruby_offsets rb;
};

#endif /* PROFILER_INTERP_TYPES_H */
