// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end JIT symbolization and the interpreter/JIT flags, as root with the real BPF program:
// - Node.js with --perf-basic-prof: at least 80 % of the program's samples name its hot
//   JavaScript functions; the JVM (JDK 17) with -XX:+PreserveFramePointer and a perf map from
//   `jcmd PID Compiler.perfmap`: its hot methods are named.
// - The same Python, Ruby and JavaScript names reach a real Parca server (PARCA_BIN) and come
//   back in its merged profiles.
// - --python-unwinding-disable, --ruby-unwinding-disable and --symbolizer-jit-disable turn their
//   part off and no longer warn.

import { ok } from "node:assert/strict";
import { freePort, startAgent } from "./_lib/agent.ts";
import { installed, startNicedProgram, stopPrograms } from "./_lib/programs.ts";
import { waitFor } from "./_lib/wait.ts";
import { startParca } from "./_lib/parca.ts";
import { type SourceStack, sourceStacks, storedStacks } from "./_lib/source_stacks.ts";
import { installedPythons } from "./_lib/pythons.ts";
import { decodeProfile } from "../src/pprof/mod.ts";
import {
  QueryRequest_Mode,
  QueryRequest_ReportType,
} from "../src/gen/parca/query/v1alpha1/query_pb.ts";

const isRoot = Deno.uid() === 0;
if (!isRoot) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_jit_test: ignored, needs root to load BPF programs");
}

const PROGRAMS = new URL("./programs/", import.meta.url).pathname;
const CPU_TYPE = "parca_agent_cpu:samples:count:cpu:nanoseconds:delta";

function samples(stacks: SourceStack[], keep: (s: SourceStack) => boolean = () => true): number {
  return stacks.filter(keep).reduce((n, s) => n + s.count, 0);
}

const named = (s: SourceStack, re: RegExp) =>
  s.frames.some((f) => f.kind === "source" && re.test(f.name));

/** Stacks from `from` on, once the process has at least `min` samples there. */
async function enough(store: string, pid: number, from: bigint, min: number) {
  return await waitFor(`${min} samples of pid ${pid}`, async () => {
    const s = await storedStacks(store, pid, from);
    return samples(s) >= min ? s : undefined;
  }, 90_000);
}

const tablesPending = (s: SourceStack) => s.frames.some((f) => /pending/.test(f.name));

/** One stored window of a process: when it starts, its samples, those walked with tables pending. */
interface Window {
  at: bigint;
  samples: number;
  pending: number;
}

/**
 * A process's stored windows, oldest first. (The directory's order is not the windows' order:
 * on ext4 readdir lists files in hash order, so "the last file listed" is any window.)
 */
async function windowsOf(store: string, pid: number): Promise<Window[]> {
  const out: Window[] = [];
  for (const e of Deno.readDirSync(store)) {
    if (!e.name.startsWith(`${pid}_`)) continue;
    const p = decodeProfile(await Deno.readFile(`${store}/${e.name}`));
    const stacks = sourceStacks(p);
    out.push({
      at: p.timeNanos,
      samples: samples(stacks),
      pending: samples(stacks, tablesPending),
    });
  }
  return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

/** The windows as "seconds from `t0`: pending/samples", for failure messages and the log. */
function timeline(ws: Window[], t0: number): string {
  return ws.map((w) =>
    `${((Number(w.at / 1_000_000n) - t0) / 1000).toFixed(1)} s: ${w.pending}/${w.samples}`
  ).join(", ");
}

const javac = "/usr/bin/javac";
const java = "/usr/bin/java";
const jcmd = "/usr/bin/jcmd";

Deno.test({
  name: "JIT code is named from perf maps: Node.js --perf-basic-prof and the JVM",
  ignore: !isRoot,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-jit-" });
    const store = `${dir}/store`;
    const children: Deno.ChildProcess[] = [];
    const agent = await startAgent([
      `--local-store-directory=${store}`,
      "--profiling-duration=2s",
      "--profiling-cpu-sampling-frequency=97",
    ]);
    const log = () => agent.stderr().split("\n").slice(-15).join("\n");
    try {
      await t.step("Node.js --perf-basic-prof names the hot JavaScript functions", async () => {
        const node = startNicedProgram("/usr/bin/node", [
          "--perf-basic-prof",
          `${PROGRAMS}jit_hot.js`,
          "300",
        ]);
        children.push(node);
        const started = Date.now();
        // Judge windows once the unwind tables are in (the perf map grows from the start): once
        // node's newest window has samples and none of them was walked with its tables pending.
        let windows: Window[] = [];
        await waitFor("node's tables", async () => {
          windows = await windowsOf(store, node.pid);
          const newest = windows.at(-1);
          return newest && newest.samples > 0 && newest.pending === 0 ? true : undefined;
        }, 90_000).catch((e) => {
          throw new Error(
            `${(e as Error).message}; node's windows (pending/samples): ${
              timeline(windows, started)
            }\nlog:\n${log()}`,
          );
        });
        // deno-lint-ignore no-console -- how long the tables took, for CI logs
        console.error(
          `node's tables in after ${((Date.now() - started) / 1000).toFixed(1)} s; windows ` +
            `(pending/samples): ${timeline(windows, started)}`,
        );
        const from = BigInt(Date.now()) * 1_000_000n;
        const stacks = await enough(store, node.pid, from, 100);
        const total = samples(stacks);
        const hot = samples(stacks, (s) => named(s, /^JS:\*?~?(fib|hotLoop) .*jit_hot\.js/));
        ok(
          hot / total >= 0.8,
          `${
            (100 * hot / total).toFixed(1)
          } % of ${total} samples name fib or hotLoop; log:\n${log()}`,
        );
      });

      if (installed(javac) && installed(java) && installed(jcmd)) {
        await t.step("the JVM with a jcmd perf map names its hot methods", async () => {
          await new Deno.Command(javac, {
            args: ["-d", dir, `${PROGRAMS}JitHot.java`],
          }).output();
          const jvm = startNicedProgram(java, [
            "-XX:+PreserveFramePointer",
            "-cp",
            dir,
            "JitHot",
            "300",
          ]);
          children.push(jvm);
          // Let the hot methods compile, then write the perf map (a snapshot of compiled code).
          await new Promise((r) => setTimeout(r, 5000));
          const out = await new Deno.Command(jcmd, {
            args: [String(jvm.pid), "Compiler.perfmap"],
          }).output();
          ok(out.success, new TextDecoder().decode(out.stderr));
          const from = BigInt(Date.now() + 2500) * 1_000_000n; // from the next window on
          const stacks = await enough(store, jvm.pid, from, 100);
          const mainThread = (s: SourceStack) => s.threadName === "java";
          const total = samples(stacks, mainThread);
          const hot = samples(stacks, (s) => mainThread(s) && named(s, /JitHot\.(hotLoop|fib)/));
          ok(total > 0, `no samples of the JVM's main thread; log:\n${log()}`);
          ok(
            hot / total >= 0.8,
            `${
              (100 * hot / total).toFixed(1)
            } % of the main thread's ${total} samples name a hot method`,
          );
          // fib(22) is a few percent of the time next to hotLoop (and may be inlined).
          ok(stacks.some((s) => named(s, /JitHot\.hotLoop/)), "JitHot.hotLoop named");
        });
      }
    } finally {
      await stopPrograms(children);
      await agent.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Python, Ruby and JavaScript names reach a real Parca server and come back from it",
  ignore: !isRoot || !Deno.env.get("PARCA_BIN"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent-interp-parca-" });
    const server = await startParca(freePort(), dir);
    const python = installedPythons().find((p) => p.label.includes("3.12")) ??
      installedPythons()[0];
    const children = [
      startNicedProgram(python.exe, [`${PROGRAMS}py_chain.py`, "300"]),
      ...(installed("/usr/bin/ruby")
        ? [startNicedProgram("/usr/bin/ruby", [`${PROGRAMS}rb_chain.rb`, "300"])]
        : []),
      startNicedProgram("/usr/bin/node", ["--perf-basic-prof", `${PROGRAMS}jit_hot.js`, "300"]),
    ];
    const agent = await startAgent([
      `--remote-store-address=${server.address}`,
      "--remote-store-insecure",
      "--remote-store-batch-write-interval=2s",
      "--profiling-duration=2s",
      "--profiling-cpu-sampling-frequency=97",
      "--debuginfo-upload-disable",
    ]);
    try {
      const want = [
        ["python", "Work.step"],
        ...(installed("/usr/bin/ruby") ? [["ruby", "step"]] : []),
        ["node", "JS:*hotLoop"],
      ];
      const now = () => BigInt(Math.floor(Date.now() / 1000));
      const namesOf = async (comm: string): Promise<Map<string, string>> => {
        const res = await server.query.query({
          mode: QueryRequest_Mode.MERGE,
          options: {
            case: "merge",
            value: {
              query: `${CPU_TYPE}{comm=~"${comm}.*"}`,
              start: { seconds: now() - 600n },
              end: { seconds: now() + 60n },
            },
          },
          reportType: QueryRequest_ReportType.PPROF,
        });
        if (res.report.case !== "pprof") throw new Error(`unexpected report ${res.report.case}`);
        const p = decodeProfile(res.report.value);
        return new Map(
          p.function.map((f) => [p.stringTable[Number(f.name)], p.stringTable[Number(f.filename)]]),
        );
      };
      for (const [comm, fn] of want) {
        const names = await waitFor(`${fn} from the server`, async () => {
          const n = await namesOf(comm);
          return [...n.keys()].some((k) => k.startsWith(fn)) ? n : undefined;
        }, 90_000).catch((e) => {
          throw new Error(
            `${(e as Error).message}\nagent:\n${agent.stderr().slice(-2000)}\nserver:\n${
              server.log().slice(-2000)
            }`,
          );
        });
        if (comm !== "node") {
          // Interpreter functions keep their file names through the server.
          const file = [...names].find(([k]) => k === fn)?.[1] ?? "";
          ok(/(py|rb)_chain\.(py|rb)$/.test(file), `${fn}: file "${file}"`);
        }
      }
    } finally {
      await stopPrograms(children);
      await agent.stop();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "--python-unwinding-disable, --ruby-unwinding-disable and --symbolizer-jit-disable turn their part off",
  ignore: !isRoot,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent-interp-off-" });
    const store = `${dir}/store`;
    const python = installedPythons().find((p) => p.label.includes("3.11")) ??
      installedPythons()[0];
    const progs: Array<[string, Deno.ChildProcess]> = [
      ["python", startNicedProgram(python.exe, [`${PROGRAMS}py_chain.py`, "300"])],
      [
        "node",
        startNicedProgram("/usr/bin/node", ["--perf-basic-prof", `${PROGRAMS}jit_hot.js`, "300"]),
      ],
    ];
    if (installed("/usr/bin/ruby")) {
      progs.push(["ruby", startNicedProgram("/usr/bin/ruby", [`${PROGRAMS}rb_chain.rb`, "300"])]);
    }
    const agent = await startAgent([
      `--local-store-directory=${store}`,
      "--profiling-duration=2s",
      "--profiling-cpu-sampling-frequency=97",
      "--python-unwinding-disable",
      "--ruby-unwinding-disable",
      "--symbolizer-jit-disable",
    ]);
    try {
      const from = BigInt(Date.now() + 6000) * 1_000_000n; // past the first windows
      for (const [name, child] of progs) {
        const stacks = await enough(store, child.pid, from, 60);
        const source = samples(stacks, (s) => s.frames.some((f) => f.kind === "source"));
        ok(source === 0, `${name}: ${source} samples have interpreter or JIT frames`);
      }
      ok(!/has no effect yet/.test(agent.stderr()), agent.stderr().slice(-2000));
    } finally {
      await stopPrograms(progs.map(([, c]) => c));
      await agent.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
