// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Reading `.gnu_debuglink` (the name of a separate debug file and the CRC32 of its contents) and
// computing that CRC over a file. Only ELF64 little-endian is read, like the rest of the agent's
// ELF code (src/process); everything read is bounded, since the binary belongs to a profiled
// process and may be hostile.

import { crc32 } from "node:zlib";
import { type ElfSource, readElf, SHT_NOBITS } from "../process/mod.ts";

/** What `.gnu_debuglink` says. */
export interface Debuglink {
  /** File name of the debug file (no directory part). */
  name: string;
  /** CRC32 (IEEE, as zlib computes it) of the whole debug file. */
  crc: number;
}

const MAX_LINK = 4096;

/**
 * Reads `.gnu_debuglink` from an ELF64 LE file, with the agent's one ELF reader
 * (src/process: positioned reads of the headers only).
 *
 * @param src The binary.
 * @returns The link, or undefined when there is none or it is malformed (a name with `/`, `..`
 *   or no NUL is malformed: the name must not be able to point outside its directory).
 */
export function readDebuglink(src: ElfSource): Debuglink | undefined {
  const image = readElf(src);
  const s = image?.sections.find((x) => x.name === ".gnu_debuglink");
  // SHT_NOBITS has no contents; a link is at least a 1-byte name, its NUL and the CRC.
  if (!s || s.type === SHT_NOBITS || s.size < 6 || s.size > MAX_LINK) return undefined;
  if (!(s.offset >= 0) || s.offset + s.size > src.size) return undefined;
  const b = src.readAt(s.offset, s.size);
  if (b.length !== s.size) return undefined;
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
