// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Decoding of drained counts: stack_count_key entries of the stack_counts maps, and the per-CPU
 * slots of recent counts (count_slots in bpf/maps.h) that hold the rest of a window's counts.
 *
 * @module
 */

import type { CountEntry } from "./profiler_object.ts";
import { COUNT_SLOT, STACK_COUNT_KEY } from "./types.ts";

const decoder = new TextDecoder();

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/**
 * The stack_count_key at byte `o` of `bytes`, with its count.
 *
 * @param bytes Keys as BPF wrote them.
 * @param view A view of `bytes.buffer` (from its start).
 * @param o Byte offset of the key.
 * @param count Samples of the key.
 * @returns The entry.
 */
export function countEntry(
  bytes: Uint8Array,
  view: DataView,
  o: number,
  count: number,
): CountEntry {
  return {
    pid: view.getUint32(o + STACK_COUNT_KEY.pid, true),
    tid: view.getUint32(o + STACK_COUNT_KEY.tid, true),
    userStackId: view.getBigUint64(o + STACK_COUNT_KEY.userStackId, true),
    kernelStackId: view.getBigUint64(o + STACK_COUNT_KEY.kernelStackId, true),
    threadComm: cString(
      bytes.subarray(o + STACK_COUNT_KEY.threadComm, o + STACK_COUNT_KEY.threadComm + 16),
    ),
    processComm: cString(
      bytes.subarray(o + STACK_COUNT_KEY.processComm, o + STACK_COUNT_KEY.processComm + 16),
    ),
    flags: view.getUint32(o + STACK_COUNT_KEY.flags, true),
    unwindError: view.getUint32(o + STACK_COUNT_KEY.unwindError, true),
    instance: view.getUint32(o + STACK_COUNT_KEY.instance, true),
    count,
  };
}

/** Every field of a count entry's key (not its count), as one string. */
function entryKey(e: CountEntry): string {
  return `${e.pid}/${e.tid}/${e.userStackId}/${e.kernelStackId}/${e.flags}/${e.unwindError}/` +
    `${e.instance}/${e.threadComm}\0${e.processComm}`;
}

/**
 * Adds the counts that `slots` slots (struct count_slot, packed: every CPU's of one generation,
 * as one per-CPU lookup returns them) hold for window `window` to `entries`, summed into the
 * entry of the same key when there is one, so each key stays one entry. A slot of another window
 * or with no count is empty: BPF reuses such a slot without reading it.
 *
 * @param bytes The slots.
 * @param slots How many.
 * @param window The drained window (active_generation[0] while it was active).
 * @param entries The window's entries from its stack_counts map; extended in place.
 */
export function addSlotCounts(
  bytes: Uint8Array<ArrayBuffer>,
  slots: number,
  window: number,
  entries: CountEntry[],
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const base = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let byKey: Map<string, CountEntry> | undefined;
  for (let i = 0; i < slots; i++) {
    const o = i * COUNT_SLOT.size;
    const count = view.getBigUint64(o + COUNT_SLOT.count, true);
    if (count === 0n || view.getUint32(o + COUNT_SLOT.window, true) !== window) continue;
    if (!byKey) {
      byKey = new Map();
      for (const e of entries) byKey.set(entryKey(e), e);
    }
    const e = countEntry(base, view, o + COUNT_SLOT.key, Number(count));
    const k = entryKey(e);
    const known = byKey.get(k);
    if (known) {
      known.count += e.count;
    } else {
      byKey.set(k, e);
      entries.push(e);
    }
  }
}
