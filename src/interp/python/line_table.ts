// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * CPython's three line-number tables, decoded as the interpreter itself does
 * (`PyCode_Addr2Line`). Each takes the byte offset of an instruction in co_code and returns the
 * line it belongs to, or the function's first line when the offset is before the first
 * instruction (a frame that has not started yet).
 *
 * @module
 */

import type { LineTableKind } from "./offsets.ts";

/**
 * <= 3.9 `co_lnotab`: pairs of (bytecode increment u8, line increment i8).
 *
 * @param table co_lnotab bytes.
 * @param firstLine co_firstlineno.
 * @param offset Byte offset of the instruction.
 * @returns The line.
 */
export function lnotabLine(table: Uint8Array, firstLine: number, offset: number): number {
  let line = firstLine;
  let addr = 0;
  for (let i = 0; i + 1 < table.length; i += 2) {
    addr += table[i];
    if (addr > offset) break;
    line += (table[i + 1] << 24) >> 24;
  }
  return line;
}

/**
 * 3.10 `co_linetable` (PEP 626): pairs of (range length in bytes u8, line delta i8, -128 = no
 * line). The range that contains the offset gives the line; ranges of length 0 only move the
 * line.
 *
 * @param table co_linetable bytes.
 * @param firstLine co_firstlineno.
 * @param offset Byte offset of the instruction (3.10's f_lasti counts code units: twice it).
 * @returns The line, or -1 for an instruction with no line.
 */
export function pep626Line(table: Uint8Array, firstLine: number, offset: number): number {
  if (offset < 0) return firstLine;
  let line = firstLine;
  let end = 0;
  for (let i = 0; i + 1 < table.length; i += 2) {
    const start = end;
    end += table[i];
    const delta = (table[i + 1] << 24) >> 24;
    let rangeLine = -1;
    if (delta !== -128) {
      line += delta;
      rangeLine = line;
    }
    if (start !== end && offset >= start && offset < end) return rangeLine;
  }
  return -1;
}

/** Reads the varint at b[i]: 6-bit chunks, bit 6 set on all but the last. */
function varint(b: Uint8Array, pos: { i: number }): number {
  let v = 0;
  let shift = 0;
  while (pos.i < b.length) {
    const c = b[pos.i++];
    v += (c & 63) * 2 ** shift;
    shift += 6;
    if (!(c & 64) || shift > 42) break;
  }
  return v;
}

function svarint(b: Uint8Array, pos: { i: number }): number {
  const u = varint(b, pos);
  return u % 2 ? -Math.floor(u / 2) : u / 2;
}

/**
 * 3.11+ location table (Objects/locations.md): entries that each cover (low 3 bits + 1) code
 * units, with a 4-bit code saying how the line (and columns) follow.
 *
 * @param table co_linetable bytes.
 * @param firstLine co_firstlineno.
 * @param offset Byte offset of the instruction in co_code_adaptive.
 * @returns The line, or -1 for an instruction with no location.
 */
export function locationTableLine(table: Uint8Array, firstLine: number, offset: number): number {
  if (offset < 0) return firstLine;
  let line = firstLine;
  let addr = 0;
  const pos = { i: 0 };
  while (pos.i < table.length) {
    const first = table[pos.i++];
    if (!(first & 0x80)) continue; // not an entry start: the table is corrupt, resynchronise
    const code = (first >> 3) & 15;
    const end = addr + ((first & 7) + 1) * 2;
    let entryLine = line;
    let noLine = false;
    if (code === 15) {
      noLine = true;
    } else if (code === 14) {
      line += svarint(table, pos);
      entryLine = line;
      varint(table, pos); // end line delta
      varint(table, pos); // column + 1
      varint(table, pos); // end column + 1
    } else if (code === 13) {
      line += svarint(table, pos);
      entryLine = line;
    } else if (code >= 10) {
      line += code - 10;
      entryLine = line;
      pos.i += 2;
    } else {
      pos.i += 1;
    }
    if (offset >= addr && offset < end) return noLine ? -1 : entryLine;
    addr = end;
  }
  return -1;
}

/**
 * The line of a byte offset with a version's table.
 *
 * @param kind Which table the version has.
 * @param table Its bytes.
 * @param firstLine co_firstlineno.
 * @param offset Byte offset of the instruction.
 * @returns The line; the first line when the table has none for the offset.
 */
export function lineOf(
  kind: LineTableKind,
  table: Uint8Array,
  firstLine: number,
  offset: number,
): number {
  const line = kind === "lnotab"
    ? lnotabLine(table, firstLine, offset)
    : kind === "pep626"
    ? pep626Line(table, firstLine, offset)
    : locationTableLine(table, firstLine, offset);
  return line >= 0 ? line : firstLine;
}
