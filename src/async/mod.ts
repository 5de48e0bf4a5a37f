// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Bounded waits: stopping steps (the remote store, the HTTP server, the trace exporter) and
 * start-up waits (the Kubernetes sync) wait for something only so long.
 *
 * @example
 * ```ts
 * import { waitAtMost } from "./mod.ts";
 * const inTime = await waitAtMost(new Promise((r) => setTimeout(r, 10)), 1000);
 * ```
 *
 * @module
 */

/**
 * Waits for `p`, or `ms` at most; the promise goes on after that, unawaited. A rejection of `p`
 * within the time propagates (callers that do not care add `.catch`).
 *
 * @param p What to wait for.
 * @param ms The longest wait, in milliseconds (negative counts as 0).
 * @returns Whether `p` settled in time.
 */
export async function waitAtMost(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), Math.max(0, ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
