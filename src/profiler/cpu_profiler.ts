// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The CPU profiler: owns the BPF sampler and, every profiling window, drains it and turns what
 * it sampled into one pprof profile per process and series (the final label set of its threads,
 * from src/labels), handed to every sink (local store, /query). Series that a relabel rule drops
 * are not built.
 *
 * Windows are timed against the clock, not chained sleeps, so a slow window does not shift the
 * ones after it. The BPF maps are double-buffered (see bpf/maps.h), so sampling never pauses.
 *
 * @module
 */

import { type DrainResult, ProfilerObject, readProgramStats } from "../bpf/mod.ts";
import { type LabelManager, labelMetrics } from "../labels/mod.ts";
import { getLogger } from "../log/mod.ts";
import { metrics } from "../metrics/mod.ts";
import { buildProfile, encodeProfile, type Profile } from "../pprof/mod.ts";
import { beginWindowSpan, endWindowSpan, recordSpan } from "../tracing/mod.ts";
import type { ExecutableMapping, ProcessReader } from "../process/mod.ts";
import type { KernelSymbols, VdsoSymbols } from "../symbolize/mod.ts";
import { assembleWindow, type WindowSample } from "./window.ts";

const log = getLogger("profiler");

/** The name of the profiles this profiler makes (`__name__`). */
export const PROFILER_NAME = "parca_agent_cpu";

/** A finished per-process profile, as handed to sinks. */
export interface ProcessProfile {
  pid: number;
  /** Series labels, `__name__` first. */
  labels: Record<string, string>;
  profile: Profile;
  /** gzip-compressed pprof. */
  pprof: Uint8Array;
  timeNanos: bigint;
  samples: number;
  /**
   * The executable mappings the profile was built from, in pprof mapping order (pprof mapping
   * i + 1 is `mappings[i]`; a `[kernel.kallsyms]` mapping may follow them). The remote store
   * sends their ELF type and load segment as `executable_info`.
   */
  mappings?: ExecutableMapping[];
  /**
   * Which of the process's series this is in its window, 0 for the first: a process has more
   * than one only when a relabel rule keeps a thread label.
   */
  series?: number;
}

/** Receives every profile the profiler makes. */
export interface ProfileSink {
  /** Called once per profile; failures must be handled inside (they are logged if thrown). */
  write(p: ProcessProfile): Promise<void> | void;
}

/** What the profiler knows about a process from the last window. */
export interface ProcessStatus {
  pid: number;
  labels: Record<string, string>;
  samples: number;
  /** `dropped`: a relabel rule dropped the series; it was not profiled further, nor sent. */
  status: "active" | "error" | "dropped";
  lastError?: string;
  /** The process's labels before relabeling. */
  rawLabels?: Record<string, string>;
}

/** What the profiler tells the unwinder (src/unwind) about its life cycle. */
export interface UnwinderHooks {
  /** The BPF object is loaded: start serving its events and maps. */
  attach(obj: ProfilerObject): void;
  /** A window ended; these pids had samples in it. */
  windowEnded(pids: ReadonlySet<number>): void;
  /** The profiler stops: stop reading events and release tables. */
  close(): void;
}

/** Options of {@link CpuProfiler}. */
export interface CpuProfilerOptions {
  objectPath: string;
  frequencyHz: number;
  durationMs: number;
  cpus: number[];
  /** The labels of each process and thread, after relabeling. */
  labels: LabelManager;
  verbose: boolean;
  /** Walk user stacks with unwind tables (false: frame pointers only). */
  dwarfEnabled: boolean;
  /** Frame pointers for JIT code (false: such frames end the walk with an error). */
  mixedMode: boolean;
  /** Events ring buffer size in bytes. */
  eventsBufferBytes: number;
  /** Loads unwind tables for the processes BPF asks about; absent: frame pointers only. */
  unwinder?: UnwinderHooks;
  processes: ProcessReader;
  kernelSymbols?: KernelSymbols;
  vdsoSymbols?: VdsoSymbols;
  sinks: ProfileSink[];
}

/**
 * Map capacities for a host: room for every sample of a window to be distinct (CPUs × frequency
 * × seconds, with 25 % headroom), rounded up to a power of two; stacks get twice that (a user and
 * a kernel stack per sample). Bounded so a huge host cannot lock unbounded kernel memory.
 *
 * @param cpus Online CPUs.
 * @param frequencyHz Samples per second per CPU.
 * @param durationMs Window length.
 * @returns max_entries for the counts and stacks maps.
 */
export function mapCapacity(
  cpus: number,
  frequencyHz: number,
  durationMs: number,
): { countEntries: number; stackEntries: number } {
  const samples = Math.ceil(cpus * frequencyHz * (durationMs / 1000) * 1.25);
  let count = 1024;
  while (count < samples && count < 65536) count *= 2;
  return { countEntries: count, stackEntries: count * 2 };
}

/** Samples every CPU and makes per-process profiles every window. */
export class CpuProfiler {
  readonly #opts: CpuProfilerOptions;
  #obj: ProfilerObject | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #windowStart = 0; // ms since epoch
  #windowStartNanos = 0n;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  #lastCounters = new Map<string, number>();
  #status: ProcessStatus[] = [];
  #lastError: string | undefined;
  #lastWindowEnd: Date | undefined;

  /** @param opts What to sample and where profiles go. */
  constructor(opts: CpuProfilerOptions) {
    this.#opts = opts;
  }

  /** True once the program is attached and the first window is running. */
  get ready(): boolean {
    return this.#obj !== undefined && !this.#stopped;
  }

  /** When the current window started. */
  get windowStartedAt(): Date | undefined {
    return this.#obj ? new Date(this.#windowStart) : undefined;
  }

  /** When the last window ended. */
  get lastWindowEndedAt(): Date | undefined {
    return this.#lastWindowEnd;
  }

  /** The last error of a window, if the last window had one. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Processes of the last window. */
  processes(): ProcessStatus[] {
    return [...this.#status];
  }

  /**
   * Loads and attaches the BPF program, then starts the window timer.
   *
   * @throws {NativeError} When loading or attaching fails (nothing stays attached).
   */
  start(): void {
    const cap = mapCapacity(this.#opts.cpus.length, this.#opts.frequencyHz, this.#opts.durationMs);
    const obj = ProfilerObject.open({
      objectPath: this.#opts.objectPath,
      verbose: this.#opts.verbose,
      dwarfEnabled: this.#opts.dwarfEnabled,
      mixedMode: this.#opts.mixedMode,
      eventsBufferBytes: this.#opts.eventsBufferBytes,
      ...cap,
    });
    try {
      obj.attach(this.#opts.cpus, this.#opts.frequencyHz);
    } catch (e) {
      obj.close();
      throw e;
    }
    this.#obj = obj;
    this.#opts.unwinder?.attach(obj);
    metrics.numCpu.set(this.#opts.cpus.length);
    this.#beginWindow();
    log.info("profiling", {
      cpus: this.#opts.cpus.length,
      frequencyHz: this.#opts.frequencyHz,
      durationMs: this.#opts.durationMs,
      countEntries: cap.countEntries,
      stackEntries: cap.stackEntries,
    });
    this.#schedule();
  }

  #beginWindow(): void {
    this.#windowStart = Date.now();
    // Nanosecond precision from the monotonic clock's sub-millisecond part, anchored to wall time.
    this.#windowStartNanos = BigInt(this.#windowStart) * 1_000_000n;
  }

  #schedule(): void {
    const due = this.#windowStart + this.#opts.durationMs;
    this.#timer = setTimeout(() => {
      this.#running = this.#running.then(() => this.#endWindow()).catch((e) => {
        this.#lastError = (e as Error).message;
        metrics.errors.inc({ kind: "window" });
        log.error("profiling window failed", { error: (e as Error).message });
      }).finally(() => {
        if (!this.#stopped) this.#schedule();
      });
    }, Math.max(0, due - Date.now()));
  }

  /**
   * Ends the window now (flushing what was sampled), detaches everything and unloads. Safe to
   * call twice.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running.catch(() => {});
    const obj = this.#obj;
    if (!obj) return;
    // Stop sampling first so the flushed window is final, then drain it.
    obj.detach();
    try {
      await this.#endWindow();
    } catch (e) {
      log.error("final window failed", { error: (e as Error).message });
    }
    this.#opts.unwinder?.close();
    obj.close();
    this.#obj = undefined;
  }

  async #endWindow(): Promise<void> {
    const obj = this.#obj;
    if (!obj) return;
    const startNanos = this.#windowStartNanos;
    const startMs = this.#windowStart;
    const t0 = performance.now();
    beginWindowSpan(startMs, { "profiling.duration_ms": this.#opts.durationMs });
    const drained = await obj.flipAndDrain();
    recordSpan("profiling.drain", t0, { "profiling.stacks": drained.entries.length }, {
      inWindow: true,
    });
    const endMs = Date.now();
    metrics.mapReadSeconds.observe((performance.now() - t0) / 1000);
    this.#beginWindow();
    this.#recordBpfStats(obj, drained);
    const t1 = performance.now();
    await this.#emitProfiles(drained, startNanos, BigInt(endMs - startMs) * 1_000_000n);
    recordSpan("profiling.build", t1, { "profiling.processes": this.#status.length }, {
      inWindow: true,
    });
    endWindowSpan();
    metrics.windowSeconds.observe((performance.now() - t1) / 1000);
    metrics.windows.inc();
    this.#lastWindowEnd = new Date(endMs);
  }

  #recordBpfStats(obj: ProfilerObject, drained: DrainResult): void {
    for (const err of drained.errors) {
      metrics.mapReadErrors.inc({ map: err.map, error: err.error });
      log.warn("BPF map read failed; the window may be incomplete", err);
    }
    try {
      for (const [name, total] of obj.readCounters()) {
        const delta = total - (this.#lastCounters.get(name) ?? 0);
        if (delta > 0) metrics.bpfSampleEvents.inc({ outcome: name }, delta);
        this.#lastCounters.set(name, total);
        if (delta > 0 && (name === "count_map_full" || name === "stack_map_full")) {
          log.warn("BPF map full: samples or stacks were dropped", { map: name, count: delta });
        }
      }
      const stats = readProgramStats(obj.programFd);
      metrics.bpfProgramRuns.set({ program: "profile_cpu" }, stats.runs);
      metrics.bpfProgramRunSeconds.set({ program: "profile_cpu" }, stats.runTimeNs / 1e9);
    } catch (e) {
      log.debug("cannot read BPF counters", { error: (e as Error).message });
    }
  }

  async #emitProfiles(
    drained: DrainResult,
    startNanos: bigint,
    durationNanos: bigint,
  ): Promise<void> {
    const { processes, stats } = assembleWindow(
      drained.entries,
      drained.userStacks,
      drained.kernelStacks,
    );
    let samples = 0;
    for (const e of drained.entries) samples += e.count;
    metrics.samplesRead.inc(samples);
    metrics.stacksRead.inc(drained.entries.length);
    if (stats.missingStacks > 0) {
      metrics.stacksDropped.inc({ reason: "stack_missing" }, stats.missingStacks);
    }
    for (const [marker, n] of stats.markers) {
      metrics.stacksDropped.inc({ reason: `marked:${marker}` }, n);
    }
    this.#opts.kernelSymbols?.refreshIfChanged();
    const status: ProcessStatus[] = [];
    for (const proc of processes.values()) {
      const info = this.#opts.processes.read(proc.pid);
      const labeler = await this.#opts.labels.process(proc.pid, info, proc.comm);
      // Samples go to the series of their thread's final labels; a dropped series costs
      // nothing more this window.
      const series = new Map<
        string,
        { labels: Record<string, string>; samples: WindowSample[]; total: number }
      >();
      let dropped = 0;
      for (const s of proc.samples) {
        const l = labeler.thread(s.tid, s.threadName);
        if (!l) {
          dropped += s.count;
          continue;
        }
        let g = series.get(l.key);
        if (!g) series.set(l.key, g = { labels: l.labels, samples: [], total: 0 });
        g.samples.push(s);
        g.total += s.count;
      }
      if (dropped > 0) {
        labelMetrics.seriesDropped.inc();
        const visible: Record<string, string> = {};
        for (const [k, v] of Object.entries(labeler.raw)) if (!k.startsWith("__")) visible[k] = v;
        status.push({
          pid: proc.pid,
          labels: visible,
          samples: dropped,
          status: "dropped",
          rawLabels: labeler.raw,
        });
      }
      if (!info && series.size > 0) {
        log.debug("process has no mappings; user frames stay unmapped addresses", {
          pid: proc.pid,
          comm: proc.comm,
          reason: "exited before the end of the window",
        });
      }
      let index = 0;
      for (const { labels, samples: groupSamples, total } of series.values()) {
        const entry: ProcessStatus = {
          pid: proc.pid,
          labels,
          samples: total,
          status: "active",
          rawLabels: labeler.raw,
        };
        status.push(entry);
        if (!info) entry.lastError = "process exited before its mappings could be read";
        let profile: Profile;
        let pprof: Uint8Array;
        try {
          profile = buildProfile({
            startNanos,
            durationNanos,
            frequencyHz: this.#opts.frequencyHz,
            mappings: info?.mappings ?? [],
            samples: groupSamples,
          }, { kernel: this.#opts.kernelSymbols, vdso: this.#opts.vdsoSymbols });
          pprof = encodeProfile(profile);
        } catch (e) {
          entry.status = "error";
          entry.lastError = (e as Error).message;
          metrics.errors.inc({ kind: "pprof" });
          log.warn("cannot build profile", { pid: proc.pid, error: (e as Error).message });
          continue;
        }
        const out: ProcessProfile = {
          pid: proc.pid,
          labels,
          profile,
          pprof,
          timeNanos: startNanos,
          samples: total,
          mappings: info?.mappings ?? [],
          series: index++,
        };
        for (const sink of this.#opts.sinks) {
          try {
            await sink.write(out);
          } catch (e) {
            metrics.errors.inc({ kind: "sink" });
            log.warn("profile sink failed", { pid: proc.pid, error: (e as Error).message });
          }
        }
      }
    }
    this.#opts.unwinder?.windowEnded(new Set(processes.keys()));
    metrics.processes.set(processes.size);
    this.#status = status;
    this.#lastError = drained.errors.length
      ? `map read failed: ${drained.errors.map((e) => `${e.map} ${e.error}`).join(", ")}`
      : undefined;
    log.debug("window done", {
      processes: processes.size,
      samples,
      userStacks: drained.userStacks.size,
      kernelStacks: drained.kernelStacks.size,
    });
  }
}
