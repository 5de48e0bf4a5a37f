// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Where each CPython minor version keeps what the profiler reads. These are hard-coded: before
 * 3.13 nothing in a running interpreter describes its frame layout (PyFrame_Type's members stop
 * at 3.9 and never include the thread state), and a stripped python has no DWARF. On 3.13 the
 * table is checked against the interpreter's own `_Py_DebugOffsets` ({@link checkDebugOffsets}).
 * Sources: CPython's Include/cpython/{code,frameobject,pystate}.h and
 * Include/internal/pycore_{frame,runtime}.h per version; every value was checked against the
 * pyenv builds and Debian's python3.11 (src/interp/python/python_test.ts).
 *
 * @module
 */

import { PyFrameMode, PyLastiKind, type PythonBpfOffsets } from "../bpf_types.ts";

/** How a version encodes line numbers. */
export type LineTableKind = "lnotab" | "pep626" | "locations";

/** Everything version-specific about one CPython minor version. */
export interface PythonLayout {
  /** 3.x minor version. */
  minor: number;
  /** What BPF reads (struct python_offsets). */
  bpf: PythonBpfOffsets;
  /** PyCodeObject fields read by user space. */
  code: {
    filename: number;
    name: number;
    /** co_qualname (3.11+), or -1. */
    qualname: number;
    /** co_lnotab (<= 3.9) or co_linetable. */
    lineTable: number;
    firstlineno: number;
    /** offsetof(co_code_adaptive) = PyCode_Type.tp_basicsize (3.11+), else 0. */
    codeAdaptive: number;
    /** Bytes to read from the code object to cover every field above. */
    readSize: number;
  };
  lineTable: LineTableKind;
  /** BPF's raw lasti times this is a byte offset (after subtracting codeAdaptive). */
  lastiScale: number;
  /** Offset of autoTSSkey (a Py_tss_t: int _is_initialized, u32 _key) in _PyRuntime. */
  autoTssKey: number;
  /** Offset of the characters of a compact ASCII / compact non-ASCII str. */
  unicode: { asciiData: number; compactData: number };
}

const FRAME_OBJECT_BPF: PythonBpfOffsets = {
  mode: PyFrameMode.FRAME_OBJECT,
  lastiKind: PyLastiKind.INT,
  entryOwner: 0,
  tstateFrame: 24, // PyThreadState.frame
  cframeCurrent: 0xffff,
  frameBack: 24, // PyFrameObject.f_back
  frameCode: 32, // f_code
  frameLasti: 104, // f_lasti (int)
  frameEntry: 0,
  frameSize: 112,
  codeFirstlineno: 40,
};

const CODE_38 = {
  filename: 104,
  name: 112,
  qualname: -1,
  lineTable: 120,
  firstlineno: 40,
  codeAdaptive: 0,
  readSize: 128,
};

const UNICODE_OLD = { asciiData: 48, compactData: 72 };
const UNICODE_312 = { asciiData: 40, compactData: 56 };

const CODE_311 = {
  filename: 112,
  name: 120,
  qualname: 128,
  lineTable: 136,
  firstlineno: 72,
  codeAdaptive: 184,
  readSize: 144,
};

const LAYOUTS: readonly PythonLayout[] = [
  {
    minor: 8,
    bpf: FRAME_OBJECT_BPF,
    code: CODE_38,
    lineTable: "lnotab",
    lastiScale: 1,
    autoTssKey: 0x570,
    unicode: UNICODE_OLD,
  },
  {
    minor: 9,
    bpf: FRAME_OBJECT_BPF,
    code: CODE_38,
    lineTable: "lnotab",
    lastiScale: 1,
    autoTssKey: 0x248,
    unicode: UNICODE_OLD,
  },
  {
    minor: 10,
    // f_lasti moved to 96 and counts code units (PEP 626); PyFrame_Type no longer lists it.
    bpf: { ...FRAME_OBJECT_BPF, frameLasti: 96, frameSize: 104 },
    code: CODE_38,
    lineTable: "pep626",
    lastiScale: 2,
    autoTssKey: 0x248,
    unicode: UNICODE_OLD,
  },
  {
    minor: 11,
    bpf: {
      mode: PyFrameMode.IS_ENTRY,
      lastiKind: PyLastiKind.PTR,
      entryOwner: 0,
      tstateFrame: 56, // PyThreadState.cframe
      cframeCurrent: 8, // _PyCFrame.current_frame
      frameBack: 48, // _PyInterpreterFrame.previous
      frameCode: 32, // f_code
      frameLasti: 56, // prev_instr
      frameEntry: 68, // is_entry
      frameSize: 72,
      codeFirstlineno: 72,
    },
    code: CODE_311,
    lineTable: "locations",
    lastiScale: 1,
    autoTssKey: 0x250,
    unicode: UNICODE_OLD,
  },
  {
    minor: 12,
    bpf: {
      mode: PyFrameMode.OWNER_CSTACK,
      lastiKind: PyLastiKind.PTR,
      entryOwner: 3, // FRAME_OWNED_BY_CSTACK
      tstateFrame: 56, // PyThreadState.cframe
      cframeCurrent: 0, // _PyCFrame.current_frame
      frameBack: 8, // previous
      frameCode: 0, // f_code
      frameLasti: 56, // prev_instr
      frameEntry: 70, // owner
      frameSize: 72,
      codeFirstlineno: 68,
    },
    code: { ...CODE_311, firstlineno: 68, codeAdaptive: 192 },
    lineTable: "locations",
    lastiScale: 1,
    autoTssKey: 0x608,
    unicode: UNICODE_312,
  },
  {
    minor: 13,
    bpf: {
      mode: PyFrameMode.OWNER_CSTACK,
      lastiKind: PyLastiKind.PTR,
      entryOwner: 3, // FRAME_OWNED_BY_CSTACK
      tstateFrame: 72, // PyThreadState.current_frame
      cframeCurrent: 0xffff,
      frameBack: 8, // previous
      frameCode: 0, // f_executable
      frameLasti: 56, // instr_ptr
      frameEntry: 70, // owner
      frameSize: 72,
      codeFirstlineno: 68,
    },
    code: { ...CODE_311, firstlineno: 68, codeAdaptive: 200 },
    lineTable: "locations",
    lastiScale: 1,
    autoTssKey: 0x870,
    unicode: UNICODE_312,
  },
];

/** Oldest and newest supported 3.x minor versions. */
export const SUPPORTED_MINORS = { min: 8, max: 13 } as const;

/**
 * The layout of a CPython minor version.
 *
 * @param minor The x of 3.x.
 * @returns The layout, or undefined when the version is not supported.
 */
export function pythonLayout(minor: number): PythonLayout | undefined {
  return LAYOUTS.find((l) => l.minor === minor);
}

/** What `_Py_DebugOffsets` (3.13) says, at the positions of 3.13's struct. */
export interface DebugOffsets {
  currentFrame: number;
  previous: number;
  executable: number;
  instrPtr: number;
  owner: number;
  filename: number;
  name: number;
  qualname: number;
  linetable: number;
  firstlineno: number;
  codeAdaptive: number;
}

/** Positions of the fields of 3.13's `_Py_DebugOffsets` (Include/internal/pycore_runtime.h). */
const DEBUG_OFFSETS_313: Record<keyof DebugOffsets, number> = {
  currentFrame: 184,
  previous: 232,
  executable: 240,
  instrPtr: 248,
  owner: 264,
  filename: 280,
  name: 288,
  qualname: 296,
  linetable: 304,
  firstlineno: 312,
  codeAdaptive: 344,
};

/** Bytes of `_PyRuntime` that hold the 3.13 fields above. */
export const DEBUG_OFFSETS_READ = 352;

/**
 * Parses 3.13's `_Py_DebugOffsets` from the start of `_PyRuntime`.
 *
 * @param b At least {@link DEBUG_OFFSETS_READ} bytes of `_PyRuntime`.
 * @returns The offsets, or undefined without the `xdebugpy` cookie.
 */
export function parseDebugOffsets(b: Uint8Array): DebugOffsets | undefined {
  if (b.length < DEBUG_OFFSETS_READ) return undefined;
  if (new TextDecoder().decode(b.subarray(0, 8)) !== "xdebugpy") return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = {} as DebugOffsets;
  for (const [k, at] of Object.entries(DEBUG_OFFSETS_313)) {
    out[k as keyof DebugOffsets] = Number(dv.getBigUint64(at, true));
  }
  return out;
}

/**
 * Compares a 3.13 layout with the interpreter's debug offsets and returns the layout to use:
 * the table's when they agree, else the table corrected by the interpreter's own values (a
 * build with a different layout, e.g. free-threaded) with the differences listed.
 *
 * @param layout The hard-coded layout.
 * @param d The interpreter's debug offsets.
 * @returns The layout to use and the fields that differed.
 */
export function checkDebugOffsets(
  layout: PythonLayout,
  d: DebugOffsets,
): { layout: PythonLayout; mismatches: string[] } {
  const want: Record<string, [number, number]> = {
    current_frame: [layout.bpf.tstateFrame, d.currentFrame],
    previous: [layout.bpf.frameBack, d.previous],
    executable: [layout.bpf.frameCode, d.executable],
    instr_ptr: [layout.bpf.frameLasti, d.instrPtr],
    owner: [layout.bpf.frameEntry, d.owner],
    co_filename: [layout.code.filename, d.filename],
    co_name: [layout.code.name, d.name],
    co_qualname: [layout.code.qualname, d.qualname],
    co_linetable: [layout.code.lineTable, d.linetable],
    co_firstlineno: [layout.code.firstlineno, d.firstlineno],
    co_code_adaptive: [layout.code.codeAdaptive, d.codeAdaptive],
  };
  const mismatches = Object.entries(want).filter(([, [a, b]]) => a !== b).map(([k, [a, b]]) =>
    `${k} ${a} != ${b}`
  );
  if (mismatches.length === 0) return { layout, mismatches };
  const frameSize = Math.max(d.previous, d.executable, d.instrPtr, d.owner) + 8;
  const codeMax = Math.max(d.filename, d.name, d.qualname, d.linetable, d.firstlineno) + 8;
  const sane = frameSize <= 128 && codeMax <= 512 && d.currentFrame < 4096;
  if (!sane) return { layout, mismatches };
  return {
    layout: {
      ...layout,
      bpf: {
        ...layout.bpf,
        tstateFrame: d.currentFrame,
        frameBack: d.previous,
        frameCode: d.executable,
        frameLasti: d.instrPtr,
        frameEntry: d.owner,
        frameSize,
        codeFirstlineno: d.firstlineno,
      },
      code: {
        filename: d.filename,
        name: d.name,
        qualname: d.qualname,
        lineTable: d.linetable,
        firstlineno: d.firstlineno,
        codeAdaptive: d.codeAdaptive,
        readSize: codeMax,
      },
    },
    mismatches,
  };
}
