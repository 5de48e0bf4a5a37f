// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Labels benchmark. Starts 500 processes of 20 threads each (bench/programs/threads_spin.c:
 * every thread sleeps about a second, then spins 100 µs), then:
 *
 * 1. in this process, times the LabelManager over those 500 real processes (real /proc reads,
 *    real ELF reads of the executable): the first window (nothing cached), later windows
 *    (cached), and windows with --metadata-disable-caching; each with no rules, the three
 *    rules of the end-to-end test, and a rule that keeps a thread label (so rules run per
 *    thread: 10 000 label sets a window). Allocation is reported as the change in V8's
 *    `heapUsed` across a window (Deno has no allocation counter), after a forced GC when the
 *    bench runs with `--v8-flags=--expose-gc`;
 * 2. as root, runs the agent (real BPF, 400 Hz so that every process has samples every window,
 *    5 s windows) with and without the 500 processes, and reports its RSS and window time.
 *
 *   sudo deno run -A --v8-flags=--expose-gc bench/labels_bench.ts [--processes=500] [--windows=5]
 *
 * Prints Markdown for docs/benchmarks.md.
 *
 * @module
 */

import {
  compileRelabelConfig,
  LabelManager,
  type RelabelConfigInput,
  type RelabelRule,
} from "../src/labels/mod.ts";
import { type ProcessInfo, ProcessReader } from "../src/process/mod.ts";

import { arg, rssMiB } from "./_lib/proc.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const THREADS = 20;

const nProcesses = arg("processes", 500);
const windows = arg("windows", 5);

const gc = (globalThis as { gc?: () => void }).gc;

async function build(dir: string): Promise<string> {
  const out = `${dir}/threads_spin`;
  const r = await new Deno.Command("gcc", {
    args: ["-O1", "-pthread", "-o", out, `${ROOT}bench/programs/threads_spin.c`],
  }).output();
  if (!r.success) throw new Error(`gcc failed: ${new TextDecoder().decode(r.stderr)}`);
  return out;
}

function tids(pid: number): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    const tid = Number(e.name);
    let comm = "";
    try {
      comm = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/comm`).trim();
    } catch {
      // exited
    }
    out.push([tid, comm]);
  }
  return out;
}

interface WindowCost {
  ms: number;
  heapKiB: number;
}

/** Labels every thread of every process once, as the profiler does in one window. */
async function window(
  m: LabelManager,
  procs: Array<{ info: ProcessInfo; threads: Array<[number, string]> }>,
): Promise<WindowCost> {
  gc?.();
  const h0 = Deno.memoryUsage().heapUsed;
  const t0 = performance.now();
  let series = 0;
  for (const p of procs) {
    const l = await m.process(p.info.pid, p.info, p.info.comm);
    const keys = new Set<string>();
    for (const [tid, comm] of p.threads) {
      const s = l.thread(tid, comm);
      if (s) keys.add(s.key);
    }
    series += keys.size;
  }
  const ms = performance.now() - t0;
  const heapKiB = (Deno.memoryUsage().heapUsed - h0) / 1024;
  if (series === 0) throw new Error("no series: the rules dropped everything");
  return { ms, heapKiB };
}

const rules = (r: RelabelConfigInput[]): RelabelRule[] => r.map(compileRelabelConfig);
const RULESETS: Array<[string, RelabelRule[]]> = [
  ["no rules", []],
  [
    "3 rules (e2e: exe, arch, keep by comm)",
    rules([
      { source_labels: ["__meta_process_executable_name"], target_label: "exe" },
      { source_labels: ["__meta_system_kernel_machine"], target_label: "arch" },
      { source_labels: ["comm"], regex: "threads_spin|other", action: "keep" },
    ]),
  ],
  [
    "per-thread rule (keeps __meta_thread_comm)",
    rules([
      { source_labels: ["__meta_thread_comm"], target_label: "thread" },
    ]),
  ],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function inProcess(procs: Array<{ info: ProcessInfo; threads: Array<[number, string]> }>) {
  // Warm-up: JIT-compile the code paths and fill the page cache before anything is timed.
  for (const [, rs] of RULESETS) {
    const m = new LabelManager({
      node: "bench",
      profileName: "parca_agent_cpu",
      agentRevision: "bench",
      relabelConfigs: rs,
    });
    await window(m, procs);
    await window(m, procs);
  }
  const rows: string[] = [];
  for (const [name, rs] of RULESETS) {
    for (const disableCaching of [false, true]) {
      const m = new LabelManager({
        node: "bench",
        externalLabels: [["env", "bench"]],
        profileName: "parca_agent_cpu",
        agentRevision: "bench",
        relabelConfigs: rs,
        disableCaching,
      });
      const first = await window(m, procs);
      const later: WindowCost[] = [];
      for (let i = 0; i < windows; i++) later.push(await window(m, procs));
      const ms = median(later.map((w) => w.ms));
      const heap = median(later.map((w) => w.heapKiB));
      rows.push(
        `| ${name} | ${disableCaching ? "off" : "on"} | ${first.ms.toFixed(1)} ms / ${
          first.heapKiB.toFixed(0)
        } KiB | ${ms.toFixed(1)} ms / ${heap.toFixed(0)} KiB | ${
          (ms * 1000 / procs.length).toFixed(1)
        } µs |`,
      );
    }
  }
  return rows;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

/** Runs the agent for `windows` 5 s windows and reports its RSS and mean window time. */
async function agentRun(label: string, flags: string[]): Promise<string> {
  const { startAgent } = await import("../tests/_lib/agent.ts");
  const agent = await startAgent([
    "--profiling-duration=5s",
    "--profiling-cpu-sampling-frequency=400",
    ...flags,
  ], 60_000);
  try {
    await new Promise((r) => setTimeout(r, (windows + 1) * 5000));
    const pid = agent.child.pid;
    const { rss, hwm } = rssMiB(pid);
    const sum = await metric(agent.url, "parca_agent_profiler_attempt_duration_seconds_sum");
    const count = await metric(agent.url, "parca_agent_profiler_attempt_duration_seconds_count");
    const procs = await metric(agent.url, "parca_agent_profiled_processes");
    return `| ${label} | ${procs} | ${rss.toFixed(1)} MiB | ${hwm.toFixed(1)} MiB | ${
      (sum / count * 1000).toFixed(0)
    } ms |`;
  } finally {
    await agent.stop();
  }
}

const dir = await Deno.makeTempDir({ prefix: "labels-bench-" });
const children: Deno.ChildProcess[] = [];
try {
  const agentRows: string[] = [];
  // The DWARF unwinder's tables dominate the agent's memory; without it, what remains is the
  // rest of the agent, labels included.
  const variants: Array<[string, string[]]> = [
    ["--dwarf-unwinding-disable", ["--dwarf-unwinding-disable"]],
    ["defaults", []],
  ];
  if (Deno.uid() === 0) {
    for (const [name, flags] of variants) {
      agentRows.push(await agentRun(`idle host, ${name}`, flags));
    }
  }
  const bin = await build(dir);
  for (let i = 0; i < nProcesses; i++) {
    children.push(
      new Deno.Command(bin, { args: ["1000", "100"], stdout: "null", stderr: "null" }).spawn(),
    );
  }
  await new Promise((r) => setTimeout(r, 1000));
  const reader = new ProcessReader();
  const procs = children.map((c) => ({ info: reader.read(c.pid)!, threads: tids(c.pid) }));
  const threadCount = procs.reduce((n, p) => n + p.threads.length, 0);

  const rows = await inProcess(procs);
  if (Deno.uid() === 0) {
    for (const [name, flags] of variants) {
      agentRows.push(await agentRun(`${nProcesses} × ${THREADS} threads, ${name}`, flags));
    }
  }

  const out = [
    `${nProcesses} processes, ${threadCount} threads; median of ${windows} windows after the first; ` +
    `heap delta ${
      gc ? "after a forced GC" : "without forced GC (run with --v8-flags=--expose-gc)"
    }.`,
    "",
    "| rules | caching | first window (time / heap) | later windows (time / heap) | per process |",
    "| ----- | ------- | -------------------------- | --------------------------- | ----------- |",
    ...rows,
  ];
  if (agentRows.length) {
    out.push(
      "",
      "| agent (400 Hz, 5 s windows) | processes in last window | RSS | peak RSS | mean window time |",
      "| --------------------------- | ------------------------ | --- | -------- | ---------------- |",
      ...agentRows,
    );
  } else {
    out.push("", "(agent RSS not measured: needs root to load BPF programs)");
  }
  // deno-lint-ignore no-console -- a benchmark prints its report
  console.log(out.join("\n"));
} finally {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      // gone
    }
  }
  await Promise.all(children.map((c) => c.status));
  await Deno.remove(dir, { recursive: true });
}
