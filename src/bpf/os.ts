// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Resource limits the agent sets for itself: `--memlock-rlimit`, for kernels that still charge BPF
 * maps to RLIMIT_MEMLOCK, and RLIMIT_NOFILE's soft value raised to its hard one.
 *
 * @module
 */

import { errno, libc } from "./ffi.ts";

const RLIMIT_NOFILE = 7;
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

/**
 * Raises RLIMIT_NOFILE's soft value to its hard one, as Go programs (Parca Agent among them) do
 * at start: the soft default of 1024 is a legacy of select(2), and the agent holds descriptors
 * for BPF maps and perf events per CPU, table builds and HTTP connections. The hard limit, which
 * the administrator set, is left alone.
 *
 * @returns The soft limit now and whether it was raised; undefined when getrlimit fails.
 */
export function raiseOpenFilesLimit(): { soft: bigint; hard: bigint; raised: boolean } | undefined {
  const rlim = new BigUint64Array(2);
  if (libc().getrlimit(RLIMIT_NOFILE, new Uint8Array(rlim.buffer)) !== 0) return undefined;
  const [soft, hard] = rlim;
  if (soft >= hard) return { soft, hard, raised: false };
  rlim[0] = hard;
  if (libc().setrlimit(RLIMIT_NOFILE, new Uint8Array(rlim.buffer)) !== 0) {
    return { soft, hard, raised: false };
  }
  return { soft: hard, hard, raised: true };
}
