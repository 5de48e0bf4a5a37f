// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { CFI_SECTIONS, type ReadAt, readCfiImage } from "./_cfi_sections.ts";
import { WasmUnwind, WasmUnwindError } from "./_wasm.ts";
import { buildGo, GO_TOOLCHAINS } from "../../tests/_lib/go_toolchains.ts";

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

/**
 * The table as the table worker builds it: the image read straight into wasm-unwind's memory,
 * the rest of the file read by wasm-unwind through `readFile` (counted in `counter`).
 */
async function buildSparse(
  w: WasmUnwind,
  bytes: Uint8Array,
  counter: { reads: number; bytes: number },
): Promise<{ table: string; whole: boolean; go: boolean; imageBytes: number }> {
  let info = { whole: false, go: false, imageBytes: 0 };
  const readFile = (buf: Uint8Array, pos: number) => {
    const n = Math.max(0, Math.min(buf.length, bytes.length - pos));
    buf.set(bytes.subarray(pos, pos + n));
    counter.reads++;
    counter.bytes += n;
    return n;
  };
  const readAt = readAtOf(bytes);
  let table: string;
  try {
    table = Array.from(
      await w.unwindTableSparse(async (alloc) => {
        const r = await readCfiImage(readAt, bytes.length, alloc);
        info = { whole: r.whole, go: r.go, imageBytes: r.image.length };
        return r;
      }, readFile),
    ).join(",");
  } catch (e) {
    if (!(e instanceof WasmUnwindError)) throw e;
    table = `error ${e.code}`;
  }
  return { table, ...info };
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
    const { image, bytesRead, whole, go } = await readCfiImage(
      readAtOf(bytes, counter),
      bytes.length,
    );
    assert(!whole, `${path}: read whole`);
    assertEquals(go, path.includes("/go/"), `${path}: go ${go}`);
    assertEquals(counter.bytes, bytesRead);
    const expected = build(w, bytes);
    assert(!expected.startsWith("error"), `${path}: ${expected}`);
    if (!go) assertEquals(build(w, image), expected, path);
    // As the table worker builds it (a Go file's code read by wasm-unwind while it builds).
    const sparse = await buildSparse(w, bytes, { reads: 0, bytes: 0 });
    assertEquals(sparse.table, expected, `${path}: the sparse build differs`);
    if (bytes.length > 50e6) assert(bytesRead < bytes.length / 10, `${path}: ${bytesRead} read`);
    checked++;
  }
  assert(checked >= 3, `only ${checked} real files found`);
});

for (const tc of GO_TOOLCHAINS) {
  Deno.test({
    name:
      `Go files: the compact image and reads of the code build the whole file's table (${tc.name})`,
    sanitizeResources: false,
    async fn() {
      const w = await wasm();
      const dir = await Deno.makeTempDir({ prefix: "agent-cfi-go-" });
      try {
        const builds = [
          ["default", {}],
          ["stripped", { ldflags: "-s -w" }],
          ["pie", { buildmode: "pie" }],
          ["cgo", { cgo: true }],
        ] as const;
        for (const [label, opts] of builds) {
          const dirName = label === "cgo" ? "go_cgo" : "go_chain";
          const bin = await buildGo(tc, dirName, `${dir}/${label}`, opts);
          const bytes = Deno.readFileSync(bin);
          const counter = { reads: 0, bytes: 0 };
          const sparse = await buildSparse(w, bytes, counter);
          const expected = build(w, bytes);
          assert(!expected.startsWith("error"), `${label}: ${expected}`);
          assert(!sparse.whole && sparse.go, `${label}: whole ${sparse.whole}, go ${sparse.go}`);
          assertEquals(sparse.table, expected, `${tc.name} ${label}: the sparse build differs`);
          // The image holds .gopclntab and module data, not the code: well under the file; the
          // code was read by wasm-unwind in windows of 256 KiB, in order, not function by
          // function (a window or two more for data outside the image).
          assert(sparse.imageBytes < bytes.length * 0.6, `${label}: image ${sparse.imageBytes}`);
          const text = w.elfFacts(bytes).text!.size;
          const windows = Math.ceil(text / (256 << 10));
          assert(counter.reads > 0 && counter.reads <= windows + 4, `${label}: ${counter.reads}`);
          assert(counter.bytes <= text + (4 << 18), `${label}: ${counter.bytes} of ${text}`);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

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
