// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Names of JIT-compiled code from the files JIT runtimes write for perf:
 *
 * - `/tmp/perf-PID.map` (Node.js and Deno `--perf-basic-prof`, the JVM with `jcmd PID
 *   Compiler.perfmap` or a perf-map agent): text lines `START SIZE name`, in hex, appended as
 *   code is compiled.
 * - `jit-PID.dump` (`--perf-prof`): the binary jitdump format (tools/perf/Documentation/
 *   jitdump-specification.txt), found through the mapping the runtime makes of it.
 *
 * Both are read inside the process's root (`/proc/PID/root`, with the process's own pid in its
 * namespace from NSpid) through src/safefs, so no symlink leads outside it. A file is read again
 * from where it ended when it grows; what is kept is bounded per process and in all
 * ({@link JitSymbolsOptions}). Later entries win over earlier ones at the same address (code is freed and reused).
 *
 * @module
 */

import client from "prom-client";
import { registry } from "../metrics/mod.ts";
import * as procfs from "../procfs/mod.ts";
import { closeSafeFile, openInRoot, type SafeFile } from "../safefs/mod.ts";

const jitSeconds = new client.Counter({
  name: "parca_agent_jit_symbolize_seconds_total",
  help: "Time spent finding and reading perf maps and jitdump files.",
  registers: [registry],
});
const jitBytes = new client.Counter({
  name: "parca_agent_jit_read_bytes_total",
  help: "Bytes of perf maps and jitdump files read.",
  registers: [registry],
});

/** A sorted table of code ranges and names. */
export class CodeRanges {
  #starts: number[] = [];
  #ends: number[] = [];
  #names: string[] = [];
  #seq: number[] = [];
  #sorted = true;
  #order = new Int32Array(0);
  #next = 0;

  /** Number of ranges. */
  get size(): number {
    return this.#starts.length;
  }

  /**
   * Adds a range; a later range wins over an earlier one at the same start.
   *
   * @param start First address.
   * @param size Length in bytes.
   * @param name Function name.
   */
  add(start: number, size: number, name: string): void {
    this.#starts.push(start);
    this.#ends.push(start + Math.max(size, 1));
    this.#names.push(name);
    this.#seq.push(this.#next++);
    this.#sorted = false;
  }

  /**
   * Moves a range (jitdump JIT_CODE_MOVE).
   *
   * @param from Old start.
   * @param to New start.
   * @param size Length.
   */
  move(from: number, to: number, size: number): void {
    const name = this.lookup(from);
    if (name !== undefined) this.add(to, size, name);
  }

  #sort(): void {
    const n = this.#starts.length;
    const order = Int32Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => (this.#starts[a] - this.#starts[b]) || (this.#seq[a] - this.#seq[b]));
    this.#order = order;
    this.#sorted = true;
  }

  /**
   * The name of the range containing an address: the latest added among those that start at or
   * before it and cover it.
   *
   * @param addr An address.
   * @returns The name, or undefined.
   */
  lookup(addr: number): string | undefined {
    if (!this.#sorted) this.#sort();
    const o = this.#order;
    let lo = 0;
    let hi = o.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#starts[o[mid]] <= addr) lo = mid + 1;
      else hi = mid;
    }
    // Walk back over ranges starting at or before addr; a few steps cover nested/overlaps.
    let best = -1;
    for (let i = lo - 1; i >= 0 && i >= lo - 8; i--) {
      const k = o[i];
      if (addr < this.#ends[k] && (best < 0 || this.#seq[k] > this.#seq[best])) best = k;
    }
    return best < 0 ? undefined : this.#names[best];
  }
}

/**
 * Parses perf-map lines into `ranges`; a malformed line is skipped.
 *
 * @param text Whole lines (`START SIZE name`, hex without or with 0x).
 * @param ranges Where they go.
 * @returns Lines skipped.
 */
export function parsePerfMap(text: string, ranges: CodeRanges): number {
  let bad = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const a = line.indexOf(" ");
    const b = a < 0 ? -1 : line.indexOf(" ", a + 1);
    if (b < 0) {
      bad++;
      continue;
    }
    const start = parseInt(line.slice(0, a), 16);
    const size = parseInt(line.slice(a + 1, b), 16);
    const name = line.slice(b + 1).trim();
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(size) || !name) {
      bad++;
      continue;
    }
    ranges.add(start, size, name);
  }
  return bad;
}

const JITDUMP_MAGIC = 0x4a695444; // "JiTD" as written by a little-endian host
const JIT_CODE_LOAD = 0;
const JIT_CODE_MOVE = 1;
const JITDUMP_HEADER = 40;

/**
 * Parses jitdump records from `bytes` into `ranges`, starting at `offset`.
 *
 * @param bytes The file's bytes from `base` on.
 * @param base File offset of bytes[0].
 * @param ranges Where code loads go.
 * @returns The file offset after the last whole record (where to continue), or -1 when the
 *   header is not a little-endian jitdump.
 */
export function parseJitdump(bytes: Uint8Array, base: number, ranges: CodeRanges): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  if (base === 0) {
    if (bytes.length < JITDUMP_HEADER) return 0;
    if (dv.getUint32(0, true) !== JITDUMP_MAGIC) return -1;
    off = dv.getUint32(8, true); // total_size of the header
    if (off < JITDUMP_HEADER) return -1;
  }
  const u64 = (o: number) => Number(dv.getBigUint64(o, true));
  while (off + 16 <= bytes.length) {
    const id = dv.getUint32(off, true);
    const size = dv.getUint32(off + 4, true);
    if (size < 16) return -1;
    if (off + size > bytes.length) break;
    if (id === JIT_CODE_LOAD && size >= 56) {
      const codeAddr = u64(off + 32);
      const codeSize = u64(off + 40);
      let e = off + 56;
      const limit = off + size;
      while (e < limit && bytes[e] !== 0) e++;
      const name = new TextDecoder().decode(bytes.subarray(off + 56, e));
      if (name) ranges.add(codeAddr, codeSize, name);
    } else if (id === JIT_CODE_MOVE && size >= 64) {
      ranges.move(u64(off + 32), u64(off + 40), u64(off + 48));
    }
    off += size;
  }
  return base + off;
}

/** Options of {@link JitSymbols}. */
export interface JitSymbolsOptions {
  /**
   * Most bytes of perf maps and jitdump read per process.
   *
   * @default {16 << 20}
   */
  maxBytesPerProcess?: number;
  /**
   * Most bytes kept for all processes together (what is read is kept, as ranges and names).
   *
   * @default {64 << 20}
   */
  maxBytes?: number;
  /** Root of a process's files; tests point it elsewhere. @default {(pid) => `/proc/${pid}/root`} */
  rootOf?: (pid: number) => string;
}

interface Source {
  path: string;
  kind: "map" | "dump";
  /** Bytes consumed so far. */
  offset: number;
  /** A partial last line (perf map). */
  tail: string;
  ino: bigint;
  failed: boolean;
}

interface ProcessJit {
  ranges: CodeRanges;
  sources: Source[];
  bytes: number;
  startTime: number;
  /** The process's pid in its own namespace (the perf map's name). */
  nsPid: number | undefined;
  /** Windows in which its open files were searched for a jitdump file. */
  fdScans: number;
}

/** Windows in which a new process's open files are searched for a jitdump file. */
const FD_SCANS = 3;
/** Open files looked at per scan. */
const FD_SCAN_MAX = 4096;

/** What the profiler already knows about a process (src/process ProcessInfo fits). */
export interface JitProcessFacts {
  startTimeTicks: number;
  /** Its executable file mappings (a jitdump file is mapped executable by its writer). */
  mappings: ReadonlyArray<{ path: string }>;
}

/** Counters for /metrics and tests. */
export interface JitSymbolsStats {
  filesRead: number;
  bytesRead: number;
  skippedLines: number;
  refused: number;
}

function nsPid(pid: number): number | undefined {
  try {
    const status = procfs.readTextFileSync(`/proc/${pid}/status`);
    const line = status.split("\n").find((l) => l.startsWith("NSpid:"));
    const ids = line?.slice(6).trim().split(/\s+/).map(Number);
    return ids?.length ? ids[ids.length - 1] : pid;
  } catch {
    return undefined;
  }
}

function startTime(pid: number): number | undefined {
  try {
    const stat = procfs.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return undefined;
  }
}

/** JIT symbols of every process that writes a perf map or jitdump (see module doc). */
export class JitSymbols {
  readonly #max: number;
  readonly #maxTotal: number;
  #total = 0;
  readonly #rootOf: (pid: number) => string;
  readonly #procs = new Map<number, ProcessJit>();
  /** What was read so far. */
  readonly stats: JitSymbolsStats = { filesRead: 0, bytesRead: 0, skippedLines: 0, refused: 0 };

  /** @param opts Bounds. */
  constructor(opts: JitSymbolsOptions = {}) {
    this.#max = opts.maxBytesPerProcess ?? 16 << 20;
    this.#maxTotal = opts.maxBytes ?? 64 << 20;
    this.#rootOf = opts.rootOf ?? ((pid) => `/proc/${pid}/root`);
  }

  /**
   * The namer of a process's JIT code, reading what its files gained since the last call.
   *
   * @param pid The process.
   * @param facts Its start time and mappings, when the caller has them (else read from /proc).
   * @returns The namer, or undefined when the process writes no perf map or jitdump.
   */
  symbolizer(
    pid: number,
    facts?: JitProcessFacts,
  ): { lookup(addr: number): string | undefined } | undefined {
    const t0 = performance.now();
    try {
      const st = facts?.startTimeTicks ?? startTime(pid);
      let p = this.#procs.get(pid);
      if (p && p.startTime !== st) {
        this.#drop(pid, p);
        p = undefined;
      }
      if (!p) {
        if (st === undefined) return undefined;
        p = {
          ranges: new CodeRanges(),
          sources: [],
          bytes: 0,
          startTime: st,
          nsPid: nsPid(pid),
          fdScans: 0,
        };
        this.#procs.set(pid, p);
      }
      this.#discover(pid, p, facts);
      for (const s of p.sources) this.#refresh(pid, p, s);
      return p.ranges.size ? p.ranges : undefined;
    } finally {
      jitSeconds.inc((performance.now() - t0) / 1000);
    }
  }

  #discover(pid: number, p: ProcessJit, facts?: JitProcessFacts): void {
    const paths: Array<[string, Source["kind"]]> = [];
    if (p.nsPid !== undefined) paths.push([`/tmp/perf-${p.nsPid}.map`, "map"]);
    // A jitdump file is mapped executable by the runtime that writes it, for perf to find; V8
    // (Node.js 20) maps it only at exit, but keeps it open from the start: look at the open
    // files of a new process too, for its first windows.
    const isDump = (path: string) => /\/jit-\d+\.dump$/.test(path);
    if (facts) {
      for (const m of facts.mappings) if (isDump(m.path)) paths.push([m.path, "dump"]);
    } else {
      try {
        for (const line of procfs.readTextFileSync(`/proc/${pid}/maps`).split("\n")) {
          const at = line.indexOf("/");
          if (at >= 0 && isDump(line.slice(at))) paths.push([line.slice(at), "dump"]);
        }
      } catch { /* gone */ }
    }
    if (p.fdScans < FD_SCANS && !p.sources.some((s) => s.kind === "dump")) {
      p.fdScans++;
      try {
        let n = 0;
        for (const e of procfs.readDirSync(`/proc/${pid}/fd`)) {
          if (++n > FD_SCAN_MAX) break;
          let target = "";
          try {
            target = procfs.readLinkSync(`/proc/${pid}/fd/${e.name}`);
          } catch {
            continue;
          }
          if (target.startsWith("/") && isDump(target)) paths.push([target, "dump"]);
        }
      } catch { /* gone, or not ours to read */ }
    }
    for (const [path, kind] of paths) {
      if (!p.sources.some((s) => s.path === path)) {
        p.sources.push({ path, kind, offset: 0, tail: "", ino: -1n, failed: false });
      }
    }
  }

  #refresh(pid: number, p: ProcessJit, s: Source): void {
    if (s.failed) return;
    let f: SafeFile;
    try {
      f = openInRoot(this.#rootOf(pid), s.path, { maxBytes: this.#max });
    } catch {
      return; // not written (yet), or refused: try again next window
    }
    try {
      if (s.ino !== f.ino) {
        // A new file at that path: start over.
        if (s.ino !== -1n) {
          s.offset = 0;
          s.tail = "";
        }
        s.ino = f.ino;
      }
      if (f.size < s.offset) {
        // Rewritten shorter (`jcmd Compiler.perfmap` writes a new snapshot): read it again.
        s.offset = 0;
        s.tail = "";
      }
      if (f.size <= s.offset) return;
      const want = Math.min(f.size, this.#max) - s.offset;
      if (want <= 0 || p.bytes + want > this.#max || this.#total + want > this.#maxTotal) {
        this.stats.refused++;
        return;
      }
      const buf = new Uint8Array(want);
      let got = 0;
      while (got < want) {
        const n = procfs.readSync(f.fd, buf, got, want - got, s.offset + got);
        if (n <= 0) break;
        got += n;
      }
      this.stats.filesRead++;
      this.stats.bytesRead += got;
      jitBytes.inc(got);
      p.bytes += got;
      this.#total += got;
      const data = buf.subarray(0, got);
      if (s.kind === "map") {
        const text = s.tail + new TextDecoder().decode(data);
        const end = text.lastIndexOf("\n");
        s.tail = text.slice(end + 1);
        s.offset += got;
        this.stats.skippedLines += parsePerfMap(text.slice(0, end + 1), p.ranges);
      } else {
        const next = parseJitdump(data, s.offset, p.ranges);
        if (next < 0) s.failed = true;
        else s.offset = next;
      }
    } finally {
      closeSafeFile(f);
    }
  }

  /**
   * Forgets processes that exited.
   *
   * @param pids Processes sampled in the window that ended.
   */
  windowEnded(pids: ReadonlySet<number>): void {
    for (const [pid, p] of this.#procs) {
      if (!pids.has(pid) && startTime(pid) !== p.startTime) this.#drop(pid, p);
    }
  }

  #drop(pid: number, p: ProcessJit): void {
    this.#procs.delete(pid);
    this.#total -= p.bytes;
  }

  /** Processes whose JIT state is kept. */
  get processes(): number {
    return this.#procs.size;
  }
}
