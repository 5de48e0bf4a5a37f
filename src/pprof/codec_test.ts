// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { equals, toBinary } from "@bufbuild/protobuf";
import { ProfileSchema } from "../gen/perftools/profiles/profile_pb.ts";
import { buildProfile } from "./build.ts";
import { decodeProfile, encodeProfile } from "./codec.ts";
import { fixtureInput, SYMBOLIZERS } from "./_fixture.ts";

Deno.test("encodeProfile() gzips and decodeProfile() restores the same profile", () => {
  const p = buildProfile(fixtureInput(), SYMBOLIZERS);
  const bytes = encodeProfile(p);
  equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
  deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]);
  ok(equals(ProfileSchema, decodeProfile(bytes), p));
});

Deno.test("decodeProfile() also reads plain protobuf", () => {
  const p = buildProfile(fixtureInput(), SYMBOLIZERS);
  ok(equals(ProfileSchema, decodeProfile(toBinary(ProfileSchema, p)), p));
  equal(decodeProfile(new Uint8Array(0)).sample.length, 0);
});

Deno.test("decodeProfile() rejects corrupt input", () => {
  throws(() => decodeProfile(new Uint8Array([0x1f, 0x8b, 1, 2, 3])));
  throws(() => decodeProfile(new Uint8Array([0x0a, 0xff])));
});
