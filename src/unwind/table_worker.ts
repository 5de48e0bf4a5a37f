// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * A worker of the table-builder pool: runs wasm-unwind on one ELF file at a time. The file
 * arrives by transfer and the result leaves by transfer, so nothing is copied between threads.
 *
 * Request: `{ id, op: "table", bytes: ArrayBuffer }` or, to keep large reads off the
 * agent's main thread, `{ id, op, path, ino, maxBytes }`: the worker reads the file itself and
 * checks that it is still the inode the main thread identified.
 * Reply: `{ id, ok: true, result: ArrayBuffer }` or `{ id, ok: false, code, message }`.
 *
 * @module
 */

import { WasmUnwind, WasmUnwindError } from "./_wasm.ts";

/** Files at least this large leave the instance's memory grown; a new instance gives it back. */
const RECYCLE_AFTER_BYTES = 32 << 20;
let module: Promise<WebAssembly.Module> | undefined;
let instance: WasmUnwind | undefined;

async function wasm(): Promise<WasmUnwind> {
  module ??= WasmUnwind.compile();
  instance ??= await WasmUnwind.load(await module);
  return instance;
}

interface Request {
  id: number;
  op: "table";
  bytes?: ArrayBuffer;
  path?: string;
  ino?: string;
  maxBytes?: number;
}

/** Lowers this worker thread's scheduling priority, so table builds yield to the profiler. */
function niceThisThread(): void {
  try {
    const libc = Deno.dlopen("/lib/x86_64-linux-gnu/libc.so.6", {
      syscall: { parameters: ["i64"], result: "i64" },
      setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
    });
    const SYS_GETTID = 186n;
    const tid = Number(libc.symbols.syscall(SYS_GETTID));
    // PRIO_PROCESS (0) with a thread id sets that one thread's nice value on Linux.
    libc.symbols.setpriority(0, tid, 10);
  } catch {
    // Not x86-64 glibc, or no FFI: run at normal priority.
  }
}
niceThisThread();

async function readChecked(path: string, ino: string, maxBytes: number): Promise<ArrayBuffer> {
  using file = await Deno.open(path, { read: true });
  const st = await file.stat();
  if (String(st.ino) !== ino) throw new Error(`${path} changed since it was identified`);
  if (st.size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
  const out = new Uint8Array(st.size);
  let off = 0;
  while (off < st.size) {
    const n = await file.read(out.subarray(off));
    if (n === null) break;
    off += n;
  }
  return out.buffer.slice(0, off);
}

self.onmessage = async (e: MessageEvent<Request>) => {
  const { id } = e.data;
  let bytes: ArrayBuffer;
  try {
    bytes = e.data.bytes ??
      await readChecked(e.data.path ?? "", e.data.ino ?? "", e.data.maxBytes ?? 1 << 30);
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
    const out = result.byteOffset === 0 && result.byteLength === result.buffer.byteLength
      ? result.buffer as ArrayBuffer
      : result.slice().buffer;
    self.postMessage({ id, ok: true, result: out }, [out]);
  } catch (err) {
    const code = err instanceof WasmUnwindError ? err.code : -1;
    self.postMessage({ id, ok: false, code, message: (err as Error).message });
  } finally {
    if (bytes.byteLength >= RECYCLE_AFTER_BYTES) instance = undefined;
  }
};
