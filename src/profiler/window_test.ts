// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { StackFlags } from "../bpf/mod.ts";
import type { CountEntry } from "../bpf/mod.ts";
import { assembleWindow, imageKey, markerFor } from "./window.ts";

function entry(over: Partial<CountEntry>): CountEntry {
  return {
    pid: 10,
    tid: 10,
    userStackId: 0n,
    kernelStackId: 0n,
    threadComm: "t",
    processComm: "p",
    flags: 0,
    unwindError: 0,
    instance: 0,
    count: 1,
    ...over,
  };
}

Deno.test("assembleWindow() groups by pid and moves callers' return addresses into the call", () => {
  const user = new Map([[1n, new BigUint64Array([0x1000n, 0x2005n, 0x3009n])]]);
  const kernel = new Map([[2n, new BigUint64Array([0xffffffff81000010n, 0xffffffff81000100n])]]);
  const { processes, stats } = assembleWindow(
    [
      entry({ pid: 10, tid: 11, userStackId: 1n, kernelStackId: 2n, count: 3, threadComm: "w" }),
      entry({ pid: 20, userStackId: 1n, count: 2, processComm: "q" }),
    ],
    user,
    kernel,
  );
  strictEqual(processes.size, 2);
  const p10 = processes.get(imageKey(10, 0))!;
  strictEqual(p10.total, 3);
  deepStrictEqual(p10.samples[0].user, [0x1000, 0x2004, 0x3008]);
  deepStrictEqual(p10.samples[0].kernel, [0xffffffff81000010n, 0xffffffff810000ffn]);
  strictEqual(p10.samples[0].threadName, "w");
  strictEqual(p10.samples[0].tid, 11);
  strictEqual(processes.get(imageKey(20, 0))!.comm, "q");
  strictEqual(stats.missingStacks, 0);
});

Deno.test("assembleWindow() keeps samples whose stacks are missing and counts them", () => {
  const { processes, stats } = assembleWindow(
    [entry({ userStackId: 99n, count: 4 })],
    new Map(),
    new Map(),
  );
  strictEqual(processes.get(imageKey(10, 0))!.total, 4);
  deepStrictEqual(processes.get(imageKey(10, 0))!.samples[0].user, []);
  strictEqual(stats.missingStacks, 1);
});

Deno.test("assembleWindow() marks truncated and dropped stacks and counts samples per marker", () => {
  const stacks = new Map([[1n, new BigUint64Array([0x10n])]]);
  const { processes, stats } = assembleWindow(
    [
      entry({ userStackId: 1n, flags: StackFlags.USER_TRUNCATED, count: 2 }),
      entry({ tid: 12, flags: StackFlags.USER_DROPPED, count: 5 }),
    ],
    stacks,
    new Map(),
  );
  const samples = processes.get(imageKey(10, 0))!.samples;
  strictEqual(samples[0].marker, "[truncated]");
  strictEqual(samples[1].marker, "[stack dropped: stack map full]");
  strictEqual(stats.markers.get("[truncated]"), 2);
  strictEqual(stats.markers.get("[stack dropped: stack map full]"), 5);
});

Deno.test("markerFor() is undefined for complete stacks", () => {
  strictEqual(markerFor(0), undefined);
  strictEqual(markerFor(StackFlags.IN_KERNEL), undefined);
  strictEqual(markerFor(StackFlags.USER_ERROR, 2), "[unwind error: pc not covered]");
  strictEqual(markerFor(StackFlags.USER_ERROR, 4), "[unwind error: read fault]");
  strictEqual(
    markerFor(StackFlags.USER_ERROR, 9, "java"),
    "[jit: no frame pointers; run the JVM with -XX:+PreserveFramePointer]",
  );
  strictEqual(
    markerFor(StackFlags.USER_ERROR, 9, "node"),
    "[jit: no frame pointers; enable frame pointers in the runtime's JIT]",
  );
  strictEqual(
    markerFor(StackFlags.TABLES_PENDING),
    "[frame pointers: unwind tables pending]",
  );
});

Deno.test("assembleWindow() cuts a user stack at a non-user address and marks it", () => {
  const user = new Map([[1n, new BigUint64Array([0x401000n, 0xffffffffffffffffn, 0x402000n])]]);
  const { processes } = assembleWindow([entry({ userStackId: 1n })], user, new Map());
  const s = processes.get(imageKey(10, 0))!.samples[0];
  deepStrictEqual(s.user, [0x401000]);
  strictEqual(s.marker, "[unwind error: bad address]");
});

Deno.test("assembleWindow() splits a pid's samples by image (exec mid-window, pid reuse)", () => {
  const { processes } = assembleWindow(
    [
      entry({ pid: 10, instance: 7, count: 3, processComm: "before" }),
      entry({ pid: 10, instance: 8, count: 5, processComm: "after" }),
      entry({ pid: 10, instance: 7, tid: 12, count: 1, processComm: "before" }),
    ],
    new Map(),
    new Map(),
  );
  strictEqual(processes.size, 2);
  strictEqual(processes.get(imageKey(10, 7))!.total, 4);
  strictEqual(processes.get(imageKey(10, 7))!.comm, "before");
  strictEqual(processes.get(imageKey(10, 8))!.total, 5);
  strictEqual(processes.get(imageKey(10, 8))!.instance, 8);
});
