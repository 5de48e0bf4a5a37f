// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Turns one drained window (counts + stacks from BPF) into per-process sample lists: grouping by
 * pid, resolving stack ids, adjusting return addresses and marking incomplete stacks. Pure: no
 * I/O, so it is tested without BPF.
 *
 * @module
 */

import type { CountEntry } from "../bpf/mod.ts";
import { StackFlags, UNWIND_ERROR_NAMES } from "../bpf/mod.ts";

/** One aggregated stack of a process, ready for the pprof builder. */
export interface WindowSample {
  tid: number;
  threadName: string;
  count: number;
  /** User frames, leaf first. Callers' return addresses are moved back 1 byte into the call. */
  user: number[];
  /** Kernel frames, leaf first, adjusted the same way. */
  kernel: bigint[];
  /** A synthetic outermost frame saying why the stack is incomplete, if it is. */
  marker?: string;
}

/** Samples of one process image in a window. */
export interface ProcessWindow {
  pid: number;
  /** The image (BPF's process_instance id) the samples were taken in; 0 when unknown. */
  instance: number;
  /** comm of the thread group leader, as BPF saw it at sample time. */
  comm: string;
  samples: WindowSample[];
  total: number;
}

/** Why stacks were incomplete or lost while assembling a window, for metrics. */
export interface AssembleStats {
  /** Stack ids referenced by counts but absent from the stacks map (should stay 0). */
  missingStacks: number;
  /** Samples per marker kind. */
  markers: Map<string, number>;
}

/** Highest user-space address on x86-64 (47-bit canonical lower half). */
const USER_ADDRESS_MAX = 0x7fffffffffffn;

/** Marker frame of each enum unwind_error value (index = value). */
const UNWIND_ERROR_MARKERS: readonly string[] = UNWIND_ERROR_NAMES.map((name) =>
  name === "truncated" ? "[truncated]" : `[unwind error: ${name.replaceAll("_", " ")}]`
);

/** enum unwind_error value of a JIT frame whose frame-pointer chain is broken. */
const JIT_NO_FRAME_POINTER = UNWIND_ERROR_NAMES.indexOf("jit_no_frame_pointer");

/**
 * The marker of a walk stopped by JIT code without frame pointers: the reason and the runtime
 * flag that gives whole stacks, chosen by the process's command name.
 *
 * @param comm The process's comm.
 * @returns The marker frame.
 */
export function jitMarker(comm: string): string {
  if (comm === "java" || comm.startsWith("jsvc")) {
    return "[jit: no frame pointers; run the JVM with -XX:+PreserveFramePointer]";
  }
  if (comm.startsWith("postgres")) {
    return "[jit: no frame pointers; PostgreSQL's LLVM JIT: set jit = off for whole stacks]";
  }
  return "[jit: no frame pointers; enable frame pointers in the runtime's JIT]";
}

/**
 * The marker frame for a sample's flags and unwind error, or undefined when its stacks are
 * complete.
 *
 * @param flags enum stack_flags bits from BPF.
 * @param unwindError enum unwind_error from BPF.
 * @param comm The process's comm (names the fix in a JIT marker).
 * @returns A frame name such as `[truncated]` or `[unwind error: pc not covered]`.
 */
export function markerFor(flags: number, unwindError = 0, comm = ""): string | undefined {
  if (flags & StackFlags.USER_DROPPED) return "[stack dropped: stack map full]";
  if (flags & StackFlags.USER_TRUNCATED) return "[truncated]";
  // Before its tables load, a process is walked with frame pointers: that, not the walk's own
  // failure, is why such a stack may be short.
  if (flags & StackFlags.TABLES_PENDING) return "[frame pointers: unwind tables pending]";
  if (flags & StackFlags.USER_ERROR) {
    if (unwindError === JIT_NO_FRAME_POINTER) return jitMarker(comm);
    return UNWIND_ERROR_MARKERS[unwindError] ?? `[unwind error: code ${unwindError}]`;
  }
  return undefined;
}

/**
 * The key of an image in {@link assembleWindow}'s result: its instance id, or minus the pid for
 * samples whose image BPF did not know (instance 0).
 *
 * @param pid The process.
 * @param instance BPF's image id.
 * @returns A number unique per image within a window.
 */
export function imageKey(pid: number, instance: number): number {
  return instance !== 0 ? instance : -pid;
}

/**
 * Groups the entries of one window by process image and resolves their stacks.
 *
 * Return addresses point after the call instruction, and when the call is a function's last
 * instruction they point into the next function; every frame but the leaf is therefore moved
 * back by one byte, the same adjustment perf and pprof make, so it names the calling line.
 *
 * @param entries Drained stack_counts entries.
 * @param userStacks Drained user stacks by id.
 * @param kernelStacks Drained kernel stacks by id.
 * @returns Windows per image (keyed by {@link imageKey}), and what went wrong.
 */
export function assembleWindow(
  entries: CountEntry[],
  userStacks: Map<bigint, BigUint64Array>,
  kernelStacks: Map<bigint, BigUint64Array>,
): { processes: Map<number, ProcessWindow>; stats: AssembleStats } {
  const processes = new Map<number, ProcessWindow>();
  const stats: AssembleStats = { missingStacks: 0, markers: new Map() };
  for (const e of entries) {
    const key = imageKey(e.pid, e.instance);
    let proc = processes.get(key);
    if (!proc) {
      proc = { pid: e.pid, instance: e.instance, comm: e.processComm, samples: [], total: 0 };
      processes.set(key, proc);
    }
    const user: number[] = [];
    let badAddress = false;
    if (e.userStackId !== 0n) {
      const s = userStacks.get(e.userStackId);
      if (s) {
        for (let i = 0; i < s.length; i++) {
          // Above the x86-64 user half nothing is user code: a frame-pointer walk that read
          // garbage. Cut the stack there (such values would not even fit a double exactly).
          if (s[i] > USER_ADDRESS_MAX) {
            badAddress = true;
            break;
          }
          user.push(Number(s[i]) - (i > 0 ? 1 : 0));
        }
      } else {
        stats.missingStacks++;
      }
    }
    const kernel: bigint[] = [];
    if (e.kernelStackId !== 0n) {
      const s = kernelStacks.get(e.kernelStackId);
      if (s) {
        for (let i = 0; i < s.length; i++) kernel.push(s[i] - (i > 0 ? 1n : 0n));
      } else {
        stats.missingStacks++;
      }
    }
    let marker = markerFor(e.flags, e.unwindError, e.processComm);
    if (!marker && badAddress) marker = "[unwind error: bad address]";
    if (!marker && e.flags & StackFlags.KERNEL_DROPPED) {
      marker = "[kernel stack dropped: stack map full]";
    }
    if (marker) stats.markers.set(marker, (stats.markers.get(marker) ?? 0) + e.count);
    proc.samples.push({
      tid: e.tid,
      threadName: e.threadComm,
      count: e.count,
      user,
      kernel,
      marker,
    });
    proc.total += e.count;
  }
  return { processes, stats };
}
