// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * {@link UnwindMaps} over libbpf: pid_to_mappings, the unwind row space (unwind_chunks: chunks
 * of UNWIND_CHUNK_ROWS rows, created when a table needs them, deleted when none does),
 * unwind_tables (exe id -> its range of rows), unwind_table_index (the same range and the
 * table's page index, which BPF reads; the index's entries are rows of the row space right after
 * the table's, see bpf/maps.h) and unwind_rules. A table gets whole chunks of
 * its own, filled before they are inserted and before its range is published, so a walker
 * never sees a half-written table; the last chunk's unused rows (2048 on average, 16 KiB) are
 * the price. Closed together with the object that owns the fds; every call after that throws
 * {@link MapsClosedError} before any syscall.
 *
 * @module
 */

import { libbpf, libc } from "./ffi.ts";
import {
  createUnwindChunkMap,
  deleteMapElement,
  fillUnwindChunk,
  listMapKeysU32,
  readUnwindChunk,
  updateMapBatch,
} from "./maps.ts";
import { NativeError } from "./ffi.ts";
import { buildPageIndex, type PageIndex, type RowRange, RowSpace } from "./row_space.ts";
import { MapsClosedError, type UnwindMaps, type WalkerMapping } from "./sampler.ts";
import {
  EXEC_MAPPING,
  MAX_MAPPINGS_PER_PROCESS,
  PROCESS_MAPPINGS,
  UNWIND_CHUNK_ROWS,
  UNWIND_CHUNKS,
  UNWIND_ROW,
  UNWIND_TABLE_REF,
} from "./types.ts";

/** How long a parked chunk rests before it is refilled in place (BPF programs run for µs). */
const PARKED_REUSE_MS = 100;
/**
 * New chunk maps held open at once while a table loads, then inserted in one batch: bounds the
 * agent's descriptors (libLLVM's table is 245 chunks; RLIMIT_NOFILE may be 1024 or less) at the
 * price of one RCU wait per batch.
 */
const CHUNK_FDS_PER_BATCH = 64;

/** The fds and capacities {@link LibbpfUnwindMaps} works on. */
export interface LibbpfUnwindMapFds {
  pidToMappings: number;
  unwindChunks: number;
  unwindTables: number;
  unwindTableIndex: number;
  unwindRules: number;
  maxRules: number;
  maxTables: number;
}

/**
 * Packs a process's mappings into a struct process_mappings value.
 *
 * @param instance The image the mappings belong to.
 * @param mappings At most MAX_MAPPINGS_PER_PROCESS mappings, sorted by start.
 * @param out Where to write (PROCESS_MAPPINGS.size bytes); zeroed first.
 * @returns `out`.
 */
export function packProcessMappings(
  instance: number,
  mappings: readonly WalkerMapping[],
  out: Uint8Array<ArrayBuffer> = new Uint8Array(PROCESS_MAPPINGS.size),
): Uint8Array<ArrayBuffer> {
  if (mappings.length > MAX_MAPPINGS_PER_PROCESS) {
    throw new RangeError(
      `Cannot store ${mappings.length} mappings: BPF keeps ${MAX_MAPPINGS_PER_PROCESS} at most`,
    );
  }
  out.fill(0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(PROCESS_MAPPINGS.len, mappings.length, true);
  view.setUint32(PROCESS_MAPPINGS.instance, instance, true);
  mappings.forEach((m, i) => {
    const o = PROCESS_MAPPINGS.mappings + i * EXEC_MAPPING.size;
    view.setBigUint64(o + EXEC_MAPPING.start, BigInt(m.start), true);
    view.setBigUint64(o + EXEC_MAPPING.end, BigInt(m.end), true);
    view.setBigUint64(o + EXEC_MAPPING.tableBias, BigInt.asUintN(64, m.tableBias), true);
    view.setUint32(o + EXEC_MAPPING.exeId, m.exeId, true);
    view.setUint32(o + EXEC_MAPPING.rows, m.rows, true);
    view.setUint32(o + EXEC_MAPPING.kind, m.kind, true);
  });
  return out;
}

/** unwind_table_index's value (bpf/maps.h struct unwind_table_index). */
const TABLE_INDEX = {
  size: 32,
  firstRow: 0,
  rows: 4,
  pages: 8,
  pageBase: 12,
  pageShift: 16,
  loadId: 20,
};

/** The unwinder's maps of a loaded {@link ProfilerObject}. */
export class LibbpfUnwindMaps implements UnwindMaps {
  readonly #fds: LibbpfUnwindMapFds;
  #closed = false;
  readonly #pidKey = new Uint32Array(1);
  readonly #value = new Uint8Array(PROCESS_MAPPINGS.size);
  readonly #key = new Uint32Array(1);
  readonly #fdValue = new Uint32Array(1);
  readonly #space = new RowSpace(UNWIND_CHUNK_ROWS, UNWIND_CHUNKS);
  readonly #tables = new Map<number, RowRange>();
  /**
   * Chunks no table uses that stay in unwind_chunks, by when they emptied (performance.now()).
   * Adding a map to or removing one from an array of maps waits for an RCU grace period (the
   * kernel makes sure no BPF program still sees the old entry): about 10 ms each, measured, 2.3 s
   * for libLLVM's 232 chunks, all of it on the main thread. So chunks are inserted in one batch
   * per table (one wait) and never removed while the maps live: an emptied chunk is parked and
   * refilled in place by a later table. The row space's kernel memory is its high-water mark,
   * bounded by the row budget.
   */
  readonly #parked = new Map<number, number>();
  /**
   * Chunks that hold a map in unwind_chunks. Only these can be parked and refilled in place: a
   * range whose load failed before its new chunks were inserted gives those back as plain free
   * rows (parking them made every later table that landed there fail with ENOENT).
   */
  readonly #inKernel = new Set<number>();
  /**
   * The last load id handed out: each loadTable publishes its table with a new one, so BPF's
   * per-CPU rule cache (bpf/maps.h rule_cache) never serves a rule of an earlier load of the
   * same exe id. 2^32 loads before one repeats (0 is skipped: it means "being written").
   */
  #lastLoadId = 0;

  /** @param fds The maps (owned by the BPF object; not closed here). */
  constructor(fds: LibbpfUnwindMapFds) {
    this.#fds = fds;
  }

  /** @inheritdoc */
  get closed(): boolean {
    return this.#closed;
  }

  /** @inheritdoc */
  get maxRules(): number {
    return this.#fds.maxRules;
  }

  /** @inheritdoc */
  get maxTables(): number {
    return this.#fds.maxTables;
  }

  #check(op: string): void {
    if (this.#closed) throw new MapsClosedError(op);
  }

  /** @inheritdoc */
  setProcess(pid: number, instance: number, mappings: readonly WalkerMapping[]): void {
    this.#check("store a process's mappings");
    this.#pidKey[0] = pid;
    packProcessMappings(instance, mappings, this.#value);
    const rc = libbpf().bpf_map_update_elem(this.#fds.pidToMappings, this.#pidKey, this.#value, 0n);
    if (rc < 0) throw new NativeError("store a process's mappings in BPF", -rc);
  }

  /** @inheritdoc */
  deleteProcess(pid: number): boolean {
    this.#check("delete a process's mappings");
    return deleteMapElement(this.#fds.pidToMappings, new Uint8Array(new Uint32Array([pid]).buffer));
  }

  /** @inheritdoc */
  processPids(): number[] {
    this.#check("list processes");
    return listMapKeysU32(this.#fds.pidToMappings);
  }

  /** @inheritdoc */
  get tableBytes(): number {
    return (this.#space.liveChunks + this.#parked.size) * UNWIND_CHUNK_ROWS * UNWIND_ROW.size;
  }

  /** @inheritdoc */
  loadTable(exeId: number, rows: Uint8Array<ArrayBuffer>): void {
    this.#check("load an unwind table");
    const n = rows.length / UNWIND_ROW.size;
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Cannot create an unwind table of ${n} rows`);
    }
    if (exeId < 1 || exeId > this.maxTables) throw new RangeError(`Bad exe id ${exeId}`);
    if (this.#tables.has(exeId)) this.deleteTable(exeId);
    const index = buildPageIndex(rows);
    // The index's entries are rows after the table's: one chunk holds both near the seam.
    const total = n + (index?.pages ?? 0);
    const entries = new Uint8Array(index?.entries.buffer ?? new ArrayBuffer(0));
    const rowsOf = (from: number, count: number): Uint8Array => {
      if (from + count <= n) {
        return rows.subarray(from * UNWIND_ROW.size, (from + count) * UNWIND_ROW.size);
      }
      const out = new Uint8Array(count * UNWIND_ROW.size);
      const own = Math.max(0, n - from);
      out.set(rows.subarray(from * UNWIND_ROW.size, (from + own) * UNWIND_ROW.size));
      const at = (from + own - n) * UNWIND_ROW.size;
      out.set(entries.subarray(at, at + (count - own) * UNWIND_ROW.size), own * UNWIND_ROW.size);
      return out;
    };
    const chunks = Math.ceil(total / UNWIND_CHUNK_ROWS);
    const got = this.#space.allocate(chunks * UNWIND_CHUNK_ROWS);
    if (!got) {
      throw new NativeError(`find ${chunks} free chunks of the unwind row space`, 28 /* ENOSPC */);
    }
    const firstChunk = got.range.first / UNWIND_CHUNK_ROWS;
    const now = performance.now();
    const fresh: number[] = [];
    const keys: number[] = [];
    const insertFresh = () => {
      if (!fresh.length) return;
      updateMapBatch(
        this.#fds.unwindChunks,
        new Uint8Array(new Uint32Array(keys).buffer),
        new Uint8Array(new Uint32Array(fresh).buffer),
        fresh.length,
      );
      for (const chunk of keys) this.#inKernel.add(chunk);
      // The outer map holds its own reference to each chunk.
      for (const fd of fresh.splice(0)) libc().close(fd);
      keys.length = 0;
    };
    try {
      for (let c = 0; c < chunks; c++) {
        const chunk = firstChunk + c;
        const parkedAt = this.#parked.get(chunk);
        // A chunk parked a moment ago may still be read by a walk that began before its table
        // was unpublished: it gets a fresh map (the old one is freed after a grace period).
        const reuse = parkedAt !== undefined && now - parkedAt >= PARKED_REUSE_MS;
        const fd = reuse ? this.#chunkFd(chunk) : createUnwindChunkMap(UNWIND_CHUNK_ROWS);
        if (!reuse) {
          fresh.push(fd);
          keys.push(chunk);
        }
        try {
          const from = c * UNWIND_CHUNK_ROWS;
          fillUnwindChunk(fd, rowsOf(from, Math.min(UNWIND_CHUNK_ROWS, total - from)));
        } finally {
          if (reuse) libc().close(fd);
        }
        if (fresh.length >= CHUNK_FDS_PER_BATCH) insertFresh();
      }
      insertFresh();
      for (let c = 0; c < chunks; c++) this.#parked.delete(firstChunk + c);
      // load_id 0 first, then the same entry with its load id: a walker that reads a non-zero
      // load id reads the fields of that load, even while the entry is copied (bpf/maps.h).
      this.#writeIndex(exeId, got.range.first, n, index, 0);
      this.#lastLoadId = (this.#lastLoadId % 0xffffffff) + 1;
      this.#writeIndex(exeId, got.range.first, n, index, this.#lastLoadId);
      this.#writeRef(exeId, got.range.first, n);
    } catch (e) {
      this.#releaseRange(got.range);
      throw e;
    } finally {
      for (const fd of fresh) libc().close(fd); // not inserted: freed with the descriptor
    }
    this.#tables.set(exeId, got.range);
  }

  /**
   * The rows BPF walks for a table, read back from the kernel through unwind_tables and the
   * chunks (for tests and diagnostics).
   *
   * @param exeId A loaded table's exe id.
   * @returns Its packed rows, or undefined when it has none.
   */
  readRows(exeId: number): Uint8Array<ArrayBuffer> | undefined {
    this.#check("read an unwind table");
    this.#key[0] = exeId;
    const ref = new Uint32Array(UNWIND_TABLE_REF.size / 4);
    if (libbpf().bpf_map_lookup_elem(this.#fds.unwindTables, this.#key, ref) < 0) return undefined;
    const first = ref[UNWIND_TABLE_REF.firstRow / 4];
    const n = ref[UNWIND_TABLE_REF.rows / 4];
    if (n === 0) return undefined;
    const out = new Uint8Array(n * UNWIND_ROW.size);
    for (let at = 0; at < n;) {
      const chunk = Math.floor((first + at) / UNWIND_CHUNK_ROWS);
      const skip = (first + at) % UNWIND_CHUNK_ROWS;
      const count = Math.min(UNWIND_CHUNK_ROWS - skip, n - at);
      const fd = this.#chunkFd(chunk);
      try {
        const bytes = readUnwindChunk(fd, (skip + count) * UNWIND_ROW.size);
        out.set(bytes.subarray(skip * UNWIND_ROW.size), at * UNWIND_ROW.size);
      } finally {
        libc().close(fd);
      }
      at += count;
    }
    return out;
  }

  /** An fd of the chunk map at `chunk` of unwind_chunks (the caller closes it). */
  #chunkFd(chunk: number): number {
    this.#key[0] = chunk;
    const rc = libbpf().bpf_map_lookup_elem(this.#fds.unwindChunks, this.#key, this.#fdValue);
    if (rc < 0) throw new NativeError(`find unwind chunk ${chunk}`, -rc);
    const fd = libbpf().bpf_map_get_fd_by_id(this.#fdValue[0]);
    if (fd < 0) throw new NativeError(`open unwind chunk ${chunk}`, -fd);
    return fd;
  }

  /** @inheritdoc */
  deleteTable(exeId: number): void {
    this.#check("delete an unwind table");
    const range = this.#tables.get(exeId);
    if (!range) return;
    this.#tables.delete(exeId);
    // Unpublish first: a walker then sees no table rather than rows being deleted under it. Its
    // load id goes before the rest (bpf/maps.h rule_cache): the fields stay as they were.
    this.#clearLoadId(exeId);
    this.#writeIndex(exeId, 0, 0, undefined, 0);
    this.#writeRef(exeId, 0, 0);
    this.#releaseRange(range);
  }

  #writeRef(exeId: number, firstRow: number, rows: number): void {
    const value = new Uint32Array(UNWIND_TABLE_REF.size / 4);
    value[UNWIND_TABLE_REF.firstRow / 4] = firstRow;
    value[UNWIND_TABLE_REF.rows / 4] = rows;
    this.#key[0] = exeId;
    const rc = libbpf().bpf_map_update_elem(this.#fds.unwindTables, this.#key, value, 0n);
    if (rc < 0) throw new NativeError(`publish unwind table ${exeId}`, -rc);
  }

  /**
   * Reads a table's unwind_table_index entry (and leaves its key in `#key`).
   *
   * @returns libbpf's return code and the entry (zeroes when the look-up failed).
   */
  #lookupIndex(exeId: number): [number, Uint32Array] {
    this.#key[0] = exeId;
    const value = new Uint32Array(TABLE_INDEX.size / 4);
    return [libbpf().bpf_map_lookup_elem(this.#fds.unwindTableIndex, this.#key, value), value];
  }

  /** Rewrites a table's index entry as it is with load_id 0 (the first step of unpublishing). */
  #clearLoadId(exeId: number): void {
    const [rc, value] = this.#lookupIndex(exeId);
    if (rc < 0) throw new NativeError(`unpublish unwind table ${exeId}`, -rc);
    value[TABLE_INDEX.loadId / 4] = 0;
    const wc = libbpf().bpf_map_update_elem(this.#fds.unwindTableIndex, this.#key, value, 0n);
    if (wc < 0) throw new NativeError(`unpublish unwind table ${exeId}`, -wc);
  }

  /**
   * Publishes (or, with no rows, unpublishes) a table to BPF: its rows, page index and load id
   * (0: not to be cached, see bpf/maps.h rule_cache).
   */
  #writeIndex(
    exeId: number,
    firstRow: number,
    rows: number,
    index: PageIndex | undefined,
    loadId: number,
  ): void {
    const value = new Uint32Array(TABLE_INDEX.size / 4);
    value[TABLE_INDEX.loadId / 4] = loadId;
    value[TABLE_INDEX.firstRow / 4] = firstRow;
    value[TABLE_INDEX.rows / 4] = rows;
    value[TABLE_INDEX.pages / 4] = index?.pages ?? 0;
    value[TABLE_INDEX.pageBase / 4] = index?.base ?? 0;
    value[TABLE_INDEX.pageShift / 4] = index?.shift ?? 0;
    this.#key[0] = exeId;
    const rc = libbpf().bpf_map_update_elem(this.#fds.unwindTableIndex, this.#key, value, 0n);
    if (rc < 0) throw new NativeError(`publish unwind table ${exeId}`, -rc);
  }

  /**
   * The load id a table is published with (bpf/maps.h rule_cache), for tests and diagnostics.
   *
   * @param exeId An exe id.
   * @returns Its load id; 0 when no table is published under it.
   */
  readLoadId(exeId: number): number {
    this.#check("read an unwind table's load id");
    const [rc, value] = this.#lookupIndex(exeId);
    if (rc < 0) throw new NativeError(`read unwind table ${exeId}`, -rc);
    return value[TABLE_INDEX.loadId / 4];
  }

  /**
   * A table's page index as BPF reads it (unwind_table_index and the entries after its rows),
   * for tests and diagnostics.
   *
   * @param exeId A loaded table's exe id.
   * @returns The index, or undefined when the table has none.
   */
  readPageIndex(exeId: number): PageIndex | undefined {
    this.#check("read an unwind table's page index");
    const [rc, value] = this.#lookupIndex(exeId);
    if (rc < 0) return undefined;
    const pages = value[TABLE_INDEX.pages / 4];
    if (pages === 0) return undefined;
    const first = value[TABLE_INDEX.firstRow / 4] + value[TABLE_INDEX.rows / 4];
    const entries = new Uint32Array(pages * 2);
    for (let at = 0; at < pages;) {
      const chunk = Math.floor((first + at) / UNWIND_CHUNK_ROWS);
      const skip = (first + at) % UNWIND_CHUNK_ROWS;
      const count = Math.min(UNWIND_CHUNK_ROWS - skip, pages - at);
      const fd = this.#chunkFd(chunk);
      try {
        const bytes = readUnwindChunk(fd, (skip + count) * UNWIND_ROW.size);
        entries.set(new Uint32Array(bytes.buffer, skip * UNWIND_ROW.size, count * 2), at * 2);
      } finally {
        libc().close(fd);
      }
      at += count;
    }
    return {
      shift: value[TABLE_INDEX.pageShift / 4],
      base: value[TABLE_INDEX.pageBase / 4],
      pages,
      entries,
    };
  }

  #releaseRange(range: RowRange): void {
    const now = performance.now();
    for (const chunk of this.#space.free(range)) {
      if (this.#inKernel.has(chunk)) this.#parked.set(chunk, now);
    }
  }

  /** @inheritdoc */
  setRule(index: number, rule: Uint8Array<ArrayBuffer>): void {
    this.#check("store an unwind rule");
    const rc = libbpf().bpf_map_update_elem(
      this.#fds.unwindRules,
      new Uint32Array([index]),
      rule,
      0n,
    );
    if (rc < 0) throw new NativeError(`store unwind rule ${index}`, -rc);
  }

  /** Refuses every later call. Called by the object before it closes the fds. */
  close(): void {
    this.#closed = true;
  }
}
