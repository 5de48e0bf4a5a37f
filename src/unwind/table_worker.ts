// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * A worker of the table-builder pool: runs wasm-unwind on one ELF file at a time. The file
 * arrives by transfer and the result leaves by transfer, so nothing is copied between threads.
 *
 * Request: `{ id, op: "table" | "facts", bytes: ArrayBuffer }` or, to keep large reads off the
 * agent's main thread, `{ id, op, path, ino, maxBytes }`: the worker reads the file itself and
 * checks that it is still the inode the main thread identified.
 * Reply: `{ id, ok: true, result: ArrayBuffer }` or `{ id, ok: false, code, message }`.
 *
 * @module
 */

interface WasmExports {
  memory: WebAssembly.Memory;
  abi_version(): number;
  alloc(len: number): number;
  dealloc(ptr: number, len: number): void;
  elf_facts(ptr: number, len: number): number;
  unwind_table(ptr: number, len: number): number;
  result_len(): number;
  result_free(): void;
  last_error_code(): number;
  error_message(): number;
  error_message_len(): number;
}

const WASM_URL = new URL("../../wasm-unwind/lib/wasm_unwind.wasm", import.meta.url);
let exportsPromise: Promise<WasmExports> | undefined;

function load(): Promise<WasmExports> {
  exportsPromise ??= (async () => {
    const module = await WebAssembly.compile(await Deno.readFile(WASM_URL));
    const instance = await WebAssembly.instantiate(module, {});
    return instance.exports as unknown as WasmExports;
  })();
  return exportsPromise;
}

interface Request {
  id: number;
  op: "table" | "facts";
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
  const { id, op } = e.data;
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
  let w: WasmExports;
  try {
    w = await load();
  } catch (err) {
    self.postMessage({
      id,
      ok: false,
      code: -1,
      message: `Cannot load wasm-unwind: ${(err as Error).message}`,
    });
    return;
  }
  const len = bytes.byteLength;
  const ptr = w.alloc(len);
  if (len > 0 && ptr === 0) {
    self.postMessage({
      id,
      ok: false,
      code: -2,
      message: `wasm-unwind cannot allocate ${len} bytes`,
    });
    return;
  }
  try {
    new Uint8Array(w.memory.buffer, ptr, len).set(new Uint8Array(bytes));
    const res = op === "table" ? w.unwind_table(ptr, len) : w.elf_facts(ptr, len);
    if (res === 0) {
      const code = w.last_error_code();
      const mlen = w.error_message_len();
      const message = new TextDecoder().decode(
        new Uint8Array(w.memory.buffer, w.error_message(), mlen),
      );
      self.postMessage({ id, ok: false, code, message });
      return;
    }
    const result = new Uint8Array(w.memory.buffer, res, w.result_len()).slice().buffer;
    w.result_free();
    self.postMessage({ id, ok: true, result }, [result]);
  } finally {
    w.dealloc(ptr, len);
  }
};
