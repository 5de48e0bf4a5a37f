// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The cost of the process records (root): 500 mostly idle processes, each spinning 2 ms every
 * second so that many of them are sampled in every window (99 Hz), profiled by this tree's agent and by
 * a baseline commit's agent (today's main before the records, from a second git worktree), in
 * alternating rounds in the same command so that load from others on the machine cancels out
 * as far as it can. Reports per variant the agent's CPU time per window and its RSS, and the
 * ratios.
 *
 *   deno task bench:records                                   # 2 rounds of 30 s
 *   deno task bench:records --seconds=20 --rounds=1
 *   BASELINE=<commit> deno task bench:records                 # default: merge-base with main
 *
 * Prints a Markdown table for docs/benchmarks.md.
 *
 * @module
 */

import { arg, cpuSeconds, rssMiB } from "./_lib/proc.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const seconds = arg("seconds", 30);
const rounds = arg("rounds", 2);
const processes = arg("processes", 500);
const warmup = arg("warmup", 40);
const windowSeconds = 2;

async function sh(cmd: string, args: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** A worktree of the baseline commit with its BPF object built and its npm packages installed. */
async function baselineTree(commit: string): Promise<string> {
  const dir = `/tmp/profiler-bench-baseline-${commit.slice(0, 12)}`;
  try {
    Deno.statSync(`${dir}/main.ts`);
  } catch {
    await sh("git", ["worktree", "add", "--detach", dir, commit]);
  }
  await sh("make", ["-C", `${dir}/bpf`]);
  await sh(Deno.execPath(), ["install"], dir);
  return dir;
}

interface Round {
  cpuPerWindowMs: number;
  rssMiB: number;
  windows: number;
  /** Mean run time of the BPF sampling program (kernel.bpf_stats_enabled). */
  bpfNsPerRun: number;
}

/** A free TCP port on 127.0.0.1 (other people's agents run on this machine too). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function measure(tree: string): Promise<Round> {
  const port = freePort();
  const agent = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-worker-options",
      "--unstable-no-legacy-abort",
      `${tree}/main.ts`,
      `--http-address=127.0.0.1:${port}`,
      `--profiling-duration=${windowSeconds}s`,
      // 99 Hz: each process is sampled in about 40 % of the windows, so that within the warm-up
      // the agent has seen every one of them (records are made on a process's first sample).
      "--profiling-cpu-sampling-frequency=99",
      "--log-level=warn",
    ],
    cwd: tree,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const scrape = async () => {
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(m)?.[1] ?? NaN);
    return {
      windows: value(/^parca_agent_profiler_attempts_total (\S+)$/m),
      runs: value(/^parca_agent_bpf_program_runs_total\{program="profile_cpu"\} (\S+)$/m),
      runSeconds: value(
        /^parca_agent_bpf_program_run_time_seconds_total\{program="profile_cpu"\} (\S+)$/m,
      ),
    };
  };
  let exited = false;
  agent.status.then(() => (exited = true));
  try {
    // Ready first (a loaded machine starts it slowly), then the warm-up.
    for (let i = 0;; i++) {
      if (exited) throw new Error(`the agent of ${tree} exited`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/ready`);
        await r.body?.cancel();
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
      if (i > 600) throw new Error(`the agent of ${tree} did not become ready`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, warmup * 1000));
    const s0 = await scrape();
    const c0 = cpuSeconds(agent.pid);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const c1 = cpuSeconds(agent.pid);
    const s1 = await scrape();
    return {
      cpuPerWindowMs: ((c1 - c0) / (s1.windows - s0.windows)) * 1000,
      rssMiB: rssMiB(agent.pid).rss,
      windows: s1.windows - s0.windows,
      bpfNsPerRun: ((s1.runSeconds - s0.runSeconds) / (s1.runs - s0.runs)) * 1e9,
    };
  } finally {
    agent.kill("SIGTERM");
    await agent.status;
  }
}

const baseline = Deno.env.get("BASELINE") ?? await sh("git", ["merge-base", "HEAD", "main"]);
const baseTree = await baselineTree(baseline);
const dir = await Deno.makeTempDir({ prefix: "bench-records-" });
const spinner = `${dir}/periodic_spin`;
await sh("gcc", ["-O2", "-o", spinner, `${ROOT}tests/programs/periodic_spin.c`]);
const total = rounds * 2 * (warmup + seconds + 5) + 30;
const children = Array.from(
  { length: processes },
  () => new Deno.Command(spinner, { args: ["2", "1000", String(total)], stdout: "null" }).spawn(),
);
const results: { base: Round[]; records: Round[] } = { base: [], records: [] };
const statsBefore = (await Deno.readTextFile("/proc/sys/kernel/bpf_stats_enabled")).trim();
await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", "1");
try {
  await new Promise((r) => setTimeout(r, 2000));
  for (let i = 0; i < rounds; i++) {
    results.base.push(await measure(baseTree));
    results.records.push(await measure(ROOT));
  }
} finally {
  await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", statsBefore);
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      // exited
    }
    await c.status;
  }
  await Deno.remove(dir, { recursive: true });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const row = (name: string, rs: Round[], ref: Round[]) => {
  const avg = (f: (r: Round) => number, of: Round[]) => mean(of.map(f));
  const cpu = avg((r) => r.cpuPerWindowMs, rs);
  const rss = avg((r) => r.rssMiB, rs);
  const bpf = avg((r) => r.bpfNsPerRun, rs);
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  return `| ${name} | ${cpu.toFixed(1)} ms | ${rss.toFixed(1)} MiB | ${bpf.toFixed(0)} ns | ${
    x(cpu, avg((r) => r.cpuPerWindowMs, ref))
  } | ${x(rss, avg((r) => r.rssMiB, ref))} | ${x(bpf, avg((r) => r.bpfNsPerRun, ref))} | ${
    rs.map((r) => r.windows).join(", ")
  } |`;
};
const lines = [
  `Process records, ${processes} processes (each spins 2 ms a second), 99 Hz, ${windowSeconds} s windows, ` +
  `${rounds} alternating rounds of ${seconds} s after a ${warmup} s warm-up, ` +
  `${navigator.hardwareConcurrency} CPUs (${new Date().toISOString().slice(0, 10)}, ` +
  `baseline ${baseline.slice(0, 12)}):`,
  "",
  "| agent | CPU per window | RSS | BPF per sample | CPU | RSS | BPF | windows measured |",
  "|---|---|---|---|---|---|---|---|",
  row("baseline (no records)", results.base, results.base),
  row("records", results.records, results.base),
];
// deno-lint-ignore no-console -- a benchmark's output is its report
console.log(lines.join("\n"));
