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

import { arg, BPF_RUNS, BPF_TIME, measureAgent, metricValue, rssMiB } from "./_lib/proc.ts";
import { startBenchAgent } from "./_lib/measure.ts";

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
  const agent = await startBenchAgent(port, extra);
  const { cpu, delta, after } = await measureAgent(agent, warmup, seconds);
  const runs = delta(BPF_RUNS);
  const time = delta(BPF_TIME);
  const { hwm: rss, rss: rssNow } = rssMiB(agent.child.pid);
  const dwarfFrames = metricValue(
    after,
    /^parca_agent_bpf_samples_total\{outcome="dwarf_frames"\} (\S+)$/m,
  );
  await agent.stop();
  return { cpu, rss, rssNow, nsPerRun: (time / runs) * 1e9, runs, dwarfFrames };
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
