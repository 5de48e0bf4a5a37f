// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Time to the first complete stack of a new process (root). Starts the agent at its defaults,
 * lets it settle, then, round after round, starts a fresh copy of a program built without frame
 * pointers (a new file: its table has to be built) and takes the time from the spawn to the
 * agent's line "image has all its tables" for that pid (debug log; from then on BPF walks the
 * whole stack with the tables). Rounds are `--gap` seconds apart, longer than the builders'
 * idle time, so every round pays a worker's start and wasm-unwind's compilation, as a new
 * process on a quiet host does. The same rounds run on the host as it is ("idle") and with every
 * core kept busy by two spinning processes per core at nice 0 ("busy"), in one command.
 *
 *   deno task bench:first-stack                    # 6 rounds each, 12 s apart
 *   deno task bench:first-stack --rounds=3 --gap=11
 *
 * @module
 */

import { arg } from "./_lib/proc.ts";
import { killAll } from "../tests/_lib/programs.ts";
import { loadAverage, median, spawnAgent, waitReady } from "./_lib/measure.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const rounds = arg("rounds", 6);
const gapS = arg("gap", 12);
const settleS = arg("settle", 30);

const dir = await Deno.makeTempDir({ prefix: "bench-first-stack-" });
const program = `${dir}/chain`;
const cc = await new Deno.Command("gcc", {
  args: ["-O2", "-fomit-frame-pointer", "-g0", "-o", program, `${ROOT}tests/programs/cpu_chain.c`],
}).output();
if (!cc.success) throw new Error(`gcc failed: ${new TextDecoder().decode(cc.stderr)}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const port = 20000 + Math.floor(Math.random() * 20000);
const agent = spawnAgent(port, ["--log-level=debug"], "piped");
/** Times (ms since the epoch) of "image has all its tables", by pid (pids are reused). */
const complete = new Map<number, number[]>();
/** The agent's recent log lines, to show what it said during a slow round. */
const about: string[] = [];
const reading = (async () => {
  let rest = "";
  for await (const chunk of agent.stderr!.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) {
      const m = /^time=(\S+) .*msg="image has all its tables" pid=(\d+)/.exec(l);
      if (m) {
        const times = complete.get(Number(m[2])) ?? [];
        times.push(Date.parse(m[1]));
        complete.set(Number(m[2]), times);
      }
      about.push(l);
      if (about.length > 20_000) about.splice(0, 10_000);
    }
  }
})();

/** Sums and counts of parca_agent_unwind_table_build_phase_seconds by phase. */
async function phases(): Promise<Map<string, [number, number]>> {
  const out = new Map<string, [number, number]>();
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (
    const m of text.matchAll(
      /^parca_agent_unwind_table_build_phase_seconds_(sum|count)\{phase="(\w+)"\} (\S+)$/gm,
    )
  ) {
    const v = out.get(m[2]) ?? [0, 0];
    v[m[1] === "sum" ? 0 : 1] = Number(m[3]);
    out.set(m[2], v);
  }
  return out;
}

type Condition = "idle" | "busy";
const results: Record<Condition, number[]> = { idle: [], busy: [] };
const loads: Record<Condition, string> = { idle: "", busy: "" };
try {
  await waitReady(port);
  await sleep(settleS * 1000);
  for (const condition of ["idle", "busy"] as Condition[]) {
    const spinners = condition === "busy"
      ? Array.from(
        { length: 2 * navigator.hardwareConcurrency },
        () =>
          new Deno.Command("sh", { args: ["-c", "while :; do :; done"], stdout: "null" }).spawn(),
      )
      : [];
    try {
      for (let i = 0; i < rounds; i++) {
        await sleep(gapS * 1000);
        const copy = `${dir}/chain_${condition}_${i}`;
        await Deno.copyFile(program, copy);
        const before = await phases();
        const t0 = Date.now();
        const child = new Deno.Command(copy, { args: ["2"], stdout: "null" }).spawn();
        await child.status;
        // The first line after the spawn (log times have millisecond precision); it may come
        // after the program ended (then it ran without its table all along).
        const first = () => complete.get(child.pid)?.find((t) => t >= t0 - 1);
        for (let w = 0; w < 50 && first() === undefined; w++) await sleep(100);
        const t = first();
        results[condition].push(t === undefined ? NaN : t - t0);
        if (t === undefined || t - t0 > 500) {
          const after = await phases();
          // deno-lint-ignore no-console -- where the time went
          console.error(
            "table build steps during the round (s, count): " +
              [...after].map(([k, [sum, n]]) =>
                `${k} ${(sum - (before.get(k)?.[0] ?? 0)).toFixed(3)}/${
                  n - (before.get(k)?.[1] ?? 0)
                }`
              ).join(", "),
          );
          // deno-lint-ignore no-console -- says why a round has no figure
          console.error(
            `round ${condition} ${i} (pid ${child.pid}): ${
              t === undefined ? "no tables" : `${t - t0} ms`
            }; agent said:\n` +
              about.filter((l) =>
                l.includes(copy) || l.includes(`pid=${child.pid} `) ||
                l.includes("window done") && Math.abs(Date.parse(l.slice(5, 29)) - t0) < 3000
              )
                .join("\n"),
          );
        }
      }
      loads[condition] = loadAverage();
    } finally {
      await killAll(spinners);
    }
  }
} finally {
  agent.kill("SIGTERM");
  await agent.status;
  await reading.catch(() => {});
  await Deno.remove(dir, { recursive: true });
}

const fmt = (xs: number[]) => xs.map((x) => (Number.isNaN(x) ? "none" : `${x}`)).join(", ");
const row = (c: Condition) => {
  const xs = results[c];
  const ok = xs.filter((x) => !Number.isNaN(x));
  return `| ${c.padEnd(4)} | ${median(xs).toFixed(0)} ms | ${Math.max(...ok).toFixed(0)} ms | ` +
    `${ok.length} of ${xs.length} | ${fmt(xs)} | ${loads[c]} |`;
};
// deno-lint-ignore no-console -- the benchmark's report
console.log(
  [
    `Time from spawn to all tables loaded, new no-frame-pointer program, ${rounds} rounds ` +
    `${gapS} s apart (${navigator.hardwareConcurrency} CPUs; busy: ` +
    `${2 * navigator.hardwareConcurrency} spinners at nice 0)`,
    "",
    "| host | median | worst | rounds with tables | each round (ms) | load average after |",
    "| ---- | ------ | ----- | ------------------ | --------------- | ------------------ |",
    row("idle"),
    row("busy"),
    "",
    `busy / idle (medians): ${(median(results.busy) / median(results.idle)).toFixed(2)}×`,
  ].join("\n"),
);
