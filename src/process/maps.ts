// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/** One line of /proc/PID/maps. */
export interface ProcMapping {
  /** First address of the mapping. */
  start: number;
  /** First address past the mapping. */
  limit: number;
  /** Permissions as printed by the kernel, e.g. `r-xp`. */
  perms: string;
  /** Offset of `start` in the mapped file; 0 for anonymous mappings. */
  offset: number;
  /** Device of the mapped file as `major:minor` in hex, e.g. `fe:01`; `00:00` if anonymous. */
  dev: string;
  /** Inode of the mapped file; 0 if anonymous. */
  inode: number;
  /** Path without the ` (deleted)` suffix, a pseudo-name like `[heap]`, or "" if anonymous. */
  path: string;
  /** True when the kernel marked the mapped file ` (deleted)`. */
  deleted: boolean;
}

/** Counters that {@link parseMaps} adds to. */
export interface ParseMapsCounters {
  /** Lines that did not have the shape the kernel prints. */
  malformedMapLines: number;
}

// The kernel prints `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ` then pads with spaces up to a
// column before the name (fs/proc/task_mmu.c, show_vma_header_prefix). The name runs to the end of
// the line and may contain spaces; a newline in a path is printed escaped as `\012`, so splitting on
// "\n" is safe.
const LINE =
  /^([0-9a-f]{1,16})-([0-9a-f]{1,16}) ([r-][w-][x-][ps]) ([0-9a-f]{1,16}) ([0-9a-f]{1,8}:[0-9a-f]{1,8}) ([0-9]{1,20})(?: +(.*))?$/;

const DELETED = " (deleted)";

/**
 * Parses the text of /proc/PID/maps.
 *
 * Lines that do not have the kernel's shape (or whose end is not past their start) are skipped and
 * counted in `counters.malformedMapLines`, so one odd line cannot hide the rest of the process.
 * Addresses above 2^53 (only `[vsyscall]` on x86-64) lose precision as numbers; no user-space
 * mapping is that high.
 *
 * A file whose real name ends in ` (deleted)` cannot be told apart from a deleted file: the kernel
 * prints both the same way.
 *
 * @example Parse one mapping
 * ```ts
 * import { parseMaps } from "./maps.ts";
 * const [m] = parseMaps("7f00-8000 r-xp 00001000 fe:00 42   /usr/lib/libc.so.6\n");
 * if (m.path !== "/usr/lib/libc.so.6" || m.start !== 0x7f00) throw new Error("unexpected");
 * ```
 *
 * @param text The whole content of a maps file.
 * @param counters Optional counters to add skipped lines to.
 * @returns The mappings in file order.
 */
export function parseMaps(text: string, counters?: ParseMapsCounters): ProcMapping[] {
  const out: ProcMapping[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = LINE.exec(line);
    const start = m ? parseInt(m[1], 16) : NaN;
    const limit = m ? parseInt(m[2], 16) : NaN;
    if (!m || !(limit > start)) {
      if (counters) counters.malformedMapLines++;
      continue;
    }
    let path = m[7] ?? "";
    let deleted = false;
    if (path.endsWith(DELETED)) {
      path = path.slice(0, -DELETED.length);
      deleted = true;
    }
    out.push({
      start,
      limit,
      perms: m[3],
      offset: parseInt(m[4], 16),
      dev: m[5],
      inode: Number(m[6]),
      path,
      deleted,
    });
  }
  return out;
}
