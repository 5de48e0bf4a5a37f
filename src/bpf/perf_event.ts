// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * perf_event_open(2) for the cpu-clock software event, in frequency mode, one per CPU.
 *
 * @module
 */

import { errno, libc, NativeError } from "./ffi.ts";
import * as procfs from "../procfs/mod.ts";

const SYS_PERF_EVENT_OPEN: Record<string, bigint> = { x86_64: 298n, aarch64: 241n };
const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_CPU_CLOCK = 0n;
const PERF_FLAG_FD_CLOEXEC = 8n;
/** PERF_ATTR_SIZE_VER7: every kernel since 5.13 accepts it; newer fields stay zero. */
const PERF_ATTR_SIZE = 128;
/** Bit 10 of the flags word at offset 40: sample_freq holds a frequency, not a period. */
const ATTR_FLAG_FREQ = 1n << 10n;

/**
 * Builds a `struct perf_event_attr` for PERF_COUNT_SW_CPU_CLOCK sampled `frequencyHz` times a
 * second. Offsets are those of <linux/perf_event.h> (type 0, size 4, config 8, sample_freq 16,
 * flags 40).
 *
 * @param frequencyHz Samples per second per CPU.
 * @returns The attribute bytes.
 */
export function cpuClockAttr(frequencyHz: number): Uint8Array<ArrayBuffer> {
  const attr = new Uint8Array(PERF_ATTR_SIZE);
  const view = new DataView(attr.buffer);
  view.setUint32(0, PERF_TYPE_SOFTWARE, true);
  view.setUint32(4, PERF_ATTR_SIZE, true);
  view.setBigUint64(8, PERF_COUNT_SW_CPU_CLOCK, true);
  view.setBigUint64(16, BigInt(frequencyHz), true);
  // disabled stays 0: libbpf's attach issues PERF_EVENT_IOC_ENABLE anyway.
  view.setBigUint64(40, ATTR_FLAG_FREQ, true);
  return attr;
}

/** What to tell a user for each errno of perf_event_open. */
function perfHint(code: number): string {
  switch (code) {
    case 1: // EPERM
    case 13: // EACCES
      return "run the agent as root, or grant CAP_PERFMON (and CAP_BPF), and check " +
        "/proc/sys/kernel/perf_event_paranoid";
    case 2: // ENOENT
    case 19: // ENODEV
    case 95: // EOPNOTSUPP
      return "this kernel or CPU has no cpu-clock software event (CONFIG_PERF_EVENTS)";
    case 24: // EMFILE
      return "raise the open-files limit (ulimit -n)";
    case 22: // EINVAL
      return "the sampling frequency may exceed /proc/sys/kernel/perf_event_max_sample_rate";
    default:
      return "";
  }
}

/**
 * Opens a cpu-clock sampling event on one CPU for every task (pid -1).
 *
 * @param cpu The CPU number.
 * @param frequencyHz Samples per second.
 * @returns The perf event file descriptor.
 * @throws {NativeError} With errno and what to do about it.
 */
export function openCpuClockEvent(cpu: number, frequencyHz: number): number {
  const nr = SYS_PERF_EVENT_OPEN[Deno.build.arch];
  if (nr === undefined) {
    throw new Error(`Cannot open perf events: unsupported architecture ${Deno.build.arch}`);
  }
  const fd = Number(
    libc().syscall6(nr, cpuClockAttr(frequencyHz), -1, cpu, -1, PERF_FLAG_FD_CLOEXEC),
  );
  if (fd < 0) {
    const code = errno();
    throw new NativeError(`open a cpu-clock perf event on CPU ${cpu}`, code, perfHint(code));
  }
  return fd;
}

/**
 * Parses a kernel CPU list such as `0-3,8,10-11`.
 *
 * @param text The content of /sys/devices/system/cpu/online.
 * @returns The CPU numbers in order.
 */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(",")) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new SyntaxError(`Cannot parse CPU list: unexpected "${part}"`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    for (let c = first; c <= last; c++) cpus.push(c);
  }
  return cpus;
}

/**
 * Lists the online CPUs.
 *
 * @returns CPU numbers from /sys/devices/system/cpu/online.
 */
export function onlineCpus(): number[] {
  return parseCpuList(procfs.readTextFileSync("/sys/devices/system/cpu/online"));
}
