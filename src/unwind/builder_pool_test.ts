// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { BuilderPool, TableBuildError } from "./builder_pool.ts";
import { findPackedRow, findRow, packedRowCount } from "./table.ts";
import { WasmUnwind } from "./_wasm.ts";

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

Deno.test({
  name: "BuilderPool stops a worker 2 s after its last build by default",
  ignore: !hasWasm,
  async fn() {
    const pool = new BuilderPool(2);
    try {
      const st = await Deno.stat(LIBC);
      await pool.tableOfFile({ path: LIBC, ino: String(st.ino), size: st.size, maxBytes: 1 << 30 });
      strictEqual(pool.workers, 1);
      await new Promise((r) => setTimeout(r, 1000));
      strictEqual(pool.workers, 1, "still up for a burst of builds");
      await new Promise((r) => setTimeout(r, 1500));
      strictEqual(pool.workers, 0, "stopped once idle for 2 s");
    } finally {
      pool.close();
    }
  },
});

poolTest("BuilderPool builds tables in workers that stop when idle", async (pool) => {
  const st = await Deno.stat(LIBC);
  const table = await pool.tableOfFile({
    path: LIBC,
    ino: String(st.ino),
    size: st.size,
    maxBytes: 1 << 30,
  });
  const n = packedRowCount(table);
  ok(n > 1000, `libc has ${n} rows`);
  strictEqual(pool.workers, 1);
  // Packed in the worker: the rows and rules of the table wasm-unwind builds from the whole
  // file on this thread, the PCs as offsets from the first.
  const direct = (await WasmUnwind.load()).unwindTable(await Deno.readFile(LIBC));
  strictEqual(n, direct.pcs.length);
  strictEqual(table.basePc, direct.pcs[0]);
  deepStrictEqual(table.rules, direct.rulesBytes.slice());
  deepStrictEqual(table.stats, direct.stats);
  let mismatches = 0;
  for (let i = 0; i < n; i++) {
    if (
      table.basePc + BigInt(table.rows[i * 2]) !== direct.pcs[i] ||
      table.rows[i * 2 + 1] !== direct.ruleIndices[i]
    ) mismatches++;
  }
  strictEqual(mismatches, 0, "every row as wasm-unwind built it");
  // Lookups on the packed form find the rows the decoded form finds.
  const last = direct.pcs[n - 1];
  for (const pc of [0n, direct.pcs[0] - 1n, direct.pcs[0], direct.pcs[7] + 1n, last, last + 99n]) {
    strictEqual(findPackedRow(table, pc), findRow(direct, pc), `row at ${pc.toString(16)}`);
  }
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
  const dir = await Deno.makeTempDir();
  // A FIFO: the first large build blocks in open() until the FIFO is written, so it stays running.
  const fifo = `${dir}/fifo`;
  ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
  /** Opens the FIFO read-write and closes it: a reader blocked in open() wakes (never blocks). */
  const release = () => Deno.openSync(fifo, { read: true, write: true }).close();
  try {
    const done: string[] = [];
    const job = (name: string, file: Awaited<ReturnType<typeof fileOf>>, cost: number) =>
      pool.tableOfFile(file, { cost }).then(
        () => void done.push(name),
        () => void done.push(`${name} failed`),
      );
    // Two large jobs, then a small one: the large lane takes the first and the second waits for
    // it; the small one runs at once on its own lane (with one lane for all, it would wait for
    // the second large build).
    const large1 = job("large 1", await fileOf(fifo), 64 << 20);
    const large2 = job("large 2", await fileOf(LIBC), 64 << 20);
    await job("small", await fileOf("/usr/bin/true"), 1 << 20);
    deepStrictEqual(done, ["small"]);
    strictEqual(pool.pending, 2, "both large jobs wait");
    // Opening for writing waits (off the main thread) for the worker's open for reading.
    (await Deno.open(fifo, { write: true })).close();
    await Promise.all([large1, large2]);
    deepStrictEqual(done, ["small", "large 1 failed", "large 2"]);
    strictEqual(pool.pending, 0);
  } finally {
    release();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The nice value of one of this process's threads (field 19 of /proc/self/task/TID/stat). */
function niceOf(tid: number): number {
  const stat = Deno.readTextFileSync(`/proc/self/task/${tid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

Deno.test({
  name:
    "BuilderPool runs a build at normal priority while a sampled process waits, else at nice 10",
  // Raising a thread's priority back to 0 needs CAP_SYS_NICE.
  ignore: !hasWasm || Deno.uid() !== 0,
  async fn() {
    const pool = new BuilderPool(2, 50);
    const dir = await Deno.makeTempDir();
    try {
      // A FIFO: the worker's read blocks until it is written, so the build stays running.
      const fifo = `${dir}/fifo`;
      const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      ok(mk.success);
      const ino = String((await Deno.stat(fifo)).ino);
      let urgent = false;
      const build = pool.tableOfFile(
        { path: fifo, ino, size: 0, maxBytes: 1 << 20 },
        { urgent: () => urgent },
      );
      const running = async (nice: number) => {
        for (let i = 0; i < 100; i++) {
          const tids = [...pool.workerNice()];
          if (tids.length === 1 && tids[0][1] === nice && niceOf(tids[0][0]) === nice) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`no worker at nice ${nice}: ${[...pool.workerNice()]}`);
      };
      await running(10);
      urgent = true;
      pool.reprioritize();
      await running(0);
      urgent = false;
      pool.reprioritize();
      await running(10);
      // Let the build end: a writer that closes at once gives it an empty file.
      (await Deno.open(fifo, { write: true })).close();
      await rejects(build, (e: Error) => e instanceof TableBuildError);
    } finally {
      pool.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
