// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Start-up cost with many distinct binaries (root). Starts about 50 CPU-bound processes of
 * distinct real binaries at nice 19 (every pyenv Python and Debian's, Node, Java 17 and the
 * other JDKs, Ruby, Perl, compressors and checksum tools, Go and Rust programs, and C programs
 * that load libLLVM and libclang-cpp, so libLLVM-sized tables are built), then, in alternating
 * rounds, the agent at its defaults and, as the baseline, with `--dwarf-unwinding-disable`, and
 * reports: peak RSS from start (VmHWM), steady RSS (median over the last `--seconds`), time to
 * tables (`parca_agent_unwind_time_to_tables_seconds`: mean and the bucket under which 90 % and
 * all fall), the time until no table build is pending, and the table bytes in BPF maps.
 *
 * The agent's memory is also sampled every 100 ms over the first `--trace-seconds` of each run
 * (`/proc/PID/status` and `smaps_rollup`: when the peak came, and how much of it was anonymous
 * memory, file pages and threads); `--trace-dir=DIR` writes each run's samples as CSV there.
 * With `--trace-dir`, each run also gets `NAME-detail.csv`: every 100 ms RssShmem, the thread
 * count by name (`/proc/PID/task/TID/comm`: table workers, V8 and tokio threads) and, every
 * 500 ms, the agent's builds in flight and tables built (its /metrics); and `NAME.log`, the
 * agent's stderr (`--agent-args=--log-level=debug`, `--deno-flags=--v8-flags=--trace-gc` put
 * there what the agent and V8 say, each V8 line with its milliseconds since the isolate's start).
 * `--smaps-at=S1,S2,...` also copies `/proc/PID/smaps` at those seconds (`NAME-smaps-S.txt`).
 * `--tree=DIR` adds a third agent, another checkout's (e.g. main's worktree) at its defaults, to
 * each round, so a change and what it changes are measured in one command.
 *
 * The agents above are started as `deno run --allow-all main.ts` (the figures of earlier runs
 * are of those). `launch` and `fp-launch` start the agent as users do (`./agent.sh`, `deno task
 * agent`): the checkout's `launch.ts` with the task's permissions, which replaces itself with the
 * permission-scoped agent under the launcher's Deno and V8 options and malloc environment
 * (src/launcher); `tree-launch` is `--tree`'s launcher. Each `--launch-v8=FLAGS` (repeatable; V8's
 * own comma-separated list) adds a launched DWARF agent with `DENO_V8_FLAGS=FLAGS`, which Deno adds
 * to the launcher's `--v8-flags` (e.g. `--launch-v8=--max-semi-space-size=2`). For launched
 * agents, `--deno-flags`' `--v8-flags=` values also go through `DENO_V8_FLAGS` (Deno's other
 * flags cannot reach a launched agent). `--only=dwarf,tree,fp,launch,fp-launch,tree-launch,v8`
 * runs only those agents (default: dwarf, tree, fp and every `--launch-v8`; `v8` selects all
 * `--launch-v8` agents).
 *
 *   deno task bench:binaries                       # 90 s per run, 2 rounds
 *   deno task bench:binaries --seconds=60 --rounds=1
 *   deno task bench:binaries --seconds=45 --rounds=2 --tree=/work/main --trace-dir=/tmp/trace
 *   deno task bench:binaries --seconds=40 --rounds=2 --only=dwarf,launch,fp,fp-launch
 *   deno task bench:binaries --only=launch,v8 --launch-v8=--max-semi-space-size=1
 *
 * @module
 */

import { arg, rssMiB } from "./_lib/proc.ts";
import { killAll } from "../tests/_lib/programs.ts";
import { loadAverage, median, spread, waitReady } from "./_lib/measure.ts";
import { MemoryTrace, peakOf, traceCsv } from "./_lib/memory_trace.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const seconds = arg("seconds", 90);
const steadyWindow = arg("steady", 30);
const rounds = arg("rounds", 2);
const traceSeconds = arg("trace-seconds", 60);
const textArg = (name: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const traceDir = textArg("trace-dir");
const otherTree = textArg("tree");
const listArg = (name: string) => textArg(name)?.split(",").filter((x) => x) ?? [];
/** Deno flags for every agent (before main.ts), e.g. `--v8-flags=--trace-gc`. */
const denoFlags = listArg("deno-flags");
/** Flags added to every agent's own, e.g. `--log-level=debug`. */
const agentArgs = listArg("agent-args");
const only = listArg("only");
/** V8 flags of each extra launched agent (`--launch-v8=FLAGS`, repeatable). */
const launchV8 = Deno.args.filter((a) => a.startsWith("--launch-v8=")).map((a) =>
  a.slice("--launch-v8=".length)
);
/** Seconds after the agent's spawn at which its /proc/PID/smaps is copied (with --trace-dir). */
const smapsAt = listArg("smaps-at").map(Number);

const dir = await Deno.makeTempDir({ prefix: "bench-binaries-" });

async function run(cmd: string, args: string[]): Promise<boolean> {
  const r = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()
    .catch(() => undefined);
  return r?.success ?? false;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Command lines of distinct binaries that spin until killed. */
async function workload(): Promise<string[][]> {
  const cmds: string[][] = [];
  const pyenv = `${Deno.env.get("HOME") ?? "/root"}/.pyenv/versions`;
  try {
    for (const v of Deno.readDirSync(pyenv)) {
      const py = `${pyenv}/${v.name}/bin/python`;
      if (await exists(py)) cmds.push([py, "-c", "while True: pass"]);
    }
  } catch {
    // no pyenv
  }
  for (const py of ["/usr/bin/python3"]) {
    if (await exists(py)) cmds.push([py, "-c", "while True: pass"]);
  }
  if (await exists("/usr/bin/node")) cmds.push(["/usr/bin/node", "-e", "for(;;){}"]);
  await Deno.writeTextFile(
    `${dir}/Spin.java`,
    "public class Spin { public static void main(String[] a) { long x = 0; for (;;) x++; } }",
  );
  try {
    for (const jdk of Deno.readDirSync("/usr/lib/jvm")) {
      const java = `/usr/lib/jvm/${jdk.name}/bin/java`;
      if (jdk.isDirectory && await exists(java)) {
        cmds.push([java, "-Xmx64m", "-XX:+UseSerialGC", `${dir}/Spin.java`]);
      }
    }
  } catch {
    // no JDK
  }
  if (await exists("/usr/bin/ruby")) cmds.push(["/usr/bin/ruby", "-e", "loop {}"]);
  if (await exists("/usr/bin/perl")) cmds.push(["/usr/bin/perl", "-e", "1 while 1"]);
  for (
    const [bin, ...args] of [
      ["/usr/bin/gzip", "-c", "/dev/zero"],
      ["/usr/bin/bzip2", "-c", "/dev/zero"],
      ["/usr/bin/xz", "-c", "-T1", "/dev/zero"],
      ["/usr/bin/zstd", "-c", "/dev/zero"],
      ["/usr/bin/lz4", "-c", "/dev/zero"],
      ["/usr/bin/sha256sum", "/dev/zero"],
      ["/usr/bin/sha1sum", "/dev/zero"],
      ["/usr/bin/md5sum", "/dev/zero"],
      ["/usr/bin/b2sum", "/dev/zero"],
      ["/usr/bin/cksum", "/dev/zero"],
      ["/usr/bin/od", "/dev/zero"],
      ["/usr/bin/base64", "/dev/zero"],
    ]
  ) {
    // Output to /dev/null through sh, so the binary itself is the process.
    if (await exists(bin)) cmds.push(["/bin/sh", "-c", `exec ${bin} ${args.join(" ")} >/dev/null`]);
  }
  // Programs built here: Go, Rust, and C programs that load the big C++ libraries.
  const goSrc = `${ROOT}tests/programs/go_chain`;
  if (await exists(goSrc)) {
    const ok = await new Deno.Command("go", {
      args: ["build", "-o", `${dir}/go_chain`, "main.go"],
      cwd: goSrc,
      stdout: "null",
      stderr: "null",
    }).output().then((r) => r.success).catch(() => false);
    if (ok) cmds.push([`${dir}/go_chain`, "100000"]);
  }
  if (
    await run("rustc", ["-O", "-o", `${dir}/rust_chain`, `${ROOT}tests/programs/rust_chain.rs`])
  ) {
    cmds.push([`${dir}/rust_chain`, "100000"]);
  }
  const libs = [
    "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
    "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
    "/usr/lib/llvm-14/lib/libclang-cpp.so.14",
    "/usr/lib/x86_64-linux-gnu/libgtk-3.so.0",
  ];
  const dl = `${dir}/dl_spin.c`;
  await Deno.writeTextFile(
    dl,
    `#include <dlfcn.h>
#include <stdio.h>
volatile unsigned long sink;
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) if (!dlopen(argv[i], RTLD_NOW)) { fprintf(stderr, "%s\\n", dlerror()); return 1; }
  for (;;) sink++;
}
`,
  );
  for (const lib of libs) {
    if (!await exists(lib)) continue;
    const name = lib.split("/").pop()!.replace(/\W/g, "_");
    if (await run("gcc", ["-O1", `-DTAG_${name}`, "-o", `${dir}/dl_${name}`, dl, "-ldl"])) {
      cmds.push([`${dir}/dl_${name}`, lib]);
    }
  }
  // Fill up to 50 with C and C++ programs of distinct build IDs (different -D values).
  for (let i = 0; cmds.length < 50; i++) {
    const out = `${dir}/spin_${i}`;
    const cc = i % 2 ? "g++" : "gcc";
    const src = i % 2 ? `${ROOT}tests/programs/thrower.cc` : `${ROOT}tests/programs/cpu_chain.c`;
    if (!await run(cc, ["-O2", `-DVARIANT=${i}`, "-o", out, src])) break;
    cmds.push([out, "100000"]);
  }
  return cmds;
}

interface Figures {
  peakRss: number;
  steadyRss: number;
  tablesMeanS: number;
  tablesP90S: number;
  tablesMaxS: number;
  settledS: number;
  tableBytes: number;
  rows: number;
  tables: number;
  /** Seconds from spawn to the largest VmRSS sampled, and RssAnon / RssFile then (MiB). */
  peakAtS: number;
  peakAnon: number;
  peakFile: number;
  maxThreads: number;
}

/** One agent of the bench's rounds. */
interface Variant {
  /** Its name for `--only`. */
  key: string;
  /** Its row's name in the tables. */
  label: string;
  /** The checkout it runs. */
  root: string;
  /** Its own flags (besides the port, the log level and `--agent-args`). */
  extra: string[];
  port: number;
  /** Started through the checkout's launcher (launch.ts), as users start it. */
  launched: boolean;
  /** `DENO_V8_FLAGS` of a launched agent (`--launch-v8`). */
  v8?: string;
  results: Figures[];
}

const FP = ["--dwarf-unwinding-disable"];

/** The agents of each round, in the order of the first round. */
function variants(): Variant[] {
  const v = (
    key: string,
    label: string,
    root: string,
    extra: string[],
    port: number,
    launched: boolean,
    v8?: string,
  ): Variant => ({ key, label, root, extra, port, launched, v8, results: [] });
  const all = [
    v("dwarf", "defaults (DWARF unwinding)", ROOT, [], 17181, false),
    ...(otherTree ? [v("tree", `defaults, ${otherTree}`, otherTree, [], 17183, false)] : []),
    v("fp", "baseline: `--dwarf-unwinding-disable`", ROOT, FP, 17182, false),
    v("launch", "launched (`deno task agent`), defaults", ROOT, [], 17184, true),
    ...(otherTree
      ? [v("tree-launch", `launched, defaults, ${otherTree}`, otherTree, [], 17185, true)]
      : []),
    v("fp-launch", "launched, `--dwarf-unwinding-disable`", ROOT, FP, 17186, true),
    ...launchV8.map((flags, i) =>
      v("v8", `launched, defaults, \`DENO_V8_FLAGS=${flags}\``, ROOT, [], 17190 + i, true, flags)
    ),
  ];
  return all.filter((x) => !only.length || only.includes(x.key));
}

/** The `--v8-flags=` values among `--deno-flags`, and Deno's other flags. */
function splitDenoFlags(): { v8: string[]; rest: string[] } {
  const v8 = denoFlags.filter((f) => f.startsWith("--v8-flags=")).map((f) => f.slice(11));
  return { v8, rest: denoFlags.filter((f) => !f.startsWith("--v8-flags=")) };
}

/**
 * The command line of `deno task agent` in the checkout at `root` (as agent.sh runs it), with
 * this Deno: its launcher replaces itself with the permission-scoped agent, same pid.
 */
function launcherCommand(root: string): string[] {
  const tasks = JSON.parse(Deno.readTextFileSync(`${root.replace(/\/?$/, "/")}deno.json`)).tasks;
  const [deno, ...args] = String(tasks.agent).split(/\s+/);
  if (deno !== "deno") throw new Error(`unexpected agent task in ${root}: ${tasks.agent}`);
  return args;
}

/**
 * Starts one agent: a plain `deno run --allow-all main.ts` of its checkout (as the benches did
 * before `launch`), or through the checkout's launcher.
 */
function spawnAgentOf(
  variant: Variant,
  logTo?: string,
): { agent: Deno.ChildProcess; log?: Promise<void> } {
  const root = variant.root.replace(/\/?$/, "/");
  const agentFlags = [
    `--http-address=127.0.0.1:${variant.port}`,
    "--log-level=warn",
    ...agentArgs,
    ...variant.extra,
  ];
  const v8 = [...splitDenoFlags().v8, ...(variant.v8 ? [variant.v8] : [])].join(",");
  const agent = new Deno.Command(Deno.execPath(), {
    args: variant.launched ? [...launcherCommand(root), ...agentFlags] : [
      "run",
      "--allow-all",
      "--unstable-worker-options",
      "--unstable-no-legacy-abort",
      ...denoFlags,
      `${root}main.ts`,
      ...agentFlags,
    ],
    cwd: variant.launched ? root : undefined,
    // Deno adds DENO_V8_FLAGS to the launcher's --v8-flags (checked on Deno 2.9.6).
    env: variant.launched && v8 ? { DENO_V8_FLAGS: v8 } : undefined,
    // V8's traces (e.g. --trace-gc) go to stdout.
    stdout: logTo ? "piped" : "null",
    stderr: logTo ? "piped" : "inherit",
  }).spawn();
  if (!logTo) return { agent };
  const to = (stream: ReadableStream<Uint8Array>, path: string) =>
    Deno.open(path, { write: true, create: true, truncate: true }).then((f) =>
      stream.pipeTo(f.writable)
    );
  const log = Promise.all([
    to(agent.stderr, logTo),
    to(agent.stdout, logTo.replace(/\.log$/, ".stdout")),
  ]).then(() => {});
  return { agent, log };
}

/** One detailed sample: RssShmem and threads by name every 100 ms, metrics when polled. */
interface DetailSample {
  t: number;
  shmem: number;
  threads: Map<string, number>;
  inFlight?: number;
  built?: number;
}

/** Samples what MemoryTrace does not: shared memory, threads by name, the agent's metrics. */
class DetailTrace {
  readonly samples: DetailSample[] = [];
  readonly #t0 = performance.now();
  readonly #timer: ReturnType<typeof setInterval>;
  #ticks = 0;
  #warned = false;

  constructor(pid: number, port: number, seconds: number, smapsTo?: (t: number) => string) {
    const smapsDue = [...smapsAt].sort((a, b) => a - b);
    this.#timer = setInterval(() => {
      const t = (performance.now() - this.#t0) / 1000;
      while (smapsTo && smapsDue.length && t >= smapsDue[0]) {
        const at = smapsDue.shift()!;
        try {
          Deno.writeTextFileSync(smapsTo(at), Deno.readTextFileSync(`/proc/${pid}/smaps`));
        } catch {
          // gone
        }
      }
      if (t > seconds) {
        this.stop();
        return;
      }
      const threads = new Map<string, number>();
      let shmem = NaN;
      try {
        shmem = Number(
          /^RssShmem:\s+(\d+) kB$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1],
        ) / 1024;
        for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
          try {
            const comm = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/comm`).trim();
            threads.set(comm, (threads.get(comm) ?? 0) + 1);
          } catch {
            // the thread ended
          }
        }
      } catch {
        return; // gone
      }
      const s: DetailSample = { t, shmem, threads };
      this.samples.push(s);
      if (this.#ticks++ % 5 === 0) {
        fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).then((m) => {
          s.inFlight = Number(
            /^parca_agent_unwind_table_builds_in_flight (\S+)$/m.exec(m)?.[1] ?? NaN,
          );
          s.built = Number(/^parca_agent_unwind_tables_built_total (\S+)$/m.exec(m)?.[1] ?? NaN);
        }).catch((e) => {
          // deno-lint-ignore no-console -- a benchmark reports to its own stderr
          if (!this.#warned) console.error(`cannot read the agent's metrics: ${e}`);
          this.#warned = true;
        });
      }
    }, 100);
  }

  stop(): DetailSample[] {
    clearInterval(this.#timer);
    return this.samples;
  }
}

function detailCsv(samples: DetailSample[]): string {
  const names = [...new Set(samples.flatMap((s) => [...s.threads.keys()]))].sort();
  return [
    ["t", "shmem_mib", "in_flight", "built", ...names.map((n) => `threads:${n}`)].join(","),
    ...samples.map((s) =>
      [
        s.t.toFixed(2),
        s.shmem.toFixed(1),
        s.inFlight ?? "",
        s.built ?? "",
        ...names.map((n) => s.threads.get(n) ?? 0),
      ].join(",")
    ),
  ].join("\n") + "\n";
}

function histogram(metrics: string, name: string): { le: number; count: number }[] {
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, "gm");
  return [...metrics.matchAll(re)].map((m) => ({
    le: m[1] === "+Inf" ? Infinity : Number(m[1]),
    count: Number(m[2]),
  }));
}

function quantileBucket(buckets: { le: number; count: number }[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (!total) return NaN;
  return buckets.find((b) => b.count >= q * total)?.le ?? NaN;
}

async function runAgent(variant: Variant, name: string): Promise<Figures> {
  if (traceDir) await Deno.mkdir(traceDir, { recursive: true });
  const { extra, port } = variant;
  const { agent, log } = spawnAgentOf(variant, traceDir ? `${traceDir}/${name}.log` : undefined);
  const t0 = performance.now();
  const trace = new MemoryTrace(agent.pid, 100, traceSeconds);
  const detail = traceDir
    ? new DetailTrace(
      agent.pid,
      port,
      traceSeconds,
      (at) => `${traceDir}/${name}-smaps-${at}.txt`,
    )
    : undefined;
  try {
    await waitReady(port);
    const value = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    const metrics = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let settledS = NaN;
    const rss: number[] = [];
    while (performance.now() - t0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed >= seconds - steadyWindow) rss.push(rssMiB(agent.pid).rss);
      if (Number.isNaN(settledS) && extra.length === 0) {
        const m = await metrics();
        const inFlight = value(m, /^parca_agent_unwind_table_builds_in_flight (\S+)$/m);
        const built = value(m, /^parca_agent_unwind_tables_built_total (\S+)$/m);
        if (inFlight === 0 && built > 0 && elapsed > 5) settledS = elapsed;
      }
    }
    const m = await metrics();
    const buckets = histogram(m, "parca_agent_unwind_time_to_tables_seconds");
    const sum = value(m, /^parca_agent_unwind_time_to_tables_seconds_sum (\S+)$/m);
    const count = value(m, /^parca_agent_unwind_time_to_tables_seconds_count (\S+)$/m);
    const samples = trace.stop();
    const peak = peakOf(samples);
    if (traceDir) {
      await Deno.writeTextFile(`${traceDir}/${name}.csv`, traceCsv(samples));
      await Deno.writeTextFile(`${traceDir}/${name}-detail.csv`, detailCsv(detail!.stop()));
    }
    return {
      peakAtS: peak.atPeak?.t ?? NaN,
      peakAnon: peak.atPeak?.anon ?? NaN,
      peakFile: peak.atPeak?.file ?? NaN,
      maxThreads: peak.maxThreads,
      peakRss: rssMiB(agent.pid).hwm,
      steadyRss: median(rss),
      tablesMeanS: count > 0 ? sum / count : NaN,
      tablesP90S: quantileBucket(buckets, 0.9),
      tablesMaxS: quantileBucket(buckets, 1),
      settledS,
      tableBytes: value(m, /^parca_agent_unwind_table_bytes (\S+)$/m),
      rows: value(m, /^parca_agent_unwind_table_rows (\S+)$/m),
      tables: value(m, /^parca_agent_unwind_tables_built_total (\S+)$/m),
    };
  } finally {
    trace.stop();
    detail?.stop();
    try {
      agent.kill("SIGTERM");
    } catch {
      // gone
    }
    await agent.status;
    await log;
  }
}

const cmds = await workload();
const procs = cmds.map(([cmd, ...args]) =>
  new Deno.Command("nice", { args: ["-n", "19", cmd, ...args], stdout: "null", stderr: "null" })
    .spawn()
);
const loads = [loadAverage()];
const agents = variants();
if (agents.some((a) => a.launched) && splitDenoFlags().rest.length) {
  // deno-lint-ignore no-console -- a benchmark reports to its own stderr
  console.error(
    `launched agents run without --deno-flags ${splitDenoFlags().rest.join(" ")}: ` +
      "only --v8-flags reach them (through DENO_V8_FLAGS)",
  );
}
try {
  // Let the runtimes start (Java compiles its source first) before the first agent.
  await new Promise((r) => setTimeout(r, 15_000));
  for (let r = 0; r < rounds; r++) {
    // The order alternates between rounds, so neither agent always runs on a warmer host.
    const order = r % 2 ? [...agents].reverse() : agents;
    for (const a of order) {
      const i = launchV8.indexOf(a.v8 ?? "");
      a.results.push(await runAgent(a, `${a.key}${a.v8 !== undefined ? i : ""}-${r}`));
    }
    loads.push(loadAverage());
  }
} finally {
  await killAll(procs);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
const alive = cmds.length;
const mib = (x: number) => `${x.toFixed(1)} MiB`;
const s = (x: number) => Number.isFinite(x) ? `${x.toFixed(2)} s` : x === Infinity ? "> 10 s" : "—";
const pick = (xs: Figures[], f: (x: Figures) => number) => xs.map(f);
const row = (name: string, xs: Figures[]) =>
  `| ${name} | ${spread(pick(xs, (x) => x.peakRss), mib)} | ${
    spread(pick(xs, (x) => x.steadyRss), mib)
  } | ${spread(pick(xs, (x) => x.tablesMeanS), s)} | ${
    spread(pick(xs, (x) => x.tablesP90S), s)
  } | ${spread(pick(xs, (x) => x.tablesMaxS), s)} | ${spread(pick(xs, (x) => x.settledS), s)} | ${
    spread(pick(xs, (x) => x.tableBytes / 1048576), mib)
  } | ${spread(pick(xs, (x) => x.rows), (x) => x.toFixed(0))} | ${
    spread(pick(xs, (x) => x.tables), (x) => x.toFixed(0))
  } |`;
const byKey = (key: string) => agents.find((a) => a.key === key && a.v8 === undefined);
/** "A / B: peak RSS x×, steady RSS y×" of two agents' medians. */
const ratio = (a: Variant, b: Variant | undefined) => {
  if (!b || a === b) return [];
  const r = (f: (x: Figures) => number) =>
    (median(pick(a.results, f)) / median(pick(b.results, f))).toFixed(2);
  return [
    `${a.label} / ${b.label}: peak RSS ${r((x) => x.peakRss)}×, steady RSS ${
      r((x) => x.steadyRss)
    }×`,
  ];
};
const fp = byKey("fp");
const fpLaunch = byKey("fp-launch");
const launch = byKey("launch");
const ratios = [
  // Each agent against its baseline: the plain FP agent for plain ones, the launched one for
  // launched ones (or the plain one when it did not run).
  ...agents.filter((a) => a.extra !== FP).flatMap((a) =>
    ratio(a, a.launched ? fpLaunch ?? fp : fp ?? fpLaunch)
  ),
  // As launched against plain, the same tree and flags.
  ...(launch ? ratio(launch, byKey("dwarf")) : []),
  ...(fpLaunch ? ratio(fpLaunch, fp) : []),
  ...agents.filter((a) => a.v8 !== undefined).flatMap((a) => ratio(a, launch)),
];
// deno-lint-ignore no-console -- a benchmark's output is its report
console.log([
  `${alive} processes of distinct binaries at nice 19 (${
    cmds.map((c) => (c[0] === "/bin/sh" ? c[2].split(" ")[1] : c[0]).split("/").pop()).join(", ")
  }), ${seconds} s per run (steady = median RSS over the last ${steadyWindow} s), ${rounds} ` +
  `round(s), median (range); ${new Date().toISOString().slice(0, 10)}, load average ${
    loads.join(" → ")
  }:`,
  "",
  "| agent | peak RSS from start | steady RSS | time to tables, mean | 90 % under | all under | no build pending after | table bytes in BPF | rows | tables built |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ...agents.map((a) => row(a.label, a.results)),
  "",
  `Start-up trace (every 100 ms over the first ${traceSeconds} s): when VmRSS peaked, and ` +
  "RssAnon / RssFile then, most threads seen:",
  "",
  "| agent | largest VmRSS after | RssAnon then | RssFile then | threads, most |",
  "|---|---|---|---|---|",
  ...agents.map(({ label, results: f }) =>
    `| ${label} | ${spread(pick(f, (x) => x.peakAtS), s)} | ${
      spread(pick(f, (x) => x.peakAnon), mib)
    } | ${spread(pick(f, (x) => x.peakFile), mib)} | ${
      spread(pick(f, (x) => x.maxThreads), (x) => x.toFixed(0))
    } |`
  ),
  "",
  "Ratios (medians):",
  "",
  ...ratios.map((r) => `- ${r}`),
].join("\n"));
