// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The CPU profiler: BPF sampling windows turned into one pprof profile per process.
 *
 * @example
 * ```ts ignore
 * import { CpuProfiler } from "./mod.ts";
 * const profiler = new CpuProfiler({ ...options, sinks: [{ write: (p) => console.log(p.pid) }] });
 * profiler.start();
 * ```
 *
 * @module
 */

export {
  CpuProfiler,
  type CpuProfilerOptions,
  mapCapacity,
  type ProcessProfile,
  type ProcessStatus,
  PROFILER_NAME,
  type ProfileSink,
  type SamplerFactory,
} from "./cpu_profiler.ts";
export type { UnwinderHooks } from "../unwind/mod.ts";
export {
  assembleWindow,
  imageKey,
  markerFor,
  type ProcessWindow,
  type WindowSample,
} from "./window.ts";
