// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The libc calls behind src/procfs. Deno 2.9 refuses every read under /proc and /sys to a process
// without --allow-all, whatever --allow-read says (denoland/deno#27564), so a permission-scoped
// agent reads them with plain syscalls through libc, which it loads anyway for libbpf.

/** Where glibc's libc.so.6 lives on the distributions the agent supports (absolute: --allow-ffi). */
export const LIBC_CANDIDATES: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib/libc.so.6",
];

const symbols = {
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
  /** ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) */
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  /** int unlink(const char *pathname) */
  unlink: { parameters: ["buffer"], result: "i32" },
  /** int close(int fd) */
  close: { parameters: ["i32"], result: "i32" },
  /** ssize_t readlink(const char *pathname, char *buf, size_t bufsiz) */
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  /** ssize_t getdents64(int fd, void *dirp, size_t count): glibc 2.30 and later */
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /**
   * int statx(int dirfd, const char *pathname, int flags, unsigned int mask, struct statx *buf):
   * one layout on every architecture, unlike struct stat.
   */
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  /** int *__errno_location(void) */
  __errno_location: { parameters: [], result: "pointer" },
  /** char *strerror(int errnum) */
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof symbols> | undefined;

/**
 * libc's symbols, loaded on first use from the first candidate that exists.
 *
 * @returns The symbols.
 * @throws {Error} When no candidate loads (a NotCapable error as is: --allow-ffi is missing).
 */
export function libc(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
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

/** open(2) flags (x86-64 and aarch64 share these values). */
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
