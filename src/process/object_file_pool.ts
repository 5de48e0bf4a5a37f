// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The object-file pool: ELF files of other processes, opened safely (see
 * _open_mapped_file.ts) and kept open for reuse, at most `--object-file-pool-size` at once
 * (0: no limit), evicting by `--object-file-pool-eviction-policy` (lru or lfu). Each open file
 * is a file descriptor, so the bound keeps the agent under its open-files limit.
 *
 * @module
 */

import type { FileElfSource } from "./elf_source.ts";
import type { ProcMapping } from "./maps.ts";
import { identifyMappedFile, openMappedFile } from "./_open_mapped_file.ts";

/** Eviction policy of the pool. */
export type PoolEvictionPolicy = "lru" | "lfu";

interface PoolEntry {
  src: FileElfSource;
  lastUsed: number;
  uses: number;
}

/** Counters of the pool, for /metrics. */
export interface ObjectFilePoolStats {
  opened: number;
  hits: number;
  evicted: number;
  openErrors: number;
}

/** A bounded pool of open ELF files keyed by file identity (device, inode, size, mtime). */
export class ObjectFilePool {
  readonly #size: number;
  readonly #policy: PoolEvictionPolicy;
  readonly #entries = new Map<string, PoolEntry>();
  #clock = 0;
  /** What the pool did so far. */
  readonly stats: ObjectFilePoolStats = { opened: 0, hits: 0, evicted: 0, openErrors: 0 };

  /**
   * @param options `size`: files kept open at most (0: unbounded); `policy`: which to close first.
   */
  constructor(options: { size: number; policy: PoolEvictionPolicy }) {
    this.#size = options.size;
    this.#policy = options.policy;
  }

  /** Files open now. */
  get open(): number {
    return this.#entries.size;
  }

  /**
   * The open file mapped at `m` in process `pid`, from the pool or newly opened.
   *
   * @param pid The process.
   * @param m The mapping (a file-backed one).
   * @returns The file and its identity key; do not close it (the pool does).
   * @throws {Error} When the file cannot be reached safely.
   */
  get(
    pid: number,
    m: ProcMapping,
  ): { src: FileElfSource; key: string; identity: { path: string; stat: { ino: bigint } } } {
    let id;
    try {
      id = identifyMappedFile(pid, m);
    } catch (e) {
      this.stats.openErrors++;
      throw e;
    }
    const found = this.#entries.get(id.key);
    if (found) {
      found.lastUsed = ++this.#clock;
      found.uses++;
      this.stats.hits++;
      return { src: found.src, key: id.key, identity: id };
    }
    let src;
    try {
      src = openMappedFile(id);
    } catch (e) {
      this.stats.openErrors++;
      throw e;
    }
    this.stats.opened++;
    if (this.#size > 0) {
      while (this.#entries.size >= this.#size) this.#evictOne();
    }
    this.#entries.set(id.key, { src, lastUsed: ++this.#clock, uses: 1 });
    return { src, key: id.key, identity: id };
  }

  #evictOne(): void {
    let victimKey: string | undefined;
    let victim: PoolEntry | undefined;
    for (const [k, e] of this.#entries) {
      const better = !victim ||
        (this.#policy === "lfu"
          ? e.uses < victim.uses || (e.uses === victim.uses && e.lastUsed < victim.lastUsed)
          : e.lastUsed < victim.lastUsed);
      if (better) {
        victim = e;
        victimKey = k;
      }
    }
    if (!victim || victimKey === undefined) return;
    victim.src.close();
    this.#entries.delete(victimKey);
    this.stats.evicted++;
  }

  /** Closes every file. */
  close(): void {
    for (const e of this.#entries.values()) e.src.close();
    this.#entries.clear();
  }
}
