/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * Types shared between the BPF programs and user space. src/bpf/types.ts mirrors every struct
 * and constant here; its layout test (src/bpf/types_test.ts) compiles a C probe against this
 * header and fails when the two drift.
 */
#ifndef PROFILER_TYPES_H
#define PROFILER_TYPES_H

/*
 * Frames kept per user stack. Deeper stacks are kept, cut at this depth, and flagged
 * STACK_FLAG_USER_TRUNCATED so user space marks them.
 */
#define MAX_USER_STACK_DEPTH 512
/* Frames kept per kernel stack: the kernel's default kernel.perf_event_max_stack. */
#define MAX_KERNEL_STACK_DEPTH 127

#define TASK_COMM_LEN 16

/* A user stack: `len` addresses, leaf first. 8 + 512 * 8 = 4104 bytes. */
struct user_stack {
	__u64 len;
	__u64 addrs[MAX_USER_STACK_DEPTH];
};

/*
 * A user stack of at most USER_STACK_SHORT_DEPTH frames, stored in its own maps: the same layout
 * as the start of struct user_stack, so a stack is stored from the same scratch, and storing it
 * copies 520 bytes, not 4104 (a new stack's copy into cold memory was most of storing it).
 * 8 + 64 * 8 = 520 bytes.
 */
#define USER_STACK_SHORT_DEPTH 64
struct user_stack_short {
	__u64 len;
	__u64 addrs[USER_STACK_SHORT_DEPTH];
};

/* A kernel stack: `len` addresses, leaf first. 8 + 127 * 8 = 1024 bytes. */
struct kernel_stack {
	__u64 len;
	__u64 addrs[MAX_KERNEL_STACK_DEPTH];
};

/* Executable mappings remembered per process (sorted by start). */
#define MAX_MAPPINGS_PER_PROCESS 256

/* How the walker steps out of a frame whose PC lies in a mapping. */
enum mapping_kind {
	/* Frame pointers: code known to keep them (Go), or tables not (yet) loaded. */
	MAPPING_KIND_FP = 0,
	/* The executable's unwind table (unwind_tables). */
	MAPPING_KIND_DWARF = 1,
	/* The vDSO: frame pointers. */
	MAPPING_KIND_VDSO = 2,
	/* Anonymous executable memory (JIT code): frame pointers in mixed mode, else an error. */
	MAPPING_KIND_JIT = 3,
	/* The table is being built: frame pointers for now, and the sample is marked. */
	MAPPING_KIND_PENDING = 4,
};

/* One executable mapping of a process. 40 bytes. */
struct exec_mapping {
	__u64 start;      /* first address */
	__u64 end;        /* one past the last address */
	__u64 table_bias; /* table pc = address - table_bias */
	__u32 exe_id;     /* key in unwind_tables, for MAPPING_KIND_DWARF */
	__u32 rows;       /* rows in that table */
	__u32 kind;       /* enum mapping_kind */
	__u32 reserved;
};

/*
 * The value of pid_to_mappings: what the walker knows about a process. 8 + 256 * 40 bytes.
 * `instance` is the process_instance id the mappings were read for: the walker ignores an entry
 * written for an earlier image of the pid (before an exec, or a process that had the pid before).
 */
struct process_mappings {
	__u32 len;
	__u32 instance;
	struct exec_mapping mappings[MAX_MAPPINGS_PER_PROCESS];
};

/* One row of an unwind table: from `pc` (relative to the table) on, `rule` applies. 8 bytes. */
struct unwind_row {
	__u32 pc;
	__u32 rule; /* index in unwind_rules */
};

/* The unwind row space (bpf/maps.h): UNWIND_CHUNKS chunks of UNWIND_CHUNK_ROWS rows. */
#define UNWIND_CHUNK_SHIFT 12
#define UNWIND_CHUNK_ROWS (1 << UNWIND_CHUNK_SHIFT)
#define UNWIND_CHUNKS 4096
/* Tables at most (unwind_tables; exe ids are 1..MAX_UNWIND_TABLES-1). */
#define MAX_UNWIND_TABLES 4096

/* Where a table's rows are: [first_row, first_row + rows) of the row space. 8 bytes. */
struct unwind_table_ref {
	__u32 first_row;
	__u32 rows;
};

/* How the CFA is found (bpf/unwind_dwarf.h). Values are wasm-unwind's ABI. */
enum cfa_kind {
	CFA_END_OF_FUNCTION = 0, /* not covered: between functions */
	CFA_RSP_OFFSET = 1,      /* CFA = rsp + cfa_offset */
	CFA_RBP_OFFSET = 2,      /* CFA = rbp + cfa_offset */
	CFA_PLT1 = 3,            /* rsp + 8 + ((rip & 15) >= 11 ? 8 : 0) */
	CFA_PLT2 = 4,            /* rsp + 8 + ((rip & 15) >= 10 ? 8 : 0) */
	CFA_SIGNAL_FRAME = 5,    /* kernel sigframe at rsp: rsp, rbp, rip saved at rsp + offsets */
	CFA_RA_UNDEFINED = 6,    /* outermost frame */
	CFA_UNSUPPORTED = 7,     /* any other expression or register: reported */
	CFA_FRAME_POINTER = 8,   /* step with frame pointers (Go's systemstack on g0) */
	CFA_GO_ASMCGOCALL = 9,   /* Go's asmcgocall on g0: back to the goroutine's saved SP */
	/*
	 * Go's systemstack on g0: back to the goroutine through g.m.curg.sched.sp. g is at fs base
	 * + (s8)rbp_offset, g.m at byte 1 of rbp_offset × 8, m.curg at ra_offset, curg.sched.sp at
	 * byte 2 × 8; CFA = sched.sp + cfa_offset, the return address at CFA - 8, rbp at CFA - 16
	 * when rbp_kind is RBP_CFA_OFFSET.
	 */
	CFA_GO_SYSTEMSTACK = 10,
};

/* How the caller's rbp is recovered. */
enum rbp_kind {
	RBP_UNCHANGED = 0,
	RBP_CFA_OFFSET = 1, /* saved at CFA + rbp_offset */
	RBP_RSP_OFFSET = 2, /* saved at rsp + rbp_offset (signal frames) */
	RBP_UNSUPPORTED = 3,
};

/* A distinct unwind rule, shared by every table (unwind_rules). 12 bytes. */
struct unwind_rule {
	__u8 cfa_kind;
	__u8 rbp_kind;
	__s16 ra_offset; /* return address at CFA + ra_offset (rsp + ra_offset for signal frames) */
	__s32 cfa_offset;
	__s32 rbp_offset;
};

/*
 * Why a user-stack walk ended early; stack_count_key.unwind_error. User space turns each into a
 * last frame such as "[unwind error: pc not covered]" and counts samples per reason. IDs are
 * never reused.
 */
enum unwind_error {
	UNWIND_OK = 0,
	UNWIND_ERROR_TRUNCATED = 1,        /* more than MAX_USER_STACK_DEPTH frames */
	UNWIND_ERROR_PC_NOT_COVERED = 2,   /* PC in a gap of the unwind table */
	UNWIND_ERROR_UNSUPPORTED_CFA = 3,  /* a CFA rule the walker cannot evaluate */
	UNWIND_ERROR_READ_FAULT = 4,       /* stack memory unreadable */
	UNWIND_ERROR_RBP_UNKNOWN = 5,      /* the CFA needs an rbp the walker could not recover */
	UNWIND_ERROR_NO_MAPPING = 6,       /* PC outside every known executable mapping */
	UNWIND_ERROR_JIT_MIXED_DISABLED = 7, /* anonymous code, --dwarf-unwinding-mixed=false */
	UNWIND_ERROR_TABLE_MISSING = 8,    /* the mapping's table was evicted or not loaded */
	UNWIND_ERROR_JIT_NO_FRAME_POINTER = 9, /* JIT code whose frame-pointer chain is broken */
	UNWIND_ERROR_NOT_A_RETURN_ADDRESS = 10, /* a frame-pointer step found no call before it */
	UNWIND_ERROR_MAX,
};

/*
 * One image of one process: what pid_to_instance holds per pid. A process is told apart from an
 * earlier holder of its pid by its start time, and each exec starts a new image with a new id.
 * Every sample carries the id of the image it was taken in (stack_count_key.instance), so user
 * space attributes it to that image's mappings even after the process exec'd or exited.
 */
struct process_instance {
	__u64 start_ns; /* group leader's start_boottime: /proc/PID/stat starttime * 1e9 / USER_HZ */
	__u32 id;       /* unique per image, never 0; from next_instance_id */
	__u32 exec_gen; /* execs seen since the process was first seen (0 before the first) */
	__u32 sampled;  /* 1 once a sample of the image was taken (EVENT_NEW_PROCESS was sent) */
	__u32 reserved;
};

/* Events on the ring buffer: the process needs user space's attention. */
enum event_type {
	EVENT_NEW_PROCESS = 1,      /* an image's first sample, or still no mappings: read it */
	EVENT_MAPPINGS_CHANGED = 2, /* a PC outside every known mapping: re-read its maps */
	EVENT_EXEC = 3,             /* a process exec'd: a new image (it may replace a known one) */
	EVENT_EXIT = 4,             /* the last thread of a known process exited */
};

/* 32 bytes. */
struct event {
	__u32 type;     /* enum event_type */
	__u32 pid;
	__u64 ktime_ns;
	__u32 instance; /* process_instance.id the event is about */
	__u32 exec_gen; /* its process_instance.exec_gen */
	__u64 start_ns; /* its process_instance.start_ns */
};

/* Bits of stack_count_key.flags: what happened while the stacks of a sample were collected. */
enum stack_flags {
	/* The user stack had more frames than MAX_STACK_DEPTH; the outermost ones are missing. */
	STACK_FLAG_USER_TRUNCATED = 1 << 0,
	/* The walk stopped early: unwind_error says why. */
	STACK_FLAG_USER_ERROR = 1 << 1,
	/* The user stack could not be stored (stack map full); user_stack_id is 0. */
	STACK_FLAG_USER_DROPPED = 1 << 2,
	/* The kernel stack could not be stored (stack map full); kernel_stack_id is 0. */
	STACK_FLAG_KERNEL_DROPPED = 1 << 3,
	/* bpf_get_stack() failed for the kernel stack of a sample taken in kernel mode. */
	STACK_FLAG_KERNEL_ERROR = 1 << 4,
	/* Sampled in user mode, or in kernel mode: tells an empty kernel stack from a lost one. */
	STACK_FLAG_IN_KERNEL = 1 << 5,
	/* The process's unwind tables were not loaded yet: frames come from frame pointers. */
	STACK_FLAG_TABLES_PENDING = 1 << 6,
	/* The user stack holds interpreter frames (two words each, see interp_types.h). */
	STACK_FLAG_INTERP_FRAMES = 1 << 7,
	/* Frames were stepped with frame pointers in code that tables did not cover (mixed mode). */
	STACK_FLAG_FP_FALLBACK = 1 << 8,
};

/*
 * Key of the stack_counts maps: one entry per distinct (image, tid, user stack, kernel stack).
 * 72 bytes, no implicit padding.
 */
struct stack_count_key {
	__u32 pid;                           /* tgid */
	__u32 tid;                           /* thread id */
	__u64 user_stack_id;                 /* key in the stacks map, 0 when there is none */
	__u64 kernel_stack_id;               /* key in the stacks map, 0 when there is none */
	char thread_comm[TASK_COMM_LEN];     /* comm of the sampled thread */
	char process_comm[TASK_COMM_LEN];    /* comm of the thread group leader */
	__u32 flags;                         /* enum stack_flags */
	__u32 unwind_error;                  /* enum unwind_error */
	__u32 instance;                      /* process_instance.id; 0 when unknown (exiting) */
	__u32 reserved;
};

/*
 * A per-CPU slot of recent counts (count_slots in maps.h): `count` samples of `key` in window
 * `window` not yet added to that window's stack_counts map. 88 bytes.
 */
#define COUNT_SLOTS 64
struct count_slot {
	struct stack_count_key key;
	__u64 count;
	__u32 window; /* active_generation[0] when the slot was filled */
	__u32 reserved;
};

struct count_slots {
	struct count_slot slots[COUNT_SLOTS];
};

/*
 * Indices of the per-CPU counters array. The names user space reports are in
 * src/bpf/types.ts (COUNTER_NAMES), in this order; indices are never reused.
 */
enum counter {
	COUNTER_SAMPLES = 0,          /* perf events handled */
	COUNTER_SKIPPED_IDLE,         /* pid 0: the CPU was idle */
	COUNTER_SKIPPED_KTHREAD,      /* kernel thread: no user space to profile */
	COUNTER_RECORDED,             /* counted in stack_counts */
	COUNTER_COUNT_MAP_FULL,       /* lost: stack_counts had no room for a new key */
	COUNTER_STACK_MAP_FULL,       /* a stack was not stored (sample kept without it) */
	COUNTER_USER_TRUNCATED,       /* user stack cut at MAX_USER_STACK_DEPTH */
	COUNTER_USER_ERROR,           /* user walk ended early (unwind_error in the key) */
	COUNTER_KERNEL_STACK_ERROR,   /* bpf_get_stack() failed */
	COUNTER_NO_SCRATCH,           /* per-CPU scratch lookup failed (should never happen) */
	COUNTER_EVENTS_SENT,          /* events written to the ring buffer */
	COUNTER_EVENTS_LOST,          /* events the ring buffer had no room for */
	COUNTER_DWARF_FRAMES,         /* frames stepped with an unwind table */
	COUNTER_FP_FRAMES,            /* frames stepped with frame pointers */
	COUNTER_INSTANCES,            /* process images first seen (new process, reused pid) */
	COUNTER_EXECS,                /* execs of known processes */
	COUNTER_EXITS,                /* exits of known processes */
	COUNTER_FP_FALLBACK_FRAMES,   /* frame-pointer steps in code a loaded table did not cover */
	COUNTER_FP_STOPPED,           /* frame-pointer steps refused: outside every mapping, or not after a call */
	COUNTER_INTERP_ACTIVATIONS,   /* interpreter-loop frames replaced by interpreter frames */
	COUNTER_INTERP_FRAMES,        /* interpreter frames pushed */
	COUNTER_INTERP_NS,            /* time in the interpreter walk (agent_config.interp_timing) */
	COUNTER_MAX,
};

struct counters {
	__u64 values[COUNTER_MAX];
};

/* Load-time options (the .rodata.config section). */
struct agent_config {
	__u8 verbose;           /* --bpf-verbose-logging: bpf_printk each decision */
	__u8 dwarf_enabled;     /* !--dwarf-unwinding-disable: tables, events; else frame pointers only */
	__u8 mixed_mode;        /* --dwarf-unwinding-mixed: frame pointers for JIT code */
	__u8 interp_timing;     /* time the interpreter walk (kernel.bpf_stats_enabled at start) */
	__u8 reserved[4];
	__u64 event_interval_ns; /* minimum time between two events about one process */
};

#endif /* PROFILER_TYPES_H */
