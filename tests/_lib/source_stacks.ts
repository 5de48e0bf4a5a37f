// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Reads the stacks of stored profiles with their interpreter and JIT frames spelled out, for the
 * interpreter e2e tests.
 *
 * @module
 */

import { decodeProfile, type Profile } from "../../src/pprof/mod.ts";

/** One frame of a sample. */
export interface Frame {
  /**
   * `source`: a location whose line names a function with a file (Python, Ruby, JIT); `vdso`:
   * the agent's name of a vDSO function (e.g. `__vdso_clock_gettime` under Python's time.time()).
   */
  kind: "source" | "kernel" | "vdso" | "native" | "marker";
  /** Function name (source, kernel, marker), or "" for a native address. */
  name: string;
  /** Source file, or the mapping's file for native frames. */
  file: string;
  /** Current line (source). */
  line: number;
  /** Native frames: the address's offset in the mapped file. */
  fileOffset: number;
}

/** One sample. */
export interface SourceStack {
  frames: Frame[];
  count: number;
  tid: number;
  threadName: string;
}

/**
 * Every sample of a profile with its frames, leaf first.
 *
 * @param p A decoded profile.
 * @returns The samples.
 */
export function sourceStacks(p: Profile): SourceStack[] {
  const str = p.stringTable;
  const mappings = new Map(p.mapping.map((m) => [m.id, m]));
  const functions = new Map(p.function.map((f) => [f.id, f]));
  const locations = new Map(p.location.map((l) => [l.id, l]));
  return p.sample.map((s) => {
    const frames = s.locationId.map((id): Frame => {
      const loc = locations.get(id)!;
      const m = mappings.get(loc.mappingId);
      const mfile = m ? str[Number(m.filename)] : "";
      if (loc.line.length > 0) {
        const fn = functions.get(loc.line[0].functionId)!;
        const name = str[Number(fn.name)];
        const file = str[Number(fn.filename)];
        const kind = mfile === "[kernel.kallsyms]"
          ? "kernel"
          : mfile === "[vdso]"
          ? "vdso"
          : !m && file === "" && name.startsWith("[")
          ? "marker"
          : "source";
        return { kind, name, file, line: Number(loc.line[0].line), fileOffset: 0 };
      }
      return {
        kind: "native",
        name: "",
        file: mfile,
        line: 0,
        fileOffset: m ? Number(loc.address - m.memoryStart + m.fileOffset) : -1,
      };
    });
    let tid = 0;
    let threadName = "";
    for (const l of s.label) {
      if (str[Number(l.key)] === "thread_id") tid = Number(str[Number(l.str)]);
      if (str[Number(l.key)] === "thread_name") threadName = str[Number(l.str)];
    }
    return { frames, count: Number(s.value[0]), tid, threadName };
  });
}

/**
 * Stacks of a process from the local store's profiles that start at or after `from`.
 *
 * @param store The --local-store-directory.
 * @param pid The process.
 * @param from Window start, Unix nanoseconds.
 * @returns Its samples.
 */
export async function storedStacks(store: string, pid: number, from = 0n): Promise<SourceStack[]> {
  const out: SourceStack[] = [];
  for (const e of Deno.readDirSync(store)) {
    if (!e.name.startsWith(`${pid}_`)) continue;
    const p = decodeProfile(await Deno.readFile(`${store}/${e.name}`));
    if (p.timeNanos < from) continue;
    out.push(...sourceStacks(p));
  }
  return out;
}

/**
 * The file offset range of an executable's entry code (`_start`), from its ELF header.
 *
 * @param path The executable.
 * @returns Where `_start` begins in the file, and a bound on its length.
 */
export async function entryCode(path: string): Promise<{ start: number; end: number }> {
  const out = await new Deno.Command("readelf", { args: ["-hlW", path] }).output();
  const text = new TextDecoder().decode(out.stdout);
  const entry = parseInt(/Entry point address:\s+0x([0-9a-f]+)/.exec(text)![1], 16);
  for (const line of text.split("\n")) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(line);
    if (!m) continue;
    const [off, vaddr, size] = [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
    if (entry >= vaddr && entry < vaddr + size) {
      return { start: entry - vaddr + off, end: entry - vaddr + off + 64 };
    }
  }
  throw new Error(`${path}: entry point in no LOAD segment`);
}
