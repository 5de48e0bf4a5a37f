// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The compact unwind table built by `wasm-unwind`: decoding of its serialized form, lookups,
 * and packing into the 8-byte rows and 12-byte rules the BPF walker reads.
 *
 * Serialized form (all little-endian; `wasm-unwind/README.md` is the reference):
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 4 | magic `UWT1` |
 * | 4 | 2 | version (1) |
 * | 6 | 2 | header size (64) |
 * | 8 | 4 | rule count |
 * | 12 | 4 | row count |
 * | 16 | 4 | offset of the rules (12 bytes each) |
 * | 20 | 4 | offset of the row PCs (u64 each, 8-aligned) |
 * | 24 | 4 | offset of the row rule indices (u16 each) |
 * | 28 | 4 | flags (1 `.eh_frame`, 2 `.debug_frame`, 4 compressed `.debug_frame` ignored, 8 corrupt `.debug_frame`) |
 * | 32 | 32 | eight u32 counters: see {@link UnwindTableStats} |
 *
 * @module
 */

/** How the CFA (the caller's stack pointer) is found; values are the ABI's. */
export const CfaKind = {
  /** Not covered: past the end of an FDE and before the next one. */
  EndOfFunction: 0,
  /** CFA = rsp + cfaOffset. */
  RspOffset: 1,
  /** CFA = rbp + cfaOffset. */
  RbpOffset: 2,
  /** glibc PLT: CFA = rsp + 8 + ((rip & 15) >= 11 ? 8 : 0). */
  Plt1: 3,
  /** glibc PLT (IBT layout): CFA = rsp + 8 + ((rip & 15) >= 10 ? 8 : 0). */
  Plt2: 4,
  /**
   * Signal trampoline (CIE augmentation `S`): CFA = *(rsp + cfaOffset), rbp at rsp + rbpOffset,
   * rip at rsp + raOffset; the recovered rip is exact (look it up without subtracting 1).
   */
  SignalFrame: 5,
  /** Return address undefined: the outermost frame. */
  RaUndefined: 6,
  /** Anything else; `cfaOffset` holds an {@link UnsupportedReason}. */
  ExprUnsupported: 7,
  /** Step with frame pointers (Go's `runtime.systemstack` on g0). */
  FramePointer: 8,
  /**
   * Go's `runtime.asmcgocall` on g0: rsp = g.stack.hi - [rsp] (or [rsp] without g), CFA = that
   * + cfaOffset.
   */
  GoAsmcgocall: 9,
  /**
   * Go's `runtime.systemstack` on g0: back to the goroutine through `g.m.curg.sched.sp` (g at
   * fs base + the signed low byte of rbpOffset, g.m at its byte 1 × 8, m.curg at raOffset,
   * sched.sp at byte 2 × 8); CFA = sched.sp + cfaOffset.
   */
  GoSystemstack: 10,
} as const;

/** A {@link CfaKind} value. */
export type CfaKind = typeof CfaKind[keyof typeof CfaKind];

/** How the caller's rbp is recovered; values are the ABI's. */
export const RbpKind = {
  /** Unchanged (same value, or no rule). */
  Unchanged: 0,
  /** Saved at CFA + rbpOffset. */
  CfaOffset: 1,
  /** Saved at rsp + rbpOffset (signal frames). */
  RspOffset: 2,
  /** In a register or an expression: not recoverable by the walker. */
  Unsupported: 3,
} as const;

/** A {@link RbpKind} value. */
export type RbpKind = typeof RbpKind[keyof typeof RbpKind];

/** Why a rule is {@link CfaKind.ExprUnsupported} (stored in its `cfaOffset`). */
export const UnsupportedReason = {
  /** A CFA expression other than the two PLT forms. */
  CfaExpression: 1,
  /** CFA based on a register other than rsp or rbp. */
  CfaRegister: 2,
  /** The return address is not at CFA-8. */
  ReturnAddress: 3,
  /** A signal frame whose CFI is not the `breg7 N; deref` form. */
  SignalFrame: 4,
  /** An offset beyond the encoded range. */
  OffsetRange: 5,
} as const;

/** One unwind rule (12 bytes serialized: u8, u8, i16, i32, i32). */
export interface UnwindRule {
  /** How the CFA is found. */
  cfaKind: CfaKind;
  /** How rbp is recovered. */
  rbpKind: RbpKind;
  /** Return address offset: from the CFA (-8), or from rsp for signal frames; 0 if none. */
  raOffset: number;
  /** Offset for the CFA kind. */
  cfaOffset: number;
  /** Offset for the rbp kind. */
  rbpOffset: number;
}

/** How the table was built (counters from the serialized header). */
export interface UnwindTableStats {
  /** Flag bits: 1 `.eh_frame`, 2 `.debug_frame`, 4 compressed `.debug_frame` ignored, 8 corrupt `.debug_frame`. */
  flags: number;
  /** FDEs read from `.eh_frame`. */
  ehFrameFdes: number;
  /** FDEs read from `.debug_frame`. */
  debugFrameFdes: number;
  /** `.debug_frame` FDEs added (not overlapping any `.eh_frame` FDE). */
  debugFrameFdesAdded: number;
  /** FDEs whose rows are in the table. */
  fdesUsed: number;
  /** FDEs skipped as corrupt. */
  fdesSkipped: number;
  /** FDEs skipped because they overlap one already taken. */
  fdesOverlapping: number;
  /** FDEs skipped because they start outside every executable segment. */
  fdesOutsideCode: number;
  /** FDEs covering no bytes. */
  fdesEmpty: number;
}

/** A decoded unwind table: distinct rules and rows sorted by PC. */
export interface UnwindTable {
  /** Distinct rules; index 0 is always the end-of-function rule. */
  rules: UnwindRule[];
  /** The rules in their 12-byte serialized form, as BPF wants them. */
  rulesBytes: Uint8Array;
  /** Row start PCs (ELF virtual addresses), strictly increasing. */
  pcs: BigUint64Array;
  /** Rule index of each row. */
  ruleIndices: Uint16Array;
  /** Build counters. */
  stats: UnwindTableStats;
}

/** wasm-unwind's error codes (`Error::code` in wasm-unwind/src/error.rs). */
export const WasmErrorCode = {
  InvalidArgument: 1,
  InvalidElf: 2,
  UnsupportedArchitecture: 3,
  /** No FDE in `.eh_frame` or `.debug_frame`: normal for Go and code built without CFI. */
  NoUnwindInfo: 4,
  CorruptCfi: 5,
  LimitExceeded: 6,
  OutOfMemory: 7,
  /** A `.gopclntab` that cannot be read. */
  InvalidGoPclntab: 8,
  /** No symbols to name code with (symbolizer). */
  NoSymbols: 9,
  /** A symbolizer handle that is not open. */
  BadHandle: 10,
} as const;

/** Size of a serialized rule. */
export const RULE_SIZE = 12;
/** Size of the serialized header. */
export const TABLE_HEADER_SIZE = 64;
/** Size of one packed row (see {@link packUnwindTable}). */
export const PACKED_ROW_SIZE = 8;

const MAGIC = 0x31545755; // "UWT1" little-endian

/**
 * Decodes the serialized table returned by `wasm-unwind`'s `unwind_table`.
 *
 * @param bytes The serialized table (copied if it is not 8-byte aligned).
 * @returns The table; its arrays are views on `bytes`' buffer when it is aligned.
 * @throws {RangeError} When the header or a section lies out of bounds or is inconsistent.
 *
 * @example Decode and look up
 * ```ts ignore
 * const table = decodeUnwindTable(serialized);
 * lookupRule(table, 0x1234n);
 * ```
 */
export function decodeUnwindTable(bytes: Uint8Array): UnwindTable {
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
  const h = readHeader(bytes);
  const { view, ruleCount, rowCount, rulesOffset } = h;
  const rulesBytes = bytes.subarray(rulesOffset, rulesOffset + ruleCount * RULE_SIZE);
  const rules: UnwindRule[] = new Array(ruleCount);
  for (let i = 0; i < ruleCount; i++) {
    const at = rulesOffset + i * RULE_SIZE;
    rules[i] = {
      cfaKind: view.getUint8(at) as CfaKind,
      rbpKind: view.getUint8(at + 1) as RbpKind,
      raOffset: view.getInt16(at + 2, true),
      cfaOffset: view.getInt32(at + 4, true),
      rbpOffset: view.getInt32(at + 8, true),
    };
  }
  const pcs = new BigUint64Array(bytes.buffer, bytes.byteOffset + h.pcsOffset, rowCount);
  const ruleIndices = new Uint16Array(bytes.buffer, bytes.byteOffset + h.indicesOffset, rowCount);
  return { rules, rulesBytes, pcs, ruleIndices, stats: h.stats };
}

/** The header of a serialized table, checked against its length. */
function readHeader(bytes: Uint8Array) {
  if (bytes.length < TABLE_HEADER_SIZE) {
    throw new RangeError(
      `Cannot decode unwind table: ${bytes.length} bytes is shorter than the header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number) => view.getUint32(at, true);
  if (u32(0) !== MAGIC || view.getUint16(4, true) !== 1) {
    throw new RangeError("Cannot decode unwind table: bad magic or version");
  }
  const ruleCount = u32(8);
  const rowCount = u32(12);
  const rulesOffset = u32(16);
  const pcsOffset = u32(20);
  const indicesOffset = u32(24);
  if (
    rulesOffset + ruleCount * RULE_SIZE > pcsOffset || pcsOffset % 8 !== 0 ||
    pcsOffset + rowCount * 8 !== indicesOffset || indicesOffset + rowCount * 2 > bytes.length
  ) {
    throw new RangeError("Cannot decode unwind table: sections out of bounds");
  }
  const stats: UnwindTableStats = {
    flags: u32(28),
    ehFrameFdes: u32(32),
    debugFrameFdes: u32(36),
    debugFrameFdesAdded: u32(40),
    fdesUsed: u32(44),
    fdesSkipped: u32(48),
    fdesOverlapping: u32(52),
    fdesOutsideCode: u32(56),
    fdesEmpty: u32(60),
  };
  return { view, ruleCount, rowCount, rulesOffset, pcsOffset, indicesOffset, stats };
}

/**
 * Finds the row that applies at `pc`: the last row starting at or before it.
 *
 * @param table A decoded table.
 * @param pc An ELF virtual address.
 * @returns The row index, or -1 when `pc` is below the first row.
 *
 * @example
 * ```ts ignore
 * const i = findRow(table, 0x26010n);
 * ```
 */
export function findRow(table: UnwindTable, pc: bigint): number {
  const pcs = table.pcs;
  let lo = 0;
  let hi = pcs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pcs[mid] <= pc) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * The rule that applies at `pc`.
 *
 * @param table A decoded table.
 * @param pc An ELF virtual address.
 * @returns The rule, or `undefined` when `pc` is below the first row.
 *
 * @example
 * ```ts ignore
 * lookupRule(table, 0x26010n)?.cfaKind === CfaKind.Plt1;
 * ```
 */
export function lookupRule(table: UnwindTable, pc: bigint): UnwindRule | undefined {
  const i = findRow(table, pc);
  return i < 0 ? undefined : table.rules[table.ruleIndices[i]];
}

/** Rows of one table (or one chunk of it) in the layout the BPF walker reads. */
export interface PackedUnwindTable {
  /** The PC that row offsets are relative to (the first packed row's PC). */
  basePc: bigint;
  /** Number of rows. */
  rowCount: number;
  /**
   * `rowCount` rows of 8 bytes, little-endian: u32 `pc - basePc`, u16 rule index, u16 reserved
   * (0).
   */
  rows: Uint8Array;
  /** The rules, 12 bytes each (shared by all chunks of a table). */
  rules: Uint8Array;
}

/**
 * Packs rows `[start, end)` of a table into 8-byte rows relative to their first PC.
 *
 * @param table A decoded table.
 * @param start First row to pack.
 * @param end One past the last row to pack.
 * @returns The packed rows and the shared rules.
 * @throws {RangeError} When the rows span 4 GiB or more (split the table into chunks).
 *
 * @example Pack a whole table
 * ```ts ignore
 * const packed = packUnwindTable(table);
 * packed.rows.length === 8 * table.pcs.length;
 * ```
 */
export function packUnwindTable(
  table: UnwindTable,
  start = 0,
  end: number = table.pcs.length,
): PackedUnwindTable {
  if (start < 0 || end > table.pcs.length || start > end) {
    throw new RangeError(`Cannot pack rows [${start}, ${end}): the table has ${table.pcs.length}`);
  }
  const rowCount = end - start;
  const basePc = rowCount > 0 ? table.pcs[start] : 0n;
  const rows = packRows(table.pcs.subarray(start, end), table.ruleIndices.subarray(start, end));
  return { basePc, rowCount, rows, rules: table.rulesBytes.slice() };
}

/**
 * Packs rows into the layout the BPF walker reads (struct unwind_row: u32 `pc - pcs[0]`, u32
 * rule index): the one row packer, used for every table loaded into BPF.
 *
 * @param pcs Row start PCs, increasing.
 * @param ruleIndices Each row's rule index.
 * @param ruleMap When given, the index stored for rule i is `ruleMap[i]` (the table's rules
 *   interned into the shared rules array).
 * @returns `pcs.length` rows of 8 bytes.
 * @throws {RangeError} When the rows span 4 GiB or more.
 */
export function packRows(
  pcs: BigUint64Array,
  ruleIndices: Uint16Array,
  ruleMap?: Uint32Array,
): Uint8Array<ArrayBuffer> {
  const rowCount = pcs.length;
  const rows = new Uint8Array(rowCount * PACKED_ROW_SIZE);
  const out = new Uint32Array(rows.buffer);
  // Read the u64 PCs as u32 halves: exact in float64 and far faster than BigInt arithmetic.
  const halves = new Uint32Array(pcs.buffer, pcs.byteOffset, rowCount * 2);
  const baseLo = rowCount > 0 ? halves[0] : 0;
  const baseHi = rowCount > 0 ? halves[1] : 0;
  for (let i = 0; i < rowCount; i++) {
    const delta = (halves[i * 2 + 1] - baseHi) * 0x1_0000_0000 + (halves[i * 2] - baseLo);
    if (delta > 0xffff_ffff) {
      throw new RangeError(
        `Cannot pack rows: row ${i} is ${delta} bytes past the base (limit 4294967295)`,
      );
    }
    out[i * 2] = delta;
    const rule = ruleIndices[i];
    out[i * 2 + 1] = ruleMap ? ruleMap[rule] ?? 0 : rule;
  }
  return rows;
}

/**
 * Reads back one packed row.
 *
 * @param packed Packed rows.
 * @param i Row index.
 * @returns The row's PC and rule index.
 *
 * @example
 * ```ts ignore
 * const { pc, ruleIndex } = unpackRow(packed, 0);
 * ```
 */
export function unpackRow(packed: PackedUnwindTable, i: number): { pc: bigint; ruleIndex: number } {
  const view = new DataView(packed.rows.buffer, packed.rows.byteOffset, packed.rows.byteLength);
  return {
    pc: packed.basePc + BigInt(view.getUint32(i * PACKED_ROW_SIZE, true)),
    ruleIndex: view.getUint16(i * PACKED_ROW_SIZE + 4, true),
  };
}

/**
 * A table in the layout the BPF walker reads, as a table worker sends it to the main thread
 * (by transfer: its rows are the only copy of them on this thread): the rows, relative to their
 * first PC, and the table's own rules. `TableStore.load` rewrites the rows' rule indices
 * in place to indices into the shared rules array and hands the same buffer to BPF, so loading a
 * table allocates nothing per row.
 */
export interface PackedTable {
  /** The first row's PC (an ELF virtual address): rows hold `pc - basePc`. */
  basePc: bigint;
  /**
   * Two u32 per row (struct unwind_row): `pc - basePc`, increasing, and the rule index: into
   * `rules` as built, into the shared rules array once `interned`.
   */
  rows: Uint32Array<ArrayBuffer>;
  /** The table's distinct rules, 12 bytes each; index 0 is the end-of-function rule. */
  rules: Uint8Array<ArrayBuffer>;
  /** Build counters (from the serialized header). */
  stats?: UnwindTableStats;
  /** Set once the rows' rule indices point into the shared rules array (TableStore.load). */
  interned?: boolean;
}

/** A table whose rows span 4 GiB or more: BPF rows hold u32 offsets from the first. */
export class RowSpanError extends RangeError {
  /**
   * @param row The first row too far from the first.
   * @param offset Its offset from the first row, in bytes.
   */
  constructor(row: number, offset: number) {
    super(`Cannot pack rows: row ${row} is ${offset} bytes past the first (BPF rows hold u32)`);
    this.name = "RowSpanError";
  }
}

/**
 * Packs a serialized table (wasm-unwind's result, e.g. a view on its linear memory) into a
 * {@link PackedTable} of fresh, transferable buffers: 8 bytes per row and the rules; nothing of
 * `bytes` is kept.
 *
 * @param bytes The serialized table.
 * @returns The packed table.
 * @throws {RangeError} When `bytes` is not a valid table; {@link RowSpanError} when its rows
 *   span 4 GiB or more.
 *
 * @example
 * ```ts ignore
 * const t = packSerializedTable(serialized);
 * packedRowCount(t) === decodeUnwindTable(serialized).pcs.length;
 * ```
 */
export function packSerializedTable(bytes: Uint8Array): PackedTable {
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
  const h = readHeader(bytes);
  const rowCount = h.rowCount;
  const halves = new Uint32Array(bytes.buffer, bytes.byteOffset + h.pcsOffset, rowCount * 2);
  const indices = new Uint16Array(bytes.buffer, bytes.byteOffset + h.indicesOffset, rowCount);
  const rows = new Uint32Array(rowCount * 2);
  // u32 halves of the u64 PCs: exact in float64 and far faster than BigInt arithmetic.
  const baseLo = rowCount > 0 ? halves[0] : 0;
  const baseHi = rowCount > 0 ? halves[1] : 0;
  for (let i = 0; i < rowCount; i++) {
    const delta = (halves[i * 2 + 1] - baseHi) * 0x1_0000_0000 + (halves[i * 2] - baseLo);
    if (delta > 0xffff_ffff) throw new RowSpanError(i, delta);
    rows[i * 2] = delta;
    rows[i * 2 + 1] = indices[i];
  }
  const basePc = rowCount > 0 ? BigInt(baseHi) << 32n | BigInt(baseLo) : 0n;
  const rules = bytes.slice(h.rulesOffset, h.rulesOffset + h.ruleCount * RULE_SIZE);
  return { basePc, rows, rules, stats: h.stats };
}

/**
 * Rows of a packed table.
 *
 * @param table A packed table.
 * @returns Its number of rows.
 */
export function packedRowCount(table: PackedTable): number {
  return table.rows.length >>> 1;
}

/**
 * Finds the row of a packed table that applies at `pc`: the last row starting at or before it
 * (binary search over the u32 offsets).
 *
 * @param table A packed table.
 * @param pc An ELF virtual address.
 * @returns The row index, or -1 when `pc` is below the first row.
 *
 * @example
 * ```ts ignore
 * const i = findPackedRow(table, 0x26010n);
 * const ruleIndex = table.rows[i * 2 + 1];
 * ```
 */
export function findPackedRow(table: PackedTable, pc: bigint): number {
  const rows = table.rows;
  const n = rows.length >>> 1;
  if (n === 0 || pc < table.basePc) return -1;
  const off = pc - table.basePc;
  if (off > 0xffff_ffffn) return n - 1;
  const target = Number(off);
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid * 2] <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * Frees a packed table's rows now (their buffer is detached), instead of when V8's next major
 * collection finds them: the main thread's peak memory while many tables are loaded at once
 * would otherwise hold every table loaded since the last one. The table must not be used
 * after this.
 *
 * @param table A packed table whose rows are no longer needed (e.g. loaded into BPF).
 */
export function freePackedTable(table: PackedTable): void {
  const buf = table.rows.buffer;
  if (buf.byteLength > 0 && !buf.detached) buf.transfer(0);
  table.rows = new Uint32Array(0);
}
