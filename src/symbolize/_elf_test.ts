// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { parseElfFunctions } from "./_elf.ts";
import { buildElf } from "./_elf_fixture.ts";

Deno.test("parseElfFunctions() lists defined FUNC symbols sorted, global alias first", () => {
  const elf = buildElf([
    { name: "clock_gettime", value: 0xa00n, size: 0x80, bind: 2 },
    { name: "__vdso_clock_gettime", value: 0xa00n, size: 0x80 },
    { name: "__vdso_time", value: 0x900n, size: 0x20 },
    { name: "vdso_data", value: 0x100n, size: 8, type: 1 }, // OBJECT
    { name: "imported", value: 0n, size: 0, shndx: 0 }, // undefined
  ]);
  const { functions, section, loadBias } = parseElfFunctions(elf);
  equal(section, ".dynsym");
  equal(loadBias, 0n);
  deepEqual(functions.map((f) => [f.name, f.offset, f.size]), [
    ["__vdso_time", 0x900, 0x20],
    ["__vdso_clock_gettime", 0xa00, 0x80],
    ["clock_gettime", 0xa00, 0x80],
  ]);
});

Deno.test("parseElfFunctions() subtracts a non-zero PT_LOAD vaddr", () => {
  const elf = buildElf([{ name: "f", value: 0xffffffffff700a00n, size: 16 }], {
    vaddr: 0xffffffffff700000n,
  });
  const { functions, loadBias } = parseElfFunctions(elf);
  equal(loadBias, 0xffffffffff700000n);
  equal(functions[0].offset, 0xa00);
});

Deno.test("parseElfFunctions() prefers .symtab over .dynsym", () => {
  const elf = buildElf([{ name: "local_too", value: 0x10n, size: 4, bind: 0 }], {
    symType: 2,
    extraDynsym: [{ name: "dyn_only", value: 0x20n, size: 4 }],
  });
  const r = parseElfFunctions(elf);
  equal(r.section, ".symtab");
  deepEqual(r.functions.map((f) => f.name), ["local_too"]);
});

Deno.test("parseElfFunctions() rejects malformed images with SyntaxError", () => {
  const good = buildElf([{ name: "f", value: 0x10n, size: 4 }]);
  throws(() => parseElfFunctions(new Uint8Array(10)), SyntaxError);
  const badMagic = good.slice();
  badMagic[1] = 0;
  throws(() => parseElfFunctions(badMagic), /bad magic/);
  const elf32 = good.slice();
  elf32[4] = 1;
  throws(() => parseElfFunctions(elf32), /not ELF64/);
  const bigEndian = good.slice();
  bigEndian[5] = 2;
  throws(() => parseElfFunctions(bigEndian), /little-endian/);
  const farSections = good.slice();
  new DataView(farSections.buffer).setBigUint64(40, 0xffffffffffff0000n, true);
  throws(() => parseElfFunctions(farSections), /section headers .* outside/);
  // Every truncation fails cleanly: only SyntaxError, never a DataView RangeError.
  for (let len = 0; len < good.length; len++) {
    try {
      parseElfFunctions(good.subarray(0, len));
    } catch (e) {
      ok(e instanceof SyntaxError, `length ${len}: ${e}`);
    }
  }
});

Deno.test("parseElfFunctions() skips names outside the string table", () => {
  const elf = buildElf([{ name: "f", value: 0x10n, size: 4 }, {
    name: "g",
    value: 0x20n,
    size: 4,
  }]);
  // Point the first symbol's st_name past the end of .dynstr.
  new DataView(elf.buffer).setUint32(64 + 56 + 24, 999, true);
  deepEqual(parseElfFunctions(elf).functions.map((f) => f.name), ["g"]);
});
