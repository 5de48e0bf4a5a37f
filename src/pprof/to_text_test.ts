// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, match, ok } from "node:assert/strict";
import { buildProfile } from "./build.ts";
import { profileToText } from "./to_text.ts";
import { fixtureInput, SYMBOLIZERS } from "./_fixture.ts";

Deno.test("profileToText() shows header, samples with frames, and mappings", () => {
  const text = profileToText(buildProfile(fixtureInput(), SYMBOLIZERS));
  match(text, /^Time: 2026-01-01T00:00:00\.123Z \(1767225600123456789ns\)\n/);
  match(text, /\nDuration: 10\.000s\n/);
  match(text, /\nPeriodType: cpu\/nanoseconds\nPeriod: 52631578\nSampleTypes: samples\/count\n/);
  match(text, /\nSamples: 4\n {2}5 {2}thread_id="100" thread_name="main"\n/);
  match(text, /\n {4}#0 ksys_read \(0xffffffff81200005\) \[kernel\.kallsyms\]\n/);
  match(text, /\n {4}#2 __vdso_clock_gettime \(0x7ffff7fc1a10\) \[vdso\]\n/);
  match(text, /\n {4}#3 0x7f0000000500 \/usr\/lib\/libc\.so\.6\n/);
  match(text, /\n {4}#5 \[truncated\]\n/);
  match(text, /\n {4}#0 0x1234\n/);
  match(
    text,
    /\n {2}2: 0x7f0000000000-0x7f0000100000 off=0x1000 \/usr\/lib\/libc\.so\.6 build_id=bbbb\n/,
  );
  match(text, /\n {2}4: 0x0-0x0 off=0x0 \[kernel\.kallsyms\]\n$/);
});

Deno.test("profileToText() prints broken references as ? instead of throwing", () => {
  const p = buildProfile(fixtureInput(), SYMBOLIZERS);
  p.sample[0].locationId[0] = 999n;
  p.location[Number(p.sample[0].locationId[1]) - 1].mappingId = 50n;
  p.mapping[0].filename = 10_000n;
  const text = profileToText(p);
  ok(text.includes("#0 ? (location 999)"));
  ok(text.includes("#1 do_syscall_64 (0xffffffff8225a660) ?"));
  ok(text.includes("1: 0x400000-0x500000 off=0x0 ? build_id=aaaa"));
  equal(text.endsWith("\n"), true);
});
