// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * `--memlock-rlimit`, for kernels that still charge BPF maps to RLIMIT_MEMLOCK.
 *
 * @module
 */

import { errno, libc } from "./ffi.ts";

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
