// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Unmaps the agent's idle file pages. About half of a running agent's RSS is file-backed: the
 * `deno` binary's code and read-only data (50–58 MiB of its ~100 MiB), most of it touched once
 * during start-up (module loading, transpiling, the start-up scan) and never again. Those pages
 * stay mapped, and counted in the agent's RSS, until the kernel reclaims them. madvise(2)'s
 * MADV_DONTNEED on a read-only file mapping only removes them from the agent's page tables: the
 * page cache keeps them (shared with every other process that maps the file, reclaimable), and a
 * page the agent touches again is mapped back by a minor fault with the same contents. So after
 * start-up, and then periodically, the agent drops its read-only file mappings and lets what it
 * really uses come back.
 *
 * Only mappings that cannot hold data of their own are touched: backed by a file (a path and an
 * inode), not writable, and with no anonymous (copy-on-write) page. Anything else, e.g. a BPF
 * map's or ring buffer's mapping (no file, and not refaultable), is left alone. And only the
 * executable's own mappings (`/proc/self/exe`): they live as long as the process, whereas a
 * library or a database file (Deno's code cache, which SQLite maps and may remap as it grows)
 * could be unmapped by another thread between the read of smaps and the madvise, and its range
 * reused for anonymous memory, which MADV_DONTNEED would zero.
 *
 * @module
 */

import * as procfs from "../procfs/mod.ts";

/** One mapping of `/proc/self/smaps` that may be dropped. */
export interface DroppableMapping {
  start: bigint;
  end: bigint;
  path: string;
  /** Resident bytes now. */
  rss: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/;

/**
 * The mappings of an smaps text whose pages can be dropped without losing data: file-backed
 * (an absolute path that is not a device, memfd or SysV segment, a non-zero inode, not deleted),
 * not writable, no anonymous page, and something resident.
 *
 * @param smaps The text of `/proc/PID/smaps`.
 * @param paths The files whose mappings may be dropped (all files when absent).
 * @returns The mappings, in address order.
 */
export function droppableMappings(smaps: string, paths?: ReadonlySet<string>): DroppableMapping[] {
  const out: DroppableMapping[] = [];
  let cur: (DroppableMapping & { ok: boolean; anon: number }) | undefined;
  const finish = () => {
    if (cur?.ok && cur.anon === 0 && cur.rss > 0) {
      out.push({ start: cur.start, end: cur.end, path: cur.path, rss: cur.rss });
    }
  };
  for (const line of smaps.split("\n")) {
    const h = HEADER.exec(line);
    if (h) {
      finish();
      const [, start, end, perms, inode, path] = h;
      const ok = perms[1] !== "w" && inode !== "0" && path.startsWith("/") &&
        !path.endsWith(" (deleted)") && !path.startsWith("/dev/") &&
        !path.startsWith("/memfd:") && !path.startsWith("/SYSV") && (!paths || paths.has(path));
      cur = {
        start: BigInt(`0x${start}`),
        end: BigInt(`0x${end}`),
        path,
        rss: 0,
        // Unknown until its Anonymous line: treated as holding private pages.
        anon: -1,
        ok,
      };
      continue;
    }
    if (!cur) continue;
    if (line.startsWith("Rss:")) cur.rss = kib(line);
    else if (line.startsWith("Anonymous:")) cur.anon = kib(line);
  }
  finish();
  return out;
}

function kib(line: string): number {
  return Number(/(\d+) kB/.exec(line)?.[1] ?? NaN) * 1024;
}

/** What one drop did. */
export interface DropResult {
  /** Mappings dropped. */
  mappings: number;
  /** Bytes that were resident in them just before. */
  bytes: number;
  /** Mappings madvise refused (e.g. unmapped in between). */
  failed: number;
}

/**
 * Drops the resident pages of this process's executable's droppable mappings
 * ({@link droppableMappings}).
 *
 * @param read Reads the process's smaps (injectable for tests).
 * @param drop Drops a range (injectable for tests).
 * @param paths The files whose mappings may go: the executable (`/proc/self/exe`) by default.
 * @returns Counts.
 */
export function dropIdleFilePages(
  read: () => string = () => procfs.readTextFileSync("/proc/self/smaps"),
  drop: (start: bigint, length: bigint) => void = procfs.dropPages,
  paths: ReadonlySet<string> = new Set([procfs.readLinkSync("/proc/self/exe")]),
): DropResult {
  const result: DropResult = { mappings: 0, bytes: 0, failed: 0 };
  for (const m of droppableMappings(read(), paths)) {
    try {
      drop(m.start, m.end - m.start);
      result.mappings++;
      result.bytes += m.rss;
    } catch {
      result.failed++;
    }
  }
  return result;
}

/** Options of {@link FilePageDropper}. */
export interface FilePageDropperOptions {
  /** The first drop, after start-up. */
  firstMs: number;
  /** Then every this often: pages touched by rare work (a table worker's start) go again. */
  everyMs: number;
  /** Called after each drop. */
  onDrop?: (r: DropResult) => void;
  /** Called when a drop failed as a whole (smaps unreadable); the next one is still scheduled. */
  onError?: (e: Error) => void;
  /** The drop itself (tests). */
  dropOnce?: () => DropResult;
}

/** Runs {@link dropIdleFilePages} after start-up and then periodically, off the event loop's ref. */
export class FilePageDropper {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  readonly #options: FilePageDropperOptions;

  /** @param options When to drop. */
  constructor(options: FilePageDropperOptions) {
    this.#options = options;
  }

  /** Schedules the first drop. */
  start(): void {
    this.#schedule(this.#options.firstMs);
  }

  /** Cancels the next drop. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      try {
        const r = (this.#options.dropOnce ?? dropIdleFilePages)();
        this.#options.onDrop?.(r);
      } catch (e) {
        this.#options.onError?.(e as Error);
      }
      this.#schedule(this.#options.everyMs);
    }, ms);
    // The agent runs until a signal; this timer must not keep a stopping one alive.
    Deno.unrefTimer(this.#timer);
  }
}
