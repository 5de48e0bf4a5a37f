// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Test-only: a process window with every kind of frame, shared by the pprof tests.

import type { ProfileInput, Symbolizers } from "./build.ts";

/** Exe, libc and vDSO mapping starts. */
export const EXE = 0x400000;
/** libc mapping start. */
export const LIBC = 0x7f0000000000;
/** vDSO mapping start. */
export const VDSO = 0x7ffff7fc1000;
/** Kernel function starts of the fake kernel symbolizer. */
export const K_READ = 0xffffffff81200000n;
/** Second kernel function. */
export const K_SYSCALL = 0xffffffff8225a650n;
/** A kernel address the fake symbolizer does not know. */
export const K_UNKNOWN = 0xffffffff90000000n;

/** Fake symbolizers: two kernel functions, one vDSO function at 0xa00..0xa80. */
export const SYMBOLIZERS: Symbolizers = {
  kernel: {
    lookup(a: bigint): number {
      if (a >= K_READ && a < K_READ + 0x100n) return 0;
      if (a >= K_SYSCALL && a < K_SYSCALL + 0x100n) return 1;
      return -1;
    },
    name(i: number): string {
      return ["ksys_read", "do_syscall_64"][i];
    },
  },
  vdso: {
    lookup(off: number): string | undefined {
      return off >= 0xa00 && off < 0xa80 ? "__vdso_clock_gettime" : undefined;
    },
  },
};

/** Window start used by {@link fixtureInput}. */
export const START = 1_767_225_600_123_456_789n;

/**
 * Samples: A (tid 100) twice (merged), the same stack on tid 101, a stack with an unmapped address,
 * a kernel-only stack with an unknown address, and a zero-count sample that must vanish.
 */
export function fixtureInput(): ProfileInput {
  const kernel = [K_READ + 5n, K_SYSCALL + 0x10n];
  const user = [VDSO + 0xa10, LIBC + 0x500, EXE + 0x1234];
  return {
    startNanos: START,
    durationNanos: 10_000_000_000n,
    frequencyHz: 19,
    mappings: [
      { start: EXE, limit: EXE + 0x100000, offset: 0, path: "/usr/bin/app", buildId: "aaaa" },
      {
        start: LIBC,
        limit: LIBC + 0x100000,
        offset: 0x1000,
        path: "/usr/lib/libc.so.6",
        buildId: "bbbb",
      },
      { start: VDSO, limit: VDSO + 0x2000, offset: 0, path: "[vdso]", buildId: "", special: true },
    ],
    samples: [
      { tid: 100, threadName: "main", count: 2, kernel, user, marker: "[truncated]" },
      {
        tid: 100,
        threadName: "main",
        count: 3,
        kernel: BigUint64Array.from(kernel),
        user: Float64Array.from(user),
        marker: "[truncated]",
      },
      { tid: 101, threadName: "worker", count: 1, kernel, user, marker: "[truncated]" },
      { tid: 100, threadName: "main", count: 4, kernel: [], user: [0x1234, EXE + 0x1234] },
      { tid: 101, threadName: "worker", count: 1, kernel: [K_UNKNOWN, K_READ + 0x20n], user: [] },
      { tid: 102, threadName: "idle", count: 0, kernel, user },
    ],
  };
}
