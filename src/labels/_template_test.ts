// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal } from "node:assert/strict";
import { expandTemplate } from "./_template.ts";

// Expected values follow Go's regexp.Expand documentation.
const CASES: Array<[string, string]> = [
  ["$1", "ab"],
  ["${1}", "ab"],
  ["$2-$1", "cd-ab"],
  ["${2}x", "cdx"],
  ["$2x", ""], // the name is "2x": no such group
  ["$first/$second", "ab/cd"],
  ["${first}_${second}", "ab_cd"],
  ["$$1", "$1"],
  ["$", "$"],
  ["${", "${"],
  ["${1", "${1"],
  ["$-", "$-"],
  ["$9", ""], // out of range
  ["$01", ""], // a leading zero makes it a name
  ["$0", "ab-cd"],
  ["no vars", "no vars"],
  ["${missing}", ""],
];

Deno.test("expandTemplate() follows Go's regexp.Expand", async (t) => {
  const m = /(?<first>[a-z]+)-(?<second>[a-z]+)/u.exec("ab-cd")!;
  for (const [template, want] of CASES) {
    await t.step(template, () => equal(expandTemplate(template, m), want));
  }
});
