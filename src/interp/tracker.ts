// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Which processes run an interpreter BPF can walk, and the names of their frames. A process is
 * examined when its unwind information is (re)loaded and at the end of each window it had
 * samples in; what is found goes into pid_to_interp, and at the end of each window the sampled
 * frames (code object or iseq address + instruction) are named by reading the process's memory.
 *
 * @module
 */

import { type InterpMaps, MapsClosedError } from "../bpf/mod.ts";
import { getLogger } from "../log/mod.ts";
import * as procfs from "../procfs/mod.ts";
import { LruCache, parseMaps, parseProcStat, type ProcMapping } from "../process/mod.ts";
import type { InterpFrameInput, InterpSymbolizer, SourceFrameName } from "../pprof/mod.ts";
import { encodeInterpInfo, type InterpInfo, InterpKind } from "./bpf_types.ts";
import type { MappedFileOpener } from "./_image.ts";
import { type ProcessMemory, ProcMemory } from "./memory.ts";
import { PythonCodeReader } from "./python/code.ts";
import { detectPython } from "./python/detect.ts";
import { RubyIseqReader } from "./ruby/iseq.ts";
import { detectRuby } from "./ruby/detect.ts";
import { interpMetrics } from "./metrics.ts";

const log = getLogger("interp");

/** Options of {@link InterpreterTracker}. */
export interface InterpreterTrackerOptions {
  /** Walk CPython (false: --python-unwinding-disable). */
  python: boolean;
  /** Walk CRuby (false: --ruby-unwinding-disable). */
  ruby: boolean;
  /** Opens processes' mapped files safely (the object-file pool). */
  files: MappedFileOpener;
  /** Opens a process's memory; tests pass a fake. */
  openMemory?: (pid: number) => ProcessMemory;
  /**
   * Code objects and iseqs kept, for all processes together (each a name, a file and a line
   * table: a few hundred bytes).
   *
   * @default {65536}
   */
  cacheSize?: number;
}

interface FrameReader {
  frame(addr: number, data: bigint): SourceFrameName | undefined;
}

interface Tracked {
  /** starttime of /proc/PID/stat: a reused pid is another process. */
  startTime: number;
  /** The process record's image (src/process), when examined for one; 0 otherwise. */
  instance: number;
  /** The interpreter's mapping (`path@start`), to notice an exec; "" when none was found. */
  mappingKey: string;
  kind: number;
  version?: string;
  mem?: ProcessMemory;
  reader?: FrameReader;
  /** Not ready yet (interpreter still starting): examine again. */
  retry: boolean;
}

function startTimeOf(pid: number): number | undefined {
  try {
    return parseProcStat(procfs.readTextFileSync(`/proc/${pid}/stat`))?.startTimeTicks;
  } catch {
    return undefined;
  }
}

/** The interpreter unwinder's user-space half (see module doc). */
export class InterpreterTracker {
  readonly #opts: InterpreterTrackerOptions;
  #map: InterpMaps | undefined;
  readonly #procs = new Map<number, Tracked>();
  /**
   * Images that ended (exit, exec) and whose last window may not be emitted yet, by image id:
   * their frames are named from what was decoded while they ran (their memory is gone).
   */
  readonly #ended = new Map<number, Tracked>();
  /** Decoded code objects and iseqs of every process, least recently used dropped first. */
  readonly #objects: LruCache<string, unknown>;
  #closed = false;

  /** @param opts Which interpreters, and how to reach processes. */
  constructor(opts: InterpreterTrackerOptions) {
    this.#opts = opts;
    this.#objects = new LruCache(opts.cacheSize ?? 65536);
  }

  /** Whether any interpreter is walked at all. */
  get enabled(): boolean {
    return this.#opts.python || this.#opts.ruby;
  }

  /** Processes with an interpreter entry in BPF. */
  get walked(): number {
    let n = 0;
    for (const t of this.#procs.values()) if (t.kind !== InterpKind.NONE) n++;
    return n;
  }

  /**
   * Starts writing pid_to_interp. Until then (and after the maps close) nothing is examined.
   *
   * @param maps The loaded sampler's interpreter maps.
   */
  attach(maps: InterpMaps): void {
    this.#map = maps;
  }

  /**
   * Whether a process with these executable mappings may run an interpreter walked here: a
   * cheap test on file names, so that other processes cost no /proc reads at all.
   *
   * @param mappings Its executable mappings (a process record's).
   * @returns True when {@link examine} may find something.
   */
  mayWalk(mappings: ReadonlyArray<{ path: string }>): boolean {
    return mappings.some((m) => {
      const base = m.path.slice(m.path.lastIndexOf("/") + 1);
      return (this.#opts.python && PYTHON_FILE.test(base)) ||
        (this.#opts.ruby && RUBY_FILE.test(base));
    });
  }

  /**
   * Looks for an interpreter in a process (again, when its mappings may have changed).
   *
   * @param pid The process.
   * @param instance The process record's image id, when there is one (see {@link forget}).
   * @param maps Its mappings, when the caller has just read them.
   */
  examine(pid: number, instance = 0, maps?: ProcMapping[]): void {
    if (!this.enabled || this.#closed || !this.#map || this.#map.closed) return;
    const t0 = performance.now();
    try {
      this.#examine(pid, instance, maps);
    } catch (e) {
      // Never let one process stop the caller (the records' listeners, a window's end).
      interpMetrics.errors.inc({ kind: "examine" });
      log.debug("cannot examine a process for interpreters", {
        pid,
        error: (e as Error).message,
      });
    } finally {
      interpMetrics.seconds.inc({ op: "detect" }, (performance.now() - t0) / 1000);
    }
  }

  #examine(pid: number, instance: number, maps?: ProcMapping[]): void {
    const map = this.#map;
    if (!map) return;
    const startTime = startTimeOf(pid);
    if (startTime === undefined) {
      this.forget(pid);
      return;
    }
    let old = this.#procs.get(pid);
    if (old && old.startTime !== startTime) {
      this.forget(pid);
      old = undefined;
    }
    try {
      maps ??= parseMaps(procfs.readTextFileSync(`/proc/${pid}/maps`));
    } catch {
      this.forget(pid);
      return;
    }
    const key = interpreterMappingKey(maps, this.#opts.python, this.#opts.ruby);
    if (old && !old.retry && old.mappingKey === key) {
      if (!instance || instance === old.instance) return; // nothing changed
      if (!old.instance) {
        old.instance = instance;
        return;
      }
      // The same interpreter mapping in a new image (an exec of the same program at the same
      // address): BPF ignores an entry of another image, so it is examined again.
    }
    if (old) this.forget(pid);
    const t: Tracked = {
      startTime,
      instance,
      mappingKey: key,
      kind: InterpKind.NONE,
      retry: false,
    };
    this.#procs.set(pid, t);
    if (!key) return;
    let mem: ProcessMemory;
    try {
      mem = (this.#opts.openMemory ?? ((p) => ProcMemory.open(p)))(pid);
    } catch (e) {
      interpMetrics.errors.inc({ kind: "memory" });
      log.debug("cannot read a process's memory", { pid, error: (e as Error).message });
      return;
    }
    const found = this.#detect(pid, maps, mem, t);
    if (!found) {
      mem.close();
      return;
    }
    try {
      map.setProcess(pid, encodeInterpInfo({ ...found, instance }));
    } catch (e) {
      mem.close();
      t.kind = InterpKind.NONE;
      if (e instanceof MapsClosedError) return; // the sampler is closing: nothing to walk
      interpMetrics.errors.inc({ kind: "map_update" });
      log.debug("cannot store a process's interpreter in BPF", {
        pid,
        error: (e as Error).message,
      });
      return;
    }
    t.mem = mem;
    interpMetrics.processes.inc({ interpreter: t.kind === InterpKind.PYTHON ? "python" : "ruby" });
  }

  #detect(
    pid: number,
    maps: ProcMapping[],
    mem: ProcessMemory,
    t: Tracked,
  ): InterpInfo | undefined {
    const files = this.#opts.files;
    if (this.#opts.python) {
      const py = detectPython(pid, maps, files, mem);
      if ("info" in py) {
        for (const note of py.notes) {
          log.info("Python layout differs from the table", { pid, note });
        }
        log.debug("walking Python", { pid, version: py.version, path: py.path });
        t.kind = InterpKind.PYTHON;
        t.version = py.version;
        t.reader = new PythonCodeReader(mem, py.layout, this.#objects, `${pid}.${t.startTime}`);
        return py.info;
      }
      if (py.kind === "not-ready") t.retry = true;
      else if (py.kind !== "not-python") {
        interpMetrics.errors.inc({ kind: py.kind === "unsupported" ? "unsupported" : "detect" });
        log.debug("Python process not walked", { pid, ...py });
      }
    }
    if (this.#opts.ruby) {
      const rb = detectRuby(pid, maps, files, mem);
      if ("info" in rb) {
        log.debug("walking Ruby", { pid, version: rb.version, path: rb.path });
        t.kind = InterpKind.RUBY;
        t.version = rb.version;
        t.reader = new RubyIseqReader(mem, rb.layout, this.#objects, `${pid}.${t.startTime}`);
        return rb.info;
      }
      if (rb.kind === "not-ready") t.retry = true;
      else if (rb.kind !== "not-ruby") {
        interpMetrics.errors.inc({ kind: rb.kind === "unsupported" ? "unsupported" : "detect" });
        log.debug("Ruby process not walked", { pid, ...rb });
      }
    }
    return undefined;
  }

  /**
   * The namer of a process's interpreter frames, for the pprof builder.
   *
   * @param pid The process.
   * @param instance The image the samples are of (0: whichever is tracked for the pid).
   * @returns The symbolizer (frames of a process that is not tracked are shown as unknown).
   */
  symbolizer(pid: number, instance = 0): InterpSymbolizer {
    let t = (instance ? this.#ended.get(instance) : undefined) ?? this.#procs.get(pid);
    // Another image of the pid (exec, reused pid): its objects are not this one's.
    if (t && instance && t.instance && t.instance !== instance) t = undefined;
    return {
      frame: (f: InterpFrameInput) => {
        const t0 = performance.now();
        const named = t?.reader && t.kind === f.kind ? t.reader.frame(f.addr, f.data) : undefined;
        interpMetrics.frames.inc({ result: named ? "named" : "unknown" });
        interpMetrics.seconds.inc({ op: "name" }, (performance.now() - t0) / 1000);
        return named;
      },
      unknown: (kind: number) => kind === InterpKind.RUBY ? "[ruby]" : "[python]",
    };
  }

  /**
   * End of a window: examines processes seen for the first time or not ready before, and
   * forgets processes that exited.
   *
   * @param pids Processes with samples in the window.
   */
  windowEnded(pids: ReadonlySet<number>): void {
    for (const pid of pids) {
      const t = this.#procs.get(pid);
      if (!t || t.retry) this.examine(pid, t?.instance);
    }
    for (const [pid, t] of this.#procs) {
      // A process without an interpreter holds no BPF entry and no memory: it costs no /proc
      // read every window (the records forget it when it ends; a new image is examined anew).
      if (t.kind === InterpKind.NONE && !t.retry) continue;
      if (!pids.has(pid) && startTimeOf(pid) !== t.startTime) this.forget(pid);
    }
  }

  /**
   * Drops a process's BPF entry and its memory; what was decoded stays for the image's last
   * window until {@link released}.
   *
   * @param pid The process.
   * @param instance Only if it was examined for this image (an exec's old image may end after
   *   the new one was captured); any image when omitted.
   */
  forget(pid: number, instance?: number): void {
    const t = this.#procs.get(pid);
    if (!t || (instance !== undefined && t.instance !== 0 && t.instance !== instance)) return;
    this.#procs.delete(pid);
    t.mem?.close();
    t.mem = undefined;
    const image = instance ?? t.instance;
    if (t.reader && image) {
      t.instance = image;
      this.#ended.set(image, t);
      // Records free ended images once their last window is out; bound it anyway.
      if (this.#ended.size > MAX_ENDED) this.#ended.delete(this.#ended.keys().next().value!);
    }
    if (t.kind === InterpKind.NONE || !this.#map || this.#map.closed) return;
    try {
      this.#map.deleteProcess(pid);
    } catch (e) {
      interpMetrics.errors.inc({ kind: "map_update" });
      log.debug("cannot delete a process's interpreter in BPF", {
        pid,
        error: (e as Error).message,
      });
    }
  }

  /**
   * An image's last window was emitted: forgets it for good.
   *
   * @param pid The process.
   * @param instance The image.
   */
  released(pid: number, instance: number): void {
    this.forget(pid, instance);
    this.#ended.delete(instance);
  }

  /** Stops: closes every process's memory. The BPF map goes with the BPF object. */
  close(): void {
    this.#closed = true;
    for (const t of this.#procs.values()) t.mem?.close();
    this.#procs.clear();
    this.#ended.clear();
    this.#map = undefined;
  }
}

/** Ended images kept for their last window at most. */
const MAX_ENDED = 4096;

const PYTHON_LIB = /^libpython3\.\d+.*\.so/;
const PYTHON_EXE = /^python3\.\d+[a-z]*$/;
const RUBY_LIB = /^libruby[-.].*\.so/;
const RUBY_EXE = /^ruby(\d+\.\d+)?$/;
const PYTHON_FILE = new RegExp(`${PYTHON_LIB.source}|${PYTHON_EXE.source}`);
const RUBY_FILE = new RegExp(`${RUBY_LIB.source}|${RUBY_EXE.source}`);

/**
 * The mapping of an interpreter walked here, `path@start`, or "" (nothing to examine): the file
 * detection reads, the interpreter library when one is mapped, else the executable. So the key
 * changes when a shared build's library is mapped after the process was first examined (right
 * after its exec), and a refresh examines it again.
 */
function interpreterMappingKey(maps: ProcMapping[], python: boolean, ruby: boolean): string {
  let exe = "";
  for (const m of maps) {
    if (!m.perms.includes("x")) continue;
    const base = m.path.slice(m.path.lastIndexOf("/") + 1);
    if ((python && PYTHON_LIB.test(base)) || (ruby && RUBY_LIB.test(base))) {
      return `${m.path}@${m.start}`;
    }
    if (!exe && ((python && PYTHON_EXE.test(base)) || (ruby && RUBY_EXE.test(base)))) {
      exe = `${m.path}@${m.start}`;
    }
  }
  return exe;
}
