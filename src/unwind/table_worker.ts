// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * A worker of the table-builder pool: runs wasm-unwind on one ELF file at a time. The worker
 * reads the file itself, keeping large reads off the agent's main thread, and checks that it is
 * still the inode the main thread identified; the result leaves by transfer.
 *
 * Request: `{ id, op: "table", path, ino, maxBytes }`.
 * Reply: `{ id, ok: true, result: ArrayBuffer }` or `{ id, ok: false, code, message }`.
 * The pool replaces a worker after a large file, which gives back wasm-unwind's grown memory.
 *
 * @module
 */

import { BACKGROUND_NICE } from "./_priority.ts";
import { WasmUnwind, WasmUnwindError } from "./_wasm.ts";
import * as procfs from "../procfs/mod.ts";

let instance: Promise<WasmUnwind> | undefined;

/** wasm-unwind, loaded once per worker. */
function wasm(): Promise<WasmUnwind> {
  instance ??= WasmUnwind.load();
  return instance;
}

interface Request {
  id: number;
  op: "table";
  path: string;
  ino: string;
  maxBytes: number;
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

async function readChecked(path: string, ino: string, maxBytes: number): Promise<ArrayBuffer> {
  const fd = procfs.openSync(path);
  try {
    const st = procfs.fstatSync(fd);
    const size = Number(st.size);
    if (String(st.ino) !== ino) throw new Error(`${path} changed since it was identified`);
    if (size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
    const out = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = await procfs.read(fd, out, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return out.buffer.slice(0, off);
  } finally {
    procfs.closeSync(fd);
  }
}

self.onmessage = async (e: MessageEvent<Request>) => {
  const { id } = e.data;
  let bytes: ArrayBuffer;
  try {
    bytes = await readChecked(e.data.path, e.data.ino, e.data.maxBytes);
  } catch (err) {
    self.postMessage({
      id,
      ok: false,
      code: -4,
      message: `Cannot read the file: ${(err as Error).message}`,
    });
    return;
  }
  try {
    const w = await wasm();
    const file = new Uint8Array(bytes);
    const result = w.unwindTableBytes(file);
    // WasmUnwind's results are fresh copies out of linear memory: their whole buffer moves.
    const out = result.buffer as ArrayBuffer;
    self.postMessage({ id, ok: true, result: out }, [out]);
  } catch (err) {
    const code = err instanceof WasmUnwindError ? err.code : -1;
    self.postMessage({ id, ok: false, code, message: (err as Error).message });
  }
};
