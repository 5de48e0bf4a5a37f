// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { create } from "@bufbuild/protobuf";
import { deepEqual, equal, ok } from "node:assert/strict";
import { FunctionSchema, LineSchema } from "../gen/perftools/profiles/profile_pb.ts";
import { parseSelector } from "../http/mod.ts";
import { buildProfile, decodeProfile, encodeProfile, type Profile } from "../pprof/mod.ts";
import { diffTree, flameTree, foldedStacks, profileStacks, topFunctions } from "./flame.ts";
import { UiHandler } from "./handler.ts";
import { ProfileHistory } from "./history.ts";
import { mergeProfiles } from "./merge.ts";

const KERNEL = { lookup: (a: bigint) => (a >= 0xffff0000n ? 0 : -1), name: () => "do_syscall" };

/** A profile whose user frames are already named (as symbolizeProfile leaves them). */
function named(
  stacks: Array<{ names: string[]; count: number; kernel?: boolean }>,
  startNanos = 0n,
): Profile {
  const p = buildProfile({
    startNanos,
    durationNanos: 1_000_000_000n,
    frequencyHz: 19,
    mappings: [{ start: 0x1000, limit: 0x9000, offset: 0, path: "/bin/app", buildId: "ab" }],
    samples: stacks.map((s, i) => ({
      tid: 1,
      threadName: "app",
      count: s.count,
      user: s.names.map((_, j) => 0x1000 + i * 0x100 + j * 8),
      kernel: s.kernel ? [0xffff0010n] : [],
    })),
  }, { kernel: KERNEL });
  // Name each user location after its position, as a symbolizer would.
  const byAddr = new Map<bigint, string>();
  stacks.forEach((s, i) =>
    s.names.forEach((n, j) => byAddr.set(BigInt(0x1000 + i * 0x100 + j * 8), n))
  );
  for (const loc of p.location) {
    const n = byAddr.get(loc.address);
    if (n === undefined || loc.line.length > 0) continue;
    // "outer»inner": inner inlined into outer, in one location (line[0] innermost).
    const parts = n.split("»").reverse();
    for (const part of parts) {
      p.stringTable.push(part);
      const id = BigInt(p.function.length + 1);
      const name = BigInt(p.stringTable.length - 1);
      p.function.push(create(FunctionSchema, { id, name, systemName: name }));
      loc.line.push(create(LineSchema, { functionId: id, line: 1n }));
    }
  }
  return p;
}

Deno.test("profileStacks() puts the root first and inlined calls after their caller", () => {
  const p = named([{ names: ["leaf", "mid»inl", "main"], count: 3, kernel: true }]);
  const [s] = profileStacks(p);
  equal(s.count, 3);
  deepEqual(s.frames.map((f) => `${f.kind}:${f.name}`), [
    "native:main",
    "native:mid",
    "inlined:inl",
    "native:leaf",
    "kernel:do_syscall",
  ]);
});

Deno.test("flameTree(), topFunctions() and foldedStacks() agree on counts", () => {
  const stacks = profileStacks(named([
    { names: ["a", "main"], count: 5 },
    { names: ["b", "main"], count: 2 },
    { names: ["a", "a", "main"], count: 1 }, // recursion counts once in total
  ]));
  const t = flameTree(stacks);
  equal(t.name, "all");
  equal(t.value, 8);
  equal(t.children[0].name, "main");
  deepEqual(t.children[0].children.map((c) => [c.name, c.value]), [["a", 6], ["b", 2]]);
  const top = topFunctions(stacks, 10);
  deepEqual(top[0], { name: "a", self: 6, total: 6 });
  deepEqual(top.find((r) => r.name === "main"), { name: "main", self: 0, total: 8 });
  equal(foldedStacks(stacks), "main;a 5\nmain;a;a 1\nmain;b 2\n");
});

Deno.test("diffTree() scales the baseline to the same total and marks what grew", () => {
  const before = profileStacks(
    named([{ names: ["a", "main"], count: 5 }, { names: ["b", "main"], count: 5 }]),
  );
  const now = profileStacks(
    named([{ names: ["a", "main"], count: 18 }, { names: ["b", "main"], count: 2 }]),
  );
  const t = diffTree(before, now);
  equal(t.delta, 0); // 20 now, 10 before scaled ×2
  const main = t.children[0];
  const a = main.children.find((c) => c.name === "a")!;
  const b = main.children.find((c) => c.name === "b")!;
  equal(a.delta, 8);
  equal(b.delta, -8);
  const rows = topFunctions(now, 10, before);
  deepEqual(rows.find((r) => r.name === "b"), {
    name: "b",
    self: 2,
    total: 2,
    baseSelf: 5,
    baseTotal: 5,
  });
});

Deno.test("foldedStacks() keeps ; and newlines in names from breaking lines", () => {
  const s = profileStacks(named([{ names: ["x;y\nz", "main"], count: 1 }]));
  equal(foldedStacks(s), "main;x_y_z 1\n");
});

Deno.test("mergeProfiles() merges shared functions and labels samples with their pid", () => {
  const a = named([{ names: ["f", "main"], count: 2 }], 10n);
  const b = named([{ names: ["f", "main"], count: 3 }], 20n);
  const m = mergeProfiles([{ profile: a, pid: 1 }, { profile: b, pid: 2 }]);
  const p = decodeProfile(encodeProfile(m));
  equal(p.sample.length, 2);
  equal(p.timeNanos, 10n);
  equal(p.durationNanos, 1_000_000_010n);
  const names = p.function.map((f) => p.stringTable[Number(f.name)]);
  equal(names.filter((n) => n === "f").length, 1, "one function f");
  const pids = p.sample.map((s) =>
    p.stringTable[Number(s.label.find((l) => p.stringTable[Number(l.key)] === "pid")!.str)]
  );
  deepEqual(pids, ["1", "2"]);
  deepEqual(profileStacks(p).map((s) => s.count), [2, 3]);
});

Deno.test("ProfileHistory keeps the newest profiles within its byte budget", () => {
  const h = new ProfileHistory(4000);
  for (let i = 0; i < 10; i++) {
    h.add({
      labels: { pid: String(i % 2) },
      pid: i % 2,
      timeNanos: BigInt(i),
      pprof: new Uint8Array(1000),
      mappings: [],
      samples: 1,
    });
  }
  ok(h.bytes <= 4000, `${h.bytes}`);
  ok(h.size >= 2 && h.size < 10);
  equal(h.evicted, 10 - h.size);
  deepEqual(
    h.select([], 0n, 100n).map((e) => e.timeNanos),
    [...Array(h.size)].map((_, i) => BigInt(10 - h.size + i)),
  );
  deepEqual(h.select(parseSelector('{pid="1"}'), 0n, 100n).every((e) => e.pid === 1), true);
  h.add({
    labels: {},
    pid: 3,
    timeNanos: 99n,
    pprof: new Uint8Array(5000),
    mappings: [],
    samples: 1,
  });
  ok(h.select([], 99n, 100n).length === 0, "a profile larger than the budget is not kept");
});

Deno.test("UiHandler escapes labels and names, rejects bad selectors and ranges", async () => {
  const h = new ProfileHistory(1 << 20);
  const evil = '<img src=x onerror="alert(1)">';
  const p = named([{ names: [evil, "main"], count: 4 }], 1_000_000_000n);
  h.add({
    labels: { comm: evil, pid: "7" },
    pid: 7,
    timeNanos: 1_000_000_000n,
    pprof: encodeProfile(p),
    mappings: [],
    samples: 4,
  });
  const ui = new UiHandler({
    history: h,
    profilingDurationMs: 1000,
    symbolize: (_e, prof) => Promise.resolve(prof),
    now: () => 2000,
  });
  const res = await ui.handle(new URL("http://x/ui?query=%7Bpid%3D%227%22%7D&range=1m"));
  equal(res.status, 200);
  ok(res.headers.get("Content-Security-Policy")!.includes("script-src 'self'"));
  const html = await res.text();
  ok(!html.includes("<img"), "no raw tag");
  ok(html.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
  ok(!/<script(?![^>]*\ssrc=)/.test(html), "no inline script");
  const data = await (await ui.handle(new URL("http://x/ui/data.json?query=%7B%7D&range=window")))
    .json();
  equal(data.total, 4);
  equal(data.tree.children[0].children[0].name, evil, "JSON carries the name as data");
  equal((await ui.handle(new URL("http://x/ui?query=%7Bpid%3D"))).status, 400);
  equal((await ui.handle(new URL("http://x/ui?range=2h"))).status, 400);
  equal((await ui.handle(new URL("http://x/ui/assets/../../deno.json"))).status, 404);
  const js = await ui.handle(new URL("http://x/ui/assets/d3-flamegraph.min.js"));
  equal(js.status, 200);
  ok((await js.text()).includes("flamegraph"));
});
