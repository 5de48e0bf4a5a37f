// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { RowSpace } from "./row_space.ts";

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
