// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, match, ok } from "node:assert/strict";
import { VdsoSymbols } from "./vdso.ts";
import { buildElf } from "./_elf_fixture.ts";

Deno.test("VdsoSymbols.load() names clock_gettime in the host's vDSO", () => {
  const vdso = VdsoSymbols.load();
  equal(vdso.error, undefined, vdso.error?.message);
  ok(vdso.size > 0);
  ok(vdso.imageSize >= 4096);
  const name = ["__vdso_clock_gettime", "clock_gettime"].find((n) =>
    vdso.offsetOf(n) !== undefined
  );
  ok(name !== undefined, "no clock_gettime symbol in the vDSO");
  const off = vdso.offsetOf(name)!;
  match(vdso.lookup(off) ?? "", /^(__vdso_)?clock_gettime$/);
  match(vdso.lookup(off + 1) ?? "", /^(__vdso_)?clock_gettime$/);
  equal(vdso.lookup(vdso.imageSize + 4096), undefined);
  equal(vdso.lookup(-1), undefined);
});

Deno.test("VdsoSymbols.fromImage() bounds lookups by symbol size", () => {
  const vdso = VdsoSymbols.fromImage(buildElf([
    { name: "clock_gettime", value: 0xa00n, size: 0x80, bind: 2 },
    { name: "__vdso_clock_gettime", value: 0xa00n, size: 0x80 },
    { name: "__vdso_getcpu", value: 0xb00n, size: 0x20 },
    { name: "sizeless", value: 0xc00n, size: 0 },
  ]));
  equal(vdso.error, undefined);
  equal(vdso.lookup(0x9ff), undefined);
  equal(vdso.lookup(0xa00), "__vdso_clock_gettime");
  equal(vdso.lookup(0xa7f), "__vdso_clock_gettime");
  equal(vdso.lookup(0xa80), undefined); // in the gap after clock_gettime
  equal(vdso.lookup(0xb10), "__vdso_getcpu");
  equal(vdso.lookup(0xc00), "sizeless");
  equal(vdso.lookup(0xc01), undefined);
  equal(vdso.offsetOf("clock_gettime"), 0xa00);
  equal(vdso.offsetOf("nope"), undefined);
});

Deno.test("VdsoSymbols records an error instead of throwing", () => {
  const bad = VdsoSymbols.fromImage(new Uint8Array(64));
  match(bad.error?.message ?? "", /^Cannot parse the vDSO: .*bad magic/);
  equal(bad.lookup(0), undefined);
  const empty = VdsoSymbols.fromImage(buildElf([{ name: "data", value: 0n, size: 1, type: 1 }]));
  match(empty.error?.message ?? "", /no function symbols/);
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/maps`, "00400000-00401000 r-xp 00000000 08:01 1 /bin/true\n");
    const missing = VdsoSymbols.load(`${dir}/maps`);
    match(missing.error?.message ?? "", /no \[vdso\] mapping/);
    equal(missing.lookup(0x100), undefined);
    equal(VdsoSymbols.load(`${dir}/nonexistent`).lookup(0), undefined);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
