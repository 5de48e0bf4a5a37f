// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import * as procfs from "../procfs/mod.ts";
import { type ElfFunction, parseElfFunctions } from "./_elf.ts";

/**
 * Names vDSO frames.
 *
 * The kernel maps the same vDSO image into every (64-bit) process on the host, so the agent reads
 * its own copy once: the `[vdso]` range of `/proc/self/maps` is copied out of our memory through
 * Deno FFI and its ELF symbol table parsed. Parca Agent instead
 * reads `/usr/lib/modules/<release>/vdso/*.so`, which most hosts do not install.
 *
 * Construction never throws: when anything fails, {@link error} says what, and every lookup
 * returns undefined. 32-bit processes have a different (vdso32) image; callers can compare the
 * target's mapping length with {@link imageSize} before trusting a name.
 *
 * @example Naming a frame
 * ```ts
 * import { VdsoSymbols } from "./vdso.ts";
 * const vdso = VdsoSymbols.load();
 * // addr is a frame address, start the [vdso] mapping start of the sampled process.
 * const addr = 0x7ffd_1234_5a10, start = 0x7ffd_1234_5000;
 * console.log(vdso.lookup(addr - start) ?? vdso.error?.message);
 * ```
 */
export class VdsoSymbols {
  readonly #starts: Float64Array;
  readonly #sizes: Float64Array;
  readonly #names: string[];
  readonly #error: Error | undefined;
  readonly #imageSize: number;

  private constructor(functions: ElfFunction[], imageSize: number, error: Error | undefined) {
    this.#starts = Float64Array.from(functions, (f) => f.offset);
    this.#sizes = Float64Array.from(functions, (f) => f.size);
    this.#names = functions.map((f) => f.name);
    this.#imageSize = imageSize;
    this.#error = error;
  }

  /**
   * Reads and parses the agent's own vDSO.
   *
   * @param mapsPath Where to find the `[vdso]` mapping of this process.
   * @returns The symbols, or an empty table with {@link error} set.
   */
  static load(mapsPath: string = "/proc/self/maps"): VdsoSymbols {
    let image: Uint8Array;
    try {
      image = readOwnVdso(mapsPath);
    } catch (e) {
      return new VdsoSymbols([], 0, asError(e, "Cannot read the vDSO"));
    }
    return VdsoSymbols.fromImage(image);
  }

  /**
   * Parses a vDSO image already in hand (tests, or a `vdso64.so` file).
   *
   * @param image The ELF image as mapped, starting at file offset 0.
   * @returns The symbols, or an empty table with {@link error} set.
   */
  static fromImage(image: Uint8Array): VdsoSymbols {
    try {
      const { functions } = parseElfFunctions(image);
      if (functions.length === 0) {
        return new VdsoSymbols(
          [],
          image.length,
          new Error("Cannot name vDSO frames: the image has no function symbols"),
        );
      }
      return new VdsoSymbols(functions, image.length, undefined);
    } catch (e) {
      return new VdsoSymbols([], image.length, asError(e, "Cannot parse the vDSO"));
    }
  }

  /** Why the table is empty, or undefined when it loaded. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Length of the image the symbols came from (the `[vdso]` mapping length); 0 if unread. */
  get imageSize(): number {
    return this.#imageSize;
  }

  /** Number of function symbols, aliases included. */
  get size(): number {
    return this.#names.length;
  }

  /**
   * Names the function containing an offset into the `[vdso]` mapping.
   *
   * @param offsetInVdso Frame address minus the start of the sampled process's `[vdso]` mapping.
   * @returns The function name (the global one when aliases share an address, e.g.
   *   `__vdso_clock_gettime` over `clock_gettime`), or undefined when no function covers it.
   */
  lookup(offsetInVdso: number): string | undefined {
    const starts = this.#starts;
    let l = 0;
    let r = starts.length;
    while (l < r) {
      const m = (l + r) >>> 1;
      if (starts[m] <= offsetInVdso) l = m + 1;
      else r = m;
    }
    let i = l - 1;
    if (i < 0) return undefined;
    // Entries are sorted best alias first within one address: step back to the first of the run.
    while (i > 0 && starts[i - 1] === starts[i]) i--;
    const size = this.#sizes[i];
    // Symbols of size 0 cannot bound the lookup; accept them only for an exact hit.
    if (size === 0 ? offsetInVdso !== starts[i] : offsetInVdso >= starts[i] + size) {
      return undefined;
    }
    return this.#names[i];
  }

  /**
   * Finds a function's offset by name, aliases included.
   *
   * @param name The symbol name, e.g. `clock_gettime`.
   * @returns Its offset into the mapping, or undefined.
   */
  offsetOf(name: string): number | undefined {
    const i = this.#names.indexOf(name);
    return i < 0 ? undefined : this.#starts[i];
  }
}

function asError(e: unknown, what: string): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(`${what}: ${msg}`, { cause: e });
}

/** Finds `[vdso]` in a maps file and copies its bytes out of this process. */
function readOwnVdso(mapsPath: string): Uint8Array {
  const line = procfs.readTextFileSync(mapsPath).split("\n").find((l) => l.endsWith(" [vdso]"));
  if (line === undefined) throw new Error(`no [vdso] mapping in ${mapsPath}`);
  const range = line.slice(0, line.indexOf(" "));
  const dash = range.indexOf("-");
  const start = parseInt(range.slice(0, dash), 16);
  const end = parseInt(range.slice(dash + 1), 16);
  // The image is one or two pages; a bigger range means the maps line was not what we think.
  if (!(end > start && end - start <= 1 << 20)) {
    throw new Error(`implausible [vdso] range ${range}`);
  }
  const image = new Uint8Array(end - start);
  // Copy rather than view: a view would alias live memory that cannot be transferred to a worker.
  // (Reading /proc/self/mem instead would not avoid FFI permission: Deno wants --allow-all for
  // /proc anyway, denoland/deno#27564.)
  const ptr = Deno.UnsafePointer.create(BigInt(start));
  if (ptr === null) throw new Error(`null pointer for [vdso] at ${range}`);
  new Deno.UnsafePointerView(ptr).copyInto(image);
  return image;
}
