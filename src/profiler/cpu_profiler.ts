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

import {
  type DrainResult,
  EventType,
  type InterpMaps,
  type ProcessEvent,
  ProfilerObject,
  type ProfilerObjectOptions,
  type Sampler,
} from "../bpf/mod.ts";
import { type LabelManager, labelMetrics } from "../labels/mod.ts";
import { getLogger } from "../log/mod.ts";
import { metrics } from "../metrics/mod.ts";
import {
  buildProfile,
  encodeProfile,
  type InterpSymbolizer,
  type JitSymbolizer,
  type Profile,
} from "../pprof/mod.ts";
import type { ExecutableMapping, ProcessRecord, ProcessRecords } from "../process/mod.ts";
import { beginWindowSpan, endWindowSpan, recordSpan } from "../tracing/mod.ts";
import type { KernelSymbols, VdsoSymbols } from "../symbolize/mod.ts";
import type { UnwinderHooks } from "../unwind/mod.ts";
import { assembleWindow, type WindowSample } from "./window.ts";

const log = getLogger("profiler");

/** Events are read at most this often (a burst is handled as one batch). */
const EVENT_BATCH_MS = 10;

/**
 * A window's work gives the event loop a turn after this much of it (HTTP requests such as
 * /ready, events), so a window end with many processes on a busy host is not one long stall. An
 * HTTP request needs a few turns (accept, read, write), and on a busy host each millisecond of
 * CPU is several of wall time: slices are short (a turn costs tens of microseconds).
 */
const WINDOW_SLICE_MS = 3;

/** Lets timers and I/O callbacks run (a macrotask turn, not a microtask). */
const yieldToLoop = () => new Promise<void>((r) => setTimeout(r, 0));

/** The `type` label of parca_agent_process_events_total, by enum event_type value. */
const EVENT_TYPE_NAMES: Record<number, string> = {
  [EventType.NEW_PROCESS]: "new_process",
  [EventType.MAPPINGS_CHANGED]: "mappings_changed",
  [EventType.EXEC]: "exec",
  [EventType.EXIT]: "exit",
};

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
   * Which of the pid's profiles this is in its window, 0 for the first: a pid has more than one
   * when a relabel rule keeps a thread label, and one per image when it exec'd or was reused by
   * another process within the window.
   */
  series?: number;
}

/** Receives every profile the profiler makes. */
export interface ProfileSink {
  /** Called once per profile; failures must be handled inside (they are logged if thrown). */
  write(p: ProcessProfile): Promise<void> | void;
  /**
   * Called when a window starts to end (before its maps are drained): its profiles follow, then
   * {@link ProfileSink.windowEmitted}. Lets a sink tell "no such profile" from "not out yet".
   */
  windowEmitting?(): void;
  /** Called when every profile of the window that {@link ProfileSink.windowEmitting} began is out. */
  windowEmitted?(): void;
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

/** What the profiler tells the interpreter unwinders (src/interp) and asks of them. */
export interface InterpreterHooks {
  /** The sampler is loaded: start writing its pid_to_interp map. */
  attach(maps: InterpMaps): void;
  /** Names the interpreter frames of one process image. */
  symbolizer(pid: number, instance: number): InterpSymbolizer;
  /** A window ended; these pids had samples in it. */
  windowEnded(pids: ReadonlySet<number>): void;
  /** The profiler stops. */
  close(): void;
}

/** Names JIT code (perf maps, jitdump: src/symbolize). */
export interface JitHooks {
  /** The namer of one process's JIT code, if it has any (`info`: what src/process read). */
  symbolizer(
    pid: number,
    info?: { startTimeTicks: number; mappings: ReadonlyArray<{ path: string }> },
  ): JitSymbolizer | undefined;
  /** A window ended; these pids had samples in it. */
  windowEnded(pids: ReadonlySet<number>): void;
}

/** Opens the sampler (tests pass a fake). */
export type SamplerFactory = (opts: ProfilerObjectOptions) => Sampler;

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
  /** Time the interpreter walk in BPF (for benchmarks: the interp_ns counter). */
  interpTiming?: boolean;
  /** Loads unwind tables for the processes BPF asks about; absent: frame pointers only. */
  unwinder?: UnwinderHooks;
  /** The records of process images: what each profile's mappings and labels come from. */
  records: ProcessRecords;
  /**
   * How often BPF's events are read (new images, execs, exits, changed mappings).
   *
   * @default {100}
   */
  eventPollIntervalMs?: number;
  /** Opens the sampler. @default ProfilerObject.open */
  openSampler?: SamplerFactory;
  /** Walks and names Python and Ruby frames; absent: none are walked. */
  interpreters?: InterpreterHooks;
  /** Names JIT code; absent: JIT frames stay addresses. */
  jit?: JitHooks;
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
  #obj: Sampler | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #eventLoop: Promise<void> | undefined;
  #windowStart = 0; // ms since epoch
  #windowStartNanos = 0n;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;
  /** performance.now() past which a stopping profiler writes no more profiles. */
  #flushBy = Infinity;
  /** How long the current window's drain and event reading took, for its debug line. */
  #windowTimes = { drainMs: 0, eventsMs: 0 };
  #lastCounters = new Map<string, number>();
  /** Record counters already added to the metrics. */
  #reported = { captured: 0, missed: 0 };
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
    const open = this.#opts.openSampler ?? ((o) => ProfilerObject.open(o));
    const obj = open({
      objectPath: this.#opts.objectPath,
      verbose: this.#opts.verbose,
      dwarfEnabled: this.#opts.dwarfEnabled,
      mixedMode: this.#opts.mixedMode,
      eventsBufferBytes: this.#opts.eventsBufferBytes,
      interpTiming: this.#opts.interpTiming,
      ...cap,
    });
    try {
      obj.attach(this.#opts.cpus, this.#opts.frequencyHz);
    } catch (e) {
      obj.close();
      throw e;
    }
    this.#obj = obj;
    this.#opts.unwinder?.attach(obj.unwindMaps, this.#opts.records);
    this.#opts.interpreters?.attach(obj.interpMaps);
    this.#eventLoop = this.#readEvents(obj);
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
   *
   * Shutdown is ordered so that nothing touches a BPF map after it is closed, and nothing is
   * done that only a later window would use: sampling stops, the unwinder stops (its table
   * builds still running are abandoned, not loaded), the last window is drained and emitted
   * (without the end-of-window work that prepares the next one), and only then are the maps
   * closed.
   *
   * @param flushMs How long the profiles of the window being emitted and of the final one may
   *   take to be written, from now: a host so busy that they take longer loses the rest (counted
   *   as stacks dropped, reason `shutdown`) rather than the whole shutdown's deadline.
   */
  async stop(flushMs = Infinity): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#flushBy = performance.now() + flushMs;
    // How long each phase took, in the debug log: a prompt exit is what `systemctl stop` expects.
    const phases: Record<string, number> = {};
    let t = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      phases[name] = Math.round(now - t);
      t = now;
    };
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#obj?.wakeWaiter();
    await this.#running.catch(() => {});
    phase("runningWindowMs");
    await this.#eventLoop;
    phase("eventWaitMs");
    const obj = this.#obj;
    if (!obj) return;
    // Stop sampling first so the flushed window is final.
    obj.detach();
    phase("detachMs");
    // Then the unwinder: a table still being built could only be loaded into maps nothing
    // samples any more, so its build is abandoned and its worker terminated before the final
    // window, which gets the CPUs to itself (on a busy 2-core host the builds' workers and their
    // loads into BPF doubled its time).
    try {
      await this.#opts.unwinder?.close();
    } catch (e) {
      log.warn("unwinder did not stop cleanly", { error: (e as Error).message });
    }
    phase("unwinderMs");
    try {
      await this.#endWindow(true);
    } catch (e) {
      log.error("final window failed", { error: (e as Error).message });
    }
    phase("finalWindowMs");
    this.#opts.interpreters?.close();
    phase("interpretersMs");
    obj.close();
    phase("mapsMs");
    this.#obj = undefined;
    log.debug("profiler stopped", phases);
  }

  /**
   * Reads BPF's events as they come (an exec is captured within milliseconds, before its image
   * is sampled much), at most every {@link EVENT_BATCH_MS} in a storm. While none come the wait
   * sleeps in the kernel (epoll, no timeout): an always-on agent must not wake up every few
   * milliseconds for nothing. Only while a record is still being written (its commit may not
   * wake the wait) is the buffer polled, every `eventPollIntervalMs`.
   */
  async #readEvents(obj: Sampler): Promise<void> {
    const interval = this.#opts.eventPollIntervalMs ?? 100;
    while (!this.#stopped) {
      try {
        await obj.waitForEvents(obj.eventsPending ? interval : Infinity);
      } catch (e) {
        metrics.errors.inc({ kind: "events" });
        log.warn("cannot wait for BPF events; reading them on a timer", {
          error: (e as Error).message,
        });
        await new Promise((r) => setTimeout(r, interval));
      }
      if (this.#stopped) return;
      this.#pumpEvents();
      // The rest of a burst is read as one batch.
      await new Promise((r) => setTimeout(r, EVENT_BATCH_MS));
    }
  }

  /**
   * Reads BPF's events and updates the records (then tells the unwinder).
   *
   * @param by Handle no event after this time (performance.now()): the final window's read at
   *   shutdown is held to the flush time, each event being a capture (/proc reads, ~1–2 ms; a
   *   busy host's backlog took 575 ms). The rest are counted as dropped; a sampled image among
   *   them is still captured for its profile, within the same time.
   */
  #pumpEvents(by = Infinity): void {
    const obj = this.#obj;
    if (!obj) return;
    try {
      // One batch: an image that began and ended within it (a short job in an exec storm) is
      // gone already, so its /proc is not read at all.
      const t0 = performance.now();
      const batch: ProcessEvent[] = [];
      obj.consumeEvents((e) => void batch.push(e));
      if (batch.length === 0) return;
      const exited = new Set<number>();
      for (const e of batch) if (e.type === EventType.EXIT) exited.add(e.instance);
      let handled = 0;
      for (const e of batch) {
        if (performance.now() > by) break;
        this.#onEvent(obj, e, exited);
        handled++;
      }
      if (handled < batch.length) {
        metrics.processEventsDropped.inc({ reason: "shutdown" }, batch.length - handled);
      }
      metrics.processEventBatchSeconds.observe((performance.now() - t0) / 1000);
    } catch (e) {
      metrics.errors.inc({ kind: "events" });
      log.warn("cannot read BPF events", { error: (e as Error).message });
    }
  }

  #onEvent(obj: Sampler, e: ProcessEvent, exited: ReadonlySet<number>): void {
    const records = this.#opts.records;
    metrics.processEvents.inc({ type: EVENT_TYPE_NAMES[e.type] ?? "unknown" });
    // What was read from /proc belongs to the image only if the pid is still that image after
    // the read (an exec in between would have given the new image's mappings).
    const current = (instance: number) => () => obj.instanceOf(e.pid)?.id === instance;
    const ref = { instance: e.instance, startNs: e.startNs, execGeneration: e.execGeneration };
    let record: ProcessRecord | undefined;
    if ((e.type === EventType.NEW_PROCESS || e.type === EventType.EXEC) && exited.has(e.instance)) {
      records.gone(e.pid, e.instance);
      this.#opts.unwinder?.event(e, undefined);
      return;
    }
    switch (e.type) {
      case EventType.NEW_PROCESS:
        record = e.instance ? records.capture(e.pid, ref, current(e.instance)) : undefined;
        break;
      case EventType.EXEC: {
        const previous = records.latest(e.pid);
        if (previous && previous.instance !== e.instance) records.end(previous.instance, "exec");
        record = records.capture(e.pid, ref, current(e.instance));
        break;
      }
      case EventType.MAPPINGS_CHANGED: {
        const latest = records.latest(e.pid);
        record = latest && latest.endedInWindow === undefined
          ? records.refresh(latest.instance, current(latest.instance)) ?? latest
          : undefined;
        break;
      }
      case EventType.EXIT:
        records.end(e.instance, "exit");
        record = records.get(e.instance);
        break;
    }
    this.#opts.unwinder?.event(e, record);
  }

  /**
   * The record of a window's image: the captured one, or one captured now when its event was
   * lost or not read yet and the process still runs that image.
   */
  #recordOf(obj: Sampler, pid: number, instance: number): ProcessRecord | undefined {
    const records = this.#opts.records;
    if (instance === 0) return records.latest(pid);
    return records.get(instance) ??
      records.capture(pid, { instance }, () => obj.instanceOf(pid)?.id === instance);
  }

  /** @param final The last window, at shutdown: nothing is prepared for a next one. */
  async #endWindow(final = false): Promise<void> {
    const obj = this.#obj;
    if (!obj) return;
    for (const sink of this.#opts.sinks) sink.windowEmitting?.();
    try {
      await this.#drainAndEmit(obj, final);
    } finally {
      for (const sink of this.#opts.sinks) sink.windowEmitted?.();
    }
  }

  async #drainAndEmit(obj: Sampler, final: boolean): Promise<void> {
    const startNanos = this.#windowStartNanos;
    const startMs = this.#windowStart;
    const t0 = performance.now();
    beginWindowSpan(startMs, { "profiling.duration_ms": this.#opts.durationMs });
    const drained = await obj.flipAndDrain();
    recordSpan("profiling.drain", t0, { "profiling.stacks": drained.entries.length }, {
      inWindow: true,
    });
    const window = this.#opts.records.windowFlipped();
    const endMs = Date.now();
    metrics.mapReadSeconds.observe((performance.now() - t0) / 1000);
    this.#beginWindow();
    this.#recordBpfStats(obj, drained);
    const t1 = performance.now();
    // Images first sampled in this window: their events may still be unread.
    this.#pumpEvents(final ? this.#flushBy : Infinity);
    this.#windowTimes = {
      drainMs: Math.round(t1 - t0),
      eventsMs: Math.round(performance.now() - t1),
    };
    await this.#emitProfiles(
      obj,
      drained,
      window,
      startNanos,
      BigInt(endMs - startMs) * 1_000_000n,
      final,
    );
    const records = this.#opts.records;
    const freed = records.windowEmitted(window);
    records.sweep();
    metrics.processRecords.set({ state: "live" }, records.live);
    metrics.processRecords.set({ state: "ended" }, records.size - records.live);
    metrics.processRecordsFreed.inc(freed);
    const { captured, missed } = records.stats;
    metrics.processRecordsCaptured.inc(captured - this.#reported.captured);
    metrics.processRecordsMissed.inc(missed - this.#reported.missed);
    this.#reported = { captured, missed };
    recordSpan("profiling.build", t1, { "profiling.processes": this.#status.length }, {
      inWindow: true,
    });
    endWindowSpan();
    metrics.windowSeconds.observe((performance.now() - t1) / 1000);
    metrics.windows.inc();
    this.#lastWindowEnd = new Date(endMs);
  }

  #recordBpfStats(obj: Sampler, drained: DrainResult): void {
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
      const stats = obj.programStats();
      metrics.bpfProgramRuns.set({ program: "profile_cpu" }, stats.runs);
      metrics.bpfProgramRunSeconds.set({ program: "profile_cpu" }, stats.runTimeNs / 1e9);
    } catch (e) {
      log.debug("cannot read BPF counters", { error: (e as Error).message });
    }
  }

  async #emitProfiles(
    obj: Sampler,
    drained: DrainResult,
    window: number,
    startNanos: bigint,
    durationNanos: bigint,
    final: boolean,
  ): Promise<void> {
    const tEmit = performance.now();
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
    const sampled = new Set<ProcessRecord>();
    const seriesOfPid = new Map<number, number>();
    let sliceStart = performance.now();
    let unwritten = 0;
    let unwrittenStacks = 0;
    for (const proc of processes.values()) {
      if (performance.now() - sliceStart > WINDOW_SLICE_MS) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
      if (performance.now() > this.#flushBy) {
        unwritten++;
        unwrittenStacks += proc.samples.length;
        continue;
      }
      const info = this.#recordOf(obj, proc.pid, proc.instance);
      if (info) {
        this.#opts.records.sampled(info, window);
        sampled.add(info);
      } else {
        metrics.samplesWithoutRecord.inc(proc.total);
      }
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
          reason: "exited before its mappings could be read",
        });
      }
      // Series are numbered per pid, across the images of the pid in this window (an exec or a
      // reused pid gives a second image): each profile of the window gets a name of its own.
      let index = seriesOfPid.get(proc.pid) ?? 0;
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
          }, {
            kernel: this.#opts.kernelSymbols,
            vdso: this.#opts.vdsoSymbols,
            interp: this.#opts.interpreters?.symbolizer(proc.pid, proc.instance),
            jit: this.#opts.jit?.symbolizer(proc.pid, info),
          });
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
          series: index,
        };
        seriesOfPid.set(proc.pid, ++index);
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
    if (unwritten > 0) {
      metrics.stacksDropped.inc({ reason: "shutdown" }, unwrittenStacks);
      log.warn("stopping: profiles of the last window not written within the flush time", {
        processes: unwritten,
        stacks: unwrittenStacks,
      });
    }
    const tHooks = performance.now();
    // What the hooks do is for the next window (examine new processes for interpreters: their
    // ELF symbols read, a table build queued; forget exited ones): at shutdown there is none.
    if (!final) {
      this.#opts.unwinder?.windowEnded(sampled);
      const pids = new Set([...processes.values()].map((p) => p.pid));
      this.#opts.interpreters?.windowEnded(pids);
      this.#opts.jit?.windowEnded(pids);
    }
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
      ...this.#windowTimes,
      emitMs: Math.round(tHooks - tEmit),
      hooksMs: Math.round(performance.now() - tHooks),
    });
  }
}
