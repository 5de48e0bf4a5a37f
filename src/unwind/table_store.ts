// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Unwind tables in BPF: one exact-size array map per executable file (keyed by the file's
 * identity, shared by every process image that maps it), rules interned into the one shared
 * rules array, reference counts per image, and a row budget enforced by evicting the least recently used unreferenced tables
 * first (then referenced ones, whose processes fall back to frame pointers, counted and logged).
 *
 * @module
 */

import { MapsClosedError, UNWIND_ROW, UNWIND_RULE, type UnwindMaps } from "../bpf/mod.ts";
import { getLogger } from "../log/mod.ts";
import { packedRowCount, type PackedTable } from "./table.ts";

const log = getLogger("unwind");

/** The little-endian u16 at `at` (any alignment). */
function u16(bytes: Uint8Array, at: number): number {
  return bytes[at] | bytes[at + 1] << 8;
}

/** A table loaded into BPF. */
export interface LoadedTable {
  exeId: number;
  /** Lowest row address; BPF rows hold pc - base as u32. */
  base: bigint;
  rows: number;
}

interface Entry extends LoadedTable {
  key: string;
  refs: Set<number>;
  lastUsed: number;
  /** When the last process using it went away (performance.now()). */
  unreferencedSince?: number;
}

/** Options of {@link TableStore}. */
export interface TableStoreOptions {
  /** The maps tables and rules go into (their capacities bound the store). */
  maps: UnwindMaps;
  /** Budget of rows over all loaded tables (8 bytes each in kernel memory). */
  maxRows: number;
  /** Called when a table is evicted while images still use it (with their instance ids). */
  onEvict?: (key: string, users: ReadonlySet<number>) => void;
}

/** Counters of the store, for /metrics. */
export interface TableStoreStats {
  tablesLoaded: number;
  rowsLoaded: number;
  rulesInterned: number;
  evictions: number;
  loadErrors: number;
}

/** The tables and rules BPF walks with. */
export class TableStore {
  readonly #opts: TableStoreOptions;
  readonly #byKey = new Map<string, Entry>();
  readonly #rules = new Map<string, number>();
  #nextExeId = 1;
  #freeExeIds: number[] = [];
  #rows = 0;
  #clock = 0;
  readonly stats: TableStoreStats = {
    tablesLoaded: 0,
    rowsLoaded: 0,
    rulesInterned: 0,
    evictions: 0,
    loadErrors: 0,
  };

  /** @param opts Map fds and budgets. */
  constructor(opts: TableStoreOptions) {
    this.#opts = opts;
  }

  /** Rows currently loaded. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * The loaded table of an executable, marking it used by `pid`.
   *
   * @param key Build ID (or another stable identity) of the executable.
   * @param pid A process that maps it.
   * @returns The table, or undefined when none is loaded.
   */
  acquire(key: string, pid: number): LoadedTable | undefined {
    const e = this.#byKey.get(key);
    if (!e) return undefined;
    e.refs.add(pid);
    e.lastUsed = ++this.#clock;
    return e;
  }

  /**
   * Drops one process's reference to one table.
   *
   * @param key The table's key.
   * @param pid The process.
   */
  release(key: string, pid: number): void {
    this.#byKey.get(key)?.refs.delete(pid);
  }

  /**
   * Forgets a process: its tables lose a reference (they stay cached until space is needed).
   *
   * @param pid The process.
   */
  releasePid(pid: number): void {
    for (const e of this.#byKey.values()) e.refs.delete(pid);
  }

  /**
   * Marks tables as used by a window's samples, for least-recently-used eviction.
   *
   * @param keys Keys of tables whose processes had samples.
   */
  touch(keys: Iterable<string>): void {
    const now = ++this.#clock;
    for (const k of keys) {
      const e = this.#byKey.get(k);
      if (e) e.lastUsed = now;
    }
  }

  /**
   * Loads a table into BPF for `pid` (or reuses the loaded one). The table's rows are loaded as
   * they are: their rule indices are rewritten in place, to indices into the shared rules array
   * (interning the table's rules), and the same buffer goes to BPF, which copies it. The caller
   * may free the rows afterwards (`freePackedTable`); nothing here keeps them.
   *
   * @param key Build ID of the executable.
   * @param table The packed table (its rows are rewritten: see above).
   * @param pid The process that needs it.
   * @returns The loaded table, or undefined when it cannot be loaded (empty, too large, or the
   *   kernel refused it; logged and counted).
   */
  load(key: string, table: PackedTable, pid: number): LoadedTable | undefined {
    const existing = this.acquire(key, pid);
    if (existing) return existing;
    const n = packedRowCount(table);
    if (n === 0) return undefined;
    if (n > this.#opts.maxRows) {
      this.stats.loadErrors++;
      log.warn("unwind table larger than the whole row budget; its frames use frame pointers", {
        key,
        rows: n,
        budget: this.#opts.maxRows,
      });
      return undefined;
    }
    this.#makeRoom(n, pid);
    if (this.#byKey.size >= this.#opts.maps.maxTables) {
      this.stats.loadErrors++;
      return undefined;
    }
    if (!table.interned) {
      const globalRule = new Uint32Array(table.rules.length / UNWIND_RULE.size);
      for (let i = 0; i < globalRule.length; i++) {
        const idx = this.#internRule(table.rules, i * UNWIND_RULE.size);
        if (idx < 0) {
          this.stats.loadErrors++;
          if (this.#rules.size >= this.#opts.maps.maxRules) {
            log.warn("the shared rules array is full; new tables use frame pointers", {
              rules: this.#rules.size,
            });
          }
          return undefined;
        }
        globalRule[i] = idx;
      }
      // In place: struct unwind_row is { u32 pc; u32 rule; }, the rule half becomes global.
      const rows = table.rows;
      for (let i = 1; i < rows.length; i += 2) rows[i] = globalRule[rows[i]] ?? 0;
      table.interned = true;
    }
    const exeId = this.#freeExeIds.pop() ?? this.#nextExeId++;
    try {
      this.#opts.maps.loadTable(
        exeId,
        new Uint8Array(table.rows.buffer, table.rows.byteOffset, n * UNWIND_ROW.size),
      );
    } catch (e) {
      this.#freeExeIds.push(exeId);
      if (e instanceof MapsClosedError) throw e;
      this.stats.loadErrors++;
      log.warn("cannot load an unwind table; its frames use frame pointers", {
        key,
        rows: n,
        error: (e as Error).message,
      });
      return undefined;
    }
    const entry: Entry = {
      key,
      exeId,
      base: table.basePc,
      rows: n,
      refs: new Set([pid]),
      lastUsed: ++this.#clock,
    };
    this.#byKey.set(key, entry);
    this.#rows += n;
    this.stats.tablesLoaded++;
    this.stats.rowsLoaded += n;
    return entry;
  }

  /**
   * The shared index of the rule at `at` in `rules`, stored into BPF when new. The key is the
   * rule's 12 bytes as a string of six UTF-16 code units: one short string per rule looked up
   * (this ran on the main thread for every rule of every table loaded at start-up, and
   * `Array.from(bytes).join(",")` of a copied slice made ~2 KiB of garbage per rule: 1.4 MiB
   * for libLLVM-15's 596 rules).
   */
  #internRule(rules: Uint8Array<ArrayBuffer>, at: number): number {
    const k = String.fromCharCode(
      u16(rules, at),
      u16(rules, at + 2),
      u16(rules, at + 4),
      u16(rules, at + 6),
      u16(rules, at + 8),
      u16(rules, at + 10),
    );
    const found = this.#rules.get(k);
    if (found !== undefined) return found;
    const idx = this.#rules.size;
    if (idx >= this.#opts.maps.maxRules) return -1;
    try {
      // Copied by the kernel (or the fake maps) before this returns.
      this.#opts.maps.setRule(idx, rules.subarray(at, at + UNWIND_RULE.size));
    } catch (e) {
      if (e instanceof MapsClosedError) throw e;
      log.warn("cannot store an unwind rule", { index: idx, error: (e as Error).message });
      return -1;
    }
    this.#rules.set(k, idx);
    this.stats.rulesInterned++;
    return idx;
  }

  /** Evicts least recently used tables until `rows` more fit; unreferenced ones go first. */
  #makeRoom(rows: number, forPid: number): void {
    while (
      this.#rows + rows > this.#opts.maxRows || this.#byKey.size >= this.#opts.maps.maxTables
    ) {
      let victim: Entry | undefined;
      for (const e of this.#byKey.values()) {
        if (e.refs.has(forPid) && e.refs.size === 1) continue;
        const score = (a: Entry) => (a.refs.size === 0 ? 0 : 1) * 1e15 + a.lastUsed;
        if (!victim || score(e) < score(victim)) victim = e;
      }
      if (!victim) return;
      this.#evict(victim);
    }
  }

  #evict(e: Entry): void {
    this.#opts.maps.deleteTable(e.exeId);
    this.#byKey.delete(e.key);
    this.#freeExeIds.push(e.exeId);
    this.#rows -= e.rows;
    this.stats.evictions++;
    if (e.refs.size > 0) {
      log.info("evicted an unwind table still in use to make room; its frames use frame pointers", {
        key: e.key,
        rows: e.rows,
        processes: e.refs.size,
      });
      this.#opts.onEvict?.(e.key, e.refs);
    } else {
      log.debug("evicted an unused unwind table", { key: e.key, rows: e.rows });
    }
  }

  /**
   * Frees tables no process has referenced for a while: a library of exited processes is kept
   * for `graceMs` (short-lived processes that run again reuse it), then its kernel memory goes.
   *
   * @param graceMs How long an unreferenced table stays.
   * @returns Tables freed.
   */
  releaseUnused(graceMs: number): number {
    const now = performance.now();
    let freed = 0;
    for (const e of [...this.#byKey.values()]) {
      if (e.refs.size > 0) {
        e.unreferencedSince = undefined;
        continue;
      }
      e.unreferencedSince ??= now;
      if (now - e.unreferencedSince >= graceMs) {
        this.#evict(e);
        freed++;
      }
    }
    return freed;
  }

  /** Drops every table. */
  clear(): void {
    for (const e of [...this.#byKey.values()]) this.#evict(e);
  }
}
