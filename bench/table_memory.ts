// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Memory of one table build, as the agent does it (BuilderPool: a worker reads the file and runs
 * wasm-unwind). Each file is built in a fresh Deno process, and that process's peak RSS (VmHWM)
 * is compared with its own RSS just before the build (the runtime, the pool and the modules
 * loaded: the baseline of the same command). The default files are the largest Go binary and
 * the largest C++ library the machine has (Parca's server that the e2e tests build, libLLVM).
 *
 *   deno task bench:table-memory                     # the default files
 *   deno task bench:table-memory /path/to/elf ...    # these files
 *
 * `--startup` does what the agent does when it starts on a busy host instead: every distinct
 * executable file mapped by the host's processes now (their `r-xp` mappings), and every file named
 * on the command line (e.g. a workload's binaries and their libraries), is queued at once
 * in one pool (cost = the mapping's size, as the agent's code size), each result loaded as the
 * agent loads it (the tree's TableStore, over maps that drop the rows: BPF's copy is kernel
 * memory); the child reports its RSS before, its peak (VmHWM), the time until all are
 * built, and its RSS after the pool's workers stopped idle. With `--tree=DIR` (repeatable) the
 * same file list is built by each checkout's BuilderPool in turn, `--rounds` times alternating,
 * so a change to the pool is measured against another tree in one command:
 *
 *   deno task bench:table-memory --startup --rounds=3 --tree=/work/main --tree=. [files...]
 *
 * @module
 */

import { loadAverage } from "./_lib/measure.ts";
import { rssMiB } from "./_lib/proc.ts";
import { discardingTableMaps, importTreeUnwind } from "./_lib/tree.ts";
import type { BuilderPool } from "../src/unwind/mod.ts";
import { median } from "./_lib/measure.ts";

const DEFAULT_FILES = [
  "/var/cache/profiler-agent-test/parca-v0.28.0/bin/parca",
  "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
  "/usr/local/go/bin/go",
];

interface Result {
  path: string;
  size: number;
  before: number;
  peak: number;
  ms: number;
  tableBytes: number;
}

/** In the child: builds one file's table and prints its figures as JSON. */
async function child(path: string): Promise<void> {
  const st = Deno.statSync(path);
  const { BuilderPool } = await import("../src/unwind/mod.ts");
  const pool = new BuilderPool(2, 60_000);
  const before = rssMiB(Deno.pid).rss;
  const t0 = performance.now();
  const table = await pool.tableOfFile({
    path,
    ino: String(st.ino),
    size: st.size,
    maxBytes: 1 << 30,
  });
  const ms = performance.now() - t0;
  const peak = rssMiB(Deno.pid).hwm;
  pool.close();
  const tableBytes = table.rows.byteLength + table.rules.byteLength;
  const r: Result = { path, size: st.size, before, peak, ms, tableBytes };
  Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(r)}\n`));
}

async function parent(files: string[]): Promise<void> {
  const load0 = loadAverage();
  const rows: Result[] = [];
  const notes: string[] = [];
  for (const path of files) {
    try {
      Deno.statSync(path);
    } catch {
      notes.push(`skipped: ${path} is not readable`);
      continue;
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", new URL(import.meta.url).pathname, `--child=${path}`],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!out.success || !line.startsWith("{")) {
      notes.push(`${path}: the build failed`);
      continue;
    }
    rows.push(JSON.parse(line) as Result);
  }
  const mib = (n: number) => `${n.toFixed(1)} MiB`;
  const lines = [
    `One table build per process, ${
      new Date().toISOString().slice(0, 16)
    }Z, load average ${load0} → ${loadAverage()}:`,
    "",
    "| file | size | RSS before | peak RSS (VmHWM) | peak − before | peak / before | build time | table |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${r.path} | ${mib(r.size / 1048576)} | ${mib(r.before)} | ${mib(r.peak)} | ${
        mib(r.peak - r.before)
      } | ${(r.peak / r.before).toFixed(2)}× | ${(r.ms / 1000).toFixed(2)} s | ${
        mib(r.tableBytes / 1048576)
      } |`
    ),
    ...notes,
  ];
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log(lines.join("\n"));
}

/** Distinct executable files mapped by the host's processes now, with their code size. */
function hostFiles(): { path: string; cost: number }[] {
  const files = new Map<string, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || e.name === String(Deno.pid)) continue;
    let maps: string;
    try {
      maps = Deno.readTextFileSync(`/proc/${e.name}/maps`);
    } catch {
      continue;
    }
    for (const line of maps.split("\n")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp \S+ \S+ [1-9]\d* +(\/.*)$/.exec(line);
      if (!m || m[3].endsWith(" (deleted)")) continue;
      const len = parseInt(m[2], 16) - parseInt(m[1], 16);
      files.set(m[3], Math.max(files.get(m[3]) ?? 0, len));
    }
  }
  return [...files].map(([path, cost]) => ({ path, cost }));
}

interface StartupResult {
  tree: string;
  files: number;
  built: number;
  /** Tables the store loaded (into maps that drop them). */
  loaded: number;
  before: number;
  peak: number;
  ms: number;
  idleRss: number;
  workersStarted: number;
}

/** In the child: builds every listed file through `tree`'s BuilderPool, all queued at once. */
async function startupChild(listPath: string, tree: string): Promise<void> {
  const mod = await importTreeUnwind(tree);
  const list = JSON.parse(await Deno.readTextFile(listPath)) as { path: string; cost: number }[];
  const idleMs = 1000;
  const pool = new mod.BuilderPool(2, idleMs) as BuilderPool;
  // The agent's table store over maps that drop what they are given (BPF copies rows and rules
  // into kernel memory, outside the agent's RSS).
  const maps = discardingTableMaps();
  const store = new mod.TableStore({ maps, maxRows: 2 ** 31 });
  await new Promise((r) => setTimeout(r, 500));
  const before = rssMiB(Deno.pid).rss;
  const t0 = performance.now();
  let built = 0;
  await Promise.all(list.map(async ({ path, cost }) => {
    try {
      const st = await Deno.stat(path);
      const result: unknown = await pool.tableOfFile(
        { path, ino: String(st.ino), size: st.size, maxBytes: 1 << 30 },
        { cost },
      );
      // What each tree's Unwinder does with a built table (src/unwind/unwinder.ts #build).
      if (result instanceof Uint8Array) {
        // Before the peak-pack branch: the serialized table, decoded and packed here.
        const t = mod.decodeUnwindTable(result);
        store.load(path, { rules: t.rulesBytes, pcs: t.pcs, ruleIndices: t.ruleIndices }, 1);
      } else {
        // Packed in the worker; its rows are loaded as they are and then freed.
        store.load(path, result, 1);
        mod.freePackedTable(result);
      }
      built++;
    } catch {
      // no table (no CFI, gone): as the agent, go on
    }
  }));
  const ms = performance.now() - t0;
  const peak = rssMiB(Deno.pid).hwm;
  await new Promise((r) => setTimeout(r, idleMs + 1500));
  const r: StartupResult = {
    tree,
    files: list.length,
    built,
    loaded: store.stats.tablesLoaded,
    before,
    peak,
    ms,
    idleRss: rssMiB(Deno.pid).rss,
    workersStarted: pool.workersStarted,
  };
  pool.close();
  Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(r)}\n`));
}

async function startupParent(trees: string[], rounds: number, extra: string[]): Promise<void> {
  const load0 = loadAverage();
  const list = hostFiles();
  // Files named on the command line too (cost = their size), e.g. a workload's binaries.
  for (const path of extra) {
    if (list.some((f) => f.path === path)) continue;
    try {
      list.push({ path, cost: Deno.statSync(path).size });
    } catch {
      // not readable: left out
    }
  }
  const listPath = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(listPath, JSON.stringify(list));
  const byTree = new Map<string, StartupResult[]>(trees.map((t) => [t, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const tree of r % 2 ? [...trees].reverse() : trees) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-all",
            new URL(import.meta.url).pathname,
            `--startup-child=${listPath}`,
            `--tree=${tree}`,
          ],
          stdout: "piped",
          stderr: "inherit",
        }).output();
        const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
        if (out.success && line.startsWith("{")) {
          byTree.get(tree)!.push(JSON.parse(line) as StartupResult);
        }
      }
    }
  } finally {
    await Deno.remove(listPath);
  }
  const mib = (n: number) => `${n.toFixed(1)} MiB`;
  const all = (xs: StartupResult[], f: (x: StartupResult) => number, fmt: (n: number) => string) =>
    `${fmt(median(xs.map(f)))} (${xs.map((x) => fmt(f(x))).join(", ")})`;
  const lines = [
    `Start-up builds in one pool: ${list.length} distinct executable files mapped on this host, ` +
    `all queued at once, ${rounds} round(s) alternating; ${
      new Date().toISOString().slice(0, 16)
    }Z, load average ${load0} → ${loadAverage()}. Median (each run):`,
    "",
    "| tree | tables built | loaded | RSS before | peak RSS (VmHWM) | peak − before | all built after | RSS after the workers stopped | workers started |",
    "|---|---|---|---|---|---|---|---|---|",
    ...[...byTree].map(([tree, xs]) =>
      `| ${tree} | ${all(xs, (x) => x.built, String)} | ${all(xs, (x) => x.loaded, String)} | ${
        all(xs, (x) => x.before, mib)
      } | ${all(xs, (x) => x.peak, mib)} | ${all(xs, (x) => x.peak - x.before, mib)} | ${
        all(xs, (x) => x.ms / 1000, (n) => `${n.toFixed(2)} s`)
      } | ${all(xs, (x) => x.idleRss, mib)} | ${all(xs, (x) => x.workersStarted, String)} |`
    ),
  ];
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log(lines.join("\n"));
}

const textArgs = (name: string) =>
  Deno.args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
const childArg = Deno.args.find((a) => a.startsWith("--child="));
const startupChildArg = textArgs("startup-child")[0];
if (startupChildArg) {
  await startupChild(
    startupChildArg,
    textArgs("tree")[0] ?? new URL("../", import.meta.url).pathname,
  );
} else if (Deno.args.includes("--startup")) {
  const trees = textArgs("tree").map((t) => Deno.realPathSync(t));
  const rounds = Number(textArgs("rounds")[0] ?? 3);
  await startupParent(
    trees.length ? trees : [new URL("../", import.meta.url).pathname],
    rounds,
    Deno.args.filter((a) => !a.startsWith("--")),
  );
} else if (childArg) {
  await child(childArg.slice("--child=".length));
} else {
  const files = Deno.args.filter((a) => !a.startsWith("--"));
  await parent(files.length > 0 ? files : DEFAULT_FILES);
}
