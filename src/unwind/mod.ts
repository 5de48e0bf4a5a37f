// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Unwind tables for the BPF DWARF walker: ELF facts and compact x86-64 unwind tables built by
 * the `wasm-unwind` WebAssembly module (Rust, gimli), decoded and packed into the 8-byte rows
 * and 12-byte rules that BPF reads.
 *
 * @example Build, look up and pack the table of libc
 * ```ts ignore
 * import { CfaKind, lookupRule, packUnwindTable, WasmUnwind } from "./mod.ts";
 *
 * const wasm = await WasmUnwind.load();
 * const file = await Deno.readFile("/lib/x86_64-linux-gnu/libc.so.6");
 * const facts = wasm.elfFacts(file); // build ID, segments, static/stripped, compiler
 * const table = wasm.unwindTable(file);
 * lookupRule(table, 0x26010n)?.cfaKind === CfaKind.Plt1;
 * const packed = packUnwindTable(table); // rows: 8 bytes each, rules: 12 bytes each
 * ```
 *
 * @module
 */

export {
  DEFAULT_WASM_UNWIND_URL,
  type ElfFacts,
  type ExecSegment,
  WASM_UNWIND_ABI_VERSION,
  WASM_UNWIND_ERRORS,
  WasmUnwind,
  WasmUnwindError,
} from "./_wasm.ts";
export * from "./table.ts";
export { BuilderPool, TableBuildError } from "./builder_pool.ts";
export { type LoadedTable, TableStore, type TableStoreStats } from "./table_store.ts";
export type { UnwinderHooks } from "./hooks.ts";
export { Unwinder, type UnwinderOptions } from "./unwinder.ts";
