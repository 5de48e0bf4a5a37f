// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Mutation fuzzer of the wasm-unwind module: mutated ELF files (headers, section and program
 * headers, `.eh_frame`, `.eh_frame_hdr`, `.debug_frame`) go through both exports. A trap
 * (WebAssembly `RuntimeError`), a JS exception other than a module error code, or linear
 * memory past the bound is a failure; the input is written out for reproduction.
 *
 * ```sh
 * deno run -A wasm-unwind/fuzz.ts --iterations=100000 [--seed=1] [--file=/usr/bin/true ...]
 *   [--wasm=wasm-unwind/lib/wasm_unwind.wasm] [--max-memory-mib=256] [--out=/tmp/wasm-unwind-fuzz]
 * ```
 *
 * The short run in CI is `src/unwind/wasm_test.ts`, which imports {@link runFuzz}.
 *
 * @module
 */

import { WasmUnwind, WasmUnwindError } from "../src/unwind/_wasm.ts";

/** Deterministic xorshift32 generator. */
export class Rng {
  #state: number;

  /** @param seed Any integer; 0 is replaced by a fixed constant. */
  constructor(seed: number) {
    this.#state = (seed >>> 0) || 0x9e3779b9;
  }

  /** @returns The next 32-bit value. */
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }

  /**
   * @param n Upper bound (exclusive), at least 1.
   * @returns A value in `[0, n)`.
   */
  below(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }
}

/**
 * File ranges worth mutating more often: the ELF and program headers, the section header
 * table, and the CFI sections. Reads ELF64 little-endian section headers only; other inputs
 * get the whole file as one range.
 *
 * @param file A seed ELF file.
 * @returns `[start, end)` ranges.
 */
export function hotRanges(file: Uint8Array): Array<[number, number]> {
  const ranges: Array<[number, number]> = [[0, Math.min(file.length, 64 + 56 * 16)]];
  if (file.length < 64 || file[4] !== 2 || file[5] !== 1) return [[0, file.length]];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  if (shentsize !== 64 || shoff + shnum * 64 > file.length || shstrndx >= shnum) return ranges;
  ranges.push([shoff, shoff + shnum * 64]);
  const section = (i: number) => {
    const at = shoff + i * 64;
    return {
      name: view.getUint32(at, true),
      offset: Number(view.getBigUint64(at + 0x18, true)),
      size: Number(view.getBigUint64(at + 0x20, true)),
    };
  };
  const strtab = section(shstrndx);
  const nameAt = (off: number) => {
    let end = strtab.offset + off;
    while (end < file.length && file[end] !== 0) end++;
    return new TextDecoder().decode(file.subarray(strtab.offset + off, end));
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const name = nameAt(s.name);
    if (
      [".eh_frame", ".eh_frame_hdr", ".debug_frame", ".note.gnu.build-id", ".dynamic"].includes(
        name,
      ) && s.offset + s.size <= file.length
    ) {
      ranges.push([s.offset, s.offset + s.size]);
    }
  }
  return ranges;
}

const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

/**
 * Returns a mutated copy of `seed`: 1-8 mutations, mostly inside `ranges`.
 *
 * @param rng The generator.
 * @param seed The original file.
 * @param ranges Hot ranges from {@link hotRanges}.
 * @returns The mutated file.
 */
export function mutate(rng: Rng, seed: Uint8Array, ranges: Array<[number, number]>): Uint8Array {
  let out = seed.slice();
  const count = 1 + rng.below(8);
  const pos = () => {
    if (rng.below(4) === 0 || ranges.length === 0) return rng.below(out.length);
    const [a, b] = ranges[rng.below(ranges.length)];
    return Math.min(out.length - 1, a + rng.below(Math.max(1, b - a)));
  };
  for (let m = 0; m < count && out.length > 0; m++) {
    const at = pos();
    switch (rng.below(8)) {
      case 0:
        out[at] ^= 1 << rng.below(8);
        break;
      case 1:
        out[at] = rng.next() & 0xff;
        break;
      case 2:
        out[at] = rng.below(2) ? 0 : 0xff;
        break;
      case 3: { // an interesting 32-bit value
        const v = INTERESTING_32[rng.below(INTERESTING_32.length)];
        for (let i = 0; i < 4 && at + i < out.length; i++) out[at + i] = (v >>> (8 * i)) & 0xff;
        break;
      }
      case 4: { // a 64-bit value near the file length or huge
        const v = rng.below(2) ? BigInt(out.length + rng.below(64) - 32) : 0xffff_ffff_ffff_fff0n;
        for (let i = 0; i < 8 && at + i < out.length; i++) {
          out[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
        }
        break;
      }
      case 5: // truncate
        if (rng.below(4) === 0) out = out.slice(0, at);
        break;
      case 6: { // copy a chunk over another place
        const from = pos();
        const len = 1 + rng.below(32);
        out.copyWithin(at, from, Math.min(out.length, from + len));
        break;
      }
      default: // small arithmetic
        out[at] = (out[at] + rng.below(17) - 8) & 0xff;
    }
  }
  return out;
}

/** Outcome of a fuzz run. */
export interface FuzzReport {
  /** Inputs run (each through both exports). */
  iterations: number;
  /** Calls that returned a result. */
  ok: number;
  /** Calls that returned an error code, by code name. */
  errors: Record<string, number>;
  /** Largest linear memory seen, in bytes. */
  maxMemoryBytes: number;
  /** Wall time of the run. */
  elapsedMs: number;
  /** Slowest single input (both calls). */
  slowestMs: number;
}

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** Number of mutated inputs. */
  iterations: number;
  /** Generator seed. */
  seed: number;
  /** Fail when linear memory grows past this. @default 256 MiB */
  maxMemoryBytes?: number;
  /** Called every 10,000 iterations. */
  onProgress?: (report: FuzzReport) => void;
  /** Called with the input before an exception propagates (to save it). */
  onFailure?: (input: Uint8Array, error: unknown) => void;
}

/**
 * Runs mutated copies of the seed files through `elf_facts` and `unwind_table`.
 *
 * @param wasm A module instance.
 * @param seeds Seed files (mutations cycle through them).
 * @param options Iterations, seed and bounds.
 * @returns What happened.
 * @throws {Error} On a trap, an unexpected exception, or memory past the bound.
 */
export function runFuzz(wasm: WasmUnwind, seeds: Uint8Array[], options: FuzzOptions): FuzzReport {
  const rng = new Rng(options.seed);
  const maxMemory = options.maxMemoryBytes ?? 256 * 1024 * 1024;
  const hot = seeds.map(hotRanges);
  const report: FuzzReport = {
    iterations: 0,
    ok: 0,
    errors: {},
    maxMemoryBytes: wasm.memoryBytes,
    elapsedMs: 0,
    slowestMs: 0,
  };
  const start = performance.now();
  for (let i = 0; i < options.iterations; i++) {
    const k = i % seeds.length;
    const input = mutate(rng, seeds[k], hot[k]);
    const t0 = performance.now();
    for (const call of [() => wasm.elfFacts(input), () => wasm.unwindTableBytes(input)]) {
      try {
        call();
        report.ok++;
      } catch (e) {
        if (e instanceof WasmUnwindError && e.code >= 1 && e.code <= 7) {
          report.errors[e.codeName] = (report.errors[e.codeName] ?? 0) + 1;
        } else {
          options.onFailure?.(input, e);
          throw new Error(`Fuzz input ${i} (seed ${options.seed}) failed`, { cause: e });
        }
      }
    }
    report.slowestMs = Math.max(report.slowestMs, performance.now() - t0);
    report.maxMemoryBytes = Math.max(report.maxMemoryBytes, wasm.memoryBytes);
    if (wasm.memoryBytes > maxMemory) {
      options.onFailure?.(input, undefined);
      throw new Error(
        `Fuzz input ${i} (seed ${options.seed}) grew memory to ${wasm.memoryBytes} bytes (limit ${maxMemory})`,
      );
    }
    report.iterations++;
    if (report.iterations % 10_000 === 0) {
      report.elapsedMs = performance.now() - start;
      options.onProgress?.(report);
    }
  }
  report.elapsedMs = performance.now() - start;
  return report;
}

function parseArgs(args: string[]) {
  const opts = {
    iterations: 100_000,
    seed: 1,
    files: [] as string[],
    wasm: undefined as string | undefined,
    maxMemoryMib: 256,
    out: "/tmp/wasm-unwind-fuzz",
  };
  for (const arg of args) {
    const [key, value = ""] = arg.replace(/^--/, "").split("=", 2);
    switch (key) {
      case "iterations":
        opts.iterations = Number(value);
        break;
      case "seed":
        opts.seed = Number(value);
        break;
      case "file":
        opts.files.push(value);
        break;
      case "wasm":
        opts.wasm = value;
        break;
      case "max-memory-mib":
        opts.maxMemoryMib = Number(value);
        break;
      case "out":
        opts.out = value;
        break;
      default:
        throw new TypeError(`Unknown option '${arg}'`);
    }
  }
  if (opts.files.length === 0) opts.files.push("/usr/bin/true");
  return opts;
}

async function main(): Promise<number> {
  const opts = parseArgs(Deno.args);
  const wasm = await WasmUnwind.load(opts.wasm);
  const seeds = await Promise.all(opts.files.map((f) => Deno.readFile(f)));
  const print = (r: FuzzReport, final: boolean) => {
    const rate = r.iterations / (r.elapsedMs / 1000);
    // deno-lint-ignore no-console -- a command-line tool reports on stdout
    console.log(
      `${final ? "done" : "progress"}: ${r.iterations} inputs, ${rate.toFixed(0)} inputs/s ` +
        `(2 calls each), ok ${r.ok}, errors ${JSON.stringify(r.errors)}, ` +
        `max memory ${(r.maxMemoryBytes / 1048576).toFixed(1)} MiB, slowest input ${
          r.slowestMs.toFixed(1)
        } ms`,
    );
  };
  const report = runFuzz(wasm, seeds, {
    iterations: opts.iterations,
    seed: opts.seed,
    maxMemoryBytes: opts.maxMemoryMib * 1024 * 1024,
    onProgress: (r) => print(r, false),
    onFailure: (input) => {
      Deno.mkdirSync(opts.out, { recursive: true });
      const path = `${opts.out}/crash-seed${opts.seed}-${Date.now()}.elf`;
      Deno.writeFileSync(path, input);
      // deno-lint-ignore no-console -- a command-line tool reports on stderr
      console.error(`failing input written to ${path}`);
    },
  });
  print(report, true);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
