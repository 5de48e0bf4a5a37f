// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Whole stacks, agent vs perf (root): runs real programs, profiles each with the agent (19 Hz,
 * local store) and, at the same time, with `perf record --call-graph dwarf` and `--call-graph
 * fp` (19 Hz, one process each), and reports per workload the share of samples whose stack
 * reaches the program's root (thread start), the share carrying a marker frame, and, for the
 * agent, frames outside every mapping of the process. The table of docs/benchmarks.md.
 *
 *   sudo deno run -A bench/stacks_vs_perf.ts [--seconds=20]
 *
 * Workloads: Node.js 20 without flags; Go goroutines with a frameless leaf and GC work (this
 * machine's Go, Go 1.19); Java 17 by default (a compiled leaf that uses rbp for data) and with
 * -XX:+PreserveFramePointer; C calling hand-written assembly
 * without CFI; a PostgreSQL 15 backend whose queries the LLVM JIT compiles. The agent's first
 * windows (tables pending) are left out, as is the start of each perf run. Then "new processes":
 * programs built without frame pointers, started one after another while the agent runs, whose
 * every sample counts, the ones taken before their tables were loaded included.
 *
 * @module
 */

import { decodeProfile, type Profile } from "../src/pprof/mod.ts";
import { startAgent } from "../tests/_lib/agent.ts";
import { buildGo, GO_TOOLCHAINS } from "../tests/_lib/go_toolchains.ts";
import {
  EXPRESSION_QUERY,
  JIT_EVERY_QUERY,
  PG_BIN,
  startPostgres,
} from "../tests/_lib/postgres.ts";
import { buildAsmProgram, buildJavaSpin } from "../tests/_lib/programs.ts";
import {
  ElfSymbols,
  ExecRangeLog,
  namedStacks,
  outermostFiles,
  unmappedAddresses,
} from "../tests/_lib/symbols.ts";
import { arg } from "./_lib/proc.ts";

const seconds = arg("seconds", 20);
const PROGRAMS = new URL("../tests/programs/", import.meta.url).pathname;
const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";

/** A running workload: the process to profile, and how to end it. */
interface Running {
  pid: number;
  stop(): Promise<void>;
}

interface Workload {
  name: string;
  start(): Promise<Running>;
  /** Whether a stack (names leaf first, and the outermost frame's file) reached its root. */
  whole: (frames: string[], lastFile: string) => boolean;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

function spawn(cmd: string[]): Deno.ChildProcess {
  return new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "null" }).spawn();
}

async function kill(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // exited
  }
  await child.status;
}

/** A workload that is one program. */
function program(cmd: string[]): () => Promise<Running> {
  return () => {
    const child = spawn(cmd);
    return Promise.resolve({ pid: child.pid, stop: () => kill(child) });
  };
}

const threadStart = (_f: string[], file: string) => file.endsWith("libc.so.6");
const endsAt = (...roots: string[]) => (f: string[]) => roots.includes(f.at(-1) ?? "");

/** perf samples of one recording: frames' symbols leaf first, and each frame's DSO. */
function parsePerf(text: string): Array<{ syms: string[]; dsos: string[] }> {
  const out: Array<{ syms: string[]; dsos: string[] }> = [];
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split("\n").filter((l) => /^\s+[0-9a-f]+ /.test(l));
    if (!lines.length) continue;
    const syms: string[] = [];
    const dsos: string[] = [];
    for (const l of lines) {
      const m = /^\s+[0-9a-f]+ (.*?)(?:\+0x[0-9a-f]+)? \((.*)\)$/.exec(l);
      if (!m) continue;
      if (m[2].includes("kernel.kallsyms")) continue;
      syms.push(m[1]);
      dsos.push(m[2]);
    }
    if (syms.length) out.push({ syms, dsos });
  }
  return out;
}

async function perfShare(pid: number, mode: "dwarf" | "fp", w: Workload): Promise<string> {
  const data = await Deno.makeTempFile({ suffix: ".perf" });
  try {
    await run("perf", [
      "record",
      "-q",
      "-F",
      "19",
      "--call-graph",
      mode === "dwarf" ? "dwarf" : "fp",
      "-p",
      String(pid),
      "-o",
      data,
      "--",
      "sleep",
      String(seconds),
    ]);
    const samples = parsePerf(await run("perf", ["script", "-i", data, "-F", "ip,sym,dso"]));
    if (!samples.length) return "no samples";
    const whole = samples.filter((s) => {
      const last = s.syms.at(-1) ?? "";
      const lastDso = s.dsos.at(-1) ?? "";
      return w.whole(s.syms.map((x) => x.replace(/\(.*$/, "")), lastDso) &&
        !/unknown/.test(last);
    }).length;
    return `${(100 * whole / samples.length).toFixed(1)} % (${samples.length})`;
  } finally {
    await Deno.remove(data);
  }
}

/** The names (comm) of a process's threads now. */
function threadNames(pid: number): Set<string> {
  const out = new Set<string>();
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        out.add(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/comm`).trim());
      } catch {
        // the thread ended
      }
    }
  } catch {
    // the process ended
  }
  return out;
}

/** Whether any sample of a profile is of a thread named in `names`. */
function ofThreads(p: Profile, names: Set<string>): boolean {
  const str = p.stringTable;
  return p.sample.some((s) =>
    s.label.some((l) => str[Number(l.key)] === "thread_name" && names.has(str[Number(l.str)]))
  );
}

/**
 * Shares of one process's samples in the store from `from` on. A profile of the same pid whose
 * threads have none of the workload's names is another process that had the pid before it (the
 * pids of a busy host wrap within minutes), and is left out.
 */
async function agentShares(
  store: string,
  pid: number,
  from: bigint,
  syms: Array<{ path: string; syms: ElfSymbols }>,
  w: Workload,
  seen: Array<[bigint, bigint]>,
  threads: Set<string>,
): Promise<{ total: number; whole: number; marked: number; unmapped: number; top?: string }> {
  let total = 0;
  let whole = 0;
  let marked = 0;
  let unmapped = 0;
  const markers = new Map<string, number>();
  for (const e of Deno.readDirSync(store)) {
    if (!e.name.startsWith(`${pid}_`)) continue;
    const p = decodeProfile(await Deno.readFile(`${store}/${e.name}`));
    if (!ofThreads(p, threads)) continue;
    unmapped += unmappedAddresses(p, pid, seen).length;
    if (p.timeNanos < from) continue;
    const files = outermostFiles(p);
    namedStacks(p, syms).forEach((s, i) => {
      const f = s.frames.filter((x) => !x.startsWith("k:"));
      total += s.count;
      const marker = f.find((x) => x.startsWith("["));
      if (marker) {
        marked += s.count;
        markers.set(marker, (markers.get(marker) ?? 0) + s.count);
      } else if (w.whole(f, files[i])) whole += s.count;
    });
  }
  const top = [...markers].sort((a, b) => b[1] - a[1])[0]?.[0];
  return { total, whole, marked, unmapped, top };
}

/**
 * New processes: programs without frame pointers started one after another for `seconds`,
 * each running about two seconds. Returns the table line.
 */
async function newProcesses(store: string, dir: string): Promise<string> {
  const input = `${dir}/input`;
  const bytes = new Uint8Array(64 << 20);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i * 2654435761) >>> 24;
  await Deno.writeFile(input, bytes);
  const python = "/usr/bin/python3";
  const cmds = [
    [
      python,
      "-c",
      "import time\nt=time.time()+2\nwhile time.time()<t: sum(i*i for i in range(999))",
    ],
    ["/usr/bin/xz", "-9", "-T1", "-c", input],
    ["/usr/bin/gzip", "-9", "-c", input],
    ["/usr/bin/bzip2", "-9", "-c", input],
    ["/usr/bin/sha256sum", input, input, input, input],
    ["/usr/bin/perl", "-e", "my $t=time+2; my $x=0; while(time<$t){$x+=$_ for 1..999}"],
  ];
  const pids: number[] = [];
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const child = spawn(cmds[i % cmds.length]);
    pids.push(child.pid);
    const timer = setTimeout(() => kill(child), 2000);
    await child.status;
    clearTimeout(timer);
  }
  await new Promise((r) => setTimeout(r, 6000)); // the window that holds the last one
  let total = 0;
  let pending = 0;
  let walked = 0;
  let unmapped = 0;
  for (const e of Deno.readDirSync(store)) {
    const pid = Number(e.name.split("_")[0]);
    if (!pids.includes(pid)) continue;
    const p = decodeProfile(await Deno.readFile(`${store}/${e.name}`));
    // The programs exited: only the profile's own mappings (what the agent read) count.
    unmapped += unmappedAddresses(p, -1).length;
    for (const s of namedStacks(p, [])) {
      const f = s.frames.filter((x) => !x.startsWith("k:"));
      total += s.count;
      if (f.at(-1)?.includes("tables pending")) {
        pending += s.count;
        if (f.length > 2) walked += s.count;
      }
    }
  }
  const pct = (n: number) => `${(100 * n / Math.max(1, total)).toFixed(1)} %`;
  return `| new processes without frame pointers (${pids.length} runs of python3, xz, gzip, ` +
    `bzip2, sha256sum, perl) | ${total} samples | ${pct(pending)} pending, ${
      pct(walked)
    } of them walked past the leaf | ${unmapped} | — | — |`;
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "bench-stacks-" });
  const bin = (n: string) => `${dir}/${n}`;
  await buildGo(GO_TOOLCHAINS[0], "go_chain", bin("go_chain"));
  await buildGo(GO_TOOLCHAINS[2], "go_chain", bin("go_chain_119"));
  await buildAsmProgram(bin("asm_main"));
  await buildJavaSpin(dir);
  const long = String(seconds * 10);
  const goWhole = endsAt("runtime.goexit.abi0", "runtime.goexit");
  const java = ["/usr/bin/java", "-cp", dir];
  const workloads: Workload[] = [
    {
      name: "Node.js 20, no flags",
      start: program(["/usr/bin/node", `${PROGRAMS}node_spin.js`, long]),
      // perf stops in libc (no frame pointers there); the agent goes on to _start.
      whole: (f) => f.includes("node::Start") && f.some((x) => /libc_start|^_start$/.test(x)),
    },
    {
      name: "Go (this machine's), goroutines + GC",
      start: program([bin("go_chain"), long]),
      whole: goWhole,
    },
    {
      name: "Go 1.19, goroutines + GC",
      start: program([bin("go_chain_119"), long]),
      whole: goWhole,
    },
    {
      name: "Java 17 default (compiled leaf uses rbp for data)",
      start: program([...java, "Spin", long]),
      whole: threadStart,
    },
    {
      name: "Java 17 -XX:+PreserveFramePointer",
      start: program([
        ...java.slice(0, 1),
        "-XX:+PreserveFramePointer",
        ...java.slice(1),
        "Spin",
        long,
      ]),
      whole: threadStart,
    },
    {
      name: "C calling assembly without CFI",
      start: program([bin("asm_main"), long]),
      whole: endsAt("_start"),
    },
    {
      name: "PostgreSQL 15, LLVM JIT on every query",
      start: async () => {
        const pg = await startPostgres(JIT_EVERY_QUERY);
        await pg.createTable(1_000_000);
        const { backend } = await pg.loop(EXPRESSION_QUERY);
        return { pid: backend, stop: () => pg.stop() };
      },
      whole: endsAt("_start"),
    },
  ];
  const syms = [
    { path: "node", syms: await ElfSymbols.load("/usr/bin/node") },
    { path: "go_chain", syms: await ElfSymbols.load(bin("go_chain")) },
    { path: "go_chain_119", syms: await ElfSymbols.load(bin("go_chain_119")) },
    { path: "asm_main", syms: await ElfSymbols.load(bin("asm_main")) },
    { path: "postgres", syms: await ElfSymbols.load(`${PG_BIN}/postgres`) },
    { path: "libc.so.6", syms: await ElfSymbols.load(LIBC) },
  ];
  const store = `${dir}/store`;
  const agent = await startAgent([`--local-store-directory=${store}`, "--profiling-duration=5s"]);
  const rows: string[] = [];
  try {
    for (const w of workloads) {
      const running = await w.start();
      const seen = new ExecRangeLog(running.pid);
      try {
        // Let tables load and the JIT warm up, then measure agent and perf over the same time.
        await new Promise((r) => setTimeout(r, 15_000));
        const threads = threadNames(running.pid);
        const from = BigInt(Date.now()) * 1_000_000n;
        const [dwarf, fp] = await Promise.all([
          perfShare(running.pid, "dwarf", w),
          perfShare(running.pid, "fp", w),
        ]);
        await new Promise((r) => setTimeout(r, 6000)); // the window that holds the end of the run
        // Read while the process lives: its JIT code's mappings come from /proc/PID/maps.
        for (const t of threadNames(running.pid)) threads.add(t);
        const a = await agentShares(store, running.pid, from, syms, w, seen.ranges(), threads);
        const pct = (n: number) => a.total ? `${(100 * n / a.total).toFixed(1)} %` : "–";
        rows.push(
          `| ${w.name} | ${pct(a.whole)} (${a.total}) | ${pct(a.marked)}${
            a.top ? ` (${a.top})` : ""
          } | ${a.unmapped} | ${dwarf} | ${fp} |`,
        );
      } finally {
        seen.stop();
        await running.stop();
      }
      // deno-lint-ignore no-console -- a benchmark's report
      console.error(rows.at(-1));
    }
    rows.push(await newProcesses(store, dir));
    // deno-lint-ignore no-console -- a benchmark's report
    console.error(rows.at(-1));
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
  const out = [
    `Workloads of ${seconds} s each (perf over the same ${seconds} s as the agent's windows), 19 Hz:`,
    "",
    "| workload | agent: whole stacks (samples) | agent: with a marker | agent: frames outside every mapping | perf dwarf: whole | perf fp: whole |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ];
  // deno-lint-ignore no-console -- a benchmark's report
  console.log(out.join("\n"));
}
