// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { buildIdOfImage } from "./elf_build_id.ts";
import { type ExecutableFacts, executableFactsOf } from "./executable_facts.ts";
import { PF_X, PT_LOAD, readElf } from "./_elf.ts";
import { LruCache } from "./lru.ts";
import { parseMaps, type ProcMapping } from "./maps.ts";
import { identifyMappedFile, openMappedFile } from "./_open_mapped_file.ts";
import { parseProcStat } from "./_proc_stat.ts";
import * as procfs from "../procfs/mod.ts";

/** An executable mapping ready for pprof: file-backed r-x mappings plus `[vdso]`. */
export interface ExecutableMapping {
  /** First address. */
  start: number;
  /** First address past the end. */
  limit: number;
  /** File offset of `start`. */
  offset: number;
  /** The path as the process sees it (without ` (deleted)`), or `[vdso]`. */
  path: string;
  /** Lowercase hex; "" if none could be computed. */
  buildId: string;
  /** Where `buildId` came from; `none` when it is "". */
  buildIdKind: "gnu" | "go" | "text-hash" | "none";
  /** `e_type` (2 EXEC, 3 DYN) when the file is ELF. */
  elfType?: number;
  /** The executable PT_LOAD that this mapping maps, for address normalization. */
  loadSegment?: { offset: number; vaddr: number };
  /** True for `[vdso]` and other pseudo-mappings with no file. */
  special: boolean;
  /** True when the mapped file was deleted (its path no longer names it). */
  deleted: boolean;
  /** The record of the mapped file (shared by every mapping of that file). */
  file?: MappedFileFacts;
}

/** What {@link ProcessReader.read} learns about a process. */
export interface ProcessInfo {
  pid: number;
  /** /proc/PID/comm: the thread-group leader's name, at most 15 bytes. */
  comm: string;
  /** Target of /proc/PID/exe (may end in ` (deleted)`); "" for kernel threads and zombies. */
  exe: string;
  /** Arguments; empty for kernel threads and zombies. */
  cmdline: string[];
  ppid: number;
  /** Executable mappings sorted by start. */
  mappings: ExecutableMapping[];
  /** `starttime` from /proc/PID/stat: with the pid it tells a reused pid apart. */
  startTimeTicks: number;
  /**
   * Every executable mapping as /proc/PID/maps lists it (anonymous JIT code and `[vdso]`
   * included, `[vsyscall]` left out), for the unwinder.
   */
  execMappings: ProcMapping[];
  /** /proc/PID/cgroup, when the caller read it (process records do, at capture). */
  cgroup?: string;
  /** The record of the executable file, when the caller found it (process records do). */
  executableFile?: MappedFileFacts;
}

/** The logger the reader reports skipped files to; a LogTape `Logger` fits. */
export interface ProcessReaderLogger {
  /**
   * Logs a debug record.
   *
   * @param message The message.
   * @param properties Structured fields.
   */
  debug(message: string, properties?: Record<string, unknown>): void;
}

/** Options of {@link ProcessReader}. */
export interface ProcessReaderOptions {
  /**
   * How many files' build IDs (and load segments) to keep.
   *
   * @default {4096}
   */
  buildIdCacheSize?: number;
  /** Where to report files that could not be read; nothing is logged without it. */
  log?: ProcessReaderLogger;
}

/** Counters of a {@link ProcessReader}, for metrics. They only grow. */
export interface ProcessReaderStats {
  /** Mapped files whose build ID came from the cache. */
  buildIdCacheHits: number;
  /** Mapped files that had to be read. */
  buildIdCacheMisses: number;
  /** Files under /proc or mapped files that could not be read (vanished processes excluded). */
  readErrors: number;
  /** Lines of maps files that were skipped as malformed. */
  malformedMapLines: number;
}

/**
 * The record of one mapped file: what the agent knows about it, read once per file identity
 * through one ELF parse and shared by every process and every module (profiles, unwinder,
 * labels, debuginfo). Non-ELF files get a record too, with no build ID.
 */
export interface MappedFileFacts {
  /**
   * The file's identity (device, inode, size, mtime): what it is, whatever its build ID claims.
   * Every per-file cache is keyed by it, the unwind table included.
   */
  key: string;
  /** The file's size in bytes. */
  size: number;
  buildId: string;
  buildIdKind: ExecutableMapping["buildIdKind"];
  elfType?: number;
  /** Executable PT_LOAD segments. */
  loads: { offset: number; vaddr: number; filesz: number }[];
  /** The `__meta_process_executable_*` facts (file ID, compiler, static, stripped). */
  executable?: ExecutableFacts;
  /**
   * Facts other modules attach to the file, by a key of their own (e.g. "interp/python":
   * "this is libpython 3.11"). Lives as long as the record.
   */
  readonly data: Map<string, unknown>;
}

const NO_FACTS: MappedFileFacts = {
  key: "",
  size: 0,
  buildId: "",
  buildIdKind: "none",
  loads: [],
  data: new Map(),
};

/**
 * The executable load segment a mapping maps: the one whose file range overlaps the mapping's
 * (overlap rather than containment of `offset`, because the kernel rounds the mapping down to a
 * page and pages vary in size).
 *
 * @param loads Executable PT_LOAD segments of the file.
 * @param m The mapping.
 * @returns The segment, or undefined.
 */
export function executableSegment(
  loads: MappedFileFacts["loads"],
  m: Pick<ProcMapping, "start" | "limit" | "offset">,
): MappedFileFacts["loads"][number] | undefined {
  const size = m.limit - m.start;
  return loads.find((p) => m.offset < p.offset + p.filesz && p.offset < m.offset + size);
}

/** True for errors that mean the process (or its /proc directory) is gone. */
function isGone(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return e instanceof Deno.errors.NotFound || code === "ENOENT" || code === "ESRCH";
}

const decoder = new TextDecoder();

/** The longest command line read from /proc/PID/cmdline; longer ones are cut there. */
export const MAX_CMDLINE_BYTES = 16384;

/**
 * Reads processes from /proc: names, command line, parent, start time and executable mappings
 * with their build IDs.
 *
 * Build IDs are cached per file (device, inode, size, mtime), so a library mapped by a hundred
 * processes is read once; files that have none are cached as such. Files are opened through
 * /proc/PID/map_files (see `_open_mapped_file.ts` for why and for the fallback).
 *
 * All reads are synchronous: each is a few small /proc reads, and the cache makes ELF reads rare.
 *
 * @example Read the agent's own process
 * ```ts
 * import { ProcessReader } from "./mod.ts";
 * const reader = new ProcessReader();
 * const info = reader.read(Deno.pid);
 * const exe = info?.mappings.find((m) => m.path === Deno.execPath());
 * if (!exe?.buildId) throw new Error("no build ID for the deno binary");
 * ```
 */
export class ProcessReader {
  /** Counters for metrics; the object is live and only grows. */
  readonly stats: ProcessReaderStats = {
    buildIdCacheHits: 0,
    buildIdCacheMisses: 0,
    readErrors: 0,
    malformedMapLines: 0,
  };
  readonly #cache: LruCache<string, MappedFileFacts>;
  readonly #log?: ProcessReaderLogger;

  /**
   * Creates a reader with an empty cache.
   *
   * @param options Cache size and logger.
   */
  constructor(options: ProcessReaderOptions = {}) {
    this.#cache = new LruCache(options.buildIdCacheSize ?? 4096);
    this.#log = options.log;
  }

  /**
   * Reads one process.
   *
   * Files that exist but cannot be read (e.g. a maps file the kernel denies) leave their fields
   * empty and count in `stats.readErrors`.
   *
   * @param pid The process id.
   * @returns Its info, or undefined if it does not exist (or vanished while being read).
   */
  read(pid: number): ProcessInfo | undefined {
    if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
    const base = `/proc/${pid}`;
    const gone = Symbol();
    // Reads a /proc file: `gone` if the process vanished, undefined if unreadable otherwise.
    const readProc = (name: string, maxBytes?: number): Uint8Array | undefined | typeof gone => {
      try {
        return procfs.readFileSync(`${base}/${name}`, maxBytes);
      } catch (e) {
        if (isGone(e)) return gone;
        this.#readError(`${base}/${name}`, e);
        return undefined;
      }
    };

    const statBytes = readProc("stat");
    if (statBytes === gone || statBytes === undefined) return undefined;
    const stat = parseProcStat(decoder.decode(statBytes));
    if (!stat) {
      this.#readError(`${base}/stat`, new SyntaxError("Cannot parse stat"));
      return undefined;
    }
    const commBytes = readProc("comm");
    if (commBytes === gone) return undefined;
    const comm = commBytes ? decoder.decode(commBytes).replace(/\n$/, "") : stat.comm;
    // Any process can make its command line megabytes long (up to the kernel's ARG_MAX): read a
    // bounded prefix, which is what labels and the status page show anyway.
    const cmdlineBytes = readProc("cmdline", MAX_CMDLINE_BYTES);
    if (cmdlineBytes === gone) return undefined;
    const cmdline = cmdlineBytes ? splitCmdline(decoder.decode(cmdlineBytes)) : [];
    const mapsBytes = readProc("maps");
    if (mapsBytes === gone) return undefined;
    const all = mapsBytes ? parseMaps(decoder.decode(mapsBytes), this.stats) : [];
    const mappings = this.#executableMappings(pid, all);
    const execMappings = all.filter((m) => m.perms.includes("x") && m.path !== "[vsyscall]");

    let exe = "";
    try {
      exe = procfs.readLinkSync(`${base}/exe`);
    } catch {
      // Kernel threads and zombies have no exe (ENOENT); that is not an error worth counting.
    }
    return {
      pid,
      comm,
      exe,
      cmdline,
      ppid: stat.ppid,
      mappings,
      startTimeTicks: stat.startTimeTicks,
      execMappings,
    };
  }

  /**
   * Reads the name of one thread.
   *
   * @param pid The process id.
   * @param tid The thread id.
   * @returns /proc/PID/task/TID/comm without its newline, or undefined if it cannot be read.
   */
  threadName(pid: number, tid: number): string | undefined {
    if (!Number.isSafeInteger(pid) || !Number.isSafeInteger(tid) || pid <= 0 || tid <= 0) {
      return undefined;
    }
    try {
      return procfs.readTextFileSync(`/proc/${pid}/task/${tid}/comm`).replace(/\n$/, "");
    } catch {
      return undefined;
    }
  }

  #executableMappings(pid: number, all: ProcMapping[]): ExecutableMapping[] {
    const out: ExecutableMapping[] = [];
    for (const m of all) {
      if (m.path === "[vdso]") {
        out.push({
          start: m.start,
          limit: m.limit,
          offset: m.offset,
          path: m.path,
          buildId: "",
          buildIdKind: "none",
          special: true,
          deleted: false,
        });
        continue;
      }
      // "/" excludes anonymous JIT code, [vsyscall], [uprobes] and anon_inode: mappings.
      if (!m.perms.includes("x") || !m.path.startsWith("/")) continue;
      const facts = this.fileFacts(pid, m);
      const seg = executableSegment(facts.loads, m);
      out.push({
        start: m.start,
        limit: m.limit,
        offset: m.offset,
        path: m.path,
        buildId: facts.buildId,
        buildIdKind: facts.buildIdKind,
        ...(facts.elfType !== undefined ? { elfType: facts.elfType } : {}),
        ...(seg ? { loadSegment: { offset: seg.offset, vaddr: seg.vaddr } } : {}),
        special: false,
        deleted: m.deleted,
        ...(facts.key ? { file: facts } : {}),
      });
    }
    return out.sort((a, b) => a.start - b.start);
  }

  /**
   * Build ID and executable load segments of a mapped file, from the cache or read once. The
   * unwinder asks too, so a file is read once for both.
   *
   * @param pid The process that maps it.
   * @param m The mapping (file-backed).
   * @returns Its facts; `key` is "" when the file could not be reached.
   */
  fileFacts(pid: number, m: ProcMapping): MappedFileFacts {
    let id;
    try {
      id = identifyMappedFile(pid, m);
    } catch (e) {
      // Also reached when the process exits mid-read; read() then usually notices on its own.
      this.#readError(m.path, e);
      return NO_FACTS;
    }
    const cached = this.#cache.get(id.key);
    if (cached) {
      this.stats.buildIdCacheHits++;
      return cached;
    }
    this.stats.buildIdCacheMisses++;
    let facts: MappedFileFacts;
    try {
      using src = openMappedFile(id);
      const image = readElf(src);
      if (!image) {
        facts = { ...NO_FACTS, key: id.key, size: Number(id.stat.size), data: new Map() };
      } else {
        const bid = buildIdOfImage(src, image);
        facts = {
          key: id.key,
          size: Number(id.stat.size),
          buildId: bid?.id ?? "",
          buildIdKind: bid?.kind ?? "none",
          elfType: image.type,
          executable: executableFactsOf(src, image, bid?.id ?? ""),
          data: new Map(),
          loads: image.programHeaders
            // Non-finite fields are values past 2^53, which no user-space file has.
            .filter((p) =>
              p.type === PT_LOAD && (p.flags & PF_X) !== 0 &&
              Number.isFinite(p.offset + p.vaddr + p.filesz)
            )
            .map((p) => ({ offset: p.offset, vaddr: p.vaddr, filesz: p.filesz })),
        };
      }
    } catch (e) {
      // I/O errors are not cached: they may pass, unlike a file's content.
      this.#readError(id.path, e);
      return NO_FACTS;
    }
    this.#cache.set(id.key, facts);
    return facts;
  }

  #readError(path: string, e: unknown): void {
    this.stats.readErrors++;
    this.#log?.debug("Cannot read {path}", { path, error: (e as Error)?.message ?? String(e) });
  }
}

/** Splits /proc/PID/cmdline on NUL; the last argument ends with a NUL that makes no argument. */
function splitCmdline(s: string): string[] {
  if (s === "") return [];
  const parts = s.split("\0");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts;
}
