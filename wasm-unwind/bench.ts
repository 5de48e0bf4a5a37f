// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Times the unwind-table build of the same crate in WebAssembly (V8, in this Deno) and
 * natively (`target/release/unwind_table_native`, built by `bash wasm-unwind/build.sh
 * --native`). Both time the same work: `build_unwind_table` + serialization of a file already
 * in memory. Prints rows, bytes per packed row, time, rows/s and the WASM/native speed ratio.
 *
 * ```sh
 * bash wasm-unwind/build.sh --native
 * deno run -A wasm-unwind/bench.ts [--repeat=15] [FILE...]
 * deno run -A wasm-unwind/bench.ts --wasm=A.wasm --wasm=B.wasm [--repeat=15] [FILE...]
 * ```
 *
 * With two or more `--wasm` modules (e.g. main's and this tree's), the modules are timed
 * against each other instead of against native: per file, each module in turn, twice in the
 * orders A B and B A, the best warm and the first (cold) call of each, and each module's warm
 * time over the first's.
 *
 * Default files: libc, libstdc++, this Deno binary, and the largest library with CFI found
 * among a few well-known ones (libLLVM).
 *
 * @module
 */

import { DEFAULT_WASM_UNWIND_URL } from "../src/unwind/_wasm.ts";
import { decodeUnwindTable, PACKED_ROW_SIZE, RULE_SIZE } from "../src/unwind/table.ts";

interface Exports {
  memory: WebAssembly.Memory;
  alloc(len: number): number;
  dealloc(ptr: number, len: number): void;
  unwind_table(ptr: number, len: number): number;
  result_len(): number;
  result_free(): void;
  last_error_code(): number;
  error_message(): number;
  error_message_len(): number;
}

const NATIVE = new URL("./target/release/unwind_table_native", import.meta.url);
const BIG_CANDIDATES = [
  "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
  "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
  "/usr/lib/llvm-14/lib/libclang-cpp.so.14",
];

function exists(path: string | URL): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

interface Timing {
  rows: number;
  rules: number;
  bytes: number;
  /** First call of a fresh instance (V8's baseline tier, before optimization). */
  coldMs: number;
  /** Best warm WebAssembly call. */
  wasmMs: number;
  /** Best native call, or NaN without the native binary. */
  nativeMs: number;
  error?: string;
}

/** Best native time over `repeat` calls, measured inside the native process. */
async function nativeBest(file: string, repeat: number): Promise<number> {
  const res = await new Deno.Command(NATIVE, {
    args: ["--json", "--repeat", String(repeat), file],
    stdout: "piped",
  }).output();
  const line = new TextDecoder().decode(res.stdout).trim();
  return line ? (JSON.parse(line) as { ms: number }).ms : NaN;
}

/**
 * Times one file, alternating rounds of WebAssembly and native calls so that both see the
 * same machine load (shared machines are noisy); keeps the best of each.
 */
async function timeFile(
  module: WebAssembly.Module,
  file: string,
  rounds: number,
  perRound: number,
  withNative = true,
): Promise<Timing> {
  const data = await Deno.readFile(file);
  // A fresh instance, as a worker would have.
  // `env.read_file` serves `unwind_table_sparse` only; `unwind_table` (timed here) never calls it.
  const env = { read_file: () => -1 };
  const e = (await WebAssembly.instantiate(module, { env })).exports as unknown as Exports;
  const ptr = e.alloc(data.length);
  new Uint8Array(e.memory.buffer, ptr, data.length).set(data);
  const haveNative = withNative && exists(NATIVE);
  let coldMs = NaN;
  let wasmMs = Infinity;
  let nativeMs = haveNative ? Infinity : NaN;
  let result = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < perRound; i++) {
        const t = performance.now();
        result = e.unwind_table(ptr, data.length);
        const ms = performance.now() - t;
        if (Number.isNaN(coldMs)) coldMs = ms;
        // The first two rounds warm up: V8 tiers hot functions up in the background.
        else if (r >= 2 || rounds <= 2) wasmMs = Math.min(wasmMs, ms);
        if (result === 0) break;
      }
      if (result === 0) break;
      if (haveNative) nativeMs = Math.min(nativeMs, await nativeBest(file, perRound));
    }
    if (result === 0) {
      const error = new TextDecoder().decode(
        new Uint8Array(e.memory.buffer, e.error_message(), e.error_message_len()),
      );
      return { rows: 0, rules: 0, bytes: 0, coldMs, wasmMs: NaN, nativeMs: NaN, error };
    }
    const table = decodeUnwindTable(
      new Uint8Array(e.memory.buffer, result, e.result_len()).slice(),
    );
    e.result_free();
    return {
      rows: table.pcs.length,
      rules: table.rules.length,
      bytes: table.pcs.length * PACKED_ROW_SIZE + table.rules.length * RULE_SIZE,
      coldMs,
      wasmMs,
      nativeMs,
    };
  } finally {
    e.dealloc(ptr, data.length);
  }
}

/** Calls of one `timeFile` that count as warm (see its loop). */
function warmCalls(rounds: number, perRound: number): number {
  return rounds <= 2 ? rounds * perRound - 1 : (rounds - 2) * perRound;
}

/** Times each module on each file (A B, then B A), best warm and best cold call of each. */
async function compareModules(
  paths: string[],
  files: string[],
  rounds: number,
  perRound: number,
): Promise<void> {
  const modules = await Promise.all(
    paths.map(async (p) => WebAssembly.compile(await Deno.readFile(p))),
  );
  // deno-lint-ignore no-console -- a benchmark prints its results
  const log = console.log;
  paths.forEach((p, i) => log(`${String.fromCharCode(65 + i)} = ${p}`));
  log(
    `${"file".padEnd(44)} module ${"rows".padStart(9)} ${"wasm ms".padStart(8)} ` +
      `${"(cold)".padStart(8)} ${"/A".padStart(6)}`,
  );
  for (const file of files) {
    const best = modules.map(() => ({ warm: Infinity, cold: Infinity, rows: 0, error: "" }));
    for (let pass = 0; pass < 2; pass++) {
      const order = modules.map((_, i) => i);
      if (pass === 1) order.reverse();
      for (const i of order) {
        const t = await timeFile(modules[i], file, rounds, perRound, false);
        const b = best[i];
        if (t.error) b.error = t.error;
        b.warm = Math.min(b.warm, t.wasmMs);
        b.cold = Math.min(b.cold, t.coldMs);
        b.rows = t.rows;
      }
    }
    const name = file.length > 44 ? `…${file.slice(-43)}` : file;
    best.forEach((b, i) => {
      const label = String.fromCharCode(65 + i).padEnd(6);
      if (b.error) return log(`${name.padEnd(44)} ${label} ${b.error}`);
      log(
        `${name.padEnd(44)} ${label} ${String(b.rows).padStart(9)} ${
          b.warm.toFixed(2).padStart(8)
        } ${b.cold.toFixed(1).padStart(8)} ${(b.warm / best[0].warm).toFixed(3).padStart(6)}`,
      );
    });
  }
  log(
    `wasm ms = best warm call of ${2 * warmCalls(rounds, perRound)} per module (after ` +
      `the warm-up rounds of each fresh instance), cold = best first call of a fresh instance; ` +
      `/A = warm time over module A's.`,
  );
}

async function main(): Promise<void> {
  let repeat = 15;
  const files: string[] = [];
  const wasmPaths: string[] = [];
  for (const arg of Deno.args) {
    const m = arg.match(/^--repeat=(\d+)$/);
    if (m) repeat = Number(m[1]);
    else if (arg.startsWith("--wasm=")) wasmPaths.push(arg.slice("--wasm=".length));
    else files.push(arg);
  }
  if (files.length === 0) {
    files.push("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
    files.push(Deno.execPath());
    const big = BIG_CANDIDATES.find(exists);
    if (big) files.push(big);
  }
  const perRound = 3;
  const rounds = Math.max(1, Math.ceil(repeat / perRound));
  if (wasmPaths.length > 1) return await compareModules(wasmPaths, files, rounds, perRound);
  const module = await WebAssembly.compile(
    await Deno.readFile(wasmPaths[0] ?? DEFAULT_WASM_UNWIND_URL),
  );
  // deno-lint-ignore no-console -- a benchmark prints its results
  const log = console.log;
  if (!exists(NATIVE)) {
    log(
      `(native timings missing: run 'bash wasm-unwind/build.sh --native' for ${NATIVE.pathname})`,
    );
  }
  log(
    `${"file".padEnd(44)} ${"rows".padStart(9)} ${"rules".padStart(5)} ${"B/row".padStart(5)} ` +
      `${"wasm ms".padStart(8)} ${"(cold)".padStart(8)} ${"native".padStart(8)} ` +
      `${"Mrows/s".padStart(7)} ${"wasm/native".padStart(11)}`,
  );
  for (const file of files) {
    const t = await timeFile(module, file, rounds, perRound);
    const name = file.length > 44 ? `…${file.slice(-43)}` : file;
    if (t.error) {
      log(`${name.padEnd(44)} ${t.error}`);
      continue;
    }
    log(
      `${name.padEnd(44)} ${String(t.rows).padStart(9)} ${String(t.rules).padStart(5)} ` +
        `${(t.bytes / t.rows).toFixed(2).padStart(5)} ${t.wasmMs.toFixed(2).padStart(8)} ` +
        `${t.coldMs.toFixed(1).padStart(8)} ${t.nativeMs.toFixed(2).padStart(8)} ` +
        `${(t.rows / t.wasmMs / 1000).toFixed(2).padStart(7)} ` +
        `${(t.nativeMs / t.wasmMs).toFixed(2).padStart(11)}`,
    );
  }
  log(
    `B/row = (rows × ${PACKED_ROW_SIZE} + rules × ${RULE_SIZE}) / rows (the reference: 14 B/row). ` +
      `wasm ms = best of ${Math.max(1, rounds - 2) * perRound} warm calls (2 rounds of ` +
      `warm-up), native = best of ${rounds * perRound}, in alternating rounds of ${perRound}; ` +
      `cold = first WebAssembly call; wasm/native = native time / wasm time (1.0 = as fast).`,
  );
}

if (import.meta.main) {
  await main();
}
