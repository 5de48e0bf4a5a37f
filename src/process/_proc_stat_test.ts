// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal } from "node:assert/strict";
import { parseProcStat } from "./_proc_stat.ts";

const TAIL = "S 17 42 42 0 -1 4194560 1 0 0 0 3 4 0 0 20 0 1 0 987654 1000 100";

Deno.test("parseProcStat() counts fields from the last parenthesis", () => {
  deepStrictEqual(parseProcStat(`123 (we(i)rd ) name) ${TAIL}\n`), {
    comm: "we(i)rd ) name",
    state: "S",
    ppid: 17,
    startTimeTicks: 987654,
    utimeTicks: 3,
    stimeTicks: 4,
    rssPages: 100,
  });
});

Deno.test("parseProcStat() rejects text that is not a stat line", () => {
  equal(parseProcStat(""), undefined);
  equal(parseProcStat("123 no parens S 1 2 3"), undefined);
  equal(parseProcStat("123 (short) S 1 2 3"), undefined);
  equal(parseProcStat(`123 (x) ${TAIL.replace("987654", "abc")}`), undefined);
});

Deno.test("parseProcStat() reads the running process", () => {
  const s = parseProcStat(Deno.readTextFileSync("/proc/self/stat"));
  equal(s?.ppid, Deno.ppid);
  equal((s?.startTimeTicks ?? 0) > 0, true);
});
