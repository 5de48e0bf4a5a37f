// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Poisoned copies of binaries for the tests of per-file caches.
 *
 * @module
 */

/**
 * Writes a copy of `src` whose .eh_frame (and .eh_frame_hdr) bytes are zeroed: same build ID and
 * everything else, as a hostile local user could (issue 9: it must not poison the genuine file's
 * unwind table).
 *
 * @param src An ELF64 file with .eh_frame.
 * @param dest Where the copy goes (mode 0755).
 */
export async function poisonedCopy(src: string, dest: string): Promise<void> {
  const bytes = await Deno.readFile(src);
  const v = new DataView(bytes.buffer);
  const shoff = Number(v.getBigUint64(0x28, true));
  const shentsize = v.getUint16(0x3a, true);
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  const sec = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: v.getUint32(o, true),
      offset: Number(v.getBigUint64(o + 0x18, true)),
      size: Number(v.getBigUint64(o + 0x20, true)),
    };
  };
  const strtab = sec(shstrndx);
  const nameOf = (n: number) => {
    let end = strtab.offset + n;
    while (bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(strtab.offset + n, end));
  };
  let zeroed = 0;
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    if (nameOf(s.name) === ".eh_frame" || nameOf(s.name) === ".eh_frame_hdr") {
      bytes.fill(0, s.offset, s.offset + s.size);
      zeroed++;
    }
  }
  if (zeroed === 0) throw new Error(`${src} has no .eh_frame`);
  await Deno.writeFile(dest, bytes, { mode: 0o755 });
}
