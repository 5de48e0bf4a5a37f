// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { libc } from "./ffi.ts";
import { openTestObject } from "./_test_object.ts";
import { buildPageIndex } from "./row_space.ts";
import { UNWIND_CHUNK_ROWS as CHUNK_ROWS } from "./types.ts";
import * as procfs from "../procfs/mod.ts";

const RLIMIT_NOFILE = 7;

/** Runs `fn` with RLIMIT_NOFILE's soft value set to `soft`, then puts the old one back. */
function withOpenFilesLimit<T>(soft: number, fn: () => T): T {
  const old = new BigUint64Array(2);
  ok(libc().getrlimit(RLIMIT_NOFILE, new Uint8Array(old.buffer)) === 0);
  const lowered = new BigUint64Array([BigInt(soft), old[1]]);
  ok(libc().setrlimit(RLIMIT_NOFILE, new Uint8Array(lowered.buffer)) === 0);
  try {
    return fn();
  } finally {
    libc().setrlimit(RLIMIT_NOFILE, new Uint8Array(old.buffer));
  }
}

/**
 * The RLIMIT_NOFILE value that leaves exactly `free` descriptors to open: new descriptors take
 * the lowest free numbers below the limit, gaps between open ones first.
 */
function limitLeaving(free: number): number {
  const open = new Set([...procfs.readDirSync("/proc/self/fd")].map((e) => Number(e.name)));
  let limit = 0;
  for (let left = free; left > 0 || open.has(limit); limit++) if (!open.has(limit)) left--;
  return limit;
}

function rowsOf(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const rows = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    rows[i * 2] = i * 4 + seed;
    rows[i * 2 + 1] = (i + seed) % 7;
  }
  return new Uint8Array(rows.buffer);
}

Deno.test({
  name: "Real BPF maps: a table's rows read back as loaded, in fresh chunks and in reused ones",
  ignore: Deno.uid() !== 0,
  async fn() {
    using obj = openTestObject();
    const maps = obj.unwindMaps;
    // Three chunks' worth and a bit (4096 rows per chunk).
    const a = rowsOf(3 * 4096 + 5, 1);
    maps.loadTable(1, a);
    deepStrictEqual(maps.readRows(1), a);
    // The page index, written after the rows (its entries straddle no chunk here).
    deepStrictEqual(maps.readPageIndex(1), buildPageIndex(a));
    const bytes = maps.tableBytes;
    maps.deleteTable(1);
    strictEqual(maps.readRows(1), undefined, "unpublished");
    // Loaded at once into the chunks a just left: fresh chunk maps (a walk may still read a's).
    const b = rowsOf(2 * 4096 + 7, 2);
    maps.loadTable(2, b);
    deepStrictEqual(maps.readRows(2), b);
    maps.deleteTable(2);
    // After a rest, emptied chunks are refilled in place; the kernel memory stays what it was.
    await new Promise((r) => setTimeout(r, 150));
    const c = rowsOf(4 * 4096 + 3, 3);
    maps.loadTable(3, c);
    deepStrictEqual(maps.readRows(3), c);
    const index = buildPageIndex(c);
    // 16387 rows 4 bytes apart: 128-byte pages of 32 rows (64-byte ones would be 1025 pages,
    // over 16387 / 16); rows and index fill four chunks and 516 rows of a fifth.
    strictEqual(index?.pages, 513);
    deepStrictEqual(maps.readPageIndex(3), index);
    ok(maps.tableBytes >= bytes, `${maps.tableBytes} B`);
    strictEqual(
      maps.tableBytes,
      5 * 4096 * 8,
      "five chunks in use (four refilled in place, one new), none parked",
    );
  },
});

Deno.test({
  name: "Real BPF maps: a large table loads under a low descriptor limit, and a failed load " +
    "leaves the row space usable",
  ignore: Deno.uid() !== 0,
  async fn() {
    using obj = openTestObject();
    const maps = obj.unwindMaps;
    // 100 chunks: more chunk maps than 80 free descriptors, loaded in batches that fit.
    const big = rowsOf(100 * CHUNK_ROWS, 1);
    withOpenFilesLimit(limitLeaving(80), () => maps.loadTable(1, big));
    deepStrictEqual(maps.readRows(1), big);
    // 100 chunks of rows, then 25600 index entries (16 rows a page) in 7 more chunks.
    const bigIndex = buildPageIndex(big);
    strictEqual(bigIndex?.pages, 25600);
    deepStrictEqual(maps.readPageIndex(1), bigIndex);
    maps.deleteTable(1);

    // With 10 free descriptors no batch of new chunks can be made: the load fails (EMFILE)...
    await new Promise((r) => setTimeout(r, 150));
    const other = rowsOf(300 * CHUNK_ROWS, 2); // past the 100 chunks that exist
    throws(() => withOpenFilesLimit(limitLeaving(10), () => maps.loadTable(2, other)), /EMFILE/);
    strictEqual(maps.readRows(2), undefined);
    // ...and its rows, never inserted, are free rows again, not chunks to refill: the same
    // rows load once descriptors are back (they failed with ENOENT from then on before).
    await new Promise((r) => setTimeout(r, 150));
    maps.loadTable(3, other);
    deepStrictEqual(maps.readRows(3), other);
    deepStrictEqual(maps.readPageIndex(3), buildPageIndex(other));
    // 300 chunks of rows and 300 * 4096 / 16 index entries in 19 more.
    strictEqual(maps.tableBytes, 319 * CHUNK_ROWS * 8, "319 chunks in the kernel, none lost");
  },
});

Deno.test({
  name: "Real BPF maps: every load of a table is published with a load id of its own, cleared " +
    "when it is unpublished (BPF's rule cache keys on it)",
  ignore: Deno.uid() !== 0,
  async fn() {
    using obj = openTestObject();
    const maps = obj.unwindMaps;
    strictEqual(maps.readLoadId(1), 0, "never loaded");
    maps.loadTable(1, rowsOf(100, 1));
    const first = maps.readLoadId(1);
    ok(first > 0);
    // The same exe id loaded again (a reload replaces the table in place) and after a delete:
    // each load a new id, so a rule cached for an earlier load never matches.
    maps.loadTable(1, rowsOf(100, 2));
    const second = maps.readLoadId(1);
    ok(second > 0 && second !== first, `${first} then ${second}`);
    maps.deleteTable(1);
    strictEqual(maps.readLoadId(1), 0, "unpublished: nothing is cached or served");
    strictEqual(maps.readRows(1), undefined);
    await new Promise((r) => setTimeout(r, 150));
    maps.loadTable(2, rowsOf(50, 3));
    maps.loadTable(1, rowsOf(100, 1)); // the same rows as the first load
    const ids = [first, second, maps.readLoadId(2), maps.readLoadId(1)];
    strictEqual(new Set(ids).size, 4, `all distinct: ${ids.join(", ")}`);
    ok(ids.every((id) => id > 0));
  },
});
