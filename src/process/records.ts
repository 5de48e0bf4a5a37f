// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Process records: the one place that holds what the agent knows about each process image
 * (mappings, the files behind them, names, command line, cgroup), captured when BPF first sees
 * the image and kept until the window holding its last sample has been emitted, so a process
 * that exits or execs before its window ends is still profiled with its own mappings.
 *
 * An image is one program run by one process: BPF gives it an id (`instance`) on the process's
 * first sample and a new one at each exec (bpf/process.h), and stamps that id into every sample.
 * A pid reused by a new process is a new image too (told apart by start time). Records are
 * keyed by that id, so samples never meet the wrong image's mappings.
 *
 * Life of a record:
 * 1. {@link ProcessRecords.capture} on the image's first event (or at window end for an image
 *    whose event was lost): one read of /proc/PID/{stat,comm,cmdline,maps,exe,cgroup}, file
 *    facts from the shared per-file cache.
 * 2. {@link ProcessRecords.refresh} on a mapping-change event (dlopen, new JIT code).
 * 3. {@link ProcessRecords.end} on exit or exec (or when a sweep finds the pid gone or reused),
 *    stamped with the window being sampled then.
 * 4. Freed by {@link ProcessRecords.windowEmitted} once that window is emitted.
 *
 * Bounded: at most `maxRecords`; past that the least recently sampled live record is dropped
 * (counted in `stats.evicted`).
 *
 * @module
 */

import type { MappedFileFacts, ProcessInfo, ProcessReader } from "./process_reader.ts";
import * as procfs from "../procfs/mod.ts";

/** Clock ticks per second of /proc/PID/stat's starttime (USER_HZ, 100 on every Linux ABI). */
const USER_HZ = 100;

/** Which image BPF says a record is for. */
export interface ImageRef {
  /** BPF's image id (process_instance.id); 0 for a record made without BPF. */
  instance: number;
  /** The process's start time in ns since boot, from BPF; 0n: not known. */
  startNs?: bigint;
  /** Execs since BPF first saw the process. */
  execGeneration?: number;
}

/**
 * What the agent knows about one image of one process. It extends what the process reader
 * reads ({@link ProcessInfo}: comm, exe, cmdline, ppid, mappings with their file records).
 */
export interface ProcessRecord extends ProcessInfo {
  /** BPF's image id: the key of the record. */
  readonly instance: number;
  /** Execs since BPF first saw the process. */
  readonly execGeneration: number;
  /** /proc/PID/cgroup as read at capture ("" when unreadable). */
  cgroup: string;
  /** The record of the executable file (/proc/PID/exe), when it is one of the mappings. */
  executableFile?: MappedFileFacts;
  /** When it was captured, and last refreshed (ms since epoch). */
  capturedAt: number;
  refreshedAt: number;
  /** The last window that had samples of it (window sequence numbers, see ProcessRecords). */
  lastSampledWindow: number;
  /** The window being sampled when it ended (exit, exec, pid reused); undefined while live. */
  endedInWindow?: number;
  /** Why it ended. */
  endReason?: "exit" | "exec" | "gone";
  /**
   * Facts other modules attach to the image, by a key of their own (e.g. "interp/python").
   * Freed with the record.
   */
  readonly data: Map<string, unknown>;
}

/** What changed, for {@link ProcessRecords.onChange} listeners. */
export type RecordChange = "captured" | "refreshed" | "ended" | "freed";

/** Options of {@link ProcessRecords}. */
export interface ProcessRecordsOptions {
  /** Reads /proc (and owns the per-file cache). */
  reader: ProcessReader;
  /**
   * Records kept at most.
   *
   * @default {16384}
   */
  maxRecords?: number;
  /** Where procfs is mounted (tests point it elsewhere). @default "/proc" */
  procRoot?: string;
  /** The clock, in ms (tests replace it). @default Date.now */
  now?: () => number;
}

/** Counters of {@link ProcessRecords}; they only grow. */
export interface ProcessRecordsStats {
  captured: number;
  refreshed: number;
  ended: number;
  freed: number;
  /** Captures that found the process gone or already another image (its samples stay unmapped). */
  missed: number;
  /** Live records dropped to stay within maxRecords. */
  evicted: number;
}

/** The records of every process image the profiler has seen and not yet emitted for the last time. */
export class ProcessRecords {
  readonly #reader: ProcessReader;
  readonly #max: number;
  readonly #procRoot: string;
  readonly #now: () => number;
  readonly #byInstance = new Map<number, ProcessRecord>();
  /** pid -> its newest record. */
  readonly #latest = new Map<number, ProcessRecord>();
  readonly #listeners: Array<(r: ProcessRecord, change: RecordChange) => void> = [];
  #window = 0;
  /** When the sweep last checked a record (window), so checks rotate. */
  readonly #checked = new WeakMap<ProcessRecord, number>();
  /** Instances already known to be uncapturable, so an event storm does not retry them. */
  readonly #missed = new Set<number>();
  /** Counters for metrics. */
  readonly stats: ProcessRecordsStats = {
    captured: 0,
    refreshed: 0,
    ended: 0,
    freed: 0,
    missed: 0,
    evicted: 0,
  };

  /** @param opts The reader and bounds. */
  constructor(opts: ProcessRecordsOptions) {
    this.#reader = opts.reader;
    this.#max = Math.max(1, opts.maxRecords ?? 16384);
    this.#procRoot = opts.procRoot ?? "/proc";
    this.#now = opts.now ?? Date.now;
  }

  /** Records held now (live and ended-but-not-yet-emitted). */
  get size(): number {
    return this.#byInstance.size;
  }

  /** Records of images that are still running. */
  get live(): number {
    let n = 0;
    for (const r of this.#byInstance.values()) if (r.endedInWindow === undefined) n++;
    return n;
  }

  /** Sequence number of the window being sampled now (starts at 0). */
  get window(): number {
    return this.#window;
  }

  /**
   * Subscribes to record changes (the unwinder loads tables on "captured" and "refreshed").
   *
   * @param listener Called synchronously after each change.
   */
  onChange(listener: (r: ProcessRecord, change: RecordChange) => void): void {
    this.#listeners.push(listener);
  }

  #emit(r: ProcessRecord, change: RecordChange): void {
    for (const l of this.#listeners) l(r, change);
  }

  /**
   * The record of an image.
   *
   * @param instance BPF's image id.
   * @returns The record, or undefined.
   */
  get(instance: number): ProcessRecord | undefined {
    return this.#byInstance.get(instance);
  }

  /**
   * The newest record of a pid (live or not).
   *
   * @param pid The process.
   * @returns The record, or undefined.
   */
  latest(pid: number): ProcessRecord | undefined {
    return this.#latest.get(pid);
  }

  /** @returns Every record, oldest first. */
  all(): ProcessRecord[] {
    return [...this.#byInstance.values()];
  }

  /**
   * Captures the record of an image (or returns the one already captured).
   *
   * @param pid The process.
   * @param image Which image BPF says it is.
   * @param stillCurrent Asked after /proc was read: false when the process has moved on to
   *   another image meanwhile (exec), so what was read may be the next image's. The capture is
   *   then dropped rather than attributed to the wrong image.
   * @returns The record, or undefined when the process is gone or not that image any more.
   */
  capture(
    pid: number,
    image: ImageRef,
    stillCurrent?: () => boolean,
  ): ProcessRecord | undefined {
    const known = this.#byInstance.get(image.instance);
    if (known && image.instance !== 0) return known;
    if (this.#missed.has(image.instance)) return undefined;
    const info = this.#reader.read(pid);
    const miss = () => this.#miss(image.instance);
    if (!info) return miss();
    if (image.startNs && !sameStart(image.startNs, info.startTimeTicks)) return miss();
    if (stillCurrent && !stillCurrent()) return miss();
    const now = this.#now();
    const exePath = info.exe.endsWith(" (deleted)") ? info.exe.slice(0, -10) : info.exe;
    const record: ProcessRecord = {
      ...info,
      instance: image.instance,
      execGeneration: image.execGeneration ?? 0,
      cgroup: this.#readCgroup(pid),
      executableFile: info.mappings.find((m) => m.path === exePath && m.file)?.file,
      capturedAt: now,
      refreshedAt: now,
      lastSampledWindow: this.#window,
      data: new Map(),
    };
    const previous = this.#latest.get(pid);
    if (previous && previous !== record && previous.endedInWindow === undefined) {
      // A newer image of the pid replaces the previous one (exec, or the pid reused).
      this.#end(previous, previous.startTimeTicks === record.startTimeTicks ? "exec" : "gone");
    }
    if (known) this.#byInstance.delete(known.instance);
    this.#byInstance.set(record.instance, record);
    this.#latest.set(pid, record);
    this.stats.captured++;
    this.#bound();
    this.#emit(record, "captured");
    return record;
  }

  /**
   * Notes an image that ended before it could be captured (its start and its exit were seen
   * together): it is never read, and counted as missed. A live previous image of the pid ends.
   *
   * @param pid The process.
   * @param instance BPF's image id.
   */
  gone(pid: number, instance: number): void {
    if (this.#byInstance.has(instance) || this.#missed.has(instance)) return;
    const previous = this.#latest.get(pid);
    if (previous && previous.endedInWindow === undefined) this.#end(previous, "exec");
    this.#miss(instance);
  }

  #miss(instance: number): undefined {
    this.stats.missed++;
    if (instance !== 0) {
      this.#missed.add(instance);
      if (this.#missed.size > this.#max) this.#missed.delete(this.#missed.values().next().value!);
    }
    return undefined;
  }

  /**
   * Re-reads the mappings of a live image (a mapping appeared: dlopen, new JIT code). Names,
   * command line and cgroup are kept from the capture.
   *
   * @param instance BPF's image id.
   * @param stillCurrent As for {@link capture}.
   * @returns The record, or undefined when it is unknown, ended, or the process is gone.
   */
  refresh(instance: number, stillCurrent?: () => boolean): ProcessRecord | undefined {
    const r = this.#byInstance.get(instance);
    if (!r || r.endedInWindow !== undefined) return undefined;
    const info = this.#reader.read(r.pid);
    if (!info || info.startTimeTicks !== r.startTimeTicks) return undefined;
    if (stillCurrent && !stillCurrent()) return undefined;
    r.mappings = info.mappings;
    r.execMappings = info.execMappings;
    r.refreshedAt = this.#now();
    this.stats.refreshed++;
    this.#emit(r, "refreshed");
    return r;
  }

  /**
   * Marks an image as ended (exit, exec) in the window being sampled now; it is freed once that
   * window has been emitted.
   *
   * @param instance BPF's image id.
   * @param reason Why.
   */
  end(instance: number, reason: "exit" | "exec" | "gone"): void {
    const r = this.#byInstance.get(instance);
    if (r && r.endedInWindow === undefined) this.#end(r, reason);
  }

  #end(r: ProcessRecord, reason: "exit" | "exec" | "gone"): void {
    r.endedInWindow = this.#window;
    r.endReason = reason;
    this.stats.ended++;
    this.#emit(r, "ended");
  }

  /**
   * Notes that an image had samples in a window (keeps it from being swept or evicted).
   *
   * @param record The record.
   * @param window The window's sequence number.
   */
  sampled(record: ProcessRecord, window: number): void {
    if (window > record.lastSampledWindow) record.lastSampledWindow = window;
  }

  /**
   * The sampler switched windows: samples taken from now on belong to the next window.
   *
   * @returns The sequence number of the window that just ended (the one to emit).
   */
  windowFlipped(): number {
    return this.#window++;
  }

  /**
   * A window has been emitted: frees every record that ended while it (or an earlier window)
   * was being sampled, since no later window can hold its samples.
   *
   * @param window Sequence number of the emitted window.
   * @returns Records freed.
   */
  windowEmitted(window: number): number {
    let freed = 0;
    for (const r of [...this.#byInstance.values()]) {
      if (r.endedInWindow !== undefined && r.endedInWindow <= window) {
        this.#free(r);
        freed++;
      }
    }
    return freed;
  }

  #free(r: ProcessRecord): void {
    this.#byInstance.delete(r.instance);
    if (this.#latest.get(r.pid) === r) this.#latest.delete(r.pid);
    this.stats.freed++;
    this.#emit(r, "freed");
  }

  /**
   * Ends live records whose process is gone or whose pid now belongs to another process: the
   * backstop for exit events that were lost. Only records not sampled for `idleWindows` windows
   * are checked, at most `max` per call, those checked longest ago first (one small /proc read
   * each), so the cost per window stays bounded whatever the number of idle processes.
   *
   * @param idleWindows Windows without samples before a record is checked.
   * @param max Records checked at most.
   * @returns Records ended.
   */
  sweep(idleWindows = 3, max = 64): number {
    const due: ProcessRecord[] = [];
    for (const r of this.#byInstance.values()) {
      if (r.endedInWindow === undefined && this.#window - r.lastSampledWindow >= idleWindows) {
        due.push(r);
      }
    }
    due.sort((a, b) => (this.#checked.get(a) ?? -1) - (this.#checked.get(b) ?? -1));
    let ended = 0;
    for (const r of due.slice(0, max)) {
      this.#checked.set(r, this.#window);
      let alive = false;
      try {
        const stat = procfs.readTextFileSync(`${this.#procRoot}/${r.pid}/stat`);
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // Field 22 (starttime) is the 20th after the command name.
        alive = Number(fields[19]) === r.startTimeTicks && fields[0] !== "Z";
      } catch {
        alive = false;
      }
      if (!alive) {
        this.#end(r, "gone");
        ended++;
      }
    }
    return ended;
  }

  #bound(): void {
    while (this.#byInstance.size > this.#max) {
      // Ended records go first (they are freed soon anyway), then the least recently sampled.
      let victim: ProcessRecord | undefined;
      for (const r of this.#byInstance.values()) {
        if (r.endedInWindow !== undefined) {
          victim = r;
          break;
        }
        if (!victim || r.lastSampledWindow < victim.lastSampledWindow) victim = r;
      }
      if (!victim) return;
      if (victim.endedInWindow === undefined) this.stats.evicted++;
      this.#free(victim);
    }
  }

  #readCgroup(pid: number): string {
    try {
      return procfs.readTextFileSync(`${this.#procRoot}/${pid}/cgroup`);
    } catch {
      return "";
    }
  }
}

/**
 * Whether a start time from BPF (ns since boot) is the one /proc/PID/stat shows in clock ticks.
 *
 * @param startNs task->group_leader->start_boottime.
 * @param ticks starttime from /proc/PID/stat.
 * @returns True when they name the same instant (the kernel truncates to ticks).
 */
export function sameStart(startNs: bigint, ticks: number): boolean {
  return startNs / (1_000_000_000n / BigInt(USER_HZ)) === BigInt(ticks);
}
