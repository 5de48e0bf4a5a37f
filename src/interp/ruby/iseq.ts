// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Ruby instruction sequences read from another process: label, path, and the current line of
 * a sampled pc from `insns_info` (the succinct bit vector 3.1 keeps once positions are freed,
 * or the positions array while it exists), cached per iseq.
 *
 * @module
 */

import { LruCache } from "../../process/mod.ts";
import { Fields, type ProcessMemory } from "../memory.ts";
import type { SourceFrameName } from "../../pprof/mod.ts";
import type { RubyLayout } from "./layout.ts";

const T_MASK = 0x1f;
const T_STRING = 0x05;
const T_ARRAY = 0x07;
const T_IMEMO = 0x1a;
const IMEMO_ISEQ = 7;
const FL_USHIFT = 12;
const MAX_STRING = 1024;
const MAX_INSNS = 1 << 20;
/** succ_index_table: 54 positions in 6 u64 words, then blocks of 512 positions of 80 bytes. */
const IMMEDIATE_TABLE_SIZE = 54;
const SUCC_BLOCK_BYTES = 80;

interface Iseq {
  name: string;
  file: string;
  firstLine: number;
  encoded: number;
  size: number;
  /** line_no of each insns_info entry. */
  lines: Int32Array;
  positions?: Uint32Array;
  succ?: Uint8Array;
}

/**
 * Reads a Ruby String (embedded or on the heap).
 *
 * @param mem The process.
 * @param addr The VALUE.
 * @returns The string, or undefined.
 */
export function readRubyString(mem: ProcessMemory, addr: number): string | undefined {
  const head = mem.read(addr, 32);
  if (!head) return undefined;
  const f = new Fields(head);
  const flags = f.ptr(0);
  if ((flags & T_MASK) !== T_STRING) return undefined;
  const noEmbed = (flags >> 13) & 1; // RSTRING_NOEMBED = FL_USER1
  let len: number;
  let ptr: number;
  if (noEmbed) {
    len = f.ptr(16);
    ptr = f.ptr(24);
  } else {
    len = Math.floor(flags / 2 ** 14) & 0x1f; // RSTRING_EMBED_LEN_MASK, FL_USER2..USER6
    ptr = addr + 16;
  }
  if (len > MAX_STRING) return undefined;
  if (len === 0) return "";
  const b = mem.read(ptr, len);
  return b ? new TextDecoder().decode(b) : undefined;
}

/** pathobj is a String, or an Array [path, realpath]. */
function readPath(mem: ProcessMemory, addr: number): string | undefined {
  const head = mem.read(addr, 40);
  if (!head) return undefined;
  const f = new Fields(head);
  const flags = f.ptr(0);
  if ((flags & T_MASK) === T_STRING) return readRubyString(mem, addr);
  if ((flags & T_MASK) !== T_ARRAY) return undefined;
  const embedded = (flags >> 13) & 1; // RARRAY_EMBED_FLAG = FL_USER1 (strings flag NOEMBED)
  const first = embedded
    ? f.ptr(16)
    : new Fields(mem.read(f.ptr(32), 8) ?? new Uint8Array(0)).ptr(0);
  return first ? readRubyString(mem, first) : undefined;
}

function popcount64(v: bigint): number {
  let n = 0;
  while (v) {
    v &= v - 1n;
    n++;
  }
  return n;
}

/**
 * `succ_index_lookup` of iseq.c: the number of insns_info entries whose position is <= x.
 *
 * @param t The table's bytes.
 * @param x A position (instruction index).
 * @returns The rank, or -1 when the table is too short.
 */
export function succIndexLookup(t: Uint8Array, x: number): number {
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  if (x < IMMEDIATE_TABLE_SIZE) {
    const i = Math.floor(x / 9);
    const j = x % 9;
    if (i * 8 + 8 > t.length) return -1;
    return Number((dv.getBigUint64(i * 8, true) >> BigInt(7 * j)) & 0x7fn);
  }
  const block = Math.floor((x - IMMEDIATE_TABLE_SIZE) / 512);
  const at = 48 + block * SUCC_BLOCK_BYTES;
  if (at + SUCC_BLOCK_BYTES > t.length) return -1;
  const bit = (x - IMMEDIATE_TABLE_SIZE) % 512;
  const small = Math.floor(bit / 64);
  const rank = dv.getUint32(at, true);
  const smallRanks = dv.getBigUint64(at + 8, true);
  const smallRank = small === 0 ? 0 : Number((smallRanks >> BigInt((small - 1) * 9)) & 0x1ffn);
  const bits = dv.getBigUint64(at + 16 + small * 8, true);
  const masked = BigInt.asUintN(64, bits << BigInt(63 - (bit % 64)));
  return rank + smallRank + popcount64(masked);
}

/** Turns (iseq, pc) pairs of one process into source frames, with a cache per iseq. */
export class RubyIseqReader {
  readonly #mem: ProcessMemory;
  readonly #layout: RubyLayout;
  readonly #iseqs: LruCache<string, unknown>;
  readonly #prefix: string;

  /**
   * @param mem The process's memory.
   * @param layout Its Ruby's layout.
   * @param cache Where decoded iseqs are kept (shared by every process, see PythonCodeReader).
   * @param prefix This process's part of the cache keys (its pid).
   */
  constructor(
    mem: ProcessMemory,
    layout: RubyLayout,
    cache: LruCache<string, unknown> = new LruCache(4096),
    prefix = "",
  ) {
    this.#mem = mem;
    this.#layout = layout;
    this.#iseqs = cache;
    this.#prefix = prefix;
  }

  #read(addr: number): Iseq | undefined {
    const mem = this.#mem;
    const head = mem.read(addr, 24);
    if (!head) return undefined;
    const hf = new Fields(head);
    const flags = hf.ptr(0);
    if ((flags & T_MASK) !== T_IMEMO || ((flags >> FL_USHIFT) & 0xf) !== IMEMO_ISEQ) {
      return undefined;
    }
    const L = this.#layout.body;
    const bodyAt = hf.ptr(this.#layout.iseqBody);
    const raw = bodyAt ? mem.read(bodyAt, L.readSize) : undefined;
    if (!raw) return undefined;
    const b = new Fields(raw);
    const name = readRubyString(mem, b.ptr(L.label));
    const file = readPath(mem, b.ptr(L.pathobj));
    const size = b.u32(L.iseqSize);
    const entries = b.u32(L.insnsInfoSize);
    if (name === undefined || file === undefined || size > MAX_INSNS || entries > MAX_INSNS) {
      return undefined;
    }
    const es = this.#layout.insnInfoEntrySize;
    const table = entries ? mem.read(b.ptr(L.insnsInfoBody), entries * es) : new Uint8Array(0);
    if (!table) return undefined;
    const tf = new Fields(table);
    const lines = new Int32Array(entries);
    for (let i = 0; i < entries; i++) lines[i] = tf.i32(i * es);
    const iseq: Iseq = {
      name,
      file,
      firstLine: Math.floor(b.ptr(L.firstLineno) / 2), // a Fixnum
      encoded: b.ptr(L.iseqEncoded),
      size,
      lines,
    };
    const positionsAt = b.ptr(L.insnsInfoPositions);
    const succAt = b.ptr(L.succIndexTable);
    if (positionsAt) {
      const p = mem.read(positionsAt, entries * 4);
      if (p) iseq.positions = new Uint32Array(p.slice().buffer);
    } else if (succAt && entries > 1) {
      const blocks = size > IMMEDIATE_TABLE_SIZE
        ? Math.ceil((size - IMMEDIATE_TABLE_SIZE) / 512)
        : 0;
      iseq.succ = mem.read(succAt, 48 + blocks * SUCC_BLOCK_BYTES);
    }
    return iseq;
  }

  /**
   * Names one sampled Ruby frame.
   *
   * @param addr The iseq.
   * @param pc The frame's pc (BPF's second word).
   * @returns The frame, or undefined when the iseq cannot be read.
   */
  frame(addr: number, pc: bigint): SourceFrameName | undefined {
    const key = `${this.#prefix}:${addr}`;
    let iseq = this.#iseqs.get(key) as Iseq | null | undefined;
    const pcNum = Number(pc);
    const inside = (i: Iseq) => pcNum >= i.encoded && pcNum <= i.encoded + i.size * 8;
    if (iseq === undefined || (iseq && !inside(iseq))) {
      iseq = this.#read(addr) ?? null;
      this.#iseqs.set(key, iseq);
    }
    if (!iseq || !inside(iseq)) return undefined;
    // calc_pos: the pc points at the next instruction; the current one is before it.
    let pos = Math.floor((pcNum - iseq.encoded) / 8);
    if (pos > 0) pos--;
    let index = -1;
    if (iseq.lines.length === 1) index = 0;
    else if (iseq.positions) {
      for (let i = 0; i < iseq.positions.length && iseq.positions[i] <= pos; i++) index = i;
    } else if (iseq.succ) {
      index = succIndexLookup(iseq.succ, pos) - 1;
    }
    const line = index >= 0 && index < iseq.lines.length ? iseq.lines[index] : iseq.firstLine;
    return { name: iseq.name, file: iseq.file, line, startLine: iseq.firstLine };
  }
}
