// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { FakeUnwindMaps, MapsClosedError, UNWIND_RULE, type UnwindMaps } from "../bpf/mod.ts";
import { openTestObject } from "../bpf/_test_object.ts";
import { TableStore } from "./table_store.ts";
import { freePackedTable, type PackedTable } from "./table.ts";

/** `rows` rows 4 bytes apart from `base`, alternating between two rules (as a worker packs). */
function table(rows: number, base = 0x1000n, firstKind = 1): PackedTable {
  const rules = new Uint8Array(24);
  rules[0] = firstKind; // CFA_RSP_OFFSET unless told
  rules[12] = 6; // CFA_RA_UNDEFINED
  const packed = new Uint32Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    packed[i * 2] = i * 4;
    packed[i * 2 + 1] = i % 2;
  }
  return { basePc: base, rows: packed, rules };
}

/** The scenario both the fake and the real maps must pass. */
function shareEvictFree(maps: UnwindMaps): void {
  const evicted: Array<[string, number[]]> = [];
  const store = new TableStore({
    maps,
    maxRows: 100,
    onEvict: (key, users) => evicted.push([key, [...users]]),
  });
  const a = store.load("a", table(60), 1)!;
  ok(a && a.rows === 60 && a.base === 0x1000n);
  // Same key from another image: the same table, no second copy.
  strictEqual(store.load("a", table(60), 2)!.exeId, a.exeId);
  strictEqual(store.stats.tablesLoaded, 1);
  strictEqual(store.stats.rulesInterned, 2);
  // b does not fit next to a: a (least recently used) goes, and its images are told.
  const b = store.load("b", table(60, 0x2000n), 3)!;
  ok(b);
  strictEqual(store.rows, 60);
  deepStrictEqual(evicted, [["a", [1, 2]]]);
  strictEqual(store.acquire("a", 1), undefined);
  // Rules are shared: b's identical rules were not interned again.
  strictEqual(store.stats.rulesInterned, 2);
  // A table larger than the whole budget is refused, not loaded.
  strictEqual(store.load("huge", table(101), 4), undefined);
  // An evicted table can be loaded again.
  store.releasePid(3);
  const again = store.load("a", table(30), 5);
  ok(again, "an evicted table is rebuilt and loaded again");
  // Once no image uses b, it is freed after the grace time.
  strictEqual(store.releaseUnused(0), 1);
  strictEqual(store.rows, 30);
}

Deno.test("TableStore shares tables by key, evicts least recently used, frees unused ones", () => {
  const maps = new FakeUnwindMaps({ maxRules: 16, maxTables: 8 });
  shareEvictFree(maps);
  // What BPF would walk: one table left, rows relative to its first pc, global rule indices.
  strictEqual(maps.tables.size, 1);
  const [exeId] = maps.tables.keys();
  const rows = maps.rowsOf(exeId)!;
  strictEqual(rows.length, 30);
  deepStrictEqual(rows.slice(0, 3), [[0, 0], [4, 1], [8, 0]]);
  strictEqual(maps.rules.size, 2);
});

Deno.test("TableStore interns rules across tables and refuses tables once the rules array is full", () => {
  const maps = new FakeUnwindMaps({ maxRules: 3, maxTables: 8 });
  const store = new TableStore({ maps, maxRows: 1000 });
  ok(store.load("a", table(4, 0x1000n, 1), 1));
  // b's first rule differs (CFA_RBP_OFFSET): one new rule, the other shared.
  ok(store.load("b", table(4, 0x1000n, 2), 1));
  strictEqual(maps.rules.size, 3);
  const b = [...maps.tables.values()][1];
  strictEqual(new Uint32Array(b.buffer)[1], 2, "b's row 0 points at the newly interned rule");
  // c needs a fourth rule: refused, counted, nothing loaded.
  strictEqual(store.load("c", table(4, 0x1000n, 3), 1), undefined);
  strictEqual(store.stats.loadErrors, 1);
  strictEqual(maps.tables.size, 2);
});

Deno.test("TableStore tells rules apart by every one of their 12 bytes and stores them as given", () => {
  // Rule 0 is all zeros; rule 1 + b sets byte b to 0x80 (both halves of each u16 matter), and
  // the rules are a view at an odd offset of a larger buffer, as a message's views can be.
  const n = 1 + UNWIND_RULE.size;
  const buffer = new Uint8Array(1 + n * UNWIND_RULE.size * 2);
  const rules = buffer.subarray(1, 1 + n * UNWIND_RULE.size * 2);
  for (let b = 0; b < UNWIND_RULE.size; b++) rules[(1 + b) * UNWIND_RULE.size + b] = 0x80;
  // The second half repeats the first: shared, not interned again.
  rules.copyWithin(n * UNWIND_RULE.size, 0, n * UNWIND_RULE.size);
  const rows = new Uint32Array(2 * n * 2);
  for (let i = 0; i < 2 * n; i++) {
    rows[i * 2] = i * 4;
    rows[i * 2 + 1] = i;
  }
  const maps = new FakeUnwindMaps({ maxRules: 64, maxTables: 8 });
  const store = new TableStore({ maps, maxRows: 1000 });
  ok(store.load("a", { basePc: 0x1000n, rows, rules }, 1));
  strictEqual(store.stats.rulesInterned, n);
  strictEqual(maps.rules.size, n);
  for (let i = 0; i < n; i++) {
    deepStrictEqual(
      maps.rules.get(i),
      rules.slice(i * UNWIND_RULE.size, (i + 1) * UNWIND_RULE.size),
      `rule ${i} stored as its bytes`,
    );
  }
  const loaded = maps.rowsOf([...maps.tables.keys()][0])!;
  deepStrictEqual(loaded.map(([, r]) => r), [...Array(n).keys(), ...Array(n).keys()]);
});

Deno.test("TableStore evicts when the table map is full and survives a kernel refusal", () => {
  const maps = new FakeUnwindMaps({ maxTables: 2 });
  const evicted: string[] = [];
  const store = new TableStore({ maps, maxRows: 1000, onEvict: (k) => evicted.push(k) });
  ok(store.load("a", table(4), 1));
  ok(store.load("b", table(4), 2));
  ok(store.load("c", table(4), 3));
  deepStrictEqual(evicted, ["a"]);
  strictEqual(maps.tables.size, 2);
  maps.failLoads = 1;
  // The same table is tried again: its rows were rewritten to global rule indices by the first
  // try, and are not rewritten twice.
  const d = table(4);
  strictEqual(store.load("d", d, 4), undefined, "ENOMEM: refused");
  strictEqual(store.stats.loadErrors, 1);
  const loaded = store.load("d", d, 4);
  ok(loaded, "and loaded once the kernel has room again");
  deepStrictEqual(maps.rowsOf(loaded.exeId)!.slice(0, 2), [[0, 0], [4, 1]]);
});

Deno.test("TableStore loads the table's own rows (rule halves rewritten in place, no copy), which can then be freed", () => {
  const maps = new FakeUnwindMaps({ maxRules: 16, maxTables: 8 });
  const given: Uint8Array[] = [];
  const loadTable = maps.loadTable.bind(maps);
  maps.loadTable = (exeId, rows) => {
    given.push(rows);
    loadTable(exeId, rows);
  };
  const store = new TableStore({ maps, maxRows: 1000 });
  // a's rules become global 0 and 1; b's are [new, shared with a's rule 1]: 2 and 1.
  ok(store.load("a", table(4, 0x1000n, 1), 1));
  const b = table(6, 0x5000n, 2);
  const buffer = b.rows.buffer;
  const loaded = store.load("b", b, 1)!;
  strictEqual(loaded.base, 0x5000n);
  strictEqual(loaded.rows, 6);
  strictEqual(given[1].buffer, buffer, "BPF was given the table's own buffer");
  deepStrictEqual([...b.rows.subarray(0, 6)], [0, 2, 4, 1, 8, 2], "rule halves are global");
  ok(b.interned);
  freePackedTable(b);
  strictEqual(buffer.byteLength, 0, "the rows' memory is gone at once (detached)");
  strictEqual(b.rows.length, 0);
  // BPF kept its copy; the store kept none of the rows.
  deepStrictEqual(maps.rowsOf(loaded.exeId), [[0, 2], [4, 1], [8, 2], [12, 1], [16, 2], [20, 1]]);
  strictEqual(store.acquire("b", 2), loaded, "still loaded for others");
});

Deno.test("TableStore touches no map once the maps are closed", () => {
  const maps = new FakeUnwindMaps();
  const store = new TableStore({ maps, maxRows: 1000 });
  ok(store.load("a", table(4), 1));
  maps.close();
  throws(() => store.load("b", table(4), 1), MapsClosedError);
  strictEqual(maps.tables.size, 1);
});

Deno.test({
  name: "TableStore against the real BPF maps",
  ignore: Deno.uid() !== 0,
  fn() {
    using obj = openTestObject();
    shareEvictFree(obj.unwindMaps);
  },
});
