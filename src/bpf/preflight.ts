// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Start-up checks: privileges, BTF and kernel version, each failure one line saying what to do.
 *
 * @module
 */

import * as procfs from "../procfs/mod.ts";

/** Result of {@link checkPrerequisites}. */
export interface Prerequisites {
  /** Problems that stop the agent, one line each. */
  errors: string[];
  /** Things worth knowing that do not stop it. */
  warnings: string[];
  /** Kernel release, e.g. "6.18.44". */
  kernelRelease: string;
}

const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** Kernel series the agent has been tested on (major.minor). */
const TESTED_KERNELS = ["6.18"];
/**
 * 6.1: hash maps without preallocation in perf_event programs (bpf_mem_alloc), on top of
 * bpf_loop() (5.17) and bpf_task_pt_regs() (5.15).
 */
const MIN_KERNEL: [number, number] = [6, 1];

/**
 * Parses the effective capability mask of /proc/self/status.
 *
 * @param status The text of /proc/self/status.
 * @returns The CapEff bits, or 0n when absent.
 */
export function effectiveCapabilities(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(status);
  return m ? BigInt("0x" + m[1]) : 0n;
}

/**
 * Checks what the agent needs before anything is loaded.
 *
 * @param deps Overridable inputs, for tests.
 * @returns Errors (fatal) and warnings.
 */
export function checkPrerequisites(deps: {
  uid?: number;
  status?: string;
  release?: string;
  btfExists?: boolean;
} = {}): Prerequisites {
  const errors: string[] = [];
  const warnings: string[] = [];
  const uid = deps.uid ?? Deno.uid() ?? -1;
  const status = deps.status ?? procfs.readTextFileSync("/proc/self/status");
  const caps = effectiveCapabilities(status);
  const has = (bit: bigint) => (caps & (1n << bit)) !== 0n;
  const privileged = has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON));
  if (!privileged) {
    errors.push(
      uid === 0
        ? "Cannot profile: running as root but without CAP_SYS_ADMIN or CAP_BPF+CAP_PERFMON " +
          "(grant them to the container or process)"
        : "Cannot profile: the agent must run as root (or with CAP_SYS_ADMIN, or CAP_BPF and " +
          "CAP_PERFMON); run it with sudo",
    );
  }
  const btfExists = deps.btfExists ?? (() => {
    try {
      return procfs.statSync("/sys/kernel/btf/vmlinux").isFile;
    } catch {
      return false;
    }
  })();
  if (!btfExists) {
    errors.push(
      "Cannot profile: the kernel has no BTF at /sys/kernel/btf/vmlinux (a kernel built with " +
        "CONFIG_DEBUG_INFO_BTF=y is needed for CO-RE)",
    );
  }
  const release = deps.release ?? Deno.osRelease();
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (m) {
    const major = Number(m[1]);
    const minor = Number(m[2]);
    if (major < MIN_KERNEL[0] || (major === MIN_KERNEL[0] && minor < MIN_KERNEL[1])) {
      errors.push(
        `Cannot profile: kernel ${release} is too old (${MIN_KERNEL.join(".")} or later is needed)`,
      );
    } else if (!TESTED_KERNELS.includes(`${major}.${minor}`)) {
      warnings.push(
        `kernel ${release} has not been tested with this agent (tested: ${
          TESTED_KERNELS.join(", ")
        })`,
      );
    }
  } else {
    warnings.push(`cannot parse kernel release "${release}"`);
  }
  return { errors, warnings, kernelRelease: release };
}
