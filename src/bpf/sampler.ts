// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The typed face of the loaded sampler: what src/profiler and src/unwind may do with BPF, and
 * nothing else. {@link ProfilerObject} implements it over libbpf; `fake_sampler.ts` implements it
 * in memory so the profiler's window logic, the unwinder and the table store are tested without
 * root. No module outside src/bpf calls libbpf.
 *
 * Every map operation after {@link Sampler.close} throws {@link MapsClosedError} without a
 * syscall: nothing touches a closed map fd (whose number the process may already have reused).
 *
 * @module
 */

import type { DrainResult } from "./profiler_object.ts";

/** One event from BPF about a process image (struct event). */
export interface ProcessEvent {
  /** enum event_type ({@link EventType}). */
  type: number;
  pid: number;
  /** The image the event is about (process_instance.id); 0 when BPF did not say. */
  instance: number;
  /** Execs seen since the process was first seen. */
  execGeneration: number;
  /** The process's start time in ns since boot (0 when BPF did not say). */
  startNs: bigint;
  ktimeNs: bigint;
}

/** The current image of a pid as BPF knows it (pid_to_instance). */
export interface ProcessInstance {
  id: number;
  startNs: bigint;
  execGeneration: number;
}

/** One executable mapping as the walker reads it (struct exec_mapping). */
export interface WalkerMapping {
  start: number;
  end: number;
  /** table pc = address - tableBias. */
  tableBias: bigint;
  /** unwind_tables key for {@link MappingKind}.DWARF, else 0. */
  exeId: number;
  rows: number;
  /** enum mapping_kind. */
  kind: number;
}

/** Thrown by every map operation once the maps are closed. */
export class MapsClosedError extends Error {
  /** @param op The operation that was refused. */
  constructor(op: string) {
    super(`Cannot ${op}: the BPF maps are closed`);
    this.name = "MapsClosedError";
  }
}

/** The maps the unwinder writes: process mappings, unwind tables, rules. */
export interface UnwindMaps {
  /** True once the maps are closed: every operation then throws {@link MapsClosedError}. */
  readonly closed: boolean;
  /** Capacity of unwind_rules. */
  readonly maxRules: number;
  /** Tables at most (exe ids 1..maxTables). */
  readonly maxTables: number;
  /** Kernel memory the loaded tables take (their chunks of the row space), in bytes. */
  readonly tableBytes: number;
  /**
   * Writes a process's mappings (at most MAX_MAPPINGS_PER_PROCESS, sorted by start).
   *
   * @param pid The process.
   * @param instance The image they were read for: BPF ignores them for any other image.
   * @param mappings The mappings.
   * @throws {NativeError} When the kernel refuses (e.g. E2BIG: the map is full).
   */
  setProcess(pid: number, instance: number, mappings: readonly WalkerMapping[]): void;
  /**
   * Deletes a process's mappings.
   *
   * @param pid The process.
   * @returns true when there were some.
   */
  deleteProcess(pid: number): boolean;
  /** @returns The pids that have mappings in BPF. */
  processPids(): number[];
  /**
   * Loads a table of packed rows under `exeId` (replacing any table it had).
   *
   * @param exeId The table's key (1..maxTables).
   * @param rows Packed struct unwind_row values, 8 bytes each.
   * @throws {NativeError} When the kernel refuses the map (ENOMEM: memory cgroup limit).
   */
  loadTable(exeId: number, rows: Uint8Array<ArrayBuffer>): void;
  /**
   * Removes a table; walkers that still find its exe id get UNWIND_ERROR_TABLE_MISSING.
   *
   * @param exeId The table's key.
   */
  deleteTable(exeId: number): void;
  /**
   * Writes one shared rule.
   *
   * @param index Its index in unwind_rules.
   * @param rule 12 bytes (struct unwind_rule).
   * @throws {NativeError} When the kernel refuses.
   */
  setRule(index: number, rule: Uint8Array<ArrayBuffer>): void;
}

/**
 * pid_to_interp: what the interpreter walkers (bpf/interp.h) know about each process, written by
 * src/interp (encoded struct interp_info values).
 */
export interface InterpMaps {
  /** True once the maps are closed: every operation then throws {@link MapsClosedError}. */
  readonly closed: boolean;
  /**
   * Writes a process's interpreter.
   *
   * @param pid The process.
   * @param info An encoded struct interp_info.
   * @throws {NativeError} When the kernel refuses (E2BIG: the map is full).
   */
  setProcess(pid: number, info: Uint8Array<ArrayBuffer>): void;
  /**
   * Deletes a process's entry.
   *
   * @param pid The process.
   * @returns true when there was one.
   */
  deleteProcess(pid: number): boolean;
}

/** Options of {@link Sampler.open}-like factories (see ProfilerObject.open). */
export interface SamplerCapacity {
  countEntries: number;
  stackEntries: number;
}

/** The loaded sampler, as the profiler uses it. */
export interface Sampler {
  /** The maps the unwinder writes. */
  readonly unwindMaps: UnwindMaps;
  /** The map the interpreter unwinders write. */
  readonly interpMaps: InterpMaps;
  /** Map capacities. */
  readonly capacity: SamplerCapacity;
  /**
   * Starts sampling on these CPUs.
   *
   * @param cpus CPU numbers.
   * @param frequencyHz Samples per second per CPU.
   */
  attach(cpus: number[], frequencyHz: number): void;
  /** Stops sampling (idempotent); events and maps stay readable until {@link close}. */
  detach(): void;
  /** Flips the generation and drains the idle one. */
  flipAndDrain(): Promise<DrainResult>;
  /** @returns Outcome counters summed over CPUs, since load. */
  readCounters(): Map<string, number>;
  /** @returns Run count and run time of the sampling program (0 unless bpf_stats_enabled). */
  programStats(): { runs: number; runTimeNs: number };
  /**
   * Hands every pending event to `onEvent`.
   *
   * @param onEvent Called once per event.
   * @returns Events consumed.
   */
  consumeEvents(onEvent: (e: ProcessEvent) => void): number;
  /**
   * Resolves when events are pending, after `timeoutMs`, or when {@link wakeWaiter} is called
   * (without blocking the event loop, and without waking it while nothing comes).
   *
   * @param timeoutMs How long to wait at most; `Infinity` waits until an event or a wake-up.
   */
  waitForEvents(timeoutMs: number): Promise<void>;
  /**
   * True when events are in the buffer that {@link consumeEvents} did not hand out yet (one
   * may still be being written: its commit need not wake a waiter, so poll while this holds).
   */
  readonly eventsPending: boolean;
  /** Makes a pending {@link waitForEvents} resolve now (e.g. to stop). */
  wakeWaiter(): void;
  /**
   * The current image of a pid.
   *
   * @param pid The process.
   * @returns Its image, or undefined when BPF has none for it.
   */
  instanceOf(pid: number): ProcessInstance | undefined;
  /** Detaches and releases everything. Idempotent. */
  close(): void;
}
