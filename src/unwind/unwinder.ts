// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The unwinder's user-space half. BPF raises an event when it samples a process it knows nothing
 * about (or a PC outside its known mappings); this reads the events from the ring buffer, reads
 * the process's executable mappings, gets each file's unwind table (built once per build ID in
 * the worker pool, then shared), loads the tables into BPF and writes the process's sorted
 * mappings into pid_to_mappings. Until then BPF walks that process with frame pointers and marks
 * its samples. Processes that exit are forgotten at the end of each window, and tables they held
 * are released for eviction.
 *
 * @module
 */

import {
  deleteMapElement,
  EventType,
  EXEC_MAPPING,
  listMapKeysU32,
  MappingKind,
  MAX_MAPPINGS_PER_PROCESS,
  PROCESS_MAPPINGS,
  type ProfilerObject,
  RingBuffer,
} from "../bpf/mod.ts";
import { libbpf, libc } from "../bpf/ffi.ts";
import { getLogger } from "../log/mod.ts";
import {
  executableSegment,
  type ObjectFilePool,
  parseMaps,
  type ProcessReader,
  type ProcMapping,
} from "../process/mod.ts";
import type { UnwinderHooks } from "../profiler/mod.ts";
import { type BuilderPool, TableBuildError } from "./builder_pool.ts";
import { decodeUnwindTable } from "./table.ts";
import { type DecodedTable, type LoadedTable, TableStore } from "./table_store.ts";
import { unwindMetrics } from "./metrics.ts";
import { recordSpan } from "../tracing/mod.ts";
import * as procfs from "../procfs/mod.ts";

const log = getLogger("unwind");
/** How long the table of a file no running process maps stays loaded. */
const UNUSED_TABLE_GRACE_MS = 60_000;
/** wasm-unwind's error code for a file with no FDE in .eh_frame or .debug_frame. */
const WASM_NO_UNWIND_INFO = 4;

/** Options of {@link Unwinder}. */
export interface UnwinderOptions {
  /** Workers running wasm-unwind. */
  builders: BuilderPool;
  /** Open ELF files of other processes (the workers read tables from them). */
  files: ObjectFilePool;
  /** The profiler's process reader: build IDs and load segments of mapped files, cached. */
  processes: ProcessReader;
  /** How often the event ring buffer is read. */
  processingIntervalMs: number;
  /** Size of the events ring buffer in bytes (its map's max_entries). */
  eventsBufferBytes: number;
  /** Row budget of all loaded tables. */
  maxRows: number;
  /** Files larger than this get no table (their frames use frame pointers). */
  maxFileBytes: number;
  /** Whether tables are used at all (--dwarf-unwinding-disable turns them off). */
  dwarfEnabled: boolean;
}

/** The user-space half of the unwinder (see module doc). */
export class Unwinder implements UnwinderHooks {
  readonly #opts: UnwinderOptions;
  #obj: ProfilerObject | undefined;
  #ring: RingBuffer | undefined;
  #store: TableStore | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** pid -> table keys it uses. */
  readonly #pidTables = new Map<number, Set<string>>();
  /** Processes waiting to be (re)loaded, and the one loop that loads them. */
  readonly #queue = new Set<number>();
  #draining: Promise<void> | undefined;
  /** Tables being built, by key -> the processes waiting for them (one build per key). */
  readonly #waiting = new Map<string, Set<number>>();
  /** Keys whose build failed or yielded nothing: use frame pointers, don't retry. */
  readonly #noTable = new Map<string, string>();
  /** When each pid was first asked about, for the time-to-complete-stacks metric. */
  readonly #askedAt = new Map<number, number>();
  #closed = false;

  /** @param opts Builders, pools and budgets. */
  constructor(opts: UnwinderOptions) {
    this.#opts = opts;
  }

  /** Processes with mappings in BPF. */
  get trackedProcesses(): number {
    return this.#pidTables.size;
  }

  /** The table store, for tests and the status page. */
  get store(): TableStore | undefined {
    return this.#store;
  }

  /** @inheritdoc */
  attach(obj: ProfilerObject): void {
    this.#obj = obj;
    if (!this.#opts.dwarfEnabled) return;
    const maps = obj.unwindMaps;
    this.#store = new TableStore({
      exeIdToTableFd: maps.exeIdToTable,
      unwindRulesFd: maps.unwindRules,
      maxRules: 65536,
      maxTables: 4096,
      maxRows: this.#opts.maxRows,
      onEvict: (key, pids) => this.#onEvict(key, pids),
    });
    this.#ring = new RingBuffer(maps.events, this.#opts.eventsBufferBytes);
    this.#timer = setInterval(() => this.#poll(), this.#opts.processingIntervalMs);
  }

  #poll(): void {
    const ring = this.#ring;
    if (!ring || this.#closed) return;
    const n = ring.consume((view, off) => {
      const type = view.getUint32(off, true);
      const pid = view.getUint32(off + 4, true);
      unwindMetrics.events.inc({
        type: type === EventType.NEW_PROCESS ? "new_process" : "mappings_changed",
      });
      if (!this.#askedAt.has(pid)) this.#askedAt.set(pid, performance.now());
      this.#queue.add(pid);
    });
    if (n > 0) this.#kick();
  }

  /**
   * Loads queued processes. Loading is synchronous and quick (maps, ELF headers, one map update):
   * table builds run in the pool and queue the process again when they end. The loop yields to
   * the event loop between processes so a burst of new processes cannot stall a window.
   */
  async #drain(): Promise<void> {
    while (this.#queue.size && !this.#closed) {
      const pid = this.#queue.values().next().value as number;
      this.#queue.delete(pid);
      try {
        this.loadProcess(pid);
      } catch (e) {
        unwindMetrics.errors.inc({ kind: "load_process" });
        log.debug("cannot load the unwind information of a process", {
          pid,
          error: (e as Error).message,
        });
      }
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  /**
   * Reads a process's executable mappings, makes sure their tables are loaded, and writes its
   * entry in pid_to_mappings.
   *
   * @param pid The process.
   */
  loadProcess(pid: number): void {
    const obj = this.#obj;
    const store = this.#store;
    if (!obj || !store) return;
    let maps: ProcMapping[];
    try {
      maps = parseMaps(procfs.readTextFileSync(`/proc/${pid}/maps`));
    } catch {
      this.forget(pid);
      return; // exited
    }
    const exec = maps.filter((m) => m.perms.includes("x") && m.path !== "[vsyscall]");
    // Mappings whose table is still being built are written as PENDING (frame pointers, marked)
    // and the process is loaded again when the build ends: a process never waits for another
    // process's big table.
    const plans = exec.map((m) => this.#plan(pid, m));
    if (this.#closed) return;
    const used = new Set<string>();
    let pending = false;
    const entries: Array<{ m: ProcMapping; kind: number; table?: LoadedTable; bias: bigint }> = [];
    for (let i = 0; i < exec.length; i++) {
      const plan = plans[i];
      let table: LoadedTable | undefined;
      if (plan.kind === MappingKind.DWARF && plan.tableKey && plan.decoded) {
        table = store.load(plan.tableKey, plan.decoded, pid);
        if (table) used.add(plan.tableKey);
      }
      const kind = table
        ? MappingKind.DWARF
        : plan.kind === MappingKind.DWARF
        ? MappingKind.FP
        : plan.kind;
      if (kind === MappingKind.PENDING) pending = true;
      const bias = table ? plan.loadBias + table.base : 0n;
      entries.push({ m: exec[i], kind, table, bias });
    }
    if (entries.length > MAX_MAPPINGS_PER_PROCESS) {
      unwindMetrics.errors.inc({ kind: "too_many_mappings" });
      log.debug(
        "process has more executable mappings than BPF keeps; the rest use frame pointers",
        {
          pid,
          mappings: entries.length,
          kept: MAX_MAPPINGS_PER_PROCESS,
        },
      );
      entries.length = MAX_MAPPINGS_PER_PROCESS;
    }
    this.#writeEntry(pid, entries);
    // Release tables this process no longer maps.
    const before = this.#pidTables.get(pid);
    if (before) {
      for (const k of before) if (!used.has(k)) store.release(k, pid);
    }
    this.#pidTables.set(pid, used);
    const asked = this.#askedAt.get(pid);
    if (asked !== undefined && !pending) {
      unwindMetrics.timeToTables.observe((performance.now() - asked) / 1000);
      this.#askedAt.delete(pid);
    }
  }

  #writeEntry(
    pid: number,
    entries: Array<{ m: ProcMapping; kind: number; table?: LoadedTable; bias: bigint }>,
  ): void {
    const obj = this.#obj!;
    const value = new Uint8Array(PROCESS_MAPPINGS.size);
    const view = new DataView(value.buffer);
    view.setUint32(PROCESS_MAPPINGS.len, entries.length, true);
    entries.forEach((e, i) => {
      const o = PROCESS_MAPPINGS.mappings + i * EXEC_MAPPING.size;
      view.setBigUint64(o + EXEC_MAPPING.start, BigInt(e.m.start), true);
      view.setBigUint64(o + EXEC_MAPPING.end, BigInt(e.m.limit), true);
      view.setBigUint64(o + EXEC_MAPPING.tableBias, BigInt.asUintN(64, e.bias), true);
      view.setUint32(o + EXEC_MAPPING.exeId, e.table?.exeId ?? 0, true);
      view.setUint32(o + EXEC_MAPPING.rows, e.table?.rows ?? 0, true);
      view.setUint32(o + EXEC_MAPPING.kind, e.kind, true);
    });
    const rc = libbpf().bpf_map_update_elem(
      obj.unwindMaps.pidToMappings,
      new Uint32Array([pid]),
      value,
      0n,
    );
    if (rc < 0) {
      unwindMetrics.errors.inc({ kind: "pid_map_update" });
      log.warn("cannot store a process's mappings in BPF; it is walked with frame pointers", {
        pid,
        errno: -rc,
      });
    }
  }

  /**
   * Decides how a mapping is walked now: its loaded table, frame pointers, or PENDING while its
   * table is built (the build is started here and reloads the waiting processes when done).
   */
  #plan(
    pid: number,
    m: ProcMapping,
  ): {
    kind: number;
    tableKey?: string;
    decoded?: DecodedTable;
    loadBias: bigint;
  } {
    if (m.path === "[vdso]") return { kind: MappingKind.VDSO, loadBias: 0n };
    if (!m.path.startsWith("/")) return { kind: MappingKind.JIT, loadBias: 0n };
    // The profiler's process reader has usually read this file already (build ID, segments).
    const facts = this.#opts.processes.fileFacts(pid, m);
    if (!facts.key) {
      unwindMetrics.errors.inc({ kind: "open_file" });
      log.debug("cannot open a mapped file; its frames use frame pointers", { pid, path: m.path });
      return { kind: MappingKind.FP, loadBias: 0n };
    }
    const seg = executableSegment(facts.loads, m) ?? facts.loads[0];
    if (!seg) return { kind: MappingKind.FP, loadBias: 0n };
    // ELF vaddr = address - start + offset - seg.offset + seg.vaddr; table pc = vaddr - base.
    const loadBias = BigInt(m.start) - BigInt(m.offset) + BigInt(seg.offset) - BigInt(seg.vaddr);
    const key = facts.buildId ? `${facts.buildIdKind}:${facts.buildId}` : `file:${facts.key}`;
    if (this.#noTable.has(key)) return { kind: MappingKind.FP, loadBias };
    if (this.#store?.acquire(key, pid)) {
      // Already in BPF: load() hands it back without decoding anything.
      return { kind: MappingKind.DWARF, tableKey: key, decoded: EMPTY_TABLE, loadBias };
    }
    let waiting = this.#waiting.get(key);
    if (!waiting) {
      let got: ReturnType<ObjectFilePool["get"]>;
      try {
        got = this.#opts.files.get(pid, m);
      } catch (e) {
        unwindMetrics.errors.inc({ kind: "open_file" });
        log.debug("cannot open a mapped file; its frames use frame pointers", {
          pid,
          path: m.path,
          error: (e as Error).message,
        });
        return { kind: MappingKind.FP, loadBias };
      }
      // The worker reads the file through a duplicate of our own descriptor: the process that
      // mapped it may exit before the worker gets to it, and the pool may close its copy.
      const fd = libc().dup(got.src.fd);
      if (fd < 0) return { kind: MappingKind.FP, loadBias };
      waiting = new Set();
      this.#waiting.set(key, waiting);
      this.#build(key, got.src.size, m.path, {
        path: `/proc/self/fd/${fd}`,
        ino: String(got.identity.stat.ino),
      }).finally(() => libc().close(fd));
    }
    waiting.add(pid);
    return { kind: MappingKind.PENDING, loadBias };
  }

  /** Builds a table in the pool, loads it into BPF, and reloads the processes waiting for it. */
  async #build(
    key: string,
    size: number,
    path: string,
    file: { path: string; ino: string },
  ): Promise<void> {
    const t0 = performance.now();
    try {
      const decoded = toDecoded(decodeUnwindTable(
        await this.#opts.builders.tableOfFile({
          path: file.path,
          ino: file.ino,
          size,
          maxBytes: this.#opts.maxFileBytes,
        }, () => this.#waiting.get(key)?.size ?? 0),
      ));
      unwindMetrics.tableBuildSeconds.observe((performance.now() - t0) / 1000);
      unwindMetrics.tablesBuilt.inc();
      recordSpan("unwind.table_build", t0, {
        "unwind.file": path,
        "unwind.rows": decoded.pcs.length,
      });
      if (decoded.pcs.length === 0) {
        this.#noTable.set(key, "no unwind information");
        log.debug("file has no unwind information; its frames use frame pointers", { path });
      } else {
        const pids = this.#waiting.get(key) ?? new Set<number>();
        const first = pids.values().next().value ?? 0;
        const loaded = this.#store?.load(key, decoded, first);
        if (!loaded) this.#noTable.set(key, "could not be loaded into BPF");
        log.debug("built unwind table", {
          path,
          key,
          rows: decoded.pcs.length,
          rules: decoded.rules.length / 12,
          ms: Math.round(performance.now() - t0),
        });
      }
    } catch (e) {
      const code = e instanceof TableBuildError ? e.code : -1;
      recordSpan("unwind.table_build", t0, { "unwind.file": path }, { error: e });
      this.#noTable.set(key, (e as Error).message);
      if (code === WASM_NO_UNWIND_INFO) {
        // Normal for Go and other code built without CFI: frame pointers are the way there.
        log.debug("file has no unwind information; its frames use frame pointers", { path });
      } else {
        unwindMetrics.errors.inc({ kind: "table_build" });
        log.warn("cannot build an unwind table; its frames use frame pointers", {
          path,
          code,
          error: (e as Error).message,
        });
      }
    } finally {
      // Reload every process that waited, now with the table (or with frame pointers).
      for (const pid of this.#waiting.get(key) ?? []) this.#queue.add(pid);
      this.#waiting.delete(key);
      this.#kick();
    }
  }

  #kick(): void {
    if (!this.#draining && this.#queue.size) {
      this.#draining = this.#drain().finally(() => (this.#draining = undefined));
    }
  }

  #onEvict(key: string, pids: ReadonlySet<number>): void {
    // The table's exe id is about to be reused: rewrite its processes now, synchronously, so
    // none of them walks a different executable's table. They fall back to frame pointers.
    this.#noTable.set(key, "evicted to make room");
    for (const pid of pids) {
      this.#pidTables.get(pid)?.delete(key);
      this.#rewriteWithout(pid, key);
    }
  }

  #rewriteWithout(pid: number, _key: string): void {
    // Simplest correct action: drop the entry; BPF asks again and the process is re-planned,
    // with the evicted key in #noTable (frame pointers for that file).
    const obj = this.#obj;
    if (!obj) return;
    deleteMapElement(obj.unwindMaps.pidToMappings, new Uint8Array(new Uint32Array([pid]).buffer));
  }

  /**
   * Forgets a process: removes its mappings from BPF and releases its tables.
   *
   * @param pid The process.
   */
  forget(pid: number): void {
    const obj = this.#obj;
    if (obj) {
      deleteMapElement(obj.unwindMaps.pidToMappings, new Uint8Array(new Uint32Array([pid]).buffer));
    }
    this.#store?.releasePid(pid);
    this.#pidTables.delete(pid);
    this.#askedAt.delete(pid);
  }

  /** @inheritdoc */
  windowEnded(pids: ReadonlySet<number>): void {
    const obj = this.#obj;
    if (!obj || !this.#store) return;
    const keys: string[] = [];
    for (const pid of pids) for (const k of this.#pidTables.get(pid) ?? []) keys.push(k);
    this.#store.touch(keys);
    // Forget processes that exited (their pid entry stays until we delete it).
    for (const pid of listMapKeysU32(obj.unwindMaps.pidToMappings)) {
      try {
        procfs.statSync(`/proc/${pid}`);
      } catch {
        this.forget(pid);
      }
    }
    this.#store.releaseUnused(UNUSED_TABLE_GRACE_MS);
    unwindMetrics.trackedProcesses.set(this.#pidTables.size);
    unwindMetrics.loadedRows.set(this.#store.rows);
  }

  /** @inheritdoc */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#ring?.close();
    this.#ring = undefined;
    this.#opts.files.close();
  }
}

/** The parts of a decoded table the store loads. */
function toDecoded(t: ReturnType<typeof decodeUnwindTable>): DecodedTable {
  return { rules: t.rulesBytes, pcs: t.pcs, ruleIndices: t.ruleIndices };
}

/** Stand-in for a table already in BPF (TableStore.load returns the loaded one for its key). */
const EMPTY_TABLE: DecodedTable = {
  rules: new Uint8Array(0),
  pcs: new BigUint64Array(0),
  ruleIndices: new Uint16Array(0),
};
