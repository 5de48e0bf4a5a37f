// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * How long the agent's main thread is held (root): /ready of this tree's agent and of a control
 * Deno HTTP server (`Deno.serve`, nothing else running in it) probed alternately every 50 ms by
 * one prober, under a load of two busy shells plus N copies of tests/programs/periodic_spin.c (20
 * ms of spinning a second each, so that many processes are sampled in every window). The control
 * shares the machine's scheduling delay with the agent, so the difference between the two is what
 * the agent itself holds (window ends, events, builds).
 *
 *   deno task bench:ready                       # 150 spinners, 60 s warm-up, 40 s of probes
 *   deno task bench:ready --processes=50 --seconds=30 --warmup=30
 *
 * Prints a Markdown table for docs/benchmarks.md.
 *
 * @module
 */

import { arg } from "./_lib/proc.ts";
import { loadAverage, quantile, spawnAgent, waitReady } from "./_lib/measure.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const processes = arg("processes", 150);
const seconds = arg("seconds", 40);
const warmup = arg("warmup", 60);
const AGENT_PORT = 7311;
const CONTROL_PORT = 7312;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = await Deno.makeTempDir({ prefix: "bench_ready_" });
const spinner = `${dir}/periodic_spin`;
const cc = await new Deno.Command("cc", {
  args: ["-O2", "-o", spinner, `${ROOT}tests/programs/periodic_spin.c`],
}).output();
if (!cc.success) throw new Error(new TextDecoder().decode(cc.stderr));
await Deno.writeTextFile(
  `${dir}/control.ts`,
  `Deno.serve({ hostname: "127.0.0.1", port: ${CONTROL_PORT}, onListen() {} }, () => new Response("ok\\n"));\n`,
);

// Every load process ends by itself (timeout / its own clock) even if this script is killed.
const lifetime = warmup + seconds + 60;
const load: Deno.ChildProcess[] = [];
for (let i = 0; i < 2; i++) {
  load.push(
    new Deno.Command("timeout", { args: [String(lifetime), "sh", "-c", "while :; do :; done"] })
      .spawn(),
  );
}
for (let i = 0; i < processes; i++) {
  load.push(new Deno.Command(spinner, { args: ["20", "1000", String(lifetime)] }).spawn());
}
const agent = spawnAgent(AGENT_PORT, [], "null");
const control = new Deno.Command(Deno.execPath(), {
  args: ["run", `--allow-net=127.0.0.1:${CONTROL_PORT}`, `${dir}/control.ts`],
  stdout: "null",
}).spawn();
try {
  await waitReady(AGENT_PORT);
  await waitReady(CONTROL_PORT);
  const loadBefore = loadAverage();
  await sleep(warmup * 1000);
  const latencies = new Map<string, number[]>([["agent", []], ["control", []]]);
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (const [name, port] of [["agent", AGENT_PORT], ["control", CONTROL_PORT]] as const) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      await res.text();
      latencies.get(name)!.push(performance.now() - t);
    }
    await sleep(50);
  }
  const lines = [
    `${processes} periodic spinners + 2 busy shells, load average ${loadBefore} → ${loadAverage()}`,
    "",
    "| server | probes | median | p90 | p99 | worst | over 100 ms |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const [name, xs] of latencies) {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p: number) => `${quantile(s, p).toFixed(1)} ms`;
    const over = s.filter((x) => x > 100).length;
    lines.push(
      `| ${name} | ${s.length} | ${q(0.5)} | ${q(0.9)} | ${q(0.99)} | ${q(1)} | ${over} |`,
    );
  }
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log(lines.join("\n"));
} finally {
  agent.kill("SIGTERM");
  control.kill("SIGTERM");
  for (const p of load) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already ended
    }
  }
  await Promise.all([agent.status, control.status, ...load.map((p) => p.status)]);
  await Deno.remove(dir, { recursive: true });
}
