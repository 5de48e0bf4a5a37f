// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { ok, strictEqual } from "node:assert/strict";
import { parseMaps } from "./maps.ts";
import { ObjectFilePool } from "./object_file_pool.ts";

function ownFileMappings() {
  const seen = new Set<string>();
  return parseMaps(Deno.readTextFileSync("/proc/self/maps")).filter((m) => {
    if (!m.path.startsWith("/") || m.deleted || seen.has(m.path)) return false;
    seen.add(m.path);
    return true;
  });
}

Deno.test("ObjectFilePool keeps at most `size` files open, evicting the least recently used", () => {
  const maps = ownFileMappings();
  ok(maps.length >= 3, "the test process maps at least three files");
  const pool = new ObjectFilePool({ size: 2, policy: "lru" });
  try {
    pool.get(Deno.pid, maps[0]);
    pool.get(Deno.pid, maps[1]);
    pool.get(Deno.pid, maps[0]); // maps[0] is now the most recent
    pool.get(Deno.pid, maps[2]); // evicts maps[1]
    strictEqual(pool.open, 2);
    strictEqual(pool.stats.evicted, 1);
    strictEqual(pool.stats.hits, 1);
    pool.get(Deno.pid, maps[0]);
    strictEqual(pool.stats.hits, 2, "maps[0] stayed open");
    pool.get(Deno.pid, maps[1]);
    strictEqual(pool.stats.opened, 4, "maps[1] had been closed and is opened again");
  } finally {
    pool.close();
  }
});

Deno.test("ObjectFilePool with lfu evicts the least often used file", () => {
  const maps = ownFileMappings();
  const pool = new ObjectFilePool({ size: 2, policy: "lfu" });
  try {
    pool.get(Deno.pid, maps[0]);
    pool.get(Deno.pid, maps[0]);
    pool.get(Deno.pid, maps[1]); // used once, most recently
    pool.get(Deno.pid, maps[2]); // evicts maps[1] (fewer uses) although maps[0] is older
    pool.get(Deno.pid, maps[0]);
    strictEqual(pool.stats.hits, 2);
  } finally {
    pool.close();
  }
});
