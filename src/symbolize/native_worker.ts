// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * The worker of {@link NativeSymbolizer}: opens the files of a mapping (the binary through
 * /proc/PID/map_files, its separate debug file inside the process's root, each checked by build
 * ID or CRC: `src/debuginfo`'s finder), reads the sections that name code into a bundle, loads it
 * into wasm-unwind's symbolizer and names addresses. Loaded files stay, least recently used
 * first out, while wasm-unwind's heap is over the budget.
 *
 * Request: `{ id, key, sources, addrs, directories, maxBundleBytes, budgetBytes }`.
 * Reply: `{ id, ok: true, result: ArrayBuffer, heapBytes, memoryBytes, loaded }` (SYR1, moved) or
 * `{ id, ok: false, reason, message, heapBytes, memoryBytes }` with reason `unreachable` (no
 * source could be opened), `not_elf`, `too_large`, `no_symbols` or `failed`.
 *
 * It imports modules by file rather than through `mod.ts` to keep the worker's module graph
 * (and its isolate) small, as `src/debuginfo/strip_worker.ts` does.
 *
 * @module
 */

import { findDebuginfo, type FoundFile, openMappedBinary } from "../debuginfo/finder.ts";
import type { FileElfSource } from "../process/mod.ts";
import { WasmUnwind, WasmUnwindError } from "../unwind/_wasm.ts";
import { buildBundle, BundleError, Origin } from "./_bundle.ts";

/** One way to reach a file: a process that maps it, and that mapping. */
export interface FileSource {
  pid: number;
  start: number;
  limit: number;
  path: string;
  buildId: string;
  buildIdKind: "gnu" | "go" | "text-hash" | "none";
}

/** A request to the worker. */
export interface ResolveRequest {
  id: number;
  /** The file's identity (cache key). */
  key: string;
  /** Processes mapping it, most recent first. */
  sources: FileSource[];
  /** ELF virtual addresses to name. */
  addrs: number[];
  /** `--debuginfo-directories`. */
  directories: string[];
  maxBundleBytes: number;
  budgetBytes: number;
}

let wasm: Promise<WasmUnwind> | undefined;
const loaded = new Map<string, { handle: number; lastUsed: number }>();
let clock = 0;

function instance(): Promise<WasmUnwind> {
  wasm ??= WasmUnwind.load();
  return wasm;
}

class ResolveError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

function open(key: string, w: WasmUnwind, req: ResolveRequest): number {
  const reasons: string[] = [];
  for (const s of req.sources) {
    let binary: FoundFile | undefined;
    let debug: FoundFile | undefined;
    try {
      binary = openMappedBinary(s.pid, s);
      if (!binary) {
        reasons.push(`pid ${s.pid}: gone, or the file there is another one`);
        continue;
      }
      if (s.buildIdKind !== "none" && s.buildId !== "") {
        debug = findDebuginfo({
          root: `/proc/${s.pid}/root`,
          directories: req.directories,
          binaryPath: s.path,
          buildId: s.buildId,
          buildIdKind: s.buildIdKind,
          binary: binary.file,
        });
      }
      const files: Array<{ origin: Origin; src: FileElfSource }> = [
        { origin: Origin.Binary, src: binary.file },
      ];
      if (debug) files.push({ origin: Origin.DebugFile, src: debug.file });
      let bundle: Uint8Array;
      try {
        bundle = buildBundle(files, req.maxBundleBytes);
      } catch (e) {
        if (e instanceof BundleError) throw new ResolveError(e.reason, e.message);
        throw e;
      }
      return w.symbolizerOpen(bundle);
    } catch (e) {
      if (e instanceof ResolveError) throw e;
      if (e instanceof WasmUnwindError) {
        throw new ResolveError(e.codeName === "no_symbols" ? "no_symbols" : "failed", e.message);
      }
      reasons.push(`pid ${s.pid}: ${(e as Error).message}`);
    } finally {
      binary?.file.close();
      debug?.file.close();
    }
  }
  throw new ResolveError(
    "unreachable",
    `cannot open ${key}: ${reasons.join("; ") || "no process"}`,
  );
}

function evict(w: WasmUnwind, budget: number, keep: string): void {
  while (w.heapBytes > budget && loaded.size > 1) {
    let victim: string | undefined;
    let oldest = Infinity;
    for (const [k, v] of loaded) {
      if (k !== keep && v.lastUsed < oldest) {
        oldest = v.lastUsed;
        victim = k;
      }
    }
    if (victim === undefined) return;
    w.symbolizerClose(loaded.get(victim)!.handle);
    loaded.delete(victim);
  }
}

self.onmessage = async (e: MessageEvent<ResolveRequest>) => {
  const req = e.data;
  let w: WasmUnwind | undefined;
  try {
    w = await instance();
    let entry = loaded.get(req.key);
    if (!entry) {
      entry = { handle: open(req.key, w, req), lastUsed: 0 };
      loaded.set(req.key, entry);
    }
    entry.lastUsed = ++clock;
    const result = w.symbolize(entry.handle, BigUint64Array.from(req.addrs, BigInt));
    evict(w, req.budgetBytes, req.key);
    const out = result.buffer as ArrayBuffer;
    self.postMessage({
      id: req.id,
      ok: true,
      result: out,
      heapBytes: w.heapBytes,
      memoryBytes: w.memoryBytes,
      loaded: loaded.size,
    }, [out]);
  } catch (err) {
    let reason = err instanceof ResolveError ? err.reason : "failed";
    if (err instanceof WebAssembly.RuntimeError || err instanceof RangeError) {
      // A trap (a bug or a stack overflow on hostile DWARF) leaves the instance unusable:
      // start over with a fresh one.
      wasm = undefined;
      loaded.clear();
      reason = "failed";
    }
    self.postMessage({
      id: req.id,
      ok: false,
      reason,
      message: (err as Error).message,
      heapBytes: w?.heapBytes ?? 0,
      memoryBytes: w?.memoryBytes ?? 0,
    });
  }
};
