// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * What the benchmarks share: numeric `--name=value` arguments and a process's CPU time and
 * memory read from /proc.
 *
 * @module
 */

import { parseProcStat } from "../../src/process/mod.ts";
import type { BenchAgent } from "./measure.ts";

/** sysconf(_SC_CLK_TCK) on every Linux architecture the agent supports. */
const CLK_TCK = 100;

/**
 * A numeric `--name=value` argument of this script.
 *
 * @param name The argument's name.
 * @param fallback Its value when absent.
 * @returns The value.
 */
export function arg(name: string, fallback: number): number {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split("=")[1]) : fallback;
}

/**
 * User plus system CPU time of a process, all its threads included.
 *
 * @param pid The process.
 * @returns Seconds.
 */
export function cpuSeconds(pid: number): number {
  const stat = parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  if (!stat) throw new Error(`Cannot parse /proc/${pid}/stat`);
  return (stat.utimeTicks + stat.stimeTicks) / CLK_TCK;
}

/**
 * Resident memory of a process now and at its peak.
 *
 * @param pid The process.
 * @returns `rss` (VmRSS) and `hwm` (VmHWM) in MiB.
 */
export function rssMiB(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1]);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

/**
 * A metric's value in /metrics text.
 *
 * @param text The text.
 * @param re A regex whose first group is the value.
 * @returns The value, or NaN.
 */
export function metricValue(text: string, re: RegExp): number {
  return Number(re.exec(text)?.[1] ?? NaN);
}

/** profile_cpu's runs and run time (kernel.bpf_stats_enabled) in /metrics text. */
export const BPF_RUNS = /^parca_agent_bpf_program_runs_total\{program="profile_cpu"\} (\S+)$/m;
/** profile_cpu's total run time in seconds. */
export const BPF_TIME =
  /^parca_agent_bpf_program_run_time_seconds_total\{program="profile_cpu"\} (\S+)$/m;

/** What {@link measureAgent} saw over its interval. */
export interface AgentMeasure {
  /** /metrics before and after. */
  before: string;
  after: string;
  /** The agent's CPU time over the interval, as a share of one core. */
  cpu: number;
  /** A counter's growth over the interval (0 where it is absent). */
  delta(re: RegExp): number;
}

/**
 * Waits until the agent's BPF program runs (start-up under load can take longer than any fixed
 * warm-up), then `warmupS` more, then measures `seconds` of it.
 *
 * @param agent The agent.
 * @param warmupS Seconds to let it settle once sampling.
 * @param seconds Seconds measured.
 * @returns What was measured.
 */
export async function measureAgent(
  agent: BenchAgent,
  warmupS: number,
  seconds: number,
): Promise<AgentMeasure> {
  for (let i = 0; i < 1200 && !(metricValue(await agent.metrics(), BPF_RUNS) > 0); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  const before = await agent.metrics();
  const c0 = cpuSeconds(agent.child.pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = cpuSeconds(agent.child.pid);
  const wall = (performance.now() - t0) / 1000;
  const after = await agent.metrics();
  return {
    before,
    after,
    cpu: (c1 - c0) / wall,
    delta: (re) => (metricValue(after, re) || 0) - (metricValue(before, re) || 0),
  };
}
