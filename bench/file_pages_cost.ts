// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * What the agent's drop of its idle file pages (src/agent/file_pages.ts) costs and saves over a
 * longer run than `bench:binaries` measures: agents of two checkouts, one after another in
 * alternating rounds, each at its defaults for `--seconds`; from `--from` seconds on, its CPU time
 * (share of one core), minor and major page faults per second, and median RSS / RssFile, read
 * from /proc every second. Run it beside a load of your choice (e.g. while
 * `deno task bench:binaries`' workload runs, or on a quiet host).
 *
 *   deno run -A bench/file_pages_cost.ts --tree=/work/main --tree=. --seconds=120 --from=35
 *
 * @module
 */

import { arg, cpuSeconds } from "./_lib/proc.ts";
import { loadAverage, median, spread, waitReady } from "./_lib/measure.ts";
import { sampleMemory } from "./_lib/memory_trace.ts";

const seconds = arg("seconds", 120);
const from = arg("from", 35);
const rounds = arg("rounds", 2);
const trees = Deno.args.filter((a) => a.startsWith("--tree=")).map((a) => a.slice(7));
if (trees.length === 0) trees.push(".");

interface Run {
  cpu: number;
  minflt: number;
  majflt: number;
  rss: number;
  file: number;
}

function faults(pid: number): [number, number] {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  // Fields 10 and 12 of stat(5) (minflt, majflt), counted from field 3 (state) at index 0.
  return [Number(f[7]), Number(f[9])];
}

async function runAgent(tree: string, port: number): Promise<Run> {
  const agent = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-worker-options",
      "--unstable-no-legacy-abort",
      `${tree.replace(/\/?$/, "/")}main.ts`,
      `--http-address=127.0.0.1:${port}`,
      "--log-level=warn",
    ],
    stdout: "null",
  }).spawn();
  const t0 = performance.now();
  try {
    await waitReady(port);
    const at = (s: number) =>
      new Promise((r) => setTimeout(r, Math.max(0, t0 + s * 1000 - performance.now())));
    await at(from);
    const cpu0 = cpuSeconds(agent.pid);
    const [min0, maj0] = faults(agent.pid);
    const rss: number[] = [];
    const file: number[] = [];
    for (let s = from + 1; s <= seconds; s++) {
      await at(s);
      const st = sampleMemory(agent.pid, s);
      if (!st) throw new Error(`the agent (pid ${agent.pid}) exited at ${s} s`);
      rss.push(st.rss);
      file.push(st.file);
    }
    const span = seconds - from;
    const [min1, maj1] = faults(agent.pid);
    return {
      cpu: (cpuSeconds(agent.pid) - cpu0) / span * 100,
      minflt: (min1 - min0) / span,
      majflt: (maj1 - maj0) / span,
      rss: median(rss),
      file: median(file),
    };
  } finally {
    agent.kill("SIGTERM");
    await agent.status;
  }
}

const loads = [loadAverage()];
const results = new Map<string, Run[]>(trees.map((t) => [t, []]));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...trees].reverse() : trees;
  for (const [i, t] of order.entries()) results.get(t)!.push(await runAgent(t, 17191 + i));
  loads.push(loadAverage());
}
const f = (d: number) => (x: number) => x.toFixed(d);
// deno-lint-ignore no-console -- a benchmark's output is its report
console.log([
  `${seconds} s per agent, measured from ${from} s on, ${rounds} round(s), median (range); ` +
  `load average ${loads.join(" → ")}:`,
  "",
  "| tree | CPU, % of a core | minor faults / s | major faults / s | RSS | RssFile |",
  "|---|---|---|---|---|---|",
  ...trees.map((t) => {
    const xs = results.get(t)!;
    return `| ${t} | ${spread(xs.map((x) => x.cpu), f(3))} | ${
      spread(xs.map((x) => x.minflt), f(1))
    } | ${spread(xs.map((x) => x.majflt), f(2))} | ${spread(xs.map((x) => x.rss), f(1))} MiB | ${
      spread(xs.map((x) => x.file), f(1))
    } MiB |`;
  }),
].join("\n"));
