// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal } from "node:assert/strict";
import { TtlCache } from "./_cache.ts";

Deno.test("TtlCache evicts the least recently used entry when full", () => {
  const c = new TtlCache<string, number>(2, Infinity);
  c.set("a", 1);
  c.set("b", 2);
  equal(c.get("a"), 1); // a is now the most recent
  c.set("c", 3);
  equal(c.get("b"), undefined);
  equal(c.get("a"), 1);
  equal(c.get("c"), 3);
  equal(c.size, 2);
});

Deno.test("TtlCache misses entries older than the TTL, counted from when they were set", () => {
  let now = 0;
  const c = new TtlCache<string, number>(10, 100, () => now);
  c.set("a", 1);
  now = 99;
  equal(c.get("a"), 1);
  now = 100;
  equal(c.get("a"), undefined);
  equal(c.size, 0);
  c.set("a", 2);
  equal(c.get("a"), 2);
  c.clear();
  equal(c.get("a"), undefined);
});
