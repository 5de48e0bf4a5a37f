// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, throws } from "node:assert/strict";
import { LruCache } from "./lru.ts";

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

Deno.test("LruCache misses entries older than the TTL, counted from when they were set", () => {
  let now = 0;
  const c = new LruCache<string, number>(10, 100, () => now);
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
