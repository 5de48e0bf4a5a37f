// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * A short-lived worker that strips (and optionally compresses) one ELF file for debuginfo upload
 * with wasm-unwind's `strip_debuginfo`, off the agent's main thread. The uploader starts one per
 * file and terminates it after the reply, so the instance's grown linear memory goes with it.
 *
 * Request: `{ bytes: ArrayBuffer, compress: boolean, keepAll: boolean }` (transferred).
 * Reply: `{ ok: true, result: ArrayBuffer }` (transferred) or `{ ok: false, code, message }`.
 *
 * @module
 */

import { WasmUnwind, WasmUnwindError } from "../unwind/_wasm.ts";

interface Request {
  bytes: ArrayBuffer;
  compress: boolean;
  keepAll: boolean;
}

self.onmessage = async (e: MessageEvent<Request>) => {
  try {
    const wasm = await WasmUnwind.load();
    const result = wasm.stripDebuginfo(new Uint8Array(e.data.bytes), {
      compress: e.data.compress,
      keepAll: e.data.keepAll,
    });
    // WasmUnwind's results are fresh copies out of linear memory: their whole buffer moves.
    const out = result.buffer as ArrayBuffer;
    self.postMessage({ ok: true, result: out }, [out]);
  } catch (err) {
    const code = err instanceof WasmUnwindError ? err.code : -1;
    self.postMessage({ ok: false, code, message: (err as Error).message });
  }
};
