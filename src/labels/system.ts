// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import * as procfs from "../procfs/mod.ts";

/** The host facts behind `__meta_system_*`. */
export interface SystemInfo {
  /** `uname -r`. */
  kernelRelease: string;
  /** `uname -m`, usually the architecture (`x86_64`, `aarch64`). */
  kernelMachine: string;
}

function readTrimmed(path: string): string | undefined {
  try {
    return procfs.readTextFileSync(path).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the kernel release and machine once. The machine comes from `/proc/sys/kernel/arch`
 * (Linux 6.1+, the same string as `uname -m`), else from the architecture Deno was built for,
 * which is the same on the platforms the agent supports.
 *
 * @example
 * ```ts
 * import { readSystemInfo } from "./system.ts";
 * const s = readSystemInfo();
 * console.assert(s.kernelRelease !== "" && s.kernelMachine !== "");
 * ```
 *
 * @returns The facts.
 */
export function readSystemInfo(): SystemInfo {
  return {
    kernelRelease: readTrimmed("/proc/sys/kernel/osrelease") ?? Deno.osRelease(),
    kernelMachine: readTrimmed("/proc/sys/kernel/arch") ?? Deno.build.arch,
  };
}

/**
 * The `__meta_system_*` and `__meta_agent_revision` labels.
 *
 * @param info The host facts.
 * @param agentRevision The agent's source revision.
 * @returns The labels.
 */
export function systemLabels(info: SystemInfo, agentRevision: string): Record<string, string> {
  return {
    __meta_system_kernel_release: info.kernelRelease,
    __meta_system_kernel_machine: info.kernelMachine,
    __meta_agent_revision: agentRevision,
  };
}
