// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * In-memory {@link Sampler} and {@link UnwindMaps} for tests that run without root: the profiler's
 * window logic, the unwinder and the table store are driven through them exactly as through
 * libbpf, and tests read back what was written. Like the real maps they refuse every call after
 * close, and they enforce the same capacities.
 *
 * @example A window with one sample of one process image
 * ```ts
 * import { FakeSampler } from "./fake_sampler.ts";
 * const s = new FakeSampler();
 * s.setInstance(42, { id: 7, startNs: 0n, execGeneration: 0 });
 * s.addSample({ pid: 42, instance: 7, userStack: [0x1000] });
 * s.event({ type: 1, pid: 42, instance: 7 });
 * const drained = await s.flipAndDrain();
 * if (drained.entries[0].instance !== 7) throw new Error("lost the image");
 * ```
 *
 * @module
 */

import type { CountEntry, DrainResult } from "./profiler_object.ts";
import {
  type InterpMaps,
  MapsClosedError,
  type ProcessEvent,
  type ProcessInstance,
  type Sampler,
  type SamplerCapacity,
  type UnwindMaps,
  type WalkerMapping,
} from "./sampler.ts";
import { MAX_MAPPINGS_PER_PROCESS, UNWIND_ROW, UNWIND_RULE } from "./types.ts";
import { NativeError } from "./ffi.ts";

/** What a fake process entry holds. */
export interface FakeProcessEntry {
  instance: number;
  mappings: WalkerMapping[];
}

/**
 * What the in-memory maps share: once closed, every call is refused (and counted) before it
 * does anything, as the libbpf ones refuse before any syscall.
 */
class FakeMaps {
  /** Calls refused because the maps were closed (tests of shutdown order assert 0). */
  refusedAfterClose = 0;
  #closed = false;

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Throws {@link MapsClosedError} (and counts it) once closed. */
  protected check(op: string): void {
    if (this.#closed) {
      this.refusedAfterClose++;
      throw new MapsClosedError(op);
    }
  }

  /** Refuses every later call. */
  close(): void {
    this.#closed = true;
  }
}

/** {@link UnwindMaps} in memory. */
export class FakeUnwindMaps extends FakeMaps implements UnwindMaps {
  /** pid -> what setProcess wrote. */
  readonly processes = new Map<number, FakeProcessEntry>();
  /** exeId -> packed rows. */
  readonly tables = new Map<number, Uint8Array>();
  /** rule index -> 12 bytes. */
  readonly rules = new Map<number, Uint8Array>();
  /** Make the next loadTable calls fail with this errno (ENOMEM = 12), while > 0 of them. */
  failLoads = 0;
  readonly maxRules: number;
  readonly maxTables: number;
  readonly #maxProcesses: number;

  /** @param opts Capacities (the real maps' by default). */
  constructor(opts: { maxRules?: number; maxTables?: number; maxProcesses?: number } = {}) {
    super();
    this.maxRules = opts.maxRules ?? 65536;
    this.maxTables = opts.maxTables ?? 4096;
    this.#maxProcesses = opts.maxProcesses ?? 16384;
  }

  /** @inheritdoc */
  setProcess(pid: number, instance: number, mappings: readonly WalkerMapping[]): void {
    this.check("store a process's mappings");
    if (mappings.length > MAX_MAPPINGS_PER_PROCESS) {
      throw new RangeError(`Cannot store ${mappings.length} mappings`);
    }
    if (!this.processes.has(pid) && this.processes.size >= this.#maxProcesses) {
      throw new NativeError("store a process's mappings in BPF", 7 /* E2BIG */);
    }
    this.processes.set(pid, { instance, mappings: mappings.map((m) => ({ ...m })) });
  }

  /** @inheritdoc */
  deleteProcess(pid: number): boolean {
    this.check("delete a process's mappings");
    return this.processes.delete(pid);
  }

  /** @inheritdoc */
  processPids(): number[] {
    this.check("list processes");
    return [...this.processes.keys()];
  }

  /** @inheritdoc */
  get tableBytes(): number {
    let bytes = 0;
    for (const t of this.tables.values()) bytes += t.length;
    return bytes;
  }

  /** @inheritdoc */
  loadTable(exeId: number, rows: Uint8Array<ArrayBuffer>): void {
    this.check("load an unwind table");
    if (rows.length === 0 || rows.length % UNWIND_ROW.size !== 0) {
      throw new RangeError(
        `Cannot create an unwind table of ${rows.length / UNWIND_ROW.size} rows`,
      );
    }
    if (this.failLoads > 0) {
      this.failLoads--;
      throw new NativeError("create an unwind table map", 12 /* ENOMEM */);
    }
    if (!this.tables.has(exeId) && this.tables.size >= this.maxTables) {
      throw new NativeError(`insert unwind table ${exeId}`, 7 /* E2BIG */);
    }
    this.tables.set(exeId, rows.slice());
  }

  /** @inheritdoc */
  deleteTable(exeId: number): void {
    this.check("delete an unwind table");
    this.tables.delete(exeId);
  }

  /** @inheritdoc */
  setRule(index: number, rule: Uint8Array<ArrayBuffer>): void {
    this.check("store an unwind rule");
    if (index >= this.maxRules || rule.length !== UNWIND_RULE.size) {
      throw new NativeError(`store unwind rule ${index}`, 7 /* E2BIG */);
    }
    this.rules.set(index, rule.slice());
  }

  /**
   * The rows of a loaded table as (pc offset, global rule index) pairs.
   *
   * @param exeId The table.
   * @returns Its rows, or undefined when none is loaded under that id.
   */
  rowsOf(exeId: number): Array<[number, number]> | undefined {
    const t = this.tables.get(exeId);
    if (!t) return undefined;
    const w = new Uint32Array(t.buffer, t.byteOffset, t.length / 4);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < w.length; i += 2) out.push([w[i], w[i + 1]]);
    return out;
  }
}

/** {@link InterpMaps} in memory. */
export class FakeInterpMaps extends FakeMaps implements InterpMaps {
  /** pid -> the encoded struct interp_info written. */
  readonly processes = new Map<number, Uint8Array>();

  /** @inheritdoc */
  setProcess(pid: number, info: Uint8Array<ArrayBuffer>): void {
    this.check("store a process's interpreter");
    this.processes.set(pid, info.slice());
  }

  /** @inheritdoc */
  deleteProcess(pid: number): boolean {
    this.check("delete a process's interpreter");
    return this.processes.delete(pid);
  }
}

/** A sample to put in the fake's next window. */
export interface FakeSample {
  pid: number;
  instance?: number;
  tid?: number;
  /** User frames, leaf first (return addresses as BPF stores them). */
  userStack?: number[];
  kernelStack?: bigint[];
  processComm?: string;
  threadComm?: string;
  flags?: number;
  unwindError?: number;
  count?: number;
}

/** {@link Sampler} in memory: tests add samples and events, the profiler drains them. */
export class FakeSampler implements Sampler {
  readonly unwindMaps: FakeUnwindMaps;
  readonly interpMaps = new FakeInterpMaps();
  readonly capacity: SamplerCapacity = { countEntries: 1024, stackEntries: 2048 };
  /** Whether perf events are attached. */
  attached = false;
  closed = false;
  /** Windows drained so far. */
  drains = 0;
  #entries: CountEntry[] = [];
  #userStacks = new Map<bigint, BigUint64Array>();
  #kernelStacks = new Map<bigint, BigUint64Array>();
  #nextStackId = 1n;
  #events: ProcessEvent[] = [];
  #wake: (() => void) | undefined;
  /** The timeout of every {@link waitForEvents} call, in order (tests count wake-ups). */
  readonly waits: number[] = [];
  readonly #instances = new Map<number, ProcessInstance>();
  readonly #counters = new Map<string, number>();

  /** @param maps The unwind maps (a fresh {@link FakeUnwindMaps} by default). */
  constructor(maps: FakeUnwindMaps = new FakeUnwindMaps()) {
    this.unwindMaps = maps;
  }

  /**
   * Sets (or, with undefined, deletes) BPF's current image of a pid.
   *
   * @param pid The process.
   * @param inst Its image.
   */
  setInstance(pid: number, inst: ProcessInstance | undefined): void {
    if (inst) this.#instances.set(pid, inst);
    else this.#instances.delete(pid);
  }

  /**
   * Adds a sample to the current window.
   *
   * @param s The sample.
   */
  addSample(s: FakeSample): void {
    let userStackId = 0n;
    if (s.userStack?.length) {
      userStackId = this.#nextStackId++;
      this.#userStacks.set(userStackId, BigUint64Array.from(s.userStack.map(BigInt)));
    }
    let kernelStackId = 0n;
    if (s.kernelStack?.length) {
      kernelStackId = this.#nextStackId++;
      this.#kernelStacks.set(kernelStackId, BigUint64Array.from(s.kernelStack));
    }
    this.#entries.push({
      pid: s.pid,
      tid: s.tid ?? s.pid,
      userStackId,
      kernelStackId,
      threadComm: s.threadComm ?? s.processComm ?? "fake",
      processComm: s.processComm ?? "fake",
      flags: s.flags ?? 0,
      unwindError: s.unwindError ?? 0,
      instance: s.instance ?? 0,
      count: s.count ?? 1,
    });
  }

  /**
   * Queues an event for the next {@link consumeEvents}.
   *
   * @param e The event; missing fields are 0.
   */
  event(e: Partial<ProcessEvent> & { type: number; pid: number }): void {
    this.#events.push({ instance: 0, execGeneration: 0, startNs: 0n, ktimeNs: 0n, ...e });
    this.#wake?.();
  }

  /**
   * Sets a counter's total.
   *
   * @param name Counter name.
   * @param total Its value.
   */
  setCounter(name: string, total: number): void {
    this.#counters.set(name, total);
  }

  #checkOpen(op: string): void {
    if (this.closed) throw new MapsClosedError(op);
  }

  /** @inheritdoc */
  attach(_cpus: number[], _frequencyHz: number): void {
    this.#checkOpen("attach");
    this.attached = true;
  }

  /** @inheritdoc */
  detach(): void {
    this.attached = false;
  }

  /** @inheritdoc */
  flipAndDrain(): Promise<DrainResult> {
    this.#checkOpen("drain the sampler's maps");
    this.drains++;
    const out: DrainResult = {
      entries: this.#entries,
      userStacks: this.#userStacks,
      kernelStacks: this.#kernelStacks,
      errors: [],
    };
    this.#entries = [];
    this.#userStacks = new Map();
    this.#kernelStacks = new Map();
    return Promise.resolve(out);
  }

  /** @inheritdoc */
  readCounters(): Map<string, number> {
    this.#checkOpen("read the BPF counters");
    return new Map(this.#counters);
  }

  /** @inheritdoc */
  programStats(): { runs: number; runTimeNs: number } {
    this.#checkOpen("read program stats");
    return { runs: 0, runTimeNs: 0 };
  }

  /** @inheritdoc */
  consumeEvents(onEvent: (e: ProcessEvent) => void): number {
    if (this.closed) return 0;
    const events = this.#events;
    this.#events = [];
    for (const e of events) onEvent(e);
    return events.length;
  }

  /** @inheritdoc */
  waitForEvents(timeoutMs: number): Promise<void> {
    this.waits.push(timeoutMs);
    if (this.#events.length > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = Number.isFinite(timeoutMs) ? setTimeout(done, timeoutMs) : undefined;
      this.#wake = done;
    });
  }

  /** @inheritdoc */
  get eventsPending(): boolean {
    return !this.closed && this.#events.length > 0;
  }

  /** @inheritdoc */
  wakeWaiter(): void {
    this.#wake?.();
  }

  /** @inheritdoc */
  instanceOf(pid: number): ProcessInstance | undefined {
    return this.#instances.get(pid);
  }

  /** @inheritdoc */
  close(): void {
    this.detach();
    this.unwindMaps.close();
    this.interpMaps.close();
    this.closed = true;
    this.#wake?.();
  }
}
