// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * BPF through libbpf over Deno FFI: the CPU sampler object, perf events, batch map drains and
 * the capability checks that must pass before any of it is tried.
 *
 * @example Sample every online CPU for one window
 * ```ts ignore
 * import { onlineCpus, ProfilerObject } from "./mod.ts";
 * using obj = ProfilerObject.open({
 *   objectPath: "bpf/.output/profiler.bpf.o",
 *   countEntries: 4096,
 *   stackEntries: 8192,
 *   verbose: false,
 *   dwarfEnabled: true,
 *   mixedMode: true,
 *   eventsBufferBytes: 8192 * 4096,
 * });
 * obj.attach(onlineCpus(), 19);
 * await new Promise((r) => setTimeout(r, 10_000));
 * const { entries, userStacks, kernelStacks } = await obj.flipAndDrain();
 * ```
 *
 * @module
 */

export { errnoName, LIBBPF_CANDIDATES, NativeError } from "./ffi.ts";
export { onlineCpus, parseCpuList } from "./perf_event.ts";
export {
  type CountEntry,
  type DrainResult,
  ProfilerObject,
  type ProfilerObjectOptions,
} from "./profiler_object.ts";
export {
  COUNTER_NAMES,
  EVENT,
  EventType,
  EXEC_MAPPING,
  MappingKind,
  MAX_MAPPINGS_PER_PROCESS,
  MAX_USER_STACK_DEPTH,
  PROCESS_INSTANCE,
  PROCESS_MAPPINGS,
  STACK_COUNT_KEY,
  StackFlags,
  UNWIND_ERROR_NAMES,
  UNWIND_ROW,
  UNWIND_RULE,
} from "./types.ts";
export { checkPrerequisites, type Prerequisites } from "./preflight.ts";
export {
  type InterpMaps,
  MapsClosedError,
  type ProcessEvent,
  type ProcessInstance,
  type Sampler,
  type SamplerCapacity,
  type UnwindMaps,
  type WalkerMapping,
} from "./sampler.ts";
export { LibbpfUnwindMaps, packProcessMappings } from "./unwind_maps.ts";
export { LibbpfInterpMaps } from "./interp_maps.ts";
export { FakeInterpMaps, FakeSampler, FakeUnwindMaps } from "./fake_sampler.ts";
export { raiseOpenFilesLimit, setMemlockRlimit } from "./os.ts";
