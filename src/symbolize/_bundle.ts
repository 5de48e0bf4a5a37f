// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Section bundles for wasm-unwind's symbolizer (layout in wasm-unwind/src/symbolize.rs): only
// the sections that name code are read from a binary and its separate debug file (symbol and
// string tables, DWARF, .gopclntab), and the executable sections are described without their
// bytes. A library's .text never leaves the disk, so the cost is what naming needs.

import { type ElfSection, type ElfSource, readElf, SHT_NOBITS } from "../process/mod.ts";

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHF_EXECINSTR = 4;
const HEADER_BYTES = 8;
const ENTRY_BYTES = 40;

/** Which file of a mapping a section comes from. */
export const Origin = { Binary: 0, DebugFile: 1 } as const;
/** {@link Origin} values. */
export type Origin = typeof Origin[keyof typeof Origin];

/** Whether the symbolizer needs a section's bytes (or, for code, its address range). */
export function wantedSection(s: ElfSection): boolean {
  return s.type === SHT_SYMTAB || s.type === SHT_DYNSYM || s.name === ".strtab" ||
    s.name === ".dynstr" || s.name.startsWith(".debug_") || s.name.startsWith(".zdebug_") ||
    (s.flags & SHF_EXECINSTR) !== 0;
}

/** A Go binary: its `.gopclntab` (read from the whole file) names its code. */
function isGo(sections: readonly ElfSection[]): boolean {
  return sections.some((s) => s.name === ".gopclntab" || s.name === ".data.rel.ro.gopclntab");
}

/** Name of the entry carrying a whole file (wasm-unwind's `WHOLE_FILE`). */
const WHOLE_FILE = "\0file";

/** Why a file gives no bundle. */
export class BundleError extends Error {
  /** `not_elf` or `too_large`. */
  readonly reason: "not_elf" | "too_large";
  /**
   * @param reason The reason code.
   * @param message What happened.
   */
  constructor(reason: "not_elf" | "too_large", message: string) {
    super(message);
    this.name = "BundleError";
    this.reason = reason;
  }
}

interface Part {
  origin: Origin;
  section: ElfSection;
  name: Uint8Array;
  data: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * Reads the sections a symbolizer needs from a binary and, optionally, its debug file.
 *
 * @param files The binary first, then its debug file.
 * @param maxBytes Largest bundle built; beyond it a {@link BundleError} `too_large`.
 * @returns The bundle.
 * @throws {BundleError} When the binary is not ELF64 little-endian, or the bundle would exceed
 * `maxBytes`.
 */
export function buildBundle(
  files: Array<{ origin: Origin; src: ElfSource }>,
  maxBytes: number,
): Uint8Array {
  const parts: Part[] = [];
  let total = HEADER_BYTES;
  for (const { origin, src } of files) {
    const image = readElf(src);
    if (!image) {
      if (origin === Origin.Binary) throw new BundleError("not_elf", "not an ELF64 LE file");
      continue;
    }
    // A Go binary travels whole (the pclntab reader needs its segments); its DWARF then adds
    // nothing the pclntab lacks.
    const whole = origin === Origin.Binary && isGo(image.sections);
    if (whole) total += ENTRY_BYTES + WHOLE_FILE.length + src.size;
    // Sizes first, so a huge file is refused before anything is read.
    const chosen = image.sections.filter((s) =>
      wantedSection(s) &&
      !(whole && (s.name.startsWith(".debug_") || s.name.startsWith(".zdebug_")))
    );
    for (const s of chosen) {
      const carries = (s.flags & SHF_EXECINSTR) === 0 && s.type !== SHT_NOBITS;
      const size = carries ? s.size : 0;
      if (!Number.isFinite(size) || (carries && s.offset + s.size > src.size)) continue;
      total += ENTRY_BYTES + s.name.length + size;
    }
    if (total > maxBytes) {
      throw new BundleError(
        "too_large",
        `the symbol and debug sections (${total} bytes) exceed the ${maxBytes}-byte limit`,
      );
    }
    if (whole) {
      const data = src.readAt(0, src.size);
      const section: ElfSection = {
        name: WHOLE_FILE,
        type: 0,
        flags: 0,
        addr: 0,
        offset: 0,
        size: src.size,
        addralign: 1,
      };
      parts.push({ origin, section, name: encoder.encode(WHOLE_FILE), data });
    }
    for (const s of chosen) {
      const carries = (s.flags & SHF_EXECINSTR) === 0 && s.type !== SHT_NOBITS;
      if (carries && (!Number.isFinite(s.size) || s.offset + s.size > src.size)) continue;
      const data = carries && s.size > 0 ? src.readAt(s.offset, s.size) : new Uint8Array(0);
      if (data.length !== (carries ? s.size : 0)) continue;
      parts.push({ origin, section: s, name: encoder.encode(s.name), data });
    }
  }
  let size = HEADER_BYTES;
  for (const p of parts) size += ENTRY_BYTES + p.name.length + p.data.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set([0x53, 0x59, 0x4d, 0x31]); // "SYM1"
  dv.setUint32(4, parts.length, true);
  let at = HEADER_BYTES;
  for (const p of parts) {
    const s = p.section;
    dv.setUint8(at, p.origin);
    dv.setUint8(at + 1, 0);
    dv.setUint16(at + 2, p.name.length, true);
    dv.setUint32(at + 4, s.type, true);
    dv.setBigUint64(at + 8, BigInt(Number.isFinite(s.flags) ? s.flags : 0), true);
    dv.setBigUint64(at + 16, BigInt(Number.isFinite(s.addr) ? s.addr : 0), true);
    dv.setBigUint64(at + 24, BigInt(Number.isFinite(s.size) ? s.size : 0), true);
    dv.setBigUint64(at + 32, BigInt(p.data.length), true);
    at += ENTRY_BYTES;
    out.set(p.name, at);
    at += p.name.length;
    out.set(p.data, at);
    at += p.data.length;
  }
  return out;
}
