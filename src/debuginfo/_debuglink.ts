// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Reading `.gnu_debuglink` (the name of a separate debug file and the CRC32 of its contents) and
// computing that CRC over a file. Only ELF64 little-endian is read, like the rest of the agent's
// ELF code (src/process); everything read is bounded, since the binary belongs to a profiled
// process and may be hostile.

import { crc32 } from "node:zlib";
import type { ElfSource } from "../process/mod.ts";

/** What `.gnu_debuglink` says. */
export interface Debuglink {
  /** File name of the debug file (no directory part). */
  name: string;
  /** CRC32 (IEEE, as zlib computes it) of the whole debug file. */
  crc: number;
}

const SHDR_SIZE = 64;
const MAX_SECTIONS = 4096;
const MAX_SHSTRTAB = 1 << 20;
const MAX_LINK = 4096;

function read(src: ElfSource, off: number, len: number): Uint8Array | undefined {
  if (!(off >= 0) || !(len > 0) || off + len > src.size) return undefined;
  const b = src.readAt(off, len);
  return b.length === len ? b : undefined;
}

function safeU64(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}

/**
 * Reads `.gnu_debuglink` from an ELF64 LE file.
 *
 * @param src The binary.
 * @returns The link, or undefined when there is none or it is malformed (a name with `/`, `..`
 *   or no NUL is malformed: the name must not be able to point outside its directory).
 */
export function readDebuglink(src: ElfSource): Debuglink | undefined {
  const h = read(src, 0, 64);
  if (!h || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) return undefined;
  if (h[4] !== 2 || h[5] !== 1) return undefined;
  const hv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const shoff = safeU64(hv, 40);
  const shentsize = hv.getUint16(58, true);
  const shnum = hv.getUint16(60, true);
  const shstrndx = hv.getUint16(62, true);
  if (shoff <= 0 || shentsize < SHDR_SIZE || shnum === 0 || shnum > MAX_SECTIONS) return undefined;
  const t = read(src, shoff, shnum * shentsize);
  if (!t || shstrndx >= shnum) return undefined;
  const tv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const sec = (i: number) => ({
    name: tv.getUint32(i * shentsize, true),
    type: tv.getUint32(i * shentsize + 4, true),
    offset: safeU64(tv, i * shentsize + 24),
    size: safeU64(tv, i * shentsize + 32),
  });
  const strtab = sec(shstrndx);
  const names = read(src, strtab.offset, Math.min(strtab.size, MAX_SHSTRTAB, src.size));
  if (!names) return undefined;
  const wanted = new TextEncoder().encode(".gnu_debuglink\0");
  for (let i = 1; i < shnum; i++) {
    const s = sec(i);
    const n = s.name;
    if (n + wanted.length > names.length) continue;
    if (!wanted.every((c, j) => names[n + j] === c)) continue;
    // SHT_NOBITS (8) has no contents; a link is at least a 1-byte name, its NUL and the CRC.
    if (s.type === 8 || s.size < 6 || s.size > MAX_LINK) return undefined;
    const b = read(src, s.offset, s.size);
    if (!b) return undefined;
    const nul = b.indexOf(0);
    if (nul <= 0) return undefined;
    const name = new TextDecoder("utf-8", { fatal: false }).decode(b.subarray(0, nul));
    // The CRC follows the name, its NUL and padding to a multiple of 4.
    const crcOff = (nul + 1 + 3) & ~3;
    if (crcOff + 4 > b.length) return undefined;
    if (name.includes("/") || name === "." || name === "..") return undefined;
    const crc = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(crcOff, true);
    return { name, crc };
  }
  return undefined;
}

/**
 * CRC32 of a whole file, read in 1 MiB chunks.
 *
 * @param src The file.
 * @returns The CRC, as `.gnu_debuglink` stores it.
 */
export function fileCrc32(src: ElfSource): number {
  const CHUNK = 1 << 20;
  let crc = 0;
  for (let off = 0; off < src.size; off += CHUNK) {
    const b = src.readAt(off, Math.min(CHUNK, src.size - off));
    if (b.length === 0) break;
    crc = crc32(b, crc);
  }
  return crc >>> 0;
}
