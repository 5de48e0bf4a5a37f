// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { addSlotCounts, countEntry } from "./count_slots.ts";
import type { CountEntry } from "./profiler_object.ts";
import { COUNT_SLOT, STACK_COUNT_KEY } from "./types.ts";

interface Key {
  pid: number;
  tid: number;
  user: bigint;
  kernel?: bigint;
  comm?: string;
  instance?: number;
  flags?: number;
}

function writeKey(view: DataView, bytes: Uint8Array, o: number, k: Key): void {
  view.setUint32(o + STACK_COUNT_KEY.pid, k.pid, true);
  view.setUint32(o + STACK_COUNT_KEY.tid, k.tid, true);
  view.setBigUint64(o + STACK_COUNT_KEY.userStackId, k.user, true);
  view.setBigUint64(o + STACK_COUNT_KEY.kernelStackId, k.kernel ?? 0n, true);
  const comm = new TextEncoder().encode(k.comm ?? "spin");
  bytes.set(comm, o + STACK_COUNT_KEY.threadComm);
  bytes.set(comm, o + STACK_COUNT_KEY.processComm);
  view.setUint32(o + STACK_COUNT_KEY.flags, k.flags ?? 0, true);
  view.setUint32(o + STACK_COUNT_KEY.instance, k.instance ?? 7, true);
}

/** Slots as a per-CPU lookup returns them: [key, count, window] per slot. */
function slots(list: Array<[Key | null, number, number]>): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(list.length * COUNT_SLOT.size);
  const view = new DataView(bytes.buffer);
  list.forEach(([k, count, window], i) => {
    const o = i * COUNT_SLOT.size;
    if (k) writeKey(view, bytes, o + COUNT_SLOT.key, k);
    view.setBigUint64(o + COUNT_SLOT.count, BigInt(count), true);
    view.setUint32(o + COUNT_SLOT.window, window, true);
  });
  return bytes;
}

function entry(k: Key, count: number): CountEntry {
  const bytes = new Uint8Array(STACK_COUNT_KEY.size);
  writeKey(new DataView(bytes.buffer), bytes, 0, k);
  return countEntry(bytes, new DataView(bytes.buffer), 0, count);
}

Deno.test("slot counts of the drained window are added, summed per key with the map's entries", () => {
  const a: Key = { pid: 10, tid: 11, user: 0xabcn };
  const b: Key = { pid: 10, tid: 12, user: 0xabcn };
  const c: Key = { pid: 20, tid: 20, user: 5n, kernel: 9n, comm: "other" };
  const entries = [entry(a, 3)];
  // Two CPUs of 3 slots: a on both CPUs, b once, c only in a stale window, one empty slot and
  // one slot of the window whose count is 0.
  const bytes = slots([
    [a, 2, 5],
    [b, 4, 5],
    [c, 9, 3],
    [a, 1, 5],
    [null, 0, 0],
    [c, 0, 5],
  ]);
  addSlotCounts(bytes, 6, 5, entries);
  deepStrictEqual(entries, [entry(a, 6), entry(b, 4)]);
});

Deno.test("keys that differ in any field stay apart", () => {
  const base: Key = { pid: 1, tid: 1, user: 1n };
  const variants: Key[] = [
    { ...base, kernel: 1n },
    { ...base, instance: 8 },
    { ...base, flags: 32 },
    { ...base, comm: "x" },
    { ...base, tid: 2 },
  ];
  const entries = [entry(base, 1)];
  addSlotCounts(slots(variants.map((k) => [k, 1, 0])), variants.length, 0, entries);
  strictEqual(entries.length, 1 + variants.length);
  for (const e of entries) strictEqual(e.count, 1);
});

Deno.test("no slot of the window leaves the entries as they are", () => {
  const entries = [entry({ pid: 1, tid: 1, user: 1n }, 2)];
  addSlotCounts(slots([[{ pid: 1, tid: 1, user: 1n }, 5, 1]]), 1, 2, entries);
  deepStrictEqual(entries, [entry({ pid: 1, tid: 1, user: 1n }, 2)]);
});
