// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Test-only: builds small ELF64 images for the ELF and vDSO tests.

/** One symbol to write. */
export interface Sym {
  name: string;
  value: bigint;
  size: number;
  type?: number; // STT_*, FUNC by default
  bind?: number; // STB_*, GLOBAL by default
  shndx?: number; // 0 = undefined
}

/**
 * Builds a little ELF64: header, one PT_LOAD, a symbol table section (SYMTAB or DYNSYM) with its
 * string table, and section headers at the end, like the vDSO image.
 */
export function buildElf(
  syms: Sym[],
  opts: { vaddr?: bigint; symType?: number; extraDynsym?: Sym[] } = {},
): Uint8Array {
  const tables: Array<{ type: number; syms: Sym[] }> = [{ type: opts.symType ?? 11, syms }];
  if (opts.extraDynsym) tables.push({ type: 11, syms: opts.extraDynsym });
  const chunks: Uint8Array[] = [];
  let off = 64 + 56;
  const sections: Array<
    { type: number; off: number; size: number; link: number; entsize: number }
  > = [{ type: 0, off: 0, size: 0, link: 0, entsize: 0 }];
  for (const t of tables) {
    const str: number[] = [0];
    const symBytes = new Uint8Array(24 * (t.syms.length + 1));
    const dv = new DataView(symBytes.buffer);
    t.syms.forEach((s, k) => {
      const nameOff = str.length;
      str.push(...new TextEncoder().encode(s.name), 0);
      const p = 24 * (k + 1);
      dv.setUint32(p, nameOff, true);
      symBytes[p + 4] = ((s.bind ?? 1) << 4) | (s.type ?? 2);
      dv.setUint16(p + 6, s.shndx ?? 1, true);
      dv.setBigUint64(p + 8, s.value, true);
      dv.setBigUint64(p + 16, BigInt(s.size), true);
    });
    const symIndex = sections.length;
    sections.push({ type: t.type, off, size: symBytes.length, link: symIndex + 1, entsize: 24 });
    chunks.push(symBytes);
    off += symBytes.length;
    sections.push({ type: 3, off, size: str.length, link: 0, entsize: 0 });
    chunks.push(new Uint8Array(str));
    off += str.length;
  }
  const shoff = off;
  const total = shoff + 64 * sections.length;
  const image = new Uint8Array(total);
  const dv = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 3, true); // ET_DYN
  dv.setUint16(18, 62, true); // EM_X86_64
  dv.setBigUint64(32, 64n, true); // e_phoff
  dv.setBigUint64(40, BigInt(shoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, 1, true);
  dv.setUint16(58, 64, true);
  dv.setUint16(60, sections.length, true);
  // PT_LOAD at file offset 0.
  dv.setUint32(64, 1, true);
  dv.setBigUint64(64 + 8, 0n, true);
  dv.setBigUint64(64 + 16, opts.vaddr ?? 0n, true);
  let p = 64 + 56;
  for (const c of chunks) {
    image.set(c, p);
    p += c.length;
  }
  sections.forEach((s, k) => {
    const h = shoff + 64 * k;
    dv.setUint32(h + 4, s.type, true);
    dv.setBigUint64(h + 24, BigInt(s.off), true);
    dv.setBigUint64(h + 32, BigInt(s.size), true);
    dv.setUint32(h + 40, s.link, true);
    dv.setBigUint64(h + 56, BigInt(s.entsize), true);
  });
  return image;
}
