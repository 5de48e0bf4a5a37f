// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { FakeUnwindMaps, MapsClosedError, type UnwindMaps } from "../bpf/mod.ts";
import { openTestObject } from "../bpf/_test_object.ts";
import { type DecodedTable, TableStore } from "./table_store.ts";

function table(rows: number, base = 0x1000n, firstKind = 1): DecodedTable {
  const rules = new Uint8Array(24);
  rules[0] = firstKind; // CFA_RSP_OFFSET unless told
  rules[12] = 6; // CFA_RA_UNDEFINED
  return {
    rules,
    pcs: BigUint64Array.from({ length: rows }, (_, i) => base + BigInt(i * 4)),
    ruleIndices: Uint16Array.from({ length: rows }, (_, i) => i % 2),
  };
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
  strictEqual(store.load("d", table(4), 4), undefined, "ENOMEM: refused");
  strictEqual(store.stats.loadErrors, 1);
  ok(store.load("d", table(4), 4), "and loaded once the kernel has room again");
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
