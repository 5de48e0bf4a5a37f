// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// A small, bounded ELF64 little-endian reader: header, program headers, section headers and
// names, notes. Input is untrusted (any file another process maps), so every offset and count is
// checked against the file size and capped, every loop advances, and nothing here throws except
// an I/O error from the source itself.

import type { ElfSource } from "./elf_source.ts";

/** `e_type` of an executable linked at a fixed address. */
export const ET_EXEC = 2;
/** `e_type` of a shared object or position-independent executable. */
export const ET_DYN = 3;
/** Loadable segment. */
export const PT_LOAD = 1;
/** Segment of notes. */
export const PT_NOTE = 4;
/** Executable segment flag. */
export const PF_X = 1;
/** Section of notes. */
export const SHT_NOTE = 7;
/** Section that occupies no file bytes. */
export const SHT_NOBITS = 8;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
/** More section headers than this is treated as corrupt (the ELF short form allows 0xff00). */
export const MAX_SECTIONS = 65535;
/** Upper bound on program headers; real files have about a dozen. */
export const MAX_PROGRAM_HEADERS = 65535;
/** Only this many bytes of a section-name table are read. */
export const MAX_SHSTRTAB = 1 << 20;
/** Only this many bytes of one note section or segment are read. */
export const MAX_NOTE_BYTES = 1 << 20;
/** Header tables (program or section) larger than this are treated as corrupt. */
export const MAX_TABLE_BYTES = 8 << 20;
const MAX_NAME = 256;
const SHN_XINDEX = 0xffff;
const PN_XNUM = 0xffff;

/** One program header. */
export interface ElfProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

/** One section header, with its name resolved. */
export interface ElfSection {
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  /** `sh_link`: for symbol and relocation tables, the section they refer to. */
  link: number;
  addralign: number;
}

/** One note: owner name (without NUL), type and descriptor bytes. */
export interface ElfNote {
  name: string;
  type: number;
  desc: Uint8Array;
}

/** What the reader found in a file; tables that were out of range are left empty. */
export interface ElfImage {
  type: number;
  machine: number;
  programHeaders: ElfProgramHeader[];
  sections: ElfSection[];
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** A u64 as a number; values past 2^53 become Infinity so that every range check fails. */
function u64(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
}

/** Reads exactly `length` bytes inside the file, or returns undefined. */
export function readExact(src: ElfSource, offset: number, length: number): Uint8Array | undefined {
  if (!(offset >= 0) || !(length >= 0) || offset + length > src.size) return undefined;
  if (length === 0) return new Uint8Array(0);
  const b = src.readAt(offset, length);
  return b.length === length ? b : undefined;
}

/**
 * Parses the headers of an ELF64 little-endian file.
 *
 * @param src The file.
 * @returns The image, or undefined if the file is not ELF64 LE or its header is cut.
 */
export function readElf(src: ElfSource): ElfImage | undefined {
  const h = readExact(src, 0, EHDR_SIZE);
  if (!h || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) return undefined;
  if (h[4] !== 2 || h[5] !== 1) return undefined; // ELFCLASS64, ELFDATA2LSB only
  const dv = view(h);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  const phoff = u64(dv, 32);
  const shoff = u64(dv, 40);
  const phentsize = dv.getUint16(54, true);
  let phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  let shnum = dv.getUint16(60, true);
  let shstrndx = dv.getUint16(62, true);

  // Section 0 holds the real counts when they overflow 16 bits (extended numbering).
  let sh0: DataView | undefined;
  if (shoff > 0 && shentsize >= SHDR_SIZE) {
    const b = readExact(src, shoff, SHDR_SIZE);
    if (b) sh0 = view(b);
  }
  if (sh0) {
    if (shnum === 0) shnum = Math.min(u64(sh0, 32), MAX_SECTIONS + 1);
    if (shstrndx === SHN_XINDEX) shstrndx = sh0.getUint32(40, true);
    if (phnum === PN_XNUM) phnum = sh0.getUint32(44, true);
  }

  const programHeaders: ElfProgramHeader[] = [];
  if (
    phoff > 0 && phentsize >= PHDR_SIZE && phnum > 0 && phnum <= MAX_PROGRAM_HEADERS &&
    phnum * phentsize <= MAX_TABLE_BYTES
  ) {
    const t = readExact(src, phoff, phnum * phentsize);
    if (t) {
      const tv = view(t);
      for (let i = 0; i < phnum; i++) {
        const o = i * phentsize;
        programHeaders.push({
          type: tv.getUint32(o, true),
          flags: tv.getUint32(o + 4, true),
          offset: u64(tv, o + 8),
          vaddr: u64(tv, o + 16),
          filesz: u64(tv, o + 32),
          memsz: u64(tv, o + 40),
          align: u64(tv, o + 48),
        });
      }
    }
  }

  const sections: ElfSection[] = [];
  if (sh0 && shnum > 0 && shnum <= MAX_SECTIONS && shnum * shentsize <= MAX_TABLE_BYTES) {
    const t = readExact(src, shoff, shnum * shentsize);
    if (t) {
      const tv = view(t);
      const nameOffsets: number[] = [];
      for (let i = 0; i < shnum; i++) {
        const o = i * shentsize;
        nameOffsets.push(tv.getUint32(o, true));
        sections.push({
          name: "",
          type: tv.getUint32(o + 4, true),
          flags: u64(tv, o + 8),
          addr: u64(tv, o + 16),
          offset: u64(tv, o + 24),
          size: u64(tv, o + 32),
          link: tv.getUint32(o + 40, true),
          addralign: u64(tv, o + 48),
        });
      }
      const strtab = shstrndx < sections.length ? sections[shstrndx] : undefined;
      if (strtab && strtab.type !== SHT_NOBITS && strtab.size > 0) {
        const names = readClamped(src, strtab.offset, Math.min(strtab.size, MAX_SHSTRTAB));
        if (names) {
          for (let i = 0; i < sections.length; i++) {
            sections[i].name = cString(names, nameOffsets[i]);
          }
        }
      }
    }
  }
  return { type, machine, programHeaders, sections };
}

/** Reads a range that starts inside the file, cut at the end of the file. */
function readClamped(src: ElfSource, offset: number, length: number): Uint8Array | undefined {
  if (!(offset >= 0) || offset >= src.size) return undefined;
  return readExact(src, offset, Math.min(length, src.size - offset));
}

const latin1 = new TextDecoder("latin1");

/** The NUL-terminated string at `off`, at most {@link MAX_NAME} bytes; "" when out of range. */
function cString(b: Uint8Array, off: number): string {
  if (off >= b.length) return "";
  let end = off;
  const max = Math.min(b.length, off + MAX_NAME);
  while (end < max && b[end] !== 0) end++;
  return latin1.decode(b.subarray(off, end));
}

/**
 * Reads the notes in one note section or segment.
 *
 * Parsing stops at the first note whose sizes run past the end, keeping the notes before it. At
 * most {@link MAX_NOTE_BYTES} are read.
 *
 * @param src The file.
 * @param offset Where the notes start.
 * @param size Their total size.
 * @param align The section's or segment's alignment; 8 means 8-byte padding (as `.note.gnu.property`
 *   uses), anything else the usual 4.
 * @returns The notes in order.
 */
export function readNotes(src: ElfSource, offset: number, size: number, align: number): ElfNote[] {
  const b = readClamped(src, offset, Math.min(size, MAX_NOTE_BYTES));
  return b ? parseNotes(b, align === 8 ? 8 : 4) : [];
}

/** Parses a note buffer; every iteration advances by at least 12 bytes, so it always ends. */
export function parseNotes(b: Uint8Array, align: 4 | 8): ElfNote[] {
  const dv = view(b);
  const out: ElfNote[] = [];
  const up = (n: number) => Math.ceil(n / align) * align;
  let p = 0;
  while (p + 12 <= b.length) {
    const namesz = dv.getUint32(p, true);
    const descsz = dv.getUint32(p + 4, true);
    const type = dv.getUint32(p + 8, true);
    const nameStart = p + 12;
    const descStart = up(nameStart + namesz);
    const descEnd = descStart + descsz;
    if (descEnd > b.length) break;
    out.push({
      name: cString(b.subarray(nameStart, nameStart + namesz), 0),
      type,
      desc: b.subarray(descStart, descEnd),
    });
    p = up(descEnd);
  }
  return out;
}
