// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A small, bounds-checked ELF64 reader for function symbols. It exists for the vDSO, a tiny image
// read from memory; full ELF and DWARF work is done by wasm-unwind. Every offset read from the
// file is checked against the buffer, so malformed input gives a SyntaxError, never a RangeError
// from a DataView or a silently wrong table.

const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const SHN_UNDEF = 0;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

/** A function symbol, placed by its offset from the start of the mapped image. */
export interface ElfFunction {
  /** Symbol name. */
  name: string;
  /** `st_value` minus the load bias: the offset into a mapping of the image at file offset 0. */
  offset: number;
  /** `st_size`; 0 when the producer did not record it. */
  size: number;
  /** Preference among aliases at one offset: global 2, weak 1, local 0. */
  rank: number;
}

/** What {@link parseElfFunctions} found. */
export interface ElfFunctions {
  /** `p_vaddr - p_offset` of the first PT_LOAD: subtract it from a symbol value to get an offset. */
  loadBias: bigint;
  /** Which section the symbols came from. */
  section: ".symtab" | ".dynsym";
  /** FUNC symbols, sorted by offset, then by descending rank, then by name. */
  functions: ElfFunction[];
}

/**
 * Lists the FUNC symbols of a little-endian ELF64 image.
 *
 * `.symtab` is preferred (it also has local functions); `.dynsym` is the fallback, and is all the
 * vDSO has.
 *
 * @param image The whole ELF file or in-memory image (section headers included).
 * @returns Load bias and function symbols.
 * @throws {SyntaxError} When the image is not little-endian ELF64 or a table lies outside it.
 */
export function parseElfFunctions(image: Uint8Array): ElfFunctions {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const size = image.byteLength;
  const check = (off: bigint | number, len: number, what: string): number => {
    const o = typeof off === "bigint" ? Number(off) : off;
    if (!(o >= 0 && o + len <= size)) {
      throw new SyntaxError(
        `Cannot parse ELF: ${what} at ${o} (+${len}) is outside the ${size}-byte image`,
      );
    }
    return o;
  };
  check(0, EHDR_SIZE, "ELF header");
  if (image[0] !== 0x7f || image[1] !== 0x45 || image[2] !== 0x4c || image[3] !== 0x46) {
    throw new SyntaxError("Cannot parse ELF: bad magic");
  }
  if (image[4] !== 2) throw new SyntaxError(`Cannot parse ELF: class ${image[4]} is not ELF64 (2)`);
  if (image[5] !== 1) {
    throw new SyntaxError(`Cannot parse ELF: data encoding ${image[5]} is not little-endian (1)`);
  }

  const phoff = dv.getBigUint64(32, true);
  const shoff = dv.getBigUint64(40, true);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);

  // Load bias from the first PT_LOAD. The x86-64 vDSO is linked at 0, so this is usually 0; old
  // kernels linked it at its fixed address instead.
  let loadBias = 0n;
  if (phnum > 0) {
    if (phentsize < PHDR_SIZE) {
      throw new SyntaxError(`Cannot parse ELF: e_phentsize ${phentsize} < ${PHDR_SIZE}`);
    }
    const base = check(phoff, phnum * phentsize, "program headers");
    for (let k = 0; k < phnum; k++) {
      const p = base + k * phentsize;
      if (dv.getUint32(p, true) === PT_LOAD) {
        loadBias = dv.getBigUint64(p + 16, true) - dv.getBigUint64(p + 8, true);
        break;
      }
    }
  }

  if (shnum === 0) throw new SyntaxError("Cannot parse ELF: no section headers");
  if (shentsize < SHDR_SIZE) {
    throw new SyntaxError(`Cannot parse ELF: e_shentsize ${shentsize} < ${SHDR_SIZE}`);
  }
  const shbase = check(shoff, shnum * shentsize, "section headers");
  let symSec = -1;
  for (let k = 0; k < shnum; k++) {
    const type = dv.getUint32(shbase + k * shentsize + 4, true);
    if (type === SHT_SYMTAB) {
      symSec = k;
      break;
    }
    if (type === SHT_DYNSYM && symSec < 0) symSec = k;
  }
  if (symSec < 0) throw new SyntaxError("Cannot parse ELF: no .symtab or .dynsym section");

  const sh = shbase + symSec * shentsize;
  const section = dv.getUint32(sh + 4, true) === SHT_SYMTAB ? ".symtab" : ".dynsym";
  const symOff = dv.getBigUint64(sh + 24, true);
  const symSize = Number(dv.getBigUint64(sh + 32, true));
  const link = dv.getUint32(sh + 40, true);
  const entsize = Number(dv.getBigUint64(sh + 56, true)) || SYM_SIZE;
  if (entsize < SYM_SIZE) {
    throw new SyntaxError(`Cannot parse ELF: ${section} sh_entsize ${entsize} < ${SYM_SIZE}`);
  }
  const symBase = check(symOff, symSize, section);
  if (link === 0 || link >= shnum) {
    throw new SyntaxError(`Cannot parse ELF: ${section} sh_link ${link} is not a section`);
  }
  const strSh = shbase + link * shentsize;
  const strBase = check(dv.getBigUint64(strSh + 24, true), 0, "string table");
  const strSize = Number(dv.getBigUint64(strSh + 32, true));
  check(strBase, strSize, "string table");
  const strEnd = strBase + strSize;

  const functions: ElfFunction[] = [];
  const count = Math.floor(symSize / entsize);
  for (let k = 0; k < count; k++) {
    const s = symBase + k * entsize;
    const info = image[s + 4];
    if ((info & 0xf) !== STT_FUNC) continue;
    if (dv.getUint16(s + 6, true) === SHN_UNDEF) continue;
    const value = dv.getBigUint64(s + 8, true);
    const fsize = dv.getBigUint64(s + 16, true);
    const offset = value - loadBias;
    // A vDSO function is a few hundred bytes into a one- or two-page image; reject nonsense
    // rather than carry lossy numbers.
    if (offset < 0n || offset > BigInt(Number.MAX_SAFE_INTEGER) || fsize > 0xffffffffn) continue;
    const nameOff = dv.getUint32(s, true);
    if (nameOff >= strSize) continue;
    let e = strBase + nameOff;
    while (e < strEnd && image[e] !== 0) e++;
    if (e === strEnd) continue; // unterminated name
    const name = new TextDecoder().decode(image.subarray(strBase + nameOff, e));
    if (name === "") continue;
    const bind = info >> 4;
    functions.push({
      name,
      offset: Number(offset),
      size: Number(fsize),
      rank: bind === STB_GLOBAL ? 2 : bind === STB_WEAK ? 1 : 0,
    });
  }
  functions.sort((a, b) =>
    (a.offset - b.offset) || (b.rank - a.rank) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  return { loadBias, section, functions };
}
