// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end interpreter frames, as root with the real BPF program: a Python program with a known
// chain (module function -> class methods -> a leaf with a hot loop, in the main thread and a
// worker thread) under every CPython on the machine, and the same shape in Ruby. At least 90 % of
// each one's samples must carry the whole chain in order, interleaved with native frames down to
// the program's or the thread's start, with the leaf's current line inside its loop in 90 % of
// them; both threads must be seen. The unwinding flags must turn their part off.

import { ok } from "node:assert/strict";
import { startAgent } from "./_lib/agent.ts";
import { installed, startNicedProgram, stopPrograms } from "./_lib/programs.ts";
import { entryCode, type SourceStack, storedStacks } from "./_lib/source_stacks.ts";
import { installedPythons } from "./_lib/pythons.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_interp_test: ignored, needs root to load BPF programs");
}

const PROGRAMS = new URL("./programs/", import.meta.url).pathname;
const PY_CHAIN = `${PROGRAMS}py_chain.py`;
const RB_CHAIN = `${PROGRAMS}rb_chain.rb`;

/** Lines of a program that carry a marker comment. */
function markedLines(path: string, marker: string): number[] {
  return Deno.readTextFileSync(path).split("\n").flatMap((l, i) =>
    l.includes(marker) ? [i + 1] : []
  );
}

interface Verdict {
  total: number;
  whole: number;
  leafInLoop: number;
  threads: Set<string>;
  bad: string;
}

/** Names a frame for messages. */
function show(f: SourceStack["frames"][number]): string {
  if (f.kind === "source") return `${f.name}:${f.line}`;
  if (f.kind === "native") return `${f.file.split("/").pop()}+0x${f.fileOffset.toString(16)}`;
  return f.kind === "kernel" ? `k:${f.name}` : f.name;
}

/**
 * Judges the samples of one interpreter process.
 *
 * @param stacks Its samples.
 * @param pid The process (its main thread has tid == pid).
 * @param chain Source frames expected from the leaf down, before the thread's own frames.
 * @param below Source frames that must follow the chain in the main thread and in a worker.
 * @param loopLines Lines of the leaf's loop.
 * @param bottom Whether the last frame is where a main thread or a worker thread starts.
 */
function judge(
  stacks: SourceStack[],
  pid: number,
  chain: string[],
  below: { main: string[]; worker: string[] },
  loopLines: number[],
  bottom: (f: SourceStack["frames"][number], main: boolean) => boolean,
): Verdict {
  const v: Verdict = { total: 0, whole: 0, leafInLoop: 0, threads: new Set(), bad: "" };
  const bad = new Map<string, number>();
  for (const s of stacks) {
    v.total += s.count;
    const main = s.tid === pid;
    const user = s.frames.filter((f) => f.kind !== "kernel");
    const source = user.filter((f) => f.kind === "source").map((f) => f.name);
    const want = [...chain, ...(main ? below.main : below.worker)];
    const markers = user.some((f) => f.kind === "marker");
    const last = user[user.length - 1];
    const good = !markers && source.length === want.length &&
      source.every((n, i) => n === want[i]) && last !== undefined && bottom(last, main) &&
      user.some((f) => f.kind === "native");
    if (good) {
      v.whole += s.count;
      v.threads.add(main ? "main" : "worker");
      const leaf = user.find((f) => f.kind === "source")!;
      if (loopLines.includes(leaf.line)) v.leafInLoop += s.count;
    } else {
      const k = user.map(show).join(" <- ");
      bad.set(k, (bad.get(k) ?? 0) + s.count);
    }
  }
  v.bad = [...bad].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${n}× ${k}`).join(
    "\n",
  );
  return v;
}

function check(name: string, v: Verdict, log: () => string): void {
  ok(v.total >= 50, `${name}: only ${v.total} samples; agent log tail:\n${log()}`);
  ok(
    v.whole / v.total >= 0.9,
    `${name}: ${
      (100 * v.whole / v.total).toFixed(1)
    } % of ${v.total} samples carry the chain; worst:\n${v.bad}`,
  );
  ok(
    v.leafInLoop / v.whole >= 0.9,
    `${name}: the leaf's line is in its loop in ${(100 * v.leafInLoop / v.whole).toFixed(1)} %`,
  );
  ok(v.threads.has("main") && v.threads.has("worker"), `${name}: threads seen: ${[...v.threads]}`);
}

const WINDOW_MS = 2000;

const PENDING = "[frame pointers: unwind tables pending]";

/**
 * Waits until every process's latest window has interpreter frames and no longer waits for
 * unwind tables (before that its native frames come from frame pointers).
 */
async function readyWindows(
  store: string,
  pids: Map<string, number>,
  deadlineMs: number,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const waiting = [];
    for (const [label, pid] of pids) {
      const latest = latestWindow(store, pid);
      const stacks = latest < 0n ? [] : await storedStacks(store, pid, latest);
      const named = stacks.some((s) => s.frames.some((f) => f.kind === "source"));
      const pending = stacks.some((s) => s.frames.some((f) => f.name === PENDING));
      if (!named || pending) {
        const top = stacks.sort((a, b) => b.count - a.count)[0];
        waiting.push(`${label} (${top?.frames.map(show).join(" <- ")})`);
      }
    }
    if (!waiting.length) return;
    if (Date.now() > deadline) throw new Error(`not ready: ${waiting.join(", ")}`);
  }
}

Deno.test({
  name: "Python and Ruby frames are walked, interleaved and named with their current lines",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-interp-" });
    const store = `${dir}/store`;
    const pythons = installedPythons();
    const haveRuby = installed("/usr/bin/ruby");
    // They run longer than the test takes and are killed at its end.
    const children = new Map<string, Deno.ChildProcess>();
    let exiting: Deno.ChildProcess | undefined;
    for (const p of pythons) children.set(p.label, startNicedProgram(p.exe, [PY_CHAIN, "300"]));
    if (haveRuby) children.set("ruby", startNicedProgram("/usr/bin/ruby", [RB_CHAIN, "300"]));
    const agent = await startAgent([
      `--local-store-directory=${store}`,
      `--profiling-duration=${WINDOW_MS / 1000}s`,
      "--profiling-cpu-sampling-frequency=97",
    ]);
    const log = () => agent.stderr().split("\n").slice(-15).join("\n");
    try {
      await readyWindows(
        store,
        new Map([...children].map(([k, c]) => [k, c.pid])),
        90_000,
      );
      // Judge windows from now on, once every program has enough samples in them (the machine
      // may be shared: count samples, not seconds).
      const from = BigInt(Date.now()) * 1_000_000n;
      const enoughBy = Date.now() + 90_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 2000));
        let least = Infinity;
        for (const c of children.values()) {
          const n = (await storedStacks(store, c.pid, from)).reduce((a, s) => a + s.count, 0);
          least = Math.min(least, n);
        }
        if (least >= 100 || Date.now() > enoughBy) break;
      }
      const pyLoop = [
        ...markedLines(PY_CHAIN, "LEAF_LOOP_FIRST"),
        ...markedLines(PY_CHAIN, "LEAF_LOOP_LAST"),
      ];
      for (const p of pythons) {
        await t.step(p.label, async () => {
          const child = children.get(p.label)!;
          const exe = Deno.realPathSync(p.exe);
          const start = await entryCode(exe);
          const minor = Number(/python3\.(\d+)/.exec(exe)?.[1] ?? 0);
          // 3.8 and 3.9 name frames by co_name; 3.10 too (co_qualname arrived in 3.11).
          const q = (cls: string, m: string) => minor >= 11 ? `${cls}.${m}` : m;
          const stacks = await storedStacks(store, child.pid, from);
          const v = judge(
            stacks,
            child.pid,
            ["leaf", q("Work", "step"), q("Work", "run"), "chain"],
            {
              main: ["<module>"],
              worker: [
                q("Thread", "run"),
                q("Thread", "_bootstrap_inner"),
                q("Thread", "_bootstrap"),
              ],
            },
            pyLoop,
            (f, main) =>
              f.kind === "native" &&
              (main
                ? f.file === exe && f.fileOffset >= start.start && f.fileOffset < start.end
                : /libc\.so/.test(f.file)),
          );
          check(p.label, v, log);
        });
      }
      if (haveRuby) {
        await t.step("Debian ruby", async () => {
          const child = children.get("ruby")!;
          const stacks = await storedStacks(store, child.pid, from);
          const exe = Deno.realPathSync("/usr/bin/ruby");
          const start = await entryCode(exe);
          const rbLoop = markedLines(RB_CHAIN, "LEAF_LOOP");
          const v = judge(
            stacks,
            child.pid,
            ["leaf", "step", "run", "chain"],
            { main: ["<main>"], worker: ["block in <main>"] },
            rbLoop,
            (f, main) =>
              f.kind === "native" &&
              (main
                ? f.file === exe && f.fileOffset >= start.start && f.fileOffset < start.end
                : /libc\.so/.test(f.file)),
          );
          check("ruby", v, log);
        });
      }
      const short = pythons.find((p) => p.label.includes("3.12")) ?? pythons[0];
      if (short) {
        await t.step(
          `${short.label} exiting mid-window: its last window is named too`,
          async () => {
            // The other programs are judged: all but one stop, so that the exiting one has a core
            // (the one left tells when windows are emitted).
            const [clock, ...rest] = [...children.values()];
            await stopPrograms(rest);
            const child = startNicedProgram(short.exe, [PY_CHAIN, "120", "exit"]);
            exiting = child;
            // Its frames are named in the windows before the one it exits in.
            await readyWindows(store, new Map([["exiting", child.pid]]), 60_000);
            // SIGUSR1 makes it leave from its hot loop (py_chain.py) 3/4 into a window, so that
            // window has Python frames to judge. Windows follow each other every
            // --profiling-duration from the start of the last one stored.
            let sendAt = Number(latestWindow(store) / 1_000_000n) + WINDOW_MS * 3 / 4;
            while (sendAt < Date.now() + 200) sendAt += WINDOW_MS;
            await new Promise((r) => setTimeout(r, sendAt - Date.now()));
            const sentAt = Date.now();
            child.kill("SIGUSR1");
            const status = await child.status;
            ok(status.code === 0, `the exiting program did not leave on SIGUSR1: ${status.code}`);
            const exited = BigInt(Date.now()) * 1_000_000n;
            const deadline = Date.now() + 60_000;
            // Windows are emitted in order: once another process has one that starts after the
            // exit, the exiting process's last window is in the store.
            while (latestWindow(store, clock.pid) < exited) {
              if (Date.now() > deadline) throw new Error(`no window after the exit:\n${log()}`);
              await new Promise((r) => setTimeout(r, 500));
            }
            const last = latestWindow(store, child.pid);
            const into = sentAt - Number(last / 1_000_000n);
            // The window it exited in is stored (not only earlier ones).
            ok(
              last >= 0n && into >= 0 && into < WINDOW_MS,
              `the last window of ${child.pid} starts ${into} ms before the exit`,
            );
            // Samples with Python frames, named or not ("[python]" reads as a marker).
            const all = await storedStacks(store, child.pid, last);
            const stacks = all.filter((s) =>
              s.frames.some((f) => f.kind === "source" || f.name === "[python]")
            );
            const total = stacks.reduce((n, s) => n + s.count, 0);
            const unnamed = stacks.filter((s) => s.frames.some((f) => f.name === "[python]"))
              .reduce((n, s) => n + s.count, 0);
            const shown = () =>
              all.sort((a, b) => b.count - a.count).slice(0, 3).map((s) =>
                `${s.count}× ${s.frames.map(show).join(" <- ")}`
              ).join("\n");
            // 145 at most (97 Hz for 1.5 s of the core its two threads share); niced on a busy
            // machine it had 15 a second.
            ok(
              total >= 5,
              `${total} samples with Python frames in the last window (${into} ms of it before ` +
                `the exit); its stacks:\n${shown()}\nagent log tail:\n${log()}`,
            );
            ok(
              unnamed / total <= 0.1,
              `${unnamed} of ${total} samples of the last window have unnamed Python frames; ` +
                `its stacks:\n${shown()}`,
            );
          },
        );
      }
    } finally {
      await stopPrograms([...children.values(), ...(exiting ? [exiting] : [])]);
      await agent.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Start time (ns) of the latest window stored for a pid (any pid when omitted), or -1n. */
function latestWindow(store: string, pid?: number): bigint {
  let latest = -1n;
  for (const e of Deno.readDirSync(store)) {
    const m = e.name.match(/^(\d+)_parca_agent_cpu_(\d+)\.pb\.gz$/);
    if (m && (pid === undefined || Number(m[1]) === pid) && BigInt(m[2]) > latest) {
      latest = BigInt(m[2]);
    }
  }
  return latest;
}
