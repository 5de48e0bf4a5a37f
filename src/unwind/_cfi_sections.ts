// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Reads only what a table build needs from an ELF file, with positioned reads: the ELF header,
 * program and section headers, the section names and the sections wasm-unwind builds tables
 * from (`.eh_frame`, `.debug_frame`, `.zdebug_frame`'s presence), packed into
 * a compact ELF image that wasm-unwind parses like the file. Every other section keeps its header
 * (name, address, size: `.text`, `.got` and `.eh_frame_hdr` addresses matter) but becomes
 * `SHT_NOBITS`, so no byte of it is read. For libLLVM (117 MB) that is the 5 MB of `.eh_frame`
 * instead of the whole file, and the worker's memory is bounded by the CFI, not the file.
 *
 * Go files (a `.gopclntab` section) keep `.gopclntab` and the small sections `moduledata` and
 * the build version are read from (`.go.buildinfo`, `.go.module`, `.noptrdata`, `.data`); their
 * rows also need the functions' code (the frame layout of each prologue, `systemstack`'s
 * offsets), which wasm-unwind reads from the file itself, a bounded window at a time, through the
 * image's program headers (`unwind_table_sparse`, {@link WasmUnwind.unwindTableSparse}). For
 * Parca's 220 MB server that is its 61 MB `.gopclntab` and 3 MB of data instead of the whole file.
 * A file without section headers (some stripped Go binaries, whose `.gopclntab` is found by
 * scanning segments) is read whole.
 *
 * The image can be written straight into wasm-unwind's memory (`alloc`): no copy of it stays
 * on the JavaScript heap.
 *
 * @module
 */

/** Reads up to `buf.length` bytes at `pos`; returns bytes read (0 at the end). */
export type ReadAt = (buf: Uint8Array, pos: number) => Promise<number>;

/** Sections whose bytes a table build reads (of a file that is not Go's). */
export const CFI_SECTIONS: ReadonlySet<string> = new Set([
  ".eh_frame",
  ".debug_frame",
  ".zdebug_frame",
]);

/** Sections that make a file Go's. */
const GO_SECTIONS: ReadonlySet<string> = new Set([".gopclntab", ".data.rel.ro.gopclntab"]);

/**
 * Sections a Go file's build also reads (besides {@link CFI_SECTIONS} and {@link GO_SECTIONS}):
 * the build version and `runtime.firstmoduledata` (text start, `go:func.*`), which wasm-unwind
 * finds in `.go.module` (Go 1.26+) or by scanning `.noptrdata` and `.data`.
 */
const GO_DATA_SECTIONS: ReadonlySet<string> = new Set([
  ".go.buildinfo",
  ".go.module",
  ".noptrdata",
  ".data",
]);

const SHT_NOBITS = 8;
const SHDR_SIZE = 64;
const PHDR_SIZE = 56;
/** Section headers at most (a real file has tens; a corrupt one is read whole instead). */
const MAX_SECTIONS = 65_280;

/** Where an image is written: a buffer of `len` bytes (wasm-unwind's memory, or a new array). */
export type Alloc = (len: number) => Uint8Array;

async function readFully(
  readAt: ReadAt,
  pos: number,
  len: number,
  out: Uint8Array = new Uint8Array(len),
): Promise<Uint8Array> {
  let off = 0;
  while (off < len) {
    const n = await readAt(out.subarray(off), pos + off);
    if (n <= 0) break;
    off += n;
  }
  return off === len ? out : out.subarray(0, off);
}

const align8 = (n: number) => (n + 7) & ~7;

/** What {@link readCfiImage} read. */
export interface CfiImage {
  /** The bytes to hand to wasm-unwind (from `alloc`; shorter when the file was). */
  image: Uint8Array;
  /** Bytes read from the file. */
  bytesRead: number;
  /** The image is the whole file (else a compact image: build it with `unwind_table_sparse`). */
  whole: boolean;
  /** The file is Go's (a compact Go image needs reads of the file while it is built). */
  go: boolean;
}

/**
 * The bytes a table build needs from an ELF64 little-endian file: a compact ELF image, or the
 * whole file when it cannot be read that way (no section headers, another class, a header that
 * does not fit the file: wasm-unwind then reports on the real bytes).
 *
 * @param readAt Positioned reads of the file.
 * @param size The file's size.
 * @param alloc Where the image is written (called once, after the headers are read).
 * @returns The bytes to hand to wasm-unwind and how many were read from the file.
 */
export async function readCfiImage(
  readAt: ReadAt,
  size: number,
  alloc: Alloc = (len) => new Uint8Array(len),
): Promise<CfiImage> {
  /** The whole file, after `before` bytes were read to decide so. */
  const whole = async (before = 0) => {
    const image = await readFully(readAt, 0, size, alloc(size));
    return { image, bytesRead: before + image.length, whole: true, go: false };
  };
  if (size < 64) return await whole();
  const ehdr = await readFully(readAt, 0, 64);
  const ev = new DataView(ehdr.buffer, ehdr.byteOffset, ehdr.byteLength);
  // ELF magic, ELFCLASS64, ELFDATA2LSB.
  if (ev.getUint32(0, false) !== 0x7f454c46 || ehdr[4] !== 2 || ehdr[5] !== 1) {
    return await whole();
  }
  const phoff = Number(ev.getBigUint64(32, true));
  const shoff = Number(ev.getBigUint64(40, true));
  const phentsize = ev.getUint16(54, true);
  const phnum = ev.getUint16(56, true);
  const shentsize = ev.getUint16(58, true);
  const shnum = ev.getUint16(60, true);
  const shstrndx = ev.getUint16(62, true);
  if (
    shnum === 0 || shnum > MAX_SECTIONS || shentsize !== SHDR_SIZE || shstrndx >= shnum ||
    shoff + shnum * SHDR_SIZE > size || (phnum > 0 && phentsize !== PHDR_SIZE) ||
    phoff + phnum * PHDR_SIZE > size
  ) {
    return await whole();
  }
  const phdrs = await readFully(readAt, phoff, phnum * PHDR_SIZE);
  const shdrs = await readFully(readAt, shoff, shnum * SHDR_SIZE);
  if (phdrs.length !== phnum * PHDR_SIZE || shdrs.length !== shnum * SHDR_SIZE) {
    return await whole();
  }
  const sv = new DataView(shdrs.buffer, shdrs.byteOffset, shdrs.byteLength);
  const sh = (i: number) => ({
    type: sv.getUint32(i * SHDR_SIZE + 4, true),
    offset: Number(sv.getBigUint64(i * SHDR_SIZE + 24, true)),
    size: Number(sv.getBigUint64(i * SHDR_SIZE + 32, true)),
  });
  const inFile = (s: { type: number; offset: number; size: number }) =>
    s.type !== SHT_NOBITS && s.offset <= size && s.size <= size - s.offset;
  const strtab = sh(shstrndx);
  if (!inFile(strtab)) return await whole();
  const names = await readFully(readAt, strtab.offset, strtab.size);
  let bytesRead = 64 + phdrs.length + shdrs.length + names.length;
  const nameOf = (i: number) => {
    const at = sv.getUint32(i * SHDR_SIZE, true);
    if (at >= names.length) return "";
    let end = at;
    while (end < names.length && names[end] !== 0) end++;
    return new TextDecoder().decode(names.subarray(at, end));
  };

  // Go's table is built from .gopclntab, module data and the functions' code; wasm-unwind
  // reads the code from the file (a window at a time) while it builds.
  let go = false;
  for (let i = 0; i < shnum && !go; i++) go = GO_SECTIONS.has(nameOf(i));
  const kept = (name: string) =>
    CFI_SECTIONS.has(name) || (go && (GO_SECTIONS.has(name) || GO_DATA_SECTIONS.has(name)));

  // Layout of the image: header, program headers, section headers, names, kept sections.
  const keep: { index: number; offset: number; size: number }[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    if (i === shstrndx || !inFile(s) || s.size === 0 || !kept(nameOf(i))) continue;
    keep.push({ index: i, offset: s.offset, size: s.size });
  }
  const newPhoff = 64;
  const newShoff = align8(newPhoff + phdrs.length);
  let at = align8(newShoff + shdrs.length);
  const namesAt = at;
  at = align8(at + names.length);
  const placed = new Map<number, number>();
  for (const k of keep) {
    placed.set(k.index, at);
    at = align8(at + k.size);
  }
  const image = alloc(at);
  image.fill(0);
  const iv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  image.set(ehdr, 0);
  iv.setBigUint64(32, BigInt(phnum ? newPhoff : 0), true);
  iv.setBigUint64(40, BigInt(newShoff), true);
  image.set(phdrs, newPhoff);
  image.set(shdrs, newShoff);
  image.set(names, namesAt);
  for (const k of keep) {
    const at = placed.get(k.index)!;
    const data = await readFully(readAt, k.offset, k.size, image.subarray(at, at + k.size));
    bytesRead += data.length;
  }
  for (let i = 0; i < shnum; i++) {
    const o = newShoff + i * SHDR_SIZE;
    if (i === shstrndx) {
      iv.setBigUint64(o + 24, BigInt(namesAt), true);
    } else if (placed.has(i)) {
      iv.setBigUint64(o + 24, BigInt(placed.get(i)!), true);
    } else if (sh(i).type !== 0) {
      // Header kept (name, address, size), bytes not read.
      iv.setUint32(o + 4, SHT_NOBITS, true);
      iv.setBigUint64(o + 24, 0n, true);
    }
  }
  return { image, bytesRead, whole: false, go };
}
