// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * DWARF unwinding overhead (root): with 50 CPU-bound processes built without frame pointers, each
 * with a 30-frame stack, runs the agent with its defaults, then with --dwarf-unwinding-disable,
 * for the same time each, and reports each run's CPU (share of one core), peak RSS, and the BPF
 * program's mean run time per sample (kernel.bpf_stats_enabled).
 *
 *   deno run -A bench/unwind_overhead.ts [--seconds=30] [--processes=50]
 *
 * @module
 */

import { arg, cpuSeconds, rssMiB } from "./_lib/proc.ts";
import { spawnAgent } from "./_lib/measure.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const seconds = arg("seconds", 30);
const nproc = arg("processes", 50);
const warmup = 12;

async function runAgent(
  extra: string[],
  port: number,
): Promise<
  { cpu: number; rss: number; rssNow: number; nsPerRun: number; runs: number; dwarfFrames: number }
> {
  const agent = spawnAgent(port, extra);
  // With every core busy the agent takes a while to start: wait until it is ready, then warm up.
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const metrics = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const RUNS = /^parca_agent_bpf_program_runs_total\{program="profile_cpu"\} (\S+)$/m;
  const TIME = /^parca_agent_bpf_program_run_time_seconds_total\{program="profile_cpu"\} (\S+)$/m;
  const m0 = await metrics();
  const c0 = cpuSeconds(agent.pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = cpuSeconds(agent.pid);
  const wall = (performance.now() - t0) / 1000;
  const m1 = await metrics();
  const runs = value(m1, RUNS) - value(m0, RUNS);
  const time = value(m1, TIME) - value(m0, TIME);
  const { hwm: rss, rss: rssNow } = rssMiB(agent.pid);
  const dwarfFrames = value(m1, /^parca_agent_bpf_samples_total\{outcome="dwarf_frames"\} (\S+)$/m);
  agent.kill("SIGTERM");
  await agent.status;
  return { cpu: (c1 - c0) / wall, rss, rssNow, nsPerRun: (time / runs) * 1e9, runs, dwarfFrames };
}

const dir = await Deno.makeTempDir({ prefix: "bench-unwind-" });
const bin = `${dir}/deep30`;
const cc = await new Deno.Command("gcc", {
  args: [
    "-O2",
    "-fomit-frame-pointer",
    "-DDEPTH=28",
    "-o",
    bin,
    `${ROOT}tests/programs/recursion.c`,
  ],
}).output();
if (!cc.success) throw new Error("gcc failed");
const total = 2 * (seconds + warmup) + 30;
const procs = Array.from(
  { length: nproc },
  () => new Deno.Command(bin, { args: [String(total)], stdout: "null" }).spawn(),
);
const statsBefore = (await Deno.readTextFile("/proc/sys/kernel/bpf_stats_enabled")).trim();
await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", "1");
try {
  const dwarf = await runAgent([], 17081);
  const fp = await runAgent(["--dwarf-unwinding-disable"], 17082);
  const row = (name: string, r: typeof dwarf) =>
    `| ${name} | ${(r.cpu * 100).toFixed(2)} % | ${r.rss.toFixed(1)} / ${
      r.rssNow.toFixed(1)
    } MiB | ${r.nsPerRun.toFixed(0)} ns (${r.runs} runs) |`;
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log([
    `${nproc} processes without frame pointers, 30-frame stacks (28 recursive frames + main + ` +
    `libc), ${seconds} s per run after ${warmup} s of warm-up, 19 Hz, ${navigator.hardwareConcurrency} ` +
    `CPUs (${new Date().toISOString().slice(0, 10)}, kernel ${Deno.osRelease()}):`,
    "",
    "| agent | CPU (share of one core) | RSS peak / at the end | BPF mean run time per sample |",
    "|---|---|---|---|",
    row("DWARF unwinding (default)", dwarf),
    row("--dwarf-unwinding-disable", fp),
    "",
    `Ratios DWARF / frame pointers: CPU ${(dwarf.cpu / fp.cpu).toFixed(2)}×, RSS ${
      (dwarf.rss / fp.rss).toFixed(2)
    }×, BPF ${
      (dwarf.nsPerRun / fp.nsPerRun).toFixed(2)
    }×. DWARF frames stepped: ${dwarf.dwarfFrames}.`,
  ].join("\n"));
} finally {
  await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", statsBefore);
  for (const p of procs) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already exited
    }
    await p.status;
  }
  await Deno.remove(dir, { recursive: true });
}
