// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { CFI_SECTIONS, type ReadAt, readCfiImage } from "./_cfi_sections.ts";
import { WasmUnwind, WasmUnwindError } from "./_wasm.ts";

let wasmPromise: Promise<WasmUnwind> | undefined;
const wasm = () => (wasmPromise ??= WasmUnwind.load());

function readAtOf(bytes: Uint8Array, counter?: { reads: number; bytes: number }): ReadAt {
  return (buf, pos) => {
    const n = Math.max(0, Math.min(buf.length, bytes.length - pos));
    buf.set(bytes.subarray(pos, pos + n));
    if (counter) {
      counter.reads++;
      counter.bytes += n;
    }
    return Promise.resolve(n);
  };
}

function build(w: WasmUnwind, bytes: Uint8Array): string {
  try {
    return Array.from(w.unwindTableBytes(bytes)).join(",");
  } catch (e) {
    if (e instanceof WasmUnwindError) return `error ${e.code}`;
    throw e;
  }
}

// Real files of this machine: C libraries, C++ (libLLVM-sized), runtimes (Python, Node, Java's
// libjvm, PostgreSQL) and a Go binary. Missing ones are skipped.
const FILES = [
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
  "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
  "/usr/bin/python3.11",
  "/usr/bin/node",
  "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so",
  "/usr/lib/postgresql/15/bin/postgres",
  "/usr/local/go/bin/gofmt",
];

Deno.test("the compact image builds the same table as the whole file, reading far less", async () => {
  const w = await wasm();
  let checked = 0;
  for (const path of FILES) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch {
      continue;
    }
    const counter = { reads: 0, bytes: 0 };
    const { image, bytesRead, whole } = await readCfiImage(
      readAtOf(bytes, counter),
      bytes.length,
    );
    // Go's rows need its code and module data: the whole file.
    assertEquals(whole, path.includes("/go/"), `${path}: read whole ${whole}`);
    assertEquals(counter.bytes, bytesRead);
    assertEquals(build(w, image), build(w, bytes), path);
    if (bytes.length > 50e6) assert(bytesRead < bytes.length / 10, `${path}: ${bytesRead} read`);
    checked++;
  }
  assert(checked >= 3, `only ${checked} real files found`);
});

Deno.test("files without section headers, other classes and truncated headers are read whole", async () => {
  const libc = Deno.readFileSync("/usr/lib/x86_64-linux-gnu/libc.so.6");
  const noSections = libc.slice();
  new DataView(noSections.buffer).setUint16(60, 0, true); // e_shnum = 0
  const r1 = await readCfiImage(readAtOf(noSections), noSections.length);
  assert(r1.whole);
  assertEquals(r1.image.length, noSections.length);

  const elf32 = libc.slice(0, 4096);
  elf32[4] = 1;
  assert((await readCfiImage(readAtOf(elf32), elf32.length)).whole);

  const truncated = libc.slice(0, 8192); // section headers lie past the end
  const r3 = await readCfiImage(readAtOf(truncated), truncated.length);
  assert(r3.whole);
  assertEquals(r3.image.length, truncated.length);

  const tiny = new Uint8Array(10);
  assert((await readCfiImage(readAtOf(tiny), tiny.length)).whole);
});

Deno.test("a section whose bytes lie outside the file is left out, as wasm-unwind would", async () => {
  const w = await wasm();
  const libc = Deno.readFileSync("/usr/lib/x86_64-linux-gnu/libc.so.6");
  const bad = libc.slice();
  const v = new DataView(bad.buffer);
  const shoff = Number(v.getBigUint64(40, true));
  const shnum = v.getUint16(60, true);
  const names = (() => {
    const i = v.getUint16(62, true);
    const off = Number(v.getBigUint64(shoff + i * 64 + 24, true));
    return (at: number) => {
      let end = off + at;
      while (bad[end] !== 0) end++;
      return new TextDecoder().decode(bad.subarray(off + at, end));
    };
  })();
  let found = false;
  for (let i = 0; i < shnum; i++) {
    if (names(v.getUint32(shoff + i * 64, true)) === ".eh_frame") {
      v.setBigUint64(shoff + i * 64 + 24, BigInt(bad.length), true); // offset past the end
      found = true;
    }
  }
  assert(found);
  const { image } = await readCfiImage(readAtOf(bad), bad.length);
  assertEquals(build(w, image), build(w, bad));
  assert(CFI_SECTIONS.has(".eh_frame"));
});
