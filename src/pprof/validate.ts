// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import type { Profile } from "../gen/perftools/profiles/profile_pb.ts";

/** Past this many problems the rest are counted, not listed: one bug usually repeats per sample. */
const MAX_PROBLEMS = 50;

/** Names the server puts in a PromQL selector (`name:type:unit:period_type:period_unit`). */
const TYPE_NAME = /^[a-zA-Z0-9_]+$/;

/**
 * Checks a profile against the rules the Parca server applies to WriteRaw
 * (`pkg/normalizer`, `pkg/profilestore`; see `parca-wire-api.md` "WriteRaw server-side rules"):
 *
 * - `string_table[0]` is "" and every string index is in range;
 * - Mapping, Location and Function ids are exactly 1..N in array order;
 * - location mapping ids are 0 or a mapping id; line function ids are a function id;
 * - there is at least one sample type, and every sample has one value per sample type;
 * - sample location ids are non-zero and at most the number of locations;
 * - every sample label has a key;
 * - sample and period type names and units are `[a-zA-Z0-9_]+` (they form the profile type);
 * - `time_nanos` is set (0 files the profile at the Unix epoch, where no query finds it).
 *
 * @param p The profile to check.
 * @returns One line per problem, at most 50 plus a count of the rest; [] when the server would
 *   accept the profile.
 */
export function validateProfile(p: Profile): string[] {
  const problems: string[] = [];
  let dropped = 0;
  const bad = (msg: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(msg);
    else dropped++;
  };
  const nStrings = BigInt(p.stringTable.length);
  const str = (where: string, idx: bigint): void => {
    if (idx < 0n || idx >= nStrings) bad(`${where}: string index ${idx} not in [0, ${nStrings})`);
  };
  const typeName = (where: string, idx: bigint): void => {
    str(where, idx);
    const s = p.stringTable[Number(idx)];
    if (s !== undefined && !TYPE_NAME.test(s)) bad(`${where}: "${s}" is not [a-zA-Z0-9_]+`);
  };

  if (p.stringTable.length === 0) bad('string_table is empty: string_table[0] must be ""');
  else if (p.stringTable[0] !== "") bad(`string_table[0] is "${p.stringTable[0]}", want ""`);
  if (p.timeNanos === 0n) {
    bad("time_nanos is 0: the server would store the profile at the Unix epoch");
  }

  if (p.sampleType.length === 0) {
    bad("sample_type is empty: the server stores one profile type per entry");
  }
  p.sampleType.forEach((t, i) => {
    typeName(`sample_type[${i}].type`, t.type);
    typeName(`sample_type[${i}].unit`, t.unit);
  });
  if (p.periodType) {
    typeName("period_type.type", p.periodType.type);
    typeName("period_type.unit", p.periodType.unit);
  }
  str("drop_frames", p.dropFrames);
  str("keep_frames", p.keepFrames);
  str("default_sample_type", p.defaultSampleType);
  str("doc_url", p.docUrl);
  p.comment.forEach((c, i) => str(`comment[${i}]`, c));

  const nMappings = BigInt(p.mapping.length);
  const nLocations = BigInt(p.location.length);
  const nFunctions = BigInt(p.function.length);

  p.mapping.forEach((m, i) => {
    if (m.id !== BigInt(i + 1)) {
      bad(`mapping[${i}].id is ${m.id}, want ${i + 1}: id is not sequential`);
    }
    str(`mapping[${i}].filename`, m.filename);
    str(`mapping[${i}].build_id`, m.buildId);
  });
  p.function.forEach((f, i) => {
    if (f.id !== BigInt(i + 1)) {
      bad(`function[${i}].id is ${f.id}, want ${i + 1}: id is not sequential`);
    }
    str(`function[${i}].name`, f.name);
    str(`function[${i}].system_name`, f.systemName);
    str(`function[${i}].filename`, f.filename);
  });
  p.location.forEach((l, i) => {
    if (l.id !== BigInt(i + 1)) {
      bad(`location[${i}].id is ${l.id}, want ${i + 1}: id is not sequential`);
    }
    if (l.mappingId > nMappings) {
      bad(`location[${i}].mapping_id ${l.mappingId} > ${nMappings} mappings`);
    }
    l.line.forEach((ln, j) => {
      if (ln.functionId === 0n || ln.functionId > nFunctions) {
        bad(`location[${i}].line[${j}].function_id ${ln.functionId} not in [1, ${nFunctions}]`);
      }
    });
  });

  const nValues = p.sampleType.length;
  p.sample.forEach((s, i) => {
    if (s.value.length !== nValues) {
      bad(`sample[${i}] has ${s.value.length} values, want ${nValues} (one per sample_type)`);
    }
    s.locationId.forEach((id, j) => {
      if (id === 0n || id > nLocations) {
        bad(`sample[${i}].location_id[${j}] ${id} not in [1, ${nLocations}]`);
      }
    });
    s.label.forEach((l, j) => {
      if (l.key === 0n) bad(`sample[${i}].label[${j}] has no key`);
      str(`sample[${i}].label[${j}].key`, l.key);
      str(`sample[${i}].label[${j}].str`, l.str);
      str(`sample[${i}].label[${j}].num_unit`, l.numUnit);
    });
  });
  if (dropped > 0) problems.push(`... and ${dropped} more problems`);
  return problems;
}
