// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * A worker of the table-builder pool: runs wasm-unwind on one ELF file at a time. The worker
 * reads the file itself, keeping reads off the agent's main thread, and checks that it is still
 * the inode the main thread identified; it reads only the headers and the sections a build needs
 * (`_cfi_sections.ts`: the CFI, and a Go file's `.gopclntab` and module data) straight into
 * wasm-unwind's memory, and wasm-unwind reads a Go file's code from the file a window at a time,
 * so its memory is bounded by those sections, not the file's size; the packed table leaves by
 * transfer.
 *
 * Request: `{ id, op: "table", path, ino, maxBytes, module?, postedAt }`; the pool sends its
 * compiled wasm-unwind (`module`, a WebAssembly.Module) with a worker's first job, and the
 * worker compiles the module file itself only when it was not sent.
 * Reply: `{ id, ok: true, table: PackedTable, memoryBytes, phases }` (the table packed here,
 * from wasm-unwind's memory, into the 8-byte rows BPF reads; its rows and rules move by
 * transfer) or
 * `{ id, ok: false, code, message, memoryBytes, phases }`; `phases` are the milliseconds the job
 * spent in each step (`wait`: from the post to this worker taking it, which includes the worker's
 * start; `compile`: wasm-unwind's instantiation, and its compilation when the module was not
 * sent, once per worker; `read`; `build`). The pool replaces a worker whose wasm-unwind
 * memory (`memoryBytes`) grew large, which gives that memory back.
 *
 * @module
 */

import { BACKGROUND_NICE } from "./_priority.ts";
import { WasmUnwind, WasmUnwindError } from "./_wasm.ts";
import { readCfiImage } from "./_cfi_sections.ts";
import { type PackedTable, packSerializedTable, RowSpanError, WasmErrorCode } from "./table.ts";
import * as procfs from "../procfs/mod.ts";

let instance: Promise<WasmUnwind> | undefined;

/** wasm-unwind, instantiated once per worker (from the pool's compiled module when sent). */
function wasm(module?: WebAssembly.Module): Promise<WasmUnwind> {
  instance ??= WasmUnwind.load(module);
  return instance;
}

interface Request {
  id: number;
  op: "table";
  path: string;
  ino: string;
  maxBytes: number;
  /** wasm-unwind compiled by the pool (with a worker's first job). */
  module?: WebAssembly.Module;
  /** When the pool posted the request (performance.timeOrigin + performance.now()). */
  postedAt: number;
}

/**
 * Lowers this worker thread's scheduling priority, so table builds nobody waits for yield to the
 * profiler and the host's programs; the pool raises it again while a sampled process waits for
 * the table being built (BuilderPool, by the thread id posted here).
 */
try {
  const tid = procfs.niceThisThread(BACKGROUND_NICE);
  if (tid !== undefined) self.postMessage({ tid });
} catch {
  // No glibc, or no FFI: run at normal priority.
}

/**
 * Opens the file and checks it is still the inode the main thread identified; the descriptor
 * stays open for the build (a Go file's code is read while it is built).
 */
function openChecked(path: string, ino: string, maxBytes: number): { fd: number; size: number } {
  const fd = procfs.openSync(path);
  try {
    const st = procfs.fstatSync(fd);
    const size = Number(st.size);
    if (String(st.ino) !== ino) throw new Error(`${path} changed since it was identified`);
    if (size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
    return { fd, size };
  } catch (e) {
    procfs.closeSync(fd);
    throw e;
  }
}

/**
 * Packs the serialized table where wasm-unwind left it (in its linear memory: no copy of the
 * serialized form is made); rows that span 4 GiB or more cannot be BPF rows (u32 offsets), which
 * is reported as wasm-unwind's limit error.
 */
function packOrLimit(serialized: Uint8Array): PackedTable {
  try {
    return packSerializedTable(serialized);
  } catch (err) {
    if (err instanceof RowSpanError) {
      throw new WasmUnwindError("load the unwind table", WasmErrorCode.LimitExceeded, err.message);
    }
    throw err;
  }
}

/** Wall-clock milliseconds comparable across threads (each thread has its own time origin). */
const wallMs = () => performance.timeOrigin + performance.now();

self.onmessage = async (e: MessageEvent<Request>) => {
  const { id } = e.data;
  let t = wallMs();
  const phases: Record<string, number> = { wait: t - e.data.postedAt };
  const step = (name: string) => {
    const now = wallMs();
    phases[name] = now - t;
    t = now;
  };
  const cannotRead = (err: Error) => ({
    id,
    ok: false,
    code: -4,
    message: `Cannot read the file: ${err.message}`,
    phases,
  });
  let file: { fd: number; size: number };
  try {
    file = openChecked(e.data.path, e.data.ino, e.data.maxBytes);
  } catch (err) {
    self.postMessage(cannotRead(err as Error));
    return;
  }
  // Reads are synchronous (pread): this thread does nothing else meanwhile, and each
  // asynchronous read is a hop to another thread and back (measured on a busy host: 1 s to read
  // a 16 KB program's CFI in a dozen async reads).
  const pread = (buf: Uint8Array, pos: number) => procfs.readSync(file.fd, buf, 0, buf.length, pos);
  const readAt = (buf: Uint8Array, pos: number) => Promise.resolve(pread(buf, pos));
  let readFailed: Error | undefined;
  try {
    const compiled = instance !== undefined;
    const w = await wasm(e.data.module);
    if (!compiled) step("compile");
    // The image goes straight into wasm-unwind's memory (no copy on this heap).
    const table = await w.unwindTableSparse(
      async (alloc) => {
        try {
          const image = await readCfiImage(readAt, file.size, alloc);
          step("read");
          return image;
        } catch (err) {
          readFailed = err as Error;
          throw err;
        }
      },
      pread,
      packOrLimit,
    );
    step("build");
    // Only the packed rows and rules leave, by transfer (moved, not copied): the main thread
    // interns the rules and hands the same rows to BPF.
    self.postMessage(
      { id, ok: true, table, memoryBytes: w.memoryBytes, phases },
      [table.rows.buffer, table.rules.buffer],
    );
  } catch (err) {
    if (readFailed) {
      self.postMessage({ ...cannotRead(readFailed), memoryBytes: (await instance)?.memoryBytes });
      return;
    }
    const code = err instanceof WasmUnwindError ? err.code : -1;
    const memoryBytes = (await instance?.catch(() => undefined))?.memoryBytes;
    self.postMessage({ id, ok: false, code, message: (err as Error).message, memoryBytes, phases });
  } finally {
    procfs.closeSync(file.fd);
  }
};
