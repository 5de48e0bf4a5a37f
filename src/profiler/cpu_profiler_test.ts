// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// CpuProfiler's window logic against the in-memory sampler: no root, real processes of our own
// (whose /proc entries an unprivileged user reads), so records are captured as in the agent.

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  EventType,
  FakeSampler,
  type InterpMaps,
  type ProcessEvent,
  type UnwindMaps,
} from "../bpf/mod.ts";
import { LabelManager } from "../labels/mod.ts";
import { metrics } from "../metrics/mod.ts";
import { parseProcStat, ProcessReader, ProcessRecords } from "../process/mod.ts";
import type { UnwinderHooks } from "../unwind/mod.ts";
import {
  CpuProfiler,
  type InterpreterHooks,
  type ProcessProfile,
  type ProfileSink,
} from "./cpu_profiler.ts";

const SLEEP = "/usr/bin/sleep";

function startNsOf(pid: number): bigint {
  const stat = parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`))!;
  return BigInt(stat.startTimeTicks) * 10_000_000n;
}

/** An address inside the first executable mapping of `path` in a process. */
function addressIn(pid: number, path: string): number {
  for (const line of Deno.readTextFileSync(`/proc/${pid}/maps`).split("\n")) {
    const f = line.split(/\s+/);
    if (f[1]?.includes("x") && f[5] === path) return parseInt(f[0].split("-")[0], 16) + 0x10;
  }
  throw new Error(`${path} is not mapped executable in ${pid}`);
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function setUp(
  opts: {
    unwinder?: UnwinderHooks;
    interpreters?: InterpreterHooks;
    durationMs?: number;
    sink?: ProfileSink;
  } = {},
) {
  const sampler = new FakeSampler();
  const records = new ProcessRecords({ reader: new ProcessReader() });
  const profiles: ProcessProfile[] = [];
  const profiler = new CpuProfiler({
    objectPath: "unused",
    frequencyHz: 19,
    durationMs: opts.durationMs ?? 300,
    cpus: [0],
    labels: new LabelManager({ node: "test", profileName: "parca_agent_cpu", agentRevision: "t" }),
    verbose: false,
    dwarfEnabled: true,
    mixedMode: true,
    eventsBufferBytes: 4096,
    records,
    eventPollIntervalMs: 20,
    openSampler: () => sampler,
    unwinder: opts.unwinder,
    interpreters: opts.interpreters,
    sinks: [{ write: (p) => void profiles.push(p) }, ...(opts.sink ? [opts.sink] : [])],
  });
  return { sampler, records, profiles, profiler };
}

function spawn(cmd: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" }).spawn();
}

async function kill(c: Deno.ChildProcess): Promise<void> {
  try {
    c.kill("SIGKILL");
  } catch {
    // gone
  }
  await c.status;
}

Deno.test("CpuProfiler profiles an image that exited before its window ended with its own mappings", async () => {
  const { sampler, records, profiles, profiler } = setUp();
  const child = spawn(SLEEP, ["30"]);
  try {
    const pid = child.pid;
    await waitFor(() => {
      try {
        return Deno.readTextFileSync(`/proc/${pid}/maps`).includes(SLEEP);
      } catch {
        return false;
      }
    }, "the child's maps");
    const addr = addressIn(pid, SLEEP);
    profiler.start();
    sampler.setInstance(pid, { id: 5, startNs: startNsOf(pid), execGeneration: 1 });
    sampler.event({ type: EventType.EXEC, pid, instance: 5, startNs: startNsOf(pid) });
    await waitFor(() => records.get(5) !== undefined, "the capture");
    // The process exits, then its samples of this window are drained.
    await kill(child);
    sampler.setInstance(pid, undefined);
    sampler.event({ type: EventType.EXIT, pid, instance: 5 });
    sampler.addSample({ pid, instance: 5, userStack: [addr], processComm: "sleep", count: 7 });
    await waitFor(() => profiles.some((p) => p.pid === pid), "its profile");
    const p = profiles.find((x) => x.pid === pid)!;
    strictEqual(p.samples, 7);
    ok(p.mappings?.some((m) => m.path === SLEEP), "the exited image's mappings");
    const loc = p.profile.location.find((l) => l.address === BigInt(addr))!;
    ok(loc && loc.mappingId !== 0n, "its frame is mapped");
    strictEqual(p.labels.comm, "sleep");
    // Freed once that window was emitted, and counted.
    await waitFor(() => records.get(5) === undefined, "the record to be freed");
    strictEqual(records.stats.freed, 1);
  } finally {
    await kill(child);
    await profiler.stop();
  }
});

Deno.test("CpuProfiler splits a window of a pid that exec'd by image, one profile each", async () => {
  const { sampler, records, profiles, profiler } = setUp({ durationMs: 60_000 });
  // sh runs, then execs sleep in the same process.
  const child = spawn("/bin/sh", ["-c", "read x < /dev/null; sleep 0.4; exec sleep 30"]);
  try {
    const pid = child.pid;
    profiler.start();
    const shPath = Deno.realPathSync("/bin/sh");
    await waitFor(() => Deno.readTextFileSync(`/proc/${pid}/maps`).includes(shPath), "sh");
    const shAddr = addressIn(pid, shPath);
    sampler.setInstance(pid, { id: 1, startNs: startNsOf(pid), execGeneration: 0 });
    sampler.event({ type: EventType.NEW_PROCESS, pid, instance: 1, startNs: startNsOf(pid) });
    await waitFor(() => records.get(1) !== undefined, "sh's record");
    await waitFor(() => Deno.readTextFileSync(`/proc/${pid}/maps`).includes(SLEEP), "the exec");
    const sleepAddr = addressIn(pid, SLEEP);
    sampler.setInstance(pid, { id: 2, startNs: startNsOf(pid), execGeneration: 1 });
    sampler.event({
      type: EventType.EXEC,
      pid,
      instance: 2,
      startNs: startNsOf(pid),
      execGeneration: 1,
    });
    await waitFor(() => records.get(2) !== undefined, "sleep's record");
    strictEqual(records.get(1)!.endReason, "exec");
    sampler.addSample({ pid, instance: 1, userStack: [shAddr], processComm: "sh", count: 3 });
    sampler.addSample({ pid, instance: 2, userStack: [sleepAddr], processComm: "sleep", count: 4 });
    await profiler.stop();
    const mine = profiles.filter((p) => p.pid === pid);
    strictEqual(mine.length, 2);
    const sh = mine.find((p) => p.mappings?.some((m) => m.path === shPath))!;
    const sl = mine.find((p) => p.mappings?.some((m) => m.path === SLEEP))!;
    ok(sh && sl, "one profile per image");
    strictEqual(sh.samples, 3);
    strictEqual(sl.samples, 4);
    ok(!sh.mappings!.some((m) => m.path === SLEEP), "the old image has only its own mappings");
    deepStrictEqual(new Set([sh.series, sl.series]), new Set([0, 1]), "distinct profile names");
  } finally {
    await kill(child);
    await profiler.stop();
  }
});

Deno.test("CpuProfiler leaves samples of a reused pid unmapped rather than give them another process's mappings", async () => {
  const { sampler, records, profiles, profiler } = setUp({ durationMs: 60_000 });
  const child = spawn(SLEEP, ["30"]);
  try {
    const pid = child.pid;
    profiler.start();
    await waitFor(() => {
      try {
        return Deno.readTextFileSync(`/proc/${pid}/maps`).includes(SLEEP);
      } catch {
        return false;
      }
    }, "the child");
    // BPF says the image started at another time: an earlier process that had this pid.
    const other = startNsOf(pid) + 5_000_000_000n;
    sampler.setInstance(pid, { id: 9, startNs: other, execGeneration: 0 });
    sampler.event({ type: EventType.NEW_PROCESS, pid, instance: 9, startNs: other });
    sampler.addSample({ pid, instance: 9, userStack: [0x1234], count: 2 });
    await profiler.stop();
    strictEqual(records.get(9), undefined);
    strictEqual(records.stats.missed, 1);
    const p = profiles.find((x) => x.pid === pid)!;
    deepStrictEqual(p.mappings, []);
  } finally {
    await kill(child);
  }
});

Deno.test("CpuProfiler stops in order: the unwinder, the final window, the maps", async () => {
  const order: string[] = [];
  let maps: UnwindMaps | undefined;
  const events: ProcessEvent[] = [];
  const unwinder: UnwinderHooks = {
    attach: (m) => void (maps = m),
    event: (e) => void events.push(e),
    windowEnded: () => void order.push("windowEnded"),
    close: async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push(`unwinder closed, maps closed: ${maps!.closed}, drains: ${sampler.drains}`);
    },
  };
  const { sampler, profiler } = setUp({ unwinder, durationMs: 60_000 });
  profiler.start();
  sampler.event({ type: EventType.NEW_PROCESS, pid: 999999, instance: 3 });
  await waitFor(() => events.length === 1, "the event");
  await profiler.stop();
  order.push(`sampler closed: ${sampler.closed}`);
  // Its table builds are abandoned before the final window (which gets the CPUs), and the final
  // window prepares nothing for a next one (no windowEnded).
  deepStrictEqual(order, [
    "unwinder closed, maps closed: false, drains: 0",
    "sampler closed: true",
  ]);
  strictEqual(sampler.drains, 1, "the last window was drained");
  strictEqual(sampler.unwindMaps.refusedAfterClose, 0);
});

Deno.test("CpuProfiler tells the unwinder and interpreters every window's end but the final one", async () => {
  let unwinderEnds = 0;
  let interpEnds = 0;
  const unwinder: UnwinderHooks = {
    attach: () => {},
    event: () => {},
    windowEnded: () => void unwinderEnds++,
    close: () => {},
  };
  const interpreters: InterpreterHooks = {
    attach: () => {},
    symbolizer: () => ({ frame: () => undefined, unknown: () => "[python]" }),
    windowEnded: () => void interpEnds++,
    close: () => {},
  };
  const { sampler, profiler } = setUp({ unwinder, interpreters, durationMs: 30 });
  profiler.start();
  await waitFor(() => sampler.drains >= 2, "two windows");
  await profiler.stop();
  const regular = sampler.drains - 1;
  strictEqual(unwinderEnds, regular);
  strictEqual(interpEnds, regular);
});

Deno.test("CpuProfiler hands the interpreters the sampler's interpMaps and stops them before the maps close", async () => {
  const order: string[] = [];
  let maps: InterpMaps | undefined;
  const interpreters: InterpreterHooks = {
    attach: (m) => void (maps = m),
    symbolizer: () => ({ frame: () => undefined, unknown: () => "[python]" }),
    windowEnded: () => void order.push("windowEnded"),
    close: () => void order.push(`interpreters closed, maps closed: ${maps!.closed}`),
  };
  const { sampler, profiler } = setUp({ interpreters, durationMs: 60_000 });
  profiler.start();
  strictEqual(maps, sampler.interpMaps);
  await profiler.stop();
  order.push(`sampler closed: ${sampler.closed}`);
  // The final window examines no process (nothing will be walked again).
  deepStrictEqual(order, [
    "interpreters closed, maps closed: false",
    "sampler closed: true",
  ]);
  strictEqual(sampler.interpMaps.refusedAfterClose, 0);
});

Deno.test("CpuProfiler does not wake up for events while none come, and stops at once", async () => {
  const { sampler, profiler } = setUp({ durationMs: 60_000 });
  profiler.start();
  // The old loop polled every eventPollIntervalMs (20 ms here): some 15 waits in this time.
  await new Promise((r) => setTimeout(r, 300));
  deepStrictEqual(sampler.waits, [Infinity], "one wait without timeout");
  // An event wakes it; it is read, and the loop waits again without timeout.
  sampler.event({ type: EventType.EXIT, pid: 999_999_999, instance: 0 });
  await waitFor(() => sampler.waits.length === 2, "the next wait");
  strictEqual(sampler.waits[1], Infinity);
  // stop() wakes the wait: it does not wait for a window or a timeout.
  await profiler.stop();
  ok(sampler.closed);
});

Deno.test("CpuProfiler tells sinks when a window starts to end and when all its profiles are out", async () => {
  const log: string[] = [];
  const sink: ProfileSink = {
    write: (p) => void log.push(`write ${p.pid}`),
    windowEmitting: () => void log.push("emitting"),
    windowEmitted: () => void log.push("emitted"),
  };
  const { sampler, profiler } = setUp({ sink });
  try {
    profiler.start();
    sampler.addSample({ pid: Deno.pid, instance: 0, userStack: [0x1000], processComm: "t" });
    await waitFor(() => log.includes(`write ${Deno.pid}`) && log.at(-1) === "emitted", "a window");
  } finally {
    await profiler.stop();
  }
  const first = log.indexOf(`write ${Deno.pid}`);
  strictEqual(log.lastIndexOf("emitting", first), first - 1, log.join(", "));
  strictEqual(log[first + 1], "emitted", log.join(", "));
  // Every window is bracketed, the final one (stop) too.
  strictEqual(
    log.filter((e) => e === "emitting").length,
    log.filter((e) => e === "emitted").length,
  );
});

Deno.test("CpuProfiler.stop() writes the last window's profiles until its flush time, then drops the rest", async () => {
  // A sink as slow as a busy host's: 30 ms a profile.
  const slow: ProfileSink = { write: () => new Promise((r) => setTimeout(r, 30)) };
  const { sampler, profiles, profiler } = setUp({ durationMs: 60_000, sink: slow });
  profiler.start();
  for (let pid = 999_000; pid < 999_020; pid++) {
    sampler.addSample({ pid, instance: 0, userStack: [0x1000], processComm: "x", count: 1 });
  }
  const dropped = async () =>
    (await metrics.stacksDropped.get()).values.find((v) => v.labels.reason === "shutdown")
      ?.value ?? 0;
  const before = await dropped();
  const t0 = performance.now();
  await profiler.stop(100);
  const ms = performance.now() - t0;
  ok(ms < 400, `stop took ${ms.toFixed(0)} ms for a 100 ms flush`);
  ok(profiles.length >= 1 && profiles.length < 20, `${profiles.length} of 20 written`);
  strictEqual(await dropped() - before, 20 - profiles.length, "each unwritten stack counted");
});

Deno.test("CpuProfiler.stop() handles the events left in the buffer until its flush time, then drops the rest", async () => {
  // Each event costs 30 ms (a capture's /proc reads on a busy host).
  let handled = 0;
  const unwinder: UnwinderHooks = {
    attach: () => {},
    event: () => {
      handled++;
      const until = performance.now() + 30;
      while (performance.now() < until) { /* busy, as a capture's synchronous reads are */ }
    },
    windowEnded: () => {},
    close: () => {},
  };
  const { sampler, profiler } = setUp({ unwinder, durationMs: 60_000 });
  profiler.start();
  await new Promise((r) => setTimeout(r, 50));
  const dropped = async () =>
    (await metrics.processEventsDropped.get()).values.find((v) => v.labels.reason === "shutdown")
      ?.value ?? 0;
  const before = await dropped();
  // Queued as the agent is told to stop: only the final window's read sees them.
  for (let pid = 998_000; pid < 998_020; pid++) {
    sampler.event({ type: EventType.MAPPINGS_CHANGED, pid });
  }
  const t0 = performance.now();
  await profiler.stop(100);
  const ms = performance.now() - t0;
  ok(ms < 400, `stop took ${ms.toFixed(0)} ms for a 100 ms flush`);
  ok(handled >= 1 && handled < 20, `${handled} of 20 events handled`);
  strictEqual(await dropped() - before, 20 - handled, "each unhandled event counted");
});
