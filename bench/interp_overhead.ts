// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Cost of the Python walker (root): CPU-bound Python processes, each spinning under a 30-frame
 * Python stack, profiled by the agent with its defaults and then with
 * --python-unwinding-disable (the same program's native-only walk), for the same time each, in
 * one command. Reports per run the BPF program's mean run time per sample
 * (kernel.bpf_stats_enabled), the user-space time per window (turning a window's samples into
 * profiles, where interpreter frames are named), the agent's CPU share and RSS.
 *
 *   sudo deno task bench:interp [--seconds=20] [--processes=8] [--rounds=3]
 *
 * The two agents alternate for `rounds` rounds and each figure is the median of its runs, so a
 * change in the machine's load between runs moves both sides.
 *
 * Python versions: 3.11 (frames of one eval-loop activation: the native walk is short) and 3.10
 * (one eval activation per Python frame: the native walk is long too), from pyenv.
 *
 * @module
 */

import { arg, BPF_RUNS, BPF_TIME, measureAgent, rssMiB } from "./_lib/proc.ts";
import { startBenchAgent } from "./_lib/measure.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const seconds = arg("seconds", 20);
const nproc = arg("processes", 8);
const rounds = arg("rounds", 3);
const warmup = 10;

interface Run {
  cpu: number;
  rss: number;
  nsPerRun: number;
  runs: number;
  windowMs: number;
  windows: number;
  /** Time in the interpreter tracker per window (detecting and naming frames), ms. */
  interpMs: number;
  /** BPF: time in the interpreter walk per sample (all samples, Python or not), ns. */
  interpNsPerRun: number;
  /** BPF: time in the interpreter walk per Python frame pushed, ns. */
  nsPerFrame: number;
}

async function runAgent(extra: string[], port: number): Promise<Run> {
  const agent = await startBenchAgent(port, extra);
  const WSUM = /^parca_agent_profiler_attempt_duration_seconds_sum (\S+)$/m;
  const WCOUNT = /^parca_agent_profiler_attempt_duration_seconds_count (\S+)$/m;
  const DETECT = /^parca_agent_interpreter_seconds_total\{op="detect"\} (\S+)$/m;
  const NAME = /^parca_agent_interpreter_seconds_total\{op="name"\} (\S+)$/m;
  const INS = /^parca_agent_bpf_samples_total\{outcome="interp_ns"\} (\S+)$/m;
  const IFRAMES = /^parca_agent_bpf_samples_total\{outcome="interp_frames"\} (\S+)$/m;
  const { cpu, delta: d } = await measureAgent(agent, warmup, seconds);
  const { hwm: rss } = rssMiB(agent.child.pid);
  await agent.stop();
  return {
    cpu,
    rss,
    nsPerRun: (d(BPF_TIME) / d(BPF_RUNS)) * 1e9,
    runs: d(BPF_RUNS),
    windowMs: (d(WSUM) / d(WCOUNT)) * 1000,
    windows: d(WCOUNT),
    interpMs: ((d(DETECT) + d(NAME)) / d(WCOUNT)) * 1000,
    interpNsPerRun: d(INS) / d(BPF_RUNS),
    nsPerFrame: d(IFRAMES) ? d(INS) / d(IFRAMES) : 0,
  };
}

const home = Deno.env.get("HOME") ?? "/root";
const pythons: string[] = [];
for (const minor of [11, 10]) {
  for (const e of Deno.readDirSync(`${home}/.pyenv/versions`)) {
    if (e.name.startsWith(`3.${minor}.`)) {
      pythons.push(`${home}/.pyenv/versions/${e.name}/bin/python3`);
    }
  }
}
if (!pythons.length) throw new Error("no pyenv python 3.10 or 3.11");
// Long enough for slow start-ups under load (each run waits for sampling first); killed at the end.
const total = rounds * 2 * (seconds + warmup + 60) + 60;

function median(runs: Run[]): Run {
  const pick = (f: (r: Run) => number) => {
    const v = runs.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  return {
    cpu: pick((r) => r.cpu),
    rss: pick((r) => r.rss),
    nsPerRun: pick((r) => r.nsPerRun),
    runs: runs.reduce((n, r) => n + r.runs, 0),
    windowMs: pick((r) => r.windowMs),
    windows: runs.reduce((n, r) => n + r.windows, 0),
    interpMs: pick((r) => r.interpMs),
    interpNsPerRun: pick((r) => r.interpNsPerRun),
    nsPerFrame: pick((r) => r.nsPerFrame),
  };
}
const statsBefore = (await Deno.readTextFile("/proc/sys/kernel/bpf_stats_enabled")).trim();
await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", "1");
const lines: string[] = [];
try {
  let port = 17181;
  for (const py of pythons) {
    const procs = Array.from({ length: nproc }, () =>
      new Deno.Command(py, {
        args: [`${ROOT}bench/programs/py_deep.py`, "27", String(total)],
        stdout: "null",
      }).spawn());
    try {
      const ons: Run[] = [];
      const offs: Run[] = [];
      for (let i = 0; i < rounds; i++) {
        ons.push(await runAgent([], port++));
        offs.push(await runAgent(["--python-unwinding-disable"], port++));
      }
      const on = median(ons);
      const off = median(offs);
      const version = /versions\/(3\.\d+\.\d+)/.exec(py)?.[1] ?? py;
      const row = (name: string, r: Run) =>
        `| ${version} | ${name} | ${r.nsPerRun.toFixed(0)} ns (${r.runs} runs) | ${
          r.interpNsPerRun.toFixed(0)
        } ns; ${r.nsPerFrame.toFixed(0)} ns per frame, ${
          (r.nsPerFrame * 30 / 1000).toFixed(1)
        } µs per 30 | ${r.interpMs.toFixed(2)} ms | ${r.windowMs.toFixed(1)} ms (${r.windows}) | ${
          (r.cpu * 100).toFixed(2)
        } % | ${r.rss.toFixed(1)} MiB |`;
      lines.push(row("Python walker (default)", on), row("`--python-unwinding-disable`", off));
      lines.push(
        `| ${version} | ratio on/off | ${(on.nsPerRun / off.nsPerRun).toFixed(2)}× | | | ${
          (on.windowMs / off.windowMs).toFixed(2)
        }× | ${(on.cpu / off.cpu).toFixed(2)}× | |`,
      );
    } finally {
      for (const p of procs) {
        try {
          p.kill("SIGKILL");
        } catch {
          // exited
        }
        await p.status;
      }
    }
  }
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log([
    `${nproc} CPU-bound Python processes per version, each under 30 Python frames (<module>, 28 ` +
    `recursive frames, the leaf's loop), ${rounds} rounds of ${seconds} s per agent after ${warmup} s of ` +
    `warm-up (medians; runs and windows summed), 19 Hz, ` +
    `${navigator.hardwareConcurrency} CPUs (${
      new Date().toISOString().slice(0, 10)
    }, kernel ${Deno.osRelease()}):`,
    "",
    "| Python | agent | BPF mean run time per sample | of which the Python walk | interpreter user space per window | whole window (all processes) | agent CPU | RSS peak |",
    "|---|---|---|---|---|---|---|---|",
    ...lines,
    "",
    `Load average at the end: ${load}. BPF run time is CPU time in the program (not preempted), so`,
    "it holds under load; user-space times are wall-clock and grow with the machine's load.",
  ].join("\n"));
} finally {
  await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", statsBefore);
}
