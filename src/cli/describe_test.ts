// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { describeFlags } from "./describe.ts";
import { parseFlags } from "./flags.ts";

function flagsOf(args: string[], env: Record<string, string> = {}) {
  const r = parseFlags(args, env, { hostname: "h" });
  if (r.kind !== "run") throw new Error("expected run");
  return r.flags;
}

Deno.test("describeFlags() shows durations and lists as a user writes them", () => {
  const rows = new Map(
    describeFlags(flagsOf(["--metadata-external-labels=a=1;b=2"])).map((r) => [r[0], r]),
  );
  deepStrictEqual(rows.get("--profiling-duration"), ["--profiling-duration", "10s", false]);
  deepStrictEqual(rows.get("--remote-store-rpc-unary-timeout")?.[1], "5m");
  deepStrictEqual(rows.get("--metadata-external-labels"), [
    "--metadata-external-labels",
    "a=1;b=2",
    true,
  ]);
  strictEqual(rows.get("--debuginfo-directories")?.[1], "/usr/lib/debug");
});

Deno.test("describeFlags() never shows the bearer token", () => {
  const rows = describeFlags(flagsOf([], { PARCA_BEARER_TOKEN: "s3cret" }));
  ok(!JSON.stringify(rows).includes("s3cret"));
  strictEqual(rows.find((r) => r[0] === "--remote-store-bearer-token")?.[1], "<redacted>");
});
