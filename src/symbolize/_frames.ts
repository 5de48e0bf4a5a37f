// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Decoding of wasm-unwind's symbolize() result (`SYR1`, wasm-unwind/src/symbolize.rs).

/** One frame of a symbolized address: a function, and the source line reached in it. */
export interface SourceFrame {
  /** Function name, demangled. */
  name: string;
  /** The name as the object file has it (mangled); equal to `name` for C. */
  systemName: string;
  /** Source file, or "". */
  file: string;
  /** Line, or 0. */
  line: number;
}

const decoder = new TextDecoder();

/**
 * Decodes the frames of each address, innermost (inlined) first; an empty list where nothing
 * named the address.
 *
 * @param bytes The module's result.
 * @returns One frame list per address, in request order.
 * @throws {RangeError} When the buffer is malformed (a module bug, not bad input).
 */
export function decodeFrames(bytes: Uint8Array): SourceFrame[][] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || decoder.decode(bytes.subarray(0, 4)) !== "SYR1") {
    throw new RangeError("Cannot decode symbolizer result: bad header");
  }
  const nStrings = dv.getUint32(4, true);
  const nAddrs = dv.getUint32(8, true);
  let at = 12;
  const strings: string[] = [];
  for (let i = 0; i < nStrings; i++) {
    const len = dv.getUint32(at, true);
    strings.push(decoder.decode(bytes.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  const out: SourceFrame[][] = [];
  for (let i = 0; i < nAddrs; i++) {
    const n = dv.getUint16(at, true);
    at += 2;
    const frames: SourceFrame[] = [];
    for (let j = 0; j < n; j++) {
      frames.push({
        name: strings[dv.getUint32(at, true)] ?? "",
        systemName: strings[dv.getUint32(at + 4, true)] ?? "",
        file: strings[dv.getUint32(at + 8, true)] ?? "",
        line: dv.getUint32(at + 12, true),
      });
      at += 16;
    }
    out.push(frames);
  }
  return out;
}
