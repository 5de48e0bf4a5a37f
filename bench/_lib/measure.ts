// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Measuring a running tool from outside: its CPU time over a window, its RSS sampled every
 * second (steady = the median) and at its peak, and the run time of the BPF programs it holds
 * (found through its fds, so other agents on the machine do not count).
 *
 * @module
 */

import { cpuSeconds, rssMiB } from "./proc.ts";
import { AGENT_DENO_OPTIONS, agentMallocEnvironment } from "../../src/launcher/mod.ts";

/** Run count and run time summed over the BPF programs a process holds fds of. */
export interface BpfRunStats {
  runs: number;
  runTimeNs: number;
  programs: number;
}

/** `prog_type` of perf_event programs in fdinfo (BPF_PROG_TYPE_PERF_EVENT): the samplers. */
export const BPF_PROG_TYPE_PERF_EVENT = 7;

/**
 * Reads the kernel's run statistics (kernel.bpf_stats_enabled) of the BPF programs `pid` holds,
 * by default only its perf_event programs: the cost per sample, without the agent's exec and exit
 * tracepoints, whose cheap runs would lower the mean on a host with many execs.
 *
 * @param pid The process.
 * @param progType Only programs of this type; undefined: all of them.
 * @returns Sums over its programs (each counted once even when it holds several fds of it).
 */
export function bpfRunStats(
  pid: number,
  progType: number | undefined = BPF_PROG_TYPE_PERF_EVENT,
): BpfRunStats {
  const seen = new Set<string>();
  const out: BpfRunStats = { runs: 0, runTimeNs: 0, programs: 0 };
  let fds: Deno.DirEntry[];
  try {
    fds = [...Deno.readDirSync(`/proc/${pid}/fd`)];
  } catch {
    return out;
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`);
    } catch {
      continue;
    }
    if (target !== "anon_inode:bpf-prog") continue;
    let info: string;
    try {
      info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd.name}`);
    } catch {
      continue;
    }
    const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)$`, "m").exec(info)?.[1]);
    const id = String(field("prog_id"));
    if (seen.has(id)) continue;
    if (progType !== undefined && field("prog_type") !== progType) continue;
    seen.add(id);
    out.programs++;
    out.runs += field("run_cnt") || 0;
    out.runTimeNs += field("run_time_ns") || 0;
  }
  return out;
}

/** What {@link measureRunning} reports. */
export interface ToolFigures {
  /** CPU during the warm-up (start-up), as a share of one core. */
  startCpu: number;
  /** CPU over the measured window, as a share of one core. */
  cpu: number;
  /** VmHWM at the end of the window (MiB). */
  peakRss: number;
  /** Median VmRSS over the window (MiB). */
  steadyRss: number;
  /** BPF programs' mean run time per run over the window (NaN when it has none). */
  bpfNsPerRun: number;
  /** BPF runs over the window. */
  bpfRuns: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Measures a process that just started: `warmupS` seconds of start-up, then `seconds` measured.
 *
 * @param pid The tool's process.
 * @param warmupS Seconds before the window (its CPU is reported as start-up).
 * @param seconds The measured window.
 * @param bpfPid The process holding the BPF programs, when not `pid` (e.g. a wrapper).
 * @returns Figures.
 */
export async function measureRunning(
  pid: number,
  warmupS: number,
  seconds: number,
  bpfPid = pid,
): Promise<ToolFigures> {
  const cStart = cpuSeconds(pid);
  const tStart = performance.now();
  await sleep(warmupS * 1000);
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const b0 = bpfRunStats(bpfPid);
  const rss: number[] = [];
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(1000, Math.max(0, end - performance.now())));
    rss.push(rssMiB(pid).rss);
  }
  const c1 = cpuSeconds(pid);
  const t1 = performance.now();
  const b1 = bpfRunStats(bpfPid);
  rss.sort((a, b) => a - b);
  const runs = b1.runs - b0.runs;
  return {
    startCpu: (c0 - cStart) / ((t0 - tStart) / 1000),
    cpu: (c1 - c0) / ((t1 - t0) / 1000),
    peakRss: rssMiB(pid).hwm,
    steadyRss: rss[Math.floor(rss.length / 2)] ?? NaN,
    bpfNsPerRun: runs > 0 ? (b1.runTimeNs - b0.runTimeNs) / runs : NaN,
    bpfRuns: runs,
  };
}

/**
 * Median and range of a list of figures, as "m (lo–hi)" (just "m" for one value).
 *
 * @param xs Values.
 * @param fmt Formats one value.
 * @returns The text.
 */
export function spread(xs: number[], fmt: (x: number) => string): string {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return "—";
  const med = v[Math.floor(v.length / 2)];
  return v.length === 1 ? fmt(med) : `${fmt(med)} (${fmt(v[0])}–${fmt(v[v.length - 1])})`;
}

/**
 * Median of a list (NaN values left out).
 *
 * @param xs Values.
 * @returns The median, NaN when empty.
 */
export function median(xs: number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
}

/**
 * A quantile of an ascending list, by the nearest rank below (the worst value for q = 1).
 *
 * @param sorted Values sorted ascending.
 * @param q The quantile, 0 to 1.
 * @returns The value, NaN when the list is empty or absent.
 */
export function quantile(sorted: number[] | undefined, q: number): number {
  return sorted?.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] : NaN;
}

/**
 * Waits until the agent on `port` answers /ready (at most `timeoutS`).
 *
 * @param port The agent's HTTP port.
 * @param timeoutS Seconds at most.
 * @returns Seconds it took.
 */
export async function waitReady(port: number, timeoutS = 120): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutS * 1000) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      await res.body?.cancel();
      if (res.ok) return (performance.now() - t0) / 1000;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`the agent on port ${port} was not ready within ${timeoutS} s`);
}

/**
 * The load average now (1, 5, 15 minutes).
 *
 * @returns The three figures as text.
 */
export function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(", ");
}

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Starts this tree's agent as a user would (`deno task agent`'s flags) on a loopback port.
 *
 * @param port The HTTP port.
 * @param extra More flags (a later `--log-level` wins over the default `warn`).
 * @param stderr Where its log goes: this process's stderr, a pipe the caller reads, or nowhere.
 * @returns The child (stdout discarded).
 */
export function spawnAgent(
  port: number,
  extra: string[] = [],
  stderr: "inherit" | "piped" | "null" = "inherit",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      ...AGENT_DENO_OPTIONS,
      `${ROOT}main.ts`,
      `--http-address=127.0.0.1:${port}`,
      "--log-level=warn",
      ...extra,
    ],
    // As the launcher starts it (a MALLOC_ARENA_MAX of the bench's own wins, for comparisons).
    env: Deno.env.get("MALLOC_ARENA_MAX") === undefined ? agentMallocEnvironment() : {},
    stdout: "null",
    stderr,
  }).spawn();
}

/** An agent started by a benchmark. */
export interface BenchAgent {
  child: Deno.ChildProcess;
  /** The agent's /metrics text. */
  metrics(): Promise<string>;
  /** SIGTERM, then waits for its exit. */
  stop(): Promise<void>;
}

/**
 * Starts the agent ({@link spawnAgent}) and waits until /ready answers; with every core busy it
 * takes a while.
 *
 * @param port HTTP port on 127.0.0.1.
 * @param extra More flags.
 * @returns The running agent.
 */
export async function startBenchAgent(port: number, extra: string[]): Promise<BenchAgent> {
  const child = spawnAgent(port, extra);
  await waitReady(port);
  return {
    child,
    metrics: async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/**
 * Builds the benches' CPU load: `tests/programs/recursion.c` with frame pointers and 30-frame
 * stacks (`-DDEPTH=28`), which both the tables and frame pointers walk whole.
 *
 * @param dir Where the binary goes.
 * @returns The binary's path (`dir`/deep30).
 */
export async function buildRecursionLoad(dir: string): Promise<string> {
  const out = `${dir}/deep30`;
  const r = await new Deno.Command("gcc", {
    args: [
      "-O2",
      "-fno-omit-frame-pointer",
      "-DDEPTH=28",
      "-o",
      out,
      `${ROOT}tests/programs/recursion.c`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`gcc failed:\n${new TextDecoder().decode(r.stderr)}`);
  return out;
}

/**
 * Sends `signal`, then SIGKILL after 20 s, and waits for the exit.
 *
 * @param child The process.
 * @param signal The first signal.
 */
export async function stopProcess(child: Deno.ChildProcess, signal: Deno.Signal): Promise<void> {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, 20_000);
  await child.status;
  clearTimeout(timer);
}
