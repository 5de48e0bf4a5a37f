// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parseProcStat } from "./_proc_stat.ts";
import { ProcessReader } from "./process_reader.ts";
import { ProcessRecords, type RecordChange, sameStart } from "./records.ts";

function startNs(pid: number): bigint {
  return BigInt(parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`))!.startTimeTicks) *
    10_000_000n;
}

function spawnSleep(): Deno.ChildProcess {
  return new Deno.Command("/usr/bin/sleep", { args: ["30"], stdout: "null" }).spawn();
}

async function kill(c: Deno.ChildProcess): Promise<void> {
  try {
    c.kill("SIGKILL");
  } catch {
    // gone
  }
  await c.status;
}

Deno.test("sameStart() compares BPF's nanoseconds with /proc's clock ticks", () => {
  ok(sameStart(123_456_789_012n, 12345));
  ok(!sameStart(123_466_789_012n, 12345));
});

Deno.test("ProcessRecords keeps an ended image until the window it ended in is emitted", () => {
  const records = new ProcessRecords({ reader: new ProcessReader() });
  const changes: Array<[number, RecordChange]> = [];
  records.onChange((r, c) => changes.push([r.instance, c]));
  const r = records.capture(Deno.pid, { instance: 1, startNs: startNs(Deno.pid) })!;
  ok(r.mappings.some((m) => m.path === Deno.execPath() && m.file?.buildId), "own mappings");
  ok(r.executableFile?.executable?.fileId, "the executable's facts");
  ok(r.cgroup.includes("::") || r.cgroup.includes(":"), "cgroup read at capture");
  strictEqual(records.capture(Deno.pid, { instance: 1 }), r, "captured once");
  const w0 = records.windowFlipped(); // window 0 ends; window 1 is sampled
  records.end(1, "exit");
  strictEqual(r.endedInWindow, 1);
  strictEqual(records.windowEmitted(w0), 0, "window 0 cannot hold its last samples");
  strictEqual(records.get(1), r);
  const w1 = records.windowFlipped();
  strictEqual(records.windowEmitted(w1), 1);
  strictEqual(records.get(1), undefined);
  strictEqual(records.latest(Deno.pid), undefined);
  deepStrictEqual(changes, [[1, "captured"], [1, "ended"], [1, "freed"]]);
});

Deno.test("ProcessRecords drops a capture whose start time or image is not the one BPF named", async () => {
  const records = new ProcessRecords({ reader: new ProcessReader() });
  const child = spawnSleep();
  try {
    // A start time 5 s off: the pid belonged to another process when BPF saw it.
    strictEqual(
      records.capture(child.pid, { instance: 2, startNs: startNs(child.pid) + 5n * 10n ** 9n }),
      undefined,
    );
    // An exec happened while /proc was read.
    strictEqual(records.capture(child.pid, { instance: 3 }, () => false), undefined);
    strictEqual(records.stats.missed, 2);
    // A missed image is not read again at every event.
    strictEqual(records.capture(child.pid, { instance: 3 }), undefined);
    strictEqual(records.stats.missed, 2);
    ok(records.capture(child.pid, { instance: 4, startNs: startNs(child.pid) }));
  } finally {
    await kill(child);
  }
});

Deno.test("ProcessRecords ends the previous image of a pid when a newer one is captured", () => {
  const records = new ProcessRecords({ reader: new ProcessReader() });
  const a = records.capture(Deno.pid, { instance: 5 })!;
  const b = records.capture(Deno.pid, { instance: 6, execGeneration: 1 })!;
  strictEqual(a.endReason, "exec");
  strictEqual(records.latest(Deno.pid), b);
  strictEqual(b.execGeneration, 1);
});

Deno.test("ProcessRecords sweeps images whose process is gone and stays within its bound", async () => {
  const records = new ProcessRecords({ reader: new ProcessReader(), maxRecords: 2 });
  const child = spawnSleep();
  await new Promise((r) => setTimeout(r, 50));
  const r = records.capture(child.pid, { instance: 7 })!;
  ok(r);
  await kill(child);
  records.windowFlipped();
  records.windowFlipped();
  strictEqual(records.sweep(2, 0), 0, "nothing checked beyond the budget");
  strictEqual(records.sweep(2), 1, "the exited process is found by the sweep");
  strictEqual(r.endReason, "gone");
  // Bound: a third record pushes out the ended one first, then the least recently sampled.
  records.capture(Deno.pid, { instance: 8 });
  records.capture(Deno.pid, { instance: 9 });
  strictEqual(records.size, 2);
  strictEqual(records.get(7), undefined);
  strictEqual(records.stats.evicted, 0);
  records.capture(Deno.pid, { instance: 10 });
  strictEqual(records.size, 2);
});
