// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Routes libbpf's own log (verifier output, CO-RE relocations, warnings) through the agent's
 * logger. libbpf calls the print function synchronously from the thread that called into it,
 * which is always the JS thread here, so the callback never hops threads.
 *
 * @module
 */

import { getLogger } from "../log/mod.ts";
import { libbpf, libc } from "./ffi.ts";

const log = getLogger("libbpf");
const LIBBPF_WARN = 0;
const LIBBPF_INFO = 1;
// The verifier's log arrives as one call of up to several MiB; untouched pages of this buffer
// cost no memory.
const buffer = new Uint8Array(8 << 20);
const decoder = new TextDecoder();

let callback:
  | Deno.UnsafeCallback<{ parameters: ["i32", "pointer", "pointer"]; result: "i32" }>
  | undefined;

/**
 * Installs the print callback once. WARN lines are warnings; INFO and DEBUG lines (the verifier
 * log, relocations) are debug lines, seen with `--log-level=debug`.
 */
export function routeLibbpfLog(): void {
  if (callback) return;
  callback = new Deno.UnsafeCallback(
    { parameters: ["i32", "pointer", "pointer"], result: "i32" } as const,
    (level, fmt, ap) => {
      // va_list is passed as a pointer on x86-64 and arm64 Linux, so libc can format it.
      const n = libc().vsnprintf(buffer, BigInt(buffer.length), fmt, ap);
      if (n <= 0) return 0;
      const text = decoder.decode(buffer.subarray(0, Math.min(n, buffer.length - 1))).trimEnd();
      for (const line of text.split("\n")) {
        if (!line) continue;
        if (level === LIBBPF_WARN) log.warn(line);
        else if (level === LIBBPF_INFO) log.debug(line);
        else log.debug(line);
      }
      return 0;
    },
  );
  libbpf().libbpf_set_print(callback.pointer);
}
