// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The unwinder's user-space half: unwind tables for the process images that src/process's
 * records hold, loaded into BPF through src/bpf's typed maps (see {@link Unwinder}).
 *
 * @module
 */

import {
  EventType,
  MappingKind,
  MapsClosedError,
  MAX_MAPPINGS_PER_PROCESS,
  type ProcessEvent,
  type UnwindMaps,
  type WalkerMapping,
} from "../bpf/mod.ts";
import { getLogger } from "../log/mod.ts";
import {
  type ExecutableMapping,
  executableSegment,
  LruCache,
  type ObjectFilePool,
  type ProcessRecord,
  type ProcessRecords,
  type ProcMapping,
} from "../process/mod.ts";
import { type BuilderPool, TableBuildError } from "./builder_pool.ts";
import type { UnwinderHooks } from "./hooks.ts";
import { freePackedTable, packedRowCount, type PackedTable, WasmErrorCode } from "./table.ts";
import { type LoadedTable, TableStore } from "./table_store.ts";
import { unwindMetrics } from "./metrics.ts";
import { recordSpan } from "../tracing/mod.ts";
import { closeSync, dupSync } from "../procfs/mod.ts";

const log = getLogger("unwind");
/** How long the table of a file no running process maps stays loaded. */
const UNUSED_TABLE_GRACE_MS = 60_000;
/** How long "this file has no table" is believed: files do not change, but memory and budgets do. */
const NO_TABLE_TTL_MS = 10 * 60_000;
/** How long a table evicted for space stays unbuilt, so two big tables do not evict each other in a loop. */
const EVICTED_TTL_MS = 60_000;
/** Files up to this size get their table built at exec, before the image is sampled. */
const EAGER_BUILD_BYTES = 4 << 20;
/** Files remembered as having no table at most. */
const NO_TABLE_ENTRIES = 4096;

/** Options of {@link Unwinder}. */
export interface UnwinderOptions {
  /** Workers running wasm-unwind. */
  builders: BuilderPool;
  /** Open ELF files of other processes (the workers read tables from them). */
  files: ObjectFilePool;
  /** Row budget of all loaded tables. */
  maxRows: number;
  /** Files larger than this get no table (their frames use frame pointers). */
  maxFileBytes: number;
  /** The clock in ms, for the negative cache (tests replace it). @default Date.now */
  now?: () => number;
}

/** Why a file has no table, and until when that is believed. */
interface NoTable {
  reason: string;
  until: number;
}

/** How one mapping is walked, decided by {@link Unwinder.loadProcess}. */
interface Plan {
  kind: number;
  tableKey?: string;
  table?: PackedTable;
  loadBias: bigint;
}

/**
 * The user-space half of the unwinder. For every process image the records capture (or
 * refresh), it gets each mapped file's unwind table (built once per file identity in the worker
 * pool, then shared), loads the tables into BPF and writes the image's sorted mappings into
 * pid_to_mappings, stamped with the image's id. Until then BPF walks that image with frame
 * pointers and marks its samples.
 *
 * Tables and "no table" results are keyed by the file's identity (device, inode, size, mtime),
 * never by the build ID a file claims: a copy with the same build ID but no `.eh_frame` gets a
 * result of its own. "No table" results are bounded and expire; a table evicted for space can be
 * built again after a while.
 */
export class Unwinder implements UnwinderHooks {
  readonly #opts: UnwinderOptions;
  readonly #now: () => number;
  #maps: UnwindMaps | undefined;
  #records: ProcessRecords | undefined;
  #store: TableStore | undefined;
  /** image instance -> table keys it uses. */
  readonly #imageTables = new Map<number, Set<string>>();
  /** Images waiting to be (re)loaded, and the one loop that loads them. */
  readonly #queue = new Set<ProcessRecord>();
  #draining: Promise<void> | undefined;
  /** Tables being built, by key -> the images waiting for them (one build per key). */
  readonly #waiting = new Map<string, Set<ProcessRecord>>();
  readonly #builds = new Set<Promise<void>>();
  /** File identities whose build failed or yielded nothing: frame pointers until `until`. */
  readonly #noTable = new LruCache<string, NoTable>(NO_TABLE_ENTRIES);
  /**
   * Images known to run (BPF sampled them). An image captured at its exec gets at once the
   * tables already loaded, and builds of small files (so that a short program is unwound whole
   * from its first sample); large files are built only for sampled images, and builds for
   * sampled images go first, so that programs never sampled cannot keep a sampled program's
   * table waiting behind theirs.
   */
  readonly #sampled = new Set<number>();
  /** Images announced by an exec (a process running now, sampled or not yet). */
  readonly #execd = new Set<number>();
  /** When each image was first queued, for the time-to-complete-stacks metric. */
  readonly #askedAt = new Map<number, number>();
  #closed = false;

  /** @param opts Builders, pools and budgets. */
  constructor(opts: UnwinderOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Images with mappings in BPF. */
  get trackedProcesses(): number {
    return this.#imageTables.size;
  }

  /** The table store, for tests and the status page. */
  get store(): TableStore | undefined {
    return this.#store;
  }

  /** Table builds still running. */
  get buildsInFlight(): number {
    return this.#builds.size;
  }

  /** @inheritdoc */
  attach(maps: UnwindMaps, records: ProcessRecords): void {
    this.#maps = maps;
    this.#records = records;
    this.#store = new TableStore({
      maps,
      maxRows: this.#opts.maxRows,
      onEvict: (key, images) => this.#onEvict(key, images),
    });
    records.onChange((r, change) => {
      if (change === "captured" || change === "refreshed") this.#enqueue(r);
      // A record can be freed without having ended first (pushed out by the records' bound).
      else if (change === "ended" || change === "freed") this.#ended(r);
    });
    for (const r of records.all()) if (r.endedInWindow === undefined) this.#enqueue(r);
  }

  /** @inheritdoc */
  event(e: ProcessEvent, record: ProcessRecord | undefined): void {
    unwindMetrics.events.inc({
      type: e.type === EventType.NEW_PROCESS
        ? "new_process"
        : e.type === EventType.EXEC
        ? "exec"
        : e.type === EventType.EXIT
        ? "exit"
        : "mappings_changed",
    });
    // An image's first sample (or BPF asking again while it has no mappings: its entry was
    // evicted, or a load failed): build its tables now and load it again. Captures and
    // refreshes were queued by the records already.
    if (record && record.endedInWindow === undefined && e.type === EventType.NEW_PROCESS) {
      this.#markSampled(record);
      this.#enqueue(record);
    }
    // A program that just exec'd runs: the builds its capture started (small files) are for a
    // process about to be sampled, and run at normal priority from the start. (At nice 10 on a
    // host whose cores were busy, a new program's 21-row table took 0.75-1.5 s, measured.)
    if (record && record.endedInWindow === undefined && e.type === EventType.EXEC) {
      this.#execd.add(record.instance);
      this.#opts.builders.reprioritize();
    }
  }

  #enqueue(r: ProcessRecord): void {
    if (this.#closed || !this.#maps) return;
    if (!this.#askedAt.has(r.instance)) this.#askedAt.set(r.instance, performance.now());
    this.#queue.add(r);
    this.#kick();
  }

  /**
   * Loads queued images. Loading is synchronous and quick (ELF facts are in the records, one map
   * update): table builds run in the pool and queue the image again when they end. The loop
   * yields to the event loop between images so a burst of new processes cannot stall a window.
   */
  async #drain(): Promise<void> {
    while (this.#queue.size && !this.#closed) {
      const r = this.#queue.values().next().value as ProcessRecord;
      this.#queue.delete(r);
      try {
        this.loadProcess(r);
      } catch (e) {
        if (e instanceof MapsClosedError) return;
        unwindMetrics.errors.inc({ kind: "load_process" });
        log.debug("cannot load the unwind information of a process", {
          pid: r.pid,
          error: (e as Error).message,
        });
      }
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  /**
   * Makes sure the tables of an image's mappings are loaded (or being built) and writes its
   * entry in pid_to_mappings.
   *
   * @param r The image's record.
   */
  loadProcess(r: ProcessRecord): void {
    const maps = this.#maps;
    const store = this.#store;
    if (!maps || !store || this.#closed) return;
    // Only the image the pid runs now has an entry; an ended one was removed by BPF already.
    if (r.endedInWindow !== undefined || this.#records?.latest(r.pid) !== r) return;
    const byStart = new Map<number, ExecutableMapping>();
    for (const m of r.mappings) byStart.set(m.start, m);
    const exec = r.execMappings;
    // Mappings whose table is still being built are written as PENDING (frame pointers, marked)
    // and the image is loaded again when the build ends: a process never waits for another
    // process's big table.
    const plans = exec.map((m) => this.#plan(r, m, byStart.get(m.start)));
    const used = new Set<string>();
    let pending = false;
    const entries: WalkerMapping[] = [];
    for (let i = 0; i < exec.length; i++) {
      const plan = plans[i];
      let table: LoadedTable | undefined;
      if (plan.kind === MappingKind.DWARF && plan.tableKey && plan.table) {
        table = store.load(plan.tableKey, plan.table, r.instance);
        if (table) used.add(plan.tableKey);
      }
      const kind = table
        ? MappingKind.DWARF
        : plan.kind === MappingKind.DWARF
        ? MappingKind.FP
        : plan.kind;
      if (kind === MappingKind.PENDING) pending = true;
      entries.push({
        start: exec[i].start,
        end: exec[i].limit,
        tableBias: table ? plan.loadBias + table.base : 0n,
        exeId: table?.exeId ?? 0,
        rows: table?.rows ?? 0,
        kind,
      });
    }
    if (entries.length > MAX_MAPPINGS_PER_PROCESS) {
      unwindMetrics.errors.inc({ kind: "too_many_mappings" });
      log.debug(
        "process has more executable mappings than BPF keeps; the rest use frame pointers",
        { pid: r.pid, mappings: entries.length, kept: MAX_MAPPINGS_PER_PROCESS },
      );
      entries.length = MAX_MAPPINGS_PER_PROCESS;
    }
    try {
      maps.setProcess(r.pid, r.instance, entries);
    } catch (e) {
      if (e instanceof MapsClosedError) throw e;
      unwindMetrics.errors.inc({ kind: "pid_map_update" });
      log.warn("cannot store a process's mappings in BPF; it is walked with frame pointers", {
        pid: r.pid,
        error: (e as Error).message,
      });
    }
    // Release tables this image no longer maps.
    const before = this.#imageTables.get(r.instance);
    if (before) {
      for (const k of before) if (!used.has(k)) store.release(k, r.instance);
    }
    this.#imageTables.set(r.instance, used);
    const asked = this.#askedAt.get(r.instance);
    if (asked !== undefined && !pending) {
      const seconds = (performance.now() - asked) / 1000;
      unwindMetrics.timeToTables.observe(seconds);
      this.#askedAt.delete(r.instance);
      log.debug("image has all its tables", { pid: r.pid, ms: Math.round(seconds * 1000) });
    }
  }

  /**
   * Decides how a mapping is walked now: its loaded table, frame pointers, or PENDING while its
   * table is built (the build is started here and reloads the waiting images when done).
   */
  #plan(r: ProcessRecord, m: ProcMapping, mapping: ExecutableMapping | undefined): Plan {
    if (m.path === "[vdso]") return { kind: MappingKind.VDSO, loadBias: 0n };
    if (!m.path.startsWith("/")) return { kind: MappingKind.JIT, loadBias: 0n };
    const facts = mapping?.file;
    if (!facts?.key) {
      unwindMetrics.errors.inc({ kind: "open_file" });
      log.debug("cannot open a mapped file; its frames use frame pointers", {
        pid: r.pid,
        path: m.path,
      });
      return { kind: MappingKind.FP, loadBias: 0n };
    }
    const seg = executableSegment(facts.loads, m) ?? facts.loads[0];
    if (!seg) return { kind: MappingKind.FP, loadBias: 0n };
    // ELF vaddr = address - start + offset - seg.offset + seg.vaddr; table pc = vaddr - base.
    const loadBias = BigInt(m.start) - BigInt(m.offset) + BigInt(seg.offset) - BigInt(seg.vaddr);
    // What the file is (its identity), not what its build ID claims.
    const key = `file:${facts.key}`;
    const no = this.#noTable.get(key);
    if (no && no.until > this.#now()) return { kind: MappingKind.FP, loadBias };
    if (no) this.#noTable.delete(key);
    if (this.#store?.acquire(key, r.instance)) {
      // Already in BPF: load() hands it back without reading the stand-in.
      return { kind: MappingKind.DWARF, tableKey: key, table: EMPTY_TABLE, loadBias };
    }
    let waiting = this.#waiting.get(key);
    if (!waiting && !this.#sampled.has(r.instance) && facts.size > EAGER_BUILD_BYTES) {
      // A large file of an image not sampled yet: frame pointers until it is (see #sampled).
      return { kind: MappingKind.PENDING, loadBias };
    }
    if (!waiting) {
      let got: ReturnType<ObjectFilePool["get"]>;
      try {
        got = this.#opts.files.get(r.pid, m);
      } catch (e) {
        unwindMetrics.errors.inc({ kind: "open_file" });
        log.debug("cannot open a mapped file; its frames use frame pointers", {
          pid: r.pid,
          path: m.path,
          error: (e as Error).message,
        });
        return { kind: MappingKind.FP, loadBias };
      }
      if (got.key !== facts.key) {
        // The file changed between the capture and now: the record's facts do not describe it.
        return { kind: MappingKind.FP, loadBias };
      }
      // The worker reads the file through a duplicate of our own descriptor: the process that
      // mapped it may exit before the worker gets to it, and the pool may close its copy.
      let fd: number;
      try {
        fd = dupSync(got.src.fd);
      } catch {
        return { kind: MappingKind.FP, loadBias };
      }
      waiting = new Set();
      this.#waiting.set(key, waiting);
      // What the build costs grows with the code's size (its CFI and rows), not the file's
      // (a file with debug info is many times its code).
      const code = facts.loads.reduce((n, l) => n + l.filesz, 0);
      const build = this.#build(key, got.src.size, code || got.src.size, m.path, {
        path: `/proc/self/fd/${fd}`,
        ino: String(got.identity.stat.ino),
      }).finally(() => {
        closeSync(fd);
        this.#builds.delete(build);
        unwindMetrics.buildsInFlight.set(this.#builds.size);
      });
      this.#builds.add(build);
      unwindMetrics.buildsInFlight.set(this.#builds.size);
    }
    waiting.add(r);
    return { kind: MappingKind.PENDING, loadBias };
  }

  /**
   * An image was sampled: its tables are due, and builds it already waits for (started at its
   * exec, in the background) now run at normal priority.
   */
  #markSampled(r: ProcessRecord): void {
    if (this.#sampled.has(r.instance)) return;
    this.#sampled.add(r.instance);
    this.#opts.builders.reprioritize();
  }

  /** Builds for sampled images first, then by how many images wait. */
  #priority(key: string): number {
    let sampled = 0;
    let all = 0;
    for (const r of this.#waiting.get(key) ?? []) {
      all++;
      if (this.#sampled.has(r.instance)) sampled++;
    }
    return sampled * 1_000_000 + all;
  }

  /** Whether a sampled image, or one that just exec'd, waits for the table of `key`. */
  #sampledWaits(key: string): boolean {
    for (const r of this.#waiting.get(key) ?? []) {
      if (this.#sampled.has(r.instance) || this.#execd.has(r.instance)) return true;
    }
    return false;
  }

  #remember(key: string, reason: string, ttlMs: number): void {
    this.#noTable.set(key, { reason, until: this.#now() + ttlMs });
  }

  /** Builds a table in the pool, loads it into BPF, and reloads the images waiting for it. */
  async #build(
    key: string,
    size: number,
    cost: number,
    path: string,
    file: { path: string; ino: string },
  ): Promise<void> {
    const t0 = performance.now();
    try {
      const built = await this.#opts.builders.tableOfFile({
        path: file.path,
        ino: file.ino,
        size,
        maxBytes: this.#opts.maxFileBytes,
      }, {
        cost,
        priority: () => this.#priority(key),
        urgent: () => this.#sampledWaits(key),
      });
      try {
        // After shutdown began nothing is loaded: the maps are about to close.
        if (this.#closed) return;
        const tLoad = performance.now();
        const rows = packedRowCount(built);
        unwindMetrics.tableBuildSeconds.observe((performance.now() - t0) / 1000);
        unwindMetrics.tablesBuilt.inc();
        recordSpan("unwind.table_build", t0, { "unwind.file": path, "unwind.rows": rows });
        if (rows === 0) {
          this.#remember(key, "no unwind information", NO_TABLE_TTL_MS);
          log.debug("file has no unwind information; its frames use frame pointers", { path });
        } else {
          const images = this.#waiting.get(key) ?? new Set<ProcessRecord>();
          const first = images.values().next().value?.instance ?? 0;
          const loaded = this.#store?.load(key, built, first);
          unwindMetrics.tableBuildPhaseSeconds.observe(
            { phase: "load" },
            (performance.now() - tLoad) / 1000,
          );
          if (!loaded) this.#remember(key, "could not be loaded into BPF", NO_TABLE_TTL_MS);
          log.debug("built unwind table", {
            path,
            key,
            rows,
            rules: built.rules.length / 12,
            ms: Math.round(performance.now() - t0),
            loadMs: Math.round(performance.now() - tLoad),
          });
        }
      } finally {
        // BPF has its own copy: the rows go now, not at V8's next major collection (at start-up
        // dozens of tables are loaded within seconds, and their rows would all wait for it).
        freePackedTable(built);
      }
    } catch (e) {
      if (this.#closed || e instanceof MapsClosedError) return;
      const code = e instanceof TableBuildError ? e.code : -1;
      recordSpan("unwind.table_build", t0, { "unwind.file": path }, { error: e });
      this.#remember(key, (e as Error).message, NO_TABLE_TTL_MS);
      if (code === WasmErrorCode.NoUnwindInfo) {
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
      // Reload every image that waited, now with the table (or with frame pointers).
      const images = this.#waiting.get(key) ?? [];
      this.#waiting.delete(key);
      if (!this.#closed) { for (const r of images) this.#enqueue(r); }
    }
  }

  #kick(): void {
    if (!this.#draining && this.#queue.size && !this.#closed) {
      this.#draining = this.#drain().finally(() => (this.#draining = undefined));
    }
  }

  #onEvict(key: string, images: ReadonlySet<number>): void {
    // The table's exe id is about to be reused: rewrite its images now, synchronously, so none
    // of them walks a different executable's table. They use frame pointers for that file until
    // it may be built again.
    this.#remember(key, "evicted to make room", EVICTED_TTL_MS);
    for (const instance of images) {
      this.#imageTables.get(instance)?.delete(key);
      const r = this.#records?.get(instance);
      if (r && r.endedInWindow === undefined) this.#queue.add(r);
      if (r && this.#maps && !this.#maps.closed && this.#records?.latest(r.pid) === r) {
        // Drop the entry now; the queued reload writes it again without the evicted table.
        this.#maps.deleteProcess(r.pid);
      }
    }
    this.#kick();
  }

  /** An image ended (exit, exec): BPF dropped its entry; its tables lose a reference. */
  #ended(r: ProcessRecord): void {
    this.#queue.delete(r);
    this.#sampled.delete(r.instance);
    this.#execd.delete(r.instance);
    this.#store?.releasePid(r.instance);
    this.#imageTables.delete(r.instance);
    this.#askedAt.delete(r.instance);
  }

  /** @inheritdoc */
  windowEnded(sampled: ReadonlySet<ProcessRecord>): void {
    const maps = this.#maps;
    const store = this.#store;
    if (!maps || !store || this.#closed) return;
    const keys: string[] = [];
    for (const r of sampled) {
      for (const k of this.#imageTables.get(r.instance) ?? []) keys.push(k);
      // Sampled though no event said so (lost): its tables are due.
      if (!this.#sampled.has(r.instance) && r.endedInWindow === undefined) {
        this.#markSampled(r);
        this.#enqueue(r);
      }
    }
    store.touch(keys);
    // BPF deletes the entries of processes it saw exit; this catches the ones it did not (their
    // image had been evicted from pid_to_instance).
    for (const pid of maps.processPids()) {
      const latest = this.#records?.latest(pid);
      if (!latest || latest.endedInWindow !== undefined) maps.deleteProcess(pid);
    }
    store.releaseUnused(UNUSED_TABLE_GRACE_MS);
    unwindMetrics.trackedProcesses.set(this.#imageTables.size);
    unwindMetrics.loadedRows.set(store.rows);
    unwindMetrics.tableBytes.set(maps.tableBytes);
  }

  /**
   * Stops: nothing is loaded or written after this (builds still running are abandoned and
   * their results dropped), the workers and open files are released. The maps themselves are
   * closed by their owner afterwards.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.clear();
    this.#opts.builders.close();
    await this.#draining;
    await Promise.allSettled([...this.#builds]);
    this.#opts.files.close();
  }
}

/** Stand-in for a table already in BPF (TableStore.load returns the loaded one for its key). */
const EMPTY_TABLE: PackedTable = {
  basePc: 0n,
  rows: new Uint32Array(0),
  rules: new Uint8Array(0),
};
