// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Mirrors of bpf/interp_types.h. The layout test (bpf_types_test.ts) compiles a probe against
 * the C header and compares every number here.
 *
 * @module
 */

/** Bit 63 marks the first word of an interpreter frame in a user stack. */
export const INTERP_FRAME_TAG = 0x8000000000000000n;
/** The frame's kind sits in bits 56..62 of its first word. */
export const INTERP_KIND_SHIFT = 56n;
/** The object address in the first word. */
export const INTERP_ADDR_MASK = 0x00007fffffffffffn;

/** enum interp_kind. */
export const InterpKind = { NONE: 0, PYTHON: 1, RUBY: 2 } as const;

/** enum python_frame_mode. */
export const PyFrameMode = { FRAME_OBJECT: 0, IS_ENTRY: 1, OWNER_CSTACK: 2 } as const;

/** enum python_lasti_kind. */
export const PyLastiKind = { INT: 0, PTR: 1 } as const;

/** PY_FRAME_READ_MAX and RUBY_CFP_READ_MAX: the most bytes BPF reads per frame. */
export const PY_FRAME_READ_MAX = 128;
/** See {@link PY_FRAME_READ_MAX}. */
export const RUBY_CFP_READ_MAX = 64;

/** struct python_offsets (offsets inside it). */
export const PYTHON_OFFSETS = {
  size: 20,
  mode: 0,
  lastiKind: 1,
  entryOwner: 2,
  tstateFrame: 4,
  cframeCurrent: 6,
  frameBack: 8,
  frameCode: 10,
  frameLasti: 12,
  frameEntry: 14,
  frameSize: 16,
  codeFirstlineno: 18,
} as const;

/** struct ruby_offsets. */
export const RUBY_OFFSETS = {
  size: 16,
  ecVmStack: 0,
  ecVmStackSize: 2,
  ecCfp: 4,
  cfpSize: 6,
  cfpPc: 8,
  cfpIseq: 10,
  cfpEp: 12,
} as const;

/** struct interp_info. */
export const INTERP_INFO = {
  size: 112,
  kind: 0,
  version: 4,
  loopStart: 8,
  loopEnd: 16,
  coldStart: 24,
  coldEnd: 32,
  tlsKeyAddr: 40,
  tlsModule: 48,
  tlsOffset: 56,
  tsdOffset: 64,
  instance: 68,
  py: 72,
  rb: 92,
} as const;

/** Where a Python version keeps what BPF reads (struct python_offsets). */
export interface PythonBpfOffsets {
  mode: number;
  lastiKind: number;
  entryOwner: number;
  tstateFrame: number;
  /** 0xffff: the tstate field is the frame itself. */
  cframeCurrent: number;
  frameBack: number;
  frameCode: number;
  frameLasti: number;
  frameEntry: number;
  frameSize: number;
  codeFirstlineno: number;
}

/** struct ruby_offsets. */
export interface RubyBpfOffsets {
  ecVmStack: number;
  ecVmStackSize: number;
  ecCfp: number;
  cfpSize: number;
  cfpPc: number;
  cfpIseq: number;
  cfpEp: number;
}

/** struct interp_info, before encoding. */
export interface InterpInfo {
  kind: number;
  /** major << 16 | minor << 8 | micro. */
  version: number;
  loopStart: number;
  loopEnd: number;
  coldStart: number;
  coldEnd: number;
  tlsKeyAddr: number;
  tlsModule: number;
  tlsOffset: number;
  tsdOffset: number;
  /** The image (BPF process_instance id) the facts were read from; BPF ignores other images'. */
  instance?: number;
  py?: PythonBpfOffsets;
  rb?: RubyBpfOffsets;
}

/**
 * Encodes a struct interp_info for pid_to_interp.
 *
 * @param info The values.
 * @returns INTERP_INFO.size bytes.
 */
export function encodeInterpInfo(info: InterpInfo): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(INTERP_INFO.size);
  const dv = new DataView(b.buffer);
  const u64 = (off: number, v: number) => dv.setBigUint64(off, BigInt(v), true);
  dv.setUint32(INTERP_INFO.kind, info.kind, true);
  dv.setUint32(INTERP_INFO.version, info.version, true);
  u64(INTERP_INFO.loopStart, info.loopStart);
  u64(INTERP_INFO.loopEnd, info.loopEnd);
  u64(INTERP_INFO.coldStart, info.coldStart);
  u64(INTERP_INFO.coldEnd, info.coldEnd);
  u64(INTERP_INFO.tlsKeyAddr, info.tlsKeyAddr);
  u64(INTERP_INFO.tlsModule, info.tlsModule);
  u64(INTERP_INFO.tlsOffset, info.tlsOffset);
  dv.setUint32(INTERP_INFO.tsdOffset, info.tsdOffset, true);
  dv.setUint32(INTERP_INFO.instance, info.instance ?? 0, true);
  if (info.py) {
    const o = INTERP_INFO.py;
    const p = info.py;
    dv.setUint8(o + PYTHON_OFFSETS.mode, p.mode);
    dv.setUint8(o + PYTHON_OFFSETS.lastiKind, p.lastiKind);
    dv.setUint8(o + PYTHON_OFFSETS.entryOwner, p.entryOwner);
    dv.setUint16(o + PYTHON_OFFSETS.tstateFrame, p.tstateFrame, true);
    dv.setUint16(o + PYTHON_OFFSETS.cframeCurrent, p.cframeCurrent, true);
    dv.setUint16(o + PYTHON_OFFSETS.frameBack, p.frameBack, true);
    dv.setUint16(o + PYTHON_OFFSETS.frameCode, p.frameCode, true);
    dv.setUint16(o + PYTHON_OFFSETS.frameLasti, p.frameLasti, true);
    dv.setUint16(o + PYTHON_OFFSETS.frameEntry, p.frameEntry, true);
    dv.setUint16(o + PYTHON_OFFSETS.frameSize, p.frameSize, true);
    dv.setUint16(o + PYTHON_OFFSETS.codeFirstlineno, p.codeFirstlineno, true);
  }
  if (info.rb) {
    const o = INTERP_INFO.rb;
    const r = info.rb;
    dv.setUint16(o + RUBY_OFFSETS.ecVmStack, r.ecVmStack, true);
    dv.setUint16(o + RUBY_OFFSETS.ecVmStackSize, r.ecVmStackSize, true);
    dv.setUint16(o + RUBY_OFFSETS.ecCfp, r.ecCfp, true);
    dv.setUint16(o + RUBY_OFFSETS.cfpSize, r.cfpSize, true);
    dv.setUint16(o + RUBY_OFFSETS.cfpPc, r.cfpPc, true);
    dv.setUint16(o + RUBY_OFFSETS.cfpIseq, r.cfpIseq, true);
    dv.setUint16(o + RUBY_OFFSETS.cfpEp, r.cfpEp, true);
  }
  return b;
}

/** An interpreter frame as BPF recorded it: kind, object address and the second word. */
export interface InterpFrameWords {
  kind: number;
  /** Code object (Python) or iseq (Ruby) address. */
  addr: number;
  /** Python: firstlineno << 32 | raw lasti; Ruby: pc. */
  data: bigint;
}

/**
 * Decodes the first word of an interpreter frame.
 *
 * @param word0 A user-stack word with {@link INTERP_FRAME_TAG} set.
 * @param word1 The word after it.
 * @returns The frame.
 */
export function decodeInterpFrame(word0: bigint, word1: bigint): InterpFrameWords {
  return {
    kind: Number((word0 & ~INTERP_FRAME_TAG) >> INTERP_KIND_SHIFT),
    addr: Number(word0 & INTERP_ADDR_MASK),
    data: word1,
  };
}
