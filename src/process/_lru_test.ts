// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, throws } from "node:assert/strict";
import { LruCache } from "./_lru.ts";

Deno.test("LruCache evicts the least recently used entry", () => {
  const c = new LruCache<string, number>(2);
  c.set("a", 1);
  c.set("b", 2);
  equal(c.get("a"), 1); // a is now newer than b
  c.set("c", 3);
  equal(c.get("b"), undefined);
  equal(c.get("a"), 1);
  equal(c.get("c"), 3);
  equal(c.size, 2);
});

Deno.test("LruCache replaces a value without growing", () => {
  const c = new LruCache<string, number>(2);
  c.set("a", 1);
  c.set("a", 2);
  equal(c.size, 1);
  equal(c.get("a"), 2);
});

Deno.test("LruCache rejects a capacity below one", () => {
  throws(() => new LruCache(0), RangeError);
});
