// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import * as procfs from "../procfs/mod.ts";
/** Default path of the kernel symbol table. */
const KALLSYMS_PATH = "/proc/kallsyms";
/** Default path of the loaded-module list; it changes exactly when kallsyms gains or loses symbols. */
const MODULES_PATH = "/proc/modules";

// Scratch space that splits a bigint into two uint32 halves without allocating: writing a bigint
// into a BigUint64Array stores it in place, and the Uint32Array view reads the halves back as
// plain numbers. Lookups run once per kernel frame, so this keeps them allocation-free.
const scratch64 = new BigUint64Array(1);
const scratch32 = new Uint32Array(scratch64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;

const CH_NL = 0x0a;
const CH_TAB = 0x09;
const CH_SPACE = 0x20;
const CH_UNDERSCORE = 0x5f;

/** The parsed table: parallel arrays sorted by address, names packed in one byte blob. */
interface Table {
  /**
   * The upper 32 bits of each address, or the one value they all share: on x86-64 every kernel
   * and module text address is 0xffffffff_xxxxxxxx, and one number instead of an array saves 4
   * bytes a symbol (0.46 MiB for 120k).
   */
  hi: Uint32Array | number;
  lo: Uint32Array;
  /** `nameOffsets[i]..nameOffsets[i + 1]` is symbol i's name in `names`. */
  nameOffsets: Uint32Array;
  names: Uint8Array;
  /** True when the file had text symbols but every address was zero (kptr_restrict). */
  restricted: boolean;
}

/**
 * Kernel symbols from `/proc/kallsyms`, kept as a compact table sorted by address.
 *
 * Only text symbols (`t`, `T`, `w`, `W`) are kept; data symbols cannot be on a stack. Module
 * symbols are named `name [module]`. When several symbols share an address the global one with the
 * fewest leading underscores is kept (`do_syscall_64` rather than an `__alias`), as perf does.
 * Addresses live in two Uint32Arrays because kernel addresses exceed 2^53; names live in one Latin-1
 * byte blob, so 120k symbols cost about 3 MB and no per-symbol objects for the GC to trace.
 *
 * @example Naming a kernel frame
 * ```ts
 * import { KernelSymbols } from "./kallsyms.ts";
 * const ksyms = KernelSymbols.fromText("ffffffff81000000 T _stext\nffffffff81001000 T do_idle\n");
 * const i = ksyms.lookup(0xffffffff81001234n);
 * console.log(i < 0 ? "unknown" : ksyms.name(i)); // "do_idle"
 * ```
 */
export class KernelSymbols {
  #table: Table;
  readonly #kallsymsPath: string | undefined;
  readonly #modulesPath: string | undefined;
  #modulesHash: string;

  private constructor(
    table: Table,
    kallsymsPath: string | undefined,
    modulesPath: string | undefined,
    modulesHash: string,
  ) {
    this.#table = table;
    this.#kallsymsPath = kallsymsPath;
    this.#modulesPath = modulesPath;
    this.#modulesHash = modulesHash;
  }

  /**
   * Reads and parses the kernel symbol table.
   *
   * @param kallsymsPath The kallsyms file to read.
   * @param modulesPath The module list whose changes trigger a rebuild in {@link refreshIfChanged}.
   * @returns The parsed table; {@link restricted} tells whether addresses were hidden.
   * @throws {Deno.errors.NotFound | Deno.errors.PermissionDenied} When kallsyms cannot be read.
   */
  static load(
    kallsymsPath: string = KALLSYMS_PATH,
    modulesPath: string = MODULES_PATH,
  ): KernelSymbols {
    // Hash the module list before reading kallsyms: a module loaded in between is then seen as a
    // change on the next refresh instead of being missed.
    const modulesHash = hashModules(modulesPath);
    const table = parseKallsyms(procfs.readFileSync(kallsymsPath));
    return new KernelSymbols(table, kallsymsPath, modulesPath, modulesHash);
  }

  /**
   * Parses kallsyms text, for tests and for tables captured elsewhere.
   *
   * @param text Lines in `/proc/kallsyms` format.
   * @returns A table that {@link refreshIfChanged} never rebuilds.
   */
  static fromText(text: string): KernelSymbols {
    return new KernelSymbols(
      parseKallsyms(new TextEncoder().encode(text)),
      undefined,
      undefined,
      "",
    );
  }

  /** Number of symbols in the table. */
  get size(): number {
    return this.#table.lo.length;
  }

  /**
   * True when kallsyms listed text symbols but all at address zero: `kernel.kptr_restrict` hides
   * them from this process, and every lookup returns -1.
   */
  get restricted(): boolean {
    return this.#table.restricted;
  }

  /**
   * Finds the symbol containing a kernel address.
   *
   * kallsyms carries no sizes, so the nearest symbol at or below the address is taken, even past
   * the end of the last function.
   *
   * @param addr A kernel instruction address.
   * @returns The symbol index, or -1 when the address is below every symbol.
   */
  lookup(addr: bigint): number {
    scratch64[0] = addr;
    return this.lookupParts(scratch32[HI], scratch32[LO]);
  }

  /**
   * Same as {@link lookup}, for an address already split into 32-bit halves (as read from a
   * Uint32Array view of a BPF stack).
   *
   * @param hi The upper 32 bits of the address.
   * @param lo The lower 32 bits of the address.
   * @returns The symbol index, or -1 when the address is below every symbol.
   */
  lookupParts(hi: number, lo: number): number {
    const his = this.#table.hi;
    const los = this.#table.lo;
    let l = 0;
    let r = los.length;
    if (typeof his === "number") {
      // Every symbol is in one 4 GiB range: above it, the last symbol; below it, none.
      if (hi !== his) return hi > his ? r - 1 : -1;
      while (l < r) {
        const m = (l + r) >>> 1;
        if (los[m] <= lo) l = m + 1;
        else r = m;
      }
      return l - 1;
    }
    // Upper bound: the first entry above the address; the answer is the entry before it.
    while (l < r) {
      const m = (l + r) >>> 1;
      const h = his[m];
      if (h < hi || (h === hi && los[m] <= lo)) l = m + 1;
      else r = m;
    }
    return l - 1;
  }

  /**
   * Returns a symbol's name.
   *
   * @param index A symbol index from {@link lookup}.
   * @returns The name, with ` [module]` appended for module symbols.
   * @throws {RangeError} When the index is out of range.
   */
  name(index: number): string {
    const t = this.#table;
    if (!(index >= 0 && index < t.lo.length)) {
      throw new RangeError(`Cannot name kernel symbol: index ${index} not in [0, ${t.lo.length})`);
    }
    return latin1(t.names, t.nameOffsets[index], t.nameOffsets[index + 1]);
  }

  /**
   * Returns a symbol's start address.
   *
   * @param index A symbol index from {@link lookup}.
   * @returns The address.
   * @throws {RangeError} When the index is out of range.
   */
  address(index: number): bigint {
    const t = this.#table;
    if (!(index >= 0 && index < t.lo.length)) {
      throw new RangeError(
        `Cannot get kernel symbol address: index ${index} not in [0, ${t.lo.length})`,
      );
    }
    const hi = typeof t.hi === "number" ? t.hi : t.hi[index];
    return (BigInt(hi) << 32n) | BigInt(t.lo[index]);
  }

  /**
   * Rebuilds the table if the module list changed since the last build.
   *
   * kallsyms only changes when modules load or unload, and reading it costs tens of milliseconds
   * of kernel time, so the cheap module list is compared first. A table made by
   * {@link fromText}, or on a kernel without `/proc/modules`, never changes.
   *
   * @returns True when the table was rebuilt.
   * @throws {Deno.errors.NotFound | Deno.errors.PermissionDenied} When kallsyms cannot be re-read;
   *   the old table is kept.
   */
  refreshIfChanged(): boolean {
    if (this.#kallsymsPath === undefined || this.#modulesPath === undefined) return false;
    const hash = hashModules(this.#modulesPath);
    if (hash === this.#modulesHash) return false;
    this.#table = parseKallsyms(procfs.readFileSync(this.#kallsymsPath));
    this.#modulesHash = hash;
    return true;
  }
}

/** Length and FNV-1a of the module list; "" when the kernel has no modules file. */
function hashModules(path: string): string {
  let bytes: Uint8Array;
  try {
    bytes = procfs.readFileSync(path);
  } catch (e) {
    // A kernel built without module support has no /proc/modules: its kallsyms never changes.
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return `${bytes.length}:${(h >>> 0).toString(16)}`;
}

/** Decodes an ASCII/Latin-1 byte range; kallsyms names are ASCII. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** Higher is preferred when symbols share an address: global over weak over local. */
function typeRank(t: number): number {
  switch (t) {
    case 0x54: // T
      return 3;
    case 0x57: // W
      return 2;
    case 0x74: // t
      return 1;
    default: // w
      return 0;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * Parses kallsyms bytes in one pass without splitting into line strings: each kept line records
 * its address halves and the byte range of `name[\t[module]]`, and names are copied into the blob
 * only after sorting and de-duplication.
 */
function parseKallsyms(bytes: Uint8Array): Table {
  let cap = Math.max(16, (bytes.length / 40) | 0);
  let his = new Uint32Array(cap);
  let los = new Uint32Array(cap);
  let starts = new Uint32Array(cap); // name start in `bytes`
  let ends = new Uint32Array(cap); // end of name or of " [module]"
  let ranks = new Uint8Array(cap);
  let n = 0;
  let sawZero = false;
  let sorted = true;
  let firstUnsorted = 0;
  const len = bytes.length;
  let i = 0;
  while (i < len) {
    // Address: up to 16 hex digits, accumulated into two uint32 halves.
    let hi = 0;
    let lo = 0;
    let digits = 0;
    while (i < len) {
      const d = hexDigit(bytes[i]);
      if (d < 0) break;
      hi = ((hi << 4) | (lo >>> 28)) >>> 0;
      lo = ((lo << 4) | d) >>> 0;
      i++;
      digits++;
    }
    const ok = digits > 0 && digits <= 16 && i + 2 < len && bytes[i] === CH_SPACE &&
      bytes[i + 2] === CH_SPACE;
    const type = ok ? bytes[i + 1] : 0;
    if (ok) i += 3;
    const nameStart = i;
    while (i < len && bytes[i] !== CH_NL) i++;
    const lineEnd = i;
    i++; // past '\n'
    if (!ok || lineEnd === nameStart) continue; // malformed line: skip rather than fail the table
    if (type !== 0x74 && type !== 0x54 && type !== 0x77 && type !== 0x57) continue;
    if (hi === 0 && lo === 0) {
      sawZero = true;
      continue;
    }
    if (n === cap) {
      cap *= 2;
      his = grow32(his, cap);
      los = grow32(los, cap);
      starts = grow32(starts, cap);
      ends = grow32(ends, cap);
      const r = new Uint8Array(cap);
      r.set(ranks);
      ranks = r;
    }
    if (sorted && n > 0 && (his[n - 1] > hi || (his[n - 1] === hi && los[n - 1] > lo))) {
      sorted = false;
      firstUnsorted = n;
    }
    his[n] = hi;
    los[n] = lo;
    starts[n] = nameStart;
    ends[n] = lineEnd;
    ranks[n] = typeRank(type);
    n++;
  }

  // The core kernel is listed in address order; module symbols follow, in no particular order.
  // So only the suffix after the first out-of-order entry is sorted (by a stable comparator sort
  // of a permutation), then merged with the sorted prefix: 20k module symbols cost a few ms where
  // sorting all 200k would cost ~50.
  const order = sorted ? undefined : sortedOrder(his, los, n, firstUnsorted);
  // Keep one symbol per address, preferring global and fewer leading underscores.
  const keep = new Uint32Array(n);
  let m = 0;
  let blobLen = 0;
  for (let k = 0; k < n; k++) {
    const s = order ? order[k] : k;
    if (m > 0) {
      const p = keep[m - 1];
      if (his[p] === his[s] && los[p] === los[s]) {
        if (better(bytes, ranks, starts, s, p)) {
          blobLen += (ends[s] - starts[s]) - (ends[p] - starts[p]);
          keep[m - 1] = s;
        }
        continue;
      }
    }
    keep[m++] = s;
    blobLen += ends[s] - starts[s];
  }

  const outHi = new Uint32Array(m);
  const outLo = new Uint32Array(m);
  const nameOffsets = new Uint32Array(m + 1);
  const names = new Uint8Array(blobLen);
  let off = 0;
  for (let k = 0; k < m; k++) {
    const s = keep[k];
    outHi[k] = his[s];
    outLo[k] = los[s];
    nameOffsets[k] = off;
    const end = ends[s];
    for (let j = starts[s]; j < end; j++) {
      const c = bytes[j];
      // "name\t[module]" becomes "name [module]".
      names[off++] = c === CH_TAB ? CH_SPACE : c;
    }
  }
  nameOffsets[m] = off;
  let oneHi = m > 0;
  for (let k = 1; k < m && oneHi; k++) oneHi = outHi[k] === outHi[0];
  return {
    hi: oneHi ? outHi[0] : outHi,
    lo: outLo,
    nameOffsets,
    names,
    restricted: m === 0 && sawZero,
  };
}

/** Permutation of `0..n` by (address, file order), given that `0..prefix` is already sorted. */
function sortedOrder(
  his: Uint32Array,
  los: Uint32Array,
  n: number,
  prefix: number,
): Uint32Array {
  const cmp = (a: number, b: number): number => (his[a] - his[b]) || (los[a] - los[b]) || (a - b);
  const tail = Array.from({ length: n - prefix }, (_, k) => prefix + k).sort(cmp);
  const order = new Uint32Array(n);
  let a = 0;
  let b = 0;
  let k = 0;
  while (a < prefix && b < tail.length) order[k++] = cmp(a, tail[b]) <= 0 ? a++ : tail[b++];
  while (a < prefix) order[k++] = a++;
  while (b < tail.length) order[k++] = tail[b++];
  return order;
}

function grow32(a: Uint32Array<ArrayBuffer>, cap: number): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(cap);
  b.set(a);
  return b;
}

/** Whether symbol `a` should replace `b` at the same address. */
function better(
  bytes: Uint8Array,
  ranks: Uint8Array,
  starts: Uint32Array,
  a: number,
  b: number,
): boolean {
  if (ranks[a] !== ranks[b]) return ranks[a] > ranks[b];
  return underscores(bytes, starts[a]) < underscores(bytes, starts[b]);
}

function underscores(bytes: Uint8Array, start: number): number {
  let k = start;
  while (k < bytes.length && bytes[k] === CH_UNDERSCORE) k++;
  return k - start;
}
