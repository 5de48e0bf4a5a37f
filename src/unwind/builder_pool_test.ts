// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { BuilderPool, TableBuildError } from "./builder_pool.ts";
import { decodeUnwindTable } from "./table.ts";

const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const WASM = new URL("../../wasm-unwind/lib/wasm_unwind.wasm", import.meta.url);
const hasWasm = (() => {
  try {
    return Deno.statSync(WASM).isFile;
  } catch {
    return false;
  }
})();

/** A test with a pool of two workers that stop after 50 ms idle, closed at the end. */
function poolTest(name: string, fn: (pool: BuilderPool) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !hasWasm,
    async fn() {
      const pool = new BuilderPool(2, 50);
      try {
        await fn(pool);
      } finally {
        pool.close();
      }
    },
  });
}

poolTest("BuilderPool builds tables in workers that stop when idle", async (pool) => {
  const st = await Deno.stat(LIBC);
  const table = decodeUnwindTable(
    await pool.tableOfFile({
      path: LIBC,
      ino: String(st.ino),
      size: st.size,
      maxBytes: 1 << 30,
    }),
  );
  ok(table.pcs.length > 1000, `libc has ${table.pcs.length} rows`);
  strictEqual(pool.workers, 1);
  await new Promise((r) => setTimeout(r, 300));
  strictEqual(pool.workers, 0, "the idle worker stopped");
  // A file that changed inode between identification and reading is refused.
  await rejects(
    pool.tableOfFile({ path: LIBC, ino: "1", size: st.size, maxBytes: 1 << 30 }),
    (e: Error) => e instanceof TableBuildError && /changed/.test(e.message),
  );
  // Not an ELF file: wasm-unwind's error comes back with its code.
  const notElf = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(notElf, "not an elf file at all");
    const ns = await Deno.stat(notElf);
    await rejects(
      pool.tableOfFile({ path: notElf, ino: String(ns.ino), size: ns.size, maxBytes: 1 << 30 }),
      (e: Error) => e instanceof TableBuildError && e.code > 0,
    );
  } finally {
    await Deno.remove(notElf);
  }
  strictEqual(pool.pending, 0);
});

poolTest("BuilderPool: a small job never waits behind large ones (its own lane)", async (pool) => {
  const fileOf = async (path: string) => {
    const st = await Deno.stat(path);
    return { path, ino: String(st.ino), size: st.size, maxBytes: 1 << 30 };
  };
  const libc = await fileOf(LIBC);
  const tiny = await fileOf("/usr/bin/true");
  const done: string[] = [];
  const job = (name: string, file: typeof libc, cost: number) =>
    pool.tableOfFile(file, { cost }).then(() => void done.push(name));
  // Two large jobs are queued first, then a small one: the large lane takes the first large
  // job, the second waits for it, and the small one starts at once on its own lane (with
  // one lane for all, it would wait for a large build to end).
  await Promise.all([
    job("large 1", libc, 64 << 20),
    job("large 2", libc, 64 << 20),
    job("small", tiny, 1 << 20),
  ]);
  deepStrictEqual(done, ["small", "large 1", "large 2"]);
  strictEqual(pool.pending, 0);
});
