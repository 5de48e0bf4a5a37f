// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Names user frames of test programs from their symbol tables (nm) and program headers
 * (readelf), the way a server symbolizes a pprof location: address -> file offset through the
 * mapping -> virtual address through the executable PT_LOAD -> symbol.
 *
 * @module
 */

import type { Profile } from "../../src/pprof/mod.ts";

interface Sym {
  addr: number;
  name: string;
}

/** A range of virtual addresses, end exclusive. */
interface AddressRange {
  start: number;
  end: number;
}

/** A PT_LOAD program header: where file bytes are mapped in the virtual address space. */
interface LoadSegment {
  offset: number;
  vaddr: number;
  filesz: number;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Function symbols and load segments of one ELF file. */
export class ElfSymbols {
  #syms: Sym[];
  #loads: LoadSegment[];
  #plt: AddressRange[];

  private constructor(syms: Sym[], loads: LoadSegment[], plt: AddressRange[]) {
    this.#syms = syms;
    this.#loads = loads;
    this.#plt = plt;
  }

  /**
   * Reads the symbols of a file.
   *
   * @param path The ELF file.
   * @returns Its symbols.
   */
  static async load(path: string): Promise<ElfSymbols> {
    // Demangled, then cut to the bare function name: "throw_one(int) [clone .cold]" is
    // "throw_one", so tests name C, C++ and Rust frames alike.
    let nm = await run("nm", ["-n", "-C", "--defined-only", path]);
    // A stripped library (libc) has only its dynamic symbols.
    if (!/ [tTwW] /.test(nm)) nm = await run("nm", ["-n", "-C", "-D", "--defined-only", path]);
    const syms: Sym[] = [];
    for (const line of nm.split("\n")) {
      const m = /^([0-9a-f]+) [tTwW] (.+)$/.exec(line);
      if (m) {
        syms.push({
          addr: parseInt(m[1], 16),
          name: m[2].replace(/\(.*$/, "").replace(/ \[clone .*$/, ""),
        });
      }
    }
    const rl = await run("readelf", ["-lW", path]);
    const loads: LoadSegment[] = [];
    for (const line of rl.split("\n")) {
      const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(line);
      if (m) {
        loads.push({
          offset: parseInt(m[1], 16),
          vaddr: parseInt(m[2], 16),
          filesz: parseInt(m[3], 16),
        });
      }
    }
    const sections = await run("readelf", ["-SW", path]);
    const plt: AddressRange[] = [];
    for (const line of sections.split("\n")) {
      const m = /\]\s+(\.plt(?:\.sec|\.got)?)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/.exec(
        line,
      );
      if (m) {
        const start = parseInt(m[2], 16);
        plt.push({ start, end: start + parseInt(m[3], 16) });
      }
    }
    return new ElfSymbols(syms, loads, plt);
  }

  /**
   * Names a file offset.
   *
   * @param fileOffset Offset in the file.
   * @returns The function containing it, or undefined.
   */
  nameAtOffset(fileOffset: number): string | undefined {
    const seg = this.#loads.find((l) => fileOffset >= l.offset && fileOffset < l.offset + l.filesz);
    if (!seg) return undefined;
    const vaddr = fileOffset - seg.offset + seg.vaddr;
    if (this.#plt.some((p) => vaddr >= p.start && vaddr < p.end)) return "[plt]";
    let best: Sym | undefined;
    for (const s of this.#syms) {
      if (s.addr <= vaddr) best = s;
      else break;
    }
    return best?.name;
  }
}

/**
 * Names every frame of every sample: kernel frames as `k:<function>`, vDSO and marker frames by
 * their function, user frames of the given binaries through their symbols, anything else `?`.
 *
 * @param profile A decoded profile.
 * @param binaries Test programs and libraries with their symbols (matched by file name).
 * @returns Per sample: frame names leaf first, the sample's count and labels.
 */
export function namedStacks(
  profile: Profile,
  binaries: Array<{ path: string; syms: ElfSymbols }>,
): Array<{ frames: string[]; count: number; labels: Record<string, string> }> {
  const str = profile.stringTable;
  const mappings = new Map(profile.mapping.map((m) => [m.id, m]));
  const functions = new Map(profile.function.map((f) => [f.id, f]));
  const locations = new Map(profile.location.map((l) => [l.id, l]));
  const byName = new Map(binaries.map((b) => [b.path.split("/").pop()!, b.syms]));
  return profile.sample.map((s) => {
    const frames = s.locationId.map((id) => {
      const loc = locations.get(id)!;
      const m = mappings.get(loc.mappingId);
      const file = m ? str[Number(m.filename)] : "";
      if (loc.line.length > 0) {
        const name = str[Number(functions.get(loc.line[0].functionId)!.name)];
        return file === "[kernel.kallsyms]" ? `k:${name}` : name;
      }
      const syms = m ? byName.get(file.split("/").pop()!) : undefined;
      if (m && syms) {
        return syms.nameAtOffset(Number(loc.address - m.memoryStart + m.fileOffset)) ?? "?";
      }
      return "?";
    });
    const labels: Record<string, string> = {};
    for (const l of s.label) labels[str[Number(l.key)]] = str[Number(l.str)];
    return { frames, count: Number(s.value[0]), labels };
  });
}

/** Executable address ranges of a live process, from /proc/PID/maps. */
function execRanges(pid: number): Array<[bigint, bigint]> {
  const out: Array<[bigint, bigint]> = [];
  let text = "";
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/maps`);
  } catch {
    return out; // exited
  }
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
    if (m && m[3].includes("x")) out.push([BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)]);
  }
  return out;
}

/**
 * The executable ranges a process had at any time while it was watched: for programs that map
 * and unmap code as they run (PostgreSQL compiles each query into fresh pages and frees them
 * after it), which a single read of /proc/PID/maps after the fact misses.
 */
export class ExecRangeLog {
  readonly #pid: number;
  readonly #seen = new Map<string, [bigint, bigint]>();
  readonly #timer: ReturnType<typeof setInterval>;

  /**
   * Starts reading the process's maps every `intervalMs`.
   *
   * @param pid The process.
   * @param intervalMs How often.
   */
  constructor(pid: number, intervalMs = 20) {
    this.#pid = pid;
    this.#read();
    this.#timer = setInterval(() => this.#read(), intervalMs);
  }

  #read(): void {
    for (const r of execRanges(this.#pid)) this.#seen.set(`${r[0]}-${r[1]}`, r);
  }

  /** @returns Every executable range seen so far. */
  ranges(): Array<[bigint, bigint]> {
    this.#read();
    return [...this.#seen.values()];
  }

  /** Stops reading. */
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Lowest kernel address on x86-64: kernel frames are not user frames. */
const KERNEL_HALF = 0x800000000000n;

/**
 * User frames of a profile that lie outside every executable mapping of their process: an
 * unwinder that followed garbage. A frame is mapped when its pprof mapping contains it, or,
 * for anonymous code (JIT) that profiles carry no mapping for, when an executable mapping of the
 * live process `pid` does. Marker frames (no mapping, address 0, a name) and kernel frames are
 * not user frames.
 *
 * @param profile A decoded profile.
 * @param pid The profiled process, still running (its /proc/PID/maps is read).
 * @param seen Executable ranges the process had earlier (see {@link ExecRangeLog}).
 * @returns The offending addresses (empty when every user frame is mapped).
 */
export function unmappedAddresses(
  profile: Profile,
  pid: number,
  seen: Array<[bigint, bigint]> = [],
): bigint[] {
  const mappings = new Map(profile.mapping.map((m) => [m.id, m]));
  let live: Array<[bigint, bigint]> | undefined;
  const bad: bigint[] = [];
  for (const loc of profile.location) {
    if (loc.address >= KERNEL_HALF) continue;
    if (loc.mappingId === 0n && loc.address === 0n && loc.line.length > 0) continue; // marker
    const m = mappings.get(loc.mappingId);
    if (m && loc.address >= m.memoryStart && loc.address < m.memoryLimit) continue;
    live ??= [...execRanges(pid), ...seen];
    if (live.some(([lo, hi]) => loc.address >= lo && loc.address < hi)) continue;
    bad.push(loc.address);
  }
  return bad;
}

/**
 * The file of each sample's outermost user frame (its pprof mapping's file), in sample order;
 * empty when it has none.
 *
 * @param p A decoded profile.
 * @returns One file name per sample.
 */
export function outermostFiles(p: Profile): string[] {
  const str = p.stringTable;
  const mappings = new Map(p.mapping.map((m) => [m.id, str[Number(m.filename)]]));
  const locations = new Map(p.location.map((l) => [l.id, l]));
  return p.sample.map((s) => {
    for (let i = s.locationId.length - 1; i >= 0; i--) {
      const file = mappings.get(locations.get(s.locationId[i])!.mappingId);
      if (file && file !== "[kernel.kallsyms]") return file;
    }
    return "";
  });
}
