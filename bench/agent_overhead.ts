// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Overhead benchmark (root). Both cores are kept busy by two copies of a CPU-bound program whose
 * stacks are 30 frames deep (28 recursive frames + main + libc, built with frame pointers, so the
 * same stack can be walked with the unwind tables and with frame pointers). On that load, one
 * after another and in alternating rounds:
 *
 * - the agent at its defaults (19 Hz, DWARF unwinding), measured after a warm-up of a minute
 *   (its start-up CPU is reported apart);
 * - the agent with `--dwarf-unwinding-disable` (the same stacks walked with frame pointers);
 * - `perf record -F 19 -a -g` (the baseline for CPU and memory);
 * - bpftrace's `profile:hz:19` probe collecting ustack and kstack (the baseline for BPF cost).
 *
 * CPU is the tool's user + system time as a share of one core; RSS is sampled every second
 * (steady = median over the window) and its peak is VmHWM; BPF cost is the mean run time of the
 * programs the tool holds (kernel.bpf_stats_enabled), found through its fds. After its measured
 * window each agent is asked for /ready every 50 ms for `--ready-seconds` (20 s: two window ends),
 * apart from the CPU figure since answering costs CPU: the latency's 99th percentile and worst
 * show whether a window end holds the main thread.
 *
 *   deno task bench                                  # 60 s windows, 60 s agent warm-up, 2 rounds
 *   deno task bench --seconds=20 --warmup=20 --rounds=1
 *
 * Prints one Markdown table for docs/benchmarks.md.
 *
 * @module
 */

import { arg } from "./_lib/proc.ts";
import {
  buildRecursionLoad,
  loadAverage,
  measureRunning,
  median,
  quantile,
  spawnAgent,
  spread,
  stopProcess,
  type ToolFigures,
  waitReady,
} from "./_lib/measure.ts";

const seconds = arg("seconds", 60);
const agentWarmup = arg("warmup", 60);
const toolWarmup = 5;
const rounds = arg("rounds", 2);
const readySeconds = arg("ready-seconds", 20);

/** /ready latencies of an agent (ms), sorted. */
async function probeReady(port: number, seconds: number): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      await res.body?.cancel();
    } catch {
      // counted as its latency all the same
    }
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  return out.sort((a, b) => a - b);
}

/** An agent's figures and its /ready latencies. */
type AgentFigures = ToolFigures & { readyMs?: number[] };

async function runAgent(extra: string[], port: number): Promise<AgentFigures> {
  const agent = spawnAgent(port, extra);
  try {
    const figures = measureRunning(agent.pid, agentWarmup, seconds);
    await waitReady(port);
    const measured: AgentFigures = await figures;
    if (readySeconds > 0) measured.readyMs = await probeReady(port, readySeconds);
    return measured;
  } finally {
    await stopProcess(agent, "SIGTERM");
  }
}

async function runPerf(dir: string): Promise<ToolFigures> {
  const perf = new Deno.Command("perf", {
    args: ["record", "-F", "19", "-a", "-g", "-o", `${dir}/perf.data`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    return await measureRunning(perf.pid, toolWarmup, seconds);
  } finally {
    await stopProcess(perf, "SIGINT");
    await Deno.remove(`${dir}/perf.data`).catch(() => {});
  }
}

async function runBpftrace(): Promise<ToolFigures> {
  // The map is cleared at exit: printing (and symbolizing) every stack is not the probe's cost.
  const bt = new Deno.Command("bpftrace", {
    args: ["-e", "profile:hz:19 { @[ustack, kstack] = count(); } END { clear(@); }"],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    return await measureRunning(bt.pid, toolWarmup, seconds);
  } finally {
    await stopProcess(bt, "SIGINT");
  }
}

if (!(await new Deno.Command("sh", { args: ["-c", "command -v bpftrace"] }).output()).success) {
  throw new Error("bpftrace is not installed: apt-get install bpftrace (scripts/setup.sh does)");
}
const dir = await Deno.makeTempDir({ prefix: "bench-overhead-" });
const bin = await buildRecursionLoad(dir);
const perRound = 2 * (agentWarmup + seconds + readySeconds) + 2 * (toolWarmup + seconds) + 120;
const busy = [0, 1].map(() =>
  new Deno.Command(bin, { args: [String(rounds * perRound)], stdout: "null" }).spawn()
);
const statsBefore = (await Deno.readTextFile("/proc/sys/kernel/bpf_stats_enabled")).trim();
await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", "1");
const loads: string[] = [loadAverage()];
const results: Record<string, AgentFigures[]> = { dwarf: [], fp: [], perf: [], bpftrace: [] };
try {
  for (let r = 0; r < rounds; r++) {
    results.dwarf.push(await runAgent([], 17171));
    results.fp.push(await runAgent(["--dwarf-unwinding-disable"], 17172));
    results.perf.push(await runPerf(dir));
    results.bpftrace.push(await runBpftrace());
    loads.push(loadAverage());
  }
} finally {
  await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", statsBefore);
  for (const b of busy) await stopProcess(b, "SIGKILL");
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
const mib = (x: number) => `${x.toFixed(1)} MiB`;
const ns = (x: number) => `${x.toFixed(0)} ns`;
const ratio = (x: number) => Number.isFinite(x) ? `${x.toFixed(2)}×` : "—";
const per = (k: string, f: (t: AgentFigures) => number) => results[k].map(f);
const ms = (x: number) => `${x.toFixed(0)} ms`;
const base = {
  cpu: median(per("perf", (t) => t.cpu)),
  peak: median(per("perf", (t) => t.peakRss)),
  steady: median(per("perf", (t) => t.steadyRss)),
  bpf: median(per("bpftrace", (t) => t.bpfNsPerRun)),
};
const row = (name: string, k: string) => {
  const cpu = median(per(k, (t) => t.cpu));
  const peak = median(per(k, (t) => t.peakRss));
  const steady = median(per(k, (t) => t.steadyRss));
  const bpf = median(per(k, (t) => t.bpfNsPerRun));
  return `| ${name} | ${spread(per(k, (t) => t.cpu), pct)} | ${
    spread(per(k, (t) => t.startCpu), pct)
  } | ${spread(per(k, (t) => t.peakRss), mib)} | ${spread(per(k, (t) => t.steadyRss), mib)} | ${
    spread(per(k, (t) => t.bpfNsPerRun), ns)
  } | ${ratio(cpu / base.cpu)} / ${ratio(peak / base.peak)} / ${ratio(steady / base.steady)} | ${
    ratio(bpf / base.bpf)
  } | ${spread(per(k, (t) => quantile(t.readyMs, 0.99)), ms)} / ${
    spread(per(k, (t) => quantile(t.readyMs, 1)), ms)
  } |`;
};
// deno-lint-ignore no-console -- a benchmark's output is its report
console.log([
  `Two CPU-bound programs with 30-frame stacks keep both of the ${navigator.hardwareConcurrency} ` +
  `CPUs busy; 19 Hz; ${seconds} s measured per tool and round (the agent after ${agentWarmup} s ` +
  `of start-up, the others after ${toolWarmup} s), ${rounds} round(s), median (range); ` +
  `${new Date().toISOString().slice(0, 10)}, kernel ${Deno.osRelease()}, load average ` +
  `${loads.join(" → ")}:`,
  "",
  "| tool | CPU (share of one core) | start-up CPU | peak RSS | steady RSS | BPF per sample | CPU / peak / steady vs perf | BPF vs bpftrace | /ready p99 / worst |",
  "|---|---|---|---|---|---|---|---|---|",
  row("agent (DWARF unwinding, defaults)", "dwarf"),
  row("agent `--dwarf-unwinding-disable` (frame pointers)", "fp"),
  row("`perf record -F 19 -a -g`", "perf"),
  row("bpftrace `profile:hz:19` ustack + kstack", "bpftrace"),
  "",
  `Same 30-frame stack, DWARF / frame pointers in the agent's BPF: ${
    ratio(median(per("dwarf", (t) => t.bpfNsPerRun)) / median(per("fp", (t) => t.bpfNsPerRun)))
  } (runs per window: ${per("dwarf", (t) => t.bpfRuns).join(", ")}).`,
].join("\n"));
