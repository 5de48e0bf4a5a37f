// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { rejects, strictEqual } from "node:assert/strict";
import { waitAtMost } from "./mod.ts";

Deno.test("waitAtMost says whether the promise settled in time", async () => {
  strictEqual(await waitAtMost(Promise.resolve(1), 1000), true);
  const never = new Promise<void>(() => {});
  strictEqual(await waitAtMost(never, 20), false);
  strictEqual(await waitAtMost(never, -5), false);
});

Deno.test("waitAtMost passes on a rejection that comes in time", async () => {
  await rejects(waitAtMost(Promise.reject(new Error("boom")), 1000), /boom/);
});
