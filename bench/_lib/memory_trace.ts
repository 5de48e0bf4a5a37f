// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A process's memory over time, read from outside: `/proc/PID/status` (VmRSS, RssAnon,
 * RssFile, VmHWM, Threads) and `/proc/PID/smaps_rollup` (Anonymous, Private_Dirty) every
 * `intervalMs`, so a benchmark can say when the peak came and what it was made of (anonymous
 * memory, which table workers' wasm memory and isolates are, or file pages of the binary).
 *
 * @module
 */

/** One sample, sizes in MiB. */
export interface MemorySample {
  /** Seconds since the trace started. */
  t: number;
  rss: number;
  anon: number;
  file: number;
  hwm: number;
  threads: number;
  /** smaps_rollup's Private_Dirty (what the process alone wrote). */
  privateDirty: number;
}

const kib = (text: string, field: string) =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? NaN) / 1024;

/**
 * Reads one sample.
 *
 * @param pid The process.
 * @param t Seconds to record as its time.
 * @returns The sample, or undefined when the process is gone.
 */
export function sampleMemory(pid: number, t: number): MemorySample | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    return {
      t,
      rss: kib(status, "VmRSS"),
      anon: kib(status, "RssAnon"),
      file: kib(status, "RssFile"),
      hwm: kib(status, "VmHWM"),
      threads: Number(/^Threads:\s+(\d+)$/m.exec(status)?.[1] ?? NaN),
      privateDirty: kib(rollup, "Private_Dirty"),
    };
  } catch {
    return undefined;
  }
}

/** A running trace: {@link MemoryTrace.stop} ends it and returns the samples. */
export class MemoryTrace {
  readonly samples: MemorySample[] = [];
  readonly #t0 = performance.now();
  readonly #timer: ReturnType<typeof setInterval>;

  /**
   * Starts sampling at once.
   *
   * @param pid The process.
   * @param intervalMs Time between samples.
   * @param seconds Sampling stops by itself after this long.
   */
  constructor(pid: number, intervalMs = 100, seconds = 60) {
    const tick = () => {
      const t = (performance.now() - this.#t0) / 1000;
      if (t > seconds) {
        this.stop();
        return;
      }
      const s = sampleMemory(pid, t);
      if (s) this.samples.push(s);
    };
    this.#timer = setInterval(tick, intervalMs);
    tick();
  }

  /**
   * Stops sampling.
   *
   * @returns The samples so far.
   */
  stop(): MemorySample[] {
    clearInterval(this.#timer);
    return this.samples;
  }
}

/** Where a trace's peak was, and what the process was made of then. */
export interface PeakSummary {
  /** The sample with the largest VmRSS. */
  atPeak: MemorySample | undefined;
  /** The largest RssAnon and RssFile seen (not necessarily at the same time). */
  maxAnon: number;
  maxFile: number;
  /** The largest thread count seen (each table worker adds threads). */
  maxThreads: number;
}

/**
 * Summarizes a trace.
 *
 * @param samples The trace.
 * @returns Its peak and maxima.
 */
export function peakOf(samples: MemorySample[]): PeakSummary {
  let atPeak: MemorySample | undefined;
  for (const s of samples) if (!atPeak || s.rss > atPeak.rss) atPeak = s;
  const max = (f: (s: MemorySample) => number) => samples.reduce((m, s) => Math.max(m, f(s)), 0);
  return {
    atPeak,
    maxAnon: max((s) => s.anon),
    maxFile: max((s) => s.file),
    maxThreads: max((s) => s.threads),
  };
}

/**
 * A trace as CSV (one line a sample), for plotting or reading the start-up order.
 *
 * @param samples The trace.
 * @returns The text.
 */
export function traceCsv(samples: MemorySample[]): string {
  const f = (x: number) => x.toFixed(1);
  return [
    "t_s,rss_mib,anon_mib,file_mib,hwm_mib,threads,private_dirty_mib",
    ...samples.map((s) =>
      [s.t.toFixed(2), f(s.rss), f(s.anon), f(s.file), f(s.hwm), s.threads, f(s.privateDirty)]
        .join(",")
    ),
  ].join("\n") + "\n";
}
