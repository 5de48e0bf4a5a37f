// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Local symbolization and the UI history, measured (docs/benchmarks.md, "Local symbolization"):
//
// 1. Per file and per unique address, cold and cached: the agent's NativeSymbolizer (wasm-unwind
//    in a worker) names N addresses spread over each file's code: the first call loads the file
//    (open, read the symbol/DWARF sections, parse), then N unique addresses cold, then the same N
//    again from the cache. Baseline in the same run: binutils `addr2line -f -i -C` on the same
//    addresses (one process, file load included).
// 2. Peak RSS with the UI history full: this process's RSS before and after filling a
//    ProfileHistory of --history-mib with realistic profiles (until it evicts), then rendering
//    the 15-minute page over all of it.
//
// Usage: deno task bench:symbolize [-- --addresses=2000 --history-mib=16]

import { arg, rssMiB } from "./_lib/proc.ts";
import { buildProfile, encodeProfile } from "../src/pprof/mod.ts";
import { type ExecutableMapping, ProcessReader } from "../src/process/mod.ts";
import { fileKey, type FileSource, NativeSymbolizer } from "../src/symbolize/mod.ts";
import { ProfileHistory, UiHandler } from "../src/ui/mod.ts";
import { trimMalloc } from "../src/procfs/mod.ts";

const N = arg("addresses", 2000);
const HISTORY_MIB = arg("history-mib", 16);

const CXX = `
#include <unistd.h>
#include <string>
#include <vector>
template <class T> __attribute__((noinline)) T sum(const std::vector<T>& v) { T s{}; for (auto& x : v) s += x; return s; }
static inline __attribute__((always_inline)) int step(int x) { volatile int y = x; return y * 3; }
__attribute__((noinline)) int work(int n) { std::vector<int> v(n); int s = 0; for (int i = 0; i < n; i++) s += step(i); return s + sum(v); }
int main() { for (;;) { work(100); std::string s(100, 'x'); sleep(1); } }
`;

async function sh(cmd: string, args: string[], stdin?: string): Promise<string> {
  const c = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = c.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await c.output();
  if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** N addresses spread evenly over a mapping's executable segment, as ELF virtual addresses. */
function spread(m: ExecutableMapping, n: number): number[] {
  const seg = m.loadSegment!;
  const size = m.limit - m.start;
  const base = seg.vaddr + (m.offset - seg.offset);
  return Array.from({ length: n }, (_, i) => base + Math.floor((i * size) / n) + 1);
}

function debugFile(buildId: string): string | undefined {
  const p = `/usr/lib/debug/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`;
  try {
    Deno.statSync(p);
    return p;
  } catch {
    return undefined;
  }
}

/**
 * Part 2, run in a process of its own (`--history-only`) so that its RSS is not the first
 * part's: fills a history of --history-mib, renders the 15-minute page over it.
 *
 * @returns The figures.
 */
async function historyPart(): Promise<Record<string, number>> {
  const trim = () => {
    try {
      trimMalloc();
    } catch {
      // not glibc
    }
  };
  // --- 2. The UI history, full. ---------------------------------------------------------------
  const history = new ProfileHistory(HISTORY_MIB << 20);
  const mappings: ExecutableMapping[] = [{
    start: 0x400000,
    limit: 0x800000,
    offset: 0,
    path: "/usr/bin/app",
    buildId: "ab".repeat(20),
    buildIdKind: "gnu",
    special: false,
    deleted: false,
  }];
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  let added = 0;
  let pprofBytes = 0;
  const start = Date.now() - 15 * 60_000;
  // 50 processes, one profile per 10 s window each. A process's hot paths are stable: each has
  // 120 distinct 20-frame stacks, of which a window samples about two thirds.
  const pools = Array.from(
    { length: 50 },
    () =>
      Array.from(
        { length: 120 },
        () => Array.from({ length: 20 }, (_, j) => 0x400000 + Math.floor(rand() * 0x3fff00) + j),
      ),
  );
  // Run with --v8-flags=--expose-gc (the task does): RSS is read after a full collection, so
  // it shows what is held, not garbage waiting for the collector.
  const collect = (globalThis as { gc?: () => void }).gc ?? (() => {});
  // Backing stores of dead ArrayBuffers are freed after a collection, some on another thread:
  // collect a few times with pauses.
  const gc = async () => {
    for (let i = 0; i < 4; i++) {
      collect();
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await gc();
  const before = rssMiB(Deno.pid);
  const heapBefore = Deno.memoryUsage();
  // Until the history has been full for a while (its oldest half replaced).
  const fixedWindows = arg("windows", 0);
  let windows = 0;
  for (
    let w = 0;
    fixedWindows > 0 ? w < fixedWindows : history.evicted < Math.max(500, history.size);
    w++
  ) {
    windows++;
    for (let pid = 1; pid <= 50; pid++) {
      const samples = pools[pid - 1].filter(() => rand() < 0.67).map((user, i) => ({
        tid: pid,
        threadName: "app",
        count: 1 + (i % 7),
        user,
        kernel: [],
      }));
      const timeNanos = BigInt(start + w * 10_000) * 1_000_000n;
      const pprof = encodeProfile(buildProfile({
        startNanos: timeNanos,
        durationNanos: 10_000_000_000n,
        frequencyHz: 19,
        mappings,
        samples,
      }, {}));
      pprofBytes += pprof.length;
      history.add({
        labels: { __name__: "parca_agent_cpu", comm: "app", pid: String(pid) },
        pid,
        timeNanos,
        pprof,
        mappings,
        samples: samples.reduce((n, x) => n + x.count, 0),
      });
      added++;
    }
  }
  await gc();
  const untrimmed = rssMiB(Deno.pid);
  // What glibc keeps of freed memory goes back to the system (the agent trims the same way after
  // its workers stop).
  trim();
  const full = rssMiB(Deno.pid);
  const heapFull = Deno.memoryUsage();
  const ui = new UiHandler({
    history,
    profilingDurationMs: 10_000,
    symbolize: (_e, p) => Promise.resolve(p),
    now: () => start + 16 * 60_000,
  });
  const t1 = performance.now();
  const page = await ui.handle(new URL("http://x/ui?query=%7B%7D&range=15m"));
  await page.text();
  const pageMs = performance.now() - t1;
  const after = rssMiB(Deno.pid);

  return {
    windows,
    added,
    kept: history.size,
    charged: history.bytes,
    profileKiB: pprofBytes / added / 1024,
    before: before.rss,
    untrimmed: untrimmed.rss,
    full: full.rss,
    afterPage: after.rss,
    peak: after.hwm,
    pageMs,
    retainedMiB: (heapFull.heapUsed + heapFull.external - heapBefore.heapUsed -
      heapBefore.external) / 2 ** 20,
  };
}

async function historyRun(mib: number, windows: number): Promise<Record<string, number>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--history-only",
      `--history-mib=${mib}`,
      `--windows=${windows}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The history run and its baseline (the same profiles made, none kept), in this command. */
async function historyInItsOwnProcess(): Promise<string[]> {
  const h = await historyRun(HISTORY_MIB, 0);
  const b = await historyRun(0, h.windows);
  const mib = (x: number) => `${x.toFixed(0)} MiB`;
  return [
    `UI history of ${HISTORY_MIB} MiB (one process each, ${h.windows} windows of 50 processes, ${
      h.profileKiB.toFixed(1)
    } KiB per profile): ${h.kept} profiles kept of ${h.added}, charged ${
      (h.charged / 2 ** 20).toFixed(1)
    } MiB, JS heap + ArrayBuffers held ${h.retainedMiB.toFixed(1)} MiB.`,
    "",
    "| run | RSS before | RSS full (after malloc_trim) | RSS after the 15 m page | peak RSS |",
    "| --- | --- | --- | --- | --- |",
    `| history ${HISTORY_MIB} MiB | ${mib(h.before)} | ${mib(h.full)} | ${mib(h.afterPage)} (${
      (h.pageMs / 1000).toFixed(1)
    } s) | ${mib(h.peak)} |`,
    `| baseline: history 0 (same profiles made) | ${mib(b.before)} | ${mib(b.full)} | ${
      mib(b.afterPage)
    } | ${mib(b.peak)} |`,
    `| difference / budget | | ${((h.full - b.full) / HISTORY_MIB).toFixed(2)}× | ${
      ((h.afterPage - b.afterPage) / HISTORY_MIB).toFixed(2)
    }× | ${((h.peak - b.peak) / HISTORY_MIB).toFixed(2)}× |`,
  ];
}

if (Deno.args.includes("--history-only")) {
  // deno-lint-ignore no-console -- a benchmark prints its results
  console.log(JSON.stringify(await historyPart()));
  Deno.exit(0);
}

const dir = await Deno.makeTempDir({ prefix: "bench-symbolize-" });
const children: Deno.ChildProcess[] = [];
try {
  await Deno.writeTextFile(`${dir}/app.cc`, CXX);
  await sh("g++", ["-g", "-O2", "-o", `${dir}/app`, `${dir}/app.cc`]);
  children.push(
    new Deno.Command(`${dir}/app`, { stdout: "null", stderr: "null" }).spawn(),
  );
  // llvm-symbolizer maps libLLVM (a 100 MB library) and waits on its stdin.
  let llvm: Deno.ChildProcess | undefined;
  try {
    llvm = new Deno.Command("llvm-symbolizer-14", {
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    })
      .spawn();
    children.push(llvm);
  } catch {
    // not installed: that file is left out
  }
  await new Promise((r) => setTimeout(r, 500));
  const reader = new ProcessReader();
  const targets: Array<{ label: string; pid: number; m: ExecutableMapping }> = [];
  const app = reader.read(children[0].pid)!;
  const pick = (info: typeof app, re: RegExp, label: string) => {
    const m = info.mappings.find((x) => re.test(x.path) && x.loadSegment);
    if (m) targets.push({ label, pid: info.pid, m });
  };
  pick(app, /\/app$/, "C++ program, -g -O2 (DWARF, inline frames)");
  pick(app, /libc\.so\.6$/, "libc.so.6 + libc6-dbg debug file");
  pick(app, /libstdc\+\+\.so/, "libstdc++.so.6 (.dynsym only)");
  if (llvm) {
    const li = reader.read(llvm.pid);
    if (li) pick(li, /libLLVM/, "libLLVM-14.so.1 (.dynsym, 100 MB)");
  }

  const native = new NativeSymbolizer({ debugDirectories: ["/usr/lib/debug"] });
  // Start the worker and compile the module once, so file figures exclude it.
  const t0 = performance.now();
  const warm = targets[0];
  const source = (t: typeof warm): FileSource => ({ pid: t.pid, ...t.m });
  await native.resolve("warm-up", [source(warm)], [spread(warm.m, 1)[0]]);
  const workerStartMs = performance.now() - t0;

  const rows: string[] = [];
  for (const t of targets) {
    const key = fileKey(t.m)!;
    const addrs = spread(t.m, N);
    let start = performance.now();
    const first = await native.resolve(key, [source(t)], [addrs[0]]);
    const loadMs = performance.now() - start;
    if (!first.ok) {
      rows.push(`| ${t.label} | ${first.reason} | | | | | |`);
      continue;
    }
    start = performance.now();
    const cold = await native.resolve(key, [source(t)], addrs.slice(1));
    const coldUs = (performance.now() - start) * 1000 / (addrs.length - 1);
    start = performance.now();
    await native.resolve(key, [source(t)], addrs.slice(1));
    const cachedUs = (performance.now() - start) * 1000 / (addrs.length - 1);
    const named = cold.ok ? cold.frames.filter((f) => f.length > 0).length : 0;
    // Baseline: binutils addr2line over the same addresses, on the file that has the DWARF.
    const file = debugFile(t.m.buildId) ?? t.m.path;
    start = performance.now();
    await sh(
      "addr2line",
      ["-f", "-i", "-C", "-e", file],
      addrs.map((a) => `0x${a.toString(16)}`).join("\n") + "\n",
    );
    const a2lMs = performance.now() - start;
    const oursMs = loadMs + coldUs * (addrs.length - 1) / 1000;
    rows.push(
      `| ${t.label} | ${loadMs.toFixed(1)} ms | ${coldUs.toFixed(1)} µs | ${
        cachedUs.toFixed(2)
      } µs | ${named}/${addrs.length - 1} | ${a2lMs.toFixed(0)} ms | ${
        (oursMs / a2lMs).toFixed(2)
      }× |`,
    );
  }
  const mem = { ...native.memory };
  native.close();

  const out = [
    `Symbolization (N = ${N} unique addresses per file; worker start and module compile ${
      workerStartMs.toFixed(0)
    } ms once):`,
    "",
    "| file | load (cold, 1st address) | per address, cold | per address, cached | named | addr2line (same addresses) | ours / addr2line |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `wasm-unwind heap after all files: ${(mem.heapBytes / 2 ** 20).toFixed(1)} MiB, linear memory ${
      (mem.linearBytes / 2 ** 20).toFixed(1)
    } MiB, ${mem.loadedFiles} files loaded.`,
    "",
    "",
    ...(await historyInItsOwnProcess()),
  ];
  // deno-lint-ignore no-console -- a benchmark prints its results
  console.log(out.join("\n"));
} finally {
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
