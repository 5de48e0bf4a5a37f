// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal } from "node:assert/strict";
import { BytesElfSource } from "./elf_source.ts";
import { ET_DYN, ET_EXEC, parseNotes, PF_X, PT_LOAD, readElf } from "./_elf.ts";
import { compileC, run, withTempDir } from "./_test_util.ts";

const MAIN = "int main(void) { return 0; }\n";

Deno.test("readElf() gives the executable load segments that readelf -l lists", async () => {
  await withTempDir((dir) => {
    for (const [flags, type] of [[["-pie", "-fPIE"], ET_DYN], [["-no-pie"], ET_EXEC]] as const) {
      const bin = compileC(dir, `main${type}`, MAIN, [...flags]);
      const img = readElf(new BytesElfSource(Deno.readFileSync(bin)))!;
      equal(img.type, type);
      equal(img.machine, 62); // EM_X86_64
      const ours = img.programHeaders
        .filter((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0)
        .map((p) => [p.offset, p.vaddr, p.filesz]);
      // "  LOAD  0x001000 0x0000000000001000 0x0000000000001000 0x000161 0x000161 R E 0x1000"
      const theirs = run("readelf", ["-lW", bin]).split("\n")
        .filter((l) => /^\s+LOAD\s/.test(l) && / R?W?E /.test(l))
        .map((l) => l.trim().split(/\s+/).slice(1, 5))
        .map(([off, va, , fsz]) => [parseInt(off, 16), parseInt(va, 16), parseInt(fsz, 16)]);
      equal(ours.length > 0, true);
      deepStrictEqual(ours, theirs);
      equal(img.sections.some((s) => s.name === ".text"), true);
    }
  });
});

Deno.test("readElf() follows extended section numbering in section 0", async () => {
  await withTempDir((dir) => {
    const b = Deno.readFileSync(compileC(dir, "main", MAIN));
    const dv = new DataView(b.buffer);
    const shoff = Number(dv.getBigUint64(40, true));
    const shnum = dv.getUint16(60, true);
    const shstrndx = dv.getUint16(62, true);
    const before = readElf(new BytesElfSource(b.slice()))!.sections.map((s) => s.name);
    dv.setUint16(60, 0, true);
    dv.setUint16(62, 0xffff, true); // SHN_XINDEX
    dv.setBigUint64(shoff + 32, BigInt(shnum), true);
    dv.setUint32(shoff + 40, shstrndx, true);
    deepStrictEqual(readElf(new BytesElfSource(b))!.sections.map((s) => s.name), before);
  });
});

Deno.test("parseNotes() pads to 8 bytes for 8-aligned note sections", () => {
  // namesz 4 ("GNU\0"), descsz 4, type 5, then with 8-byte alignment the desc starts at 16.
  const b = new Uint8Array(48);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 4, true);
  dv.setUint32(4, 4, true);
  dv.setUint32(8, 5, true);
  b.set([0x47, 0x4e, 0x55, 0], 12);
  b.set([1, 2, 3, 4], 16);
  dv.setUint32(24, 3, true); // second note: namesz 3 "Go\0", descsz 0, type 4
  dv.setUint32(32, 4, true);
  b.set([0x47, 0x6f, 0], 36);
  const notes = parseNotes(b, 8);
  deepStrictEqual(notes.map((n) => [n.name, n.type, [...n.desc]]), [
    ["GNU", 5, [1, 2, 3, 4]],
    ["Go", 4, []],
  ]);
});

Deno.test("parseNotes() stops at a note that runs past the end", () => {
  const b = new Uint8Array(24);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0xffffffff, true);
  deepStrictEqual(parseNotes(b, 4), []);
  deepStrictEqual(parseNotes(new Uint8Array(11), 4), []);
  equal(parseNotes(new Uint8Array(36), 4).length, 3); // three empty notes
});
