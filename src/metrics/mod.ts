// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The agent's Prometheus metrics, in one registry served on `/metrics`.
 *
 * Where metrics live: the profiler's, the process records' and the agent process's own are
 * declared here (`metrics`); each concern with metrics of its own declares them next to its
 * code, on this same {@link registry}: `src/unwind/metrics.ts` (`parca_agent_unwind_*`: events,
 * table builds, tracked processes, rows), `src/labels/metrics.ts` (`parca_agent_labels_*`:
 * metadata caches and providers) and `src/store/remote/metrics.ts` (`parca_agent_remote_*`:
 * profiles and debuginfo sent). Names follow `parca_agent_<concern>_<what>[_total|_seconds]`.
 * Process metrics (CPU seconds, RSS, open fds) are
 * read from `/proc/self` by a collector of our own: prom-client's default process collector takes
 * CPU time from `process.cpuUsage()`, which under Deno reports only the calling thread.
 *
 * @example Counting a dropped stack
 * ```ts
 * import { metrics } from "./mod.ts";
 * metrics.stacksDropped.inc({ reason: "stack_map_full" });
 * ```
 *
 * @module
 */

import client from "prom-client";
import { parseProcStat } from "../process/mod.ts";
import * as procfs from "../procfs/mod.ts";

/** The registry behind `/metrics`. */
export const registry: client.Registry = new client.Registry();

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) is 100 on every Linux architecture the agent supports.
const PAGE_SIZE = 4096;

function readSelfStat(): { cpuUser: number; cpuSystem: number; rss: number; startTicks: number } {
  const stat = parseProcStat(procfs.readTextFileSync("/proc/self/stat"));
  if (!stat) throw new Error("Cannot parse /proc/self/stat");
  return {
    cpuUser: stat.utimeTicks / CLK_TCK,
    cpuSystem: stat.stimeTicks / CLK_TCK,
    startTicks: stat.startTimeTicks,
    rss: stat.rssPages * PAGE_SIZE,
  };
}

function bootTimeSeconds(): number {
  const line = procfs.readTextFileSync("/proc/stat").split("\n").find((l) =>
    l.startsWith("btime ")
  );
  return line ? Number(line.slice(6)) : 0;
}

new client.Counter({
  name: "process_cpu_user_seconds_total",
  help: "Total user CPU time spent in seconds.",
  registers: [registry],
  collect() {
    this.reset();
    this.inc(readSelfStat().cpuUser);
  },
});
new client.Counter({
  name: "process_cpu_system_seconds_total",
  help: "Total system CPU time spent in seconds.",
  registers: [registry],
  collect() {
    this.reset();
    this.inc(readSelfStat().cpuSystem);
  },
});
new client.Counter({
  name: "process_cpu_seconds_total",
  help: "Total user and system CPU time spent in seconds.",
  registers: [registry],
  collect() {
    const s = readSelfStat();
    this.reset();
    this.inc(s.cpuUser + s.cpuSystem);
  },
});
new client.Gauge({
  name: "process_resident_memory_bytes",
  help: "Resident memory size in bytes.",
  registers: [registry],
  collect() {
    this.set(readSelfStat().rss);
  },
});
new client.Gauge({
  name: "process_start_time_seconds",
  help: "Start time of the process since unix epoch in seconds.",
  registers: [registry],
  collect() {
    this.set(bootTimeSeconds() + readSelfStat().startTicks / CLK_TCK);
  },
});
new client.Gauge({
  name: "process_open_fds",
  help: "Number of open file descriptors.",
  registers: [registry],
  collect() {
    let n = 0;
    for (const _ of procfs.readDirSync("/proc/self/fd")) n++;
    this.set(n);
  },
});

/** The agent's own metrics. */
export const metrics = {
  /** Samples counted by BPF and read out, per window. */
  samplesRead: new client.Counter({
    name: "parca_agent_profiler_samples_total",
    help: "Samples read from the BPF maps.",
    registers: [registry],
  }),
  /** Stacks (map entries) read out of BPF. */
  stacksRead: new client.Counter({
    name: "parca_agent_profiler_stacks_total",
    help: "Distinct (pid, tid, user stack, kernel stack) entries read from the BPF maps.",
    registers: [registry],
  }),
  /** Stacks dropped, by reason. */
  stacksDropped: new client.Counter({
    name: "parca_agent_profiler_stack_drop_total",
    help: "Stacks dropped, by reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  /** Samples the BPF program could not record, or skipped, by reason (from the BPF counters). */
  bpfSampleEvents: new client.Counter({
    name: "parca_agent_bpf_samples_total",
    help:
      "What the BPF program did with each perf event, by outcome (recorded, idle, kernel_thread, *_full, ...).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  /** Time to drain the BPF maps. */
  mapReadSeconds: new client.Histogram({
    name: "parca_agent_profiler_map_read_duration_seconds",
    help: "Time spent draining the BPF maps at the end of a window.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  }),
  /** Map read failures, by map and errno name. */
  mapReadErrors: new client.Counter({
    name: "parca_agent_profiler_map_read_errors_total",
    help: "Failed BPF map batch operations, by map and error.",
    labelNames: ["map", "error"] as const,
    registers: [registry],
  }),
  /** Profiling windows completed. */
  windows: new client.Counter({
    name: "parca_agent_profiler_attempts_total",
    help: "Profiling windows completed.",
    registers: [registry],
  }),
  /** Time to turn one window into profiles. */
  windowSeconds: new client.Histogram({
    name: "parca_agent_profiler_attempt_duration_seconds",
    help: "Time spent turning one window of samples into profiles.",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  /** Profiles produced, by destination. */
  profilesWritten: new client.Counter({
    name: "parca_agent_profiles_written_total",
    help: "Per-process profiles produced, by store (local, query).",
    labelNames: ["store"] as const,
    registers: [registry],
  }),
  /** Errors, by kind. */
  errors: new client.Counter({
    name: "parca_agent_errors_total",
    help: "Errors by kind (process_info, buildid, local_store_write, kallsyms, ...).",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  /** BPF program run count, when kernel.bpf_stats_enabled is on. */
  bpfProgramRuns: new client.Gauge({
    name: "parca_agent_bpf_program_runs_total",
    help: "Times the BPF program ran (kernel.bpf_stats_enabled must be 1, else 0).",
    labelNames: ["program"] as const,
    registers: [registry],
  }),
  /** BPF program run time, when kernel.bpf_stats_enabled is on. */
  bpfProgramRunSeconds: new client.Gauge({
    name: "parca_agent_bpf_program_run_time_seconds_total",
    help: "Total time the BPF program ran (kernel.bpf_stats_enabled must be 1, else 0).",
    labelNames: ["program"] as const,
    registers: [registry],
  }),
  /** Processes seen in the last window. */
  processes: new client.Gauge({
    name: "parca_agent_profiled_processes",
    help: "Processes with samples in the last window.",
    registers: [registry],
  }),
  /** BPF events about process images, by type. */
  processEvents: new client.Counter({
    name: "parca_agent_process_events_total",
    help: "Events from BPF about process images (new_process, exec, exit, mappings_changed).",
    labelNames: ["type"] as const,
    registers: [registry],
  }),
  /** BPF events read but not handled, by reason (`shutdown`: past the final window's flush time). */
  processEventsDropped: new client.Counter({
    name: "parca_agent_process_events_dropped_total",
    help: "BPF events read from the ring buffer but not handled, by reason (shutdown: the final " +
      "window's flush time had passed).",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  /** Time to handle one batch of BPF events. */
  processEventBatchSeconds: new client.Histogram({
    name: "parca_agent_process_event_batch_duration_seconds",
    help: "Time spent handling one batch of BPF events (captures of new process images).",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  /** Process records held, by state. */
  processRecords: new client.Gauge({
    name: "parca_agent_process_records",
    help:
      "Process image records held: live, or ended and kept until the window with their last samples is emitted.",
    labelNames: ["state"] as const,
    registers: [registry],
  }),
  /** Process records captured. */
  processRecordsCaptured: new client.Counter({
    name: "parca_agent_process_records_captured_total",
    help: "Process image records captured from /proc.",
    registers: [registry],
  }),
  /** Captures that came too late. */
  processRecordsMissed: new client.Counter({
    name: "parca_agent_process_records_missed_total",
    help:
      "Process images that were gone (or already another image) when /proc was read; no record was kept.",
    registers: [registry],
  }),
  /** Process records freed. */
  processRecordsFreed: new client.Counter({
    name: "parca_agent_process_records_freed_total",
    help: "Process image records freed after the window holding their last samples was emitted.",
    registers: [registry],
  }),
  /** Samples of images with no record (they exited before /proc could be read). */
  samplesWithoutRecord: new client.Counter({
    name: "parca_agent_profiler_samples_without_mappings_total",
    help:
      "Samples of process images that ended before their mappings could be read (user frames stay unmapped).",
    registers: [registry],
  }),
  /** Number of online CPUs with an attached perf event. */
  numCpu: new client.Gauge({
    name: "parca_agent_num_cpu",
    help: "CPUs with an attached perf event.",
    registers: [registry],
  }),
};
