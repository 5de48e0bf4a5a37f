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
 * @module
 */

import { loadAverage } from "./_lib/measure.ts";
import { rssMiB } from "./_lib/proc.ts";
import { BuilderPool } from "../src/unwind/mod.ts";

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
  const r: Result = { path, size: st.size, before, peak, ms, tableBytes: table.length };
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
    "|---|---|---|---|---|---|---|---|",
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

const childArg = Deno.args.find((a) => a.startsWith("--child="));
if (childArg) {
  await child(childArg.slice("--child=".length));
} else {
  const files = Deno.args.filter((a) => !a.startsWith("--"));
  await parent(files.length > 0 ? files : DEFAULT_FILES);
}
