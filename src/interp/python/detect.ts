// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Recognises a CPython process and gathers what BPF needs to walk it: where the eval loop is,
 * how to reach the sampled thread's PyThreadState (glibc TSD slot of autoTSSkey), and the
 * version's layout. Needs only the dynamic symbols, so Debian's stripped python3 works.
 *
 * @module
 */

import type { ProcMapping } from "../../process/mod.ts";
import { type InterpInfo, InterpKind } from "../bpf_types.ts";
import { findMapping, type MappedFileOpener, mappedImage } from "../_image.ts";
import { Fields, type ProcessMemory } from "../memory.ts";
import { decodeAutoTssKeyOffset, decodeTsdOffset } from "../_x86.ts";
import {
  checkDebugOffsets,
  DEBUG_OFFSETS_READ,
  parseDebugOffsets,
  type PythonLayout,
  pythonLayout,
} from "./offsets.ts";

/** glibc 2.2x–2.3x on x86-64: struct pthread's specific_1stblock[0].data. */
export const GLIBC_TSD_OFFSET = 0x310 + 8;

const PYTHON_SYMBOLS = new Set([
  "_PyRuntime",
  "_PyEval_EvalFrameDefault",
  "_PyEval_EvalFrameDefault.cold",
  "PyGILState_GetThisThreadState",
  "Py_Version",
]);

/** A recognised CPython process. */
export interface PythonProcess {
  /** 3.x.y */
  version: string;
  /** The file that holds the interpreter (libpython or the executable). */
  path: string;
  layout: PythonLayout;
  info: InterpInfo;
  /** Where the table and the interpreter disagreed (3.13 debug offsets, autoTSSkey). */
  notes: string[];
}

/** Why a process is not (yet) walked as Python. */
export type PythonDetectFailure =
  | { kind: "not-python" }
  | { kind: "unsupported"; version: string }
  | { kind: "not-ready"; reason: string }
  | { kind: "error"; reason: string };

/**
 * Looks for CPython in a process.
 *
 * @param pid The process.
 * @param maps Its mappings (/proc/PID/maps).
 * @param files Opens its mapped files safely.
 * @param mem Reads its memory.
 * @returns The process's facts, or why there are none.
 */
export function detectPython(
  pid: number,
  maps: ProcMapping[],
  files: MappedFileOpener,
  mem: ProcessMemory,
): PythonProcess | PythonDetectFailure {
  // A shared build keeps the interpreter in libpython; a static one in the executable.
  const lib = findMapping(maps, /^libpython3\.(\d+)[a-z]*\.so/);
  const found = lib ?? findMapping(maps, /^python3\.(\d+)[a-z]*$/);
  if (!found) return { kind: "not-python" };
  const minor = Number(found.match[1]);
  const img = mappedImage(pid, found.m, files, PYTHON_SYMBOLS);
  if (!img) return { kind: "error", reason: `cannot read the ELF symbols of ${found.m.path}` };
  const runtime = img.symbols.get("_PyRuntime");
  const evalFn = img.symbols.get("_PyEval_EvalFrameDefault");
  const gil = img.symbols.get("PyGILState_GetThisThreadState");
  if (!runtime || !evalFn || !gil) {
    // An executable without the interpreter is a shared build's: right after its exec, before
    // ld.so has mapped libpython, that is all there is. It is examined again.
    return lib
      ? { kind: "error", reason: `${found.m.path} lacks _PyRuntime or the eval loop` }
      : { kind: "not-ready", reason: `${found.m.path} links libpython, not mapped yet` };
  }
  let version = `3.${minor}`;
  const pyVersion = img.symbols.get("Py_Version");
  if (pyVersion) {
    const b = mem.read(pyVersion.value + img.bias, 4);
    if (b) {
      const hex = new Fields(b).u32(0);
      if (hex >>> 24 === 3 && ((hex >> 16) & 0xff) === minor) version += `.${(hex >> 8) & 0xff}`;
    }
  }
  let layout = pythonLayout(minor);
  if (!layout) return { kind: "unsupported", version };
  const notes: string[] = [];
  const runtimeAddr = runtime.value + img.bias;
  if (minor >= 13) {
    const head = mem.read(runtimeAddr, DEBUG_OFFSETS_READ);
    const debug = head ? parseDebugOffsets(head) : undefined;
    if (!debug) return { kind: "not-ready", reason: "no _Py_DebugOffsets in _PyRuntime" };
    const checked = checkDebugOffsets(layout, debug);
    layout = checked.layout;
    if (checked.mismatches.length) notes.push(`_Py_DebugOffsets: ${checked.mismatches.join(", ")}`);
  }
  // autoTSSkey: the table's offset unless the code of PyGILState_GetThisThreadState says else.
  let tssOffset = layout.autoTssKey;
  const stub = img.readAt(gil.value, 48);
  const decoded = stub ? decodeAutoTssKeyOffset(stub, gil.value, runtime.value) : undefined;
  if (decoded !== undefined && decoded !== tssOffset) {
    notes.push(`autoTSSkey at +${decoded.toString(16)}, not +${tssOffset.toString(16)}`);
    tssOffset = decoded;
  }
  const tss = mem.read(runtimeAddr + tssOffset, 8);
  if (!tss) return { kind: "error", reason: "cannot read autoTSSkey" };
  const tssFields = new Fields(tss);
  if (tssFields.i32(0) !== 1) return { kind: "not-ready", reason: "autoTSSkey is not created yet" };
  if (tssFields.u32(4) >= 32) {
    return { kind: "error", reason: `autoTSSkey ${tssFields.u32(4)} is past glibc's first block` };
  }
  const cold = img.symbols.get("_PyEval_EvalFrameDefault.cold");
  const [maj, min, micro] = version.split(".").map(Number);
  return {
    version,
    path: img.path,
    layout,
    notes,
    info: {
      kind: InterpKind.PYTHON,
      version: (maj << 16) | (min << 8) | (micro || 0),
      loopStart: evalFn.value + img.bias,
      loopEnd: evalFn.value + img.bias + evalFn.size,
      coldStart: cold ? cold.value + img.bias : 0,
      coldEnd: cold ? cold.value + img.bias + cold.size : 0,
      tlsKeyAddr: runtimeAddr + tssOffset + 4,
      tlsModule: 0,
      tlsOffset: 0,
      tsdOffset: glibcTsdOffset(pid, maps, files),
      py: layout.bpf,
    },
  };
}

/**
 * The TSD offset of the process's glibc, decoded from its pthread_getspecific.
 *
 * @param pid The process.
 * @param maps Its mappings.
 * @param files Opens its mapped files.
 * @returns The offset; {@link GLIBC_TSD_OFFSET} when it cannot be decoded.
 */
export function glibcTsdOffset(pid: number, maps: ProcMapping[], files: MappedFileOpener): number {
  const libc = findMapping(maps, /^libc(\.so|-2\.)/);
  if (!libc) return GLIBC_TSD_OFFSET;
  const img = mappedImage(pid, libc.m, files, new Set(["pthread_getspecific"]));
  const fn = img?.symbols.get("pthread_getspecific");
  const code = fn ? img!.readAt(fn.value, 32) : undefined;
  return (code && decodeTsdOffset(code)) ?? GLIBC_TSD_OFFSET;
}
