// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal } from "node:assert/strict";
import { SourceHealth } from "./_health.ts";
import { labelMetrics } from "./metrics.ts";

async function errors(provider: string): Promise<number> {
  const m = await labelMetrics.metadataErrors.get();
  return m.values.find((v) => v.labels.provider === provider)?.value ?? 0;
}

Deno.test("SourceHealth counts every failure and backs off until the period ends", async () => {
  let now = 1000;
  const h = new SourceHealth("test_source", 500, () => now);
  equal(h.available, true);
  h.failed(new Error("connect ENOENT"), "labels absent");
  equal(h.failing, true);
  equal(h.available, false);
  now = 1499;
  equal(h.available, false);
  now = 1500;
  equal(h.available, true);
  h.failed(new Error("again"), "labels absent");
  equal(h.failures, 2);
  equal(await errors("test_source"), 2);
  h.succeeded();
  equal(h.failing, false);
  equal(h.available, true);
});
