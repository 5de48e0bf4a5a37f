// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * libbpf's symbol table: only src/bpf calls libbpf. libc's symbols (bpf(2), perf events, epoll,
 * mmap, ioctl, errno) come from the agent's one libc table in src/procfs, re-exported here for
 * src/bpf alone; no other module calls Deno.dlopen (tests/repo_test.ts).
 *
 * libbpf is found through `PROFILER_LIBBPF_PATH`, then the Debian location. `--allow-ffi` wants
 * absolute paths (a bare soname resolves against the working directory), so both are absolute.
 * libbpf 1.x reports errors as NULL + errno (pointer results) or -errno (int results).
 *
 * @module
 */

import { cstr, errno, libc, strerror } from "../procfs/mod.ts";

export { cstr, errno, libc, strerror };

/** Where libbpf.so.1 is looked for, in order (the launcher allows FFI to each). */
export const LIBBPF_CANDIDATES: readonly string[] = [
  Deno.env.get("PROFILER_LIBBPF_PATH"),
  "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
  "/usr/lib/aarch64-linux-gnu/libbpf.so.1",
  "/usr/lib64/libbpf.so.1",
  "/usr/lib/libbpf.so.1",
].filter((p): p is string => !!p);

const libbpfSymbols = {
  /** libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn) */
  libbpf_set_print: { parameters: ["function"], result: "pointer" },
  /**
   * struct bpf_object *bpf_object__open_mem(const void *obj_buf, size_t obj_buf_sz,
   *     const struct bpf_object_open_opts *opts): the object from bytes, so that a `deno compile`
   * binary can load the copy embedded in it (libbpf would open a path with libc, outside Deno's
   * embedded files). The buffer must stay alive until bpf_object__load returns.
   */
  bpf_object__open_mem: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
  /** int bpf_object__load(struct bpf_object *obj) */
  bpf_object__load: { parameters: ["pointer"], result: "i32" },
  /** void bpf_object__close(struct bpf_object *obj) */
  bpf_object__close: { parameters: ["pointer"], result: "void" },
  /** struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *obj, const char *name) */
  bpf_object__find_program_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  /** struct bpf_map *bpf_object__find_map_by_name(const struct bpf_object *obj, const char *name) */
  bpf_object__find_map_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  /** int bpf_program__fd(const struct bpf_program *prog) */
  bpf_program__fd: { parameters: ["pointer"], result: "i32" },
  /** struct bpf_link *bpf_program__attach_perf_event(const struct bpf_program *prog, int pfd) */
  bpf_program__attach_perf_event: { parameters: ["pointer", "i32"], result: "pointer" },
  /** struct bpf_link *bpf_program__attach(const struct bpf_program *prog): tp_btf programs */
  bpf_program__attach: { parameters: ["pointer"], result: "pointer" },
  /** int bpf_link__destroy(struct bpf_link *link) */
  bpf_link__destroy: { parameters: ["pointer"], result: "i32" },
  /** int bpf_map__fd(const struct bpf_map *map) */
  bpf_map__fd: { parameters: ["pointer"], result: "i32" },
  /** int bpf_map__set_max_entries(struct bpf_map *map, __u32 max_entries) */
  bpf_map__set_max_entries: { parameters: ["pointer", "u32"], result: "i32" },
  /** __u32 bpf_map__max_entries(const struct bpf_map *map) */
  bpf_map__max_entries: { parameters: ["pointer"], result: "u32" },
  /** void *bpf_map__initial_value(struct bpf_map *map, size_t *psize): .rodata contents before load */
  bpf_map__initial_value: { parameters: ["pointer", "buffer"], result: "pointer" },
  /** int bpf_map_lookup_elem(int fd, const void *key, void *value) */
  bpf_map_lookup_elem: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** int bpf_map_get_fd_by_id(__u32 id) */
  bpf_map_get_fd_by_id: { parameters: ["u32"], result: "i32" },
  /** int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags) */
  bpf_map_update_elem: { parameters: ["i32", "buffer", "buffer", "u64"], result: "i32" },
  /**
   * int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys,
   *     void *values, __u32 *count, const struct bpf_map_batch_opts *opts)
   */
  bpf_map_lookup_and_delete_batch: {
    parameters: ["i32", "buffer", "buffer", "buffer", "buffer", "buffer", "pointer"],
    result: "i32",
  },
  /** int bpf_map_lookup_batch(same as above): reads without deleting. */
  bpf_map_lookup_batch: {
    parameters: ["i32", "buffer", "buffer", "buffer", "buffer", "buffer", "pointer"],
    result: "i32",
  },
  /**
   * int bpf_map_create(enum bpf_map_type map_type, const char *map_name, __u32 key_size,
   *     __u32 value_size, __u32 max_entries, const struct bpf_map_create_opts *opts)
   */
  bpf_map_create: {
    parameters: ["i32", "buffer", "u32", "u32", "u32", "buffer"],
    result: "i32",
  },
  /**
   * int bpf_map_update_batch(int fd, const void *keys, const void *values, __u32 *count,
   *     const struct bpf_map_batch_opts *opts)
   */
  bpf_map_update_batch: {
    parameters: ["i32", "buffer", "buffer", "buffer", "pointer"],
    result: "i32",
  },
  /** int bpf_map_delete_elem(int fd, const void *key) */
  bpf_map_delete_elem: { parameters: ["i32", "buffer"], result: "i32" },
  /**
   * int bpf_map_get_next_key(int fd, const void *key, void *next_key): used only to list the
   * pids in pid_to_mappings, a few thousand keys once per window.
   */
  bpf_map_get_next_key: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** int libbpf_num_possible_cpus(void): per-CPU map values have one slot per possible CPU. */
  libbpf_num_possible_cpus: { parameters: [], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function openFirst<S extends Deno.ForeignLibraryInterface>(
  what: string,
  paths: string[],
  symbols: S,
): Deno.DynamicLibrary<S> {
  const errors: string[] = [];
  for (const path of paths) {
    try {
      return Deno.dlopen(path, symbols);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) throw e;
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(
    `Cannot load ${what}: not found in ${paths.join(", ")} (install the Debian package libbpf1 ` +
      `or set PROFILER_LIBBPF_PATH)`,
    { cause: new Error(errors.join("; ")) },
  );
}

let libbpfLib: Deno.DynamicLibrary<typeof libbpfSymbols> | undefined;

/** libbpf's symbols, loaded on first use. */
export function libbpf(): Deno.DynamicLibrary<typeof libbpfSymbols>["symbols"] {
  libbpfLib ??= openFirst("libbpf.so.1", [...LIBBPF_CANDIDATES], libbpfSymbols);
  return libbpfLib.symbols;
}

/** Symbolic names of the errno values the agent reports. */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  7: "E2BIG",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  24: "EMFILE",
  28: "ENOSPC",
  38: "ENOSYS",
  95: "EOPNOTSUPP",
  524: "ENOTSUPP",
};

/**
 * Names an errno value, e.g. `EPERM`.
 *
 * @param code A positive errno value.
 * @returns The symbolic name, or `errno N` for values the agent does not name.
 */
export function errnoName(code: number): string {
  return ERRNO_NAMES[code] ?? `errno ${code}`;
}

/** An failed native call, with its errno. */
export class NativeError extends Error {
  /** The positive errno value. */
  readonly errno: number;
  /**
   * @param action What failed, e.g. "load BPF object".
   * @param code The positive errno value.
   * @param hint What a user can do about it, if anything.
   */
  constructor(action: string, code: number, hint = "") {
    super(
      `Cannot ${action}: ${strerror(code).toLowerCase()} (${errnoName(code)})${
        hint ? `; ${hint}` : ""
      }`,
    );
    this.name = "NativeError";
    this.errno = code;
  }
}
