// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Symbolized copies of pprof profiles: every user frame of a file-backed mapping gets its
 * function, file and line, inline frames as several lines of one location (leaf first, as pprof
 * wants), so `go tool pprof` and `pprof` need no binaries. A frame that nothing names (a file
 * without symbols, too large, gone) is named `module+0xADDR`, its ELF virtual address in the
 * file (what `addr2line -e FILE` takes). Kernel, vDSO and marker frames are already named.
 *
 * @module
 */

import { clone, create } from "@bufbuild/protobuf";
import {
  FunctionSchema,
  LineSchema,
  type Profile,
  ProfileSchema,
} from "../gen/perftools/profiles/profile_pb.ts";
import type { ExecutableMapping } from "../process/mod.ts";
import type { SourceFrame } from "./_frames.ts";
import type { FileFrames, FileSource, NativeSymbolizer } from "./native.ts";

/** Where the profile's user frames came from. */
export interface SymbolizeSource {
  /** The profiled process (its files are opened through it). */
  pid: number;
  /**
   * The process's executable mappings in pprof order: pprof mapping i + 1 is `mappings[i]`
   * (as `ProcessProfile.mappings`).
   */
  mappings: readonly ExecutableMapping[];
}

/** What symbolizing a profile did, for metrics and the page. */
export interface SymbolizeReport {
  /** Locations named from symbols or DWARF. */
  named: number;
  /** Locations left as `module+0xADDR`, by reason. */
  unnamed: Record<string, number>;
}

/**
 * The cache key of a mapped file: its identity (device, inode, size, mtime) from the process
 * records, which every process mapping the same file shares. Not the build ID: a profiled
 * process can give any file any build ID, and must not be able to name another process's frames.
 *
 * @param m The mapping.
 * @returns The key, or undefined when the file was never read.
 */
export function fileKey(m: Pick<ExecutableMapping, "file">): string | undefined {
  return m.file?.key ? `file:${m.file.key}` : undefined;
}

/**
 * An address of a mapping as an ELF virtual address of its file: through the file offset and
 * the executable load segment the mapping maps.
 *
 * @param m The mapping.
 * @param addr A runtime address inside it.
 * @returns The ELF virtual address (the file offset when the load segment is unknown).
 */
export function elfAddress(
  m: Pick<ExecutableMapping, "start" | "offset" | "loadSegment">,
  addr: number,
): number {
  const fileOffset = addr - m.start + m.offset;
  return m.loadSegment ? fileOffset - m.loadSegment.offset + m.loadSegment.vaddr : fileOffset;
}

function basename(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? path : path.slice(i + 1);
}

/**
 * Symbolizes a copy of a profile; the original is not changed.
 *
 * @param profile A profile from `buildProfile` (user frames as bare addresses).
 * @param source The process and mappings it was built from.
 * @param native The symbolizer.
 * @param extraSources Other processes known to map a file (by {@link fileKey}), tried when the
 * profiled process is gone.
 * @returns The symbolized profile and what was named.
 */
export async function symbolizeProfile(
  profile: Profile,
  source: SymbolizeSource,
  native: NativeSymbolizer,
  extraSources?: (key: string) => FileSource[],
): Promise<{ profile: Profile; report: SymbolizeReport }> {
  const p = clone(ProfileSchema, profile);
  const report: SymbolizeReport = { named: 0, unnamed: {} };
  // Locations to name, grouped by file.
  const byFile = new Map<
    string,
    { mapping: ExecutableMapping; locs: number[]; vaddrs: number[] }
  >();
  const unkeyed: number[] = [];
  p.location.forEach((loc, i) => {
    if (loc.line.length > 0 || loc.mappingId === 0n) return;
    const m = source.mappings[Number(loc.mappingId) - 1];
    if (!m || m.special) return;
    const key = fileKey(m);
    if (key === undefined) {
      unkeyed.push(i);
      return;
    }
    let g = byFile.get(key);
    if (!g) byFile.set(key, g = { mapping: m, locs: [], vaddrs: [] });
    g.locs.push(i);
    g.vaddrs.push(elfAddress(m, Number(loc.address)));
  });

  const strings = new Map<string, bigint>();
  p.stringTable.forEach((s, i) => strings.has(s) || strings.set(s, BigInt(i)));
  const str = (s: string): bigint => {
    let i = strings.get(s);
    if (i === undefined) {
      i = BigInt(p.stringTable.length);
      p.stringTable.push(s);
      strings.set(s, i);
    }
    return i;
  };
  const functions = new Map<string, bigint>();
  for (const f of p.function) {
    functions.set(
      `${p.stringTable[Number(f.name)]}\0${p.stringTable[Number(f.systemName)]}\0${
        p.stringTable[Number(f.filename)]
      }`,
      f.id,
    );
  }
  const fn = (name: string, systemName: string, file: string): bigint => {
    const k = `${name}\0${systemName}\0${file}`;
    let id = functions.get(k);
    if (id === undefined) {
      id = BigInt(p.function.length + 1);
      p.function.push(create(FunctionSchema, {
        id,
        name: str(name),
        systemName: str(systemName),
        filename: str(file),
      }));
      functions.set(k, id);
    }
    return id;
  };
  const mappingHasLines = new Set<bigint>();
  const nameLocation = (i: number, frames: SourceFrame[] | undefined, fallback: string): void => {
    const loc = p.location[i];
    if (frames && frames.length > 0) {
      report.named++;
      for (const f of frames) {
        const name = f.name || fallback;
        loc.line.push(create(LineSchema, {
          functionId: fn(name, f.systemName || name, f.file),
          line: BigInt(f.line),
        }));
        if (f.line > 0) mappingHasLines.add(loc.mappingId);
      }
    } else {
      loc.line.push(create(LineSchema, { functionId: fn(fallback, fallback, "") }));
    }
  };

  const results = await Promise.all(
    [...byFile].map(async ([key, g]): Promise<[string, FileFrames]> => {
      const own: FileSource = {
        pid: source.pid,
        start: g.mapping.start,
        limit: g.mapping.limit,
        path: g.mapping.path,
        buildId: g.mapping.buildId,
        buildIdKind: g.mapping.buildIdKind,
      };
      const sources = [own, ...(extraSources?.(key) ?? []).filter((s) => s.pid !== source.pid)];
      return [key, await native.resolve(key, sources, g.vaddrs)];
    }),
  );
  for (const [key, answer] of results) {
    const g = byFile.get(key)!;
    const module = basename(g.mapping.path);
    g.locs.forEach((li, j) => {
      const fallback = `${module}+0x${g.vaddrs[j].toString(16)}`;
      if (answer.ok) {
        const frames = answer.frames[j];
        if (frames.length === 0) {
          report.unnamed.unknown_address = (report.unnamed.unknown_address ?? 0) + 1;
        }
        nameLocation(li, frames, fallback);
      } else {
        report.unnamed[answer.reason] = (report.unnamed[answer.reason] ?? 0) + 1;
        nameLocation(li, undefined, fallback);
      }
    });
  }
  for (const li of unkeyed) {
    const loc = p.location[li];
    const m = source.mappings[Number(loc.mappingId) - 1];
    report.unnamed.unreadable = (report.unnamed.unreadable ?? 0) + 1;
    nameLocation(
      li,
      undefined,
      `${basename(m.path)}+0x${elfAddress(m, Number(loc.address)).toString(16)}`,
    );
  }
  // Every location of a user mapping now has a function: tell pprof tools not to look for
  // the binaries themselves.
  for (const m of p.mapping) {
    if (p.stringTable[Number(m.filename)] === "[kernel.kallsyms]") continue;
    m.hasFunctions = true;
    if (mappingHasLines.has(m.id)) {
      m.hasFilenames = true;
      m.hasLineNumbers = true;
      m.hasInlineFrames = true;
    }
  }
  return { profile: p, report };
}
