// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepEqual, equal, throws } from "node:assert/strict";
import type { Profile } from "../gen/perftools/profiles/profile_pb.ts";
import { KernelSymbols, VdsoSymbols } from "../symbolize/mod.ts";
import { buildProfile, type Symbolizers } from "./build.ts";
import { decodeProfile, encodeProfile } from "./codec.ts";
import { validateProfile } from "./validate.ts";
import {
  EXE,
  fixtureInput,
  K_READ,
  K_UNKNOWN,
  LIBC,
  START,
  SYMBOLIZERS,
  VDSO,
} from "./_fixture.ts";

/** Each frame of a sample as `name` or `0xaddr@mapping-file`. */
function frames(p: Profile, sampleIndex: number): string[] {
  return p.sample[sampleIndex].locationId.map((id) => {
    const loc = p.location[Number(id) - 1];
    const file = loc.mappingId === 0n
      ? "-"
      : p.stringTable[Number(p.mapping[Number(loc.mappingId) - 1].filename)];
    if (loc.line.length > 0) {
      const fn = p.function[Number(loc.line[0].functionId) - 1];
      return `${p.stringTable[Number(fn.name)]}@${file}`;
    }
    return `0x${loc.address.toString(16)}@${file}`;
  });
}

function labels(p: Profile, sampleIndex: number): string[] {
  const s = (i: bigint): string => p.stringTable[Number(i)];
  return p.sample[sampleIndex].label.map((l) => `${s(l.key)}=${s(l.str)}`);
}

Deno.test("buildProfile() builds a profile that survives encoding and passes every server rule", () => {
  const p = decodeProfile(encodeProfile(buildProfile(fixtureInput(), SYMBOLIZERS)));
  deepEqual(validateProfile(p), []);
  const s = (i: bigint): string => p.stringTable[Number(i)];

  // Header.
  equal(p.stringTable[0], "");
  deepEqual(p.sampleType.map((t) => `${s(t.type)}/${s(t.unit)}`), ["samples/count"]);
  equal(`${s(p.periodType!.type)}/${s(p.periodType!.unit)}`, "cpu/nanoseconds");
  equal(p.period, 52631578n);
  equal(p.timeNanos, START);
  equal(p.durationNanos, 10_000_000_000n);

  // Ids are 1..N in array order.
  p.mapping.forEach((m, i) => equal(m.id, BigInt(i + 1)));
  p.location.forEach((l, i) => equal(l.id, BigInt(i + 1)));
  p.function.forEach((f, i) => equal(f.id, BigInt(i + 1)));

  // Mappings in input order, then the synthetic kernel one.
  deepEqual(
    p.mapping.map((m) => [s(m.filename), m.memoryStart, m.memoryLimit, m.fileOffset, s(m.buildId)]),
    [
      ["/usr/bin/app", BigInt(EXE), BigInt(EXE + 0x100000), 0n, "aaaa"],
      ["/usr/lib/libc.so.6", BigInt(LIBC), BigInt(LIBC + 0x100000), 0x1000n, "bbbb"],
      ["[vdso]", BigInt(VDSO), BigInt(VDSO + 0x2000), 0n, ""],
      ["[kernel.kallsyms]", 0n, 0n, 0n, ""],
    ],
  );

  // Leaf first: kernel, then user (vDSO named, native bare), then the marker.
  equal(p.sample.length, 4);
  deepEqual(frames(p, 0), [
    "ksys_read@[kernel.kallsyms]",
    "do_syscall_64@[kernel.kallsyms]",
    "__vdso_clock_gettime@[vdso]",
    `0x${(LIBC + 0x500).toString(16)}@/usr/lib/libc.so.6`,
    `0x${(EXE + 0x1234).toString(16)}@/usr/bin/app`,
    "[truncated]@-",
  ]);
  // Identical (stack, tid) merged; the same stack on another thread is not.
  deepEqual(p.sample.map((x) => x.value), [[5n], [1n], [4n], [1n]]);
  deepEqual(labels(p, 0), ["thread_id=100", "thread_name=main"]);
  deepEqual(labels(p, 1), ["thread_id=101", "thread_name=worker"]);
  deepEqual(p.sample[1].locationId, p.sample[0].locationId);

  // An address outside every mapping keeps its raw address with mapping id 0.
  deepEqual(frames(p, 2), ["0x1234@-", `0x${(EXE + 0x1234).toString(16)}@/usr/bin/app`]);
  // Unknown kernel addresses are named by their address; two addresses in one kernel function
  // share one location.
  deepEqual(frames(p, 3), [
    `0x${K_UNKNOWN.toString(16)}@[kernel.kallsyms]`,
    "ksys_read@[kernel.kallsyms]",
  ]);
  equal(p.sample[3].locationId[1], p.sample[0].locationId[0]);
  equal(p.location[Number(p.sample[0].locationId[0]) - 1].address, K_READ + 5n);

  // Native user locations carry no lines; the server symbolizes them from debuginfo.
  const native = p.location[Number(p.sample[0].locationId[3]) - 1];
  equal(native.line.length, 0);
  equal(native.mappingId, 2n);
  // Functions are interned: one per distinct name.
  deepEqual(p.function.map((f) => s(f.name)).sort(), [
    "0xffffffff90000000",
    "[truncated]",
    "__vdso_clock_gettime",
    "do_syscall_64",
    "ksys_read",
  ]);
  p.function.forEach((f) => equal(f.systemName, f.name));
});

Deno.test("buildProfile() adds no kernel mapping without kernel frames", () => {
  const input = fixtureInput();
  input.samples = input.samples.filter((x) => x.kernel.length === 0);
  const p = buildProfile(input, SYMBOLIZERS);
  deepEqual(p.mapping.map((m) => p.stringTable[Number(m.filename)]), [
    "/usr/bin/app",
    "/usr/lib/libc.so.6",
    "[vdso]",
  ]);
  deepEqual(validateProfile(p), []);
});

Deno.test("buildProfile() without symbolizers names kernel frames by address and leaves vDSO bare", () => {
  const p = buildProfile(fixtureInput(), {});
  deepEqual(validateProfile(p), []);
  deepEqual(frames(p, 0).slice(0, 3), [
    "0xffffffff81200005@[kernel.kallsyms]",
    "0xffffffff8225a660@[kernel.kallsyms]",
    `0x${(VDSO + 0xa10).toString(16)}@[vdso]`,
  ]);
  // A vDSO address no function covers stays bare too.
  const input = fixtureInput();
  input.samples = [{ tid: 1, threadName: "t", count: 1, kernel: [], user: [VDSO + 0x10] }];
  deepEqual(frames(buildProfile(input, SYMBOLIZERS), 0), [
    `0x${(VDSO + 0x10).toString(16)}@[vdso]`,
  ]);
});

Deno.test("buildProfile() derives the period from the frequency", () => {
  const input = fixtureInput();
  input.frequencyHz = 100;
  equal(buildProfile(input, {}).period, 10_000_000n);
  input.frequencyHz = 0;
  throws(() => buildProfile(input, {}), RangeError);
  input.frequencyHz = NaN;
  throws(() => buildProfile(input, {}), RangeError);
});

Deno.test("buildProfile() handles stacks deeper than its scratch buffer", () => {
  const input = fixtureInput();
  const user = Array.from({ length: 1000 }, (_, i) => EXE + 16 * i);
  input.samples = [
    { tid: 1, threadName: "deep", count: 1, kernel: [], user },
    { tid: 1, threadName: "deep", count: 2, kernel: [], user },
  ];
  const p = buildProfile(input, {});
  equal(p.sample.length, 1);
  equal(p.sample[0].locationId.length, 1000);
  equal(p.sample[0].value[0], 3n);
  deepEqual(validateProfile(p), []);
});

Deno.test("buildProfile() accepts the symbolize module's KernelSymbols and VdsoSymbols", () => {
  const sym: Symbolizers = {
    kernel: KernelSymbols.fromText(
      "ffffffff81200000 T ksys_read\nffffffff8225a650 T do_syscall_64\n",
    ),
    vdso: VdsoSymbols.load(),
  };
  const p = buildProfile(fixtureInput(), sym);
  deepEqual(validateProfile(p), []);
  deepEqual(frames(p, 0).slice(0, 2), [
    "ksys_read@[kernel.kallsyms]",
    "do_syscall_64@[kernel.kallsyms]",
  ]);
});

Deno.test("buildProfile() names interpreter frames in place and JIT code outside mappings", () => {
  const interp = {
    frame: (f: { kind: number; addr: number; data: bigint }) =>
      f.addr === 0x1000
        ? { name: "Work.step", file: "/app/w.py", line: 19 + Number(f.data), startLine: 18 }
        : undefined,
    unknown: () => "[python]",
  };
  const jit = {
    lookup: (a: number) => (a >= 0x9000 && a < 0x9100 ? "JS:*hot a.js:1:1" : undefined),
  };
  const p = buildProfile({
    startNanos: START,
    durationNanos: 1n,
    frequencyHz: 19,
    mappings: [{
      start: 0x400000,
      limit: 0x500000,
      offset: 0,
      path: "/usr/bin/python3",
      buildId: "",
    }],
    samples: [
      {
        tid: 1,
        threadName: "py",
        count: 2,
        // leaf: Python frame (line 19), a native caller, an unreadable Python frame, JIT code.
        user: [-1, 0x401000, -2, 0x9010],
        interp: [{ kind: 1, addr: 0x1000, data: 0n }, { kind: 1, addr: 0x2000, data: 0n }],
        kernel: [],
      },
      {
        tid: 1,
        threadName: "py",
        count: 1,
        user: [-1],
        interp: [{ kind: 1, addr: 0x1000, data: 1n }],
        kernel: [],
      },
    ],
  }, { interp, jit });
  equal(validateProfile(p).length, 0);
  deepEqual(frames(p, 0), [
    "Work.step@-",
    "0x401000@/usr/bin/python3",
    "[python]@-",
    "JS:*hot a.js:1:1@-",
  ]);
  const loc = (i: number) => p.location[Number(p.sample[i].locationId[0]) - 1];
  equal(loc(0).line[0].line, 19n);
  equal(loc(1).line[0].line, 20n);
  // One function for both lines, with its file and first line.
  equal(loc(0).line[0].functionId, loc(1).line[0].functionId);
  const fn = p.function[Number(loc(0).line[0].functionId) - 1];
  equal(p.stringTable[Number(fn.filename)], "/app/w.py");
  equal(fn.startLine, 18n);
});
