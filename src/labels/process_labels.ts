// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { FileElfSource, type ProcessInfo } from "../process/mod.ts";
import { LruCache } from "../process/mod.ts";
import { type CgroupEntry, parseCgroup } from "./cgroup.ts";
import type { ExecutableFacts, ExecutableInspector } from "./executable.ts";
import { labelMetrics } from "./metrics.ts";
import * as procfs from "../procfs/mod.ts";

/**
 * The `__meta_process_*` labels of a process, except the executable ones.
 *
 * @param pid The process.
 * @param info What the process reader found (undefined when the process is gone).
 * @param cgroupPath The main cgroup (see {@link mainCgroup}).
 * @returns The labels; empty values are left out by the relabeler.
 */
export function processLabels(
  pid: number,
  info: ProcessInfo | undefined,
  cgroupPath: string,
): Record<string, string> {
  return {
    __meta_process_pid: String(pid),
    __meta_process_cmdline: info?.cmdline.join(" ") ?? "",
    __meta_process_cgroup: cgroupPath,
    __meta_process_ppid: info ? String(info.ppid) : "",
  };
}

/**
 * Reads /proc/PID/cgroup.
 *
 * @param pid The process.
 * @param procRoot Where procfs is mounted.
 * @returns The entries, or [] when the process is gone.
 */
export function readCgroup(pid: number, procRoot = "/proc"): CgroupEntry[] {
  try {
    return parseCgroup(procfs.readTextFileSync(`${procRoot}/${pid}/cgroup`));
  } catch {
    return [];
  }
}

/** The base name of an exe link target, without the kernel's ` (deleted)` suffix. */
export function executableName(exe: string): string {
  const path = exe.endsWith(" (deleted)") ? exe.slice(0, -" (deleted)".length) : exe;
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * The `__meta_process_executable_*` labels, from the ELF file behind /proc/PID/exe.
 *
 * The file is opened through the `exe` magic link, which is the kernel's own reference to the
 * mapped executable: no path chosen by the process is walked, and it works for deleted files and
 * files in other mount namespaces (containers). Facts are cached per file identity (device,
 * inode, size, mtime), so a binary run by a hundred processes is read once.
 */
export class ExecutableLabels {
  readonly #inspector: ExecutableInspector;
  readonly #cache: LruCache<string, ExecutableFacts | null> | undefined;
  readonly #procRoot: string;

  /**
   * @param inspector Reads the ELF facts.
   * @param cache Whether to cache facts per file (off with `--metadata-disable-caching`).
   * @param procRoot Where procfs is mounted.
   */
  constructor(inspector: ExecutableInspector, cache = true, procRoot = "/proc") {
    this.#inspector = inspector;
    this.#cache = cache ? new LruCache(1024, Infinity) : undefined;
    this.#procRoot = procRoot;
  }

  /**
   * The labels of a process's executable.
   *
   * @param pid The process.
   * @param exe The target of /proc/PID/exe ("" for kernel threads).
   * @param known The executable's facts from its file record (src/process), when the caller has
   *   them; the profiler always does, and then no file is opened here.
   * @returns The labels; {} when there is no executable or it cannot be read.
   */
  labels(pid: number, exe: string, known?: ExecutableFacts): Record<string, string> {
    if (exe === "") return {};
    const out: Record<string, string> = { __meta_process_executable_name: executableName(exe) };
    const facts = known ?? this.#facts(pid);
    if (facts) {
      out.__meta_process_executable_file_id = facts.fileId;
      out.__meta_process_executable_build_id = facts.buildId;
      out.__meta_process_executable_compiler = facts.compiler;
      out.__meta_process_executable_static = String(facts.static);
      out.__meta_process_executable_stripped = String(facts.stripped);
    }
    return out;
  }

  #facts(pid: number): ExecutableFacts | undefined {
    const link = `${this.#procRoot}/${pid}/exe`;
    let key: string;
    try {
      const st = procfs.statSync(link, { bigint: true });
      key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      return undefined; // exited, or a kernel thread
    }
    const cached = this.#cache?.get(key);
    if (cached !== undefined) {
      labelMetrics.cacheRequests.inc({ cache: "executable", result: "hit" });
      return cached ?? undefined;
    }
    if (this.#cache) labelMetrics.cacheRequests.inc({ cache: "executable", result: "miss" });
    let facts: ExecutableFacts | undefined;
    try {
      using src = FileElfSource.open(link);
      facts = this.#inspector.inspect(src);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) && (e as { code?: string }).code !== "ENOENT") {
        labelMetrics.metadataErrors.inc({ provider: "executable" });
      }
      return undefined; // not cached: the next window may succeed
    }
    this.#cache?.set(key, facts ?? null);
    return facts;
  }
}
