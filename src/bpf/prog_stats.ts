// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * BPF program run statistics. With kernel.bpf_stats_enabled = 1 the kernel counts runs and run
 * time per program and shows them in the fdinfo of the program's fd.
 *
 * @module
 */

import * as procfs from "../procfs/mod.ts";

/**
 * Reads run count and run time of a BPF program we hold an fd of.
 *
 * @param progFd The program's file descriptor.
 * @returns Counts (zero while kernel.bpf_stats_enabled is 0), and whether stats are enabled.
 */
export function readProgramStats(
  progFd: number,
): { runs: number; runTimeNs: number; enabled: boolean } {
  let enabled = false;
  try {
    enabled = procfs.readTextFileSync("/proc/sys/kernel/bpf_stats_enabled").trim() === "1";
  } catch {
    // Not readable: report what fdinfo says.
  }
  const text = procfs.readTextFileSync(`/proc/self/fdinfo/${progFd}`);
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(\\d+)$`, "m").exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { runs: field("run_cnt"), runTimeNs: field("run_time_ns"), enabled };
}
