// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A small pool of workers running wasm-unwind, so table generation (tens of milliseconds for libc,
 * seconds for a large binary) never blocks the profiling loop. Requests queue per pool; files move
 * to workers by transfer.
 *
 * @module
 */

/** Files at least this large only go to the workers that also take large files. */
const SMALL_FILE = 32 << 20;

function sizeOf(j: Job): number {
  return j.file?.size ?? j.bytes?.byteLength ?? 0;
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
  bytes?: ArrayBuffer;
  file?: { path: string; ino: string; size: number; maxBytes: number };
  /** Higher runs first (e.g. how many processes wait for the table); read when a worker frees. */
  priority?: () => number;
  resolve: (r: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** Workers that build unwind tables and ELF facts. */
export class BuilderPool {
  readonly #workers: Worker[] = [];
  readonly #idle: Worker[] = [];
  readonly #queue: Job[] = [];
  readonly #running = new Map<Worker, Job>();
  #nextId = 1;
  #closed = false;

  /**
   * @param size Number of workers. Generation is CPU-bound, so more workers than cores minus one
   *   would only take CPU from the profiler; the pool uses at most that many.
   */
  constructor(size = 2) {
    size = Math.max(2, Math.min(size, navigator.hardwareConcurrency - 1));
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL("./table_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e) => this.#done(w, e.data);
      w.onerror = (e) => {
        e.preventDefault();
        this.#done(w, { id: -1, ok: false, code: -3, message: `worker failed: ${e.message}` });
      };
      this.#workers.push(w);
      this.#idle.push(w);
    }
  }

  /**
   * Builds the compact unwind table of an ELF file.
   *
   * @param bytes The whole file; its buffer is transferred (detached here).
   * @returns The serialized table (wasm-unwind/README.md).
   */
  table(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    return this.#submit("table", bytes);
  }

  /**
   * Builds the unwind table of a file that the worker reads itself (large files never pass
   * through the main thread). Smaller files are served first, so a big binary does not delay
   * the tables of ordinary libraries.
   *
   * @param file Path to open (e.g. /proc/self/fd/N), the inode it must have, its size.
   * @param priority Read when a worker frees: higher first (processes waiting for the table).
   * @returns The serialized table.
   */
  tableOfFile(
    file: { path: string; ino: string; size: number; maxBytes: number },
    priority?: () => number,
  ): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error("Cannot build tables: the pool is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, op: "table", file, priority, resolve, reject });
      this.#pump();
    });
  }

  #submit(op: Job["op"], bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error("Cannot build tables: the pool is closed"));
    const buffer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? bytes.buffer
      : bytes.slice().buffer;
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, op, bytes: buffer, resolve, reject });
      this.#pump();
    });
  }

  /**
   * Starts queued jobs on idle workers. The first worker only takes files under SMALL_FILE
   * bytes: a big binary (libLLVM, a 100 MB Rust program) takes seconds, and ordinary libraries
   * such as libc must not wait behind it, or new processes stay without complete stacks.
   */
  #pump(): void {
    for (let i = 0; i < this.#idle.length && this.#queue.length;) {
      const w = this.#idle[i];
      const smallOnly = w === this.#workers[0] && this.#workers.length > 1;
      const at = this.#best(smallOnly);
      if (at < 0) {
        i++;
        continue;
      }
      const [job] = this.#queue.splice(at, 1);
      this.#idle.splice(i, 1);
      this.#running.set(w, job);
      if (job.bytes) w.postMessage({ id: job.id, op: job.op, bytes: job.bytes }, [job.bytes]);
      else w.postMessage({ id: job.id, op: job.op, ...job.file });
    }
  }

  /**
   * The next job for a worker: the one most processes wait for (libc before a library one
   * process maps), then the smallest file.
   */
  #best(smallOnly: boolean): number {
    let best = -1;
    let bestPriority = -Infinity;
    for (let i = 0; i < this.#queue.length; i++) {
      const j = this.#queue[i];
      if (smallOnly && sizeOf(j) >= SMALL_FILE) continue;
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
    w: Worker,
    msg: { id: number; ok: boolean; result?: ArrayBuffer; code?: number; message?: string },
  ): void {
    const job = this.#running.get(w);
    this.#running.delete(w);
    if (!this.#closed) this.#idle.push(w);
    if (job) {
      if (msg.ok && msg.result) job.resolve(new Uint8Array(msg.result));
      else job.reject(new TableBuildError(msg.code ?? -1, msg.message ?? "unknown error"));
    }
    this.#pump();
  }

  /** Jobs waiting or running. */
  get pending(): number {
    return this.#queue.length + this.#running.size;
  }

  /** Stops the workers; pending jobs fail. */
  close(): void {
    this.#closed = true;
    for (const w of this.#workers) w.terminate();
    for (const job of [...this.#queue, ...this.#running.values()]) {
      job.reject(new Error("Cannot build tables: the pool is closed"));
    }
    this.#queue.length = 0;
    this.#running.clear();
  }
}
