/* SPDX-License-Identifier: GPL-2.0 */
/* Copyright 2026 The profiler agent authors */
/*
 * Maps of the profiler. Sizes here are defaults: src/bpf/profiler_object.ts sets max_entries
 * before load from the number of CPUs, the sampling frequency and the profiling duration.
 *
 * Samples are double-buffered: BPF writes into generation 0 or 1 (active_generation[0]), and
 * at the end of a window user space flips the generation, waits for in-flight programs, and
 * drains the other generation's counts and stacks with batch operations. Nothing written
 * during a drain is lost or read half-way.
 *
 * Maps that hold few of their possible entries are BPF_F_NO_PREALLOC, so they lock memory only
 * for what they hold; the kernel allows that in perf_event programs since 6.1 (bpf_mem_alloc).
 */
#ifndef PROFILER_MAPS_H
#define PROFILER_MAPS_H

#include "types.h"

#define DEFAULT_COUNT_ENTRIES 4096
#define DEFAULT_STACK_ENTRIES 8192

#define STACK_COUNTS_MAP(name)                                  \
	struct {                                                \
		__uint(type, BPF_MAP_TYPE_HASH);                \
		__uint(map_flags, BPF_F_NO_PREALLOC);           \
		__uint(max_entries, DEFAULT_COUNT_ENTRIES);     \
		__type(key, struct stack_count_key);            \
		__type(value, __u64);                           \
	} name SEC(".maps")

#define STACKS_MAP(name, type_)                                 \
	struct {                                                \
		__uint(type, BPF_MAP_TYPE_HASH);                \
		__uint(map_flags, BPF_F_NO_PREALLOC);           \
		__uint(max_entries, DEFAULT_STACK_ENTRIES);     \
		__type(key, __u64);                             \
		__type(value, type_);                           \
	} name SEC(".maps")

/* (pid, tid, stacks, comms, flags) -> samples, one map per generation. Set by BPF, drained by src/profiler. */
STACK_COUNTS_MAP(stack_counts_0);
STACK_COUNTS_MAP(stack_counts_1);

/* stack hash -> user stack, one per generation. */
STACKS_MAP(user_stacks_0, struct user_stack);
STACKS_MAP(user_stacks_1, struct user_stack);

/* stack hash -> user stack of at most USER_STACK_SHORT_DEPTH frames, one per generation. A
 * stack is in one of the two user maps of its generation, chosen by its length. */
STACKS_MAP(user_stacks_short_0, struct user_stack_short);
STACKS_MAP(user_stacks_short_1, struct user_stack_short);

/* stack hash -> kernel stack, one per generation. */
STACKS_MAP(kernel_stacks_0, struct kernel_stack);
STACKS_MAP(kernel_stacks_1, struct kernel_stack);

/*
 * [0] = the window number; its parity is the generation (0 or 1) that BPF writes into.
 * Incremented at every flip by src/bpf/profiler_object.ts.
 * [1] = 1 while pid_to_interp holds an entry, 0 when it is empty (src/bpf/interp_maps.ts, the
 * only writer of pid_to_interp, sets it to 1 before its first entry goes in and to 0 after its
 * last one went): interp_begin() skips its pid_to_interp look-up when no process has an
 * interpreter. In the same cache line as [0], which every sample reads anyway.
 */
#define GENERATION_WINDOW 0
#define GENERATION_INTERP 1
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} active_generation SEC(".maps");

/* Outcome counters, per CPU. Read (one syscall for all CPUs) by src/profiler every window. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/*
 * Per CPU: ids of stacks this CPU stored (or found) in the stacks maps of a window, direct-mapped
 * by id, so a stack seen again in the same window skips the stacks map's hash look-up. An entry
 * holds for its window only: that window's maps are drained after the flip to the next one.
 */
#define STORED_USER_SLOTS 256
#define STORED_KERNEL_SLOTS 64

struct stored_slot {
	__u64 id;
	__u32 window;
	__u32 reserved;
};

struct stored_stacks {
	struct stored_slot user[STORED_USER_SLOTS];
	struct stored_slot kernel[STORED_KERNEL_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stored_stacks);
} stored_stacks SEC(".maps");

/*
 * Per CPU and per generation ([window & 1]): the counts of recent keys, direct-mapped by a hash
 * of the key, so a key this CPU counted before in the same window costs no stack_counts
 * operation. A slot holds `count` samples of its window that are in no map yet; a slot whose
 * window is not the current one is empty (its window was drained). When another key of the same
 * window needs the slot, the slot's count is first added to stack_counts (same generation, not
 * being drained). User space reads [g] of every CPU after the flip away from g (and the wait for
 * programs in flight), as it drains the maps of g: no program writes [g] until the flip after
 * next, which comes after that drain. Why nothing races: a slot is written only by profile_cpu
 * on its own CPU, which runs once at a time per CPU (bpf_prog_active); only the generation of
 * the active window is written, and user space reads only the other one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct count_slots);
} count_slots SEC(".maps");

/* Per-CPU scratch space for building a stack: 4 KiB does not fit the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct user_stack);
} user_stack_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kernel_stack);
} kernel_stack_scratch SEC(".maps");

/* pid -> its executable mappings. Written by src/unwind/unwinder.ts (through src/bpf/unwind_maps.ts),
 * deleted by BPF on exec and exit; read per frame. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct process_mappings);
} pid_to_mappings SEC(".maps");

/*
 * Unwind tables. All rows of all tables live in one row space of UNWIND_CHUNKS chunks of
 * UNWIND_CHUNK_ROWS rows each; a table is a contiguous range of it (its chunks are shared with
 * its neighbours), found through unwind_table_index[exe_id]. Every chunk is an array of the same
 * size, without BPF_F_INNER_MAP, so the verifier inlines both the chunk lookup (array of maps)
 * and the row lookup (array): a step of the row search is two bounds-checked loads, not two
 * helper calls. Chunks are created when a table first needs them (inserted in one batch per
 * table) and written through a mapping (BPF_F_MMAPABLE); a chunk no table uses stays and is
 * refilled by a later table (src/bpf/unwind_maps.ts: each insert or delete in an array of maps
 * waits for an RCU grace period), so kernel memory is the row space's high-water mark.
 */
struct unwind_chunk {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UNWIND_CHUNK_ROWS);
	/* Sizes, not __type(): clang emits only a forward declaration of a struct that is never
	 * used by value, and libbpf cannot size a forward declaration. */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct unwind_row));
	/* User space writes rows through a mapping of the chunk, not a syscall per row. */
	__uint(map_flags, BPF_F_MMAPABLE);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, UNWIND_CHUNKS);
	__type(key, __u32);
	__array(values, struct unwind_chunk);
} unwind_chunks SEC(".maps");

/* exe_id -> where its rows are in the row space; rows == 0: no table (evicted, not loaded). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_UNWIND_TABLES);
	__type(key, __u32);
	__type(value, struct unwind_table_ref);
} unwind_tables SEC(".maps");

/*
 * exe_id -> where its rows are and its page index, the one look-up a DWARF step makes before
 * the row search (unwind_tables keeps the rows' range for user space). Page p of a table is the
 * table pcs [(page_base + p) << page_shift, (page_base + p + 1) << page_shift); its entry, a row
 * of the row space right after the table's rows (first_row + rows + p), holds the rows the
 * search for a pc in that page needs: its `pc` field the first (rows before it start before the
 * page), its `rule` field the end (rows from it start after the page). User space picks the
 * smallest page_shift that gives at most rows / 16 pages (src/bpf/row_space.ts), so a page holds
 * 16-32 rows on average and the index costs at most 1/16 of the table's rows, drawn from the
 * same row budget; pages == 0: no index (small tables), the search spans all rows. 32 bytes.
 */
struct unwind_table_index {
	__u32 first_row;
	__u32 rows;
	__u32 pages;
	__u32 page_base;
	__u32 page_shift;
	/* Unique per load of a table (src/bpf/unwind_maps.ts), never reused while the maps live;
	 * 0 while the entry is being written or the table is unpublished: see rule_cache. */
	__u32 load_id;
	__u32 reserved[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_UNWIND_TABLES);
	__type(key, __u32);
	__type(value, struct unwind_table_index);
} unwind_table_index SEC(".maps");

/*
 * Per CPU: rules found by earlier walks, direct-mapped by (exe id, table pc), so a pc sampled
 * again (most are: a hot loop's stack repeats sample after sample) costs one cache line instead
 * of the page index entry, the row search's rows and the rule (each a cold line at 19 Hz). An
 * entry holds a copy of the rule (rules are never rewritten: table_store.ts appends them) and the
 * load_id of the table it was found in; it serves a walk only while unwind_table_index[exe_id]
 * still has that load_id, so a table deleted, reloaded or replaced by another file's table under
 * the same exe id never serves a rule of the old one. Why an entry cannot hold a rule of another
 * load: user space publishes a table's index with load_id 0 first and then the same entry with
 * its load_id, and unpublishes by clearing load_id first (unwind_maps.ts), so while a reader sees
 * load_id L the index's other fields and the rows are those of load L (rows are rewritten only
 * after the table is unpublished, chunks refilled in place only 100 ms later); an entry is
 * filled only when load_id read before and after the search are the same non-zero L. Written
 * only by profile_cpu on its own CPU, which does not nest (bpf_prog_active): no torn entries.
 * "Not covered" is cached too, as a rule of kind CFA_END_OF_FUNCTION.
 */
#define RULE_CACHE_SLOTS 1024

struct rule_cache_entry {
	__u64 key;      /* exe_id << 32 | table pc; 0: empty (exe ids start at 1) */
	__u32 load_id;  /* unwind_table_index.load_id of the table the rule came from */
	struct unwind_rule rule;
};

struct rule_cache {
	struct rule_cache_entry e[RULE_CACHE_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rule_cache);
} rule_cache SEC(".maps");

/*
 * Per CPU: which mapping of an image's pid_to_mappings entry held a pc page, direct-mapped by a
 * hash of (image id, pc >> 12), so a walk's leaf and each change of executable (exe -> libc ->
 * exe) skip the mapping search when an earlier walk saw the same page. Only a hint: the walker
 * checks that the mapping contains pc (bpf/unwind_user.h mapping_of), so nothing needs to be
 * invalidated when mappings change.
 */
#define MAPPING_HINTS 512

struct mapping_hint {
	__u32 tag; /* hash of (image id, pc page), never 0 */
	__u32 idx; /* index in process_mappings.mappings */
};

struct mapping_hints {
	struct mapping_hint e[MAPPING_HINTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mapping_hints);
} mapping_hints SEC(".maps");

/* rule index -> rule, shared by all tables (src/unwind/table_store.ts interns them). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct unwind_rule);
} unwind_rules SEC(".maps");

/* Events for user space (new processes, changed mappings); sized by --bpf-events-buffer-size. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/*
 * pid -> its current image (struct process_instance). Written by BPF only: on a process's first
 * sample (or the first after its pid was reused), on exec, deleted on exit. LRU: a process
 * evicted while alive gets a new image id on its next sample, which user space reads as a new
 * image of the same process (one more /proc read, no wrong attribution).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct process_instance);
} pid_to_instance SEC(".maps");

/*
 * Per thread (task local storage): the image id current_instance() found for it, and the thread's
 * self_exec_id then, so the next sample of the thread skips the pid_to_instance look-up and the
 * group leader's start time (see current_instance()). Freed with the task by the kernel.
 */
struct task_instance {
	__u64 exec_id; /* task_struct.self_exec_id when id was found */
	__u32 id;      /* process_instance.id */
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_instance);
} task_instance SEC(".maps");

/* [0] = the last image id handed out (ids are unique per load of the object). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} next_instance_id SEC(".maps");

/* pid -> when its last event was sent (ns), so a busy process raises one event per interval. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} pid_to_last_event SEC(".maps");

#endif /* PROFILER_MAPS_H */
