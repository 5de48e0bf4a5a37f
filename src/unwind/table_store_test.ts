// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { ProfilerObject } from "../bpf/mod.ts";
import { type DecodedTable, TableStore } from "./table_store.ts";

const OBJECT = new URL("../../bpf/.output/profiler.bpf.o", import.meta.url).pathname;

function table(rows: number, base = 0x1000n): DecodedTable {
  const rules = new Uint8Array(24);
  rules[0] = 1; // CFA_RSP_OFFSET
  rules[12] = 6; // CFA_RA_UNDEFINED
  return {
    rules,
    pcs: BigUint64Array.from({ length: rows }, (_, i) => base + BigInt(i * 4)),
    ruleIndices: Uint16Array.from({ length: rows }, (_, i) => i % 2),
  };
}

Deno.test({
  name: "TableStore shares tables by key, evicts least recently used, frees unused ones",
  ignore: Deno.uid() !== 0,
  fn() {
    using obj = ProfilerObject.open({
      objectPath: OBJECT,
      countEntries: 1024,
      stackEntries: 1024,
      verbose: false,
      dwarfEnabled: true,
      mixedMode: true,
      eventsBufferBytes: 1 << 16,
    });
    const evicted: Array<[string, number[]]> = [];
    const store = new TableStore({
      exeIdToTableFd: obj.unwindMaps.exeIdToTable,
      unwindRulesFd: obj.unwindMaps.unwindRules,
      maxRules: 16,
      maxTables: 8,
      maxRows: 100,
      onEvict: (key, pids) => evicted.push([key, [...pids]]),
    });
    const a = store.load("a", table(60), 1)!;
    ok(a && a.rows === 60 && a.base === 0x1000n);
    // Same key from another process: the same table, no second copy.
    strictEqual(store.load("a", table(60), 2)!.exeId, a.exeId);
    strictEqual(store.stats.tablesLoaded, 1);
    strictEqual(store.stats.rulesInterned, 2);
    // b does not fit next to a: a (least recently used) goes, and its processes are told.
    const b = store.load("b", table(60, 0x2000n), 3)!;
    ok(b);
    strictEqual(store.rows, 60);
    deepStrictEqual(evicted, [["a", [1, 2]]]);
    strictEqual(store.acquire("a", 1), undefined);
    // Rules are shared: b's identical rules were not interned again.
    strictEqual(store.stats.rulesInterned, 2);
    // A table larger than the whole budget is refused, not loaded.
    strictEqual(store.load("huge", table(101), 4), undefined);
    // Once no process uses b, it is freed after the grace time.
    store.releasePid(3);
    strictEqual(store.releaseUnused(0), 1);
    strictEqual(store.rows, 0);
  },
});
