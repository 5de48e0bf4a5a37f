// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Interpreter frames: CPython 3.8–3.13 and CRuby 3.1, walked in BPF (bpf/python.h,
 * bpf/ruby.h) and named here.
 *
 * - {@link InterpreterTracker} recognises interpreter processes (from their mapped files'
 *   dynamic symbols and their memory), writes what BPF needs into pid_to_interp, and names the
 *   sampled frames (qualified name, file, current line) for the pprof builder.
 * - {@link decodeInterpFrame} reads an interpreter frame out of a BPF user stack.
 *
 * @example Naming the interpreter frames of one process
 * ```ts ignore
 * import { InterpreterTracker } from "./mod.ts";
 * const tracker = new InterpreterTracker({ python: true, ruby: true, files });
 * tracker.attach(sampler.interpMaps);
 * tracker.examine(pid);
 * const sym = tracker.symbolizer(pid); // pass as Symbolizers.interp to buildProfile
 * ```
 *
 * @module
 */

export {
  decodeInterpFrame,
  INTERP_FRAME_TAG,
  type InterpFrameWords,
  InterpKind,
} from "./bpf_types.ts";
export { InterpreterTracker, type InterpreterTrackerOptions } from "./tracker.ts";
export type { MappedFileOpener } from "./_image.ts";
export { type ProcessMemory, ProcMemory } from "./memory.ts";
