// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Overhead benchmark (root): with both cores kept busy by CPU-bound programs, runs the agent for
 * a while at 19 Hz, then `perf record -F 19 -a -g` for the same time as the baseline, and reports
 * each one's CPU time (share of one core) and peak RSS, plus the BPF program's mean run time per
 * sample from kernel.bpf_stats_enabled.
 *
 *   deno task bench                 # 60 s each
 *   deno task bench --seconds=20    # shorter
 *
 * Prints a Markdown table for docs/benchmarks.md.
 *
 * @module
 */

import { arg, cpuSeconds, rssMiB } from "./_lib/proc.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const seconds = arg("seconds", 60);
const warmup = 5;

async function build(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bench-" });
  const out = `${dir}/busy`;
  const r = await new Deno.Command("gcc", {
    args: ["-O1", "-fno-omit-frame-pointer", "-o", out, `${ROOT}tests/programs/cpu_chain.c`],
  }).output();
  if (!r.success) throw new Error("gcc failed");
  return out;
}

/** Samples a child's CPU time and RSS while it runs `seconds` after a warm-up. */
async function measure(
  child: Deno.ChildProcess,
): Promise<{ cpuShare: number; peakRss: number }> {
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const c0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = cpuSeconds(child.pid);
  const wall = (performance.now() - t0) / 1000;
  return { cpuShare: (c1 - c0) / wall, peakRss: rssMiB(child.pid).hwm };
}

async function readStatsEnabled(): Promise<string> {
  return (await Deno.readTextFile("/proc/sys/kernel/bpf_stats_enabled")).trim();
}

const busyBin = await build();
const busy = [0, 1].map(() =>
  new Deno.Command(busyBin, { args: [String(2 * (seconds + warmup) + 30)], stdout: "null" }).spawn()
);
const statsBefore = await readStatsEnabled();
await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", "1");
const port = 17071;
try {
  // The agent.
  const agent = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-no-legacy-abort",
      `${ROOT}main.ts`,
      `--http-address=127.0.0.1:${port}`,
      "--log-level=warn",
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const a = await measure(agent);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
  const runs = value(/^parca_agent_bpf_program_runs_total\{program="profile_cpu"\} (\S+)$/m);
  const runSeconds = value(
    /^parca_agent_bpf_program_run_time_seconds_total\{program="profile_cpu"\} (\S+)$/m,
  );
  const samples = value(/^parca_agent_profiler_samples_total (\S+)$/m);
  agent.kill("SIGTERM");
  await agent.status;

  // The baseline: perf record, system-wide, frame-pointer call graphs, same frequency.
  const perfOut = `${await Deno.makeTempDir()}/perf.data`;
  const perf = new Deno.Command("perf", {
    args: [
      "record",
      "-F",
      "19",
      "-a",
      "-g",
      "-o",
      perfOut,
      "--",
      "sleep",
      String(seconds + warmup + 2),
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const p = await measure(perf);
  await perf.status;
  await Deno.remove(perfOut).catch(() => {});

  const ns = (runSeconds / runs) * 1e9;
  const rows = [
    `Overhead, ${seconds} s at 19 Hz on ${navigator.hardwareConcurrency} CPUs, both kept busy ` +
    `(${new Date().toISOString().slice(0, 10)}, kernel ${Deno.osRelease()}):`,
    "",
    "| | CPU (share of one core) | peak RSS | ratio CPU / RSS vs perf |",
    "|---|---|---|---|",
    `| agent | ${(a.cpuShare * 100).toFixed(3)} % | ${a.peakRss.toFixed(1)} MiB | ${
      (a.cpuShare / p.cpuShare).toFixed(2)
    }× / ${(a.peakRss / p.peakRss).toFixed(2)}× |`,
    `| perf record -F 19 -a -g | ${(p.cpuShare * 100).toFixed(3)} % | ${
      p.peakRss.toFixed(1)
    } MiB | 1× / 1× |`,
    "",
    `BPF program: ${runs} runs, mean ${ns.toFixed(0)} ns per run (kernel.bpf_stats_enabled); ` +
    `${samples} samples read by the agent.`,
  ];
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log(rows.join("\n"));
} finally {
  await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", statsBefore);
  for (const b of busy) {
    b.kill("SIGKILL");
    await b.status;
  }
}
