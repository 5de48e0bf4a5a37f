// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The agent's one table of libc symbols (libbpf's is src/bpf/ffi.ts; nothing else calls
// Deno.dlopen, which tests/repo_test.ts checks). Its users are src/procfs itself (the /proc and
// /sys reads, descriptors, and the few system calls other modules need, in sys.ts) and src/bpf
// (bpf(2), perf events, epoll, mmap, ioctl), which imports `libc` through src/procfs/mod.ts; every
// other module calls their named functions.
//
// Deno 2.9 refuses every read under /proc and /sys to a process without --allow-all, whatever
// --allow-read says (denoland/deno#27564), so a permission-scoped agent reads them with plain
// system calls through libc, which it loads anyway for libbpf.

/** Where glibc's libc.so.6 lives on the distributions the agent supports (absolute: --allow-ffi). */
export const LIBC_CANDIDATES: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib/libc.so.6",
];

const symbols = {
  // --- Files and descriptors (src/procfs) -------------------------------------------------------
  /** int open(const char *pathname, int flags, mode_t mode): variadic; the third argument is passed in a register either way. */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t count) */
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** ssize_t pread(int fd, void *buf, size_t count, off_t offset) */
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  /** pread on a thread of Deno's pool, for reads of large files that must not block the loop. */
  preadAsync: {
    name: "pread",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
  /** ssize_t write(int fd, const void *buf, size_t count) (an eventfd's counter) */
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) */
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  /** int unlink(const char *pathname) */
  unlink: { parameters: ["buffer"], result: "i32" },
  /** int close(int fd) */
  close: { parameters: ["i32"], result: "i32" },
  /** int dup(int oldfd) */
  dup: { parameters: ["i32"], result: "i32" },
  /** ssize_t readlink(const char *pathname, char *buf, size_t bufsiz) */
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  /** ssize_t getdents64(int fd, void *dirp, size_t count): glibc 2.30 and later */
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /**
   * int statx(int dirfd, const char *pathname, int flags, unsigned int mask, struct statx *buf):
   * one layout on every architecture, unlike struct stat.
   */
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  /**
   * long syscall(long number, ...) as openat(dirfd, path, flags, mode): a fixed signature, as
   * glibc's stub only moves registers.
   */
  syscallOpenat: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "u64", "u64"],
    result: "i64",
  },
  /**
   * long syscall(long number, ...) as openat2(dirfd, path, how, size) or readlinkat(dirfd, path,
   * buf, size): Debian 12's glibc has no openat2 wrapper.
   */
  syscallBuffers: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "u64"],
    result: "i64",
  },
  // --- Processes and threads (src/procfs/sys.ts) ------------------------------------------------
  /** int inotify_init1(int flags) */
  inotify_init1: { parameters: ["i32"], result: "i32" },
  /** int inotify_add_watch(int fd, const char *pathname, uint32_t mask) */
  inotify_add_watch: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int prctl(int option, unsigned long arg2, arg3, arg4, arg5) */
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  /** pid_t getppid(void): the parent now (Deno.ppid may be read once at start). */
  getppid: { parameters: [], result: "i32" },
  /** pid_t gettid(void): glibc 2.30 and later (optional: the table must load without it). */
  gettid: { parameters: [], result: "i32", optional: true },
  /** int setpriority(int which, id_t who, int prio) */
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
  /** int execve(const char *path, char *const argv[], char *const envp[]) */
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  /**
   * int malloc_trim(size_t pad): returns free heap memory of every malloc arena to the system.
   * Worker threads get arenas of their own, which glibc keeps after the thread ends.
   */
  malloc_trim: { parameters: ["usize"], result: "i32" },
  /** int mallopt(int param, int value): M_ARENA_MAX caps how many arenas threads spread over. */
  mallopt: { parameters: ["i32", "i32"], result: "i32" },
  /** int madvise(void *addr, size_t length, int advice): drops the agent's idle file pages */
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  /** int setrlimit(int resource, const struct rlimit *rlim) */
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  /** int getrlimit(int resource, struct rlimit *rlim) */
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  /** uid_t geteuid(void) */
  geteuid: { parameters: [], result: "u32" },
  // --- BPF, perf events and ring buffers (src/bpf) ----------------------------------------------
  /** long syscall(long number, ...) as bpf(2) and perf_event_open(2), with a fixed signature. */
  syscall6: {
    name: "syscall",
    parameters: ["i64", "buffer", "i32", "i32", "i32", "u64"],
    result: "i64",
  },
  /** int vsnprintf(char *str, size_t size, const char *format, va_list ap): formats libbpf's log lines */
  vsnprintf: { parameters: ["buffer", "usize", "pointer", "pointer"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, unsigned long arg) */
  ioctl: { parameters: ["i32", "u64", "u64"], result: "i32" },
  /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) */
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  /** int munmap(void *addr, size_t length) */
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  /** int epoll_create1(int flags) */
  epoll_create1: { parameters: ["i32"], result: "i32" },
  /** int eventfd(unsigned int initval, int flags): wakes a waiting epoll_wait early */
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  /** int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) */
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /**
   * int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout): run on
   * Deno's blocking-call thread, so waiting for BPF events never blocks the event loop. It only
   * returns a count; no JS is called from that thread.
   */
  epoll_wait: {
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  /** int getpagesize(void) */
  getpagesize: { parameters: [], result: "i32" },
  // --- errno ------------------------------------------------------------------------------------
  /** int *__errno_location(void) */
  __errno_location: { parameters: [], result: "pointer" },
  /** char *strerror(int errnum) */
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** libc's symbols as the agent declares them. */
export type LibcSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

let lib: Deno.DynamicLibrary<typeof symbols> | undefined;

/**
 * libc's symbols, loaded on first use (once per isolate: each worker loads its own) from the
 * first candidate that exists.
 *
 * @returns The symbols.
 * @throws {Error} When no candidate loads (a NotCapable error as is: --allow-ffi is missing).
 */
export function libc(): LibcSymbols {
  if (lib) return lib.symbols;
  const errors: string[] = [];
  for (const path of LIBC_CANDIDATES) {
    try {
      lib = Deno.dlopen(path, symbols);
      return lib.symbols;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) throw e;
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(`Cannot load libc.so.6: ${errors.join("; ")}`);
}

/**
 * errno of the calling thread, valid right after a failed call.
 *
 * @returns The errno value.
 */
export function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/**
 * libc's words for an errno value.
 *
 * @param code A positive errno value.
 * @returns Such as "No such file or directory".
 */
export function strerror(code: number): string {
  const p = libc().strerror(code);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${code}`;
}

const encoder = new TextEncoder();

/**
 * A NUL-terminated C string.
 *
 * @param s The string.
 * @returns Its UTF-8 bytes and a NUL.
 */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** open(2) flags (x86-64 and aarch64 share these values but where noted). */
export const O = {
  RDONLY: 0,
  RDWR: 2,
  ACCMODE: 3,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  /** __O_TMPFILE | O_DIRECTORY, x86-64 and aarch64. */
  TMPFILE: Deno.build.arch === "aarch64" ? 0o20040000 : 0o20200000,
  NOCTTY: 0o400,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
  /** x86-64 value; aarch64's is 0o40000. */
  DIRECTORY: Deno.build.arch === "aarch64" ? 0o40000 : 0o200000,
  /** x86-64 value; aarch64's is 0o100000. */
  NOFOLLOW: Deno.build.arch === "aarch64" ? 0o100000 : 0o400000,
} as const;

/** statx(2) constants. */
export const STATX = {
  AT_FDCWD: -100,
  AT_SYMLINK_NOFOLLOW: 0x100,
  AT_EMPTY_PATH: 0x1000,
  /** STATX_BASIC_STATS */
  BASIC_STATS: 0x7ff,
  SIZE: 256,
} as const;
