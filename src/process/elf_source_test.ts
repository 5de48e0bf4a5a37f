// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { BytesElfSource, FileElfSource } from "./elf_source.ts";
import { run, withTempDir } from "./_test_util.ts";

Deno.test("BytesElfSource.readAt() clamps to the end and rejects bad ranges", () => {
  const src = new BytesElfSource(new Uint8Array([1, 2, 3, 4, 5]));
  equal(src.size, 5);
  deepStrictEqual([...src.readAt(3, 10)], [4, 5]);
  equal(src.readAt(5, 1).length, 0);
  equal(src.readAt(-1, 2).length, 0);
  equal(src.readAt(NaN, 2).length, 0);
  equal(src.readAt(0, 0).length, 0);
});

Deno.test("FileElfSource.readAt() reads at positions without a shared cursor", async () => {
  await withTempDir((dir) => {
    const bytes = new Uint8Array(3 << 20).map((_, i) => i * 7);
    Deno.writeFileSync(`${dir}/f`, bytes);
    using src = FileElfSource.open(`${dir}/f`);
    equal(src.size, bytes.length);
    deepStrictEqual(src.readAt(1 << 20, 16), bytes.slice(1 << 20, (1 << 20) + 16));
    deepStrictEqual(src.readAt(5, 3), bytes.slice(5, 8));
    equal(src.readAt(bytes.length - 2, 100).length, 2);
    equal(src.readAt(bytes.length, 1).length, 0);
    src.close();
    src.close(); // idempotent
    throws(() => src.readAt(0, 1), /closed/);
  });
});

Deno.test("FileElfSource.open() refuses a FIFO without blocking", async () => {
  await withTempDir((dir) => {
    run("mkfifo", [`${dir}/fifo`]);
    throws(() => FileElfSource.open(`${dir}/fifo`), TypeError);
    throws(() => FileElfSource.open(dir), TypeError);
    throws(() => FileElfSource.open(`${dir}/missing`), /ENOENT/);
  });
});
