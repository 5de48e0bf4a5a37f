// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { gunzipSync, gzipSync } from "node:zlib";
import { type Profile, ProfileSchema } from "../gen/perftools/profiles/profile_pb.ts";

/**
 * Serializes a profile the way pprof files are stored: gzip-compressed protobuf. Parca's WriteRaw
 * accepts this form directly.
 *
 * @param p The profile.
 * @returns Gzipped protobuf bytes.
 */
export function encodeProfile(p: Profile): Uint8Array {
  const gz = gzipSync(toBinary(ProfileSchema, p));
  // A plain Uint8Array over the same memory: callers need not know about node's Buffer.
  return new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength);
}

/**
 * Parses a profile, gzipped (starting with `1f 8b`) or plain protobuf, as Parca's server does.
 *
 * @param bytes The serialized profile.
 * @returns The profile.
 * @throws {Error} When the bytes are not a valid (gzipped) profile.
 */
export function decodeProfile(bytes: Uint8Array): Profile {
  const raw = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b
    ? gunzipSync(bytes)
    : bytes;
  return fromBinary(ProfileSchema, raw);
}
