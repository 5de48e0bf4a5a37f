// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * pprof profiles: one per process per profiling window, in the exact shape the Parca server's
 * WriteRaw accepts (ids 1..N in array order, `string_table[0]` = "", samples/count with a
 * cpu/nanoseconds period).
 *
 * - {@link buildProfile} turns aggregated stacks and mappings into a `Profile`, naming kernel and
 *   vDSO frames locally and leaving user frames as addresses for the server to symbolize.
 * - {@link encodeProfile} / {@link decodeProfile} convert to and from gzipped protobuf.
 * - {@link validateProfile} lists what the server would reject; {@link profileToText} prints a
 *   profile for people (`/query?debug=1`).
 *
 * @example Building, checking and encoding a profile
 * ```ts
 * import { buildProfile, encodeProfile, profileToText, validateProfile } from "./mod.ts";
 * const profile = buildProfile({
 *   startNanos: 1_767_225_600_000_000_000n,
 *   durationNanos: 10_000_000_000n,
 *   frequencyHz: 19,
 *   mappings: [{ start: 0x400000, limit: 0x500000, offset: 0, path: "/usr/bin/app", buildId: "ab12" }],
 *   samples: [{ tid: 42, threadName: "app", count: 3, user: [0x401234, 0x400100], kernel: [] }],
 * }, {});
 * if (validateProfile(profile).length > 0) throw new Error("profile would be rejected");
 * const bytes = encodeProfile(profile); // ready for WriteRaw
 * console.log(bytes.length, profileToText(profile));
 * ```
 *
 * @module
 */

export type { Profile } from "../gen/perftools/profiles/profile_pb.ts";
export {
  buildProfile,
  type InterpFrameInput,
  type InterpSymbolizer,
  type JitSymbolizer,
  KERNEL_MAPPING_NAME,
  type KernelSymbolizer,
  type MappingInput,
  type ProfileInput,
  type SampleInput,
  type SourceFrameName,
  type Symbolizers,
  VDSO_MAPPING_NAME,
  type VdsoSymbolizer,
} from "./build.ts";
export { decodeProfile, encodeProfile } from "./codec.ts";
export { validateProfile } from "./validate.ts";
export { profileToText } from "./to_text.ts";
