// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Linear-memory growth of wasm-unwind while it builds one table, per file, for one or more
 * built modules (e.g. main's and this tree's), alternating A B A B in one command. Each build
 * runs in a fresh instance, as the table worker runs it (`unwindTableSparse`, the result read in
 * place); `image` is the memory the input took, `build` what the build itself grew it by (wasm
 * memory never shrinks, so the worst file sets a worker's floor). `--whole` hands the whole
 * file instead of the compact image. The SHA-256 of each serialized table is printed, so two
 * modules can be checked to build the same bytes; at the end, the files whose tables (or errors)
 * differ between modules or rounds are listed, and the exit code is 1 if there is one. A last
 * line per module builds all files in one instance, in order, as one worker does: its final
 * memory is that worker's floor. `--files-from=LIST` reads more file names from LIST (one a line).
 *
 * ```sh
 * deno run -A wasm-unwind/memory.ts [--rounds=2] [--whole] [--wasm=A.wasm --wasm=B.wasm]
 *   [--files-from=LIST] [FILE...]
 * ```
 *
 * Default files: libLLVM-15, node, the JDK 17's libjvm, the go command, libc.
 *
 * @module
 */

import { DEFAULT_WASM_UNWIND_URL, WasmUnwind } from "../src/unwind/_wasm.ts";
import { readCfiImage } from "../src/unwind/_cfi_sections.ts";

const DEFAULT_FILES = [
  "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
  "/usr/bin/node",
  "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so",
  "/usr/local/go/bin/go",
  "/lib/x86_64-linux-gnu/libc.so.6",
];

const args = Deno.args;
const rounds = Number(args.find((a) => a.startsWith("--rounds="))?.slice(9) ?? 2);
const whole = args.includes("--whole");
const wasmPaths = args.filter((a) => a.startsWith("--wasm=")).map((a) => a.slice(7));
if (wasmPaths.length === 0) wasmPaths.push(DEFAULT_WASM_UNWIND_URL.pathname);
const named = args.filter((a) => !a.startsWith("--"));
for (const a of args.filter((a) => a.startsWith("--files-from="))) {
  const text = Deno.readTextFileSync(a.slice("--files-from=".length));
  named.push(...text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0));
}
const files = named.length > 0 ? named : DEFAULT_FILES;

const MiB = 1 << 20;
// deno-lint-ignore no-console -- a benchmark prints its results
const log = console.log;

interface Build {
  image: number;
  before: number;
  after: number;
  rows: number;
  sha: string;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds one file's table in `w`; memory before the image, after it, after the build. */
async function build(w: WasmUnwind, path: string): Promise<Build> {
  const fd = Deno.openSync(path);
  try {
    const size = fd.statSync().size;
    const pread = (buf: Uint8Array, pos: number): number => {
      fd.seekSync(pos, Deno.SeekMode.Start);
      let n = 0;
      while (n < buf.length) {
        const r = fd.readSync(buf.subarray(n));
        if (r === null || r === 0) break;
        n += r;
      }
      return n;
    };
    const readAt = (buf: Uint8Array, pos: number) => Promise.resolve(pread(buf, pos));
    const start = w.memoryBytes;
    let before = 0;
    let image = 0;
    const bytes = await w.unwindTableSparse(
      async (alloc) => {
        const got = whole
          ? {
            image: (() => {
              const b = alloc(size);
              pread(b, 0);
              return b;
            })(),
            whole: true,
          }
          : await readCfiImage(readAt, size, alloc);
        image = got.image.length;
        before = w.memoryBytes;
        return { image: got.image, whole: got.whole };
      },
      pread,
      (serialized) => serialized.slice() as Uint8Array<ArrayBuffer>,
    );
    const rows = new DataView(bytes.buffer).getUint32(12, true);
    const sha = await sha256(bytes);
    return { image, before: before - start, after: w.memoryBytes - start, rows, sha };
  } finally {
    fd.close();
  }
}

const fmt = (n: number) => (n / MiB).toFixed(1).padStart(7);
const modules = await Promise.all(wasmPaths.map((p) => WasmUnwind.compile(p)));
const name = (i: number) => `${String.fromCharCode(65 + i)}`;
wasmPaths.forEach((p, i) => log(`${name(i)} = ${p}`));
log(`input: ${whole ? "whole file" : "compact image (as the table worker)"}`);
log(
  "round module file                                      rows  image MiB  +image  +build  total  sha256[0..8]",
);
const growth = new Map<string, number[]>();
// Per file, what each build gave: the table's full SHA-256 or the error message.
const outcomes = new Map<string, Set<string>>();
const outcome = (path: string, what: string) =>
  outcomes.set(path, (outcomes.get(path) ?? new Set()).add(what));
for (let r = 0; r < rounds; r++) {
  // A B A B: the order of the modules alternates between rounds.
  const order = wasmPaths.map((_, i) => i);
  if (r % 2 === 1) order.reverse();
  for (const i of order) {
    for (const path of files) {
      const w = await WasmUnwind.load(modules[i]);
      let b: Build;
      try {
        b = await build(w, path);
      } catch (err) {
        log(
          `${String(r + 1).padStart(5)} ${name(i).padEnd(6)} ${path}: ${(err as Error).message}`,
        );
        outcome(path, `error: ${(err as Error).message}`);
        continue;
      }
      outcome(path, b.sha);
      const key = `${name(i)} ${path}`;
      growth.set(key, [...(growth.get(key) ?? []), b.after - b.before]);
      log(
        `${String(r + 1).padStart(5)} ${name(i).padEnd(6)} ${path.slice(-40).padEnd(40)} ${
          String(b.rows).padStart(8)
        } ${fmt(b.image)}   ${fmt(b.before)} ${fmt(b.after - b.before)} ${fmt(b.after)}  ${
          b.sha.slice(0, 16)
        }`,
      );
    }
  }
}
for (let i = 0; i < wasmPaths.length; i++) {
  const w = await WasmUnwind.load(modules[i]);
  for (const path of files) await build(w, path).catch(() => undefined);
  log(`${name(i)}: all files in one instance: ${fmt(w.memoryBytes)} MiB of linear memory`);
}
log("median +build MiB per file:");
for (const path of files) {
  const cells = wasmPaths.map((_, i) => {
    const g = [...(growth.get(`${name(i)} ${path}`) ?? [])].sort((a, b) => a - b);
    return `${name(i)} ${fmt(g[Math.floor(g.length / 2)] ?? NaN)}`;
  });
  log(`  ${path.slice(-40).padEnd(40)} ${cells.join("  ")}`);
}
const differing = [...outcomes].filter(([, seen]) => seen.size > 1).map(([path]) => path);
const errors = [...outcomes].filter(([, seen]) => [...seen].every((o) => o.startsWith("error")));
log(
  `same table from every module and round: ${
    outcomes.size - differing.length
  } of ${outcomes.size} files (${errors.length} the same error)`,
);
for (const path of differing) log(`  DIFFERS: ${path}: ${[...outcomes.get(path)!].join(" / ")}`);
if (differing.length > 0) Deno.exit(1);
