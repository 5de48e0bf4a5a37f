// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * What the benchmarks share: numeric `--name=value` arguments and a process's CPU time and
 * memory read from /proc.
 *
 * @module
 */

import { parseProcStat } from "../../src/process/mod.ts";

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
