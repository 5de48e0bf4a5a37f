// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Local symbolization: names for the frames the Parca server cannot symbolize from debuginfo.
 *
 * - {@link KernelSymbols}: kernel frames, from `/proc/kallsyms`, rebuilt only when modules change.
 * - {@link VdsoSymbols}: vDSO frames, from the agent's own copy of the vDSO image.
 * - {@link JitSymbols}: JIT-compiled code, from the perf maps and jitdump files runtimes write.
 *
 * User native frames are left as addresses on purpose: the server symbolizes them from the
 * uploaded debuginfo, as Parca Agent does.
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
export {
  CodeRanges,
  type JitProcessFacts,
  JitSymbols,
  type JitSymbolsOptions,
  type JitSymbolsStats,
  parseJitdump,
  parsePerfMap,
} from "./perf_map.ts";
export { VdsoSymbols } from "./vdso.ts";
