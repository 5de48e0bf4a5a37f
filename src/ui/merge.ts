// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// One pprof profile out of several (the UI's download of a time range): mappings, functions and
// locations are merged by identity, samples keep their labels and get the `pid` of their process.

import { create } from "@bufbuild/protobuf";
import {
  FunctionSchema,
  LabelSchema,
  LineSchema,
  LocationSchema,
  MappingSchema,
  type Profile,
  ProfileSchema,
  SampleSchema,
  ValueTypeSchema,
} from "../gen/perftools/profiles/profile_pb.ts";

/**
 * Merges profiles into one.
 *
 * @param parts Symbolized profiles and the process each came from.
 * @returns A profile whose time is the first window's start and whose duration spans them all.
 */
export function mergeProfiles(parts: ReadonlyArray<{ profile: Profile; pid: number }>): Profile {
  const strings: string[] = [""];
  const stringIndex = new Map<string, bigint>([["", 0n]]);
  const str = (s: string): bigint => {
    let i = stringIndex.get(s);
    if (i === undefined) {
      i = BigInt(strings.length);
      strings.push(s);
      stringIndex.set(s, i);
    }
    return i;
  };
  const out = create(ProfileSchema, {});
  const mappings = new Map<string, bigint>();
  const functions = new Map<string, bigint>();
  const locations = new Map<string, bigint>();
  let start: bigint | undefined;
  let end = 0n;
  const pidKey = str("pid");
  for (const { profile: p, pid } of parts) {
    const s = (i: bigint) => p.stringTable[Number(i)] ?? "";
    if (out.sampleType.length === 0) {
      out.sampleType = p.sampleType.map((t) =>
        create(ValueTypeSchema, { type: str(s(t.type)), unit: str(s(t.unit)) })
      );
      if (p.periodType) {
        out.periodType = create(ValueTypeSchema, {
          type: str(s(p.periodType.type)),
          unit: str(s(p.periodType.unit)),
        });
      }
      out.period = p.period;
    }
    if (start === undefined || p.timeNanos < start) start = p.timeNanos;
    if (p.timeNanos + p.durationNanos > end) end = p.timeNanos + p.durationNanos;

    const mapId = new Map<bigint, bigint>();
    for (const m of p.mapping) {
      const key = [s(m.filename), s(m.buildId), m.memoryStart, m.memoryLimit, m.fileOffset].join(
        "\0",
      );
      let id = mappings.get(key);
      if (id === undefined) {
        id = BigInt(out.mapping.length + 1);
        out.mapping.push(create(MappingSchema, {
          id,
          memoryStart: m.memoryStart,
          memoryLimit: m.memoryLimit,
          fileOffset: m.fileOffset,
          filename: str(s(m.filename)),
          buildId: str(s(m.buildId)),
          hasFunctions: m.hasFunctions,
          hasFilenames: m.hasFilenames,
          hasLineNumbers: m.hasLineNumbers,
          hasInlineFrames: m.hasInlineFrames,
        }));
        mappings.set(key, id);
      }
      mapId.set(m.id, id);
    }
    const fnId = new Map<bigint, bigint>();
    for (const f of p.function) {
      const key = `${s(f.name)}\0${s(f.systemName)}\0${s(f.filename)}`;
      let id = functions.get(key);
      if (id === undefined) {
        id = BigInt(out.function.length + 1);
        out.function.push(create(FunctionSchema, {
          id,
          name: str(s(f.name)),
          systemName: str(s(f.systemName)),
          filename: str(s(f.filename)),
          startLine: f.startLine,
        }));
        functions.set(key, id);
      }
      fnId.set(f.id, id);
    }
    const locId = new Map<bigint, bigint>();
    for (const l of p.location) {
      const mapping = mapId.get(l.mappingId) ?? 0n;
      const lines = l.line.map((ln) => `${fnId.get(ln.functionId) ?? 0n}:${ln.line}`).join(",");
      // Kernel and marker locations are identified by their names; others by address too.
      const key = `${mapping}\0${l.address}\0${lines}`;
      let id = locations.get(key);
      if (id === undefined) {
        id = BigInt(out.location.length + 1);
        out.location.push(create(LocationSchema, {
          id,
          mappingId: mapping,
          address: l.address,
          line: l.line.map((ln) =>
            create(LineSchema, { functionId: fnId.get(ln.functionId) ?? 0n, line: ln.line })
          ),
        }));
        locations.set(key, id);
      }
      locId.set(l.id, id);
    }
    const pidValue = str(String(pid));
    for (const smp of p.sample) {
      out.sample.push(create(SampleSchema, {
        locationId: smp.locationId.map((id) => locId.get(id) ?? 0n),
        value: [...smp.value],
        label: [
          ...smp.label.map((lb) =>
            create(LabelSchema, {
              key: str(s(lb.key)),
              str: lb.str === 0n ? 0n : str(s(lb.str)),
              num: lb.num,
              numUnit: lb.numUnit === 0n ? 0n : str(s(lb.numUnit)),
            })
          ),
          create(LabelSchema, { key: pidKey, str: pidValue }),
        ],
      }));
    }
  }
  out.timeNanos = start ?? 0n;
  out.durationNanos = start === undefined ? 0n : end - start;
  out.stringTable = strings;
  return out;
}
