// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * BPF cost per sample by stage (root). On the load of bench/agent_overhead.ts (two copies of
 * `recursion.c -DDEPTH=28` with frame pointers keep both cores busy), the agent runs with its
 * own builds of bpf/ (`PROFILER_BPF_OBJECT`), with frame pointers and with DWARF unwinding, and
 * the mean run time of its perf_event program (kernel.bpf_stats_enabled) is read over a window:
 *
 * - `--mode=stages`: one build per `-DBENCH_STAGE=N` (profiler.bpf.c returns after stage N; the
 *   default build runs everything), one agent per build, so a stage's cost is the difference
 *   between two rows;
 * - `--mode=timing`: one `-DBENCH_TIMING` build, whose stamps add each stage's
 *   `bpf_ktime_get_ns()` delta into the per-CPU map `bench_times` (bpf/common.h), all stages from
 *   the same samples; the table divides by the samples that reached the end (slot 15).
 *
 * Both by default. The baseline is bpftrace's `profile:hz:19` probe collecting ustack and kstack
 * (as in bench/agent_overhead.ts), measured before and after each table. The objects are built
 * with bpf/Makefile itself into a temporary directory (its `CLANG` with the define added), which
 * is removed at the end.
 *
 *   deno task bench:bpf-stages                      # both tables, 12 s warm-up, 20 s per agent
 *   deno task bench:bpf-stages --mode=timing --seconds=10 --warmup=10
 *
 * Prints the Markdown tables of docs/benchmarks.md ("BPF cost per sample by stage").
 *
 * @module
 */

import { arg } from "./_lib/proc.ts";
import {
  bpfRunStats,
  buildRecursionLoad,
  loadAverage,
  measureRunning,
  spawnAgent,
  stopProcess,
  waitReady,
} from "./_lib/measure.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const PORT = 17195;

const seconds = arg("seconds", 20);
const warmup = arg("warmup", 12);
const modeArg = Deno.args.find((a) => a.startsWith("--mode="))?.split("=")[1];
if (modeArg !== undefined && modeArg !== "stages" && modeArg !== "timing") {
  throw new Error(`--mode=${modeArg}: expected stages or timing (both when absent)`);
}
const modes = modeArg ? [modeArg] : ["stages", "timing"];

/** The early-return builds: `-DBENCH_STAGE=N` (undefined: the default build, everything). */
const STAGES: { define?: number; label: string }[] = [
  { define: 0, label: "0: entry" },
  { define: 1, label: "1: idle/kthread checks, scratch, image, comms" },
  { define: 2, label: "2: + interpreter and mappings look-ups" },
  { define: 3, label: "3: + the user walk" },
  { define: 4, label: "4: + both stack hashes, kernel stack" },
  { label: "5: everything (store stacks, count the sample)" },
];

/** What slot i of `bench_times` holds: the time from stamp i - 1 to stamp i (bpf/). */
const STAMPS = [
  "",
  "pid/kthread checks (count, task flags)",
  "scratch and generation look-ups",
  "current_instance (LRU look-up, start time)",
  "thread and process comm",
  "user registers + interp_begin",
  "pid_to_mappings (DWARF only)",
  "user walk (30 frames)",
  "user stack hash",
  "kernel stack (in-kernel samples)",
  "store the user stack",
  "store the kernel stack",
  "count the sample (72-byte key)",
];
/** Slots inside the user walk (bpf/unwind_user.h bench_add), shown below its row. */
const WALK_PARTS: [number, string][] = [
  [0, "… of which step_dwarf"],
  [14, "… of which finding the rule (table, cache, search, rule)"],
  [16, "… of which finding the mapping (hint, search)"],
];
/** Slots of `bench_times` (BENCH_SLOTS in bpf/common.h; an older tree's object has 16). */
const SLOTS = 20;
/** Slot 13: two stamps in a row, the cost of one stamp. */
const STAMP_SELF = 13;
/** Slot 15: the samples that reached the end. */
const STAMP_END = 15;

/** The agent's two unwinders, as columns. */
const UNWINDERS: { name: string; flags: string[] }[] = [
  { name: "frame pointers", flags: ["--dwarf-unwinding-disable"] },
  { name: "DWARF", flags: [] },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a command to completion.
 *
 * @param cmd The program.
 * @param args Its arguments.
 * @returns Its stdout.
 */
async function run(cmd: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${dec.decode(r.stderr)}`);
  return dec.decode(r.stdout);
}

/**
 * Builds bpf/ with its Makefile into `dir`, with `define` passed to clang.
 *
 * @param dir The temporary directory; the Makefile's output goes to `dir`/build.
 * @param name The object's file name in `dir`.
 * @param define A `-D` flag, or undefined for the default build.
 * @returns The object's path.
 */
async function buildObject(dir: string, name: string, define?: string): Promise<string> {
  const out = `${dir}/build`;
  const clang = [Deno.env.get("CLANG") ?? "clang", define].filter(Boolean).join(" ");
  await run("make", ["-s", "-C", `${ROOT}bpf`, `OUT=${out}`, `CLANG=${clang}`]);
  const obj = `${dir}/${name}`;
  // The Makefile's target has one name: moved away, the next build makes it again.
  await Deno.rename(`${out}/profiler.bpf.o`, obj);
  return obj;
}

/**
 * Sums each slot of `bench_times` over the CPUs, in the map of that name that `pid` holds.
 *
 * @param pid The agent.
 * @returns Slot sums (SLOTS of them; NaN past the object's own).
 */
async function stampSums(pid: number): Promise<number[]> {
  const ids = new Set<number>();
  for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`) !== "anon_inode:bpf-map") continue;
      const info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd.name}`);
      const id = /^map_id:\s*(\d+)$/m.exec(info)?.[1];
      if (id) ids.add(Number(id));
    } catch {
      // closed meanwhile
    }
  }
  const maps = JSON.parse(await run("bpftool", ["map", "show", "-j"])) as {
    id: number;
    name?: string;
  }[];
  const id = maps.find((m) => m.name === "bench_times" && ids.has(m.id))?.id;
  if (id === undefined) throw new Error(`the agent (pid ${pid}) holds no map bench_times`);
  const out = new Array(SLOTS).fill(0);
  // [{key, values: [{cpu, value: {last, ns: [SLOTS numbers]}}]}]: every `ns` array is one CPU's.
  const add = (x: unknown): void => {
    if (Array.isArray(x)) return x.forEach(add);
    if (!x || typeof x !== "object") return;
    for (const [k, v] of Object.entries(x)) {
      if (k === "ns" && Array.isArray(v)) {
        out.forEach((_, i) => out[i] += i < v.length ? Number(v[i]) : NaN);
      } else add(v);
    }
  };
  add(JSON.parse(await run("bpftool", ["map", "dump", "id", String(id), "-j"])));
  return out;
}

/** One agent's window. */
interface Window {
  /** Mean run time of the perf_event program over the window. */
  nsPerRun: number;
  runs: number;
  /** Growth of each `bench_times` slot (timing builds only). */
  stamps?: number[];
}

/**
 * Runs the agent with `obj`, waits until it samples, then `warmup` s, then measures `seconds` s.
 *
 * @param obj The BPF object.
 * @param flags The agent's flags.
 * @param stamps Whether to read `bench_times` too.
 * @returns The window's figures.
 */
async function runAgent(obj: string, flags: string[], stamps: boolean): Promise<Window> {
  Deno.env.set("PROFILER_BPF_OBJECT", obj);
  const agent = spawnAgent(PORT, flags);
  try {
    await waitReady(PORT);
    for (let i = 0; i < 1200 && bpfRunStats(agent.pid).runs === 0; i++) await sleep(100);
    await sleep(warmup * 1000);
    const a = bpfRunStats(agent.pid);
    const ta = stamps ? await stampSums(agent.pid) : [];
    await sleep(seconds * 1000);
    const b = bpfRunStats(agent.pid);
    const tb = stamps ? await stampSums(agent.pid) : [];
    const runs = b.runs - a.runs;
    return {
      nsPerRun: runs > 0 ? (b.runTimeNs - a.runTimeNs) / runs : NaN,
      runs,
      stamps: stamps ? tb.map((x, i) => x - ta[i]) : undefined,
    };
  } finally {
    await stopProcess(agent, "SIGTERM");
    Deno.env.delete("PROFILER_BPF_OBJECT");
  }
}

/**
 * bpftrace's profile probe (ustack + kstack, the map cleared at exit) over `seconds` s.
 *
 * @returns Its perf_event program's mean run time.
 */
async function runBpftrace(): Promise<number> {
  const bt = new Deno.Command("bpftrace", {
    args: ["-e", "profile:hz:19 { @[ustack, kstack] = count(); } END { clear(@); }"],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    return (await measureRunning(bt.pid, 5, seconds)).bpfNsPerRun;
  } finally {
    await stopProcess(bt, "SIGINT");
  }
}

const ns = (x: number) => Number.isFinite(x) ? `${x.toFixed(0)} ns` : "—";
const fixed = (x: number) => Number.isFinite(x) ? x.toFixed(0) : "—";
const load1 = () => loadAverage().split(", ")[0];
const clock = () => new Date().toISOString().slice(11, 16);

/** The conditions of one table: start time, load average and bpftrace before and after. */
async function around<T>(
  body: () => Promise<T>,
): Promise<{ result: T; caption: string }> {
  const t0 = clock(), l0 = load1();
  const b0 = await runBpftrace();
  const result = await body();
  const b1 = await runBpftrace();
  return {
    result,
    caption: `${t0} UTC, load average ${l0} → ${load1()}, bpftrace ${fixed(b0)} / ${
      fixed(b1)
    } ns at the start / end`,
  };
}

/** The early-return table. */
async function stagesTable(dir: string): Promise<string> {
  const objs: string[] = [];
  for (const s of STAGES) {
    const define = s.define === undefined ? undefined : `-DBENCH_STAGE=${s.define}`;
    objs.push(await buildObject(dir, `stage-${s.define ?? "all"}.o`, define));
  }
  const { result, caption } = await around(async () => {
    const rows: Window[][] = [];
    for (const obj of objs) {
      const row: Window[] = [];
      for (const u of UNWINDERS) row.push(await runAgent(obj, u.flags, false));
      rows.push(row);
    }
    return rows;
  });
  return [
    `Early returns (${caption}; ${warmup} s warm-up, ${seconds} s per build):`,
    "",
    `| returns after | ${UNWINDERS.map((u) => u.name).join(" | ")} |`,
    `|---|${UNWINDERS.map(() => "---").join("|")}|`,
    ...STAGES.map((s, i) => `| ${s.label} | ${result[i].map((w) => ns(w.nsPerRun)).join(" | ")} |`),
  ].join("\n");
}

/** The stamps table. */
async function timingTable(dir: string): Promise<string> {
  const obj = await buildObject(dir, "timing.o", "-DBENCH_TIMING");
  const { result, caption } = await around(async () => {
    const cols: Window[] = [];
    for (const u of UNWINDERS) cols.push(await runAgent(obj, u.flags, true));
    return cols;
  });
  const per = (w: Window, slot: number) => (w.stamps?.[slot] ?? NaN) / (w.stamps?.[STAMP_END] ?? 0);
  return [
    `Stamps, ns per sample (${caption}; ${warmup} s warm-up, ${seconds} s):`,
    "",
    `| stage | ${UNWINDERS.map((u) => u.name).join(" | ")} |`,
    `|---|${UNWINDERS.map(() => "---").join("|")}|`,
    ...STAMPS.slice(1).flatMap((label, i) => [
      `| ${label} | ${result.map((w) => fixed(per(w, i + 1))).join(" | ")} |`,
      ...(i + 1 === 7 ? WALK_PARTS : []).map(([slot, part]) =>
        `| ${part} | ${result.map((w) => fixed(per(w, slot))).join(" | ")} |`
      ),
    ]),
    `| total (run_time_ns / run_cnt) | ${result.map((w) => fixed(w.nsPerRun)).join(" | ")} |`,
    "",
    `A stamp costs ${result.map((w) => fixed(per(w, STAMP_SELF))).join(" / ")} ns; ${
      result.map((w) => `${w.stamps?.[STAMP_END] ?? 0} of ${w.runs}`).join(" / ")
    } runs reached the end (${UNWINDERS.map((u) => u.name).join(" / ")}).`,
  ].join("\n");
}

for (const tool of ["bpftrace", "bpftool", "make"]) {
  if (!(await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`] }).output()).success) {
    throw new Error(`${tool} is not installed (scripts/setup.sh installs it)`);
  }
}
const dir = await Deno.makeTempDir({ prefix: "bench-bpf-stages-" });
const statsBefore = (await Deno.readTextFile("/proc/sys/kernel/bpf_stats_enabled")).trim();
const busy: Deno.ChildProcess[] = [];
const tables: string[] = [];
try {
  // The Makefile's vmlinux.h, when this tree has one (otherwise the Makefile dumps it).
  await Deno.mkdir(`${dir}/build`);
  await Deno.copyFile(`${ROOT}bpf/.output/vmlinux.h`, `${dir}/build/vmlinux.h`).catch(() => {});
  const load = await buildRecursionLoad(dir);
  for (let i = 0; i < 2; i++) {
    busy.push(new Deno.Command(load, { args: ["86400"], stdout: "null" }).spawn());
  }
  await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", "1");
  if (modes.includes("stages")) tables.push(await stagesTable(dir));
  if (modes.includes("timing")) tables.push(await timingTable(dir));
} finally {
  await Deno.writeTextFile("/proc/sys/kernel/bpf_stats_enabled", statsBefore);
  for (const b of busy) await stopProcess(b, "SIGKILL");
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
// deno-lint-ignore no-console -- a benchmark's output is its report
console.log(
  `Two copies of recursion.c -DDEPTH=28 keep the ${navigator.hardwareConcurrency} CPUs busy; ` +
    `19 Hz; the perf_event program's run_time_ns / run_cnt; ` +
    `${new Date().toISOString().slice(0, 10)}, kernel ${Deno.osRelease()}.\n\n` +
    tables.join("\n\n"),
);
