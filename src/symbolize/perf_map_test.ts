// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal } from "node:assert/strict";
import { CodeRanges, JitSymbols, parseJitdump, parsePerfMap } from "./perf_map.ts";

Deno.test("parsePerfMap() reads ranges, skips bad lines, and later entries win", () => {
  const r = new CodeRanges();
  const bad = parsePerfMap(
    "1000 100 JS:*hot a.js:1:1\nnot a line\n2000 10 Interpreter\n1000 80 LazyCompile:~b b.js:2\n",
    r,
  );
  equal(bad, 1);
  equal(r.lookup(0x1000), "LazyCompile:~b b.js:2");
  equal(r.lookup(0x1090), "JS:*hot a.js:1:1"); // past the newer, shorter range
  equal(r.lookup(0x200f), "Interpreter");
  equal(r.lookup(0x2010), undefined);
  equal(r.lookup(0xfff), undefined);
});

function jitdump(records: Uint8Array[]): Uint8Array {
  const head = new Uint8Array(40);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, 0x4a695444, true);
  dv.setUint32(4, 1, true);
  dv.setUint32(8, 40, true);
  const all = [head, ...records];
  const out = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of all) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

function load(addr: number, size: number, name: string): Uint8Array {
  const n = new TextEncoder().encode(name);
  const b = new Uint8Array(56 + n.length + 1 + size);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0, true);
  dv.setUint32(4, b.length, true);
  dv.setBigUint64(24, BigInt(addr), true); // vma
  dv.setBigUint64(32, BigInt(addr), true); // code_addr
  dv.setBigUint64(40, BigInt(size), true);
  b.set(n, 56);
  return b;
}

function move(from: number, to: number, size: number): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 1, true);
  dv.setUint32(4, 64, true);
  dv.setBigUint64(32, BigInt(from), true);
  dv.setBigUint64(40, BigInt(to), true);
  dv.setBigUint64(48, BigInt(size), true);
  return b;
}

Deno.test("parseJitdump() reads code loads and moves, and stops at a cut record", () => {
  const r = new CodeRanges();
  const whole = jitdump([load(0x5000, 32, "JS:*f x.js:3"), move(0x5000, 0x9000, 32)]);
  const cut = whole.subarray(0, whole.length - 10);
  const next = parseJitdump(cut, 0, r);
  equal(r.lookup(0x5010), "JS:*f x.js:3");
  equal(r.lookup(0x9010), undefined);
  equal(parseJitdump(whole.subarray(next), next, r), whole.length);
  equal(r.lookup(0x9010), "JS:*f x.js:3");
  equal(parseJitdump(new Uint8Array(64), 0, new CodeRanges()), -1);
});

Deno.test("JitSymbols reads a process's perf map inside its root and again when it grows", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/tmp`);
    const path = `${root}/tmp/perf-${Deno.pid}.map`;
    await Deno.writeTextFile(path, "1000 100 first\n2000 10 sec");
    const jit = new JitSymbols({ rootOf: () => root, maxBytesPerProcess: 1 << 10 });
    let sym = jit.symbolizer(Deno.pid)!;
    equal(sym.lookup(0x1010), "first");
    equal(sym.lookup(0x2000), undefined); // the last line is not complete yet
    await Deno.writeTextFile(path, "ond\n3000 10 third\n", { append: true });
    sym = jit.symbolizer(Deno.pid)!;
    equal(sym.lookup(0x2000), "second");
    equal(sym.lookup(0x3000), "third");
    // Past the per-process bound nothing more is read.
    await Deno.writeTextFile(path, `4000 10 ${"x".repeat(2000)}\n`, { append: true });
    sym = jit.symbolizer(Deno.pid)!;
    equal(sym.lookup(0x4000), undefined);
    equal(jit.symbolizer(Deno.pid)?.lookup(0x1010), "first");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("JitSymbols does not follow a symlink out of the process's root", async () => {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/tmp`);
    await Deno.writeTextFile(`${outside}/secret.map`, "1000 100 secret\n");
    // An absolute link resolves inside the root, where the target does not exist.
    await Deno.symlink(`${outside}/secret.map`, `${root}/tmp/perf-${Deno.pid}.map`);
    const jit = new JitSymbols({ rootOf: () => root });
    equal(jit.symbolizer(Deno.pid), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
