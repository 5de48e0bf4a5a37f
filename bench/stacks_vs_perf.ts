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
 * machine's Go, Go 1.19); Java 17 by default and with -XX:+PreserveFramePointer; C calling
 * hand-written assembly without CFI. The agent's first windows (tables pending) are left out,
 * as is the start of each perf run; "any new process" counts the agent's pending windows.
 *
 * @module
 */

import { decodeProfile } from "../src/pprof/mod.ts";
import { startAgent } from "../tests/_lib/agent.ts";
import { buildGo, GO_TOOLCHAINS } from "../tests/_lib/go_toolchains.ts";
import { buildAsmProgram, buildJavaSpin } from "../tests/_lib/programs.ts";
import {
  ElfSymbols,
  namedStacks,
  outermostFiles,
  unmappedAddresses,
} from "../tests/_lib/symbols.ts";
import { arg } from "./_lib/proc.ts";

const seconds = arg("seconds", 20);
const PROGRAMS = new URL("../tests/programs/", import.meta.url).pathname;
const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";

interface Workload {
  name: string;
  cmd: string[];
  /** Whether a stack (names leaf first, and the outermost frame's file) reached its root. */
  whole: (frames: string[], lastFile: string) => boolean;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
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

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "bench-stacks-" });
  const bin = (n: string) => `${dir}/${n}`;
  await buildGo(GO_TOOLCHAINS[0], "go_chain", bin("go_chain"));
  await buildGo(GO_TOOLCHAINS[2], "go_chain", bin("go_chain_119"));
  await buildAsmProgram(bin("asm_main"));
  await buildJavaSpin(dir);
  const long = String(seconds * 10);
  const goWhole = endsAt("runtime.goexit.abi0", "runtime.goexit");
  const workloads: Workload[] = [
    {
      name: "Node.js 20, no flags",
      cmd: ["/usr/bin/node", `${PROGRAMS}node_spin.js`, long],
      // perf stops in libc (no frame pointers there); the agent goes on to _start.
      whole: (f) => f.includes("node::Start") && f.some((x) => /libc_start|^_start$/.test(x)),
    },
    { name: "Go (this machine's), goroutines + GC", cmd: [bin("go_chain"), long], whole: goWhole },
    { name: "Go 1.19, goroutines + GC", cmd: [bin("go_chain_119"), long], whole: goWhole },
    {
      name: "Java 17 default",
      cmd: ["/usr/bin/java", "-cp", dir, "Spin", long],
      whole: threadStart,
    },
    {
      name: "Java 17 -XX:+PreserveFramePointer",
      cmd: ["/usr/bin/java", "-XX:+PreserveFramePointer", "-cp", dir, "Spin", long],
      whole: threadStart,
    },
    {
      name: "C calling assembly without CFI",
      cmd: [bin("asm_main"), long],
      whole: endsAt("_start"),
    },
  ];
  const syms = [
    { path: "node", syms: await ElfSymbols.load("/usr/bin/node") },
    { path: "go_chain", syms: await ElfSymbols.load(bin("go_chain")) },
    { path: "go_chain_119", syms: await ElfSymbols.load(bin("go_chain_119")) },
    { path: "asm_main", syms: await ElfSymbols.load(bin("asm_main")) },
    { path: "libc.so.6", syms: await ElfSymbols.load(LIBC) },
  ];
  const store = `${dir}/store`;
  const agent = await startAgent([`--local-store-directory=${store}`, "--profiling-duration=5s"]);
  const rows: string[] = [];
  let pendingSamples = 0;
  let allSamples = 0;
  try {
    for (const w of workloads) {
      const child = new Deno.Command(w.cmd[0], {
        args: w.cmd.slice(1),
        stdout: "null",
        stderr: "null",
      }).spawn();
      const started = BigInt(Date.now()) * 1_000_000n;
      // Let tables load and the JIT warm up, then measure agent and perf over the same time.
      await new Promise((r) => setTimeout(r, 15_000));
      const from = BigInt(Date.now()) * 1_000_000n;
      const [dwarf, fp] = await Promise.all([
        perfShare(child.pid, "dwarf", w),
        perfShare(child.pid, "fp", w),
      ]);
      await new Promise((r) => setTimeout(r, 6000)); // the window that holds the end of the run
      let total = 0;
      let whole = 0;
      let marked = 0;
      let unmapped = 0;
      const markers = new Map<string, number>();
      for (const e of Deno.readDirSync(store)) {
        if (!e.name.startsWith(`${child.pid}_`)) continue;
        const p = decodeProfile(await Deno.readFile(`${store}/${e.name}`));
        unmapped += unmappedAddresses(p, child.pid).length;
        const files = outermostFiles(p);
        namedStacks(p, syms).forEach((s, i) => {
          const f = s.frames.filter((x) => !x.startsWith("k:"));
          if (p.timeNanos >= started) {
            allSamples += s.count;
            if (f.some((x) => x.includes("tables pending"))) pendingSamples += s.count;
          }
          if (p.timeNanos < from) return;
          total += s.count;
          const marker = f.find((x) => x.startsWith("["));
          if (marker) {
            marked += s.count;
            markers.set(marker, (markers.get(marker) ?? 0) + s.count);
          } else if (w.whole(f, files[i])) whole += s.count;
        });
      }
      // Read while the process lives: its JIT code's mappings come from /proc/PID/maps.
      try {
        child.kill("SIGKILL");
      } catch {
        // exited
      }
      await child.status;
      const pct = (n: number) => total ? `${(100 * n / total).toFixed(1)} %` : "–";
      const top = [...markers].sort((a, b) => b[1] - a[1])[0];
      rows.push(
        `| ${w.name} | ${pct(whole)} (${total}) | ${pct(marked)}${
          top ? ` (${top[0]})` : ""
        } | ${unmapped} | ${dwarf} | ${fp} |`,
      );
      // deno-lint-ignore no-console -- a benchmark's report
      console.error(rows.at(-1));
    }
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
    "",
    `New processes: ${pendingSamples} of ${allSamples} samples (${
      (100 * pendingSamples / Math.max(1, allSamples)).toFixed(1)
    } %) taken while tables were pending, each ending in the pending marker; no frame outside a mapping.`,
  ];
  // deno-lint-ignore no-console -- a benchmark's report
  console.log(out.join("\n"));
}
