// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { buildProfile, type ProfileInput } from "./build.ts";
import { encodeProfile } from "./codec.ts";
import { EXE, SYMBOLIZERS } from "./_fixture.ts";

/** A busy process: 5,000 distinct stacks of 30 user + 8 kernel frames over 2,000 functions. */
function busyProcess(): ProfileInput {
  let seed = 1;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const samples: ProfileInput["samples"] = [];
  for (let i = 0; i < 5000; i++) {
    samples.push({
      tid: 1000 + rand(16),
      threadName: "worker",
      count: 1 + rand(5),
      user: Float64Array.from({ length: 30 }, () => EXE + 16 * rand(2000)),
      kernel: BigUint64Array.from({ length: 8 }, () => 0xffffffff81200000n + BigInt(rand(0x100))),
    });
  }
  return {
    startNanos: 1_767_225_600_000_000_000n,
    durationNanos: 10_000_000_000n,
    frequencyHz: 19,
    mappings: [{
      start: EXE,
      limit: EXE + 0x100000,
      offset: 0,
      path: "/usr/bin/app",
      buildId: "aa",
    }],
    samples,
  };
}

const input = busyProcess();
const built = buildProfile(input, SYMBOLIZERS);

Deno.bench("buildProfile() 5k stacks x 38 frames", () => {
  buildProfile(input, SYMBOLIZERS);
});

Deno.bench("encodeProfile() 5k stacks x 38 frames", () => {
  encodeProfile(built);
});
