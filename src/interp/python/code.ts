// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Python code objects read from another process: qualified name, file and line table, then the
 * current line of each sampled instruction offset. Code objects are cached by address and first
 * line (what BPF recorded), so one read serves every sample of a function; a freed code object
 * whose address is reused by another has another first line, or fails its checks and is read
 * again.
 *
 * @module
 */

import { LruCache } from "../../process/mod.ts";
import { Fields, type ProcessMemory } from "../memory.ts";
import { lineOf } from "./line_table.ts";
import type { PythonLayout } from "./offsets.ts";

/** Longest name or file name kept, in characters. */
const MAX_STRING = 1024;
/** Largest line table read. */
const MAX_LINE_TABLE = 256 << 10;

/** A function as the profile shows it. */
export interface SourceFrame {
  /** Qualified name (`Class.method`; `co_name` before 3.11). */
  name: string;
  /** File name as the code object has it. */
  file: string;
  /** Current line. */
  line: number;
  /** First line of the function. */
  startLine: number;
}

/** A decoded code object. */
export interface CodeObject {
  name: string;
  file: string;
  firstLine: number;
  lineTable: Uint8Array;
}

/**
 * Reads a `str` object: compact ASCII, or compact latin-1 / UCS-2 / UCS-4.
 *
 * @param mem The process.
 * @param addr The object.
 * @param layout Where the characters are.
 * @returns The string, or undefined when it is not a compact str or cannot be read.
 */
export function readPyString(
  mem: ProcessMemory,
  addr: number,
  layout: PythonLayout,
): string | undefined {
  const head = mem.read(addr, 40);
  if (!head) return undefined;
  const f = new Fields(head);
  const length = f.ptr(16);
  const state = f.u32(32);
  const kind = (state >> 2) & 7;
  const compact = (state >> 5) & 1;
  const ascii = (state >> 6) & 1;
  if (!compact || length > MAX_STRING || (kind !== 1 && kind !== 2 && kind !== 4)) {
    return undefined;
  }
  if (length === 0) return "";
  const data = ascii ? layout.unicode.asciiData : layout.unicode.compactData;
  const b = mem.read(addr + data, length * kind);
  if (!b) return undefined;
  if (kind === 1) return new TextDecoder("latin1").decode(b);
  if (kind === 2) return new TextDecoder("utf-16le").decode(b);
  let s = "";
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < length; i++) {
    const cp = dv.getUint32(i * 4, true);
    s += cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
  }
  return s;
}

/**
 * Reads a `bytes` object's contents.
 *
 * @param mem The process.
 * @param addr The object.
 * @returns The bytes, or undefined.
 */
export function readPyBytes(mem: ProcessMemory, addr: number): Uint8Array | undefined {
  const head = mem.read(addr, 32);
  if (!head) return undefined;
  const size = new Fields(head).ptr(16);
  if (size > MAX_LINE_TABLE) return undefined;
  if (size === 0) return new Uint8Array(0);
  return mem.read(addr + 32, size); // ob_sval follows ob_shash
}

/**
 * Reads a code object.
 *
 * @param mem The process.
 * @param addr Its address.
 * @param layout The interpreter's layout.
 * @returns The code object, or undefined when it cannot be read or does not look like one.
 */
export function readCodeObject(
  mem: ProcessMemory,
  addr: number,
  layout: PythonLayout,
): CodeObject | undefined {
  const raw = mem.read(addr, layout.code.readSize);
  if (!raw) return undefined;
  const f = new Fields(raw);
  const c = layout.code;
  const nameAt = f.ptr(c.qualname >= 0 ? c.qualname : c.name);
  const name = nameAt ? readPyString(mem, nameAt, layout) : undefined;
  const fileAt = f.ptr(c.filename);
  const file = fileAt ? readPyString(mem, fileAt, layout) : undefined;
  const tableAt = f.ptr(c.lineTable);
  const lineTable = tableAt ? readPyBytes(mem, tableAt) : undefined;
  if (name === undefined || file === undefined || !lineTable) return undefined;
  return { name, file, firstLine: f.i32(c.firstlineno), lineTable };
}

/**
 * The byte offset in co_code of the instruction BPF recorded.
 *
 * @param layout The interpreter's layout.
 * @param rawLasti BPF's low word: f_lasti, or the instruction pointer minus the code object.
 * @returns The offset; negative when the frame has not run an instruction yet.
 */
export function instructionOffset(layout: PythonLayout, rawLasti: number): number {
  if (layout.code.codeAdaptive > 0) return (rawLasti | 0) - layout.code.codeAdaptive;
  return (rawLasti | 0) * layout.lastiScale;
}

/** Turns (code object, lasti) pairs of one process into source frames, with caches. */
export class PythonCodeReader {
  readonly #mem: ProcessMemory;
  readonly #layout: PythonLayout;
  readonly #codes: LruCache<string, unknown>;
  readonly #prefix: string;
  /** Code objects read (cache misses) and reads that failed. */
  readonly stats = { reads: 0, failures: 0 };

  /**
   * @param mem The process's memory.
   * @param layout Its interpreter's layout.
   * @param cache Where decoded code objects are kept: one cache shared by every process bounds
   *   the agent's memory, whatever the number of processes.
   * @param prefix This process's part of the cache keys (its pid).
   */
  constructor(
    mem: ProcessMemory,
    layout: PythonLayout,
    cache: LruCache<string, unknown> = new LruCache(4096),
    prefix = "",
  ) {
    this.#mem = mem;
    this.#layout = layout;
    this.#codes = cache;
    this.#prefix = prefix;
  }

  /**
   * Names one sampled Python frame.
   *
   * @param addr Code object address.
   * @param data BPF's second word: firstlineno << 32 | raw lasti.
   * @returns The frame, or undefined when the code object cannot be read (or is not the one
   *   sampled any more).
   */
  frame(addr: number, data: bigint): SourceFrame | undefined {
    const firstLine = Number((data >> 32n) & 0xffffffffn) | 0;
    const key = `${this.#prefix}:${addr}:${firstLine}`;
    let code = this.#codes.get(key) as CodeObject | null | undefined;
    if (code === undefined) {
      this.stats.reads++;
      code = readCodeObject(this.#mem, addr, this.#layout) ?? null;
      if (code && code.firstLine !== firstLine) code = null; // replaced since the sample
      if (!code) this.stats.failures++;
      this.#codes.set(key, code);
    }
    if (!code) return undefined;
    const offset = instructionOffset(this.#layout, Number(data & 0xffffffffn));
    return {
      name: code.name,
      file: code.file,
      line: lineOf(this.#layout.lineTable, code.lineTable, code.firstLine, offset),
      startLine: code.firstLine,
    };
  }
}
