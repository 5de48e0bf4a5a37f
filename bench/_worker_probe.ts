// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * A worker for bench/worker_cost.ts: `{ op: "load", url }` imports a tree's table_worker.ts into
 * this worker (it sets the worker's message handler), whose jobs then run here as in the pool;
 * `{ op: "mem" }` replies with this worker's `Deno.memoryUsage()` in MiB.
 *
 * @module
 */

let handler: ((e: MessageEvent) => unknown) | null = null;

self.onmessage = async (e: MessageEvent) => {
  if (e.data?.op === "load") {
    await import(e.data.url);
    handler = self.onmessage;
    self.onmessage = dispatch;
    self.postMessage({ loaded: true });
  }
};

function dispatch(e: MessageEvent): unknown {
  if (e.data?.op !== "mem") return handler?.(e);
  const m = Deno.memoryUsage();
  self.postMessage(
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v / 2 ** 17) / 8])),
  );
  return undefined;
}
