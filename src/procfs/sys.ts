// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The few system calls outside file reads that other modules need and Deno lacks, through the
 * one libc table (./_libc.ts): path resolution for src/safefs (openat, openat2, readlinkat),
 * descriptors (dup), inotify for the config watcher, the parent-death signal for the
 * supervisor, execve for the launcher, a worker thread's priority and malloc_trim.
 *
 * @module
 */

import { cstr, errno, libc, strerror } from "./_libc.ts";

const ARCH = Deno.build.arch;

/** System call numbers of the calls glibc has no wrapper for, or that are made raw. */
const SYS = ARCH === "aarch64"
  ? { openat: 56, readlinkat: 78, openat2: 437 }
  : { openat: 257, readlinkat: 267, openat2: 437 };

const EINTR = 4;
const ENAMETOOLONG = 36;

/** A failed system call, with its errno. */
export class SysError extends Error {
  /** The positive errno value. */
  readonly errno: number;

  /**
   * @param call What was called, e.g. `openat2`.
   * @param code The errno value.
   */
  constructor(call: string, code: number) {
    super(`${call}: ${strerror(code)} (errno ${code})`);
    this.name = "SysError";
    this.errno = code;
  }
}

/** Runs a raw system call until it is not interrupted; throws SysError on failure. */
function retry(call: string, f: () => bigint | number): number {
  for (;;) {
    const r = Number(f());
    if (r >= 0) return r;
    const code = errno();
    if (code !== EINTR) throw new SysError(call, code);
  }
}

/**
 * openat(2), made raw so that it takes any flags (`O_PATH`, `O_NOFOLLOW`) and needs no Deno
 * permission: callers resolve paths of other processes with it, inside their root.
 *
 * @param dirfd A directory descriptor, or `AT_FDCWD` (-100).
 * @param path Relative to `dirfd`, or absolute.
 * @param flags open(2) flags.
 * @returns The new descriptor.
 * @throws {SysError} With errno.
 */
export function openat(dirfd: number, path: string, flags: number): number {
  const p = cstr(path);
  return retry(
    "openat",
    () => libc().syscallOpenat(BigInt(SYS.openat), BigInt(dirfd), p, BigInt(flags), 0n),
  );
}

/**
 * openat2(2) with `struct open_how { u64 flags, mode, resolve }`.
 *
 * @param dirfd A directory descriptor.
 * @param path Relative to `dirfd`.
 * @param flags open(2) flags.
 * @param resolve `RESOLVE_*` flags.
 * @returns The new descriptor.
 * @throws {SysError} With errno (ENOSYS before Linux 5.6).
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  const p = cstr(path);
  const how = new Uint8Array(new BigUint64Array([BigInt(flags), 0n, BigInt(resolve)]).buffer);
  return retry(
    "openat2",
    () => libc().syscallBuffers(BigInt(SYS.openat2), BigInt(dirfd), p, how, BigInt(how.length)),
  );
}

/**
 * readlinkat(fd, "") of an `O_PATH | O_NOFOLLOW` descriptor of a symlink: its target text.
 *
 * @param fd The descriptor.
 * @returns The target.
 * @throws {SysError} With errno.
 */
export function readLinkFd(fd: number): string {
  const empty = cstr("");
  const buf = new Uint8Array(4096);
  const n = retry(
    "readlinkat",
    () => libc().syscallBuffers(BigInt(SYS.readlinkat), BigInt(fd), empty, buf, BigInt(buf.length)),
  );
  if (n >= buf.length) throw new SysError("readlinkat", ENAMETOOLONG);
  return new TextDecoder().decode(buf.subarray(0, n));
}

/**
 * dup(2): a second descriptor of the same open file, which outlives the first.
 *
 * @param fd An open descriptor.
 * @returns The new descriptor.
 * @throws {SysError} When dup fails (EMFILE).
 */
export function dupSync(fd: number): number {
  return retry("dup", () => libc().dup(fd));
}

/**
 * inotify_init1(2).
 *
 * @param flags `IN_NONBLOCK | IN_CLOEXEC`.
 * @returns The inotify descriptor; read it with `readSync` (EAGAIN when nothing is pending) and
 *   close it with `closeSync`.
 * @throws {SysError} With errno.
 */
export function inotifyInit(flags: number): number {
  return retry("inotify_init1", () => libc().inotify_init1(flags));
}

/**
 * inotify_add_watch(2).
 *
 * @param fd From {@link inotifyInit}.
 * @param path What to watch.
 * @param mask `IN_*` events.
 * @returns The watch descriptor.
 * @throws {SysError} With errno.
 */
export function inotifyAddWatch(fd: number, path: string, mask: number): number {
  const p = cstr(path);
  return retry("inotify_add_watch", () => libc().inotify_add_watch(fd, p, mask));
}

const PR_SET_PDEATHSIG = 1;

/**
 * prctl(PR_SET_PDEATHSIG): the kernel sends `signal` to this process when its parent dies.
 *
 * @param signal The signal number (15 for SIGTERM).
 * @returns Whether it was set.
 */
export function setParentDeathSignal(signal: number): boolean {
  return libc().prctl(PR_SET_PDEATHSIG, BigInt(signal), 0n, 0n, 0n) === 0;
}

/**
 * getppid(2): the parent now, from the kernel (`Deno.ppid` may be read once at start).
 *
 * @returns The parent's pid (1, or a subreaper's, once the parent is gone).
 */
export function parentPid(): number {
  return libc().getppid();
}

/**
 * Lowers the scheduling priority of the calling thread only (Linux's setpriority with a thread
 * id): a worker's CPU-heavy builds then yield to the profiler's own thread.
 *
 * @param nice The nice value, e.g. 10.
 * @returns The calling thread's id when the nice value was set (so that its owner can change it
 *   later with {@link setThreadNice}), undefined without gettid or when refused.
 */
export function niceThisThread(nice: number): number | undefined {
  const { gettid, setpriority } = libc();
  if (!gettid) return undefined;
  const tid = gettid();
  // PRIO_PROCESS (0) with a thread id sets that one thread's nice value on Linux.
  return setpriority(0, tid, nice) === 0 ? tid : undefined;
}

/**
 * setpriority(2) for one thread of this process: Linux applies PRIO_PROCESS with a thread id to
 * that thread alone. Raising a thread's priority (a lower nice) needs CAP_SYS_NICE.
 *
 * @param tid The thread (as {@link niceThisThread} returned it).
 * @param nice -20 (first) to 19 (last).
 * @returns ok, or the errno of the failure (EACCES/EPERM without CAP_SYS_NICE, ESRCH).
 */
export function setThreadNice(
  tid: number,
  nice: number,
): { ok: true } | { ok: false; errno: number } {
  return libc().setpriority(0, tid, nice) === 0 ? { ok: true } : { ok: false, errno: errno() };
}

/** malloc_trim(0): gives free heap memory of every malloc arena back to the system. */
export function trimMalloc(): void {
  libc().malloc_trim(0n);
}

/** madvise(2)'s MADV_DONTNEED, the same on every Linux architecture the agent supports. */
const MADV_DONTNEED = 4;

/**
 * madvise(MADV_DONTNEED) on a range of this process's own address space: its pages leave the
 * process's page tables. For a read-only file mapping that holds no private copy of a page, this
 * only unmaps page-cache pages, which the next access maps again (a minor fault) with the same
 * contents; on anything else it discards data, so callers check the mapping first.
 *
 * @param start The first byte, page-aligned.
 * @param length Bytes, a multiple of the page size.
 * @throws {SysError} When madvise fails.
 */
export function dropPages(start: bigint, length: bigint): void {
  if (libc().madvise(Deno.UnsafePointer.create(start), length, MADV_DONTNEED) !== 0) {
    throw new SysError("madvise", errno());
  }
}

/** mallopt(3)'s parameters (glibc's malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const M_ARENA_MAX = -8;

/** Settings of glibc's allocator (mallopt(3)); those left out keep their value. */
export interface MallocOptions {
  /**
   * `M_ARENA_MAX`: from now on, threads share at most this many arenas. glibc gives each new
   * thread an arena of its own up to 8 per core, and an arena keeps memory its thread freed
   * (fragments that malloc_trim cannot give back), so a process whose threads come and go (Deno's
   * I/O pool, table workers) accumulates it.
   */
  arenaMax?: number;
  /**
   * `M_MMAP_THRESHOLD`: blocks from this size on get their own mapping, which goes back to the
   * system when freed. Setting it turns off glibc's dynamic threshold, which rises to the size of
   * each large block freed, so that later ones of that size stay in the heap after their free.
   */
  mmapThreshold?: number;
  /** `M_TRIM_THRESHOLD`: free memory at the top of the heap beyond this goes back at once. */
  trimThreshold?: number;
}

/**
 * Applies settings to glibc's allocator.
 *
 * @param options What to set.
 * @returns The names of the settings glibc refused (empty when all were taken).
 */
export function setMallocOptions(options: MallocOptions): string[] {
  const refused: string[] = [];
  const params: [keyof MallocOptions, number][] = [
    ["arenaMax", M_ARENA_MAX],
    ["mmapThreshold", M_MMAP_THRESHOLD],
    ["trimThreshold", M_TRIM_THRESHOLD],
  ];
  for (const [name, param] of params) {
    const value = options[name];
    if (value !== undefined && libc().mallopt(param, value) !== 1) refused.push(name);
  }
  return refused;
}

const encoder = new TextEncoder();

/** A NULL-terminated array of pointers to NUL-terminated strings, and the strings it points to. */
function cArray(strings: string[]): { array: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = strings.map((s) => encoder.encode(s + "\0"));
  const array = new BigUint64Array(strings.length + 1);
  keep.forEach((b, i) => {
    array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  });
  return { array, keep };
}

/**
 * execve(2): runs `path` in place of this process, with `args` (argv[0] included) and `env`,
 * keeping its pid. Returns only when execve fails.
 *
 * @param path The executable, absolute.
 * @param args Its argv, starting with argv[0].
 * @param env Its whole environment.
 * @throws {Error} When execve fails (the message names the errno).
 */
export function execve(path: string, args: string[], env: Record<string, string>): never {
  const argv = cArray(args);
  const envp = cArray(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  libc().execve(
    cstr(path),
    new Uint8Array(argv.array.buffer),
    new Uint8Array(envp.array.buffer),
  );
  const code = errno();
  // Naming the counts keeps the strings alive until here: the pointer arrays refer to them.
  throw new Error(
    `Cannot exec ${path} with ${argv.keep.length} arguments and ${envp.keep.length} variables: ` +
      strerror(code),
  );
}
