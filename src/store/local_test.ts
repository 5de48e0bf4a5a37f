// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, match, rejects, strictEqual } from "node:assert/strict";
import { LocalStore } from "./local.ts";

Deno.test("LocalStore.write() stores <pid>_<name>_<nanos>.pb.gz with no temporary file left", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await LocalStore.open(`${dir}/nested/profiles`);
    const bytes = new Uint8Array([0x1f, 0x8b, 1, 2, 3]);
    const path = await store.write({
      pid: 42,
      name: "parca_agent_cpu",
      timeNanos: 1700000000123456789n,
      pprof: bytes,
    });
    strictEqual(path, `${dir}/nested/profiles/42_parca_agent_cpu_1700000000123456789.pb.gz`);
    deepStrictEqual(await Deno.readFile(path!), bytes);
    const names = [...Deno.readDirSync(`${dir}/nested/profiles`)].map((e) => e.name);
    deepStrictEqual(names, ["42_parca_agent_cpu_1700000000123456789.pb.gz"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("LocalStore.open() rejects an unusable directory with one clear line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    await rejects(LocalStore.open(`${dir}/file/sub`), (e: Error) => {
      match(e.message, /^Cannot use --local-store-directory ".*file\/sub": /);
      strictEqual(e.message.includes("\n"), false);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
