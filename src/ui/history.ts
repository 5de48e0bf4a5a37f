// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { type Matcher, matches } from "../http/mod.ts";
import type { ExecutableMapping } from "../process/mod.ts";

/** One profile kept for the UI: what the profiler made, still unsymbolized and compressed. */
export interface HistoryEntry {
  /** Series labels, `__name__` first. */
  labels: Record<string, string>;
  pid: number;
  /** Window start, nanoseconds since the epoch. */
  timeNanos: bigint;
  /** The gzipped pprof as the profiler built it (user frames as addresses). */
  pprof: Uint8Array;
  /** The process's executable mappings in pprof order, for symbolizing later. */
  mappings: readonly ExecutableMapping[];
  /** Samples in the profile. */
  samples: number;
  /** What the entry is charged against the history's budget. */
  bytes: number;
}

/** Bytes charged per mapping and per label, besides the pprof itself (object overhead). */
const MAPPING_BYTES = 160;
const ENTRY_BYTES = 200;

function charge(e: Omit<HistoryEntry, "bytes">): number {
  let n = ENTRY_BYTES + e.pprof.byteLength + e.mappings.length * MAPPING_BYTES;
  for (const m of e.mappings) n += 2 * (m.path.length + m.buildId.length);
  for (const [k, v] of Object.entries(e.labels)) n += 2 * (k.length + v.length) + 32;
  return n;
}

/**
 * Recent profiles in memory, bounded in bytes (`--http-ui-history-size`): the oldest go first.
 * Entries are added in time order by the profiler, so the list stays sorted.
 *
 * @example
 * ```ts
 * import { ProfileHistory } from "./history.ts";
 * const h = new ProfileHistory(1 << 20);
 * h.add({ labels: { pid: "1" }, pid: 1, timeNanos: 1n, pprof: new Uint8Array(10), mappings: [],
 *   samples: 3 });
 * console.assert(h.select([], 0n, 2n).length === 1);
 * ```
 */
export class ProfileHistory {
  readonly #maxBytes: number;
  /** Oldest first; evicted slots before #head are emptied at once, compacted now and then. */
  #entries: Array<HistoryEntry | undefined> = [];
  #head = 0;
  #bytes = 0;
  /** Profiles dropped to stay within the budget. */
  evicted = 0;

  /** @param maxBytes The budget; entries larger than it are not kept. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes charged now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Profiles kept now. */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** The budget. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /**
   * Keeps a profile, dropping the oldest ones beyond the budget.
   *
   * @param e The profile.
   */
  add(e: Omit<HistoryEntry, "bytes">): void {
    // A small gzip output can be a view of a larger buffer (zlib's 16 KiB chunk): keep only
    // its own bytes, so what is charged is what is held.
    const pprof = e.pprof.byteLength === e.pprof.buffer.byteLength ? e.pprof : e.pprof.slice();
    const entry: HistoryEntry = { ...e, pprof, bytes: charge({ ...e, pprof }) };
    if (entry.bytes > this.#maxBytes) {
      this.evicted++;
      return;
    }
    this.#entries.push(entry);
    this.#bytes += entry.bytes;
    while (this.#bytes > this.#maxBytes && this.#head < this.#entries.length) {
      this.#bytes -= this.#entries[this.#head]!.bytes;
      // Let go of its bytes now, not at the next compaction.
      this.#entries[this.#head] = undefined;
      this.#head++;
      this.evicted++;
    }
    // Compact now and then: the array keeps its dropped head until then.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The profiles whose labels match, with a window start in `[fromNanos, toNanos)`, oldest
   * first.
   *
   * @param matchers A parsed selector; empty matches every profile.
   * @param fromNanos First window start included.
   * @param toNanos First window start excluded.
   * @returns The entries.
   */
  select(matchers: readonly Matcher[], fromNanos: bigint, toNanos: bigint): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if (e.timeNanos >= fromNanos && e.timeNanos < toNanos && matches(matchers, e.labels)) {
        out.push(e);
      }
    }
    return out;
  }

  /** The newest window start kept, or undefined when empty. */
  get newest(): bigint | undefined {
    return this.size > 0 ? this.#entries[this.#entries.length - 1]!.timeNanos : undefined;
  }
}
