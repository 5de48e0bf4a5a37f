// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A small pool of workers running wasm-unwind, so table generation (tens of milliseconds for libc,
 * seconds for a large binary) never blocks the profiling loop. Requests queue per pool; workers read
 * the files themselves, and each table comes back by transfer, already packed into the rows BPF
 * reads.
 *
 * @module
 */

import { setThreadNice, trimMalloc as mallocTrim } from "../procfs/mod.ts";
import { BACKGROUND_NICE, URGENT_NICE } from "./_priority.ts";
import { unwindMetrics } from "./metrics.ts";
import { WasmUnwind } from "./_wasm.ts";
import type { PackedTable } from "./table.ts";

/**
 * Jobs at least this costly (bytes of executable code, which the CFI to read and rows to build
 * grow with) only go to the workers that also take large files. libc has 1.5 MB of code, Debian's
 * python3 2.8 MB; libz3 (17 MB) or libLLVM (70 MB) take seconds to build and must not hold up the
 * lane that new small programs use.
 */
const SMALL_JOB = 8 << 20;

function sizeOf(j: Job): number {
  return j.cost;
}

/** A failure reported by wasm-unwind (its error code and message). */
export class TableBuildError extends Error {
  /** wasm-unwind's error code (negative: the worker could not run the module). */
  readonly code: number;
  /**
   * @param code The error code.
   * @param message What went wrong.
   */
  constructor(code: number, message: string) {
    super(message);
    this.name = "TableBuildError";
    this.code = code;
  }
}

interface Job {
  id: number;
  op: "table";
  file: { path: string; ino: string; size: number; maxBytes: number };
  /** What the job costs, for lanes and order (see {@link BuildOptions.cost}). */
  cost: number;
  /** Higher runs first (e.g. how many processes wait for the table); read when a worker frees. */
  priority?: () => number;
  /** Whether a sampled process waits for it: then it runs at the host's normal priority. */
  urgent?: () => boolean;
  /** When it was queued (performance.now()). */
  queuedAt: number;
  resolve: (t: PackedTable) => void;
  reject: (e: Error) => void;
}

function trimMalloc(): void {
  try {
    mallocTrim();
  } catch {
    // Not glibc: nothing to trim.
  }
}

/** How {@link BuilderPool.tableOfFile} schedules a build. */
export interface BuildOptions {
  /**
   * What the build costs, in bytes (the file's executable code: CFI and rows grow with it);
   * the file's size when not given. Jobs from {@link SMALL_JOB} on go to the large-job lane.
   */
  cost?: number;
  /** Higher runs first (e.g. how many processes wait for the table); read when a worker frees. */
  priority?: () => number;
  /**
   * Whether a sampled process waits for the table: read when the build starts and at each
   * {@link BuilderPool.reprioritize}; an urgent build runs at normal priority, others at nice 10.
   */
  urgent?: () => boolean;
}

/** A worker place: a worker is started when a job needs it and stopped when idle. */
interface Slot {
  worker?: Worker;
  job?: Job;
  /** Only jobs under SMALL_JOB (see #pump). */
  smallOnly: boolean;
  idleTimer?: ReturnType<typeof setTimeout>;
  /** The worker's thread id (it posts it when it starts), and the nice value it runs at. */
  tid?: number;
  nice?: number;
  /** Whether the worker has been sent the compiled module (with its first job). */
  hasModule?: boolean;
}

/**
 * A worker whose wasm-unwind linear memory grew past this (it never shrinks) is replaced after
 * its job, which gives the memory back: the worker's memory stays bounded by one large build.
 */
const RECYCLE_AFTER = 32 << 20;
/**
 * A worker idle this long is stopped; its memory goes back to the system. A worker's restart
 * costs its start and an instantiation (the compiled module is shared, see #module), tens of
 * milliseconds, so this only has to cover a burst of builds (a script's execs, a process's
 * dlopens). Measured on the 50-binary host (bench:binaries' trace): with 10 s, the workers of
 * the start-up builds stayed up idle (33 and 13 MiB of RSS) until 17 and 24 s after the agent's
 * start, so its first window's end (~12 s) came on top of them.
 */
const IDLE_MS = 2_000;

/**
 * Workers that build unwind tables. Workers exist only while there is work: most of the time
 * no table is being built, and a Deno worker holds a V8 isolate and wasm-unwind's memory.
 */
export class BuilderPool {
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #closed = false;
  #started = 0;
  /**
   * wasm-unwind compiled once, on this thread, when the first job comes; each worker is sent it
   * with its first job (Deno structured-clones a WebAssembly.Module between workers: the
   * compiled code is shared, not copied). A worker then neither compiles nor holds its own copy
   * of the code (measured: a worker that compiles itself costs ~7 MiB more than one given the
   * module), and replacing a worker after a large build costs no compilation, so workers can be
   * recycled and stopped freely. `null`: the compilation failed; workers then load the module
   * themselves and report why it cannot load with each job.
   */
  #module: WebAssembly.Module | null | undefined;
  #compiling: Promise<void> | undefined;

  /*
   * Size: generation is CPU-bound, so more workers than cores minus one would only take CPU from
   * the profiler; the pool uses at most that many, and at least two, the first of which takes
   * only small files, so that libc never waits behind libLLVM or a compiler's cc1 (measured: on a
   * busy host one worker left new processes seconds behind such builds). Each worker is a V8
   * isolate plus wasm-unwind's memory (bounded by RECYCLE_AFTER and by the CFI of one file,
   * which is all a worker reads), so the size also bounds the builders' memory.
   */
  readonly #idleMs: number;

  /**
   * @param size Number of workers at most (see above).
   * @param idleMs How long an idle worker lives.
   */
  constructor(size = 2, idleMs = IDLE_MS) {
    this.#idleMs = idleMs;
    size = Math.max(2, Math.min(size, navigator.hardwareConcurrency - 1));
    for (let i = 0; i < size; i++) this.#slots.push({ smallOnly: i === 0 });
  }

  /** Workers running now. */
  get workers(): number {
    return this.#slots.filter((s) => s.worker).length;
  }

  /** Workers started so far (a measure of recycling). */
  get workersStarted(): number {
    return this.#started;
  }

  /**
   * Builds the unwind table of a file that the worker reads itself (large files never pass
   * through the main thread).
   *
   * @param file Path to open (e.g. /proc/self/fd/N), the inode it must have, its size.
   * @param opts Cost, order and urgency of the build.
   * @returns The table, packed in the worker into the rows BPF reads (its buffers were moved
   *   here, not copied; see {@link PackedTable}).
   */
  tableOfFile(
    file: { path: string; ino: string; size: number; maxBytes: number },
    opts: BuildOptions = {},
  ): Promise<PackedTable> {
    if (this.#closed) return Promise.reject(new Error("Cannot build tables: the pool is closed"));
    return new Promise((resolve, reject) => {
      const { priority, urgent } = opts;
      this.#queue.push({
        id: this.#nextId++,
        op: "table",
        file,
        cost: opts.cost ?? file.size,
        priority,
        urgent,
        queuedAt: performance.now(),
        resolve,
        reject,
      });
      this.#pump();
    });
  }

  /**
   * Reads again whether each running build is urgent and sets its thread's priority to match
   * (call it when a process starts waiting for a table that is already being built).
   */
  reprioritize(): void {
    for (const slot of this.#slots) this.#renice(slot);
  }

  /** The nice value of each running worker thread, by thread id (for tests and the status page). */
  workerNice(): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.#slots) if (s.tid !== undefined) out.set(s.tid, s.nice ?? BACKGROUND_NICE);
    return out;
  }

  #renice(slot: Slot): void {
    if (slot.tid === undefined) return;
    const nice = slot.job?.urgent?.() ? URGENT_NICE : BACKGROUND_NICE;
    if ((slot.nice ?? BACKGROUND_NICE) === nice) return;
    // Raising a priority needs CAP_SYS_NICE; without it the build stays in the background.
    if (setThreadNice(slot.tid, nice).ok) slot.nice = nice;
  }

  #start(slot: Slot): Worker {
    const w = new Worker(new URL("./table_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (e) => {
      if (typeof e.data?.tid === "number") {
        // The worker started (at the background priority): its thread, for #renice.
        slot.tid = e.data.tid;
        slot.nice = BACKGROUND_NICE;
        this.#renice(slot);
        return;
      }
      this.#done(slot, e.data);
    };
    w.onerror = (e) => {
      e.preventDefault();
      this.#done(slot, { id: -1, ok: false, code: -3, message: `worker failed: ${e.message}` });
      this.#stop(slot);
    };
    slot.worker = w;
    this.#started++;
    return w;
  }

  #stop(slot: Slot): void {
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    if (!slot.worker) return;
    slot.worker.terminate();
    slot.worker = undefined;
    slot.tid = undefined;
    slot.nice = undefined;
    slot.hasModule = undefined;
    // The worker's thread had its own malloc arena (file buffers, wasm memory); glibc keeps
    // freed arena memory unless asked to give it back.
    setTimeout(() => trimMalloc(), 100);
  }

  /**
   * Starts queued jobs on free slots. The first slot only takes jobs under SMALL_JOB: a
   * big binary (libLLVM, a 100 MB Rust program) takes seconds, and ordinary libraries such as
   * libc must not wait behind it, or new processes stay without complete stacks.
   */
  #pump(): void {
    if (this.#module === undefined) {
      if (!this.#queue.length) return;
      this.#compiling ??= WasmUnwind.compile().then(
        (m) => {
          this.#module = m;
        },
        () => {
          this.#module = null;
        },
      ).then(() => {
        if (!this.#closed) this.#pump();
      });
      return;
    }
    for (const slot of this.#slots) {
      if (slot.job || !this.#queue.length) continue;
      const at = this.#best(slot.smallOnly);
      if (at < 0) continue;
      const [job] = this.#queue.splice(at, 1);
      if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      const w = slot.worker ?? this.#start(slot);
      slot.job = job;
      this.#renice(slot);
      const now = performance.now();
      unwindMetrics.tableBuildPhaseSeconds.observe(
        { phase: "queued" },
        (now - job.queuedAt) / 1000,
      );
      const module = slot.hasModule || !this.#module ? undefined : this.#module;
      slot.hasModule = true;
      w.postMessage({
        id: job.id,
        op: job.op,
        ...job.file,
        module,
        postedAt: performance.timeOrigin + now,
      });
    }
  }

  /**
   * The next job for a slot: the one most processes wait for (libc before a library one
   * process maps), then the smallest file.
   */
  #best(smallOnly: boolean): number {
    let best = -1;
    let bestPriority = -Infinity;
    for (let i = 0; i < this.#queue.length; i++) {
      const j = this.#queue[i];
      if (smallOnly && sizeOf(j) >= SMALL_JOB) continue;
      const p = j.priority?.() ?? 0;
      if (
        best < 0 || p > bestPriority ||
        (p === bestPriority && sizeOf(j) < sizeOf(this.#queue[best]))
      ) {
        best = i;
        bestPriority = p;
      }
    }
    return best;
  }

  #done(
    slot: Slot,
    msg: {
      id: number;
      ok: boolean;
      table?: PackedTable;
      code?: number;
      message?: string;
      memoryBytes?: number;
      phases?: Record<string, number>;
    },
  ): void {
    const job = slot.job;
    slot.job = undefined;
    for (const [phase, ms] of Object.entries(msg.phases ?? {})) {
      unwindMetrics.tableBuildPhaseSeconds.observe({ phase }, ms / 1000);
    }
    if (job) {
      if (msg.ok && msg.table) job.resolve(msg.table);
      else job.reject(new TableBuildError(msg.code ?? -1, msg.message ?? "unknown error"));
      if ((msg.memoryBytes ?? sizeOf(job)) >= RECYCLE_AFTER) this.#stop(slot);
    }
    if (!this.#closed && slot.worker) {
      slot.idleTimer = setTimeout(() => {
        if (slot.job) return;
        this.#stop(slot);
        // No work and no worker: the compiled module goes too (it is compiled again, in tens of
        // milliseconds, when work comes), so an idle agent holds no wasm-unwind code.
        if (!this.#queue.length && this.#slots.every((s) => !s.worker)) this.#dropModule();
      }, this.#idleMs);
      // An idle timer must not keep the process alive at exit.
      Deno.unrefTimer(slot.idleTimer as unknown as number);
    }
    this.#pump();
  }

  #dropModule(): void {
    if (this.#compiling && this.#module === undefined) return; // a compilation is under way
    this.#module = undefined;
    this.#compiling = undefined;
  }

  /** Jobs waiting or running. */
  get pending(): number {
    return this.#queue.length + this.#slots.filter((s) => s.job).length;
  }

  /** Stops the workers; pending jobs fail. */
  close(): void {
    this.#closed = true;
    for (const slot of this.#slots) {
      slot.job?.reject(new Error("Cannot build tables: the pool is closed"));
      slot.job = undefined;
      this.#stop(slot);
    }
    for (const job of this.#queue) job.reject(new Error("Cannot build tables: the pool is closed"));
    this.#queue.length = 0;
    this.#dropModule();
  }
}
