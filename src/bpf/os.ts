// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The few libc calls other modules need, so that only src/bpf holds native symbols.
 *
 * @module
 */

import { errno, libc, NativeError } from "./ffi.ts";

/**
 * dup(2): a second descriptor of the same open file, which outlives the first.
 *
 * @param fd An open descriptor.
 * @returns The new descriptor.
 * @throws {NativeError} When dup fails (EMFILE).
 */
export function duplicateFd(fd: number): number {
  const copy = libc().dup(fd);
  if (copy < 0) throw new NativeError("duplicate a file descriptor", errno());
  return copy;
}

/**
 * close(2), ignoring errors (the descriptor is gone either way).
 *
 * @param fd The descriptor.
 */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/** malloc_trim(0): gives free heap memory of every malloc arena back to the system. */
export function trimMalloc(): void {
  libc().malloc_trim(0n);
}

const RLIMIT_MEMLOCK = 8;

/**
 * `--memlock-rlimit`: sets RLIMIT_MEMLOCK (soft and hard) to `bytes`, for kernels that still
 * charge BPF maps to it.
 *
 * @param bytes The new limit.
 * @returns ok, or the errno of the failure (EPERM without CAP_SYS_RESOURCE).
 */
export function setMemlockRlimit(bytes: number): { ok: true } | { ok: false; errno: number } {
  const rlim = new BigUint64Array([BigInt(bytes), BigInt(bytes)]);
  const rc = libc().setrlimit(RLIMIT_MEMLOCK, new Uint8Array(rlim.buffer));
  return rc === 0 ? { ok: true } : { ok: false, errno: errno() };
}

const PRIO_PROCESS = 0;

/**
 * setpriority(2) for one thread of this process: Linux applies PRIO_PROCESS with a thread id to
 * that thread alone. Raising a thread's priority (a lower nice) needs CAP_SYS_NICE.
 *
 * @param tid The thread (gettid(2) of it).
 * @param nice -20 (first) to 19 (last).
 * @returns ok, or the errno of the failure (EACCES/EPERM without CAP_SYS_NICE, ESRCH).
 */
export function setThreadNice(
  tid: number,
  nice: number,
): { ok: true } | { ok: false; errno: number } {
  const rc = libc().setpriority(PRIO_PROCESS, tid, nice);
  return rc === 0 ? { ok: true } : { ok: false, errno: errno() };
}
