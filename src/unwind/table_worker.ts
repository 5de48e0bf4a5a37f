// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * A worker of the table-builder pool: runs wasm-unwind on one ELF file at a time. The worker
 * reads the file itself, keeping reads off the agent's main thread, and checks that it is still
 * the inode the main thread identified; it reads only the headers and the CFI sections
 * (`_cfi_sections.ts`), so its memory is bounded by a file's CFI, not its size; the result
 * leaves by transfer.
 *
 * Request: `{ id, op: "table", path, ino, maxBytes, background, backgroundNice, postedAt }`.
 * Reply: `{ id, ok: true, result: ArrayBuffer, memoryBytes, phases }` or
 * `{ id, ok: false, code, message, memoryBytes, phases }`; `phases` are the milliseconds the job
 * spent in each step (`wait`: from the post to this worker taking it, which includes the worker's
 * start; `compile`: wasm-unwind's compilation, once per worker; `read`; `build`). The pool replaces a worker whose wasm-unwind
 * memory (`memoryBytes`) grew large, which gives that memory back.
 *
 * @module
 */

import { WasmUnwind, WasmUnwindError } from "./_wasm.ts";
import { readCfiImage } from "./_cfi_sections.ts";

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
  /** Whether this build runs in the background: at nice `backgroundNice` then. */
  background: boolean;
  backgroundNice: number;
  /** When the pool posted the request (performance.timeOrigin + performance.now()). */
  postedAt: number;
}

/**
 * Sets this worker thread's priority per job (the pool's choice: large builds yield to the
 * host's work at nice `backgroundNice`; small ones, which new programs wait for, run at the
 * agent's own nice). Returns a setter, or a no-op when not on x86-64 glibc or without FFI (then
 * every build runs at the agent's priority).
 */
function threadPriority(): (background: boolean, backgroundNice: number) => void {
  try {
    const libc = Deno.dlopen("/lib/x86_64-linux-gnu/libc.so.6", {
      syscall: { parameters: ["i64"], result: "i64" },
      getpriority: { parameters: ["i32", "u32"], result: "i32" },
      setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
    });
    const SYS_GETTID = 186n;
    const tid = Number(libc.symbols.syscall(SYS_GETTID));
    // The nice value this thread started with: the agent's.
    const own = libc.symbols.getpriority(0, tid);
    let current = own;
    return (background, backgroundNice) => {
      const nice = background ? Math.max(own, backgroundNice) : own;
      if (nice === current) return;
      // PRIO_PROCESS (0) with a thread id sets that one thread's nice value on Linux; going
      // back down needs CAP_SYS_NICE, which the agent (root) has. On failure it stays as it is.
      if (libc.symbols.setpriority(0, tid, nice) === 0) current = nice;
    };
  } catch {
    return () => {};
  }
}
const setPriority = threadPriority();

/**
 * Opens the file, checks it is still the inode the main thread identified, and reads what a
 * table build needs (see readCfiImage): not the whole file. Reads are synchronous: this thread
 * does nothing else meanwhile, and each asynchronous read is a hop to another thread and back
 * (measured on a busy host: 1 s to read a 16 KB program's CFI in a dozen async reads).
 */
async function readChecked(path: string, ino: string, maxBytes: number): Promise<Uint8Array> {
  using file = Deno.openSync(path, { read: true });
  const st = file.statSync();
  if (String(st.ino) !== ino) throw new Error(`${path} changed since it was identified`);
  if (st.size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
  const readAt = (buf: Uint8Array, pos: number) => {
    file.seekSync(pos, Deno.SeekMode.Start);
    let n = 0;
    while (n < buf.length) {
      const got = file.readSync(buf.subarray(n));
      if (got === null || got === 0) break;
      n += got;
    }
    return Promise.resolve(n);
  };
  return (await readCfiImage(readAt, st.size)).image;
}

/** Wall-clock milliseconds comparable across threads (each thread has its own time origin). */
const wallMs = () => performance.timeOrigin + performance.now();

self.onmessage = async (e: MessageEvent<Request>) => {
  const { id } = e.data;
  setPriority(e.data.background, e.data.backgroundNice);
  let t = wallMs();
  const phases: Record<string, number> = { wait: t - e.data.postedAt };
  const step = (name: string) => {
    const now = wallMs();
    phases[name] = now - t;
    t = now;
  };
  let bytes: Uint8Array;
  try {
    bytes = await readChecked(e.data.path, e.data.ino, e.data.maxBytes);
    step("read");
  } catch (err) {
    self.postMessage({
      id,
      ok: false,
      code: -4,
      message: `Cannot read the file: ${(err as Error).message}`,
      phases,
    });
    return;
  }
  try {
    const compiled = instance !== undefined;
    const w = await wasm();
    if (!compiled) step("compile");
    const result = w.unwindTableBytes(bytes);
    step("build");
    // WasmUnwind's results are fresh copies out of linear memory: their whole buffer moves.
    const out = result.buffer as ArrayBuffer;
    self.postMessage({ id, ok: true, result: out, memoryBytes: w.memoryBytes, phases }, [out]);
  } catch (err) {
    const code = err instanceof WasmUnwindError ? err.code : -1;
    const memoryBytes = (await instance?.catch(() => undefined))?.memoryBytes;
    self.postMessage({ id, ok: false, code, message: (err as Error).message, memoryBytes, phases });
  }
};
