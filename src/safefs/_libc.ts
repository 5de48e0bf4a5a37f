// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The few system calls of src/safefs, through libc over FFI. `syscall` is declared with a fixed
// signature (as in src/bpf/ffi.ts): glibc's stub only moves registers, and openat2 has no libc
// wrapper in Debian 12's glibc. Numbers and constants are per architecture where Linux differs.

const ARCH = Deno.build.arch;

/** System call numbers. */
export const SYS = ARCH === "aarch64"
  ? { openat: 56, readlinkat: 78, openat2: 437 }
  : { openat: 257, readlinkat: 267, openat2: 437 };

/** open(2) flags. */
export const O = {
  RDONLY: 0,
  NOCTTY: 0o400,
  NONBLOCK: 0o4000,
  DIRECTORY: ARCH === "aarch64" ? 0o40000 : 0o200000,
  NOFOLLOW: ARCH === "aarch64" ? 0o100000 : 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** openat2(2) resolve flags. */
export const RESOLVE = { NO_MAGICLINKS: 0x02, IN_ROOT: 0x10 } as const;

/** File type bits of st_mode. */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/** Offsets in struct stat (x86-64's own layout; arm64 uses the generic one). */
const STAT = ARCH === "aarch64"
  ? { size: 128, dev: 0, ino: 8, mode: 16, stSize: 48 }
  : { size: 144, dev: 0, ino: 8, mode: 24, stSize: 48 };

/** The errno values safefs names. */
export const E = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EAGAIN: 11,
  EACCES: 13,
  EXDEV: 18,
  ENOTDIR: 20,
  EINVAL: 22,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ELOOP: 40,
  E2BIG: 7,
} as const;

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(E).map(([k, v]) => [v, k]),
);

/** The name of an errno value (`ENOENT`), or `errno N`. */
export function errnoName(code: number): string {
  return NAMES[code] ?? `errno ${code}`;
}

const SYMBOLS = {
  /** long syscall(long number, ...) as openat(dirfd, path, flags, mode). */
  syscallOpenat: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "u64", "u64"],
    result: "i64",
  },
  /** long syscall(long number, ...) as openat2(dirfd, path, how, size) or readlinkat(). */
  syscallBuffers: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "u64"],
    result: "i64",
  },
  /** int fstat(int fd, struct stat *buf) */
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  /** int close(int fd) */
  close: { parameters: ["i32"], result: "i32" },
  /** int *__errno_location(void) */
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** A failed system call, with its errno. */
export class SysError extends Error {
  /** The positive errno value. */
  readonly errno: number;

  /**
   * @param call What was called, e.g. `openat2`.
   * @param code The errno value.
   */
  constructor(call: string, code: number) {
    super(`${call}: ${errnoName(code)}`);
    this.name = "SysError";
    this.errno = code;
  }
}

/** A NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = new TextEncoder().encode(s + "\0");
  return b as Uint8Array<ArrayBuffer>;
}

/** Runs a raw system call until it is not interrupted; throws SysError on failure. */
function retry(call: string, f: () => bigint): number {
  for (;;) {
    const r = Number(f());
    if (r >= 0) return r;
    const code = errno();
    if (code !== E.EINTR) throw new SysError(call, code);
  }
}

/** openat(2). */
export function openat(dirfd: number, path: string, flags: number): number {
  const p = cString(path);
  return retry(
    "openat",
    () => libc().syscallOpenat(BigInt(SYS.openat), BigInt(dirfd), p, BigInt(flags), 0n),
  );
}

/** openat2(2) with `struct open_how { u64 flags, mode, resolve }`. */
export function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  const p = cString(path);
  const how = new Uint8Array(new BigUint64Array([BigInt(flags), 0n, BigInt(resolve)]).buffer);
  return retry(
    "openat2",
    () => libc().syscallBuffers(BigInt(SYS.openat2), BigInt(dirfd), p, how, BigInt(how.length)),
  );
}

/** readlinkat(fd, "") of an O_PATH|O_NOFOLLOW descriptor of a symlink: its target text. */
export function readlinkFd(fd: number): string {
  const empty = cString("");
  const buf = new Uint8Array(4096);
  const n = retry(
    "readlinkat",
    () => libc().syscallBuffers(BigInt(SYS.readlinkat), BigInt(fd), empty, buf, BigInt(buf.length)),
  );
  if (n >= buf.length) throw new SysError("readlinkat", E.ENAMETOOLONG);
  return new TextDecoder().decode(buf.subarray(0, n));
}

/** What fstat says about a descriptor. */
export interface FdStat {
  dev: bigint;
  ino: bigint;
  /** st_mode: type and permission bits. */
  mode: number;
  size: number;
}

/** fstat(2); works on O_PATH descriptors (Linux 3.6+). */
export function fstat(fd: number): FdStat {
  const buf = new Uint8Array(STAT.size);
  if (libc().fstat(fd, buf) !== 0) throw new SysError("fstat", errno());
  const v = new DataView(buf.buffer);
  return {
    dev: v.getBigUint64(STAT.dev, true),
    ino: v.getBigUint64(STAT.ino, true),
    mode: v.getUint32(STAT.mode, true),
    size: Number(v.getBigInt64(STAT.stSize, true)),
  };
}

/** close(2), ignoring errors (the descriptor is gone either way). */
export function close(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

/** AT_FDCWD. */
export const AT_FDCWD = -100;
