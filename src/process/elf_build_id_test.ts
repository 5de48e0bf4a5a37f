// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, match, notEqual } from "node:assert/strict";
import { createHash } from "node:crypto";
import { elfBuildId } from "./elf_build_id.ts";
import { BytesElfSource, FileElfSource } from "./elf_source.ts";
import { readElf } from "./_elf.ts";
import { compileC, mulberry32, readelfBuildId, run, withTempDir } from "./_test_util.ts";

const HELLO = `#include <stdio.h>
int main(void) { puts("hello"); return 0; }
`;
const HELLO2 = `#include <stdio.h>
int main(int argc, char **argv) { printf("%d %s\\n", argc, argv[0]); return 0; }
`;

function idOfPath(path: string) {
  using src = FileElfSource.open(path);
  return elfBuildId(src);
}

function idOfBytes(bytes: Uint8Array) {
  return elfBuildId(new BytesElfSource(bytes));
}

/** A note as the linker lays it out: sizes, type, padded name, padded descriptor. */
function note(name: string, type: number, desc: Uint8Array): Uint8Array {
  const n = new TextEncoder().encode(name + "\0");
  const pad = (x: number) => Math.ceil(x / 4) * 4;
  const out = new Uint8Array(12 + pad(n.length) + pad(desc.length));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n.length, true);
  dv.setUint32(4, desc.length, true);
  dv.setUint32(8, type, true);
  out.set(n, 12);
  out.set(desc, 12 + pad(n.length));
  return out;
}

/** Offset of the section header named `name` in the file. */
function sectionHeaderOffset(bytes: Uint8Array, name: string): number {
  const img = readElf(new BytesElfSource(bytes))!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const shoff = Number(dv.getBigUint64(40, true));
  const i = img.sections.findIndex((s) => s.name === name);
  if (i < 0) throw new Error(`no section ${name}`);
  return shoff + i * 64;
}

Deno.test("elfBuildId() reads the GNU build ID that readelf prints", async () => {
  await withTempDir((dir) => {
    const bin = compileC(dir, "hello", HELLO, ["-Wl,--build-id=sha1"]);
    const want = readelfBuildId(bin);
    match(want ?? "", /^[0-9a-f]{40}$/);
    deepStrictEqual(idOfPath(bin), { id: want, kind: "gnu" });
    deepStrictEqual(idOfBytes(Deno.readFileSync(bin)), { id: want, kind: "gnu" });
  });
});

Deno.test("elfBuildId() reads the build ID of the deno binary", () => {
  deepStrictEqual(idOfPath(Deno.execPath()), { id: readelfBuildId(Deno.execPath()), kind: "gnu" });
});

Deno.test("elfBuildId() finds the GNU note through PT_NOTE when section headers are gone", async () => {
  await withTempDir((dir) => {
    const bin = compileC(dir, "hello", HELLO, ["-Wl,--build-id=md5"]);
    const bytes = Deno.readFileSync(bin);
    const dv = new DataView(bytes.buffer);
    dv.setBigUint64(40, 0n, true); // e_shoff
    dv.setUint16(60, 0, true); // e_shnum
    dv.setUint16(62, 0, true); // e_shstrndx
    deepStrictEqual(idOfBytes(bytes), { id: readelfBuildId(bin), kind: "gnu" });
  });
});

Deno.test("elfBuildId() hashes .text when there is no build-ID note", async () => {
  await withTempDir((dir) => {
    const bin = compileC(dir, "hello", HELLO, ["-Wl,--build-id=none"]);
    equal(readelfBuildId(bin), undefined);
    run("objcopy", ["-O", "binary", "--only-section=.text", bin, `${dir}/text.bin`]);
    const want = createHash("sha256").update(Deno.readFileSync(`${dir}/text.bin`)).digest("hex");
    const first = idOfPath(bin);
    deepStrictEqual(first, { id: want.slice(0, 32), kind: "text-hash" });
    deepStrictEqual(idOfPath(bin), first);

    const other = compileC(dir, "hello2", HELLO2, ["-Wl,--build-id=none"]);
    equal(idOfPath(other)?.kind, "text-hash");
    notEqual(idOfPath(other)?.id, first?.id);
  });
});

Deno.test("elfBuildId() reads the Go build-ID note when there is no GNU one", async () => {
  await withTempDir((dir) => {
    const goId = "abcDEF123/ghi456/jkl789/mno012";
    const goIdBytes = new TextEncoder().encode(goId);
    Deno.writeFileSync(`${dir}/go.note`, note("Go", 4, goIdBytes));
    const want = Array.from(goIdBytes, (b) => b.toString(16).padStart(2, "0")).join("");

    const plain = compileC(dir, "plain", HELLO, ["-Wl,--build-id=none"]);
    run("objcopy", ["--add-section", `.note.go.buildid=${dir}/go.note`, plain, `${dir}/go`]);
    deepStrictEqual(idOfPath(`${dir}/go`), { id: want, kind: "go" });

    // With both notes, the GNU one wins (see elfBuildId's doc for why).
    const gnu = compileC(dir, "gnu", HELLO, ["-Wl,--build-id=sha1"]);
    run("objcopy", ["--add-section", `.note.go.buildid=${dir}/go.note`, gnu, `${dir}/both`]);
    deepStrictEqual(idOfPath(`${dir}/both`), { id: readelfBuildId(gnu), kind: "gnu" });
  });
});

Deno.test("elfBuildId() returns undefined for files that are not ELF64 little-endian", () => {
  equal(idOfBytes(new Uint8Array(0)), undefined);
  equal(idOfBytes(new TextEncoder().encode("#!/bin/sh\necho hi\n".padEnd(200, " "))), undefined);
  const elf32 = new Uint8Array(128);
  elf32.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  equal(idOfBytes(elf32), undefined);
});

Deno.test("elfBuildId() survives truncation at any point", async () => {
  await withTempDir((dir) => {
    const bytes = Deno.readFileSync(compileC(dir, "hello", HELLO, ["-Wl,--build-id=sha1"]));
    const full = idOfBytes(bytes)!;
    const shoff = Number(new DataView(bytes.buffer).getBigUint64(40, true));
    const cuts = new Set<number>();
    for (let i = 0; i <= 512; i++) cuts.add(i);
    for (let i = 0; i < bytes.length; i += 37) cuts.add(i);
    for (let i = Math.max(0, shoff - 64); i < bytes.length; i++) cuts.add(i);
    let gnu = 0;
    for (const cut of cuts) {
      const id = idOfBytes(bytes.subarray(0, cut));
      if (id) match(id.id, /^[0-9a-f]+$/);
      if (id?.kind === "gnu") {
        equal(id.id, full.id);
        gnu++;
      }
    }
    // Once the headers and the note are in, the ID no longer depends on the cut.
    equal(gnu > 100, true);
  });
});

Deno.test("elfBuildId() survives hundreds of random header mutations", async () => {
  await withTempDir((dir) => {
    const orig = Deno.readFileSync(compileC(dir, "hello", HELLO, ["-Wl,--build-id=sha1"]));
    const dv0 = new DataView(orig.buffer);
    const phoff = Number(dv0.getBigUint64(32, true));
    const shoff = Number(dv0.getBigUint64(40, true));
    const noteOff = readElf(new BytesElfSource(orig))!.sections
      .find((s) => s.name === ".note.gnu.build-id")!.offset;
    // Regions the reader interprets: ELF header, program headers, section headers, notes.
    const regions: [number, number][] = [
      [0, 64],
      [phoff, dv0.getUint16(56, true) * 56],
      [shoff, orig.length - shoff],
      [noteOff, 36],
    ];
    const extremes = [0, 1, 0x7f, 0x80, 0xff];
    const rand = mulberry32(0x5eed);
    const pick = (n: number) => Math.floor(rand() * n);
    let defined = 0;
    for (let i = 0; i < 600; i++) {
      const b = orig.slice();
      const flips = 1 + pick(8);
      for (let j = 0; j < flips; j++) {
        const [start, len] = regions[pick(regions.length)];
        const at = start + pick(len);
        b[at] = rand() < 0.5 ? pick(256) : extremes[pick(extremes.length)];
      }
      const t0 = performance.now();
      const id = idOfBytes(b);
      equal(performance.now() - t0 < 1000, true);
      if (id) {
        match(id.id, /^[0-9a-f]+$/);
        defined++;
      }
    }
    equal(defined > 0, true);
  });
});

Deno.test("elfBuildId() survives hostile sizes and counts", async () => {
  await withTempDir((dir) => {
    const orig = Deno.readFileSync(compileC(dir, "hello", HELLO, ["-Wl,--build-id=none"]));
    const textHash = idOfBytes(orig)!;
    equal(textHash.kind, "text-hash");
    const mutate = (f: (dv: DataView, b: Uint8Array) => void) => {
      const b = orig.slice();
      f(new DataView(b.buffer), b);
      return idOfBytes(b);
    };
    const text = sectionHeaderOffset(orig, ".text");
    // A .text that is empty, runs past the end, or sits at 2^64 - 1.
    equal(mutate((dv) => dv.setBigUint64(text + 32, 0n, true)), undefined);
    equal(mutate((dv) => dv.setBigUint64(text + 32, 1n << 40n, true)), undefined);
    equal(mutate((dv) => dv.setBigUint64(text + 24, (1n << 64n) - 1n, true)), undefined);
    // Huge header counts and entry sizes: the tables are ignored, not read.
    equal(mutate((dv) => dv.setUint16(60, 0xffff, true)), undefined);
    equal(mutate((dv) => dv.setUint16(58, 0xffff, true)), undefined);
    deepStrictEqual(mutate((dv) => dv.setUint16(56, 0xffff, true)), textHash);
    deepStrictEqual(mutate((dv) => dv.setUint16(54, 0xffff, true)), textHash);
    // Extended numbering pointing at 2^32 - 1 sections.
    equal(
      mutate((dv) => {
        const shoff = Number(dv.getBigUint64(40, true));
        dv.setUint16(60, 0, true);
        dv.setBigUint64(shoff + 32, 0xffffffffn, true);
      }),
      undefined,
    );
    // A section-name index out of range leaves every name empty, so no .text is found.
    equal(mutate((dv) => dv.setUint16(62, 0xfffe, true)), undefined);

    // Notes with sizes past the end, or zero-sized notes filling a section, stop cleanly.
    const withNotes = (notes: Uint8Array) =>
      mutate((dv, b) => {
        // Turn .text into a note section holding `notes`.
        b.set(notes, Number(dv.getBigUint64(text + 24, true)));
        dv.setUint32(text + 4, 7, true); // SHT_NOTE
        dv.setBigUint64(text + 32, BigInt(notes.length), true);
      });
    const bad = note("GNU", 3, new Uint8Array(20).fill(0xab));
    new DataView(bad.buffer).setUint32(4, 0xffffffff, true);
    // No note parses, so the section (still named .text) is hashed instead.
    equal(withNotes(bad)?.kind, "text-hash");
    equal(withNotes(new Uint8Array(120))?.kind, "text-hash");
    deepStrictEqual(withNotes(note("GNU", 3, new Uint8Array([1, 2, 3, 4]))), {
      id: "01020304",
      kind: "gnu",
    });
  });
});
