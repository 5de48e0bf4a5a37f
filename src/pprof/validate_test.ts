// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  LabelSchema,
  type Profile,
  ValueTypeSchema,
} from "../gen/perftools/profiles/profile_pb.ts";
import { buildProfile } from "./build.ts";
import { validateProfile } from "./validate.ts";
import { fixtureInput, SYMBOLIZERS } from "./_fixture.ts";

function fresh(): Profile {
  return buildProfile(fixtureInput(), SYMBOLIZERS);
}

/** Each entry breaks one server rule and names the problem it must produce. */
const BREAKS: Array<[string, (p: Profile) => void, RegExp]> = [
  ["string_table[0] not empty", (p) => (p.stringTable[0] = "x"), /string_table\[0\] is "x"/],
  ["empty string table", (p) => (p.stringTable = []), /string_table is empty/],
  ["mapping id gap", (p) => (p.mapping[1].id = 7n), /mapping\[1\]\.id is 7, want 2/],
  ["location ids swapped", (p) => {
    [p.location[0].id, p.location[1].id] = [p.location[1].id, p.location[0].id];
  }, /location\[0\]\.id is 2, want 1: id is not sequential/],
  ["function id zero", (p) => (p.function[0].id = 0n), /function\[0\]\.id is 0, want 1/],
  [
    "mapping filename past the table",
    (p) => (p.mapping[0].filename = 10_000n),
    /mapping\[0\]\.filename: string index 10000/,
  ],
  [
    "function name negative",
    (p) => (p.function[0].name = -1n),
    /function\[0\]\.name: string index -1/,
  ],
  [
    "location mapping past the end",
    (p) => (p.location[0].mappingId = 99n),
    /location\[0\]\.mapping_id 99 > 4/,
  ],
  [
    "line function zero",
    (p) => (p.location[0].line[0].functionId = 0n),
    /location\[0\]\.line\[0\]\.function_id 0/,
  ],
  [
    "line function past the end",
    (p) => (p.location[0].line[0].functionId = 99n),
    /function_id 99 not in \[1, 5\]/,
  ],
  [
    "two values for one sample type",
    (p) => p.sample[0].value.push(1n),
    /sample\[0\] has 2 values, want 1/,
  ],
  [
    "location id zero",
    (p) => (p.sample[0].locationId[0] = 0n),
    /sample\[0\]\.location_id\[0\] 0 not in/,
  ],
  [
    "location id past the end",
    (p) => (p.sample[0].locationId[1] = 999n),
    /sample\[0\]\.location_id\[1\] 999 not in/,
  ],
  [
    "label without key",
    (p) => p.sample[0].label.push(create(LabelSchema, { str: 1n })),
    /sample\[0\]\.label\[2\] has no key/,
  ],
  [
    "label value past the table",
    (p) => (p.sample[0].label[0].str = 5000n),
    /label\[0\]\.str: string index 5000/,
  ],
  ["time_nanos unset", (p) => (p.timeNanos = 0n), /time_nanos is 0/],
  ["no sample type", (p) => (p.sampleType = []), /sample_type is empty/],
  ["sample type not a PromQL name", (p) => {
    p.stringTable.push("cpu-time");
    p.sampleType[0] = create(ValueTypeSchema, { type: BigInt(p.stringTable.length - 1), unit: 1n });
  }, /sample_type\[0\]\.type: "cpu-time" is not/],
  [
    "period type unit past the table",
    (p) => (p.periodType!.unit = 777n),
    /period_type\.unit: string index 777/,
  ],
];

Deno.test("validateProfile() accepts what buildProfile() builds", () => {
  deepEqual(validateProfile(fresh()), []);
});

Deno.test("validateProfile() catches each broken server rule", async (t) => {
  for (const [name, breakIt, want] of BREAKS) {
    await t.step(name, () => {
      const p = fresh();
      breakIt(p);
      const problems = validateProfile(p);
      ok(problems.length > 0, "no problem reported");
      ok(problems.some((x) => want.test(x)), `want ${want}, got ${JSON.stringify(problems)}`);
    });
  }
});

Deno.test("validateProfile() lists at most 50 problems and counts the rest", () => {
  const p = fresh();
  const template = p.sample[0];
  for (let i = 0; i < 100; i++) p.sample.push({ ...template, value: [] });
  const problems = validateProfile(p);
  equal(problems.length, 51);
  match(problems[50], /^\.\.\. and 50 more problems$/);
});
