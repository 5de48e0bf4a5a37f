// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { buildPageIndex, type PageIndex, ROWS_PER_PAGE, RowSpace } from "./row_space.ts";

Deno.test("tables pack into the lowest free rows and span chunks", () => {
  const s = new RowSpace(10, 4);
  deepStrictEqual(s.allocate(3), { range: { first: 0, rows: 3 }, newChunks: [0] });
  deepStrictEqual(s.allocate(15), { range: { first: 3, rows: 15 }, newChunks: [1] });
  deepStrictEqual(s.allocate(4), { range: { first: 18, rows: 4 }, newChunks: [2] });
  strictEqual(s.usedRows, 22);
  strictEqual(s.liveChunks, 3);
  strictEqual(s.allocate(19), undefined); // 18 rows left
  deepStrictEqual(s.allocate(18)?.newChunks, [3]);
  throws(() => s.allocate(0), RangeError);
});

Deno.test("a chunk no table uses any more is reported once, and comes back when needed", () => {
  const s = new RowSpace(10, 3);
  const a = s.allocate(8)!.range; // chunk 0
  const b = s.allocate(8)!.range; // chunks 0 and 1
  const c = s.allocate(8)!.range; // chunks 1 and 2
  deepStrictEqual(s.free(a), []); // chunk 0 still holds b's first 2 rows
  deepStrictEqual(s.free(b), [0]);
  strictEqual(s.liveChunks, 2);
  deepStrictEqual(s.free(c), [1, 2]);
  strictEqual(s.liveChunks, 0);
  strictEqual(s.usedRows, 0);
  // Everything merged back into one free range.
  deepStrictEqual(s.allocate(30), { range: { first: 0, rows: 30 }, newChunks: [0, 1, 2] });
});

Deno.test("freed holes are reused first fit, and neighbours merge in any order", () => {
  const s = new RowSpace(100, 1);
  const r = [0, 1, 2, 3, 4].map(() => s.allocate(10)!.range);
  s.free(r[1]);
  s.free(r[3]);
  deepStrictEqual(s.allocate(10)!.range, { first: 10, rows: 10 });
  s.free(r[2]); // 20..40 free
  s.free(r[4]); // 20..100 free: merged with both neighbours
  deepStrictEqual(s.allocate(15)!.range, { first: 20, rows: 15 });
  s.free(r[0]);
  deepStrictEqual(s.allocate(10)!.range, { first: 0, rows: 10 });
  deepStrictEqual(s.allocate(10)!.range, { first: 35, rows: 10 });
});

/** Packed rows at these pcs (rule = position). */
function packed(pcs: number[]): Uint8Array<ArrayBuffer> {
  const out = new Uint32Array(pcs.length * 2);
  pcs.forEach((pc, i) => {
    out[i * 2] = pc;
    out[i * 2 + 1] = i;
  });
  return new Uint8Array(out.buffer);
}

/** bpf/unwind_user.h's search: page_rows() then the binary search; returns rs.lo. */
function bpfSearch(pcs: number[], index: PageIndex | undefined, target: number): number {
  let lo = 0, hi = pcs.length;
  if (index) {
    const page = Math.floor(target / 2 ** (index.shift & 31));
    if (page < index.base) hi = 0;
    else if (page - index.base >= index.pages) lo = pcs.length;
    else {
      lo = index.entries[(page - index.base) * 2];
      hi = index.entries[(page - index.base) * 2 + 1];
      ok(lo <= hi && hi <= pcs.length, `page ${page}: [${lo}, ${hi})`);
    }
  }
  for (let step = 0; step < 25 && lo < hi; step++) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (pcs[mid] <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The rows with pc <= target: what the search over all rows finds. */
function fullSearch(pcs: number[], target: number): number {
  let n = 0;
  while (n < pcs.length && pcs[n] <= target) n++;
  return n;
}

Deno.test("page index: the search in a pc's page finds the row the search over all rows does", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const tables: number[][] = [];
  // Evenly spread, clustered with gaps (small and huge functions), duplicates, and pcs near
  // the top of the u32 table-pc space.
  tables.push(Array.from({ length: 1000 }, (_, i) => 0x1000 + i * 40));
  for (const start of [0, 0x401000, 0xfff00000]) {
    const pcs: number[] = [];
    let pc = start;
    for (let i = 0; i < 3000; i++) {
      pc += rand() < 0.05
        ? Math.floor(rand() * 50_000)
        : rand() < 0.1
        ? 0
        : Math.floor(rand() * 64);
      if (pc > 0xffffffff) break;
      pcs.push(pc);
    }
    tables.push(pcs);
  }
  for (const pcs of tables) {
    const index = buildPageIndex(packed(pcs));
    ok(index, `${pcs.length} rows get an index`);
    ok(index.pages <= pcs.length / ROWS_PER_PAGE, `${index.pages} pages`);
    ok(index.pages * 2 > pcs.length / ROWS_PER_PAGE || index.shift === 0, "the smallest pages");
    const targets = new Set<number>();
    for (const pc of pcs) for (const d of [-1, 0, 1]) targets.add(pc + d);
    for (let p = -1; p <= index.pages + 1; p++) {
      const start = (index.base + p) * 2 ** index.shift;
      for (const d of [-1, 0, 1, 2 ** index.shift / 2]) targets.add(start + d);
    }
    for (const t of targets) {
      if (t < 0 || t > 0xffffffff) continue;
      strictEqual(bpfSearch(pcs, index, t), fullSearch(pcs, t), `target ${t}`);
    }
  }
});

Deno.test("page index: none for a table one page would cover", () => {
  strictEqual(buildPageIndex(packed([0x1000, 0x1010])), undefined);
  strictEqual(buildPageIndex(packed(Array.from({ length: 31 }, (_, i) => i * 8))), undefined);
  // All rows at one pc: no page size splits them.
  strictEqual(buildPageIndex(packed(Array.from({ length: 100 }, () => 0x2000))), undefined);
  deepStrictEqual(buildPageIndex(packed(Array.from({ length: 32 }, (_, i) => i * 8)))?.pages, 2);
});
