// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Local symbolization: names for the frames the Parca server cannot symbolize from debuginfo.
 *
 * - {@link KernelSymbols}: kernel frames, from `/proc/kallsyms`, rebuilt only when modules change.
 * - {@link VdsoSymbols}: vDSO frames, from the agent's own copy of the vDSO image.
 * - {@link NativeSymbolizer} and {@link symbolizeProfile}: user native frames, on request
 *   (`/query?symbolize=1`, the UI, `--local-store-symbolize`), from the files' symbol tables and
 *   DWARF (separate debug files included) by wasm-unwind in a worker, cached per file.
 *
 * Profiles are built with user frames as addresses, and that is what the remote store sends:
 * the server symbolizes them from the uploaded debuginfo, as Parca Agent does.
 *
 * @example Naming kernel and vDSO frames
 * ```ts
 * import { KernelSymbols, VdsoSymbols } from "./mod.ts";
 * const ksyms = KernelSymbols.fromText("ffffffff81000000 T _stext\nffffffff81001000 T do_idle\n");
 * const i = ksyms.lookup(0xffffffff81001010n);
 * console.log(i < 0 ? "unknown" : ksyms.name(i)); // "do_idle"
 *
 * const vdso = VdsoSymbols.load();
 * const off = vdso.offsetOf("clock_gettime");
 * if (off !== undefined) console.log(vdso.lookup(off)); // "__vdso_clock_gettime"
 * ```
 *
 * @module
 */

export { KernelSymbols } from "./kallsyms.ts";
export { VdsoSymbols } from "./vdso.ts";
export type { SourceFrame } from "./_frames.ts";
export {
  type FileFrames,
  type FileSource,
  NativeSymbolizer,
  type NativeSymbolizerOptions,
  type NativeSymbolizerStats,
  type UnsymbolizedReason,
} from "./native.ts";
export {
  elfAddress,
  fileKey,
  symbolizeProfile,
  type SymbolizeReport,
  type SymbolizeSource,
} from "./profile.ts";
export { SourceIndex } from "./sources.ts";
export { LocalSymbolizer, type SymbolizableProfile, symbolizeMetrics } from "./local.ts";
