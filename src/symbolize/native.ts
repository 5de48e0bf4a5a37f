// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Native symbolization, off the main thread: a worker ({@link ./native_worker.ts}) runs
 * wasm-unwind's symbolizer over the symbol tables and DWARF of each file (and its separate debug
 * file), and this side caches what it answered.
 *
 * - Files are keyed by identity (build ID), so a library mapped by a hundred processes is loaded
 *   once, and any live process that maps it can be used to open it.
 * - The worker keeps loaded files while wasm-unwind's heap stays under a budget (least recently
 *   used out first), and is restarted when its linear memory (which never shrinks) grew past
 *   twice the budget, or after it has been idle for a while.
 * - Answers per address are cached here, bounded in count; files that cannot be symbolized
 *   (no symbols, too large, unreachable) are remembered for a while, so they cost nothing more.
 *
 * Nothing here runs in the profiling loop: callers symbolize finished profiles, on request.
 *
 * @module
 */

import type { SourceFrame } from "./_frames.ts";
import { decodeFrames } from "./_frames.ts";
import type { FileSource, ResolveRequest } from "./native_worker.ts";

export type { FileSource } from "./native_worker.ts";

/** Options of {@link NativeSymbolizer}. */
export interface NativeSymbolizerOptions {
  /** Where separate debug files are looked for (`--debuginfo-directories`). */
  debugDirectories: readonly string[];
  /**
   * wasm-unwind heap kept for loaded files; a file's sections larger than this are not loaded
   * (it gets `module+0xADDR` frames).
   *
   * @default {128 MiB}
   */
  budgetBytes?: number;
  /**
   * Addresses whose answers are cached.
   *
   * @default {200000}
   */
  cachedAddresses?: number;
  /**
   * The worker stops after this long without work (its memory goes back to the system).
   *
   * @default {300000}
   */
  idleMs?: number;
  /**
   * A request taking longer than this fails and the worker is restarted (a file on a stalled
   * FUSE mount, say).
   *
   * @default {60000}
   */
  requestTimeoutMs?: number;
}

/** Why a file gives no names. */
export type UnsymbolizedReason = "unreachable" | "not_elf" | "too_large" | "no_symbols" | "failed";

/** What {@link NativeSymbolizer.resolve} answers for a file. */
export type FileFrames =
  | { ok: true; frames: SourceFrame[][] }
  | { ok: false; reason: UnsymbolizedReason; message: string };

/** Counters of a {@link NativeSymbolizer}; they only grow. */
export interface NativeSymbolizerStats {
  /** Addresses answered from the cache. */
  cachedAddresses: number;
  /** Addresses sent to the worker. */
  resolvedAddresses: number;
  /** Files that could not be symbolized, by reason (each counted once per failure). */
  failures: Record<string, number>;
  /** Workers started. */
  workersStarted: number;
}

const MiB = 1 << 20;
/** How long a file that could not be reached is left alone; other failures stay longer. */
const UNREACHABLE_RETRY_MS = 10_000;
const FAILURE_RETRY_MS = 600_000;

interface Pending {
  resolve(r: FileFrames): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Names native frames through wasm-unwind in a worker, with caches. */
export class NativeSymbolizer {
  readonly #dirs: string[];
  readonly #budget: number;
  readonly #maxCached: number;
  readonly #idleMs: number;
  readonly #timeoutMs: number;
  #worker: Worker | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  /** Answers per file key, in least-recently-used order (Map order, refreshed on use). */
  readonly #cache = new Map<string, Map<number, SourceFrame[]>>();
  #cachedCount = 0;
  readonly #failed = new Map<
    string,
    { reason: UnsymbolizedReason; message: string; until: number }
  >();
  /** What the symbolizer did so far. */
  readonly stats: NativeSymbolizerStats = {
    cachedAddresses: 0,
    resolvedAddresses: 0,
    failures: {},
    workersStarted: 0,
  };
  /** wasm-unwind's heap and linear memory in the worker, as of its last answer. */
  readonly memory = { heapBytes: 0, linearBytes: 0, loadedFiles: 0 };

  /** @param options Debug directories, budgets. */
  constructor(options: NativeSymbolizerOptions) {
    this.#dirs = [...options.debugDirectories];
    this.#budget = options.budgetBytes ?? 128 * MiB;
    this.#maxCached = options.cachedAddresses ?? 200_000;
    this.#idleMs = options.idleMs ?? 300_000;
    this.#timeoutMs = options.requestTimeoutMs ?? 60_000;
  }

  /**
   * Names ELF virtual addresses of one file.
   *
   * @param key The file's identity (the same key for the same file in every process).
   * @param sources Processes that map it (tried in order until one opens).
   * @param vaddrs ELF virtual addresses (the load bias removed).
   * @returns Frames per address (innermost first; empty where nothing names it), or why the
   * file cannot be symbolized.
   */
  async resolve(
    key: string,
    sources: FileSource[],
    vaddrs: readonly number[],
  ): Promise<FileFrames> {
    const failed = this.#failed.get(key);
    if (failed && failed.until > Date.now()) {
      return { ok: false, reason: failed.reason, message: failed.message };
    }
    let cache = this.#cache.get(key);
    if (cache) {
      // Refresh the file's place in the LRU order.
      this.#cache.delete(key);
      this.#cache.set(key, cache);
    }
    const missing = cache ? vaddrs.filter((a) => !cache!.has(a)) : [...new Set(vaddrs)];
    this.stats.cachedAddresses += vaddrs.length - missing.length;
    if (missing.length > 0) {
      if (this.#closed) {
        return { ok: false, reason: "failed", message: "the symbolizer is closed" };
      }
      const unique = [...new Set(missing)];
      this.stats.resolvedAddresses += unique.length;
      const answer = await this.#request(key, sources, unique);
      if (!answer.ok) {
        this.stats.failures[answer.reason] = (this.stats.failures[answer.reason] ?? 0) + 1;
        const wait = answer.reason === "unreachable" ? UNREACHABLE_RETRY_MS : FAILURE_RETRY_MS;
        this.#failed.set(key, { ...answer, until: Date.now() + wait });
        if (this.#failed.size > 10_000) this.#failed.delete(this.#failed.keys().next().value!);
        return answer;
      }
      this.#failed.delete(key);
      cache = this.#cache.get(key);
      if (!cache) {
        cache = new Map();
        this.#cache.set(key, cache);
      }
      for (let i = 0; i < unique.length; i++) {
        if (!cache.has(unique[i])) this.#cachedCount++;
        cache.set(unique[i], answer.frames[i] ?? []);
      }
      this.#trimCache(key);
    }
    const c = cache!;
    return { ok: true, frames: vaddrs.map((a) => c.get(a) ?? []) };
  }

  /** Drops the least recently used files' answers while over the address budget. */
  #trimCache(keep: string): void {
    for (const [k, m] of this.#cache) {
      if (this.#cachedCount <= this.#maxCached) return;
      if (k === keep) continue;
      this.#cachedCount -= m.size;
      this.#cache.delete(k);
    }
  }

  #request(key: string, sources: FileSource[], addrs: number[]): Promise<FileFrames> {
    const w = this.#ensureWorker();
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#restart(`request for ${key} took over ${this.#timeoutMs} ms`);
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve, timer });
      const req: ResolveRequest = {
        id,
        key,
        sources,
        addrs,
        directories: this.#dirs,
        maxBundleBytes: this.#budget,
        budgetBytes: this.#budget,
      };
      w.postMessage(req);
    });
  }

  #ensureWorker(): Worker {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL("./native_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (e) => this.#answer(e.data);
    w.onerror = (e) => {
      e.preventDefault();
      this.#restart(`worker failed: ${e.message}`);
    };
    this.#worker = w;
    this.stats.workersStarted++;
    return w;
  }

  #answer(msg: {
    id: number;
    ok: boolean;
    result?: ArrayBuffer;
    reason?: UnsymbolizedReason;
    message?: string;
    heapBytes: number;
    memoryBytes: number;
    loaded?: number;
  }): void {
    const p = this.#pending.get(msg.id);
    this.memory.heapBytes = msg.heapBytes;
    this.memory.linearBytes = msg.memoryBytes;
    if (msg.loaded !== undefined) this.memory.loadedFiles = msg.loaded;
    if (p) {
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok && msg.result) {
        let frames: SourceFrame[][];
        try {
          frames = decodeFrames(new Uint8Array(msg.result));
        } catch (e) {
          p.resolve({ ok: false, reason: "failed", message: (e as Error).message });
          return;
        }
        p.resolve({ ok: true, frames });
      } else {
        p.resolve({
          ok: false,
          reason: msg.reason ?? "failed",
          message: msg.message ?? "unknown error",
        });
      }
    }
    if (this.#pending.size === 0) {
      // Linear memory only grows: give it back once it is far past what the budget needs.
      if (msg.memoryBytes > 2 * this.#budget + 64 * MiB) this.#stopWorker();
      else this.#armIdle();
    }
  }

  #armIdle(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pending.size === 0) this.#stopWorker();
    }, this.#idleMs);
    Deno.unrefTimer(this.#idleTimer as unknown as number);
  }

  #stopWorker(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#worker?.terminate();
    this.#worker = undefined;
    this.memory.heapBytes = 0;
    this.memory.linearBytes = 0;
    this.memory.loadedFiles = 0;
  }

  /** Fails every pending request and starts over (a hung or crashed worker). */
  #restart(why: string): void {
    this.#stopWorker();
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, reason: "failed", message: why });
      this.#pending.delete(id);
    }
  }

  /** Stops the worker; later requests fail. */
  close(): void {
    this.#closed = true;
    this.#restart("the symbolizer is closed");
  }
}
