// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The fixed memory of a table worker: a BuilderPool in a fresh process started as the launcher
 * starts the agent (`MALLOC_ARENA_MAX=2` and the launcher's other malloc settings,
 * `--v8-flags=--optimize-for-size`), RSS and RssAnon before the pool's first job and after its
 * builds with the worker idle (it is kept: the pool's idle stop is set to a minute), and the
 * time of each build. Each file is built in turn in the same pool (the first file pays the
 * worker's start and the module's compilation).
 *
 *   deno run -A bench/worker_cost.ts                       # libc, then libLLVM-15
 *   deno run -A bench/worker_cost.ts --files=/lib/x86_64-linux-gnu/libc.so.6
 *   deno run -A bench/worker_cost.ts --rounds=3 --tree=/work/main --tree=.
 *   deno run -A bench/worker_cost.ts --v8=--liftoff-only --v8=--no-liftoff  # V8 flags as variants
 *   deno run -A bench/worker_cost.ts --smaps              # the anonymous mappings that grew
 *
 * Variants (each `--tree`, and each `--v8=FLAGS` run on the first tree; `--v8=` alone is none)
 * alternate, `--rounds` times. `--smaps` prints, per run, the regions of contiguous anonymous
 * mappings whose resident size grew by 256 KiB or more (a wasm memory's reservation, a thread's
 * stack with its guard page, a malloc arena, V8's pages), and the first worker's own
 * `Deno.memoryUsage()` after its builds (asked through bench/_worker_probe.ts, which runs the
 * tree's table_worker.ts in a worker of its own, with the same compiled module).
 *
 * @module
 */

import { AGENT_MALLOC, agentMallocEnvironment } from "../src/launcher/env.ts";
import { importTreeUnwind } from "./_lib/tree.ts";
import { median } from "./_lib/measure.ts";

const DEFAULT_FILES = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
];

/** Prints a line of the report. */
function say(line: string): void {
  // deno-lint-ignore no-console -- a benchmark's output is its report
  console.log(line);
}

/** Every value of `--name=VALUE` on the command line, in order. */
function flagValues(name: string): string[] {
  return Deno.args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
}

/** One mapping of /proc/self/smaps. */
interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  rssKiB: number;
}

function smaps(): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = {
        start: BigInt(`0x${head[1]}`),
        end: BigInt(`0x${head[2]}`),
        perms: head[3],
        name: head[4],
        rssKiB: 0,
      };
      out.push(cur);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss && cur) cur.rssKiB = Number(rss[1]);
  }
  return out;
}

/** Contiguous anonymous mappings, merged into one region (a reservation and its parts). */
interface Region {
  start: bigint;
  sizeMiB: number;
  perms: string;
  rssKiB: number;
  /** A file's path, or `[heap]`; empty for anonymous mappings. */
  name: string;
}

function regions(maps: Mapping[]): Region[] {
  const out: Region[] = [];
  let last: (Region & { end: bigint }) | undefined;
  for (const m of maps) {
    if (m.name !== "") {
      // A file's (or [heap]'s, [stack]'s) mappings, all as one region keyed by its first.
      const named = out.find((r) => r.name === m.name);
      if (named) named.rssKiB += m.rssKiB;
      else out.push({ start: m.start, sizeMiB: 0, perms: "", rssKiB: m.rssKiB, name: m.name });
      last = undefined;
      continue;
    }
    if (last && last.end === m.start) {
      last.end = m.end;
      last.sizeMiB = Number(last.end - last.start) / 2 ** 20;
      if (!last.perms.split(",").includes(m.perms)) last.perms += `,${m.perms}`;
      last.rssKiB += m.rssKiB;
      continue;
    }
    last = {
      start: m.start,
      end: m.end,
      sizeMiB: Number(m.end - m.start) / 2 ** 20,
      perms: m.perms,
      rssKiB: m.rssKiB,
      name: "",
    };
    out.push(last);
  }
  return out;
}

/** What a region most likely is, from its size and permissions (a guess, printed as one). */
function guess(r: Region): string {
  if (r.name) return r.name;
  if (r.sizeMiB >= 4096) return "wasm memory (reservation with guard)";
  if (r.perms.includes("x")) return "code (V8 code range / wasm code space)";
  if (Math.abs(r.sizeMiB - 8.004) < 0.01 && r.perms.includes("---p")) return "thread stack";
  if (r.sizeMiB === 64 || r.sizeMiB === 128) return "malloc arena (64 MiB heap)";
  return "anon (V8 pages, malloc mmap)";
}

const statusKiB = (field: string) =>
  Number(
    new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(Deno.readTextFileSync("/proc/self/status"))
      ?.[1] ?? NaN,
  );

/** Figures of one child run (MiB, ms). */
interface ChildResult {
  rssBefore: number;
  anonBefore: number;
  steps: { file: string; ms: number; rss: number; anon: number; threads: number }[];
  grown?: { start: string; sizeMiB: number; perms: string; deltaMiB: number; what: string }[];
  probe?: Record<string, number>;
}

async function child(tree: string, files: string[], detail: boolean): Promise<void> {
  const { BuilderPool } = await importTreeUnwind(tree);
  // Let the main thread settle (module loading, its first GCs) before the baseline.
  await new Promise((r) => setTimeout(r, 300));
  const before = detail ? smaps() : [];
  const res: ChildResult = {
    rssBefore: statusKiB("VmRSS") / 1024,
    anonBefore: statusKiB("RssAnon") / 1024,
    steps: [],
  };
  const pool = new BuilderPool(2, 60_000);
  for (const path of files) {
    const st = Deno.statSync(path);
    const t0 = performance.now();
    await pool.tableOfFile({ path, ino: String(st.ino), size: st.size, maxBytes: 1 << 30 });
    const ms = performance.now() - t0;
    // The worker idles; the main thread's garbage of the job is not what is measured.
    await new Promise((r) => setTimeout(r, 500));
    res.steps.push({
      file: path.replace(/.*\//, ""),
      ms,
      rss: statusKiB("VmRSS") / 1024,
      anon: statusKiB("RssAnon") / 1024,
      threads: Number(/^Threads:\s+(\d+)$/m.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]),
    });
  }
  if (detail) {
    const key = (r: Region) => r.name || r.start;
    const prior = new Map(regions(before).map((r) => [key(r), r]));
    res.grown = regions(smaps())
      .map((r) => ({ r, delta: (r.rssKiB - (prior.get(key(r))?.rssKiB ?? 0)) / 1024 }))
      .filter(({ delta }) => Math.abs(delta) >= 0.25)
      .sort((a, b) => b.delta - a.delta)
      .map(({ r, delta }) => ({
        start: r.start.toString(16),
        sizeMiB: Math.round(r.sizeMiB * 10) / 10,
        perms: r.perms,
        deltaMiB: Math.round(delta * 10) / 10,
        what: guess(r),
      }));
    // The worker's own heap, in a probe worker doing the same first job (the pool's worker
    // cannot be asked).
    const { WasmUnwind } = await importTreeUnwind(tree);
    const module = await WasmUnwind.compile(
      new URL("wasm-unwind/lib/wasm_unwind.wasm", `file://${tree}/`),
    );
    const probe = new Worker(new URL("./_worker_probe.ts", import.meta.url), { type: "module" });
    const replies: MessageEvent[] = [];
    let wake: () => void = () => {};
    probe.onmessage = (e) => {
      replies.push(e);
      wake();
    };
    const next = async (pred: (d: Record<string, unknown>) => boolean) => {
      for (;;) {
        const i = replies.findIndex((e) => pred(e.data));
        if (i >= 0) return replies.splice(i, 1)[0].data;
        await new Promise<void>((r) => wake = r);
      }
    };
    probe.postMessage({
      op: "load",
      url: new URL("src/unwind/table_worker.ts", `file://${tree}/`).href,
    });
    await next((d) => d.loaded === true);
    const st = Deno.statSync(files[0]);
    probe.postMessage({
      id: 1,
      op: "table",
      path: files[0],
      ino: String(st.ino),
      maxBytes: 1 << 30,
      module,
      postedAt: performance.timeOrigin + performance.now(),
    });
    await next((d) => d.id === 1);
    probe.postMessage({ op: "mem" });
    res.probe = await next((d) => d.heapTotal !== undefined);
    probe.terminate();
  }
  pool.close();
  say(JSON.stringify(res));
}

async function parent(): Promise<void> {
  const args = {
    tree: flagValues("tree"),
    v8: flagValues("v8"),
    rounds: Number(flagValues("rounds")[0] ?? 2),
    smaps: Deno.args.includes("--smaps"),
  };
  const trees = args.tree.length ? args.tree : ["."];
  const files = flagValues("files")[0]?.split(",") ?? DEFAULT_FILES;
  const variants: { tree: string; v8: string }[] = trees.map((t) => ({
    tree: Deno.realPathSync(t),
    v8: "",
  }));
  for (const v8 of args.v8) variants.push({ tree: variants[0].tree, v8 });
  // The launcher's arena cap; the thresholds the agent sets with mallopt (src/agent/run.ts).
  const env = {
    ...Deno.env.toObject(),
    ...agentMallocEnvironment(),
    MALLOC_MMAP_THRESHOLD_: String(AGENT_MALLOC.mmapThreshold),
    MALLOC_TRIM_THRESHOLD_: String(AGENT_MALLOC.trimThreshold),
  };
  const results = new Map<number, ChildResult[]>();
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const [i, v] of variants.entries()) {
      const flags = ["--optimize-for-size", ...(v.v8 ? v.v8.split(",") : [])].join(",");
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--unstable-worker-options",
          "--unstable-no-legacy-abort",
          `--v8-flags=${flags}`,
          new URL(import.meta.url).pathname,
          "--child",
          `--tree=${v.tree}`,
          `--files=${files.join(",")}`,
          ...(args.smaps ? ["--smaps"] : []),
        ],
        env,
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
      if (!out.success) throw new Error(`child failed: ${text}`);
      const r: ChildResult = JSON.parse(text);
      results.set(i, [...(results.get(i) ?? []), r]);
      const label = `${v.tree}${v.v8 ? ` ${v.v8}` : ""}`;
      say(
        `${label}: before ${r.rssBefore.toFixed(1)} MiB (anon ${r.anonBefore.toFixed(1)}); ` +
          r.steps.map((s) =>
            `${s.file} ${s.ms.toFixed(0)} ms → RSS +${(s.rss - r.rssBefore).toFixed(1)} anon +${
              (s.anon - r.anonBefore).toFixed(1)
            } MiB (${s.threads} threads)`
          ).join("; "),
      );
      if (r.grown) {
        const sums = new Map<string, number>();
        for (const g of r.grown) sums.set(g.what, (sums.get(g.what) ?? 0) + g.deltaMiB);
        for (const [what, mib] of sums) say(`  ${mib.toFixed(1)} MiB in total: ${what}`);
        for (const g of r.grown.filter((g) => Math.abs(g.deltaMiB) >= 1)) {
          say(`    +${g.deltaMiB} MiB  ${g.start} ${g.sizeMiB} MiB ${g.perms}  ${g.what}`);
        }
        say(`    worker's Deno.memoryUsage() (MiB): ${JSON.stringify(r.probe)}`);
      }
    }
  }
  say("\nmedians (RSS / RssAnon over before, build ms), per file:");
  for (const [i, v] of variants.entries()) {
    const rs = results.get(i) ?? [];
    const cells = files.map((f, k) => {
      const d = (pick: (r: ChildResult) => number) => median(rs.map(pick)).toFixed(1);
      return `${f.replace(/.*\//, "")}: +${d((r) => r.steps[k].rss - r.rssBefore)} / +${
        d((r) => r.steps[k].anon - r.anonBefore)
      } MiB, ${median(rs.map((r) => r.steps[k].ms)).toFixed(0)} ms`;
    });
    say(`${v.tree}${v.v8 ? ` ${v.v8}` : ""}  ${cells.join("  ")}`);
  }
}

if (Deno.args.includes("--child")) {
  await child(
    flagValues("tree")[0],
    flagValues("files")[0].split(","),
    Deno.args.includes("--smaps"),
  );
} else {
  await parent();
}
