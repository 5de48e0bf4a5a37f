// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Named symbols and TLS relocations of an ELF file, for finding an interpreter's globals
// (`_PyRuntime`, `PyCode_Type`, `ruby_current_ec`, ...). Only the wanted names are kept, so a
// library with 100k symbols costs one pass over its tables and a small map. Every table read is
// bounded by the file and by MAX_TABLE_BYTES.

import { type ElfSection, type ElfSource, readElf } from "../process/mod.ts";

const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_DYNSYM = 11;
const SYM_SIZE = 24;
const RELA_SIZE = 24;
/** Largest symbol, string or relocation table read. */
const MAX_TABLE_BYTES = 64 << 20;

/** x86-64 relocation types of TLS module ids and offsets (the general-dynamic model). */
export const R_X86_64_DTPMOD64 = 16;
export const R_X86_64_DTPOFF64 = 17;

/** One symbol. */
export interface ElfSymbol {
  /** `st_value`: a link-time address, or for a TLS symbol its offset in the TLS block. */
  value: number;
  size: number;
  /** `st_info & 0xf`: 1 OBJECT, 2 FUNC, 6 TLS. */
  type: number;
}

/** One RELA relocation that names a symbol. */
export interface ElfRelocation {
  /** Where the relocation writes (link-time address). */
  offset: number;
  type: number;
  symbol: string;
  addend: number;
}

/** What {@link readElfSymbols} found. */
export interface ElfSymbols {
  /** Wanted symbols found, by name (.symtab wins over .dynsym). */
  symbols: Map<string, ElfSymbol>;
  /** Relocations against wanted symbols, from every RELA section that uses .dynsym. */
  relocations: ElfRelocation[];
  sections: ElfSection[];
}

function read(src: ElfSource, offset: number, size: number): Uint8Array | undefined {
  if (!(size >= 0) || size > MAX_TABLE_BYTES || offset + size > src.size) return undefined;
  const b = src.readAt(offset, size);
  return b.length === size ? b : undefined;
}

function cString(strtab: Uint8Array, off: number): string | undefined {
  if (off >= strtab.length) return undefined;
  let e = off;
  while (e < strtab.length && strtab[e] !== 0) e++;
  if (e === strtab.length) return undefined;
  return new TextDecoder().decode(strtab.subarray(off, e));
}

interface SymbolTable {
  names: (string | undefined)[];
  values: ElfSymbol[];
}

function readSymbolTable(
  src: ElfSource,
  sections: ElfSection[],
  index: number,
  wanted: ReadonlySet<string>,
  keepAllNames: boolean,
): SymbolTable | undefined {
  const sec = sections[index];
  const strSec = sections[sec.link];
  const syms = read(src, sec.offset, sec.size);
  const strtab = strSec ? read(src, strSec.offset, strSec.size) : undefined;
  if (!syms || !strtab) return undefined;
  const dv = new DataView(syms.buffer, syms.byteOffset, syms.byteLength);
  const count = Math.floor(syms.length / SYM_SIZE);
  const names: (string | undefined)[] = [];
  const values: ElfSymbol[] = [];
  for (let k = 0; k < count; k++) {
    const o = k * SYM_SIZE;
    const name = cString(strtab, dv.getUint32(o, true));
    const sym = {
      value: Number(dv.getBigUint64(o + 8, true)),
      size: Number(dv.getBigUint64(o + 16, true)),
      type: syms[o + 4] & 0xf,
    };
    const want = name !== undefined && wanted.has(name);
    names.push(keepAllNames || want ? name : undefined);
    values.push(sym);
  }
  return { names, values };
}

/**
 * Reads the wanted symbols and the relocations against them.
 *
 * @param src The ELF file.
 * @param wanted Symbol names to keep.
 * @returns Symbols, relocations and sections; undefined when the file is not ELF64 LE.
 */
export function readElfSymbols(
  src: ElfSource,
  wanted: ReadonlySet<string>,
): ElfSymbols | undefined {
  const image = readElf(src);
  if (!image) return undefined;
  const sections = image.sections;
  const symbols = new Map<string, ElfSymbol>();
  const relocations: ElfRelocation[] = [];
  const dynIndex = sections.findIndex((s) => s.type === SHT_DYNSYM);
  const symIndex = sections.findIndex((s) => s.type === SHT_SYMTAB);
  let dynsym: SymbolTable | undefined;
  if (dynIndex >= 0) {
    dynsym = readSymbolTable(src, sections, dynIndex, wanted, false);
    dynsym?.names.forEach((n, k) => {
      if (n !== undefined && dynsym!.values[k].value !== 0) symbols.set(n, dynsym!.values[k]);
    });
  }
  if (symIndex >= 0) {
    const symtab = readSymbolTable(src, sections, symIndex, wanted, false);
    symtab?.names.forEach((n, k) => {
      if (n !== undefined && symtab.values[k].value !== 0) symbols.set(n, symtab.values[k]);
    });
  }
  if (dynsym) {
    for (const sec of sections) {
      if (sec.type !== SHT_RELA || sec.link !== dynIndex) continue;
      const b = read(src, sec.offset, sec.size);
      if (!b) continue;
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let o = 0; o + RELA_SIZE <= b.length; o += RELA_SIZE) {
        const info = dv.getBigUint64(o + 8, true);
        const symbol = dynsym.names[Number(info >> 32n)];
        if (symbol === undefined) continue;
        relocations.push({
          offset: Number(dv.getBigUint64(o, true)),
          type: Number(info & 0xffffffffn),
          symbol,
          addend: Number(dv.getBigInt64(o + 16, true)),
        });
      }
    }
  }
  return { symbols, relocations, sections };
}

/**
 * The file offset of a link-time address, through the section that contains it.
 *
 * @param sections The file's sections.
 * @param addr A link-time address.
 * @returns The offset, or undefined when no section with file contents holds it.
 */
export function fileOffsetOf(sections: ElfSection[], addr: number): number | undefined {
  for (const s of sections) {
    if (s.type === 8 /* NOBITS */ || s.addr === 0) continue;
    if (addr >= s.addr && addr < s.addr + s.size) return s.offset + (addr - s.addr);
  }
  return undefined;
}
